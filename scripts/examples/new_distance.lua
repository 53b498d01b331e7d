-- SPDX-License-Identifier: MIT
-- new_distance.lua -- a new distance in a local-mode run: the out-of-tree
-- plugin of examples/plugin-distance (distance.minkowski), or any distance
-- lpdm has loaded, beside the Euclidean distance on the same seed.
--
-- Build the plugin against an installed lpdm and point lpdm at it:
--   cmake --install build --prefix /tmp/lpdm
--   cmake -S examples/plugin-distance -B /tmp/mk -DCMAKE_PREFIX_PATH=/tmp/lpdm
--   cmake --build /tmp/mk
--   LPDM_PLUGIN_PATH=/tmp/mk build/lpdm scripts/examples/new_distance.lua --p=3
-- or load the file from the script: --plugin=/tmp/mk/minkowski.so.
-- Without the plugin, --distance=NAME picks any loaded distance (the list is
-- printed); NAME's config keys are given as --key=value (--p=1.5).
--
-- Flags (defaults): --distance=minkowski --plugin= --steps=20000 --seed=1 --hidden=32
--                   --loss=guided  and any --key=value of the distance
local lpdm = require("lpdm")

local opt = { distance = "minkowski", steps = 20000, seed = 1, loss = "guided", hidden = 32 }
local dcfg = {}
for _, a in ipairs(arg) do
  local k, v = a:match("^%-%-([%w_]+)=(.*)$")
  if not k then error("usage: new_distance.lua [--distance=NAME] [--plugin=FILE] [--steps=N] [--seed=N] [--key=value]") end
  if opt[k] ~= nil or k == "plugin" then opt[k] = tonumber(v) or v else dcfg[k] = tonumber(v) or v end
end
if opt.plugin then
  local p = lpdm.load_plugin(opt.plugin)
  print(string.format("loaded %s from %s", p.full_name, p.origin))
end

local known = {}
for _, p in ipairs(lpdm.plugins("distance")) do
  known[p.name] = p
  print(string.format("  distance %-12s %s  (%s)", p.name, p.doc, p.origin))
end
if not known[opt.distance] then
  local alt = known.manhattan and "manhattan" or "euclidean"
  print(string.format("no distance '%s' here (set LPDM_PLUGIN_PATH or --plugin, see the header); using '%s'",
    opt.distance, alt))
  opt.distance = alt
  dcfg = {}
end

-- The matrices of a toy batch: the new distance and the Euclidean one.
local X = { { 0, 0 }, { 3, 4 }, { 1, -1 } }
local function show(name, cfg)
  local d = lpdm.distance(name, cfg)
  local c = {}
  for k, v in pairs(d.config) do c[#c + 1] = k .. "=" .. tostring(v) end
  print(string.format("%s%s of {0,0}, {3,4}, {1,-1}:", name, #c > 0 and " (" .. table.concat(c, ", ") .. ")" or ""))
  for _, row in ipairs(d:pairwise(X)) do
    print(string.format("    %8.4f %8.4f %8.4f", row[1], row[2], row[3]))
  end
end
show(opt.distance, dcfg)
show("euclidean")

-- REINFORCE in local mode with each distance, same net shape and seed.
local env = lpdm.env("CartPole-v1")
local function train(dist)
  local net = lpdm.net{ inputs = env.obs_dim, lpdm.dense{ opt.hidden }, lpdm.dense{ opt.hidden }, seed = opt.seed }
  local run = lpdm.algo("reinforce", { env = env, policy = net, mode = "local", loss = opt.loss,
    distance = dist, steps = opt.steps, seed = opt.seed })
  local rets, t0 = {}, lpdm.clock()
  for it in run:iterations() do
    for _, e in ipairs(it.episodes) do rets[#rets + 1] = e.ret end
  end
  local s, k = 0, math.min(20, #rets)
  for i = #rets - k + 1, #rets do s = s + rets[i] end
  return s / math.max(k, 1), #rets, lpdm.clock() - t0
end
print(string.format("\nREINFORCE, local mode, loss %s, CartPole-v1, %d steps, seed %d:", opt.loss, opt.steps, opt.seed))
local cfg = { opt.distance }
for k, v in pairs(dcfg) do cfg[k] = v end
for _, d in ipairs({ cfg, { "euclidean" } }) do
  local avg, eps, secs = train(d)
  print(string.format("  %-10s last-20 average return %6.1f  (%d episodes, %.1f s)", d[1], avg, eps, secs))
end
