-- SPDX-License-Identifier: MIT
-- The learners in DQN (issue 25): CartPole-v1 and Acrobot-v1 at dqn.py's
-- budget (500,000 steps), seeds 1..5, every learner at DQN's defaults.
--   build/lpdm scripts/sweep.lua docs/results/learners/dqn.lua --out=DIR --jobs=2
return {
  name = "learners-dqn",
  envs = { { name = "CartPole-v1", steps = 500000 }, { name = "Acrobot-v1", steps = 500000 } },
  algos = { "dqn" },
  variants = {
    { name = "bp", flags = { mode = "bp" } },
    { name = "local-stress", flags = { mode = "local", loss = "stress" } },
    -- DQN's own local default (lpdm.plugins("algo"): kernel anchor=1), named by its settings
    { name = "local-kernel", flags = { mode = "local", loss = "kernel", anchor = 1 } },
    { name = "localhead", flags = { mode = "local", loss = "localhead" } },
    { name = "dfa", flags = { mode = "local", loss = "dfa" } },
  },
  seeds = { 1, 2, 3, 4, 5 },
  eval = { episodes = 20, deterministic = true },
}
