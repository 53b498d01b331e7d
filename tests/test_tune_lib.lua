-- SPDX-License-Identifier: MIT
-- test_tune_lib.lua -- scripts/lib/tune.lua (with tune_check.lua and
-- tune_sample.lua), the pure logic of the tuner, on synthetic objectives (no
-- training, no processes): rung budgets, promotions, decisions independent
-- of the order results arrive in (jobs=1 against jobs=2), resume mid-rung,
-- reproducible sampling, the spaces' ranges, the Halton and Sobol points,
-- TPE against random search on a known optimum, and the errors of bad tune
-- files. TAP.
-- Run by ctest as build/lpdm tests/test_tune_lib.lua (plain lua5.4 works too).

local HERE = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = HERE .. "/lib/?.lua;" .. HERE .. "/../scripts/lib/?.lua;" .. package.path
local T = require("testlib")
local tune = require("tune")
local sample = require("tune_sample")

local check, eq, fails = T.check, T.eq, T.fails

local tests = {}
local function test(name, fn) tests[#tests + 1] = { name = name, fn = fn } end

-- ---------------------------------------------------------------- helpers

local S = tune.space_env()
local FLAGS = { learning_rate = true, ent_coef = true, clip_coef = true, num_minibatches = true, mode = true,
  loss = true, hidden = true, act = true, anneal_lr = true, gamma = true }
-- the stub of the driver's is_flag: train.lua's flags for the algorithm
local function is_flag(name)
  if FLAGS[name] then return true end
  if name == "learnig_rate" then return false, "did you mean --learning-rate?" end
  return false
end

-- A tune file's table: a one-variant PPO tune; over(t) replaces its fields.
local function base(over)
  local c = {
    name = "t", algo = "ppo", envs = { "CartPole-v1" },
    flags = { hidden = "64,64" },
    variants = { bp = { flags = { mode = "bp" }, space = {
      learning_rate = S.log_uniform { 1e-5, 1e-1 }, ent_coef = S.uniform { 0, 0.05 },
      num_minibatches = S.choice { 2, 4, 8 }, clip_coef = S.uniform { 0.1, 0.3 } } } },
    budget = { trials = 16, seeds = 2, steps = 81000, min_steps = 9000, eta = 3 },
  }
  for k, v in pairs(over or {}) do c[k] = v end
  return c
end

local function cfg_of(over) return tune.check(base(over), is_flag) end

-- A synthetic objective of a trial's configuration at a rung: the closer
-- learning_rate to 1e-3 and ent_coef to 0.01, the higher; more steps add a
-- little. Deterministic.
local function synth(config, rung)
  local a = math.log(config.learning_rate, 10) + 3
  local b = ((config.ent_coef or 0.01) - 0.01) / 0.02
  return -(a * a + b * b) + 0.1 * rung
end

-- A stream of numbers for the simulations (not the tuner's).
local function lcg(seed)
  local s = seed
  return function(n)
    s = (s * 1103515245 + 12345) % 2147483648
    return 1 + s % n
  end
end

-- Runs a tune to its end as a driver with `jobs` runs at a time would,
-- finishing in-flight runs in an order drawn from `order_seed`; fail(id, r)
-- true: that run fails. Every call to plan() sees exactly the results in
-- so far (all: every run in flight finishes between two calls). Returns the
-- final state and the results.
local function simulate(cfg, variant, jobs, order_seed, fail, results, all)
  results = results or {}
  local pick = lcg(order_seed)
  local flight = {} -- runs started, not finished: {trial, rung, config}
  local calls = 0
  while true do
    local st = tune.plan(cfg, variant, results)
    calls = calls + 1
    assert(calls < 10000, "simulation does not end")
    -- start todo runs not in flight, up to jobs
    for _, t in ipairs(st.todo) do
      if #flight >= jobs then break end
      local busy = false
      for _, f in ipairs(flight) do
        if f.trial == t.trial and f.rung == t.rung then busy = true end
      end
      if not busy then flight[#flight + 1] = t end
    end
    if #flight == 0 then
      check(st.finished, "nothing to run, yet not finished")
      return st, results
    end
    repeat
      local f = table.remove(flight, pick(#flight))
      results[f.trial] = results[f.trial] or {}
      results[f.trial][f.rung] = (fail and fail(f.trial, f.rung)) and -math.huge or synth(f.config, f.rung)
    until not all or #flight == 0
  end
end

-- A state as text (trials, todo, finished, best, budget): equal text, same decisions.
local function dump(st)
  local out = {}
  local function val(x)
    if type(x) == "number" then return tune.numstr(x) end
    return tostring(x)
  end
  local function conf(c)
    local ks = {}
    for k in pairs(c) do ks[#ks + 1] = k end
    table.sort(ks)
    local s = {}
    for _, k in ipairs(ks) do s[#s + 1] = k .. "=" .. val(c[k]) end
    return table.concat(s, ",")
  end
  for _, t in ipairs(st.trials) do
    local rs = {}
    for r = 0, t.top_rung do rs[#rs + 1] = val(t.rungs[r]) end
    out[#out + 1] = string.format("%d %s %s top=%d [%s]", t.id, t.status, conf(t.config), t.top_rung,
      table.concat(rs, " "))
  end
  for _, t in ipairs(st.todo) do
    out[#out + 1] = string.format("todo %d@%d %d %s", t.trial, t.rung, t.steps, conf(t.config))
  end
  out[#out + 1] = string.format("finished=%s best=%s steps=%d runs=%d", tostring(st.finished),
    st.best and st.best.id or "none", st.budget.steps, st.budget.runs)
  return table.concat(out, "\n")
end

local function steps_of(cfg)
  local t = {}
  for i, r in ipairs(tune.rungs(cfg)) do
    eq(r.rung, i - 1, "rung number")
    t[i] = r.steps
  end
  return table.concat(t, ",")
end

-- ---------------------------------------------------------------- rungs

test("rung budgets: steps_r = max / eta^(R - r), R = floor(log_eta(max / min))", function()
  local function rs(b, sched) return steps_of(cfg_of({ budget = b, scheduler = sched })) end
  eq(rs({ trials = 9, steps = 81, min_steps = 1, eta = 3 }), "1,3,9,27,81", "81/1/3")
  eq(rs({ trials = 9, steps = 100000, min_steps = 10000, eta = 3 }), "11111,33333,100000", "100000/10000/3")
  eq(rs({ trials = 9, steps = 50000, min_steps = 5000, eta = 2 }), "6250,12500,25000,50000", "50000/5000/2")
  eq(rs({ trials = 9, steps = 50000, min_steps = 50000 }), "50000", "min = max: one rung")
  eq(rs({ trials = 9, steps = 80, min_steps = 9, eta = 3 }), "27,80", "80/9/3: 9 x 9 > 80, two rungs (26.7 rounded)")
  eq(rs({ trials = 9, steps = 8000, rungs = 4, eta = 2 }), "1000,2000,4000,8000", "rungs = 4")
  eq(rs({ trials = 16, steps = 90000 }), "10000,30000,90000", "default: 1 + floor(log_3(16)) = 3 rungs")
  eq(rs({ trials = 2, steps = 90000 }), "90000", "default with 2 trials < eta: one rung")
  eq(rs({ trials = 16, steps = 90000, min_steps = 1000 }, "none"), "90000", "scheduler none")
  for _, c in ipairs({ { 1000, 7, 3 }, { 99999, 1234, 4 }, { 5000, 2500, 2 }, { 123457, 10, 5 } }) do
    local r = tune.rungs(cfg_of({ budget = { trials = 4, steps = c[1], min_steps = c[2], eta = c[3] } }))
    check(r[1].steps >= c[2], "steps_0 >= min_steps")
    check(r[1].steps < c[2] * c[3], "R is the largest: steps_0 < eta * min_steps")
    eq(r[#r].steps, c[1], "top rung = steps")
  end
end)

-- ---------------------------------------------------------------- promotions

-- A config whose sampler does not matter: results are given by hand.
local function hand(trials, steps, min_steps, eta)
  return cfg_of({ budget = { trials = trials, steps = steps, min_steps = min_steps, eta = eta } })
end

local function ids(list, field)
  local t = {}
  for _, x in ipairs(list) do t[#t + 1] = field and x[field] or x.id end
  return table.concat(t, ",")
end

local function with_status(st, s)
  local t = {}
  for _, tr in ipairs(st.trials) do
    if tr.status == s then t[#t + 1] = tr.id end
  end
  return table.concat(t, ",")
end

test("promotions on a hand-built table: ties to the lower id, failures never, floor(n / eta)", function()
  local cfg = hand(10, 900, 100, 3) -- rungs 100, 300, 900
  local R = {}
  local obj0 = { 1.0, 3.0, -math.huge, 5.0, 2.0, 0.0 / 0.0, 5.0, 4.0, 1.5, 0.5 }
  -- nothing in: every trial runs at rung 0
  local st = tune.plan(cfg, "bp", R)
  eq(#st.trials, 10, "trials")
  eq(ids(st.todo, "trial"), "1,2,3,4,5,6,7,8,9,10", "rung 0 todo")
  eq(st.budget.steps, 1000, "budget: 10 runs x 100")
  check(not st.finished and st.best == nil, "not finished, no best")
  -- all but trial 10: no promotion yet
  for id = 1, 9 do R[id] = { [0] = obj0[id] } end
  st = tune.plan(cfg, "bp", R)
  eq(ids(st.todo, "trial"), "10", "waits for trial 10")
  eq(with_status(st, "running"), "1,2,4,5,7,8,9,10", "running (waiting for the rung)")
  eq(with_status(st, "failed"), "3,6", "failed: -inf and NaN")
  eq(st.best.id, 4, "best so far: 5.0 at rung 0, tie 4 < 7")
  R[10] = { [0] = obj0[10] }
  st = tune.plan(cfg, "bp", R)
  -- floor(10 / 3) = 3: 5.0 (4), 5.0 (7), 4.0 (8)
  eq(ids(st.todo, "trial"), "4,7,8", "promoted to rung 1")
  eq(st.todo[1].steps, 300, "rung 1 steps")
  eq(st.todo[1].rung, 1, "rung 1")
  eq(with_status(st, "promoted"), "4,7,8", "status promoted")
  eq(with_status(st, "stopped"), "1,2,5,9,10", "status stopped")
  eq(st.budget.steps, 1000 + 900, "budget: + 3 x 300")
  eq(st.budget.runs, 13, "runs")
  -- the same table with string keys (read back from JSON) and false for a failure
  local J = {}
  for id, rs in pairs(R) do
    J[tostring(id)] = {}
    for r, x in pairs(rs) do J[tostring(id)][tostring(r)] = x == -math.huge and false or x end
  end
  eq(dump(tune.plan(cfg, "bp", J)), dump(st), "string keys")
  -- tie at the border: trials 4 and 7 equal, only one place
  local cfg2 = hand(6, 900, 100, 3) -- floor(6/3) = 2
  local R2 = { { [0] = 1 }, { [0] = 7 }, { [0] = 3 }, { [0] = 3 }, { [0] = 2 }, { [0] = 3 } }
  eq(ids(tune.plan(cfg2, "bp", R2).todo, "trial"), "2,3", "tie: 3, 4, 6 at 3.0, id 3 wins")
  -- rung 1: 3 trials, max(1, floor(3/3)) = 1; the best (7) fails at rung 1
  R[4][1], R[7][1], R[8][1] = -math.huge, 2.0, 9.0
  st = tune.plan(cfg, "bp", R)
  eq(ids(st.todo, "trial"), "8", "top of rung 1 to rung 2")
  eq(st.todo[1].steps, 900, "rung 2 steps")
  eq(with_status(st, "failed"), "3,4,6", "4 failed at rung 1")
  eq(st.best.id, 8, "best: the highest rung finished first")
  R[8][2] = 1.0
  st = tune.plan(cfg, "bp", R)
  check(st.finished, "finished")
  eq(#st.todo, 0, "no todo")
  eq(with_status(st, "complete"), "8", "complete")
  eq(st.trials[8].top_rung, 2, "top rung")
  eq(st.best.id, 8, "best: the only trial at rung 2, though rung 0 had higher values")
  eq(st.budget.steps, 1000 + 900 + 900, "total budget")
  eq(st.budget.runs, 14, "total runs")
end)

test("promotions: never a failed trial, even when fewer remain than places; all failed ends the tune", function()
  local cfg = hand(6, 400, 100, 2) -- floor(6/2) = 3 places; rungs 100, 200, 400
  local R = { { [0] = -math.huge }, { [0] = 1 }, { [0] = -math.huge }, { [0] = -math.huge }, { [0] = 2 },
    { [0] = -math.huge } }
  local st = tune.plan(cfg, "bp", R)
  eq(ids(st.todo, "trial"), "2,5", "2 survivors for 3 places")
  R[2][1], R[5][1] = -math.huge, -math.huge
  st = tune.plan(cfg, "bp", R)
  check(st.finished, "finished when every trial of a rung failed")
  eq(#st.todo, 0, "nothing to run")
  eq(st.best.id, 5, "best: rung 0's best among trials that have a rung-0 value")
  local all = {}
  for id = 1, 6 do all[id] = { [0] = -math.huge } end
  st = tune.plan(cfg, "bp", all)
  check(st.finished and st.best == nil, "all failed: finished, no best")
  -- promotion needs at least one place: 2 trials, eta 3 -> max(1, 0) = 1
  local cfg3 = hand(2, 900, 100, 3)
  eq(ids(tune.plan(cfg3, "bp", { { [0] = 1 }, { [0] = 2 } }).todo, "trial"), "2", "max(1, floor(2/3))")
end)

test("scheduler none: every trial once at full steps", function()
  local cfg = cfg_of({ scheduler = "none", budget = { trials = 5, steps = 1000 } })
  local st = simulate(cfg, "bp", 2, 7)
  eq(with_status(st, "complete"), "1,2,3,4,5", "complete")
  eq(st.budget.steps, 5000, "5 x 1000")
end)

-- ---------------------------------------------------------------- determinism

test("the same final state whatever the order results come in (jobs 1, 2, 3; several orders)", function()
  for _, sampler in ipairs({ "random", "halton", "sobol", "tpe" }) do
    local cfg = cfg_of({ sampler = sampler, seed = 5, budget = { trials = 14, steps = 2700, min_steps = 100, eta = 3 },
      tpe = sampler == "tpe" and { startup = 5, batch = 3 } or nil })
    local fail = function(id, r) return id == 3 or (id * 7 + r) % 11 == 0 end
    local ref = dump((simulate(cfg, "bp", 1, 1, fail)))
    for _, case in ipairs({ { 2, 1 }, { 2, 99 }, { 3, 4 }, { 5, 12345 } }) do
      local got = dump((simulate(cfg, "bp", case[1], case[2], fail)))
      if got ~= ref then
        error(string.format("%s: jobs=%d order %d differs from jobs=1:\n%s\n--- vs\n%s", sampler, case[1], case[2], got,
          ref))
      end
    end
    check(ref:find("finished=true", 1, true), sampler .. ": finished")
  end
end)

test("every intermediate decision is one of the final decisions (any subset of results)", function()
  local cfg = cfg_of({ sampler = "tpe", seed = 9, budget = { trials = 12, steps = 900, min_steps = 100, eta = 3 },
    tpe = { startup = 4, batch = 2 } })
  local final, results = simulate(cfg, "bp", 2, 3)
  local runs = {}
  for _, t in ipairs(final.trials) do
    for r = 0, t.top_rung do runs[t.id .. "@" .. r] = true end
  end
  -- random subsets of the final results: each todo is a final run with the same config
  local pick = lcg(17)
  for _ = 1, 40 do
    local sub = {}
    for id, rs in pairs(results) do
      for r, x in pairs(rs) do
        if pick(3) > 1 then
          sub[id] = sub[id] or {}
          sub[id][r] = x
        end
      end
    end
    local st = tune.plan(cfg, "bp", sub)
    for _, t in ipairs(st.todo) do
      check(runs[t.trial .. "@" .. t.rung], string.format("run %d@%d not in the final plan", t.trial, t.rung))
    end
    for _, t in ipairs(st.trials) do
      for k, v in pairs(t.config) do eq(v, final.trials[t.id].config[k], "config of trial " .. t.id .. " " .. k) end
    end
  end
end)

test("resume mid-rung: a tune stopped with part of a rung in continues to the same end", function()
  for _, sampler in ipairs({ "halton", "tpe" }) do
    local cfg = cfg_of({ sampler = sampler, seed = 3, budget = { trials = 12, steps = 900, min_steps = 100, eta = 3 },
      tpe = { startup = 4, batch = 4 } })
    local ref, full = simulate(cfg, "bp", 2, 8)
    -- keep rung 0 (minus two trials) and one rung-1 result: "killed" there
    local part = {}
    local dropped = 0
    for id = 1, 12 do
      if full[id] and full[id][0] then
        if id % 5 == 0 and dropped < 2 then dropped = dropped + 1 else part[id] = { [0] = full[id][0] } end
      end
    end
    for id = 1, 12 do
      if full[id] and full[id][1] then part[id][1] = full[id][1]; break end
    end
    local st = tune.plan(cfg, "bp", part)
    check(not st.finished and #st.todo > 0, sampler .. ": mid-rung state has work left")
    local resumed = simulate(cfg, "bp", 1, 2, nil, part)
    eq(dump(resumed), dump(ref), sampler .. ": resumed tune")
  end
end)

-- ---------------------------------------------------------------- sampling

local function configs(cfg, variant)
  local st = tune.plan(cfg, variant or "bp", {})
  local t = {}
  for _, tr in ipairs(st.trials) do t[#t + 1] = tr.config end
  return t
end

local function same(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do
    for k, v in pairs(a[i]) do if b[i][k] ~= v then return false end end
  end
  return true
end

test("configs are a function of the seed: equal for the same seed, different for another", function()
  for _, sampler in ipairs({ "random", "halton", "sobol", "tpe" }) do
    local a = configs(cfg_of({ sampler = sampler, seed = 1 }))
    local b = configs(cfg_of({ sampler = sampler, seed = 1 }))
    local c = configs(cfg_of({ sampler = sampler, seed = 2 }))
    check(#a == (sampler == "tpe" and 8 or 16), sampler .. ": decided trials")
    check(same(a, b), sampler .. ": same seed, same configs")
    check(not same(a, c), sampler .. ": another seed, other configs")
    local distinct = {}
    for _, x in ipairs(a) do distinct[tune.numstr(x.learning_rate)] = true end
    local n = 0
    for _ in pairs(distinct) do n = n + 1 end
    eq(n, #a, sampler .. ": distinct learning rates")
  end
  -- TPE: the same results give the same next batch
  local cfg = cfg_of({ sampler = "tpe", seed = 4, tpe = { startup = 4, batch = 2 } })
  local r = {}
  for id = 1, 4 do r[id] = { [0] = -id } end
  local x = tune.plan(cfg, "bp", r).trials
  local y = tune.plan(cfg, "bp", r).trials
  eq(#x, 6, "one batch after the startup")
  eq(x[5].config.learning_rate, y[5].config.learning_rate, "TPE proposals repeat")
  r[2][0] = 7
  check(tune.plan(cfg, "bp", r).trials[5].config.learning_rate ~= x[5].config.learning_rate,
    "other results, another proposal")
end)

test("variants searching the same flags draw the same values (common random numbers)", function()
  local function two(sampler, space_b)
    local cfg = cfg_of({ sampler = sampler, seed = 6, variants = {
      a = { flags = { mode = "bp" }, space = { learning_rate = S.log_uniform { 1e-4, 1e-2 }, ent_coef = S.uniform { 0, 0.1 } } },
      b = { flags = { mode = "local" }, space = space_b } } })
    return configs(cfg, "a"), configs(cfg, "b")
  end
  for _, sampler in ipairs({ "random", "halton", "sobol" }) do
    local a, b = two(sampler, { learning_rate = S.log_uniform { 1e-4, 1e-2 }, ent_coef = S.uniform { 0, 0.1 } })
    check(same(a, b), sampler .. ": the same space, the same configs")
  end
  -- random: a flag's values do not depend on the other flags searched
  local a, b = two("random", { learning_rate = S.log_uniform { 1e-4, 1e-2 }, gamma = S.uniform { 0.9, 0.999 } })
  for i = 1, #a do eq(b[i].learning_rate, a[i].learning_rate, "random: learning_rate of trial " .. i) end
end)

test("plan() changes neither its arguments nor its earlier answers", function()
  local cfg = cfg_of({ sampler = "tpe", seed = 2, tpe = { startup = 4, batch = 4 },
    budget = { trials = 8, steps = 900, min_steps = 100 } })
  local r = { { [0] = 1 }, { [0] = 2 }, { [0] = 3 }, { [0] = 4, [1] = 9 } }
  local before = dump(tune.plan(cfg, "bp", r))
  local st = tune.plan(cfg, "bp", r)
  eq(#r, 4, "results untouched")
  eq(r[4][1], 9, "a result of a rung not decided yet is kept, and ignored")
  check(r[1][1] == nil and r[5] == nil, "no entry added to results")
  for _, t in ipairs(st.todo) do t.config.learning_rate = -1 end
  st.trials[1].config.learning_rate = -1
  eq(dump(tune.plan(cfg, "bp", r)), before, "the same answer after the caller changed the last one")
  eq(cfg.variants.bp.dims[1].name, "clip_coef", "cfg untouched")
end)

test("TPE waits for the results its batch is sampled from", function()
  local cfg = cfg_of({ sampler = "tpe", seed = 4, budget = { trials = 9, steps = 900, min_steps = 100 },
    tpe = { startup = 4, batch = 2 } })
  local r = {}
  local st = tune.plan(cfg, "bp", r)
  eq(#st.trials, 4, "startup trials")
  eq(ids(st.todo, "trial"), "1,2,3,4", "todo")
  r[1], r[2], r[4] = { [0] = 1 }, { [0] = 2 }, { [0] = -math.huge }
  st = tune.plan(cfg, "bp", r)
  eq(#st.trials, 4, "batch 1 waits for trial 3")
  eq(ids(st.todo, "trial"), "3", "only trial 3 to run")
  check(not st.finished, "not finished while waiting")
  r[3] = { [0] = 3 }
  st = tune.plan(cfg, "bp", r)
  eq(#st.trials, 6, "batch 1 decided")
  eq(ids(st.todo, "trial"), "5,6", "batch 1 runs")
  r[5], r[6] = { [0] = 0 }, { [0] = 0 }
  st = tune.plan(cfg, "bp", r)
  eq(#st.trials, 8, "batch 2 decided")
  r[7], r[8] = { [0] = 0 }, { [0] = 0 }
  st = tune.plan(cfg, "bp", r)
  eq(#st.trials, 9, "the last batch is cut at budget.trials")
  eq(ids(st.todo, "trial"), "9", "trial 9")
  r[9] = { [0] = 5 }
  st = tune.plan(cfg, "bp", r)
  eq(ids(st.todo, "trial"), "2,3,9", "rung 0 complete: floor(9/3) = 3 promoted")
end)

test("each space kind stays in range; log_uniform is uniform in log space; int and choice cover every value", function()
  for _, sampler in ipairs({ "random", "halton", "sobol" }) do
    local cfg = cfg_of({ sampler = sampler, scheduler = "none", seed = 11, budget = { trials = 2000, steps = 10 },
      variants = { v = { space = { learning_rate = S.log_uniform { 1e-5, 1e-1 }, ent_coef = S.uniform { -1, 3 },
        num_minibatches = S.int { 1, 8 }, act = S.choice { "tanh", "relu", true, 0.5 } } } } })
    local cs = configs(cfg, "v")
    eq(#cs, 2000, "trials")
    local lrs, ent_sum, ints, ch = {}, 0, {}, {}
    for _, c in ipairs(cs) do
      check(c.learning_rate >= 1e-5 and c.learning_rate <= 1e-1, "log_uniform in range")
      check(c.ent_coef >= -1 and c.ent_coef <= 3, "uniform in range")
      check(math.type(c.num_minibatches) == "integer" and c.num_minibatches >= 1 and c.num_minibatches <= 8,
        "int in range, an integer")
      lrs[#lrs + 1] = c.learning_rate
      ent_sum = ent_sum + c.ent_coef
      ints[c.num_minibatches] = (ints[c.num_minibatches] or 0) + 1
      ch[c.act] = (ch[c.act] or 0) + 1
    end
    table.sort(lrs)
    local med = (lrs[1000] + lrs[1001]) / 2
    check(math.abs(math.log(med, 10) + 3) < 0.15,
      string.format("%s: log_uniform median %g near the geometric mean 1e-3", sampler, med))
    local below = 0
    for _, x in ipairs(lrs) do if x < 1e-4 then below = below + 1 end end
    check(math.abs(below / 2000 - 0.25) < 0.04, sampler .. ": a quarter below 1e-4 (log space)")
    check(math.abs(ent_sum / 2000 - 1) < 0.1, sampler .. ": uniform mean near the middle")
    for v = 1, 8 do
      check(ints[v] and math.abs(ints[v] / 2000 - 1 / 8) < 0.04, sampler .. ": int value " .. v .. " about 1/8")
    end
    for _, v in ipairs({ "tanh", "relu", true, 0.5 }) do
      check(ch[v] and math.abs(ch[v] / 2000 - 0.25) < 0.05, sampler .. ": choice " .. tostring(v) .. " about 1/4")
    end
  end
  -- the map's ends
  eq(sample.map({ kind = "int", lo = 1, hi = 3 }, 0.0), 1, "int at 0")
  eq(sample.map({ kind = "int", lo = 1, hi = 3 }, 0.9999999), 3, "int near 1")
  eq(sample.map({ kind = "choice", values = { "a", "b" } }, 0.9999999), "b", "choice near 1")
  check(math.abs(sample.map({ kind = "log_uniform", lo = 1e-4, hi = 1e-2 }, 0.5) - 1e-3) < 1e-12, "log mid")
end)

test("Halton and Sobol points equal known values", function()
  local function near(a, b, msg) check(math.abs(a - b) < 1e-12, string.format("%s: %.12g ~= %.12g", msg, a, b)) end
  near(sample.halton(1, 1), 0.5, "halton 1 base 2")
  near(sample.halton(2, 1), 0.25, "halton 2 base 2")
  near(sample.halton(3, 1), 0.75, "halton 3 base 2")
  near(sample.halton(6, 1), 0.375, "halton 6 base 2")
  near(sample.halton(1, 2), 1 / 3, "halton 1 base 3")
  near(sample.halton(2, 2), 2 / 3, "halton 2 base 3")
  near(sample.halton(3, 2), 1 / 9, "halton 3 base 3")
  near(sample.halton(4, 2), 4 / 9, "halton 4 base 3")
  near(sample.halton(1, 3), 1 / 5, "halton 1 base 5")
  near(sample.halton(5, 3), 1 / 25, "halton 5 base 5")
  eq(sample.prime(10), 29, "10th prime base")
  -- Sobol in gray-code order, Joe & Kuo's direction numbers (the values of
  -- torch.quasirandom.SobolEngine(scramble=False), which uses the same table)
  local known = {
    [1] = { 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5 },
    [2] = { 0.75, 0.25, 0.25, 0.25, 0.75, 0.75, 0.25, 0.75 },
    [3] = { 0.25, 0.75, 0.75, 0.75, 0.25, 0.25, 0.75, 0.25 },
    [4] = { 0.375, 0.375, 0.625, 0.875, 0.375, 0.125, 0.375, 0.875 },
    [5] = { 0.875, 0.875, 0.125, 0.375, 0.875, 0.625, 0.875, 0.375 },
    [777] = { 0.6923828125, 0.9365234375, 0.1630859375, 0.2744140625, 0.6357421875, 0.3564453125, 0.1904296875,
      0.7626953125, 0.3486328125, 0.3232421875, 0.7451171875, 0.6962890625, 0.3837890625, 0.4736328125, 0.5693359375,
      0.5146484375, 0.4033203125, 0.8642578125, 0.3701171875, 0.7529296875, 0.2373046875 },
    [1000] = { 0.2197265625, 0.0966796875, 0.5185546875, 0.6767578125, 0.2802734375, 0.9072265625, 0.0458984375,
      0.8994140625, 0.5009765625, 0.0693359375, 0.0849609375, 0.2548828125, 0.1611328125, 0.3837890625, 0.1435546875,
      0.3701171875, 0.7197265625, 0.3447265625, 0.9912109375, 0.7255859375, 0.5224609375 },
  }
  for i, row in pairs(known) do
    for d, x in ipairs(row) do near(sample.sobol(i, d), x, string.format("sobol point %d dim %d", i, d)) end
  end
  -- a (0, m, 1)-net in every dimension: points 0..2^m-1 put one point in each
  -- interval [j/2^m, (j+1)/2^m)
  for d = 1, sample.SOBOL_DIMS do
    local seen = {}
    for i = 0, 255 do
      local j = math.floor(sample.sobol(i, d) * 256)
      check(not seen[j], string.format("sobol dim %d: two points in [%d/256, %d/256)", d, j, j + 1))
      seen[j] = true
    end
  end
  fails(function() sample.sobol(1, sample.SOBOL_DIMS + 1) end, "direction numbers for 21 dimensions")
end)

-- ---------------------------------------------------------------- TPE

test("TPE finds a known optimum better than random search at the same budget (10 sampler seeds)", function()
  local function best_found(sampler, seed)
    local cfg = cfg_of({ sampler = sampler, seed = seed, scheduler = "none",
      budget = { trials = 40, steps = 1000 }, tpe = { startup = 8, batch = 4 },
      variants = { v = { space = { learning_rate = S.log_uniform { 1e-5, 1e-1 }, ent_coef = S.uniform { 0, 0.1 } } } } })
    local st = simulate(cfg, "v", 4, 1, nil, nil, true)
    return st.best.rungs[0]
  end
  local function median(xs)
    table.sort(xs)
    return (xs[5] + xs[6]) / 2
  end
  local tpe, rnd, wins = {}, {}, 0
  for seed = 1, 10 do
    tpe[seed], rnd[seed] = best_found("tpe", seed), best_found("random", seed)
    if tpe[seed] > rnd[seed] then wins = wins + 1 end
  end
  local mt, mr = median(tpe), median(rnd)
  print(string.format("# best found, median over 10 seeds: tpe %.4f, random %.4f (tpe better on %d seeds)", mt, mr,
    wins))
  check(mt > mr, string.format("TPE's median best %.4f not above random's %.4f", mt, mr))
  check(wins >= 6, "TPE better on at least 6 of 10 seeds, got " .. wins)
end)

test("TPE's split: the proposals move toward the good trials", function()
  -- 20 observations, the good ones near learning_rate 1e-2: a batch drawn
  -- from them lands near 1e-2 more often than the prior would
  local dims = { { name = "learning_rate", kind = "log_uniform", lo = 1e-5, hi = 1e-1 } }
  local obs = {}
  for i = 1, 20 do
    local lr = 10 ^ (-5 + 4 * (i - 0.5) / 20)
    obs[i] = { id = i, config = { learning_rate = lr }, value = -math.abs(math.log(lr, 10) + 2) }
  end
  local near = 0
  for id = 21, 60 do
    local c = sample.tpe({ gamma = 0.25, candidates = 24 }, 1, dims, id, obs)
    if math.abs(math.log(c.learning_rate, 10) + 2) < 0.5 then near = near + 1 end
  end
  check(near >= 30, string.format("only %d of 40 proposals within half a decade of 1e-2 (the prior gives 10)", near))
end)

-- ---------------------------------------------------------------- bad input

test("bad tune files: each a clear error naming the entry", function()
  local function bad(over, ...) return fails(function() tune.check(base(over), is_flag) end, ...) end
  local function space(s) return { variants = { bp = { space = s } } } end
  bad(space({ learnig_rate = S.log_uniform { 1e-4, 1e-2 } }), "variants.bp.space.learnig_rate: not a train.lua flag",
    "did you mean --learning-rate?")
  bad(space({ bogus = S.uniform { 0, 1 } }), "variants.bp.space.bogus: not a train.lua flag")
  bad(space({ learning_rate = S.log_uniform { -1, 1e-2 } }), "variants.bp.space.learning_rate: log_uniform needs 0 < lo < hi",
    "lo = -1")
  bad(space({ learning_rate = S.log_uniform { 0, 1e-2 } }), "variants.bp.space.learning_rate: log_uniform needs 0 < lo")
  bad(space({ ent_coef = S.uniform { 0.3, 0.1 } }), "variants.bp.space.ent_coef: uniform needs lo < hi",
    "lo = 0.3 > hi = 0.1")
  bad(space({ ent_coef = S.uniform { 0.1, 0.1 } }), "variants.bp.space.ent_coef: uniform range is empty",
    "a constant belongs in flags")
  bad(space({ num_minibatches = S.int { 4, 4 } }), "variants.bp.space.num_minibatches: int range is empty")
  bad(space({ num_minibatches = S.int { 8, 2 } }), "variants.bp.space.num_minibatches: int needs lo < hi")
  bad(space({ num_minibatches = S.int { 1, 2.5 } }), "variants.bp.space.num_minibatches: int needs integers")
  bad(space({ act = S.choice {} }), "variants.bp.space.act: choice needs at least two values, got 0")
  bad(space({ act = S.choice { "tanh" } }), "variants.bp.space.act: choice needs at least two values, got 1")
  bad(space({ act = S.choice { "tanh", "tanh" } }), "variants.bp.space.act: choice lists \"tanh\" twice")
  bad(space({ act = S.choice { {} , "x" } }), "variants.bp.space.act: choice value 1 must be a number, string or boolean")
  bad(space({ ent_coef = S.uniform { 0, 1, 2 } }), "variants.bp.space.ent_coef: uniform takes two numbers")
  bad(space({ ent_coef = S.uniform { 0, math.huge } }), "variants.bp.space.ent_coef: uniform needs two finite numbers")
  bad(space({ ent_coef = { 0, 1 } }), "variants.bp.space.ent_coef: not a search space")
  bad(space({}), "variants.bp.space must be a non-empty table")
  bad(space({ hidden = S.choice { "32", "64" } }), "variants.bp.space.hidden: also fixed in flags")
  bad({ variants = { bp = { flags = { gamma = 0.9 }, space = { gamma = S.uniform { 0.9, 0.99 } } } } },
    "variants.bp.space.gamma: also fixed in variants.bp.flags")
  bad(space({ seed = S.int { 1, 9 } }), "variants.bp.space.seed: flag set by the tuner")
  bad({ flags = { steps = 10 } }, "flags.steps: flag set by the tuner")
  bad({ flags = { nope = 1 } }, "flags.nope: not a train.lua flag")
  bad({ budget = { trials = 8, steps = 1000, min_steps = 5000 } }, "budget.steps = 1000 is below the smallest rung",
    "min_steps = 5000")
  bad({ budget = { trials = 8, steps = 10, rungs = 4, eta = 3 } }, "budget.steps = 10 is below the smallest rung",
    "steps >= 27")
  bad({ budget = { trials = 8, steps = 1000, eta = 1 } }, "budget.eta must be an integer >= 2, got 1")
  bad({ budget = { trials = 8, steps = 1000, eta = 2.5 } }, "budget.eta must be an integer >= 2, got 2.5")
  bad({ budget = { trials = 0, steps = 1000 } }, "budget.trials must be an integer >= 1, got 0")
  bad({ budget = { steps = 1000 } }, "budget.trials is required")
  bad({ budget = { trials = 4 } }, "budget.steps is required")
  bad({ budget = { trials = 4, steps = 1000, min_steps = 10, rungs = 2 } }, "budget: give min_steps or rungs, not both")
  bad({ budget = { trials = 4, steps = 1000, seeds = { 1, 1 } } }, "budget.seeds lists seed 1 twice")
  bad({ budget = { trials = 4, steps = 1000, trails = 3 } }, "budget: unknown key 'trails'")
  bad({ tpe = { startup = 2, gama = 0.2 } }, "tpe: unknown key 'gama'")
  bad({ tpe = { gamma = 1.5 } }, "tpe.gamma must be a number in (0, 1)")
  bad({ sampler = "grid" }, "sampler must be one of halton, random, sobol, tpe, got \"grid\"")
  bad({ scheduler = "hyperband" }, "scheduler must be one of asha, none")
  bad({ objective = "best" }, "objective must be one of auc, final")
  bad({ seed = -1 }, "seed must be an integer >= 0")
  bad({ algo = false }, "algo must be an algorithm name")
  bad({ envs = {} }, "envs must be a non-empty list")
  bad({ envs = { "CartPole-v1", "Acrobot-v1" } }, "envs[1] (CartPole-v1): score = {lo, hi} is required")
  bad({ envs = { { id = "CartPole-v1", score = { 500, 0 } } } }, "envs[1].score must be {lo, hi} with lo < hi",
    "{500, 0}")
  bad({ envs = { "CartPole-v1", "CartPole-v1" } }, "env CartPole-v1 listed twice")
  bad({ variants = {} }, "variants must be a non-empty table")
  bad({ variants = { ["bad name"] = { space = { ent_coef = S.uniform { 0, 1 } } } } }, "variants: name \"bad name\"")
  bad({ variants = { bp = { spaces = {} } } }, "variants.bp: unknown key 'spaces'")
  bad({ variants = { { space = { ent_coef = S.uniform { 0, 1 } } } } }, "variants[1] needs a name")
  bad({ foo = 1 }, "tune file: unknown key 'foo'")
  bad({ sampler = "sobol", variants = { v = { space = (function()
    local s = {}
    for i = 1, 22 do
      FLAGS["f" .. i] = true
      s["f" .. i] = S.uniform { 0, 1 }
    end
    return s
  end)() } } }, "variants.v.space: 22 dimensions, sobol has 21 (use halton)")
  fails(function() tune.check(nil, is_flag) end, "the tune file must return a table")
  fails(function() tune.plan(cfg_of(), "nope", {}) end, "no variant \"nope\"", "variants: bp")
end)

test("good tune files: normalised fields and defaults", function()
  local cfg = tune.check({
    algo = "ppo", envs = { { id = "CartPole-v1", score = { 0, 500 } }, { id = "Acrobot-v1", score = { -500, -60 } } },
    flags = { ["anneal-lr"] = false },
    variants = { { name = "local", flags = { mode = "local" }, space = { learning_rate = S.log_uniform(1e-4, 1e-2) } },
      { name = "bp", flags = { mode = "bp" }, space = { learning_rate = S.log_uniform { lo = 1e-4, hi = 1e-2 } } } },
    budget = { trials = 9, steps = 9000, seeds = { 3, 7 } },
  }, is_flag)
  eq(table.concat(cfg.variant_names, ","), "local,bp", "a list keeps its order")
  eq(cfg.flags.anneal_lr, false, "dashes become underscores")
  eq(cfg.sampler, "halton", "default sampler")
  eq(cfg.scheduler, "asha", "default scheduler")
  eq(cfg.objective, "final", "default objective")
  eq(cfg.seed, 0, "default seed")
  eq(cfg.budget.eta, 3, "default eta")
  eq(table.concat(cfg.budget.seeds, ","), "3,7", "seeds list")
  eq(steps_of(cfg), "1000,3000,9000", "default rungs from 9 trials")
  eq(cfg.envs[2].score.lo, -500, "score lo")
  eq(cfg.variants.bp.dims[1].kind, "log_uniform", "dims")
  -- objective: normalised mean; a failed run fails the trial
  local x = tune.objective(cfg, { { env = "CartPole-v1", value = 500 }, { env = "Acrobot-v1", value = -280 } })
  check(math.abs(x - 0.75) < 1e-12, "normalised mean (1 + 0.5) / 2, got " .. x)
  eq(tune.objective(cfg, { { env = "CartPole-v1", value = 500 }, { env = "Acrobot-v1", value = nil } }), -math.huge,
    "a failed run")
  eq(tune.objective(cfg, {}), -math.huge, "no runs")
  local f = tune.trial_flags(cfg, "bp", { learning_rate = 3e-4 })
  eq(f.mode, "bp", "variant flag")
  eq(f.anneal_lr, false, "file flag")
  eq(f.learning_rate, 3e-4, "trial value")
  eq(tune.check(base({ budget = { trials = 4, steps = 100, seeds = 3 } }), is_flag).budget.seeds[3], 3, "seed count")
  eq(tune.space_string(cfg.variants.bp.dims[1]), "log_uniform{0.0001, 0.01}", "space_string")
  eq(tune.space_string({ kind = "choice", values = { 2, "x", true } }), 'choice{2, "x", true}', "space_string choice")
  -- the most a variant spends: 9 x 1000 + 3 x 3000 + 1 x 9000; a tune without failures spends exactly that
  local mb = tune.max_budget(cfg)
  eq(mb.steps, 27000, "max_budget steps")
  eq(mb.runs, 13, "max_budget runs")
  eq(mb.per_rung[2].trials, 3, "rung 1 trials")
  local c16 = cfg_of({ sampler = "random", budget = { trials = 16, steps = 2700, min_steps = 100 } })
  local st = simulate(c16, "bp", 2, 5)
  eq(st.budget.steps, tune.max_budget(c16).steps, "spent = max_budget without failures")
  eq(st.budget.runs, 16 + 5 + 1 + 1, "rungs 100, 300, 900, 2700: 16, 5, 1, then max(1, floor(1/3)) = 1 runs")
end)

T.run_tests(tests)
