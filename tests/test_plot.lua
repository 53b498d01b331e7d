-- SPDX-License-Identifier: MIT
-- test_plot.lua -- scripts/plot.lua, the learning curves of runs as one
-- image: a PNG from two short runs (its signature and size), the options,
-- and every error a user can meet (exit status and message). TAP; run by
-- ctest as build/lpdm tests/test_plot.lua (arg[-1] is the executable).
-- Without gnuplot on the machine the drawing checks are skipped.

local LPDM = arg and arg[-1]
local HERE = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local TRAIN = HERE .. "/../scripts/train.lua"
local PLOT = HERE .. "/../scripts/plot.lua"
package.path = HERE .. "/lib/?.lua;" .. package.path
local T = require("testlib")
local check, read, write, eq = T.check, T.read, T.write, T.eq

local tests = {}
local function test(name, fn) tests[#tests + 1] = { name = name, fn = fn } end
local TMP = T.tmpdir()
local HAVE_GNUPLOT = os.execute("command -v gnuplot >/dev/null 2>&1") == true
local PNG_SIGNATURE = "\137PNG\r\n\26\n"

-- Runs lpdm with args (env: "NAME=value " assignments); returns output, status.
local function run(env, ...)
  local out, rc = T.sh(T.command((env or "") .. "OPENBLAS_NUM_THREADS=1 ", LPDM, { ... }))
  return out, rc
end

-- The run must exit with status want and its output hold every substring.
local function expect(want, wants, env, ...)
  local out, rc, cmd = T.sh(T.command((env or "") .. "OPENBLAS_NUM_THREADS=1 ", LPDM, { ... }))
  return T.expect_result(out, rc, cmd, want, wants)
end

local A, B = TMP .. "/runs/CartPole-v1_reinforce_bp_s1", TMP .. "/runs/CartPole-v1_reinforce_bp_s2"

test("two short runs to plot", function()
  for i, d in ipairs({ A, B }) do
    local out, rc = run(nil, TRAIN, "--algo=reinforce", "--mode=bp", "--steps=3000", "--seed=" .. i, "--quiet",
      "--out=" .. d)
    eq(rc, 0, "train.lua: " .. out)
  end
end)

test("a PNG of two runs: PNG signature, the size gnuplot draws; the message names the file", function()
  if not HAVE_GNUPLOT then return "skip", "gnuplot not found" end
  local png = TMP .. "/two.png"
  expect(0, { "wrote " .. png, "2 runs" }, nil, PLOT, A, B, "--out=" .. png)
  local img = read(png) or ""
  eq(img:sub(1, 8), PNG_SIGNATURE, "PNG signature")
  -- IHDR: width and height, big-endian, at bytes 17..24
  local w, h = string.unpack(">I4I4", img, 17)
  eq(w, 900, "PNG width")
  eq(h, 540, "PNG height")
  check(#img > 5000, "a PNG of " .. #img .. " bytes has no curves")
end)

test("--y=episode_return, --title, a relative --out, an SVG, a run without episodes beside one with them", function()
  if not HAVE_GNUPLOT then return "skip", "gnuplot not found" end
  expect(0, { "y = episode_return" }, nil, PLOT, A, "--y=episode_return", "--title=two \"quoted\" words",
    "--out=" .. TMP .. "/ret.png")
  eq((read(TMP .. "/ret.png") or ""):sub(1, 8), PNG_SIGNATURE, "PNG signature")
  -- relative to the working directory
  local function abs(p) return p:sub(1, 1) == "/" and p or (os.getenv("PWD") .. "/" .. p) end
  local out, rc = T.sh("cd " .. T.q(TMP) .. " && OPENBLAS_NUM_THREADS=1 " .. T.q(abs(LPDM)) .. " " ..
    T.q(abs(PLOT)) .. " " .. T.q(A) .. " --out=rel.png")
  eq(rc, 0, "relative --out: " .. out)
  eq((read(TMP .. "/rel.png") or ""):sub(1, 8), PNG_SIGNATURE, "relative --out: PNG signature")
  expect(0, {}, nil, PLOT, A, B, "--out=" .. TMP .. "/two.svg")
  check((read(TMP .. "/two.svg") or ""):find("<svg", 1, true), "no SVG written")
  local empty = TMP .. "/runs/empty"
  os.execute("mkdir -p " .. T.q(empty))
  write(empty .. "/progress.csv", "global_step,episode,episode_return,episode_length,avg20\n")
  expect(0, {}, nil, PLOT, A, empty, "--out=" .. TMP .. "/with-empty.png")
  expect(1, { "no finished episode in " .. empty }, nil, PLOT, empty, "--out=" .. TMP .. "/empty.png")
end)

test("usage errors exit 2 and say what is wrong: no DIR, no --out, an unknown flag, a bad --y", function()
  expect(2, { "plot.lua: no run directory given", "usage:" }, nil, PLOT, "--out=" .. TMP .. "/x.png")
  expect(2, { "plot.lua: --out=FILE.png is missing" }, nil, PLOT, A)
  expect(2, { "plot.lua: --out=FILE.png is missing" }, nil, PLOT, A, "--out")
  expect(2, { "unknown flag --colour", "--out, --y, --title" }, nil, PLOT, A, "--colour=red", "--out=x.png")
  expect(2, { "--y must be avg20 or episode_return, got 'return'" }, nil, PLOT, A, "--y=return", "--out=x.png")
  expect(0, { "usage:", "--y=avg20" }, nil, PLOT, "--help")
end)

test("a run at fault exits 1 naming it: a missing DIR, a DIR without progress.csv, a foreign CSV", function()
  local missing = TMP .. "/runs/no-such-run"
  expect(1, { "plot.lua: " .. missing .. ": no such directory" }, nil, PLOT, A, missing, "--out=" .. TMP .. "/x.png")
  local bare = TMP .. "/bare"
  os.execute("mkdir -p " .. T.q(bare))
  expect(1, { bare .. " has no progress.csv" }, nil, PLOT, bare, "--out=" .. TMP .. "/x.png")
  local foreign = TMP .. "/foreign"
  os.execute("mkdir -p " .. T.q(foreign))
  write(foreign .. "/progress.csv", "step,reward\n1,2\n")
  expect(1, { foreign .. "/progress.csv: not lpdm's progress.csv", "global_step" }, nil, PLOT, foreign,
    "--out=" .. TMP .. "/x.png")
  check(not T.exists(TMP .. "/x.png"), "a refused plot wrote --out")
end)

test("without gnuplot, or with --out in a missing folder: exit 1, and the message names the Debian package", function()
  expect(1, { "gnuplot not found", "gnuplot-nox", "LPDM_GNUPLOT" }, "LPDM_GNUPLOT=/nonexistent/gnuplot ", PLOT, A,
    "--out=" .. TMP .. "/y.png")
  check(not T.exists(TMP .. "/y.png"), "no gnuplot, yet --out was written")
  if not HAVE_GNUPLOT then return end
  expect(1, { "cannot write --out=" .. TMP .. "/no/dir/z.png", "No such file or directory" }, nil, PLOT, A,
    "--out=" .. TMP .. "/no/dir/z.png")
  -- a gnuplot that fails: its message is passed on, no image is left
  local fake = TMP .. "/fake-gnuplot"
  write(fake, "#!/bin/sh\necho 'line 1: all points undefined' >&2\nexit 1\n")
  os.execute("chmod +x " .. T.q(fake))
  expect(1, { "gnuplot failed to draw", "all points undefined" }, "LPDM_GNUPLOT=" .. T.q(fake) .. " ", PLOT, A,
    "--out=" .. TMP .. "/w.png")
  check(not T.exists(TMP .. "/w.png"), "a failed plot left --out behind")
end)

T.run_tests(tests, TMP)
