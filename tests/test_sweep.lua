-- SPDX-License-Identifier: MIT
-- test_sweep.lua -- scripts/sweep.lua as a user meets it: a small sweep run
-- as a subprocess (CartPole-v1 x reinforce x 2 variants x 2 seeds, 3000
-- steps, 2 at a time), resumed, extended by a failing variant, and fed bad
-- configs; checked by exit status, output and the files written (report.md,
-- sweep.json, the plots' PNG and SVG), as TAP. Without gnuplot on the
-- machine the plot checks are skipped (TAP "# SKIP").
-- Run by ctest as build/lpdm tests/test_sweep.lua (arg[-1] is the executable).

local LPDM = arg and arg[-1]
local HERE = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local SWEEP = HERE .. "/../scripts/sweep.lua"
package.path = HERE .. "/lib/?.lua;" .. package.path
local T = require("testlib")

local tests = {}
local function test(name, fn) tests[#tests + 1] = { name = name, fn = fn } end

-- ---------------------------------------------------------------- helpers

local q, check, read, write, mtime = T.q, T.check, T.read, T.write, T.mtime

-- Runs LPDM with the arguments; returns stdout+stderr, the exit status and
-- the command.
local ENV = "" -- extra environment for run(), e.g. "LPDM_GNUPLOT=/nonexistent/gnuplot"
local function run(...)
  return T.sh(T.command(ENV .. "OPENBLAS_NUM_THREADS=1 ", LPDM, { ... }))
end

local function expect(want, wants, ...)
  local out, rc, cmd = run(...)
  return T.expect_result(out, rc, cmd, want, wants)
end


-- The cells of a table row "| a | b |", trimmed.
local function cells(line)
  local t = {}
  for c in line:sub(2):gmatch("%s*([^|]-)%s*|") do t[#t + 1] = c end
  return t
end

-- The cells of the first table row of text that starts with "| first |".
local function row(text, first)
  for line in text:gmatch("[^\n]+") do
    if line:find("| " .. first .. " |", 1, true) == 1 then return cells(line) end
  end
end

-- The text from head to the next stop after it.
local function section(text, head, stop)
  local i = text:find(head, 1, true)
  check(i, "report.md lacks " .. head)
  local j = text:find(stop, i + #head, true) or #text
  return text:sub(i, j)
end

-- The status of each run in sweep.json's text, keyed by dir; and a field.
local runs_of = T.sweep_runs

local TMP = T.tmpdir()
local OUT = TMP .. "/my sweep" -- a space: paths are quoted

local BASE = [[
return {
  name = "test",
  envs = { { name = "CartPole-v1", steps = 3000 } },
  algos = { "reinforce" },
  variants = {
    { name = "bp", flags = { mode = "bp" } },
    { name = "local-guided", flags = { mode = "local", loss = "guided" } },
%s  },
  seeds = { 1, 2 },
}
]]
local CONFIG = TMP .. "/sweep.lua"
write(CONFIG, BASE:format(""))
local GOOD = {}
for _, v in ipairs({ "bp", "local-guided" }) do
  for _, s in ipairs({ 1, 2 }) do GOOD[#GOOD + 1] = string.format("runs/CartPole-v1/reinforce/%s/s%d", v, s) end
end

-- ---------------------------------------------------------------- tests

test("a sweep of 2 variants x 2 seeds runs all 4 and writes report.md", function()
  expect(0, { "4 runs", "4 to run", "4/4 runs done, 0 failed" }, SWEEP, CONFIG, "--out=" .. OUT, "--jobs=2")
  for _, rel in ipairs(GOOD) do
    local d = OUT .. "/" .. rel
    check(read(d .. "/progress.csv"), "no progress.csv in " .. d)
    local s = read(d .. "/summary.json")
    check(s and s:find('"status": "done"', 1, true), "summary.json not done in " .. d)
  end
  local rep = read(OUT .. "/report.md")
  check(rep, "no report.md")
  for _, s in ipairs({ "## CartPole-v1", "| bp | 2/0 |", "| local-guided | 2/0 |", "(base)", "IQM [95% CI]", "| AUC | length |",
    "--jobs=2", 'name = "test"', "## Failed runs", "None." }) do
    check(rep:find(s, 1, true), "report.md lacks " .. s .. "\n" .. rep)
  end
  local runs = runs_of(read(OUT .. "/sweep.json"))
  for _, rel in ipairs(GOOD) do
    check(runs[rel] and runs[rel].status == "done" and runs[rel].exit_code == 0, "sweep.json: " .. rel .. " not done")
    -- the AUC is the run's mean episode return, and final_length the mean
    -- length of its last ceil(n / 10) episodes, computed here from progress.csv
    local sum, lens = 0, {}
    for line in read(OUT .. "/" .. rel .. "/progress.csv"):gmatch("[^\n]+") do
      local ret, len = line:match("^[^,]*,[^,]*,([^,]*),([^,]*),")
      if tonumber(ret) then sum, lens[#lens + 1] = sum + tonumber(ret), tonumber(len) end
    end
    local n = #lens
    local auc = runs[rel].auc
    check(n > 0 and auc and math.abs(auc - sum / n) <= 1e-6 * math.max(1, math.abs(sum / n)),
      string.format("sweep.json: %s auc %s, progress.csv's mean return %s", rel, tostring(auc), tostring(sum / n)))
    local k, lsum = math.ceil(n / 10), 0
    for i = n - k + 1, n do lsum = lsum + lens[i] end
    check(k > 1 and math.abs(runs[rel].final_length - lsum / k) <= 1e-9 * lsum,
      string.format("sweep.json: %s final_length %s, progress.csv's last %d episodes %s", rel,
        tostring(runs[rel].final_length), k, tostring(lsum / k)))
  end
  -- the per-seed table: one row per seed, each run's final return as in sweep.json
  local fold = rep:match("<details><summary>Final return of each run</summary>(.-)</details>")
  check(fold and fold:find("| seed | bp | local-guided |", 1, true), "report.md lacks the per-seed table\n" .. rep)
  for _, sd in ipairs({ 1, 2 }) do
    local want = string.format("| %d | %.1f | %.1f |", sd, runs[string.format("runs/CartPole-v1/reinforce/bp/s%d", sd)].final,
      runs[string.format("runs/CartPole-v1/reinforce/local-guided/s%d", sd)].final)
    check(fold:find(want, 1, true), "the per-seed table lacks " .. want .. "\n" .. fold)
  end
  -- the overview: each variant's mean +- sd, and P(> base), as in the env's table
  local ov = row(section(rep, "## Overview", "\n## "), "CartPole-v1")
  local tb = section(rep, "### reinforce (threshold", "\n#")
  local b, g = row(tb, "bp"), row(tb, "local-guided")
  check(ov and ov[2] == "reinforce" and ov[3] == b[3] .. " +- " .. b[4], "overview's bp cell " .. tostring(ov and ov[3]))
  local p = g[#g]:match("^([%d.]+)")
  check(ov[4]:find(g[3] .. " +- " .. g[4] .. ", P " .. p, 1, true) == 1, "overview's local-guided cell " .. ov[4]
    .. ", the table's " .. g[3] .. " / " .. g[4] .. " / " .. p)
end)

local HAVE_GNUPLOT = os.execute("command -v gnuplot >/dev/null 2>&1") == true
local PLOTS = { "CartPole-v1_reinforce_curves", "CartPole-v1_reinforce_final" }

test("the report embeds the plots: PNG and SVG files gnuplot wrote, with their data and scripts", function()
  if not HAVE_GNUPLOT then return "skip", "gnuplot not found" end
  local rep = read(OUT .. "/report.md")
  for _, name in ipairs(PLOTS) do
    local base = OUT .. "/plots/" .. name
    local png = read(base .. ".png")
    check(png, "no " .. name .. ".png")
    check(png:sub(1, 8) == "\137PNG\r\n\26\n", name .. ".png lacks the PNG signature")
    check(#png >= 24 and png:sub(13, 16) == "IHDR", name .. ".png has no IHDR chunk first")
    local w, h = string.unpack(">I4I4", png, 17)
    check(w > 0 and h > 0, string.format("%s.png is %d x %d", name, w, h))
    local svg = read(base .. ".svg")
    check(svg and svg:find("<svg", 1, true), name .. ".svg lacks <svg")
    check(read(base .. ".dat") and read(base .. ".gp"), name .. ": no .dat or .gp")
    check(rep:find("](plots/" .. name .. ".png)", 1, true), "report.md does not embed " .. name .. ".png\n" .. rep)
  end
  local curves = read(OUT .. "/plots/" .. PLOTS[1] .. ".gp")
  check(curves:find("filledcurves", 1, true) and curves:find("2 of 2 seeds", 1, true), "curves.gp:\n" .. curves)
end)

test("a second invocation runs nothing and leaves the runs untouched", function()
  local before = {}
  for _, rel in ipairs(GOOD) do
    local p = OUT .. "/" .. rel .. "/summary.json"
    before[rel] = { read(p), mtime(p) }
  end
  expect(0, { "4 already done, 0 to run", "4/4 runs done" }, SWEEP, CONFIG, "--out=" .. OUT, "--jobs=2")
  local json = read(OUT .. "/sweep.json")
  check(json:find('"to_run": 0', 1, true), "sweep.json: to_run is not 0")
  for rel, r in pairs(runs_of(json)) do check(r.ran == "false", "sweep.json: " .. rel .. " ran again") end
  for _, rel in ipairs(GOOD) do
    local p = OUT .. "/" .. rel .. "/summary.json"
    check(read(p) == before[rel][1], rel .. "/summary.json changed")
    check(mtime(p) == before[rel][2], rel .. "/summary.json was rewritten")
  end
end)

test("without gnuplot (LPDM_GNUPLOT=/nonexistent/gnuplot) the sweep exits 0 and the report says so", function()
  ENV = "LPDM_GNUPLOT=/nonexistent/gnuplot "
  local ok, err = pcall(expect, 0, { "4/4 runs done" }, SWEEP, CONFIG, "--out=" .. OUT)
  ENV = ""
  if not ok then error(err, 0) end
  local rep = read(OUT .. "/report.md")
  check(rep:find("Plots skipped: gnuplot not found", 1, true), "report.md does not say plots were skipped\n" .. rep)
  check(not rep:find("](plots/", 1, true), "report.md embeds a plot without gnuplot")
  check(not read(OUT .. "/plots/" .. PLOTS[1] .. ".png"), "a stale PNG is left in plots/")
  check(read(OUT .. "/plots/" .. PLOTS[1] .. ".dat"), "no curves data written without gnuplot")
end)

test("a gnuplot that fails (LPDM_GNUPLOT=false) is reported by plot name; the sweep exits 0", function()
  ENV = "LPDM_GNUPLOT=false "
  local ok, err = pcall(expect, 0, { "4/4 runs done" }, SWEEP, CONFIG, "--out=" .. OUT)
  ENV = ""
  if not ok then error(err, 0) end
  local rep = read(OUT .. "/report.md")
  for _, name in ipairs(PLOTS) do
    check(rep:find("Plot " .. name .. " failed: gnuplot said:", 1, true), "report.md lacks the failure of " .. name .. "\n" .. rep)
  end
  check(rep:find("## Failed runs", 1, true), "report.md stops at the plot failure")
end)

test("--dry-run lists the runs and runs nothing", function()
  local out = expect(0, { "0 already done, 4 to run", "todo  runs/CartPole-v1/reinforce/bp/s1", "--mode=bp" },
    SWEEP, CONFIG, "--out=" .. TMP .. "/dry", "--dry-run")
  check(not read(TMP .. "/dry/sweep.json"), "--dry-run wrote sweep.json")
  check(select(2, out:gsub("\ntodo  runs/", "")) == 4, "4 runs to do:\n" .. out)
end)

test("--report-only writes the report of the runs done so far and runs nothing", function()
  -- the finished 2-seed sweep, looked at as a 3-seed one: seed 3 is not run
  local dir = TMP .. "/ro"
  T.sh("cp -r " .. T.q(OUT) .. " " .. T.q(dir))
  local cfg3 = TMP .. "/sweep3.lua"
  write(cfg3, BASE:format(""):gsub("seeds = { 1, 2 }", "seeds = { 1, 2, 3 }"))
  expect(0, { "report only: 4 of 6 runs done, 0 failed, 2 not run" }, SWEEP, cfg3, "--out=" .. dir, "--report-only")
  check(not T.exists(dir .. "/runs/CartPole-v1/reinforce/bp/s3"), "--report-only started a run")
  local rep = read(dir .. "/report.md") or ""
  check(rep:find("Not finished: 2 runs have not run yet", 1, true) and rep:find("| bp | 2/0 |", 1, true)
    and rep:find("| 3 | - | - |", 1, true), "report.md does not show seed 3 as not run\n" .. rep)
  local fr = rep:match("## Failed runs\n\n([^\n]*)")
  check(fr == "None.", "runs not run are listed as failed: " .. tostring(fr))
  local runs = runs_of(read(dir .. "/sweep.json") or "")
  check(runs["runs/CartPole-v1/reinforce/bp/s3"] and runs["runs/CartPole-v1/reinforce/bp/s3"].status == "pending",
    "sweep.json does not hold seed 3 as pending")
  expect(1, { "--report-only does not go with --dry-run" }, SWEEP, cfg3, "--out=" .. dir, "--report-only", "--dry-run")
end)

test("an env without a threshold (Pendulum-v1) next to one with: the report is written, stuck and speed left out", function()
  local dir = TMP .. "/nothr"
  local cfg = TMP .. "/nothr.lua"
  write(cfg, [[return { envs = { { name = "Pendulum-v1", steps = 1000 }, { name = "CartPole-v1", steps = 2000 } },
    algos = { "reinforce" }, seeds = { 1, 2 },
    variants = { { name = "bp", flags = { mode = "bp" } }, { name = "local", flags = { mode = "local" } } } }]])
  expect(0, { "8/8 runs done, 0 failed" }, SWEEP, cfg, "--out=" .. dir, "--jobs=2")
  local rep = read(dir .. "/report.md") or ""
  check(rep:find("### reinforce (threshold none)", 1, true), "Pendulum-v1 has no threshold in the report\n" .. rep)
  -- of the two envs only CartPole has a threshold: the claims row of "local" counts consistency
  -- over both envs and stuck over CartPole alone
  local claims = row(section(rep, "| variant | envs | more stable", "\n\n"), "local")
  check(claims and claims[2] == "2" and claims[4]:find("%(2%)$") and claims[5]:find("^%d+ / %d+ / %d+ %(1%)$"),
    "Across envs: consistency not over 2 envs or stuck not over 1 env\n" .. table.concat(claims or {}, " | "))
end)

test("an unfinished run (no summary.json) is run again", function()
  local rel = GOOD[1]
  os.remove(OUT .. "/" .. rel .. "/summary.json")
  expect(0, { "3 already done, 1 to run", "done " .. rel }, SWEEP, CONFIG, "--out=" .. OUT)
  check(read(OUT .. "/" .. rel .. "/summary.json"), "summary.json not rewritten")
end)

test("a failing variant is recorded as failed; the others complete", function()
  local cfg = TMP .. "/sweep_bad.lua"
  write(cfg, BASE:format('    { name = "bad", flags = { mode = "local", loss = "guided", alpha = 7 } },\n'))
  expect(1, { "6 runs", "4 already done, 2 to run", "4/6 runs done, 2 failed" },
    SWEEP, cfg, "--out=" .. OUT, "--jobs=2")
  local runs = runs_of(read(OUT .. "/sweep.json"))
  for _, s in ipairs({ 1, 2 }) do
    local rel = "runs/CartPole-v1/reinforce/bad/s" .. s
    local r = runs[rel]
    check(r and r.status == "failed", "sweep.json: " .. rel .. " not failed")
    check(r.exit_code == 1, "sweep.json: " .. rel .. " exit code " .. tostring(r.exit_code))
    check(r.log_tail and r.log_tail:find("alpha", 1, true), "sweep.json: the log tail names alpha")
  end
  for _, rel in ipairs(GOOD) do check(runs[rel].status == "done", rel .. " not done") end
  local rep = read(OUT .. "/report.md")
  for _, s in ipairs({ "| bad | 0/2 |", "| runs/CartPole-v1/reinforce/bad/s1 | 1 |",
    "| runs/CartPole-v1/reinforce/bad/s2 | 1 |", "| local-guided | 2/0 |" }) do
    check(rep:find(s, 1, true), "report.md lacks " .. s .. "\n" .. rep)
  end
end)

local BAD = {
  { "not a table", "return 5", { "config must be a table", "number" } },
  { "an unknown key", BASE:format(""):gsub("seeds =", "seedz = {1}, seeds ="), { "unknown key 'seedz'" } },
  { "an empty list", BASE:format(""):gsub("seeds = { 1, 2 }", "seeds = {}"), { "seeds is empty" } },
  { "a variant without a name", BASE:format('    { flags = { mode = "bp" } },\n'), { "variants[3] has no name" } },
  { "a non-integer seed", BASE:format(""):gsub("seeds = { 1, 2 }", "seeds = { 1, 2.5 }"),
    { "seeds[2] must be an integer", "2.5" } },
  { "a flag the sweep sets", BASE:format('    { name = "x", flags = { seed = 3 } },\n'), { "variants[3] (x)", "'seed'" } },
  { "a syntax error", "return {", { "sweep_bad_input.lua" } },
}
for _, c in ipairs(BAD) do
  test("a config with " .. c[1] .. " is refused with exit 1", function()
    local path = TMP .. "/sweep_bad_input.lua"
    write(path, c[2])
    expect(1, c[3], SWEEP, path, "--out=" .. TMP .. "/bad")
    check(not read(TMP .. "/bad/sweep.json"), "a refused config started a sweep")
  end)
end

test("SIGTERM (or SIGINT) to the sweep's process alone stops it and its running run, recorded as failed", function()
  -- a scheduler's time limit or `kill PID`: not the whole process group,
  -- as Ctrl-C is; the sweep must not leave its run behind as an orphan
  local cfg = TMP .. "/sweep_long.lua"
  write(cfg, [[return { envs = { { name = "CartPole-v1", steps = 50000000 } }, algos = { "reinforce" },
    variants = { { name = "bp", flags = { mode = "bp" } } }, seeds = { 1 } }]])
  for _, sig in ipairs({ "TERM", "INT" }) do
    local out, d = TMP .. "/long-" .. sig, TMP .. "/long-" .. sig .. "/runs/CartPole-v1/reinforce/bp/s1"
    local script = string.format("OPENBLAS_NUM_THREADS=1 %s %s %s --out=%s >%s/log 2>&1 </dev/null & echo $! >%s/spid; " ..
      "wait $!; echo $? >%s/src", q(LPDM), q(SWEEP), q(cfg), q(out), q(TMP), q(TMP), q(TMP))
    os.remove(TMP .. "/src")
    os.execute("mkdir -p " .. q(out) .. "; sh -c " .. q(script) .. " >/dev/null 2>&1 &")
    local pid
    for _ = 1, 100 do -- the run's train.lua has started (its pid file)
      pid = (read(d .. "/pid") or ""):match("%d+")
      if pid then break end
      os.execute("sleep 0.1")
    end
    check(pid, "the run did not start")
    local spid = read(TMP .. "/spid"):match("%d+")
    os.execute("kill -" .. sig .. " " .. spid)
    local rc
    for _ = 1, 100 do
      rc = read(TMP .. "/src")
      if rc then break end
      os.execute("sleep 0.1")
    end
    check(rc, "SIG" .. sig .. ": the sweep did not stop within 10 s\n" .. (read(TMP .. "/log") or ""))
    check(tonumber(rc) == 130, "SIG" .. sig .. ": exit status " .. rc .. " (want 130)")
    os.execute("sleep 0.5")
    check(not os.execute("kill -0 " .. pid .. " 2>/dev/null"), "SIG" .. sig .. ": the run's train.lua is still running")
    local runs = runs_of(read(out .. "/sweep.json") or "")
    local r = runs["runs/CartPole-v1/reinforce/bp/s1"]
    check(r and r.status == "failed", "SIG" .. sig .. ": sweep.json does not record the run failed")
  end
end)

test("a variant with algos = {...} runs with those algorithms only, and the report lists it only there", function()
  local cfg = TMP .. "/sweep_algos.lua"
  write(cfg, [[return { envs = { { name = "CartPole-v1", steps = 3000 } }, algos = { "reinforce", "ppo" },
    variants = { { name = "bp", flags = { mode = "bp" } },
                 { name = "ppo-only", flags = { mode = "local" }, algos = { "ppo" } } }, seeds = { 1 } }]])
  local dir = TMP .. "/algos"
  expect(0, { "3 runs (1 envs x 2 algos x 2 variants x 1 seeds; some variants for some algos only)",
    "3/3 runs done" }, SWEEP, cfg, "--out=" .. dir)
  check(not read(dir .. "/runs/CartPole-v1/reinforce/ppo-only/s1/summary.json"), "ppo-only ran with reinforce")
  check(read(dir .. "/runs/CartPole-v1/ppo/ppo-only/s1/summary.json"), "ppo-only did not run with ppo")
  local rep = read(dir .. "/report.md") or ""
  local rf, pp = rep:match("### reinforce(.-)### ppo(.*)$")
  check(rf and not rf:find("ppo-only", 1, true), "the reinforce table lists ppo-only:\n" .. rep)
  check(pp and pp:find("| ppo-only | 1/0 |", 1, true), "the ppo table lacks ppo-only:\n" .. rep)
  write(cfg, [[return { envs = { "CartPole-v1" }, steps = 3000, algos = { "reinforce" },
    variants = { { name = "x", flags = { mode = "bp" }, algos = { "sac" } } }, seeds = { 1 } }]])
  expect(1, { "variants[1] (x).algos[1]: 'sac' is not one of the config's algos (reinforce)" }, SWEEP, cfg,
    "--out=" .. TMP .. "/bad")
end)

test("--jobs=0, a missing --out and a missing config file are refused with exit 1", function()
  expect(1, { "--jobs", "'0'" }, SWEEP, CONFIG, "--out=" .. TMP .. "/bad", "--jobs=0")
  expect(1, { "--out" }, SWEEP, CONFIG)
  expect(1, { "cannot read the config", "nope.lua" }, SWEEP, TMP .. "/nope.lua", "--out=" .. TMP .. "/bad")
  expect(1, { "unknown flag --job" }, SWEEP, CONFIG, "--out=" .. TMP .. "/bad", "--job=2")
end)

-- ---------------------------------------------------------------- paper.lua

local PAPER = HERE .. "/../scripts/paper.lua"
test("paper.lua: each profile is the sweep the docs describe (dry run), and bad flags are refused", function()
  local have = {}
  for _, id in ipairs(require("lpdm").envs()) do have[id] = true end
  local mujoco = 0
  for _, id in ipairs({ "InvertedPendulum-v5", "InvertedDoublePendulum-v5", "Reacher-v5", "Swimmer-v5", "Hopper-v5",
    "HalfCheetah-v5", "Walker2d-v5", "Ant-v5", "Humanoid-v5" }) do
    if have[id] then mujoco = mujoco + 1 end
  end
  expect(0, { "66 runs (2 envs x 2 algos x 6 variants x 3 seeds; some variants for some algos only)", "--steps=100000",
    "--mode=local", "--loss=stress", "runs/CartPole-v1/ppo/local-kernel/s3", "--anchor=1",
    "runs/Acrobot-v1/reinforce/localhead/s2", "runs/CartPole-v1/ppo/dfa/s1" },
    PAPER, "--profile=quick", "--out=" .. TMP .. "/paper-q", "--dry-run")
  local full_envs = 3 + mujoco
  expect(0, { string.format("%d runs (%d envs x 2 algos x 6 variants x 10 seeds; some variants", full_envs * 110,
    full_envs) },
    PAPER, "--profile=full", "--out=" .. TMP .. "/paper-f", "--dry-run")
  local depth_envs = have["HalfCheetah-v5"] and 2 or 1
  expect(0, { string.format("%d runs (%d envs x 1 algos x 8 variants x 3 seeds)", depth_envs * 24, depth_envs),
    "--hidden=64,64,64,64,64,64,64,64,64,64,64,64,64,64,64,64" },
    PAPER, "--profile=depth", "--out=" .. TMP .. "/paper-d", "--dry-run")
  check(read(TMP .. "/paper-q/paper_quick.lua"), "the profile's config is written beside the runs")
  expect(1, { "unknown profile 'big'" }, PAPER, "--profile=big", "--out=" .. TMP .. "/paper-x")
  expect(1, { "--out=DIR is required" }, PAPER, "--profile=quick")
  expect(1, { "unknown flag --seeds" }, PAPER, "--profile=quick", "--out=" .. TMP .. "/paper-x", "--seeds=3")
end)

test("paper.lua --profile=quick with --steps=3000 runs its 66 runs and writes the report", function()
  local out = expect(0, { "66/66 runs done, 0 failed" }, PAPER, "--profile=quick", "--out=" .. TMP .. "/paper-run",
    "--steps=3000", "--jobs=2")
  local rep = read(TMP .. "/paper-run/report.md") or ""
  check(rep:find("## Acrobot-v1", 1, true) and rep:find("local-guided", 1, true) and rep:find("localhead", 1, true) and
    rep:find("| dfa", 1, true), "the report covers both envs and the learners: " .. out)
  -- "Across envs": P(> base) over envs is the mean of the per-env values
  -- (each rounded to 2 decimals in the report), and every env is counted
  -- once as better, unclear or worse
  local across = section(rep, "## Across envs", "\n## ")
  local agg = row(section(across, "### ppo (base: bp)", "\n#"), "local-kernel")
  check(agg and agg[2] == "2", "no 2-env local-kernel row under Across envs:\n" .. across)
  local sum = 0
  for _, env in ipairs({ "CartPole-v1", "Acrobot-v1" }) do
    local r = row(section(section(rep, "## " .. env, "\n## "), "### ppo (threshold", "\n#"), "local-kernel")
    sum = sum + tonumber(r[#r]:match("^([%d.]+)"))
  end
  local p = tonumber(agg[3]:match("^([%d.]+)"))
  check(p and math.abs(p - sum / 2) <= 0.0101, string.format("P over envs %s is not the mean of the envs' (%.3f)", agg[3], sum / 2))
  local counted = 0
  for k = 4, 6 do counted = counted + tonumber(agg[k]:match("^(%d+)")) end
  check(counted == 2, "better + unclear + worse = " .. counted .. ", not 2")
  -- the claims table: each env is counted once as more stable, mixed or less
  local claims = row(section(section(across, "### ppo (base: bp)", "\n#"), "| variant | envs | more stable", "\n\n"),
    "local-kernel")
  check(claims and claims[2] == "2", "no 2-env local-kernel row in the claims table:\n" .. across)
  local b, m, w = claims[3]:match("^(%d+) / (%d+) / (%d+)$")
  check(b and tonumber(b) + tonumber(m) + tonumber(w) == 2, "stability counts " .. tostring(claims[3]) .. " do not sum to 2")
  local lo, hi, of = claims[4]:match("^(%d+) / (%d+) %((%d+)%)$")
  check(lo and tonumber(lo) + tonumber(hi) <= tonumber(of) and tonumber(of) == 2, "consistency counts " .. tostring(claims[4]))
  -- the overview: local-kernel runs PPO only, so its REINFORCE cells say n/a
  local ov = section(rep, "## Overview", "\n## ")
  local hd = row(ov, "env")
  local col
  for i, c in ipairs(hd or {}) do if c == "local-kernel" then col = i end end
  local nrf, nppo = 0, 0
  for line in ov:gmatch("[^\n]+") do
    local c = cells(line)
    if c[2] == "reinforce" then nrf = nrf + 1; check(c[col] == "n/a", "reinforce's local-kernel cell: " .. line) end
    if c[2] == "ppo" then nppo = nppo + 1; check(c[col] ~= "n/a" and c[col]:find(", P ", 1, true), "ppo's local-kernel cell: " .. line) end
  end
  check(col and nrf == 2 and nppo == 2, "the overview has a local-kernel column and 2 rows per algo:\n" .. ov)
end)

-- ---------------------------------------------------------------- run

T.run_tests(tests, TMP)
