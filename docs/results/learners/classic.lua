-- SPDX-License-Identifier: MIT
-- The other backprop-free learners beside bp and LPDM (issue 25,
-- docs/local-learning.md "Other learners"): CartPole-v1 and Acrobot-v1 at
-- ppo.py's budget, REINFORCE and PPO, seeds 1..5, every learner at its
-- algorithm's defaults (no tuning: issue 26 tunes every mode with equal
-- budgets). Evaluation: 20 deterministic episodes of the final policy.
--   build/lpdm scripts/sweep.lua docs/results/learners/classic.lua --out=DIR --jobs=2
return {
  name = "learners-classic",
  envs = { { name = "CartPole-v1", steps = 500000 }, { name = "Acrobot-v1", steps = 500000 } },
  algos = { "reinforce", "ppo" },
  variants = {
    { name = "bp", flags = { mode = "bp" } },
    { name = "local-stress", flags = { mode = "local", loss = "stress" } },
    { name = "local-guided", flags = { mode = "local", loss = "guided" } },
    { name = "local-kernel", flags = { mode = "local", loss = "kernel", anchor = 1 }, algos = { "ppo" } },
    { name = "localhead", flags = { mode = "local", loss = "localhead" } },
    { name = "localhead-match", flags = { mode = "local", loss = "localhead", match = 0.5 } },
    { name = "dfa", flags = { mode = "local", loss = "dfa" } },
  },
  seeds = { 1, 2, 3, 4, 5 },
  eval = { episodes = 20, deterministic = true },
}
