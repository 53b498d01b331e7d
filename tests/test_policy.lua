-- SPDX-License-Identifier: MIT
-- test_policy.lua -- the policy file (docs/policy.md): a short run's saved
-- policy acts bit for bit as run:act (PPO, REINFORCE, DQN; Discrete and Box;
-- observation normalisation, squash_mean, feature_norm), lpdm.policy refuses
-- bad files by name, train.lua leaves DIR/policy.safetensors, eval.lua
-- writes DIR/eval.json on the seed rule's seeds and repeats itself, refuses
-- bad input without a traceback, and a sweep evaluates every run. TAP.
-- Run by ctest as build/lpdm tests/test_policy.lua.
local lpdm = require("lpdm")
local LPDM = arg and arg[-1]
local HERE = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = HERE .. "/lib/?.lua;" .. HERE .. "/../scripts/lib/?.lua;" .. package.path
local T = require("testlib")
local json = require("json")
local TRAIN, EVAL, SWEEP = HERE .. "/../scripts/train.lua", HERE .. "/../scripts/eval.lua", HERE .. "/../scripts/sweep.lua"
local check, eq, read, write = T.check, T.eq, T.read, T.write
local TMP = T.tmpdir()

local tests = {}
local function test(name, fn) tests[#tests + 1] = { name = name, fn = fn } end

local function run(...) return T.sh(T.command("OPENBLAS_NUM_THREADS=1 ", LPDM, { ... })) end
local function expect(want, wants, ...)
  local out, rc, cmd = run(...)
  return T.expect_result(out, rc, cmd, want, wants)
end
-- a user-facing error: exit status 1, the words, and no traceback
local function refused(wants, ...)
  local out = expect(1, wants, ...)
  check(not out:find("traceback", 1, true), "a traceback in:\n" .. out)
  return out
end

-- A short run of algo on envid, trained and saved to path.
local function trained(algo, envid, extra, path)
  local env = lpdm.env(envid)
  local net = lpdm.net { inputs = env.obs_dim, lpdm.dense { 16 }, lpdm.dense { 16 } }
  local cfg = { env = env, policy = net, seed = 3 }
  for k, v in pairs(extra) do cfg[k] = v end
  local r = lpdm.algo(algo, cfg)
  for _ in r:iterations() do end
  r:save_policy(path)
  return r, env
end

-- Observations to compare on: a rollout's (acting greedily) and wide random ones.
local function observations(env, policy)
  local obs, rng = {}, 12345
  local function u() -- a small LCG: the same observations every time
    rng = (rng * 1103515245 + 12345) % 2147483648
    return rng / 2147483648
  end
  for s = 1, 10 do
    local o = env:reset(s)
    for _ = 1, 10 do
      obs[#obs + 1] = o
      local a = policy:act(o, { deterministic = true })
      local term, trunc
      o, _, term, trunc = env:step(a)
      if term or trunc then break end
    end
  end
  for _ = 1, 50 do
    local o = {}
    for i = 1, env.obs_dim do o[i] = (u() - 0.5) * 20 end
    obs[#obs + 1] = o
  end
  return obs
end

local CASES = {
  { "ppo", "CartPole-v1", { mode = "bp", steps = 1024, num_steps = 128 } },
  { "ppo", "CartPole-v1", { mode = "local", steps = 1024, num_steps = 128, feature_norm = true } },
  { "ppo", "Pendulum-v1", { mode = "bp", steps = 512, num_steps = 128, norm_obs = "true" } },
  { "reinforce", "CartPole-v1", { mode = "local", steps = 600 } },
  { "reinforce", "Pendulum-v1", { mode = "bp", steps = 600 } },
  { "reinforce", "Pendulum-v1", { mode = "bp", steps = 600, squash_mean = true } },
  { "reinforce", "Pendulum-v1", { mode = "local", steps = 800, norm_obs = "true", local_window = 64 } },
  { "dqn", "CartPole-v1", { mode = "bp", steps = 800, learning_starts = 300, train_frequency = 4 } },
}
for i, c in ipairs(CASES) do
  local algo, envid, extra = c[1], c[2], c[3]
  local label = {}
  for k, v in pairs(extra) do label[#label + 1] = k .. "=" .. tostring(v) end
  table.sort(label)
  test(string.format("%s %s (%s): the policy file acts as run:act, bit for bit", algo, envid, table.concat(label, " ")),
    function()
      local path = string.format("%s/case%d.safetensors", TMP, i)
      local r, env = trained(algo, envid, extra, path)
      local p = lpdm.policy(path)
      eq(p.algo, algo, "algo")
      eq(p.env, envid, "env")
      eq(p.obs_dim, env.obs_dim, "obs_dim")
      eq(p.meta.format, "lpdm.policy", "format")
      eq(p.action_space.kind, env.action_space.kind, "action_space")
      eq(p.env_config.max_episode_steps, env.config.max_episode_steps, "env_config")
      -- the options under test reach the file
      eq(p.meta.obs_norm, extra.norm_obs == "true" and "true" or "false", "obs_norm")
      eq(p.meta.feat_norm, extra.feature_norm and "true" or "false", "feat_norm")
      eq(p.meta.squash_mean, extra.squash_mean and "true" or "false", "squash_mean")
      local box = env.action_space.kind == "box"
      local n = 0
      for _, o in ipairs(observations(env, p)) do
        local want = r:act(o)
        local raw = p:act(o, { deterministic = true, clip = false })
        local clipped = p:act(o, { deterministic = true })
        if box then
          for d = 1, #want do
            check(raw[d] == want[d], string.format("raw action %.17g, run:act %.17g", raw[d], want[d]))
            local lo, hi = env.action_space.low[d], env.action_space.high[d]
            eq(clipped[d], math.min(hi, math.max(lo, want[d])), "clipped action")
          end
        else
          eq(raw, want, "action")
          eq(clipped, want, "action")
        end
        n = n + 1
      end
      check(n >= 60, "too few observations: " .. n)
      -- stochastic acting repeats with the seed and stays in the box
      local p1, p2 = lpdm.policy(path, { seed = 7 }), lpdm.policy(path, { seed = 7 })
      local o = env:reset(1)
      for _ = 1, 20 do
        local a, b = p1:act(o), p2:act(o)
        if box then
          for d = 1, #a do
            eq(a[d], b[d], "stochastic action")
            check(a[d] >= env.action_space.low[d] and a[d] <= env.action_space.high[d], "out of the box: " .. a[d])
          end
        else
          eq(a, b, "stochastic action")
        end
      end
      p:close()
      T.fails(function() return p.env end, "closed")
      r:close()
    end)
end

test("lpdm.policy refuses a bad file, naming it and the fault", function()
  local good = TMP .. "/case5.safetensors" -- REINFORCE on Pendulum-v1 (has log_std)
  local r = trained("reinforce", "Pendulum-v1", { mode = "bp", steps = 300 }, TMP .. "/r.safetensors")
  T.fails(function() lpdm.policy(TMP .. "/none.safetensors") end, "none.safetensors")
  -- a checkpoint is a safetensors file, but not a policy
  r:save(TMP .. "/ckpt.safetensors")
  T.fails(function() lpdm.policy(TMP .. "/ckpt.safetensors") end, "ckpt.safetensors", "not an lpdm policy file")
  -- truncated
  local bytes = read(good)
  write(TMP .. "/trunc.safetensors", bytes:sub(1, #bytes - 10))
  T.fails(function() lpdm.policy(TMP .. "/trunc.safetensors") end, "trunc.safetensors")
  -- a newer format_version, an unknown layer plugin (metadata written over)
  r:save_policy(TMP .. "/v9.safetensors", { format_version = "9" })
  T.fails(function() lpdm.policy(TMP .. "/v9.safetensors") end, "v9.safetensors", "format_version 9 is newer")
  write(TMP .. "/nolayer.safetensors", (bytes:gsub('"layer%.dense"', '"layer.nosuc"', 1)))
  T.fails(function() lpdm.policy(TMP .. "/nolayer.safetensors") end, "nolayer.safetensors", "layer 1 (layer.nosuc)",
    "needs the plugin layer.nosuc, which is not loaded")
  -- a missing tensor (its name changed in the header, the same length)
  local hacked = bytes:gsub('"log_std"', '"log_sXd"', 1)
  write(TMP .. "/notensor.safetensors", hacked)
  T.fails(function() lpdm.policy(TMP .. "/notensor.safetensors") end, "notensor.safetensors", "no tensor 'log_std'")
  r:close()
  -- a Lua layer cannot be rebuilt from a file
  local env = lpdm.env("CartPole-v1")
  local net = lpdm.net { inputs = 4, lpdm.lua_layer { 4, fn = function(X) return X end }, lpdm.dense { 8 } }
  local lr = lpdm.algo("reinforce", { env = env, policy = net, steps = 100 })
  lr:save_policy(TMP .. "/lua.safetensors")
  T.fails(function() lpdm.policy(TMP .. "/lua.safetensors") end, "lua.safetensors", "trunk layer 1 (layer.lua)",
    "cannot be rebuilt")
  lr:close()
  T.fails(function() lpdm.policy(good, { sed = 1 }) end, "unknown option 'sed'")
end)

-- ---------------------------------------------------------------- the scripts

local DIR = TMP .. "/run"
test("train.lua leaves DIR/policy.safetensors with the run's config", function()
  expect(0, { "policy.safetensors" }, TRAIN, "--algo=ppo", "--env=CartPole-v1", "--steps=1024", "--num-steps=128",
    "--out=" .. DIR, "--quiet")
  local p = lpdm.policy(DIR .. "/policy.safetensors")
  eq(p.meta.env, "CartPole-v1", "env")
  local cfg = json.decode(p.meta.config)
  eq(cfg.algo, "ppo", "config.algo")
  eq(cfg.steps, 1024, "config.steps")
end)

test("train.lua refuses a --seed whose env copies reach the evaluation seeds", function()
  refused({ "--seed=999997", "1000000", "4 copies", "--seed <= 999996" }, TRAIN, "--algo=ppo", "--seed=999997",
    "--steps=512", "--out=" .. TMP .. "/bad_seed")
  refused({ "--seed=1000000", "1000000" }, TRAIN, "--algo=reinforce", "--seed=1000000", "--steps=100",
    "--out=" .. TMP .. "/bad_seed")
end)

test("eval.lua writes eval.json on the seed rule's seeds, the same each time", function()
  expect(0, { "seeds 1020000..1020002", "population sd" }, EVAL, DIR, "--episodes=3", "--seed=2")
  local text = read(DIR .. "/eval.json")
  local e = json.decode(text)
  for _, k in ipairs({ "mean_return", "std_return", "returns", "lengths", "seeds", "episodes", "deterministic",
    "policy", "env", "lpdm_version", "wall_time_s" }) do
    check(e[k] ~= nil, "eval.json lacks " .. k .. ":\n" .. text)
  end
  eq(e.episodes, 3, "episodes")
  eq(e.deterministic, false, "deterministic")
  eq(#e.returns, 3, "returns")
  for i = 1, 3 do eq(e.seeds[i], 1000000 + 2 * 10000 + i - 1, "seed " .. i) end
  local m, v = 0, 0
  for i = 1, 3 do m = m + e.returns[i] / 3 end
  for i = 1, 3 do v = v + (e.returns[i] - m) ^ 2 / 3 end
  check(math.abs(e.mean_return - m) < 1e-9 and math.abs(e.std_return - math.sqrt(v)) < 1e-9, "mean / population sd")
  expect(0, {}, EVAL, DIR, "--episodes=3", "--seed=2")
  local again = json.decode(read(DIR .. "/eval.json"))
  for i = 1, 3 do eq(again.returns[i], e.returns[i], "the same command, return " .. i) end
  expect(0, { "deterministic" }, EVAL, DIR, "--episodes=2", "--deterministic")
  local d = json.decode(read(DIR .. "/eval.json"))
  eq(d.deterministic, true, "deterministic")
  eq(d.seeds[1], 1000000, "seed of --seed=0")
end)

test("eval.lua refuses bad input by name, exit status 1, no traceback", function()
  refused({ "'" .. TMP .. "/nodir' is not a directory" }, EVAL, TMP .. "/nodir")
  os.execute("mkdir -p " .. T.q(TMP .. "/empty"))
  refused({ TMP .. "/empty/policy.safetensors not found" }, EVAL, TMP .. "/empty")
  os.execute("mkdir -p " .. T.q(TMP .. "/trunc") .. " " .. T.q(TMP .. "/foreign"))
  local bytes = read(DIR .. "/policy.safetensors")
  write(TMP .. "/trunc/policy.safetensors", bytes:sub(1, 100))
  refused({ TMP .. "/trunc/policy.safetensors" }, EVAL, TMP .. "/trunc")
  write(TMP .. "/foreign/policy.safetensors", read(TMP .. "/ckpt.safetensors"))
  refused({ "not an lpdm policy file" }, EVAL, TMP .. "/foreign")
  refused({ "--episodes", "'0'" }, EVAL, DIR, "--episodes=0")
  refused({ "--seed", "'-1'" }, EVAL, DIR, "--seed=-1")
  refused({ "unknown flag '--episode=3'" }, EVAL, DIR, "--episode=3")
  refused({ "no DIR given" }, EVAL)
end)

test("a sweep evaluates every run and records the mean; a missing eval.json is made again", function()
  local cfgf = TMP .. "/sweep_cfg.lua"
  write(cfgf, [[return { envs = { { name = "CartPole-v1", steps = 600 } }, algos = { "reinforce" },
    variants = { { name = "bp", flags = { mode = "bp" } } }, seeds = { 1, 2 },
    eval = { episodes = 2, deterministic = true } }]])
  local out = TMP .. "/sweep"
  expect(0, { "2/2 runs done" }, SWEEP, cfgf, "--out=" .. out)
  local s = json.decode(read(out .. "/sweep.json"))
  for _, r in ipairs(s.runs) do
    check(type(r.eval_mean_return) == "number", "no eval_mean_return for " .. r.dir)
    local e = json.decode(read(out .. "/" .. r.dir .. "/eval.json"))
    eq(r.eval_mean_return, e.mean_return, "eval mean of " .. r.dir)
    eq(e.deterministic, true, "deterministic")
  end
  check(read(out .. "/report.md"):find("Evaluation (2 episodes per run, deterministic", 1, true), "no evaluation table in report.md")
  local rd = out .. "/runs/CartPole-v1/reinforce/bp/s1"
  local before = T.mtime(rd .. "/progress.csv")
  os.remove(rd .. "/eval.json")
  expect(0, { "1 already done, 1 to run" }, SWEEP, cfgf, "--out=" .. out)
  check(read(rd .. "/eval.json"), "eval.json was not made again")
  eq(T.mtime(rd .. "/progress.csv"), before, "the training was run again: progress.csv")
  write(cfgf, [[return { envs = { "CartPole-v1" }, steps = 600, algos = { "reinforce" },
    variants = { { name = "bp" } }, seeds = { 1 }, eval = { episodes = 0 } }]])
  expect(1, { "config.eval.episodes" }, SWEEP, cfgf, "--out=" .. out)
end)

T.run_tests(tests, TMP)
