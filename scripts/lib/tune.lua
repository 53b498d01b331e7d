-- SPDX-License-Identifier: MIT
-- tune.lua -- the pure logic of scripts/tune.lua (hyperparameter tuning):
-- search spaces, the check of a tune file, the rungs of successive halving,
-- and plan(), the one decision function. No processes, no files, no clock,
-- no global random state: everything follows from the config and the
-- results so far, so a tune is reproducible and resumable. The samplers are
-- in tune_sample.lua, the tune file's check in tune_check.lua;
-- docs/tuning.md is the user's guide.
--
-- Use:
--   local tune = require("tune")              -- scripts/lib on package.path
--   local env = tune.space_env()              -- the tune file's log_uniform, uniform, int, choice
--   local cfg = tune.check(file_table, is_flag)
--   local state = tune.plan(cfg, "bp", results)  -- run state.todo, add results, call again
-- and for the driver: tune.rungs(cfg), tune.max_budget(cfg) (what a variant
-- spends without failures), tune.objective(cfg, values) (a trial's value
-- from its runs'), tune.trial_flags(cfg, variant, config) (the flags of a
-- run), tune.space_string(dim), tune.numstr(x).
-- is_flag(name) gets the flag with '_' (the file may write '-'); it returns
-- true, or false and a hint ("did you mean --learning-rate?"). Without it
-- every name is accepted.
--
-- The tune file's format, its spaces and check() are in tune_check.lua.
--
-- RUNGS: R = floor(log_eta(steps / min_steps)) (with rungs = K: R = K - 1),
-- steps_r = round(steps / eta^(R - r)) for r = 0..R, so steps_0 >= min_steps
-- and steps_R = steps. scheduler "none": one rung, steps.
--
-- PROMOTION (synchronous successive halving on ASHA's rungs): every trial
-- runs at rung 0. Once every result of rung r is in (for r = 0: of all
-- `trials` trials), its top max(1, floor(n_r / eta)) trials by objective
-- (ties: the lower id) that did not fail go to rung r + 1: a new run from
-- scratch at steps_{r+1} (runs do not resume each other's checkpoints). The
-- decision depends only on the set of results, never on their order.
--
-- SAMPLING: trial i's configuration is a function of (seed, i) for the
-- random, halton and sobol samplers, all decided at once. TPE: trials
-- 1..startup come from startup_sampler; then batches of `batch` trials,
-- batch k from the rung-0 results of every trial of the batches before it;
-- a batch is decided only once those results are all in.
--
-- plan(cfg, variant, results): results[id][rung] = objective (a number;
-- -math.huge, NaN or any non-number: the trial failed) for every run that
-- finished (integer keys, or their strings as JSON gives them); returns
--   { trials = { {id, config, rungs = {[r] = value}, status, top_rung}, ... },
--     todo = { {trial, rung, steps, config}, ... },  decided runs without a result
--     finished = bool, best = the best trial (a member of trials) or nil,
--     budget = { steps = sum of the decided runs' steps, runs = their count } }
-- A trial's status: "running" (at rung 0, undecided), "promoted" (at a rung
-- above 0, undecided), "stopped" (its rung was decided without it),
-- "failed", "complete" (finished the top rung). best: the trial with the
-- highest objective at the highest rung any trial finished (ties: lower id).
local sample = require("tune_sample")
local tc = require("tune_check")

local M = {}
M.sample = sample
M.space_env, M.check, M.numstr = tc.space_env, tc.check, tc.numstr

local fail, show, numstr = tc.fail, tc.show, tc.numstr

-- ---------------------------------------------------------------- rungs

-- {{rung = 0, steps = s0}, ..., {rung = R, steps = budget.steps}}.
function M.rungs(cfg)
  local b = cfg.budget
  local t = {}
  for r = 0, b.R do
    t[r + 1] = { rung = r, steps = math.floor(b.steps / b.eta ^ (b.R - r) + 0.5) }
  end
  return t
end

-- The most a variant can spend when no trial fails: {steps, runs, per_rung =
-- {{rung, steps, trials}}} with n_0 = trials, n_{r+1} = max(1, floor(n_r / eta))
-- (steps per env and seed, as plan()'s budget).
function M.max_budget(cfg)
  local b = cfg.budget
  local out = { steps = 0, runs = 0, per_rung = {} }
  local n = b.trials
  for i, r in ipairs(M.rungs(cfg)) do
    if i > 1 then n = math.max(1, n // b.eta) end
    out.per_rung[i] = { rung = r.rung, steps = r.steps, trials = n }
    out.steps, out.runs = out.steps + n * r.steps, out.runs + n
  end
  return out
end

-- A space as the file writes it: "log_uniform{0.0001, 0.01}", "choice{2, 4, 8}".
function M.space_string(dim)
  if dim.kind == "choice" then
    local t = {}
    for i, v in ipairs(dim.values) do t[i] = show(v) end
    return "choice{" .. table.concat(t, ", ") .. "}"
  end
  return string.format("%s{%s, %s}", dim.kind, numstr(dim.lo), numstr(dim.hi))
end

-- ---------------------------------------------------------------- plan

local function is_failed(x) return type(x) ~= "number" or x ~= x or x == -math.huge end

-- results[id][r], also under string keys ("3", "0": a table read back from
-- JSON); nil when missing.
local function result(results, id, r)
  local t = results[id] or results[tostring(id)]
  if t == nil then return nil end
  local x = t[r]
  if x == nil then x = t[tostring(r)] end
  return x
end

-- The configurations decided so far: configs[id] for id = 1..n (n < trials
-- while TPE waits for a batch's results).
local function decide_configs(cfg, v, results)
  local N, dims, seed = cfg.budget.trials, v.dims, cfg.seed
  local configs = {}
  local function from_point(sampler, id)
    local u = sample.point(sampler, seed, dims, id)
    local c = {}
    for d, dim in ipairs(dims) do c[dim.name] = sample.map(dim, u[d]) end
    return c
  end
  if cfg.sampler ~= "tpe" then
    for id = 1, N do configs[id] = from_point(cfg.sampler, id) end
    return configs
  end
  local t = cfg.tpe
  local first = math.min(t.startup, N)
  for id = 1, first do configs[id] = from_point(t.startup_sampler, id) end
  local done = first -- trials 1..done are decided
  while done < N do
    -- the next batch needs every rung-0 result of trials 1..done
    local obs = {}
    for id = 1, done do
      local x = result(results, id, 0)
      if x == nil then return configs end
      obs[#obs + 1] = { id = id, config = configs[id], value = is_failed(x) and -math.huge or x }
    end
    local last = math.min(done + t.batch, N)
    for id = done + 1, last do configs[id] = sample.tpe(t, seed, dims, id, obs) end
    done = last
  end
  return configs
end

local function copy(t)
  local c = {}
  for k, x in pairs(t) do c[k] = x end
  return c
end

-- The decision function: see the header.
function M.plan(cfg, variant, results)
  local v = cfg.variants[variant]
  if not v then fail("no variant %s in the tune (variants: %s)", show(variant), table.concat(cfg.variant_names, ", ")) end
  results = results or {}
  local rungs = M.rungs(cfg)
  local R, eta, N = cfg.budget.R, cfg.budget.eta, cfg.budget.trials
  local configs = decide_configs(cfg, v, results)
  local trials, todo = {}, {}
  local state = { trials = trials, todo = todo, budget = { steps = 0, runs = 0 } }
  for id, c in ipairs(configs) do
    trials[id] = { id = id, config = c, rungs = {}, top_rung = 0, status = "running" }
  end
  local pop = {}
  for id = 1, #configs do pop[id] = id end
  local all_done = false
  for r = 0, R do
    local complete = r > 0 or #configs == N
    for _, id in ipairs(pop) do
      local tr = trials[id]
      tr.top_rung = r
      tr.status = r == 0 and "running" or "promoted"
      state.budget.steps = state.budget.steps + rungs[r + 1].steps
      state.budget.runs = state.budget.runs + 1
      local x = result(results, id, r)
      if x == nil then
        complete = false
        todo[#todo + 1] = { trial = id, rung = r, steps = rungs[r + 1].steps, config = copy(tr.config) }
      else
        if is_failed(x) then x = -math.huge end
        tr.rungs[r] = x
        if x == -math.huge then tr.status = "failed" elseif r == R then tr.status = "complete" end
      end
    end
    if not complete then break end
    if r == R then all_done = true; break end
    -- promote the top max(1, floor(n_r / eta)) that did not fail
    local ranked = {}
    for _, id in ipairs(pop) do
      if trials[id].rungs[r] ~= -math.huge then ranked[#ranked + 1] = id end
    end
    table.sort(ranked, function(a, b)
      local xa, xb = trials[a].rungs[r], trials[b].rungs[r]
      if xa ~= xb then return xa > xb end
      return a < b
    end)
    local k = math.min(math.max(1, #pop // eta), #ranked)
    local promoted = {}
    for i = 1, k do promoted[i] = ranked[i] end
    table.sort(promoted)
    local up = {}
    for _, id in ipairs(promoted) do up[id] = true end
    for _, id in ipairs(pop) do
      if not up[id] and trials[id].status ~= "failed" then trials[id].status = "stopped" end
    end
    pop = promoted
    if #pop == 0 then all_done = true; break end
  end
  state.finished = all_done
  -- best: the highest rung with a finished result, then the objective, then the lower id
  local best
  for _, tr in ipairs(trials) do
    for r = tr.top_rung, 0, -1 do
      local x = tr.rungs[r]
      if x ~= nil and x ~= -math.huge then
        if not best or r > best.r or (r == best.r and x > best.x) then best = { r = r, x = x, tr = tr } end
        break
      end
    end
  end
  state.best = best and best.tr or nil
  return state
end

-- ---------------------------------------------------------------- objective

-- A trial's objective at one rung from its runs' values: values[i] =
-- {env = id, value = x} (x nil, NaN or -math.huge: that run failed). The
-- mean over the runs of x, each normalised by its env's score when the env
-- has one; -math.huge when any run failed or there are none.
function M.objective(cfg, values)
  local score = {}
  for _, e in ipairs(cfg.envs) do score[e.id] = e.score end
  local sum, n = 0, 0
  for _, r in ipairs(values) do
    local x = r.value
    if type(x) ~= "number" or is_failed(x) then return -math.huge end
    local s = score[r.env]
    if s then x = (x - s.lo) / (s.hi - s.lo) end
    sum, n = sum + x, n + 1
  end
  if n == 0 then return -math.huge end
  return sum / n
end

-- The train.lua flags of a trial: the file's flags, the variant's, then
-- the trial's configuration (a new table; values as given).
function M.trial_flags(cfg, variant, config)
  local f = copy(cfg.flags)
  for k, x in pairs(cfg.variants[variant].flags) do f[k] = x end
  for k, x in pairs(config) do f[k] = x end
  return f
end

return M
