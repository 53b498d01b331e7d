-- SPDX-License-Identifier: MIT
-- test_capture.lua -- videos around a run, as a user makes them:
-- eval.lua --video for CartPole-v1 and Hopper-v5 (frame count and size read
-- back with ffprobe), train.lua --capture-video (CleanRL's schedule, and the
-- same training bytes as without it). Run by ctest as
-- build/lpdm tests/test_capture.lua (TAP).

local LPDM = arg and arg[-1]
local HERE = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local TRAIN = HERE .. "/../scripts/train.lua"
local EVAL = HERE .. "/../scripts/eval.lua"
package.path = HERE .. "/lib/?.lua;" .. HERE .. "/../scripts/lib/?.lua;" .. package.path
local T = require("testlib")
local json = require("json")
local q, check, read = T.q, T.check, T.read

local tests = {}
local function test(name, fn) tests[#tests + 1] = { name = name, fn = fn } end
local TMP = T.tmpdir()

local function lpdm(...)
  local out, rc, cmd = T.sh(T.command("OPENBLAS_NUM_THREADS=1 ", LPDM, { ... }))
  check(rc == 0, string.format("%s\nexit %d\n%s", cmd, rc, out))
  return out
end

local function probe(path)
  local out = T.sh("ffprobe -v error -count_frames -select_streams v:0 "
    .. "-show_entries stream=nb_read_frames,width,height -of default=noprint_wrappers=1 " .. q(path))
  return tonumber(out:match("nb_read_frames=(%d+)")), tonumber(out:match("width=(%d+)")),
    tonumber(out:match("height=(%d+)"))
end

local function have(cmd) return os.execute("command -v " .. cmd .. " >/dev/null 2>&1") == true end

local function mujoco_renders()
  local out = T.sh(T.command("", LPDM, { "-e", "local e = require('lpdm').env('Hopper-v5'); e:reset(1); e:render()" }))
  return not out:find("OSMesa", 1, true) and not out:find("libosmesa", 1, true)
end

test("the capture schedule is CleanRL's capped cubic one", function()
  local capture = require("capture")
  local got = {}
  for k = 0, 3000 do if capture.trigger(k) then got[#got + 1] = k end end
  check(table.concat(got, ",") == "0,1,8,27,64,125,216,343,512,729,1000,2000,3000", table.concat(got, ","))
end)

-- eval.lua --video on a short run of env; returns the video's path and eval.json
local function eval_video(env, algo, steps, ext)
  local dir = TMP .. "/" .. env
  lpdm(TRAIN, "--env=" .. env, "--algo=" .. algo, "--steps=" .. steps, "--quiet", "--out=" .. dir)
  local path = TMP .. "/" .. env .. "." .. (ext or "mp4")
  lpdm(EVAL, dir, "--episodes=2", "--deterministic", "--video=" .. path)
  local e = json.decode(read(dir .. "/eval.json"))
  return path, e
end

test("eval.lua --video: a playable MP4 of CartPole-v1, one frame per step plus the first", function()
  if not have("ffmpeg") or not have("ffprobe") then return "skip", "no ffmpeg" end
  local path, e = eval_video("CartPole-v1", "reinforce", 3000)
  local frames, w, h = probe(path)
  check(frames == e.lengths[1] + 1 and w == 600 and h == 400,
    string.format("%s: %s frames of %sx%s, episode length %d", path, tostring(frames), tostring(w), tostring(h),
      e.lengths[1]))
  check(e.video == path, "eval.json names the video: " .. tostring(e.video))
end)

test("eval.lua --video: a playable MP4 of Hopper-v5 (480 x 480, MuJoCo through OSMesa), and a GIF", function()
  if not have("ffmpeg") or not have("ffprobe") then return "skip", "no ffmpeg" end
  if not mujoco_renders() then return "skip", "built without OSMesa" end
  local path, e = eval_video("Hopper-v5", "ppo", 2048)
  local frames, w, h = probe(path)
  check(frames == e.lengths[1] + 1 and w == 480 and h == 480,
    string.format("%s frames of %sx%s, episode length %d", tostring(frames), tostring(w), tostring(h), e.lengths[1]))
  local gif = TMP .. "/cp.gif"
  lpdm(EVAL, TMP .. "/CartPole-v1", "--episodes=1", "--deterministic", "--video=" .. gif)
  local gf, gw = probe(gif)
  check(gf and gf > 1 and gw == 600, "gif: " .. tostring(gf) .. " frames, width " .. tostring(gw))
end)

-- progress.csv and updates.csv without the clock columns
local function bytes(dir)
  local up = {}
  local cols
  for line in (read(dir .. "/updates.csv") or ""):gmatch("[^\n]+") do
    local f = {}
    for c in (line .. ","):gmatch("([^,]*),") do f[#f + 1] = c end
    if not cols then
      cols = f
    end
    local keep = {}
    for i, c in ipairs(f) do
      if cols[i] ~= "wall_time" and cols[i] ~= "sps" then keep[#keep + 1] = c end
    end
    up[#up + 1] = table.concat(keep, ",")
  end
  return read(dir .. "/progress.csv"), table.concat(up, "\n")
end

test("train.lua --capture-video: videos at the schedule, and the same training bytes as without", function()
  if not have("ffmpeg") or not have("ffprobe") then return "skip", "no ffmpeg" end
  for _, algo in ipairs({ "reinforce", "ppo" }) do
    local a, b = TMP .. "/cap-" .. algo, TMP .. "/nocap-" .. algo
    lpdm(TRAIN, "--algo=" .. algo, "--steps=3000", "--quiet", "--out=" .. a, "--capture-video")
    lpdm(TRAIN, "--algo=" .. algo, "--steps=3000", "--quiet", "--out=" .. b)
    local pa, ua = bytes(a)
    local pb, ub = bytes(b)
    check(pa == pb and ua == ub, algo .. ": --capture-video changed progress.csv or updates.csv")
    local s = json.decode(read(a .. "/summary.json"))
    check(s.config.capture_video == true, "summary.json records the flag")
    local ls = T.sh("ls " .. q(a .. "/videos"))
    check(ls:find("episode-0.mp4", 1, true) or algo == "ppo", algo .. ": no video of episode 0: " .. ls)
    local n = 0
    for f in ls:gmatch("episode%-(%d+)%.mp4") do
      n = n + 1
      check(require("capture").trigger(tonumber(f)), "a video off the schedule: " .. f)
      local frames, w, h = probe(a .. "/videos/episode-" .. f .. ".mp4")
      check(frames and frames >= 2 and w == 600 and h == 400, "episode-" .. f .. ".mp4: " .. tostring(frames))
    end
    check(n >= 2, algo .. ": " .. n .. " videos")
  end
end)

test("without ffmpeg, --capture-video and --video are refused naming the package, before training", function()
  -- a PATH with every command of /usr/bin and /bin but ffmpeg
  local bin = TMP .. "/bin-noffmpeg"
  os.execute("mkdir -p " .. q(bin) .. " && for f in /usr/bin/* /bin/*; do b=${f##*/}; case $b in ffmpeg|ffprobe) ;; " ..
    "*) [ -e " .. q(bin) .. "/$b ] || ln -s \"$f\" " .. q(bin) .. "/$b;; esac; done")
  local PATHX = "PATH=" .. q(bin) .. " "
  local dir = TMP .. "/nopath"
  local out, rc = T.sh(PATHX .. T.command("", LPDM, { TRAIN, "--steps=300", "--quiet",
    "--capture-video", "--out=" .. dir }))
  check(rc == 1 and out:find("install the Debian package ffmpeg", 1, true), out)
  check(not T.exists(dir .. "/progress.csv") or (read(dir .. "/progress.csv") or ""):match("^[^\n]*\n$"),
    "training ran without ffmpeg")
  out, rc = T.sh(PATHX .. T.command("", LPDM, { EVAL, TMP .. "/CartPole-v1", "--video=" ..
    TMP .. "/x.mp4" }))
  check(rc == 1 and out:find("ffmpeg", 1, true), out)
end)

T.run_tests(tests, TMP)
