-- SPDX-License-Identifier: MIT
-- plot.lua -- the plots of a sweep's report (docs/sweeps.md, "Plots"):
-- per env and algo, the learning curves (mean over seeds with a 95% band)
-- and a box plot of the final returns, drawn by gnuplot as PNG and SVG.
--
-- How it works: make(dir, runs, cfg) writes, for every env x algo, the data
-- (DIR/plots/<env>_<algo>_{curves,final}.dat) and a gnuplot script
-- (.gp) that reads it, then runs gnuplot on each script from DIR/plots, so
-- `cd DIR/plots && gnuplot X.gp` makes the plot again. Runs must be
-- collected (sweep.collect): a done run carries curve_steps (the global step
-- at which each episode ended), smoothed (lpdm.stats.run's 20-episode moving
-- average) and final. Failed runs are left out of the curves and boxes and
-- counted in the legends.
--
-- Curve of a variant on the grid x_k = round(budget * k / GRID), k = 0..GRID:
-- a run's value at x is smoothed[j] for the last episode j that ended at or
-- before x (the last value carried forward); before its first episode ends,
-- a run has no value and does not contribute. At each grid point with
-- n >= 1 contributing runs: mean of their values, and the band
-- mean +- 1.96 * sd / sqrt(n) (sd the sample standard deviation; n = 1
-- gives a band of zero width).
--
-- The gnuplot command is $LPDM_GNUPLOT, else "gnuplot"; it is looked up
-- with `command -v`. Not found: no plot is made (the data and scripts are
-- still written) and make says why.
--
-- Use:
--   local plot = require("plot")
--   local res = plot.make("out/dir", runs, cfg)
--   -- res.skipped: nil, or why no plot was made
--   -- res.plots[env][algo] = { images = {"plots/..png", ...}, errors = {...}, note = ... }
-- scripts/plot.lua (one run's curves) uses its parts: plot.gnuplot(),
-- plot.colour(i), plot.gstring(s) (a gnuplot string literal).
local M = {}

M.GRID = 100      -- grid intervals: GRID + 1 points from 0 to the budget
M.Z = 1.96        -- the band: mean +- Z standard errors
-- One colour per variant, by its position in the config (cycled).
M.PALETTE = { "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
  "#999999", "#8C564B" }
local SIZE_PNG = "900,540"
local SIZE_SVG = "900,540"

local util = require("util")
local q, read, write = util.quote, util.read, util.write_atomic

-- A gnuplot string literal (double quotes: \n is a new line).
local function gs(s)
  return '"' .. tostring(s):gsub('[\\"\n]', { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n" }) .. '"'
end
M.gstring = gs

local function num(x)
  if math.type(x) == "integer" then return string.format("%d", x) end
  return string.format("%.10g", x)
end

-- The quantile q(p) of docs/statistics.md (linear interpolation between
-- order statistics, NumPy's default).
function M.quantile(x, p)
  local s = {}
  for i, v in ipairs(x) do s[i] = v end
  table.sort(s)
  local h = (#s - 1) * p
  local lo = math.floor(h)
  local a, b = s[lo + 1], s[math.min(lo + 2, #s)]
  return a + (h - lo) * (b - a)
end

function M.colour(i) return M.PALETTE[(i - 1) % #M.PALETTE + 1] end

-- The gnuplot command ($LPDM_GNUPLOT or "gnuplot") and whether the shell
-- finds it.
function M.gnuplot()
  local cmd = os.getenv("LPDM_GNUPLOT")
  if cmd == nil or cmd == "" then cmd = "gnuplot" end
  local found = os.execute("command -v " .. q(cmd) .. " >/dev/null 2>&1") == true
  return cmd, found
end

-- "2 of 2 seeds", "1 of 2 seeds; 1 failed", "3 of 5 seeds; 2 not run"
-- (a report written while the sweep runs: --report-only).
local function count_text(nd, nf, np)
  np = np or 0
  local s = string.format("%d of %d seed%s", nd, nd + nf + np, nd + nf + np == 1 and "" or "s")
  if nf > 0 then s = s .. string.format("; %d failed", nf) end
  if np > 0 then s = s .. string.format("; %d not run", np) end
  return s
end
M.count_text = count_text

-- The mean curve and its band on the grid for a list of done runs.
-- Returns rows {x, mean, lo, hi, n} for the grid points with n >= 1.
function M.curve(group, budget)
  local rows = {}
  local idx = {}
  for i = 1, #group do idx[i] = 0 end
  for k = 0, M.GRID do
    local x = math.floor(budget * k / M.GRID + 0.5)
    local vals = {}
    for i, r in ipairs(group) do
      local st = r.curve_steps
      local j = idx[i]
      while j < #st and st[j + 1] <= x do j = j + 1 end
      idx[i] = j
      if j > 0 then vals[#vals + 1] = r.smoothed[j] end
    end
    local n = #vals
    if n > 0 then
      local s = 0
      for _, v in ipairs(vals) do s = s + v end
      local mean = s / n
      local half = 0
      if n > 1 then
        local ss = 0
        for _, v in ipairs(vals) do ss = ss + (v - mean) ^ 2 end
        half = M.Z * math.sqrt(ss / (n - 1)) / math.sqrt(n)
      end
      rows[#rows + 1] = { x, mean, mean - half, mean + half, n }
    end
  end
  return rows
end

local HEAD = [[
# %s -- written by scripts/lib/plot.lua (docs/sweeps.md, "Plots").
# Remake: cd into this folder, then: gnuplot %s
set encoding utf8
set termoption noenhanced
set grid lc rgb '#dddddd'
set border lc rgb '#444444'
set key %s box opaque samplen 2
set title %s
set xlabel %s
set ylabel %s
]]

local TAIL = [[
set terminal pngcairo size %s font ',10' noenhanced
set output %s
%s
set terminal svg size %s dynamic font 'Helvetica,10' noenhanced background '#ffffff'
set output %s
replot
unset output
]]

local function script(name, key, title, xlabel, ylabel, settings, plotcmd)
  return HEAD:format(name .. ".gp", name .. ".gp", key, gs(title), gs(xlabel), gs(ylabel))
    .. table.concat(settings, "\n") .. "\n"
    .. TAIL:format(SIZE_PNG, gs(name .. ".png"), plotcmd, SIZE_SVG, gs(name .. ".svg"))
end

-- Writes the two data files and scripts of one env x algo; returns the
-- plot names (file names without extension) made, and a note or nil.
local function write_pair(pdir, cfg, runs, env, algo)
  local budget, groups, counts, nd_all, nf_all, n_seeds = 0, {}, {}, 0, 0, #cfg.seeds
  local skip = {}
  for vi, v in ipairs(cfg.variants) do
    groups[vi], counts[vi] = {}, { 0, 0, 0 }
    skip[vi] = v.algos ~= nil and not v.algos[algo] -- a variant of other algorithms only
    for _, r in ipairs(runs) do
      if r.env == env and r.algo == algo and r.variant == v.name then
        if r.steps and r.steps > budget then budget = r.steps end
        if r.status == "done" and r.curve_steps then
          groups[vi][#groups[vi] + 1] = r
          counts[vi][1] = counts[vi][1] + 1
        elseif r.status == "pending" or r.status == nil then
          counts[vi][3] = counts[vi][3] + 1
        else
          counts[vi][2] = counts[vi][2] + 1
        end
      end
    end
    nd_all, nf_all = nd_all + counts[vi][1], nf_all + counts[vi][2]
  end
  if nd_all == 0 then return {}, "no plots: no done run" end
  local base = env .. "_" .. algo
  local sub = string.format("%s, %s: budget %s env steps, %d seed%s per variant%s", env, algo, num(budget),
    n_seeds, n_seeds == 1 and "" or "s",
    nf_all > 0 and string.format(" (%d of %d runs failed)", nf_all, nd_all + nf_all) or "")

  -- learning curves
  local dat, bands, lines, block = {}, {}, {}, 0
  dat[1] = "# " .. sub
  dat[2] = string.format("# one block per variant with done runs (gnuplot index 0, 1, ...); grid of %d points", M.GRID + 1)
  dat[3] = "# env_steps mean lo95 hi95 n_runs"
  for vi, v in ipairs(cfg.variants) do
    local c = M.colour(vi)
    local title = v.name .. ": " .. count_text(counts[vi][1], counts[vi][2], counts[vi][3])
    if skip[vi] then
      -- not run with this algorithm: no line, no legend entry
    elseif #groups[vi] > 0 then
      if block > 0 then dat[#dat + 1] = "\n" end
      dat[#dat + 1] = "# variant " .. v.name
      for _, row in ipairs(M.curve(groups[vi], budget)) do
        dat[#dat + 1] = string.format("%s %s %s %s %d", num(row[1]), num(row[2]), num(row[3]), num(row[4]), row[5])
      end
      bands[#bands + 1] = string.format("%s index %d using 1:3:4 with filledcurves lc rgb %s notitle",
        gs(base .. "_curves.dat"), block, gs(c))
      lines[#lines + 1] = string.format("%s index %d using 1:2 with lines lw 2 lc rgb %s title %s",
        gs(base .. "_curves.dat"), block, gs(c), gs(title))
      block = block + 1
    else
      lines[#lines + 1] = string.format("NaN with lines lw 2 lc rgb %s title %s", gs(c), gs(title))
    end
  end
  write(pdir .. "/" .. base .. "_curves.dat", table.concat(dat, "\n") .. "\n")
  local parts = {}
  for _, b in ipairs(bands) do parts[#parts + 1] = b end
  for _, l in ipairs(lines) do parts[#parts + 1] = l end
  write(pdir .. "/" .. base .. "_curves.gp", script(base .. "_curves", "top left",
    "Learning curves: " .. sub .. "\nmean over seeds of the 20-episode moving average, band: 95% CI (mean +- 1.96 SE)",
    "env steps", "episode return (20-episode moving average)",
    { "set style fill transparent solid 0.25 noborder",
      -- the last x tic is at the right edge: keep room for its label
      string.format("set xrange [0:%s]", num(budget)), "set format x '%.0f'", "set rmargin 6" },
    "plot " .. table.concat(parts, ", \\\n     ")))

  -- final returns
  dat = { "# " .. sub, "# one block per variant with done runs (gnuplot index 0, 1, ...)",
    "# variant_position x_jittered final_return seed" }
  local box = { "# " .. sub, "# one block per variant with done runs (gnuplot index 0, 1, ...)",
    "# variant_position q25 min max q75 median (quantiles as docs/statistics.md)" }
  local boxes, points, xt = {}, {}, {}
  block = 0
  for vi, v in ipairs(cfg.variants) do
    local c = M.colour(vi)
    if not skip[vi] then
      xt[#xt + 1] = string.format("%s %d", gs(v.name .. "\n" .. count_text(counts[vi][1], counts[vi][2], counts[vi][3])), vi)
    end
    local g = groups[vi]
    if #g > 0 then
      if block > 0 then dat[#dat + 1] = "\n"; box[#box + 1] = "\n" end
      dat[#dat + 1] = "# variant " .. v.name
      box[#box + 1] = "# variant " .. v.name
      local finals = {}
      for j, r in ipairs(g) do
        finals[j] = r.final
        local x = vi + (#g > 1 and (j - 1) / (#g - 1) - 0.5 or 0) * 0.3
        dat[#dat + 1] = string.format("%d %s %s %d", vi, num(x), num(r.final), r.seed)
      end
      box[#box + 1] = string.format("%d %s %s %s %s %s", vi, num(M.quantile(finals, 0.25)),
        num(M.quantile(finals, 0)), num(M.quantile(finals, 1)), num(M.quantile(finals, 0.75)),
        num(M.quantile(finals, 0.5)))
      boxes[#boxes + 1] = string.format(
        "%s index %d using 1:2:3:4:5 with candlesticks whiskerbars 0.5 lw 1.5 lc rgb %s title %s",
        gs(base .. "_final_box.dat"), block, gs(c), gs(v.name))
      boxes[#boxes + 1] = string.format(
        "%s index %d using 1:6:6:6:6 with candlesticks lw 2.5 lc rgb %s notitle",
        gs(base .. "_final_box.dat"), block, gs(c))
      points[#points + 1] = string.format("%s index %d using 2:3 with points pt 7 ps 0.9 lc rgb %s notitle",
        gs(base .. "_final.dat"), block, gs(c))
      block = block + 1
    end
  end
  write(pdir .. "/" .. base .. "_final.dat", table.concat(dat, "\n") .. "\n")
  write(pdir .. "/" .. base .. "_final_box.dat", table.concat(box, "\n") .. "\n")
  parts = {}
  for _, b in ipairs(boxes) do parts[#parts + 1] = b end
  for _, p in ipairs(points) do parts[#parts + 1] = p end
  write(pdir .. "/" .. base .. "_final.gp", script(base .. "_final", "top right",
    "Final returns: " .. sub .. "\nbox: quartiles and median; whiskers: min and max; points: one per seed",
    "", "final return (mean of the last 10% of episodes' returns)",
    { string.format("set xrange [0.4:%s]", num(#cfg.variants + 0.6)),
      "set xtics (" .. table.concat(xt, ", ") .. ")", "set style fill transparent solid 0.25 border",
      "set boxwidth 0.5", "set bmargin 4" },
    "plot " .. table.concat(parts, ", \\\n     ")))
  return { base .. "_curves", base .. "_final" }
end

-- Runs gnuplot on NAME.gp in pdir; returns nil, or an error message
-- (with gnuplot's stderr).
local function run_gnuplot(gnuplot, pdir, name)
  local err = pdir .. "/" .. name .. ".err"
  local ok, how = os.execute("cd " .. q(pdir) .. " && " .. q(gnuplot) .. " " .. q(name .. ".gp")
    .. " >/dev/null 2>" .. q(name .. ".err") .. " </dev/null")
  if how == "signal" then error("interrupted!", 0) end
  local text = (read(err) or ""):gsub("%s+$", "")
  if ok and read(pdir .. "/" .. name .. ".png") and read(pdir .. "/" .. name .. ".svg") then
    os.remove(err)
    return nil
  end
  if text == "" then text = ok and "no PNG or SVG written" or "gnuplot failed (no message)" end
  return text
end

-- Writes DIR/plots and runs gnuplot (see the header). Never raises for a
-- gnuplot failure: each one is in the result.
function M.make(dir, runs, cfg)
  local pdir = dir .. "/plots"
  os.execute("mkdir -p " .. q(pdir))
  local gnuplot, found = M.gnuplot()
  local res = { plots = {}, dir = pdir }
  if not found then
    res.skipped = string.format("gnuplot not found (%s; set LPDM_GNUPLOT or install gnuplot)", gnuplot)
  end
  for _, e in ipairs(cfg.envs) do
    res.plots[e.name] = {}
    for _, a in ipairs(cfg.algos) do
      local p = { images = {}, errors = {} }
      res.plots[e.name][a] = p
      local names, note = write_pair(pdir, cfg, runs, e.name, a)
      p.note = note
      for _, name in ipairs(names) do -- no stale images of an earlier invocation
        os.remove(pdir .. "/" .. name .. ".png")
        os.remove(pdir .. "/" .. name .. ".svg")
      end
      if found then
        for _, name in ipairs(names) do
          local err = run_gnuplot(gnuplot, pdir, name)
          if err then
            p.errors[#p.errors + 1] = { name = name, message = err }
          else
            p.images[#p.images + 1] = { name = name, png = "plots/" .. name .. ".png" }
          end
        end
      end
    end
  end
  return res
end

return M
