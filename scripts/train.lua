-- SPDX-License-Identifier: MIT
-- train.lua -- the lpdm command line: train one agent, log it, summarise it.
--
--   build/lpdm scripts/train.lua --env=CartPole-v1 --algo=reinforce \
--       --mode=local --loss=guided --seed=1 --steps=500000 --out=DIR
--
-- Fixed flags (defaults):
--   --env=CartPole-v1  --algo=reinforce  --mode=local (bp|local)
--   --loss=guided      --distance=euclidean
--   --seed=1           --steps=500000
--   --out=runs/<env>_<algo>_<mode>_<loss>_s<seed>
--   --hidden=64,64     hidden widths (--hidden= for none; dqn: 120,84, CleanRL's Q-network)
--   --act=tanh         hidden activation (dqn: relu)
--   --init, --gain     hidden layers' initialisation (default: orthogonal with
--                      gain sqrt(2) for ppo, as CleanRL; torch-style, gain 1, otherwise)
--   --total-timesteps  CleanRL's name for --steps
--   --threshold=X      the 20-episode average that counts as solved
--                      (default: Gymnasium's reward_threshold of the env)
--   --blocked, --local-budget-mib=N  local mode: row-blocked local losses
--                      (docs/performance.md, "Large batches")
--   --partners=K       local mode: each sample's local loss over K random
--                      partners instead of all B-1 (0, the default: every
--                      pair; an estimate, docs/performance.md)
--   --checkpoint-every=N  save DIR/checkpoint.safetensors every N updates
--   --resume=DIR       continue the run checkpointed in DIR: the same flags
--                      give the same progress.csv as a run never stopped
--   --distributed      data-parallel over MPI ranks: mpirun -np N build/lpdm
--                      scripts/train.lua --algo=ppo --distributed ...; rank 0
--                      writes DIR, the others write nothing (docs/distributed.md)
--   --tensorboard      also write TensorBoard event files into DIR, with
--                      CleanRL's tags (scripts/lib/tensorboard_run.lua;
--                      docs/outputs.md): tensorboard --logdir runs
--   --capture-video    record the greedy policy to DIR/videos/episode-<k>.mp4
--                      at CleanRL's schedule (scripts/lib/capture.lua)
--   --quiet  --list  --help
-- Any other --foo-bar=value sets config key foo_bar of the algorithm, or
-- else of the loss, the distance or the env, whichever declares it first
-- (--alpha=0.3 reaches loss.guided). A bare --flag means --flag=true.
-- mode, seed and steps also go to the algorithm's config.
--
-- Writes, atomically (x.tmp then rename), while training and at the end:
--   DIR/progress.csv  one row per finished episode:
--                     global_step,episode,episode_return,episode_length,avg20
--                     (no clock: the same command and seed give the same bytes)
--   DIR/updates.csv   one row per iteration: global_step, wall_time and the
--                     algorithm's stats (columns: the first iteration's names, sorted)
--   DIR/summary.json  the flags and resolved configs, and the final figures
--   DIR/events.out.tfevents.*  with --tensorboard (a resumed run adds a file)
--   DIR/policy.safetensors  what acting needs (at the end and with every
--                     checkpoint; docs/policy.md); scripts/eval.lua DIR evaluates it.
--                     --seed must keep the env copies' seeds below 1,000,000
--                     (evaluation's: docs/policy.md, "The seed rule")
-- (docs/outputs.md: every file and column)
local lpdm
do -- a plugin that cannot be loaded is a message, not a traceback
  local ok, mod = pcall(require, "lpdm")
  if not ok then
    io.stderr:write("train.lua: ", tostring(mod), "\n")
    os.exit(1)
  end
  lpdm = mod
end

local PROG = "train.lua"
local WINDOW = 20

-- Gymnasium's reward_threshold per env id (nil: none registered).
local THRESHOLDS = {
  ["CartPole-v1"] = 475,
  ["CartPole-v0"] = 195,
  ["Acrobot-v1"] = -100,
  ["MountainCar-v0"] = -110,
  ["MountainCarContinuous-v0"] = 90,
  ["LunarLander-v3"] = 200,
  ["InvertedPendulum-v5"] = 950,
  ["InvertedPendulum-v4"] = 950,
  ["InvertedDoublePendulum-v5"] = 9100,
  ["InvertedDoublePendulum-v4"] = 9100,
  ["Reacher-v5"] = -3.75,
  ["Reacher-v4"] = -3.75,
  ["Swimmer-v5"] = 360,
  ["Swimmer-v4"] = 360,
  ["HalfCheetah-v5"] = 4800,
  ["HalfCheetah-v4"] = 4800,
  ["Hopper-v5"] = 3800,
  ["Hopper-v4"] = 3800,
  ["Ant-v5"] = 6000,
  ["Ant-v4"] = 6000,
}

-- Quoting and atomic writes (path.tmp, then os.rename): scripts/lib/util.lua,
-- found beside this script.
local util
do
  local here = (arg and arg[0] or "scripts/train.lua"):match("^(.*)/[^/]*$") or "."
  package.path = here .. "/lib/?.lua;" .. package.path
  util = require("util")
end
-- The script's own flags: scripts/lib/train_flags.lua (tune.lua reads it too).
local FIXED = require("train_flags")
local IS_FIXED = {}
for _, f in ipairs(FIXED) do IS_FIXED[f[1]] = f end

-- ---------------------------------------------------------------- helpers

-- A message for people: without the "scripts/x.lua:123: " position that
-- Lua puts before an error raised in a script (the user did not write it).
local function clean(msg)
  msg = tostring(msg)
  for _ = 1, 3 do
    local rest = msg:match("^[^%s:]+%.lua:%d+: (.*)$")
    if not rest then break end
    msg = rest
  end
  return msg
end

local function die(msg, code)
  io.stderr:write(PROG, ": ", clean(msg), "\n")
  os.exit(code or 1)
end

local function dashed(key) return (key:gsub("_", "-")) end

-- Calls fn(...) and turns a Lua error into die(message).
local function try(fn, ...)
  local res = table.pack(pcall(fn, ...))
  if not res[1] then die(res[2]) end
  return table.unpack(res, 2, res.n)
end

local shell_quote, write_atomic, did_you_mean = util.quote, util.write_atomic, util.did_you_mean
local manifest = require("manifest")

-- Numbers for CSV: integers as integers, others with 10 significant digits.
local function num(x)
  if x == nil then return "" end
  if math.type(x) == "integer" then return string.format("%d", x) end
  if x ~= x then return "nan" end
  if x == math.huge then return "inf" end
  if x == -math.huge then return "-inf" end
  if x == math.floor(x) and math.abs(x) < 2 ^ 53 then return string.format("%d", math.tointeger(x)) end
  return string.format("%.10g", x)
end

-- ---------------------------------------------------------------- JSON
local json = require("json")

-- ---------------------------------------------------------------- flags

local function parse_flags(argv)
  local flags, order = {}, {}
  for i = 1, #argv do
    local a = argv[i]
    local name, value = a:match("^%-%-([%w][%w%-_%.]*)=(.*)$")
    if not name then
      name = a:match("^%-%-([%w][%w%-_%.]*)$")
      value = true
    end
    if not name then
      die(string.format("unexpected argument '%s' (flags look like --name=value; see --help)", a))
    end
    local key = name:gsub("%-", "_")
    if flags[key] ~= nil then die(string.format("flag --%s given twice", name)) end
    flags[key] = value
    order[#order + 1] = key
  end
  return flags, order
end

local function plugin_info(kind, name)
  for _, p in ipairs(lpdm.plugins(kind)) do
    if p.name == name or p.full_name == name then return p end
  end
  return nil
end

local function key_set(p)
  local s = {}
  if p then for _, k in ipairs(p.keys) do s[k.name] = k end end
  return s
end

local function list_plugins()
  local groups = { { "envs", "env" }, { "algos", "algo" }, { "distances", "distance" },
    { "losses", "loss" }, { "layers", "layer" } }
  for _, g in ipairs(groups) do
    print(g[1] .. ":")
    local ps = lpdm.plugins(g[2])
    table.sort(ps, function(a, b) return a.name < b.name end)
    if #ps == 0 then print("  (none)") end
    for _, p in ipairs(ps) do print(string.format("  %-26s %s", p.name, p.doc)) end
  end
end

local function key_line(k)
  return string.format("  --%-24s %s (default %s)", dashed(k.name) .. "=" .. k.type:upper(), k.doc,
    tostring(k.default))
end

local function usage(algo, loss, dist, env_p)
  local lines = {
    "usage: lpdm scripts/train.lua [--flag=value ...]",
    "Trains one agent and writes progress.csv, updates.csv and summary.json to --out.",
    "",
    "flags:",
  }
  for _, f in ipairs(FIXED) do
    local d = f[2] and (" (default " .. (f[2] == "" and "none" or f[2]) .. ")") or ""
    lines[#lines + 1] = string.format("  --%-24s %s%s", dashed(f[1]), f[3], d)
  end
  for _, p in ipairs({ algo, loss, dist, env_p }) do
    if p and #p.keys > 0 then
      lines[#lines + 1] = ""
      lines[#lines + 1] = string.format("%s %s (%s):", p.kind, p.name, p.doc)
      for _, k in ipairs(p.keys) do
        if not IS_FIXED[k.name] then lines[#lines + 1] = key_line(k) end
      end
    end
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "A key of the algorithm, the loss, the distance or the env is given as --key-name=value"
  lines[#lines + 1] = "(dashes or underscores); --help with --algo, --loss, --distance or --env shows that one's keys."
  return table.concat(lines, "\n")
end

-- ---------------------------------------------------------------- main

local flags, order = parse_flags(arg)

if flags.list ~= nil and flags.list ~= "false" then
  list_plugins()
  os.exit(0)
end

local function str_flag(name, default)
  local v = flags[name]
  if v == nil then return default end
  if v == true then die(string.format("--%s needs a value (--%s=...)", name, name)) end
  return v
end

-- The hidden layers an algorithm gets when --hidden/--act do not say:
-- CleanRL's network for each (dqn.py's Q-network: 120 and 84 ReLU units).
local NET_DEFAULTS = { dqn = { hidden = "120,84", act = "relu" } }

local cfg = {
  env = str_flag("env", "CartPole-v1"),
  algo = str_flag("algo", "reinforce"),
  mode = str_flag("mode", "local"),
  distance = str_flag("distance", "euclidean"),
}
local net_defaults = NET_DEFAULTS[cfg.algo] or { hidden = "64,64", act = "tanh" }
cfg.act = str_flag("act", net_defaults.act)

local algo_p = plugin_info("algo", cfg.algo)
-- Without --loss, the algorithm's own default local loss ("guided", or e.g.
-- ppo's "kernel anchor=1": a name and settings, the settings applied
-- below unless a flag gives them).
local loss_defaults = {}
if flags.loss == nil then
  local spec = algo_p and algo_p.local_loss or "guided"
  local words = {}
  for w in spec:gmatch("%S+") do words[#words + 1] = w end
  cfg.loss = words[1]
  for i = 2, #words do
    local k, v = words[i]:match("^([%w_]+)=(.+)$")
    if k then loss_defaults[k] = v end
  end
else
  cfg.loss = str_flag("loss", "guided")
end
local loss_p = plugin_info("loss", cfg.loss)

if flags.help ~= nil and flags.help ~= "false" then
  local env_id = flags.env ~= true and flags.env or "CartPole-v1"
  print(usage(algo_p, loss_p, plugin_info("distance", flags.distance ~= true and flags.distance or "euclidean"),
    plugin_info("env", env_id)))
  os.exit(0)
end

if not algo_p then try(lpdm.algo, cfg.algo, {}) end         -- "unknown algo ... (known: ...)"
if not loss_p then try(lpdm.loss, cfg.loss) end              -- "unknown loss ..."
local dist_p = plugin_info("distance", cfg.distance)
if not dist_p then try(lpdm.distance, cfg.distance) end
if cfg.mode ~= "bp" and cfg.mode ~= "local" then
  die(string.format("--mode must be bp or local, got '%s'", cfg.mode))
end

local function int_flag(name, default, min)
  local s = str_flag(name, default)
  local v = math.tointeger(tonumber(s))
  if not v or v < min then die(string.format("--%s expects an integer >= %d, got '%s'", dashed(name), min, s)) end
  return v
end
cfg.seed = int_flag("seed", "1", 0)
if flags.total_timesteps ~= nil then
  if flags.steps ~= nil then die("--steps and --total-timesteps name the same budget: give one") end
  flags.steps = flags.total_timesteps
end
cfg.steps = int_flag("steps", "500000", 1)

local hidden_s = str_flag("hidden", net_defaults.hidden)
cfg.hidden = json.array()
for w in (hidden_s ~= "" and hidden_s .. "," or ""):gmatch("([^,]*),") do -- "64,,64": an empty width is an error
  local n = math.tointeger(tonumber(w))
  if not n or n < 1 then die(string.format("--hidden expects positive widths like 64,64, got '%s'", hidden_s)) end
  cfg.hidden[#cfg.hidden + 1] = n
end

local env = try(lpdm.env, cfg.env)
local env_p = plugin_info("env", cfg.env)

if flags.threshold ~= nil then
  cfg.threshold = tonumber(str_flag("threshold"))
  if not cfg.threshold then die("--threshold expects a number, got '" .. tostring(flags.threshold) .. "'") end
else
  cfg.threshold = THRESHOLDS[env.id]
end
local function bool_flag(name)
  local v = flags[name]
  if v == nil or v == false then return false end
  if v == true or v == "true" or v == "1" or v == "yes" then return true end
  if v == "false" or v == "0" or v == "no" then return false end
  die(string.format("--%s is a switch (--%s or --%s=false), got '%s'", name, name, name, v))
end
cfg.quiet = bool_flag("quiet")
cfg.tensorboard = bool_flag("tensorboard") or nil -- absent unless asked: summary.json stays as it was
cfg.capture_video = bool_flag("capture_video") or nil
-- The run's label: bp trains no hidden layer by a local loss, so a bp run
-- names none (cfg.loss stays the loss given to the algorithm, unused).
local label = cfg.mode == "bp" and string.format("%s_%s_bp", cfg.env, cfg.algo)
  or string.format("%s_%s_%s_%s", cfg.env, cfg.algo, cfg.mode, cfg.loss)
if cfg.mode == "bp" and flags.loss ~= nil and not cfg.quiet then
  io.stderr:write(string.format("%s: note: --loss=%s has no effect with --mode=bp (no local losses)\n", PROG,
    tostring(flags.loss)))
end
cfg.out = str_flag("out", string.format("runs/%s_s%d", label, cfg.seed))
if cfg.out == "" then die("--out must not be empty") end
cfg.checkpoint_every = int_flag("checkpoint_every", "0", 0)
local resume = flags.resume ~= nil and str_flag("resume") or nil
-- Data-parallel: every rank runs this script with the same flags; rank 0
-- alone prints and writes DIR.
cfg.distributed = bool_flag("distributed")
local rank, nproc = 0, 1
if cfg.distributed then
  if not lpdm.mpi.available then
    die("--distributed needs MPI: this lpdm was built without it (install libopenmpi-dev and openmpi-bin, rebuild)")
  end
  if cfg.checkpoint_every > 0 or resume then
    die("--distributed runs cannot be checkpointed or resumed yet (leave --checkpoint-every and --resume out)")
  end
  rank, nproc = try(lpdm.mpi.init)
  cfg.processes = nproc
  if rank ~= 0 then cfg.quiet = true end
end
local PRIMARY = rank == 0
if resume then
  if flags.out ~= nil and flags.out ~= resume then die("--resume=DIR continues the run in DIR: leave --out out") end
  cfg.out = resume
  local ck = resume .. "/checkpoint.safetensors"
  if not util.read_head(ck, 1) then
    if not util.is_dir(resume) then
      die(string.format("--resume=%s: no such directory (give the --out directory of a run made with --checkpoint-every=N)",
        resume))
    end
    die(string.format("--resume=%s: no checkpoint in it (%s is missing; a run saves one only with --checkpoint-every=N)",
      resume, ck))
  end
end
-- What makes two runs the same run: every flag but these.
local NOT_IN_HASH = { quiet = true, resume = true, checkpoint_every = true, out = true, tensorboard = true,
  capture_video = true }
local function config_hash()
  local keys = {}
  for k in pairs(flags) do if not NOT_IN_HASH[k] then keys[#keys + 1] = k end end
  table.sort(keys)
  local h = 2166136261
  for _, k in ipairs(keys) do
    for c in (k .. "=" .. tostring(flags[k]) .. ";"):gmatch(".") do h = ((h ~ c:byte()) * 16777619) & 0xffffffff end
  end
  return string.format("%08x", h)
end

-- Route the other flags: algorithm, then loss, distance, env.
local algo_keys, loss_keys = key_set(algo_p), key_set(loss_p)
local dist_keys, env_keys = key_set(dist_p), key_set(env_p)
local algo_cfg = { mode = cfg.mode, seed = cfg.seed, steps = cfg.steps }
local loss_cfg, dist_cfg, env_cfg = {}, {}, {}
local extra = {}
for _, key in ipairs(order) do
  if not IS_FIXED[key] then
    local v = flags[key]
    if v == true then v = "true" end
    if algo_keys[key] then algo_cfg[key] = v
    elseif loss_keys[key] then loss_cfg[key] = v
    elseif dist_keys[key] then dist_cfg[key] = v
    elseif env_keys[key] then env_cfg[key] = v
    else
      local names, lines = {}, {}
      local fixed = {}
      for _, f in ipairs(FIXED) do
        fixed[#fixed + 1] = "--" .. dashed(f[1])
        names[#names + 1] = f[1]
      end
      lines[1] = "  train.lua: " .. table.concat(fixed, " ")
      local function add(p, label)
        if not p or #p.keys == 0 then return end
        local ks = {}
        for _, k in ipairs(p.keys) do
          if not IS_FIXED[k.name] then
            ks[#ks + 1] = "--" .. dashed(k.name)
            names[#names + 1] = k.name
          end
        end
        if #ks > 0 then lines[#lines + 1] = "  " .. label .. ": " .. table.concat(ks, " ") end
      end
      add(algo_p, "algo." .. algo_p.name)
      add(loss_p, "loss." .. loss_p.name)
      add(dist_p, "distance." .. dist_p.name)
      add(env_p, "env." .. env.id)
      local dashed_names = {}
      for i, n in ipairs(names) do dashed_names[i] = dashed(n) end
      die(string.format("unknown flag --%s%s; known flags:\n%s", dashed(key),
        did_you_mean(dashed(key), dashed_names, "--"), table.concat(lines, "\n")))
    end
    extra[key] = v
  end
end
for k, v in pairs(loss_defaults) do
  if loss_cfg[k] == nil then loss_cfg[k] = v end
end
if not algo_keys.mode or not algo_keys.seed or not algo_keys.steps then
  -- an algorithm without these keys still runs; say what is not passed
  for _, k in ipairs({ "mode", "seed", "steps" }) do
    if not algo_keys[k] then
      algo_cfg[k] = nil
      io.stderr:write(string.format("%s: note: algo.%s has no '%s' key; --%s is not passed to it\n",
        PROG, algo_p.name, k, k))
    end
  end
end
if next(env_cfg) then
  env:close()
  env = try(lpdm.env, cfg.env, env_cfg)
end

-- The policy: the hidden layers; the algorithm adds its head.
local layers = {}
cfg.init = str_flag("init", cfg.algo == "ppo" and "orthogonal" or "torch")
if flags.gain ~= nil then
  cfg.gain = tonumber(str_flag("gain"))
  if not cfg.gain then die("--gain expects a number, got '" .. tostring(flags.gain) .. "'") end
else
  cfg.gain = cfg.init == "orthogonal" and math.sqrt(2) or 1
end
for i, w in ipairs(cfg.hidden) do
  layers[i] = try(lpdm.dense, { w, act = cfg.act, init = cfg.init, gain = cfg.gain })
end
layers.inputs = env.obs_dim
layers.seed = cfg.seed
do -- large batches (lpdm.net's large_batches; the value net is a clone and keeps them)
  local b = str_flag("blocked", "false")
  if b ~= "true" and b ~= "false" then die(string.format("--blocked must be true or false, got '%s'", b)) end
  cfg.blocked = b == "true"
  cfg.local_budget_mib = int_flag("local_budget_mib", "1024", 1)
  layers.large_batches = { blocked = cfg.blocked, budget_mib = cfg.local_budget_mib }
  -- sampled pairs: K partners per row, drawn from a generator seeded with
  -- --seed (saved in checkpoints as <net>.partner_rng); 0 leaves the net's
  -- default (every pair), so runs without the flag are unchanged
  cfg.partners = int_flag("partners", "0", 0)
  if cfg.partners > 0 then
    if cfg.mode ~= "local" then
      die(string.format("--partners=%d samples the local losses' pairs: it needs --mode=local (bp has no pair losses)",
        cfg.partners))
    end
    layers.large_batches.partners = cfg.partners
    layers.large_batches.seed = cfg.seed
  end
end
local policy = try(lpdm.net, layers)

local loss_spec = { cfg.loss }
for k, v in pairs(loss_cfg) do loss_spec[k] = v end
local dist_spec = { cfg.distance }
for k, v in pairs(dist_cfg) do dist_spec[k] = v end
algo_cfg.env = env
algo_cfg.policy = policy
algo_cfg.loss = loss_spec
algo_cfg.distance = dist_spec
if cfg.distributed then algo_cfg.distributed = true end
local run = try(lpdm.algo, cfg.algo, algo_cfg)
local policy_file = require("policy_file") -- DIR/policy.safetensors and the seed rule (docs/policy.md)
do
  local e = policy_file.check_train_seed(cfg.seed, policy_file.copies(run))
  if e then die(e) end
end

-- Output directory (and a first write, so a bad --out fails before training).
local out = cfg.out
if PRIMARY then
  local why = util.mkdir_p(out)
  if why then die(string.format("--out=%s: cannot create the output directory: %s", out, why)) end
end
local PROGRESS_HEADER = "global_step,episode,episode_return,episode_length,avg20\n"
local CKPT = out .. "/checkpoint.safetensors"
if PRIMARY and not resume then try(write_atomic, out .. "/progress.csv", PROGRESS_HEADER) end

-- ---------------------------------------------------------------- training

local t0 = lpdm.clock()
local started_at = manifest.utc()
local MANIFEST = manifest.collect(lpdm, arg, shell_quote)
local returns = {}          -- every episode's return
local window_sum = 0
local best_avg, steps_to_threshold = nil, nil
local progress_rows = { PROGRESS_HEADER }
local update_rows, update_cols = {}, nil
local global_step, iterations = 0, 0
local last_print, next_pct = t0, 10

-- Resuming: the run's state from the checkpoint, this script's from the
-- checkpoint's metadata (exact, %.17g) and the first rows of the files.
if resume then
  local meta = try(run.load, run, CKPT)
  if meta.config_hash ~= config_hash() then
    die(string.format("--resume=%s: the checkpoint was made with other flags (give the same flags as that run)", resume))
  end
  local neps, nits = math.tointeger(tonumber(meta.episodes)), math.tointeger(tonumber(meta.iterations))
  global_step = math.tointeger(tonumber(meta.global_step))
  iterations = nits
  window_sum = tonumber(meta.window_sum)
  best_avg = meta.best_avg ~= "" and tonumber(meta.best_avg) or nil
  steps_to_threshold = meta.steps_to_threshold ~= "" and math.tointeger(tonumber(meta.steps_to_threshold)) or nil
  for i = 1, neps do returns[i] = 0 end
  local k = neps
  for v in (meta.last_returns or ""):gmatch("[^,]+") do
    returns[k] = tonumber(v)
    k = k - 1
  end
  local function head_rows(path, n)
    local f = io.open(path, "rb")
    if not f then die(string.format("--resume=%s: cannot read %s", resume, path)) end
    local rows = {}
    for line in f:lines() do
      if #rows > n then break end
      rows[#rows + 1] = line .. "\n"
    end
    f:close()
    if #rows < n + 1 then die(string.format("--resume=%s: %s has fewer rows than the checkpoint (%d)", resume, path, n)) end
    return rows
  end
  progress_rows = head_rows(out .. "/progress.csv", neps)
  update_rows = head_rows(out .. "/updates.csv", nits)
  if nits > 0 then
    update_cols = {}
    local h = update_rows[1]:gsub("\n$", "")
    for c in h:gmatch("[^,]+") do update_cols[#update_cols + 1] = c end
    table.remove(update_cols, 1) -- global_step
    table.remove(update_cols, 1) -- wall_time
  end
end

-- --tensorboard: event files beside the CSVs (scripts/lib/tensorboard_run.lua)
local tblog = cfg.tensorboard and PRIMARY and try(require("tensorboard_run").open, out,
  { clock = lpdm.clock, mode = cfg.mode, config = run.config, resume_step = resume and global_step })
-- --capture-video: the greedy policy on an env of its own (scripts/lib/capture.lua)
local capture
if cfg.capture_video and PRIMARY then
  local why
  capture, why = require("capture").open(lpdm, env.id, next(env_cfg) and env_cfg or nil, out)
  if not capture then die(why) end
  capture.done_through = #returns - 1 -- a resumed run does not record again what it recorded
end

local function checkpoint()
  local last = {}
  for i = #returns, math.max(1, #returns - WINDOW), -1 do last[#last + 1] = string.format("%.17g", returns[i]) end
  run:save(CKPT, {
    config_hash = config_hash(),
    episodes = #returns,
    iterations = iterations,
    global_step = global_step,
    window_sum = string.format("%.17g", window_sum),
    best_avg = best_avg and string.format("%.17g", best_avg) or "",
    steps_to_threshold = steps_to_threshold or "",
    last_returns = table.concat(last, ","),
  })
end

local function avg_last()
  local n = math.min(#returns, WINDOW)
  return n > 0 and window_sum / n or nil
end

local function on_episode(ep)
  returns[#returns + 1] = ep.ret
  window_sum = window_sum + ep.ret
  if #returns > WINDOW then window_sum = window_sum - returns[#returns - WINDOW] end
  local avg = avg_last()
  if #returns >= WINDOW then
    if not best_avg or avg > best_avg then best_avg = avg end
    if cfg.threshold and not steps_to_threshold and avg >= cfg.threshold then
      steps_to_threshold = ep.global_step
    end
  end
  progress_rows[#progress_rows + 1] = string.format("%s,%d,%s,%s,%s\n", num(ep.global_step),
    #returns, num(ep.ret), num(ep.length), num(avg))
  if tblog then tblog:episode(ep) end
end

local function on_update(it, wall)
  if not update_cols then
    update_cols = {}
    for k in pairs(it.stats) do update_cols[#update_cols + 1] = k end
    table.sort(update_cols)
    local h = { "global_step", "wall_time" }
    for _, c in ipairs(update_cols) do h[#h + 1] = c end
    update_rows[1] = table.concat(h, ",") .. "\n"
  end
  local row = { num(it.global_step), string.format("%.3f", wall) }
  for _, c in ipairs(update_cols) do row[#row + 1] = num(it.stats[c]) end
  update_rows[#update_rows + 1] = table.concat(row, ",") .. "\n"
  if tblog then tblog:update(it, wall) end
  if capture then capture:after_iteration(run, #returns) end
end

local function summary(status, err)
  local wall = lpdm.clock() - t0
  local config = {}
  for k, v in pairs(cfg) do config[k] = v end
  config.flags = extra
  config.algo_config = run.config
  if cfg.mode == "bp" then
    config.loss = json.null -- bp has no local loss (the algorithm was handed one, unused)
  else
    local ok, lc = pcall(function() return lpdm.loss(cfg.loss, loss_cfg).config end)
    config.loss_config = ok and lc or loss_cfg
  end
  local ok, lc = pcall(function() return lpdm.distance(cfg.distance, dist_cfg).config end)
  config.distance_config = ok and lc or dist_cfg
  config.env_config = env.config
  local res = {
    config = config,
    status = status,
    error = err,
    episodes = #returns,
    iterations = iterations,
    global_step = global_step,
    final_avg20 = avg_last() or json.null,
    best_avg20 = best_avg or (#returns > 0 and avg_last()) or json.null,
    threshold = cfg.threshold or json.null,
    steps_to_threshold = steps_to_threshold or json.null,
    wall_time_s = wall,
    steps_per_s = wall > 0 and global_step / wall or json.null,
    -- this process's clock: a resumed run's times are its last leg's
    started_at = started_at,
    ended_at = manifest.utc(),
    resumed = resume ~= nil,
  }
  for k, v in pairs(MANIFEST) do res[k] = v end -- command line, build, BLAS threads, machine
  return res
end

-- DIR/policy.safetensors: what acting needs, with the run's config (docs/policy.md).
local function save_policy()
  if PRIMARY then policy_file.save(run, out, { config = json.encode(summary(nil).config), env = cfg.env }) end
end

local function flush(status, err)
  if not PRIMARY then return end
  write_atomic(out .. "/progress.csv", table.concat(progress_rows))
  -- before the first iteration the columns are unknown: the fixed two
  write_atomic(out .. "/updates.csv", #update_rows > 0 and table.concat(update_rows) or "global_step,wall_time\n")
  if tblog then tblog:flush() end
  if status then write_atomic(out .. "/summary.json", json.encode(summary(status, err)) .. "\n") end
end

-- On a terminal one progress line, rewritten in place; otherwise (a pipe,
-- a file) one line every 2 s or 10% of the budget. The rate counts this
-- process's steps only (a resumed run starts from its checkpoint's).
local TTY = not cfg.quiet and os.execute("test -t 1") == true
local step0 = 0 -- set where the loop starts
local function progress_line(now)
  local wall = now - t0
  local avg = avg_last()
  local rate = wall > 0 and (global_step - step0) / wall or 0
  local eta = "-"
  if rate > 0 then
    local left = math.max(0, math.floor((cfg.steps - global_step) / rate + 0.5))
    eta = left >= 3600 and string.format("%d:%02d:%02d", left // 3600, left % 3600 // 60, left % 60)
      or string.format("%d:%02d", left // 60, left % 60)
  end
  local line = string.format("step %9d/%d %3d%%  episodes %6d  avg20 %8s  %8.0f steps/s  ETA %s", global_step,
    cfg.steps, math.floor(100 * global_step / cfg.steps), #returns, avg and string.format("%.2f", avg) or "-",
    rate, eta)
  if TTY then io.stdout:write("\r", line, "\27[K") else io.stdout:write(line, "\n") end
  io.stdout:flush()
end

if not cfg.quiet then
  print(string.format("%s %s mode=%s%s seed=%d steps=%d hidden=%s -> %s", cfg.env, cfg.algo, cfg.mode,
    cfg.mode == "bp" and "" or string.format(" loss=%s distance=%s", cfg.loss, cfg.distance), cfg.seed, cfg.steps,
    #cfg.hidden > 0 and table.concat(cfg.hidden, ",") or "none", out))
end

step0 = global_step
local KILL_AT = math.tointeger(tonumber(os.getenv("LPDM_TEST_KILL_AFTER") or "")) -- tests: die after this iteration
local ok, err = pcall(function()
  for it in run:iterations() do
    local now = lpdm.clock()
    iterations = it.iteration
    if it.global_step > global_step then global_step = it.global_step end
    for _, ep in ipairs(it.episodes) do on_episode(ep) end
    on_update(it, now - t0)
    if cfg.checkpoint_every > 0 and iterations % cfg.checkpoint_every == 0 then
      flush(nil) -- the rows first: a checkpoint never runs ahead of the files
      checkpoint()
      save_policy()
    end
    if KILL_AT and iterations == KILL_AT then -- tests: die like a SIGKILL'd run
      flush(nil)
      os.execute("kill -KILL $PPID")
    end
    local pct = 100 * global_step / cfg.steps
    if now - last_print >= (TTY and 0.25 or 2) or pct >= next_pct then
      if not cfg.quiet then progress_line(now) end
      flush(nil)
      last_print = now
      while next_pct <= pct do next_pct = next_pct + 10 end
    end
  end
end)

if not ok then
  local interrupted = tostring(err):find("interrupted!", 1, true) ~= nil
  local msg = clean(err)
  pcall(flush, interrupted and "interrupted" or "error", msg)
  if TTY then io.stdout:write("\n") end
  if not interrupted then die(string.format("%s (at step %d; %s/summary.json has the run so far)", msg, global_step, out)) end
  -- Ctrl-C or SIGTERM: how to continue, when a checkpoint exists
  local hint
  if PRIMARY and util.read_head(CKPT, 1) then
    local words = manifest.command(arg, shell_quote)
    local keep = {}
    for i, w in ipairs(words) do
      if not (i > 2 and (w:match("^%-%-out=") or w:match("^%-%-resume="))) then
        keep[#keep + 1] = w:match("^[%w%-_./=,:+]+$") and w or shell_quote(w)
      end
    end
    keep[#keep + 1] = "--resume=" .. shell_quote(out)
    hint = "continue from its last checkpoint with:\n  " .. table.concat(keep, " ")
  else
    hint = "no checkpoint to continue from (--checkpoint-every=N saves one every N updates)"
  end
  die(string.format("interrupted at step %d; %s/ holds the run so far; %s", global_step, out, hint), 130)
end

-- the policy before summary.json says done: a done run has its policy
local pok, wrote_policy = pcall(function() return PRIMARY and policy_file.save(run, out,
  { config = json.encode(summary("done").config), env = cfg.env }) end)
if not pok then
  pcall(flush, "error", tostring(wrote_policy))
  die(wrote_policy)
end
flush("done")
if TTY then io.stdout:write("\n") end
if not PRIMARY then
  run:close()
  return
end
local s = summary("done")
print(string.format("done: %s %s %s seed %d: %d steps, %d episodes, %d iterations in %.1f s (%.0f steps/s)",
  cfg.env, cfg.algo, cfg.mode == "bp" and "bp" or "local/" .. cfg.loss, cfg.seed, global_step, #returns, iterations, s.wall_time_s,
  s.steps_per_s ~= json.null and s.steps_per_s or 0))
print(string.format("  final avg20 %s   best avg20 %s   %s",
  s.final_avg20 ~= json.null and string.format("%.2f", s.final_avg20) or "-",
  s.best_avg20 ~= json.null and string.format("%.2f", s.best_avg20) or "-",
  not cfg.threshold and "no threshold for this env"
  or steps_to_threshold and string.format("threshold %s reached at step %d", num(cfg.threshold), steps_to_threshold)
  or string.format("threshold %s not reached", num(cfg.threshold))))
print("  wrote " .. out .. "/{progress.csv,updates.csv,summary.json" .. (wrote_policy and ",policy.safetensors}" or "}"))
run:close()
