-- SPDX-License-Identifier: MIT
-- util.lua -- small helpers shared by the scripts in scripts/ and their
-- modules in scripts/lib/: shell quoting, whole-file reads, atomic writes,
-- a run's progress.csv, and the path of the running lpdm interpreter.
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

-- A run's progress.csv (train.lua's: one row per finished episode) as
-- columns { steps, returns, lengths, avg20 }, or nil and what is wrong with
-- it: missing, another header, a bad row, or no episode.
function M.read_progress(path)
  local text = M.read(path)
  if not text then return nil, "no progress.csv" end
  local steps, rets, lens, avg = {}, {}, {}, {}
  local header = true
  for line in text:gmatch("[^\n]+") do
    if header then
      header = false
      if line ~= "global_step,episode,episode_return,episode_length,avg20" then
        return nil, "progress.csv has an unexpected header"
      end
    else
      local gs, _, ret, len, a20 = line:match("^([^,]*),([^,]*),([^,]*),([^,]*),([^,]*)$")
      local g, r, l, a = tonumber(gs), tonumber(ret), tonumber(len), tonumber(a20)
      if not g or not r or not l or not a then return nil, "progress.csv has a bad row: " .. line end
      local n = #rets + 1
      steps[n], rets[n], lens[n], avg[n] = g, r, l, a
    end
  end
  if #rets == 0 then return nil, "progress.csv has no episode" end
  return { steps = steps, returns = rets, lengths = lens, avg20 = avg }
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

-- A number for a flag, a message or a table cell: integers as integers,
-- others in the fewest digits that read back as the same double.
function M.numstr(x)
  if math.type(x) == "integer" then return string.format("%d", x) end
  if x ~= x then return "nan" end
  if x == math.floor(x) and math.abs(x) < 2 ^ 53 then return string.format("%d", math.tointeger(x)) end
  local s = string.format("%.15g", x)
  if tonumber(s) ~= x then s = string.format("%.17g", x) end
  return s
end

-- The keys of a set, sorted, comma-separated (for "known: ..." messages).
function M.keylist(set)
  local t = {}
  for k in pairs(set) do t[#t + 1] = k end
  table.sort(t)
  return table.concat(t, ", ")
end

-- Raises "<where>: unknown key 'k' (known: ...)" for a key of t not in known.
function M.check_keys(t, known, where)
  for k in pairs(t) do
    if type(k) ~= "string" or not known[k] then
      error(string.format("%s: unknown key '%s' (known: %s)", where, tostring(k), M.keylist(known)), 0)
    end
  end
end

-- A script's command line: --name=value, --name (true) and the other words
-- (returned in order). Names take '-' or '_' alike (keys use '_'); a name
-- not in the set known, or given twice, is die(message).
function M.parse_flags(argv, known, die)
  local flags, words = {}, {}
  for i = 1, #argv do
    local a = argv[i]
    local name, value = a:match("^%-%-([%w%-_]+)=(.*)$")
    if not name then
      name = a:match("^%-%-([%w%-_]+)$")
      value = true
    end
    if name then
      local key = name:gsub("%-", "_")
      if not known[key] then
        local list = {}
        for k in pairs(known) do list[#list + 1] = "--" .. k:gsub("_", "-") end
        table.sort(list)
        die(string.format("unknown flag --%s%s (known: %s)", name, M.did_you_mean("--" .. name, list),
          table.concat(list, ", ")))
      end
      if flags[key] ~= nil then die(string.format("flag --%s given twice", name)) end
      flags[key] = value
    else
      words[#words + 1] = a
    end
  end
  return flags, words
end

-- flags[name] as an integer >= min (nil when absent), else die(message).
function M.int_flag(flags, name, min, die)
  local v = flags[name]
  if v == nil then return nil end
  local n = type(v) == "string" and v:match("^%d+$") and math.tointeger(tonumber(v))
  if not n or n < min then
    die(string.format("--%s expects an integer >= %d, got '%s'", (name:gsub("_", "-")), min, tostring(v)))
  end
  return n
end

-- The first n bytes of a file, or nil when it cannot be read.
function M.read_head(path, n)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read(n)
  f:close()
  return s or ""
end

-- true when path is a directory (one that can be listed).
function M.is_dir(path)
  return os.execute("test -d " .. M.quote(path)) == true
end

-- mkdir -p path: nil when it exists as a directory afterwards, else why not
-- (e.g. a file in the way), in words.
function M.mkdir_p(path)
  if M.is_dir(path) then return nil end
  local p = ""
  for part in (path:sub(1, 1) == "/" and path:sub(2) or path):gmatch("[^/]+") do
    p = p == "" and (path:sub(1, 1) == "/" and "/" .. part or part) or p .. "/" .. part
    if not M.is_dir(p) and os.execute("test -e " .. M.quote(p)) == true then
      return string.format("'%s' is a file, not a directory", p)
    end
  end
  local errf = os.tmpname()
  local ok = os.execute("mkdir -p -- " .. M.quote(path) .. " 2>" .. M.quote(errf))
  local msg = M.read(errf) or ""
  os.remove(errf)
  if ok and M.is_dir(path) then return nil end
  msg = msg:gsub("^mkdir: ", ""):gsub("%s+$", "")
  return msg ~= "" and msg or "mkdir failed"
end

-- Edit distance (insertions, deletions, substitutions, and swaps of two
-- neighbours) between a and b, ignoring case and '-' vs '_'.
local function distance(a, b)
  a, b = a:lower():gsub("%-", "_"), b:lower():gsub("%-", "_")
  local la, lb = #a, #b
  local d = {}
  for i = 0, la do d[i] = { [0] = i } end
  for j = 0, lb do d[0][j] = j end
  for i = 1, la do
    for j = 1, lb do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      local v = math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if i > 1 and j > 1 and a:byte(i) == b:byte(j - 1) and a:byte(i - 1) == b:byte(j) then
        v = math.min(v, d[i - 2][j - 2] + 1)
      end
      d[i][j] = v
    end
  end
  return d[la][lb]
end
M.distance = distance

-- The candidate closest to name, if it is close enough to be a typo (at
-- most a third of the name's length in edits, at least 1, at most 3), or
-- one that name is a prefix of; nil otherwise. Ties: the first candidate.
function M.suggest(name, candidates)
  local best, bd = nil, math.huge
  local limit = math.max(1, math.min(3, #name // 3))
  for _, c in ipairs(candidates) do
    local d = distance(name, c)
    if d < bd then best, bd = c, d end
  end
  if best and bd <= limit then return best end
  for _, c in ipairs(candidates) do
    if #name >= 3 and c:lower():sub(1, #name) == name:lower() then return c end
  end
  return nil
end

-- " (did you mean 'x'?)" or "".
function M.did_you_mean(name, candidates, prefix)
  local s = M.suggest(name, candidates)
  return s and string.format(" (did you mean '%s%s'?)", prefix or "", s) or ""
end

return M
