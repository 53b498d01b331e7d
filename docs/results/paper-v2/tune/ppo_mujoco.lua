-- SPDX-License-Identifier: MIT
-- ppo_mujoco: the second edition's tuning (docs/results/paper-v2/protocol.md,
-- "Tuning with equal budgets"): PPO on HalfCheetah-v5 and Hopper-v5 at 300,000 steps. Every learner gets the same budget
-- (24 trials x 2 seeds, ASHA eta 3 from 1/9 of the top budget, Halton, seed
-- 0, objective auc) and four searched dimensions; seeds 101, 102 only.
--   build/lpdm scripts/tune.lua docs/results/paper-v2/tune/ppo_mujoco.lua --out=DIR --jobs=2
return {
  name = "ppo_mujoco",
  algo = "ppo",
  envs = { { id = "HalfCheetah-v5", score = { -291.42, 6000 } }, { id = "Hopper-v5", score = { 17.38, 3500 } } },
  variants = {
    { name = "bp", flags = { mode = "bp" },
      space = { learning_rate = log_uniform { 1e-4, 3e-3 }, ent_coef = uniform { 0, 0.02 }, clip_coef = uniform { 0.1, 0.3 }, num_minibatches = choice { 2, 4, 8 } } },
    { name = "local-stress", flags = { mode = "local", loss = "stress" },
      space = { local_lr = log_uniform { 3e-5, 3e-3 }, head_lr = log_uniform { 1e-4, 3e-3 }, ent_coef = uniform { 0, 0.02 }, clip_coef = uniform { 0.1, 0.3 } } },
    { name = "local-guided", flags = { mode = "local", loss = "guided" },
      space = { local_lr = log_uniform { 3e-5, 3e-3 }, head_lr = log_uniform { 1e-4, 3e-3 }, alpha = uniform { 0.1, 1 }, clip_coef = uniform { 0.1, 0.3 } } },
    { name = "local-kernel", flags = { mode = "local", loss = "kernel", anchor = 1 },
      space = { local_lr = log_uniform { 3e-5, 3e-3 }, head_lr = log_uniform { 1e-4, 3e-3 }, ent_coef = uniform { 0, 0.02 }, clip_coef = uniform { 0.1, 0.3 } } },
    { name = "localhead", flags = { mode = "local", loss = "localhead" },
      space = { local_lr = log_uniform { 3e-5, 3e-3 }, head_lr = log_uniform { 1e-4, 3e-3 }, ent_coef = uniform { 0, 0.02 }, clip_coef = uniform { 0.1, 0.3 } } },
    { name = "dfa", flags = { mode = "local", loss = "dfa" },
      space = { local_lr = log_uniform { 3e-5, 3e-3 }, head_lr = log_uniform { 1e-4, 3e-3 }, ent_coef = uniform { 0, 0.02 }, clip_coef = uniform { 0.1, 0.3 } } },
  },
  objective = "auc",
  budget = { trials = 24, seeds = { 101, 102 }, steps = 300000, min_steps = 33333, eta = 3 },
  scheduler = "asha",
  sampler = "halton",
  seed = 0,
}
