-- SPDX-License-Identifier: MIT
-- test_lua_stats.lua -- lpdm.stats (core/lua/lpdm_stats.c over core/src/stats.c), as TAP.
-- Run by ctest with build/lpdm; also: build/lpdm tests/test_lua_stats.lua
-- The expected values are worked by hand from docs/statistics.md (see the
-- comments); tests/test_stats.c checks the C functions in more cases.
local lpdm = require("lpdm")
package.path = ((arg and arg[0] or ""):match("^(.*)/[^/]*$") or ".") .. "/lib/?.lua;" .. package.path
local T = require("testlib")
local S = lpdm.stats

local tests = {}
local function test(name, fn) tests[#tests + 1] = { name = name, fn = fn } end

local check, eq = T.check, T.eq
local function near(a, b, tol, msg)
  if type(a) ~= "number" or math.abs(a - b) > (tol or 1e-12) then
    error(string.format("%s: expected %.17g, got %s", msg or "near", b, tostring(a)), 2)
  end
end
local fails = T.fails

test("run: small log", function()
  -- returns 0 0 3 6 at steps 5 10 20 30: avg of all so far (n < 20):
  -- 0, 0, 1, 2.25; final = last ceil(4/10) = 1 episode = 6; auc = 9/4;
  -- threshold 2 first met at m[4] = 2.25 -> step 30.
  local r = S.run { steps = { 5, 10, 20, 30 }, returns = { 0, 0, 3, 6 }, threshold = 2 }
  eq(r.n, 4, "n")
  near(r.final, 6, nil, "final")
  eq(r.final_n, 1, "final_n")
  near(r.auc, 2.25, nil, "auc")
  eq(r.steps_to_threshold, 30, "steps_to_threshold")
  near(r.mean_drop, 0, nil, "mean_drop")
  eq(r.collapses, 0, "collapses")
  near(r.smoothed[3], 1, nil, "smoothed[3]")
  eq(#r.smoothed, 4, "#smoothed")
  -- not reached, or no threshold: nil
  eq(S.run { steps = { 5, 10, 20, 30 }, returns = { 0, 0, 3, 6 }, threshold = 3 }.steps_to_threshold, nil, "not reached")
  eq(S.run { steps = { 5, 10, 20, 30 }, returns = { 0, 0, 3, 6 } }.steps_to_threshold, nil, "no threshold")
end)

test("run: 20-episode window", function()
  -- r_i = i at step i (i = 0..24): avg20 at i >= 20 is i - 9.5, so the
  -- first avg >= 11 is at i = 21 (the mean of all so far would be 10.5).
  local steps, rets = {}, {}
  for i = 0, 24 do steps[#steps + 1] = i; rets[#rets + 1] = i end
  local r = S.run { steps = steps, returns = rets, threshold = 11 }
  eq(r.steps_to_threshold, 21, "steps_to_threshold")
  near(r.final, 23, nil, "final: (22 + 23 + 24)/3")
  eq(r.final_n, 3, "final_n: ceil(25 / 10)")
end)

test("run: collapses on a hand-made curve", function()
  -- blocks of 40 episodes: 10, 0, 10, 0 (see test_stats.c for the working):
  -- collapses 2, mean_drop 705/160, final 0, auc 5.
  local steps, rets = {}, {}
  for i = 0, 159 do
    steps[#steps + 1] = 10 * (i + 1)
    rets[#rets + 1] = (i // 40) % 2 == 1 and 0 or 10
  end
  local r = S.run { steps = steps, returns = rets }
  eq(r.collapses, 2, "collapses")
  near(r.mean_drop, 705 / 160, nil, "mean_drop")
  near(r.final, 0, nil, "final")
  near(r.auc, 5, nil, "auc")
end)

test("across: [1,2,3,4]", function()
  -- q25: h = 3 * .25 = .75 -> 1.75; q75: h = 2.25 -> 3.25; sd sqrt(5/3);
  -- stuck below 2.5: {1, 2} -> 0.5.
  local a = S.across({ 4, 1, 3, 2 }, { stuck_below = 2.5 })
  eq(a.n, 4, "n")
  near(a.mean, 2.5, nil, "mean")
  near(a.sd, math.sqrt(5 / 3), 1e-12, "sd")
  near(a.q25, 1.75, nil, "q25")
  near(a.q75, 3.25, nil, "q75")
  near(a.iqr, 1.5, nil, "iqr")
  near(a.iqm, 2.5, nil, "iqm")
  near(a.stuck, 0.5, nil, "stuck")
  eq(S.across({ 1, 2 }).stuck, nil, "stuck without stuck_below")
  -- an options table without stuck_below (a sweep env with no threshold)
  eq(S.across({ 1, 2 }, {}).stuck, nil, "stuck with an empty options table")
  eq(S.across({ 1, 2 }, {}).mean, 1.5, "mean with an empty options table")
  local one = S.across({ 7 })
  check(one.sd ~= one.sd, "sd of one run is NaN")
  eq(one.iqr, 0, "iqr of one run")
end)

test("iqm: n = 4, 5, 8", function()
  near(S.iqm({ 4, 1, 3, 2 }), 2.5, nil, "n=4: (2 + 3)/2")
  -- [0,1,2,4,100]: weights .75, 1, .75 on 1, 2, 4 over 2.5 -> 2.3
  near(S.iqm({ 100, 0, 4, 1, 2 }), 2.3, 1e-12, "n=5: fractional weights")
  near(S.iqm({ 50, 0, 1, 100, 2, 3, 5, 0 }), 2.75, nil, "n=8: (1+2+3+5)/4")
end)

test("quantile: numpy's linear rule, and p outside [0, 1] refused", function()
  -- [1,2,3,4]: h = 3p, so p = .25 -> 1 + .75 = 1.75, p = .5 -> 2.5, p = 1 -> 4
  near(S.quantile({ 4, 1, 3, 2 }, 0.25), 1.75, 1e-12, "q25")
  near(S.quantile({ 4, 1, 3, 2 }, 0.5), 2.5, 1e-12, "median")
  eq(S.quantile({ 4, 1, 3, 2 }, 1), 4, "max")
  eq(S.quantile({ 7 }, 0.3), 7, "one value")
  fails(function() S.quantile({ 1, 2 }, 1.5) end, "p must be in [0, 1]")
  fails(function() S.quantile({}, 0.5) end, "empty")
end)

test("iqm_ci: hand cases and determinism", function()
  -- stratified: tasks [0,0] and [10,10] -> every resample's IQM is 5
  local e, lo, hi = S.iqm_ci({ a = { 0, 0 }, b = { 10, 10 } }, { seed = 1 })
  eq(e, 5, "estimate"); eq(lo, 5, "lo"); eq(hi, 5, "hi")
  -- one task [0, 1]: resample IQMs 0, .5, 1 with p 1/4, 1/2, 1/4
  e, lo, hi = S.iqm_ci({ 0, 1 }, { resamples = 20000, seed = 7, level = 0.4 })
  eq(e, 0.5, "estimate [0,1]"); eq(lo, 0.5, "lo 40%"); eq(hi, 0.5, "hi 40%")
  local t = { env1 = { 1, 5, 2, 8, 3 }, env2 = { 10, 12, 9, 15, 11 }, env3 = { 0, 0.5, 2, 1, 4 } }
  local e1, lo1, hi1 = S.iqm_ci(t, { resamples = 500, seed = 3 })
  -- the same table built in another order: the tasks are sorted by name
  local t2 = { env3 = t.env3, env1 = t.env1, env2 = t.env2 }
  local e2, lo2, hi2 = S.iqm_ci(t2, { resamples = 500, seed = 3 })
  eq(e1, e2, "same estimate"); eq(lo1, lo2, "same lo"); eq(hi1, hi2, "same hi")
  check(lo1 <= e1 and e1 <= hi1 and lo1 < hi1, "the interval contains the estimate")
  -- an array of tasks works too
  local e3 = S.iqm_ci({ t.env1, t.env2, t.env3 }, { resamples = 10 })
  eq(e3, e1, "array of tasks: same estimate")
end)

test("aggregate: mean, median, optimality gap, profile; bad stat and options refused", function()
  local t = { a = { 0.5, 1.2, 0.8 }, b = { 0, 1 } }
  local near = function(x, y, msg) check(math.abs(x - y) < 1e-12, msg .. ": " .. x .. " vs " .. y) end
  near(S.aggregate(t, "mean"), 0.7, "mean")
  near(S.aggregate(t, "median"), 0.8, "median")
  near(S.aggregate(t, "optimality_gap"), 0.34, "optimality gap to 1")
  near(S.aggregate(t, "optimality_gap", { threshold = 0.5 }), 0.1, "optimality gap to 0.5")
  near(S.aggregate(t, "profile", { threshold = 0.7 }), 7 / 12, "profile at 0.7")
  local e, lo, hi = S.aggregate(t, "iqm", { resamples = 300, seed = 2 })
  local e2, lo2, hi2 = S.iqm_ci(t, { resamples = 300, seed = 2 })
  eq(e, e2, "iqm = iqm_ci"); eq(lo, lo2, "lo"); eq(hi, hi2, "hi")
  fails(function() S.aggregate(t, "mode") end, "invalid option 'mode'")
  fails(function() S.aggregate(t, "profile", { tau = 1 }) end, "tau")
end)

test("prob_improvement: ties and tasks", function()
  -- (1,1) .5 + (1,3) 0 + (2,1) 1 + (2,3) 0 = 1.5 / 4
  local p, lo, hi = S.prob_improvement({ 1, 2 }, { 1, 3 })
  near(p, 0.375, nil, "p")
  check(lo <= p and p <= hi, "interval contains p")
  -- two tasks: .375 and [1,2,3] vs [2] = (0 + .5 + 1)/3 = .5 -> .4375
  p = S.prob_improvement({ a = { 1, 2 }, b = { 1, 2, 3 } }, { a = { 1, 3 }, b = { 2 } }, { resamples = 10 })
  near(p, 0.4375, nil, "p over tasks")
  p, lo, hi = S.prob_improvement({ 5, 6, 7 }, { 1, 2 }, { seed = 4 })
  eq(p, 1, "dominance p"); eq(lo, 1, "dominance lo"); eq(hi, 1, "dominance hi")
end)

test("errors name the argument", function()
  fails(function() S.run(5) end, "bad argument #1", "table expected")
  fails(function() S.run { steps = { 1, 2 }, returns = { 1, 0 / 0 } } end, "returns[2] is NaN")
  fails(function() S.run { steps = { 1, 2 }, returns = { 1, "x" } } end, "returns[2] must be a number, got string")
  fails(function() S.run { steps = { 1, 2 }, returns = { 1 } } end, "steps and returns have different lengths (2 and 1)")
  fails(function() S.run { steps = { 3, 2 }, returns = { 1, 2 } } end, "steps must be non-decreasing", "steps[2]")
  fails(function() S.run { steps = {}, returns = {} } end, "steps is empty")
  fails(function() S.run { returns = { 1 } } end, "steps must be a table of numbers, got nil")
  fails(function() S.run { steps = { 1 }, returns = { 1 }, threshold = "x" } end, "threshold must be a number")
  fails(function() S.run { steps = { 1 }, returns = { 1 }, treshold = 1 } end, "unknown run key 'treshold'")
  fails(function() S.across("x") end, "bad argument #1", "values must be a table of numbers, got string")
  fails(function() S.across({}) end, "values is empty")
  fails(function() S.across({ 1 }, { stuck = 1 }) end, "bad argument #2", "unknown option key 'stuck'")
  fails(function() S.across({ 1 }, { stuck_below = 0 / 0 }) end, "stuck_below must be finite")
  fails(function() S.iqm({ 1, 1 / 0 }) end, "values[2] is inf")
  fails(function() S.iqm_ci({}) end, "scores is empty")
  fails(function() S.iqm_ci({ a = { 1 }, b = {} }) end, "scores.b is empty")
  fails(function() S.iqm_ci({ a = { 1 } }, { level = 1 }) end, "bad argument #2", "level must be in (0, 1)")
  fails(function() S.iqm_ci({ a = { 1 } }, { resamples = 0 }) end, "resamples must be in 1..")
  fails(function() S.iqm_ci({ a = { 1 } }, { seed = 1.5 }) end, "seed must be an integer")
  fails(function() S.prob_improvement({ a = { 1 } }, { b = { 1 } }) end, "bad argument #2", "y has no task a")
  fails(function() S.prob_improvement({ a = { 1 } }, { a = { 1 }, b = { 2 } }) end, "y has 2 tasks, x has 1")
  fails(function() S.prob_improvement({ 1 }, { a = { 1 } }) end, "y must be shaped like x")
  fails(function() S.prob_improvement({ 1 }, nil) end, "bad argument #2", "got nil")
end)

T.run_tests(tests, nil, true)
