-- SPDX-License-Identifier: MIT
-- tune_check.lua -- the tune file of scripts/tune.lua: its four space
-- constructors and check(), which validates a file's table and returns it
-- normalised, or raises error(msg, 0) with msg naming the entry at fault
-- ("variants.bp.space.learning_rate: log_uniform needs 0 < lo < hi, got lo =
-- -1, hi = 0.01"). Used through tune.lua (tune.space_env, tune.check);
-- docs/tuning.md is the user's guide.
--
-- A TUNE FILE returns a table (keys not listed are errors):
--   name      = "cartpole"        optional, letters, digits, '_', '-', '.'
--   algo      = "ppo"             train.lua's --algo (required)
--   envs      = { "CartPole-v1" } or { { id = "CartPole-v1", score = { lo, hi } }, ... }:
--               with several envs every env needs score, and a run's value
--               x counts as (x - lo) / (hi - lo)
--   flags     = { ... }           train.lua flags fixed for every variant
--   variants  = { bp = { flags = { mode = "bp" }, space = { learning_rate = log_uniform{1e-4, 1e-2} } }, ... }
--               (or a list of { name = "bp", flags =, space = }); each
--               variant is tuned on its own with the same budget
--   objective = "final" (default: a run's final 20-episode average) or "auc"
--               (its area under the curve); a trial's objective is the mean
--               over its envs (normalised) and seeds, maximised
--   budget    = { trials = 16,    trials per variant (required)
--                 seeds = 2,      seeds per trial: a count (1..n) or a list {1, 2} (default 1)
--                 steps = 50000,  env steps of a run at the top rung (required)
--                 min_steps = N | rungs = K,  the bottom rung's steps, or the count of
--                                 rungs (default: rungs = 1 + floor(log_eta(trials)))
--                 eta = 3 }       integer >= 2: the top 1/eta of a rung is promoted
--   scheduler = "asha" (default) | "none" (every trial runs once, at budget.steps)
--   sampler   = "halton" (default) | "random" | "sobol" | "tpe"
--   seed      = 0                 the sampler's seed (an integer; default 0)
--   tpe       = { startup = 8, batch = 4, gamma = 0.25, candidates = 24,
--                 startup_sampler = "halton" }    (only read with sampler = "tpe")
-- Spaces: log_uniform{lo, hi} (0 < lo < hi), uniform{lo, hi} (lo < hi),
-- int{lo, hi} (integers, lo < hi), choice{v1, v2, ...} (numbers, strings or
-- booleans, at least two, distinct). A space with a single value (lo == hi,
-- one choice) is an error: a constant belongs in flags. The flags env,
-- algo, seed, steps, total_timesteps, out, quiet, resume, list and help are
-- set by the tuner, never by the file.
local sample = require("tune_sample")
local util = require("util")

local M = {}

-- ---------------------------------------------------------------- helpers

local function fail(fmt, ...) error(string.format(fmt, ...), 0) end

local numstr = util.numstr
M.numstr = numstr

local function show(v)
  if type(v) == "number" then return numstr(v) end
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

local keylist, check_keys = util.keylist, util.check_keys

local function is_list(t)
  local n = #t
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 or k > n then return false end
  end
  return true
end

local function check_name(s, where)
  if type(s) ~= "string" then fail("%s needs a name (a string), got %s", where, show(s)) end
  if not s:match("^[%w_.%-]+$") or s == "." or s == ".." then
    fail("%s: name %s must be letters, digits, '_', '-' or '.' (it names a folder)", where, show(s))
  end
  return s
end

local function as_int(v)
  if math.type(v) == "integer" then return v end
  if type(v) == "number" and v == math.floor(v) and math.abs(v) < 2 ^ 53 then return math.tointeger(v) end
  return nil
end

local function check_int(v, where, min)
  local i = as_int(v)
  if i == nil or i < min then fail("%s must be an integer >= %d, got %s", where, min, show(v)) end
  return i
end

local function finite(x) return type(x) == "number" and x == x and x ~= math.huge and x ~= -math.huge end

M.fail, M.show = fail, show

-- ---------------------------------------------------------------- spaces

local KINDS = { log_uniform = true, uniform = true, int = true, choice = true }

-- A constructor: kind{lo, hi} (also kind{lo = , hi = } or kind(lo, hi));
-- choice{v1, v2, ...}. It only records; check() validates and names the
-- entry.
local function constructor(kind)
  return function(a, b)
    local t
    if type(a) == "table" then t = a else t = { a, b } end
    if kind == "choice" then
      local values, n = {}, 0
      for k in pairs(t) do
        if math.type(k) == "integer" and k > n then n = k end
      end
      for i = 1, n do values[i] = t[i] end
      return { kind = kind, values = values, n = n, list = is_list(t) }
    end
    local lo, hi = t.lo, t.hi
    if lo == nil then lo = t[1] end
    if hi == nil then hi = t[2] end
    local n = #t
    if t.lo ~= nil or t.hi ~= nil then n = 2 + #t end
    return { kind = kind, lo = lo, hi = hi, n = n }
  end
end

function M.space_env()
  return { log_uniform = constructor("log_uniform"), uniform = constructor("uniform"), int = constructor("int"),
    choice = constructor("choice") }
end

-- A space from a constructor, validated: {name, kind, lo, hi, values}.
local function check_space(s, name, where)
  if type(s) ~= "table" or not KINDS[s.kind] then
    fail("%s: not a search space (write log_uniform{lo, hi}, uniform{lo, hi}, int{lo, hi} or choice{...}), got %s",
      where, type(s) == "table" and "a plain table" or show(s))
  end
  local k = s.kind
  if k == "choice" then
    if not s.list then fail("%s: choice takes a list of values: choice{v1, v2, ...}", where) end
    if s.n < 2 then
      fail("%s: choice needs at least two values, got %d (a constant belongs in flags)", where, s.n)
    end
    local seen = {}
    for i = 1, s.n do
      local v = s.values[i]
      local tv = type(v)
      if tv ~= "number" and tv ~= "string" and tv ~= "boolean" then
        fail("%s: choice value %d must be a number, string or boolean, got %s", where, i, tv)
      end
      if tv == "number" and not finite(v) then fail("%s: choice value %d is %s", where, i, numstr(v)) end
      if seen[v] then fail("%s: choice lists %s twice", where, show(v)) end
      seen[v] = true
    end
    return { name = name, kind = k, values = s.values }
  end
  if s.n ~= 2 then fail("%s: %s takes two numbers {lo, hi}, got %d", where, k, s.n) end
  local lo, hi = s.lo, s.hi
  if not finite(lo) or not finite(hi) then
    fail("%s: %s needs two finite numbers {lo, hi}, got lo = %s, hi = %s", where, k, show(lo), show(hi))
  end
  if k == "int" then
    local a, b = as_int(lo), as_int(hi)
    if not a or not b then fail("%s: int needs integers, got lo = %s, hi = %s", where, show(lo), show(hi)) end
    lo, hi = a, b
  end
  if k == "log_uniform" and not (lo > 0 and lo < hi) then
    fail("%s: log_uniform needs 0 < lo < hi, got lo = %s, hi = %s", where, numstr(lo), numstr(hi))
  end
  if lo > hi then fail("%s: %s needs lo < hi, got lo = %s > hi = %s", where, k, numstr(lo), numstr(hi)) end
  if lo == hi then
    fail("%s: %s range is empty (lo = hi = %s; a constant belongs in flags)", where, k, numstr(lo))
  end
  return { name = name, kind = k, lo = lo, hi = hi }
end

-- ---------------------------------------------------------------- check

-- Flags the tuner sets per run: a tune file may not.
local RESERVED = { env = true, algo = true, seed = true, steps = true, total_timesteps = true, out = true,
  quiet = true, resume = true, list = true, help = true }

local TOP_KEYS = { name = true, algo = true, envs = true, flags = true, variants = true, objective = true,
  budget = true, scheduler = true, sampler = true, seed = true, tpe = true }
local BUDGET_KEYS = { trials = true, seeds = true, steps = true, min_steps = true, rungs = true, eta = true }
local VARIANT_KEYS = { name = true, flags = true, space = true }
local TPE_KEYS = { startup = true, batch = true, gamma = true, candidates = true, startup_sampler = true }
local SCHEDULERS = { asha = true, none = true }
local SAMPLERS = { random = true, halton = true, sobol = true, tpe = true }
local OBJECTIVES = { final = true, auc = true }

local function flag_name(k, where, is_flag)
  if type(k) ~= "string" or not k:match("^[%a][%w_%-]*$") then fail("%s: bad flag name %s", where, show(k)) end
  local key = k:gsub("%-", "_")
  if RESERVED[key] then
    fail("%s.%s: flag set by the tuner (use envs, algo, budget.seeds and budget.steps)", where, k)
  end
  local ok, hint = is_flag(key)
  if not ok then
    fail("%s.%s: not a train.lua flag%s", where, k, hint and hint ~= "" and ("; " .. hint) or "")
  end
  return key
end

local function check_flags(t, where, is_flag)
  if t == nil then return {} end
  if type(t) ~= "table" then fail("%s must be a table of train.lua flags, got %s", where, type(t)) end
  local out = {}
  for k, v in pairs(t) do
    local key = flag_name(k, where, is_flag)
    local tv = type(v)
    if tv ~= "number" and tv ~= "string" and tv ~= "boolean" then
      fail("%s.%s must be a string, number or boolean, got %s", where, k, tv)
    end
    out[key] = v
  end
  return out
end

local function choose(v, set, where, default)
  if v == nil then return default end
  if type(v) ~= "string" or not set[v] then fail("%s must be one of %s, got %s", where, keylist(set), show(v)) end
  return v
end

local function check_envs(e)
  if type(e) ~= "table" or #e == 0 or not is_list(e) then
    fail("envs must be a non-empty list of env ids or {id =, score = {lo, hi}} tables, got %s",
      type(e) == "table" and "an empty or non-list table" or show(e))
  end
  local out, seen = {}, {}
  for i, x in ipairs(e) do
    local where = string.format("envs[%d]", i)
    local id, score
    if type(x) == "string" then
      id = x
    elseif type(x) == "table" then
      check_keys(x, { id = true, score = true }, where)
      id, score = x.id, x.score
      if type(id) ~= "string" then fail("%s.id must be an env id (a string), got %s", where, show(id)) end
      if score ~= nil then
        if type(score) ~= "table" or not is_list(score) or #score ~= 2 or not finite(score[1]) or not finite(score[2])
          or score[1] >= score[2] then
          fail("%s.score must be {lo, hi} with lo < hi (the returns that count as 0 and 1), got %s", where,
            type(score) == "table" and ("{" .. table.concat((function()
              local s = {}
              for j, v in ipairs(score) do s[j] = show(v) end
              return s
            end)(), ", ") .. "}") or show(score))
        end
        score = { lo = score[1], hi = score[2] }
      end
    else
      fail("%s must be an env id or {id =, score = {lo, hi}}, got %s", where, show(x))
    end
    check_name(id, where)
    if seen[id] then fail("%s: env %s listed twice", where, id) end
    seen[id] = true
    out[i] = { id = id, score = score }
  end
  if #out > 1 then
    for i, x in ipairs(out) do
      if not x.score then
        fail("envs[%d] (%s): score = {lo, hi} is required when several envs are tuned together (the objective "
          .. "averages normalised returns)", i, x.id)
      end
    end
  end
  return out
end

local function check_seeds(s)
  if s == nil then return { 1 } end
  if type(s) == "number" then
    local n = check_int(s, "budget.seeds", 1)
    local t = {}
    for i = 1, n do t[i] = i end
    return t
  end
  if type(s) ~= "table" or #s == 0 or not is_list(s) then
    fail("budget.seeds must be a count or a non-empty list of seeds, got %s", show(s))
  end
  local out, seen = {}, {}
  for i, v in ipairs(s) do
    local x = check_int(v, string.format("budget.seeds[%d]", i), 0)
    if seen[x] then fail("budget.seeds lists seed %d twice", x) end
    seen[x] = true
    out[i] = x
  end
  return out
end

local function check_budget(b, scheduler)
  if type(b) ~= "table" then fail("budget must be a table {trials =, steps =, ...}, got %s", show(b)) end
  check_keys(b, BUDGET_KEYS, "budget")
  if b.trials == nil then fail("budget.trials is required (trials per variant)") end
  if b.steps == nil then fail("budget.steps is required (env steps of a run at the top rung)") end
  local out = { trials = check_int(b.trials, "budget.trials", 1), seeds = check_seeds(b.seeds),
    steps = check_int(b.steps, "budget.steps", 1), eta = check_int(b.eta == nil and 3 or b.eta, "budget.eta", 2) }
  if b.min_steps ~= nil and b.rungs ~= nil then fail("budget: give min_steps or rungs, not both") end
  if scheduler == "none" then
    out.R = 0
  elseif b.min_steps ~= nil then
    local m = check_int(b.min_steps, "budget.min_steps", 1)
    if out.steps < m then
      fail("budget.steps = %d is below the smallest rung (budget.min_steps = %d)", out.steps, m)
    end
    local R, p = 0, out.eta
    while m * p <= out.steps do R, p = R + 1, p * out.eta end
    out.min_steps, out.R = m, R
  else
    local R, p
    if b.rungs ~= nil then
      R = check_int(b.rungs, "budget.rungs", 1) - 1
    else
      R, p = 0, out.eta
      while p <= out.trials do R, p = R + 1, p * out.eta end
    end
    if out.steps < out.eta ^ R then
      fail("budget.steps = %d is below the smallest rung: %d rungs with eta = %d need steps >= %d", out.steps, R + 1,
        out.eta, math.tointeger(out.eta ^ R))
    end
    out.R = R
  end
  return out
end

local function check_tpe(t, trials)
  if t == nil then t = {} end
  if type(t) ~= "table" then fail("tpe must be a table, got %s", show(t)) end
  check_keys(t, TPE_KEYS, "tpe")
  local out = {
    startup = check_int(t.startup == nil and math.min(8, trials) or t.startup, "tpe.startup", 1),
    batch = check_int(t.batch == nil and 4 or t.batch, "tpe.batch", 1),
    candidates = check_int(t.candidates == nil and 24 or t.candidates, "tpe.candidates", 1),
    gamma = t.gamma == nil and 0.25 or t.gamma,
    startup_sampler = choose(t.startup_sampler, { random = true, halton = true, sobol = true }, "tpe.startup_sampler",
      "halton"),
  }
  if not finite(out.gamma) or out.gamma <= 0 or out.gamma >= 1 then
    fail("tpe.gamma must be a number in (0, 1), got %s", show(out.gamma))
  end
  return out
end

local function check_variant(v, name, where, cfg, is_flag)
  if type(v) ~= "table" then fail("%s must be a table {flags =, space =}, got %s", where, show(v)) end
  check_keys(v, VARIANT_KEYS, where)
  local out = { name = name, flags = check_flags(v.flags, where .. ".flags", is_flag), dims = {} }
  if type(v.space) ~= "table" or next(v.space) == nil then
    fail("%s.space must be a non-empty table {flag = log_uniform{...}, ...}, got %s", where,
      type(v.space) == "table" and "an empty table" or show(v.space))
  end
  for k, s in pairs(v.space) do
    local key = flag_name(k, where .. ".space", is_flag)
    local d = check_space(s, key, where .. ".space." .. k)
    if cfg.flags[key] ~= nil then fail("%s.space.%s: also fixed in flags (a flag is fixed or searched)", where, k) end
    if out.flags[key] ~= nil then
      fail("%s.space.%s: also fixed in %s.flags (a flag is fixed or searched)", where, k, where)
    end
    out.dims[#out.dims + 1] = d
  end
  table.sort(out.dims, function(a, b) return a.name < b.name end)
  for i = 2, #out.dims do
    if out.dims[i].name == out.dims[i - 1].name then
      fail("%s.space: flag %s given twice (with '-' and '_')", where, out.dims[i].name)
    end
  end
  if cfg.sampler == "sobol" or (cfg.sampler == "tpe" and cfg.tpe.startup_sampler == "sobol") then
    if #out.dims > sample.SOBOL_DIMS then
      fail("%s.space: %d dimensions, sobol has %d (use halton)", where, #out.dims, sample.SOBOL_DIMS)
    end
  end
  return out
end

-- Validates a tune file's table; returns it normalised:
-- {name, algo, envs = {{id, score = {lo, hi} | nil}}, flags, variants =
--  {[name] = {name, flags, dims = {{name, kind, lo, hi, values}} sorted by name}},
--  variant_names (the file's order for a list, sorted for a map), objective,
--  budget = {trials, seeds, steps, eta, min_steps, R}, scheduler, sampler,
--  seed, tpe}.
-- is_flag(name) -> true, or false and a hint ("did you mean ...?").
function M.check(c, is_flag)
  if type(c) ~= "table" then fail("the tune file must return a table, got %s", type(c)) end
  is_flag = is_flag or function() return true end
  check_keys(c, TOP_KEYS, "tune file")
  if c.name ~= nil then check_name(c.name, "name") end
  if type(c.algo) ~= "string" or c.algo == "" then fail("algo must be an algorithm name (a string), got %s", show(c.algo)) end
  local cfg = { name = c.name, algo = c.algo }
  cfg.envs = check_envs(c.envs)
  cfg.flags = check_flags(c.flags, "flags", is_flag)
  cfg.objective = choose(c.objective, OBJECTIVES, "objective", "final")
  cfg.scheduler = choose(c.scheduler, SCHEDULERS, "scheduler", "asha")
  cfg.sampler = choose(c.sampler, SAMPLERS, "sampler", "halton")
  cfg.seed = check_int(c.seed == nil and 0 or c.seed, "seed", 0)
  cfg.budget = check_budget(c.budget, cfg.scheduler)
  cfg.tpe = check_tpe(c.tpe, cfg.budget.trials)
  if type(c.variants) ~= "table" or next(c.variants) == nil then
    fail("variants must be a non-empty table { name = { flags =, space = }, ... }, got %s",
      type(c.variants) == "table" and "an empty table" or show(c.variants))
  end
  cfg.variants, cfg.variant_names = {}, {}
  if is_list(c.variants) then
    for i, v in ipairs(c.variants) do
      local where = string.format("variants[%d]", i)
      local name = check_name(type(v) == "table" and v.name or nil, where)
      if cfg.variants[name] then fail("%s: variant %s given twice", where, name) end
      cfg.variants[name] = check_variant(v, name, "variants." .. name, cfg, is_flag)
      cfg.variant_names[i] = name
    end
  else
    for name in pairs(c.variants) do
      check_name(name, "variants")
      cfg.variant_names[#cfg.variant_names + 1] = name
    end
    table.sort(cfg.variant_names)
    for _, name in ipairs(cfg.variant_names) do
      local v = c.variants[name]
      if type(v) == "table" and v.name ~= nil and v.name ~= name then
        fail("variants.%s.name is %s (leave it out, or make it %s)", name, show(v.name), name)
      end
      cfg.variants[name] = check_variant(v, name, "variants." .. name, cfg, is_flag)
    end
  end
  return cfg
end

return M
