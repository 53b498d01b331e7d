-- SPDX-License-Identifier: MIT
-- video.lua -- writes the images of env:render() to a video file with
-- ffmpeg (Debian package ffmpeg), in pure Lua: the frames go to ffmpeg's
-- standard input as raw RGB24 through io.popen.
--
--   local video = require("video")          -- scripts/lib/ on package.path
--   local w = assert(video.open("run.mp4", { width = 600, height = 400, fps = 50 }))
--   for ... do w:frame(env:render()) end    -- {width=, height=, rgb=}
--   local ok, err = w:close()               -- true, or nil and a message
--
-- video.available()  true when ffmpeg is on PATH (`command -v ffmpeg`).
-- video.open(path, {width=, height=, fps=})
--                    a writer, or nil and a message (no ffmpeg: the message
--                    names the Debian package; a bad path extension or
--                    option: says which). The format follows the extension:
--     .mp4  H.264 (libx264, -pix_fmt yuv420p, playable everywhere). yuv420p
--           needs even sizes: an odd width or height gets one black column
--           or row more (the file is then (W+1) x H, say).
--     .gif  a GIF with its own palette (palettegen, paletteuse), looping.
--           GIF stores delays in 1/100 s, so rates above 50 fps play slower
--           in most viewers.
-- w:frame(img)       appends one image; img must be width x height, as
--                    opened (an error otherwise: the caller's mistake).
--                    Returns true, or nil and a message once ffmpeg is gone.
-- w:close()          finishes the file: true, or nil and "video: ffmpeg
--                    failed writing <path> (exit n): <the tail of ffmpeg's
--                    own messages>". A writer left open is closed by the
--                    garbage collector (or a <close> variable).
-- w.frames, w.path, w.width, w.height, w.fps
--
-- ffmpeg's messages go to a temporary file, read back on failure. ffmpeg
-- runs under `sh` so that, if it stops early, the rest of the frames are
-- drained instead of killing lpdm with SIGPIPE.
local M = {}

local function q(s) return "'" .. (tostring(s):gsub("'", "'\\''")) .. "'" end

local FFMPEG_MISSING = "video: ffmpeg not found on PATH: install the Debian package ffmpeg "
  .. "(apt-get install ffmpeg)"

function M.available()
  local p = io.popen("command -v ffmpeg 2>/dev/null", "r")
  if not p then return false end
  local s = p:read("a") or ""
  p:close()
  return s:match("%S") ~= nil
end

local function tail(path, n)
  local f = io.open(path, "rb")
  if not f then return "" end
  local text = f:read("a") or ""
  f:close()
  local lines = {}
  for l in text:gmatch("[^\r\n]+") do lines[#lines + 1] = l end
  local from = math.max(1, #lines - n + 1)
  return table.concat(lines, "\n", from)
end

local Writer = {}
Writer.__index = Writer

function Writer:frame(img)
  if self.closed then error("video: frame() on a closed writer (" .. self.path .. ")", 2) end
  if self.failed then return nil, self.failed end
  if type(img) ~= "table" or type(img.rgb) ~= "string" then
    error("video: frame() takes an image {width=, height=, rgb=} as env:render() returns", 2)
  end
  if img.width ~= self.width or img.height ~= self.height or #img.rgb ~= self.width * self.height * 3 then
    error(string.format("video: %s: the frame is %sx%s with %d bytes, the video %dx%d (%d bytes)",
      self.path, tostring(img.width), tostring(img.height), #img.rgb, self.width, self.height,
      self.width * self.height * 3), 2)
  end
  local ok, err = self.pipe:write(img.rgb)
  if not ok then
    self.failed = "video: cannot write to ffmpeg: " .. tostring(err)
    return nil, self.failed
  end
  self.frames = self.frames + 1
  return true
end

function Writer:close()
  if self.closed then return true end
  self.closed = true
  local ok, how, code = self.pipe:close()
  local msg
  if not ok then
    local log = tail(self.log, 8)
    msg = string.format("video: ffmpeg failed writing %s (%s %s)%s", self.path, tostring(how),
      tostring(code), log ~= "" and (":\n" .. log) or "")
  elseif self.failed then
    msg = self.failed
  end
  os.remove(self.log)
  if msg then return nil, msg end
  return true
end

Writer.__gc = function(self) if not self.closed then self:close() end end
Writer.__close = Writer.__gc

local function positive_int(v) return math.type(v) == "integer" and v >= 1 and v <= 8192 end

function M.open(path, opts)
  if type(path) ~= "string" or path == "" then return nil, "video: open() needs a file path" end
  opts = opts or {}
  if type(opts) ~= "table" then return nil, "video: open()'s options must be a table" end
  for k in pairs(opts) do
    if k ~= "width" and k ~= "height" and k ~= "fps" then
      return nil, "video: unknown option '" .. tostring(k) .. "' (known: width, height, fps)"
    end
  end
  local w, h, fps = opts.width, opts.height, opts.fps or 30
  if not positive_int(w) or not positive_int(h) then
    return nil, "video: width and height must be integers in 1..8192 (as env.render_width, render_height)"
  end
  if type(fps) ~= "number" or not (fps > 0 and fps <= 1000) then
    return nil, "video: fps must be a number in (0, 1000] (as env.render_fps)"
  end
  local ext = (path:match("%.([%w]+)$") or ""):lower()
  local out
  if ext == "mp4" then
    local pad = (w % 2 == 1 or h % 2 == 1) and ("-vf " .. q("pad=ceil(iw/2)*2:ceil(ih/2)*2") .. " ") or ""
    -- -r: the output's rate said again; without it ffmpeg 5.1 guessed 120 for
    -- MuJoCo's 125 fps at 480x480 and dropped 3 of 128 frames
    out = pad .. "-c:v libx264 -preset fast -pix_fmt yuv420p -r " .. string.format("%.10g", fps)
      .. " -movflags +faststart"
  elseif ext == "gif" then
    out = "-filter_complex " .. q("split[a][b];[a]palettegen[p];[b][p]paletteuse") .. " -loop 0"
  else
    return nil, "video: " .. path .. ": unknown format '." .. ext .. "' (known: .mp4, .gif)"
  end
  if not M.available() then return nil, FFMPEG_MISSING end
  local log = os.tmpname()
  local ff = string.format("ffmpeg -hide_banner -loglevel error -nostdin -y -f rawvideo -pix_fmt rgb24"
    .. " -s %dx%d -framerate %s -i pipe:0 %s %s", w, h, string.format("%.10g", fps), out, q(path))
  -- -nostdin stops ffmpeg's keyboard reading, not its input from pipe:0
  local cmd = string.format("{ %s 2>%s; rc=$?; cat >/dev/null; exit $rc; }", ff, q(log))
  local pipe, err = io.popen(cmd, "w")
  if not pipe then
    os.remove(log)
    return nil, "video: cannot start ffmpeg: " .. tostring(err)
  end
  pipe:setvbuf("full", 1 << 20)
  return setmetatable({ pipe = pipe, log = log, path = path, width = w, height = h, fps = fps,
    frames = 0, closed = false }, Writer)
end

return M
