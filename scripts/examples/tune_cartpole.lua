-- SPDX-License-Identifier: MIT
-- tune_cartpole.lua -- a tune (scripts/tune.lua, docs/tuning.md): PPO with
-- backpropagation on CartPole-v1, over the learning rate, the entropy
-- bonus, the clipping coefficient and the number of minibatches; 16 trials
-- from a Sobol sequence, successive halving (ASHA, eta 2) at 25k, 50k and
-- 100k env steps, 2 seeds per trial.
--
--   build/lpdm scripts/tune.lua scripts/examples/tune_cartpole.lua --out=runs/tune_cartpole --jobs=2
--
-- then DIR/report.md has the best configuration as a train.lua command,
-- and a sweep on fresh seeds evaluates it (docs/tuning.md, "From a tune to
-- a sweep"). Measured on the project's 2-core machine: docs/tuning.md.
-- log_uniform, uniform, int and choice are given to this file by tune.lua.
return {
  name = "tune_cartpole",
  algo = "ppo",
  envs = { "CartPole-v1" },
  flags = {},                              -- train.lua flags of every run (here: PPO's defaults)
  variants = {
    bp = {
      flags = { mode = "bp" },
      space = {
        learning_rate = log_uniform{ 1e-4, 1e-2 },
        ent_coef = uniform{ 0, 0.05 },
        clip_coef = uniform{ 0.1, 0.3 },
        num_minibatches = choice{ 2, 4, 8 },
      },
    },
  },
  objective = "final",                     -- the final 20-episode average return
  budget = { trials = 16, seeds = { 1, 2 }, steps = 100000, min_steps = 25000, eta = 2 },
  scheduler = "asha",
  sampler = "sobol",
  seed = 1,
}
