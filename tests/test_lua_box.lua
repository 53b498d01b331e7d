-- SPDX-License-Identifier: MIT
-- test_lua_box.lua -- Box action spaces from Lua (issue 3): spaces are
-- described, a Box action is a table of the right size with finite numbers,
-- and a refused action leaves the env's state as it was.
local lpdm = require("lpdm")
package.path = ((arg and arg[0] or ""):match("^(.*)/[^/]*$") or ".") .. "/lib/?.lua;" .. package.path
local T = require("testlib")
local tap = T.tap()
local ok = tap.ok
local function refused(env, a, pattern, name)
  local before = env:state()
  local good, err = pcall(env.step, env, a)
  local after = env:state()
  local same = #before == #after
  for i = 1, #before do same = same and before[i] == after[i] end
  ok(not good and tostring(err):find(pattern) ~= nil and same, name .. " (" .. tostring(err) .. ")")
end

tap.plan(12)
local ids = {}
for _, id in ipairs(lpdm.envs()) do ids[id] = true end
ok(ids["CartPole-v1"] and ids["Acrobot-v1"] and ids["MountainCar-v0"] and ids["MountainCarContinuous-v0"]
   and ids["Pendulum-v1"], "lpdm.envs() lists the five classic-control envs")

local pend = lpdm.env("Pendulum-v1")
local as, os_ = pend.action_space, pend.observation_space
ok(as.kind == "box" and as.shape[1] == 1 and as.low[1] == -2 and as.high[1] == 2, "Pendulum action space is Box([-2], [2])")
ok(os_.kind == "box" and os_.shape[1] == 3 and os_.high[3] == 8, "Pendulum observation space is Box(3) with speed bound 8")
pend:reset{ seed = 1 }
local obs, r, term, trunc = pend:step{ 0.3 }
ok(#obs == 3 and type(r) == "number" and term == false and trunc == false, "step{0.3} steps a Box(1) env")
refused(pend, 0.3, "table expected", "a bare number for a Box env is a Lua error")
refused(pend, { 0.1, 0.2 }, "2 values", "a Box action of the wrong size is an error")
refused(pend, { 0 / 0 }, "Pendulum%-v1", "a NaN action is an error naming the env")
refused(pend, { "x" }, "number", "a string in a Box action is an error")

local cart = lpdm.env("CartPole-v1")
cart:reset{ seed = 2 }
refused(cart, { 1 }, "number expected", "a table for a Discrete env is a Lua error")
refused(cart, 0.5, "out of range", "a non-integer Discrete action is an error")
refused(cart, 0 / 0, "NaN", "a NaN Discrete action is an error")
local mcc = lpdm.env("MountainCarContinuous-v0")
mcc:reset{ seed = 3 }
local o1 = mcc:step{ 7.0 }
mcc:reset{ seed = 3 }
local o2 = mcc:step{ 1.0 }
ok(o1[1] == o2[1] and o1[2] == o2[2], "MountainCarContinuous clips an out-of-bound action to the bound")
tap.finish()
