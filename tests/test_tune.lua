-- SPDX-License-Identifier: MIT
-- test_tune.lua -- scripts/tune.lua as a user meets it: a small tune (PPO
-- on CartPole-v1, 4 trials, rungs of 512 / 1024 / 2048 steps, one space
-- value train.lua refuses) run as a subprocess with --jobs=1 and --jobs=2
-- (the same tune.json), run again (nothing reruns), killed mid-rung and
-- resumed (the same tune.json, no finished run rerun), fed bad input
-- (refused before any run), then handed to scripts/sweep.lua (tune = DIR)
-- on fresh seeds; plus --dry-run, --report-only and --slurm. Checked by
-- exit status, output and the files written, as TAP.
-- Run by ctest as build/lpdm tests/test_tune.lua (arg[-1] is the executable).
local LPDM = arg and arg[-1]
local HERE = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local TUNE = HERE .. "/../scripts/tune.lua"
local SWEEP = HERE .. "/../scripts/sweep.lua"
package.path = HERE .. "/lib/?.lua;" .. HERE .. "/../scripts/lib/?.lua;" .. package.path
local T = require("testlib")
local json = require("json")

local q, check, read, write, mtime = T.q, T.check, T.read, T.write, T.mtime
local tests = {}
local function test(name, fn) tests[#tests + 1] = { name = name, fn = fn } end

local function run(...)
  return T.sh(T.command("OPENBLAS_NUM_THREADS=1 ", LPDM, { ... }))
end
local function expect(want, wants, ...)
  local out, rc, cmd = run(...)
  return T.expect_result(out, rc, cmd, want, wants)
end
local function exists(p) return os.execute("test -e " .. q(p)) == true end

local TMP = T.tmpdir()

-- The tune: act = "nope" is a value train.lua refuses (those trials fail).
local TUNE_FILE = [[
return {
  name = "test", algo = "ppo", envs = { "CartPole-v1" },
  flags = { num_envs = 2, num_steps = 64, hidden = "16" },
  variants = {
    bp = { flags = { mode = "bp" },
      space = { learning_rate = log_uniform{ 1e-3, 1e-2 }, act = choice{ "tanh", "nope" } } },
  },
  budget = { trials = 4, seeds = 1, steps = 2048, min_steps = 512, eta = 2 },
  sampler = "halton", seed = 3,
  %s
}
]]
local CFG = TMP .. "/tune.lua"
write(CFG, TUNE_FILE:format(""))
local D1, D2, D3 = TMP .. "/j1", TMP .. "/j2", TMP .. "/killed"

-- tune.json without what may differ between invocations: the command line
-- (invocation) and the output folder in paths.
local function canon(dir)
  local text = read(dir .. "/tune.json")
  check(text, "no " .. dir .. "/tune.json")
  local t = json.decode(text)
  t.invocation = nil
  return (json.encode(t):gsub(dir:gsub("%p", "%%%0"), "DIR"))
end

-- Every file of the runs under dir with its mtime.
local function run_files(dir)
  local t = {}
  for _, l in ipairs(T.lines("cd " .. q(dir) .. " && find runs -name summary.json -o -name exit_code | sort")) do
    t[l] = mtime(dir .. "/" .. l)
  end
  return t
end

test("a tune runs with --jobs=1: tune.json, report.md, plots; the refused value fails its trial, with its log", function()
  expect(0, { "batch 1: bp rung 0: 4 trials; 4 runs to run", "bp: best trial" }, TUNE, CFG, "--out=" .. D1, "--jobs=1")
  local t = json.decode(read(D1 .. "/tune.json"))
  check(t.status == "finished", "status " .. tostring(t.status))
  local v = t.variants.bp
  check(#v.trials == 4, "trials: " .. #v.trials)
  local failed, top = 0, 0
  for _, tr in ipairs(v.trials) do
    if tr.config.act == "nope" then
      failed = failed + 1
      check(tr.status == "failed", "trial " .. tr.id .. " with act=nope is " .. tostring(tr.status))
      local run = tr.rungs[1].runs[1]
      check(run.status == "failed" and run.exit_code == 1, "its run: " .. tostring(run.status))
      check(run.log_tail and run.log_tail:find("nope", 1, true), "its log tail lacks the reason: " .. tostring(run.log_tail))
    end
    if tr.top_rung == 2 then top = top + 1 end
  end
  check(failed >= 1, "no trial drew act = nope")
  check(top == 1, "trials at the top rung: " .. top)
  check(v.best and v.best.rung == 2 and v.best.config.act == "tanh", "best trial")
  local nruns, steps = 0, 0
  for _, tr in ipairs(v.trials) do
    for _, r in ipairs(tr.rungs) do
      for _, run in ipairs(r.runs or {}) do nruns, steps = nruns + 1, steps + run.env_steps end
    end
  end
  check(v.budget_used.runs == 7 and nruns == 7, "runs used: " .. v.budget_used.runs .. ", listed " .. nruns)
  check(v.budget_used.env_steps == steps and steps >= 2 * 1024 + 2048, "env steps used: " .. v.budget_used.env_steps)
  check(v.best.commands[1]:find("^build/lpdm scripts/train.lua %-%-env=CartPole%-v1 %-%-algo=ppo %-%-steps=2048"),
    "best command: " .. v.best.commands[1])
  local rep = read(D1 .. "/report.md")
  check(rep:find("## Budget used", 1, true) and rep:find("| runs | 7 |", 1, true), "report.md budget:\n" .. rep)
  check(rep:find(v.best.commands[1], 1, true), "report.md lacks the best command")
  check(rep:find("Failed runs", 1, true) and rep:find("nope", 1, true), "report.md lacks the failed run")
  if os.execute("command -v gnuplot >/dev/null 2>&1") then
    for _, p in ipairs({ "tune_learning_rate", "tune_act", "tune_best_so_far" }) do
      check(T.exists(D1 .. "/plots/" .. p .. ".png"), "no plots/" .. p .. ".png")
    end
  end
end)

test("--jobs=2 gives the same tune.json as --jobs=1", function()
  expect(0, { "2 at a time" }, TUNE, CFG, "--out=" .. D2, "--jobs=2")
  local a, b = canon(D1), canon(D2)
  check(a == b, "tune.json differs:\n" .. a:sub(1, 1500) .. "\n----\n" .. b:sub(1, 1500))
end)

test("over 2 MPI ranks (mpirun) the same tune.json as --jobs=1", function()
  local mpiexec = os.getenv("LPDM_MPIEXEC")
  if not mpiexec or mpiexec == "" or not require("lpdm").mpi.available then
    return "skip", "no MPI (LPDM_MPIEXEC unset or lpdm built without MPI)"
  end
  local d = TMP .. "/mpi"
  local cmd = "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 OMPI_ALLOW_RUN_AS_ROOT=1 "
    .. "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_rmaps_base_oversubscribe=1 "
    .. "OPENBLAS_NUM_THREADS=1 " .. q(mpiexec) .. " -np 2 " .. T.command("", LPDM, { TUNE, CFG, "--out=" .. d })
  local out, rc = T.sh(cmd)
  T.expect_result(out, rc, cmd, 0, { "2 MPI ranks", "[rank 1]", "wrote " .. d .. "/tune.json" })
  check(canon(D1) == canon(d), "tune.json over MPI differs from --jobs=1's")
end)

test("running it again runs nothing (not even the failed trial) and writes the same tune.json", function()
  local before, tj = run_files(D1), canon(D1)
  local out = expect(0, {}, TUNE, CFG, "--out=" .. D1, "--jobs=2")
  check(not out:find("runs to run", 1, true), "it ran something:\n" .. out)
  local after = run_files(D1)
  for f, m in pairs(before) do check(after[f] == m, f .. " was rewritten") end
  check(canon(D1) == tj, "tune.json changed")
end)

test("a tune killed mid-rung continues where it stopped: the same tune.json, no finished run rerun", function()
  for _, sig in ipairs({ "TERM", "KILL" }) do
    local d = D3 .. sig
    os.execute("mkdir -p " .. q(d))
    local script = string.format("OPENBLAS_NUM_THREADS=1 %s %s %s --out=%s >%s/log 2>&1 </dev/null & echo $! >%s/tpid; "
      .. "wait $!", q(LPDM), q(TUNE), q(CFG), q(d), q(TMP), q(TMP))
    os.execute("sh -c " .. q(script) .. " >/dev/null 2>&1 &")
    local tpid
    for _ = 1, 50 do
      tpid = (read(TMP .. "/tpid") or ""):match("%d+")
      if tpid then break end
      os.execute("sleep 0.1")
    end
    -- kill once two rung-0 runs have finished and another is under way
    local ok = false
    for _ = 1, 300 do
      local n = #T.lines("find " .. q(d .. "/runs") .. " -name exit_code 2>/dev/null")
      local p = #T.lines("find " .. q(d .. "/runs") .. " -name pid 2>/dev/null")
      if n >= 2 and p > n then ok = true break end
      os.execute("sleep 0.05")
    end
    check(ok, sig .. ": the tune did not get to its third run\n" .. (read(TMP .. "/log") or ""))
    os.execute("kill -" .. sig .. " " .. tpid)
    os.execute("sleep 0.3")
    os.remove(TMP .. "/tpid")
    local before = run_files(d)
    local finished = {}
    for f in pairs(before) do
      local dir = f:match("^(.*)/[^/]*$")
      local code = (read(d .. "/" .. dir .. "/exit_code") or ""):match("%d+")
      if f:match("summary.json$") and read(d .. "/" .. f):find('"status": "done"', 1, true) then finished[f] = before[f] end
      if f:match("exit_code$") and code == "1" then finished[f] = before[f] end
    end
    check(next(finished), sig .. ": nothing had finished")
    expect(0, {}, TUNE, CFG, "--out=" .. d, "--jobs=1")
    local after = run_files(d)
    for f, m in pairs(finished) do check(after[f] == m, sig .. ": " .. f .. " was run again") end
    local a, b = canon(D1), canon(d)
    check(a == b, sig .. ": tune.json differs from the uninterrupted tune's")
  end
end)

local BAD = {
  { "an unknown flag in a space", "variants = { x = { space = { learnin_rate = uniform{ 0.1, 0.2 } } } },",
    { "learnin_rate", "learning_rate" } },
  { "lo > hi", "variants = { x = { space = { ent_coef = uniform{ 0.2, 0.1 } } } },", { "ent_coef" } },
  { "a negative log_uniform bound", "variants = { x = { space = { learning_rate = log_uniform{ -1, 0.1 } } } },",
    { "learning_rate" } },
  { "a budget below the smallest rung", "budget = { trials = 4, steps = 100, min_steps = 512 },", { "budget" } },
  { "an empty range", "variants = { x = { space = { ent_coef = uniform{ 0.1, 0.1 } } } },", { "ent_coef" } },
}
for _, c in ipairs(BAD) do
  test("bad input is refused before any run starts: " .. c[1], function()
    local path = TMP .. "/bad.lua"
    write(path, string.format([[return { algo = "ppo", envs = { "CartPole-v1" },
      %s
      %s }]], c[2]:match("^variants") and c[2] or "variants = { x = { space = { ent_coef = uniform{ 0, 0.1 } } } },",
      c[2]:match("^budget") and c[2] or "budget = { trials = 4, steps = 2048, min_steps = 512 },"))
    local out = expect(1, c[3], TUNE, path, "--out=" .. TMP .. "/bad")
    check(not out:find("traceback", 1, true), "a traceback:\n" .. out)
    check(not exists(TMP .. "/bad"), "a refused tune made its --out folder")
  end)
end

test("a sweep takes the tune's best configuration (tune = DIR) and runs it on fresh seeds", function()
  local cfg = TMP .. "/sweep.lua"
  write(cfg, string.format("return { tune = %q, seeds = { 7 }, steps = 512 }", D1))
  local d = TMP .. "/sweep"
  expect(0, { "1 runs (1 envs x 1 algos x 1 variants x 1 seeds)", "1/1 runs done" }, SWEEP, cfg, "--out=" .. d)
  local best = json.decode(read(D1 .. "/tune.json")).variants.bp.best
  local s = json.decode(read(d .. "/runs/CartPole-v1/ppo/bp/s7/summary.json"))
  check(tonumber(s.config.flags.learning_rate) == best.config.learning_rate, "learning_rate not the tuned one")
  check(s.config.act == best.config.act and s.config.mode == "bp", "act or mode not the tuned ones")
  write(cfg, string.format("return { tune = %q, seeds = { 1, 7 } }", D1))
  expect(1, { "seeds[1]: seed 1 was used to tune" }, SWEEP, cfg, "--out=" .. d .. "x")
end)

test("--dry-run lists the next runs and runs nothing; --slurm writes their array; --report-only reads back", function()
  local d = TMP .. "/dry"
  expect(0, { "next: 4 runs", "todo  runs/bp/t1/r0/CartPole-v1/s1" }, TUNE, CFG, "--out=" .. d, "--dry-run")
  check(not exists(d), "--dry-run made the folder")
  local sh = TMP .. "/tune.sh"
  expect(0, { "a Slurm job array of the 4 next runs" }, TUNE, CFG, "--out=" .. d, "--slurm=" .. sh)
  local text = read(sh) or ""
  check(text:find("#SBATCH --array=0-3", 1, true) and text:find("/runs/bp/t4/r0/CartPole-v1/s1", 1, true),
    "the Slurm script:\n" .. text)
  expect(0, { "the tune is finished" }, TUNE, CFG, "--out=" .. D1, "--report-only")
  expect(0, { "the tune is not finished" }, TUNE, CFG, "--out=" .. d, "--report-only")
  check(read(d .. "/report.md"):find("Not finished", 1, true), "the report does not say it is not finished")
end)

test("scripts/examples/tune_cartpole.lua is a valid tune: 16 trials x 2 seeds at 25000 steps first", function()
  local ex = HERE .. "/../scripts/examples/tune_cartpole.lua"
  local out = expect(0, { "1 variant (bp), 16 trials each, rungs of 25000 / 50000 / 100000 steps", "next: 32 runs",
    "--learning-rate=", "--ent-coef=", "--clip-coef=", "--num-minibatches=", "--mode=bp" }, TUNE, ex,
    "--out=" .. TMP .. "/ex", "--dry-run")
  check(select(2, out:gsub("\ntodo  ", "")) == 32, "not 32 runs listed")
end)

T.run_tests(tests, TMP)
