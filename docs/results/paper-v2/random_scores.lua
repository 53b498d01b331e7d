-- SPDX-License-Identifier: MIT
-- random_scores.lua -- the random policy's score per env for the second
-- edition's normalisation (docs/results/paper-v2/protocol.md): the mean
-- return of 100 episodes of uniformly random actions, episode i on env seed
-- 1,000,000 + i (the evaluation's seeds, docs/policy.md), actions drawn
-- from Lua's generator seeded with 0 for each env (so an env's score does
-- not depend on which envs ran before it). Prints one line per env:
--   build/lpdm docs/results/paper-v2/random_scores.lua [ENV ...] > random_scores.txt
local lpdm = require("lpdm")
local ids = #arg > 0 and arg or lpdm.envs()
for _, id in ipairs(ids) do
  math.randomseed(0)
  local env = lpdm.env(id)
  local sp = env.action_space
  local sum, n = 0, 100
  for i = 0, n - 1 do
    env:reset(1000000 + i)
    local ret, done = 0, false
    while not done do
      local a
      if sp.kind == "discrete" then
        a = math.random(0, sp.n - 1)
      else
        a = {}
        for j = 1, sp.shape[1] do a[j] = sp.low[j] + (sp.high[j] - sp.low[j]) * math.random() end
      end
      local _, r, term, trunc = env:step(a)
      ret = ret + r
      done = term or trunc
    end
    sum = sum + ret
  end
  print(string.format("%-28s %12.3f", id, sum / n))
  env:close()
end
