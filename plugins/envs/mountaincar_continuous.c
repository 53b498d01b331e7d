/* SPDX-License-Identifier: MIT */
/*
** mountaincar_continuous.c -- the MountainCarContinuous-v0 environment, as
** Gymnasium 1.x defines it.
**
** WHAT IT IS
**
** Moore's mountain car (1990) with a continuous throttle. A car sits in a
** valley between two hills, on the curve height = sin(3 x); its engine is
** too weak to climb the right hill directly, so it must rock back and forth
** to build momentum. Each step the agent sets a force in [-1, 1]. Reaching
** the flag (x >= 0.45, moving right or still) ends the episode
** (terminated) with a bonus of 100; every step costs 0.1 * action^2 of
** fuel, so doing nothing scores 0 and a good run scores over 90. The
** episode is cut (truncated) after max_episode_steps = 999 steps.
**
**   observation  Box(2) float32: position in [-1.2, 0.6], velocity in
**                [-0.07, 0.07] (bounds as float32 values, as Gymnasium's
**                float32 Box holds them).
**   action       Box(1): the force, within [-1, 1]. A force outside is
**                clipped for the dynamics; the fuel cost is charged on the
**                action as given, unclipped (as Gymnasium does: an action of
**                2 moves the car as 1 does but costs 0.4, not 0.1).
**   state        position, velocity (get_state/set_state). After a step
**                both are float32 values (Gymnasium stores its state as a
**                float32 array); after reset the position is the float64
**                draw (Gymnasium's reset array is float64). The observation
**                is the state rounded to float32.
**
** HOW IT WORKS
**
** Constants: power = 0.0015, max_speed = 0.07, x in [-1.2, 0.6], goal
** x = 0.45, goal velocity = goal_velocity (0). One step; every operation is
** in float64 (under NumPy 1.x a float32 scalar meeting a Python number is
** promoted to float64), and only the stored state is rounded to float32:
**
**   force = min(max(a, -1), 1)
**   v     = v + force * power - 0.0025 * cos(3 x),  clipped to [-0.07, 0.07]
**   x     = x + v,                                  clipped to [-1.2, 0.6]
**   v     = 0 if x == -1.2 and v < 0                (an inelastic left wall)
**   terminated = x >= 0.45 and v >= goal_velocity   (on the float64 x, v)
**   reward     = (100 if terminated else 0) - a^2 * 0.1
**   state      = (float32) x, (float32) v
**
** Reset draws x ~ U(reset_low, reset_high) = U(-0.6, -0.4) from the env's
** NumPy-exact generator (lpdm_nprng: Generator(PCG64(SeedSequence(seed))))
** and sets v = 0, so the start state equals Gymnasium's bit for bit. reset
** with a seed reseeds the generator first; reset without one continues its
** stream, and an env never seeded seeds with 0 on its first reset
** (Gymnasium would draw OS entropy).
**
** Stepping after termination keeps going (Gymnasium does too; the reward
** bonus is paid on every step that ends at the goal). set_state replaces
** the two numbers only, as given (not rounded), and leaves the step counter
** alone, as assigning env.unwrapped.state in Gymnasium does. step before any
** reset or set_state is an error.
**
** CONFIG KEYS
**
**   goal_velocity        number  0      least velocity that counts at the goal
**   max_episode_steps    int     999    truncation limit (0: never truncate)
**   reset_low            number  -0.6   lower bound of the start position
**   reset_high           number  -0.4   upper bound of the start position
**                                       (Gymnasium's reset options
**                                       "low"/"high")
**
** USAGE (Lua)
**
**   local env = lpdm.env("MountainCarContinuous-v0")
**   local obs = env:reset{seed=3}        -- {position, velocity}
**   local obs, r, term, trunc = env:step{1.0}
**
** RENDERING. render_rgb draws the hill, the car and the flag (at 0.45) as
** Gymnasium's render_mode="rgb_array" does (600 x 400, 30 fps; see
** mc_render_rgb and docs/rendering.md); render (env:render_text()) is one
** line of numbers.
*/
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <stdint.h>

#include "lpdm/lpdm.h"
#include "lib/draw.h"

static const double mc_min_action = -1.0;
static const double mc_max_action = 1.0;
static const double mc_min_position = -1.2;
static const double mc_max_position = 0.6;
static const double mc_max_speed = 0.07;
static const double mc_goal_position = 0.45;
static const double mc_power = 0.0015;

static const double mc_obs_low[2] = {(double)(float)-1.2, (double)(float)-0.07};
static const double mc_obs_high[2] = {(double)(float)0.6, (double)(float)0.07};
static const double mc_act_low[1] = {-1.0};
static const double mc_act_high[1] = {1.0};

typedef struct mcc {
  lpdm_env pub;   /* first: the host's view */
  lpdm_nprng rng; /* env.np_random */
  double s[2];    /* position, velocity */
  double goal_velocity;
  double reset_low, reset_high;
  int seeded, ready;
  int steps, max_steps;
} mcc;

static const lpdm_key mc_keys[] = {
    {"goal_velocity", LPDM_T_NUMBER, "0", "least velocity at the goal position that terminates"},
    {"max_episode_steps", LPDM_T_INT, "999",
     "truncate after this many steps since reset (0: never)"},
    {"reset_low", LPDM_T_NUMBER, "-0.6", "lower bound of the uniform start position"},
    {"reset_high", LPDM_T_NUMBER, "-0.4", "upper bound of the uniform start position"},
    {NULL, 0, NULL, NULL}};

/* x**2 as Python's math.pow(x, 2) computes it: libm's pow, which on glibc
   is accurate to about half an ulp but not correctly rounded, so it can
   differ from x*x in the last bit. (For a float32 action, as Gymnasium's,
   the square is exact either way.) The exponent is read through a volatile
   so that the compiler cannot fold pow(x, 2.0) into x*x. */
static double mc_sq(double x) {
  volatile double two = 2.0;
  return pow(x, two);
}

static void mc_observe(const mcc *c, float *obs) {
  obs[0] = (float)c->s[0];
  obs[1] = (float)c->s[1];
}

static int mc_create(const lpdm_env_kind *kind, const lpdm_config *cfg, lpdm_env **out,
                     lpdm_ctx *ctx) {
  *out = NULL;
  double gv = lpdm_cfg_num(cfg, "goal_velocity");
  int max_steps = lpdm_cfg_int(cfg, "max_episode_steps");
  double lo = lpdm_cfg_num(cfg, "reset_low"), hi = lpdm_cfg_num(cfg, "reset_high");
  if (!isfinite(gv))
    return lpdm_error(ctx, LPDM_ERR_ARG, "goal_velocity is %g (must be finite)", gv);
  if (max_steps < 0)
    return lpdm_error(ctx, LPDM_ERR_ARG, "max_episode_steps is %d (must be >= 0)", max_steps);
  if (!isfinite(lo) || !isfinite(hi) || lo > hi)
    return lpdm_error(ctx, LPDM_ERR_ARG,
                      "reset_low %g and reset_high %g must be finite with reset_low <= reset_high",
                      lo, hi);

  mcc *c = calloc(1, sizeof *c);
  if (!c) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  c->pub.kind = kind;
  c->pub.cfg = *cfg;
  c->pub.obs_space = (lpdm_space){LPDM_SPACE_BOX, 0, 2, mc_obs_low, mc_obs_high};
  c->pub.act_space = (lpdm_space){LPDM_SPACE_BOX, 0, 1, mc_act_low, mc_act_high};
  c->pub.state_dim = 2;
  c->pub.max_episode_steps = max_steps;
  c->goal_velocity = gv;
  c->reset_low = lo;
  c->reset_high = hi;
  c->max_steps = max_steps;
  *out = &c->pub;
  return LPDM_OK;
}

static int mc_reset(lpdm_env *self, int has_seed, uint64_t seed, float *obs, lpdm_ctx *ctx) {
  mcc *c = (mcc *)self;
  (void)ctx;
  if (has_seed || !c->seeded) {
    lpdm_nprng_seed(&c->rng, has_seed ? seed : 0);
    c->seeded = 1;
  }
  c->s[0] = lpdm_nprng_uniform(&c->rng, c->reset_low, c->reset_high);
  c->s[1] = 0.0;
  c->ready = 1;
  c->steps = 0;
  mc_observe(c, obs);
  return LPDM_OK;
}

static int mc_step(lpdm_env *self, const double *action, float *obs, double *reward,
                   int *terminated, int *truncated, lpdm_ctx *ctx) {
  mcc *c = (mcc *)self;
  if (!c->ready) return lpdm_error(ctx, LPDM_ERR, "MountainCarContinuous-v0: step before reset");
  if (isnan(action[0]))
    return lpdm_error(ctx, LPDM_ERR_ARG, "MountainCarContinuous-v0: action is NaN");

  double a = action[0];
  double position = c->s[0], velocity = c->s[1];
  double force = fmin(fmax(a, mc_min_action), mc_max_action);

  velocity += force * mc_power - 0.0025 * cos(3 * position);
  if (velocity > mc_max_speed) velocity = mc_max_speed;
  if (velocity < -mc_max_speed) velocity = -mc_max_speed;
  position += velocity;
  if (position > mc_max_position) position = mc_max_position;
  if (position < mc_min_position) position = mc_min_position;
  if (position == mc_min_position && velocity < 0) velocity = 0;

  int term = position >= mc_goal_position && velocity >= c->goal_velocity;
  double r = term ? 100.0 : 0.0;
  r -= mc_sq(a) * 0.1;

  c->s[0] = (float)position;
  c->s[1] = (float)velocity;
  if (c->steps < INT_MAX) c->steps++;
  *reward = r;
  *terminated = term;
  *truncated = c->max_steps > 0 && c->steps >= c->max_steps;
  mc_observe(c, obs);
  return LPDM_OK;
}

static void mc_free(lpdm_env *self) { free(self); }

static int mc_get_state(const lpdm_env *self, double *state) {
  const mcc *c = (const mcc *)self;
  state[0] = c->s[0];
  state[1] = c->s[1];
  return LPDM_OK;
}

static int mc_set_state(lpdm_env *self, const double *state, lpdm_ctx *ctx) {
  mcc *c = (mcc *)self;
  c->s[0] = state[0];
  c->s[1] = state[1];
  c->ready = 1;
  return LPDM_OK;
}

static int mc_render(const lpdm_env *self, char *buf, size_t len) {
  const mcc *c = (const mcc *)self;
  if (!buf || len == 0) return LPDM_OK;
  snprintf(buf, len, "MountainCarContinuous-v0 t=%d position=%+.4f velocity=%+.5f (goal 0.45)",
           c->steps, c->s[0], c->s[1]);
  return LPDM_OK;
}

/* The picture, as Gymnasium's render() draws it (lib/scenes.c): 600 x 400. */
static void mc_render_info(const lpdm_env *self, int *w, int *h, int *fps) {
  (void)self;
  *w = 600;
  *h = 400;
  *fps = 30; /* Gymnasium's metadata render_fps */
}

static int mc_render_rgb(lpdm_env *self, unsigned char *rgb, int width, int height, lpdm_ctx *ctx) {
  (void)ctx;
  const mcc *c = (const mcc *)self;
  lpdm_draw_mountain_car(rgb, width, height, c->s[0], mc_min_position, mc_max_position, mc_goal_position);
  return LPDM_OK;
}

/* Checkpoints: the state, the generator and the counters decide the rest
   of the episode exactly. */
static int mc_save(const lpdm_env *self, lpdm_st *st, const char *prefix, lpdm_ctx *ctx) {
  const mcc *e = (const mcc *)self;
  const int64_t n[3] = {e->seeded, e->ready, e->steps};
  return lpdm_state_put_env(st, ctx, prefix, e->s, 2, n, 3, &e->rng);
}

static int mc_load(lpdm_env *self, const lpdm_st *st, const char *prefix, lpdm_ctx *ctx) {
  mcc *e = (mcc *)self;
  int64_t n[3];
  int rc = lpdm_state_get_env(st, ctx, prefix, e->s, 2, n, 3, &e->rng); /* changes nothing unless all fit */
  if (rc) return rc;
  e->seeded = n[0] != 0;
  e->ready = n[1] != 0;
  e->steps = (int)n[2];
  return LPDM_OK;
}

static const lpdm_env_kind mc_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_ENV, "env.MountainCarContinuous-v0",
                             "Gymnasium's MountainCarContinuous-v0: drive a car up a hill (Box(1), Box(2))", mc_keys),
    .create = mc_create,
    .reset = mc_reset,
    .step = mc_step,
    .free = mc_free,
    .get_state = mc_get_state,
    .set_state = mc_set_state,
    .render = mc_render,
    .render_rgb = mc_render_rgb,
    .render_info = mc_render_info,
    .save = mc_save,
    .load = mc_load,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_mountaincar_continuous(void) { return &mc_kind.head; }
