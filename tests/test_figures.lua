-- SPDX-License-Identifier: MIT
-- test_figures.lua -- an algorithm's per-iteration figures have no limit of
-- number or depth (lpdm_figures): a 16-layer local PPO run writes the local
-- loss of every hidden layer of both nets, actor_local_loss_1..16 and
-- critic_local_loss_1..16 (32 columns beside PPO's own), to updates.csv,
-- each a number in every row; a 12-layer local REINFORCE run writes
-- local_loss_1..12. (Up to ABI 1.3, nets deeper than 8 layers reported no
-- local loss, and more than 32 figures were dropped.)
-- Run by ctest as build/lpdm tests/test_figures.lua.

local LPDM = arg and arg[-1]
local HERE = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local TRAIN = HERE .. "/../scripts/train.lua"
package.path = HERE .. "/lib/?.lua;" .. package.path
local T = require("testlib")
local check, read = T.check, T.read

local tests = {}
local function test(name, fn) tests[#tests + 1] = { name = name, fn = fn } end
local TMP = T.tmpdir()

-- Runs train.lua with flags into dir; returns updates.csv's header fields
-- and its data rows (each a list of fields).
local function train(dir, ...)
  local args = { TRAIN, "--quiet", "--out=" .. dir, ... }
  local out, rc, cmd = T.sh(T.command("OPENBLAS_NUM_THREADS=1 ", LPDM, args))
  check(rc == 0, string.format("exit status %s\ncommand: %s\n%s", tostring(rc), cmd, out:sub(1, 1500)))
  local upd = read(dir .. "/updates.csv")
  check(upd, "no updates.csv in " .. dir)
  local header, rows = nil, {}
  for line in upd:gmatch("[^\n]+") do
    local f = {}
    for x in (line .. ","):gmatch("([^,]*),") do f[#f + 1] = x end
    if not header then header = f else rows[#rows + 1] = f end
  end
  check(#rows >= 1, "updates.csv has no data row")
  return header, rows
end

-- Every name of want is a column, with a finite number in every row.
local function has_columns(header, rows, want)
  local col = {}
  for i, h in ipairs(header) do col[h] = i end
  for _, name in ipairs(want) do
    check(col[name], "updates.csv lacks the column " .. name .. " (header: " .. table.concat(header, ",") .. ")")
    for r, row in ipairs(rows) do
      local v = tonumber(row[col[name]])
      check(v and v == v and v > -math.huge and v < math.huge,
        string.format("updates.csv row %d: %s = %q is not a finite number", r, name, tostring(row[col[name]])))
    end
  end
end

local function widths(n, w)
  local t = {}
  for i = 1, n do t[i] = tostring(w) end
  return table.concat(t, ",")
end

test("a 16-layer local PPO run writes actor_local_loss_1..16 and critic_local_loss_1..16 to updates.csv", function()
  local header, rows = train(TMP .. "/ppo16", "--algo=ppo", "--mode=local", "--env=CartPole-v1",
    "--hidden=" .. widths(16, 16), "--steps=3072", "--seed=1")
  local want = { "policy_loss", "value_loss", "entropy", "approx_kl", "clipfrac", "explained_variance" }
  for i = 1, 16 do
    want[#want + 1] = "actor_local_loss_" .. i
    want[#want + 1] = "critic_local_loss_" .. i
  end
  has_columns(header, rows, want)
  check(#header == 2 + 11 + 32, "updates.csv has " .. #header .. " columns, not global_step, wall_time, PPO's 11 and 32")
end)

test("a 12-layer local REINFORCE run writes local_loss_1..12 to updates.csv", function()
  local header, rows = train(TMP .. "/rf12", "--algo=reinforce", "--mode=local", "--env=CartPole-v1",
    "--hidden=" .. widths(12, 8), "--steps=600", "--seed=1")
  local want = {}
  for i = 1, 12 do want[#want + 1] = "local_loss_" .. i end
  has_columns(header, rows, want)
end)

T.run_tests(tests, TMP)
