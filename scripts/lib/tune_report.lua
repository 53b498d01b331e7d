-- SPDX-License-Identifier: MIT
-- tune_report.lua -- what scripts/tune.lua writes: DIR/tune.json (the tune's
-- state: every trial with its configuration, rungs, seeds, runs and
-- objective; the best trial per variant with its train.lua command line;
-- the budget each variant used), DIR/report.md (the same for people) and
-- DIR/plots (gnuplot: the objective against each hyperparameter, and the
-- best objective so far against the env steps spent). docs/tuning.md,
-- "The outputs", lists every field.
--
-- tune.json holds no clock and no path outside DIR (run folders are
-- relative to DIR), so the same tune gives the same bytes with --jobs=1 and
-- --jobs=2; only its field "invocation" (the command line) differs.
--
-- Use (scripts/tune.lua): tune_report.write(out, o), o = {cfg, text, file,
-- command, variants, V (per variant: state, pairs), final, stopped, lpdm, train}.
local util = require("util")
local json = require("json")
local plot = require("plot")
local tr = require("tune_run")

local M = {}
local q, numstr = util.quote, tr.numstr

-- A copy of x that JSON can hold: tables copied (functions and
-- metatables dropped), -inf as null.
local function plain(x)
  if type(x) == "table" then
    local t = {}
    for k, v in pairs(x) do
      if type(v) ~= "function" then t[k] = plain(v) end
    end
    return t
  end
  if type(x) == "function" then return nil end
  return x
end
M.plain = plain

-- The trial record of variant v's trial id in the state, or nil.
function M.trial(V, v, id)
  for _, t in ipairs(V[v].state.trials or {}) do
    if t.id == id then
      local obj
      for r, o in pairs(t.rungs or {}) do
        if r == t.top_rung then obj = o end
      end
      if obj == -math.huge then obj = nil end
      return { id = id, objective = obj, top_rung = t.top_rung, config = t.config, status = t.status }
    end
  end
end

local function fmt(x)
  if x == nil then return "-" end
  if x == -math.huge then return "failed" end
  if math.type(x) == "integer" then return tostring(x) end
  return string.format(math.abs(x) < 10 and "%.3f" or "%.2f", x) -- normalised objectives are small
end

local function valstr(v)
  if type(v) == "number" then
    if math.type(v) == "integer" or (v == math.floor(v) and math.abs(v) < 1e15) then return numstr(v) end
    return string.format("%.4g", v)
  end
  return tostring(v)
end

-- The train.lua command line of a trial's configuration at the full budget
-- (one per env).
function M.command_lines(o, v, config)
  local cfg = o.cfg
  local lines = {}
  local steps = cfg.budget.steps
  local flags = tr.flag_words(tr.trial_flags(cfg, v, config))
  for _, e in ipairs(tr.envs(cfg)) do
    local words = { "build/lpdm", "scripts/train.lua", "--env=" .. e.id, "--algo=" .. cfg.algo, "--steps=" .. steps }
    for _, w in ipairs(flags) do words[#words + 1] = w:match("^[%w%-_./=,:+]+$") and w or q(w) end
    lines[#lines + 1] = table.concat(words, " ")
  end
  return lines
end

-- Sorted space keys of variant v.
local function space_keys(cfg, v)
  local keys = {}
  for i, d in ipairs(tr.dims(cfg, v)) do keys[i] = d.name end
  return keys
end

-- Per variant: the pairs by trial and rung, the budget used, the history.
local function digest(o, v)
  local by, used, hist = {}, { env_steps = 0, runs = 0 }, {}
  local best
  for _, p in ipairs(o.V[v].pairs) do
    by[p.trial] = by[p.trial] or {}
    by[p.trial][p.rung] = p
    for _, r in ipairs(p.runs) do
      used.env_steps = used.env_steps + (r.env_steps or 0)
      used.runs = used.runs + 1
    end
    if p.objective > -math.huge and (best == nil or p.objective > best) then best = p.objective end
    hist[#hist + 1] = { trial = p.trial, rung = p.rung, env_steps = used.env_steps, objective = p.objective,
      best = best }
  end
  -- runs of the batch this invocation stopped at, finished already
  return { by = by, used = used, history = hist }
end

local function run_record(r)
  return { dir = r.rel, env = r.env, seed = r.seed, steps = r.steps, status = r.status, final_avg20 = r.final_avg20,
    auc = r.auc, env_steps = r.env_steps, exit_code = r.exit_code, reason = r.reason,
    log_tail = r.status == "failed" and r.log_tail or nil }
end

-- The tune.json object.
function M.state(o)
  local cfg = o.cfg
  local res = {
    name = cfg.name, file = o.file, config = o.text, algo = cfg.algo, objective = cfg.objective,
    envs = plain(tr.envs(cfg)), seeds = tr.seeds(cfg), budget = plain(cfg.budget), scheduler = cfg.scheduler,
    sampler = cfg.sampler, seed = cfg.seed, rungs = plain(require("tune").rungs(cfg)),
    status = o.final and "finished" or "not finished", variants = {},
    invocation = { command = o.command }, -- differs between invocations; everything else does not
  }
  for _, v in ipairs(o.variants) do
    local st, d = o.V[v].state, digest(o, v)
    local trials = json.array()
    for _, t in ipairs(st.trials or {}) do
      local rungs = json.array()
      for rung = 0, t.top_rung or -1 do
        local p = d.by[t.id] and d.by[t.id][rung]
        if p then
          local runs = json.array()
          for _, r in ipairs(p.runs) do runs[#runs + 1] = run_record(r) end
          rungs[#rungs + 1] = { rung = rung, steps = p.steps, objective = p.objective > -math.huge and p.objective or nil,
            status = p.objective > -math.huge and "done" or "failed", runs = runs }
        else
          rungs[#rungs + 1] = { rung = rung, status = "pending" }
        end
      end
      local rec = M.trial(o.V, v, t.id)
      trials[#trials + 1] = { id = t.id, config = plain(t.config), status = t.status, top_rung = t.top_rung,
        objective = rec and rec.objective, rungs = rungs }
    end
    local best = tr.best_id(st) and M.trial(o.V, v, tr.best_id(st))
    local vv = tr.variant(cfg, v)
    res.variants[v] = {
      flags = plain(vv.flags or {}), space = plain(vv.dims or vv.space or {}), trials = trials,
      budget_used = d.used, budget_planned = plain(st.budget), history = json.array(plain(d.history)),
      best = best and { trial = best.id, objective = best.objective, rung = best.top_rung, config = plain(best.config),
        flags = tr.trial_flags(cfg, v, best.config), commands = M.command_lines(o, v, best.config) } or nil,
      finished = st.finished or false,
    }
  end
  return res
end

-- ---------------------------------------------------------------- plots

local HEAD = [[
# %s -- written by scripts/lib/tune_report.lua (docs/tuning.md, "The outputs").
# Remake: cd into this folder, then: gnuplot %s
set encoding utf8
set termoption noenhanced
set grid lc rgb '#dddddd'
set border lc rgb '#444444'
set key outside right top box opaque samplen 2
set terminal pngcairo size 900,540 font ',10' noenhanced
set output %s
set title %s
set xlabel %s
set ylabel %s
]]

local function gnuplot_file(pdir, name, title, xlabel, ylabel, settings, plotcmd)
  util.write_atomic(pdir .. "/" .. name .. ".gp", HEAD:format(name .. ".gp", name .. ".gp", plot.gstring(name .. ".png"),
    plot.gstring(title), plot.gstring(xlabel), plot.gstring(ylabel)) .. table.concat(settings, "\n") .. "\n"
    .. plotcmd .. "\nunset output\n")
end

-- Writes DIR/plots/tune_*.{dat,gp,png}; returns {images = {{name, png}}, errors, skipped}.
function M.plots(out, o, st)
  local pdir = out .. "/plots"
  local res = { images = {}, errors = {} }
  if util.mkdir_p(pdir) then
    res.skipped = "cannot create " .. pdir
    return res
  end
  local names = {}
  local cfg = o.cfg
  local ylabel = cfg.objective == "auc" and "objective (area under the curve)" or "objective (final 20-episode average)"
  if #tr.envs(cfg) > 1 then ylabel = ylabel .. ", normalised, mean over envs" end
  -- objective against each hyperparameter
  local keys, seen, kind = {}, {}, {}
  for _, v in ipairs(o.variants) do
    for _, d in ipairs(tr.dims(cfg, v)) do
      local k = d.name
      if not seen[k] then
        seen[k] = true
        keys[#keys + 1] = k
      end
      if kind[k] == nil or d.kind == "log_uniform" then kind[k] = d.kind end
    end
  end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local dat, parts, block = { "# " .. k .. ": one block per variant; columns: x value objective top_rung trial" }, {}, 0
    local labels, lindex = {}, {}
    local numeric = true
    for _, v in ipairs(o.variants) do
      for _, t in ipairs(st.variants[v].trials) do
        local x = t.config and t.config[k]
        if x ~= nil and type(x) ~= "number" then numeric = false end
      end
    end
    for vi, v in ipairs(o.variants) do
      local rows = {}
      for _, t in ipairs(st.variants[v].trials) do
        local x = t.config and t.config[k]
        if x ~= nil and t.objective ~= nil then
          local xv = x
          if not numeric then
            local s = tostring(x)
            if not lindex[s] then
              labels[#labels + 1] = s
              lindex[s] = #labels
            end
            xv = lindex[s]
          end
          rows[#rows + 1] = string.format("%s %s %d %d", numstr(xv), numstr(t.objective), t.top_rung or 0, t.id)
        end
      end
      if #rows > 0 then
        if block > 0 then dat[#dat + 1] = "\n" end
        dat[#dat + 1] = "# variant " .. v
        for _, r in ipairs(rows) do dat[#dat + 1] = r end
        parts[#parts + 1] = string.format("%s index %d using 1:2:(0.6+0.4*$3) with points pt 7 ps variable lc rgb %s title %s",
          plot.gstring("tune_" .. k .. ".dat"), block, plot.gstring(plot.colour(vi)), plot.gstring(v))
        block = block + 1
      end
    end
    if block > 0 then
      local name = "tune_" .. k
      util.write_atomic(pdir .. "/" .. name .. ".dat", table.concat(dat, "\n") .. "\n")
      local settings = {}
      if kind[k] == "log_uniform" and numeric then settings[#settings + 1] = "set logscale x" end
      if not numeric then
        local xt = {}
        for i, l in ipairs(labels) do xt[#xt + 1] = string.format("%s %d", plot.gstring(l), i) end
        settings[#settings + 1] = "set xtics (" .. table.concat(xt, ", ") .. ")"
        settings[#settings + 1] = string.format("set xrange [0.5:%s]", numstr(#labels + 0.5))
      else
        settings[#settings + 1] = "set offsets graph 0.03, graph 0.03, graph 0.05, graph 0.05"
      end
      gnuplot_file(pdir, name, string.format("Objective against %s (%s); a point per trial at its highest rung "
        .. "(bigger: higher rung)", k, kind[k]), k .. (kind[k] == "log_uniform" and " (log scale)" or ""), ylabel,
        settings, "plot " .. table.concat(parts, ", \\\n     "))
      names[#names + 1] = name
    end
  end
  -- best so far against the env steps spent
  local dat, parts, block = { "# one block per variant; columns: env_steps_spent best_objective_so_far" }, {}, 0
  for vi, v in ipairs(o.variants) do
    local rows = {}
    for _, h in ipairs(st.variants[v].history) do
      if h.best then rows[#rows + 1] = string.format("%s %s", numstr(h.env_steps), numstr(h.best)) end
    end
    if #rows > 0 then
      if block > 0 then dat[#dat + 1] = "\n" end
      dat[#dat + 1] = "# variant " .. v
      for _, r in ipairs(rows) do dat[#dat + 1] = r end
      parts[#parts + 1] = string.format("%s index %d using 1:2 with steps lw 2 lc rgb %s title %s",
        plot.gstring("tune_best_so_far.dat"), block, plot.gstring(plot.colour(vi)), plot.gstring(v))
      block = block + 1
    end
  end
  if block > 0 then
    util.write_atomic(pdir .. "/tune_best_so_far.dat", table.concat(dat, "\n") .. "\n")
    gnuplot_file(pdir, "tune_best_so_far", "Best objective so far (any rung) against the env steps spent, per variant",
      "env steps spent (all runs so far)", ylabel, { "set format x '%.0f'" }, "plot " .. table.concat(parts, ", \\\n     "))
    names[#names + 1] = "tune_best_so_far"
  end
  for _, name in ipairs(names) do os.remove(pdir .. "/" .. name .. ".png") end -- no stale images
  local gp, found = plot.gnuplot()
  if not found then
    res.skipped = string.format("gnuplot not found (%s; set LPDM_GNUPLOT or install gnuplot)", gp)
    return res
  end
  for _, name in ipairs(names) do
    local okx, how = os.execute("cd " .. q(pdir) .. " && " .. q(gp) .. " " .. q(name .. ".gp") .. " >/dev/null 2>"
      .. q(name .. ".err") .. " </dev/null")
    if how == "signal" then error("interrupted!", 0) end
    if okx and util.read_head(pdir .. "/" .. name .. ".png", 1) then
      os.remove(pdir .. "/" .. name .. ".err")
      res.images[#res.images + 1] = { name = name, png = "plots/" .. name .. ".png" }
    else
      res.errors[#res.errors + 1] = { name = name, message = (util.read(pdir .. "/" .. name .. ".err") or "failed"):gsub("%s+$", "") }
    end
  end
  return res
end

-- ---------------------------------------------------------------- report.md

local function md(s) return (tostring(s):gsub("|", "\\|"):gsub("\n", " ")) end

function M.report(out, o, st)
  local cfg = o.cfg
  local L = {}
  local function w(s) L[#L + 1] = s or "" end
  w("# Tune report" .. (cfg.name and (": " .. cfg.name) or ""))
  w()
  w("Command:")
  w()
  w("```sh")
  w(o.command)
  w("```")
  w()
  if not o.final then
    w("**Not finished**: this report was written while the tune goes on (or after it stopped); run the")
    w("command again to continue.")
    w()
  end
  local rs = {}
  for _, r in ipairs(st.rungs) do rs[#rs + 1] = numstr(r.steps) end
  local envs = {}
  for _, e in ipairs(st.envs) do
    envs[#envs + 1] = e.id .. (e.score and string.format(" (score %s..%s)", numstr(e.score.lo or e.score[1]),
      numstr(e.score.hi or e.score[2])) or "")
  end
  local seeds = {}
  for i, s in ipairs(st.seeds) do seeds[i] = tostring(s) end
  w(string.format("Algorithm %s on %s; objective: %s%s; %d trials per variant, rungs of %s env steps, seeds %s"
    .. " (every trial, every variant); scheduler %s, sampler %s, seed %s.", cfg.algo, table.concat(envs, ", "),
    cfg.objective == "auc" and "the area under the curve (mean return over all episodes)"
    or "the final 20-episode average return", #envs > 1 and ", normalised per env, mean over envs" or "",
    cfg.budget.trials, table.concat(rs, " / "), table.concat(seeds, ", "), tostring(cfg.scheduler or "asha"),
    tostring(cfg.sampler or "random"), tostring(cfg.seed or 0)))
  w()
  w("## Budget used")
  w()
  w("Every variant had the same trials, rungs and seeds. The runs and env steps each used (summed over")
  w("every run, from each run's summary.json) differ only where a trial failed (it is not promoted) and")
  w("where an algorithm ends a run at an episode's or a batch's end rather than at the exact budget.")
  w()
  w("| | " .. table.concat(o.variants, " | ") .. " |")
  w("|---|" .. string.rep("---|", #o.variants))
  local function row(name, f)
    local c = { name }
    for _, v in ipairs(o.variants) do c[#c + 1] = f(st.variants[v]) end
    w("| " .. table.concat(c, " | ") .. " |")
  end
  row("trials", function() return tostring(cfg.budget.trials) end)
  row("runs", function(s) return tostring(s.budget_used.runs) end)
  row("env steps", function(s) return numstr(s.budget_used.env_steps) end)
  row("best objective", function(s) return s.best and fmt(s.best.objective) or "-" end)
  w()
  local pok, plots = pcall(M.plots, out, o, st)
  if not pok and tostring(plots):find("interrupted!", 1, true) then error(plots, 0) end
  for _, v in ipairs(o.variants) do
    local s = st.variants[v]
    w("## " .. v)
    w()
    if s.best then
      w(string.format("Best: trial %d, objective %s at rung %d. Its configuration at the full budget:", s.best.trial,
        fmt(s.best.objective), s.best.rung))
      w()
      w("```sh")
      for _, l in ipairs(s.best.commands) do w(l) end
      w("```")
    else
      w("No best trial yet.")
    end
    w()
    local keys = space_keys(cfg, v)
    local ranked = {}
    for _, t in ipairs(s.trials) do ranked[#ranked + 1] = t end
    table.sort(ranked, function(a, b)
      local ra, rb = a.objective and a.top_rung or -1, b.objective and b.top_rung or -1
      if ra ~= rb then return ra > rb end
      local oa, ob = a.objective or -math.huge, b.objective or -math.huge
      if oa ~= ob then return oa > ob end
      return a.id < b.id
    end)
    local head = "| trial | status | rung | objective | " .. table.concat(keys, " | ") .. " |"
    local rule = "|---|---|---|---|" .. string.rep("---|", #keys)
    local function trow(t)
      local c = { tostring(t.id), t.status or "-", tostring(t.top_rung or "-"), fmt(t.objective) }
      for _, k in ipairs(keys) do c[#c + 1] = t.config and t.config[k] ~= nil and md(valstr(t.config[k])) or "-" end
      w("| " .. table.concat(c, " | ") .. " |")
    end
    w("Top trials (highest rung first, then objective):")
    w()
    w(head)
    w(rule)
    for i = 1, math.min(5, #ranked) do trow(ranked[i]) end
    w()
    w("<details><summary>Every trial, with its objective at each rung</summary>")
    w()
    local rh = {}
    for _, r in ipairs(st.rungs) do rh[#rh + 1] = string.format("rung %d (%s)", r.rung, numstr(r.steps)) end
    w("| trial | status | " .. table.concat(rh, " | ") .. " | " .. table.concat(keys, " | ") .. " |")
    w("|---|---|" .. string.rep("---|", #rh + #keys))
    for _, t in ipairs(s.trials) do
      local c = { tostring(t.id), t.status or "-" }
      for i = 1, #st.rungs do
        local r = t.rungs[i]
        c[#c + 1] = r and (r.status == "done" and fmt(r.objective) or r.status) or ""
      end
      for _, k in ipairs(keys) do c[#c + 1] = t.config and t.config[k] ~= nil and md(valstr(t.config[k])) or "-" end
      w("| " .. table.concat(c, " | ") .. " |")
    end
    w()
    w("</details>")
    w()
    local failed = {}
    for _, t in ipairs(s.trials) do
      for _, r in ipairs(t.rungs) do
        for _, run in ipairs(r.runs or {}) do
          if run.status == "failed" then failed[#failed + 1] = { t = t, run = run } end
        end
      end
    end
    if #failed > 0 then
      w("Failed runs (not run again: a failure of a configuration is kept as its result):")
      w()
      for _, f in ipairs(failed) do
        w(string.format("- trial %d, %s (exit code %s): %s", f.t.id, f.run.dir, tostring(f.run.exit_code or "-"),
          md(f.run.reason or "")))
        w()
        w("  ```")
        for line in (f.run.log_tail or ""):gmatch("[^\n]+") do w("  " .. line) end
        w("  ```")
        w()
      end
    end
  end
  w("## Plots")
  w()
  if not pok then
    w("Plots failed: " .. md(plots))
  else
    if plots.skipped then w("Plots skipped: " .. plots.skipped .. "; the data and gnuplot scripts are in plots/.") end
    for _, img in ipairs(plots.images) do
      w(string.format("![%s](%s)", img.name, img.png))
      w()
    end
    for _, e in ipairs(plots.errors) do
      w(string.format("Plot %s failed: gnuplot said: %s", e.name, md(e.message)))
      w()
    end
  end
  w()
  util.write_atomic(out .. "/report.md", table.concat(L, "\n"))
end

-- Writes tune.json, and report.md with the plots when o.final or asked.
function M.write(out, o)
  local st = M.state(o)
  util.write_atomic(out .. "/tune.json", json.encode(st) .. "\n")
  M.report(out, o, st)
end

return M
