-- SPDX-License-Identifier: MIT
-- bench_mpi.lua -- issue 11's speed figures, each measured side by side in
-- one run on this machine:
--   [1] data-parallel PPO: training env steps/s of one process and of
--       `mpiexec -np 2 ... --distributed`, the same total env copies and seed
--       (so the same run: docs/distributed.md);
--   [2] sweeps: runs/hour of one small sweep run by one process (--jobs=1),
--       by `mpiexec -np 2` (one run per rank at a time), and by one process
--       with --jobs=2.
--
--   build/lpdm bench/bench_mpi.lua [--quick]
--
-- Needs lpdm built with MPI and an mpiexec (LPDM_MPIEXEC, else the one on
-- PATH). Run it on a quiet machine: the ranks share its cores with
-- everything else.
local lpdm = require("lpdm")
local LPDM = arg[-1]
local HERE = (arg[0]:match("^(.*)/[^/]*$") or ".")
local TRAIN = HERE .. "/../scripts/train.lua"
local SWEEP = HERE .. "/../scripts/sweep.lua"
local quick = arg[1] == "--quick"

package.path = HERE .. "/../scripts/lib/?.lua;" .. package.path
local util = require("util")
local q, read = util.quote, util.read
local function sh(c)
  local h = assert(io.popen(c .. " 2>&1; echo \"rc=$?\"", "r"))
  local o = h:read("a")
  h:close()
  return o, tonumber(o:match("rc=(%d+)%s*$"))
end
local function die(m)
  io.stderr:write("bench_mpi.lua: ", m, "\n")
  os.exit(1)
end

if not lpdm.mpi.available then die("lpdm was built without MPI (install libopenmpi-dev openmpi-bin, rebuild)") end
local MPIEXEC = os.getenv("LPDM_MPIEXEC") or "mpiexec"
local ENV = "OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " ..
  "OMPI_MCA_btl_vader_single_copy_mechanism=none "
local MPI = ENV .. q(MPIEXEC) .. " -np 2 "

local tmp = os.tmpname()
os.remove(tmp)
assert(os.execute("mkdir -p " .. q(tmp)))

local cpu = (read("/proc/cpuinfo") or ""):match("model name%s*:%s*([^\n]+)") or "?"
local ncpu = select(2, (read("/proc/cpuinfo") or ""):gsub("\nprocessor", "")) + 1
print(string.format("machine: %s, %d cores; OPENBLAS_NUM_THREADS=1; lpdm %s", cpu, ncpu, lpdm.version))

-- [1] data-parallel PPO
local function rate(dir)
  local s = read(dir .. "/summary.json") or ""
  return tonumber(s:match('"steps_per_s":%s*([%d%.e%+%-]+)'))
end
local cases = {
  { "CartPole-v1 bp", "--env=CartPole-v1 --mode=bp", quick and 51200 or 204800 },
  { "CartPole-v1 local (default)", "--env=CartPole-v1 --mode=local", quick and 20480 or 81920 },
  { "HalfCheetah-v5 bp, 2 copies", "--env=HalfCheetah-v5 --mode=bp --num-envs=2", quick and 20480 or 81920 },
  { "HalfCheetah-v5 local, 2 copies", "--env=HalfCheetah-v5 --mode=local --num-envs=2", quick and 20480 or 81920 },
}
print("\n[1] data-parallel PPO (train.lua --algo=ppo --seed=1), training env steps/s")
print(string.format("    %-32s %12s %12s %8s %s", "", "1 process", "2 ranks", "ratio", "episodes (progress.csv)"))
for i, c in ipairs(cases) do
  local flags = " --algo=ppo --seed=1 --quiet --steps=" .. c[3] .. " " .. c[2]
  local d1, d2 = tmp .. "/p" .. i .. "a", tmp .. "/p" .. i .. "b"
  local o1, r1 = sh(ENV .. q(LPDM) .. " " .. q(TRAIN) .. flags .. " --out=" .. q(d1))
  local o2, r2 = sh(MPI .. q(LPDM) .. " " .. q(TRAIN) .. flags .. " --distributed --out=" .. q(d2))
  if r1 ~= 0 or r2 ~= 0 then die("a run failed:\n" .. o1 .. o2) end
  local a, b = rate(d1), rate(d2)
  -- the same run up to the order of float sums: identical rows for a while,
  -- then (a sampled action flips, or a Box action moves in its last bits)
  -- two trajectories of the same distribution
  local r1, r2, first, n = read(d1 .. "/progress.csv") or "", read(d2 .. "/progress.csv") or "", nil, 0
  local l2 = {}
  for line in r2:gmatch("[^\n]+") do l2[#l2 + 1] = line end
  for line in r1:gmatch("[^\n]+") do
    n = n + 1
    if not first and line ~= l2[n] then first = n - 1 end
  end
  print(string.format("    %-32s %12.0f %12.0f %7.2fx %s", c[1], a, b, b / a,
    first and string.format("same first %d of %d episodes", first - 1, n - 1) or "identical"))
end

-- [2] sweeps
local sweep_ok = (read(SWEEP) or ""):find("mpi_sweep", 1, true) ~= nil
print("\n[2] sweep throughput: 8 runs of PPO local on CartPole-v1 (30720 steps each), runs/hour")
if not sweep_ok then
  print("    (skipped: this sweep.lua has no MPI support)")
else
  local cfg = tmp .. "/sweep_cfg.lua"
  local f = assert(io.open(cfg, "w"))
  f:write([[return { envs = { { name = "CartPole-v1", steps = 30720 } }, algos = { "ppo" },
  variants = { { name = "a", flags = { mode = "local" } }, { name = "b", flags = { mode = "local", loss = "guided" } } },
  seeds = { 1, 2, 3, 4 } }]])
  f:close()
  local function time_sweep(prefix, out, extra)
    local t0 = lpdm.clock()
    local o, r = sh(prefix .. q(LPDM) .. " " .. q(SWEEP) .. " " .. q(cfg) .. " --out=" .. q(out) .. (extra or ""))
    if r ~= 0 then die("a sweep failed:\n" .. o) end
    return 8 / ((lpdm.clock() - t0) / 3600)
  end
  local one = time_sweep(ENV, tmp .. "/s1", " --jobs=1")
  local two = time_sweep(ENV .. q(MPIEXEC) .. " --enable-recovery -np 2 ", tmp .. "/s2", " --jobs=1")
  local jobs2 = time_sweep(ENV, tmp .. "/s3", " --jobs=2")
  print(string.format("    1 process, --jobs=1   %8.0f runs/hour", one))
  print(string.format("    2 ranks, --jobs=1     %8.0f runs/hour  (%.2fx)", two, two / one))
  print(string.format("    1 process, --jobs=2   %8.0f runs/hour  (%.2fx)", jobs2, jobs2 / one))
end
os.execute("rm -rf " .. q(tmp))
