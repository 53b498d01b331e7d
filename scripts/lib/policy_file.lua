-- SPDX-License-Identifier: MIT
-- policy_file.lua -- the policy file of a train.lua run and the evaluation
-- seed rule, shared by scripts/train.lua, scripts/eval.lua and the sweeps
-- (docs/policy.md).
--
--   local pf = require("policy_file")
--   local err = pf.check_train_seed(seed, copies)   -- nil, or why --seed is refused
--   pf.save(run, dir, {config = json_text, env = id})  -- DIR/policy.safetensors
--   pf.eval_seed(S, i)                              -- episode i of an evaluation --seed=S
--
-- THE SEED RULE. Training uses env seeds below EVAL_BASE = 1,000,000: an
-- algorithm resets its env copy e (0-based) with seed + e once, and train.lua
-- refuses a --seed whose copies would reach EVAL_BASE. Evaluation episode i
-- (0-based) of an evaluation with --seed=S uses env seed
--     EVAL_BASE + S * EVAL_STRIDE + i,     EVAL_STRIDE = 10,000,
-- with S >= 0 (default 0) and at most EVAL_STRIDE episodes, so no
-- evaluation episode shares a seed with any training run, two evaluations
-- with other S never share one, and every run's evaluation with the same S
-- and N plays the same episodes (paired comparisons).
local M = {}

M.EVAL_BASE = 1000000
M.EVAL_STRIDE = 10000
M.FILE = "policy.safetensors"

-- The env seed of evaluation episode i (0-based) under --seed=S.
function M.eval_seed(S, i) return M.EVAL_BASE + S * M.EVAL_STRIDE + i end

-- nil when a training run with this seed and this many env copies stays
-- below EVAL_BASE, else the message that refuses it.
function M.check_train_seed(seed, copies)
  copies = math.max(1, math.tointeger(copies) or 1)
  if seed + copies - 1 >= M.EVAL_BASE then
    return string.format("--seed=%d: training seeds must stay below %d, which evaluation owns (env copy e uses " ..
      "seed + e, and this run has %d cop%s, so --seed <= %d; docs/policy.md, \"The seed rule\")", seed, M.EVAL_BASE,
      copies, copies == 1 and "y" or "ies", M.EVAL_BASE - copies)
  end
  return nil
end

-- The number of env copies a run steps (PPO's num_envs, else 1).
function M.copies(run)
  local n = run.config and math.tointeger(run.config.num_envs)
  return (n and n > 0) and n or 1
end

-- Writes DIR/policy.safetensors (run:save_policy, atomic) with meta; returns
-- true, or false when the algorithm cannot write one (said once on stderr).
local told = false
function M.save(run, dir, meta)
  local ok, err = pcall(run.save_policy, run, dir .. "/" .. M.FILE, meta)
  if ok then return true end
  if tostring(err):find("no export_policy", 1, true) then
    if not told then
      io.stderr:write(string.format("train.lua: algorithm %s cannot write a policy file; no %s/%s\n", run.algo, dir,
        M.FILE))
      told = true
    end
    return false
  end
  error(err, 0)
end

return M
