-- SPDX-License-Identifier: MIT
-- test_cli.lua -- the lpdm executable and scripts/train.lua as a user meets
-- them: run as subprocesses, checked by exit status AND message, as TAP.
-- Run by ctest as build/lpdm tests/test_cli.lua (arg[-1] is the executable);
-- also: build/lpdm tests/test_cli.lua
--
-- Every failing case asserts the exit status (1: a Lua error in a script or
-- in training, 2: bad usage or a bad flag; never a signal, > 128) and that
-- the message names the thing at fault. A case marked TODO documents a known
-- bug: it is reported as "not ok ... # TODO ..." (TAP: not a failure) and
-- turns into "ok ... # TODO" once the bug is fixed; then drop the mark.

local LPDM = arg and arg[-1]
local HERE = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local TRAIN = HERE .. "/../scripts/train.lua"
package.path = HERE .. "/lib/?.lua;" .. package.path
local T = require("testlib")
local STEPS = "--steps=3000"

local tests = {}
-- test(name, fn [, todo]): fn raises to fail; todo is the TAP TODO reason.
local function test(name, fn, todo) tests[#tests + 1] = { name = name, fn = fn, todo = todo } end

-- ---------------------------------------------------------------- helpers

local q, check, read, write, exists = T.q, T.check, T.read, T.write, T.exists

-- Runs LPDM with the given arguments; returns the combined stdout+stderr
-- and the exit status (128+n when killed by signal n). A table as the first
-- argument holds environment assignments ("NAME=value") for the command.
local function run(...)
  local args = { ... }
  local prefix = "OPENBLAS_NUM_THREADS=1 "
  if type(args[1]) == "table" then
    for _, kv in ipairs(table.remove(args, 1)) do
      local k, v = kv:match("^([%w_]+)=(.*)$")
      prefix = prefix .. k .. "=" .. q(v) .. " "
    end
  end
  return T.sh(T.command(prefix, LPDM, args))
end

local function show(out, rc, cmd)
  local o = #out > 1500 and out:sub(1, 1500) .. "\n...(cut)" or out
  return string.format("command: %s\nexit status: %s\noutput:\n%s", cmd, tostring(rc), o)
end

-- The run must exit with status `want` (a number, or "fail": 1..127, an
-- error but no signal) and its output contain every plain substring.
local function expect(want, wants, ...)
  local out, rc, cmd = run(...)
  local ok = (want == "fail" and rc >= 1 and rc < 128) or rc == want
  if not ok then
    error(string.format("expected exit status %s\n%s", tostring(want), show(out, rc, cmd)), 2)
  end
  for _, s in ipairs(wants) do
    if not out:find(s, 1, true) then
      error(string.format("output lacks %q\n%s", s, show(out, rc, cmd)), 2)
    end
  end
  return out
end


-- The temp dir for every output (removed at the end).
local TMP = T.tmpdir()

-- ---------------------------------------------------------------- 1. success

-- Checks the three files a finished run writes to dir.
local function check_outputs(dir, mode)
  local prog = read(dir .. "/progress.csv")
  check(prog, "no progress.csv in " .. dir)
  local header = prog:match("^[^\n]*")
  check(header == "global_step,episode,episode_return,episode_length,avg20",
    "progress.csv header: " .. header)
  local rows = 0
  for line in prog:gmatch("[^\n]+") do
    if line ~= header then
      rows = rows + 1
      check(line:match("^%d+,%d+,[%d%.%-e]+,%d+,[%d%.%-e]*$"), "progress.csv row: " .. line)
    end
  end
  check(rows >= 1, "progress.csv has no data row")
  local upd = read(dir .. "/updates.csv")
  check(upd, "no updates.csv in " .. dir)
  check(upd:match("^global_step,wall_time,[^\n]+\n%d+,[%d%.]+,"), "updates.csv: header and a data row: " .. upd:sub(1, 200))
  local sum = read(dir .. "/summary.json")
  check(sum, "no summary.json in " .. dir)
  for _, s in ipairs({ '"final_avg20": ', '"best_avg20": ', '"episodes": ', '"global_step": ',
    '"status": "done"', '"mode": "' .. mode .. '"', '"steps": 3000', '"algo_config": {' }) do
    check(sum:find(s, 1, true), "summary.json lacks " .. s .. "\n" .. sum:sub(1, 600))
  end
  check(sum:match('"final_avg20": %d'), "final_avg20 is a number")
  for _, f in ipairs({ "progress.csv", "updates.csv", "summary.json" }) do
    check(not exists(dir .. "/" .. f .. ".tmp"), f .. ".tmp left behind")
  end
end

test("a short local run exits 0 and writes progress.csv, updates.csv, summary.json", function()
  local dir = TMP .. "/local run"          -- a space: paths are quoted
  local out = expect(0, { "done:", "wrote " .. dir }, TRAIN, STEPS, "--out=" .. dir)
  check(out:find("mode=local", 1, true), "the first line names the mode")
  check_outputs(dir, "local")
end)

test("--mode=bp --quiet: exits 0, writes the three files, no progress lines", function()
  local dir = TMP .. "/it's bp"            -- a quote too
  local out = expect(0, { "done:" }, TRAIN, "--mode=bp", STEPS, "--quiet", "--out=" .. dir)
  check(not out:find("\nstep ", 1, true) and not out:find("^step "), "--quiet printed progress lines")
  check_outputs(dir, "bp")
end)

-- ---------------------------------------------------------------- 2-4. names

test("a misspelled flag names it and lists the known flags", function()
  expect(1, { "unknown flag --stepz", "known flags:", "--steps", "--env", "--local-lr", "--alpha" },
    TRAIN, "--stepz=10")
end)

test("a misspelled env names it and lists CartPole-v1", function()
  expect(1, { "'CartPol-v1'", "known", "CartPole-v1" }, TRAIN, "--env=CartPol-v1", "--out=" .. TMP .. "/x")
end)

test("a misspelled algo names it", function()
  expect(1, { "unknown algo 'reinforc'", "reinforce" }, TRAIN, "--algo=reinforc", "--out=" .. TMP .. "/x")
end)

test("a misspelled loss names it", function()
  expect(1, { "unknown loss 'guidd'", "guided" }, TRAIN, "--loss=guidd", "--out=" .. TMP .. "/x")
end)

test("a misspelled distance names it", function()
  expect(1, { "unknown distance 'euclid'", "euclidean" }, TRAIN, "--distance=euclid", "--out=" .. TMP .. "/x")
end)

test("a misspelled activation names the layer and the value", function()
  expect(1, { "layer 1", "dense", "'sigmoidd'" }, TRAIN, "--act=sigmoidd", STEPS, "--out=" .. TMP .. "/x")
end)

-- ---------------------------------------------------------------- 5. values

local BAD = {
  { "--steps=abc", { "--steps", "'abc'" } },
  { "--steps=0", { "--steps", "'0'" } },
  { "--mode=sideways", { "--mode", "'sideways'" } },
  { "--hidden=64,x", { "--hidden", "'64,x'" } },
  { "--hidden=0", { "--hidden", "'0'" } },
  { "--hidden=64,,64", { "--hidden", "'64,,64'" } },
  { "--seed=1.5", { "--seed", "'1.5'" } },
  { "--seed=-1", { "--seed", "'-1'" } },
  { "--gamma=2", { "gamma", "[0, 1]", "got 2" } },
  { "--gamma=abc", { "gamma", "'abc'" } },
  { "--alpha=7", { "loss.guided", "alpha", "[0, 1]", "got 7" } },
  { "--episodes-per-update=0", { "episodes_per_update" } },
  { "--lr=-1", { "lr must be >= 0" } },
  { "--quiet=maybe", { "--quiet", "'maybe'" } },
  { "--threshold=high", { "--threshold", "'high'" } },
  { "--env", { "--env needs a value" } },
  { "--blocked=maybe", { "--blocked", "'maybe'" } },
  { "--local-budget-mib=0", { "--local-budget-mib", "'0'" } },
  { "--partners=-1", { "--partners", "'-1'" } },
  { "--partners=2.5", { "--partners", "'2.5'" } },
  { "--partners=some", { "--partners", "'some'" } },
  { "stray", { "'stray'" } },
}
for _, c in ipairs(BAD) do
  test("bad value " .. c[1] .. " is refused by name", function()
    local args = { TRAIN, c[1], "--out=" .. TMP .. "/bad" }
    if not c[1]:match("^%-%-steps=") then args[#args + 1] = STEPS end
    expect(1, c[2], table.unpack(args))
    check(not exists(TMP .. "/bad/progress.csv"), "a refused run wrote progress.csv")
  end)
end

test("a NaN learning rate is refused by name (--local-lr=nan)", function()
  expect("fail", { "local_lr" }, TRAIN, "--local-lr=nan", STEPS, "--quiet", "--out=" .. TMP .. "/nanlr")
end)

-- ---------------------------------------------------------------- 6. blow-ups

test("bp: --lr=1e38 blows the weights up: exit 1 naming the layer, summary says error", function()
  local dir = TMP .. "/bp_blowup"
  expect(1, { "layer 1", "non-finite" }, TRAIN, "--mode=bp", "--lr=1e38", STEPS, "--quiet", "--out=" .. dir)
  local sum = read(dir .. "/summary.json") or ""
  check(sum:find('"status": "error"', 1, true) and sum:find("non-finite", 1, true),
    "summary.json records the error:\n" .. sum:sub(1, 400))
end)

test("local: --head-lr=1e38 blows the head up: exit 1 naming the layer", function()
  expect(1, { "policy update", "layer", "non-finite" }, TRAIN, "--head-lr=1e38", STEPS, "--quiet",
    "--out=" .. TMP .. "/head_blowup")
end)

test("local: --local-lr=1e38 blows the hidden layers up: exit 1 naming the layer", function()
  expect(1, { "layer", "non-finite" }, TRAIN, "--local-lr=1e38", STEPS, "--quiet",
    "--out=" .. TMP .. "/local_blowup")
end)

-- ---------------------------------------------------------------- 7. --out

test("an unwritable --out exits 1 naming the path", function()
  expect(1, { "/proc/forbidden/x" }, TRAIN, "--out=/proc/forbidden/x", STEPS)
end)

test("an --out that is a file exits 1 naming the path", function()
  local file = TMP .. "/a file"
  write(file, "x")
  expect(1, { file }, TRAIN, "--out=" .. file, STEPS)
end)

-- ---------------------------------------------------------------- 8. scripts

local SCRIPTS = {
  { "syntax.lua", "local x = 1\nlocal y = = 2\n", { "syntax.lua:2:", "near '='" } },
  { "env42.lua", 'local lpdm = require("lpdm")\nlpdm.env(42)\n', { "env42.lua:2:", "'42'" } },
  { "envtable.lua", 'local lpdm = require("lpdm")\nlpdm.env({})\n',
    { "envtable.lua:2:", "bad argument #1 to 'env' (string expected, got table)" } },
  { "stepx.lua", 'local lpdm = require("lpdm")\nlocal env = lpdm.env("CartPole-v1")\n'
    .. 'env:reset{ seed = 1 }\nenv:step("x")\n',
    { "stepx.lua:4:", "bad argument #1 to 'step' (number expected, got string)" } },
  { "step5.lua", 'local lpdm = require("lpdm")\nlocal env = lpdm.env("CartPole-v1")\n'
    .. 'env:reset{ seed = 1 }\nenv:step(5)\n', { "step5.lua:4:", "action 5 out of range" } },
  { "dense0.lua", 'local lpdm = require("lpdm")\nlocal net = lpdm.net{ inputs = 4, lpdm.dense{ 0 } }\n',
    { "dense0.lua:2:", "layer 1", "dense", "out", "got 0" } },
  { "raise.lua", 'error("plain failure")\n', { "raise.lua:1:", "plain failure", "stack traceback" } },
}
for _, s in ipairs(SCRIPTS) do
  test("lpdm " .. s[1] .. " exits 1 with file:line and a Lua-worded message", function()
    local path = TMP .. "/" .. s[1]
    write(path, s[2])
    expect(1, s[3], path)
  end)
end

test("lpdm on a missing script exits 1 naming it", function()
  expect(1, { TMP .. "/nope.lua" }, TMP .. "/nope.lua")
end)

test("a script sees arg like the lua interpreter", function()
  local path = TMP .. "/args.lua"
  write(path, 'print(#arg, arg[0], arg[1], arg[2], arg[-1] ~= nil, select("#", ...))\n')
  expect(0, { "2\t" .. path .. "\ta b\tc\ttrue\t2" }, path, "a b", "c")
end)

-- ---------------------------------------------------------------- 9. executable

test("lpdm with no arguments exits 1 with the usage", function()
  expect(1, { "usage:" })
end)

test("lpdm with an unknown option exits 1 naming it", function()
  expect(1, { "'-x'", "usage:" }, "-x")
end)

test("lpdm -v prints the version", function()
  local out = expect(0, {}, "-v")
  check(out:match("^lpdm %d+%.%d+%.%d+"), "version line: " .. out)
end)

test("lpdm runs OpenBLAS on one thread unless the environment says otherwise", function()
  local code = "print('blas=' .. require('lpdm').blas_threads())"
  local p = assert(io.popen("env -u OPENBLAS_NUM_THREADS -u GOTO_NUM_THREADS -u OMP_NUM_THREADS " .. q(LPDM) ..
    " -e " .. q(code) .. " 2>&1", "r"))
  local out = p:read("a")
  p:close()
  check(out:find("blas=1", 1, true), "no thread variable set: " .. out)
  out = expect(0, { "blas=2" }, { "OPENBLAS_NUM_THREADS=2" }, "-e", code)
end)

test("train.lua --list lists the plugins", function()
  local out = expect(0, { "envs:", "algos:", "distances:", "losses:", "layers:" }, TRAIN, "--list")
  for _, name in ipairs({ "CartPole-v1", "reinforce", "euclidean", "stress", "guided", "dense" }) do
    check(out:match("\n  " .. name:gsub("%-", "%%-") .. " "), "--list lacks " .. name .. "\n" .. out)
  end
end)

test("train.lua --help lists the fixed flags and the algorithm's", function()
  expect(0, { "usage:", "--steps", "--hidden", "--local-lr", "--alpha" }, TRAIN, "--help")
end)

-- ---------------------------------------------------------------- 10. widths

-- A layer spec cannot state its input width (dense's keys: out, act, bias,
-- init, gain): lpdm.net chains each layer to the previous one's output.
test("lpdm.net chains the layer widths; an explicit input width is refused", function()
  local lpdm = require("lpdm")
  local net = lpdm.net { inputs = 4, seed = 1, lpdm.dense { 8 }, lpdm.dense { 3, act = "relu" } }
  check(net.inputs == 4 and net.outputs == 3 and net.depth == 2, "net shape")
  check(net:layer(1).in_dim == 4, "layer 1 takes the inputs")
  check(net:layer(2).in_dim == net:layer(1).out_dim, "layer 2 takes layer 1's outputs")
  check(#net:forward({ 0.1, 0.2, 0.3, 0.4 }) == 3, "forward gives 3 outputs")
  net:close()
  for _, key in ipairs({ "in", "in_dim", "inputs" }) do
    local ok, err = pcall(lpdm.dense, { 8, [key] = 3 })
    check(not ok and tostring(err):find("unknown config key '" .. key .. "'", 1, true),
      "dense{" .. key .. "=} is refused by name: " .. tostring(err))
  end
end)

test("a policy whose width does not match the env's observations is refused by name", function()
  local path = TMP .. "/width.lua"
  write(path, 'local lpdm = require("lpdm")\n'
    .. 'local net = lpdm.net{ inputs = 5, lpdm.dense{ 8 } }\n'
    .. 'lpdm.algo("reinforce", { env = "CartPole-v1", policy = net, steps = 100 })\n')
  expect(1, { "width.lua:3:", "5 inputs", "4" }, path)
end)

-- ---------------------------------------------------------------- ppo

test("ppo takes CleanRL's flag names and reports the resolved defaults", function()
  local dir = TMP .. "/ppo"
  expect(0, { "done:" }, TRAIN, "--algo=ppo", "--mode=bp", "--total-timesteps=2048", "--num-envs=2",
    "--num-steps=256", "--num-minibatches=8", "--update-epochs=2", "--learning-rate=3e-4", "--gae-lambda=0.9",
    "--clip-coef=0.1", "--ent-coef=0", "--vf-coef=1", "--max-grad-norm=1", "--target-kl=0.02", "--quiet",
    "--out=" .. dir)
  local sum = read(dir .. "/summary.json") or ""
  for _, s in ipairs({ '"num_envs": 2', '"num_steps": 256', '"num_minibatches": 8', '"update_epochs": 2',
    '"clip_coef": 0.1', '"target_kl": 0.02', '"init": "orthogonal"', '"steps": 2048' }) do
    check(sum:find(s, 1, true), "summary.json lacks " .. s .. "\n" .. sum:sub(1, 900))
  end
  local upd = read(dir .. "/updates.csv") or ""
  for _, c in ipairs({ "approx_kl", "clipfrac", "explained_variance", "sps", "value_loss", "policy_loss",
    "entropy", "learning_rate" }) do
    check(upd:match("^[^\n]*" .. c), "updates.csv has no column " .. c .. ": " .. upd:sub(1, 300))
  end
  -- -1 defaults resolve by the action space: Discrete gets ppo.py's
  local dir2 = TMP .. "/ppo-auto"
  expect(0, { "done:" }, TRAIN, "--algo=ppo", "--mode=local", "--steps=512", "--quiet", "--out=" .. dir2)
  sum = read(dir2 .. "/summary.json") or ""
  for _, s in ipairs({ '"num_envs": 4', '"num_steps": 128', '"learning_rate": 0.00025', '"ent_coef": 0.01',
    '"norm_obs": "false"' }) do
    check(sum:find(s, 1, true), "summary.json lacks " .. s .. "\n" .. sum:sub(1, 900))
  end
end)

test("ppo refuses inconsistent sizes by name, before any env step", function()
  expect(1, { "num_minibatches (3) must divide", "512" }, TRAIN, "--algo=ppo", "--num-minibatches=3", STEPS)
  expect(1, { "num_envs must be >= 1" }, TRAIN, "--algo=ppo", "--num-envs=0", STEPS)
  expect(1, { "num_steps must be >= 1" }, TRAIN, "--algo=ppo", "--num-steps=-5", STEPS)
  expect(1, { "clip_coef must be > 0" }, TRAIN, "--algo=ppo", "--clip-coef=0", STEPS)
  expect(1, { "steps (100) must cover at least one batch", "512" }, TRAIN, "--algo=ppo", "--steps=100")
  expect(1, { "norm_obs must be true, false or auto", "maybe" }, TRAIN, "--algo=ppo", "--norm-obs=maybe", STEPS)
  expect(1, { "actor_local_lrs", "2 rates" }, TRAIN, "--algo=ppo", "--actor-local-lrs=1e-3", STEPS)
  expect(1, { "--steps and --total-timesteps" }, TRAIN, "--algo=ppo", "--steps=600", "--total-timesteps=600")
end)

-- ---------------------------------------------------------------- determinism

test("the same command and seed give a byte-identical progress.csv (reinforce and ppo, bp and local)", function()
  for _, algo in ipairs({ "reinforce", "ppo" }) do
    for _, mode in ipairs({ "bp", "local" }) do
      local outs = {}
      for k = 1, 2 do
        local dir = string.format("%s/det-%s-%s-%d", TMP, algo, mode, k)
        expect(0, { "done:" }, TRAIN, "--algo=" .. algo, "--mode=" .. mode, "--steps=6000", "--seed=3", "--quiet",
          "--out=" .. dir)
        outs[k] = read(dir .. "/progress.csv")
      end
      check(outs[1] and #outs[1] > 60 and outs[1] == outs[2],
        algo .. " " .. mode .. ": progress.csv differs between two runs of the same command")
    end
  end
  local other = TMP .. "/det-other"
  expect(0, { "done:" }, TRAIN, "--algo=ppo", "--mode=bp", "--steps=6000", "--seed=4", "--quiet", "--out=" .. other)
  check(read(other .. "/progress.csv") ~= read(TMP .. "/det-ppo-bp-1/progress.csv"), "another seed gives another run")
end)

test("--blocked=true trains through the row-blocked path and says so in summary.json", function()
  local dir = TMP .. "/blocked"
  expect(0, { "done:" }, TRAIN, "--blocked=true", "--local-budget-mib=64", STEPS, "--quiet", "--out=" .. dir)
  local sj = read(dir .. "/summary.json") or ""
  check(sj:find('"blocked": true', 1, true) and sj:find('"local_budget_mib": 64', 1, true),
    "summary.json records the large-batch settings")
end)

test("--partners=K reaches the nets: another progress.csv than every pair, the same bytes twice, in summary.json",
  function()
    for _, algo in ipairs({ "reinforce", "ppo" }) do
      local base = { TRAIN, "--algo=" .. algo, "--mode=local", "--steps=6000", "--seed=3", "--quiet" }
      local function go(name, extra)
        local args = { table.unpack(base) }
        if extra then args[#args + 1] = extra end
        args[#args + 1] = "--out=" .. TMP .. "/partners-" .. algo .. "-" .. name
        expect(0, { "done:" }, table.unpack(args))
        return read(TMP .. "/partners-" .. algo .. "-" .. name .. "/progress.csv")
      end
      local all, all0, p1, p2 = go("all"), go("zero", "--partners=0"), go("k8a", "--partners=8"), go("k8b", "--partners=8")
      check(all and #all > 60 and all == all0, algo .. ": --partners=0 is every pair, the same bytes as no flag")
      check(p1 and #p1 > 60 and p1 == p2, algo .. ": two --partners=8 runs differ")
      check(p1 ~= all, algo .. ": --partners=8 gives the same progress.csv as every pair (the flag did not reach the net)")
      local sj = read(TMP .. "/partners-" .. algo .. "-k8a/summary.json") or ""
      check(sj:find('"partners": 8', 1, true), algo .. ": summary.json lacks \"partners\": 8")
    end
  end)

test("--help shows --partners; --partners in bp mode is refused by name", function()
  expect(0, { "--partners", "K random" }, TRAIN, "--help")
  expect(1, { "--partners=4", "--mode=local" }, TRAIN, "--partners=4", "--mode=bp", STEPS, "--out=" .. TMP .. "/pbp")
  check(not exists(TMP .. "/pbp/progress.csv"), "a refused run wrote progress.csv")
  expect(0, { "done:" }, TRAIN, "--partners=0", "--mode=bp", STEPS, "--quiet", "--out=" .. TMP .. "/pbp0")
end)

-- ---------------------------------------------------------------- resume

-- Runs flags uninterrupted into DIR-a, then checkpointed every 5 updates
-- and killed by SIGKILL after update 13 into DIR-b, resumes DIR-b, and
-- compares the two progress.csv files byte for byte.
local function kill_and_resume(name, flags)
  local a, b = TMP .. "/resume-" .. name .. "-a", TMP .. "/resume-" .. name .. "-b"
  local plain = { table.unpack(flags) }
  plain[#plain + 1] = "--out=" .. a
  expect(0, { "done:" }, TRAIN, table.unpack(plain))
  local cmd = string.format("LPDM_TEST_KILL_AFTER=13 OPENBLAS_NUM_THREADS=1 %s %s %s --checkpoint-every=5 --out=%s " ..
    "</dev/null >/dev/null 2>&1; echo $?", q(LPDM), q(TRAIN), table.concat(flags, " "), q(b))
  local p = assert(io.popen(cmd, "r"))
  local status = tonumber(p:read("a"))
  p:close()
  check(status == 137, name .. ": the run was to die by SIGKILL (exit 137), got " .. tostring(status))
  local killed = read(b .. "/progress.csv") or ""
  local again = { table.unpack(flags) }
  again[#again + 1] = "--checkpoint-every=5"
  again[#again + 1] = "--resume=" .. b
  expect(0, { "done:" }, TRAIN, table.unpack(again))
  local want, got = read(a .. "/progress.csv"), read(b .. "/progress.csv")
  check(want and got and #want > 200 and want == got, name .. ": progress.csv after resume differs from the " ..
    "uninterrupted run's (" .. #(got or "") .. " vs " .. #(want or "") .. " bytes)")
  check(#killed < #want, name .. ": the killed run had not finished")
  return b
end

-- REINFORCE's case carries the state beyond the nets: the baseline, the
-- observation moments and the window of recent states with their guidance.
test("a run killed with SIGKILL and resumed from its checkpoint writes the same progress.csv", function()
  local flags = { "--algo=reinforce", "--mode=local", "--steps=20000", "--seed=2", "--quiet", "--loss=guided",
    "--baseline=true", "--guide=advantage", "--norm-obs=true", "--local-window=512" }
  local b = kill_and_resume("reinforce", flags)
  expect(1, { "--resume=" .. b, "other flags" }, TRAIN, flags[1], flags[2], flags[3], "--seed=9", flags[5],
    "--resume=" .. b)
end)

test("PPO killed and resumed: bp, local on two threads, continuous with normalisation", function()
  kill_and_resume("ppo-bp", { "--algo=ppo", "--mode=bp", "--steps=12000", "--seed=3", "--quiet" })
  kill_and_resume("ppo-local", { "--algo=ppo", "--mode=local", "--steps=12000", "--seed=3", "--threads=2",
    "--loss=kernel", "--anchor=1", "--feature-norm=true", "--quiet" })
  kill_and_resume("ppo-box", { "--algo=ppo", "--mode=local", "--env=Pendulum-v1", "--num-envs=2",
    "--num-steps=256", "--steps=10000", "--seed=5", "--quiet" })
end)

test("PPO local with --partners killed and resumed: the partners' generators are in the checkpoint", function()
  kill_and_resume("ppo-partners", { "--algo=ppo", "--mode=local", "--steps=12000", "--seed=3", "--partners=8",
    "--quiet" })
end)

test("DQN killed and resumed (replay buffer in the checkpoint): bp and local; another buffer size is named", function()
  local flags = { "--algo=dqn", "--mode=bp", "--steps=4000", "--learning-starts=500", "--seed=3", "--quiet" }
  local b = kill_and_resume("dqn-bp", flags)
  local other = { table.unpack(flags) }
  other[#other + 1] = "--buffer-size=5000"
  other[#other + 1] = "--resume=" .. b
  expect(1, { "replay buffer holds 10000 transitions", "buffer_size is 5000" }, TRAIN, table.unpack(other))
  kill_and_resume("dqn-local", { "--algo=dqn", "--mode=local", "--steps=4000", "--learning-starts=500",
    "--target-network-frequency=200", "--tau=0.5", "--seed=4", "--quiet" })
end)

test("DQN refuses a Box action space by name, and a replay buffer it cannot allocate, naming its size", function()
  expect(1, { "dqn needs a Discrete action space", "Pendulum-v1" }, TRAIN, "--algo=dqn", "--env=Pendulum-v1",
    "--quiet", "--out=" .. TMP .. "/dqn-box")
  expect(1, { "buffer_size=100000000000000", "bytes" }, TRAIN, "--algo=dqn", "--buffer-size=100000000000000",
    "--quiet", "--out=" .. TMP .. "/dqn-huge")
end)

test("an algorithm without checkpoints is named when asked for one", function()
  local fx = os.getenv("LPDM_FIXTURE_DIR")
  check(fx, "LPDM_FIXTURE_DIR is not set (ctest sets it)")
  local dir = TMP .. "/old-algo"
  os.execute("mkdir -p " .. q(dir) .. " && cp " .. q(fx .. "/old_algo.so") .. " " .. q(dir))
  local env = { "LPDM_PLUGIN_PATH=" .. dir }
  expect(0, { "done:" }, env, TRAIN, "--algo=fixture_old", "--steps=300", "--quiet", "--out=" .. TMP .. "/old-run")
  expect(1, { "algo.fixture_old cannot be checkpointed" }, env, TRAIN, "--algo=fixture_old", "--steps=300",
    "--checkpoint-every=1", "--quiet", "--out=" .. TMP .. "/old-ckpt")
end)

test("a plugin directory with broken files stops lpdm, naming the directory and the first broken file", function()
  local fx = os.getenv("LPDM_FIXTURE_DIR")
  check(fx, "LPDM_FIXTURE_DIR is not set (ctest sets it)")
  expect(1, { "LPDM_PLUGIN_PATH directory '" .. fx .. "'", "bad_default.so" }, { "LPDM_PLUGIN_PATH=" .. fx }, TRAIN,
    "--steps=100", "--quiet", "--out=" .. TMP .. "/broken-dir")
  expect(1, { "LPDM_PLUGIN_PATH lists '" .. TMP .. "/no-such-dir'" }, { "LPDM_PLUGIN_PATH=" .. TMP .. "/no-such-dir" },
    TRAIN, "--steps=100", "--quiet", "--out=" .. TMP .. "/broken-dir")
end)

test("plugins are never loaded from the working directory, nor from an empty LPDM_PLUGIN_PATH entry", function()
  local dir = TMP .. "/old-algo" -- holds old_algo.so (the test above)
  local abs = TRAIN:sub(1, 1) == "/" and TRAIN or (os.getenv("PWD") .. "/" .. TRAIN)
  for _, env in ipairs({ {}, { "LPDM_PLUGIN_PATH=:" }, { "LPDM_PLUGIN_PATH=" } }) do
    local parts = { "cd " .. q(dir) .. " &&" }
    for _, kv in ipairs(env) do parts[#parts + 1] = kv end
    parts[#parts + 1] = "OPENBLAS_NUM_THREADS=1 " .. q(LPDM) .. " " .. q(abs) .. " --algo=fixture_old --steps=300 --quiet " ..
      "--out=" .. q(TMP .. "/cwd-run") .. " </dev/null 2>&1; echo rc=$?"
    local p = assert(io.popen(table.concat(parts, " "), "r"))
    local out = p:read("a")
    p:close()
    check(out:find("unknown algo", 1, true) and out:find("rc=1", 1, true),
      "old_algo.so in the working directory was loaded (env " .. table.concat(env, " ") .. "): " .. out)
  end
end)

-- ---------------------------------------------------------------- run

T.run_tests(tests, TMP)
