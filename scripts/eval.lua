-- SPDX-License-Identifier: MIT
-- eval.lua -- evaluates the policy a train.lua run left in DIR.
--
--   build/lpdm scripts/eval.lua DIR [--episodes=N] [--deterministic] [--seed=S] [--video=FILE]
--
--   --episodes=N     episodes to play (default 10; 1..10000)
--   --deterministic  the greedy action (argmax / the Gaussian's mean, as run:act);
--                    otherwise actions are drawn from the policy's distribution by a
--                    generator seeded with S (a DQN policy acts greedily either way)
--   --seed=S         which evaluation episodes (default 0; S >= 0)
--   --video=FILE     records the first episode (only the first) to FILE, through
--                    scripts/lib/video.lua and env:render() (MP4, or GIF for *.gif)
--
-- Loads DIR/policy.safetensors (docs/policy.md), makes the env from the
-- policy's env id and env config, plays N episodes, prints the mean and the
-- standard deviation of their returns, and writes DIR/eval.json atomically
-- (DIR/eval.json.tmp, then rename):
--   mean_return, std_return (population sd, ddof = 0, as Stable-Baselines3's
--   evaluate_policy), returns, lengths, seeds, episodes, deterministic, seed,
--   policy (the file), algo, env, lpdm_version, wall_time_s.
--
-- THE SEED RULE (docs/policy.md). Evaluation episode i (0-based) with
-- --seed=S resets the env with seed 1,000,000 + S * 10,000 + i. Training never
-- uses a seed from 1,000,000 up (train.lua refuses a --seed whose env copies,
-- seed + e, would reach it), so no evaluation episode was seen in training,
-- and every run evaluated with the same S and N plays the same episodes:
-- evaluations of two runs are paired. The same command gives the same returns.
local lpdm = require("lpdm")

local PROG = "eval.lua"
local here = (arg and arg[0] or "scripts/eval.lua"):match("^(.*)/[^/]*$") or "."
package.path = here .. "/lib/?.lua;" .. package.path
local util = require("util")
local json = require("json")
local pf = require("policy_file")

local function die(msg)
  io.stderr:write(PROG, ": ", tostring(msg), "\n")
  os.exit(1)
end

local USAGE = "usage: build/lpdm scripts/eval.lua DIR [--episodes=N] [--deterministic] [--seed=S] [--video=FILE]"

-- ---------------------------------------------------------------- flags
local dir
local opt = { episodes = "10", seed = "0" }
local KNOWN = { episodes = true, seed = true, deterministic = true, video = true, help = true }
for _, a in ipairs(arg or {}) do
  local k, v = a:match("^%-%-([%w%-]+)=(.*)$")
  if not k then k = a:match("^%-%-([%w%-]+)$") end
  if k then
    k = k:gsub("%-", "_")
    if not KNOWN[k] then die(string.format("unknown flag '%s' (known: --episodes --deterministic --seed --video)\n%s", a, USAGE)) end
    opt[k] = v or true
  elseif dir then
    die(string.format("one DIR only, got '%s' and '%s'\n%s", dir, a, USAGE))
  else
    dir = a
  end
end
if opt.help then
  print(USAGE)
  os.exit(0)
end
if not dir then die("no DIR given\n" .. USAGE) end

local function int_opt(name, lo, hi)
  local s = opt[name]
  local v = type(s) == "string" and math.tointeger(tonumber(s)) or nil
  if not v or v < lo or (hi and v > hi) then
    die(string.format("--%s expects an integer %s, got '%s'", name,
      hi and string.format("in %d..%d", lo, hi) or string.format(">= %d", lo), tostring(s)))
  end
  return v
end
local N = int_opt("episodes", 1, pf.EVAL_STRIDE)
local S = int_opt("seed", 0, (math.maxinteger - pf.EVAL_BASE) // pf.EVAL_STRIDE - 1)
local deterministic = opt.deterministic == true or opt.deterministic == "true"
if opt.deterministic ~= nil and opt.deterministic ~= true and opt.deterministic ~= "true" and opt.deterministic ~= "false" then
  die(string.format("--deterministic takes no value (or true/false), got '%s'", tostring(opt.deterministic)))
end
if opt.video == true or opt.video == "" then die("--video needs a file name: --video=FILE.mp4") end

-- ---------------------------------------------------------------- the policy and its env
if not os.execute("test -d " .. util.quote(dir)) then die(string.format("'%s' is not a directory", dir)) end
local path = dir .. "/" .. pf.FILE
if not os.execute("test -f " .. util.quote(path)) then
  die(string.format("%s not found: train.lua writes it at the end of a run (and with each checkpoint)", path))
end
local ok, policy = pcall(lpdm.policy, path, { seed = S })
if not ok then die(policy) end
local env
ok, env = pcall(lpdm.env, policy.env, policy.env_config)
if not ok then die(string.format("%s: cannot make its env %s: %s", path, tostring(policy.env), tostring(env))) end
if env.obs_dim ~= policy.obs_dim then
  die(string.format("%s: the policy takes %d observations, %s gives %d", path, policy.obs_dim, policy.env, env.obs_dim))
end

-- The video writer (scripts/lib/video.lua), for the first episode.
local video
if opt.video then
  if not util.read(here .. "/lib/video.lua") then
    die(string.format("--video needs %s/lib/video.lua (the video writer), which this lpdm does not have", here))
  end
  local vok, mod = pcall(require, "video")
  if not vok then die(string.format("--video: %s/lib/video.lua cannot be loaded: %s", here, tostring(mod))) end
  local avail, why = mod.available()
  if not avail then die("--video: " .. tostring(why or "video encoding is not available (ffmpeg)")) end
  video = mod
end

-- ---------------------------------------------------------------- episodes
local t0 = lpdm.clock()
local returns, lengths, seeds = json.array(), json.array(), json.array()
local act_opts = { deterministic = deterministic }
for i = 0, N - 1 do
  local seed = pf.eval_seed(S, i)
  local obs = env:reset(seed)
  local writer
  local function frame()
    local img = env:render()
    if type(img) ~= "table" or not img.rgb then die(string.format("--video: %s's render() gives no RGB image", policy.env)) end
    if not writer then
      local w, err = video.open(opt.video, { width = img.width, height = img.height, fps = env.render_fps or 30 })
      if not w then die(string.format("--video=%s: %s", opt.video, tostring(err))) end
      writer = w
    end
    writer:frame(img)
  end
  local rec = video and i == 0
  if rec then frame() end
  local ret, len = 0, 0
  while true do
    local a = policy:act(obs, act_opts)
    local r, term, trunc
    obs, r, term, trunc = env:step(a)
    ret, len = ret + r, len + 1
    if rec then frame() end
    if term or trunc then break end
  end
  if writer then writer:close() end
  returns[#returns + 1], lengths[#lengths + 1], seeds[#seeds + 1] = ret, len, seed
end
local wall = lpdm.clock() - t0

local mean = 0
for _, r in ipairs(returns) do mean = mean + r end
mean = mean / N
local var = 0
for _, r in ipairs(returns) do var = var + (r - mean) ^ 2 end
local sd = math.sqrt(var / N) -- population sd (ddof = 0), as SB3's evaluate_policy

local result = {
  mean_return = mean,
  std_return = sd,
  std_ddof = 0,
  returns = returns,
  lengths = lengths,
  seeds = seeds,
  episodes = N,
  deterministic = deterministic,
  seed = S,
  policy = path,
  algo = policy.algo,
  env = policy.env,
  lpdm_version = lpdm.version,
  wall_time_s = wall,
  video = opt.video or json.null,
}
ok, wall = pcall(util.write_atomic, dir .. "/eval.json", json.encode(result) .. "\n")
if not ok then die(wall) end
print(string.format("%s %s (%s): %d episodes, seeds %d..%d, %s: return %.2f +- %.2f (population sd)", policy.env,
  policy.algo, path, N, seeds[1], seeds[N], deterministic and "deterministic" or "stochastic", mean, sd))
print("  wrote " .. dir .. "/eval.json" .. (opt.video and (", " .. opt.video .. " (first episode)") or ""))
