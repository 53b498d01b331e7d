-- SPDX-License-Identifier: MIT
-- lua_layer.lua -- an operation written in Lua, inside a network: a `lua`
-- layer between two dense layers, trained by REINFORCE in local mode on
-- CartPole-v1. The operation here puts every feature vector on the unit
-- sphere (y = x / |x|), a normalisation no plugin provides: try yours by
-- editing `unit`. A lua layer is a black box (no backward): in local mode
-- the next layer learns from its output; bp mode needs straight_through.
--
--   build/lpdm scripts/examples/lua_layer.lua [--steps=100000] [--seed=1] [--flat=false]
--
-- The function gets the batch X (B rows of d numbers) and B and d, and
-- returns B rows of `out` numbers (out defaults to d); with flat = true it
-- gets one flat row-major array of B * d numbers instead (fewer tables:
-- faster) and may return either shape. docs/plugins.md has the details.
local lpdm = require("lpdm")

local opt = { steps = 100000, seed = 1, flat = "false" }
for _, a in ipairs(arg) do
  local k, v = a:match("^%-%-([%w_]+)=(.*)$")
  if not k or opt[k] == nil then error("usage: lua_layer.lua [--steps=N] [--seed=N] [--flat=true|false]") end
  opt[k] = tonumber(v) or v
end
local flat = opt.flat == "true"

local calls, rows = 0, 0
-- y_i = x_i / |x_i|, row by row
local function unit(X, B, d)
  calls, rows = calls + 1, rows + B
  local Y = {}
  if flat then
    for i = 0, B - 1 do
      local s = 0
      for j = 1, d do s = s + X[i * d + j] ^ 2 end
      s = s > 0 and 1 / math.sqrt(s) or 0
      for j = 1, d do Y[i * d + j] = X[i * d + j] * s end
    end
  else
    for i, x in ipairs(X) do
      local s = 0
      for j = 1, d do s = s + x[j] ^ 2 end
      s = s > 0 and 1 / math.sqrt(s) or 0
      local y = {}
      for j = 1, d do y[j] = x[j] * s end
      Y[i] = y
    end
  end
  return Y
end

local env = lpdm.env("CartPole-v1")
local spec = lpdm.lua_layer{ fn = unit, flat = flat, label = "unit" }
print(tostring(spec))
local net = lpdm.net{ inputs = env.obs_dim, lpdm.dense{ 64 }, spec, lpdm.dense{ 64 }, seed = opt.seed }
print(tostring(net))

-- What it does to a batch: the rows leave the lua layer with norm 1.
local probe = lpdm.net{ inputs = env.obs_dim, lpdm.dense{ 64 }, spec, seed = opt.seed }
for i, y in ipairs(probe:forward{ { 0.1, 0, -0.2, 0.3 }, { 1, 2, 3, 4 } }) do
  local s = 0
  for j = 1, #y do s = s + y[j] ^ 2 end
  print(string.format("  row %d after the lua layer: %d values, norm %.6f", i, #y, math.sqrt(s)))
end

print(string.format("\nREINFORCE, local mode, seed %d, %d steps, %s batches:", opt.seed, opt.steps,
  flat and "flat" or "row-table"))
local run = lpdm.algo("reinforce", { env = env, policy = net, mode = "local", steps = opt.steps, seed = opt.seed })
local rets, t0 = {}, lpdm.clock()
for it in run:iterations() do
  for _, e in ipairs(it.episodes) do rets[#rets + 1] = e.ret end
end
run:close()
local s, k = 0, math.min(20, #rets)
for i = #rets - k + 1, #rets do s = s + rets[i] end
print(string.format("  %d episodes, last-20 average return %.1f, %.1f s; the function ran %d times on %d rows",
  #rets, s / math.max(k, 1), lpdm.clock() - t0, calls, rows))

-- Mistakes are errors that name the layer (never a crash).
print("\nErrors name the layer:")
local function try(what, f, out)
  local bad = lpdm.net{ inputs = 2, lpdm.lua_layer{ fn = f, out = out, label = what } }
  local ok, err = pcall(bad.forward, bad, { { 1, 2 } })
  print("  " .. (ok and "no error?" or tostring(err)))
end
try("raises", function() error("my op failed") end)
try("too wide", function(X) return { { 1, 2, 3 } } end, 2)
try("NaN", function(X) return { { 0 / 0, 1 } } end)
