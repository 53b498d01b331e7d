-- SPDX-License-Identifier: MIT
-- test_lua_layer.lua -- the `lua` black-box layer (issue 6; core/lua/lpdm_layer.c):
-- any Lua function from a batch to a batch inside a network. Forward
-- values, both batch shapes, errors that name the layer, lifetimes, and
-- training around it: local mode (REINFORCE, PPO with its worker thread),
-- bp mode refused by name unless straight_through = true.
local lpdm = require("lpdm")
package.path = ((arg and arg[0] or ""):match("^(.*)/[^/]*$") or ".") .. "/lib/?.lua;" .. package.path
local T = require("testlib")

local tests = {}
local function test(name, fn) tests[#tests + 1] = { name = name, fn = fn } end
local check, eq, fails = T.check, T.eq, T.fails
local function map_rows(X, f)
  local Y = {}
  for i, x in ipairs(X) do
    local y = {}
    for j = 1, #x do y[j] = f(x[j]) end
    Y[i] = y
  end
  return Y
end
local function sign(X) return map_rows(X, function(v) return v > 0 and 1 or (v < 0 and -1 or 0) end) end
local function identity(X) return X end

-- ---------------------------------------------------------------- specs
test("lpdm.lua_layer and lpdm.layer('lua') make the same spec", function()
  local a = lpdm.lua_layer{ fn = identity, out = 3, label = "id" }
  local b = lpdm.layer("lua", { 3, fn = identity, label = "id" })
  local c = lpdm.lua_layer(identity, 3)
  for _, s in ipairs({ a, b, c }) do
    eq(s.name, "lua", "name")
    eq(s.config.out, 3, "out")
    check(s.config.fn >= 1, "fn holds the function's id")
  end
  eq(a.config.label, "id", "label")
  check(a.config.fn ~= b.config.fn, "each spec has its own function id")
  local found
  for _, p in ipairs(lpdm.plugins("layer")) do
    if p.name == "lua" then found = p end
  end
  check(found and found.full_name == "layer.lua" and found.origin == "lpdm Lua binding", "listed as layer.lua")
end)

test("specs refuse a missing fn, a non-function fn and unknown keys", function()
  fails(function() lpdm.lua_layer{ out = 2 } end, "layer.lua", "'fn'", "required", "got a nil")
  fails(function() lpdm.layer("lua") end, "'fn'", "required")
  fails(function() lpdm.lua_layer{ fn = 3 } end, "'fn'", "got a number")
  fails(function() lpdm.lua_layer{ fn = identity, outs = 2 } end, "layer.lua", "unknown config key 'outs'", "flat")
  fails(function() lpdm.lua_layer{ fn = identity, out = "x" } end, "out")
end)

-- ---------------------------------------------------------------- forward
test("forward: the function's output is the layer's, rows in and out", function()
  local seen = {}
  local f = function(X, B, d)
    seen.B, seen.d, seen.rows, seen.width = B, d, #X, #X[1]
    return map_rows(X, function(v) return 2 * v + 1 end)
  end
  local net = lpdm.net{ inputs = 3, lpdm.lua_layer{ fn = f } }
  local y = net:forward{ { 1, 2, 3 }, { -1, 0, 0.5 } }
  eq(#y, 2, "rows")
  eq(y[1][1], 3, "y11")
  eq(y[1][3], 7, "y13")
  eq(y[2][1], -1, "y21")
  eq(y[2][3], 2, "y23")
  check(seen.B == 2 and seen.d == 3 and seen.rows == 2 and seen.width == 3, "fn got B = 2 rows of d = 3")
  local r = net:forward{ 1, 1, 1 }
  check(#r == 3 and r[1] == 3, "a single row goes through as a batch of one")
  eq(net:layer(1).trainable, false, "a lua layer is not trainable")
end)

test("forward: dense -> lua -> dense equals the three applied one by one", function()
  local d1 = lpdm.dense{ 5, act = "tanh" }
  local d2 = lpdm.dense{ 2, act = "identity" }
  local whole = lpdm.net{ inputs = 3, d1, lpdm.lua_layer{ fn = sign }, d2, seed = 7 }
  local X = { { 0.3, -1, 2 }, { 1, 1, -0.5 }, { -2, 0.1, 0.7 } }
  -- the same weights: a net of the first layer alone, seeded alike, then sign, then
  -- the second layer's weights read back from the whole net
  local first = lpdm.net{ inputs = 3, d1, seed = 7 }
  local H = sign(first:forward(X))
  local p = whole:layer(3).params
  local W, b = p[1].values, p[2].values
  local Y = whole:forward(X)
  for i = 1, #X do
    for k = 1, 2 do
      local z = b[k]
      for j = 1, 5 do z = z + H[i][j] * W[(j - 1) * 2 + k] end
      check(math.abs(Y[i][k] - z) < 1e-5, string.format("Y[%d][%d] = %g, expected %g", i, k, Y[i][k], z))
    end
  end
end)

test("flat = true passes one flat array; either shape may come back; out may differ", function()
  local got
  local dup = function(x, B, d) -- out = 2d: each row followed by its square
    got = { n = #x, B = B, d = d, first = type(x[1]) }
    local y = {}
    for i = 0, B - 1 do
      for j = 1, d do
        y[i * 2 * d + j] = x[i * d + j]
        y[i * 2 * d + d + j] = x[i * d + j] ^ 2
      end
    end
    return y
  end
  local net = lpdm.net{ inputs = 2, lpdm.lua_layer{ fn = dup, out = 4, flat = true } }
  local y = net:forward{ { 1, 2 }, { 3, -4 } }
  check(got.n == 4 and got.B == 2 and got.d == 2 and got.first == "number", "fn got a flat array of 4")
  eq(net.outputs, 4, "outputs")
  check(y[2][1] == 3 and y[2][2] == -4 and y[2][3] == 9 and y[2][4] == 16, "second row")
  local rows_back = lpdm.net{ inputs = 2, lpdm.lua_layer{ fn = function(x, B, d) return { { x[1], x[2] } } end, flat = true } }
  eq(rows_back:forward{ 5, 6 }[2], 6, "rows returned from a flat input")
end)

-- ---------------------------------------------------------------- errors
test("an error raised in fn names the layer, keeps the message, and the net still works", function()
  local calls = 0
  local f = function(X)
    calls = calls + 1
    if calls == 1 then error("boom in my op") end
    return X
  end
  local net = lpdm.net{ inputs = 2, lpdm.dense{ 2 }, lpdm.lua_layer{ fn = f, label = "myop" } }
  fails(function() net:forward{ 1, 2 } end, "layer 2 (layer.lua)", "layer.lua 'myop'", "fn raised an error",
    "boom in my op", "test_lua_layer.lua")
  eq(#net:forward{ 1, 2 }, 2, "the next call runs")
  local tbl = lpdm.net{ inputs = 1, lpdm.lua_layer(function() error({}) end) }
  fails(function() tbl:forward{ 1 } end, "layer.lua", "error object is a table value")
  local meta = lpdm.net{ inputs = 1, lpdm.lua_layer(function() error(setmetatable({}, { __tostring = function() return "custom!" end })) end) }
  fails(function() meta:forward{ 1 } end, "custom!")
end)

test("wrong output sizes and values are refused, naming the layer", function()
  local function net_of(f, out, inputs) return lpdm.net{ inputs = inputs or 2, lpdm.lua_layer{ fn = f, out = out, label = "bad" } } end
  local X = { { 1, 2 }, { 3, 4 } }
  fails(function() net_of(function() return { { 1, 2, 3 }, { 4, 5, 6 } } end, 2):forward(X) end,
    "layer 1 (layer.lua)", "'bad'", "3 values in row 1, expected 2 (out)")
  fails(function() net_of(function() return { { 1, 2 } } end, 2):forward(X) end, "1 rows, expected 2")
  fails(function() net_of(function() return { 1, 2, 3 } end, 2):forward(X) end, "3 values, expected 4")
  fails(function() net_of(function() return nil end, 2):forward(X) end, "must return a batch", "got a nil")
  fails(function() net_of(function() return { { 1, "x" }, { 1, 2 } } end, 2):forward(X) end, "string at row 1, column 2")
  fails(function() net_of(function() return { { 1, 0 / 0 }, { 1, 2 } } end, 2):forward(X) end, "row 1, column 2", "not a finite float")
  fails(function() net_of(function() return { { 1, 2 }, { math.huge, 2 } } end, 2):forward(X) end, "row 2, column 1", "not a finite float")
  fails(function() net_of(function() return { { 1, 2 }, { 1e39, 2 } } end, 2):forward(X) end, "not a finite float")
  fails(function() net_of(function() return { { 1, 2 }, 5 } end, 2):forward(X) end, "number as row 2")
end)

test("inside fn nets and runs refuse to be used; yielding is an error", function()
  local net
  net = lpdm.net{ inputs = 2, lpdm.lua_layer(function(X) return net:forward(X) end) }
  fails(function() net:forward{ 1, 2 } end, "layer.lua", "lpdm.Net cannot be used inside a lua layer's function")
  local other = lpdm.net{ inputs = 2, lpdm.dense{ 2 } }
  local closer = lpdm.net{ inputs = 2, lpdm.lua_layer(function(X) other:close() return X end) }
  fails(function() closer:forward{ 1, 2 } end, "cannot be used inside a lua layer's function")
  eq(#other:forward{ 1, 2 }, 2, "the other net was not closed")
  local y = coroutine.wrap(function()
    local n = lpdm.net{ inputs = 2, lpdm.lua_layer(function(X) coroutine.yield() return X end) }
    return select(2, pcall(n.forward, n, { 1, 2 }))
  end)()
  check(tostring(y):find("yield", 1, true), "yield refused: " .. tostring(y))
  local fine = coroutine.wrap(function()
    local n = lpdm.net{ inputs = 2, lpdm.lua_layer(identity) }
    return n:forward{ 1, 2 }
  end)()
  eq(fine[2], 2, "a lua layer runs from inside a coroutine")
end)

test("lifetimes: a net keeps its function after the spec is gone; many specs come and go", function()
  local net = lpdm.net{ inputs = 2, lpdm.lua_layer{ fn = function(X) return map_rows(X, function(v) return -v end) end } }
  collectgarbage()
  collectgarbage()
  eq(net:forward{ 1, 2 }[2], -2, "the function outlives its spec")
  for i = 1, 200 do
    local k = i
    local n = lpdm.net{ inputs = 1, lpdm.lua_layer(function(X) return { { X[1][1] + k } } end) }
    eq(n:forward{ 0 }[1], k, "net " .. i)
    if i % 50 == 0 then collectgarbage() end
  end
  net:close()
  fails(function() net:forward{ 1, 2 } end, "closed lpdm.Net")
  collectgarbage()
end)

-- ---------------------------------------------------------------- training around it
local env = lpdm.env("CartPole-v1")
local function sign_net(extra)
  local cfg = { fn = sign, label = "sign" }
  for k, v in pairs(extra or {}) do cfg[k] = v end
  return lpdm.net{ inputs = 4, lpdm.dense{ 16 }, lpdm.lua_layer(cfg), lpdm.dense{ 16 }, seed = 3 }
end

test("local mode: REINFORCE trains the layers around a lua layer", function()
  local net = sign_net()
  local before = net:layer(3).params[1].values
  local run = lpdm.algo("reinforce", { env = env, policy = net, mode = "local", steps = 3000, seed = 1 })
  local its, l1, l2, l3 = 0, 0, nil, 0
  for it in run:iterations() do
    its = its + 1
    l1 = l1 + it.stats.local_loss_1
    l2 = it.stats.local_loss_2
    l3 = l3 + it.stats.local_loss_3
  end
  run:close()
  check(its >= 5, "ran " .. its .. " iterations")
  check(l1 > 0 and l3 > 0 and l2 == 0, "the dense layers have local losses, the lua layer none")
  local after = net:layer(3).params[1].values
  local moved = 0
  for i = 1, #before do moved = math.max(moved, math.abs(after[i] - before[i])) end
  check(moved > 0, "the layer after the lua layer learned from its output")
end)

test("bp mode refuses a lua layer by name and label when the run is built; straight_through = true passes it", function()
  fails(function() lpdm.algo("reinforce", { env = env, policy = sign_net(), mode = "bp", steps = 2000, seed = 1 }) end,
    "mode bp cannot backpropagate", "layer 2 (lua 'sign')", "straight_through")
  local st = lpdm.algo("reinforce", { env = env, policy = sign_net{ straight_through = true }, mode = "bp",
    steps = 2000, seed = 1 })
  local its = 0
  for _ in st:iterations() do its = its + 1 end
  check(its >= 5, "bp with straight_through ran " .. its .. " iterations")
  fails(function() lpdm.net{ inputs = 4, lpdm.lua_layer{ fn = identity, out = 3, straight_through = true } } end,
    "layer 1 (layer.lua)", "straight_through", "out = the input width (4), got out = 3")
end)

test("PPO with threads = 2: the critic (a clone) and the actor share the Lua state in turns", function()
  local calls = 0
  local net = lpdm.net{ inputs = 4, lpdm.dense{ 8 }, lpdm.lua_layer{ fn = function(X) calls = calls + 1 return X end },
    lpdm.dense{ 8 }, seed = 1 }
  local run = lpdm.algo("ppo", { env = env, policy = net, mode = "local", steps = 1024, num_envs = 1, num_steps = 512,
    threads = 2, seed = 1 })
  local its = 0
  for _ in run:iterations() do its = its + 1 end
  run:close()
  check(its == 2 and calls > 1024, "2 updates, " .. calls .. " calls")
end)

-- ---------------------------------------------------------------- run
T.run_tests(tests)
