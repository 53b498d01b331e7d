-- SPDX-License-Identifier: MIT
-- Written by docs/results/paper-v2/make_sweeps.lua from the tune reports; do not edit.
-- Part (b): REINFORCE on the classic and pendulum envs, seeds 201..210, every learner with
-- the tuned flags of tune/reports/reinforce_classic.md.
--   build/lpdm scripts/sweep.lua docs/results/paper-v2/sweeps/b_reinforce.lua --out=DIR --jobs=2
return {
  name = "paper-v2-b-reinforce",
  envs = {
    { name = "CartPole-v1", steps = 500000, threshold = 475 },
    { name = "Acrobot-v1", steps = 500000, threshold = -100 },
    { name = "Pendulum-v1", flags = { log_std_lr = "1e-3" }, steps = 1000000, threshold = -200 },
    { name = "InvertedPendulum-v5", flags = { log_std_lr = "1e-3" }, steps = 1000000 },
    { name = "InvertedDoublePendulum-v5", flags = { log_std_lr = "1e-3" }, steps = 1000000 },
  },
  algos = { "reinforce" },
  variants = {
    { name = "bp", flags = { entropy_coef = "0.0027773912230797258", episodes_per_update = "2", lr = "0.0013141196531157454", mode = "bp", normalize_returns = "true" } },
    { name = "local-stress", flags = { entropy_coef = "0.016527391223079727", episodes_per_update = "1", head_lr = "0.0082915344665914371", local_lr = "0.0023775391606190655", loss = "stress", mode = "local" } },
    { name = "local-guided", flags = { alpha = "0.25310760503858765", episodes_per_update = "4", head_lr = "0.0057363403404297785", local_lr = "0.00030072428105867876", loss = "guided", mode = "local" } },
    { name = "localhead", flags = { entropy_coef = "0.0027773912230797258", episodes_per_update = "2", head_lr = "0.0013141196531157454", local_lr = "0.000637821430930566", loss = "localhead", mode = "local" } },
    { name = "dfa", flags = { entropy_coef = "0.003402391223079726", episodes_per_update = "4", head_lr = "0.0057363403404297785", local_lr = "0.00030072428105867876", loss = "dfa", mode = "local" } },
    { name = "frozen", flags = { episodes_per_update = "4", head_lr = "0.0057363403404297785", loss = "frozen", mode = "local" } },
  },
  seeds = { 201, 202, 203, 204, 205, 206, 207, 208, 209, 210 },
  eval = { deterministic = true, episodes = 20 },
}
