-- SPDX-License-Identifier: MIT
-- tensorboard.lua -- writes TensorBoard event files in pure Lua 5.4 (no C,
-- no TensorFlow): scalars that `tensorboard --logdir DIR` shows.
--
--   local tb = require("tensorboard")
--   local w = tb.open("runs/x", { clock = lpdm.clock })  -- creates the file
--   w:scalar("charts/episodic_return", 21.0, 512)        -- tag, value, step [, wall_time]
--   w:flush()                                            -- records reach the file
--   w:close()
--
-- The format. A file named events.out.tfevents.<unix seconds>.<hostname>
-- (".1", ".2", ... appended if that name is taken) holds TFRecord records:
--   uint64 length (little-endian), uint32 masked CRC32C of those 8 bytes,
--   the data (length bytes), uint32 masked CRC32C of the data,
-- with masked(c) = ((c >> 15) | (c << 17)) + 0xa282ead8 (mod 2^32) and
-- CRC32C the Castagnoli CRC (reflected polynomial 0x82F63B78; "123456789"
-- gives 0xE3069283). Each record's data is one serialized Event protobuf:
--   Event   { double wall_time = 1; int64 step = 2; string file_version = 3;
--             Summary summary = 5; SessionLog session_log = 6; }
--   Summary { repeated Value value = 1; }
--   Value   { string tag = 1; float simple_value = 2; }
--   SessionLog { enum status = 1; }        (START = 1)
-- The first record says file_version "brain.Event:2"; then one Event per
-- scalar (as PyTorch's SummaryWriter writes them), float32 values.
--
-- Options of tb.open(dir, opts) (all optional):
--   clock     a function giving seconds of a monotonic clock (lpdm.clock):
--             wall times are os.time() at open plus the clock's advance,
--             so events get sub-second times; without it, os.time()
--   hostname  the name's last part (default: the machine's host name)
--   time      the unix seconds in the name and the first wall time
-- w:session_start(step) writes a SessionLog START event: TensorBoard's
-- Python loader then drops the events of earlier files at steps >= step
-- (how a run resumed from a checkpoint hides what its killed predecessor
-- wrote after that checkpoint; TensorBoard's Rust loader does the same per
-- tag when a step comes again).
--
-- Records are kept in memory until flush() (or close()), which appends them
-- to the file and flushes it; errors name the file. Cost: the CRC is a
-- 256-entry table, one lookup per byte; a scalar event is ~50-70 bytes.
local M = {}

local pack, byte, concat = string.pack, string.byte, table.concat

-- ---------------------------------------------------------------- CRC32C

local CRC_TABLE = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do
    if c & 1 == 1 then c = (c >> 1) ~ 0x82F63B78 else c = c >> 1 end
  end
  CRC_TABLE[i] = c
end

-- CRC32C of the bytes of s (an integer in [0, 2^32)).
function M.crc32c(s)
  local t, c = CRC_TABLE, 0xffffffff
  local n = #s
  local i = 1
  while i + 7 <= n do
    local b1, b2, b3, b4, b5, b6, b7, b8 = byte(s, i, i + 7)
    c = t[(c ~ b1) & 0xff] ~ (c >> 8)
    c = t[(c ~ b2) & 0xff] ~ (c >> 8)
    c = t[(c ~ b3) & 0xff] ~ (c >> 8)
    c = t[(c ~ b4) & 0xff] ~ (c >> 8)
    c = t[(c ~ b5) & 0xff] ~ (c >> 8)
    c = t[(c ~ b6) & 0xff] ~ (c >> 8)
    c = t[(c ~ b7) & 0xff] ~ (c >> 8)
    c = t[(c ~ b8) & 0xff] ~ (c >> 8)
    i = i + 8
  end
  for j = i, n do c = t[(c ~ byte(s, j)) & 0xff] ~ (c >> 8) end
  return c ~ 0xffffffff
end

-- TFRecord's masked CRC of s.
function M.masked_crc(s)
  local c = M.crc32c(s)
  return ((((c >> 15) | (c << 17)) & 0xffffffff) + 0xa282ead8) & 0xffffffff
end

-- One TFRecord record holding data.
function M.record(data)
  local len = pack("<I8", #data)
  return len .. pack("<I4", M.masked_crc(len)) .. data .. pack("<I4", M.masked_crc(data))
end

-- ---------------------------------------------------------------- protobuf

-- Base-128 varint of an integer (a negative int64 as its two's complement:
-- ten bytes, as protobuf writes it).
local function varint(v)
  local out = {}
  while v & ~0x7f ~= 0 do
    out[#out + 1] = (v & 0x7f) | 0x80
    v = v >> 7 -- logical shift: a negative value ends too
  end
  out[#out + 1] = v
  return string.char(table.unpack(out))
end
M.varint = varint

local function field_bytes(num, s) return varint(num << 3 | 2) .. varint(#s) .. s end

-- A serialized Event: e.wall_time (number), e.step (integer), and one of
-- e.file_version (string), e.scalars ({{tag, value}, ...}: one Summary),
-- e.session_start (true: SessionLog START).
function M.event(e)
  local parts = { pack("<Bd", 1 << 3 | 1, e.wall_time) }
  if e.step and e.step ~= 0 then parts[#parts + 1] = varint(2 << 3) .. varint(e.step) end
  if e.file_version then parts[#parts + 1] = field_bytes(3, e.file_version) end
  if e.scalars then
    local vals = {}
    for i, s in ipairs(e.scalars) do
      vals[i] = field_bytes(1, field_bytes(1, s[1]) .. pack("<Bf", 2 << 3 | 5, s[2]))
    end
    parts[#parts + 1] = field_bytes(5, concat(vals))
  end
  if e.session_start then parts[#parts + 1] = field_bytes(6, varint(1 << 3) .. varint(1)) end
  return concat(parts)
end

-- ---------------------------------------------------------------- writer

local function hostname()
  local f = io.open("/proc/sys/kernel/hostname", "r")
  local h = f and f:read("l")
  if f then f:close() end
  if not h or h == "" then
    local p = io.popen("hostname 2>/dev/null")
    h = p and p:read("l")
    if p then p:close() end
  end
  if not h or h == "" then h = os.getenv("HOSTNAME") end
  if not h or h == "" then h = "localhost" end
  return (h:gsub("[/%s]", "_"))
end
M.hostname = hostname

local Writer = {}
Writer.__index = Writer

-- Opens a new event file in dir (which must exist) and queues its
-- file_version record; returns the writer (w.path: the file).
function M.open(dir, opts)
  opts = opts or {}
  local t = math.tointeger(opts.time) or os.time()
  local base = string.format("%s/events.out.tfevents.%d.%s", dir, t, opts.hostname or hostname())
  local path, k = base, 0
  while true do
    local f = io.open(path, "rb")
    if not f then break end
    f:close()
    k = k + 1
    path = base .. "." .. k
  end
  local f, err = io.open(path, "wb")
  if not f then error(string.format("cannot write the TensorBoard file %s: %s", path, tostring(err)), 0) end
  local w = setmetatable({ path = path, file = f, pending = {}, t0 = t, clock = opts.clock }, Writer)
  if w.clock then w.c0 = w.clock() end
  w.pending[1] = M.record(M.event({ wall_time = w:now(), file_version = "brain.Event:2" }))
  return w
end

-- The wall time (unix seconds) events get when none is given.
function Writer:now()
  if self.clock then return self.t0 + (self.clock() - self.c0) end
  return os.time()
end

-- Queues one scalar: tag (string), value (number, stored as float32),
-- step (integer), wall_time (default: now).
function Writer:scalar(tag, value, step, wall_time)
  if not self.file then error("TensorBoard writer is closed", 2) end
  local s = math.tointeger(step)
  if not s then error(string.format("scalar '%s': the step must be an integer, got %s", tag, tostring(step)), 2) end
  local p = self.pending
  p[#p + 1] = M.record(M.event({ wall_time = wall_time or self:now(), step = s, scalars = { { tag, value } } }))
end

-- Queues a SessionLog START at step (see the header).
function Writer:session_start(step, wall_time)
  if not self.file then error("TensorBoard writer is closed", 2) end
  local p = self.pending
  p[#p + 1] = M.record(M.event({ wall_time = wall_time or self:now(), step = math.tointeger(step) or 0,
    session_start = true }))
end

-- Appends the queued records to the file and flushes it.
function Writer:flush()
  if not self.file then return end
  if #self.pending > 0 then
    local ok, err = self.file:write(concat(self.pending))
    if not ok then error(string.format("cannot write the TensorBoard file %s: %s", self.path, tostring(err)), 0) end
    self.pending = {}
  end
  self.file:flush()
end

-- Flushes and closes the file; a second close does nothing.
function Writer:close()
  if not self.file then return end
  self:flush()
  self.file:close()
  self.file = nil
end
Writer.__close = Writer.close
Writer.__gc = Writer.close

return M
