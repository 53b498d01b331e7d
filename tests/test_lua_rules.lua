-- SPDX-License-Identifier: MIT
-- test_lua_rules.lua -- the learning rules besides distance matching (layer-wise
-- local heads, direct feedback alignment) as a user meets them: by name in
-- train.lua --list, as --mode=local --loss=localhead|dfa in each of PPO,
-- REINFORCE and DQN, from Lua (lpdm.algo{loss = ...}), resumed from a
-- checkpoint, and refused with a message when a setting cannot work
-- (tests/test_rules.c checks the rules' numerics). Run by ctest as
-- build/lpdm tests/test_lua_rules.lua.
--
--   * --list names both under losses;
--   * every algorithm trains with each rule (exit 0, the loss in
--     summary.json, one local figure per hidden layer in updates.csv);
--   * killed by SIGKILL and resumed from a checkpoint, PPO (both rules),
--     REINFORCE with a baseline (local heads) and DQN (DFA) write the
--     progress.csv of the uninterrupted run: the local heads and feedback
--     matrices are in the checkpoint;
--   * a rule PPO cannot use per minibatch (DFA with local_batch=rollout) and
--     a bad rule setting are refused when the run is built, by name;
--   * from Lua, lpdm.algo with loss = {"localhead", match = 0.5} trains.

local lpdm = require("lpdm")
local LPDM = arg and arg[-1]
local HERE = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local TRAIN = HERE .. "/../scripts/train.lua"
package.path = HERE .. "/lib/?.lua;" .. package.path
local T = require("testlib")
local q, check, read = T.q, T.check, T.read
local TMP = T.tmpdir()

local tests = {}
local function test(name, fn) tests[#tests + 1] = { name = name, fn = fn } end

local function train(flags)
  return T.sh(string.format("OPENBLAS_NUM_THREADS=1 %s %s %s", q(LPDM), q(TRAIN), table.concat(flags, " ")))
end

test("train.lua --list names localhead and dfa among the losses", function()
  local out, rc = train({ "--list" })
  check(rc == 0, "--list exit " .. rc)
  local losses = out:match("losses:(.-)\n%a") or ""
  check(losses:find("\n%s+localhead%s") and losses:find("\n%s+dfa%s"), "--list lacks localhead or dfa: " .. out)
end)

local RUNS = {
  { "ppo", "CartPole-v1", "--steps=4096" },
  { "reinforce", "CartPole-v1", "--steps=3000 --baseline=true --episodes-per-update=2" },
  { "dqn", "CartPole-v1", "--steps=1500 --learning-starts=500 --iteration-steps=250" },
}

test("every algorithm trains with each rule: exit 0, the loss recorded, a local figure per hidden layer", function()
  for _, r in ipairs(RUNS) do
    for _, loss in ipairs({ "localhead", "dfa" }) do
      local dir = string.format("%s/%s-%s", TMP, r[1], loss)
      local out, rc, cmd = train({ "--algo=" .. r[1], "--env=" .. r[2], "--mode=local", "--loss=" .. loss, r[3],
        "--seed=2", "--quiet", "--out=" .. q(dir) })
      T.expect_result(out, rc, cmd, 0)
      local sj = read(dir .. "/summary.json") or ""
      check(sj:find('"loss": *"' .. loss .. '"'), r[1] .. " " .. loss .. ": summary.json lacks the loss")
      local head = (read(dir .. "/updates.csv") or ""):match("^[^\n]*") or ""
      check(head:find("local_loss_1", 1, true) or head:find("actor_local_loss_1", 1, true),
        r[1] .. " " .. loss .. ": updates.csv has no local figure: " .. head)
      local rows = select(2, (read(dir .. "/updates.csv") or ""):gsub("\n", "\n"))
      check(rows >= 3, r[1] .. " " .. loss .. ": too few updates (" .. rows .. ")")
    end
  end
end)

local function kill_and_resume(name, flags) T.kill_and_resume(LPDM, TRAIN, TMP, name, flags, true) end

test("killed and resumed, runs with local heads and with DFA write the uninterrupted run's files", function()
  kill_and_resume("ppo-localhead", { "--algo=ppo", "--mode=local", "--loss=localhead", "--env=CartPole-v1", "--seed=4",
    "--steps=6144" })
  kill_and_resume("ppo-dfa", { "--algo=ppo", "--mode=local", "--loss=dfa", "--env=Pendulum-v1", "--seed=5",
    "--steps=16384", "--norm-obs=true" })
  kill_and_resume("reinforce-localhead", { "--algo=reinforce", "--mode=local", "--loss=localhead",
    "--env=CartPole-v1", "--seed=3", "--steps=2000", "--baseline=true", "--episodes-per-update=2" })
  kill_and_resume("dqn-dfa", { "--algo=dqn", "--mode=local", "--loss=dfa", "--env=CartPole-v1", "--seed=1",
    "--steps=2000", "--learning-starts=200", "--iteration-steps=100" })
end)

test("settings a rule cannot work with are refused when the run is built, by name", function()
  local cases = {
    { { "--algo=ppo", "--loss=dfa", "--local-batch=rollout" }, { "loss.dfa", "local_batch=rollout" } },
    { { "--algo=ppo", "--loss=localhead", "--match=2" }, { "loss.localhead", "match must be in [0, 1]" } },
    { { "--algo=dqn", "--loss=dfa", "--scale=-1" }, { "loss.dfa", "scale must be > 0" } },
    { { "--algo=reinforce", "--loss=localhead", "--match=0.5", "--match-loss=dfa" }, { "not a distance-matching loss" } },
    { { "--algo=ppo", "--loss=localhead", "--actor-alpha=0.5" }, { "actor_alpha", "loss.localhead has no alpha" } },
  }
  for i, c in ipairs(cases) do
    local flags = { "--mode=local", "--env=CartPole-v1", "--steps=2048", "--quiet", "--out=" .. q(TMP .. "/bad" .. i) }
    for _, f in ipairs(c[1]) do flags[#flags + 1] = f end
    local out, rc, cmd = train(flags)
    check(rc >= 1 and rc < 128, "exit " .. rc .. " for " .. cmd)
    for _, want in ipairs(c[2]) do check(out:find(want, 1, true), cmd .. ": the message lacks '" .. want .. "': " .. out) end
    check(not out:find("traceback", 1, true), cmd .. ": a traceback: " .. out)
  end
end)

test("from Lua: lpdm.algo with loss = {'localhead', match = 0.5} and with 'dfa' train", function()
  for _, loss in ipairs({ { "localhead", match = 0.5 }, "dfa" }) do
    local env = lpdm.env("CartPole-v1")
    local policy = lpdm.net { inputs = env.obs_dim, lpdm.dense { 16 }, lpdm.dense { 16 }, seed = 1 }
    local run = lpdm.algo("ppo", { env = env, policy = policy, mode = "local", seed = 1, steps = 2048, loss = loss })
    local n, figs = 0, nil
    for it in run:iterations() do
      n = n + 1
      figs = it.stats
    end
    check(n >= 1 and figs and figs.actor_local_loss_2 ~= nil,
      "a local figure per layer from Lua (" .. tostring(type(loss) == "table" and loss[1] or loss) .. ")")
  end
end)

test("the controls of issue 26: frozen trains only the heads, bp's head_lr sets the heads apart, --hidden= is linear",
  function()
    for _, algo in ipairs({ "ppo", "reinforce", "dqn" }) do
      local r
      for _, x in ipairs(RUNS) do if x[1] == algo then r = x end end
      local dir = TMP .. "/frozen-" .. algo
      local out, rc, cmd = train({ "--algo=" .. algo, "--env=CartPole-v1", "--mode=local", "--loss=frozen", r[3],
        "--seed=2", "--quiet", "--checkpoint-every=1", "--out=" .. q(dir) })
      T.expect_result(out, rc, cmd, 0)
      check((read(dir .. "/summary.json") or ""):find('"loss": *"frozen"'), algo .. " frozen: the loss recorded")
    end
    -- bp with head_lr: recorded apart from learning_rate, and the run differs from bp's
    local a, b = TMP .. "/bp", TMP .. "/bp-headlr"
    local out, rc, cmd = train({ "--algo=ppo", "--mode=bp", "--env=CartPole-v1", "--steps=4096", "--seed=1", "--quiet",
      "--out=" .. q(a) })
    T.expect_result(out, rc, cmd, 0)
    out, rc, cmd = train({ "--algo=ppo", "--mode=bp", "--env=CartPole-v1", "--steps=4096", "--seed=1", "--quiet",
      "--head-lr=1e-3", "--out=" .. q(b) })
    T.expect_result(out, rc, cmd, 0)
    local sb = read(b .. "/summary.json") or ""
    check(sb:find('"head_lr": *0.001') and sb:find('"local_lr": *0.00025'),
      "bp-headlr: head_lr 1e-3 and the hidden layers at learning_rate in the manifest: " .. sb:sub(1, 0))
    check(read(a .. "/progress.csv") ~= read(b .. "/progress.csv"), "bp-headlr trains differently from bp")
    local lin = TMP .. "/linear"
    out, rc, cmd = train({ "--algo=ppo", "--mode=bp", "--hidden=", "--env=CartPole-v1", "--steps=4096", "--seed=1",
      "--quiet", "--out=" .. q(lin) })
    T.expect_result(out, rc, cmd, 0)
  end)

test("lpdm.loss('dfa'):eval is refused by name, not a crash", function()
  local l = lpdm.loss("dfa")
  T.fails(function() l:eval({ { 0, 1 }, { 1, 0 } }, { { 0, 1 }, { 1, 0 } }) end, "loss.dfa", "learning rule")
  l:close()
end)

T.run_tests(tests, TMP)
