-- docs/dqn.md's CartPole-v1 tables (500,000 steps, seeds 1..10), measured
-- again after issue 22 (2026-12-07):
--   build/lpdm scripts/sweep.lua docs/results/seed-tables/dqn.lua --out=DIR --jobs=2
--   build/lpdm docs/results/seed-tables/tables.lua DIR/sweep.json
return {
  name = "seed-tables-dqn",
  envs = { { name = "CartPole-v1", steps = 500000, threshold = 475 } },
  algos = { "dqn" },
  seeds = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 },
  variants = {
    { name = "bp", flags = { mode = "bp" } },
    { name = "local", flags = { mode = "local" } },
  },
}
