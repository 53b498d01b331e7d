-- SPDX-License-Identifier: MIT
-- Written by docs/results/paper-v2/make_sweeps.lua from the tune reports; do not edit.
-- Part (c): what REINFORCE's local loss sees, on local-guided with its tuned flags, seeds
-- 201..205: observation normalisation, episodes per update 1 instead of the tuned 4, a window of the
-- last 2048 states, and guidance by the advantage G - V(s) (with a baseline). The tuned
-- local-guided itself is part (b)'s cells.
--   build/lpdm scripts/sweep.lua docs/results/paper-v2/sweeps/c_reinforce.lua --out=DIR --jobs=2
return {
  name = "paper-v2-c-reinforce",
  envs = {
    { name = "CartPole-v1", steps = 500000, threshold = 475 },
    { name = "Acrobot-v1", steps = 500000, threshold = -100 },
    { name = "InvertedDoublePendulum-v5", flags = { log_std_lr = "1e-3" }, steps = 1000000 },
  },
  algos = { "reinforce" },
  variants = {
    { name = "guided-normobs", flags = { alpha = "0.25310760503858765", episodes_per_update = "4", head_lr = "0.0057363403404297785", local_lr = "0.00030072428105867876", loss = "guided", mode = "local", norm_obs = "true" } },
    { name = "guided-episodes1", flags = { alpha = "0.25310760503858765", episodes_per_update = "1", head_lr = "0.0057363403404297785", local_lr = "0.00030072428105867876", loss = "guided", mode = "local" } },
    { name = "guided-window2048", flags = { alpha = "0.25310760503858765", episodes_per_update = "4", head_lr = "0.0057363403404297785", local_lr = "0.00030072428105867876", local_window = "2048", loss = "guided", mode = "local" } },
    { name = "guided-advantage", flags = { alpha = "0.25310760503858765", baseline = "true", episodes_per_update = "4", guide = "advantage", head_lr = "0.0057363403404297785", local_lr = "0.00030072428105867876", loss = "guided", mode = "local" } },
  },
  seeds = { 201, 202, 203, 204, 205 },
  eval = { deterministic = true, episodes = 20 },
}
