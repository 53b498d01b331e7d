-- SPDX-License-Identifier: MIT
-- test_lua_per_layer.lua -- per-layer optimizer settings from Lua (issue 6):
-- lpdm.dense{..., lr =, optimizer =, weight_decay =} and the net's defaults
-- reach each layer's optimizer, change training, and what an algorithm
-- keeps of them; lpdm.net{propagate = "pre" | "post"} changes local training.
--
-- A rate set on a layer from Lua (a spec's lr, lpdm.net{lr = ...}, or
-- net:set_lr) is the user's: algorithms keep it (lpdm_net_keep_lr) instead of
-- setting their own (reinforce's lr / local_lr, ppo's learning_rate /
-- actor_local_lr); ppo still anneals it.
local lpdm = require("lpdm")

package.path = ((arg and arg[0] or ""):match("^(.*)/[^/]*$") or ".") .. "/lib/?.lua;" .. package.path
local T = require("testlib")
local tap = T.tap()
local ok, refused = tap.ok, tap.refused
local function weights(net, i) return net:layer(i).params[1].values end
local function max_diff(a, b)
  local m = 0
  for i = 1, #a do m = math.max(m, math.abs(a[i] - b[i])) end
  return m
end
local env = lpdm.env("CartPole-v1")
-- One REINFORCE run of `steps` steps on net (local mode unless given).
local function train(net, steps, extra)
  local cfg = { env = env, policy = net, mode = "local", steps = steps or 600, seed = 1 }
  for k, v in pairs(extra or {}) do cfg[k] = v end
  local algo = cfg.algo or "reinforce"
  cfg.algo = nil
  local run = lpdm.algo(algo, cfg)
  for _ in run:iterations() do end
  run:close()
end

tap.plan(17)

-- ---------------------------------------------------------------- construction
local net = lpdm.net{ inputs = 4, seed = 1, lr = 7e-4, weight_decay = 0.01,
  lpdm.dense{ 8, lr = 2e-2, optimizer = "sgd", weight_decay = 0.1 },
  lpdm.dense{ 8 },
  lpdm.dense{ 8, lr = 0 } }
local l1, l2, l3 = net:layer(1), net:layer(2), net:layer(3)
ok(l1.optimizer == "sgd" and math.abs(l1.lr - 2e-2) < 1e-12 and math.abs(l1.weight_decay - 0.1) < 1e-12,
  "a spec's lr, optimizer and weight_decay reach its layer's optimizer")
ok(l2.optimizer == "adam" and math.abs(l2.lr - 7e-4) < 1e-12 and math.abs(l2.weight_decay - 0.01) < 1e-12,
  "a layer without its own settings takes the net's")
ok(l3.lr == 0 and l3.optimizer == "adam", "lr = 0 is allowed (a frozen layer)")
refused(function() lpdm.dense{ 8, optimizer = "rmsprop" } end, "unknown optimizer 'rmsprop'", "an unknown optimizer is refused")
refused(function() lpdm.dense{ 8, lr = -1 } end, "'lr' must be finite and >= 0", "a negative rate is refused")
refused(function() lpdm.net{ inputs = 4, lpdm.dense{ 8 }, propagate = "later" } end, "\"post\" or \"pre\"",
  "propagate must be post or pre")

-- ---------------------------------------------------------------- effects
local function pair(spec1a, spec1b)
  local a = lpdm.net{ inputs = 4, seed = 5, spec1a, lpdm.dense{ 8 } }
  local b = lpdm.net{ inputs = 4, seed = 5, spec1b, lpdm.dense{ 8 } }
  train(a)
  train(b)
  return a, b
end
local a, b = pair(lpdm.dense{ 8 }, lpdm.dense{ 8 })
ok(max_diff(weights(a, 1), weights(b, 1)) == 0, "two runs of the same net and seed train to the same weights")
a, b = pair(lpdm.dense{ 8 }, lpdm.dense{ 8, optimizer = "sgd" })
ok(max_diff(weights(a, 1), weights(b, 1)) > 0, "a layer's optimizer changes its training")
a, b = pair(lpdm.dense{ 8 }, lpdm.dense{ 8, weight_decay = 0.5 })
ok(max_diff(weights(a, 1), weights(b, 1)) > 0, "a layer's weight decay changes its training")
local pre = lpdm.net{ inputs = 4, seed = 5, lpdm.dense{ 8 }, lpdm.dense{ 8 }, propagate = "pre" }
local post = lpdm.net{ inputs = 4, seed = 5, lpdm.dense{ 8 }, lpdm.dense{ 8 }, propagate = "post" }
train(pre)
train(post)
ok(max_diff(weights(pre, 1), weights(post, 1)) == 0 and max_diff(weights(pre, 2), weights(post, 2)) > 0,
  "propagate = pre vs post: the first layer trains alike, the second sees other inputs")

-- ---------------------------------------------------------------- what an algorithm keeps
local kept = lpdm.net{ inputs = 4, seed = 1, lpdm.dense{ 8, optimizer = "sgd", weight_decay = 0.1, lr = 0 },
  lpdm.dense{ 8 } }
local run = lpdm.algo("reinforce", { env = env, policy = kept, mode = "local", steps = 600, seed = 1 })
local k1 = kept:layer(1)
ok(k1.optimizer == "sgd" and math.abs(k1.weight_decay - 0.1) < 1e-12,
  "reinforce keeps a layer's optimizer type and weight decay")
ok(k1.lr == 0, "reinforce keeps a layer's own learning rate (here 0; got " .. k1.lr .. ")")
run:close()

local frozen = lpdm.net{ inputs = 4, seed = 1, lpdm.dense{ 8, lr = 0 }, lpdm.dense{ 8 } }
local w0 = weights(frozen, 1)
train(frozen)
ok(max_diff(weights(frozen, 1), w0) == 0, "a layer with lr = 0 does not move under reinforce")

local pf = lpdm.net{ inputs = 4, seed = 1, lpdm.dense{ 8, lr = 0 }, lpdm.dense{ 8 } }
w0 = weights(pf, 1)
train(pf, 1024, { algo = "ppo", num_envs = 1, num_steps = 512 })
ok(max_diff(weights(pf, 1), w0) == 0, "a layer with lr = 0 does not move under ppo")

-- Setting a rate after lpdm.algo, before iterating, also holds.
local wa = lpdm.net{ inputs = 4, seed = 1, lpdm.dense{ 8 }, lpdm.dense{ 8 } }
run = lpdm.algo("reinforce", { env = env, policy = wa, mode = "local", steps = 600, seed = 1 })
wa:set_lr(1, 0)
w0 = weights(wa, 1)
local w2 = weights(wa, 2)
for _ in run:iterations() do end
run:close()
ok(max_diff(weights(wa, 1), w0) == 0 and max_diff(weights(wa, 2), w2) > 0,
  "net:set_lr(i, lr) after lpdm.algo(\"reinforce\", ...) holds for that run")

-- reinforce's log_std_lr: the Gaussian head's log standard deviation at its
-- own rate (default: the policy head's)
local function last_log_std(extra)
  local cfg = { env = lpdm.env("Pendulum-v1"), policy = lpdm.net{ inputs = 3, seed = 1, lpdm.dense{ 8 } },
    mode = "local", steps = 1000, seed = 1 }
  for k, v in pairs(extra or {}) do cfg[k] = v end
  local run = lpdm.algo("reinforce", cfg)
  local last
  for it in run:iterations() do last = it.stats.log_std_mean end
  run:close()
  return last
end
local moved, held = last_log_std(), last_log_std({ log_std_lr = 1e-12 })
ok(math.abs(moved) > 1e-3 and math.abs(held) < 1e-6,
  string.format("log_std_lr = 1e-12 holds the log std (%.3g) where the head's rate moves it (%.3g)", held, moved))
refused(function() lpdm.algo("reinforce", { env = env, policy = lpdm.net{ inputs = 4, lpdm.dense{ 8 } }, log_std_lr = -1 }) end,
  "log_std_lr must be >= 0", "a negative log_std_lr is refused")

tap.finish()
