-- SPDX-License-Identifier: MIT
-- Written by docs/results/paper-v2/make_sweeps.lua from the tune reports; do not edit.
-- Part (a), the main table: PPO on the 9 MuJoCo envs, seeds 201..210, every learner with the
-- MuJoCo group's tuned flags (tune/reports/ppo_mujoco.md).
--   build/lpdm scripts/sweep.lua docs/results/paper-v2/sweeps/a_mujoco.lua --out=DIR --jobs=2
return {
  name = "paper-v2-a-mujoco",
  envs = {
    { name = "InvertedPendulum-v5", steps = 1000000 },
    { name = "InvertedDoublePendulum-v5", steps = 1000000 },
    { name = "Reacher-v5", steps = 1000000 },
    { name = "Swimmer-v5", steps = 1000000 },
    { name = "Hopper-v5", steps = 1000000 },
    { name = "HalfCheetah-v5", steps = 1000000 },
    { name = "Walker2d-v5", steps = 1000000 },
    { name = "Ant-v5", steps = 1000000 },
    { name = "Humanoid-v5", steps = 1000000 },
  },
  algos = { "ppo" },
  variants = {
    { name = "bp", flags = { clip_coef = "0.27152391223079725", ent_coef = "0.00823457688386707", learning_rate = "0.0015159637005388955", mode = "bp", num_minibatches = "8" } },
    { name = "local-stress", flags = { clip_coef = "0.18402391223079725", ent_coef = "0.00897531762460781", head_lr = "0.0010079390049928202", local_lr = "4.2536243923154069e-05", loss = "stress", mode = "local" } },
    { name = "local-guided", flags = { alpha = "0.25310760503858765", clip_coef = "0.25641984291274478", head_lr = "0.0019900248641994407", local_lr = "9.0217284317603471e-05", loss = "guided", mode = "local" } },
    { name = "local-kernel", flags = { anchor = "1", clip_coef = "0.22777391223079727", ent_coef = "0.016382725032015221", head_lr = "0.0013231343737446519", local_lr = "0.00036943211643921216", loss = "kernel", mode = "local" } },
    { name = "dfa", flags = { clip_coef = "0.28402391223079726", ent_coef = "0.002308650957941145", head_lr = "0.00051051675587712687", local_lr = "0.0022031539834957911", loss = "dfa", mode = "local" } },
    { name = "frozen", flags = { clip_coef = "0.25641984291274478", head_lr = "0.0019900248641994407", loss = "frozen", mode = "local" } },
  },
  seeds = { 201, 202, 203, 204, 205, 206, 207, 208, 209, 210 },
  eval = { deterministic = true, episodes = 20 },
}
