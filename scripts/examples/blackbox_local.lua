-- SPDX-License-Identifier: MIT
-- blackbox_local.lua -- a black-box layer between two dense layers, trained
-- without backpropagation: dense(64, tanh) -> sign -> dense(64, tanh), then
-- the policy head, by REINFORCE in local mode on CartPole-v1. sign has no
-- gradient; in local mode the layer after it simply learns from the binary
-- code it outputs. Backpropagation cannot pass it: bp mode refuses the net
-- by name, unless straight_through = true passes the gradient unchanged.
--
--   build/lpdm scripts/examples/blackbox_local.lua [--steps=200000] [--seed=1]
--       [--layer=sign] [--loss=guided]
-- --layer names any black-box layer plugin (quantize, topk, noise, ...;
-- lpdm.plugins("layer") lists them) that keeps the width.
local lpdm = require("lpdm")

local opt = { steps = 200000, seed = 1, layer = "sign", loss = "guided" }
for _, a in ipairs(arg) do
  local k, v = a:match("^%-%-([%w_]+)=(.*)$")
  if not k or opt[k] == nil then
    error("usage: blackbox_local.lua [--steps=N] [--seed=N] [--layer=NAME] [--loss=NAME]")
  end
  opt[k] = tonumber(v) or v
end

local env = lpdm.env("CartPole-v1")
local function policy(extra)
  local cfg = {}
  for k, v in pairs(extra or {}) do cfg[k] = v end
  return lpdm.net{ inputs = env.obs_dim, lpdm.dense{ 64, act = "tanh" }, lpdm.layer(opt.layer, cfg),
    lpdm.dense{ 64, act = "tanh" }, seed = opt.seed }
end

local net = policy()
print(tostring(net))
for i = 1, net.depth do
  local l = net:layer(i)
  print(string.format("  layer %d: %-6s %3d -> %3d  %s", i, l.name, l.in_dim, l.out_dim,
    l.trainable and "trained by its local loss" or "black box: applied, not trained"))
end
local first = lpdm.net{ inputs = env.obs_dim, lpdm.dense{ 64, act = "tanh" }, lpdm.layer(opt.layer), seed = opt.seed }
local code = first:forward{ 0.01, -0.02, 0.03, 0.04 }
print(string.format("  what layer 3 sees for one observation: %g %g %g %g %g %g ...", table.unpack(code, 1, 6)))

print(string.format("\nREINFORCE, local mode, loss %s, seed %d, %d steps:", opt.loss, opt.seed, opt.steps))
local run = lpdm.algo("reinforce", { env = env, policy = net, mode = "local", loss = opt.loss, steps = opt.steps,
  seed = opt.seed })
local rets, best, t0, next_report = {}, -math.huge, lpdm.clock(), opt.steps / 5
local function avg20()
  local s, k = 0, math.min(20, #rets)
  for i = #rets - k + 1, #rets do s = s + rets[i] end
  return s / math.max(k, 1)
end
for it in run:iterations() do
  for _, e in ipairs(it.episodes) do
    rets[#rets + 1] = e.ret
    if #rets >= 20 then best = math.max(best, avg20()) end
  end
  if it.global_step >= next_report then
    print(string.format("  step %7d  episodes %5d  20-episode average %6.1f  local losses %.4f %s %.4f",
      it.global_step, #rets, avg20(), it.stats.local_loss_1 or 0,
      it.stats.local_loss_2 == 0 and "(none)" or tostring(it.stats.local_loss_2), it.stats.local_loss_3 or 0))
    next_report = next_report + opt.steps / 5
  end
end
run:close()
print(string.format("  best 20-episode average %.1f (CartPole-v1 counts 475 as solved), %.1f s", best,
  lpdm.clock() - t0))

print("\nThe same net in bp mode:")
local ok, err = pcall(lpdm.algo, "reinforce", { env = env, policy = policy(), mode = "bp", steps = 2000,
  seed = opt.seed })
print("  " .. (ok and "built (unexpected)" or "refused when built: " .. tostring(err)))
if ok then err:close() end
run = lpdm.algo("reinforce", { env = env, policy = policy{ straight_through = true }, mode = "bp", steps = 2000,
  seed = opt.seed })
local its = 0
for _ in run:iterations() do its = its + 1 end
print(string.format("  with straight_through = true: %d bp updates ran (the gradient passes %s unchanged)", its,
  opt.layer))
