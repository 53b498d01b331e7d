-- docs/ppo.md's and docs/local-learning.md's per-seed tables (PPO with
-- CleanRL's defaults on CartPole-v1 and Acrobot-v1, 500,000 steps, seeds
-- 1..15; local-kernel is local mode's default), measured again after
-- issue 22 (2026-12-07). From the checkout:
--   build/lpdm scripts/sweep.lua docs/results/seed-tables/ppo.lua --out=DIR --jobs=2
--   build/lpdm docs/results/seed-tables/tables.lua DIR/sweep.json
return {
  name = "seed-tables-ppo",
  envs = {
    { name = "CartPole-v1", steps = 500000, threshold = 475 },
    { name = "Acrobot-v1", steps = 500000, threshold = -100 },
  },
  algos = { "ppo" },
  seeds = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 },
  variants = {
    { name = "bp", flags = { mode = "bp" } },
    { name = "local-kernel", flags = { mode = "local", loss = "kernel", anchor = 1 } },
    { name = "local-guided", flags = { mode = "local", loss = "guided" } },
    { name = "local-stress", flags = { mode = "local", loss = "stress" } },
  },
}
