/* SPDX-License-Identifier: MIT */
/*
** acrobot.c -- the Acrobot-v1 environment, as Gymnasium 1.x defines it.
**
** WHAT IT IS
**
** Two links hang in a chain from a fixed pivot; only the joint between
** them has a motor. Each step the agent applies a torque of -1, 0 or +1
** (actions 0, 1, 2) to that joint and the system moves for dt = 0.2 s.
** The goal is to swing the tip of the outer link above a line one link
** length over the pivot:
**
**   terminated  when  -cos(t1) - cos(t1 + t2) > 1.0
**
** (t1 = angle of the first link from straight down, t2 = angle of the
** second link relative to the first). Reward is -1 per step and 0 on a
** step that ends in the goal region; an episode is cut (truncated) after
** max_episode_steps steps. This is Sutton's acrobot (NIPS 1995; Sutton &
** Barto's book) with the equations of motion of the book, in the form
** RLPy and Gymnasium integrate them; a step from the same state with the
** same action matches Gymnasium's to the last bit, up to the host's
** sin/cos (see tests/test_parity.c).
**
**   observation  Box(6) float32: cos t1, sin t1, cos t2, sin t2, dt1, dt2.
**                Bounds as Gymnasium's Box, rounded to float32: +-1 for
**                the four trigonometric values, +-4*pi for dt1 and +-9*pi
**                for dt2.
**   action       Discrete(3): torque -1, 0, +1 on the middle joint.
**   state        t1, t2, dt1, dt2 in float64 (get_state/set_state), as
**                Gymnasium's env.unwrapped.state. The observation takes
**                cos/sin in float64 and rounds them to float32. (Right
**                after a reset Gymnasium's state is a float32 array, so
**                NumPy takes those cos/sin in float32. The two agree bit
**                for bit at every reset of the reference traces; a
**                one-ulp difference in a start observation is possible
**                in principle.)
**
** HOW IT WORKS
**
** Constants: link lengths l1 = l2 = 1, masses m1 = m2 = 1, centres of
** mass lc1 = lc2 = 0.5, moments of inertia I1 = I2 = 1, g = 9.8. With the
** torque a appended to the state, the time derivative (Gymnasium's _dsdt,
** in float64 and in its order of operations) is
**
**   d1   = m1 lc1^2 + m2 (l1^2 + lc2^2 + 2 l1 lc2 cos t2) + I1 + I2
**   d2   = m2 (lc2^2 + l1 lc2 cos t2) + I2
**   phi2 = m2 lc2 g cos(t1 + t2 - pi/2)
**   phi1 = -m2 l1 lc2 dt2^2 sin t2 - 2 m2 l1 lc2 dt2 dt1 sin t2
**          + (m1 lc1 + m2 l1) g cos(t1 - pi/2) + phi2
**   ddt2 = (a + d2/d1 phi1 - m2 l1 lc2 dt1^2 sin t2 - phi2)
**          / (m2 lc2^2 + I2 - d2^2/d1)                          ("book")
**   ddt2 = (a + d2/d1 phi1 - phi2) / (m2 lc2^2 + I2 - d2^2/d1)  ("nips")
**   ddt1 = -(d2 ddt2 + phi1) / d1
**
** and one classical Runge-Kutta step of length h = dt (Gymnasium runs its
** rk4 over the time vector [0, dt], which is exactly one step):
**
**   k1 = f(y), k2 = f(y + h/2 k1), k3 = f(y + h/2 k2), k4 = f(y + h k3)
**   y' = y + h/6 (((k1 + 2 k2) + 2 k3) + k4)
**
** Then the angles are wrapped into [-pi, pi] by adding or subtracting
** 2*pi while they are outside (a value of exactly +-pi stays as it is, so
** the interval is closed), and the velocities are clipped to +-4*pi and
** +-9*pi. The step counter counts steps since the last reset; truncated =
** (counter >= max_episode_steps), as Gymnasium's TimeLimit wrapper.
**
** Reset draws t1, t2, dt1, dt2 in that order from U(reset_low, reset_high)
** = U(-0.1, 0.1) with the env's NumPy-exact generator (lpdm_nprng:
** Generator(PCG64(SeedSequence(seed)))) and, as Gymnasium does, rounds them
** to float32: the start state is float32 values held in float64, so a
** start value can be 0.1f, just above 0.1. reset with a seed reseeds the
** generator first, like Gymnasium's reset(seed=seed); without one it
** continues the stream; an env never seeded seeds with 0 on its first
** reset (Gymnasium would take OS entropy there; lpdm stays reproducible).
** With torque_noise_max > 0 each step adds U(-max, max) to the torque,
** drawn from the same generator (Gymnasium's option; off by default).
**
** Stepping after termination is allowed, as in Gymnasium: the physics go
** on and reward/terminated follow the new state. set_state replaces the
** four numbers only (the step counter is kept, as assigning
** env.unwrapped.state in Gymnasium does). step before any reset or
** set_state is an error.
**
** CONFIG KEYS
**
**   max_episode_steps  int     500     truncation limit (0: never truncate)
**   book_or_nips       string  "book"  "book" or "nips" dynamics (above)
**   torque_noise_max   number  0       uniform noise added to the torque
**   reset_low          number  -0.1    lower bound of the start state
**   reset_high         number  0.1     upper bound of the start state
**                                      (Gymnasium's reset options
**                                      "low"/"high")
**
** USAGE (Lua)
**
**   local env = lpdm.env("Acrobot-v1")
**   local obs = env:reset{seed=3}
**   local obs, r, term, trunc = env:step(2)   -- torque +1
**   local img = env:render()   -- {width = 500, height = 500, rgb = ...}
**
** RENDERING. render_rgb draws the two links as Gymnasium's
** render_mode="rgb_array" does (500 x 500, 15 fps; see ac_render_rgb and
** docs/rendering.md); render (env:render_text()) is one line of numbers.
*/
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdint.h>

#include "lpdm/lpdm.h"
#include "lib/draw.h"

#define AC_PI 3.14159265358979323846

/* Gymnasium's constants. */
static const double ac_dt = 0.2;
static const double ac_l1 = 1.0;  /* length of link 1 */
static const double ac_m1 = 1.0;  /* mass of link 1 */
static const double ac_m2 = 1.0;  /* mass of link 2 */
static const double ac_lc1 = 0.5; /* centre of mass of link 1 */
static const double ac_lc2 = 0.5; /* centre of mass of link 2 */
static const double ac_I1 = 1.0;  /* moments of inertia */
static const double ac_I2 = 1.0;
static const double ac_g = 9.8;
static const double ac_torque[3] = {-1.0, 0.0, 1.0};
#define AC_MAX_VEL_1 (4 * AC_PI)
#define AC_MAX_VEL_2 (9 * AC_PI)

static const double ac_obs_high[6] = {1, 1, 1, 1, (double)(float)AC_MAX_VEL_1,
                                      (double)(float)AC_MAX_VEL_2};
static const double ac_obs_low[6] = {-1, -1, -1, -1, -(double)(float)AC_MAX_VEL_1,
                                     -(double)(float)AC_MAX_VEL_2};

typedef struct acrobot {
  lpdm_env pub;   /* first: the host's view */
  lpdm_nprng rng; /* env.np_random */
  double s[4];    /* t1, t2, dt1, dt2 */
  int seeded;     /* rng seeded at least once */
  int ready;      /* a state exists (reset or set_state happened) */
  int steps;      /* steps since the last reset */
  int max_steps;
  int nips;       /* book_or_nips == "nips" */
  double noise;   /* torque_noise_max */
  double reset_low, reset_high;
} acrobot;

static const lpdm_key ac_keys[] = {
    {"max_episode_steps", LPDM_T_INT, "500", "truncate after this many steps since reset (0: never)"},
    {"book_or_nips", LPDM_T_STRING, "book",
     "equations of motion: \"book\" (Sutton & Barto) or \"nips\" (the 1995 paper)"},
    {"torque_noise_max", LPDM_T_NUMBER, "0", "add U(-max, max) to the torque each step"},
    {"reset_low", LPDM_T_NUMBER, "-0.1", "lower bound of the uniform start state"},
    {"reset_high", LPDM_T_NUMBER, "0.1", "upper bound of the uniform start state"},
    {NULL, 0, NULL, NULL}};

/* The time derivative of y = (t1, t2, dt1, dt2) under torque a, written
   in Gymnasium's order of operations (the products by 1 are kept: they
   are exact, and keeping them keeps the code checkable against the
   equations). */
static void ac_dsdt(const double *y, double a, int nips, double *dy) {
  const double theta1 = y[0], theta2 = y[1], dtheta1 = y[2], dtheta2 = y[3];
  const double m1 = ac_m1, m2 = ac_m2, l1 = ac_l1, lc1 = ac_lc1, lc2 = ac_lc2;
  const double I1 = ac_I1, I2 = ac_I2, g = ac_g;

  double d1 = m1 * (lc1 * lc1) + m2 * ((l1 * l1) + (lc2 * lc2) + 2 * l1 * lc2 * cos(theta2)) + I1 +
              I2;
  double d2 = m2 * ((lc2 * lc2) + l1 * lc2 * cos(theta2)) + I2;
  double phi2 = m2 * lc2 * g * cos(theta1 + theta2 - AC_PI / 2.0);
  double phi1 = -m2 * l1 * lc2 * (dtheta2 * dtheta2) * sin(theta2) -
                2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin(theta2) +
                (m1 * lc1 + m2 * l1) * g * cos(theta1 - AC_PI / 2) + phi2;
  double ddtheta2;
  if (nips)
    ddtheta2 = (a + d2 / d1 * phi1 - phi2) / (m2 * (lc2 * lc2) + I2 - (d2 * d2) / d1);
  else
    ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * (dtheta1 * dtheta1) * sin(theta2) - phi2) /
               (m2 * (lc2 * lc2) + I2 - (d2 * d2) / d1);
  double ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
  dy[0] = dtheta1;
  dy[1] = dtheta2;
  dy[2] = ddtheta1;
  dy[3] = ddtheta2;
}

/* One Runge-Kutta step of length h, element by element as NumPy does it. */
static void ac_rk4(double *y, double a, int nips, double h) {
  double k1[4], k2[4], k3[4], k4[4], yt[4];
  const double h2 = h / 2.0;
  ac_dsdt(y, a, nips, k1);
  for (int i = 0; i < 4; i++) yt[i] = y[i] + h2 * k1[i];
  ac_dsdt(yt, a, nips, k2);
  for (int i = 0; i < 4; i++) yt[i] = y[i] + h2 * k2[i];
  ac_dsdt(yt, a, nips, k3);
  for (int i = 0; i < 4; i++) yt[i] = y[i] + h * k3[i];
  ac_dsdt(yt, a, nips, k4);
  const double h6 = h / 6.0;
  for (int i = 0; i < 4; i++) y[i] = y[i] + h6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
}

/* Into [m, M] by whole turns; a value on an end stays. */
static double ac_wrap(double x, double m, double M) {
  const double diff = M - m;
  while (x > M) x = x - diff;
  while (x < m) x = x + diff;
  return x;
}

static double ac_bound(double x, double m, double M) {
  double y = m > x ? m : x;
  return M < y ? M : y;
}

static int ac_terminal(const acrobot *c) {
  return -cos(c->s[0]) - cos(c->s[1] + c->s[0]) > 1.0;
}

static void ac_observe(const acrobot *c, float *obs) {
  obs[0] = (float)cos(c->s[0]);
  obs[1] = (float)sin(c->s[0]);
  obs[2] = (float)cos(c->s[1]);
  obs[3] = (float)sin(c->s[1]);
  obs[4] = (float)c->s[2];
  obs[5] = (float)c->s[3];
}

static int ac_create(const lpdm_env_kind *kind, const lpdm_config *cfg, lpdm_env **out,
                     lpdm_ctx *ctx) {
  *out = NULL;
  int max_steps = lpdm_cfg_int(cfg, "max_episode_steps");
  const char *dyn = lpdm_cfg_str(cfg, "book_or_nips");
  double noise = lpdm_cfg_num(cfg, "torque_noise_max");
  double lo = lpdm_cfg_num(cfg, "reset_low"), hi = lpdm_cfg_num(cfg, "reset_high");
  if (max_steps < 0)
    return lpdm_error(ctx, LPDM_ERR_ARG, "max_episode_steps is %d (must be >= 0)", max_steps);
  if (!dyn || (strcmp(dyn, "book") != 0 && strcmp(dyn, "nips") != 0))
    return lpdm_error(ctx, LPDM_ERR_ARG, "book_or_nips is \"%s\" (must be \"book\" or \"nips\")",
                      dyn ? dyn : "");
  if (!isfinite(noise) || noise < 0)
    return lpdm_error(ctx, LPDM_ERR_ARG, "torque_noise_max is %g (must be finite and >= 0)", noise);
  if (!isfinite(lo) || !isfinite(hi) || lo > hi)
    return lpdm_error(ctx, LPDM_ERR_ARG,
                      "reset_low %g and reset_high %g must be finite with reset_low <= reset_high",
                      lo, hi);

  acrobot *c = calloc(1, sizeof *c);
  if (!c) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  c->pub.kind = kind;
  c->pub.cfg = *cfg;
  c->pub.obs_space = (lpdm_space){LPDM_SPACE_BOX, 0, 6, ac_obs_low, ac_obs_high};
  c->pub.act_space = (lpdm_space){LPDM_SPACE_DISCRETE, 3, 1, NULL, NULL};
  c->pub.state_dim = 4;
  c->pub.max_episode_steps = max_steps;
  c->max_steps = max_steps;
  c->nips = strcmp(dyn, "nips") == 0;
  c->noise = noise;
  c->reset_low = lo;
  c->reset_high = hi;
  *out = &c->pub;
  return LPDM_OK;
}

static int ac_reset(lpdm_env *self, int has_seed, uint64_t seed, float *obs, lpdm_ctx *ctx) {
  acrobot *c = (acrobot *)self;
  if (has_seed || !c->seeded) {
    lpdm_nprng_seed(&c->rng, has_seed ? seed : 0);
    c->seeded = 1;
  }
  for (int i = 0; i < 4; i++)
    c->s[i] = (float)lpdm_nprng_uniform(&c->rng, c->reset_low, c->reset_high);
  c->ready = 1;
  c->steps = 0;
  ac_observe(c, obs);
  return LPDM_OK;
}

static int ac_step(lpdm_env *self, const double *action, float *obs, double *reward,
                   int *terminated, int *truncated, lpdm_ctx *ctx) {
  acrobot *c = (acrobot *)self;
  if (!c->ready) return lpdm_error(ctx, LPDM_ERR, "Acrobot-v1: step before reset");

  double torque = ac_torque[(int)action[0]];
  if (c->noise > 0) {
    if (!c->seeded) { /* noise before any reset: the stream of seed 0 */
      lpdm_nprng_seed(&c->rng, 0);
      c->seeded = 1;
    }
    torque += lpdm_nprng_uniform(&c->rng, -c->noise, c->noise);
  }

  ac_rk4(c->s, torque, c->nips, ac_dt);
  c->s[0] = ac_wrap(c->s[0], -AC_PI, AC_PI);
  c->s[1] = ac_wrap(c->s[1], -AC_PI, AC_PI);
  c->s[2] = ac_bound(c->s[2], -AC_MAX_VEL_1, AC_MAX_VEL_1);
  c->s[3] = ac_bound(c->s[3], -AC_MAX_VEL_2, AC_MAX_VEL_2);

  int term = ac_terminal(c);
  *reward = term ? 0.0 : -1.0;
  if (c->steps < INT_MAX) c->steps++;
  *terminated = term;
  *truncated = c->max_steps > 0 && c->steps >= c->max_steps;
  ac_observe(c, obs);
  return LPDM_OK;
}

static void ac_free(lpdm_env *self) { free(self); }

static int ac_get_state(const lpdm_env *self, double *state) {
  const acrobot *c = (const acrobot *)self;
  for (int i = 0; i < 4; i++) state[i] = c->s[i];
  return LPDM_OK;
}

static int ac_set_state(lpdm_env *self, const double *state, lpdm_ctx *ctx) {
  acrobot *c = (acrobot *)self;
  for (int i = 0; i < 4; i++) c->s[i] = state[i];
  c->ready = 1;
  return LPDM_OK;
}

static int ac_render(const lpdm_env *self, char *buf, size_t len) {
  const acrobot *c = (const acrobot *)self;
  if (!buf || len == 0) return LPDM_OK;
  double tip = -cos(c->s[0]) - cos(c->s[1] + c->s[0]);
  snprintf(buf, len,
           "Acrobot-v1 t=%d theta1=%+.4f theta2=%+.4f dtheta1=%+.4f dtheta2=%+.4f tip=%+.4f "
           "(goal > 1)",
           c->steps, c->s[0], c->s[1], c->s[2], c->s[3], tip);
  return LPDM_OK;
}

/* The picture, as Gymnasium's render() draws it: a 500 x 500 white window,
   scale = 500 / (2 * (l1 + l2 + 0.2)) px per metre, the origin in the
   middle, a black line one link length above it, each link a bar 0.2 wide
   in (0, 204, 204) from its joint, each joint a circle of radius
   int(0.1 * scale) in (204, 204, 0). */
static void ac_render_info(const lpdm_env *self, int *w, int *h, int *fps) {
  (void)self;
  *w = 500;
  *h = 500;
  *fps = 15; /* Gymnasium's metadata render_fps */
}

static int ac_render_rgb(lpdm_env *self, unsigned char *rgb, int width, int height, lpdm_ctx *ctx) {
  (void)ctx;
  const acrobot *a = (const acrobot *)self;
  const double l2 = 1.0, bound = ac_l1 + l2 + 0.2, scale = 500 / (bound * 2), off = 500 / 2.0;
  lpdm_canvas cv;
  lpdm_cv_begin(&cv, rgb, width, height, 500, 500, LPDM_WHITE);
  lpdm_cv_line(&cv, -2.2 * scale + off, scale + off + 0.5, 2.2 * scale + off, scale + off + 0.5, 1,
               LPDM_BLACK);
  /* joints at the origin and at the end of link 1 (Gymnasium's xys) */
  const double jx[2] = {0, ac_l1 * sin(a->s[0]) * scale};
  const double jy[2] = {0, -ac_l1 * cos(a->s[0]) * scale};
  const double th[2] = {a->s[0] - AC_PI / 2, a->s[0] + a->s[1] - AC_PI / 2};
  const double len[2] = {ac_l1 * scale, l2 * scale};
  for (int i = 0; i < 2; i++) {
    double x = jx[i] + off, y = jy[i] + off;
    double bar[8] = {0, -0.1 * scale, 0, 0.1 * scale, len[i], 0.1 * scale, len[i], -0.1 * scale};
    lpdm_cv_rotate(bar, 4, th[i], x, y);
    lpdm_cv_polygon(&cv, bar, 4, (lpdm_rgb){0, 204, 204});
    lpdm_cv_circle(&cv, (int)x, (int)y, (int)(0.1 * scale), (lpdm_rgb){204, 204, 0});
  }
  return LPDM_OK;
}

/* Checkpoints: the state, the generator and the counters decide the rest
   of the episode exactly. */
static int ac_save(const lpdm_env *self, lpdm_st *st, const char *prefix, lpdm_ctx *ctx) {
  const acrobot *e = (const acrobot *)self;
  const int64_t n[3] = {e->seeded, e->ready, e->steps};
  return lpdm_state_put_env(st, ctx, prefix, e->s, 4, n, 3, &e->rng);
}

static int ac_load(lpdm_env *self, const lpdm_st *st, const char *prefix, lpdm_ctx *ctx) {
  acrobot *e = (acrobot *)self;
  int64_t n[3];
  int rc = lpdm_state_get_env(st, ctx, prefix, e->s, 4, n, 3, &e->rng); /* changes nothing unless all fit */
  if (rc) return rc;
  e->seeded = n[0] != 0;
  e->ready = n[1] != 0;
  e->steps = (int)n[2];
  return LPDM_OK;
}

static const lpdm_env_kind ac_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_ENV, "env.Acrobot-v1",
                             "Gymnasium's Acrobot-v1: swing a two-link chain up (Discrete(3), Box(6))", ac_keys),
    .create = ac_create,
    .reset = ac_reset,
    .step = ac_step,
    .free = ac_free,
    .get_state = ac_get_state,
    .set_state = ac_set_state,
    .render = ac_render,
    .render_rgb = ac_render_rgb,
    .render_info = ac_render_info,
    .save = ac_save,
    .load = ac_load,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_acrobot(void) { return &ac_kind.head; }
