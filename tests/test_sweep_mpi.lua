-- SPDX-License-Identifier: MIT
-- test_sweep_mpi.lua -- scripts/sweep.lua over MPI ranks and as a Slurm job
-- array (docs/distributed.md): a small sweep (CartPole-v1 x reinforce x 2
-- variants x 2 seeds) under mpirun -np 2 gives the same per-run files as the
-- local sweep and spreads its runs over both ranks; a rank killed in the
-- middle of a run is reported (report.md, sweep.json) and its run is done by
-- the next invocation, nothing else repeated; --slurm writes a job-array
-- script that a later plain sweep picks up; bad flags are refused. TAP.
-- Run by ctest as build/lpdm tests/test_sweep_mpi.lua with LPDM_MPIEXEC set
-- (tests/CMakeLists.txt); skipped without it or without MPI in lpdm.

local LPDM = arg and arg[-1]
local HERE = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local SWEEP = HERE .. "/../scripts/sweep.lua"
local MPIEXEC = os.getenv("LPDM_MPIEXEC")
package.path = HERE .. "/lib/?.lua;" .. package.path
local T = require("testlib")

if not MPIEXEC or MPIEXEC == "" or not require("lpdm").mpi.available then
  print("1..0 # SKIP lpdm built without MPI")
  os.exit(0)
end

local tests = {}
local function test(name, fn) tests[#tests + 1] = { name = name, fn = fn } end

-- ---------------------------------------------------------------- helpers

local q, check, read, write, mtime, lines = T.q, T.check, T.read, T.write, T.mtime, T.lines

-- The launcher of 2 ranks: root allowed (containers), more ranks than cores
-- allowed, no shared-memory single-copy (containers lack ptrace rights);
-- --enable-recovery so that a dead rank does not end the other. (Under
-- --enable-recovery OpenMPI 4.1's mpirun exits 0 whatever the ranks' exit
-- statuses: the tests that check a status run mpirun without it, mpi =
-- "strict".)
-- ASan builds (CI): OpenMPI's own allocations are never freed, so leak
-- detection is off in the ranks (ASan's other checks stay on)
local MPIRUN = "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none "
  .. "OMPI_MCA_rmaps_base_oversubscribe=1 " .. q(MPIEXEC)

-- Runs LPDM with the arguments (under mpirun when `mpi`, with the extra
-- environment `env`); returns stdout+stderr, the exit status and the command.
local function run(mpi, env, ...)
  local launcher = mpi == "strict" and (MPIRUN .. " -np 2 ") or mpi and (MPIRUN .. " --enable-recovery -np 2 ") or ""
  return T.sh(T.command((env or "") .. "OPENBLAS_NUM_THREADS=1 " .. launcher, LPDM, { ... }))
end

-- want: the exit status, or nil for any (mpirun's own status does not
-- always follow rank 0's under --enable-recovery).
local function expect(mpi, env, want, wants, ...)
  local out, rc, cmd = run(mpi, env, ...)
  return T.expect_result(out, rc, cmd, want, wants)
end


-- The runs of sweep.json's text, keyed by dir: status, reason, ran.
local runs_of = T.sweep_runs

local TMP = T.tmpdir()

local BASE = [[
return {
  name = "mpi test",
  envs = { { name = "CartPole-v1", steps = %d } },
  algos = { "reinforce" },
  variants = {
    { name = "bp", flags = { mode = "bp" } },
    { name = "local", flags = { mode = "local", loss = "guided" } },
  },
  seeds = { 1, 2 },
}
]]
local CONFIG = TMP .. "/sweep.lua"
write(CONFIG, BASE:format(3000))
-- Long enough runs (a second or two) for a rank to be killed while its
-- run is running, also on a loaded machine.
local CONFIG_LONG = TMP .. "/sweep_long.lua"
write(CONFIG_LONG, BASE:format(150000))
local RUNS = {}
for _, v in ipairs({ "bp", "local" }) do
  for _, s in ipairs({ 1, 2 }) do RUNS[#RUNS + 1] = string.format("runs/CartPole-v1/reinforce/%s/s%d", v, s) end
end
local OUT = TMP .. "/mpi sweep" -- a space: paths are quoted
local LOCAL = TMP .. "/local"

-- ---------------------------------------------------------------- tests

test("mpirun -np 2: all 4 runs done on both ranks, report.md written, progress.csv as in a local sweep", function()
  expect(false, nil, 0, { "4/4 runs done, 0 failed" }, SWEEP, CONFIG, "--out=" .. LOCAL, "--jobs=2")
  local out = expect("strict", nil, 0, { "4 to run, 1 at a time on each of 2 MPI ranks", "[rank 1] finished",
    "4/4 runs done, 0 failed" }, SWEEP, CONFIG, "--out=" .. OUT)
  for _, rel in ipairs(RUNS) do
    local s = read(OUT .. "/" .. rel .. "/summary.json")
    check(s and s:find('"status": "done"', 1, true), "summary.json not done in " .. rel .. "\n" .. out)
    local a, b = read(OUT .. "/" .. rel .. "/progress.csv"), read(LOCAL .. "/" .. rel .. "/progress.csv")
    check(a and a == b, rel .. "/progress.csv differs from the local sweep's")
  end
  local rep = read(OUT .. "/report.md")
  check(rep and rep:find("| bp | 2/0 |", 1, true) and rep:find("None.", 1, true), "report.md:\n" .. tostring(rep))
  local by = {}
  for _, f in ipairs(lines("cat " .. q(OUT) .. "/mpi/*/claims/*/rank")) do by[f] = (by[f] or 0) + 1 end
  check(by["0"] and by["1"] and by["0"] + by["1"] == 4,
    string.format("claims: rank 0 ran %s, rank 1 ran %s (want both, 4 in all)", tostring(by["0"]), tostring(by["1"])))
  local json = read(OUT .. "/sweep.json")
  for _, rel in ipairs(RUNS) do check(runs_of(json)[rel].status == "done", "sweep.json: " .. rel) end
  check(json:find('"ranks": 2', 1, true), "sweep.json lacks mpi.ranks")
end)

test("a second mpirun of the same sweep runs nothing and removes the old session", function()
  local before = {}
  for _, rel in ipairs(RUNS) do before[rel] = mtime(OUT .. "/" .. rel .. "/progress.csv") end
  local sessions = lines("ls " .. q(OUT .. "/mpi"))
  expect(true, nil, 0, { "4 already done, 0 to run", "4/4 runs done" }, SWEEP, CONFIG, "--out=" .. OUT)
  for _, rel in ipairs(RUNS) do
    check(mtime(OUT .. "/" .. rel .. "/progress.csv") == before[rel], rel .. " was run again")
  end
  local now = lines("ls " .. q(OUT .. "/mpi"))
  check(#now == 1 and now[1] ~= sessions[1], "DIR/mpi holds: " .. table.concat(now, " "))
end)

local DEAD = TMP .. "/dead"
test("a rank killed while running a run: the other finishes, the run is failed naming the rank", function()
  local out = expect(true, "LPDM_TEST_SWEEP_DIE_RANK=1 ", nil,
    { "3/4 runs done, 1 failed", "rank 1 on host" }, SWEEP, CONFIG_LONG, "--out=" .. DEAD, "--mpi-timeout=3")
  local runs = runs_of(read(DEAD .. "/sweep.json") or "")
  local failed = {}
  for rel, r in pairs(runs) do
    if r.status == "failed" then failed[#failed + 1] = rel end
  end
  check(#failed == 1, "sweep.json: want 1 failed run, got " .. #failed .. "\n" .. out)
  local bad = failed[1]
  check(runs[bad].reason:find("^rank 1 on host .+ stopped %(no heartbeat for 3 s%) while running it$"),
    "sweep.json reason: " .. tostring(runs[bad].reason))
  local rep = read(DEAD .. "/report.md") or ""
  check(rep:find("| " .. bad .. " | - | rank 1 on host", 1, true), "report.md does not list " .. bad .. "\n" .. rep)
  check(rep:find("Runs: 4, done 3, failed 1.", 1, true), "report.md counts:\n" .. rep)
end)

test("the next mpirun runs exactly the dead rank's run and leaves the done ones alone", function()
  local runs = runs_of(read(DEAD .. "/sweep.json") or "")
  local before = {}
  for rel, r in pairs(runs) do
    if r.status == "done" then before[rel] = mtime(DEAD .. "/" .. rel .. "/progress.csv") end
  end
  local out = expect(true, nil, 0, { "3 already done, 1 to run", "4/4 runs done, 0 failed" },
    SWEEP, CONFIG_LONG, "--out=" .. DEAD, "--mpi-timeout=3")
  local n = 0
  for rel, t in pairs(before) do
    n = n + 1
    check(mtime(DEAD .. "/" .. rel .. "/progress.csv") == t, rel .. " was run again\n" .. out)
  end
  check(n == 3, "3 runs were done before")
  local started = select(2, out:gsub("%] done runs/", ""))
  check(started == 1, "want 1 run started, got " .. started .. "\n" .. out)
  for rel, r in pairs(runs_of(read(DEAD .. "/sweep.json"))) do
    check(r.status == "done", rel .. " not done")
    check((r.ran == "true") == (before[rel] == nil), rel .. ": ran is " .. tostring(r.ran))
  end
end)

test("--slurm writes a job-array script of the runs not done; a task's run is then found done", function()
  local dir = TMP .. "/slurm out"
  local file = TMP .. "/job.sh"
  local out = expect(false, nil, 0, { "4 to submit", "sbatch", "--out=" .. dir }, SWEEP, CONFIG, "--out=" .. dir,
    "--slurm=" .. file, "--slurm-time=00:10:00", "--slurm-mem=1G", "--jobs=2")
  local text = read(file)
  check(text, "no script written\n" .. out)
  check(text:sub(1, 12) == "#!/bin/bash\n", "no shebang")
  for _, s in ipairs({ "#SBATCH --array=0-3%2\n", "#SBATCH --time=00:10:00\n", "#SBATCH --mem=1G\n",
    "#SBATCH --cpus-per-task=1\n", "#SBATCH --output=" .. dir .. "/slurm/%A_%a.out\n",
    "OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}" }) do
    check(text:find(s, 1, true), "the script lacks " .. s .. "\n" .. text)
  end
  check(not text:find("--partition", 1, true), "a partition without --slurm-partition")
  for i, rel in ipairs(RUNS) do
    local line = text:match("\n  " .. (i - 1) .. "%) ([^\n]*)")
    check(line and line:find(dir .. "/" .. rel, 1, true) and line:find("--seed=", 1, true)
      and line:find("/train.lua", 1, true), "task " .. (i - 1) .. ": " .. tostring(line))
  end
  check(os.execute("bash -n " .. q(file)) == true, "bash -n fails on the script")
  -- Task 0 as Slurm would run it; then a plain sweep finds that run done.
  check(os.execute("cd / && SLURM_ARRAY_TASK_ID=0 bash " .. q(file) .. " >/dev/null 2>&1") == true, "task 0 failed")
  check(read(dir .. "/" .. RUNS[1] .. "/exit_code") == "0\n", "task 0 wrote no exit_code 0")
  expect(false, nil, 0, { "1 already done, 3 to run" }, SWEEP, CONFIG, "--out=" .. dir, "--dry-run")
  out = expect(false, nil, 0, { "1 already done, 3 to submit", "wrote" }, SWEEP, CONFIG,
    "--out=" .. dir, "--slurm=" .. file, "--slurm-partition=short")
  text = read(file)
  check(text:find("#SBATCH --array=0-2\n", 1, true) and text:find("#SBATCH --partition=short\n", 1, true),
    "second script:\n" .. text)
  check(not text:find(RUNS[1], 1, true), "the done run is in the second script")
end)

test("--slurm with every run done writes nothing and says so", function()
  local file = TMP .. "/none.sh"
  expect(false, nil, 0, { "nothing to submit", "every run is done" }, SWEEP, CONFIG, "--out=" .. OUT,
    "--slurm=" .. file)
  check(not read(file), "a script was written")
end)

test("bad input is refused with exit 1 naming the flag", function()
  expect(false, nil, 1, { "--slurm needs --out" }, SWEEP, CONFIG, "--slurm=" .. TMP .. "/x.sh")
  expect(false, nil, 1, { "--slurm needs a file" }, SWEEP, CONFIG, "--out=" .. TMP .. "/x", "--slurm")
  expect(false, nil, 1, { "--mpi-timeout", "'0'" }, SWEEP, CONFIG, "--out=" .. TMP .. "/x", "--mpi-timeout=0")
  expect(false, nil, 1, { "--mpi-timeout", "'soon'" }, SWEEP, CONFIG, "--out=" .. TMP .. "/x", "--mpi-timeout=soon")
  expect(false, nil, 1, { "--slurm-time", "'ten'" }, SWEEP, CONFIG, "--out=" .. TMP .. "/x",
    "--slurm=" .. TMP .. "/x.sh", "--slurm-time=ten")
  expect(false, nil, 1, { "--slurm-cpus", "'0'" }, SWEEP, CONFIG, "--out=" .. TMP .. "/x",
    "--slurm=" .. TMP .. "/x.sh", "--slurm-cpus=0")
  expect(false, nil, 1, { "--slurm-mem only goes with --slurm" }, SWEEP, CONFIG, "--out=" .. TMP .. "/x",
    "--slurm-mem=2G")
  expect("strict", nil, 1, { "--slurm writes a Slurm script and runs nothing" }, SWEEP, CONFIG, "--out=" .. TMP .. "/x",
    "--slurm=" .. TMP .. "/x.sh")
  check(not read(TMP .. "/x.sh") and not read(TMP .. "/x/sweep.json"), "a refused command wrote files")
end)

-- ---------------------------------------------------------------- run

T.run_tests(tests, TMP)
