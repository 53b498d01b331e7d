-- SPDX-License-Identifier: MIT
-- test_progress_lib.lua -- util.read_progress (scripts/lib/util.lua), the one
-- reader of a run's progress.csv that the sweep's statistics and the second
-- edition's report share: a good file's columns, and each way a file can be
-- wrong (missing, another header, a short row, a word where a number goes,
-- no episode), named in the error the sweep then gives as a run's reason. TAP.
-- Run by ctest as build/lpdm tests/test_progress_lib.lua (plain lua5.4 works too).

local HERE = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = HERE .. "/lib/?.lua;" .. HERE .. "/../scripts/lib/?.lua;" .. package.path
local T = require("testlib")
local util = require("util")

local check, eq = T.check, T.eq
local tmp = T.tmpdir()
local HEAD = "global_step,episode,episode_return,episode_length,avg20\n"

local tests = {}
local function test(name, fn) tests[#tests + 1] = { name = name, fn = fn } end

local n = 0
local function file(text) -- a progress.csv with this text; its path
  n = n + 1
  local p = string.format("%s/p%d.csv", tmp, n)
  T.write(p, text)
  return p
end

local function refused(text, want, what)
  local p = text and file(text) or (tmp .. "/missing.csv")
  local pr, err = util.read_progress(p)
  check(pr == nil, what .. ": read, want refused")
  eq(err, want, what)
end

test("a good file gives its four columns, row by row", function()
  local pr, err = util.read_progress(file(HEAD .. "9,1,9.0,9,9.0\n30,2,21.5,21,15.25\n41,3,-1e-3,11,10.1665\n"))
  check(pr, "refused: " .. tostring(err))
  eq(#pr.steps, 3, "rows")
  eq(pr.steps[2], 30, "global_step")
  eq(pr.returns[2], 21.5, "episode_return")
  eq(pr.returns[3], -1e-3, "episode_return in e-notation")
  eq(pr.lengths[3], 11, "episode_length")
  eq(pr.avg20[3], 10.1665, "avg20")
end)

test("a file without a final newline reads the same", function()
  local pr = util.read_progress(file(HEAD .. "9,1,9.0,9,9.0\n30,2,21.5,21,15.25"))
  eq(#pr.returns, 2, "rows")
  eq(pr.avg20[2], 15.25, "last row's avg20")
end)

test("each broken file is refused with what is wrong", function()
  refused(nil, "no progress.csv", "missing")
  refused("step,return\n9,9.0\n", "progress.csv has an unexpected header", "another header")
  refused(HEAD, "progress.csv has no episode", "header only")
  refused(HEAD .. "9,1,9.0,9\n", "progress.csv has a bad row: 9,1,9.0,9", "a short row")
  refused(HEAD .. "9,1,9.0,9,9.0,7\n", "progress.csv has a bad row: 9,1,9.0,9,9.0,7", "a long row")
  refused(HEAD .. "9,1,nan,9,9.0\n", "progress.csv has a bad row: 9,1,nan,9,9.0", "a NaN return")
  refused(HEAD .. "9,1,9.0,9,\n", "progress.csv has a bad row: 9,1,9.0,9,", "an empty avg20")
end)

T.run_tests(tests, tmp)
