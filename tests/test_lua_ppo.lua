-- SPDX-License-Identifier: MIT
-- test_lua_ppo.lua -- PPO from Lua (issue 4): the resolved config, a critic
-- of another shape than the actor, local losses in the stats, greedy
-- actions within the action space, bad settings refused by name, and the
-- log_std_mean stat of both algorithms (the mean over the action dimensions)
-- and mu_abs_mean.
local lpdm = require("lpdm")
package.path = ((arg and arg[0] or ""):match("^(.*)/[^/]*$") or ".") .. "/lib/?.lua;" .. package.path
local T = require("testlib")
local tap = T.tap()
local ok, refused = tap.ok, tap.refused

tap.plan(18)
local env = lpdm.env("Pendulum-v1")
local pol = lpdm.net{ inputs = 3, lpdm.dense{ 32, init = "orthogonal", gain = math.sqrt(2) }, seed = 2 }
local val = lpdm.net{ inputs = 3, lpdm.dense{ 16 }, lpdm.dense{ 16 }, seed = 3 }
local run = lpdm.algo("ppo", { env = env, policy = pol, value = val, mode = "local", loss = "stress",
  steps = 2048, num_steps = 1024, num_minibatches = 8 })
local c = run.config
ok(c.num_envs == 1 and c.num_steps == 1024 and c.update_epochs == 10 and c.learning_rate == 3e-4
   and c.norm_obs == "true" and c.norm_reward == "true", "Box defaults resolve to ppo_continuous_action.py's")
local its, eps, losses = 0, 0, true
for it in run:iterations() do
  its = its + 1
  eps = eps + #it.episodes
  losses = losses and it.stats.actor_local_loss_1 ~= nil and it.stats.critic_local_loss_2 ~= nil
    and it.stats.actor_local_loss_2 == nil
end
ok(its == 2 and eps == 10, "2 updates of 1024 steps, 10 episodes of 200 (got " .. its .. ", " .. eps .. ")")
ok(losses, "local losses per layer of each net: actor 1 layer, critic 2")
local a = run:act({ 1, 0, 0.5 })
ok(#a == 1 and a[1] == a[1], "act gives one finite action")

local cp = lpdm.env("CartPole-v1")
local net = lpdm.net{ inputs = 4, lpdm.dense{ 8 } }
refused(function() lpdm.algo("ppo", { env = cp, policy = net, num_minibatches = 5 }) end,
  "num_minibatches (5) must divide the batch", "a minibatch count that does not divide 512")
refused(function() lpdm.algo("ppo", { env = cp, policy = net, threads = 3 }) end,
  "threads must be 1 or 2", "threads = 3")
refused(function() lpdm.algo("ppo", { env = cp, policy = net, value = lpdm.net{ inputs = 5, lpdm.dense{ 8 } } }) end,
  "'value' takes 5 inputs", "a value net of the wrong input width")
refused(function() lpdm.algo("ppo", { env = cp, policy = net, mode = "local", critic_local_lrs = "1e-3,1e-3" }) end,
  "expected 1 rates", "a per-layer rate list of the wrong length")

-- the algorithm's default local loss: ppo names "kernel anchor=1", reinforce none (guided)
local infos = {}
for _, p in ipairs(lpdm.plugins("algo")) do infos[p.name] = p end
ok(infos.ppo.local_loss == "kernel anchor=1" and infos.reinforce.local_loss == "guided",
  "lpdm.plugins lists each algorithm's default local loss")
local dflt = lpdm.algo("ppo", { env = cp, policy = lpdm.net{ inputs = 4, lpdm.dense{ 8 } }, mode = "local", steps = 1024 })
ok(dflt.loss == "kernel" and dflt.config.head_anneal == false, "ppo without a loss: kernel, heads not annealed")
local rf = lpdm.algo("reinforce", { env = cp, policy = lpdm.net{ inputs = 4, lpdm.dense{ 8 } }, mode = "local", steps = 1024 })
ok(rf.loss == "guided", "reinforce without a loss: guided")
local dis = lpdm.algo("ppo", { env = cp, policy = lpdm.net{ inputs = 4, lpdm.dense{ 8 } }, steps = 512 })
local st
for it in dis:iterations() do st = it.stats end
ok(st.mu_abs_mean == nil and st.log_std_mean == nil and st.entropy ~= nil, "Discrete actions: no log_std_mean or mu_abs_mean")

-- log_std_mean is the mean of the Gaussian head's log stds, read here from
-- the checkpoint's algo.log_std (safetensors: an 8-byte header length, the
-- JSON header, the data); 6 actions, moved apart by two updates
local function f32s(path, name)
  local f = assert(io.open(path, "rb"))
  local b = f:read("a")
  f:close()
  local n = string.unpack("<I8", b)
  local lo, hi = b:sub(9, 8 + n):match('"' .. name:gsub("%.", "%%.") .. '"%s*:%s*{[^}]-"data_offsets"%s*:%s*%[%s*(%d+)%s*,%s*(%d+)%s*%]')
  local t = {}
  for o = tonumber(lo), tonumber(hi) - 4, 4 do t[#t + 1] = string.unpack("<f", b, 9 + n + o) end
  return t
end
local ck = os.tmpname()
for _, algo in ipairs({ "ppo", "reinforce" }) do
  local r = lpdm.algo(algo, { env = lpdm.env("HalfCheetah-v5"), policy = lpdm.net{ inputs = 17, lpdm.dense{ 16 }, seed = 1 },
    mode = "bp", steps = 4096, seed = 1 })
  local last, mu
  for it in r:iterations() do last, mu = it.stats.log_std_mean, mu or it.stats.mu_abs_mean end
  -- the first rollout's |policy mean|: PPO's head starts at scale 0.01, so
  -- far below the sampled actions' ~0.8 (std 1); REINFORCE's head is not
  -- scaled down, so only a finite positive size there
  local top = algo == "ppo" and 0.05 or 2
  ok(type(mu) == "number" and mu > 0 and mu < top, algo .. ": mu_abs_mean of the first update " .. tostring(mu))
  r:save(ck)
  r:close()
  local ls = f32s(ck, "algo.log_std")
  local m, lo, hi = 0, math.huge, -math.huge
  for _, x in ipairs(ls) do m, lo, hi = m + x, math.min(lo, x), math.max(hi, x) end
  m = #ls > 0 and m / #ls or 0 / 0
  ok(#ls == 6 and hi - lo > 1e-3 and math.abs(last - m) <= 1e-6,
    string.format("%s: log_std_mean %.6g is the mean of the 6 log stds %.6g (first %.6g, spread %.3g)", algo, last or 0 / 0,
      m, ls[1] or 0 / 0, hi - lo))
end
os.remove(ck)

-- reinforce's squash_mean: the mean stays in the action range (Pendulum's
-- [-2, 2]) even at a head rate that drives it far out without the squash
local function max_mu(squash)
  local r = lpdm.algo("reinforce", { env = lpdm.env("Pendulum-v1"), policy = lpdm.net{ inputs = 3, lpdm.dense{ 16 }, seed = 1 },
    mode = "bp", lr = 0.05, steps = 20000, seed = 1, squash_mean = squash })
  local m = 0
  for it in r:iterations() do m = math.max(m, it.stats.mu_abs_mean) end
  r:close()
  return m
end
local free, sq = max_mu(false), max_mu(true)
ok(free > 2 and sq <= 2, string.format("squash_mean holds mean abs(mu) at or below 2 (%.3g) where the free mean reaches %.3g", sq, free))
refused(function() lpdm.algo("reinforce", { env = lpdm.env("CartPole-v1"), policy = lpdm.net{ inputs = 4, lpdm.dense{ 8 } },
  squash_mean = true }) end, "squash_mean is for Box actions, and CartPole", "squash_mean with Discrete actions")
tap.finish()
