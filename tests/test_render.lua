-- SPDX-License-Identifier: MIT
-- test_render.lua -- env images and videos (docs/rendering.md): every env
-- of lpdm.envs() renders at its documented size and frame rate; one state
-- gives the same bytes, another state other bytes; rendering changes no
-- result (a run that renders every step steps as one that never does);
-- sizes and bad options; an env without images says so. Then
-- scripts/lib/video.lua: 20-frame MP4s of CartPole-v1 and Hopper-v5 and a
-- GIF, read back with ffprobe (frame count and size), and ffmpeg's own
-- error for a bad path.
-- MuJoCo envs need OSMesa: ctest sets LPDM_HAVE_OSMESA=1 when lpdm was
-- built with it; without it their checks are TAP skips, and the refusal
-- must name libosmesa6-dev. Without ffmpeg on PATH the video checks are
-- skips, and video.open must name the Debian package.
local lpdm = require("lpdm")
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = here .. "/lib/?.lua;" .. here .. "/../scripts/lib/?.lua;" .. package.path
local T = require("testlib")
local video = require("video")
local tap = T.tap()
local ok = tap.ok

local HAVE_OSMESA = os.getenv("LPDM_HAVE_OSMESA") == "1"
local function skip(name, why) ok(true, name .. " # SKIP " .. why) end

-- The documented sizes and frame rates (docs/rendering.md).
local SIZE = {
  ["CartPole-v1"] = { 600, 400, 50 }, ["Acrobot-v1"] = { 500, 500, 15 },
  ["MountainCar-v0"] = { 600, 400, 30 }, ["MountainCarContinuous-v0"] = { 600, 400, 30 },
  ["Pendulum-v1"] = { 500, 500, 30 }, ["MinAtar/Breakout-v1"] = { 320, 320, 15 },
  ["Hopper-v5"] = { 480, 480, 125 }, ["Walker2d-v5"] = { 480, 480, 125 },
  ["HalfCheetah-v5"] = { 480, 480, 20 }, ["Ant-v5"] = { 480, 480, 20 },
  ["Swimmer-v5"] = { 480, 480, 25 }, ["Humanoid-v5"] = { 480, 480, 67 },
  ["Reacher-v5"] = { 480, 480, 50 }, ["InvertedPendulum-v5"] = { 480, 480, 25 },
  ["InvertedDoublePendulum-v5"] = { 480, 480, 20 },
}
local function is_mujoco(id) return id:match("%-v5$") ~= nil end

local function action(env, i)
  local s = env.action_space
  if s.kind == "discrete" then return i % s.n end
  local a = {}
  for k = 1, s.shape[1] do a[k] = 0.4 * math.sin(i + k) end
  return a
end

local function differ(a, b)
  local n = 0
  for i = 1, #a, 97 do if a:byte(i) ~= b:byte(i) then n = n + 1 end end
  return n
end

for _, id in ipairs(lpdm.envs()) do
  local env = lpdm.env(id)
  local want = SIZE[id]
  ok(want ~= nil, id .. ": has a documented size (add it to docs/rendering.md and this test)")
  want = want or { 0, 0, 0 }
  ok(env.render_width == want[1] and env.render_height == want[2] and env.render_fps == want[3],
    string.format("%s: render_width, render_height, render_fps = %s, %s, %s", id, tostring(env.render_width),
      tostring(env.render_height), tostring(env.render_fps)))
  env:reset(7)
  for i = 1, 5 do env:step(action(env, i)) end
  if is_mujoco(id) and not HAVE_OSMESA then
    local good, err = pcall(env.render, env)
    ok(not good and tostring(err):find("libosmesa6-dev", 1, true) and tostring(err):find(id, 1, true),
      id .. ": without OSMesa, render names the env and libosmesa6-dev (" .. tostring(err) .. ")")
    skip(id .. ": renders its image", "lpdm built without OSMesa (libosmesa6-dev)")
  else
    local s = env:state()
    local img = env:render()
    ok(img.width == want[1] and img.height == want[2] and #img.rgb == want[1] * want[2] * 3,
      string.format("%s: renders %dx%d with %d bytes", id, img.width, img.height, #img.rgb))
    local again = env:render()
    ok(again.rgb == img.rgb, id .. ": two renders of one state are the same bytes")
    -- other states: a few more steps, then back to s
    for i = 6, 15 do env:step(action(env, i)) end
    local later = env:render()
    ok(later.rgb ~= img.rgb, id .. ": another state gives another image (" .. differ(later.rgb, img.rgb) .. " of sampled bytes differ)")
    env:set_state(s)
    ok(env:render().rgb == img.rgb, id .. ": set_state back gives the first image again")
    -- another env of the same id, reset with the same seed, same actions
    -- (one MuJoCo env: each makes its own OSMesa context, ~0.3 s)
    if not is_mujoco(id) or id == "Hopper-v5" then
      local twin = lpdm.env(id)
      twin:reset(7)
      for i = 1, 5 do twin:step(action(twin, i)) end
      ok(twin:render().rgb == img.rgb, id .. ": a second env in the same state gives the same bytes")
      twin:close()
    end
    local small = env:render{ width = 64, height = 48 }
    ok(small.width == 64 and small.height == 48 and #small.rgb == 64 * 48 * 3, id .. ": renders at 64x48 when asked")
  end
  env:close()
end

-- Rendering changes no result: one env renders every step, its twin never.
for _, id in ipairs{ "CartPole-v1", "Pendulum-v1", "MinAtar/Breakout-v1", "Hopper-v5", "Humanoid-v5" } do
  if is_mujoco(id) and not HAVE_OSMESA then
    skip(id .. ": rendering changes no step", "lpdm built without OSMesa")
  else
    local a, b = lpdm.env(id), lpdm.env(id)
    local same = true
    local oa, ob = a:reset(3), b:reset(3)
    for i = 1, 30 do
      a:render()
      local o1, r1, t1, u1 = a:step(action(a, i))
      local o2, r2, t2, u2 = b:step(action(b, i))
      if r1 ~= r2 or t1 ~= t2 or u1 ~= u2 then same = false end
      for k = 1, #o1 do if o1[k] ~= o2[k] then same = false end end
    end
    local sa, sb = a:state(), b:state()
    for k = 1, #sa do if sa[k] ~= sb[k] then same = false end end
    ok(same and #oa == #ob, id .. ": 30 steps with a render before each equal 30 steps without, bit for bit")
  end
end

-- Bad options and an env without images.
do
  local env = lpdm.env("CartPole-v1")
  tap.refused(function() env:render{ width = 0 } end, "'width' must be an integer in 1..8192", "render{width=0}")
  tap.refused(function() env:render{ height = 2.5 } end, "'height' must be an integer", "render{height=2.5}")
  tap.refused(function() env:render{ size = 3 } end, "unknown option 'size'", "render{size=3}")
  tap.refused(function() env:render(5) end, "table expected", "render(5)")
  ok(type(env:render_text()) == "string" and env:render_text():find("CartPole-v1", 1, true),
    "render_text() is the old one-line text")
  local fx = os.getenv("LPDM_FIXTURE_DIR")
  if fx then
    lpdm.load_plugin(fx .. "/nan_env.so")
    local plain = lpdm.env("NanEnv-v0")
    ok(plain.render_fps == nil, "an env without render_rgb has no render_fps")
    tap.refused(function() plain:render() end, "NanEnv-v0: this env does not render images",
      "an env without images says so, by name")
  else
    skip("an env without images says so", "LPDM_FIXTURE_DIR unset (ctest sets it)")
    skip("an env without images has no render_fps", "LPDM_FIXTURE_DIR unset")
  end
end

-- video.lua
local dir = T.tmpdir()
local function probe(path)
  local out = T.sh("ffprobe -v error -count_frames -select_streams v:0 "
    .. "-show_entries stream=nb_read_frames,width,height -of default=noprint_wrappers=1 " .. T.q(path))
  return tonumber(out:match("nb_read_frames=(%d+)")), tonumber(out:match("width=(%d+)")),
    tonumber(out:match("height=(%d+)"))
end

local function record(id, path, frames)
  local env = lpdm.env(id)
  env:reset(1)
  local w, err = video.open(path, { width = env.render_width, height = env.render_height, fps = env.render_fps })
  if not w then return nil, err end
  for i = 1, frames do
    w:frame(env:render())
    local _, _, term, trunc = env:step(action(env, i))
    if term or trunc then env:reset() end
  end
  local n = w.frames
  local good, cerr = w:close()
  env:close()
  return good and n, cerr
end

if not video.available() then
  local w, err = video.open(dir .. "/x.mp4", { width = 2, height = 2, fps = 1 })
  ok(w == nil and tostring(err):find("Debian package ffmpeg", 1, true),
    "without ffmpeg, video.open names the Debian package (" .. tostring(err) .. ")")
  skip("videos", "ffmpeg is not installed")
else
  ok(video.available(), "video.available() sees ffmpeg")
  local cases = { { "CartPole-v1", "cartpole.mp4", 600, 400 }, { "CartPole-v1", "cartpole.gif", 600, 400 },
    { "Hopper-v5", "hopper.mp4", 480, 480 } }
  for _, c in ipairs(cases) do
    if is_mujoco(c[1]) and not HAVE_OSMESA then
      skip(c[2] .. ": 20 frames", "lpdm built without OSMesa")
    else
      local path = dir .. "/" .. c[2]
      local n, err = record(c[1], path, 20)
      ok(n == 20, c[2] .. ": 20 frames written (" .. tostring(err) .. ")")
      local frames, w, h = probe(path)
      ok(frames == 20 and w == c[3] and h == c[4], string.format("%s: ffprobe reads %s frames of %sx%s",
        c[2], tostring(frames), tostring(w), tostring(h)))
    end
  end
  -- odd sizes are padded for MP4 (yuv420p)
  do
    local env = lpdm.env("Pendulum-v1")
    env:reset(1)
    local path = dir .. "/odd.mp4"
    local w = assert(video.open(path, { width = 33, height = 21, fps = 30 }))
    for _ = 1, 3 do w:frame(env:render{ width = 33, height = 21 }) end
    ok(w:close() == true, "odd.mp4: an odd size is written")
    local frames, pw, ph = probe(path)
    ok(frames == 3 and pw == 34 and ph == 22, string.format("odd.mp4: padded to %sx%s, %s frames",
      tostring(pw), tostring(ph), tostring(frames)))
  end
  -- ffmpeg's own error, and the writer's checks
  do
    local env = lpdm.env("CartPole-v1")
    env:reset(1)
    local bad = dir .. "/no/such/dir/x.mp4"
    local w = assert(video.open(bad, { width = 600, height = 400, fps = 50 }))
    for _ = 1, 5 do w:frame(env:render()) end
    local good, err = w:close()
    ok(good == nil and tostring(err):find("ffmpeg failed writing " .. bad, 1, true)
      and tostring(err):find("No such file or directory", 1, true),
      "a bad path: close returns ffmpeg's own error (" .. tostring(err) .. ")")
    local w2 = assert(video.open(dir .. "/y.gif", { width = 600, height = 400, fps = 50 }))
    tap.refused(function() w2:frame(env:render{ width = 60, height = 40 }) end, "the frame is 60x40",
      "a frame of the wrong size is refused")
    w2:close()
    local nw, nerr = video.open(dir .. "/x.avi", { width = 2, height = 2 })
    ok(nw == nil and tostring(nerr):find("unknown format '.avi'", 1, true), "an unknown extension: " .. tostring(nerr))
    nw, nerr = video.open(dir .. "/x.mp4", { width = 0, height = 2 })
    ok(nw == nil and tostring(nerr):find("width and height", 1, true), "a bad size: " .. tostring(nerr))
  end
end

os.execute("rm -rf " .. T.q(dir))
tap.finish(true)
