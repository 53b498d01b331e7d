-- SPDX-License-Identifier: MIT
-- test_lua_api.lua -- the Lua binding (core/lua/, one file per object family), as TAP.
-- Run by ctest with build/lpdm; also: build/lpdm tests/test_lua_api.lua
local lpdm = require("lpdm")
package.path = ((arg and arg[0] or ""):match("^(.*)/[^/]*$") or ".") .. "/lib/?.lua;" .. package.path
local T = require("testlib")

local tests = {}
local function test(name, fn) tests[#tests + 1] = { name = name, fn = fn } end

local check, eq = T.check, T.eq
local function near(a, b, tol, msg)
  if math.abs(a - b) > (tol or 1e-6) then
    error(string.format("%s: expected %.9g, got %.9g", msg or "near", b, a), 2)
  end
end
local fails = T.fails
local function same_array(a, b, msg)
  eq(#a, #b, (msg or "array") .. " length")
  for i = 1, #a do eq(a[i], b[i], (msg or "array") .. "[" .. i .. "]") end
end

local ENV = "CartPole-v1"
local has = {}
for _, p in ipairs(lpdm.plugins()) do has[p.kind .. "." .. p.name] = true end

-- ---------------------------------------------------------------- module
test("module: version and listings", function()
  check(type(lpdm.version) == "string" and lpdm.version:match("^%d+%.%d+%.%d+"), "version")
  local envs = lpdm.envs()
  check(#envs >= 1, "at least one env")
  for i = 2, #envs do check(envs[i - 1] < envs[i], "envs sorted") end
  check(has["env." .. ENV], ENV .. " is loaded")
end)

test("lpdm.plugins lists at least one of each kind present", function()
  local kinds = { "distance", "loss", "layer", "env", "algo" }
  local all = lpdm.plugins()
  local count = {}
  for _, p in ipairs(all) do
    check(type(p.name) == "string" and type(p.doc) == "string" and type(p.origin) == "string", "fields")
    check(type(p.keys) == "table", "keys table")
    for _, k in ipairs(p.keys) do
      check(type(k.name) == "string" and type(k.type) == "string" and k.default ~= nil, "key fields")
    end
    count[p.kind] = (count[p.kind] or 0) + 1
  end
  for _, k in ipairs(kinds) do
    local list = lpdm.plugins(k)
    eq(#list, count[k] or 0, "plugins('" .. k .. "') count")
    for _, p in ipairs(list) do eq(p.kind, k, "kind of " .. p.name) end
  end
  for _, k in ipairs({ "distance", "loss", "layer", "env" }) do
    check((count[k] or 0) >= 1, "at least one " .. k .. " plugin")
  end
  fails(function() lpdm.plugins("nope") end, "bad argument #1", "unknown kind 'nope'")
end)

-- ---------------------------------------------------------------- env
test("env fields, spaces and tostring", function()
  local env = lpdm.env(ENV)
  eq(tostring(env), "lpdm.Env(CartPole-v1)", "tostring")
  eq(env.id, ENV, "id")
  eq(env.obs_dim, 4, "obs_dim")
  eq(env.max_episode_steps, 500, "max_episode_steps")
  eq(env.action_space.kind, "discrete", "action kind")
  eq(env.action_space.n, 2, "action n")
  local os_ = env.observation_space
  eq(os_.kind, "box", "obs kind")
  eq(os_.shape[1], 4, "obs shape")
  eq(#os_.low, 4, "low")
  eq(os_.high[2], math.huge, "unbounded velocity")
  local e2 = lpdm.env(ENV, { max_episode_steps = 7 })
  eq(e2.max_episode_steps, 7, "config reaches the env")
end)

test("env reset/step/state/set_state round trip", function()
  local env = lpdm.env(ENV)
  local o1 = env:reset { seed = 3 }
  eq(#o1, 4, "obs length")
  for i = 1, 4 do check(math.abs(o1[i]) <= 0.05, "start state in [-0.05, 0.05]") end
  same_array(env:reset { seed = 3 }, o1, "seeded reset repeats")
  same_array(env:reset(3), o1, "reset(seed) as a number")
  local obs, r, term, trunc = env:step(1)
  eq(#obs, 4, "step obs")
  eq(r, 1.0, "reward")
  eq(term, false, "terminated")
  eq(trunc, false, "truncated")
  local s = env:state()
  eq(#s, 4, "state length")
  local a = { env:step(0) }
  env:set_state(s)
  same_array(env:state(), s, "state after set_state")
  local b = { env:step(0) }
  same_array(b[1], a[1], "same step from the same state")
  eq(b[2], a[2], "same reward")
  fails(function() env:set_state { 1, 2, 3 } end, "bad argument #1 to 'set_state'", "3 values, expected 4")
  check(type(env:render_text()) == "string", "render_text gives a string")
end)

test("wrong argument types give Lua's standard messages", function()
  local env = lpdm.env(ENV)
  env:reset { seed = 1 }
  fails(function() env:step({ 1 }) end, "bad argument #1 to 'step' (number expected, got table)")
  fails(function() env:step() end, "bad argument #1 to 'step' (number expected, got no value)")
  fails(function() env:reset("x") end, "bad argument #1 to 'reset'")
  fails(function() env.step(42, 1) end, "bad argument #1 to 'step' (lpdm.Env expected, got number)")
  fails(function() lpdm.env({}) end, "bad argument #1 to", "(string expected, got table)")
  local net = lpdm.net { inputs = 4, lpdm.dense { 3 } }
  fails(function() net:forward("x") end, "bad argument #1 to 'forward' (table expected, got string)")
  fails(function() net:forward { 1, 2, 3 } end, "bad argument #1 to 'forward'", "3 values, expected 4")
  fails(function() net.forward(env, { 1, 2, 3, 4 }) end, "lpdm.Net expected, got lpdm.Env")
end)

test("action out of range: error naming the env, state unchanged", function()
  local env = lpdm.env(ENV)
  env:reset { seed = 5 }
  env:step(1)
  local before = env:state()
  fails(function() env:step(2) end, ENV, "out of range")
  fails(function() env:step(-1) end, ENV)
  fails(function() env:step(0.5) end, ENV)
  fails(function() env:step(0 / 0) end, ENV)
  same_array(env:state(), before, "state unchanged")
  local obs = env:step(0)
  eq(#obs, 4, "env still usable")
end)

test("unknown env lists the known ids", function()
  fails(function() lpdm.env("Nope-v0") end, "unknown env 'Nope-v0'", ENV)
end)

test("unknown config keys are named", function()
  fails(function() lpdm.env(ENV, { bogus_key = 1 }) end, "unknown config key 'bogus_key'", "max_episode_steps")
  fails(function() lpdm.env(ENV, { max_episode_steps = 1.5 }) end, "max_episode_steps")
  fails(function() lpdm.dense { 64, actv = "relu" } end, "'actv'")
  fails(function() lpdm.layer("dense", { out = {} }) end, "'out'")
  fails(function() lpdm.net { inputs = 4, widht = 3 } end, "unknown key 'widht'")
  fails(function() lpdm.loss("guided", { alpah = 1 }) end, "'alpah'")
end)

test("closed env says so", function()
  local env = lpdm.env(ENV)
  env:close()
  eq(tostring(env), "lpdm.Env(closed)", "tostring")
  fails(function() env:reset() end, "attempt to use a closed lpdm.Env")
  fails(function() return env.obs_dim end, "attempt to use a closed lpdm.Env")
  fails(function() env:close() end, "attempt to use a closed lpdm.Env")
  do
    local e <close> = lpdm.env(ENV)
    e:reset()
  end
end)

-- ---------------------------------------------------------------- nets
test("net forward shapes", function()
  local net = lpdm.net { inputs = 4, lpdm.dense { 8 }, lpdm.dense { 3, act = "identity" }, seed = 2 }
  eq(net.inputs, 4, "inputs")
  eq(net.outputs, 3, "outputs")
  eq(net.depth, 2, "depth")
  local y = net:forward { 0.1, 0.2, 0.3, 0.4 }
  eq(#y, 3, "single row out")
  check(type(y[1]) == "number", "numbers")
  local Y = net:forward { { 0.1, 0.2, 0.3, 0.4 }, { 0, 0, 0, 0 }, { 1, 1, 1, 1 } }
  eq(#Y, 3, "batch rows")
  for i = 1, 3 do eq(#Y[i], 3, "row width") end
  for j = 1, 3 do near(Y[1][j], y[j], 1e-6, "row 1 equals the single row") end
  local net2 = lpdm.net { inputs = 4, lpdm.dense { 8 }, lpdm.dense { 3, act = "identity" }, seed = 2 }
  local y2 = net2:forward { 0.1, 0.2, 0.3, 0.4 }
  for j = 1, 3 do eq(y2[j], y[j], "same seed, same net") end
  local id = lpdm.net { inputs = 2 }
  same_array(id:forward { 1, 2 }, { 1, 2 }, "no layers: identity")
  check(tostring(net):find("^lpdm%.Net%("), "tostring")
end)

test("widths chain in lpdm.net", function()
  local net = lpdm.net { inputs = 4, lpdm.dense { 8 }, lpdm.dense { 5 }, lpdm.layer("dense", { out = 2 }) }
  local dims = { { 4, 8 }, { 8, 5 }, { 5, 2 } }
  for i, d in ipairs(dims) do
    local l = net:layer(i)
    eq(l.name, "dense", "layer name")
    eq(l.in_dim, d[1], "in_dim of layer " .. i)
    eq(l.out_dim, d[2], "out_dim of layer " .. i)
    eq(l.params[1].rows * l.params[1].cols, l.params[1].n, "param shape")
  end
  eq(net:params(), 4 * 8 + 8 + 8 * 5 + 5 + 5 * 2 + 2, "param count")
  fails(function() net:layer(4) end, "bad argument #1 to 'layer'")
end)

test("per-layer and per-net optimizer settings", function()
  local net = lpdm.net { inputs = 3, lpdm.dense { 4, lr = 0.01, optimizer = "sgd" }, lpdm.dense { 2 }, lr = 0.002 }
  near(net:layer(1).lr, 0.01, 1e-12, "layer lr")
  eq(net:layer(1).optimizer, "sgd", "layer optimizer")
  near(net:layer(2).lr, 0.002, 1e-12, "net lr")
  net:set_lr(2, 0.5)
  near(net:layer(2).lr, 0.5, 1e-12, "set_lr(i)")
  net:set_lr(nil, 0.25)
  near(net:layer(1).lr, 0.25, 1e-12, "set_lr(nil)")
  fails(function() lpdm.dense { 4, optimizer = "rmsprop" } end, "unknown optimizer 'rmsprop'")
  fails(function() lpdm.net { inputs = 3, 42 } end, "bad argument #1", "expected lpdm.LayerSpec")
end)

-- ---------------------------------------------------------------- distance, loss
test("distance pairwise of two points is their distance", function()
  local d = lpdm.distance("euclidean")
  local D = d:pairwise { { 0, 0 }, { 3, 4 } }
  eq(#D, 2, "rows")
  near(D[1][2], 5, 1e-5, "d(x1, x2)")
  near(D[2][1], 5, 1e-5, "symmetric")
  eq(D[1][1], 0, "zero diagonal")
end)

test("loss eval returns L and dDY", function()
  local l = lpdm.loss("guided", { alpha = 0.5 })
  local DX = { { 0, 1, 2 }, { 1, 0, 1 }, { 2, 1, 0 } }
  local L, dDY = l:eval(DX, DX, { 0, 1, 2 })
  check(type(L) == "number" and L >= 0, "loss value")
  eq(#dDY, 3, "gradient rows")
  fails(function() l:eval(DX, DX) end, "guidance")
  fails(function() l:eval(DX, { { 0, 1 }, { 1, 0 } }, { 0, 1, 2 }) end, "bad argument #2 to 'eval'")
end)

-- ---------------------------------------------------------------- algorithms
test("algo: a short run, iterate/iterations/act", function()
  if not has["algo.reinforce"] then return "skip", "algo.reinforce not loaded" end
  local env = lpdm.env(ENV)
  local policy = lpdm.net { inputs = env.obs_dim, lpdm.dense { 16 }, seed = 1 }
  fails(function() lpdm.algo("reinforce", { env = env, policy = policy, bogus = 1 }) end,
    "algo.reinforce", "'bogus'", "known:")
  fails(function() lpdm.algo("reinforce", { env = env }) end, "'policy'")
  fails(function() lpdm.algo("nope", { env = env, policy = policy }) end, "unknown algo 'nope'")
  local run = lpdm.algo("reinforce", { env = env, policy = policy, mode = "local", seed = 1, steps = 1500,
    loss = { "guided", alpha = 0.3 } })
  check(tostring(run):find("^lpdm%.Run%("), "tostring")
  fails(function() policy:close() end, "open lpdm.Run")
  local it = run:iterate()
  eq(it.iteration, 1, "iteration")
  check(#it.episodes >= 1, "an episode per iteration")
  local ep = it.episodes[1]
  check(ep.ret > 0 and ep.length > 0 and ep.global_step >= ep.length, "episode fields")
  eq(it.global_step, it.episodes[#it.episodes].global_step, "global step")
  check(type(it.stats) == "table", "stats")
  local n, last = 0, it.global_step
  for x in run:iterations() do
    n = n + 1
    check(x.global_step >= last, "global step grows")
    last = x.global_step
  end
  check(n >= 1 and last <= 1500, "iterations end within the budget")
  eq(run:iterate(), nil, "done stays done")
  local a = run:act(env:reset { seed = 1 })
  check(a == 0 or a == 1, "act gives a valid action")
  run:close()
  fails(function() run:iterate() end, "attempt to use a closed lpdm.Run")
  policy:close()
end)

test("net: large_batches sets the row-blocked path, checked and refused by name", function()
  fails(function() lpdm.net { inputs = 4, lpdm.dense { 8 }, large_batches = 3 } end, "'large_batches' must be a table")
  fails(function() lpdm.net { inputs = 4, lpdm.dense { 8 }, large_batches = { rows = 3 } } end,
    "large_batches: unknown key 'rows'")
  fails(function() lpdm.net { inputs = 4, lpdm.dense { 8 }, large_batches = { block = 0 } } end,
    "large_batches.block must be an integer >= 1")
  fails(function() lpdm.net { inputs = 4, lpdm.dense { 8 }, large_batches = { blocked = 1 } } end,
    "large_batches.blocked must be a boolean")
  if not has["algo.reinforce"] then return "skip", "algo.reinforce not loaded" end
  -- blocked rows of 16 through a whole run: it trains and ends like any run
  local env = lpdm.env(ENV)
  local net = lpdm.net { inputs = env.obs_dim, lpdm.dense { 16 }, seed = 1,
    large_batches = { blocked = true, block = 16 } }
  local run = lpdm.algo("reinforce", { env = env, policy = net, mode = "local", steps = 2000 })
  local n = 0
  for _ in run:iterations() do n = n + 1 end
  check(n >= 1, "a blocked run iterates")
  run:close()
  -- a budget of 1 MiB and a loss without row callbacks: refused, naming the loss
  local small = lpdm.net { inputs = env.obs_dim, lpdm.dense { 16 }, seed = 1, large_batches = { budget_mib = 1 } }
  local r2 = lpdm.algo("reinforce", { env = lpdm.env(ENV), policy = small, mode = "local", steps = 200000,
    loss = "kruskal", episodes_per_update = 40 })
  fails(function() for _ in r2:iterations() do end end, "loss.kruskal", "budget")
end)

-- ---------------------------------------------------------------- run
T.run_tests(tests, nil, true) -- closing the state runs every finalizer
