-- SPDX-License-Identifier: MIT
-- mpi_sweep.lua -- the distributed side of scripts/sweep.lua: the runs of
-- a sweep spread over MPI ranks (mpirun / srun), and the Slurm job-array
-- script of --slurm. docs/distributed.md is the user's guide.
--
-- How the ranks share the work: through the output folder, which every
-- rank must see (a shared filesystem), not through MPI messages. OpenMPI
-- with --enable-recovery lets the other ranks go on when one dies, but a
-- collective after a death would hang; so the only collective is one
-- broadcast at the start (rank 0's session id). Then:
--   DIR/mpi/<session>/claims/<i>   made with mkdir (atomic, also on NFS)
--                                  by the rank that runs run i of the
--                                  plan; it holds files host, pid, rank
--   DIR/mpi/<session>/alive.<r>    rank r's heartbeat, rewritten every
--                                  second while it works
--   DIR/mpi/<session>/finished.<r> rank r has nothing left to claim and
--                                  its runs have ended
-- Every rank walks the same todo list in the same order and runs what it
-- claims (sweep.execute's claim hook); rank 0 then waits for the runs of
-- the others (wait) and writes the report.
--
-- Use (scripts/sweep.lua):
--   local ctx = mpi_sweep.setup(require("lpdm").mpi, out, runs, timeout)
--   sweep.execute(todo, { ..., claim = ctx:claim_hook(), heartbeat = ctx:heartbeat_hook() })
local util = require("util")
local q, read, write_atomic = util.quote, util.read, util.write_atomic

local M = {}

-- How long a rank other than 0 waits for the session folder rank 0 made to
-- show up on its filesystem (NFS may lag) before it gives up.
local VISIBLE_WAIT = 10
local WAIT_POLL = "sleep 0.5"

local function sh(cmd)
  local ok, how = os.execute(cmd)
  if how == "signal" then error("interrupted!", 0) end
  return ok == true
end

-- A wait that a SIGINT to this process alone still interrupts (sweep.pause).
local function pause(cmd)
  local p = io.popen(cmd)
  if p then p:close() end
end

-- The pid of this lpdm process: the parent of the shell popen starts.
local function getpid()
  local p = io.popen("echo $PPID")
  local s = p and p:read("a") or ""
  if p then p:close() end
  return s:match("%d+") or "0"
end

local Ctx = {}
Ctx.__index = Ctx

-- Starts MPI and the session on every rank; returns the context
-- {rank, size, host, pid, session, dir, timeout}. Rank 0 first removes the
-- DIR/mpi folders of earlier sweeps (before the broadcast, so no other rank
-- can see them), then makes DIR/mpi/<session>/claims; an error there is
-- broadcast too, so that every rank stops (not waiting forever). Raises a
-- message; on the other ranks, when rank 0 failed, {quiet = true} (rank 0
-- says why).
function M.setup(mpi, out, runs, timeout)
  local rank, size = mpi.init()
  local host = mpi.hostname()
  local pid = getpid()
  local base = out .. "/mpi"
  local msg = ""
  if rank == 0 then
    local ok, err = pcall(function()
      if not sh("rm -rf " .. q(base)) then error("cannot remove the old sessions in " .. base, 0) end
      local session = string.format("%s-%s-%06x", os.date("!%Y%m%dT%H%M%SZ"), pid, math.random(0, 0xffffff))
      if not sh("mkdir -p " .. q(base .. "/" .. session .. "/claims")) then
        error("cannot create the directory '" .. base .. "/" .. session .. "/claims'", 0)
      end
      return session
    end)
    msg = ok and err or ("!" .. tostring(err))
  end
  msg = mpi.bcast(rank == 0 and msg or nil)
  if msg:sub(1, 1) == "!" then
    -- Rank 0 failed: it says why; the others just stop.
    error(rank == 0 and msg:sub(2) or { quiet = true }, 0)
  end
  local ctx = setmetatable({
    rank = rank, size = size, host = host, pid = pid, session = msg, dir = base .. "/" .. msg,
    timeout = timeout, beats = 0, seen = {}, index = {}, lost = {},
  }, Ctx)
  for i, r in ipairs(runs) do ctx.index[r] = i end
  if rank ~= 0 then
    local t0 = os.time()
    while not sh("test -d " .. q(ctx.dir .. "/claims")) do
      if os.difftime(os.time(), t0) >= VISIBLE_WAIT then
        error(string.format("rank %d on host %s does not see %s/claims, which rank 0 made: --out=%s must be on a "
          .. "filesystem every rank sees (docs/distributed.md)", rank, host, ctx.dir, out), 0)
      end
      pause(WAIT_POLL)
    end
  end
  ctx:beat(true)
  return ctx
end

-- The test hook (tests/test_sweep_mpi.lua): LPDM_TEST_SWEEP_DIE_RANK=R makes
-- rank R die like a crashed machine while its first run is running: the
-- run's shell (which would write exit_code) and train.lua are killed, then
-- this process, all with SIGKILL, so that nothing is left to report it.
local DIE_RANK = math.tointeger(tonumber(os.getenv("LPDM_TEST_SWEEP_DIE_RANK") or ""))

function Ctx:die_now(running)
  local r = running[1]
  if not r then return end
  -- Polls without starting processes: the run must still be running when
  -- the kill comes.
  local pid
  local t0 = os.time()
  repeat
    pid = (read(r.dir .. "/pid") or ""):match("%d+")
  until pid or os.difftime(os.time(), t0) > 5
  if pid then
    os.execute("kill -9 $(ps -o ppid= -p " .. pid .. ") " .. pid .. " 2>/dev/null")
  end
  os.execute("kill -9 " .. self.pid)
end

-- Rewrites alive.<rank> once a second (a counter and the time: the content
-- changes with every beat, which is what rank 0 watches, so clocks of
-- different hosts need not agree). A failed write is ignored: the runs go
-- on, and if it keeps failing rank 0 treats this rank as stopped. Rank 0
-- also looks at the others' heartbeats.
function Ctx:beat(force)
  local now = os.time()
  if not force and self.last_beat == now then return end
  self.last_beat = now
  self.beats = self.beats + 1
  pcall(write_atomic, string.format("%s/alive.%d", self.dir, self.rank), string.format("%d %d\n", self.beats, now))
  if self.rank == 0 then self:observe(now) end
end

-- Notes when each other rank's heartbeat last changed, by rank 0's clock.
function Ctx:observe(now)
  for r = 1, self.size - 1 do
    local text = read(string.format("%s/alive.%d", self.dir, r)) or ""
    local s = self.seen[r]
    if not s or s.text ~= text then self.seen[r] = { text = text, since = now } end
  end
end

-- True when rank r's heartbeat has not changed for the timeout.
function Ctx:stale(r)
  local s = self.seen[r]
  return s ~= nil and os.difftime(os.time(), s.since) >= self.timeout
end

function Ctx:finished(r)
  return read(string.format("%s/finished.%d", self.dir, r)) ~= nil
end

-- Claims run r (mkdir without -p: exactly one rank succeeds) and writes
-- who holds it; false when another rank has it.
function Ctx:claim(r)
  local d = string.format("%s/claims/%d", self.dir, self.index[r])
  if not sh("mkdir " .. q(d) .. " 2>/dev/null") then
    if sh("test -d " .. q(d)) then return false end
    error("cannot create the claim folder '" .. d .. "'", 0)
  end
  write_atomic(d .. "/host", self.host .. "\n")
  write_atomic(d .. "/pid", self.pid .. "\n")
  write_atomic(d .. "/rank", self.rank .. "\n") -- last: rank 0 reads it to find the holder
  return true
end

-- The hooks for sweep.execute.
function Ctx:claim_hook()
  return function(r) return self:claim(r) end
end
function Ctx:heartbeat_hook()
  return function(running)
    self:beat()
    if DIE_RANK == self.rank and #running > 0 then self:die_now(running) end
  end
end

-- Says that this rank has nothing left to claim and its runs have ended.
function Ctx:finish()
  pcall(write_atomic, string.format("%s/finished.%d", self.dir, self.rank), os.date("!%Y-%m-%dT%H:%M:%SZ") .. "\n")
end

-- Rank 0, after its own runs: waits until every run of todo is settled:
-- it has an exit_code file, or its holder said finished (collect decides
-- either way), or its holder's heartbeat stopped for the timeout (the run
-- is lost: ctx.lost[run] is the reason; if the holder was on this host its
-- train.lua, if still alive, is stopped so that it does not write into a
-- folder the next sweep empties). settle(run) is called for each settled
-- run that is not lost. Returns the runs nobody claimed (none unless their
-- claims vanished: rank 0's own pass claims every run left), for rank 0 to
-- run itself.
function Ctx:wait(todo, settle)
  local pending, unclaimed, unknown = {}, {}, {}
  for _, r in ipairs(todo) do pending[#pending + 1] = r end
  while true do
    self:beat()
    local now = os.time()
    for i = #pending, 1, -1 do
      local r = pending[i]
      local d = string.format("%s/claims/%d", self.dir, self.index[r])
      local settled, lost = false, nil
      if read(r.dir .. "/exit_code") then
        settled = true
      else
        local owner = math.tointeger(tonumber((read(d .. "/rank") or ""):match("%d+") or ""))
        if owner == nil then
          if not sh("test -d " .. q(d)) then
            unclaimed[#unclaimed + 1] = r
            table.remove(pending, i)
          else
            -- Claimed, holder not yet written: the holder died between the
            -- two, or is about to write it.
            unknown[r] = unknown[r] or now
            if os.difftime(now, unknown[r]) >= self.timeout then
              lost = string.format("the rank that claimed it stopped before saying which it was (nothing for %d s)",
                self.timeout)
            end
          end
        elseif owner == 0 or self:finished(owner) then
          settled = true
        elseif self:stale(owner) then
          local host = (read(d .. "/host") or "?"):match("[^\n]*")
          lost = string.format("rank %d on host %s stopped (no heartbeat for %d s) while running it",
            owner, host, self.timeout)
          if host == self.host then
            local pid = (read(r.dir .. "/pid") or ""):match("%d+")
            if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
          end
        end
      end
      if settled or lost then
        table.remove(pending, i)
        if lost then self.lost[r] = lost else settle(r) end
      end
    end
    if #pending == 0 then break end
    pause(WAIT_POLL)
  end
  return unclaimed
end

-- ---------------------------------------------------------------- Slurm

-- An absolute path for p (relative to the current directory cwd).
local function absolute(p, cwd)
  if p:sub(1, 1) == "/" then return p end
  p = p:gsub("^%./", "")
  return cwd .. "/" .. p
end

-- The current directory.
function M.cwd()
  local p = io.popen("pwd")
  local s = p and p:read("a") or ""
  if p then p:close() end
  s = s:gsub("\n+$", "")
  if s == "" then error("cannot find the current directory", 0) end
  return s
end

-- An executable's absolute path: as given when it has a '/', else looked up
-- on the PATH (command -v).
function M.which(exe, cwd)
  if exe:find("/", 1, true) then return absolute(exe, cwd) end
  local p = io.popen("command -v " .. q(exe) .. " 2>/dev/null")
  local s = p and p:read("a") or ""
  if p then p:close() end
  s = s:gsub("\n+$", "")
  return s ~= "" and s or exe
end

-- The text of a Slurm job-array script: one array task per run of todo.
-- o: {lpdm, train (absolute paths), cwd, out (absolute), job_name, time,
-- cpus, mem, partition (or nil), throttle (the %N of --array, or nil)}.
-- Each task runs its train.lua command as sweep.execute does (same folder,
-- same run.log, pid and exit_code files, OPENBLAS_NUM_THREADS default 1),
-- so that a plain sweep.lua afterwards finds the runs done.
function M.slurm_script(todo, o)
  local L = {}
  local function w(s) L[#L + 1] = s end
  w("#!/bin/bash")
  w("#SBATCH --job-name=" .. o.job_name)
  w(string.format("#SBATCH --array=0-%d%s", #todo - 1, o.throttle and ("%" .. o.throttle) or ""))
  w("#SBATCH --time=" .. o.time)
  w("#SBATCH --ntasks=1")
  w("#SBATCH --cpus-per-task=" .. o.cpus)
  w("#SBATCH --mem=" .. o.mem)
  w("#SBATCH --output=" .. o.out .. "/slurm/%A_%a.out")
  w("#SBATCH --chdir=" .. o.cwd)
  if o.partition then w("#SBATCH --partition=" .. o.partition) end
  w("#")
  w("# Written by scripts/sweep.lua --slurm (docs/distributed.md): one array task per run")
  w("# that was not done when it was written. Submit with: sbatch " .. (o.file or "THIS_FILE"))
  w("# Afterwards, the report: " .. o.report_command)
  w("set -u")
  w("cd " .. q(o.cwd) .. " || exit 1")
  w("")
  w("# run DIR COMMAND...: as sweep.lua does it, COMMAND's output to DIR/run.log, its")
  w("# pid to DIR/pid, its exit status to DIR/exit_code (last, atomically). A run")
  w("# already done (a resubmitted script) is left alone.")
  w("run() {")
  w("  local dir=$1")
  w("  shift")
  w("  if grep -q '\"status\": \"done\"' \"$dir/summary.json\" 2>/dev/null; then")
  w("    echo \"already done: $dir\"")
  w("    exit 0")
  w("  fi")
  w("  rm -rf \"$dir\" && mkdir -p \"$dir\" || exit 1")
  w("  OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} \"$@\" > \"$dir/run.log\" 2>&1 </dev/null &")
  w("  local pid=$!")
  w("  echo \"$pid\" > \"$dir/pid\"")
  w("  wait \"$pid\"")
  w("  local code=$?")
  w("  echo \"$code\" > \"$dir/exit_code.tmp\" && mv \"$dir/exit_code.tmp\" \"$dir/exit_code\"")
  w("  echo \"exit code $code: $dir\"")
  w("  exit \"$code\"")
  w("}")
  w("")
  w("case \"${SLURM_ARRAY_TASK_ID:?not a Slurm array task (submit with sbatch)}\" in")
  for i, r in ipairs(todo) do
    local parts = { q(o.lpdm), q(o.train) }
    for _, a in ipairs(r.args) do parts[#parts + 1] = q(a) end
    w(string.format("  %d) run %s %s ;;", i - 1, q(r.dir), table.concat(parts, " ")))
  end
  w("  *) echo \"no run for array task $SLURM_ARRAY_TASK_ID\" >&2; exit 1 ;;")
  w("esac")
  return table.concat(L, "\n") .. "\n"
end

return M
