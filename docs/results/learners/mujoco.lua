-- SPDX-License-Identifier: MIT
-- The other backprop-free learners on MuJoCo (issue 25): PPO on
-- HalfCheetah-v5 at ppo_continuous_action.py's budget (1,000,000 steps),
-- seeds 1..3, every learner at PPO's defaults. Evaluation: 10
-- deterministic episodes of the final policy.
--   build/lpdm scripts/sweep.lua docs/results/learners/mujoco.lua --out=DIR --jobs=2
return {
  name = "learners-mujoco",
  envs = { { name = "HalfCheetah-v5", steps = 1000000 } },
  algos = { "ppo" },
  variants = {
    { name = "bp", flags = { mode = "bp" } },
    { name = "local-stress", flags = { mode = "local", loss = "stress" } },
    { name = "local-guided", flags = { mode = "local", loss = "guided" } },
    { name = "local-kernel", flags = { mode = "local", loss = "kernel", anchor = 1 } },
    { name = "localhead", flags = { mode = "local", loss = "localhead" } },
    { name = "dfa", flags = { mode = "local", loss = "dfa" } },
  },
  seeds = { 1, 2, 3 },
  eval = { episodes = 10, deterministic = true },
}
