-- SPDX-License-Identifier: MIT
-- tune.lua -- tune train.lua's hyperparameters: trials sampled from a search
-- space, run as train.lua processes by the sweep's runner, promoted by
-- successive halving (ASHA), every variant with the same budget; the best
-- configuration per variant in DIR/tune.json and DIR/report.md.
--
--   build/lpdm scripts/tune.lua FILE --out=DIR [--jobs=N] [--dry-run] [--report-only]
--   mpirun --enable-recovery -np R build/lpdm scripts/tune.lua FILE --out=DIR [--mpi-timeout=S] ...
--   build/lpdm scripts/tune.lua FILE --out=DIR --slurm=FILE.sh [--slurm-time=HH:MM:SS] ...
--
-- FILE returns a table (docs/tuning.md), e.g. scripts/examples/tune_cartpole.lua:
--   return { name = "ppo cartpole", algo = "ppo", envs = { "CartPole-v1" },
--     variants = { bp = { flags = { mode = "bp" },
--       space = { learning_rate = log_uniform{1e-4, 1e-2}, num_minibatches = choice{2, 4, 8} } } },
--     budget = { trials = 16, seeds = 1, steps = 100000, min_steps = 25000, eta = 2 } }
-- (log_uniform, uniform, int and choice are visible in FILE.)
-- Flags:
--   --out=DIR      output folder (required): DIR/runs/<variant>/t<id>/r<rung>/<env>/s<seed>,
--                  DIR/tune.json, DIR/report.md, DIR/plots
--   --jobs=N       runs at a time (default 1); the results do not depend on it
--   --dry-run      print the runs that would run next, run nothing
--   --report-only  write tune.json and report.md from the runs finished so far
--   --slurm=FILE   write a Slurm job array of the next runs (one rung's worth);
--                  after it ran, run this command again (it reads them back
--                  and writes the next array, or the report when done);
--                  --slurm-time, --slurm-partition, --slurm-cpus, --slurm-mem
--   --mpi-timeout=S  under mpirun: a rank silent for S seconds is lost (default 60)
--   --help
-- Running the same command again continues a stopped tune (finished runs are
-- read back, never run again; a failed run is not retried).
-- Exit status: 0 the tune finished (failed trials are results); 1 bad input
-- or an error; 130 interrupted.
local PROG = "tune.lua"

local function die(msg, code)
  io.stderr:write(PROG, ": ", tostring(msg), "\n")
  os.exit(code or 1)
end

local SCRIPT = arg and arg[0] or "scripts/tune.lua"
local HERE = SCRIPT:match("^(.*)/[^/]*$") or "."
package.path = HERE .. "/lib/?.lua;" .. package.path
local lpdm = require("lpdm")
local util = require("util")
local sweep = require("sweep")
local mpi_sweep = require("mpi_sweep")
local tune = require("tune")
local tr = require("tune_run")
local treport = require("tune_report")
local q = util.quote
local LPDM = util.interpreter(arg)
local TRAIN = HERE .. "/train.lua"

local USAGE = "usage: lpdm scripts/tune.lua FILE --out=DIR [--jobs=N] [--dry-run] [--report-only] [--mpi-timeout=S]\n"
  .. "       [--slurm=FILE [--slurm-time=HH:MM:SS] [--slurm-partition=P] [--slurm-cpus=N] [--slurm-mem=M]]"

-- ---------------------------------------------------------------- flags

local KNOWN = { out = true, jobs = true, dry_run = true, report_only = true, help = true, mpi_timeout = true,
  slurm = true, slurm_time = true, slurm_partition = true, slurm_cpus = true, slurm_mem = true }
local flags, words = util.parse_flags(arg, KNOWN, die)
local file = words[1]
if words[2] then die(string.format("unexpected argument '%s' (one tune file; flags look like --name=value)", words[2])) end
if flags.help then
  print(USAGE)
  print("Tunes train.lua flags over the search space of FILE (docs/tuning.md).")
  os.exit(0)
end
if not file then die("no tune file given\n" .. USAGE) end
if not LPDM then die("cannot find the lpdm executable (arg[-1] is not set)") end

local function int_flag(name, min) return util.int_flag(flags, name, min, die) end
local jobs = int_flag("jobs", 1) or 1
local mpi_timeout = int_flag("mpi_timeout", 1) or 60
for _, k in ipairs({ "dry_run", "report_only" }) do
  if flags[k] ~= nil and flags[k] ~= true then die("--" .. k:gsub("_", "-") .. " is a switch") end
end
if flags.out == nil or flags.out == true or flags.out == "" then die("--out=DIR is required (where the runs go)") end
local out = flags.out:gsub("/+$", "")
if out == "" then out = "/" end
local slurm = flags.slurm
if slurm == true or slurm == "" then die("--slurm needs a file name (--slurm=FILE)") end
for _, k in ipairs({ "slurm_time", "slurm_partition", "slurm_cpus", "slurm_mem" }) do
  if flags[k] ~= nil and not slurm then die("--" .. k:gsub("_", "-") .. " only goes with --slurm=FILE") end
end
if (slurm and 1 or 0) + (flags.dry_run and 1 or 0) + (flags.report_only and 1 or 0) > 1 then
  die("--slurm, --dry-run and --report-only do not go together")
end
local slurm_time = flags.slurm_time or "01:00:00"
if slurm_time == true or not (slurm_time:match("^%d+:[0-5]%d:[0-5]%d$") or slurm_time:match("^%d+%-%d+:[0-5]%d:[0-5]%d$")) then
  die("--slurm-time expects HH:MM:SS or D-HH:MM:SS, got '" .. tostring(slurm_time) .. "'")
end
local slurm_mem = flags.slurm_mem or "2G"
if slurm_mem == true or not slurm_mem:match("^%d+[KMGT]?$") then die("--slurm-mem expects a size like 2G") end
local slurm_partition = flags.slurm_partition
if slurm_partition == true or (slurm_partition and not slurm_partition:match("^[%w_%.%-]+$")) then
  die("--slurm-partition expects a partition name")
end
local slurm_cpus = int_flag("slurm_cpus", 1) or 1

local mpi = lpdm.mpi
local use_mpi = mpi.available and mpi.launched()
if use_mpi and (slurm or flags.dry_run or flags.report_only) then
  die("--slurm, --dry-run and --report-only run nothing: run them without mpirun / srun")
end

-- ---------------------------------------------------------------- the tune file

-- Loaded with the space functions visible, checked before anything runs.
local cfg, text
do
  text = util.read(file)
  if not text then die(string.format("cannot read the tune file '%s'", file)) end
  local env = setmetatable({}, { __index = _G })
  for k, f in pairs(tune.space_env()) do env[k] = f end
  local chunk, err = load(text, "@" .. file, "t", env)
  if not chunk then die(string.format("%s: %s", file, err)) end
  local ok, raw = pcall(chunk)
  if not ok then die(string.format("%s: %s", file, tostring(raw))) end
  if type(raw) ~= "table" then die(string.format("%s must return a table, got %s", file, type(raw))) end
  if type(raw.algo) == "string" then
    local known = {}
    for _, p in ipairs(lpdm.plugins("algo")) do known[#known + 1] = p.name end
    local found = false
    for _, n in ipairs(known) do if n == raw.algo then found = true end end
    if not found then
      die(string.format("%s: algo: unknown algorithm '%s'%s (known: %s)", file, raw.algo,
        util.did_you_mean(raw.algo, known), table.concat(known, ", ")))
    end
  end
  local okc, res = pcall(tune.check, raw, tr.flag_checker(lpdm, raw))
  if not okc then die(string.format("%s: %s", file, tostring(res))) end
  cfg = res
  for _, e in ipairs(tr.envs(cfg)) do -- an env id train.lua will refuse: now, not in every run
    local oke, why = pcall(lpdm.env, e.id)
    if not oke then die(string.format("%s: envs: %s", file, tostring(why))) end
    why:close()
  end
end

local command
do
  local parts = {}
  local i = -1
  while arg[i - 1] ~= nil do i = i - 1 end
  for j = i, #arg do parts[#parts + 1] = q(arg[j]) end
  command = table.concat(parts, " ")
end

local variants = tr.variant_names(cfg)
local rank = 0
local ctx
if use_mpi then
  local oks, res = pcall(mpi_sweep.setup, mpi, out, {}, mpi_timeout)
  if not oks then
    if type(res) == "table" and res.quiet then os.exit(1) end
    die(res)
  end
  ctx, rank = res, res.rank
end
local prefix = rank ~= 0 and string.format("[rank %d] ", rank) or ""
local function say(s)
  print(prefix .. PROG .. ": " .. s)
  io.stdout:flush()
end
local tty = not ctx and os.execute("test -t 1") == true

-- ---------------------------------------------------------------- the replay

-- Per variant: results[trial][rung] = objective, the plan's state, the
-- (trial, rung) pairs in the order they were decided, each with its runs.
local V = {}
for _, v in ipairs(variants) do V[v] = { results = {}, state = nil, pairs = {} } end
local seq = 0 -- every run's number in decision order (MPI claims)
local stopped_at -- the batch that could not be finished by this invocation

local function plan_all()
  local batch = {}
  for _, v in ipairs(variants) do
    local ok, st = pcall(tune.plan, cfg, v, V[v].results)
    if not ok then die(string.format("planning variant %s: %s", v, tostring(st))) end
    V[v].state = st
    for _, item in ipairs(st.todo or {}) do
      if V[v].results[item.trial] and V[v].results[item.trial][item.rung] ~= nil then
        die(string.format("planning variant %s: trial %d rung %d decided again (a bug in scripts/lib/tune.lua)",
          v, item.trial, item.rung))
      end
      local p = { variant = v, trial = item.trial, rung = item.rung, steps = item.steps, config = item.config,
        runs = tr.runs_of(cfg, v, item, out) }
      for _, r in ipairs(p.runs) do
        seq = seq + 1
        if ctx then ctx.index[r] = seq end
      end
      batch[#batch + 1] = p
    end
  end
  return batch
end

-- tune.json and report.md (rank 0)
local function write_outputs(final)
  if rank ~= 0 or flags.dry_run then return end
  local okw, werr = pcall(function()
    treport.write(out, { cfg = cfg, text = text, file = file, command = command, variants = variants, V = V,
      final = final, stopped = stopped_at ~= nil, lpdm = LPDM, train = TRAIN })
  end)
  if not okw then die(werr) end
end

-- Runs the pending runs of a batch (first waiting for any left running by
-- an earlier, killed invocation); returns when every one has ended.
local function run_batch(pending)
  local still = {}
  local function on_finish(r, st)
    local line = string.format("%s[%d/%d] %s %s%s", prefix, st.done + st.failed, st.total, r.status, r.rel,
      r.status == "done" and string.format(" final_avg20 %.2f", r.final_avg20 or 0 / 0)
      or (" (" .. tostring(r.reason) .. ")"))
    if tty then io.stdout:write("\r", line, string.rep(" ", 20), "\n") else print(line) end
    io.stdout:flush()
  end
  local function progress(st)
    if tty then
      io.stdout:write("\r", sweep.progress_line(st, 0), "   ")
      io.stdout:flush()
    end
  end
  local ok, err = pcall(function()
    tr.wait_running(pending, say, ctx)
    for _, r in ipairs(pending) do
      if tr.disk_status(r) == "pending" then still[#still + 1] = r end
    end
    if #still == 0 then return end
    sweep.execute(still, { jobs = jobs, lpdm = LPDM, train = TRAIN, claim = ctx and ctx:claim_hook() or nil,
      heartbeat = ctx and ctx:heartbeat_hook() or nil, progress = progress, on_finish = on_finish })
  end)
  if not ok then
    if tostring(err):find("interrupted!", 1, true) then
      write_outputs(false)
      die(prefix .. "interrupted: the running runs were stopped; run the same command again to continue", 130)
    end
    die(prefix .. tostring(err))
  end
  if ctx and #still > 0 then
    local okb, berr = pcall(tr.mpi_barrier, ctx, still)
    if not okb then die(prefix .. tostring(berr)) end
  end
end

if rank == 0 then
  local rungs = tune.rungs(cfg)
  local rs = {}
  for _, r in ipairs(rungs) do rs[#rs + 1] = tr.numstr(r.steps) end
  say(string.format("%s: %d variant%s (%s), %d trials each, rungs of %s steps, %d env%s x %d seed%s per trial%s",
    file, #variants, #variants == 1 and "" or "s", table.concat(variants, ", "), cfg.budget.trials,
    table.concat(rs, " / "), #cfg.envs, #cfg.envs == 1 and "" or "s", #tr.seeds(cfg), #tr.seeds(cfg) == 1 and "" or "s",
    ctx and string.format("; %d MPI ranks", ctx.size) or string.format("; %d at a time", jobs)))
end
if not flags.dry_run then
  local why = util.mkdir_p(out)
  if why then die(string.format("--out=%s: %s", out, why)) end
end

local nbatch = 0
local function replay()
  while true do
    local batch = plan_all()
    if #batch == 0 then break end
    nbatch = nbatch + 1
    local pending = {}
    for _, p in ipairs(batch) do
      for _, r in ipairs(p.runs) do
        if tr.disk_status(r) == "pending" then pending[#pending + 1] = r end
      end
    end
    if #pending > 0 then
      if flags.dry_run or slurm or flags.report_only then
        stopped_at = { batch = batch, pending = pending }
        break
      end
      if rank == 0 then
        local per = {}
        for _, p in ipairs(batch) do
          local k = string.format("%s rung %d", p.variant, p.rung)
          if not per[k] then per[#per + 1] = k end
          per[k] = (per[k] or 0) + 1
        end
        local parts = {}
        for _, k in ipairs(per) do parts[#parts + 1] = string.format("%s: %d trial%s", k, per[k], per[k] == 1 and "" or "s") end
        say(string.format("batch %d: %s; %d run%s to run", nbatch, table.concat(parts, ", "), #pending,
          #pending == 1 and "" or "s"))
      end
      write_outputs(false)
      run_batch(pending)
    end
    for _, p in ipairs(batch) do
      for _, r in ipairs(p.runs) do
        if tr.disk_status(r) == "pending" then
          die(string.format("%s did not finish (run the same command again to continue)", r.rel))
        end
        tr.collect(r)
      end
      local obj, bad = tr.objective(cfg, p.runs)
      p.objective, p.failed_run = obj, bad
      local vr = V[p.variant].results
      vr[p.trial] = vr[p.trial] or {}
      vr[p.trial][p.rung] = obj
      V[p.variant].pairs[#V[p.variant].pairs + 1] = p
    end
    write_outputs(false)
  end
end
do -- an interruption between runs (Ctrl-C, SIGTERM) is a message, not a traceback
  local ok, err = pcall(replay)
  if not ok then
    if tostring(err):find("interrupted!", 1, true) then
      die(prefix .. "interrupted; run the same command again to continue", 130)
    end
    die(prefix .. tostring(err))
  end
end

-- ---------------------------------------------------------------- the endings

if flags.dry_run then
  if not stopped_at then
    say("nothing to run: the tune is finished (" .. out .. "/tune.json)")
  else
    say(string.format("next: %d runs (later rungs are decided from their results):", #stopped_at.pending))
    for _, r in ipairs(stopped_at.pending) do
      local words = { q(LPDM), q(TRAIN) }
      for _, a in ipairs(r.args) do words[#words + 1] = q(a) end
      print("todo  " .. r.rel .. "  " .. table.concat(words, " "))
    end
  end
  os.exit(0)
end

if slurm then
  if not stopped_at then
    write_outputs(true)
    say("nothing to submit: the tune is finished; wrote " .. out .. "/tune.json and " .. out .. "/report.md")
    os.exit(0)
  end
  local okw, werr = pcall(function()
    local cwd = mpi_sweep.cwd()
    local abs_out = out:sub(1, 1) == "/" and out or (cwd .. "/" .. out:gsub("^%./", ""))
    local abs_file = file:sub(1, 1) == "/" and file or (cwd .. "/" .. file:gsub("^%./", ""))
    local again = table.concat({ q(mpi_sweep.which(LPDM, cwd)), q(mpi_sweep.which(SCRIPT, cwd)), q(abs_file),
      q("--out=" .. abs_out), q("--slurm=" .. slurm) }, " ")
    local why = util.mkdir_p(out .. "/slurm")
    if why then error("cannot create " .. out .. "/slurm: " .. why, 0) end
    local name = (file:match("([^/]*)$"):gsub("%.lua$", ""):gsub("[^%w_%.%-]", "_"))
    local body = mpi_sweep.slurm_script(stopped_at.pending, {
      lpdm = mpi_sweep.which(LPDM, cwd), train = mpi_sweep.which(TRAIN, cwd), cwd = cwd, out = abs_out,
      job_name = "lpdm-tune-" .. name, time = slurm_time, cpus = slurm_cpus, mem = slurm_mem,
      partition = slurm_partition, throttle = flags.jobs and jobs or nil, file = slurm, report_command = again,
    })
    util.write_atomic(slurm, body)
    os.execute("chmod +x " .. q(slurm) .. " 2>/dev/null")
  end)
  if not okw then die(werr) end
  write_outputs(false)
  say(string.format("wrote %s: a Slurm job array of the %d next runs", slurm, #stopped_at.pending))
  print("Submit it with:  sbatch " .. q(slurm))
  print("When its tasks have ended, run this command again: it reads them back and writes the next array")
  print("(one per rung), or the report when the tune is finished.")
  os.exit(0)
end

if ctx then
  ctx:finish()
  if rank ~= 0 then
    say("finished (rank 0 writes the report)")
    os.exit(0)
  end
end

write_outputs(not stopped_at)
if flags.report_only then
  say(string.format("report only: %s; wrote %s/tune.json and %s/report.md",
    stopped_at and "the tune is not finished" or "the tune is finished", out, out))
  os.exit(0)
end
for _, v in ipairs(variants) do
  local st = V[v].state
  local bid = tr.best_id(st)
  local b = bid and treport.trial(V, v, bid)
  say(string.format("%s: best trial %s, objective %s", v, bid and tostring(bid) or "-",
    b and b.objective and string.format("%.2f", b.objective) or "-"))
end
say(string.format("wrote %s/tune.json and %s/report.md", out, out))
if ctx then mpi.finalize() end
os.exit(0)
