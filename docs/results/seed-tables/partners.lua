-- Sampled pairs (--partners=K) against every pair, local mode at each
-- algorithm's defaults (PPO: the kernel loss, minibatches of 128;
-- REINFORCE: the guided loss, one episode of up to 500 steps per update),
-- CartPole-v1, 500,000 steps, seeds 1..5 (issue 22, item 1):
--   build/lpdm scripts/sweep.lua docs/results/seed-tables/partners.lua --out=DIR --jobs=2
--   build/lpdm docs/results/seed-tables/tables.lua DIR/sweep.json
return {
  name = "partners",
  envs = { { name = "CartPole-v1", steps = 500000, threshold = 475 } },
  algos = { "ppo", "reinforce" },
  seeds = { 1, 2, 3, 4, 5 },
  variants = {
    { name = "all-pairs", flags = { mode = "local" } },
    { name = "K4", algos = { "ppo" }, flags = { mode = "local", partners = 4 } },
    { name = "K8", algos = { "ppo" }, flags = { mode = "local", partners = 8 } },
    { name = "K16", flags = { mode = "local", partners = 16 } },
    { name = "K32", flags = { mode = "local", partners = 32 } },
    { name = "K64", algos = { "reinforce" }, flags = { mode = "local", partners = 64 } },
  },
}
