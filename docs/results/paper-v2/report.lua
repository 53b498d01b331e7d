-- SPDX-License-Identifier: MIT
-- report.lua -- the second edition's numbers (protocol.md, "Statistics"):
--   build/lpdm docs/results/paper-v2/report.lua --runs=DIR [--out=DIR]
--   build/lpdm docs/results/paper-v2/report.lua [--out=DIR]
-- With --runs (run.sh's OUT folder) it first collects: every done run of
-- every part's sweep.json, its curve (progress.csv), and the tunes' best
-- scores, into OUT/scores.json (one record per run, with the per-run
-- statistics below) and OUT/bounds.json (each env's normalisation). Then,
-- from those two files alone (so the tables can be made again from what is
-- committed), it writes OUT/tables.md, OUT/aggregates.json and the plots
-- OUT/plots/<table>_profile.png (and <table>_eval_profile.png, on the
-- evaluation returns), and OUT/summary.md (the one table README
-- carries). OUT defaults to this file's folder.
-- Run it from a checkout's top folder (it uses scripts/lib).
--
-- Definitions (protocol.md; docs/statistics.md for the estimators):
--   score        a run's final return: the mean of its last 10% of episodes
--   normalised   (score - random) / (best - random); random from
--                random_scores.txt; best the higher of the tuning's best
--                (the mean over the tuning seeds of the best variant-trial
--                at the top rung, any algorithm) and the highest learner
--                mean of parts a and b on that env
--   never        the 20-episode average never reached the env's threshold
--   below        it reached it, and the score ended below it
--   rose         the 20-episode average rose above its first value by at
--                least 25% of (best - random)
--   collapsed    a run that rose, whose average later fell from its running
--                maximum M by half of the rise (M - first value) or more,
--                at a time when the rise was at least that 25%
--   ended collapsed (added 2026-12-08, after part a's classic envs; see
--                protocol.md's changes) a run that rose whose score lies at
--                or below its curve's maximum M minus half the rise
--                (M - first value): it fell and did not come back
--   P(X > Y)     per env the Mann-Whitney probability, averaged over envs,
--                stratified bootstrap 95% interval (2,000 resamples, seed 0)
--   p            the exact two-sided permutation p of the Mann-Whitney
--                statistic on one env (midranks for ties)
--   mark         ▲ / ▼ only when both cells have >= 5 runs and the
--                interval's bound lies beyond 0.5 +- 0.02
--   Holm         ✓ when p stays below 0.05 after Holm's correction over the
--                table's family of per-env comparisons with that reference
local HERE = (arg and arg[0] or "docs/results/paper-v2/report.lua"):match("^(.*)/[^/]*$") or "."
package.path = "scripts/lib/?.lua;" .. package.path
local json = require("json")
local util = require("util")
local ss = require("study_stats")
local lpdm = require("lpdm")
local stats = lpdm.stats

local function die(msg)
  io.stderr:write("report.lua: ", msg, "\n")
  os.exit(1)
end
local opts, words = util.parse_flags(arg or {}, { runs = true, out = true }, die)
for k, v in pairs(opts) do if v == true or v == "" then die("--" .. k .. " needs a folder: --" .. k .. "=DIR") end end
if words[1] then die("unexpected argument '" .. words[1] .. "' (flags: --runs=DIR, --out=DIR)") end
local RUNS = opts.runs and (opts.runs:gsub("/*$", ""))
local OUT = (opts.out or HERE):gsub("/*$", "")

local PARTS = { "a_classic", "a_mujoco", "b_reinforce", "b_dqn", "c_classic", "c_reinforce", "c_mujoco", "c_depth" }
local TUNES = { "ppo_classic", "ppo_mujoco", "reinforce_classic", "dqn_classic" }
local BOOT = { resamples = 2000, seed = 0, level = 0.95 }
local MARGIN = 0.02 -- the verdict's distance beyond 0.5
local RISE, FALL = 0.25, 0.5

local function fmt(x, d)
  if x == nil or x ~= x then return "–" end
  d = d or 1
  local a = math.abs(x)
  if a >= 1000 then return string.format("%.0f", x) end
  if a >= 100 then return string.format("%." .. math.max(d - 1, 0) .. "f", x) end
  return string.format("%." .. d .. "f", x)
end
local function f2(x) return (x == nil or x ~= x) and "–" or string.format("%.2f", x) end
local function f3(x) return (x == nil or x ~= x) and "–" or string.format("%.3f", x) end
local function pfmt(p)
  if p == nil then return "–" end
  if p < 0.001 then return "<0.001" end
  return string.format("%.3f", p)
end

local function mean(t)
  local s = 0
  for _, x in ipairs(t) do s = s + x end
  return #t > 0 and s / #t or 0 / 0
end
local function sd(t)
  if #t < 2 then return 0 / 0 end
  local m, s = mean(t), 0
  for _, x in ipairs(t) do s = s + (x - m) ^ 2 end
  return math.sqrt(s / (#t - 1))
end

-- progress.csv's steps, episode returns and avg20 (util.read_progress;
-- the steps give the final return's 10% window to lpdm.stats.run)
local function curve(path)
  local pr = util.read_progress(path)
  if not pr then return nil end
  return pr.steps, pr.returns, pr.avg20
end

local function random_scores()
  local t = {}
  for line in io.lines(HERE .. "/random_scores.txt") do
    local id, v = line:match("^(%S+)%s+(%S+)")
    if id and tonumber(v) then t[id] = tonumber(v) end
  end
  return t
end

local function ls(dir)
  local t = {}
  local p = io.popen("ls -1 " .. util.quote(dir) .. " 2>/dev/null")
  for l in p:lines() do t[#t + 1] = l end
  p:close()
  return t
end

-- ---------------------------------------------------------------- collect

-- The tunes' best: per env, the highest mean (over the tuning seeds) score
-- of a variant's trial at the top rung.
local function tune_bests(dir)
  local best = {}
  for _, t in ipairs(TUNES) do
    local root = dir .. "/tune/" .. t .. "/runs"
    for _, v in ipairs(ls(root)) do
      for _, trial in ipairs(ls(root .. "/" .. v)) do
        local rungs = ls(root .. "/" .. v .. "/" .. trial)
        table.sort(rungs)
        local top = rungs[#rungs]
        if top and top ~= "r0" then -- only trials that reached a rung above the first
          for _, env in ipairs(ls(root .. "/" .. v .. "/" .. trial .. "/" .. top)) do
            local finals = {}
            for _, s in ipairs(ls(root .. "/" .. v .. "/" .. trial .. "/" .. top .. "/" .. env)) do
              local d = table.concat({ root, v, trial, top, env, s }, "/")
              local steps, rets = curve(d .. "/progress.csv")
              local ec = util.read(d .. "/exit_code")
              if steps and ec and tonumber(ec) == 0 then finals[#finals + 1] = stats.run { steps = steps, returns = rets }.final end
            end
            local m = mean(finals)
            if #finals > 0 and (not best[env] or m > best[env].score) then
              best[env] = { score = m, source = string.format("tune %s, %s trial %s at rung %s", t, v, trial:sub(2), top:sub(2)) }
            end
          end
        end
      end
    end
  end
  return best
end

local function collect(dir)
  local random = random_scores()
  local runs = {}
  for _, part in ipairs(PARTS) do
    local text = util.read(dir .. "/" .. part .. "/sweep.json")
    if text then
      local sw = json.decode(text)
      for _, r in ipairs(sw.runs or {}) do
        if r.status == "done" then
          local rundir = dir .. "/" .. part .. "/" .. r.dir
          local summ = json.decode(util.read(rundir .. "/summary.json") or "{}")
          local steps, rets, avg = curve(rundir .. "/progress.csv")
          if steps then
            local thr = summ.threshold
            if thr == json.null then thr = nil end
            runs[#runs + 1] = {
              part = part, env = r.env, algo = r.algo, variant = r.variant, seed = r.seed,
              final = r.final, auc = r.auc, episodes = r.episodes,
              eval = r.eval_mean_return ~= json.null and r.eval_mean_return or nil,
              threshold = thr, reached = r.steps_to_threshold ~= nil and r.steps_to_threshold ~= json.null,
              steps_to_threshold = r.steps_to_threshold ~= json.null and r.steps_to_threshold or nil,
              commit = summ.git_commit, _avg = avg,
            }
          end
        end
      end
    end
  end
  -- bounds
  local tb = tune_bests(dir)
  local cell = {}
  for _, r in ipairs(runs) do
    if r.part:match("^[ab]_") then
      local k = r.env .. "|" .. r.algo .. "|" .. r.variant
      cell[k] = cell[k] or { env = r.env, label = r.algo .. " " .. r.variant, x = {} }
      table.insert(cell[k].x, r.final)
    end
  end
  local bounds = {}
  for _, c in pairs(cell) do
    local m = mean(c.x)
    local b = bounds[c.env]
    if not b or m > b.table_best then
      bounds[c.env] = { table_best = m, table_source = c.label .. string.format(" (%d runs)", #c.x) }
    end
  end
  for env, b in pairs(bounds) do
    b.random = random[env] or die("random_scores.txt has no " .. env)
    if tb[env] then b.tune_best, b.tune_source = tb[env].score, tb[env].source end
    b.best = math.max(b.table_best, b.tune_best or -math.huge)
    b.best_source = (b.tune_best and b.tune_best >= b.table_best) and b.tune_source or ("table: " .. b.table_source)
  end
  -- per-run curve statistics that need the bounds
  for _, r in ipairs(runs) do
    local b = bounds[r.env]
    if b then
      local range = b.best - b.random
      local top, first
      r.rose, r.collapses, top, first = ss.collapses(r._avg, RISE * range, FALL)
      r.ended_collapsed = ss.ended_collapsed(r.rose, r.final, top, first, FALL)
      r.norm = (r.final - b.random) / range
      r.eval_norm = r.eval and (r.eval - b.random) / range or nil
    end
    r._avg = nil
  end
  table.sort(runs, function(a, b)
    if a.part ~= b.part then return a.part < b.part end
    if a.env ~= b.env then return a.env < b.env end
    if a.variant ~= b.variant then return a.variant < b.variant end
    return a.seed < b.seed
  end)
  for _, r in ipairs(runs) do r.reached = r.reached and true or false end
  local lines = {}
  for i, r in ipairs(runs) do lines[i] = (json.encode(r, ""):gsub("\n", " ")) end
  util.write_atomic(OUT .. "/scores.json", "{\"runs\": [\n" .. table.concat(lines, ",\n") .. "\n]}\n")
  util.write_atomic(OUT .. "/bounds.json", json.encode(bounds, "") .. "\n")
  io.stderr:write(string.format("report.lua: collected %d runs from %s\n", #runs, dir))
end

-- ---------------------------------------------------------------- statistics

local function compare(x, y) -- per-env cells; returns P, lo, hi, p, mark
  if #x == 0 or #y == 0 then return nil end
  local P, lo, hi = stats.prob_improvement({ e = x }, { e = y }, BOOT)
  local mark = ""
  if #x >= 5 and #y >= 5 then
    if lo > 0.5 + MARGIN then mark = "▲" elseif hi < 0.5 - MARGIN then mark = "▼" end
  end
  return { P = P, lo = lo, hi = hi, p = ss.mw_exact_p(x, y), mark = mark, decided = #x >= 5 and #y >= 5 }
end

-- ---------------------------------------------------------------- report

local function load_scores()
  local s, b = util.read(OUT .. "/scores.json"), util.read(OUT .. "/bounds.json")
  if not s or not b then die("no " .. OUT .. "/scores.json or bounds.json: collect first with --runs=DIR") end
  return json.decode(s).runs, json.decode(b)
end

local TABLES = {
  { id = "a", title = "Part (a): the main table, PPO", short = "PPO", parts = { "a_classic", "a_mujoco" }, rule_role = true },
  { id = "b_reinforce", title = "Part (b): REINFORCE", short = "REINFORCE", parts = { "b_reinforce" }, tune = "reinforce_classic" },
  { id = "b_dqn", title = "Part (b): DQN", short = "DQN", parts = { "b_dqn" }, tune = "dqn_classic" },
}
local LPDM = { ["local-stress"] = true, ["local-guided"] = true, ["local-kernel"] = true }
-- (the main table's "rule", local heads or DFA, comes after the LPDM losses)
local ORDER = { bp = 1, ["local-stress"] = 2, ["local-guided"] = 3, ["local-kernel"] = 4, localhead = 5, rule = 5.5, dfa = 6, frozen = 7 }
local function vorder(a, b)
  local oa, ob = ORDER[a] or 50, ORDER[b] or 50
  if oa ~= ob then return oa < ob end
  return a < b
end

-- cells[env][variant] = list of runs
local function cells_of(runs, parts, seeds_max, algo)
  local want = {}
  for _, p in ipairs(parts) do want[p] = true end
  local cells, envs, vars, seen_e, seen_v = {}, {}, {}, {}, {}
  for _, r in ipairs(runs) do
    if want[r.part] and (not seeds_max or r.seed <= seeds_max) and (not algo or r.algo == algo) then
      cells[r.env] = cells[r.env] or {}
      cells[r.env][r.variant] = cells[r.env][r.variant] or {}
      table.insert(cells[r.env][r.variant], r)
      if not seen_e[r.env] then seen_e[r.env] = true; envs[#envs + 1] = r.env end
      if not seen_v[r.variant] then seen_v[r.variant] = true; vars[#vars + 1] = r.variant end
    end
  end
  table.sort(envs)
  table.sort(vars, vorder)
  return cells, envs, vars
end

local function field(list, k)
  local t = {}
  for _, r in ipairs(list or {}) do if r[k] ~= nil and r[k] ~= json.null then t[#t + 1] = r[k] end end
  return t
end

-- The reference LPDM loss of an env: its group's tuned best (make_sweeps.lua).
-- Part (b)'s LPDM*: the LPDM loss with the highest best objective in the
-- algorithm's own tune (protocol.md, 2026-12-08): the PPO groups' choice
-- (local-kernel on classic control) is not a learner of every algorithm.
local tune_reports = {}
local function tune_report(tune) -- tune/reports/<tune>.json decoded (read once), or nil before the tune finishes
  if tune_reports[tune] == nil then
    local text = util.read(HERE .. "/tune/reports/" .. tune .. ".json")
    tune_reports[tune] = text and json.decode(text) or false
  end
  return tune_reports[tune] or nil
end

local function tune_lpdm_star(tune)
  local t = tune_report(tune)
  if not t then return nil end
  local win, obj
  for _, l in ipairs({ "local-stress", "local-guided", "local-kernel" }) do
    local v = t.variants and t.variants[l]
    local o = v and v.best and v.best ~= json.null and v.best.objective
    if type(o) == "number" and (not obj or o > obj) then win, obj = l, o end
  end
  return win, obj
end

-- a per-env comparison as a matrix cell: P, its mark, ✓ after Holm
local function verdict_cell(c)
  return c and string.format(" %s %s%s |", f2(c.P), c.mark, c.holm and " ✓" or "") or " |"
end

local function lpdm_ref(env, groups)
  if env == "CartPole-v1" or env == "Acrobot-v1" or env == "Pendulum-v1" then return groups.classic end
  return groups.mujoco
end

local out, aggregates, summary, ablation_rows = {}, {}, {}, {}
local function w(...) out[#out + 1] = table.concat({ ... }) end

local function gnuplot_profile(id, title, prof, learners)
  util.mkdir_p(OUT .. "/plots")
  local dat = { "# tau, then per learner (gnuplot index): value lo hi" }
  for _, l in ipairs(learners) do
    dat[#dat + 1] = "# " .. l
    for _, row in ipairs(prof[l]) do dat[#dat + 1] = string.format("%.2f %.6f %.6f %.6f", row[1], row[2], row[3], row[4]) end
    dat[#dat + 1] = ""
    dat[#dat + 1] = ""
  end
  util.write_atomic(OUT .. "/plots/" .. id .. "_profile.dat", table.concat(dat, "\n"))
  local gp = {
    "# Remake: cd into this folder, then: gnuplot " .. id .. "_profile.gp",
    "set terminal pngcairo size 900,600 font ',10' noenhanced",
    "set output '" .. id .. "_profile.png'",
    "set title '" .. title .. ": performance profiles'",
    "set xlabel 'normalised score tau'", "set ylabel 'fraction of runs with a score > tau (95% bands)'",
    "set xrange [0:1.2]", "set yrange [0:1]", "set key outside right", "set grid",
    "set style fill transparent solid 0.15 noborder",
  }
  local cols = { "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#7f7f7f" }
  local pl = {}
  for i, l in ipairs(learners) do
    local c = cols[(i - 1) % #cols + 1]
    pl[#pl + 1] = string.format("'%s_profile.dat' index %d using 1:3:4 with filledcurves lc rgb '%s' notitle", id, i - 1, c)
    pl[#pl + 1] = string.format("'%s_profile.dat' index %d using 1:2 with lines lw 2 lc rgb '%s' title '%s'", id, i - 1, c, l)
  end
  gp[#gp + 1] = "plot " .. table.concat(pl, ", \\\n     ")
  util.write_atomic(OUT .. "/plots/" .. id .. "_profile.gp", table.concat(gp, "\n") .. "\n")
  local ok = os.execute("cd " .. util.quote(OUT .. "/plots") .. " && " .. (os.getenv("LPDM_GNUPLOT") or "gnuplot") .. " "
    .. util.quote(id .. "_profile.gp") .. " 2>/dev/null")
  if not ok then io.stderr:write("report.lua: gnuplot failed on ", id, "_profile.gp\n") end
end

local function main_table(T, runs, bounds, groups)
  if T.tune then T.lpdm_star, T.lpdm_star_obj = tune_lpdm_star(T.tune) end
  local cells, envs, vars = cells_of(runs, T.parts)
  if #envs == 0 then
    w("## ", T.title, "\n\nNo runs yet.\n")
    return
  end
  w("## ", T.title, "\n")
  -- per env
  w("### Per env\n")
  w("Score: the final return (mean of the last 10% of episodes), mean ± sd over seeds; IQM over seeds; `eval`: ",
    "the deterministic return of the final policy (20 episodes), mean over seeds; `norm`: the mean normalised score; ",
    "`never`/`below`: runs that never reached the threshold / reached it and ended below; `coll. / ended / rose`: ",
    "among the runs that rose, those with a collapse (the protocol's count) and those that ended collapsed (added ",
    "2026-12-08), then the runs that rose.\n")
  local fam_bp, fam_ref, fam_fr = {}, {}, {}
  local cmp = {}
  for _, env in ipairs(envs) do
    local b = bounds[env]
    w("#### ", env, string.format(" (random %s, best %s; threshold %s)\n", fmt(b.random, 2), fmt(b.best, 2),
      fmt(cells[env][vars[1]] and cells[env][vars[1]][1] and cells[env][vars[1]][1].threshold or nil, 1)))
    w("| learner | n | score | IQM | eval | norm | never / below | coll. / ended / rose | P(X > bp) [95%] | p | | P(X > LPDM*) [95%] | p | |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    local ref = T.lpdm_star or lpdm_ref(env, groups)
    for _, v in ipairs(vars) do
      local c = cells[env][v]
      if c then
        local x = field(c, "final")
        local never, below, rose, coll, ended = 0, 0, 0, 0, 0
        for _, r in ipairs(c) do
          if r.threshold then
            if not r.reached then never = never + 1 elseif r.final < r.threshold then below = below + 1 end
          end
          if r.rose then rose = rose + 1; if r.collapses > 0 then coll = coll + 1 end end
          if r.ended_collapsed then ended = ended + 1 end
        end
        local ev = field(c, "eval")
        local cb = v ~= "bp" and cells[env].bp and compare(x, field(cells[env].bp, "final")) or nil
        local cr = ref and v ~= ref and cells[env][ref] and compare(x, field(cells[env][ref], "final")) or nil
        if cb then cb.env, cb.v = env, v; fam_bp[#fam_bp + 1] = cb end
        if cr then cr.env, cr.v = env, v; fam_ref[#fam_ref + 1] = cr end
        local cf = v ~= "frozen" and cells[env].frozen and compare(x, field(cells[env].frozen, "final")) or nil
        if cf then cf.env, cf.v = env, v; fam_fr[#fam_fr + 1] = cf end
        cmp[env .. "|" .. v] = { bp = cb, ref = cr, frozen = cf }
        local thr = c[1].threshold
        w(string.format("| %s%s | %d | %s ± %s | %s | %s | %s | %s | %d / %d / %d | %s | %s | %s | %s | %s | %s |",
          v, v == ref and " (LPDM*)" or "", #x, fmt(mean(x)), fmt(sd(x)), fmt(stats.iqm(x)), #ev > 0 and fmt(mean(ev)) or "–",
          f2(mean(field(c, "norm"))), thr and string.format("%d / %d", never, below) or "–", coll, ended, rose,
          cb and string.format("%s [%s, %s]", f2(cb.P), f2(cb.lo), f2(cb.hi)) or "", cb and pfmt(cb.p) or "",
          cb and cb.mark or "",
          cr and string.format("%s [%s, %s]", f2(cr.P), f2(cr.lo), f2(cr.hi)) or "", cr and pfmt(cr.p) or "",
          cr and cr.mark or ""))
      end
    end
    w("")
  end
  ss.holm(fam_bp)
  ss.holm(fam_ref)
  ss.holm(fam_fr)
  -- verdict summary
  w("### Verdicts per env\n")
  w("Against bp, then against ", T.lpdm_star and string.format("the best LPDM loss of this algorithm's tune " ..
    "(LPDM*: %s, best objective %.3f in tune/reports/%s.md", T.lpdm_star, T.lpdm_star_obj, T.tune) or
    string.format("the env group's tuned best LPDM loss (LPDM*: classic %s, MuJoCo %s", groups.classic or "–",
    groups.mujoco or "–"),
    "). ▲ / ▼: the 95% interval of P(X > Y) lies beyond 0.5 ± 0.02 (both cells >= 5 runs); ",
    "✓: also significant after Holm's correction over the table's ", #fam_bp, " comparisons with bp (",
    #fam_ref, " with LPDM*). At 5% and with no true difference, chance alone would give about ",
    string.format("%.1f", 0.05 * #fam_bp), " uncorrected verdicts among the ", #fam_bp, " comparisons with bp.\n")
  local head, sep = { "| env |" }, { "|---|" }
  local others = {}
  for _, v in ipairs(vars) do if v ~= "bp" then others[#others + 1] = v end end
  for _, v in ipairs(others) do head[#head + 1] = " " .. v .. " vs bp |"; sep[#sep + 1] = "---|" end
  w(table.concat(head)); w(table.concat(sep))
  local counts = {}
  for _, env in ipairs(envs) do
    local row = { "| " .. env .. " |" }
    for _, v in ipairs(others) do
      local c = cmp[env .. "|" .. v] and cmp[env .. "|" .. v].bp
      if c then
        counts[v] = counts[v] or { up = 0, down = 0, same = 0, holm = 0 }
        if c.mark == "▲" then counts[v].up = counts[v].up + 1 elseif c.mark == "▼" then counts[v].down = counts[v].down + 1
        elseif c.decided then counts[v].same = counts[v].same + 1 end
        if c.holm then counts[v].holm = counts[v].holm + 1 end
      end
      row[#row + 1] = verdict_cell(c)
    end
    w(table.concat(row))
  end
  w("")
  local crow = { "| ▲ / ▼ / Holm ✓ |" }
  for _, v in ipairs(others) do
    local c = counts[v] or { up = 0, down = 0, holm = 0 }
    crow[#crow + 1] = string.format(" %d / %d / %d |", c.up, c.down, c.holm)
  end
  w(table.concat(head)); w(table.concat(sep)); w(table.concat(crow)); w("")
  -- against frozen random features (claim 5, per env)
  if #fam_fr > 0 then
    w("Against `frozen` (the same nets, hidden layers never trained): P(X > frozen), marks as above, ✓ after Holm's ",
      "correction over these ", #fam_fr, " comparisons.\n")
    local fh, fs, fv = { "| env |" }, { "|---|" }, {}
    for _, v in ipairs(vars) do if v ~= "frozen" then fv[#fv + 1] = v; fh[#fh + 1] = " " .. v .. " vs frozen |"; fs[#fs + 1] = "---|" end end
    w(table.concat(fh)); w(table.concat(fs))
    for _, env in ipairs(envs) do
      local row, any = { "| " .. env .. " |" }, false
      for _, v in ipairs(fv) do
        local c = cmp[env .. "|" .. v] and cmp[env .. "|" .. v].frozen
        if c then any = true end
        row[#row + 1] = verdict_cell(c)
      end
      if any then w(table.concat(row)) end
    end
    w("")
  end
  -- aggregates
  w("### Aggregates over envs (normalised scores)\n")
  -- only envs where every learner has runs, so that every learner is
  -- aggregated over the same envs (a part still running has envs with
  -- some learners only)
  -- The main table's rule is local heads on classic control and DFA on
  -- MuJoCo (protocol.md): across envs it is one learner, "rule".
  local roles, seen = {}, {}
  for _, v in ipairs(vars) do
    local r = T.rule_role and (v == "localhead" or v == "dfa") and "rule" or v
    if not seen[r] then seen[r] = true; roles[#roles + 1] = r end
  end
  local function vname(env, r) -- the variant that plays role r on env
    if r == "rule" then return cells[env].localhead and "localhead" or "dfa" end
    return r
  end
  local function cell(env, r) return cells[env][vname(env, r)] end
  local common = {}
  for _, env in ipairs(envs) do
    local all = true
    for _, r in ipairs(roles) do if not cell(env, r) then all = false end end
    if all then common[#common + 1] = env end
  end
  local left = #envs - #common
  w("IQM, mean, median and optimality gap (mean shortfall below 1) of all runs' normalised scores, ",
    "95% stratified-bootstrap intervals (2,000 resamples, seed 0; envs are the strata). Over the ", #common,
    " envs where every learner has runs: ", table.concat(common, ", "), ".",
    left > 0 and string.format(" Left out until every learner has runs there: %d env(s).", left) or "",
    " `eval IQM`: the same for the deterministic evaluation returns of the final policies, normalised with the ",
    "same bounds (beside the score, not instead of it: training returns are taken with sampled actions, ",
    "evaluation returns with the policy's mean action).\n")
  local cells_envs = envs
  envs = common
  w("| learner | envs | runs | IQM | mean | median | optimality gap | P(X > bp) [95%] | P(X > frozen) [95%] | eval IQM | eval P(X > bp) |")
  w("|---|---|---|---|---|---|---|---|---|---|---|")
  local agg, prof, learners, prof_eval, learners_eval = {}, {}, {}, {}, {}
  for _, v in ipairs(roles) do
    local by, n, ne = {}, 0, 0
    for _, env in ipairs(envs) do
      local c = cell(env, v)
      if c then by[env] = field(c, "norm"); n = n + #by[env]; ne = ne + 1 end
    end
    if ne > 0 then
      local a = {}
      for _, st in ipairs({ "iqm", "mean", "median", "optimality_gap" }) do
        local e, lo, hi = stats.aggregate(by, st, { threshold = 1, resamples = BOOT.resamples, seed = BOOT.seed, level = BOOT.level })
        a[st] = { e, lo, hi }
      end
      -- P(v > ref) averaged over the envs, with its interval; ref a learner or env -> learner; key: "final"
      -- (the score) or "eval" (an env where either side has no such value is left out)
      local function over(ref, key)
        if v == ref then return nil end
        key = key or "final"
        local xb, yb = {}, {}
        for _, env in ipairs(envs) do
          local rv = type(ref) == "function" and ref(env) or ref
          if rv and rv ~= v and cell(env, v) and cell(env, rv) then
            local x, y = field(cell(env, v), key), field(cell(env, rv), key)
            if #x > 0 and #y > 0 then xb[env], yb[env] = x, y end
          end
        end
        if next(xb) then return { stats.prob_improvement(xb, yb, BOOT) } end
      end
      local pi, pf = over("bp"), over("frozen")
      local ev, evn = {}, 0
      for env in pairs(by) do
        ev[env] = field(cell(env, v), "eval_norm")
        evn = evn + #ev[env]
        if #ev[env] == 0 then ev[env] = nil end
      end
      if evn == n then -- every run has its evaluation
        a.eval_iqm = { stats.aggregate(ev, "iqm", { threshold = 1, resamples = BOOT.resamples, seed = BOOT.seed, level = BOOT.level }) }
        a.eval_prob_vs_bp = over("bp", "eval") -- P(X > bp) on the evaluation returns
      end
      if v == "rule" or v == "localhead" or v == "dfa" then -- claim 12: a rule against the LPDM losses
        a.prob_vs_lpdm = {}
        for _, l in ipairs({ "local-stress", "local-guided", "local-kernel" }) do a.prob_vs_lpdm[l] = over(l) end
        a.prob_vs_lpdm["LPDM*"] = over(function(env) return T.lpdm_star or lpdm_ref(env, groups) end)
      end
      a.prob_vs_bp, a.prob_vs_frozen, a.envs, a.runs = pi, pf, ne, n
      agg[v] = a
      local function ci(t) return string.format("%s [%s, %s]", f3(t[1]), f3(t[2]), f3(t[3])) end
      w(string.format("| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s |", v == "rule" and "rule (localhead: classic; dfa: MuJoCo)" or v, ne, n, ci(a.iqm), ci(a.mean), ci(a.median),
        ci(a.optimality_gap), pi and ci(pi) or "", pf and ci(pf) or "", a.eval_iqm and ci(a.eval_iqm) or "–",
        a.eval_prob_vs_bp and ci(a.eval_prob_vs_bp) or ""))
      local function profile(t) -- the fraction of runs above tau, tau = 0, 0.05, .., 1.2, with bands
        local rows = {}
        for k = 0, 24 do
          local tau = k * 0.05
          local e, lo, hi = stats.aggregate(t, "profile", { threshold = tau, resamples = BOOT.resamples, seed = BOOT.seed })
          rows[#rows + 1] = { tau, e, lo, hi }
        end
        return rows
      end
      prof[v] = profile(by)
      learners[#learners + 1] = v
      if a.eval_iqm then prof_eval[v] = profile(ev); learners_eval[#learners_eval + 1] = v end
    end
  end
  w("")
  -- stability: the runs that rose, pooled over the same envs
  w("### Stability (runs that rose)\n")
  w("Pooled over the same ", #envs, " envs. A run rose when its 20-episode average climbed 25% of (best - random) ",
    "above its first value. `collapse`: the protocol's count, a fall by half the rise at any time, even when the ",
    "run recovers. `ended collapsed` (added 2026-12-08 after part a's classic envs had run, when the protocol's ",
    "count had fired in nearly every run that rose, bp's included): the run's score ends at or below its curve's ",
    "maximum minus half the rise. p: Fisher's exact test of ended collapsed among the runs that rose, against bp; ",
    "✓: below 0.05 after Holm's correction over the table's learners.\n")
  w("| learner | runs | rose | with a collapse | ended collapsed | share of rose | p vs bp | |")
  w("|---|---|---|---|---|---|---|---|")
  local stab, fam_st = {}, {}
  for _, v in ipairs(roles) do
    local st = { runs = 0, rose = 0, coll = 0, ended = 0 }
    for _, env in ipairs(envs) do
      for _, r in ipairs(cell(env, v) or {}) do
        st.runs = st.runs + 1
        if r.rose then
          st.rose = st.rose + 1
          if r.collapses > 0 then st.coll = st.coll + 1 end
          if r.ended_collapsed then st.ended = st.ended + 1 end
        end
      end
    end
    stab[v] = st
  end
  local b0 = stab.bp
  for _, v in ipairs(roles) do
    local st = stab[v]
    if v ~= "bp" and b0 and st.rose > 0 and b0.rose > 0 then
      st.p = ss.fisher_exact_p(st.ended, st.rose - st.ended, b0.ended, b0.rose - b0.ended)
      fam_st[#fam_st + 1] = st
    end
  end
  ss.holm(fam_st)
  for _, v in ipairs(roles) do
    local st = stab[v]
    w(string.format("| %s | %d | %d | %d | %d | %s | %s | %s |", v, st.runs, st.rose, st.coll, st.ended,
      st.rose > 0 and string.format("%.0f%%", 100 * st.ended / st.rose) or "–", st.p and pfmt(st.p) or "",
      st.holm and "✓" or ""))
  end
  w("")
  for _, v in ipairs(roles) do if agg[v] then agg[v].stability = stab[v] end end
  -- consistency: per env, each learner's spread of final scores against bp's
  w("### Consistency (spread across seeds, against bp)\n")
  w("Per env, the median absolute deviation of a learner's final scores from their median, as a ratio to bp's ",
    "(below 1: less spread), and the rank test of spread (study_stats.spread_p: the exact Mann-Whitney p of the ",
    "two samples' absolute deviations from their own medians). `less` / `more`: significant after Holm's ",
    "correction over the table's comparisons; cells with fewer than 5 runs a side are left out. Claim 4's rule ",
    "(protocol.md, 2026-12-08) counts a learner more consistent than bp on an env only where it is less spread ",
    "and its score is not ▼ against bp: being reliably worse is not the consistency the paper claims.\n")
  local spr, fam_sp = {}, {}
  for _, env in ipairs(cells_envs) do
    local b = cells[env].bp
    for _, r in ipairs(roles) do
      local c = cell(env, r)
      if r ~= "bp" and b and c and #b >= 5 and #c >= 5 then
        local p, mx, my = ss.spread_p(field(c, "final"), field(b, "final"))
        local cm = cmp[env .. "|" .. vname(env, r)]
        local e = { p = p, ratio = my > 0 and mx / my or (mx > 0 and math.huge or 1), worse = cm and cm.bp and cm.bp.mark == "▼" }
        spr[env .. "|" .. r] = e
        fam_sp[#fam_sp + 1] = e
      end
    end
  end
  ss.holm(fam_sp)
  local hd, sp = { "| env |" }, { "|---|" }
  for _, r in ipairs(roles) do if r ~= "bp" then hd[#hd + 1] = " " .. r .. " |"; sp[#sp + 1] = "---|" end end
  w(table.concat(hd)); w(table.concat(sp))
  local tally = {}
  for _, env in ipairs(cells_envs) do
    local row, any = { "| " .. env .. " |" }, false
    for _, r in ipairs(roles) do if spr[env .. "|" .. r] then any = true end end
    for _, r in ipairs(any and roles or {}) do
      if r ~= "bp" then
        local e = spr[env .. "|" .. r]
        local t = tally[r] or { less_ok = 0, less_worse = 0, more = 0, n = 0 }
        tally[r] = t
        if e then
          t.n = t.n + 1
          local word = ""
          if e.holm then
            if e.ratio < 1 then
              word = " less ✓"
              if e.worse then t.less_worse = t.less_worse + 1 else t.less_ok = t.less_ok + 1 end
            else word = " more ✓"; t.more = t.more + 1 end
          end
          row[#row + 1] = string.format(" %s (p %s)%s |", e.ratio == math.huge and "∞" or f2(e.ratio), pfmt(e.p), word)
        else
          row[#row + 1] = " |"
        end
      end
    end
    if any then w(table.concat(row)) end
  end
  local trow = { "| less spread and not ▼ / less spread but ▼ / more spread (of envs) |" }
  for _, r in ipairs(roles) do
    if r ~= "bp" then
      local t = tally[r] or { less_ok = 0, less_worse = 0, more = 0, n = 0 }
      trow[#trow + 1] = string.format(" %d / %d / %d (of %d) |", t.less_ok, t.less_worse, t.more, t.n)
      if agg[r] then agg[r].consistency = t end
    end
  end
  w(table.concat(trow))
  w("")
  aggregates[T.id] = { envs = envs, learners = agg, profiles = prof }
  -- the summary's column of this table: per learner (the rule as one), the
  -- aggregate and its per-env verdicts against bp (over every env it has)
  local col = { title = T.short, envs = #common, all_envs = #cells_envs, rows = {} }
  for _, v in ipairs(roles) do
    local vc = { up = 0, down = 0, same = 0, holm = 0 }
    for _, name in ipairs(v == "rule" and { "localhead", "dfa" } or { v }) do
      for k, n in pairs(counts[name] or {}) do vc[k] = vc[k] + n end
    end
    col.rows[v] = { agg = agg[v], counts = vc }
  end
  summary[#summary + 1] = col
  if #learners > 0 then
    gnuplot_profile(T.id, T.title, prof, learners)
    w(string.format("![performance profiles](plots/%s_profile.png)\n", T.id))
  end
  if #learners_eval > 0 and #learners_eval == #learners then
    gnuplot_profile(T.id .. "_eval", T.title .. ", evaluation returns", prof_eval, learners_eval)
    w(string.format("The same for the final policies' deterministic evaluation returns:\n\n![evaluation profiles](plots/%s_eval_profile.png)\n", T.id))
  end
end

-- Part (c): each ablation cell against its reference cell.
local function ref_of(v, rule_other)
  if v == "linear" or v == "bp-headlr" then return "bp" end
  local base = v:match("^(.-)%-w%d+$") or v:match("^(.-)%-rollout$") or v:match("^(.-)%-once$") or v:match("^(.-)%-d%d+$")
  if base then return base end
  if v:match("^guided%-") then return "local-guided" end
  return rule_other[v]
end

local function ablation_table(runs, groups)
  w("## Part (c): controls and ablations (seeds 201..205)\n")
  w("Each cell against its reference cell at the same seeds (201..205): bp for `linear` and `bp-headlr`; the ",
    "variant without the change for width, schedule and depth (part a's cells); the winning rule for the other ",
    "rule; REINFORCE's tuned local-guided (part b) for its ablations.\n")
  local c_cells, c_envs, c_vars = cells_of(runs, { "c_classic", "c_mujoco", "c_depth", "c_reinforce" })
  if #c_envs == 0 then
    w("No runs yet.\n")
    return
  end
  local ref_by_algo = {} -- the reference cells of one algorithm: parts a and b at seeds 201..205
  local function ref_cells(algo)
    ref_by_algo[algo] = ref_by_algo[algo] or cells_of(runs, { "a_classic", "a_mujoco", "b_reinforce" }, 205, algo)
    return ref_by_algo[algo]
  end
  local rule_other = {}
  for _, g in ipairs({ { "dfa", "localhead" }, { "localhead", "dfa" } }) do rule_other[g[1]] = g[2] end
  w("| env | variant | n | score | eval | reference | n | score | P(X > ref) [95%] | p | |")
  w("|---|---|---|---|---|---|---|---|---|---|---|")
  local fam = {}
  local rows = {}
  for _, env in ipairs(c_envs) do
    for _, v in ipairs(c_vars) do
      local c = c_cells[env][v]
      if c then
        local rv = ref_of(v, rule_other)
        local algo = c[1].algo
        local rcs = ref_cells(algo)
        local rc = rv and rcs[env] and rcs[env][rv]
        local x = field(c, "final")
        local y = rc and field(rc, "final") or {}
        local cm = rc and compare(x, y) or nil
        if cm then fam[#fam + 1] = cm end
        rows[#rows + 1] = { env = env, v = v, x = x, ev = field(c, "eval"), rv = rv, y = y, cm = cm }
      end
    end
  end
  ss.holm(fam)
  ablation_rows = rows
  for _, r in ipairs(rows) do
    local cm = r.cm
    w(string.format("| %s | %s | %d | %s ± %s | %s | %s | %s | %s | %s | %s | %s |", r.env, r.v, #r.x, fmt(mean(r.x)),
      fmt(sd(r.x)), #r.ev > 0 and fmt(mean(r.ev)) or "–", r.rv or "–", #r.y > 0 and #r.y or "–",
      #r.y > 0 and fmt(mean(r.y)) or "–", cm and string.format("%s [%s, %s]", f2(cm.P), f2(cm.lo), f2(cm.hi)) or "",
      cm and pfmt(cm.p) or "", cm and (cm.mark .. (cm.holm and " ✓" or "")) or ""))
  end
  w("")
  w(string.format("Holm's correction over these %d comparisons (✓); chance alone would give about %.1f uncorrected " ..
    "verdicts at 5%%.\n", #fam, 0.05 * #fam))
end

-- The claims of report.md, each as its rule decides it on the runs so far.
local function claims()
  local function mk(t)
    if not t then return "" end
    if t[2] > 0.5 + MARGIN then return "▲" elseif t[3] < 0.5 - MARGIN then return "▼" end
    return "≈"
  end
  local function P(t) return t and string.format("%s [%s, %s] %s", f2(t[1]), f2(t[2]), f2(t[3]), mk(t)) or "–" end
  local TITLE = { a = "PPO", b_reinforce = "REINFORCE", b_dqn = "DQN" }
  local function each_table(fn)
    for _, id in ipairs({ "a", "b_reinforce", "b_dqn" }) do
      local A = aggregates[id]
      if A and #A.envs > 0 then fn(id, A) end
    end
  end
  local function ordered(A) -- the table's learners in the tables' order
    local t = {}
    for l in pairs(A.learners) do t[#t + 1] = l end
    table.sort(t, vorder)
    return t
  end
  local function losses(A)
    local t = {}
    for _, l in ipairs({ "local-stress", "local-guided", "local-kernel" }) do if A.learners[l] then t[#t + 1] = l end end
    return t
  end
  w("## The claims, as their rules decide them on the runs so far\n")
  w("Generated; report.md's claims table gives each verdict in words with what would change it. Aggregates are over ",
    "the envs where every learner of the table has runs (listed per table). ▲ / ▼ / ≈: the 95% interval of the ",
    "averaged P beyond 0.5 ± 0.02, or not.\n")
  local function over_envs(A) return string.format("%d env%s: %s", #A.envs, #A.envs == 1 and "" or "s", table.concat(A.envs, ", ")) end
  -- 1, 2, 5
  for _, c in ipairs({ { 1, "a", "LPDM trains PPO policies competitively with backprop: P(loss > bp)" },
    { 2, "b_reinforce", "... and REINFORCE policies: P(loss > bp)" } }) do
    local A = aggregates[c[2]]
    w("**", c[1], ". ", c[3], "**", A and #A.envs > 0 and (" (" .. over_envs(A) .. ")") or "", "\n")
    if A and #A.envs > 0 then
      local bp = A.learners.bp
      for _, l in ipairs(losses(A)) do
        local L = A.learners[l]
        w(string.format("- %s: P %s; IQM %s against bp's %s; optimality gap %s against %s. Beside it, on the " ..
          "deterministic evaluation returns: P %s, IQM %s against bp's %s", l, P(L.prob_vs_bp),
          f3(L.iqm[1]), bp and f3(bp.iqm[1]) or "–", f3(L.optimality_gap[1]), bp and f3(bp.optimality_gap[1]) or "–",
          P(L.eval_prob_vs_bp), L.eval_iqm and f3(L.eval_iqm[1]) or "–", bp and bp.eval_iqm and f3(bp.eval_iqm[1]) or "–"))
      end
    else
      w("- no runs yet")
    end
    w("")
  end
  w("**3. LPDM is more stable than backprop: ended collapsed among the runs that rose, against bp (Fisher, Holm)**\n")
  each_table(function(id, A)
    local bp = A.learners.bp and A.learners.bp.stability
    for _, l in ipairs(ordered(A)) do
      local st = A.learners[l].stability
      if l ~= "bp" and st and bp then
        w(string.format("- %s %s: %d of %d (bp %d of %d), p %s%s", TITLE[id], l, st.ended, st.rose, bp.ended, bp.rose,
          st.p and pfmt(st.p) or "–", st.holm and (st.ended / math.max(st.rose, 1) < bp.ended / math.max(bp.rose, 1)
            and " ✓ more stable" or " ✓ less stable") or " (not told apart)"))
      end
    end
  end)
  w("")
  w("**4. LPDM is more consistent across seeds: envs less spread and not ▼ / less spread but ▼ / more spread, against bp**\n")
  each_table(function(id, A)
    for _, l in ipairs(ordered(A)) do
      local t = A.learners[l].consistency
      if t then
        w(string.format("- %s %s: %d / %d / %d of %d envs: %s", TITLE[id], l, t.less_ok, t.less_worse, t.more, t.n,
          t.less_ok > t.more and "holds" or "does not hold"))
      end
    end
  end)
  w("")
  w("**5. The local losses learn something: P(loss > frozen)**\n")
  each_table(function(id, A)
    for _, l in ipairs(losses(A)) do w(string.format("- %s %s: %s", TITLE[id], l, P(A.learners[l].prob_vs_frozen))) end
  end)
  w("")
  local function abl(num, text, pick)
    w("**", num, ". ", text, "** (part c, each env against its reference cell)\n")
    local any = false
    for _, r in ipairs(ablation_rows) do
      if pick(r.v) then
        any = true
        w(string.format("- %s %s against %s: %s", r.env, r.v, r.rv or "–",
          r.cm and string.format("%s [%s, %s] %s%s", f2(r.cm.P), f2(r.cm.lo), f2(r.cm.hi), r.cm.mark ~= "" and r.cm.mark or "≈", r.cm.holm and " ✓" or "") or "–"))
      end
    end
    if not any then w("- no runs yet") end
    w("")
  end
  abl(6, "Hidden layers matter: `linear` against bp", function(v) return v == "linear" end)
  abl(7, "A faster head explains local mode's numbers: `bp-headlr` against bp", function(v) return v == "bp-headlr" end)
  abl(8, "Wider layers help: width 256 against 64", function(v) return v:match("%-w%d+$") ~= nil end)
  abl(9, "Depth: 4, 8 and 16 layers against 2", function(v) return v:match("%-d%d+$") ~= nil end)
  abl(10, "How often the local layers step: once per rollout / once before the epochs, against per minibatch",
    function(v) return v:match("%-rollout$") ~= nil or v:match("%-once$") ~= nil end)
  abl(11, "REINFORCE's local loss is starved: each change against the tuned local-guided",
    function(v) return v:match("^guided%-") ~= nil end)
  w("**12. Other backprop-free learners do as well as or better than LPDM: P(rule > loss)**\n")
  each_table(function(id, A)
    for _, r in ipairs({ "rule", "localhead", "dfa" }) do
      local R = A.learners[r]
      if R and R.prob_vs_lpdm then
        local parts = {}
        for _, l in ipairs({ "LPDM*", "local-stress", "local-guided", "local-kernel" }) do
          if R.prob_vs_lpdm[l] then parts[#parts + 1] = l .. " " .. P(R.prob_vs_lpdm[l]) end
        end
        w(string.format("- %s %s: %s", TITLE[id], r, table.concat(parts, "; ")))
      end
    end
  end)
  w("")
end

-- ---------------------------------------------------------------- main

util.mkdir_p(OUT)
if RUNS then collect(RUNS) end
local runs, bounds = load_scores()
-- the groups' tuned best LPDM loss and rules, as make_sweeps.lua chose them
local groups = {}
for name, g in pairs(json.decode(util.read(HERE .. "/sweeps/groups.json") or "{}")) do groups[name] = g.lpdm end

w("# The second edition: tables (generated)\n")
w("Made by `build/lpdm docs/results/paper-v2/report.lua` from `scores.json` and `bounds.json` (collected from the ",
  "runs with `--runs=DIR`). Definitions: the head of report.lua and protocol.md. Runs so far: ", #runs, ".\n")
local commits = {}
for _, r in ipairs(runs) do if r.commit then commits[r.commit:sub(1, 7)] = true end end
w("Code: ", util.keylist(commits), " (the frozen installs; see protocol.md).\n")
w("## Normalisation bounds\n")
w("| env | random | best | from |")
w("|---|---|---|---|")
local envs = {}
for env in pairs(bounds) do envs[#envs + 1] = env end
table.sort(envs)
for _, env in ipairs(envs) do
  local b = bounds[env]
  w(string.format("| %s | %s | %s | %s |", env, fmt(b.random, 2), fmt(b.best, 2), b.best_source))
end
w("")
-- the tuning (part d): each tune's best objective and budget per learner, from its report
do
  w("## The tuning (part d)\n")
  w("From `tune/reports/<tune>.json`: each learner's best objective (normalised area under the curve, mean over ",
    "the tune's envs and seeds 101, 102) and the budget it used (env steps, runs). **Bold**: the best of the tune.\n")
  local learners = { "bp", "local-stress", "local-guided", "local-kernel", "localhead", "dfa" }
  w("| tune | envs | steps | " .. table.concat(learners, " | ") .. " |")
  w("|---|---|---|" .. string.rep("---|", #learners))
  for _, t in ipairs(TUNES) do
    local j = tune_report(t)
    if j then
      local envs_t, top = {}, -math.huge
      for _, e in ipairs(j.envs or {}) do envs_t[#envs_t + 1] = e.id end
      for _, l in ipairs(learners) do
        local v = j.variants[l]
        if v and type(v.best) == "table" and type(v.best.objective) == "number" then top = math.max(top, v.best.objective) end
      end
      local row = { string.format("| %s | %s | %s |", t, table.concat(envs_t, ", "), j.budget and j.budget.steps or "–") }
      for _, l in ipairs(learners) do
        local v = j.variants[l]
        if v and type(v.best) == "table" and type(v.best.objective) == "number" then
          local o = f3(v.best.objective)
          row[#row + 1] = string.format(" %s (%s steps, %d runs) |", v.best.objective == top and "**" .. o .. "**" or o,
            v.budget_used and v.budget_used.env_steps or "–", v.budget_used and v.budget_used.runs or 0)
        else
          row[#row + 1] = " – |"
        end
      end
      w(table.concat(row))
    else
      w(string.format("| %s | not finished | | | | | | | |", t))
    end
  end
  w("")
end
for _, T in ipairs(TABLES) do main_table(T, runs, bounds, groups) end
ablation_table(runs, groups)
claims()
util.write_atomic(OUT .. "/tables.md", table.concat(out, "\n") .. "\n")

-- summary.md: one table for README (learners by algorithm), from the same numbers
do
  local sm = {}
  local function sw(...) sm[#sm + 1] = table.concat({ ... }) end
  sw("<!-- generated by docs/results/paper-v2/report.lua from scores.json; do not edit -->")
  sw("Each cell: the IQM of normalised scores [95% stratified-bootstrap interval] over the envs where every ",
    "learner of the algorithm has runs, and in brackets the IQM of the final policies' deterministic evaluation ",
    "returns, normalised alike; P(X > bp) averaged over those envs; then the per-env verdicts against bp ",
    "over every env where both cells have at least 5 runs: ▲ better, ≈ not told apart, ▼ worse (the protocol's ",
    "rule: the 95% interval of P beyond 0.5 ± 0.02). Seeds 201..210, 10 runs a cell; `tables.md` has every number.\n")
  local rows, seen = {}, {}
  for _, col in ipairs(summary) do
    for v in pairs(col.rows) do if not seen[v] then seen[v] = true; rows[#rows + 1] = v end end
  end
  table.sort(rows, vorder)
  local head, sep = { "| learner |" }, { "|---|" }
  for _, col in ipairs(summary) do
    head[#head + 1] = string.format(" %s (IQM over %d of %d env%s) |", col.title, col.envs, col.all_envs,
      col.all_envs == 1 and "" or "s")
    sep[#sep + 1] = "---|"
  end
  sw(table.concat(head)); sw(table.concat(sep))
  for _, v in ipairs(rows) do
    local line = { "| " .. (v == "rule" and "rule (PPO: local heads on classic control, DFA on MuJoCo)" or v) .. " |" }
    for _, col in ipairs(summary) do
      local r = col.rows[v]
      if not r or not r.agg then
        line[#line + 1] = " – |"
      else
        local a, c = r.agg, r.counts
        local cell = string.format("%s [%s, %s]", f3(a.iqm[1]), f3(a.iqm[2]), f3(a.iqm[3]))
        if a.eval_iqm then cell = cell .. string.format(" (eval %s)", f2(a.eval_iqm[1])) end
        if v ~= "bp" then
          cell = cell .. string.format(" · P %s · ▲%d ≈%d ▼%d", a.prob_vs_bp and f2(a.prob_vs_bp[1]) or "–", c.up, c.same, c.down)
        end
        line[#line + 1] = " " .. cell .. " |"
      end
    end
    sw(table.concat(line))
  end
  util.write_atomic(OUT .. "/summary.md", table.concat(sm, "\n") .. "\n")
end
util.write_atomic(OUT .. "/aggregates.json", json.encode(aggregates, "") .. "\n")
io.stderr:write("report.lua: wrote ", OUT, "/tables.md, summary.md, aggregates.json and plots/*_profile.png\n")
