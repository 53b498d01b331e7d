-- SPDX-License-Identifier: MIT
-- tune_run.lua -- the runs of a tune (scripts/tune.lua): its decisions
-- (scripts/lib/tune.lua) turned into train.lua runs, run by the sweep's
-- runner (scripts/lib/sweep.lua), read back and aggregated into
-- objectives. docs/tuning.md is the user's guide.
--
-- How it works: a tune is replayed from the start by every invocation.
-- With results = {} the library's plan() says which (trial, rung) pairs to
-- run (its todo, "a batch"); each pair is one train.lua run per env and
-- seed, under DIR/runs/<variant>/t<id>/r<rung>/<env>/s<seed>. The runs of a
-- batch that are finished on disk are read back; the others are run (all
-- variants' together, --jobs at a time); then every pair of the batch gets
-- its objective, in the batch's order, and plan() is asked again. Since
-- plan() is pure and a batch's results are added all at once, the results
-- plan() sees are the same whatever the number of jobs, and a killed tune
-- replays to where it stopped with the same decisions.
--
-- A run is finished when its summary.json says done, or when its
-- exit_code file holds a failure: such a run is never run again (a config
-- error fails every time). Exit codes 130, 137 and 143 (stopped by SIGINT,
-- SIGKILL, SIGTERM: the tune was interrupted) mean "not finished": the run
-- is run again. A run with no exit code whose train.lua is still running
-- (a tune killed by SIGKILL leaves its runs going) is waited for, not
-- started again.
--
-- Objective of a (trial, rung): per env the mean over seeds of each run's
-- value (objective "final": summary.json's final_avg20; "auc": the mean
-- return over all episodes, lpdm.stats.run's auc, as the sweep's report),
-- mapped to (x - lo) / (hi - lo) when the env has a score range, then the
-- mean over envs. Any failed run: -math.huge (the trial failed).
--
-- Use (scripts/tune.lua):
--   local tr = require("tune_run")
--   local is_flag = tr.flag_checker(lpdm, raw_cfg)    -- for tune.check
--   local runs = tr.runs_of(cfg, vname, item, out)     -- one per env x seed
local util = require("util")
local json = require("json")
local sweep = require("sweep")

local M = {}
local q, read = util.quote, util.read

-- train.lua's own flags (scripts/lib/train_flags.lua, the list train.lua uses).
M.FIXED = {}
for i, f in ipairs(require("train_flags")) do M.FIXED[i] = f[1] end
-- Flags the tune sets per run (or that make no sense in one).
M.RESERVED = { env = true, algo = true, seed = true, steps = true, total_timesteps = true, out = true, quiet = true,
  resume = true, list = true, help = true, distributed = true }
-- Exit codes of a run stopped from outside: run again.
M.INTERRUPTED = { [130] = true, [137] = true, [143] = true }

M.numstr = util.numstr -- a number as a flag value

local function flagval(v)
  if type(v) == "number" then return M.numstr(v) end
  if v == true then return true end
  if v == false then return "false" end
  return tostring(v)
end

-- is_flag(name) for tune.check: true for a flag train.lua takes with the
-- config's algo (its fixed flags, the algo's keys, every loss's and
-- distance's keys, the tuned envs' keys); else false and a hint.
function M.flag_checker(lpdm, c)
  local names, set = {}, {}
  local function add(n)
    if not set[n] then
      set[n] = true
      names[#names + 1] = n
    end
  end
  for _, f in ipairs(M.FIXED) do add(f) end
  local algo = type(c) == "table" and c.algo or nil
  local function keys_of(kind, want)
    for _, p in ipairs(lpdm.plugins(kind)) do
      if want == nil or p.name == want or p.full_name == want then
        for _, k in ipairs(p.keys) do add(k.name) end
      end
    end
  end
  keys_of("algo", algo)
  keys_of("loss")
  keys_of("distance")
  local envs = type(c) == "table" and type(c.envs) == "table" and c.envs or {}
  for _, e in ipairs(envs) do
    local id = type(e) == "table" and e.id or e
    if type(id) == "string" then keys_of("env", id) end
  end
  return function(name)
    if type(name) ~= "string" then return false, "" end
    local key = name:gsub("%-", "_")
    if M.RESERVED[key] then return false, "the tuner sets it per run" end
    if set[key] then return true end
    local s = util.suggest(key, names)
    if s then return false, string.format("did you mean '%s'?", s) end
    return false, string.format("scripts/train.lua --help --algo=%s lists the flags", tostring(algo))
  end
end

-- The envs of a checked config as {id =, score = {lo, hi} or nil}.
function M.envs(cfg)
  local t = {}
  for i, e in ipairs(cfg.envs) do
    if type(e) == "string" then t[i] = { id = e } else t[i] = { id = e.id or e.name, score = e.score } end
  end
  return t
end

-- The seeds of a checked config (budget.seeds: a list, or a count n: 1..n).
function M.seeds(cfg)
  local s = cfg.budget.seeds
  if type(s) == "number" then
    local t = {}
    for i = 1, s do t[i] = i end
    return t
  end
  return s
end

-- The variant names of a checked config, sorted (variants is a table
-- keyed by name; a list of {name =} is taken too).
function M.variant_names(cfg)
  if cfg.variant_names then return cfg.variant_names end
  local names = {}
  if cfg.variants[1] ~= nil then
    for i, v in ipairs(cfg.variants) do names[i] = v.name end
    return names
  end
  for n in pairs(cfg.variants) do names[#names + 1] = n end
  table.sort(names)
  return names
end

-- The best trial's id of a plan state (best is the trial, or its id).
function M.best_id(st)
  local b = st and st.best
  if type(b) == "table" then return b.id end
  return b
end

-- The searched flags of variant name: {{name, kind}} sorted by name (the
-- library's dims, or a space table).
function M.dims(cfg, name)
  local v = M.variant(cfg, name)
  local t = {}
  if v.dims then
    for i, d in ipairs(v.dims) do t[i] = { name = d.name, kind = d.kind } end
    return t
  end
  for k, sp in pairs(v.space or {}) do t[#t + 1] = { name = k, kind = type(sp) == "table" and sp.kind or "?" } end
  table.sort(t, function(a, b) return a.name < b.name end)
  return t
end

function M.variant(cfg, name)
  if cfg.variants[name] then return cfg.variants[name] end
  for _, v in ipairs(cfg.variants) do if v.name == name then return v end end
end

-- The train.lua flags of a trial: the config's, the variant's, the trial's
-- (later ones win), as name -> string (or true for a switch).
function M.trial_flags(cfg, vname, config)
  local f = {}
  for k, v in pairs(cfg.flags or {}) do f[(k:gsub("%-", "_"))] = flagval(v) end
  for k, v in pairs(M.variant(cfg, vname).flags or {}) do f[(k:gsub("%-", "_"))] = flagval(v) end
  for k, v in pairs(config or {}) do f[(k:gsub("%-", "_"))] = flagval(v) end
  return f
end

-- The flags as sorted "--name=value" words.
function M.flag_words(flags)
  local keys = {}
  for k in pairs(flags) do keys[#keys + 1] = k end
  table.sort(keys)
  local out = {}
  for _, k in ipairs(keys) do
    local name = "--" .. k:gsub("_", "-")
    out[#out + 1] = flags[k] == true and name or name .. "=" .. flags[k]
  end
  return out
end

-- The runs of one todo item {trial, rung, steps, config}: one per env and
-- seed, in the shape sweep.execute and sweep.collect take.
function M.runs_of(cfg, vname, item, out)
  local runs = {}
  local flags = M.flag_words(M.trial_flags(cfg, vname, item.config))
  for _, e in ipairs(M.envs(cfg)) do
    for _, s in ipairs(M.seeds(cfg)) do
      local rel = string.format("runs/%s/t%d/r%d/%s/s%d", vname, item.trial, item.rung, e.id, s)
      local args = { "--env=" .. e.id, "--algo=" .. cfg.algo, "--seed=" .. s, "--steps=" .. item.steps }
      for _, w in ipairs(flags) do args[#args + 1] = w end
      args[#args + 1] = "--out=" .. out .. "/" .. rel
      args[#args + 1] = "--quiet"
      runs[#runs + 1] = { env = e.id, algo = cfg.algo, variant = vname, seed = s, steps = item.steps, rel = rel,
        dir = out .. "/" .. rel, args = args, trial = item.trial, rung = item.rung }
    end
  end
  return runs
end

-- ---------------------------------------------------------------- state on disk

local function exit_code(run)
  local c = read(run.dir .. "/exit_code")
  return c and math.tointeger(tonumber(c:match("%-?%d+") or "")) or nil
end

-- "done", "failed" (finished: never run again) or "pending".
function M.disk_status(run)
  if sweep.is_done(run) then return "done" end
  local code = exit_code(run)
  if code == nil or M.INTERRUPTED[code] then return "pending" end
  return "failed"
end

-- The pid of the run's train.lua when it is still running (a tune killed
-- by SIGKILL leaves its runs going), else nil.
function M.running_pid(run)
  if read(run.dir .. "/exit_code") then return nil end
  local pid = (read(run.dir .. "/pid") or ""):match("%d+")
  if not pid then return nil end
  local p = io.popen("ps -o args= -p " .. pid .. " 2>/dev/null")
  local args = p and p:read("a") or ""
  if p then p:close() end
  return args:find(run.dir, 1, true) and pid or nil
end

-- Reads a finished run back: sweep.collect, then the env steps it made
-- (summary.json's global_step).
function M.collect(run)
  sweep.collect(run)
  local s = json.decode(read(run.dir .. "/summary.json") or "null")
  run.env_steps = type(s) == "table" and math.tointeger(s.global_step) or 0
  return run
end

-- The objective of a (trial, rung) from its collected runs, and a failed
-- run's reason when it failed.
function M.objective(cfg, runs)
  local per_env, envs = {}, M.envs(cfg)
  for _, r in ipairs(runs) do
    if r.status ~= "done" then return -math.huge, r end
    local v = cfg.objective == "auc" and r.auc or r.final_avg20
    if type(v) ~= "number" or v ~= v then
      r.status, r.reason = "failed", "no " .. (cfg.objective == "auc" and "auc" or "final_avg20")
      return -math.huge, r
    end
    local t = per_env[r.env] or { sum = 0, n = 0 }
    per_env[r.env] = t
    t.sum, t.n = t.sum + v, t.n + 1
  end
  local sum = 0
  for _, e in ipairs(envs) do
    local t = per_env[e.id]
    local m = t.sum / t.n
    if e.score then
      local lo, hi = e.score.lo or e.score[1], e.score.hi or e.score[2]
      m = (m - lo) / (hi - lo)
    end
    sum = sum + m
  end
  return sum / #envs
end

-- ---------------------------------------------------------------- MPI

-- Under MPI, after this rank's own runs of a batch: waits until every run
-- of pending has an exit_code (whoever ran it). A run whose holder's
-- heartbeat stopped is lost: raises (the next invocation runs it again).
function M.mpi_barrier(ctx, pending)
  local left = {}
  for _, r in ipairs(pending) do left[#left + 1] = r end
  while #left > 0 do
    ctx:beat()
    ctx:observe(os.time())
    for i = #left, 1, -1 do
      local r = left[i]
      if read(r.dir .. "/exit_code") then
        table.remove(left, i)
      else
        local d = string.format("%s/claims/%d", ctx.dir, ctx.index[r])
        local owner = math.tointeger(tonumber((read(d .. "/rank") or ""):match("%d+") or ""))
        if owner and owner ~= ctx.rank and ctx:stale(owner) then
          error(string.format("rank %d stopped (no heartbeat for %d s) while running %s: run the tune again to "
            .. "continue", owner, ctx.timeout, r.rel), 0)
        end
      end
    end
    if #left > 0 then sweep.pause("sleep 0.5") end
  end
end

-- Waits for runs left running by an earlier, killed tune.
-- Under MPI (ctx) a run claimed in this session is another rank's, not
-- a leftover.
function M.wait_running(runs, say, ctx)
  local waiting = {}
  for _, r in ipairs(runs) do
    local mine = ctx and os.execute("test -d " .. q(string.format("%s/claims/%d", ctx.dir, ctx.index[r]))) == true
    if not mine and M.running_pid(r) then waiting[#waiting + 1] = r end
  end
  if #waiting == 0 then return end
  say(string.format("%d runs of an earlier invocation are still running: waiting for them", #waiting))
  while #waiting > 0 do
    for i = #waiting, 1, -1 do
      if not M.running_pid(waiting[i]) then table.remove(waiting, i) end
    end
    if #waiting > 0 then sweep.pause("sleep 0.5") end
  end
end

M.q = q
return M
