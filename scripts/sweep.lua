-- sweep.lua -- run a sweep of train.lua runs (envs x algos x variants x
-- seeds), N at a time, resumable, and write a report.
--
--   build/lpdm scripts/sweep.lua CONFIG.lua --out=DIR [--jobs=N] [--steps=N] [--dry-run]
--
-- CONFIG.lua returns a table (docs/sweeps.md):
--   return {
--     envs = { { name = "CartPole-v1", steps = 100000, threshold = 475 } },
--     algos = { "reinforce" },
--     variants = { { name = "bp", flags = { mode = "bp" } },
--                  { name = "local", flags = { mode = "local", loss = "guided" } } },
--     seeds = { 1, 2, 3 },
--   }
-- Flags:
--   --out=DIR    output folder (required): DIR/runs/<env>/<algo>/<variant>/s<seed>,
--                DIR/sweep.json, DIR/report.md
--   --jobs=N     runs at a time (default 1)
--   --steps=N    replaces every env's steps budget (e.g. for a smoke test)
--   --dry-run    list the runs (and which are already done), run nothing
--   --help
-- Exit status: 0 every run done; 1 the sweep finished but some runs failed (the rule of every lpdm command: 1 for any error)
-- (listed in DIR/report.md and DIR/sweep.json); 1 bad input or an error;
-- 130 interrupted.
local PROG = "sweep.lua"

local function die(msg, code)
  io.stderr:write(PROG, ": ", tostring(msg), "\n")
  os.exit(code or 1)
end

-- scripts/lib holds the module; find it from this script's own path.
local SCRIPT = arg and arg[0] or "scripts/sweep.lua"
local HERE = SCRIPT:match("^(.*)/[^/]*$") or "."
package.path = HERE .. "/lib/?.lua;" .. package.path
local sweep = require("sweep")
local q = sweep.quote

local LPDM = require("util").interpreter(arg)
local TRAIN = HERE .. "/train.lua"

local USAGE = "usage: lpdm scripts/sweep.lua CONFIG.lua --out=DIR [--jobs=N] [--steps=N] [--dry-run]"

-- ---------------------------------------------------------------- flags

local KNOWN = { out = true, jobs = true, steps = true, dry_run = true, help = true }
local flags, config_path = {}, nil
for i = 1, #arg do
  local a = arg[i]
  local name, value = a:match("^%-%-([%w%-_]+)=(.*)$")
  if not name then
    name = a:match("^%-%-([%w%-_]+)$")
    value = true
  end
  if name then
    local key = name:gsub("%-", "_")
    if not KNOWN[key] then die(string.format("unknown flag --%s (known: --out, --jobs, --steps, --dry-run, --help)", name)) end
    if flags[key] ~= nil then die(string.format("flag --%s given twice", name)) end
    flags[key] = value
  elseif config_path == nil then
    config_path = a
  else
    die(string.format("unexpected argument '%s' (one config file; flags look like --name=value)", a))
  end
end

if flags.help then
  print(USAGE)
  print("Runs build/lpdm scripts/train.lua for every env x algo x variant x seed of CONFIG.lua;")
  print("see docs/sweeps.md.")
  os.exit(0)
end
if not config_path then die("no config file given\n" .. USAGE) end
if not LPDM then die("cannot find the lpdm executable (arg[-1] is not set)") end

local function int_flag(name, min)
  local v = flags[name]
  if v == nil then return nil end
  local n = type(v) == "string" and v:match("^%d+$") and math.tointeger(tonumber(v))
  if not n or n < min then
    die(string.format("--%s expects an integer >= %d, got '%s'", name:gsub("_", "-"), min, tostring(v)))
  end
  return n
end
local jobs = int_flag("jobs", 1) or 1
local steps_override = int_flag("steps", 1)
if flags.out == true or flags.out == "" then die("--out needs a folder (--out=DIR)") end
if flags.dry_run ~= nil and flags.dry_run ~= true then die("--dry-run is a switch, got '" .. tostring(flags.dry_run) .. "'") end
local out = flags.out
if not out and not flags.dry_run then die("--out=DIR is required (where the runs and the report go)") end
out = out or "."
out = out:gsub("/+$", "")
if out == "" then out = "/" end

local okc, cfg, config_text = pcall(sweep.load, config_path)
if not okc then die(cfg) end

-- The exact command, quoted for sh.
local command
do
  local parts = {}
  local i = -1
  while arg[i - 1] ~= nil do i = i - 1 end
  for j = i, #arg do parts[#parts + 1] = q(arg[j]) end
  command = table.concat(parts, " ")
end

-- ---------------------------------------------------------------- plan

local runs = sweep.plan(cfg, out, steps_override)
local todo, skipped = {}, 0
for _, r in ipairs(runs) do
  if sweep.is_done(r) then
    skipped = skipped + 1
  else
    todo[#todo + 1] = r
  end
end

print(string.format("%s: %d runs (%d envs x %d algos x %d variants x %d seeds): %d already done, %d to run, %d at a time",
  PROG, #runs, #cfg.envs, #cfg.algos, #cfg.variants, #cfg.seeds, skipped, #todo, jobs))

if flags.dry_run then
  for _, r in ipairs(runs) do
    local done = sweep.is_done(r)
    print(string.format("%s  %s %s", done and "done" or "todo", r.rel,
      q(LPDM) .. " " .. q(TRAIN) .. " " .. table.concat((function()
        local t = {}
        for i, a in ipairs(r.args) do t[i] = q(a) end
        return t
      end)(), " ")))
  end
  os.exit(0)
end

local ok, err = pcall(function()
  os.execute("mkdir -p " .. q(out))
end)
if not ok then die(err) end

-- ---------------------------------------------------------------- sweep.json

local started = os.date("!%Y-%m-%dT%H:%M:%SZ")
local function write_state(final)
  local recs = sweep.json.array()
  local nd, nf = 0, 0
  for _, r in ipairs(runs) do
    recs[#recs + 1] = sweep.run_record(r)
    if r.status == "done" then nd = nd + 1 elseif r.status == "failed" then nf = nf + 1 end
  end
  sweep.write_atomic(out .. "/sweep.json", sweep.json.encode({
    command = command, config_file = config_path, config = config_text, out = out, jobs = jobs,
    started = started, finished = final and os.date("!%Y-%m-%dT%H:%M:%SZ") or sweep.json.null,
    total = #runs, already_done = skipped, to_run = #todo, done = nd, failed = nf,
    pending = #runs - nd - nf, runs = recs,
  }) .. "\n")
end

-- Runs already done are read back (their statistics go into the report).
for _, r in ipairs(runs) do
  if sweep.is_done(r) then sweep.collect(r) end
end
for _, r in ipairs(todo) do r.ran = true end
local wok, werr = pcall(write_state, false)
if not wok then die(werr) end

-- ---------------------------------------------------------------- progress

local tty = os.execute("test -t 1") == true
local last_len = 0
local function show(st)
  local line = sweep.progress_line(st, skipped)
  if tty then
    local pad = last_len > #line and string.rep(" ", last_len - #line) or ""
    io.stdout:write("\r", line, pad)
    io.stdout:flush()
    last_len = #line
  end
end

local eok, eerr = pcall(sweep.execute, todo, {
  jobs = jobs, lpdm = LPDM, train = TRAIN,
  progress = show,
  on_finish = function(r, st)
    if tty then
      if r.status ~= "done" then
        io.stdout:write("\r", string.rep(" ", last_len), "\r", "failed: ", r.rel, " (", r.reason, ")\n")
      end
      show(st)
    else
      print(string.format("[%d/%d] %s %s%s | %s", st.done + st.failed, st.total,
        r.status, r.rel, r.status == "done" and string.format(" final %.2f", r.final) or (" (" .. r.reason .. ")"),
        sweep.progress_line(st, skipped)))
      io.stdout:flush()
    end
    pcall(write_state, false)
  end,
  on_abort = function() pcall(write_state, false) end,
})
if tty then io.stdout:write("\n") end
if not eok then
  if tostring(eerr):find("interrupted!", 1, true) then die("interrupted: the running runs were stopped; run the sweep again to resume", 130) end
  die(eerr)
end

-- ---------------------------------------------------------------- report

local rok, rerr = pcall(function()
  write_state(true)
  sweep.report(out .. "/report.md", runs, cfg, command, config_text)
end)
if not rok then die(rerr) end

local nd, nf = 0, 0
for _, r in ipairs(runs) do
  if r.status == "done" then nd = nd + 1 else nf = nf + 1 end
end
print(string.format("%s: %d/%d runs done, %d failed; wrote %s/sweep.json and %s/report.md",
  PROG, nd, #runs, nf, out, out))
os.exit(nf > 0 and 1 or 0)
