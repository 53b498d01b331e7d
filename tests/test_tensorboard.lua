-- SPDX-License-Identifier: MIT
-- test_tensorboard.lua -- scripts/lib/tensorboard.lua and train.lua's
-- --tensorboard, checked by a reader written here (not the writer's code):
-- it walks the TFRecord records of an event file, checks the framing and
-- both masked CRC32Cs of every record (with a bitwise CRC of its own),
-- decodes the Event protobufs, and compares the scalars with the run's
-- progress.csv and updates.csv. TAP; run by ctest as
-- build/lpdm tests/test_tensorboard.lua (arg[-1] is the executable).
--
-- The tags each algorithm writes (docs/outputs.md, "TensorBoard"):
--   every run: charts/episodic_return, charts/episodic_length, charts/SPS
--   PPO: charts/learning_rate, losses/{value_loss, policy_loss, entropy,
--        approx_kl, old_approx_kl, clipfrac, explained_variance},
--        lpdm/{epochs, grad_norm}; local: local/actor_layer_N, local/critic_layer_N
--   REINFORCE: losses/policy_loss, lpdm/batch_size; local: local/layer_N;
--        charts/learning_rate when its config holds the rate (> 0)
--   DQN: charts/learning_rate (bp), losses/{td_loss, q_values},
--        lpdm/{epsilon, replay_size, updates}; local: local/layer_N

local LPDM = arg and arg[-1]
local HERE = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local TRAIN = HERE .. "/../scripts/train.lua"
package.path = HERE .. "/lib/?.lua;" .. HERE .. "/../scripts/lib/?.lua;" .. package.path
local T = require("testlib")
local tb = require("tensorboard")
local q, check, read, write, eq = T.q, T.check, T.read, T.write, T.eq

local tests = {}
local function test(name, fn) tests[#tests + 1] = { name = name, fn = fn } end
local TMP = T.tmpdir()

-- ---------------------------------------------------------------- the reader

-- CRC32C bit by bit (the writer uses a table): reflected 0x82F63B78.
local function crc_bitwise(s)
  local c = 0xffffffff
  for i = 1, #s do
    c = c ~ s:byte(i)
    for _ = 1, 8 do c = (c & 1 == 1) and ((c >> 1) ~ 0x82F63B78) or (c >> 1) end
  end
  return c ~ 0xffffffff
end
local function masked(s)
  local c = crc_bitwise(s)
  return ((((c >> 15) | (c << 17)) & 0xffffffff) + 0xa282ead8) & 0xffffffff
end

-- Protobuf wire format: returns {field = {values...}} with varints as
-- integers, fixed64 as 8 raw bytes, fixed32 as 4, length-delimited as strings.
local function varint(s, i)
  local v, shift = 0, 0
  while true do
    local b = s:byte(i)
    if not b then error("truncated varint", 0) end
    v = v | ((b & 0x7f) << shift)
    i, shift = i + 1, shift + 7
    if b < 0x80 then return v, i end
    if shift > 63 then error("varint too long", 0) end
  end
end
local function fields(s)
  local t, i = {}, 1
  while i <= #s do
    local key
    key, i = varint(s, i)
    local num, wt = key >> 3, key & 7
    local v
    if wt == 0 then v, i = varint(s, i)
    elseif wt == 1 then v, i = s:sub(i, i + 7), i + 8
    elseif wt == 5 then v, i = s:sub(i, i + 3), i + 4
    elseif wt == 2 then
      local n
      n, i = varint(s, i)
      v, i = s:sub(i, i + n - 1), i + n
    else error("wire type " .. wt, 0) end
    if i > #s + 1 then error("field " .. num .. " runs past the end", 0) end
    t[num] = t[num] or {}
    table.insert(t[num], v)
  end
  return t
end

-- Reads an event file: a list of events {wall_time, step, file_version,
-- scalars = {{tag, value}}, session_start}; raises naming the record and
-- what is wrong with it.
local function read_events(path)
  local s = assert(read(path), "cannot read " .. path)
  local events, i, n = {}, 1, 0
  while i <= #s do
    n = n + 1
    local where = string.format("%s: record %d (byte %d)", path, n, i - 1)
    if i + 11 > #s then error(where .. ": truncated header", 0) end
    local lenb = s:sub(i, i + 7)
    local len = string.unpack("<I8", lenb)
    if string.unpack("<I4", s, i + 8) ~= masked(lenb) then error(where .. ": length CRC mismatch", 0) end
    if i + 12 + len + 4 - 1 > #s then error(where .. ": truncated data", 0) end
    local data = s:sub(i + 12, i + 12 + len - 1)
    if string.unpack("<I4", s, i + 12 + len) ~= masked(data) then error(where .. ": data CRC mismatch", 0) end
    i = i + 12 + len + 4
    local ok, f = pcall(fields, data)
    if not ok then error(where .. ": bad Event: " .. f, 0) end
    local e = { scalars = {} }
    e.wall_time = f[1] and string.unpack("<d", f[1][1])
    e.step = f[2] and f[2][1] or 0
    e.file_version = f[3] and f[3][1]
    for _, sm in ipairs(f[5] or {}) do
      for _, val in ipairs(fields(sm)[1] or {}) do
        local vf = fields(val)
        e.scalars[#e.scalars + 1] = { vf[1][1], string.unpack("<f", vf[2][1]) }
      end
    end
    if f[6] then e.session_start = (fields(f[6][1])[1] or {})[1] == 1 end
    events[#events + 1] = e
  end
  return events
end

-- The event files of dir, sorted by name (as TensorBoard reads them).
local function event_files(dir)
  local p = assert(io.popen("ls -1 " .. q(dir) .. " 2>/dev/null"))
  local list = {}
  for name in p:lines() do
    if name:find("tfevents", 1, true) then list[#list + 1] = dir .. "/" .. name end
  end
  p:close()
  table.sort(list)
  return list
end

-- Every scalar of dir's event files: {tag = {{step, value}, ...}}, after
-- TensorBoard's rule for SessionLog START: the run's first one starts it,
-- each later one at step S (a restart) drops the points read before it at
-- steps >= S. Checks every file's first two records: file_version
-- "brain.Event:2", then a START before any scalar.
local function scalars(dir)
  local files = event_files(dir)
  check(#files > 0, "no event file in " .. dir)
  local by_tag, started = {}, false
  for _, path in ipairs(files) do
    local evs = read_events(path)
    check(evs[1] and evs[1].file_version == "brain.Event:2", path .. ": the first record is not file_version brain.Event:2")
    check(path:match("/events%.out%.tfevents%.%d+%.[^/]+$"), "event file name: " .. path)
    check(evs[2] and evs[2].session_start, path .. ": the second record is not a SessionLog START")
    for k = 2, #evs do
      local e = evs[k]
      check(e.wall_time and e.wall_time > 1.5e9, path .. ": implausible wall_time " .. tostring(e.wall_time))
      if e.session_start and not started then
        started = true
      elseif e.session_start then
        for tag, pts in pairs(by_tag) do
          local kept = {}
          for _, p in ipairs(pts) do if p[1] < e.step then kept[#kept + 1] = p end end
          by_tag[tag] = kept
        end
      end
      for _, sv in ipairs(e.scalars) do
        by_tag[sv[1]] = by_tag[sv[1]] or {}
        table.insert(by_tag[sv[1]], { e.step, sv[2] })
      end
    end
  end
  return by_tag, files
end

-- ---------------------------------------------------------------- helpers

local function f32(x) return (string.unpack("<f", string.pack("<f", x))) end
-- equal as float32, allowing one float32 ulp (the CSV holds 10 digits, so
-- rounding the CSV text can land on the neighbour of the float32 the
-- writer rounded the exact double to)
local function near32(a, b)
  if a == b then return true end
  return math.abs(a - b) <= math.abs(b) * 2 ^ -23 * 1.01
end

local function csv(path)
  local text = assert(read(path), "cannot read " .. path)
  local rows, header = {}, nil
  for line in text:gmatch("[^\n]+") do
    local cells = {}
    for c in (line .. ","):gmatch("([^,]*),") do cells[#cells + 1] = c end
    if not header then header = cells else rows[#rows + 1] = cells end
  end
  return header, rows
end

local function sh(cmd)
  local out, rc = T.sh(cmd)
  return out, rc
end

local function train(dir, flags, env)
  local args = { TRAIN }
  for _, f in ipairs(flags) do args[#args + 1] = f end
  args[#args + 1] = "--quiet"
  args[#args + 1] = "--out=" .. dir
  local out, rc = sh(T.command((env or "") .. "OPENBLAS_NUM_THREADS=1 ", LPDM, args))
  return out, rc
end

-- The tag of each updates.csv column (this test's own copy of the table
-- in docs/outputs.md).
local COLUMN_TAG = {
  learning_rate = "charts/learning_rate", sps = "charts/SPS",
  value_loss = "losses/value_loss", loss_value = "losses/value_loss",
  policy_loss = "losses/policy_loss", loss_policy = "losses/policy_loss",
  entropy = "losses/entropy", approx_kl = "losses/approx_kl", old_approx_kl = "losses/old_approx_kl",
  clipfrac = "losses/clipfrac", explained_variance = "losses/explained_variance",
  td_loss = "losses/td_loss", q_values = "losses/q_values",
  actor_local_loss_1 = "local/actor_layer_1", actor_local_loss_2 = "local/actor_layer_2",
  critic_local_loss_1 = "local/critic_layer_1", critic_local_loss_2 = "local/critic_layer_2",
  local_loss_1 = "local/layer_1", local_loss_2 = "local/layer_2",
}
local function column_tag(c) return COLUMN_TAG[c] or ("lpdm/" .. c) end

local function set_of(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

local function json_number(text, key)
  return tonumber(text:match('"' .. key .. '": ([%-%d%.e]+)'))
end

-- Checks dir's scalars against its CSVs and the expected tag set.
local function check_run(dir, want_tags, algo, mode)
  local by_tag = scalars(dir)
  -- the configured rate, logged when the algorithm has no figure for it
  local summary = read(dir .. "/summary.json") or ""
  local algo_cfg = summary:match('"algo_config": (%b{})') or ""
  local lr = mode == "local" and json_number(algo_cfg, "head_lr")
    or (json_number(algo_cfg, "learning_rate") or json_number(algo_cfg, "lr"))
  local uh = csv(dir .. "/updates.csv")
  local want = set_of(want_tags)
  if not set_of(uh).learning_rate and lr and lr > 0 then want["charts/learning_rate"] = true end
  -- the tag set, exactly
  for tag in pairs(want) do check(by_tag[tag] and #by_tag[tag] > 0, dir .. ": no scalars for " .. tag) end
  for tag in pairs(by_tag) do check(want[tag], dir .. ": unexpected tag " .. tag) end
  -- steps never go back, per tag
  for tag, pts in pairs(by_tag) do
    for k = 2, #pts do
      check(pts[k][1] >= pts[k - 1][1], string.format("%s: %s: step %d after %d", dir, tag, pts[k][1], pts[k - 1][1]))
    end
  end
  -- episodes: one point per progress.csv row, the same step and value
  local _, prog = csv(dir .. "/progress.csv")
  for _, spec in ipairs({ { "charts/episodic_return", 3 }, { "charts/episodic_length", 4 } }) do
    local pts = by_tag[spec[1]]
    eq(#pts, #prog, dir .. ": " .. spec[1] .. " points vs progress.csv rows")
    for k, row in ipairs(prog) do
      eq(pts[k][1], math.tointeger(tonumber(row[1])), dir .. ": " .. spec[1] .. " step of episode " .. k)
      eq(pts[k][2], f32(tonumber(row[spec[2]])), dir .. ": " .. spec[1] .. " value of episode " .. k)
    end
  end
  -- updates: every column but global_step and wall_time, NaN rows left out
  local header, rows = csv(dir .. "/updates.csv")
  local checked = 0
  for ci = 3, #header do
    local tag = column_tag(header[ci])
    local pts, k = by_tag[tag], 0
    check(pts, dir .. ": column " .. header[ci] .. " has no tag " .. tag)
    for _, row in ipairs(rows) do
      local v = tonumber(row[ci])
      if v and v == v then
        k = k + 1
        local p = pts[k]
        check(p, string.format("%s: %s: fewer points than updates.csv rows", dir, tag))
        eq(p[1], math.tointeger(tonumber(row[1])), dir .. ": " .. tag .. " step of point " .. k)
        check(near32(p[2], f32(v)), string.format("%s: %s at step %s: %.9g in the event file, %s in updates.csv",
          dir, tag, row[1], p[2], row[ci]))
        checked = checked + 1
      end
    end
    eq(#pts, k, dir .. ": " .. tag .. " points vs non-NaN updates.csv rows")
  end
  check(checked > 0, dir .. ": no update values compared")
  -- the tags not in updates.csv: SPS from the clock, the configured rate
  if not set_of(header).sps then
    eq(#by_tag["charts/SPS"], #rows, dir .. ": charts/SPS points")
    for _, p in ipairs(by_tag["charts/SPS"]) do check(p[2] > 0, dir .. ": charts/SPS " .. p[2]) end
  end
  if not set_of(header).learning_rate and want["charts/learning_rate"] then
    eq(#by_tag["charts/learning_rate"], #rows, dir .. ": charts/learning_rate points")
    for _, p in ipairs(by_tag["charts/learning_rate"]) do eq(p[2], f32(lr), dir .. ": charts/learning_rate") end
  end
  return by_tag
end

local BASE = { "charts/episodic_return", "charts/episodic_length", "charts/SPS" }
local function tags(extra)
  local t = { table.unpack(BASE) }
  for _, x in ipairs(extra) do t[#t + 1] = x end
  return t
end
local PPO = tags({ "charts/learning_rate", "losses/value_loss", "losses/policy_loss", "losses/entropy",
  "losses/approx_kl", "losses/old_approx_kl", "losses/clipfrac", "losses/explained_variance", "lpdm/epochs",
  "lpdm/grad_norm" })
local PPO_LOCAL = { table.unpack(PPO) }
for _, x in ipairs({ "local/actor_layer_1", "local/actor_layer_2", "local/critic_layer_1", "local/critic_layer_2" }) do
  PPO_LOCAL[#PPO_LOCAL + 1] = x
end
local REINFORCE = tags({ "losses/policy_loss", "lpdm/batch_size" })
local REINFORCE_LOCAL = tags({ "losses/policy_loss", "lpdm/batch_size", "local/layer_1", "local/layer_2" })
local DQN = tags({ "losses/td_loss", "losses/q_values", "lpdm/epsilon", "lpdm/replay_size", "lpdm/updates" })
local DQN_LOCAL = tags({ "losses/td_loss", "losses/q_values", "lpdm/epsilon", "lpdm/replay_size", "lpdm/updates",
  "local/layer_1", "local/layer_2" })

-- ---------------------------------------------------------------- tests

test("CRC32C known answers (RFC 3720 B.4 and the check value), table and bitwise agree", function()
  local zeros, ones, up, down = string.rep("\0", 32), string.rep("\255", 32), {}, {}
  for i = 0, 31 do up[#up + 1], down[#down + 1] = string.char(i), string.char(31 - i) end
  local cases = { { "123456789", 0xE3069283 }, { "", 0 }, { zeros, 0x8A9136AA }, { ones, 0x62A8AB43 },
    { table.concat(up), 0x46DD794E }, { table.concat(down), 0x113FDB5C } }
  for _, c in ipairs(cases) do
    eq(tb.crc32c(c[1]), c[2], string.format("crc32c of %d bytes", #c[1]))
    eq(crc_bitwise(c[1]), c[2], string.format("bitwise crc32c of %d bytes", #c[1]))
  end
  -- lengths around the writer's 8-byte unrolling
  local s = ""
  for n = 0, 40 do
    eq(tb.crc32c(s), crc_bitwise(s), "crc32c of " .. n .. " bytes")
    s = s .. string.char((n * 37 + 11) % 256)
  end
  eq(tb.masked_crc("123456789"), masked("123456789"), "masked crc")
end)

test("the writer's file: name, file_version first, scalars as float32 at their steps, a second file beside it", function()
  local dir = TMP .. "/unit"
  os.execute("mkdir -p " .. q(dir))
  local w = tb.open(dir, { time = 1700000000, hostname = "host.example" })
  eq(w.path, dir .. "/events.out.tfevents.1700000000.host.example", "file name")
  w:scalar("a/b", 0.1, 0, 1700000000.25)
  w:scalar("a/b", -3.5, 7)
  w:scalar("big", 1e30, 1 << 40)
  w:session_start(9)
  w:close()
  w:close() -- twice: nothing
  local evs = read_events(w.path)
  eq(#evs, 5, "records")
  eq(evs[1].file_version, "brain.Event:2", "file_version")
  eq(evs[2].scalars[1][1], "a/b", "tag")
  eq(evs[2].scalars[1][2], f32(0.1), "value 0.1 as float32")
  eq(evs[2].step, 0, "step 0")
  eq(evs[2].wall_time, 1700000000.25, "wall_time given")
  eq(evs[3].scalars[1][2], -3.5, "value")
  eq(evs[3].step, 7, "step")
  eq(evs[4].step, 1 << 40, "a step past 32 bits")
  eq(evs[4].scalars[1][2], f32(1e30), "big value")
  check(evs[5].session_start and evs[5].step == 9, "SessionLog START at step 9")
  local w2 = tb.open(dir, { time = 1700000000, hostname = "host.example" })
  eq(w2.path, dir .. "/events.out.tfevents.1700000000.host.example.1", "the name taken: .1")
  w2:close()
  T.fails(function() tb.open(TMP .. "/no/such/dir") end, "cannot write the TensorBoard file", "no/such/dir")
  T.fails(function() w:scalar("x", 1, 1) end, "closed")
end)

test("the reader detects a flipped byte in the length, in the data, and a truncated file", function()
  local dir = TMP .. "/corrupt"
  os.execute("mkdir -p " .. q(dir))
  local w = tb.open(dir, { time = 1700000001, hostname = "h" })
  for k = 1, 5 do w:scalar("x", k, k) end
  w:close()
  local good = read(w.path)
  read_events(w.path) -- accepted
  local first = 8 + 4 + string.unpack("<I8", good) + 4 -- the second record starts here
  local function flip(pos) return good:sub(1, pos - 1) .. string.char(good:byte(pos) ~ 0x10) .. good:sub(pos + 1) end
  write(w.path, flip(first + 2))
  T.fails(function() read_events(w.path) end, "record 2", "length CRC mismatch")
  write(w.path, flip(first + 12 + 5))
  T.fails(function() read_events(w.path) end, "record 2", "data CRC mismatch")
  write(w.path, flip(#good))
  T.fails(function() read_events(w.path) end, "record 6", "data CRC mismatch")
  write(w.path, good:sub(1, #good - 3))
  T.fails(function() read_events(w.path) end, "truncated")
end)

test("writing 20000 scalars costs little (printed, not asserted)", function()
  local dir = TMP .. "/speed"
  os.execute("mkdir -p " .. q(dir))
  local w = tb.open(dir, { hostname = "h" })
  local t0 = os.clock()
  for k = 1, 20000 do w:scalar("losses/value_loss", k * 0.5, k * 512) end
  w:close()
  print(string.format("# 20000 scalars in %.3f s CPU", os.clock() - t0))
end)

local RUNS = {
  { "ppo-bp", { "--algo=ppo", "--mode=bp", "--steps=3072" }, PPO, "ppo", "bp" },
  { "ppo-local", { "--algo=ppo", "--mode=local", "--steps=3072" }, PPO_LOCAL, "ppo", "local" },
  { "reinforce-bp", { "--algo=reinforce", "--mode=bp", "--steps=3000" }, REINFORCE, "reinforce", "bp" },
  { "reinforce-local", { "--algo=reinforce", "--mode=local", "--steps=3000" }, REINFORCE_LOCAL, "reinforce", "local" },
  { "dqn-bp", { "--algo=dqn", "--mode=bp", "--steps=2500", "--learning-starts=1000" }, DQN, "dqn", "bp" },
  { "dqn-local", { "--algo=dqn", "--mode=local", "--steps=2500", "--learning-starts=1000" }, DQN_LOCAL, "dqn", "local" },
}
for _, r in ipairs(RUNS) do
  test("--tensorboard, " .. r[1] .. ": the tags, steps and values of progress.csv and updates.csv", function()
    local dir = TMP .. "/" .. r[1]
    local flags = { table.unpack(r[2]) }
    flags[#flags + 1] = "--tensorboard"
    local out, rc = train(dir, flags)
    eq(rc, 0, "train.lua exit status (" .. out .. ")")
    check_run(dir, r[3], r[4], r[5])
    eq(#event_files(dir), 1, dir .. ": event files")
    -- the CSVs have the bytes of a run without --tensorboard (but wall_time and sps)
    local plain = dir .. "-plain"
    out, rc = train(plain, r[2])
    eq(rc, 0, "train.lua exit status (" .. out .. ")")
    eq(read(plain .. "/progress.csv"), read(dir .. "/progress.csv"), r[1] .. ": progress.csv")
    local function strip(text)
      local h = text:match("^[^\n]*")
      local cols, skip = {}, {}
      for c in (h .. ","):gmatch("([^,]*),") do cols[#cols + 1] = c end
      for i, c in ipairs(cols) do skip[i] = c == "wall_time" or c == "sps" end
      local out_rows = {}
      for line in text:gmatch("[^\n]+") do
        local cells, i = {}, 0
        for c in (line .. ","):gmatch("([^,]*),") do
          i = i + 1
          if not skip[i] then cells[#cells + 1] = c end
        end
        out_rows[#out_rows + 1] = table.concat(cells, ",")
      end
      return table.concat(out_rows, "\n")
    end
    eq(strip(read(plain .. "/updates.csv")), strip(read(dir .. "/updates.csv")), r[1] .. ": updates.csv")
    check(#event_files(plain) == 0, "a run without --tensorboard wrote an event file")
  end)
end

test("a run killed and resumed adds a second event file; after the START record the scalars match the CSVs", function()
  local dir = TMP .. "/resume"
  local flags = { "--algo=ppo", "--mode=local", "--steps=12000", "--seed=3", "--tensorboard", "--checkpoint-every=5" }
  local out, rc = train(dir, flags, "LPDM_TEST_KILL_AFTER=13 ")
  eq(rc, 137, "the run was to die by SIGKILL (" .. out .. ")")
  local killed = scalars(dir)
  -- the killed run wrote past its checkpoint (update 10): those points are dropped on resume
  local before = #killed["losses/value_loss"]
  check(before >= 11, "the killed run's event file holds " .. before .. " updates")
  -- (in the same second, the new file is named <the first's name>.1: it sorts after it too)
  local again = { table.unpack(flags) }
  again[#again + 1] = "--resume=" .. dir
  -- train() adds --out; --resume gives the dir, so call lpdm directly
  local args = { TRAIN }
  for _, f in ipairs(again) do args[#args + 1] = f end
  args[#args + 1] = "--quiet"
  out, rc = sh(T.command("OPENBLAS_NUM_THREADS=1 ", LPDM, args))
  eq(rc, 0, "resume exit status (" .. out .. ")")
  local files = event_files(dir)
  eq(#files, 2, "event files after the resume")
  local evs = read_events(files[2])
  check(evs[2] and evs[2].session_start and evs[2].step > 1000, "the resumed file's START is not at its checkpoint")
  eq(read_events(files[1])[2].step, 0, "a new run's START step")
  check_run(dir, PPO_LOCAL, "ppo", "local")
  -- resuming without --tensorboard is the same run (the flag is not in the config hash)
  local dir2 = TMP .. "/resume2"
  out, rc = train(dir2, { "--algo=reinforce", "--steps=20000", "--tensorboard", "--checkpoint-every=5" },
    "LPDM_TEST_KILL_AFTER=13 ")
  eq(rc, 137, "the run was to die by SIGKILL (" .. out .. ")")
  out, rc = sh(T.command("OPENBLAS_NUM_THREADS=1 ", LPDM, { TRAIN, "--algo=reinforce", "--steps=20000",
    "--checkpoint-every=5", "--quiet", "--resume=" .. dir2 }))
  eq(rc, 0, "resume without --tensorboard (" .. out .. ")")
  eq(#event_files(dir2), 1, "event files after a resume without --tensorboard")
end)

test("a new run into the DIR of an earlier one: its START drops the earlier run's points", function()
  local dir = TMP .. "/again"
  for _, seed in ipairs({ "1", "2" }) do
    local out, rc = train(dir, { "--algo=reinforce", "--mode=bp", "--steps=3000", "--seed=" .. seed, "--tensorboard" })
    eq(rc, 0, "train.lua exit status (" .. out .. ")")
  end
  eq(#event_files(dir), 2, "event files")
  check_run(dir, REINFORCE, "reinforce", "bp")
end)

test("if python3 can import tensorboard, its EventAccumulator reads the PPO run's file", function()
  local _, rc = sh("python3 -c 'import tensorboard.backend.event_processing.event_accumulator' >/dev/null 2>&1")
  if rc ~= 0 then return "skip", "python3 with tensorboard not available" end
  local dir = TMP .. "/ppo-local"
  local py = [[
import sys
from tensorboard.backend.event_processing import event_accumulator as ea
acc = ea.EventAccumulator(sys.argv[1], size_guidance={ea.SCALARS: 0})
acc.Reload()
tags = acc.Tags()["scalars"]
print(len(tags), len(acc.Scalars("charts/episodic_return")), acc.Scalars("losses/value_loss")[0].value)
]]
  write(TMP .. "/read.py", py)
  local out
  out, rc = sh("python3 " .. q(TMP .. "/read.py") .. " " .. q(dir))
  eq(rc, 0, "python reader: " .. out)
  local by_tag = scalars(dir)
  local ntags = 0
  for _ in pairs(by_tag) do ntags = ntags + 1 end
  local a, b = out:match("^(%d+) (%d+)")
  eq(tonumber(a), ntags, "tags seen by TensorBoard (" .. out .. ")")
  eq(tonumber(b), #by_tag["charts/episodic_return"], "episodes seen by TensorBoard")
end)

T.run_tests(tests, TMP)
