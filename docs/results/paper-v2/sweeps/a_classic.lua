-- SPDX-License-Identifier: MIT
-- Written by docs/results/paper-v2/make_sweeps.lua from the tune reports; do not edit.
-- Part (a), the main table: PPO on the classic-control envs, seeds 201..210, every learner with
-- the classic group's tuned flags (tune/reports/ppo_classic.md).
--   build/lpdm scripts/sweep.lua docs/results/paper-v2/sweeps/a_classic.lua --out=DIR --jobs=2
return {
  name = "paper-v2-a-classic",
  envs = {
    { name = "CartPole-v1", steps = 500000, threshold = 475 },
    { name = "Acrobot-v1", steps = 500000, threshold = -100 },
    { name = "Pendulum-v1", steps = 1000000, threshold = -200 },
  },
  algos = { "ppo" },
  variants = {
    { name = "bp", flags = { clip_coef = "0.26527391223079722", ent_coef = "0.0052716139209041078", learning_rate = "0.0026123309936275044", mode = "bp", num_minibatches = "8" } },
    { name = "local-stress", flags = { clip_coef = "0.18402391223079725", ent_coef = "0.00897531762460781", head_lr = "0.0010079390049928202", local_lr = "4.2536243923154069e-05", loss = "stress", mode = "local" } },
    { name = "local-guided", flags = { alpha = "0.47810760503858774", clip_coef = "0.1897531762460781", head_lr = "0.0010079390049928202", local_lr = "4.2536243923154069e-05", loss = "guided", mode = "local" } },
    { name = "local-kernel", flags = { anchor = "1", clip_coef = "0.15902391223079726", ent_coef = "8.6428735718921962e-05", head_lr = "0.0017368953501279796", local_lr = "0.00030612725334776351", loss = "kernel", mode = "local" } },
    { name = "localhead", flags = { clip_coef = "0.28402391223079726", ent_coef = "0.002308650957941145", head_lr = "0.00051051675587712687", local_lr = "0.0022031539834957911", loss = "localhead", mode = "local" } },
    { name = "frozen", flags = { clip_coef = "0.1897531762460781", head_lr = "0.0010079390049928202", loss = "frozen", mode = "local" } },
  },
  seeds = { 201, 202, 203, 204, 205, 206, 207, 208, 209, 210 },
  eval = { deterministic = true, episodes = 20 },
}
