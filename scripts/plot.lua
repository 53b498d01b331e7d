-- SPDX-License-Identifier: MIT
-- plot.lua -- the learning curves of one or more runs, as one PNG (or SVG).
--
--   build/lpdm scripts/plot.lua DIR [DIR...] --out=FILE.png [--y=avg20|episode_return]
--                               [--title=TEXT]
--
-- Each DIR is a run's output directory (train.lua --out): its progress.csv
-- gives one line, x = global_step (the env step at which each episode
-- ended), y = avg20 (the 20-episode moving average train.lua wrote; the
-- default) or episode_return (every episode's return). The legend names
-- each run by its directory's last part (the whole path if two runs share
-- it); a run without a finished episode is listed with "(no episodes)".
-- When every run's summary.json names the same threshold (the env's
-- reward_threshold), it is drawn as a dashed line. Colours and style are
-- those of the sweep's plots (scripts/lib/plot.lua, docs/sweeps.md).
--
-- --out ending in .svg writes an SVG, otherwise a PNG (900 x 540). The plot
-- is drawn by gnuplot ($LPDM_GNUPLOT, else gnuplot; Debian package
-- gnuplot-nox). The data and the gnuplot script go to a temporary folder
-- that is removed afterwards.
--
-- Exit status: 0 done; 1 a run or gnuplot at fault (a DIR or its
-- progress.csv missing or unreadable, gnuplot missing or failing, --out not
-- writable); 2 bad usage (no DIR, no --out, an unknown flag, a bad --y).
-- Every message starts with "plot.lua: " and names what is at fault.

local PROG = "plot.lua"

local here = (arg and arg[0] or "scripts/plot.lua"):match("^(.*)/[^/]*$") or "."
package.path = here .. "/lib/?.lua;" .. package.path
local util = require("util")
local plot = require("plot")
local json = require("json")
local q, read = util.quote, util.read

local function die(msg, code)
  io.stderr:write(PROG, ": ", msg, "\n")
  os.exit(code or 1)
end

local USAGE = [[
usage: lpdm scripts/plot.lua DIR [DIR...] --out=FILE.png [--y=avg20|episode_return] [--title=TEXT]
Draws the learning curves of the runs in DIR... (their progress.csv) with gnuplot.
  --out=FILE    the image: FILE.png (900 x 540) or FILE.svg
  --y=avg20     the 20-episode moving average (default); episode_return: every episode's return
  --title=TEXT  the plot's title (default: "Learning curve(s)" and the runs' common env)]]

-- ---------------------------------------------------------------- arguments

local dirs, opts = {}, {}
local KNOWN = { out = true, y = true, title = true, help = true }
for _, a in ipairs(arg) do
  local name, value = a:match("^%-%-([%w_%-]+)=(.*)$")
  if not name then
    name = a:match("^%-%-([%w_%-]+)$")
    value = true
  end
  if name then
    if not KNOWN[name] then die(string.format("unknown flag --%s (known: --out, --y, --title, --help)", name), 2) end
    if opts[name] ~= nil then die(string.format("flag --%s given twice", name), 2) end
    opts[name] = value
  elseif a:sub(1, 1) == "-" and a ~= "-" then
    die(string.format("unexpected argument '%s' (flags look like --name=value; see --help)", a), 2)
  else
    dirs[#dirs + 1] = a
  end
end
if opts.help then
  print(USAGE)
  os.exit(0)
end
if #dirs == 0 then die("no run directory given\n" .. USAGE, 2) end
if opts.out == nil or opts.out == true or opts.out == "" then
  die("--out=FILE.png is missing: where should the plot go?\n" .. USAGE, 2)
end
local ycol = opts.y == nil and "avg20" or opts.y
if ycol ~= "avg20" and ycol ~= "episode_return" then
  die(string.format("--y must be avg20 or episode_return, got '%s'", tostring(ycol)), 2)
end
if opts.title == true then die("--title needs a value (--title=TEXT)", 2) end
local svg = opts.out:lower():match("%.svg$") ~= nil

-- ---------------------------------------------------------------- the runs

local function basename(d) return (d:gsub("/+$", ""):match("([^/]*)$")) end

-- Reads DIR/progress.csv: the steps and y values of its rows.
local function load_run(dir)
  if os.execute("test -d " .. q(dir)) ~= true then die(string.format("%s: no such directory", dir)) end
  local path = dir .. "/progress.csv"
  local text = read(path)
  if not text then
    die(string.format("%s has no progress.csv: not a run directory? (train.lua --out=DIR writes it)", dir))
  end
  local header = text:match("^([^\n]*)")
  local cols = {}
  for c in (header .. ","):gmatch("([^,]*),") do cols[c] = #cols + 1; cols[#cols + 1] = c end
  local xi, yi = cols.global_step, cols[ycol]
  if not xi or not yi then
    die(string.format("%s: not lpdm's progress.csv (its header '%s' lacks global_step or %s)", path, header, ycol))
  end
  local xs, ys, n = {}, {}, 0
  for line in text:gmatch("[^\n]+") do
    n = n + 1
    if n > 1 then
      local cells = {}
      for c in (line .. ","):gmatch("([^,]*),") do cells[#cells + 1] = c end
      local x, y = tonumber(cells[xi]), tonumber(cells[yi])
      if not x or not y then die(string.format("%s: line %d is not numbers: %s", path, n, line)) end
      xs[#xs + 1], ys[#ys + 1] = x, y
    end
  end
  local run = { dir = dir, name = basename(dir), x = xs, y = ys }
  local sj = read(dir .. "/summary.json")
  if sj then
    local ok, s = pcall(json.decode, sj)
    if ok and type(s) == "table" then
      run.threshold = type(s.threshold) == "number" and s.threshold or nil
      run.env = type(s.config) == "table" and s.config.env or nil
    end
  end
  return run
end

local runs, seen = {}, {}
for i, d in ipairs(dirs) do
  runs[i] = load_run(d)
  seen[runs[i].name] = (seen[runs[i].name] or 0) + 1
end
for _, r in ipairs(runs) do if seen[r.name] > 1 then r.name = r.dir end end

local any = false
for _, r in ipairs(runs) do any = any or #r.x > 0 end
if not any then die(string.format("no finished episode in %s: nothing to draw", #runs == 1 and runs[1].dir or "any run")) end

-- a threshold and an env all the runs share
local threshold, env = runs[1].threshold, runs[1].env
for _, r in ipairs(runs) do
  if r.threshold ~= threshold then threshold = nil end
  if r.env ~= env then env = nil end
end

-- ---------------------------------------------------------------- gnuplot

local gnuplot, found = plot.gnuplot()
if not found then
  die(string.format("gnuplot not found ('%s'): install it (Debian: apt-get install gnuplot-nox) or set LPDM_GNUPLOT",
    gnuplot))
end
do -- --out must be writable (gnuplot's own message would be vaguer)
  local f, err = io.open(opts.out, "ab")
  if not f then
    local why = tostring(err)
    if why:sub(1, #opts.out + 2) == opts.out .. ": " then why = why:sub(#opts.out + 3) end
    die(string.format("cannot write --out=%s: %s", opts.out, why))
  end
  f:close()
end

local tmp = os.tmpname()
os.remove(tmp)
if not os.execute("mkdir -m 700 " .. q(tmp)) then die("cannot create a temporary folder " .. tmp) end
local function cleanup() os.execute("rm -rf -- " .. q(tmp)) end

local gs = plot.gstring -- a gnuplot string literal

local function num(x)
  if math.type(x) == "integer" then return string.format("%d", x) end
  return string.format("%.10g", x)
end

local parts = {}
for i, r in ipairs(runs) do
  local title = r.name
  if #r.x == 0 then
    parts[#parts + 1] = string.format("NaN with lines lw 2 lc rgb %s title %s", gs(plot.colour(i)),
      gs(title .. " (no episodes)"))
  else
    local dat = { "# " .. r.dir .. ": global_step " .. ycol }
    for k = 1, #r.x do dat[#dat + 1] = num(r.x[k]) .. " " .. num(r.y[k]) end
    local f = string.format("run%d.dat", i)
    util.write_atomic(tmp .. "/" .. f, table.concat(dat, "\n") .. "\n")
    parts[#parts + 1] = string.format("%s using 1:2 with lines lw %s lc rgb %s title %s", gs(f),
      ycol == "avg20" and "2" or "1", gs(plot.colour(i)), gs(title))
  end
end
if threshold then
  parts[#parts + 1] = string.format("%s with lines dt 2 lw 1 lc rgb '#666666' title %s", num(threshold),
    gs("threshold " .. num(threshold)))
end

local title = opts.title or ((#runs == 1 and "Learning curve" or "Learning curves") .. (env and (": " .. env) or ""))
local out_abs = opts.out
if out_abs:sub(1, 1) ~= "/" then -- gnuplot runs in the temporary folder
  local p = io.popen("pwd")
  local cwd = p and p:read("l")
  if p then p:close() end
  out_abs = (cwd or ".") .. "/" .. out_abs
end
local script = table.concat({
  "# written by scripts/plot.lua",
  "set encoding utf8",
  "set termoption noenhanced",
  svg and "set terminal svg size 900,540 dynamic font 'Helvetica,10' noenhanced background '#ffffff'"
    or "set terminal pngcairo size 900,540 font ',10' noenhanced",
  "set output " .. gs(out_abs),
  "set grid lc rgb '#dddddd'",
  "set border lc rgb '#444444'",
  "set key top left box opaque samplen 2",
  "set title " .. gs(title),
  "set xlabel 'env steps'",
  "set ylabel " .. gs(ycol == "avg20" and "episode return (20-episode moving average)" or "episode return"),
  "set xrange [0:*]",
  "set offsets 0, 0, graph 0.05, 0",
  "set format x '%.0f'",
  "set rmargin 6",
  "plot " .. table.concat(parts, ", \\\n     "),
  "unset output",
}, "\n") .. "\n"
util.write_atomic(tmp .. "/plot.gp", script)

local ok, how = os.execute("cd " .. q(tmp) .. " && " .. q(gnuplot) .. " plot.gp >/dev/null 2>gnuplot.err </dev/null")
local err = (read(tmp .. "/gnuplot.err") or ""):gsub("%s+$", "")
cleanup()
if how == "signal" then die("interrupted") end
local img = read(opts.out)
if not ok or not img or #img == 0 then
  os.remove(opts.out)
  die(string.format("gnuplot failed to draw %s%s", opts.out, err ~= "" and (":\n" .. err) or ""))
end
print(string.format("wrote %s (%d run%s, y = %s)", opts.out, #runs, #runs == 1 and "" or "s", ycol))
