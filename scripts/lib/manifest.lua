-- SPDX-License-Identifier: MIT
-- manifest.lua -- what a run needs besides its flags to be reproduced or
-- explained: the command line, the build (version, git commit), the BLAS
-- thread count, the machine, and the clock. train.lua writes it into
-- summary.json (docs/outputs.md lists the fields); eval.lua may too.
--
--   local manifest = require("manifest")
--   local m = manifest.collect(lpdm, arg)   -- a flat table of JSON values
--   m.started_at = manifest.utc()
local M = {}

local function first_line(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("l")
  f:close()
  return s
end

-- The CPU's model name and the number of logical CPUs (Linux /proc; nil elsewhere).
function M.cpu()
  local f = io.open("/proc/cpuinfo", "rb")
  if not f then return nil, nil end
  local model, n = nil, 0
  for line in f:lines() do
    if line:match("^processor%s*:") then n = n + 1 end
    if not model then model = line:match("^model name%s*:%s*(.-)%s*$") end
  end
  f:close()
  return model, n > 0 and n or nil
end

function M.host()
  return first_line("/proc/sys/kernel/hostname") or os.getenv("HOSTNAME") or ""
end

-- UTC, ISO 8601 to the second.
function M.utc(t) return os.date("!%Y-%m-%dT%H:%M:%SZ", t) end

-- The command as its words (interpreter, script, arguments) and as one
-- line a shell can run again.
function M.command(argv, quote)
  local words, i = {}, -1
  while argv[i - 1] ~= nil do i = i - 1 end
  for k = i, #argv do
    if argv[k] ~= nil then words[#words + 1] = tostring(argv[k]) end
  end
  local q = {}
  for k, w in ipairs(words) do q[k] = w:match("^[%w%-_./=,:+]+$") and w or quote(w) end
  return words, table.concat(q, " ")
end

-- Everything above, flat, for a JSON object.
function M.collect(lpdm, argv, quote)
  local b = lpdm.build or {}
  local words, line = M.command(argv, quote)
  local model, n = M.cpu()
  local git = b.commit ~= nil and b.commit ~= ""
  local dirty
  if git then dirty = b.dirty == true end
  return {
    command = words,
    command_line = line,
    lpdm_version = lpdm.version,
    git_commit = git and b.commit or nil, -- absent outside a git checkout
    git_dirty = dirty,
    build_type = b.build_type,
    compiler = b.compiler,
    blas = b.blas,
    blas_threads = lpdm.blas_threads(),
    openblas_num_threads_env = os.getenv("OPENBLAS_NUM_THREADS") or os.getenv("OMP_NUM_THREADS"),
    lpdm_threads_env = os.getenv("LPDM_THREADS"),
    cpu_model = model,
    cpus = n,
    host = M.host(),
    os = (first_line("/proc/sys/kernel/ostype") or "") .. " " .. (first_line("/proc/sys/kernel/osrelease") or ""),
    lua = _VERSION,
  }
end

return M
