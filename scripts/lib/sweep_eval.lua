-- SPDX-License-Identifier: MIT
-- sweep_eval.lua -- the evaluation part of a sweep (docs/sweeps.md,
-- "Evaluating every run"): a sweep config's
--     eval = { episodes = 10, deterministic = true, seed = 0 }
-- has each run's job evaluate the run's policy with scripts/eval.lua after
-- training (train.lua && eval.lua, one job), and records the evaluation's
-- mean return in sweep.json. A run whose training is done but whose
-- DIR/eval.json is missing, or was made with other settings, is evaluated
-- again without training again (resumable like the runs).
local json = require("json")
local util = require("util")

local M = {}

local KEYS = { episodes = true, deterministic = true, seed = true }

-- The config's eval table checked and normalised, or nil when absent.
function M.check(e)
  if e == nil or e == false then return nil end
  if e == true then e = {} end
  if type(e) ~= "table" then error("config.eval must be a table {episodes=, deterministic=, seed=}, got " .. type(e), 0) end
  for k in pairs(e) do
    if not KEYS[k] then
      error(string.format("config.eval: unknown key '%s' (known: deterministic, episodes, seed)", tostring(k)), 0)
    end
  end
  local n = e.episodes == nil and 10 or math.tointeger(e.episodes)
  if not n or n < 1 or n > 10000 then
    error("config.eval.episodes must be an integer in 1..10000, got " .. tostring(e.episodes), 0)
  end
  local s = e.seed == nil and 0 or math.tointeger(e.seed)
  if not s or s < 0 then error("config.eval.seed must be an integer >= 0, got " .. tostring(e.seed), 0) end
  if e.deterministic ~= nil and type(e.deterministic) ~= "boolean" then
    error("config.eval.deterministic must be true or false, got " .. tostring(e.deterministic), 0)
  end
  return { episodes = n, deterministic = e.deterministic == true, seed = s }
end

-- eval.lua's arguments (after the script) for a run's folder.
function M.args(ev, dir)
  local a = { dir, "--episodes=" .. ev.episodes, "--seed=" .. ev.seed }
  if ev.deterministic then a[#a + 1] = "--deterministic" end
  return a
end

-- The run's eval.json when it was made with these settings, else nil and why.
function M.read(ev, dir)
  local text = util.read(dir .. "/eval.json")
  if not text then return nil, "no eval.json" end
  local r = json.decode(text)
  if type(r) ~= "table" or type(r.mean_return) ~= "number" then return nil, "eval.json has no mean_return" end
  if r.episodes ~= ev.episodes or r.seed ~= ev.seed or r.deterministic ~= ev.deterministic then
    return nil, "eval.json was made with other settings"
  end
  return r
end

-- report.md's evaluation table of one env and algo (with eval in the
-- config): per variant, over its done runs, the mean, sd, IQM and its 95%
-- bootstrap CI of the runs' evaluation mean returns. w writes a line; fmt
-- formats a number; boot is the bootstrap's options.
function M.report(w, cfg, runs, env, algo, applies, fmt, boot)
  local lpdm = require("lpdm")
  w(string.format("Evaluation (%d episodes per run, %s, seeds 1,000,000 + %d * 10,000 + i: docs/policy.md), the runs'",
    cfg.eval.episodes, cfg.eval.deterministic and "deterministic" or "stochastic", cfg.eval.seed))
  w("mean evaluation returns:")
  w()
  w("| variant | runs | mean | sd | IQM [95% CI] |")
  w("|---|---|---|---|---|")
  for _, v in ipairs(cfg.variants) do
    if applies(v, algo) then
      local x = {}
      for _, r in ipairs(runs) do
        if r.env == env and r.algo == algo and r.variant == v.name and r.status == "done" and r.eval_mean_return then
          x[#x + 1] = r.eval_mean_return
        end
      end
      if #x == 0 then
        w(string.format("| %s | 0 | - | - | - |", v.name))
      else
        local a = lpdm.stats.across(x)
        local iqm, lo, hi = lpdm.stats.iqm_ci(x, boot)
        w(string.format("| %s | %d | %s | %s | %s [%s, %s] |", v.name, #x, fmt(a.mean), fmt(a.sd), fmt(iqm), fmt(lo), fmt(hi)))
      end
    end
  end
  w()
end

return M
