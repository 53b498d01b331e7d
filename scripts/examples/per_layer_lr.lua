-- SPDX-License-Identifier: MIT
-- per_layer_lr.lua -- a learning rate (and optimizer, weight decay) per
-- layer, from Lua: lpdm.dense{ 64, lr = ..., optimizer = "adam"|"sgd",
-- weight_decay = ... }, with the net's own lr / optimizer / weight_decay as
-- the default for layers that set none. Trains REINFORCE in local mode on
-- CartPole-v1 with a few rate profiles over two hidden layers, same seed.
--
--   build/lpdm scripts/examples/per_layer_lr.lua [--steps=100000] [--seed=1]
--
-- KNOWN ISSUE (shown below): an algorithm sets every hidden layer's rate
-- when the run is made (reinforce: local_lr in local mode, lr in bp mode),
-- overwriting the rates given per layer; the optimizer type and weight
-- decay stay. Until that is fixed, set the rates again after lpdm.algo and
-- before the first iteration, with net:set_lr(i, lr), as this script does:
-- reinforce sets them only once. (ppo sets them at every update; in local
-- mode its actor_local_lrs = "1e-3,1e-4" / critic_local_lrs give one rate
-- per hidden layer.)
local lpdm = require("lpdm")

local opt = { steps = 100000, seed = 1 }
for _, a in ipairs(arg) do
  local k, v = a:match("^%-%-([%w_]+)=(.*)$")
  if not k or opt[k] == nil then error("usage: per_layer_lr.lua [--steps=N] [--seed=N]") end
  opt[k] = tonumber(v) or v
end

local env = lpdm.env("CartPole-v1")
local function settings(net)
  local t = {}
  for i = 1, net.depth do
    local l = net:layer(i)
    t[#t + 1] = string.format("layer %d %s lr=%g wd=%g", i, l.optimizer, l.lr, l.weight_decay)
  end
  return table.concat(t, " | ")
end

-- One net: the settings as given, after lpdm.algo, and after the workaround.
local demo = lpdm.net{ inputs = env.obs_dim, seed = opt.seed, weight_decay = 1e-4,
  lpdm.dense{ 64, lr = 3e-3 }, lpdm.dense{ 64, lr = 3e-4, optimizer = "sgd", weight_decay = 0 } }
print("as given:          " .. settings(demo))
local run = lpdm.algo("reinforce", { env = env, policy = demo, mode = "local", steps = 1000, seed = opt.seed })
print("after lpdm.algo:   " .. settings(demo) .. "   <- rates overwritten (known issue)")
demo:set_lr(1, 3e-3)
demo:set_lr(2, 3e-4)
print("after net:set_lr:  " .. settings(demo))
run:close()

-- Rate profiles over the two hidden layers (the head has reinforce's head_lr).
local profiles = {
  { "uniform 1e-3 (reinforce's guided default)", 1e-3, 1e-3 },
  { "first fast, second slow", 3e-3, 3e-4 },
  { "first slow, second fast", 3e-4, 3e-3 },
  { "first frozen (lr = 0): a random feature layer", 0, 1e-3 },
}
print(string.format("\nREINFORCE, local mode, loss guided, seed %d, %d steps:", opt.seed, opt.steps))
for _, p in ipairs(profiles) do
  local net = lpdm.net{ inputs = env.obs_dim, seed = opt.seed, lpdm.dense{ 64, lr = p[2] }, lpdm.dense{ 64, lr = p[3] } }
  local w0 = net:layer(1).params[1].values
  run = lpdm.algo("reinforce", { env = env, policy = net, mode = "local", steps = opt.steps, seed = opt.seed })
  net:set_lr(1, p[2]) -- the workaround: reinforce set both to local_lr
  net:set_lr(2, p[3])
  local rets, best, t0 = {}, -math.huge, lpdm.clock()
  for it in run:iterations() do
    for _, e in ipairs(it.episodes) do
      rets[#rets + 1] = e.ret
      if #rets >= 20 then
        local s = 0
        for i = #rets - 19, #rets do s = s + rets[i] end
        best = math.max(best, s / 20)
      end
    end
  end
  run:close()
  local w1, moved = net:layer(1).params[1].values, 0
  for i = 1, #w0 do moved = math.max(moved, math.abs(w1[i] - w0[i])) end
  print(string.format("  %-46s lr %-6g %-6g best 20-ep. average %6.1f  layer-1 change %.3g  (%.1f s)", p[1], p[2], p[3],
    best, moved, lpdm.clock() - t0))
end
