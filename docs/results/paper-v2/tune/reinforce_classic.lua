-- SPDX-License-Identifier: MIT
-- reinforce_classic: the second edition's tuning (docs/results/paper-v2/protocol.md,
-- "Tuning with equal budgets"): REINFORCE on CartPole-v1 and Acrobot-v1 at 500,000 steps. Every learner gets the same budget
-- (24 trials x 2 seeds, ASHA eta 3 from 1/9 of the top budget, Halton, seed
-- 0, objective auc) and four searched dimensions; seeds 101, 102 only.
--   build/lpdm scripts/tune.lua docs/results/paper-v2/tune/reinforce_classic.lua --out=DIR --jobs=2
return {
  name = "reinforce_classic",
  algo = "reinforce",
  envs = { { id = "CartPole-v1", score = { 22.14, 500 } }, { id = "Acrobot-v1", score = { -499.9, -60 } } },
  variants = {
    { name = "bp", flags = { mode = "bp" },
      space = { lr = log_uniform { 1e-4, 1e-2 }, entropy_coef = uniform { 0, 0.02 }, episodes_per_update = choice { 1, 2, 4 }, normalize_returns = choice { "true", "false" } } },
    { name = "local-stress", flags = { mode = "local", loss = "stress" },
      space = { local_lr = log_uniform { 1e-4, 1e-2 }, head_lr = log_uniform { 1e-4, 1e-2 }, entropy_coef = uniform { 0, 0.02 }, episodes_per_update = choice { 1, 2, 4 } } },
    { name = "local-guided", flags = { mode = "local", loss = "guided" },
      space = { local_lr = log_uniform { 1e-4, 1e-2 }, head_lr = log_uniform { 1e-4, 1e-2 }, alpha = uniform { 0.1, 1 }, episodes_per_update = choice { 1, 2, 4 } } },
    { name = "localhead", flags = { mode = "local", loss = "localhead" },
      space = { local_lr = log_uniform { 1e-4, 1e-2 }, head_lr = log_uniform { 1e-4, 1e-2 }, entropy_coef = uniform { 0, 0.02 }, episodes_per_update = choice { 1, 2, 4 } } },
    { name = "dfa", flags = { mode = "local", loss = "dfa" },
      space = { local_lr = log_uniform { 1e-4, 1e-2 }, head_lr = log_uniform { 1e-4, 1e-2 }, entropy_coef = uniform { 0, 0.02 }, episodes_per_update = choice { 1, 2, 4 } } },
  },
  objective = "auc",
  budget = { trials = 24, seeds = { 101, 102 }, steps = 500000, min_steps = 55555, eta = 3 },
  scheduler = "asha",
  sampler = "halton",
  seed = 0,
}
