-- SPDX-License-Identifier: MIT
-- test_lua_acts.lua -- the activations of layer.dense and layer.conv2d as a
-- user meets them: lpdm.dense{act = ...} (with alpha and negative_slope),
-- lpdm.layer("conv2d", {act = ...}), and scripts/train.lua --act=...
-- (tests/test_acts.c checks the numerics). Run by ctest as
-- build/lpdm tests/test_lua_acts.lua.
--
--   * each name builds a dense and a conv2d net, and a dense 1 -> 1 with
--     W = +-1 (init = "orthogonal"), b = 0 computes its definition;
--   * alpha and negative_slope change elu and leaky_relu, and are refused
--     with another act; an unknown act is refused naming it;
--   * train.lua --act=gelu (PPO, local, the kept pre-activation) and
--     --act=silu (PPO, bp) killed by SIGKILL and resumed from their
--     checkpoints write the progress.csv of the uninterrupted run: the
--     kept pre-activation is no state;
--   * train.lua --act=swish fails naming it and listing the names.

local lpdm = require("lpdm")
local LPDM = arg and arg[-1]
local HERE = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local TRAIN = HERE .. "/../scripts/train.lua"
package.path = HERE .. "/lib/?.lua;" .. package.path
local T = require("testlib")
local q, check, read, fails = T.q, T.check, T.read, T.fails
local TMP = T.tmpdir()

local tests = {}
local function test(name, fn) tests[#tests + 1] = { name = name, fn = fn } end

local function sig(x) return 1 / (1 + math.exp(-x)) end
local function erf(x) -- in double: its Taylor series below 3, erfc's continued fraction above
  local ax = math.abs(x)
  if ax < 3 then
    local s, term, n = 0, ax, 0
    repeat
      s = s + term / (2 * n + 1)
      n = n + 1
      term = -term * ax * ax / n
    until math.abs(term) <= 1e-17 * math.abs(s) or n > 200
    return (x < 0 and -1 or 1) * 2 / math.sqrt(math.pi) * s
  end
  -- erfc by its continued fraction (Lentz), ax >= 3
  local tiny, f = 1e-300, ax
  local C, D = ax, 0
  for k = 1, 200 do
    local a = k / 2
    D = ax + a * D
    D = 1 / (math.abs(D) < tiny and tiny or D)
    C = ax + a / C
    local d = C * D
    f = f * d
    if math.abs(d - 1) < 1e-16 then break end
  end
  local erfc = math.exp(-ax * ax) / (f * math.sqrt(math.pi))
  return (x < 0 and -1 or 1) * (1 - erfc)
end
local DEF = {
  sigmoid = function(x) return sig(x) end,
  elu = function(x, o) return x > 0 and x or (o.alpha or 1) * (math.exp(x) - 1) end,
  gelu = function(x) return 0.5 * x * (1 + erf(x / math.sqrt(2))) end,
  silu = function(x) return x * sig(x) end,
  leaky_relu = function(x, o) return x > 0 and x or (o.negative_slope or 0.01) * x end,
  softplus = function(x) return x > 20 and x or math.log(1 + math.exp(x)) end,
}
local NAMES = { "sigmoid", "elu", "gelu", "silu", "leaky_relu", "softplus" }
local XS = { -30, -6, -2, -0.5, -0.01, 0, 0.01, 0.5, 2, 6, 19.5, 25 }

-- y = act(s x) for each x of XS, s = +-1 the weight that orthogonal init
-- draws for a 1 x 1 matrix (the same for every act: seed 1)
local function outputs(spec)
  local s = lpdm.net { inputs = 1, seed = 1, lpdm.dense { 1, act = "identity", init = "orthogonal" } }:forward({ 1 })[1]
  spec[1] = 1
  spec.init = "orthogonal"
  local net = lpdm.net { inputs = 1, seed = 1, lpdm.dense(spec) }
  local rows = {}
  for i, x in ipairs(XS) do rows[i] = { x } end
  local y = net:forward(rows)
  return y, s
end

test("each activation builds dense and conv2d nets, and a dense 1 -> 1 computes its definition", function()
  for _, a in ipairs(NAMES) do
    local net = lpdm.net { inputs = 2 * 4 * 4, seed = 2,
      lpdm.layer("conv2d", { in_channels = 2, height = 4, width = 4, out_channels = 3, padding = 1, act = a }),
      lpdm.layer("flatten"), lpdm.dense { 8, act = a } }
    local row = {}
    for i = 1, 32 do row[i] = math.sin(i) end
    local out = net:forward(row)
    check(#out == 8, a .. ": 8 outputs")
    for _, v in ipairs(out) do check(v == v and math.abs(v) < 1e30, a .. ": finite output") end
    local y, s = outputs { act = a }
    for i, x in ipairs(XS) do
      local want = DEF[a](s * x, {})
      check(math.abs(y[i][1] - want) <= 1e-6 * math.abs(want) + 1e-12,
        string.format("%s(%g) = %.9g, want %.9g", a, s * x, y[i][1], want))
    end
  end
end)

test("alpha (elu) and negative_slope (leaky_relu) are used, and refused with another act", function()
  for _, o in ipairs({ { act = "elu", alpha = 0.5 }, { act = "elu", alpha = 2 },
    { act = "leaky_relu", negative_slope = 0.2 }, { act = "leaky_relu", negative_slope = 0 } }) do
    local y, s = outputs { act = o.act, alpha = o.alpha, negative_slope = o.negative_slope }
    for i, x in ipairs(XS) do
      local want = DEF[o.act](s * x, o)
      check(math.abs(y[i][1] - want) <= 1e-6 * math.abs(want) + 1e-12,
        string.format("%s(%g) with %s = %.9g, want %.9g", o.act, s * x, o.alpha and "alpha" or "negative_slope",
          y[i][1], want))
    end
  end
  fails(function() lpdm.net { inputs = 2, lpdm.dense { 3, act = "tanh", alpha = 0.5 } } end, "alpha = 0.5", "elu",
    "'tanh'")
  fails(function() lpdm.net { inputs = 2, lpdm.dense { 3, act = "relu", negative_slope = 0.1 } } end, "negative_slope",
    "leaky_relu")
  fails(function() lpdm.net { inputs = 2, lpdm.dense { 3, act = "elu", alpha = -1 } } end, "alpha", "> 0")
  fails(function() lpdm.net { inputs = 2, lpdm.dense { 3, act = "swish" } } end, "unknown act 'swish'", "silu")
end)

-- killed by SIGKILL after update 6 and resumed: progress.csv must be the
-- uninterrupted run's bytes (testlib's kill_and_resume)
local function kill_and_resume(name, flags) T.kill_and_resume(LPDM, TRAIN, TMP, name, flags) end

test("train.lua --act=gelu (PPO local) and --act=silu (PPO bp), killed and resumed, write the same progress.csv",
  function()
    kill_and_resume("gelu-local", { "--algo=ppo", "--mode=local", "--env=CartPole-v1", "--seed=6", "--steps=12288",
      "--act=gelu" })
    kill_and_resume("silu-bp", { "--algo=ppo", "--mode=bp", "--env=CartPole-v1", "--seed=3", "--steps=12288",
      "--act=silu" })
  end)

test("train.lua --act=swish fails naming it and listing the activations", function()
  local out, rc, cmd = T.sh(string.format("OPENBLAS_NUM_THREADS=1 %s %s --act=swish --steps=100 --quiet --out=%s",
    q(LPDM), q(TRAIN), q(TMP .. "/swish")))
  check(rc >= 1 and rc < 128, "exit status " .. rc .. " (" .. cmd .. ")")
  for _, s in ipairs({ "swish", "sigmoid", "gelu", "leaky_relu", "softplus" }) do
    check(out:find(s, 1, true), "the message lacks '" .. s .. "': " .. out)
  end
end)

T.run_tests(tests, TMP)
