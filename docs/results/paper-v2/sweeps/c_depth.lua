-- SPDX-License-Identifier: MIT
-- Written by docs/results/paper-v2/make_sweeps.lua from the tune reports; do not edit.
-- Part (c), depth on HalfCheetah-v5, seeds 201..205: 4, 8 and 16 hidden layers of 64 for bp and
-- local-kernel with the MuJoCo group's tuned flags. Depth 2 is part (a)'s cells.
--   build/lpdm scripts/sweep.lua docs/results/paper-v2/sweeps/c_depth.lua --out=DIR --jobs=2
return {
  name = "paper-v2-c-depth",
  envs = {
    { name = "HalfCheetah-v5", steps = 1000000 },
  },
  algos = { "ppo" },
  variants = {
    { name = "bp-d4", flags = { clip_coef = "0.27152391223079725", ent_coef = "0.00823457688386707", hidden = "64,64,64,64", learning_rate = "0.0015159637005388955", mode = "bp", num_minibatches = "8" } },
    { name = "local-kernel-d4", flags = { anchor = "1", clip_coef = "0.22777391223079727", ent_coef = "0.016382725032015221", head_lr = "0.0013231343737446519", hidden = "64,64,64,64", local_lr = "0.00036943211643921216", loss = "kernel", mode = "local" } },
    { name = "bp-d8", flags = { clip_coef = "0.27152391223079725", ent_coef = "0.00823457688386707", hidden = "64,64,64,64,64,64,64,64", learning_rate = "0.0015159637005388955", mode = "bp", num_minibatches = "8" } },
    { name = "local-kernel-d8", flags = { anchor = "1", clip_coef = "0.22777391223079727", ent_coef = "0.016382725032015221", head_lr = "0.0013231343737446519", hidden = "64,64,64,64,64,64,64,64", local_lr = "0.00036943211643921216", loss = "kernel", mode = "local" } },
    { name = "bp-d16", flags = { clip_coef = "0.27152391223079725", ent_coef = "0.00823457688386707", hidden = "64,64,64,64,64,64,64,64,64,64,64,64,64,64,64,64", learning_rate = "0.0015159637005388955", mode = "bp", num_minibatches = "8" } },
    { name = "local-kernel-d16", flags = { anchor = "1", clip_coef = "0.22777391223079727", ent_coef = "0.016382725032015221", head_lr = "0.0013231343737446519", hidden = "64,64,64,64,64,64,64,64,64,64,64,64,64,64,64,64", local_lr = "0.00036943211643921216", loss = "kernel", mode = "local" } },
  },
  seeds = { 201, 202, 203, 204, 205 },
  eval = { deterministic = true, episodes = 20 },
}
