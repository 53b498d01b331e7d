-- Ant-v5 PPO, 1M steps, seeds 1..5: why local PPO led bp in the full study.
-- bp and local-stress are the study's own runs (scripts/paper.lua --profile=full);
-- the other three were run for this probe (docs/local-learning.md, "Ant-v5").
-- bp-logstd-1: bp with the Gaussian policy's initial log std at -1 (CleanRL's: 0).
-- stress-head3e-4: local-stress with its heads and log std at bp's rate, 3e-4
--   (local mode's default head_lr is 4 x 3e-4, not annealed).
-- stress-logstd-1: local-stress with the initial log std at -1.
return {
  name = "ant-probe",
  envs = { { name = "Ant-v5", steps = 1000000 } },
  algos = { "ppo" },
  variants = {
    { name = "bp", flags = { mode = "bp" } },
    { name = "local-stress", flags = { mode = "local", loss = "stress" } },
    { name = "bp-logstd-1", flags = { mode = "bp", log_std_init = -1 } },
    { name = "stress-head3e-4", flags = { mode = "local", loss = "stress", head_lr = 3e-4 } },
    { name = "stress-logstd-1", flags = { mode = "local", loss = "stress", log_std_init = -1 } },
  },
  seeds = { 1, 2, 3, 4, 5 },
}
