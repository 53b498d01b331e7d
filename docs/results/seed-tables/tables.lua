-- tables.lua: per-seed markdown tables from a sweep's sweep.json.
--
--   build/lpdm docs/results/seed-tables/tables.lua DIR/sweep.json [DIR2/sweep.json ...]
--
-- For every env and algorithm: one row per seed with each variant's step
-- reaching the env's threshold (the first env step at which the average of
-- the last 20 episode returns is at or above it; "never" with the best
-- average otherwise) and its final avg20 (the average of the run's last 20
-- episodes), then a summary row per variant: seeds reaching the threshold,
-- the median step among them, mean ± sd of final avg20, seeds ending at or
-- above it, and the median training speed (env steps/s, from the run's log).
-- Where the runs' progress.csv files are beside the sweep.json, a column
-- "last 100" has each run's mean return over its last 100 episodes.
local here = arg[0]:match("^(.*)/[^/]*$") or "."
package.path = here .. "/../../../scripts/lib/?.lua;" .. package.path
local json = require("json")

local function load_json(path)
  local f = assert(io.open(path), "cannot open " .. path)
  local d = assert(json.decode(f:read("a")), path .. " is not JSON")
  f:close()
  return d
end

local function fmt_int(x)
  local s = string.format("%d", math.floor(x + 0.5))
  return (s:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", ""))
end

local function median(t)
  if #t == 0 then return nil end
  local s = {}
  for i, v in ipairs(t) do s[i] = v end
  table.sort(s)
  local n = #s
  return n % 2 == 1 and s[(n + 1) // 2] or (s[n // 2] + s[n // 2 + 1]) / 2
end

local function mean_sd(t)
  local m = 0
  for _, v in ipairs(t) do m = m + v end
  m = m / #t
  local q = 0
  for _, v in ipairs(t) do q = q + (v - m) ^ 2 end
  return m, #t > 1 and math.sqrt(q / (#t - 1)) or 0
end

-- mean of the last 100 episode returns of a run's progress.csv (nil: none)
local function last100(base, rel)
  local f = io.open(base .. "/" .. rel .. "/progress.csv")
  if not f then return nil end
  local r = {}
  for line in f:lines() do
    local x = line:match("^[^,]*,[^,]*,([^,]*)")
    if tonumber(x) then r[#r + 1] = tonumber(x) end
  end
  f:close()
  if #r == 0 then return nil end
  local s, n = 0, 0
  for k = math.max(1, #r - 99), #r do s, n = s + r[k], n + 1 end
  return s / n
end

for i = 1, #arg do
  local d = load_json(arg[i])
  local base = arg[i]:match("^(.*)/[^/]*$") or "."
  -- group: env -> algo -> variant -> seed -> run
  local groups, order = {}, {}
  local thresholds = {}
  local cfg = type(d.config) == "string" and load(d.config, "config", "t", {})
  cfg = cfg and cfg() or {}
  for _, e in ipairs(cfg.envs or {}) do
    if type(e) == "table" then thresholds[e.name] = e.threshold end
  end
  for _, r in ipairs(d.runs) do
    if r.status == "done" then
      local key = r.env .. " / " .. r.algo
      if not groups[key] then
        groups[key] = { env = r.env, algo = r.algo, variants = {}, vorder = {}, seeds = {} }
        order[#order + 1] = key
      end
      local g = groups[key]
      if not g.variants[r.variant] then
        g.variants[r.variant] = {}
        g.vorder[#g.vorder + 1] = r.variant
      end
      g.variants[r.variant][r.seed] = r
      g.seeds[r.seed] = true
    end
  end
  for _, key in ipairs(order) do
    local g = groups[key]
    local seeds = {}
    for s in pairs(g.seeds) do seeds[#seeds + 1] = s end
    table.sort(seeds)
    local thr = thresholds[g.env]
    print(string.format("#### %s, %s (threshold %s)\n", g.env, g.algo, thr and tostring(thr) or "the env's own"))
    local head, rule = { "seed" }, { "---" }
    local has100 = false
    for _, v in ipairs(g.vorder) do
      for _, r in pairs(g.variants[v]) do
        r.last100 = last100(base, r.dir)
        has100 = has100 or r.last100 ~= nil
      end
    end
    for _, v in ipairs(g.vorder) do
      head[#head + 1] = v .. ": step reaching"
      head[#head + 1] = v .. ": final avg20"
      rule[#rule + 1] = "---"
      rule[#rule + 1] = "---"
      if has100 then
        head[#head + 1] = v .. ": last 100"
        rule[#rule + 1] = "---"
      end
    end
    print("| " .. table.concat(head, " | ") .. " |")
    print("|" .. table.concat(rule, "|") .. "|")
    for _, s in ipairs(seeds) do
      local row = { tostring(s) }
      for _, v in ipairs(g.vorder) do
        local r = g.variants[v][s]
        if not r then
          row[#row + 1], row[#row + 1] = "", ""
          if has100 then row[#row + 1] = "" end
        else
          row[#row + 1] = r.steps_to_threshold and fmt_int(r.steps_to_threshold)
            or string.format("never (best %s)", (r.log_tail or ""):match("best avg20 +([%-%d.]+)") or "?")
          row[#row + 1] = string.format("%.1f", r.final_avg20)
          if has100 then row[#row + 1] = r.last100 and string.format("%.1f", r.last100) or "" end
        end
      end
      print("| " .. table.concat(row, " | ") .. " |")
    end
    print("\n| variant | seeds reaching | median step reaching | mean ± sd final avg20 | seeds ending >= threshold |"
      .. (has100 and " mean ± sd last 100 |" or "") .. " steps/s (median) |")
    print("|---|---|---|---|---|" .. (has100 and "---|" or "") .. "---|")
    for _, v in ipairs(g.vorder) do
      local reach, fin, sps, l100, ended, n = {}, {}, {}, {}, 0, 0
      for _, s in ipairs(seeds) do
        local r = g.variants[v][s]
        if r then
          n = n + 1
          if r.steps_to_threshold then reach[#reach + 1] = r.steps_to_threshold end
          fin[#fin + 1] = r.final_avg20
          if r.last100 then l100[#l100 + 1] = r.last100 end
          if thr and r.final_avg20 >= thr then ended = ended + 1 end
          local x = (r.log_tail or ""):match("%(([%d.]+) steps/s%)")
          if x then sps[#sps + 1] = tonumber(x) end
        end
      end
      local m, sd = mean_sd(fin)
      local med = median(reach)
      local c100 = ""
      if has100 then
        local m1, s1 = mean_sd(l100)
        c100 = #l100 > 0 and string.format(" %.1f ± %.1f |", m1, s1) or " |"
      end
      print(string.format("| %s | %d/%d | %s | %.1f ± %.1f | %s |%s %s |", v, #reach, n, med and fmt_int(med) or "—", m,
        sd, thr and string.format("%d/%d", ended, n) or "—", c100, #sps > 0 and fmt_int(median(sps)) or "—"))
    end
    print("")
  end
end
