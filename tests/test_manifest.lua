-- SPDX-License-Identifier: MIT
-- test_manifest.lua -- summary.json is a complete manifest: the rates a run
-- used under their own names (never the 0 / -1 placeholders of the keys'
-- defaults), and the command line, build, BLAS threads, machine and times.
-- Run by ctest as build/lpdm tests/test_manifest.lua (TAP).

local LPDM = arg and arg[-1]
local HERE = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local TRAIN = HERE .. "/../scripts/train.lua"
package.path = HERE .. "/lib/?.lua;" .. HERE .. "/../scripts/lib/?.lua;" .. package.path
local T = require("testlib")
local json = require("json")
local q, check, read = T.q, T.check, T.read

local tests = {}
local function test(name, fn) tests[#tests + 1] = { name = name, fn = fn } end
local TMP = T.tmpdir()

-- The rate and alpha keys each algorithm resolves (issue 23's list).
local RESOLVED = {
  reinforce = { "lr", "head_lr", "local_lr", "value_lr", "log_std_lr" },
  ppo = { "learning_rate", "head_lr", "local_lr", "actor_local_lr", "critic_local_lr", "actor_alpha", "critic_alpha" },
  dqn = { "learning_rate", "head_lr", "local_lr" },
}

local function summary_of(name, ...)
  local out = TMP .. "/" .. name
  local o, rc = T.sh(T.command("OPENBLAS_NUM_THREADS=1 ", LPDM, { TRAIN, "--quiet", "--out=" .. out, ... }))
  check(rc == 0, name .. ": " .. o)
  local s, err = json.decode(read(out .. "/summary.json") or "")
  check(s, name .. ": summary.json: " .. tostring(err))
  return s
end

local CASES = {
  { "rf_bp", "reinforce", "--algo=reinforce", "--mode=bp", "--steps=2000" },
  { "rf_guided", "reinforce", "--algo=reinforce", "--mode=local", "--steps=2000" },
  { "rf_stress_box", "reinforce", "--algo=reinforce", "--mode=local", "--loss=stress", "--env=Pendulum-v1",
    "--steps=1000" },
  { "ppo_bp", "ppo", "--algo=ppo", "--mode=bp", "--steps=1024" },
  { "ppo_local", "ppo", "--algo=ppo", "--mode=local", "--steps=1024" },
  { "ppo_stress", "ppo", "--algo=ppo", "--mode=local", "--loss=stress", "--steps=1024" },
  { "dqn_bp", "dqn", "--algo=dqn", "--mode=bp", "--steps=1000", "--learning-starts=500" },
  { "dqn_local", "dqn", "--algo=dqn", "--mode=local", "--steps=1000", "--learning-starts=500" },
}

test("no placeholder rates: REINFORCE, PPO and DQN in both modes report the values used", function()
  for _, c in ipairs(CASES) do
    local s = summary_of(c[1], table.unpack(c, 3))
    local a = s.config.algo_config
    for _, k in ipairs(RESOLVED[c[2]]) do
      local v = a[k]
      check(type(v) == "number", string.format("%s: %s is %s", c[1], k, tostring(v)))
      if k:match("alpha$") then
        check(v >= 0 and v <= 1, string.format("%s: %s = %s", c[1], k, tostring(v)))
      else
        check(v > 0, string.format("%s: %s = %s (a placeholder)", c[1], k, tostring(v)))
      end
    end
  end
end)

test("the resolved values are the documented defaults", function()
  local a = summary_of("rf_guided2", "--algo=reinforce", "--mode=local", "--steps=500").config.algo_config
  check(a.head_lr == 3e-3 and a.local_lr == 1e-3 and a.lr == 1e-3 and a.value_lr == 3e-3,
    "REINFORCE guided: " .. json.encode(a))
  a = summary_of("rf_bp2", "--algo=reinforce", "--mode=bp", "--steps=500").config.algo_config
  check(a.head_lr == 1e-3 and a.local_lr == 1e-3, "REINFORCE bp records lr for head_lr/local_lr: " .. json.encode(a))
  a = summary_of("ppo_local2", "--algo=ppo", "--mode=local", "--steps=512").config.algo_config
  check(a.head_lr == 4 * 2.5e-4 and a.local_lr == 3e-4 and a.actor_local_lr == 3e-4 and a.actor_alpha == 0.5,
    "PPO local (kernel, alpha 0.5): " .. json.encode(a))
  a = summary_of("ppo_alpha", "--algo=ppo", "--mode=local", "--loss=guided", "--alpha=0.3", "--critic-alpha=0.1",
    "--steps=512").config.algo_config
  check(a.actor_alpha == 0.3 and a.critic_alpha == 0.1, "PPO alphas: " .. json.encode(a))
  a = summary_of("ppo_stress2", "--algo=ppo", "--mode=local", "--loss=stress", "--steps=512").config.algo_config
  check(a.actor_alpha == 0 and a.critic_alpha == 0, "stress has no reward term: " .. json.encode(a))
end)

test("the manifest: command line, build, BLAS threads, machine, times", function()
  local s = summary_of("manifest", "--algo=ppo", "--mode=bp", "--steps=512", "--seed=3")
  check(type(s.command) == "table" and s.command[#s.command] == "--seed=3", "command: " .. json.encode(s.command))
  check(type(s.command_line) == "string" and s.command_line:find("train.lua", 1, true) and
    s.command_line:find("--seed=3", 1, true), "command_line: " .. tostring(s.command_line))
  check(s.lpdm_version and s.lpdm_version:match("^%d+%.%d+%.%d+"), "lpdm_version")
  check(s.blas_threads == 1, "blas_threads (OPENBLAS_NUM_THREADS=1): " .. tostring(s.blas_threads))
  check(type(s.blas) == "string" and s.blas:find("OpenBLAS", 1, true), "blas: " .. tostring(s.blas))
  check(type(s.cpu_model) == "string" and #s.cpu_model > 0 and (s.cpus or 0) >= 1, "cpu")
  check(type(s.host) == "string" and #s.host > 0, "host")
  check(type(s.compiler) == "string" and type(s.build_type) == "string", "compiler, build_type")
  local iso = "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$"
  check(s.started_at:match(iso) and s.ended_at:match(iso) and s.ended_at >= s.started_at,
    "times: " .. tostring(s.started_at) .. " " .. tostring(s.ended_at))
  check(s.config.algo_config.threads >= 1, "PPO's threads")
  -- built from a git checkout: the commit (40 hex digits)
  local src = HERE .. "/.."
  if os.execute("git -C " .. q(src) .. " rev-parse HEAD >/dev/null 2>&1") then
    check(type(s.git_commit) == "string" and s.git_commit:match("^%x+$") and #s.git_commit == 40,
      "git_commit: " .. tostring(s.git_commit))
    check(type(s.git_dirty) == "boolean", "git_dirty")
  end
end)

test("the Lua module under a plain lua5.4 takes the binary's BLAS default (one thread)", function()
  local build = LPDM:match("^(.*)/[^/]*$") or "."
  if not T.exists(build .. "/lpdm.so") then return "skip", "no " .. build .. "/lpdm.so" end
  if not os.execute("command -v lua5.4 >/dev/null 2>&1") then return "skip", "no lua5.4 interpreter" end
  local code = "package.cpath = " .. string.format("%q", build .. "/?.so;") ..
    " .. package.cpath; print('threads=' .. require('lpdm').blas_threads())"
  local out = T.sh("env -u OPENBLAS_NUM_THREADS -u OMP_NUM_THREADS -u GOTO_NUM_THREADS lua5.4 -e " .. q(code))
  -- a sanitizer build's module cannot load into the uninstrumented lua5.4
  if out:find("ASan runtime does not come first", 1, true) then
    return "skip", "a sanitizer build's lpdm.so does not load into an uninstrumented lua5.4"
  end
  check(out:find("threads=1", 1, true), "lua5.4: " .. out)
  out = T.sh("OPENBLAS_NUM_THREADS=2 lua5.4 -e " .. q(code))
  check(out:find("threads=2", 1, true), "OPENBLAS_NUM_THREADS=2 is honoured: " .. out)
end)

T.run_tests(tests, TMP)
