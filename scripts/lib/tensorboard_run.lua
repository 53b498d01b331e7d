-- SPDX-License-Identifier: MIT
-- tensorboard_run.lua -- train.lua's --tensorboard: a run's episodes and
-- update figures as TensorBoard scalars with CleanRL's tags, written by
-- scripts/lib/tensorboard.lua into the run's directory beside the CSVs,
-- so that `tensorboard --logdir runs` shows runs as it shows CleanRL's.
-- docs/outputs.md, "TensorBoard", lists the tags per algorithm.
--
--   local tbrun = require("tensorboard_run")
--   local log = tbrun.open(dir, { clock = lpdm.clock, mode = "bp",
--                                config = run.config, resume_step = nil })
--   log:episode(ep)          -- ep.global_step, ep.ret, ep.length
--   log:update(it, wall)     -- it.global_step, it.stats; wall: seconds since start
--   log:flush()  log:close()
--
-- Tags. An episode: charts/episodic_return and charts/episodic_length at
-- the global step where it ended. An update (at the iteration's global
-- step), from the algorithm's figures (the columns of updates.csv):
--   learning_rate          -> charts/learning_rate
--   sps                    -> charts/SPS
--   value_loss, loss_value -> losses/value_loss
--   policy_loss, loss_policy -> losses/policy_loss
--   entropy, approx_kl, old_approx_kl, clipfrac, explained_variance,
--   td_loss, q_values      -> losses/<the same name>
--   actor_local_loss_N     -> local/actor_layer_N    (PPO's actor trunk)
--   critic_local_loss_N    -> local/critic_layer_N   (PPO's critic trunk)
--   local_loss_N           -> local/layer_N          (the one trunk of
--                             REINFORCE, DQN: hidden layer N, from the input)
--   any other figure F     -> lpdm/F
-- An algorithm without a learning_rate figure gets charts/learning_rate
-- from its resolved config: the rate of its output layer, in bp mode
-- config.learning_rate or config.lr, in local mode config.head_lr; a 0 there
-- (a default the algorithm resolves inside) writes nothing. Without an sps
-- figure, charts/SPS is this process's steps over its wall time,
-- (global_step - the step it started at) / wall. A NaN figure (DQN's losses
-- before learning starts) is not written.
--
-- Every file begins (after its file_version) with a SessionLog START: at
-- step 0 for a new run, at resume_step + 1 for a resumed one (resume_step:
-- the checkpoint's global step). TensorBoard takes a run's first START as
-- its start and every later one as a restart, dropping the points already
-- read at steps >= that step: what a killed run wrote after its checkpoint,
-- or an earlier run's points when a new run writes into the same DIR. So
-- the scalars agree with progress.csv and updates.csv.
local tb = require("tensorboard")

local M = {}

local LOSSES = { entropy = true, approx_kl = true, old_approx_kl = true, clipfrac = true,
  explained_variance = true, td_loss = true, q_values = true, value_loss = true, policy_loss = true }
local RENAMED = { learning_rate = "charts/learning_rate", sps = "charts/SPS",
  loss_value = "losses/value_loss", loss_policy = "losses/policy_loss" }

-- The tag of an algorithm's figure name (see the header).
function M.tag(name)
  if RENAMED[name] then return RENAMED[name] end
  if LOSSES[name] then return "losses/" .. name end
  local n = name:match("^actor_local_loss_(%d+)$")
  if n then return "local/actor_layer_" .. n end
  n = name:match("^critic_local_loss_(%d+)$")
  if n then return "local/critic_layer_" .. n end
  n = name:match("^local_loss_(%d+)$")
  if n then return "local/layer_" .. n end
  return "lpdm/" .. name
end

-- The configured rate of the output layer, or nil (see the header).
function M.config_lr(config, mode)
  if type(config) ~= "table" then return nil end
  local keys = mode == "local" and { "head_lr" } or { "learning_rate", "lr" }
  for _, k in ipairs(keys) do
    local v = tonumber(config[k])
    if v and v > 0 then return v end
  end
  return nil
end

local Log = {}
Log.__index = Log

-- Opens a new event file in dir (see the header for opts).
function M.open(dir, opts)
  opts = opts or {}
  local w = tb.open(dir, { clock = opts.clock })
  local self = setmetatable({ w = w, path = w.path, step0 = opts.resume_step or 0,
    lr = M.config_lr(opts.config, opts.mode) }, Log)
  w:session_start(opts.resume_step and opts.resume_step + 1 or 0)
  return self
end

-- Adds {tag, v} to list unless v is NaN (or not a number).
local function put(list, tag, v)
  if type(v) == "number" and v == v then list[#list + 1] = { tag, v } end
end

-- One Event per episode: its return and length.
function Log:episode(ep)
  local list = {}
  put(list, "charts/episodic_return", ep.ret)
  put(list, "charts/episodic_length", ep.length)
  self.w:scalars(list, math.tointeger(ep.global_step))
end

-- One Event per update: its figures (in name order), the configured rate
-- and SPS where the algorithm gives none.
function Log:update(it, wall)
  local step = math.tointeger(it.global_step)
  local names, list = {}, {}
  for k in pairs(it.stats) do if k ~= "global_step" then names[#names + 1] = k end end
  table.sort(names)
  for _, k in ipairs(names) do put(list, M.tag(k), it.stats[k]) end
  if it.stats.learning_rate == nil and self.lr then put(list, "charts/learning_rate", self.lr) end
  if it.stats.sps == nil and wall and wall > 0 then put(list, "charts/SPS", (step - self.step0) / wall) end
  self.w:scalars(list, step)
end

function Log:flush() self.w:flush() end
function Log:close() self.w:close() end

return M
