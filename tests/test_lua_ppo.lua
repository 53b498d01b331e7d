-- test_lua_ppo.lua -- PPO from Lua (issue 4): the resolved config, a critic
-- of another shape than the actor, local losses in the stats, greedy
-- actions within the action space, and bad settings refused by name.
local lpdm = require("lpdm")
package.path = ((arg and arg[0] or ""):match("^(.*)/[^/]*$") or ".") .. "/lib/?.lua;" .. package.path
local T = require("testlib")
local tap = T.tap()
local ok, refused = tap.ok, tap.refused

tap.plan(11)
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
tap.finish()
