/* SPDX-License-Identifier: MIT */
/*
** pendulum.c -- the Pendulum-v1 environment, as Gymnasium 1.x defines it.
**
** WHAT IT IS
**
** The inverted-pendulum swing-up. A rigid rod of mass m and length l hangs
** from a frictionless pivot; the agent applies a torque u in [-2, 2] at the
** pivot each step and must swing the rod up and hold it upright. The torque
** is too weak to lift the rod straight up from hanging: the agent has to
** pump energy in by swinging. Nothing ever ends the episode (terminated is
** always 0); it is cut (truncated) after max_episode_steps = 200 steps.
** Every reward is <= 0; 0 means upright, still, with no torque.
**
**   observation  Box(3) float32: cos(theta), sin(theta), theta_dot, within
**                [-1, -1, -8] .. [1, 1, 8]. theta = 0 is upright, theta
**                grows counter-clockwise.
**   action       Box(1): the torque u, within [-2, 2]. A torque outside the
**                bounds is clipped to them (Gymnasium clips inside step).
**   state        theta, theta_dot in float64 (get_state/set_state). theta
**                is not wrapped: it winds up as the rod spins round.
**
** HOW IT WORKS
**
** Constants: max_speed = 8, max_torque = 2, dt = 0.05 s, g = 10 (the config
** key g), m = 1, l = 1. One step, in float64 and in Gymnasium's order of
** operations (which the reference traces pin to the last bit):
**
**   u      = clip(action, -2, 2)
**   cost   = norm(theta)^2 + 0.1 * theta_dot^2 + 0.001 * u^2
**            (summed left to right, from the state *before* the update;
**            each square is libm's pow(x, 2), as Python's x**2 is: on
**            glibc that is not always x*x, see pd_sq)
**   norm(x)= ((x + pi) mod 2 pi) - pi, mod being the floored remainder,
**            so norm(x) lies in [-pi, pi)
**   theta_dot' = clip(theta_dot + (3 g / (2 l) * sin(theta)
**                                  + 3 / (m l^2) * u) * dt, -8, 8)
**   theta'     = theta + theta_dot' * dt      (semi-implicit Euler)
**   reward     = -cost
**
** The sign of the gravity term is + because theta is measured from the
** top: gravity pulls the rod away from upright. The worst reward is
** -(pi^2 + 0.1 * 8^2 + 0.001 * 2^2) = -16.2736044.
**
** Reset draws theta ~ U(-pi, pi) and then theta_dot ~ U(-1, 1) from the
** env's NumPy-exact generator (lpdm_nprng: Generator(PCG64(SeedSequence
** (seed)))), in that order. Gymnasium makes both draws in one call,
** uniform(low=-high, high=high) with high = [pi, 1]; NumPy fills the array
** element by element, so the two are the same stream and the start state
** equals Gymnasium's bit for bit. reset with a seed reseeds the generator
** first; reset without one continues its stream, and an env never seeded
** seeds with 0 on its first reset (Gymnasium would draw OS entropy).
**
** set_state replaces theta and theta_dot only; the step counter is left
** alone (as assigning env.unwrapped.state in Gymnasium does). step before
** any reset or set_state is an error.
**
** CONFIG KEYS
**
**   g                    number  10.0   gravitational acceleration
**   max_episode_steps    int     200    truncation limit (0: never truncate)
**
** USAGE (Lua)
**
**   local env = lpdm.env("Pendulum-v1", { g = 9.81 })
**   local obs = env:reset{seed=3}        -- {cos th, sin th, th_dot}
**   local obs, r, term, trunc = env:step{0.5}
**
** RENDERING. render_rgb draws the rod as Gymnasium's
** render_mode="rgb_array" does, without the torque arrow (500 x 500,
** 30 fps; see pd_render_rgb and docs/rendering.md); render
** (env:render_text()) is one line of numbers.
*/
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <stdint.h>

#include "lpdm/lpdm.h"
#include "lib/draw.h"

#define PD_PI 3.14159265358979323846

static const double pd_max_speed = 8.0;
static const double pd_max_torque = 2.0;
static const double pd_dt = 0.05;
static const double pd_m = 1.0;
static const double pd_l = 1.0;

static const double pd_obs_high[3] = {1.0, 1.0, 8.0};
static const double pd_obs_low[3] = {-1.0, -1.0, -8.0};
static const double pd_act_high[1] = {2.0};
static const double pd_act_low[1] = {-2.0};

typedef struct pendulum {
  lpdm_env pub;   /* first: the host's view */
  lpdm_nprng rng; /* env.np_random */
  double th, thdot;
  double g;
  int seeded, ready;
  int steps, max_steps;
} pendulum;

static const lpdm_key pd_keys[] = {
    {"g", LPDM_T_NUMBER, "10.0", "gravitational acceleration"},
    {"max_episode_steps", LPDM_T_INT, "200",
     "truncate after this many steps since reset (0: never)"},
    {NULL, 0, NULL, NULL}};

/* NumPy's floored remainder (npy_divmod): fmod, moved into b's sign. */
static double pd_floor_mod(double a, double b) {
  double mod = fmod(a, b);
  if (mod != 0) {
    if ((b < 0) != (mod < 0)) mod += b;
  } else {
    mod = copysign(0.0, b);
  }
  return mod;
}

static double pd_angle_normalize(double x) { return pd_floor_mod(x + PD_PI, 2 * PD_PI) - PD_PI; }

/* x**2 as Python and NumPy compute it: libm's pow(x, 2). glibc's pow is
   accurate to about half an ulp but not correctly rounded, so for a square
   that falls near a rounding tie it can differ from x*x in the last bit.
   The exponent is read through a volatile so that the compiler cannot
   fold pow(x, 2.0) into x*x. */
static double pd_sq(double x) {
  volatile double two = 2.0;
  return pow(x, two);
}

static void pd_observe(const pendulum *p, float *obs) {
  obs[0] = (float)cos(p->th);
  obs[1] = (float)sin(p->th);
  obs[2] = (float)p->thdot;
}

static int pd_create(const lpdm_env_kind *kind, const lpdm_config *cfg, lpdm_env **out,
                     lpdm_ctx *ctx) {
  *out = NULL;
  double g = lpdm_cfg_num(cfg, "g");
  int max_steps = lpdm_cfg_int(cfg, "max_episode_steps");
  if (!isfinite(g)) return lpdm_error(ctx, LPDM_ERR_ARG, "g is %g (must be finite)", g);
  if (max_steps < 0)
    return lpdm_error(ctx, LPDM_ERR_ARG, "max_episode_steps is %d (must be >= 0)", max_steps);

  pendulum *p = calloc(1, sizeof *p);
  if (!p) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  p->pub.kind = kind;
  p->pub.cfg = *cfg;
  p->pub.obs_space = (lpdm_space){LPDM_SPACE_BOX, 0, 3, pd_obs_low, pd_obs_high};
  p->pub.act_space = (lpdm_space){LPDM_SPACE_BOX, 0, 1, pd_act_low, pd_act_high};
  p->pub.state_dim = 2;
  p->pub.max_episode_steps = max_steps;
  p->g = g;
  p->max_steps = max_steps;
  *out = &p->pub;
  return LPDM_OK;
}

static int pd_reset(lpdm_env *self, int has_seed, uint64_t seed, float *obs, lpdm_ctx *ctx) {
  pendulum *p = (pendulum *)self;
  (void)ctx;
  if (has_seed || !p->seeded) {
    lpdm_nprng_seed(&p->rng, has_seed ? seed : 0);
    p->seeded = 1;
  }
  p->th = lpdm_nprng_uniform(&p->rng, -PD_PI, PD_PI);
  p->thdot = lpdm_nprng_uniform(&p->rng, -1.0, 1.0);
  p->ready = 1;
  p->steps = 0;
  pd_observe(p, obs);
  return LPDM_OK;
}

static int pd_step(lpdm_env *self, const double *action, float *obs, double *reward,
                   int *terminated, int *truncated, lpdm_ctx *ctx) {
  pendulum *p = (pendulum *)self;
  if (!p->ready) return lpdm_error(ctx, LPDM_ERR, "Pendulum-v1: step before reset");
  if (isnan(action[0])) return lpdm_error(ctx, LPDM_ERR_ARG, "Pendulum-v1: action is NaN");

  double th = p->th, thdot = p->thdot;
  double u = fmin(fmax(action[0], -pd_max_torque), pd_max_torque);
  double cost = pd_sq(pd_angle_normalize(th)) + 0.1 * pd_sq(thdot) + 0.001 * pd_sq(u);

  double newthdot =
      thdot + (3 * p->g / (2 * pd_l) * sin(th) + 3.0 / (pd_m * (pd_l * pd_l)) * u) * pd_dt;
  newthdot = fmin(fmax(newthdot, -pd_max_speed), pd_max_speed);
  double newth = th + newthdot * pd_dt;
  p->th = newth;
  p->thdot = newthdot;

  if (p->steps < INT_MAX) p->steps++;
  *reward = -cost;
  *terminated = 0;
  *truncated = p->max_steps > 0 && p->steps >= p->max_steps;
  pd_observe(p, obs);
  return LPDM_OK;
}

static void pd_free(lpdm_env *self) { free(self); }

static int pd_get_state(const lpdm_env *self, double *state) {
  const pendulum *p = (const pendulum *)self;
  state[0] = p->th;
  state[1] = p->thdot;
  return LPDM_OK;
}

static int pd_set_state(lpdm_env *self, const double *state, lpdm_ctx *ctx) {
  pendulum *p = (pendulum *)self;
  p->th = state[0];
  p->thdot = state[1];
  p->ready = 1;
  return LPDM_OK;
}

static int pd_render(const lpdm_env *self, char *buf, size_t len) {
  const pendulum *p = (const pendulum *)self;
  if (!buf || len == 0) return LPDM_OK;
  double an = pd_angle_normalize(p->th);
  snprintf(buf, len, "Pendulum-v1 t=%d theta=%+.4f (%+.1f deg from upright) theta_dot=%+.4f",
           p->steps, p->th, an * (180.0 / PD_PI), p->thdot);
  return LPDM_OK;
}

/* The picture, as Gymnasium's render() draws it: a 500 x 500 white window,
   scale = 500 / 4.4 px per metre, the rod (length scale, width 0.2 * scale,
   colour (204, 77, 77)) from the middle at angle th + pi/2 with round ends
   (radius int(0.1 * scale)) and a black axle of radius int(0.05 * scale).
   Gymnasium also draws an arrow image scaled by the last torque; this env
   does not keep the last torque, and the picture has no arrow. */
static void pd_render_info(const lpdm_env *self, int *w, int *h, int *fps) {
  (void)self;
  *w = 500;
  *h = 500;
  *fps = 30; /* Gymnasium's metadata render_fps */
}

static int pd_render_rgb(lpdm_env *self, unsigned char *rgb, int width, int height, lpdm_ctx *ctx) {
  (void)ctx;
  const pendulum *p = (const pendulum *)self;
  const double scale = 500 / (2.2 * 2), off = 500 / 2, len = scale, wid = 0.2 * scale;
  const lpdm_rgb red = {204, 77, 77};
  lpdm_canvas cv;
  lpdm_cv_begin(&cv, rgb, width, height, 500, 500, LPDM_WHITE);
  double rod[8] = {0, -wid / 2, 0, wid / 2, len, wid / 2, len, -wid / 2};
  lpdm_cv_rotate(rod, 4, p->th + PD_PI / 2, off, off);
  lpdm_cv_polygon(&cv, rod, 4, red);
  lpdm_cv_circle(&cv, off, off, (int)(wid / 2), red);
  double end[2] = {len, 0};
  lpdm_cv_rotate(end, 1, p->th + PD_PI / 2, off, off);
  lpdm_cv_circle(&cv, (int)end[0], (int)end[1], (int)(wid / 2), red);
  lpdm_cv_circle(&cv, off, off, (int)(0.05 * scale), LPDM_BLACK);
  return LPDM_OK;
}

/* Checkpoints: the state, the generator and the counters decide the rest
   of the episode exactly. */
static int pd_save(const lpdm_env *self, lpdm_st *st, const char *prefix, lpdm_ctx *ctx) {
  const pendulum *e = (const pendulum *)self;
  const double x[2] = {e->th, e->thdot};
  const int64_t n[3] = {e->seeded, e->ready, e->steps};
  return lpdm_state_put_env(st, ctx, prefix, x, 2, n, 3, &e->rng);
}

static int pd_load(lpdm_env *self, const lpdm_st *st, const char *prefix, lpdm_ctx *ctx) {
  pendulum *e = (pendulum *)self;
  double x[2];
  int64_t n[3];
  int rc = lpdm_state_get_env(st, ctx, prefix, x, 2, n, 3, &e->rng); /* changes nothing unless all fit */
  if (rc) return rc;
  e->th = x[0];
  e->thdot = x[1];
  e->seeded = n[0] != 0;
  e->ready = n[1] != 0;
  e->steps = (int)n[2];
  return LPDM_OK;
}

static const lpdm_env_kind pd_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_ENV, "env.Pendulum-v1",
                             "Gymnasium's Pendulum-v1: swing a pendulum up and hold it (Box(1), Box(3))", pd_keys),
    .create = pd_create,
    .reset = pd_reset,
    .step = pd_step,
    .free = pd_free,
    .get_state = pd_get_state,
    .set_state = pd_set_state,
    .render = pd_render,
    .render_rgb = pd_render_rgb,
    .render_info = pd_render_info,
    .save = pd_save,
    .load = pd_load,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_pendulum(void) { return &pd_kind.head; }
