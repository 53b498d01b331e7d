-- SPDX-License-Identifier: MIT
-- minatar_conv.lua -- a convolutional net on pixels: PPO on MinAtar/Breakout-v1
-- (a 10 x 10 grid of 4 binary channels, 3 actions, sticky actions), with
-- MinAtar's own network shape: conv2d(16 filters, 3 x 3, stride 1, no
-- padding, relu) -> flatten -> dense(128, relu), for the actor and (a fresh
-- copy) the critic, PPO adding the heads. The observation is already
-- channel-major (C x H x W: obs[c*100 + y*10 + x]), which is what conv2d
-- reads: no reshaping. --mode=bp backpropagates PPO's loss through the conv
-- layer; --mode=local trains the conv and dense layers by their local loss
-- (--loss, guided by the advantages / returns) and only the heads by PPO.
--
--   build/lpdm scripts/examples/minatar_conv.lua [--steps=20000] [--mode=bp|local]
--       [--seed=1] [--loss=guided] [--reports=10] [--random=200]
--
-- PPO runs with CleanRL's Discrete defaults (4 envs x 128 steps, 4 epochs of
-- 4 minibatches, lr 2.5e-4 annealed, entropy 0.01; local mode: head_lr 1e-3,
-- local_lr 1e-4): docs/ppo.md. The layers are initialised as CleanRL's
-- (orthogonal, gain sqrt 2). First, for reference, a uniformly random policy
-- plays --random episodes. Measured returns (500,000 steps, bp and local):
-- docs/catalogue.md, "MinAtar Breakout".
local lpdm = require("lpdm")

local opt = { steps = 20000, mode = "bp", seed = 1, loss = "guided", reports = 10, random = 200 }
for _, a in ipairs(arg) do
  local k, v = a:match("^%-%-([%w_]+)=(.*)$")
  if not k or opt[k] == nil then
    error("usage: minatar_conv.lua [--steps=N] [--mode=bp|local] [--seed=N] [--loss=NAME] [--reports=N] [--random=N]")
  end
  opt[k] = tonumber(v) or v
end
if opt.mode ~= "bp" and opt.mode ~= "local" then error("--mode must be bp or local, not " .. tostring(opt.mode)) end

local env = lpdm.env("MinAtar/Breakout-v1")
print(string.format("%s: %s", env.id, env.doc))
local obs = env:reset{ seed = opt.seed }
print(env:render_text())

-- A random policy, for reference (MinAtar's README: about 0.5 per episode
-- with its six actions, four of which are no-ops here; ours are uniform
-- over the three).
local rng_state = opt.seed
local function rand3()
  rng_state = (rng_state * 1103515245 + 12345) % 2147483648
  return (rng_state >> 16) % 3
end
local rsum, rn, ret = 0, 0, 0
env:reset{ seed = opt.seed + 1000 }
while rn < opt.random do
  local _, r, term, trunc = env:step(rand3())
  ret = ret + r
  if term or trunc then
    rsum, rn, ret = rsum + ret, rn + 1, 0
    env:reset()
  end
end
if rn > 0 then print(string.format("random policy: average return %.3f over %d episodes", rsum / rn, rn)) end

-- MinAtar's network: 4 x 10 x 10 -> 16 x 8 x 8 = 1024 -> 128.
local gain = math.sqrt(2)
local net = lpdm.net{ inputs = env.obs_dim, seed = opt.seed,
  lpdm.layer("conv2d", { in_channels = 4, height = 10, width = 10, out_channels = 16, kernel = 3,
    stride = 1, padding = 0, act = "relu", init = "orthogonal", gain = gain }),
  lpdm.layer("flatten"),
  lpdm.dense{ 128, act = "relu", init = "orthogonal", gain = gain } }
print(tostring(net))
for i = 1, net.depth do
  local l = net:layer(i)
  print(string.format("  layer %d: %-8s %5d -> %5d", i, l.name, l.in_dim, l.out_dim))
end

local cfg = { env = env, policy = net, mode = opt.mode, steps = opt.steps, seed = opt.seed }
if opt.mode == "local" then cfg.loss = opt.loss end
local run = lpdm.algo("ppo", cfg)
print(string.format("\nPPO, %s mode%s, seed %d, %d steps (num_envs %d, num_steps %d, lr %g):", opt.mode,
  opt.mode == "local" and (", loss " .. opt.loss) or "", opt.seed, opt.steps, run.config.num_envs,
  run.config.num_steps, run.config.learning_rate))

local rets, best, t0 = {}, -math.huge, lpdm.clock()
local function avg20()
  local s, k = 0, math.min(20, #rets)
  for i = #rets - k + 1, #rets do s = s + rets[i] end
  return s / math.max(k, 1)
end
local every = math.max(1, opt.steps // math.max(1, opt.reports))
local next_report, last = every, nil
for it in run:iterations() do
  for _, e in ipairs(it.episodes) do
    rets[#rets + 1] = e.ret
    if #rets >= 20 then best = math.max(best, avg20()) end
  end
  last = it
  if it.global_step >= next_report then
    print(string.format("  step %8d  episodes %6d  20-episode average %6.2f  best %6.2f  entropy %.3f  %.0f steps/s",
      it.global_step, #rets, avg20(), best, it.stats.entropy or 0, it.stats.sps or 0))
    while next_report <= it.global_step do next_report = next_report + every end
  end
end
run:close()
local secs = lpdm.clock() - t0
local steps = last and last.global_step or 0
print(string.format("final: %d steps, %d episodes, final 20-episode average %.2f, best %.2f, %.1f s, %.0f steps/s",
  steps, #rets, avg20(), best, secs, steps / math.max(secs, 1e-9)))
