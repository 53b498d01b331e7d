-- SPDX-License-Identifier: MIT
-- tensorboard.lua -- writes TensorBoard event files in pure Lua 5.4 (no C,
-- no TensorFlow): scalars that `tensorboard --logdir DIR` shows.
--
--   package.path = "scripts/lib/?.lua;" .. package.path  -- from another script
--   local tb = require("tensorboard")
--   local w = tb.open("runs/x", { clock = lpdm.clock })  -- creates the file
--   w:scalar("charts/episodic_return", 21.0, 512)        -- tag, value, step [, wall_time]
--   w:scalars({ { "losses/entropy", 0.69 }, { "losses/clipfrac", 0.1 } }, 512)  -- one Event
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
-- w:scalar (as PyTorch's SummaryWriter writes them) or per w:scalars (all
-- values of one step in one Summary); values are float32.
--
-- Options of tb.open(dir, opts) (all optional):
--   clock     a function giving seconds of a monotonic clock (lpdm.clock):
--             wall times are os.time() at open plus the clock's advance,
--             so events get sub-second times; without it, os.time()
--   hostname  the name's last part (default: the machine's host name)
--   time      the unix seconds in the name and the first wall time
-- w:session_start(step) writes a SessionLog START event. TensorBoard's
-- Python loader takes a run's first START as its start and each later one
-- as a restart: it drops the points already read at steps >= step (how a
-- run resumed from a checkpoint hides what its killed predecessor wrote
-- after that checkpoint; older TensorBoards purge at every START, so write
-- the first one before any scalar). TensorBoard's Rust loader drops, per
-- tag, the points at and after a step that comes again.
--
-- Records are kept in memory until flush() (or close()), which appends them
-- to the file and flushes it; errors name the file. Cost: the CRC folds 8
-- bytes per step through eight 256-entry tables; an Event of 2 values
-- (~80 bytes) takes ~8 us, one of 12 values ~26 us (2-core test machine).
local M = {}

local pack, byte, concat = string.pack, string.byte, table.concat

-- ---------------------------------------------------------------- CRC32C

-- T0[b] is the CRC step of the byte b (the classic 256-entry table, one
-- lookup per byte); Tk[b] = that of b followed by k zero bytes, so that
-- eight bytes are folded at once ("slicing by 8": the register's four bytes
-- xor the first four input bytes, then one lookup per byte in T7..T0),
-- about twice as fast in Lua as the byte-at-a-time loop.
local T0, T1, T2, T3, T4, T5, T6, T7 = {}, {}, {}, {}, {}, {}, {}, {}
do
  for i = 0, 255 do
    local c = i
    for _ = 1, 8 do
      if c & 1 == 1 then c = (c >> 1) ~ 0x82F63B78 else c = c >> 1 end
    end
    T0[i] = c
  end
  local prev = T0
  for _, t in ipairs({ T1, T2, T3, T4, T5, T6, T7 }) do
    for i = 0, 255 do t[i] = (prev[i] >> 8) ~ T0[prev[i] & 0xff] end
    prev = t
  end
end

-- CRC32C of the bytes of s (an integer in [0, 2^32)).
function M.crc32c(s)
  local c = 0xffffffff
  local n = #s
  local i = 1
  while i + 7 <= n do
    local b1, b2, b3, b4, b5, b6, b7, b8 = byte(s, i, i + 7)
    c = T7[(c ~ b1) & 0xff] ~ T6[((c >> 8) ~ b2) & 0xff] ~ T5[((c >> 16) ~ b3) & 0xff] ~ T4[(c >> 24) ~ b4]
      ~ T3[b5] ~ T2[b6] ~ T1[b7] ~ T0[b8]
    i = i + 8
  end
  for j = i, n do c = T0[(c ~ byte(s, j)) & 0xff] ~ (c >> 8) end
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
local char = string.char
local function varint(v)
  if v >= 0 and v < 0x200000 then -- up to three bytes without a table
    if v < 0x80 then return char(v) end
    if v < 0x4000 then return char(v & 0x7f | 0x80, v >> 7) end
    return char(v & 0x7f | 0x80, (v >> 7) & 0x7f | 0x80, v >> 14)
  end
  local out = {}
  while v & ~0x7f ~= 0 do
    out[#out + 1] = (v & 0x7f) | 0x80
    v = v >> 7 -- logical shift: a negative value ends too
  end
  out[#out + 1] = v
  return char(table.unpack(out))
end
M.varint = varint

local function field_bytes(num, s) return varint(num << 3 | 2) .. varint(#s) .. s end

-- A Summary's field 1 (a Value) up to the float's 4 bytes, per tag:
-- 0x0a len(Value) 0x0a len(tag) tag 0x15 (simple_value, fixed32).
local VALUE_HEAD = {}
local function value_head(tag)
  local h = VALUE_HEAD[tag]
  if not h then
    local inner = field_bytes(1, tag) .. "\x15"
    h = "\x0a" .. varint(#inner + 4) .. inner
    VALUE_HEAD[tag] = h
  end
  return h
end

-- A serialized Event: e.wall_time (number), e.step (integer), and one of
-- e.file_version (string), e.scalars ({{tag, value}, ...}: one Summary),
-- e.session_start (true: SessionLog START).
function M.event(e)
  local parts = { pack("<Bd", 1 << 3 | 1, e.wall_time) }
  if e.step and e.step ~= 0 then parts[#parts + 1] = "\x10" .. varint(e.step) end -- field 2, varint
  if e.file_version then parts[#parts + 1] = field_bytes(3, e.file_version) end
  if e.scalars then
    local vals = {}
    for i, s in ipairs(e.scalars) do vals[i] = value_head(s[1]) .. pack("<f", s[2]) end
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
  return self:scalars({ { tag, value } }, step, wall_time)
end

-- Queues several scalars of one step, list = {{tag, value}, ...}, as one
-- Event (one Summary with a Value each: fewer records, as TensorFlow's
-- merged summaries).
function Writer:scalars(list, step, wall_time)
  if not self.file then error("TensorBoard writer is closed", 2) end
  local s = math.tointeger(step)
  if not s then error(string.format("scalars at step %s: the step must be an integer", tostring(step)), 2) end
  if #list == 0 then return end
  local p = self.pending
  p[#p + 1] = M.record(M.event({ wall_time = wall_time or self:now(), step = s, scalars = list }))
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
