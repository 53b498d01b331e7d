-- SPDX-License-Identifier: MIT
-- test_errors.lua -- issue 23's list of errors a new user met, each checked
-- as a user meets it: a subprocess, its exit status and its message (TAP).
-- Run by ctest as build/lpdm tests/test_errors.lua (arg[-1] is the executable).
--
-- Every message must name the thing at fault, carry no Lua traceback and no
-- "scripts/train.lua:123:" position, and exit non-zero (never by a signal).

local LPDM = arg and arg[-1]
local HERE = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local TRAIN = HERE .. "/../scripts/train.lua"
package.path = HERE .. "/lib/?.lua;" .. package.path
local T = require("testlib")
local q, check, read, exists = T.q, T.check, T.read, T.exists

local tests = {}
local function test(name, fn) tests[#tests + 1] = { name = name, fn = fn } end
local TMP = T.tmpdir()

-- env: a list of "NAME=value" for the command, or nil
local function run(env, ...)
  local prefix = "OPENBLAS_NUM_THREADS=1 "
  for _, kv in ipairs(env or {}) do
    local k, v = kv:match("^([%w_]+)=(.*)$")
    prefix = prefix .. k .. "=" .. q(v) .. " "
  end
  return T.sh(T.command(prefix, LPDM, { ... }))
end

-- A user-facing failure: status in 1..127 (or exactly want), every plain
-- substring present, no traceback, no script position.
local function refused(want, wants, out, rc, cmd)
  local where = string.format("\ncommand: %s\nexit status: %s\noutput:\n%s", cmd, tostring(rc), out:sub(1, 1500))
  check(want and rc == want or (not want and rc >= 1 and rc < 128), "exit status" .. where)
  for _, s in ipairs(wants) do check(out:find(s, 1, true), string.format("output lacks %q%s", s, where)) end
  check(not out:find("stack traceback", 1, true), "a traceback" .. where)
  check(not out:find("%.lua:%d+:"), "a script position (x.lua:N:)" .. where)
  return out
end

test("an error in training: a message without traceback, summary.json says error, updates.csv keeps its header",
  function()
    local fx = os.getenv("LPDM_FIXTURE_DIR")
    check(fx, "LPDM_FIXTURE_DIR is not set (ctest sets it)")
    local pdir = TMP .. "/nanplug"
    os.execute("mkdir -p " .. q(pdir) .. " && cp " .. q(fx .. "/nan_env.so") .. " " .. q(pdir))
    local out = TMP .. "/nanrun"
    refused(1, { "NanEnv-v0", "non-finite", out .. "/summary.json" },
      run({ "LPDM_PLUGIN_PATH=" .. pdir }, TRAIN, "--env=NanEnv-v0", "--steps=1000", "--quiet", "--out=" .. out))
    check((read(out .. "/updates.csv") or ""):match("^global_step,wall_time"), "updates.csv without its header: " ..
      tostring(read(out .. "/updates.csv")))
    local s = read(out .. "/summary.json") or ""
    check(s:find('"status": ?"error"'), "summary.json status: " .. s:sub(1, 300))
    check(not s:find("%.lua:%d+:"), "summary.json's error has a script position: " .. s:sub(1, 400))
  end)

-- Starts a long run, sends SIGINT after `after` s, returns output and status.
local function interrupt(out, extra, after)
  local cmd = string.format("(OPENBLAS_NUM_THREADS=1 %s %s --algo=ppo --steps=5000000 --quiet --out=%s %s " ..
    "</dev/null >%s 2>&1 & p=$!; sleep %s; kill -INT $p; wait $p; echo rc=$?)", q(LPDM), q(TRAIN), q(out), extra,
    q(out .. ".log"), after)
  local p = assert(io.popen(cmd, "r"))
  local text = p:read("a")
  p:close()
  return read(out .. ".log") or "", tonumber(text:match("rc=(%d+)")), cmd
end

test("Ctrl-C: exit 130, no traceback, and how to resume when a checkpoint exists", function()
  local out = TMP .. "/int-ck"
  local text, rc, cmd = interrupt(out, "--checkpoint-every=1", 2)
  refused(130, { "interrupted at step", "--resume=", "continue from its last checkpoint" }, text, rc, cmd)
  check(not text:find("--out=", 1, true), "the resume command keeps --out: " .. text)
  local s = read(out .. "/summary.json") or ""
  check(s:find('"status": ?"interrupted"'), "summary.json status: " .. s:sub(1, 200))
  out = TMP .. "/int-nock"
  text, rc, cmd = interrupt(out, "", 1.5)
  refused(130, { "interrupted at step", "no checkpoint", "--checkpoint-every" }, text, rc, cmd)
end)

test("a misspelled flag: did you mean, and the flags listed with dashes as --help writes them", function()
  local out = refused(1, { "unknown flag --lerning-rate", "did you mean '--learning-rate'", "--local-budget-mib",
    "--total-timesteps", "--num-envs" }, run(nil, TRAIN, "--algo=ppo", "--lerning-rate=1e-3"))
  check(not out:find("--local_budget_mib", 1, true) and not out:find("--total_timesteps", 1, true),
    "a flag listed with underscores: " .. out)
  refused(1, { "unknown flag --stepz", "did you mean '--steps'" }, run(nil, TRAIN, "--stepz=10"))
end)

test("did you mean: envs, algos, losses, distances, and keys from Lua", function()
  refused(1, { "unknown env 'CartPol-v1'", "did you mean 'CartPole-v1'" }, run(nil, TRAIN, "--env=CartPol-v1"))
  refused(1, { "did you mean 'Hopper-v5'" }, run(nil, TRAIN, "--env=hopper-v5"))
  refused(1, { "unknown algo 'ppp'", "did you mean 'ppo'" }, run(nil, TRAIN, "--algo=ppp"))
  refused(1, { "unknown loss 'gided'", "did you mean 'guided'" }, run(nil, TRAIN, "--loss=gided"))
  refused(1, { "did you mean 'euclidean'" }, run(nil, TRAIN, "--distance=euclidian"))
  local out, rc = run(nil, "-e", "local l = require('lpdm'); local ok, e = pcall(l.algo, 'ppo', {env = 'CartPole-v1', " ..
    "policy = l.net{inputs = 4}, lerning_rate = 1}); print(e); os.exit(ok and 0 or 3)")
  check(rc == 3 and out:find("unknown config key 'lerning_rate' (did you mean 'learning_rate'?)", 1, true), out)
end)

test("--out naming a file: the reason is given", function()
  T.write(TMP .. "/afile", "x")
  refused(1, { "--out=" .. TMP .. "/afile", "is a file, not a directory" },
    run(nil, TRAIN, "--steps=100", "--quiet", "--out=" .. TMP .. "/afile"))
  refused(1, { "is a file, not a directory" }, run(nil, TRAIN, "--steps=100", "--quiet", "--out=" .. TMP .. "/afile/sub"))
end)

test("--resume of a missing directory is refused and creates nothing; of a directory without a checkpoint too",
  function()
    local d = TMP .. "/never-made"
    refused(1, { "--resume=" .. d, "no such directory" }, run(nil, TRAIN, "--resume=" .. d))
    check(not T.exists(d) and os.execute("test -d " .. q(d)) ~= true, "--resume created " .. d)
    os.execute("mkdir -p " .. q(TMP .. "/empty-run"))
    refused(1, { "no checkpoint", "--checkpoint-every" }, run(nil, TRAIN, "--resume=" .. TMP .. "/empty-run"))
  end)

test("a truncated checkpoint is called truncated, not a shape mismatch", function()
  local d = TMP .. "/trunc"
  local out, rc = run(nil, TRAIN, "--steps=3000", "--quiet", "--checkpoint-every=1", "--out=" .. d)
  check(rc == 0, "the run to truncate failed: " .. out)
  local ck = d .. "/checkpoint.safetensors"
  local bytes = read(ck)
  check(bytes and #bytes > 1000, "no checkpoint")
  T.write(ck, bytes:sub(1, #bytes - 100))
  local text = refused(1, { "checkpoint.safetensors", "truncated", "100 bytes missing" },
    run(nil, TRAIN, "--steps=3000", "--quiet", "--checkpoint-every=1", "--resume=" .. d))
  check(not text:find("shape", 1, true), "reported as a shape problem: " .. text)
  T.write(ck, bytes:sub(1, 20))
  refused(1, { "truncated" }, run(nil, TRAIN, "--steps=3000", "--quiet", "--checkpoint-every=1", "--resume=" .. d))
end)

test("bp with black boxes: refused when the run is built, naming every one with its label", function()
  local out, rc = run(nil, "-e", [[
    local l = require('lpdm')
    local id = function(X) return X end
    local net = l.net{ inputs = 4, l.dense{ 8 }, l.lua_layer{ fn = id, label = 'quant' }, l.dense{ 8 },
      l.layer('sign'), l.dense{ 8 } }
    local ok, e = pcall(l.algo, 'ppo', { env = 'CartPole-v1', policy = net, mode = 'bp', steps = 1000 })
    print(e) os.exit(ok and 0 or 3)]])
  check(rc == 3, "lpdm.algo built a bp run through black boxes: " .. out)
  for _, s in ipairs({ "layer 2 (lua 'quant')", "layer 4 (sign)", "straight_through", "mode=local" }) do
    check(out:find(s, 1, true), "message lacks " .. s .. ": " .. out)
  end
end)

test("a stray non-plugin .so in LPDM_PLUGIN_PATH is skipped with a note; runs go on", function()
  local fx = os.getenv("LPDM_FIXTURE_DIR")
  check(fx, "LPDM_FIXTURE_DIR is not set (ctest sets it)")
  local pdir = TMP .. "/stray"
  os.execute("mkdir -p " .. q(pdir) .. " && cp " .. q(fx .. "/no_entry.so") .. " " .. q(pdir .. "/libstray.so"))
  local out, rc = run({ "LPDM_PLUGIN_PATH=" .. pdir }, TRAIN, "--steps=300", "--quiet", "--out=" .. TMP .. "/stray-run")
  check(rc == 0, "a stray .so stopped the run: " .. out)
  check(out:find("note: skipped '" .. pdir .. "/libstray.so': not an lpdm plugin", 1, true), "no note: " .. out)
end)

test("--help lists the env's and the distance's keys", function()
  local out, rc = run(nil, TRAIN, "--help", "--env=Hopper-v5", "--distance=mahalanobis")
  check(rc == 0, out)
  for _, s in ipairs({ "env Hopper-v5", "--forward-reward-weight", "distance mahalanobis", "--max-episode-steps" }) do
    check(out:find(s, 1, true), "--help lacks " .. s .. ":\n" .. out)
  end
end)

test("bp runs are not labelled with a loss they do not use", function()
  local dir = TMP .. "/label"
  os.execute("mkdir -p " .. q(dir))
  local cmd = "cd " .. q(dir) .. " && OPENBLAS_NUM_THREADS=1 " .. q(LPDM) .. " " ..
    q(TRAIN:sub(1, 1) == "/" and TRAIN or os.getenv("PWD") .. "/" .. TRAIN) .. " --algo=ppo --mode=bp --steps=2048"
  local out, rc = T.sh(cmd)
  check(rc == 0, out)
  check(exists(dir .. "/runs/CartPole-v1_ppo_bp_s1/summary.json"), "the default out dir: " .. out)
  check(out:find("done: CartPole-v1 ppo bp seed 1", 1, true) and not out:find("kernel", 1, true), out)
  local s = read(dir .. "/runs/CartPole-v1_ppo_bp_s1/summary.json")
  check(s:find('"loss": ?null') and not s:find('"loss_config"'), "summary.json names a loss: " .. s:sub(1, 300))
end)

test("total_timesteps works in lpdm.algo as on the command line", function()
  local out, rc = run(nil, "-e", "local l = require('lpdm'); local r = l.algo('reinforce', {env = 'CartPole-v1', " ..
    "policy = l.net{inputs = 4, l.dense{8}}, total_timesteps = 1234}); print('steps=' .. r.config.steps); " ..
    "local ok, e = pcall(l.algo, 'reinforce', {env = 'CartPole-v1', policy = l.net{inputs = 4}, steps = 5, " ..
    "total_timesteps = 5}); print(e)")
  check(rc == 0 and out:find("steps=1234", 1, true), out)
  check(out:find("steps and total_timesteps name the same budget", 1, true), out)
end)

T.run_tests(tests, TMP)
