-- SPDX-License-Identifier: MIT
-- sweep.lua -- run a sweep of train.lua runs (envs x algos x variants x
-- seeds), N at a time, resumable, and write a report.
--
--   build/lpdm scripts/sweep.lua CONFIG.lua --out=DIR [--jobs=N] [--steps=N] [--dry-run] [--report-only]
--   mpirun --enable-recovery -np R build/lpdm scripts/sweep.lua CONFIG.lua --out=DIR [--mpi-timeout=S] ...
--   build/lpdm scripts/sweep.lua CONFIG.lua --out=DIR --slurm=FILE [--slurm-time=HH:MM:SS] ...
--
-- CONFIG.lua returns a table (docs/sweeps.md):
--   return {
--     envs = { { name = "CartPole-v1", steps = 100000, threshold = 475 } },
--     algos = { "reinforce" },
--     variants = { { name = "bp", flags = { mode = "bp" } },
--                  { name = "local", flags = { mode = "local", loss = "guided" } } },
--     seeds = { 1, 2, 3 },
--   }
-- or, with a finished tune's best configuration per variant as the variants
-- (scripts/tune.lua; docs/tuning.md): return { tune = "DIR", seeds = { 11, 12, 13 } }
-- Flags:
--   --out=DIR    output folder (required): DIR/runs/<env>/<algo>/<variant>/s<seed>,
--                DIR/sweep.json, DIR/report.md
--   --jobs=N     runs at a time (default 1)
--   --steps=N    replaces every env's steps budget (e.g. for a smoke test)
--   --dry-run    list the runs (and which are already done), run nothing
--   --report-only  write DIR/report.md and DIR/sweep.json from the runs done
--                so far, run nothing (the others are "not run"; a look at a
--                sweep that is still going on: its own end rewrites both)
--   --mpi-timeout=S  under mpirun: rank 0 gives up on a rank whose heartbeat
--                stopped S seconds ago (default 60; docs/distributed.md)
--   --slurm=FILE writes a Slurm job-array script for the runs not done,
--                runs nothing; --slurm-time, --slurm-partition,
--                --slurm-cpus, --slurm-mem set its #SBATCH lines
--   --help
-- Exit status: 0 every run done; 1 the sweep finished but some runs failed (the rule of every lpdm command: 1 for any error)
-- (listed in DIR/report.md and DIR/sweep.json); 1 bad input or an error;
-- 130 interrupted.
local PROG = "sweep.lua"

local function die(msg, code)
  io.stderr:write(PROG, ": ", tostring(msg), "\n")
  os.exit(code or 1)
end

-- scripts/lib holds the module; find it from this script's own path.
local SCRIPT = arg and arg[0] or "scripts/sweep.lua"
local HERE = SCRIPT:match("^(.*)/[^/]*$") or "."
package.path = HERE .. "/lib/?.lua;" .. package.path
local sweep = require("sweep")
local q = sweep.quote

local mpi_sweep = require("mpi_sweep")
local util = require("util")
local LPDM = util.interpreter(arg)
local TRAIN = HERE .. "/train.lua"

local USAGE = "usage: lpdm scripts/sweep.lua CONFIG.lua --out=DIR [--jobs=N] [--steps=N] [--dry-run] [--report-only] [--mpi-timeout=S]\n"
  .. "       [--slurm=FILE [--slurm-time=HH:MM:SS] [--slurm-partition=P] [--slurm-cpus=N] [--slurm-mem=M]]"

-- ---------------------------------------------------------------- flags

local KNOWN = { out = true, jobs = true, steps = true, dry_run = true, report_only = true, help = true, mpi_timeout = true,
  slurm = true, slurm_time = true, slurm_partition = true, slurm_cpus = true, slurm_mem = true }
local flags, words = util.parse_flags(arg, KNOWN, die)
local config_path = words[1]
if words[2] then
  die(string.format("unexpected argument '%s' (one config file; flags look like --name=value)", words[2]))
end

if flags.help then
  print(USAGE)
  print("Runs build/lpdm scripts/train.lua for every env x algo x variant x seed of CONFIG.lua;")
  print("see docs/sweeps.md; over MPI ranks or as a Slurm job array: docs/distributed.md.")
  os.exit(0)
end
if not config_path then die("no config file given\n" .. USAGE) end
if not LPDM then die("cannot find the lpdm executable (arg[-1] is not set)") end

local function int_flag(name, min) return util.int_flag(flags, name, min, die) end
local jobs = int_flag("jobs", 1) or 1
local steps_override = int_flag("steps", 1)
if flags.out == true or flags.out == "" then die("--out needs a folder (--out=DIR)") end
if flags.dry_run ~= nil and flags.dry_run ~= true then die("--dry-run is a switch, got '" .. tostring(flags.dry_run) .. "'") end
if flags.report_only ~= nil and flags.report_only ~= true then
  die("--report-only is a switch, got '" .. tostring(flags.report_only) .. "'")
end
if flags.report_only and (flags.dry_run or flags.slurm) then
  die("--report-only does not go with --dry-run or --slurm")
end
local mpi_timeout = int_flag("mpi_timeout", 1) or 60
local slurm = flags.slurm
if slurm == true or slurm == "" then die("--slurm needs a file name (--slurm=FILE)") end
for _, k in ipairs({ "slurm_time", "slurm_partition", "slurm_cpus", "slurm_mem" }) do
  if flags[k] ~= nil and not slurm then die("--" .. k:gsub("_", "-") .. " only goes with --slurm=FILE") end
end
local slurm_cpus = int_flag("slurm_cpus", 1) or 1
local function str_flag(name, pattern, what, default)
  local v = flags[name]
  if v == nil then return default end
  if v == true or not v:match(pattern) then
    die(string.format("--%s expects %s, got '%s'", name:gsub("_", "-"), what, tostring(v)))
  end
  return v
end
local slurm_time = flags.slurm_time or "01:00:00"
if slurm_time == true or not (slurm_time:match("^%d+:[0-5]%d:[0-5]%d$") or slurm_time:match("^%d+%-%d+:[0-5]%d:[0-5]%d$")) then
  die("--slurm-time expects a time limit HH:MM:SS or D-HH:MM:SS (e.g. 02:00:00), got '" .. tostring(slurm_time) .. "'")
end
local slurm_mem = str_flag("slurm_mem", "^%d+[KMGT]?$", "a memory size like 2G or 500M", "2G")
local slurm_partition = str_flag("slurm_partition", "^[%w_%.%-]+$", "a partition name (letters, digits, _ . -)", nil)
if slurm and flags.dry_run then die("--slurm and --dry-run do not go together (--slurm runs nothing anyway)") end
if slurm and not flags.out then die("--slurm needs --out=DIR (the folder the array tasks write the runs to)") end

-- MPI: only when this lpdm has it and mpirun / srun started us; otherwise
-- the sweep is the local one.
local mpi = require("lpdm").mpi
if slurm and mpi.launched() then
  die("--slurm writes a Slurm script and runs nothing: run it without mpirun / srun")
end
local use_mpi = mpi.available and mpi.launched()
if flags.report_only and mpi.launched() then die("--report-only runs nothing: run it without mpirun / srun") end

local out = flags.out
if not out and not flags.dry_run then die("--out=DIR is required (where the runs and the report go)") end
out = out or "."
out = out:gsub("/+$", "")
if out == "" then out = "/" end

local okc, cfg, config_text = pcall(sweep.load, config_path)
if not okc then die(cfg) end

-- The exact command, quoted for sh.
local command
do
  local parts = {}
  local i = -1
  while arg[i - 1] ~= nil do i = i - 1 end
  for j = i, #arg do parts[#parts + 1] = q(arg[j]) end
  command = table.concat(parts, " ")
end

-- ---------------------------------------------------------------- plan

local runs = sweep.plan(cfg, out, steps_override)
-- "2 envs x 2 algos x 3 variants x 3 seeds", and a word when a variant
-- runs with some algorithms only (then the product is not the count)
local shape = string.format("%d envs x %d algos x %d variants x %d seeds", #cfg.envs, #cfg.algos, #cfg.variants,
  #cfg.seeds)
for _, v in ipairs(cfg.variants) do
  if v.algos then
    shape = shape .. "; some variants for some algos only"
    break
  end
end
local todo, skipped = {}, 0
for _, r in ipairs(runs) do
  if sweep.is_done(r) then
    skipped = skipped + 1
  else
    todo[#todo + 1] = r
  end
end

-- Under MPI every rank plans (the same runs, in the same order); only rank
-- 0 speaks for the sweep, the others prefix their lines with their rank.
local rank = 0
if use_mpi and flags.dry_run then
  rank = mpi.init()
  if rank ~= 0 then os.exit(0) end
end

-- ---------------------------------------------------------------- --slurm

if slurm then
  local okw, werr = pcall(function()
    local cwd = mpi_sweep.cwd()
    local abs_out = out:sub(1, 1) == "/" and out or (cwd .. "/" .. out:gsub("^%./", ""))
    local abs_config = config_path:sub(1, 1) == "/" and config_path or (cwd .. "/" .. config_path:gsub("^%./", ""))
    local report_command = table.concat({ q(mpi_sweep.which(LPDM, cwd)), q(mpi_sweep.which(SCRIPT, cwd)),
      q(abs_config), q("--out=" .. abs_out) }, " ")
    print(string.format("%s: %d runs (%s): %d already done, %d to submit", PROG, #runs, shape, skipped, #todo))
    if #todo == 0 then
      print(string.format("%s: nothing to submit: every run is done; %s not written. The report: %s", PROG, slurm,
        report_command))
      return
    end
    os.execute("mkdir -p " .. q(out .. "/slurm"))
    if os.execute("test -d " .. q(out .. "/slurm")) ~= true then
      error("cannot create the directory '" .. out .. "/slurm' (Slurm writes the tasks' output there)", 0)
    end
    local name = (config_path:match("([^/]*)$"):gsub("%.lua$", ""):gsub("[^%w_%.%-]", "_"))
    local text = mpi_sweep.slurm_script(todo, {
      lpdm = mpi_sweep.which(LPDM, cwd), train = mpi_sweep.which(TRAIN, cwd), cwd = cwd, out = abs_out,
      job_name = "lpdm-" .. name, time = slurm_time, cpus = slurm_cpus, mem = slurm_mem,
      partition = slurm_partition, throttle = flags.jobs and jobs or nil, file = slurm,
      report_command = report_command,
    })
    sweep.write_atomic(slurm, text)
    os.execute("chmod +x " .. q(slurm) .. " 2>/dev/null")
    print(string.format("%s: wrote %s: a Slurm job array of %d tasks, one per run not done%s", PROG, slurm, #todo,
      flags.jobs and string.format(", at most %d at a time", jobs) or ""))
    print("Submit it with:  sbatch " .. q(slurm))
    print("When the tasks have ended, write the report with:  " .. report_command)
    print("(runs that failed or did not finish are run again by that command; or write a new script with --slurm)")
  end)
  if not okw then die(werr) end
  os.exit(0)
end

-- ---------------------------------------------------------------- MPI session

local ctx
if use_mpi and not flags.dry_run then
  local oks, res = pcall(mpi_sweep.setup, mpi, out, runs, mpi_timeout)
  if not oks then
    if type(res) == "table" and res.quiet then os.exit(1) end
    die(res)
  end
  ctx, rank = res, res.rank
end
local prefix = rank ~= 0 and string.format("[rank %d] ", rank) or ""

if rank == 0 then
  print(string.format("%s: %d runs (%s): %d already done, %d to run, %d at a time%s",
    PROG, #runs, shape, skipped, #todo, jobs,
    ctx and string.format(" on each of %d MPI ranks (session %s)", ctx.size, ctx.session) or ""))
else
  print(string.format("%son host %s, session %s", prefix, ctx.host, ctx.session))
end
io.stdout:flush()

if flags.dry_run then
  for _, r in ipairs(runs) do
    local done = sweep.is_done(r)
    print(string.format("%s  %s %s", done and "done" or (r.eval and sweep.train_done(r)) and "eval" or "todo", r.rel,
      q(LPDM) .. " " .. q(TRAIN) .. " " .. table.concat((function()
        local t = {}
        for i, a in ipairs(r.args) do t[i] = q(a) end
        return t
      end)(), " ")))
  end
  os.exit(0)
end

local ok, err = pcall(function()
  os.execute("mkdir -p " .. q(out))
end)
if not ok then die(err) end

-- ---------------------------------------------------------------- sweep.json

-- Only rank 0 writes sweep.json and report.md (the other ranks' write_state
-- does nothing).
local started = os.date("!%Y-%m-%dT%H:%M:%SZ")
local function write_state(final)
  if rank ~= 0 then return end
  local recs = sweep.json.array()
  for _, r in ipairs(runs) do recs[#recs + 1] = sweep.run_record(r) end
  local nd, nf, np = sweep.counts(runs)
  sweep.write_atomic(out .. "/sweep.json", sweep.json.encode({
    command = command, config_file = config_path, config = config_text, out = out, jobs = jobs,
    started = started, finished = final and os.date("!%Y-%m-%dT%H:%M:%SZ") or sweep.json.null,
    total = #runs, already_done = skipped, to_run = #todo, done = nd, failed = nf,
    pending = np, runs = recs,
    mpi = ctx and { ranks = ctx.size, session = ctx.session } or nil,
  }) .. "\n")
end

-- Runs already done are read back (their statistics go into the report).
if rank == 0 then
  for _, r in ipairs(runs) do
    if sweep.is_done(r) then sweep.collect(r) end
  end
end
-- sweep.json (final: with its end time) and report.md; the done, failed
-- and pending counts.
local function finish(final)
  local rok, rerr = pcall(function()
    write_state(final)
    sweep.report(out .. "/report.md", runs, cfg, command, config_text)
  end)
  if not rok then die(rerr) end
  return sweep.counts(runs)
end

if flags.report_only then
  -- the runs not done stay pending (not run, not failed): a look at a sweep
  -- that is still going on, or was stopped
  local nd, nf, np = finish(false)
  print(string.format("%s: report only: %d of %d runs done, %d failed, %d not run; wrote %s/sweep.json and %s/report.md",
    PROG, nd, #runs, nf, np, out, out))
  os.exit(0)
end
for _, r in ipairs(todo) do r.ran = true end
local wok, werr = pcall(write_state, false)
if not wok then die(werr) end

-- ---------------------------------------------------------------- progress

-- Under mpirun stdout is a pseudo-terminal shared by the ranks: lines
-- rewritten with \r would mix, so each rank prints one line per run.
local tty = not ctx and os.execute("test -t 1") == true
local last_len = 0
local function show(st)
  local line = sweep.progress_line(st, skipped)
  if tty then
    local pad = last_len > #line and string.rep(" ", last_len - #line) or ""
    io.stdout:write("\r", prefix, line, pad)
    io.stdout:flush()
    last_len = #prefix + #line
  end
end

local own_done, own_failed = 0, 0
local function run_all(list)
  return pcall(sweep.execute, list, {
    jobs = jobs, lpdm = LPDM, train = TRAIN,
    claim = ctx and ctx:claim_hook() or nil,
    heartbeat = ctx and ctx:heartbeat_hook() or nil,
    progress = show,
    on_finish = function(r, st)
      if r.status == "done" then own_done = own_done + 1 else own_failed = own_failed + 1 end
      if tty then
        if r.status ~= "done" then
          io.stdout:write("\r", string.rep(" ", last_len), "\r", prefix, "failed: ", r.rel, " (", r.reason, ")\n")
        end
        show(st)
      else
        print(string.format("%s[%d/%d] %s %s%s | %s", prefix, st.done + st.failed, st.total,
          r.status, r.rel, r.status == "done" and string.format(" final %.2f", r.final) or (" (" .. r.reason .. ")"),
          sweep.progress_line(st, skipped)))
        io.stdout:flush()
      end
      pcall(write_state, false)
    end,
    on_abort = function() pcall(write_state, false) end,
  })
end

local function run_failed(eerr)
  if ctx then ctx:finish() end -- its runs were stopped: rank 0 need not wait for a heartbeat timeout
  if tostring(eerr):find("interrupted!", 1, true) then die(prefix .. "interrupted: the running runs were stopped; run the sweep again to resume", 130) end
  die(prefix .. tostring(eerr))
end

local eok, eerr = run_all(todo)
if tty then io.stdout:write("\n") end
if not eok then run_failed(eerr) end

-- ---------------------------------------------------------------- MPI: the other ranks

if ctx then
  ctx:finish()
  if rank ~= 0 then
    print(string.format("%sfinished: ran %d runs here, %d done, %d failed (rank 0 writes the report)",
      prefix, own_done + own_failed, own_done, own_failed))
    os.exit(0)
  end
  -- Rank 0 waits for the runs the other ranks hold; the runs nobody holds
  -- (their claims vanished) it runs itself.
  local wait_ok, wait_err = pcall(function()
    local list = todo
    while true do
      local left = ctx:wait(list, function(r)
        sweep.collect(r)
        pcall(write_state, false)
      end)
      if #left == 0 then break end
      print(string.format("%s: %d runs were claimed by no rank; running them here", PROG, #left))
      local ok2, err2 = run_all(left)
      if not ok2 then error(err2, 0) end
      list = left
    end
  end)
  if not wait_ok then run_failed(wait_err) end
  for _, r in ipairs(todo) do
    sweep.collect(r)
    if ctx.lost[r] then
      r.status, r.reason = "failed", ctx.lost[r]
      print(string.format("failed: %s (%s)", r.rel, r.reason))
    end
  end
end

-- ---------------------------------------------------------------- report

local nd, nf = finish(true)
print(string.format("%s: %d/%d runs done, %d failed; wrote %s/sweep.json and %s/report.md",
  PROG, nd, #runs, nf, out, out))
-- failed runs are a result, not a failed rank: end MPI first, so that exit
-- status 1 does not abort the job (lpdm.mpi's os.exit)
if ctx then mpi.finalize() end
os.exit(nf > 0 and 1 or 0)
