-- util.lua -- small helpers shared by the scripts in scripts/ and their
-- modules in scripts/lib/: shell quoting, whole-file reads, atomic writes,
-- and the path of the running lpdm interpreter.
local M = {}

-- s as one sh word: '...' with every ' written as '\''.
function M.quote(s) return "'" .. (tostring(s):gsub("'", "'\\''")) .. "'" end

-- The file's bytes, or nil when it cannot be opened.
function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- Writes text to path via path.tmp and os.rename (a crash leaves the old
-- file or the new one); errors name the file.
function M.write_atomic(path, text)
  local tmp = path .. ".tmp"
  local f, err = io.open(tmp, "wb")
  if not f then error(string.format("cannot write %s: %s", tmp, err), 0) end
  local ok, werr = f:write(text)
  local cok, cerr = f:close()
  if not ok or not cok then
    os.remove(tmp)
    error(string.format("cannot write %s: %s", tmp, tostring(werr or cerr)), 0)
  end
  local rok, rerr = os.rename(tmp, path)
  if not rok then
    os.remove(tmp)
    error(string.format("cannot rename %s to %s: %s", tmp, path, tostring(rerr)), 0)
  end
end

-- The interpreter running this script: the lowest negative index of arg
-- (arg[-1] unless the interpreter was given options), or nil.
function M.interpreter(argv)
  local exe, i = nil, -1
  while argv and argv[i] ~= nil do
    exe = argv[i]
    i = i - 1
  end
  return exe
end

return M
