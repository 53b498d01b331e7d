/* SPDX-License-Identifier: MIT */
/*
** minatar_breakout.c -- MinAtar's Breakout (Young & Tian 2019, "MinAtar: An
** Atari-inspired Testbed for More Efficient Reinforcement Learning
** Experiments", arXiv:1903.03176), with the minimal action set: Gymnasium's id
** "MinAtar/Breakout-v1" (v0 is the same game with all six MinAtar actions,
** four of them no-ops here; it is not provided).
**
** WHAT IT IS
**
** A 10 x 10 grid. The paddle lives on the bottom row (row 9) and moves one
** cell left or right per step; a ball travels along diagonals, one cell per
** step; three rows of bricks (rows 1..3, all 10 columns) fill the top. The
** agent gets +1 for every brick the ball breaks; when the last brick is gone,
** a new set of three rows appears (the next time the ball reaches the
** paddle's row). The episode terminates when the ball reaches row 9 without
** meeting the paddle. Breakout has no difficulty ramp in MinAtar (its
** difficulty_ramp() is None), so there is no ramping key.
**
**   observation  Box(400) float32 in [0, 1]: four binary 10 x 10 channels,
**                CHANNEL-MAJOR (C x H x W): obs[c*100 + y*10 + x], row y = 0
**                at the top, column x = 0 at the left. Channels: 0 paddle,
**                1 ball, 2 trail (the ball's previous cell, which tells its
**                direction), 3 brick. MinAtar's own state() is H x W x C
**                (state[y][x][c]); this is its transpose to channels first,
**                so that layer.conv2d{in_channels = 4, height = 10,
**                width = 10} reads it directly.
**   action       Discrete(3): 0 no-op, 1 left, 2 right (MinAtar's
**                minimal_action_set for Breakout: 'n', 'l', 'r').
**   reward       +1 per brick broken in the step (at most one), else 0.
**   state        109 float64 values (get_state/set_state), MinAtar's Env
**                attributes in this order: ball_x, ball_y, ball_dir (0..3),
**                pos (paddle column), last_x, last_y (the trail), strike
**                (0/1), terminal (0/1), last_action (0..2, the sticky-action
**                memory of MinAtar's Environment wrapper), then brick_map,
**                100 values of 0/1 in row-major order (y*10 + x).
**
** HOW IT WORKS (MinAtar's rules, minatar/environments/breakout.py and
** minatar/environment.py)
**
** Ball directions (y grows downward): 0 up-left (-1,-1), 1 up-right
** (+1,-1), 2 down-right (+1,+1), 3 down-left (-1,+1). One step:
**
**   1. Sticky action: draw u ~ U[0,1) from the env's RNG (every step); if
**      u < sticky_action_prob the action becomes last_action. Then
**      last_action = the action (so a repeated action repeats again).
**   2. After termination, nothing else happens: reward 0, terminated.
**   3. The paddle moves: left pos = max(0, pos-1), right pos = min(9, pos+1).
**   4. The ball: last = (x, y); (nx, ny) = (x, y) + dir's step; then
**        - nx outside 0..9: clamp it, mirror the direction horizontally
**          (0<->1, 2<->3);
**        - ny < 0: ny = 0, mirror vertically (0<->3, 1<->2);
**          else if a brick is at (nx, ny): the cell "strikes"; unless the
**          previous step struck too, +1, the brick is removed, ny = last y
**          and the direction is mirrored vertically (with strike already
**          set, the ball moves into the brick's cell and nothing breaks:
**          MinAtar's rule, kept);
**          else if ny == 9: if no brick is left, rows 1..3 are refilled;
**          then if the paddle is under the ball's column (x == pos) the
**          direction is mirrored vertically and ny = last y; else if the
**          ball lands on the paddle (nx == pos) the direction is reversed
**          (0<->2, 1<->3) and ny = last y; else terminal;
**        - strike = whether this step struck a brick;
**        - the ball moves to (nx, ny).
**   The horizontal clamp can combine with any vertical case (a corner).
**
** Reset: ball at row 3, column 0 moving down-right or column 9 moving
** down-left, one of the two with probability 1/2 from the env's RNG
** (MinAtar's random.choice(2)); paddle at column 4; bricks in rows 1..3;
** trail on the ball; strike off. The step counter restarts.
**
** RNG and seeding: one lpdm_rng (xoshiro256**) draws both the start and the
** sticky actions, as MinAtar's Environment shares one NumPy RandomState
** between them after seed(). reset with a seed reseeds it and also clears
** last_action to 0, as a freshly made MinAtar env has it (MinAtar's
** Gymnasium reset(seed) only reseeds: here a seeded reset fixes the whole
** episode, whatever came before); reset without a seed
** continues the stream and keeps last_action, as MinAtar's reset() does (the
** first step of an episode may repeat the last action of the previous one).
** If never seeded, the first reset seeds with 0. MinAtar draws from NumPy's
** RandomState (MT19937), so the same seed does not give MinAtar's trajectory
** bit for bit; the rules and the probabilities are the same.
**
** Time limit: MinAtar sets none for Breakout, and its Gymnasium registration
** (minatar/gym.py, "MinAtar/Breakout-v1") passes no max_episode_steps: the
** default is 0 (never truncate). A good policy can play for a long time
** (sticky actions end it eventually); set max_episode_steps to bound it.
** Stepping after termination returns reward 0 and terminated = 1 with the
** state unchanged (MinAtar's act() does the same), still drawing the sticky
** number. set_state replaces the 109 values only (not the step counter);
** it refuses a value out of its range, naming it. step before any reset or
** set_state is an error.
**
** CONFIG KEYS
**
**   sticky_action_prob  number  0.1   probability of repeating the previous
**                                     action instead (MinAtar's default;
**                                     0 turns sticky actions off)
**   max_episode_steps   int     0     truncate after this many steps since
**                                     reset (0: never, MinAtar's default)
**
** USAGE (Lua)
**
**   local env = lpdm.env("MinAtar/Breakout-v1")
**   local obs = env:reset{seed = 1}            -- 400 numbers, C x H x W
**   local obs, r, term, trunc = env:step(2)    -- move right
**   print(env:render_text())
**   local net = lpdm.net{ inputs = env.obs_dim,
**     lpdm.layer("conv2d", { in_channels = 4, height = 10, width = 10,
**                            out_channels = 16, kernel = 3, act = "relu" }),
**     lpdm.layer("flatten"), lpdm.dense{ 128, act = "relu" } }
**
** RENDERING. render_rgb draws the grid in MinAtar's colours, 32 pixels a
** cell (320 x 320, 15 fps; see mb_render_rgb and docs/rendering.md);
** render (env:render_text()) is the grid as text.
*/
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdint.h>

#include "lpdm/lpdm.h"

#define MB_N 10               /* grid side */
#define MB_CELLS (MB_N * MB_N)
#define MB_CH 4               /* channels */
#define MB_OBS (MB_CH * MB_CELLS)
#define MB_NSTATE (9 + MB_CELLS)
#define MB_NAME "MinAtar/Breakout-v1"

enum { CH_PADDLE = 0, CH_BALL = 1, CH_TRAIL = 2, CH_BRICK = 3 };
enum { A_NOOP = 0, A_LEFT = 1, A_RIGHT = 2 };

/* Direction tables, indexed by ball_dir. */
static const int dir_dx[4] = {-1, +1, +1, -1};
static const int dir_dy[4] = {-1, -1, +1, +1};
static const int mirror_x[4] = {1, 0, 3, 2};  /* a side wall */
static const int mirror_y[4] = {3, 2, 1, 0};  /* the ceiling, a brick, the paddle from above */
static const int reverse[4] = {2, 3, 0, 1};   /* the paddle's edge: back where it came from */

typedef struct breakout {
  lpdm_env pub; /* first: the host's view */
  lpdm_rng rng;
  double low[MB_OBS], high[MB_OBS];
  int ball_x, ball_y, dir, pos, last_x, last_y;
  int strike, terminal, last_action;
  unsigned char brick[MB_CELLS]; /* y*10 + x */
  int nbricks;
  int seeded, ready, steps, max_steps;
  double sticky;
} breakout;

static const lpdm_key mb_keys[] = {
    {"sticky_action_prob", LPDM_T_NUMBER, "0.1",
     "probability of repeating the previous action instead of the given one (MinAtar: 0.1)"},
    {"max_episode_steps", LPDM_T_INT, "0",
     "truncate after this many steps since reset (0: never, as MinAtar)"},
    {NULL, 0, NULL, NULL}};

static void mb_fill_bricks(breakout *b) {
  memset(b->brick, 0, sizeof b->brick);
  for (int y = 1; y <= 3; y++)
    for (int x = 0; x < MB_N; x++) b->brick[y * MB_N + x] = 1;
  b->nbricks = 3 * MB_N;
}

static void mb_observe(const breakout *b, float *obs) {
  memset(obs, 0, MB_OBS * sizeof *obs);
  obs[CH_PADDLE * MB_CELLS + (MB_N - 1) * MB_N + b->pos] = 1.0f;
  obs[CH_BALL * MB_CELLS + b->ball_y * MB_N + b->ball_x] = 1.0f;
  obs[CH_TRAIL * MB_CELLS + b->last_y * MB_N + b->last_x] = 1.0f;
  float *br = obs + CH_BRICK * MB_CELLS;
  for (int i = 0; i < MB_CELLS; i++) br[i] = (float)b->brick[i];
}

static int mb_create(const lpdm_env_kind *kind, const lpdm_config *cfg, lpdm_env **out,
                     lpdm_ctx *ctx) {
  *out = NULL;
  double p = lpdm_cfg_num(cfg, "sticky_action_prob");
  int max_steps = lpdm_cfg_int(cfg, "max_episode_steps");
  if (!(p >= 0.0 && p <= 1.0))
    return lpdm_error(ctx, LPDM_ERR_ARG, "sticky_action_prob is %g (must be in [0, 1])", p);
  if (max_steps < 0)
    return lpdm_error(ctx, LPDM_ERR_ARG, "max_episode_steps is %d (must be >= 0)", max_steps);
  breakout *b = calloc(1, sizeof *b);
  if (!b) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  for (int i = 0; i < MB_OBS; i++) {
    b->low[i] = 0.0;
    b->high[i] = 1.0;
  }
  b->pub.kind = kind;
  b->pub.cfg = *cfg;
  b->pub.obs_space = (lpdm_space){LPDM_SPACE_BOX, 0, MB_OBS, b->low, b->high};
  b->pub.act_space = (lpdm_space){LPDM_SPACE_DISCRETE, 3, 1, NULL, NULL};
  b->pub.state_dim = MB_NSTATE;
  b->pub.max_episode_steps = max_steps;
  b->max_steps = max_steps;
  b->sticky = p;
  *out = &b->pub;
  return LPDM_OK;
}

static int mb_reset(lpdm_env *self, int has_seed, uint64_t seed, float *obs, lpdm_ctx *ctx) {
  (void)ctx;
  breakout *b = (breakout *)self;
  if (has_seed || !b->seeded) {
    lpdm_rng_seed(&b->rng, has_seed ? seed : 0);
    b->seeded = 1;
    b->last_action = A_NOOP; /* a fresh MinAtar Environment */
  }
  int right = (int)lpdm_rng_below(&b->rng, 2); /* MinAtar: random.choice(2) */
  b->ball_y = 3;
  b->ball_x = right ? MB_N - 1 : 0;
  b->dir = right ? 3 : 2; /* towards the middle, downwards */
  b->pos = 4;
  mb_fill_bricks(b);
  b->strike = 0;
  b->last_x = b->ball_x;
  b->last_y = b->ball_y;
  b->terminal = 0;
  b->ready = 1;
  b->steps = 0;
  mb_observe(b, obs);
  return LPDM_OK;
}

/* One move of the game with the action already resolved; returns the reward. */
static int mb_move(breakout *b, int a) {
  if (a == A_LEFT && b->pos > 0) b->pos--;
  else if (a == A_RIGHT && b->pos < MB_N - 1) b->pos++;

  int r = 0, struck = 0;
  b->last_x = b->ball_x;
  b->last_y = b->ball_y;
  int nx = b->ball_x + dir_dx[b->dir], ny = b->ball_y + dir_dy[b->dir];
  if (nx < 0 || nx > MB_N - 1) {
    nx = nx < 0 ? 0 : MB_N - 1;
    b->dir = mirror_x[b->dir];
  }
  if (ny < 0) {
    ny = 0;
    b->dir = mirror_y[b->dir];
  } else if (b->brick[ny * MB_N + nx]) {
    struck = 1;
    if (!b->strike) {
      r = 1;
      b->strike = 1;
      b->brick[ny * MB_N + nx] = 0;
      b->nbricks--;
      ny = b->last_y;
      b->dir = mirror_y[b->dir];
    }
  } else if (ny == MB_N - 1) {
    if (b->nbricks == 0) mb_fill_bricks(b);
    if (b->ball_x == b->pos) { /* the paddle is under the ball */
      b->dir = mirror_y[b->dir];
      ny = b->last_y;
    } else if (nx == b->pos) { /* the ball lands on the paddle */
      b->dir = reverse[b->dir];
      ny = b->last_y;
    } else {
      b->terminal = 1;
    }
  }
  if (!struck) b->strike = 0;
  b->ball_x = nx;
  b->ball_y = ny;
  return r;
}

static int mb_step(lpdm_env *self, const double *action, float *obs, double *reward,
                   int *terminated, int *truncated, lpdm_ctx *ctx) {
  breakout *b = (breakout *)self;
  if (!b->ready) return lpdm_error(ctx, LPDM_ERR, MB_NAME ": step before reset");
  int a = (int)action[0]; /* the host checked: integral, 0..2 */
  if (lpdm_rng_uniform(&b->rng) < b->sticky) a = b->last_action;
  b->last_action = a;
  *reward = b->terminal ? 0.0 : (double)mb_move(b, a);
  if (b->steps < INT_MAX) b->steps++;
  *terminated = b->terminal;
  *truncated = b->max_steps > 0 && b->steps >= b->max_steps;
  mb_observe(b, obs);
  return LPDM_OK;
}

static void mb_free(lpdm_env *self) { free(self); }

static int mb_get_state(const lpdm_env *self, double *s) {
  const breakout *b = (const breakout *)self;
  s[0] = b->ball_x;
  s[1] = b->ball_y;
  s[2] = b->dir;
  s[3] = b->pos;
  s[4] = b->last_x;
  s[5] = b->last_y;
  s[6] = b->strike;
  s[7] = b->terminal;
  s[8] = b->last_action;
  for (int i = 0; i < MB_CELLS; i++) s[9 + i] = b->brick[i];
  return LPDM_OK;
}

static int mb_set_state(lpdm_env *self, const double *s, lpdm_ctx *ctx) {
  static const char *const names[9] = {"ball_x", "ball_y", "ball_dir", "pos", "last_x",
                                       "last_y", "strike", "terminal", "last_action"};
  static const int hi[9] = {MB_N - 1, MB_N - 1, 3, MB_N - 1, MB_N - 1, MB_N - 1, 1, 1, 2};
  breakout *b = (breakout *)self;
  for (int i = 0; i < MB_NSTATE; i++) {
    int top = i < 9 ? hi[i] : 1;
    if (s[i] != floor(s[i]) || s[i] < 0 || s[i] > top) {
      if (i < 9)
        return lpdm_error(ctx, LPDM_ERR_ARG,
                          MB_NAME ": state[%d] (%s) is %g, expected an integer in 0..%d", i,
                          names[i], s[i], top);
      return lpdm_error(ctx, LPDM_ERR_ARG,
                        MB_NAME ": state[%d] (brick at row %d, column %d) is %g, expected 0 or 1",
                        i, (i - 9) / MB_N, (i - 9) % MB_N, s[i]);
    }
  }
  b->ball_x = (int)s[0];
  b->ball_y = (int)s[1];
  b->dir = (int)s[2];
  b->pos = (int)s[3];
  b->last_x = (int)s[4];
  b->last_y = (int)s[5];
  b->strike = (int)s[6];
  b->terminal = (int)s[7];
  b->last_action = (int)s[8];
  b->nbricks = 0;
  for (int i = 0; i < MB_CELLS; i++) b->nbricks += b->brick[i] = (unsigned char)s[9 + i];
  b->ready = 1;
  return LPDM_OK;
}

/* The grid as text: '#' brick, 'O' ball, 'o' trail, '=' paddle, '.' empty. */
static int mb_render(const lpdm_env *self, char *buf, size_t len) {
  static const char *const dirs[4] = {"up-left", "up-right", "down-right", "down-left"};
  const breakout *b = (const breakout *)self;
  if (!buf || len == 0) return LPDM_OK;
  char row[MB_N + 3];
  size_t used;
  int n = snprintf(buf, len, MB_NAME " t=%d ball=(x %d, y %d) %s paddle=%d bricks=%d%s\n",
                   b->steps, b->ball_x, b->ball_y, dirs[b->dir], b->pos, b->nbricks,
                   b->terminal ? " terminal" : "");
  if (n < 0) return LPDM_ERR;
  used = (size_t)n < len ? (size_t)n : len - 1;
  for (int y = 0; y < MB_N; y++) {
    row[0] = '|';
    for (int x = 0; x < MB_N; x++) {
      char c = '.';
      if (b->brick[y * MB_N + x]) c = '#';
      if (y == MB_N - 1 && x == b->pos) c = '=';
      if (y == b->last_y && x == b->last_x) c = 'o';
      if (y == b->ball_y && x == b->ball_x) c = 'O';
      row[1 + x] = c;
    }
    row[MB_N + 1] = '|';
    row[MB_N + 2] = '\0';
    n = snprintf(buf + used, len - used, "%s\n", row);
    if (n < 0) return LPDM_ERR;
    used += (size_t)n < len - used ? (size_t)n : len - used - 1;
  }
  return LPDM_OK;
}

/* The picture: MinAtar's display, the 10 x 10 grid with one colour per
   channel -- empty black, then matplotlib's "cubehelix" map at 0.2, 0.4,
   0.6, 0.8 (seaborn's 4-colour palette that MinAtar's GUI uses), one per
   channel in order paddle, ball, trail, brick; a cell in several channels
   shows the last one (MinAtar takes the highest channel index). Each cell
   is 32 x 32 pixels at the natural 320 x 320 (any size: pixel (x, y)
   shows cell (x * 10 / width, y * 10 / height), rounded down). */
static void mb_render_info(const lpdm_env *self, int *w, int *h, int *fps) {
  (void)self;
  *w = 320;
  *h = 320;
  *fps = 15; /* MinAtar has no frame rate; 15 shows a ball's move */
}

static int mb_render_rgb(lpdm_env *self, unsigned char *rgb, int width, int height, lpdm_ctx *ctx) {
  (void)ctx;
  static const unsigned char col[MB_CH + 1][3] = {
      {0, 0, 0}, {22, 61, 78}, {84, 121, 47}, {208, 126, 147}, {193, 202, 243}};
  const breakout *b = (const breakout *)self;
  int grid[MB_CELLS];
  for (int i = 0; i < MB_CELLS; i++) grid[i] = b->brick[i] ? 1 + CH_BRICK : 0;
  if (b->last_y >= 0 && b->last_y < MB_N && b->last_x >= 0 && b->last_x < MB_N) {
    int i = b->last_y * MB_N + b->last_x;
    if (grid[i] < 1 + CH_TRAIL) grid[i] = 1 + CH_TRAIL;
  }
  if (b->ball_y >= 0 && b->ball_y < MB_N && b->ball_x >= 0 && b->ball_x < MB_N) {
    int i = b->ball_y * MB_N + b->ball_x;
    if (grid[i] < 1 + CH_BALL) grid[i] = 1 + CH_BALL;
  }
  if (b->pos >= 0 && b->pos < MB_N && !grid[(MB_N - 1) * MB_N + b->pos])
    grid[(MB_N - 1) * MB_N + b->pos] = 1 + CH_PADDLE;
  for (int y = 0; y < height; y++) {
    int gy = (int)((long long)y * MB_N / height);
    unsigned char *p = rgb + (size_t)y * (size_t)width * 3;
    for (int x = 0; x < width; x++, p += 3) {
      const unsigned char *c = col[grid[gy * MB_N + (int)((long long)x * MB_N / width)]];
      p[0] = c[0];
      p[1] = c[1];
      p[2] = c[2];
    }
  }
  return LPDM_OK;
}

/* Checkpoints: the grid, the ball, the counters, the previous action and
   the generator decide the rest of the episode. */
static int mb_save(const lpdm_env *self, lpdm_st *st, const char *prefix, lpdm_ctx *ctx) {
  const breakout *b = (const breakout *)self;
  int64_t c[14] = {b->ball_x, b->ball_y, b->dir,    b->pos,  b->last_x, b->last_y, b->strike,
                   b->terminal, b->last_action, b->nbricks, b->seeded, b->ready, b->steps, 0};
  double bricks[MB_CELLS];
  for (int i = 0; i < MB_CELLS; i++) bricks[i] = b->brick[i];
  int rc = lpdm_state_put_i64(st, ctx, prefix, "counters", c, 14);
  if (!rc) rc = lpdm_state_put_f64(st, ctx, prefix, "bricks", bricks, MB_CELLS);
  if (!rc) rc = lpdm_state_put_rng(st, ctx, prefix, "rng", &b->rng);
  return rc;
}

static int mb_load(lpdm_env *self, const lpdm_st *st, const char *prefix, lpdm_ctx *ctx) {
  breakout *b = (breakout *)self;
  int64_t c[14];
  double bricks[MB_CELLS];
  lpdm_rng r;
  int rc = lpdm_state_get_i64(st, ctx, prefix, "counters", c, 14);
  if (!rc) rc = lpdm_state_get_f64(st, ctx, prefix, "bricks", bricks, MB_CELLS);
  if (!rc) rc = lpdm_state_get_rng(st, ctx, prefix, "rng", &r);
  if (rc) return rc;
  for (int i = 0; i < 13; i++)
    if (c[i] < -1 || c[i] > INT32_MAX) return lpdm_error(ctx, LPDM_ERR_IO, "%s: counter %d out of range", prefix, i);
  if (c[0] > 9 || c[1] > 9 || c[3] > 9 || c[2] < 0 || c[2] > 3 || c[8] > 2)
    return lpdm_error(ctx, LPDM_ERR_IO, "%s: not a Breakout state (ball %lld,%lld, paddle %lld)", prefix,
                      (long long)c[0], (long long)c[1], (long long)c[3]);
  int n = 0;
  for (int i = 0; i < MB_CELLS; i++) {
    if (bricks[i] != 0 && bricks[i] != 1) return lpdm_error(ctx, LPDM_ERR_IO, "%s: bricks must be 0 or 1", prefix);
    b->brick[i] = (unsigned char)bricks[i];
    n += b->brick[i];
  }
  b->ball_x = (int)c[0], b->ball_y = (int)c[1], b->dir = (int)c[2], b->pos = (int)c[3];
  b->last_x = (int)c[4], b->last_y = (int)c[5], b->strike = (int)c[6], b->terminal = (int)c[7];
  b->last_action = (int)c[8], b->nbricks = n, b->seeded = c[10] != 0, b->ready = c[11] != 0, b->steps = (int)c[12];
  b->rng = r;
  return LPDM_OK;
}

static const lpdm_env_kind mb_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_ENV, "env." MB_NAME,
                             "MinAtar's Breakout, minimal actions: 10x10x4 binary grid as C x H x W "
                             "(Box(400)), Discrete(3), sticky actions",
                             mb_keys),
    .create = mb_create,
    .reset = mb_reset,
    .step = mb_step,
    .free = mb_free,
    .get_state = mb_get_state,
    .set_state = mb_set_state,
    .render = mb_render,
    .render_rgb = mb_render_rgb,
    .render_info = mb_render_info,
    .save = mb_save,
    .load = mb_load,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_minatar_breakout(void) { return &mb_kind.head; }
