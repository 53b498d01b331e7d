-- SPDX-License-Identifier: MIT
-- test_study_stats.lua -- scripts/lib/study_stats.lua, the statistics the
-- second edition's report adds to lpdm.stats: the exact Mann-Whitney
-- permutation p against enumeration by hand and against every choice
-- listed, Holm's correction on a worked case, Fisher's exact test against
-- known tables and enumeration, the rank test of spread, and the rise-then-collapse
-- rule and the ended-collapsed rule on curves drawn to hit each branch. TAP.
-- Run by ctest as build/lpdm tests/test_study_stats.lua (plain lua5.4 works too).

local HERE = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = HERE .. "/lib/?.lua;" .. HERE .. "/../scripts/lib/?.lua;" .. package.path
local T = require("testlib")
local ss = require("study_stats")

local check, eq = T.check, T.eq
local tests = {}
local function test(name, fn) tests[#tests + 1] = { name = name, fn = fn } end

local function close(a, b, what) check(math.abs(a - b) < 1e-12, string.format("%s: %.17g, want %.17g", what, a, b)) end

-- Every choice of #x positions out of the pooled values, by recursion: the
-- definition, for comparison with the dynamic programme.
local function brute_p(x, y)
  local all = {}
  for _, v in ipairs(x) do all[#all + 1] = v end
  for _, v in ipairs(y) do all[#all + 1] = v end
  local N, m = #all, #x
  local rank = {}
  for i = 1, N do
    local below, equal = 0, 0
    for j = 1, N do
      if all[j] < all[i] then below = below + 1 elseif all[j] == all[i] then equal = equal + 1 end
    end
    rank[i] = below + (equal + 1) / 2
  end
  local obs = 0
  for i = 1, m do obs = obs + rank[i] end
  local mu, total, extreme = m * (N + 1) / 2, 0, 0
  local function rec(start, left, sum)
    if left == 0 then
      total = total + 1
      if math.abs(sum - mu) >= math.abs(obs - mu) - 1e-9 then extreme = extreme + 1 end
      return
    end
    for i = start, N - left + 1 do rec(i + 1, left - 1, sum + rank[i]) end
  end
  rec(1, m, 0)
  return extreme / total
end

test("mw_exact_p: hand cases (complete separation, a tie group, symmetry in x and y)", function()
  close(ss.mw_exact_p({ 1, 2, 3, 4, 5 }, { 6, 7, 8, 9, 10 }), 2 / 252, "5 v 5 separated: 2 of C(10,5) choices")
  close(ss.mw_exact_p({ 1, 2 }, { 3, 4, 5 }), 2 / 10, "2 v 3 separated: 2 of C(5,2)")
  -- x = {1, 1, 2}, y = {1, 3, 3}: doubled midranks 4, 4, 4, 8, 11, 11; listed by hand, 8 of the 20 choices
  -- lie as far from the mean as x's rank sum
  close(ss.mw_exact_p({ 1, 1, 2 }, { 1, 3, 3 }), 0.4, "a tie group of three")
  close(ss.mw_exact_p({ 6, 7, 8, 9, 10 }, { 1, 2, 3, 4, 5 }), 2 / 252, "two-sided: x above y as below")
  close(ss.mw_exact_p({ 3, 3 }, { 3, 3, 3 }), 1, "all tied: p = 1")
end)

test("mw_exact_p equals the enumeration of every choice, with and without ties", function()
  local cases = {
    { { 0.5, 2, 2, 7 }, { 2, 3, 9, 9, 1 } },
    { { 1, 5, 9, 13, 2, 2 }, { 4, 4, 8, 1, 0, 30, 31 } },
    { { -3, -2, -1, 0, 1, 2, 3, 4 }, { 0, 0, 0, 5, 6, 7, 8, 9 } },
  }
  for i, c in ipairs(cases) do
    close(ss.mw_exact_p(c[1], c[2]), brute_p(c[1], c[2]), "case " .. i)
  end
  -- 10 v 10, the main table's cells: C(20,10) = 184,756 choices
  local x, y = {}, {}
  for i = 1, 10 do x[i] = i * 1.5; y[i] = i + 3 end
  close(ss.mw_exact_p(x, y), brute_p(x, y), "10 v 10 with ties")
end)

test("holm: the step-down order, stopping at the first p above its bound", function()
  -- sorted p: 0.005 <= 0.05/4, 0.01 <= 0.05/3, 0.03 > 0.05/2: two rejected, and 0.04 is not (it follows)
  local l = { { p = 0.01 }, { p = 0.04 }, { p = 0.03 }, { p = 0.005 }, { name = "no p" } }
  eq(ss.holm(l, 0.05), 2, "rejected")
  check(l[1].holm and l[4].holm and not l[2].holm and not l[3].holm and not l[5].holm,
    "the two smallest p are rejected, nothing else")
  local m = { { p = 0.02 }, { p = 0.02 } }
  eq(ss.holm(m, 0.05), 2, "0.02 <= 0.025, then 0.02 <= 0.05")
  eq(ss.holm({ { p = 0.06 } }, 0.05), 0, "one p above alpha")
end)

test("collapses: only after a rise, by half the rise, counted once until the curve recovers", function()
  local rose, n = ss.collapses({ 0, 1, 2, 1, 3, 1 }, 5)
  check(not rose and n == 0, "never rose by 5: no collapse, whatever the curve does")
  -- rises to 10 (rise 10 >= 4), falls to 4 (drop 6 >= 5: one), back to 8 (drop 2 < 5: over), falls to 3 (two)
  rose, n = ss.collapses({ 0, 5, 10, 4, 4, 8, 3 }, 4)
  check(rose and n == 2, "two collapses, got " .. tostring(n))
  -- a fall of less than half the rise is not one
  rose, n = ss.collapses({ 0, 10, 6 }, 4)
  check(rose and n == 0, "a fall of 4 after a rise of 10 is no collapse")
  -- the fall is measured against the rise from the first value, not from zero
  rose, n = ss.collapses({ -100, -60, -85 }, 30)
  check(rose and n == 1, "a fall of 25 after a rise of 40 from -100 is one")
  rose, n = ss.collapses({ 1, 2 }, 0.5, 0.9)
  check(rose and n == 0, "fall_frac given")
end)

-- C(n, k) as an exact integer (n small)
local function choose(n, k)
  local c = 1
  for i = 1, k do c = c * (n - k + i) // i end
  return c
end

test("fisher_exact_p: known tables, and the definition by enumeration", function()
  -- the lady tasting tea: 3 of 4 right, p = 34/70
  close(ss.fisher_exact_p(3, 1, 1, 3), 34 / 70, "tea")
  -- a lopsided table, p = 0.0027594561852200...
  check(math.abs(ss.fisher_exact_p(1, 9, 11, 3) - 0.00275945618522) < 1e-12, "1 9 / 11 3: " .. ss.fisher_exact_p(1, 9, 11, 3))
  close(ss.fisher_exact_p(5, 5, 5, 5), 1, "equal rows")
  close(ss.fisher_exact_p(0, 10, 10, 0), 2 / choose(20, 10), "complete separation")
  -- every table of some margins against integer enumeration
  for _, t in ipairs({ { 2, 8, 7, 3 }, { 0, 4, 9, 1 }, { 10, 0, 4, 6 }, { 3, 7, 3, 7 } }) do
    local a, b, c, d = t[1], t[2], t[3], t[4]
    local r1, r2, c1 = a + b, c + d, a + c
    local function w(x) return choose(r1, x) * choose(r2, c1 - x) end
    local num = 0
    for x = math.max(0, c1 - r2), math.min(r1, c1) do if w(x) <= w(a) then num = num + w(x) end end
    close(ss.fisher_exact_p(a, b, c, d), num / choose(r1 + r2, c1), table.concat(t, " "))
    close(ss.fisher_exact_p(c, d, a, b), ss.fisher_exact_p(a, b, c, d), "rows swapped: " .. table.concat(t, " "))
  end
  T.fails(function() ss.fisher_exact_p(1, -1, 2, 3) end, "counts must be integers")
end)

test("spread_p: the Mann-Whitney p of the absolute deviations from each sample's median", function()
  -- deviations {2,1,0,1,2} against {20,10,0,10,20}: the same ranks as mw_exact_p on them
  local x, y = { 8, 9, 10, 11, 12 }, { 80, 90, 100, 110, 120 }
  local p, mx, my = ss.spread_p(x, y)
  close(p, ss.mw_exact_p({ 2, 1, 0, 1, 2 }, { 20, 10, 0, 10, 20 }), "p")
  check(mx == 1 and my == 10, "median deviations 1 and 10")
  -- location does not matter: shifting y changes nothing
  local ys = {}
  for i, v in ipairs(y) do ys[i] = v - 1000 end
  close(ss.spread_p(x, ys), p, "shifted")
  -- one sample tight, the other wide: small p; the same spread: p = 1
  local tight, wide = { 0, 0.1, -0.1, 0.05, -0.05, 0.02, -0.02, 0.08, -0.08, 0.01 }, {}
  for i, v in ipairs(tight) do wide[i] = 100 * v + (i % 2 == 0 and 30 or -30) end
  check(ss.spread_p(tight, wide) < 0.001, "tight against wide: " .. ss.spread_p(tight, wide))
  close(ss.spread_p(x, { 18, 19, 20, 21, 22 }), 1, "equal spreads")
  check(ss.median({ 3, 1, 2 }) == 2 and ss.median({ 4, 1, 3, 2 }) == 2.5, "median")
end)

test("ended collapsed: a run that rose and whose score stays down by half the rise", function()
  -- dips to 4 and recovers to 8: one collapse, but a final score of 8 is not ended collapsed (line at 5)
  local rose, n, top, first = ss.collapses({ 0, 5, 10, 4, 4, 8 }, 4)
  check(rose and n == 1 and top == 10 and first == 0, "rose, one collapse, top 10, first 0")
  check(not ss.ended_collapsed(rose, 8, top, first), "final 8 above the line at 5")
  check(ss.ended_collapsed(rose, 5, top, first), "final 5 on the line")
  check(ss.ended_collapsed(rose, 3, top, first), "final 3 below it")
  check(not ss.ended_collapsed(rose, 5.5, top, first), "final 5.5 above it")
  -- from a negative start: rise 40 from -100, line at -80
  rose, n, top, first = ss.collapses({ -100, -60, -70 }, 30)
  check(ss.ended_collapsed(rose, -85, top, first) and not ss.ended_collapsed(rose, -75, top, first), "line at -80")
  check(ss.ended_collapsed(rose, -75, top, first, 0.2), "fall_frac 0.2: line at -68")
  -- a run that never rose never ended collapsed, however low its score
  rose, n, top, first = ss.collapses({ 0, 1, 2 }, 5)
  check(not ss.ended_collapsed(rose, -100, top, first), "never rose")
end)

T.run_tests(tests)
