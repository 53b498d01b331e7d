-- SPDX-License-Identifier: MIT
-- tune_best.lua -- a tune's best configurations as a sweep's variants: the
-- sweep config key `tune = "DIR"` (scripts/sweep.lua; docs/sweeps.md and
-- docs/tuning.md, "From a tune to a sweep").
--
-- expand(c) reads DIR/tune.json (DIR relative to the current directory, as
-- --out is; a path ending in .json is the file itself) of a finished tune
-- and returns a copy of the sweep config c without `tune`, where
--   variants = one {name = <tuned variant>, flags = <its best trial's
--              train.lua flags: the tune's flags, the variant's, the
--              trial's>} per tuned variant (sorted by name), then c's own
--              variants, if any;
--   algos    = c.algos, else {the tune's algo};
--   envs     = c.envs, else the tune's envs, with c.steps when given,
--              else the tune's full budget;
--   seeds    = c.seeds (required), which must not hold a seed the tune
--              tuned on: a configuration is evaluated on seeds it was not
--              chosen on.
-- Errors name the file and the fault.
local util = require("util")
local json = require("json")

local M = {}

function M.expand(c)
  local dir = c.tune
  if type(dir) ~= "string" or dir == "" then
    error(string.format("config.tune must be a tune's --out folder (a string), got %s", type(dir)), 0)
  end
  local path = dir:match("%.json$") and dir or (dir:gsub("/+$", "") .. "/tune.json")
  local text = util.read(path)
  if not text then error(string.format("config.tune: cannot read %s (run scripts/tune.lua with --out=%s first)", path, dir), 0) end
  local ok, t = pcall(json.decode, text)
  if not ok or type(t) ~= "table" or type(t.variants) ~= "table" then
    error(string.format("config.tune: %s is not a tune.json written by scripts/tune.lua", path), 0)
  end
  if t.status ~= "finished" then
    error(string.format("config.tune: the tune in %s is not finished (run its scripts/tune.lua command again)", dir), 0)
  end
  local out = {}
  for k, v in pairs(c) do if k ~= "tune" then out[k] = v end end
  local names = {}
  for n in pairs(t.variants) do names[#names + 1] = n end
  table.sort(names)
  local variants = {}
  for _, n in ipairs(names) do
    local b = t.variants[n].best
    if type(b) ~= "table" or type(b.flags) ~= "table" then
      error(string.format("config.tune: variant %s of %s has no best trial (every trial failed?)", n, path), 0)
    end
    local flags = {}
    for k, v in pairs(b.flags) do flags[k] = v end
    variants[#variants + 1] = { name = n, flags = flags }
  end
  if c.variants ~= nil then
    if type(c.variants) ~= "table" then error("variants must be a list, got " .. type(c.variants), 0) end
    for _, v in ipairs(c.variants) do variants[#variants + 1] = v end
  end
  out.variants = variants
  out.algos = c.algos or { t.algo }
  if c.envs == nil then
    local envs = {}
    for i, e in ipairs(t.envs or {}) do envs[i] = { name = e.id, steps = c.steps == nil and t.budget and t.budget.steps or nil } end
    out.envs = envs
  end
  if c.seeds == nil then
    error(string.format("config: seeds is missing (evaluate the tuned configurations on seeds other than the tune's: %s)",
      table.concat(t.seeds or {}, ", ")), 0)
  end
  if type(c.seeds) == "table" then
    local tuned = {}
    for _, s in ipairs(t.seeds or {}) do tuned[s] = true end
    for i, s in ipairs(c.seeds) do
      if tuned[s] then
        error(string.format("seeds[%d]: seed %s was used to tune (%s): evaluate on seeds the tune did not see",
          i, tostring(s), path), 0)
      end
    end
  end
  return out
end

return M
