-- SPDX-License-Identifier: MIT
-- test_lua_checkpoint.lua -- lpdm.save / lpdm.load (issue 8): a round trip
-- restores a trained net exactly, the file's bytes do not depend on table
-- order, metadata comes back, and bad arguments and files are refused by name.
local lpdm = require("lpdm")
package.path = ((arg and arg[0] or ""):match("^(.*)/[^/]*$") or ".") .. "/lib/?.lua;" .. package.path
local T = require("testlib")
local tap = T.tap()
local ok, refused = tap.ok, tap.refused
local function read(path) return assert(T.read(path), "cannot read " .. path) end

tap.plan(18)
local dir = T.tmpdir()
local p1, p2 = dir .. "/a.safetensors", dir .. "/b.safetensors"

local env = lpdm.env("CartPole-v1")
local net = lpdm.net{ inputs = 4, lpdm.dense{ 8 }, lpdm.dense{ 8 }, seed = 1 }
local val = lpdm.net{ inputs = 4, lpdm.dense{ 6 }, seed = 2 }
local run = lpdm.algo("reinforce", { env = env, policy = net, value = val, baseline = true, mode = "local", steps = 1500 })
for _ in run:iterations() do end
run:close()
lpdm.save(p1, { policy = net, value = val }, { meta = { run = "test", steps = 1500 } })
lpdm.save(p2, { value = val, policy = net }, { meta = { steps = 1500, run = "test" } })
ok(read(p1) == read(p2), "the same nets give the same bytes, whatever the table order")

local net2 = lpdm.net{ inputs = 4, lpdm.dense{ 8 }, lpdm.dense{ 8 }, seed = 9 }
local val2 = lpdm.net{ inputs = 4, lpdm.dense{ 6 }, seed = 9 }
local info = lpdm.load(p1, { policy = net2, value = val2 })
local x = { 0.3, -0.1, 0.02, 1.5 }
local a, b = net:forward(x), net2:forward(x)
local same = true
for i = 1, 8 do same = same and a[i] == b[i] end
ok(same and val:forward(x)[6] == val2:forward(x)[6], "loaded nets compute exactly what the saved ones did")
ok(info.meta.run == "test" and info.meta.steps == "1500" and info.meta.format == "lpdm", "metadata comes back (as strings)")
local t = info.tensors["policy.1.weight"]
ok(t and t.dtype == "F32" and t.shape[1] == 8 and t.shape[2] == 8 and info.tensors["value.0.step"].dtype == "I64",
  "tensors are listed with dtype and shape, optimizer steps included")

local wide = lpdm.net{ inputs = 4, lpdm.dense{ 9 }, seed = 3 }
refused(function() lpdm.load(p1, { value = wide }) end, "'value.0.weight' has shape 4 x 6, the net needs 4 x 9",
  "a net of another shape is refused naming the tensor")
refused(function() lpdm.load(dir .. "/none.safetensors") end, "cannot open " .. dir .. "/none.safetensors", "a missing file")
local f = assert(io.open(dir .. "/junk.safetensors", "wb"))
f:write("this is not a checkpoint")
f:close()
refused(function() lpdm.load(dir .. "/junk.safetensors") end, "junk.safetensors: header length", "a junk file")
refused(function() lpdm.save(p1, { policy = 3 }) end, "'policy' must be a Net", "a value that is not a net")
refused(function() lpdm.save(p1, { ["a.b"] = net }) end, "may hold only letters", "a name with a dot")
refused(function() lpdm.save(dir .. "/no/dir/x.safetensors", { policy = net }) end, "no/dir/x.safetensors.tmp",
  "an unwritable path")

-- PPO through run:save / run:load: a fresh run loaded from the checkpoint
-- continues exactly as the saved run did.
local function ppo_run(num_envs)
  local e = lpdm.env("CartPole-v1")
  local pol = lpdm.net{ inputs = 4, lpdm.dense{ 16 }, lpdm.dense{ 16 }, seed = 4 }
  local vn = lpdm.net{ inputs = 4, lpdm.dense{ 16 }, lpdm.dense{ 16 }, seed = 5 }
  return lpdm.algo("ppo", { env = e, policy = pol, value = vn, mode = "local", loss = "kernel", num_envs = num_envs,
    num_steps = 64, num_minibatches = 2, update_epochs = 2, steps = 4096, seed = 3 })
end
local function tail(r, k)
  local out = {}
  for _ = 1, k do
    local it = r:iterate()
    out[#out + 1] = string.format("%d %.17g", it.global_step, it.stats.policy_loss)
    for _, ep in ipairs(it.episodes) do out[#out + 1] = string.format("%d %.17g", ep.global_step, ep.ret) end
  end
  return table.concat(out, "\n")
end
local pa = ppo_run(2)
tail(pa, 5)
local p3 = dir .. "/ppo.safetensors"
pa:save(p3, { note = "ppo" })
local want = tail(pa, 6)
local pb = ppo_run(2)
local m = pb:load(p3)
local got = tail(pb, 6)
ok(m.note == "ppo" and #want > 100 and got == want, "a PPO run loaded from run:save continues exactly as the saved one")
refused(function() ppo_run(4):load(p3) end, "algo.counters: env step 640 at update 5 does not fit this run (256 steps", "a PPO checkpoint with other env copies is refused")
refused(function() ppo_run(2):load(p1) end, "saved by no algorithm, not algo.ppo", "a file of nets only is refused")
local pc = ppo_run(2)
pc:iterate()
pc:save(dir .. "/ppo2.safetensors")
ok(read(dir .. "/ppo2.safetensors") ~= read(p3), "a checkpoint one update in differs from one five updates in")

-- Black-box layers' own state: the noise layer's generator and the random
-- projection's matrix travel with the net.
local function bb(seed, q)
  return lpdm.net{ inputs = 4, lpdm.dense{ 8 }, lpdm.layer("noise", { std = 0.5 }),
    lpdm.layer("random_projection", { q or 16 }), seed = seed }
end
local x4 = { 0.3, -0.1, 0.02, 1.5 }
local na, nb = bb(1), bb(2)
na:forward(x4) -- the generator has moved on from its seed
local p4 = dir .. "/bb.safetensors"
local i4 = lpdm.save(p4, { policy = na })
local ya = na:forward(x4)
lpdm.load(p4, { policy = nb })
local yb = nb:forward(x4)
local same4 = #ya == 16
for i = 1, 16 do same4 = same4 and ya[i] == yb[i] end
ok(same4, "a net with noise and a random projection computes the same after load, noise draws included")
local t4 = lpdm.load(p4).tensors
ok(t4["policy.1.rng"] and t4["policy.2.matrix"] and t4["policy.2.matrix"].shape[1] == 8 and
  t4["policy.2.matrix"].shape[2] == 16, "the generator and the 8 x 16 matrix are tensors of the file")
local nc = bb(3, 12)
local before = dir .. "/c0.safetensors"
lpdm.save(before, { policy = nc })
refused(function() lpdm.load(p4, { policy = nc }) end, "'policy.2.matrix' must be F32 of shape 8 x 12",
  "a projection of another width is refused naming the tensor")
lpdm.save(dir .. "/c1.safetensors", { policy = nc })
ok(read(before) == read(dir .. "/c1.safetensors"), "and the refused load changed nothing (noise generator included)")
os.execute("rm -rf " .. dir)
tap.finish(true)
