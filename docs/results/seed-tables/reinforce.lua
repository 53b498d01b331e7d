-- docs/reinforce.md's per-seed table (REINFORCE on CartPole-v1, 500,000
-- steps, seeds 1..15, the algorithm's defaults), measured again after
-- issue 22 (2026-12-07). From the checkout:
--   build/lpdm scripts/sweep.lua docs/results/seed-tables/reinforce.lua --out=DIR --jobs=2
--   build/lpdm docs/results/seed-tables/tables.lua DIR/sweep.json
return {
  name = "seed-tables-reinforce",
  envs = { { name = "CartPole-v1", steps = 500000, threshold = 475 } },
  algos = { "reinforce" },
  seeds = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 },
  variants = {
    { name = "bp", flags = { mode = "bp" } },
    { name = "local-guided", flags = { mode = "local", loss = "guided" } },
    { name = "local-stress", flags = { mode = "local", loss = "stress" } },
  },
}
