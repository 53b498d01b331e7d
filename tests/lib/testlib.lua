-- SPDX-License-Identifier: MIT
-- testlib.lua -- what the Lua tests that drive lpdm as a subprocess share
-- (test_cli, test_sweep, test_sweep_mpi, test_ppo_mpi): shell quoting, a
-- command's output and exit status, small file helpers. A test loads it
-- with  package.path = HERE .. "/lib/?.lua;" .. package.path.
local M = {}

-- s quoted for sh.
function M.q(s) return "'" .. (tostring(s):gsub("'", "'\\''")) .. "'" end

-- Raises msg (at the caller's line) unless cond.
function M.check(cond, msg)
  if not cond then error(msg or "check failed", 2) end
end

-- Runs the sh command line cmd (stdin from /dev/null, stderr into the
-- output); returns the output, the exit status (128+n when killed by
-- signal n) and cmd.
function M.sh(cmd)
  local full = cmd .. " </dev/null 2>&1; echo \"rc=$?\""
  local p = assert(io.popen(full, "r"))
  local text = p:read("a")
  p:close()
  local out, rc = text:match("^(.-)rc=(%d+)%s*$")
  assert(out, "cannot parse the exit status of: " .. cmd)
  return out, tonumber(rc), cmd
end

-- "prefix 'exe' 'arg1' 'arg2' ...": a command line with every word quoted.
function M.command(prefix, exe, args)
  local parts = { prefix .. M.q(exe) }
  for _, a in ipairs(args) do parts[#parts + 1] = M.q(a) end
  return table.concat(parts, " ")
end

-- The whole file, or nil when it cannot be read.
function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

function M.write(path, text)
  local f = assert(io.open(path, "wb"))
  assert(f:write(text))
  assert(f:close())
end

function M.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- The modification time of path with nanoseconds (GNU stat), or nil.
function M.mtime(path)
  local p = io.popen("stat -c %y " .. M.q(path) .. " 2>/dev/null")
  local s = p:read("a")
  p:close()
  return s ~= "" and s or nil
end

-- Raises (at the caller's line) unless a == b.
function M.eq(a, b, msg)
  if a ~= b then error(string.format("%s: expected %s, got %s", msg or "eq", tostring(b), tostring(a)), 2) end
end

-- Calls fn, which must fail with a message holding each plain substring;
-- returns the message.
function M.fails(fn, ...)
  local ok, err = pcall(fn)
  if ok then error("expected an error, got none", 2) end
  err = tostring(err)
  for _, s in ipairs({ ... }) do
    if not string.find(err, s, 1, true) then error(string.format("error %q lacks %q", err, s), 2) end
  end
  return err
end

-- Checks a command's result (from M.sh): exit status want (a number; nil:
-- any) and every plain substring of wants in the output; raises at the
-- caller's caller with the command, status and output. Returns out.
function M.expect_result(out, rc, cmd, want, wants)
  local function show()
    return string.format("command: %s\nexit status: %d\noutput:\n%s", cmd, rc, out:sub(1, 3000))
  end
  if want and rc ~= want then error(string.format("expected exit status %d\n%s", want, show()), 3) end
  for _, s in ipairs(wants or {}) do
    if not out:find(s, 1, true) then error(string.format("output lacks %q\n%s", s, show()), 3) end
  end
  return out
end

-- A fresh private directory (mode 700) for a test's files.
function M.tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -m 700 " .. M.q(d)), "cannot create " .. d)
  return d
end

-- Each run of sweep.json (its text), keyed by the run's dir: status,
-- reason, exit_code, ran, log_tail, auc, final, final_length (the test_sweep* tests read these).
function M.sweep_runs(json)
  local t = {}
  for obj in json:gmatch("%b{}", (json:find('"runs"', 1, true))) do
    local dir = obj:match('"dir": "([^"]*)"')
    if dir then
      t[dir] = { status = obj:match('"status": "([^"]*)"'), reason = obj:match('"reason": "([^"]*)"'),
        exit_code = tonumber(obj:match('"exit_code": (%-?%d+)')), ran = obj:match('"ran": (%a+)'),
        auc = tonumber(obj:match('"auc": ([^,\n]+)')), final = tonumber(obj:match('"final": ([^,\n]+)')),
        final_length = tonumber(obj:match('"final_length": ([^,\n]+)')),
        log_tail = obj:match('"log_tail": "(.-)",\n') }
    end
  end
  return t
end

-- Runs tests = {{name, fn, todo}, ...} as TAP and exits: fn raises to
-- fail, or returns "skip", why; a test with todo (the reason) is reported
-- "# TODO" and does not fail the file. Removes tmp (if given) first;
-- close: close the Lua state on exit (valgrind then sees every object freed).
function M.run_tests(tests, tmp, close)
  print("1.." .. #tests)
  local failed = 0
  for i, t in ipairs(tests) do
    local ok, err, why = pcall(t.fn)
    local todo = t.todo and (" # TODO " .. t.todo) or ""
    if ok and err == "skip" then
      print(string.format("ok %d - %s # SKIP %s", i, t.name, why))
    else
      print(string.format("%s %d - %s%s", ok and "ok" or "not ok", i, t.name, todo))
      if not ok then
        if not t.todo then failed = failed + 1 end
        for line in tostring(err):gmatch("[^\n]+") do print("# " .. line) end
      end
    end
    io.stdout:flush()
  end
  if tmp then os.execute("rm -rf -- " .. M.q(tmp)) end
  os.exit(failed == 0 and 0 or 1, close)
end

-- For the tests that assert as they go, in the order they print:
--   local t = T.tap()
--   t.plan(11)                    (or leave the count to t.finish)
--   t.ok(cond, name[, todo])      a failed check with todo (the reason) is
--                                 reported "# TODO" and does not fail the file
--   t.refused(fn, pattern, name)  fn must fail with pattern (plain) in its message
--   t.finish(close)               prints the plan if none was given and exits 0
--                                 or 1 (1 also when the plan's count was not
--                                 run); close as in M.run_tests
function M.tap()
  local t = { n = 0, failures = 0 }
  local planned = false
  function t.plan(k)
    print("1.." .. k)
    planned = k
  end
  function t.ok(cond, name, todo)
    t.n = t.n + 1
    print(string.format("%s %d - %s%s", cond and "ok" or "not ok", t.n, name, todo and (" # TODO " .. todo) or ""))
    if not cond and not todo then t.failures = t.failures + 1 end
    return cond
  end
  function t.refused(fn, pattern, name)
    local good, err = pcall(fn)
    return t.ok(not good and tostring(err):find(pattern, 1, true) ~= nil, name .. " (" .. tostring(err) .. ")")
  end
  function t.finish(close)
    if not planned then print("1.." .. t.n) end
    if planned and planned ~= t.n then
      print(string.format("# planned %d checks but ran %d", planned, t.n))
      t.failures = t.failures + 1
    end
    io.stdout:flush()
    os.exit(t.failures == 0 and 0 or 1, close)
  end
  return t
end

-- The output lines of a command.
function M.lines(cmd)
  local p = io.popen(cmd)
  local t = {}
  for l in p:lines() do t[#t + 1] = l end
  p:close()
  return t
end

-- updates.csv's text without its clock columns (wall_time, sps).
function M.untimed(text)
  local out, drop = {}, nil
  for line in (text or ""):gmatch("[^\n]+") do
    local cells = {}
    for c in (line .. ","):gmatch("([^,]*),") do cells[#cells + 1] = c end
    if not drop then
      drop = {}
      for i, c in ipairs(cells) do drop[i] = (c == "wall_time" or c == "sps") end
    end
    local keep = {}
    for i, c in ipairs(cells) do if not drop[i] then keep[#keep + 1] = c end end
    out[#out + 1] = table.concat(keep, ",")
  end
  return table.concat(out, "\n")
end

-- Runs train.lua (lpdm, train: their paths) with flags uninterrupted into
-- TMP/name-a, then checkpointed every 4 updates and killed by SIGKILL after
-- update 6 into TMP/name-b, and resumes TMP/name-b; the two progress.csv
-- must be the same bytes (and, with updates = true, updates.csv but for
-- its clock columns).
function M.kill_and_resume(lpdm, train, tmp, name, flags, updates)
  local a, b = tmp .. "/" .. name .. "-a", tmp .. "/" .. name .. "-b"
  local base = string.format("OPENBLAS_NUM_THREADS=1 %s %s %s", M.q(lpdm), M.q(train), table.concat(flags, " "))
  local out, rc, cmd = M.sh(base .. " --quiet --out=" .. M.q(a))
  M.expect_result(out, rc, cmd, 0)
  out, rc = M.sh("LPDM_TEST_KILL_AFTER=6 " .. base .. " --quiet --checkpoint-every=4 --out=" .. M.q(b))
  M.check(rc == 137, name .. ": the run was to die by SIGKILL (exit 137), got " .. tostring(rc))
  out, rc, cmd = M.sh(base .. " --quiet --checkpoint-every=4 --resume=" .. M.q(b))
  M.expect_result(out, rc, cmd, 0)
  local want, got = M.read(a .. "/progress.csv"), M.read(b .. "/progress.csv")
  M.check(want and got and #want > 100 and want == got,
    name .. ": progress.csv after resume differs from the uninterrupted run's")
  if updates then
    want, got = M.untimed(M.read(a .. "/updates.csv")), M.untimed(M.read(b .. "/updates.csv"))
    M.check(#want > 100 and want == got, name .. ": updates.csv (but its clock columns) after resume differs")
  end
end

return M
