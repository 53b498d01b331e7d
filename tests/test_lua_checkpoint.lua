-- test_lua_checkpoint.lua -- lpdm.save / lpdm.load (issue 8): a round trip
-- restores a trained net exactly, the file's bytes do not depend on table
-- order, metadata comes back, and bad arguments and files are refused by name.
local lpdm = require("lpdm")
local n, failures = 0, 0
local function ok(cond, name)
  n = n + 1
  print(string.format("%s %d - %s", cond and "ok" or "not ok", n, name))
  if not cond then failures = failures + 1 end
end
local function refused(fn, pattern, name)
  local good, err = pcall(fn)
  ok(not good and tostring(err):find(pattern, 1, true) ~= nil, name .. " (" .. tostring(err) .. ")")
end
local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

print("1..10")
local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. dir))
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
os.execute("rm -rf " .. dir)
os.exit(failures == 0 and 0 or 1)
