-- SPDX-License-Identifier: MIT
-- bench_render.lua -- what one image costs next to one env step
-- (docs/rendering.md, Cost): for each env given (default: CartPole-v1,
-- Pendulum-v1, Hopper-v5, Humanoid-v5), the median time of an env step,
-- of env:render() at the natural size, and of the first render of an
-- instance (the MuJoCo envs' OSMesa set-up), and the ratio render / step.
-- A MuJoCo step is frame_skip mj_steps (Hopper: 4); the table divides by
-- it for a per-mj_step figure.
--
--   build/lpdm bench/bench_render.lua [ENV_ID ...]
local lpdm = require("lpdm")

local ids = #arg > 0 and arg or { "CartPole-v1", "Pendulum-v1", "Hopper-v5", "Humanoid-v5" }

local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

local function action(env, i)
  local s = env.action_space
  if s.kind == "discrete" then return i % s.n end
  local a = {}
  for k = 1, s.shape[1] do a[k] = 0.2 * math.sin(i + k) end
  return a
end

print(string.format("%-26s %10s %12s %12s %12s %10s", "env", "size", "step (us)", "mj_step (us)",
  "render (ms)", "first (s)"))
for _, id in ipairs(ids) do
  local env = lpdm.env(id)
  env:reset(1)
  local fs = env.config.frame_skip
  -- steps: 20 rounds of 200 (reset when an episode ends)
  local steps = {}
  for r = 1, 20 do
    local t0 = lpdm.clock()
    for i = 1, 200 do
      local _, _, term, trunc = env:step(action(env, i))
      if term or trunc then env:reset() end
    end
    steps[r] = (lpdm.clock() - t0) / 200
  end
  local t0 = lpdm.clock()
  local ok, err = pcall(env.render, env)
  local first = lpdm.clock() - t0
  if not ok then
    print(string.format("%-26s cannot render: %s", id, tostring(err)))
  else
    local renders = {}
    for r = 1, 15 do
      env:step(action(env, r))
      local t1 = lpdm.clock()
      env:render()
      renders[r] = lpdm.clock() - t1
    end
    local st, rd = median(steps), median(renders)
    print(string.format("%-26s %10s %12.1f %12s %12.2f %10.2f   render = %.0f steps", id,
      env.render_width .. "x" .. env.render_height, st * 1e6,
      fs and string.format("%.1f", st * 1e6 / fs) or "-", rd * 1e3, first, rd / st))
  end
  env:close()
end
