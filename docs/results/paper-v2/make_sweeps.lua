-- SPDX-License-Identifier: MIT
-- make_sweeps.lua -- writes the second edition's sweep files (parts a, b
-- and c of protocol.md) from the tune reports, so that every evaluated
-- setting is the tuning's best and nothing is typed by hand:
--   build/lpdm docs/results/paper-v2/make_sweeps.lua [--reports=DIR] [--out=DIR]
-- It reads <tune>.json from --reports (default: tune/reports beside this
-- file) and writes <part>.lua into --out (default: sweeps beside this
-- file) for each part whose tunes have finished (the others are named and
-- skipped). Run it from a checkout's top folder (it uses scripts/lib);
-- run.sh runs it after each tune. The rules it applies are protocol.md's, with its dated
-- clarifications ("Changes to the protocol"):
--   * every learner runs with its group's tuned flags (the best trial's);
--   * the better rule of localhead and dfa, per group: classic localhead
--     (fixed before the MuJoCo tune), MuJoCo the higher best objective of
--     ppo_mujoco; the other rule runs at 5 seeds in part c;
--   * the best LPDM loss of a group (part c): the highest best objective
--     among local-stress, local-guided and local-kernel in the group's
--     PPO tune;
--   * frozen: the tuned flags of local-guided (DQN, which has no guided
--     variant: local-kernel) without the loss's own keys and the hidden
--     layers' rate, with loss = frozen;
--   * linear: bp's tuned flags with no hidden layer;
--   * bp-headlr: bp's tuned flags with head_lr at the group's best LPDM
--     loss's tuned head_lr;
--   * REINFORCE on Box actions: every learner's log-std learns at 1e-3
--     (docs/reinforce.md: at the head's rate it collapses in local mode);
--   * ablation cells equal to a main-table cell (width 64, local steps per
--     minibatch, depth 2, REINFORCE's tuned guided) are not run again:
--     the report takes them from parts a and b, seeds 201..205.
local HERE = (arg and arg[0] or "docs/results/paper-v2/make_sweeps.lua"):match("^(.*)/[^/]*$") or "."
package.path = "scripts/lib/?.lua;" .. package.path
local json = require("json")

local function die(msg)
  io.stderr:write("make_sweeps.lua: ", msg, "\n")
  os.exit(1)
end
local opts, words = require("util").parse_flags(arg or {}, { reports = true, out = true }, die)
for k, v in pairs(opts) do if v == true or v == "" then die("--" .. k .. " needs a folder: --" .. k .. "=DIR") end end
if words[1] then die("unexpected argument '" .. words[1] .. "' (flags: --reports=DIR, --out=DIR)") end
local REPORTS = (opts.reports or HERE .. "/tune/reports"):gsub("/*$", "/")
local OUT = (opts.out or HERE .. "/sweeps"):gsub("/*$", "/")
local MAIN_SEEDS = { 201, 202, 203, 204, 205, 206, 207, 208, 209, 210 }
local ABL_SEEDS = { 201, 202, 203, 204, 205 }
local EVAL = { episodes = 20, deterministic = true }
local MUJOCO = { "InvertedPendulum-v5", "InvertedDoublePendulum-v5", "Reacher-v5", "Swimmer-v5", "Hopper-v5",
  "HalfCheetah-v5", "Walker2d-v5", "Ant-v5", "Humanoid-v5" }
-- keys that belong to a loss or to the hidden layers, which frozen drops
local LOSS_KEYS = { loss = true, alpha = true, anchor = true, local_lr = true }

local function read_tune(name)
  local f = io.open(REPORTS .. name .. ".json")
  if not f then return nil end
  local t = json.decode(f:read("a"))
  f:close()
  if t.status ~= "finished" then error(name .. ".json: the tune is not finished", 0) end
  return t
end

local function copy(t)
  local o = {}
  for k, v in pairs(t) do o[k] = v end
  return o
end

local function best(t, v)
  local b = assert(t.variants[v], "no variant " .. v).best
  return assert(b, v .. " has no best trial")
end
local function flags(t, v) return copy(best(t, v).flags) end

local function best_of(t, names)
  local win, obj
  for _, n in ipairs(names) do
    local o = best(t, n).objective
    if not obj or o > obj then win, obj = n, o end
  end
  return win, obj
end

local function frozen(t, from)
  local f = flags(t, from)
  for k in pairs(LOSS_KEYS) do f[k] = nil end
  f.mode, f.loss = "local", "frozen"
  return f
end

local function with(f, extra)
  local o = copy(f)
  for k, v in pairs(extra) do o[k] = v end
  return o
end

-- Lua source of a value, keys sorted, so that the files diff well.
local function src(v, indent)
  indent = indent or ""
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) ~= "table" then return tostring(v) end
  if #v > 0 then
    local parts, simple = {}, true
    for _, x in ipairs(v) do
      parts[#parts + 1] = src(x, indent .. "  ")
      if type(x) == "table" then simple = false end
    end
    if simple then return "{ " .. table.concat(parts, ", ") .. " }" end
    return "{\n" .. indent .. "  " .. table.concat(parts, ",\n" .. indent .. "  ") .. ",\n" .. indent .. "}"
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    local order = { name = 1, flags = 2 }
    local oa, ob = order[a] or 9, order[b] or 9
    if oa ~= ob then return oa < ob end
    return a < b
  end)
  local parts = {}
  for _, k in ipairs(keys) do
    local key = k:match("^[%a_][%w_]*$") and k or string.format("[%q]", k)
    parts[#parts + 1] = key .. " = " .. src(v[k], indent .. "  ")
  end
  return "{ " .. table.concat(parts, ", ") .. " }"
end

local written = {}
local function write(part, comment, cfg)
  local f = assert(io.open(OUT .. part .. ".lua", "w"))
  f:write("-- SPDX-License-Identifier: MIT\n")
  f:write("-- Written by docs/results/paper-v2/make_sweeps.lua from the tune reports; do not edit.\n")
  for line in (comment .. "\n"):gmatch("(.-)\n") do f:write("-- ", line, "\n") end
  f:write("--   build/lpdm scripts/sweep.lua docs/results/paper-v2/sweeps/", part, ".lua --out=DIR --jobs=2\n")
  f:write("return {\n")
  local keys = { "name", "envs", "algos", "variants", "seeds", "eval" }
  for _, k in ipairs(keys) do f:write("  ", k, " = ", src(cfg[k], "  "), ",\n") end
  f:write("}\n")
  f:close()
  written[#written + 1] = part
end

local function variant(name, f) return { name = name, flags = f } end
local function envs(list)
  local o = {}
  for i, e in ipairs(list) do o[i] = { name = e[1], steps = e[2], threshold = e[3], flags = e[4] } end
  return o
end
local function mujoco_envs(ids)
  local o = {}
  for _, id in ipairs(ids) do o[#o + 1] = { id, 1000000 } end
  return envs(o)
end

local LPDM = { "local-stress", "local-guided", "local-kernel" }
local LOG_STD = { log_std_lr = "1e-3" } -- REINFORCE, Box actions: the same log-std rate for every learner
local ppo_c, ppo_m = read_tune("ppo_classic"), read_tune("ppo_mujoco")
local rf_c, dqn_c = read_tune("reinforce_classic"), read_tune("dqn_classic")

-- groups: the PPO tune's winners
local groups = {}
if ppo_c then groups.classic = { tune = ppo_c, rule = "localhead", other = "dfa", lpdm = best_of(ppo_c, LPDM) } end
if ppo_m then
  local rule = best_of(ppo_m, { "localhead", "dfa" })
  groups.mujoco = { tune = ppo_m, rule = rule, other = rule == "dfa" and "localhead" or "dfa", lpdm = best_of(ppo_m, LPDM) }
end

local function main_variants(g)
  local t = g.tune
  return {
    variant("bp", flags(t, "bp")),
    variant("local-stress", flags(t, "local-stress")),
    variant("local-guided", flags(t, "local-guided")),
    variant("local-kernel", flags(t, "local-kernel")),
    variant(g.rule, flags(t, g.rule)),
    variant("frozen", frozen(t, "local-guided")),
  }
end

-- (a) the main table
if groups.classic then
  write("a_classic", "Part (a), the main table: PPO on the classic-control envs, seeds 201..210, every learner with\n" ..
    "the classic group's tuned flags (tune/reports/ppo_classic.md).", {
    name = "paper-v2-a-classic",
    envs = envs({ { "CartPole-v1", 500000, 475 }, { "Acrobot-v1", 500000, -100 }, { "Pendulum-v1", 1000000, -200 } }),
    algos = { "ppo" }, variants = main_variants(groups.classic), seeds = MAIN_SEEDS, eval = EVAL })
end
if groups.mujoco then
  write("a_mujoco", "Part (a), the main table: PPO on the 9 MuJoCo envs, seeds 201..210, every learner with the\n" ..
    "MuJoCo group's tuned flags (tune/reports/ppo_mujoco.md).", {
    name = "paper-v2-a-mujoco", envs = mujoco_envs(MUJOCO), algos = { "ppo" },
    variants = main_variants(groups.mujoco), seeds = MAIN_SEEDS, eval = EVAL })
end

-- (b) REINFORCE and DQN, every learner
if rf_c then
  local v = {}
  for _, n in ipairs({ "bp", "local-stress", "local-guided", "localhead", "dfa" }) do v[#v + 1] = variant(n, flags(rf_c, n)) end
  v[#v + 1] = variant("frozen", frozen(rf_c, "local-guided"))
  write("b_reinforce", "Part (b): REINFORCE on the classic and pendulum envs, seeds 201..210, every learner with\n" ..
    "the tuned flags of tune/reports/reinforce_classic.md.", {
    name = "paper-v2-b-reinforce",
    envs = envs({ { "CartPole-v1", 500000, 475 }, { "Acrobot-v1", 500000, -100 }, { "Pendulum-v1", 1000000, -200, LOG_STD },
      { "InvertedPendulum-v5", 1000000, nil, LOG_STD }, { "InvertedDoublePendulum-v5", 1000000, nil, LOG_STD } }),
    algos = { "reinforce" }, variants = v, seeds = MAIN_SEEDS, eval = EVAL })
end
if dqn_c then
  local v = {}
  for _, n in ipairs({ "bp", "local-stress", "local-kernel", "localhead", "dfa" }) do v[#v + 1] = variant(n, flags(dqn_c, n)) end
  v[#v + 1] = variant("frozen", frozen(dqn_c, "local-kernel"))
  write("b_dqn", "Part (b): DQN on the Discrete classic envs and MinAtar/Breakout-v1, seeds 201..210, every\n" ..
    "learner with the tuned flags of tune/reports/dqn_classic.md.", {
    name = "paper-v2-b-dqn",
    envs = envs({ { "CartPole-v1", 500000, 475 }, { "Acrobot-v1", 500000, -100 }, { "MountainCar-v0", 500000, -110 },
      { "MinAtar/Breakout-v1", 1000000 } }),
    algos = { "dqn" }, variants = v, seeds = MAIN_SEEDS, eval = EVAL })
end

-- (c) controls and ablations, seeds 201..205
local function ablations(g, with_depth)
  local t = g.tune
  local bp, lp = flags(t, "bp"), flags(t, g.lpdm)
  local v = {
    variant("linear", with(bp, { hidden = "" })),
    variant("bp-headlr", with(bp, { head_lr = flags(t, g.lpdm).head_lr })),
    variant(g.other, flags(t, g.other)),
    variant("bp-w256", with(bp, { hidden = "256,256" })),
    variant(g.lpdm .. "-w256", with(lp, { hidden = "256,256" })),
    variant(g.lpdm .. "-rollout", with(lp, { local_batch = "rollout" })),
    variant(g.lpdm .. "-once", with(lp, { local_batch = "once" })),
  }
  local d = {}
  if with_depth then
    local kern = flags(t, "local-kernel")
    for _, n in ipairs({ 4, 8, 16 }) do
      local h = string.rep("64,", n):sub(1, -2)
      d[#d + 1] = variant("bp-d" .. n, with(bp, { hidden = h }))
      d[#d + 1] = variant("local-kernel-d" .. n, with(kern, { hidden = h }))
    end
  end
  return v, d
end
if groups.classic then
  local v, d = ablations(groups.classic, true)
  for _, x in ipairs(d) do v[#v + 1] = x end
  write("c_classic", string.format("Part (c) on CartPole-v1, seeds 201..205: the controls linear and bp-headlr, the other\n" ..
    "rule (%s), width 256 for bp and the best LPDM loss (%s), its local schedules (rollout, once), and\n" ..
    "depth 4/8/16 for bp and local-kernel. Width 64, per-minibatch steps and depth 2 are part (a)'s cells.",
    groups.classic.other, groups.classic.lpdm), {
    name = "paper-v2-c-classic", envs = envs({ { "CartPole-v1", 500000, 475 } }), algos = { "ppo" },
    variants = v, seeds = ABL_SEEDS, eval = EVAL })
end
if groups.mujoco then
  local v, d = ablations(groups.mujoco, true)
  write("c_mujoco", string.format("Part (c) on HalfCheetah-v5, Hopper-v5 and Ant-v5, seeds 201..205: the controls linear and\n" ..
    "bp-headlr, the other rule (%s), width 256 (Ant: at least twice its 105 observations) for bp and the best\n" ..
    "LPDM loss (%s), and its local schedules (rollout, once). Width 64 and per-minibatch steps are part (a)'s cells.",
    groups.mujoco.other, groups.mujoco.lpdm), {
    name = "paper-v2-c-mujoco", envs = mujoco_envs({ "HalfCheetah-v5", "Hopper-v5", "Ant-v5" }), algos = { "ppo" },
    variants = v, seeds = ABL_SEEDS, eval = EVAL })
  write("c_depth", "Part (c), depth on HalfCheetah-v5, seeds 201..205: 4, 8 and 16 hidden layers of 64 for bp and\n" ..
    "local-kernel with the MuJoCo group's tuned flags. Depth 2 is part (a)'s cells.", {
    name = "paper-v2-c-depth", envs = mujoco_envs({ "HalfCheetah-v5" }), algos = { "ppo" },
    variants = d, seeds = ABL_SEEDS, eval = EVAL })
end
if rf_c then
  local g = flags(rf_c, "local-guided")
  local one = g.episodes_per_update == "1" and "4" or "1"
  write("c_reinforce", "Part (c): what REINFORCE's local loss sees, on local-guided with its tuned flags, seeds\n" ..
    "201..205: observation normalisation, episodes per update " .. one .. " instead of the tuned " .. g.episodes_per_update ..
    ", a window of the\nlast 2048 states, and guidance by the advantage G - V(s) (with a baseline). The tuned\n" ..
    "local-guided itself is part (b)'s cells.", {
    name = "paper-v2-c-reinforce",
    envs = envs({ { "CartPole-v1", 500000, 475 }, { "Acrobot-v1", 500000, -100 },
      { "InvertedDoublePendulum-v5", 1000000, nil, LOG_STD } }),
    algos = { "reinforce" },
    variants = {
      variant("guided-normobs", with(g, { norm_obs = "true" })),
      variant("guided-episodes" .. one, with(g, { episodes_per_update = one })),
      variant("guided-window2048", with(g, { local_window = "2048" })),
      variant("guided-advantage", with(g, { baseline = "true", guide = "advantage" })),
    },
    seeds = ABL_SEEDS, eval = EVAL })
end

do -- the groups' choices, for report.lua
  local g = {}
  for name, x in pairs(groups) do g[name] = { rule = x.rule, other = x.other, lpdm = x.lpdm } end
  local f = assert(io.open(OUT .. "groups.json", "w"))
  f:write(json.encode(g), "\n")
  f:close()
end
print("make_sweeps.lua: wrote " .. (#written > 0 and table.concat(written, ", ") or "nothing"))
for _, t in ipairs({ { "ppo_classic", ppo_c }, { "ppo_mujoco", ppo_m }, { "reinforce_classic", rf_c }, { "dqn_classic", dqn_c } }) do
  if not t[2] then print("  (no " .. t[1] .. ".json yet: its parts wait for it)") end
end
