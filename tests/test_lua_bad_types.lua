-- SPDX-License-Identifier: MIT
-- test_lua_bad_types.lua -- the bad-input matrix of the Lua API (issue 8):
-- every function of the lpdm module and every method of its objects is
-- called with each value of a list of wrong ones (nil, booleans, odd
-- numbers, strings, tables, functions, objects of another type), as its
-- first argument and, for methods, as self. Each call either raises an error
-- with a message (a string that says what is wrong) or belongs to the
-- explicit list of calls that accept the value (a seed, a name, an ignored
-- extra argument). Nothing crashes (ctest runs this file under ASan in CI;
-- a crash fails the whole file), and the objects still work afterwards.
local lpdm = require("lpdm")
package.path = ((arg and arg[0] or ""):match("^(.*)/[^/]*$") or ".") .. "/lib/?.lua;" .. package.path
local T = require("testlib")
local tap = T.tap()
local ok = tap.ok

local dir = T.tmpdir()

local env = lpdm.env("CartPole-v1")
env:reset(1)
local net = lpdm.net{ inputs = 4, lpdm.dense{ 8 }, seed = 1 }
local dist = lpdm.distance("euclidean")
local loss = lpdm.loss("stress")
local run = lpdm.algo("reinforce", { env = lpdm.env("CartPole-v1"), policy = lpdm.net{ inputs = 4, lpdm.dense{ 8 }, seed = 2 },
  steps = 600 })
local OBJ = { env = env, net = net, distance = dist, loss = loss, run = run }

local BAD = { { "nil", nil }, { "true", true }, { "42", 42 }, { "-1", -1 }, { "nan", 0 / 0 }, { "1e300", 1e300 },
  { "''", "" }, { "'nope'", dir .. "/nope" }, { "{}", {} }, { "{1,2,3}", { 1, 2, 3 } }, { "{x=1}", { x = 1 } },
  { "function", function() end }, { "env", env }, { "net", net }, { "run", run } }

-- Calls that succeed by design: "*" for every value.
local ACCEPTS = {
  ["lpdm.clock"] = "*", ["lpdm.blas_threads"] = "*", ["lpdm.envs"] = "*", ["lpdm.plugins"] = { ["nil"] = 1 },
  ["lpdm.dense"] = { ["nil"] = 1, ["42"] = 1, ["-1"] = 1, ["{}"] = 1 }, -- a spec; the width is checked by lpdm.net
  ["lpdm.lua_layer"] = { ["function"] = 1 },
  ["env:reset"] = { ["nil"] = 1, ["42"] = 1, ["{}"] = 1 }, -- no seed, a seed, no options
  ["env.reset"] = { ["env"] = 1 }, ["env.state"] = { ["env"] = 1 }, ["env.render"] = { ["env"] = 1 },
  ["env.render_text"] = { ["env"] = 1 }, ["env:render"] = { ["nil"] = 1, ["{}"] = 1 }, -- natural size
  ["env:state"] = "*", ["env:render_text"] = "*", ["net:params"] = "*", ["net.params"] = { ["net"] = 1 },
  ["run:iterate"] = "*", ["run:iterations"] = "*", ["run.iterate"] = { ["run"] = 1 }, ["run.iterations"] = { ["run"] = 1 },
  ["run:save"] = { ["42"] = 1, ["-1"] = 1, ["nan"] = 1, ["1e300"] = 1, ["'nope'"] = 1 }, -- numbers are file names
  ["run:load"] = { ["'nope'"] = 1 },
  -- an array of numbers is what these take
  ["lpdm.stats.across"] = { ["{1,2,3}"] = 1 }, ["lpdm.stats.iqm"] = { ["{1,2,3}"] = 1 },
  ["lpdm.stats.iqm_ci"] = { ["{1,2,3}"] = 1 },
}
-- run:save(42) writes the file "42": let it write into dir
local function accepted(name, what)
  local a = ACCEPTS[name]
  return a == "*" or (type(a) == "table" and a[what] ~= nil)
end

local calls, errors, surprises, bad_msgs = 0, 0, {}, {}
local function try(name, what, fn, ...)
  calls = calls + 1
  local good, err = pcall(fn, ...)
  if good then
    if not accepted(name, what) then surprises[#surprises + 1] = name .. "(" .. what .. ") succeeded" end
  else
    errors = errors + 1
    local msg = tostring(err)
    if type(err) ~= "string" or #msg < 8 or #msg > 2000 or msg:find("(null)", 1, true) then
      bad_msgs[#bad_msgs + 1] = name .. "(" .. what .. "): " .. msg
    end
  end
end

local funcs = {}
for k, v in pairs(lpdm) do if type(v) == "function" then funcs[#funcs + 1] = k end end
table.sort(funcs)
ok(#funcs >= 14, "the module has its " .. #funcs .. " functions: " .. table.concat(funcs, " "))
for _, k in ipairs(funcs) do
  for _, b in ipairs(BAD) do try("lpdm." .. k, b[1], lpdm[k], b[2]) end
end
-- lpdm.stats's functions (a table of functions inside the module)
local sfuncs = {}
for k, v in pairs(lpdm.stats or {}) do if type(v) == "function" then sfuncs[#sfuncs + 1] = k end end
table.sort(sfuncs)
ok(#sfuncs >= 5, "lpdm.stats has its " .. #sfuncs .. " functions: " .. table.concat(sfuncs, " "))
for _, k in ipairs(sfuncs) do
  for _, b in ipairs(BAD) do try("lpdm.stats." .. k, b[1], lpdm.stats[k], b[2]) end
end
local METHODS = { env = { "reset", "step", "state", "set_state", "render", "render_text" }, net = { "forward", "params", "set_lr", "layer" },
  distance = { "pairwise" }, loss = { "eval" }, run = { "iterate", "iterations", "act", "save", "load" } }
for _, t in ipairs({ "env", "net", "distance", "loss", "run" }) do
  local o = OBJ[t]
  for _, m in ipairs(METHODS[t]) do
    ok(type(o[m]) == "function", t .. ":" .. m .. " exists")
    for _, b in ipairs(BAD) do
      local v = b[2]
      if m == "save" and (type(v) == "number" or v == "") then v = dir .. "/" .. tostring(v) end
      try(t .. ":" .. m, b[1], o[m], o, v)
      try(t .. "." .. m, b[1], o[m], b[2]) -- a wrong self
    end
  end
end
ok(calls > 500, "calls made: " .. calls .. ", errors raised: " .. errors)
ok(#surprises == 0, "no call accepted a value outside the list" .. (#surprises > 0 and (": " .. table.concat(surprises, "; ")) or ""))
ok(#bad_msgs == 0, "every error is a message" .. (#bad_msgs > 0 and (": " .. table.concat(bad_msgs, "; ")) or ""))

-- the empty path, named
local good, err = pcall(run.save, run, "")
ok(not good and tostring(err):find("empty path", 1, true), "run:save('') is refused naming the empty path (" .. tostring(err) .. ")")
good, err = pcall(lpdm.save, "", { policy = net })
ok(not good and tostring(err):find("empty path", 1, true), "lpdm.save('') too (" .. tostring(err) .. ")")

-- closed objects are refused by name, and the others still work
local e2 = lpdm.env("CartPole-v1")
e2:close()
good, err = pcall(e2.reset, e2)
ok(not good and tostring(err):find("closed", 1, true), "a closed env is refused (" .. tostring(err) .. ")")
local obs = env:reset(3)
ok(#obs == 4 and #net:forward(obs) == 8, "the env and the net still work after the matrix")
os.execute("rm -rf " .. dir)
tap.finish(true) -- close the state: valgrind sees every object freed
