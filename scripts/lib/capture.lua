-- SPDX-License-Identifier: MIT
-- capture.lua -- train.lua's --capture-video: a video of the policy as it is
-- at intervals of training, as CleanRL's --capture-video records one.
--
--   local capture = require("capture")
--   local cap = capture.open(lpdm, env_id, env_config, dir)  -- or nil, message
--   cap:after_iteration(run, episodes_so_far)                 -- after each update
--
-- WHEN. CleanRL records training episode k (0-based) of its first env copy
-- when k is a perfect cube below 1000 (0, 1, 8, 27, ..., 729) and then
-- every 1000th (1000, 2000, ...). lpdm keeps that schedule, but records the
-- policy on an env of its own: after the update in which training finished
-- episode k, one episode of the current policy acting greedily (run:act,
-- the action an evaluation with --deterministic takes), written to
-- DIR/videos/episode-<k>.mp4. If one update passes several trigger
-- episodes (early on, many short episodes end per update), one video is
-- made, named after the last of them.
--
-- WHY NOT THE TRAINING EPISODE ITSELF. The env copies live inside the
-- algorithm, and rendering one of them there would tie the recording to
-- each algorithm's code; a separate env leaves training untouched: a run
-- with --capture-video writes the same progress.csv and updates.csv as one
-- without (tests/test_capture.lua checks it). The recorded episodes use the
-- evaluation seeds (docs/policy.md, "The seed rule"), the n-th video
-- EVAL_BASE + n, so no training episode is replayed.
--
-- COST. One rendered frame per env step of the recorded episode (MuJoCo
-- through OSMesa in software: docs/rendering.md has the cost per image); a
-- 1M-step MuJoCo run records about 10 + steps/1000/episode_length videos.
local policy_file = require("policy_file")
local video = require("video")

local M = {}

-- CleanRL's capped cubic schedule: is training episode k (0-based) recorded?
function M.trigger(k)
  if k < 1000 then
    local r = math.floor(k ^ (1 / 3) + 0.5)
    return r * r * r == k
  end
  return k % 1000 == 0
end

local C = {}
C.__index = C

-- A recorder for runs on env_id (with env_config, a table or nil) writing
-- into dir/videos; nil and a message when rendering or ffmpeg is missing
-- (checked once, here, before training starts).
function M.open(lpdm, env_id, env_config, dir)
  if not video.available() then
    return nil, "--capture-video needs ffmpeg: install the Debian package ffmpeg (apt-get install ffmpeg)"
  end
  local ok, env = pcall(lpdm.env, env_id, env_config)
  if not ok then return nil, "--capture-video: " .. tostring(env) end
  local rok, img = pcall(function()
    env:reset(policy_file.eval_seed(0, 0))
    return env:render()
  end)
  if not rok then
    env:close()
    return nil, "--capture-video: " .. tostring(img)
  end
  local vdir = dir .. "/videos"
  if not os.execute("mkdir -p -- '" .. vdir:gsub("'", "'\\''") .. "'") then
    env:close()
    return nil, "--capture-video: cannot create " .. vdir
  end
  return setmetatable({ env = env, dir = vdir, width = img.width, height = img.height,
    fps = env.render_fps or 30, done_through = -1, n = 0, files = {} }, C)
end

-- Records one greedy episode of run's current policy to path.
function C:record(run, path)
  local env = self.env
  local w, err = video.open(path, { width = self.width, height = self.height, fps = self.fps })
  if not w then error(err, 0) end
  local obs = env:reset(policy_file.eval_seed(0, self.n))
  self.n = self.n + 1
  w:frame(env:render())
  for _ = 1, (env.max_episode_steps and env.max_episode_steps > 0 and env.max_episode_steps or 100000) do
    local _, _, term, trunc
    obs, _, term, trunc = env:step(run:act(obs))
    w:frame(env:render())
    if term or trunc then break end
  end
  local ok, cerr = w:close()
  if not ok then error(cerr, 0) end
  self.files[#self.files + 1] = path
end

-- After an update: training has finished `episodes` episodes (0..episodes-1);
-- records one video if a trigger episode was among the new ones.
function C:after_iteration(run, episodes)
  local last
  for k = self.done_through + 1, episodes - 1 do
    if M.trigger(k) then last = k end
  end
  self.done_through = episodes - 1
  if last then self:record(run, string.format("%s/episode-%d.mp4", self.dir, last)) end
end

function C:close()
  if self.env then self.env:close() end
  self.env = nil
end

return M
