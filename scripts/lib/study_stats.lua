-- SPDX-License-Identifier: MIT
-- study_stats.lua -- the statistics a study's report adds to lpdm.stats
-- (docs/statistics.md, "For a study's report"): the exact permutation p of
-- the Mann-Whitney statistic, Holm's correction, Fisher's exact test, a
-- rank test of spread, and a run's rise and collapses on its smoothed curve. Pure Lua; the second edition's report
-- (docs/results/paper-v2/report.lua) uses them, tests/test_study_stats.lua
-- checks each against cases worked by hand.
--
--   local ss = require("study_stats")          -- scripts/lib on package.path
--   local p = ss.mw_exact_p(x, y)             -- two-sided, midranks for ties
--   ss.holm(list, 0.05)                       -- sets list[i].holm for each rejected {p = ...}
--   local p = ss.fisher_exact_p(a, b, c, d)   -- two-sided, 2x2 counts
--   local p, mdx, mdy = ss.spread_p(x, y)      -- is one sample more spread out?
--   local rose, n, top, first = ss.collapses(avg, rise, fall_frac)
--   ss.ended_collapsed(rose, final, top, first, fall_frac)
local M = {}

-- The exact two-sided permutation p of the Mann-Whitney statistic: the rank
-- sum of x among all #x + #y values (midranks for ties), against its
-- distribution over every way to choose which #x of the values are x's; p
-- is the share of those choices whose rank sum lies at least as far from
-- its mean as x's. Counted by dynamic programming over doubled ranks
-- (integers), so 10 against 10 (184,756 choices) is immediate.
function M.mw_exact_p(x, y)
  assert(#x > 0 and #y > 0, "mw_exact_p: both samples need a value")
  local all = {}
  for _, v in ipairs(x) do all[#all + 1] = { v, 1 } end
  for _, v in ipairs(y) do all[#all + 1] = { v, 0 } end
  table.sort(all, function(a, b) return a[1] < b[1] end)
  local N, m = #all, #x
  local r2, i = {}, 1
  while i <= N do
    local j = i
    while j < N and all[j + 1][1] == all[i][1] do j = j + 1 end
    for k = i, j do r2[k] = i + j end -- 2 x the midrank of the tie group i..j
    i = j + 1
  end
  local obs = 0
  for k = 1, N do if all[k][2] == 1 then obs = obs + r2[k] end end
  local ways = { [0] = { [0] = 1 } } -- ways[c][s]: choices of c values with doubled rank sum s
  for k = 1, N do
    for c = math.min(k, m), 1, -1 do
      local prev = ways[c - 1]
      if prev then
        ways[c] = ways[c] or {}
        local cur = ways[c]
        for s, w in pairs(prev) do cur[s + r2[k]] = (cur[s + r2[k]] or 0) + w end
      end
    end
  end
  local total, extreme, mu = 0, 0, m * (N + 1)
  local d = math.abs(obs - mu)
  for s, w in pairs(ways[m]) do
    total = total + w
    if math.abs(s - mu) >= d - 1e-9 then extreme = extreme + w end
  end
  return extreme / total
end

-- Holm's step-down correction at level alpha: sorts the entries of list
-- with a p (others are skipped) by p, and marks entry k of K (1-based, in
-- that order) rejected (.holm = true) while p <= alpha / (K - k + 1); the
-- first that fails stops it. Returns the count rejected.
function M.holm(list, alpha)
  alpha = alpha or 0.05
  local idx = {}
  for i, e in ipairs(list) do if e.p then idx[#idx + 1] = i end end
  table.sort(idx, function(a, b) return list[a].p < list[b].p end)
  local K, n = #idx, 0
  for k, i in ipairs(idx) do
    if list[i].p > alpha / (K - k + 1) then break end
    list[i].holm = true
    n = n + 1
  end
  return n
end

-- A run's rise and collapses on its smoothed curve avg (the 20-episode
-- average). With M the running maximum and the rise M - avg[1]: the run
-- rose once the rise reached `rise` (an absolute amount, e.g. 25% of an
-- env's best - random); from then on a collapse starts when avg falls
-- below M by fall_frac (default 0.5) of the rise or more, and ends when it
-- is back above that line. Returns rose (boolean) and the collapses
-- counted; a run that never rose has none. Also returns the curve's maximum
-- and first value, for ended_collapsed.
function M.collapses(avg, rise, fall_frac)
  fall_frac = fall_frac or 0.5
  if #avg == 0 then return false, 0 end
  local first, M_, rose, inside, n = avg[1], -math.huge, false, false, 0
  for i = 1, #avg do
    if avg[i] > M_ then M_ = avg[i] end
    local r = M_ - first
    if r >= rise then
      rose = true
      local drop = M_ - avg[i]
      if not inside and drop >= fall_frac * r then
        inside, n = true, n + 1
      elseif inside and drop < fall_frac * r then
        inside = false
      end
    end
  end
  return rose, n, M_, first
end

-- Fisher's exact test on the 2x2 table {{a, b}, {c, d}} (rows: two
-- groups; columns: with and without an event): the two-sided p, the sum of
-- the hypergeometric probabilities of every table with the same margins
-- that is no more likely than the one observed (relative tolerance 1e-7).
function M.fisher_exact_p(a, b, c, d)
  for _, v in ipairs({ a, b, c, d }) do
    if type(v) ~= "number" or v < 0 or v ~= math.floor(v) then error("fisher_exact_p: counts must be integers >= 0", 2) end
  end
  local r1, r2, c1 = a + b, c + d, a + c
  local n = r1 + r2
  local lf = { [0] = 0 }
  for i = 1, n do lf[i] = lf[i - 1] + math.log(i) end
  local function lp(x) -- log P(top-left cell = x) under the margins
    return lf[r1] + lf[r2] + lf[c1] + lf[n - c1] - lf[n] - lf[x] - lf[r1 - x] - lf[c1 - x] - lf[r2 - c1 + x]
  end
  local l0, p = lp(a), 0
  for x = math.max(0, c1 - r2), math.min(r1, c1) do
    local l = lp(x)
    if l <= l0 + 1e-7 then p = p + math.exp(l) end
  end
  return math.min(1, p)
end

local function median(x)
  local t = {}
  for i, v in ipairs(x) do t[i] = v end
  table.sort(t)
  local n = #t
  if n == 0 then return 0 / 0 end
  if n % 2 == 1 then return t[(n + 1) // 2] end
  return (t[n // 2] + t[n // 2 + 1]) / 2
end
M.median = median

-- A rank test of spread: the exact two-sided Mann-Whitney p (mw_exact_p)
-- of the absolute deviations of x and of y from their own medians. Small
-- when one sample is spread more widely than the other, whatever their
-- locations (the rank form of the Brown-Forsythe idea). Also returns the
-- two medians of the deviations.
function M.spread_p(x, y)
  local function dev(t)
    local m, d = median(t), {}
    for i, v in ipairs(t) do d[i] = math.abs(v - m) end
    return d
  end
  local dx, dy = dev(x), dev(y)
  return M.mw_exact_p(dx, dy), median(dx), median(dy)
end

-- A run that rose (collapses' first result) ended collapsed when its score
-- (the final return) lies below its curve's maximum top by fall_frac of the
-- rise top - first or more: it fell and did not come back.
function M.ended_collapsed(rose, final, top, first, fall_frac)
  if not rose then return false end
  return final <= top - (fall_frac or 0.5) * (top - first)
end

return M
