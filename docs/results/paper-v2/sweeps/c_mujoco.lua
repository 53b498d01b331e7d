-- SPDX-License-Identifier: MIT
-- Written by docs/results/paper-v2/make_sweeps.lua from the tune reports; do not edit.
-- Part (c) on HalfCheetah-v5, Hopper-v5 and Ant-v5, seeds 201..205: the controls linear and
-- bp-headlr, the other rule (localhead), width 256 (Ant: at least twice its 105 observations) for bp and the best
-- LPDM loss (local-guided), and its local schedules (rollout, once). Width 64 and per-minibatch steps are part (a)'s cells.
--   build/lpdm scripts/sweep.lua docs/results/paper-v2/sweeps/c_mujoco.lua --out=DIR --jobs=2
return {
  name = "paper-v2-c-mujoco",
  envs = {
    { name = "HalfCheetah-v5", steps = 1000000 },
    { name = "Hopper-v5", steps = 1000000 },
    { name = "Ant-v5", steps = 1000000 },
  },
  algos = { "ppo" },
  variants = {
    { name = "linear", flags = { clip_coef = "0.27152391223079725", ent_coef = "0.00823457688386707", hidden = "", learning_rate = "0.0015159637005388955", mode = "bp", num_minibatches = "8" } },
    { name = "bp-headlr", flags = { clip_coef = "0.27152391223079725", ent_coef = "0.00823457688386707", head_lr = "0.0019900248641994407", learning_rate = "0.0015159637005388955", mode = "bp", num_minibatches = "8" } },
    { name = "localhead", flags = { clip_coef = "0.28402391223079726", ent_coef = "0.002308650957941145", head_lr = "0.00051051675587712687", local_lr = "0.0022031539834957911", loss = "localhead", mode = "local" } },
    { name = "bp-w256", flags = { clip_coef = "0.27152391223079725", ent_coef = "0.00823457688386707", hidden = "256,256", learning_rate = "0.0015159637005388955", mode = "bp", num_minibatches = "8" } },
    { name = "local-guided-w256", flags = { alpha = "0.25310760503858765", clip_coef = "0.25641984291274478", head_lr = "0.0019900248641994407", hidden = "256,256", local_lr = "9.0217284317603471e-05", loss = "guided", mode = "local" } },
    { name = "local-guided-rollout", flags = { alpha = "0.25310760503858765", clip_coef = "0.25641984291274478", head_lr = "0.0019900248641994407", local_batch = "rollout", local_lr = "9.0217284317603471e-05", loss = "guided", mode = "local" } },
    { name = "local-guided-once", flags = { alpha = "0.25310760503858765", clip_coef = "0.25641984291274478", head_lr = "0.0019900248641994407", local_batch = "once", local_lr = "9.0217284317603471e-05", loss = "guided", mode = "local" } },
  },
  seeds = { 201, 202, 203, 204, 205 },
  eval = { deterministic = true, episodes = 20 },
}
