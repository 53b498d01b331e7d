-- SPDX-License-Identifier: MIT
-- Written by docs/results/paper-v2/make_sweeps.lua from the tune reports; do not edit.
-- Part (c) on CartPole-v1, seeds 201..205: the controls linear and bp-headlr, the other
-- rule (dfa), width 256 for bp and the best LPDM loss (local-kernel), its local schedules (rollout, once), and
-- depth 4/8/16 for bp and local-kernel. Width 64, per-minibatch steps and depth 2 are part (a)'s cells.
--   build/lpdm scripts/sweep.lua docs/results/paper-v2/sweeps/c_classic.lua --out=DIR --jobs=2
return {
  name = "paper-v2-c-classic",
  envs = {
    { name = "CartPole-v1", steps = 500000, threshold = 475 },
  },
  algos = { "ppo" },
  variants = {
    { name = "linear", flags = { clip_coef = "0.26527391223079722", ent_coef = "0.0052716139209041078", hidden = "", learning_rate = "0.0026123309936275044", mode = "bp", num_minibatches = "8" } },
    { name = "bp-headlr", flags = { clip_coef = "0.26527391223079722", ent_coef = "0.0052716139209041078", head_lr = "0.0017368953501279796", learning_rate = "0.0026123309936275044", mode = "bp", num_minibatches = "8" } },
    { name = "dfa", flags = { clip_coef = "0.20277391223079727", ent_coef = "0.0074938361431263313", head_lr = "0.0022800446554481261", local_lr = "0.0024202552930039042", loss = "dfa", mode = "local" } },
    { name = "bp-w256", flags = { clip_coef = "0.26527391223079722", ent_coef = "0.0052716139209041078", hidden = "256,256", learning_rate = "0.0026123309936275044", mode = "bp", num_minibatches = "8" } },
    { name = "local-kernel-w256", flags = { anchor = "1", clip_coef = "0.15902391223079726", ent_coef = "8.6428735718921962e-05", head_lr = "0.0017368953501279796", hidden = "256,256", local_lr = "0.00030612725334776351", loss = "kernel", mode = "local" } },
    { name = "local-kernel-rollout", flags = { anchor = "1", clip_coef = "0.15902391223079726", ent_coef = "8.6428735718921962e-05", head_lr = "0.0017368953501279796", local_batch = "rollout", local_lr = "0.00030612725334776351", loss = "kernel", mode = "local" } },
    { name = "local-kernel-once", flags = { anchor = "1", clip_coef = "0.15902391223079726", ent_coef = "8.6428735718921962e-05", head_lr = "0.0017368953501279796", local_batch = "once", local_lr = "0.00030612725334776351", loss = "kernel", mode = "local" } },
    { name = "bp-d4", flags = { clip_coef = "0.26527391223079722", ent_coef = "0.0052716139209041078", hidden = "64,64,64,64", learning_rate = "0.0026123309936275044", mode = "bp", num_minibatches = "8" } },
    { name = "local-kernel-d4", flags = { anchor = "1", clip_coef = "0.15902391223079726", ent_coef = "8.6428735718921962e-05", head_lr = "0.0017368953501279796", hidden = "64,64,64,64", local_lr = "0.00030612725334776351", loss = "kernel", mode = "local" } },
    { name = "bp-d8", flags = { clip_coef = "0.26527391223079722", ent_coef = "0.0052716139209041078", hidden = "64,64,64,64,64,64,64,64", learning_rate = "0.0026123309936275044", mode = "bp", num_minibatches = "8" } },
    { name = "local-kernel-d8", flags = { anchor = "1", clip_coef = "0.15902391223079726", ent_coef = "8.6428735718921962e-05", head_lr = "0.0017368953501279796", hidden = "64,64,64,64,64,64,64,64", local_lr = "0.00030612725334776351", loss = "kernel", mode = "local" } },
    { name = "bp-d16", flags = { clip_coef = "0.26527391223079722", ent_coef = "0.0052716139209041078", hidden = "64,64,64,64,64,64,64,64,64,64,64,64,64,64,64,64", learning_rate = "0.0026123309936275044", mode = "bp", num_minibatches = "8" } },
    { name = "local-kernel-d16", flags = { anchor = "1", clip_coef = "0.15902391223079726", ent_coef = "8.6428735718921962e-05", head_lr = "0.0017368953501279796", hidden = "64,64,64,64,64,64,64,64,64,64,64,64,64,64,64,64", local_lr = "0.00030612725334776351", loss = "kernel", mode = "local" } },
  },
  seeds = { 201, 202, 203, 204, 205 },
  eval = { deterministic = true, episodes = 20 },
}
