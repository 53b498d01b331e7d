-- SPDX-License-Identifier: MIT
-- sweep.lua -- the module behind scripts/sweep.lua: a sweep of train.lua runs
-- (envs x algos x variants x seeds) as separate processes, N at a time,
-- resumable, summarised in DIR/sweep.json and DIR/report.md.
--
-- How it works: check(config) validates a config table and returns it
-- normalised; plan(cfg, out) lists the runs, each with its folder
-- DIR/runs/<env>/<algo>/<variant>/s<seed> and its train.lua arguments;
-- execute(...) starts the runs that are not done, through the shell, in the
-- background, and polls for their exit-code files; collect(run) reads a
-- finished run's folder back; report(...) writes report.md with the
-- statistics of lpdm.stats (docs/statistics.md) and the plots of plot.lua
-- (gnuplot; DIR/plots). docs/sweeps.md is the user's guide.
--
-- Use:
--   local sweep = require("sweep")            -- scripts/lib on package.path
--   local cfg = sweep.load("my_sweep.lua")     -- errors name the fault
--   local runs = sweep.plan(cfg, "out/dir")
local lpdm = require("lpdm")
local plot = require("plot")
local sweep_eval = require("sweep_eval")

local M = {}

local LOG_TAIL_LINES = 10
local LOG_TAIL_CHARS = 2000
local RESAMPLES = 2000
local BOOT_SEED = 0
local POLL = "sleep 0.2"

-- ---------------------------------------------------------------- helpers

local util = require("util")
local q, read, write_atomic = util.quote, util.read, util.write_atomic
M.quote, M.read, M.write_atomic = q, read, write_atomic

local function sh(cmd)
  local ok, how, code = os.execute(cmd)
  if how == "signal" then error("interrupted!", 0) end
  return ok, code
end

-- Waits by running `cmd` (a sleep) through io.popen, not os.execute: while
-- system() waits it ignores SIGINT in the caller, so a SIGINT sent to the
-- sweep's process alone (not its whole group, as Ctrl-C does) would be
-- lost. Here it interrupts the sweep once the sleep ends.
function M.pause(cmd)
  local p = io.popen(cmd)
  if p then p:close() end
end

local function mkdir_p(dir)
  if not sh("mkdir -p " .. q(dir)) then error("cannot create the directory '" .. dir .. "'", 0) end
end

local numstr = util.numstr

-- ---------------------------------------------------------------- JSON
local json = require("json")
M.json = json


-- ---------------------------------------------------------------- config

-- Flags a variant (or env, or the common flags) may not set: the sweep
-- sets them per run.
local RESERVED = { env = true, algo = true, seed = true, steps = true, total_timesteps = true, out = true,
  quiet = true, resume = true, list = true, help = true }

local TOP_KEYS = { name = true, steps = true, envs = true, algos = true, variants = true, seeds = true, flags = true,
  eval = true, tune = true }
local ENV_KEYS = { name = true, steps = true, threshold = true, flags = true }
local VARIANT_KEYS = { name = true, flags = true, algos = true }

local check_keys = util.check_keys

local function check_list(t, where)
  if type(t) ~= "table" then error(string.format("%s must be a list, got %s", where, type(t)), 0) end
  local n = #t
  if n == 0 then error(string.format("%s is empty (need at least one entry)", where), 0) end
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 or k > n then
      error(string.format("%s must be a list (1, 2, ...), has key '%s'", where, tostring(k)), 0)
    end
  end
end

local function check_name(s, where)
  if type(s) ~= "string" or s == "" then
    error(string.format("%s needs a name (a non-empty string), got %s", where, type(s) == "string" and "''" or type(s)), 0)
  end
  if not s:match("^[%w_.%-]+$") or s == "." or s == ".." then
    error(string.format("%s: name '%s' must be letters, digits, '_', '-' or '.' (it names a folder)", where, s), 0)
  end
end

local function check_steps(v, where)
  if math.type(v) ~= "integer" and not (type(v) == "number" and v == math.floor(v)) or v < 1 then
    error(string.format("%s must be an integer >= 1, got %s", where, tostring(v)), 0)
  end
  return math.tointeger(v)
end

-- Returns the flags table normalised: keys with '_' (dashes accepted),
-- values strings (booleans: true -> a switch, false -> 'false').
local function check_flags(t, where)
  if t == nil then return {} end
  if type(t) ~= "table" then error(string.format("%s must be a table of train.lua flags, got %s", where, type(t)), 0) end
  local out = {}
  for k, v in pairs(t) do
    if type(k) ~= "string" or not k:match("^[%a][%w_%-]*$") then
      error(string.format("%s: bad flag name '%s'", where, tostring(k)), 0)
    end
    local key = k:gsub("%-", "_")
    if RESERVED[key] then
      error(string.format("%s: flag '%s' is set by the sweep (use the config's envs, algos, seeds, steps)", where, k), 0)
    end
    local tv = type(v)
    if tv == "number" then v = numstr(v)
    elseif tv == "boolean" then v = v and true or "false"
    elseif tv ~= "string" then
      error(string.format("%s.%s must be a string, number or boolean, got %s", where, k, tv), 0)
    end
    out[key] = v
  end
  return out
end

-- Validates a config table (a key tune = "DIR" first becomes variants,
-- and default algos and envs: scripts/lib/tune_best.lua); returns a normalised copy:
-- {name, envs = {{name, steps, threshold, flags}}, algos = {...},
--  variants = {{name, flags, algos (a set, or nil: every algo)}}, seeds = {...}, flags = {...}}.
function M.check(c)
  if type(c) ~= "table" then error(string.format("the config must be a table, got %s", type(c)), 0) end
  check_keys(c, TOP_KEYS, "config")
  -- tune = "DIR": a tune's best configurations become the variants (scripts/lib/tune_best.lua)
  if c.tune ~= nil then c = require("tune_best").expand(c) end
  local cfg = { name = c.name, flags = check_flags(c.flags, "flags"), eval = sweep_eval.check(c.eval) }
  if c.name ~= nil and type(c.name) ~= "string" then error("config.name must be a string, got " .. type(c.name), 0) end
  local steps = c.steps ~= nil and check_steps(c.steps, "steps") or nil

  if c.envs == nil then error("config: envs is missing (a list of env ids or {name=, steps=, threshold=})", 0) end
  check_list(c.envs, "envs")
  cfg.envs = {}
  local seen = {}
  for i, e in ipairs(c.envs) do
    local where = string.format("envs[%d]", i)
    if type(e) == "string" then e = { name = e } end
    if type(e) ~= "table" then error(string.format("%s must be an env id or a table, got %s", where, type(e)), 0) end
    check_keys(e, ENV_KEYS, where)
    check_name(e.name, where)
    where = string.format("envs[%d] (%s)", i, e.name)
    if seen[e.name] then error(string.format("%s: env '%s' listed twice", where, e.name), 0) end
    seen[e.name] = true
    local es = e.steps ~= nil and check_steps(e.steps, where .. ".steps") or steps
    if not es then error(string.format("%s: no steps budget (give steps in the env or at the top)", where), 0) end
    if e.threshold ~= nil and (type(e.threshold) ~= "number" or e.threshold ~= e.threshold
        or math.abs(e.threshold) == math.huge) then
      error(string.format("%s.threshold must be a finite number, got %s", where, tostring(e.threshold)), 0)
    end
    cfg.envs[i] = { name = e.name, steps = es, threshold = e.threshold, flags = check_flags(e.flags, where .. ".flags") }
  end

  if c.algos == nil then error("config: algos is missing (a list of algorithm names)", 0) end
  check_list(c.algos, "algos")
  cfg.algos = {}
  seen = {}
  for i, a in ipairs(c.algos) do
    check_name(a, string.format("algos[%d]", i))
    if seen[a] then error(string.format("algos[%d]: algo '%s' listed twice", i, a), 0) end
    seen[a] = true
    cfg.algos[i] = a
  end
  local seen_algo = seen

  if c.variants == nil then error("config: variants is missing (a list of {name=, flags={...}})", 0) end
  check_list(c.variants, "variants")
  cfg.variants = {}
  seen = {}
  for i, v in ipairs(c.variants) do
    local where = string.format("variants[%d]", i)
    if type(v) ~= "table" then error(string.format("%s must be a table {name=, flags=}, got %s", where, type(v)), 0) end
    check_keys(v, VARIANT_KEYS, where)
    if v.name == nil then error(string.format("%s has no name (variants are {name = '...', flags = {...}})", where), 0) end
    check_name(v.name, where)
    where = string.format("variants[%d] (%s)", i, v.name)
    if seen[v.name] then error(string.format("%s: variant '%s' listed twice", where, v.name), 0) end
    seen[v.name] = true
    cfg.variants[i] = { name = v.name, flags = check_flags(v.flags, where .. ".flags") }
    if v.algos ~= nil then -- a variant of some algorithms only (e.g. an algorithm's own default)
      check_list(v.algos, where .. ".algos")
      local set = {}
      for j, a in ipairs(v.algos) do
        if not seen_algo[a] then
          error(string.format("%s.algos[%d]: '%s' is not one of the config's algos (%s)", where, j, tostring(a),
            table.concat(cfg.algos, ", ")), 0)
        end
        set[a] = true
      end
      cfg.variants[i].algos = set
    end
  end

  if c.seeds == nil then error("config: seeds is missing (a list of integers >= 0)", 0) end
  check_list(c.seeds, "seeds")
  cfg.seeds = {}
  seen = {}
  for i, s in ipairs(c.seeds) do
    local si = math.tointeger(s)
    if type(s) ~= "number" or not si or si < 0 then
      error(string.format("seeds[%d] must be an integer >= 0, got %s", i, tostring(s)), 0)
    end
    if seen[si] then error(string.format("seeds[%d]: seed %d listed twice", i, si), 0) end
    seen[si] = true
    cfg.seeds[i] = si
  end
  return cfg
end

-- Loads a config file (a Lua chunk returning the table) and checks it.
-- Returns the config and the file's text.
function M.load(path)
  local text = read(path)
  if not text then error(string.format("cannot read the config '%s'", path), 0) end
  local chunk, err = load(text, "@" .. path, "t", setmetatable({}, { __index = _G }))
  if not chunk then error(string.format("config %s: %s", path, err), 0) end
  local ok, res = pcall(chunk)
  if not ok then error(string.format("config %s: %s", path, tostring(res)), 0) end
  local okc, cfg = pcall(M.check, res)
  if not okc then error(string.format("config %s: %s", path, tostring(cfg)), 0) end
  return cfg, text
end

-- ---------------------------------------------------------------- plan

local function flag_args(flags)
  local keys = {}
  for k in pairs(flags) do keys[#keys + 1] = k end
  table.sort(keys)
  local out = {}
  for _, k in ipairs(keys) do
    local v = flags[k]
    local name = "--" .. k:gsub("_", "-")
    out[#out + 1] = v == true and name or name .. "=" .. v
  end
  return out
end

-- Whether variant v runs with algorithm a (a variant's algos, when given,
-- lists the algorithms it is for).
function M.applies(v, a) return v.algos == nil or v.algos[a] == true end

-- Lists the runs in order env, algo, variant, seed (a variant only with the
-- algorithms it applies to). Each run:
-- {env, algo, variant, seed, steps, threshold, rel (folder under out),
--  dir, args (train.lua arguments after the script)}. steps_override, if
-- given, replaces every env's budget.
function M.plan(cfg, out, steps_override)
  local runs = {}
  for _, e in ipairs(cfg.envs) do
    for _, a in ipairs(cfg.algos) do
      for _, v in ipairs(cfg.variants) do
        if not M.applies(v, a) then goto next_variant end
        for _, s in ipairs(cfg.seeds) do
          local rel = string.format("runs/%s/%s/%s/s%d", e.name, a, v.name, s)
          local steps = steps_override or e.steps
          local args = { "--env=" .. e.name, "--algo=" .. a, "--seed=" .. s, "--steps=" .. steps }
          local flags = {}
          for k, x in pairs(cfg.flags) do flags[k] = x end
          for k, x in pairs(e.flags) do flags[k] = x end
          for k, x in pairs(v.flags) do flags[k] = x end
          if e.threshold ~= nil then flags.threshold = numstr(e.threshold) end
          for _, f in ipairs(flag_args(flags)) do args[#args + 1] = f end
          args[#args + 1] = "--out=" .. out .. "/" .. rel
          args[#args + 1] = "--quiet"
          runs[#runs + 1] = { env = e.name, algo = a, variant = v.name, seed = s, steps = steps,
            threshold = e.threshold, rel = rel, dir = out .. "/" .. rel, args = args, eval = cfg.eval }
        end
        ::next_variant::
      end
    end
  end
  return runs
end

-- ---------------------------------------------------------------- one run

-- The run's summary.json decoded, or nil and why.
local function summary(dir)
  local text = read(dir .. "/summary.json")
  if not text then return nil, "no summary.json" end
  local s, err = json.decode(text)
  if type(s) ~= "table" then return nil, "summary.json is not valid JSON: " .. tostring(err) end
  return s
end

-- True when the run's folder holds summary.json with status "done": it is
-- not run again.
-- True when its training is done (its evaluation may not be).
function M.train_done(run)
  local s = summary(run.dir)
  return s ~= nil and s.status == "done"
end

function M.is_done(run)
  local s = summary(run.dir)
  return s ~= nil and s.status == "done" and (not run.eval or sweep_eval.read(run.eval, run.dir) ~= nil)
end

local function log_tail(dir)
  local text = read(dir .. "/run.log")
  if not text then return "" end
  local lines = {}
  for l in text:gmatch("[^\n]+") do lines[#lines + 1] = l end
  local t = table.concat(lines, "\n", math.max(1, #lines - LOG_TAIL_LINES + 1))
  if #t > LOG_TAIL_CHARS then t = "..." .. t:sub(-LOG_TAIL_CHARS) end
  return t
end

-- Reads a finished (or previously done) run's folder into run:
-- status ("done" or "failed"), reason, exit_code, log_tail, and for done
-- runs the per-run statistics (lpdm.stats.run on progress.csv): final,
-- auc, steps_to_threshold, mean_drop, collapses, episodes, threshold,
-- final_length (the mean episode length over the episodes of the final
-- return: the last r.final_n), and for the plots curve_steps (each
-- episode's end step) and smoothed (the 20-episode moving average).
function M.collect(run)
  local code = read(run.dir .. "/exit_code")
  run.exit_code = code and math.tointeger(tonumber(code:match("%-?%d+"))) or nil
  run.log_tail = log_tail(run.dir)
  local function failed(reason)
    run.status, run.reason = "failed", reason
    return run
  end
  if run.exit_code ~= nil and run.exit_code ~= 0 then
    local last = run.log_tail:match("([^\n]+)$")
    return failed("exit code " .. run.exit_code .. (last and (": " .. last) or ""))
  end
  local s, err = summary(run.dir)
  if not s then return failed(err) end
  if s.status ~= "done" then return failed("summary.json status is " .. tostring(s.status)) end
  if type(s.final_avg20) ~= "number" or s.final_avg20 ~= s.final_avg20 then
    return failed("final_avg20 is not a number (NaN or missing)")
  end
  local pr, perr = util.read_progress(run.dir .. "/progress.csv")
  if not pr then return failed(perr) end
  local steps, rets, lens = pr.steps, pr.returns, pr.lengths
  local thr = run.threshold
  if thr == nil and type(s.threshold) == "number" then thr = s.threshold end
  local ok, r = pcall(lpdm.stats.run, { steps = steps, returns = rets, threshold = thr })
  if not ok then return failed("progress.csv: " .. tostring(r)) end
  run.status, run.reason = "done", nil
  run.threshold_used = thr
  run.final, run.auc, run.steps_to_threshold = r.final, r.auc, r.steps_to_threshold
  run.mean_drop, run.collapses, run.episodes = r.mean_drop, r.collapses, r.n
  run.final_avg20 = s.final_avg20
  local k, sum = r.final_n, 0 -- the episodes of r.final
  for i = #lens - k + 1, #lens do sum = sum + lens[i] end
  run.final_length = sum / k
  run.curve_steps, run.smoothed = steps, r.smoothed
  if run.eval then -- the sweep asked for an evaluation of every run
    local ev, why = sweep_eval.read(run.eval, run.dir)
    if not ev then return failed(why) end
    run.eval_mean_return, run.eval_std_return = ev.mean_return, ev.std_return
  end
  return run
end

-- ---------------------------------------------------------------- execute

local function fmt_time(sec)
  sec = math.floor(sec + 0.5)
  if sec >= 3600 then return string.format("%d:%02d:%02d", sec // 3600, sec // 60 % 60, sec % 60) end
  return string.format("%d:%02d", sec // 60, sec % 60)
end

-- Starts one run in the background: train.lua's output goes to run.log,
-- its pid to pid, its exit status to exit_code (written last, atomically).
-- With one_thread (several runs share the machine: --jobs > 1, or MPI
-- ranks) LPDM_THREADS=1 keeps PPO's threads = 0 (auto) at one thread per
-- run, unless the caller's environment sets LPDM_THREADS; results do not
-- depend on it.
local function start(run, lpdm_bin, train, one_thread)
  -- with an evaluation (run.eval), the job is train.lua && eval.lua; a run
  -- whose training is done already gets the evaluation alone
  local s = run.eval and summary(run.dir)
  local eval_only = s and s.status == "done"
  if eval_only then sh("rm -f " .. q(run.dir .. "/exit_code") .. " " .. q(run.dir .. "/pid")) else sh("rm -rf " .. q(run.dir)) end
  mkdir_p(run.dir)
  local env = "OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} " .. (one_thread and "LPDM_THREADS=${LPDM_THREADS:-1} " or "")
  local function command(script, args)
    local parts = { q(lpdm_bin), q(script) }
    for _, a in ipairs(args) do parts[#parts + 1] = q(a) end
    return env .. table.concat(parts, " ")
  end
  local cmd = command(train, run.args)
  if run.eval then
    local ev = command((train:gsub("train%.lua$", "eval.lua")), sweep_eval.args(run.eval, run.dir))
    -- one process to stop by pid: a shell that passes a TERM on to the stage running
    cmd = eval_only and ev or ("sh -c " .. q("trap 'kill $c 2>/dev/null; exit 143' TERM INT; " .. cmd
      .. " & c=$!; wait $c || exit $?; " .. ev .. " & c=$!; wait $c"))
  end
  local d = q(run.dir)
  local script = string.format(
    "%s >> %s/run.log 2>&1 </dev/null & echo $! > %s/pid; wait $!; echo $? > %s/exit_code.tmp; mv %s/exit_code.tmp %s/exit_code",
    cmd, d, d, d, d, d)
  if not sh("sh -c " .. q(script) .. " >/dev/null 2>&1 </dev/null &") then
    error("cannot start the run in " .. run.dir, 0)
  end
end

local function finished(run) return read(run.dir .. "/exit_code") ~= nil end

-- Runs every run of `todo` (N at a time), calling on_finish(run) as each
-- ends (after collect). progress(state) is called after every poll and
-- every finished run with {done, failed, running, total, rate, eta}.
-- On an interruption the running runs are stopped (by pid) and the error
-- is raised again after on_abort(running).
-- Under MPI (scripts/lib/mpi_sweep.lua) two optional hooks: claim(run)
-- before a run starts, false when another rank took it (it is skipped and
-- leaves the total); heartbeat(running) on every pass of the poll loop.
function M.execute(todo, opts)
  local jobs, lpdm_bin, train = opts.jobs, opts.lpdm, opts.train
  local running, next_i = {}, 1
  local done, failed, elsewhere = 0, 0, 0
  local t0 = os.time()
  local function state(event_run)
    local finished_n = done + failed
    local el = os.difftime(os.time(), t0)
    local rate = el >= 1 and finished_n / (el / 60) or nil
    local left = #todo - elsewhere - finished_n
    local eta = (rate and rate > 0) and left / rate * 60 or nil
    return { done = done, failed = failed, running = #running, total = #todo - elsewhere, rate = rate, eta = eta,
      run = event_run, elapsed = el }
  end
  local ok, err = pcall(function()
    while next_i <= #todo or #running > 0 do
      while #running < jobs and next_i <= #todo do
        local r = todo[next_i]
        next_i = next_i + 1
        if opts.claim and not opts.claim(r) then
          elsewhere = elsewhere + 1
        else
          start(r, lpdm_bin, train, jobs > 1 or opts.claim ~= nil)
          running[#running + 1] = r
        end
      end
      if opts.heartbeat then opts.heartbeat(running) end
      local any = false
      for i = #running, 1, -1 do
        local r = running[i]
        if finished(r) then
          table.remove(running, i)
          M.collect(r)
          if r.status == "done" then done = done + 1 else failed = failed + 1 end
          any = true
          if opts.on_finish then opts.on_finish(r, state(r)) end
        end
      end
      if not any then
        if opts.progress then opts.progress(state()) end
        M.pause(POLL)
      end
    end
  end)
  if not ok then
    for _, r in ipairs(running) do
      local pid = read(r.dir .. "/pid")
      pid = pid and pid:match("%d+")
      if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
      r.status, r.reason = "failed", "interrupted (stopped by the sweep)"
    end
    if opts.on_abort then opts.on_abort(running) end
    error(err, 0)
  end
  return done, failed
end

M.fmt_time = fmt_time

-- The progress line: "done/total, failed, running, rate, ETA".
function M.progress_line(st, skipped)
  return string.format("%d/%d done, %d failed, %d running, %s runs/min, ETA %s%s",
    st.done, st.total, st.failed, st.running,
    st.rate and string.format("%.1f", st.rate) or "-",
    st.eta and fmt_time(st.eta) or "-",
    skipped > 0 and string.format(" (%d already done)", skipped) or "")
end

-- ---------------------------------------------------------------- sweep.json

-- The record of a run in sweep.json.
function M.run_record(r)
  return {
    env = r.env, algo = r.algo, variant = r.variant, seed = r.seed, dir = r.rel, steps = r.steps,
    status = r.status or "pending", reason = r.reason, exit_code = r.exit_code, log_tail = r.log_tail,
    ran = r.ran or false, final = r.final, final_avg20 = r.final_avg20, auc = r.auc,
    final_length = r.final_length,
    steps_to_threshold = r.steps_to_threshold, mean_drop = r.mean_drop, collapses = r.collapses,
    episodes = r.episodes, eval_mean_return = r.eval_mean_return, eval_std_return = r.eval_std_return,
  }
end

-- How many runs are done, failed, and not run (pending).
function M.counts(runs)
  local nd, nf = 0, 0
  for _, r in ipairs(runs) do
    if r.status == "done" then nd = nd + 1 elseif r.status == "failed" then nf = nf + 1 end
  end
  return nd, nf, #runs - nd - nf
end

-- ---------------------------------------------------------------- report

local function fmt(x, d)
  if x == nil or x ~= x then return "-" end
  return string.format("%." .. (d or 1) .. "f", x)
end

-- The median: lpdm.stats.quantile(x, 0.5) (docs/statistics.md).
local function median(x) return require("lpdm").stats.quantile(x, 0.5) end

-- Writes report.md and the plots (plot.make, in the folder of path). runs:
-- every planned run, collected; cfg: the checked config; command: the exact
-- command line; config_text: the config file. A failure to plot is reported
-- in report.md, never raised.
function M.report(path, runs, cfg, command, config_text)
  local dir = path:match("^(.*)/[^/]*$") or "."
  local pok, plots = pcall(plot.make, dir, runs, cfg)
  if not pok and tostring(plots):find("interrupted!", 1, true) then error(plots, 0) end
  local L = {}
  local function w(s) L[#L + 1] = s or "" end
  w("# Sweep report" .. (cfg.name and (": " .. cfg.name) or ""))
  w()
  w("Command:")
  w()
  w("```sh")
  w(command)
  w("```")
  w()
  w("Config:")
  w()
  w("```lua")
  w((config_text:gsub("\n+$", "")))
  w("```")
  w()
  local n_done, n_failed, n_pending = M.counts(runs)
  w(string.format("Runs: %d, done %d, failed %d.", #runs, n_done, n_failed))
  if n_pending > 0 then
    w()
    w(string.format("**Not finished: %d runs have not run yet** (a report written with --report-only while the", n_pending))
    w("sweep goes on). The statistics below are over the done runs only.")
  end
  w()
  w("Per run, the final return is the mean of the last 10% of its episodes' returns, and steps to")
  w("threshold the first step where the 20-episode average reaches the threshold (lpdm.stats.run on")
  w("progress.csv; docs/statistics.md). Across the done runs of a variant: mean, sd, IQR and IQM of")
  w(string.format("the final returns; the IQM's 95%% CI is a stratified bootstrap (%d resamples, seed %d);",
    RESAMPLES, BOOT_SEED))
  w("AUC: the mean over runs of the area under the learning curve (a run's mean return over all its")
  w("episodes); length: the mean over runs of the mean episode length over the episodes of the final return")
  w("(where an env ends episodes early and pays a bonus per step, a longer episode alone can raise the")
  w("return); stuck: fraction of runs whose final return is below the threshold; drop: mean over runs of the")
  w("mean drop below the running best of the smoothed curve; collapses: total over runs;")
  w("P(> base): probability that the variant's final return beats the base's (the first variant that")
  w("runs the algo; same env), with its 95% bootstrap CI.")
  w()
  if not pok then
    w("Plots failed: " .. (tostring(plots):gsub("\n", " ")))
  elseif plots.skipped then
    w("Plots skipped: " .. plots.skipped .. "; the data and gnuplot scripts are in plots/.")
  else
    w(string.format("Plots (gnuplot, PNG and SVG in plots/): learning curves, the mean over the done seeds of the"))
    w(string.format("20-episode moving average on a grid of %d points from 0 to the budget (a run counts from its", plot.GRID + 1))
    w("first episode's end, its last value carried forward), band mean +- 1.96 standard errors; final")
    w("returns, a box plot per variant with one point per seed. Failed runs are left out, counted in")
    w("the legends.")
  end
  w()
  local boot = { resamples = RESAMPLES, seed = BOOT_SEED, level = 0.95 }
  local cells = M.cells(cfg, runs, boot)
  M.overview(w, cfg, cells)
  M.across_envs(w, cfg, cells, boot)
  for _, e in ipairs(cfg.envs) do
    w("## " .. e.name)
    w()
    for _, a in ipairs(cfg.algos) do
      local ea = cells[e.name][a]
      w(string.format("### %s (threshold %s)", a, ea.thr and numstr(ea.thr) or "none"))
      w()
      w("| variant | runs (done/failed) | mean | sd | IQR | IQM [95% CI] | AUC | length | stuck | steps to threshold (median, reached) | drop | collapses | P(> base) [95% CI] |")
      w("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
      for vi, name in ipairs(ea.variants) do
        local c = ea.by[name]
        local row
        if c.nd == 0 then
          row = { name, string.format("%d/%d", c.nd, c.nf), "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-" }
        else
          local ac = c.across
          local iqm, lo, hi = lpdm.stats.iqm_ci(c.finals, boot)
          local p = vi == 1 and "(base)" or c.p and string.format("%.2f [%.2f, %.2f]", c.p, c.p_lo, c.p_hi) or "-"
          row = { name, string.format("%d/%d", c.nd, c.nf), fmt(ac.mean), fmt(ac.sd), fmt(ac.iqr),
            string.format("%s [%s, %s]", fmt(iqm), fmt(lo), fmt(hi)),
            #c.aucs == c.nd and fmt(lpdm.stats.across(c.aucs).mean) or "-",
            fmt(lpdm.stats.across(c.lens).mean),
            ac.stuck and fmt(ac.stuck, 2) or "-",
            string.format("%s (%d/%d)", #c.reach > 0 and numstr(median(c.reach)) or "-", #c.reach, c.nd),
            fmt(c.drop), tostring(c.coll), p }
        end
        w("| " .. table.concat(row, " | ") .. " |")
      end
      w()
      if cfg.eval then sweep_eval.report(w, cfg, runs, e.name, a, M.applies, fmt, boot) end
      M.per_seed(w, cfg, runs, e.name, a)
      local p = pok and plots.plots[e.name] and plots.plots[e.name][a]
      if p then
        if p.note and not plots.skipped then
          w("(" .. p.note .. ")")
          w()
        end
        for _, img in ipairs(p.images) do
          w(string.format("![%s](%s)", img.name, img.png))
          w()
        end
        for _, er in ipairs(p.errors) do
          w(string.format("Plot %s failed: gnuplot said: %s", er.name, (er.message:gsub("\n", " / "))))
          w()
        end
      end
    end
  end
  w("## Failed runs")
  w()
  if n_failed == 0 then
    w("None.")
  else
    w("| folder | exit code | reason |")
    w("|---|---|---|")
    for _, r in ipairs(runs) do
      if r.status == "failed" then
        w(string.format("| %s | %s | %s |", r.rel, r.exit_code and tostring(r.exit_code) or "-",
          (tostring(r.reason or "not run"):gsub("|", "\\|"):gsub("\n", " "))))
      end
    end
    w()
    w("A failed run is run again by the next invocation of the sweep (its log: <folder>/run.log).")
  end
  w()
  write_atomic(path, table.concat(L, "\n"))
end

-- Under each env and algo's table: every run's final return, a row per
-- seed and a column per variant, folded (<details>) so the report stays
-- readable. "failed" for a failed run, "-" for none.
function M.per_seed(w, cfg, runs, env, algo)
  local vs, seeds, seen, at = {}, {}, {}, {}
  for _, v in ipairs(cfg.variants) do
    if M.applies(v, algo) then vs[#vs + 1] = v.name end
  end
  for _, r in ipairs(runs) do
    if r.env == env and r.algo == algo then
      if not seen[r.seed] then
        seen[r.seed] = true
        seeds[#seeds + 1] = r.seed
      end
      at[r.variant .. "\0" .. r.seed] = r
    end
  end
  if #seeds == 0 then return end
  table.sort(seeds)
  w("<details><summary>Final return of each run</summary>")
  w()
  w("| seed | " .. table.concat(vs, " | ") .. " |")
  w("|---|" .. string.rep("---|", #vs))
  for _, sd in ipairs(seeds) do
    local cells = { tostring(sd) }
    for _, v in ipairs(vs) do
      local r = at[v .. "\0" .. sd]
      cells[#cells + 1] = not r and "-" or r.status == "done" and fmt(r.final) or r.status == "failed" and "failed" or "-"
    end
    w("| " .. table.concat(cells, " | ") .. " |")
  end
  w()
  w("</details>")
  w()
end

-- What the report says of each env x algo x variant, computed once for
-- the per-env tables and "Across envs": cells[env][algo] = {thr, variants
-- (the names that run the algo, the base first), by = {[name] = cell}}. A cell
-- holds the done runs' finals, drops, aucs, final lengths (lens) and
-- steps to threshold, the
-- counts nd and nf (failed; runs not run are neither), coll, across (of
-- the finals, with the stuck fraction when there is a threshold), drop,
-- and p, p_lo, p_hi: P(> base) with its bootstrap CI, when the cell and
-- the base both have done runs.
function M.cells(cfg, runs, boot)
  local cells = {}
  for _, e in ipairs(cfg.envs) do
    cells[e.name] = {}
    for _, a in ipairs(cfg.algos) do
      local ea = { thr = e.threshold, variants = {}, by = {} }
      for _, v in ipairs(cfg.variants) do
        if M.applies(v, a) then
          ea.variants[#ea.variants + 1] = v.name
          ea.by[v.name] = { finals = {}, drops = {}, aucs = {}, lens = {}, reach = {}, coll = 0, nd = 0, nf = 0 }
        end
      end
      for _, r in ipairs(runs) do
        local c = r.env == e.name and r.algo == a and ea.by[r.variant]
        if c and r.status == "done" then
          if ea.thr == nil then ea.thr = r.threshold_used end -- no threshold given: the runs' own
          c.nd = c.nd + 1
          c.finals[c.nd], c.drops[c.nd], c.aucs[#c.aucs + 1] = r.final, r.mean_drop, r.auc
          c.lens[c.nd] = r.final_length
          c.coll = c.coll + r.collapses
          if r.steps_to_threshold then c.reach[#c.reach + 1] = r.steps_to_threshold end
        elseif c and r.status == "failed" then
          c.nf = c.nf + 1
        end
      end
      local base = ea.by[ea.variants[1]]
      for i, name in ipairs(ea.variants) do
        local c = ea.by[name]
        if c.nd > 0 then
          c.across = lpdm.stats.across(c.finals, { stuck_below = ea.thr })
          c.drop = lpdm.stats.across(c.drops).mean
          if i > 1 and base.nd > 0 then c.p, c.p_lo, c.p_hi = lpdm.stats.prob_improvement(c.finals, base.finals, boot) end
        end
      end
      cells[e.name][a] = ea
    end
  end
  return cells
end

-- The report's "Overview": one row per env and algo, one column per
-- variant: the final returns' mean +- sd over the done runs and, for the
-- variants after the base, P(> base) marked + or - when its 95% CI lies
-- above or below 0.5.
function M.overview(w, cfg, cells)
  w("## Overview")
  w()
  w("Final return per env and algo: mean +- sd over the done runs (n/a: the variant does not run the")
  w("algo; -: no done run), and after each variant but the base, P(> base) with + when its 95% CI lies")
  w("above 0.5 and - when below (no mark: the CI contains 0.5). The per-env tables below have the rest.")
  w()
  local head, rule = { "env", "algo" }, { "---", "---" }
  for _, v in ipairs(cfg.variants) do head[#head + 1], rule[#rule + 1] = v.name, "---" end
  w("| " .. table.concat(head, " | ") .. " |")
  w("|" .. table.concat(rule, "|") .. "|")
  for _, e in ipairs(cfg.envs) do
    for _, a in ipairs(cfg.algos) do
      local ea = cells[e.name][a]
      local row = { e.name, a }
      for _, v in ipairs(cfg.variants) do
        local c = ea.by[v.name]
        local cell = "n/a"
        if c and c.nd == 0 then
          cell = "-"
        elseif c then
          cell = fmt(c.across.mean) .. (c.nd > 1 and (" +- " .. fmt(c.across.sd)) or "")
          if c.p then
            local mark = c.p_lo > 0.5 and "+" or c.p_hi < 0.5 and "-" or ""
            cell = cell .. string.format(", P %.2f%s", c.p, mark)
          end
        end
        row[#row + 1] = cell
      end
      w("| " .. table.concat(row, " | ") .. " |")
    end
  end
  w()
end

-- The report's "Across envs" section (with 2 or more envs): per algorithm,
-- each variant against the base (the first variant that runs it), over the
-- envs where both have done runs: Agarwal et al.'s probability of
-- improvement averaged over envs, with its stratified-bootstrap CI, and
-- per env whether that env's CI of P(> base) lies above 0.5, below, or
-- across it; then the paper's other claims counted env by env.
function M.across_envs(w, cfg, cells, boot)
  if #cfg.envs < 2 then return end
  local function list(names)
    return #names == 0 and "0" or string.format("%d (%s)", #names, table.concat(names, ", "))
  end
  w("## Across envs")
  w()
  w("P(> base) over envs: the mean over envs of the probability that a run of the variant ends with")
  w("a higher final return than a run of the base (the first variant that runs the algo), each env weighing the same,")
  w("with its stratified-bootstrap 95% CI (docs/statistics.md). An env counts as better when its own")
  w("95% CI of P(> base) (the per-env tables below) lies above 0.5, worse when below, unclear when it")
  w("contains 0.5.")
  w()
  w("The paper's other claims, counted env by env against the base, over the envs where both have done")
  w("runs: more stable (better: lower mean drop and fewer collapses; worse: both higher; mixed")
  w("otherwise), more consistent (a lower sd of the final returns; envs with 2 or more runs each),")
  w("less often stuck (a lower stuck fraction; envs with a threshold), faster (a lower median step to")
  w("threshold, where both have runs that reached it; 'only' counts the envs where only one reached it).")
  w()
  for _, a in ipairs(cfg.algos) do
    local vs = cells[cfg.envs[1].name][a].variants
    if #vs < 2 then goto next_algo end
    w(string.format("### %s (base: %s)", a, vs[1]))
    w()
    local claims = {}
    w("| variant | envs | P(> base) [95% CI] | better | unclear | worse |")
    w("|---|---|---|---|---|---|")
    for vi = 2, #vs do
      local x, y, n = {}, {}, 0
      local better, unclear, worse = {}, {}, {}
      local k = { sb = 0, sm = 0, sw = 0, cl = 0, ch = 0, cn = 0, fewer = 0, same = 0, more = 0, tn = 0,
        faster = 0, slower = 0, only_v = 0, only_b = 0 }
      for _, e in ipairs(cfg.envs) do
        local cv, cb = cells[e.name][a].by[vs[vi]], cells[e.name][a].by[vs[1]]
        if cv.p then
          x[e.name], y[e.name], n = cv.finals, cb.finals, n + 1
          local into = cv.p_lo > 0.5 and better or cv.p_hi < 0.5 and worse or unclear
          into[#into + 1] = e.name
          if cv.drop < cb.drop and cv.coll < cb.coll then
            k.sb = k.sb + 1
          elseif cv.drop > cb.drop and cv.coll > cb.coll then
            k.sw = k.sw + 1
          else
            k.sm = k.sm + 1
          end
          if #cv.finals > 1 and #cb.finals > 1 then
            k.cn = k.cn + 1
            if cv.across.sd < cb.across.sd then k.cl = k.cl + 1 elseif cv.across.sd > cb.across.sd then k.ch = k.ch + 1 end
          end
          if cv.across.stuck and cb.across.stuck then
            k.tn = k.tn + 1
            if cv.across.stuck < cb.across.stuck then
              k.fewer = k.fewer + 1
            elseif cv.across.stuck > cb.across.stuck then
              k.more = k.more + 1
            else
              k.same = k.same + 1
            end
          end
          if #cv.reach > 0 and #cb.reach > 0 then
            local mv, mb = median(cv.reach), median(cb.reach)
            if mv < mb then k.faster = k.faster + 1 elseif mv > mb then k.slower = k.slower + 1 end
          elseif #cv.reach > 0 then
            k.only_v = k.only_v + 1
          elseif #cb.reach > 0 then
            k.only_b = k.only_b + 1
          end
        end
      end
      claims[#claims + 1] = { name = vs[vi], n = n, k = k }
      if n == 0 then
        w(string.format("| %s | 0 | - | - | - | - |", vs[vi]))
      else
        local p, lo, hi = lpdm.stats.prob_improvement(x, y, boot)
        w(string.format("| %s | %d | %.2f [%.2f, %.2f] | %s | %s | %s |", vs[vi], n, p, lo, hi, list(better),
          list(unclear), list(worse)))
      end
    end
    w()
    w("| variant | envs | more stable: better / mixed / worse | more consistent: lower sd / higher sd (of envs) | less often stuck: fewer / same / more (of envs) | faster: faster / slower; only variant / only base reached |")
    w("|---|---|---|---|---|---|")
    for _, c in ipairs(claims) do
      local k = c.k
      w(string.format("| %s | %d | %d / %d / %d | %d / %d (%d) | %d / %d / %d (%d) | %d / %d; %d / %d |", c.name, c.n,
        k.sb, k.sm, k.sw, k.cl, k.ch, k.cn, k.fewer, k.same, k.more, k.tn, k.faster, k.slower, k.only_v, k.only_b))
    end
    w()
    ::next_algo::
  end
end

return M
