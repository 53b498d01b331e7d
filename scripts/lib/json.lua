-- SPDX-License-Identifier: MIT
-- json.lua -- the JSON of lpdm's scripts: summary.json (train.lua) and
-- sweep.json (sweep.lua) are written by this encoder and read back by this
-- decoder.
--
-- Encoder: objects with sorted keys, arrays (json.array or tables with keys
-- exactly 1..n, n >= 1; arrays of plain values on one line), strings
-- escaped, numbers in the fewest of 15-17 digits that read back exactly
-- (integers as integers), NaN and +-Inf as null, json.null as null.
-- Decoder: enough JSON for those files (null -> json.null).
local json = { null = setmetatable({}, { __tostring = function() return "null" end }) }
local ARRAY = {}
function json.array(t) return setmetatable(t or {}, ARRAY) end

local ESC = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n",
  ["\r"] = "\\r", ["\t"] = "\\t" }
local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return ESC[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function is_array(t)
  if getmetatable(t) == ARRAY then return true end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n > 0 and n == #t
end

function json.encode(v, indent, depth)
  indent = indent or "  "
  depth = depth or 0
  local t = type(v)
  if v == nil or v == json.null then return "null" end
  if t == "boolean" then return v and "true" or "false" end
  if t == "number" then
    if math.type(v) == "integer" then return string.format("%d", v) end
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    -- %.17g always round-trips; use fewer digits when they do too (0.99, not 0.98999999999999999)
    for _, f in ipairs({ "%.15g", "%.16g" }) do
      local s = string.format(f, v)
      if tonumber(s) == v then return s end
    end
    return string.format("%.17g", v)
  end
  if t == "string" then return json_string(v) end
  if t ~= "table" then return json_string(tostring(v)) end
  local pad, pad1 = "\n" .. indent:rep(depth), "\n" .. indent:rep(depth + 1)
  local parts = {}
  if is_array(v) then
    if #v == 0 then return "[]" end
    local simple = true
    for i = 1, #v do
      parts[i] = json.encode(v[i], indent, depth + 1)
      if type(v[i]) == "table" then simple = false end
    end
    if simple then return "[" .. table.concat(parts, ", ") .. "]" end
    return "[" .. pad1 .. table.concat(parts, "," .. pad1) .. pad .. "]"
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  if #keys == 0 then return "{}" end
  for i, k in ipairs(keys) do
    local val = v[k]
    if val == nil then val = v[tonumber(k)] end
    parts[i] = json_string(k) .. ": " .. json.encode(val, indent, depth + 1)
  end
  return "{" .. pad1 .. table.concat(parts, "," .. pad1) .. pad .. "}"
end

-- Returns the decoded value, or nil and a message.
function json.decode(s)
  local pos = 1
  local function fail(msg) error({ msg = msg .. " at byte " .. pos }, 0) end
  local function ws() pos = s:find("[^ \t\r\n]", pos) or #s + 1 end
  local value
  local function str()
    local out = {}
    pos = pos + 1
    while true do
      local c = s:sub(pos, pos)
      if c == "" then fail("unterminated string") end
      if c == '"' then pos = pos + 1; break end
      if c == "\\" then
        local e = s:sub(pos + 1, pos + 1)
        local map = { b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", ['"'] = '"', ["\\"] = "\\", ["/"] = "/" }
        if e == "u" then
          local h = tonumber(s:sub(pos + 2, pos + 5), 16) or fail("bad \\u escape")
          out[#out + 1] = utf8.char(h)
          pos = pos + 6
        else
          out[#out + 1] = map[e] or fail("bad escape")
          pos = pos + 2
        end
      else
        out[#out + 1] = c
        pos = pos + 1
      end
    end
    return table.concat(out)
  end
  function value()
    ws()
    local c = s:sub(pos, pos)
    if c == "{" then
      local t = {}
      pos = pos + 1
      ws()
      if s:sub(pos, pos) == "}" then pos = pos + 1; return t end
      while true do
        ws()
        if s:sub(pos, pos) ~= '"' then fail("expected a key") end
        local k = str()
        ws()
        if s:sub(pos, pos) ~= ":" then fail("expected ':'") end
        pos = pos + 1
        t[k] = value()
        ws()
        local d = s:sub(pos, pos)
        pos = pos + 1
        if d == "}" then return t end
        if d ~= "," then fail("expected ',' or '}'") end
      end
    elseif c == "[" then
      local t = json.array()
      pos = pos + 1
      ws()
      if s:sub(pos, pos) == "]" then pos = pos + 1; return t end
      while true do
        t[#t + 1] = value()
        ws()
        local d = s:sub(pos, pos)
        pos = pos + 1
        if d == "]" then return t end
        if d ~= "," then fail("expected ',' or ']'") end
      end
    elseif c == '"' then
      return str()
    elseif s:sub(pos, pos + 3) == "true" then pos = pos + 4; return true
    elseif s:sub(pos, pos + 4) == "false" then pos = pos + 5; return false
    elseif s:sub(pos, pos + 3) == "null" then pos = pos + 4; return json.null
    else
      local n = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
      local v = n and tonumber(n)
      if not v then fail("unexpected character") end
      pos = pos + #n
      return v
    end
  end
  local ok, res = pcall(function()
    local v = value()
    ws()
    if pos <= #s then fail("trailing characters") end
    return v
  end)
  if ok then return res end
  if type(res) == "table" then return nil, res.msg end
  error(res, 0)
end

return json
