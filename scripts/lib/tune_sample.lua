-- SPDX-License-Identifier: MIT
-- tune_sample.lua -- the samplers of scripts/lib/tune.lua: where a trial's
-- configuration comes from. Pure functions of their arguments (no global
-- random state, no clock), so a tune is reproducible from its seed.
--
--   hash(seed, ...)          a 64-bit integer from integers and strings (splitmix64)
--   u01(seed, ...)           a uniform number in [0, 1) from the same
--   rng(seed, ...)           a stream: r:uniform() in [0, 1), r:normal()
--   halton(i, d)             coordinate d (1, 2, ...) of Halton point i: the
--                            radical inverse of i in the d-th prime base
--   sobol(i, d)              coordinate d of Sobol point i (gray-code order,
--                            Joe & Kuo's direction numbers, 21 dimensions)
--   map(dim, u)              u in [0, 1) -> a value of the space dim
--   point(cfg, dims, id)     trial id's unit point under cfg.sampler
--                            ("random", "halton", "sobol"; and cfg.tpe.startup
--                            for "tpe"'s first trials)
--   tpe(cfg, dims, id, obs)  a TPE proposal from observations obs =
--                            {{config = {...}, value = x}, ...}
--
-- The formulas are the papers' (Halton 1960; Sobol 1967 with the direction
-- numbers of Joe & Kuo 2008, file new-joe-kuo-6.21201; Bergstra et al.
-- 2011 for TPE); docs/tuning.md states them.
local M = {}

-- ---------------------------------------------------------------- hashing

local GOLDEN = 0x9e3779b97f4a7c15 -- wraps to a negative integer: Lua 5.4 integers are 64-bit two's complement

-- splitmix64's finaliser: a bijection of 64-bit integers that mixes every bit.
local function mix(z)
  z = (z ~ (z >> 30)) * 0xbf58476d1ce4e5b9
  z = (z ~ (z >> 27)) * 0x94d049bb133111eb
  return z ~ (z >> 31)
end

-- FNV-1a over the bytes of s.
local function str_hash(s)
  local h = 0xcbf29ce484222325
  for i = 1, #s do h = (h ~ s:byte(i)) * 0x100000001b3 end
  return h
end

-- A 64-bit integer from seed and the keys (integers or strings).
function M.hash(seed, ...)
  local h = mix(math.tointeger(seed) + GOLDEN)
  for i = 1, select("#", ...) do
    local k = select(i, ...)
    if type(k) == "string" then k = str_hash(k) end
    h = mix(h + GOLDEN + mix(math.tointeger(k)))
  end
  return h
end

local TWO_M53 = 2.0 ^ -53
local function to_u01(h) return (h >> 11) * TWO_M53 end

function M.u01(seed, ...) return to_u01(M.hash(seed, ...)) end

-- A stream of numbers from a start hash: r:uniform(), r:normal().
local Rng = {}
Rng.__index = Rng
function M.rng(seed, ...) return setmetatable({ s = M.hash(seed, ...) }, Rng) end
function Rng:uniform()
  self.s = self.s + GOLDEN
  return to_u01(mix(self.s))
end
function Rng:normal() -- Box-Muller
  local u1, u2 = self:uniform(), self:uniform()
  return math.sqrt(-2 * math.log(1 - u1)) * math.cos(2 * math.pi * u2)
end

-- ---------------------------------------------------------------- Halton

local PRIMES = { 2 }
local function prime(d)
  local n = PRIMES[#PRIMES]
  while #PRIMES < d do
    n = n + 1
    local is = true
    for _, p in ipairs(PRIMES) do
      if p * p > n then break end
      if n % p == 0 then is = false; break end
    end
    if is then PRIMES[#PRIMES + 1] = n end
  end
  return PRIMES[d]
end
M.prime = prime

-- The radical inverse of i in base b: i's digits in base b mirrored behind
-- the point (i = 6 = 110 in base 2 -> 0.011 = 0.375).
function M.radical_inverse(i, b)
  local f, r = 1.0, 0.0
  while i > 0 do
    f = f / b
    r = r + f * (i % b)
    i = i // b
  end
  return r
end

function M.halton(i, d) return M.radical_inverse(i, prime(d)) end

-- ---------------------------------------------------------------- Sobol

-- Joe & Kuo (2008), new-joe-kuo-6.21201, dimensions 2..21: {s, a, m_1..m_s}
-- (s the degree of the primitive polynomial, a its inner coefficients as
-- bits, m the initial direction integers). Dimension 1 is van der Corput's
-- sequence (every m_k = 1).
local JOE_KUO = {
  { 1, 0, 1 },
  { 2, 1, 1, 3 },
  { 3, 1, 1, 3, 1 },
  { 3, 2, 1, 1, 1 },
  { 4, 1, 1, 1, 3, 3 },
  { 4, 4, 1, 3, 5, 13 },
  { 5, 2, 1, 1, 5, 5, 17 },
  { 5, 4, 1, 1, 5, 5, 5 },
  { 5, 7, 1, 1, 7, 11, 19 },
  { 5, 11, 1, 1, 5, 1, 1 },
  { 5, 13, 1, 1, 1, 3, 11 },
  { 5, 14, 1, 3, 5, 5, 31 },
  { 6, 1, 1, 3, 3, 9, 7, 49 },
  { 6, 13, 1, 1, 1, 15, 21, 21 },
  { 6, 16, 1, 3, 1, 13, 27, 49 },
  { 6, 19, 1, 1, 1, 15, 7, 5 },
  { 6, 22, 1, 3, 1, 15, 13, 25 },
  { 6, 25, 1, 1, 5, 5, 19, 61 },
  { 7, 1, 1, 3, 7, 11, 23, 15, 103 },
  { 7, 4, 1, 3, 7, 13, 13, 15, 69 },
}
M.SOBOL_DIMS = #JOE_KUO + 1
local BITS = 32
local V = {} -- V[d][k] = m_k * 2^(BITS - k), k = 1..BITS

local function directions(d)
  if V[d] then return V[d] end
  local m = {}
  if d == 1 then
    for k = 1, BITS do m[k] = 1 end
  else
    local row = JOE_KUO[d - 1]
    local s, a = row[1], row[2]
    for k = 1, s do m[k] = row[2 + k] end
    -- m_k = 2 a_1 m_{k-1} ^ 4 a_2 m_{k-2} ^ ... ^ 2^(s-1) a_{s-1} m_{k-s+1} ^ 2^s m_{k-s} ^ m_{k-s}
    for k = s + 1, BITS do
      local x = m[k - s] ~ (m[k - s] << s)
      for j = 1, s - 1 do
        if (a >> (s - 1 - j)) & 1 == 1 then x = x ~ (m[k - j] << j) end
      end
      m[k] = x
    end
  end
  local v = {}
  for k = 1, BITS do v[k] = m[k] << (BITS - k) end
  V[d] = v
  return v
end

-- Coordinate d of Sobol point i in gray-code order (Antonov & Saleev): the
-- XOR of the direction numbers V_k for every bit k set in i ~ (i >> 1).
-- Point 0 is the origin; tune.lua starts at i = 1.
function M.sobol(i, d)
  if d > M.SOBOL_DIMS then
    error(string.format("sobol has direction numbers for %d dimensions, asked for %d (use halton)", M.SOBOL_DIMS, d), 0)
  end
  local v = directions(d)
  local g, x, k = i ~ (i >> 1), 0, 1
  while g ~= 0 do
    if g & 1 == 1 then x = x ~ v[k] end
    g = g >> 1
    k = k + 1
  end
  return x / 2.0 ^ BITS
end

-- ---------------------------------------------------------------- maps

-- A value of the space dim from u in [0, 1): log_uniform uniform in log
-- space, int uniform over lo..hi, choice uniform over the values.
function M.map(dim, u)
  local k = dim.kind
  if k == "uniform" then
    return dim.lo + u * (dim.hi - dim.lo)
  elseif k == "log_uniform" then
    local x = math.exp(math.log(dim.lo) + u * (math.log(dim.hi) - math.log(dim.lo)))
    return math.min(math.max(x, dim.lo), dim.hi)
  elseif k == "int" then
    return math.min(dim.lo + math.floor(u * (dim.hi - dim.lo + 1)), dim.hi)
  else
    local n = #dim.values
    return dim.values[math.min(1 + math.floor(u * n), n)]
  end
end

-- Trial id's point in the unit cube under sampler ("random", "halton",
-- "sobol"): one coordinate per dim of dims (sorted by name). The random
-- sampler hashes (seed, id, the dim's name), so variants that share a
-- hyperparameter draw the same values for it; the quasi-random ones take
-- point id (point 0 is skipped) shifted by a seed-derived vector modulo 1
-- (a Cranley-Patterson rotation: the points keep their spacing).
function M.point(sampler, seed, dims, id)
  local u = {}
  for d, dim in ipairs(dims) do
    if sampler == "random" then
      u[d] = M.u01(seed, "random", id, dim.name)
    else
      local x = sampler == "sobol" and M.sobol(id, d) or M.halton(id, d)
      u[d] = (x + M.u01(seed, "shift", d)) % 1.0
    end
  end
  return u
end

-- ---------------------------------------------------------------- TPE

-- The normal distribution function, from erfc (Numerical Recipes' erfcc:
-- relative error below 1.2e-7 everywhere, so tails stay usable).
local function erfc(x)
  local z = math.abs(x)
  local t = 1 / (1 + 0.5 * z)
  local r = t * math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 +
    t * 0.17087277)))))))))
  return x >= 0 and r or 2 - r
end
local SQRT2 = math.sqrt(2)
local function cdf(z) return 0.5 * erfc(-z / SQRT2) end
-- P(a < Z < b) for a standard normal Z, accurate in both tails.
local function mass(a, b)
  if a >= 0 then return cdf(-a) - cdf(-b) end
  return cdf(b) - cdf(a)
end
M.cdf = cdf

-- A Parzen estimator over [a, b]: one normal per observation plus a prior
-- normal at the middle with sigma = b - a, each truncated to [a, b] and of
-- equal weight. An observation's sigma is the larger of the distances to
-- its neighbours (sorted, the prior's centre among them), clipped to
-- [(b - a) / min(100, n + 1), b - a] (Bergstra et al. 2011).
local function parzen(xs, a, b)
  local w = b - a
  local comps = { { mu = (a + b) / 2, prior = true } }
  for _, x in ipairs(xs) do comps[#comps + 1] = { mu = x } end
  table.sort(comps, function(p, q)
    if p.mu ~= q.mu then return p.mu < q.mu end
    return p.prior and not q.prior
  end)
  local lo_clip = w / math.min(100, #xs + 1)
  for i, c in ipairs(comps) do
    if c.prior then
      c.sigma = w
    else
      local left = i > 1 and c.mu - comps[i - 1].mu or c.mu - a
      local right = i < #comps and comps[i + 1].mu - c.mu or b - c.mu
      c.sigma = math.min(math.max(left, right, lo_clip), w)
    end
    c.z = mass((a - c.mu) / c.sigma, (b - c.mu) / c.sigma)
  end
  return { comps = comps, a = a, b = b }
end

local INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)

-- The density at x (width 0), or the probability of [x - h, x + h] (an int).
local function parzen_p(p, x, h)
  local sum = 0
  for _, c in ipairs(p.comps) do
    if h then
      sum = sum + mass((x - h - c.mu) / c.sigma, (x + h - c.mu) / c.sigma) / c.z
    else
      local z = (x - c.mu) / c.sigma
      sum = sum + INV_SQRT_2PI * math.exp(-0.5 * z * z) / c.sigma / c.z
    end
  end
  return math.max(sum / #p.comps, 1e-300)
end

-- A draw from the mixture: a component, then its normal until the draw
-- falls in [a, b] (after 64 misses: clamped).
local function parzen_draw(p, r)
  local c = p.comps[math.min(1 + math.floor(r:uniform() * #p.comps), #p.comps)]
  for _ = 1, 64 do
    local x = c.mu + c.sigma * r:normal()
    if x >= p.a and x <= p.b then return x end
  end
  return math.min(math.max(c.mu, p.a), p.b)
end

-- The internal coordinate of a value: log for log_uniform, the value for
-- uniform and int, the index for choice.
local function coord(dim, v)
  if dim.kind == "log_uniform" then return math.log(v) end
  if dim.kind == "choice" then
    for i, x in ipairs(dim.values) do if x == v then return i end end
    return nil
  end
  return v
end

-- A model of one dimension from the observations' values xs: draw(r) and
-- logp(x), in internal coordinates.
local function model(dim, xs)
  if dim.kind == "choice" then
    local n = #dim.values
    local counts = {}
    for i = 1, n do counts[i] = 1 end -- a pseudo-count of 1 per value: the prior
    for _, x in ipairs(xs) do counts[x] = counts[x] + 1 end
    local total = n + #xs
    return {
      draw = function(r)
        local u, acc = r:uniform() * total, 0
        for i = 1, n do
          acc = acc + counts[i]
          if u < acc then return i end
        end
        return n
      end,
      logp = function(x) return math.log(counts[x] / total) end,
    }
  end
  local a, b, h
  if dim.kind == "log_uniform" then a, b = math.log(dim.lo), math.log(dim.hi)
  elseif dim.kind == "int" then a, b, h = dim.lo - 0.5, dim.hi + 0.5, 0.5
  else a, b = dim.lo, dim.hi end
  local p = parzen(xs, a, b)
  return {
    draw = function(r)
      local x = parzen_draw(p, r)
      if h then x = math.min(math.max(math.floor(x + 0.5), dim.lo), dim.hi) end
      return x
    end,
    logp = function(x) return math.log(parzen_p(p, x, h)) end,
  }
end

local function value_of(dim, x)
  if dim.kind == "log_uniform" then return math.min(math.max(math.exp(x), dim.lo), dim.hi) end
  if dim.kind == "choice" then return dim.values[x] end
  if dim.kind == "int" then return math.tointeger(x) end
  return x
end

-- TPE (Bergstra et al. 2011): the observations sorted by value (best first;
-- ties: lower id) split into the best ceil(gamma n) (at least 1), whose
-- density per dimension is l(x), and the rest, g(x). `candidates` draws
-- from l, each dimension on its own; the one with the largest
-- sum over dimensions of log l(x) - log g(x) (the expected improvement
-- grows with l/g) is trial id's configuration. Draws come from the stream
-- (seed, "tpe", id). obs = {{id =, config =, value =}, ...}.
function M.tpe(t, seed, dims, id, obs)
  local sorted = {}
  for _, o in ipairs(obs) do sorted[#sorted + 1] = o end
  table.sort(sorted, function(x, y)
    if x.value ~= y.value then return x.value > y.value end
    return x.id < y.id
  end)
  local n_good = math.max(1, math.ceil(t.gamma * #sorted))
  local ls, gs = {}, {}
  for d, dim in ipairs(dims) do
    local good, bad = {}, {}
    for i, o in ipairs(sorted) do
      local x = coord(dim, o.config[dim.name])
      if x ~= nil then
        if i <= n_good then good[#good + 1] = x else bad[#bad + 1] = x end
      end
    end
    ls[d], gs[d] = model(dim, good), model(dim, bad)
  end
  local r = M.rng(seed, "tpe", id)
  local best, best_score
  for _ = 1, t.candidates do
    local x, score = {}, 0
    for d = 1, #dims do
      x[d] = ls[d].draw(r)
      score = score + ls[d].logp(x[d]) - gs[d].logp(x[d])
    end
    if best_score == nil or score > best_score then best, best_score = x, score end
  end
  local config = {}
  for d, dim in ipairs(dims) do config[dim.name] = value_of(dim, best[d]) end
  return config
end

return M
