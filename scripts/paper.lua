-- SPDX-License-Identifier: MIT
-- paper.lua -- the paper's study in lpdm (Tanneberg, ECAI 2025): REINFORCE
-- and PPO, variants bp, local/stress and local/guided (and, for PPO, its own
-- local default: local-kernel), and the other backprop-free learners,
-- localhead (layer-wise local heads) and dfa (direct feedback alignment),
-- each at its algorithm's defaults, as a sweep
-- (docs/sweeps.md). Writes DIR/paper_<profile>.lua (the sweep's config)
-- and runs scripts/sweep.lua on it, which writes DIR/report.md and its
-- plots. Resumable like any sweep: run the same command again.
--
--   build/lpdm scripts/paper.lua --profile=quick --out=DIR --jobs=2
--
-- Profiles:
--   quick  CartPole-v1 and Acrobot-v1, 3 seeds, 100,000 steps (minutes)
--   full   CartPole-v1, Acrobot-v1 (500,000 steps, ppo.py's budget),
--          Pendulum-v1 (1,000,000) and the MuJoCo envs (1,000,000,
--          ppo_continuous_action.py's budget), 10 seeds (days on 2 cores)
--   depth  PPO on CartPole-v1 (500,000) and HalfCheetah-v5 (1,000,000) with
--          2, 4, 8 and 16 hidden layers of 64, bp and local (the
--          algorithm's default local loss), 3 seeds
-- Flags: --profile=NAME (required), --out=DIR (required), --jobs=N (default
-- 1), --steps=N (every budget replaced: a smoke run), --dry-run.
-- The variants use each algorithm's other defaults: "local/guided" and
-- "local/stress" name the loss (PPO's other local settings were tuned for
-- its own loss); "local-kernel" is PPO's local default (kernel targets,
-- docs/local-learning.md), also the depth profile's local variant.
local PROG = "paper.lua"

local function die(msg)
  io.stderr:write(PROG, ": ", tostring(msg), "\n")
  os.exit(1)
end

local SCRIPT = arg and arg[0] or "scripts/paper.lua"
local HERE = SCRIPT:match("^(.*)/[^/]*$") or "."
package.path = HERE .. "/lib/?.lua;" .. package.path
local util = require("util")
local LPDM = util.interpreter(arg)
if not LPDM then die("cannot find the lpdm executable (arg[-1] is not set)") end

local KNOWN = { profile = true, out = true, jobs = true, steps = true, dry_run = true, help = true }
local flags = {}
for i = 1, #arg do
  local name, value = arg[i]:match("^%-%-([%w%-_]+)=(.*)$")
  if not name then
    name = arg[i]:match("^%-%-([%w%-_]+)$")
    value = true
  end
  if not name then die(string.format("unexpected argument '%s' (flags look like --name=value)", arg[i])) end
  local key = name:gsub("%-", "_")
  if not KNOWN[key] then die(string.format("unknown flag --%s (known: --profile, --out, --jobs, --steps, --dry-run)", name)) end
  flags[key] = value
end
if flags.help then
  print("usage: lpdm scripts/paper.lua --profile=quick|full|depth --out=DIR [--jobs=N] [--steps=N] [--dry-run]")
  os.exit(0)
end

-- ---------------------------------------------------------------- profiles

local VARIANTS = {
  { name = "bp", flags = { mode = "bp" } },
  { name = "local-stress", flags = { mode = "local", loss = "stress" } },
  { name = "local-guided", flags = { mode = "local", loss = "guided" } },
  -- PPO's own local default (issue 7: kernel targets with a scale anchor),
  -- named by its settings so that a later default does not change it
  { name = "local-kernel", flags = { mode = "local", loss = "kernel", anchor = 1 }, algos = { "ppo" } },
  -- the other backprop-free learners (issue 25, docs/local-learning.md):
  -- layer-wise local heads and direct feedback alignment
  { name = "localhead", flags = { mode = "local", loss = "localhead" } },
  { name = "dfa", flags = { mode = "local", loss = "dfa" } },
}
local MUJOCO = { "InvertedPendulum-v5", "InvertedDoublePendulum-v5", "Reacher-v5", "Swimmer-v5", "Hopper-v5",
  "HalfCheetah-v5", "Walker2d-v5", "Ant-v5", "Humanoid-v5" }

local function seeds(n)
  local t = {}
  for i = 1, n do t[i] = i end
  return t
end

local have = {}
for _, id in ipairs(require("lpdm").envs()) do have[id] = true end

local PROFILES = {
  quick = function()
    return {
      name = "paper-quick",
      envs = { { name = "CartPole-v1", steps = 100000 }, { name = "Acrobot-v1", steps = 100000 } },
      algos = { "reinforce", "ppo" },
      variants = VARIANTS,
      seeds = seeds(3),
    }
  end,
  full = function()
    local envs = { { name = "CartPole-v1", steps = 500000 }, { name = "Acrobot-v1", steps = 500000 },
      { name = "Pendulum-v1", steps = 1000000, threshold = -200 } }
    for _, id in ipairs(MUJOCO) do
      if have[id] then envs[#envs + 1] = { name = id, steps = 1000000 } end
    end
    return { name = "paper-full", envs = envs, algos = { "reinforce", "ppo" }, variants = VARIANTS, seeds = seeds(10) }
  end,
  depth = function()
    local variants = {}
    for _, d in ipairs({ 2, 4, 8, 16 }) do
      local h = string.rep("64,", d):sub(1, -2)
      variants[#variants + 1] = { name = "bp-" .. d, flags = { mode = "bp", hidden = h } }
      variants[#variants + 1] = { name = "local-" .. d, flags = { mode = "local", hidden = h } }
    end
    local envs = { { name = "CartPole-v1", steps = 500000 } }
    if have["HalfCheetah-v5"] then envs[#envs + 1] = { name = "HalfCheetah-v5", steps = 1000000 } end
    return { name = "paper-depth", envs = envs, algos = { "ppo" }, variants = variants, seeds = seeds(3) }
  end,
}

local profile = flags.profile
if profile == nil or profile == true then die("--profile=quick|full|depth is required") end
if not PROFILES[profile] then die(string.format("unknown profile '%s' (known: quick, full, depth)", profile)) end
if not flags.out or flags.out == true or flags.out == "" then die("--out=DIR is required") end
local out = flags.out:gsub("/+$", "")

-- ---------------------------------------------------------------- the config, as a Lua file

local function lua_value(v, ind)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) ~= "table" then return tostring(v) end
  local parts, pad = {}, string.rep("  ", ind + 1)
  if #v > 0 then
    for _, x in ipairs(v) do parts[#parts + 1] = pad .. lua_value(x, ind + 1) end
  else
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do parts[#parts + 1] = pad .. k .. " = " .. lua_value(v[k], ind + 1) end
  end
  return "{\n" .. table.concat(parts, ",\n") .. "\n" .. string.rep("  ", ind) .. "}"
end

local cfg = PROFILES[profile]()
local cfg_path = out .. "/paper_" .. profile .. ".lua"
if not os.execute("mkdir -p " .. util.quote(out)) then die("cannot create " .. out) end
do
  local text = "-- written by scripts/paper.lua --profile=" .. profile .. "\nreturn " .. lua_value(cfg, 0) .. "\n"
  local ok, err = pcall(util.write_atomic, cfg_path, text)
  if not ok then die(err) end
end

-- ---------------------------------------------------------------- the sweep

local q = util.quote
local cmd = { q(LPDM), q(HERE .. "/sweep.lua"), q(cfg_path), q("--out=" .. out) }
if flags.jobs then cmd[#cmd + 1] = q("--jobs=" .. tostring(flags.jobs)) end
if flags.steps then cmd[#cmd + 1] = q("--steps=" .. tostring(flags.steps)) end
if flags.dry_run then cmd[#cmd + 1] = "--dry-run" end
local ok, how, code = os.execute(table.concat(cmd, " "))
if ok then os.exit(0) end
os.exit(how == "exit" and code or 1)
