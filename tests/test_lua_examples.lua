-- SPDX-License-Identifier: MIT
-- test_lua_examples.lua -- the scripts of scripts/examples/ (issue 6) run
-- to their end with small budgets, their output swallowed: a smoke test so
-- that they follow the API. (What they show is read by people, not here.)
local lpdm = require("lpdm")

-- ctest sets LPDM_TEST_DATA=<source>/tests/data; by hand, run from the source dir
local data = os.getenv("LPDM_TEST_DATA")
local dir = data and (data:gsub("/tests/data/?$", "") .. "/scripts/examples/") or "scripts/examples/"
local has = {}
for _, p in ipairs(lpdm.plugins()) do has[p.kind .. "." .. p.name] = true end

local runs = {
  { "new_distance.lua", { "--steps=3000", "--hidden=8" } },
  { "blackbox_local.lua", { "--steps=3000" }, need = "layer.sign" },
  { "lua_layer.lua", { "--steps=3000" } },
  { "lua_layer.lua", { "--steps=2000", "--flat=true" } },
  { "per_layer_lr.lua", { "--steps=2000" } },
  { "minatar_conv.lua", { "--steps=1024", "--mode=bp", "--random=20" }, need = "env.MinAtar/Breakout-v1" },
  { "minatar_conv.lua", { "--steps=1024", "--mode=local", "--random=20" }, need = "env.MinAtar/Breakout-v1" },
}
print("1.." .. #runs)
local failed = 0
for i, r in ipairs(runs) do
  local name = r[1] .. " " .. table.concat(r[2], " ")
  if r.need and not has[r.need] then
    print(string.format("ok %d # SKIP %s: no %s plugin", i, name, r.need))
  else
    local lines = 0
    local env = setmetatable({ arg = r[2], print = function() lines = lines + 1 end }, { __index = _G })
    r[2][0] = dir .. r[1]
    local chunk, err = loadfile(dir .. r[1], "t", env)
    local ok = chunk ~= nil
    if ok then ok, err = pcall(chunk, table.unpack(r[2])) end
    ok = ok and lines > 3
    print(string.format("%s %d - %s (%d lines printed)", ok and "ok" or "not ok", i, name, lines))
    if not ok then
      failed = failed + 1
      print("# " .. tostring(err))
    end
  end
end
os.exit(failed == 0 and 0 or 1)
