/* SPDX-License-Identifier: MIT */
/*
** cartpole.c -- the CartPole-v1 environment, as Gymnasium 1.x defines it.
**
** WHAT IT IS
**
** A pole is hinged on a cart that runs on a frictionless track. Each step
** the agent pushes the cart left (action 0) or right (action 1) with a
** force of 10 N. The episode ends (terminated) when the pole leans more
** than 12 degrees from upright or the cart leaves [-2.4, 2.4]; it is cut
** (truncated) after max_episode_steps steps. Reward is +1 per step,
** including the step that terminates, so a full episode returns 500.
** This is Barto, Sutton & Anderson's cart-pole (1983) with the equations
** of motion Gymnasium uses; a trace of the same actions from the same
** state matches Gymnasium's to the last bit, up to the host's sin/cos
** (see tests/test_cartpole.c).
**
**   observation  Box(4) float32: x, x_dot, theta, theta_dot (theta in
**                radians, 0 = upright, positive = leaning right).
**                Bounds as Gymnasium's Box: +-4.8 (2 * 2.4) for x,
**                +-0.41887903 (2 * 12 degrees) for theta, both as float32
**                values; the velocities are unbounded (+-HUGE_VAL here;
**                Gymnasium writes float32's max there).
**   action       Discrete(2): 0 pushes left, 1 pushes right.
**   state        the same four numbers in float64 (get_state/set_state);
**                the observation is this state rounded to float32.
**
** HOW IT WORKS
**
** Constants: g = 9.8, cart mass mc = 1.0, pole mass mp = 0.1, total
** M = mp + mc, half pole length l = 0.5, mp*l = 0.05, F = +-10, tau = 0.02 s.
** One step, in float64 and in exactly Gymnasium's order of operations:
**
**   temp     = (F + (mp*l) * theta_dot^2 * sin(theta)) / M
**   thetaacc = (g * sin(theta) - cos(theta) * temp)
**              / (l * (4/3 - mp * cos(theta)^2 / M))
**   xacc     = temp - (mp*l) * thetaacc * cos(theta) / M
**
** then the explicit Euler update, each from the old values:
**
**   x += tau * x_dot;         x_dot += tau * xacc;
**   theta += tau * theta_dot; theta_dot += tau * thetaacc;
**
** terminated = x < -2.4 or x > 2.4 or theta < -t or theta > t, with
** t = 12 * 2 * pi / 360. The step counter counts steps since the last
** reset; truncated = (counter >= max_episode_steps), as Gymnasium's
** TimeLimit wrapper: the 500th step is truncated, the 499th is not.
**
** Reset draws the four state values from U(reset_low, reset_high) =
** U(-0.05, 0.05), in order x, x_dot, theta, theta_dot, from the env's own
** NumPy-exact generator (lpdm_nprng: Generator(PCG64(SeedSequence(seed)))).
** reset with a seed reseeds it first, exactly as Gymnasium's
** reset(seed=seed), so the start states equal Gymnasium's bit for bit.
** reset without a seed continues the generator's stream; if the env was
** never seeded, the first reset seeds it with 0 (Gymnasium would take
** entropy from the OS here; lpdm stays reproducible).
**
** Stepping after termination: Gymnasium warns once and keeps stepping;
** so does this env (silently). The physics go on, terminated stays 1
** while the state is out of bounds, and the reward of every step after
** the terminating one is 0 (-1 with sutton_barto_reward), as in
** Gymnasium. Call reset instead. set_state replaces the four numbers
** only: the step counter and the "already terminated" mark are left
** alone (as assigning env.unwrapped.state in Gymnasium does).
** step before any reset or set_state is an error.
**
** CONFIG KEYS
**
**   max_episode_steps    int     500    truncation limit (0: never truncate)
**   sutton_barto_reward  bool    false  Gymnasium's option: reward 0 per
**                                       step, -1 on termination and after
**   reset_low            number  -0.05  lower bound of the start state
**   reset_high           number  0.05   upper bound of the start state
**                                       (Gymnasium's reset options
**                                       "low"/"high")
**
** USAGE (Lua)
**
**   local env = lpdm.env("CartPole-v1")
**   local obs = env:reset{seed=3}
**   local obs, r, term, trunc = env:step(1)
**   local img = env:render()   -- {width = 600, height = 400, rgb = ...}
**
** RENDERING. render_rgb draws the cart and pole as Gymnasium's
** render_mode="rgb_array" does (600 x 400, 50 fps; see cp_render_rgb and
** docs/rendering.md); render (env:render_text()) is one line of numbers.
*/
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <stdint.h>

#include "lpdm/lpdm.h"
#include "lib/draw.h"

#define CP_PI 3.14159265358979323846

/* Gymnasium's constants, derived the way it derives them. */
static const double cp_gravity = 9.8;
static const double cp_masscart = 1.0;
static const double cp_masspole = 0.1;
static const double cp_length = 0.5; /* half the pole's length */
static const double cp_force_mag = 10.0;
static const double cp_tau = 0.02;
static const double cp_x_threshold = 2.4;
#define CP_THETA_THRESHOLD (12 * 2 * CP_PI / 360)

static const double cp_obs_high[4] = {(double)(float)(2.4 * 2), HUGE_VAL,
                                      (double)(float)(CP_THETA_THRESHOLD * 2), HUGE_VAL};
static const double cp_obs_low[4] = {-(double)(float)(2.4 * 2), -HUGE_VAL,
                                     -(double)(float)(CP_THETA_THRESHOLD * 2), -HUGE_VAL};

typedef struct cartpole {
  lpdm_env pub;      /* first: the host's view */
  lpdm_nprng rng;    /* env.np_random */
  double s[4];       /* x, x_dot, theta, theta_dot */
  int seeded;        /* rng seeded at least once */
  int ready;         /* a state exists (reset or set_state happened) */
  int steps;         /* steps since the last reset */
  int done;          /* terminated was already returned (steps_beyond_terminated) */
  int max_steps;
  int sutton_barto;
  double reset_low, reset_high;
} cartpole;

static const lpdm_key cp_keys[] = {
    {"max_episode_steps", LPDM_T_INT, "500", "truncate after this many steps since reset (0: never)"},
    {"sutton_barto_reward", LPDM_T_BOOL, "false",
     "reward 0 per step and -1 on termination instead of +1 per step"},
    {"reset_low", LPDM_T_NUMBER, "-0.05", "lower bound of the uniform start state"},
    {"reset_high", LPDM_T_NUMBER, "0.05", "upper bound of the uniform start state"},
    {NULL, 0, NULL, NULL}};

static void cp_observe(const cartpole *c, float *obs) {
  for (int i = 0; i < 4; i++) obs[i] = (float)c->s[i];
}

static int cp_create(const lpdm_env_kind *kind, const lpdm_config *cfg, lpdm_env **out,
                     lpdm_ctx *ctx) {
  *out = NULL;
  int max_steps = lpdm_cfg_int(cfg, "max_episode_steps");
  double lo = lpdm_cfg_num(cfg, "reset_low"), hi = lpdm_cfg_num(cfg, "reset_high");
  if (max_steps < 0)
    return lpdm_error(ctx, LPDM_ERR_ARG, "max_episode_steps is %d (must be >= 0)", max_steps);
  if (!isfinite(lo) || !isfinite(hi) || lo > hi)
    return lpdm_error(ctx, LPDM_ERR_ARG,
                      "reset_low %g and reset_high %g must be finite with reset_low <= reset_high",
                      lo, hi);

  cartpole *c = calloc(1, sizeof *c);
  if (!c) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  c->pub.kind = kind;
  c->pub.cfg = *cfg;
  c->pub.obs_space = (lpdm_space){LPDM_SPACE_BOX, 0, 4, cp_obs_low, cp_obs_high};
  c->pub.act_space = (lpdm_space){LPDM_SPACE_DISCRETE, 2, 1, NULL, NULL};
  c->pub.state_dim = 4;
  c->pub.max_episode_steps = max_steps;
  c->max_steps = max_steps;
  c->sutton_barto = lpdm_cfg_bool(cfg, "sutton_barto_reward");
  c->reset_low = lo;
  c->reset_high = hi;
  *out = &c->pub;
  return LPDM_OK;
}

static int cp_reset(lpdm_env *self, int has_seed, uint64_t seed, float *obs, lpdm_ctx *ctx) {
  cartpole *c = (cartpole *)self;
  if (has_seed || !c->seeded) {
    lpdm_nprng_seed(&c->rng, has_seed ? seed : 0);
    c->seeded = 1;
  }
  for (int i = 0; i < 4; i++) c->s[i] = lpdm_nprng_uniform(&c->rng, c->reset_low, c->reset_high);
  c->ready = 1;
  c->steps = 0;
  c->done = 0;
  cp_observe(c, obs);
  return LPDM_OK;
}

static int cp_step(lpdm_env *self, const double *action, float *obs, double *reward,
                   int *terminated, int *truncated, lpdm_ctx *ctx) {
  cartpole *c = (cartpole *)self;
  if (!c->ready) return lpdm_error(ctx, LPDM_ERR, "CartPole-v1: step before reset");

  const double total_mass = cp_masspole + cp_masscart;
  const double polemass_length = cp_masspole * cp_length;
  double x = c->s[0], x_dot = c->s[1], theta = c->s[2], theta_dot = c->s[3];

  double force = action[0] == 1 ? cp_force_mag : -cp_force_mag;
  double costheta = cos(theta);
  double sintheta = sin(theta);
  double temp = (force + polemass_length * (theta_dot * theta_dot) * sintheta) / total_mass;
  double thetaacc = (cp_gravity * sintheta - costheta * temp) /
                    (cp_length * (4.0 / 3.0 - cp_masspole * (costheta * costheta) / total_mass));
  double xacc = temp - polemass_length * thetaacc * costheta / total_mass;

  x = x + cp_tau * x_dot;
  x_dot = x_dot + cp_tau * xacc;
  theta = theta + cp_tau * theta_dot;
  theta_dot = theta_dot + cp_tau * thetaacc;
  c->s[0] = x;
  c->s[1] = x_dot;
  c->s[2] = theta;
  c->s[3] = theta_dot;

  int term = x < -cp_x_threshold || x > cp_x_threshold || theta < -CP_THETA_THRESHOLD ||
             theta > CP_THETA_THRESHOLD;
  if (!term) {
    *reward = c->sutton_barto ? 0.0 : 1.0;
  } else if (!c->done) {
    c->done = 1; /* the pole just fell */
    *reward = c->sutton_barto ? -1.0 : 1.0;
  } else {
    *reward = c->sutton_barto ? -1.0 : 0.0; /* stepping past the end */
  }
  if (c->steps < INT_MAX) c->steps++;
  *terminated = term;
  *truncated = c->max_steps > 0 && c->steps >= c->max_steps;
  cp_observe(c, obs);
  return LPDM_OK;
}

static void cp_free(lpdm_env *self) { free(self); }

static int cp_get_state(const lpdm_env *self, double *state) {
  const cartpole *c = (const cartpole *)self;
  for (int i = 0; i < 4; i++) state[i] = c->s[i];
  return LPDM_OK;
}

static int cp_set_state(lpdm_env *self, const double *state, lpdm_ctx *ctx) {
  cartpole *c = (cartpole *)self;
  for (int i = 0; i < 4; i++) c->s[i] = state[i];
  c->ready = 1;
  return LPDM_OK;
}

static int cp_render(const lpdm_env *self, char *buf, size_t len) {
  const cartpole *c = (const cartpole *)self;
  if (!buf || len == 0) return LPDM_OK;
  snprintf(buf, len, "CartPole-v1 t=%d x=%+.4f x_dot=%+.4f theta=%+.4f (%+.2f deg) theta_dot=%+.4f",
           c->steps, c->s[0], c->s[1], c->s[2], c->s[2] * (180.0 / CP_PI), c->s[3]);
  return LPDM_OK;
}

/* The picture, as Gymnasium's render() draws it: a 600 x 400 white window
   (scale = 600 / (2 * 2.4) px per metre), the black 50 x 30 cart centred at
   y = 100 on a black track line, the pole (10 px wide, 2 * length * scale
   long, colour (202, 152, 101)) on the axle 7.5 px above the cart's centre,
   rotated by -theta, and the axle (radius 5, (129, 132, 203)). */
static void cp_render_info(const lpdm_env *self, int *w, int *h, int *fps) {
  (void)self;
  *w = 600;
  *h = 400;
  *fps = 50; /* Gymnasium's metadata render_fps */
}

static int cp_render_rgb(lpdm_env *self, unsigned char *rgb, int width, int height, lpdm_ctx *ctx) {
  (void)ctx;
  const cartpole *c = (const cartpole *)self;
  const double scale = 600 / (cp_x_threshold * 2), polelen = scale * (2 * cp_length);
  const double cartx = c->s[0] * scale + 600 / 2.0, carty = 100, axle = 30 / 4.0;
  lpdm_canvas cv;
  lpdm_cv_begin(&cv, rgb, width, height, 600, 400, LPDM_WHITE);
  const double cart[8] = {cartx - 25, carty - 15, cartx - 25, carty + 15,
                          cartx + 25, carty + 15, cartx + 25, carty - 15};
  lpdm_cv_polygon(&cv, cart, 4, LPDM_BLACK);
  double pole[8] = {-5, -5, -5, polelen - 5, 5, polelen - 5, 5, -5};
  lpdm_cv_rotate(pole, 4, -c->s[2], cartx, carty + axle);
  lpdm_cv_polygon(&cv, pole, 4, (lpdm_rgb){202, 152, 101});
  lpdm_cv_circle(&cv, (int)cartx, (int)(carty + axle), 5, (lpdm_rgb){129, 132, 203});
  lpdm_cv_line(&cv, 0, carty + 0.5, 600, carty + 0.5, 1, LPDM_BLACK);
  return LPDM_OK;
}

/* Checkpoints: the state, the generator and the counters decide the rest
   of the episode exactly. */
static int cp_save(const lpdm_env *self, lpdm_st *st, const char *prefix, lpdm_ctx *ctx) {
  const cartpole *e = (const cartpole *)self;
  const int64_t n[4] = {e->seeded, e->ready, e->steps, e->done};
  return lpdm_state_put_env(st, ctx, prefix, e->s, 4, n, 4, &e->rng);
}

static int cp_load(lpdm_env *self, const lpdm_st *st, const char *prefix, lpdm_ctx *ctx) {
  cartpole *e = (cartpole *)self;
  int64_t n[4];
  int rc = lpdm_state_get_env(st, ctx, prefix, e->s, 4, n, 4, &e->rng); /* changes nothing unless all fit */
  if (rc) return rc;
  e->seeded = n[0] != 0;
  e->ready = n[1] != 0;
  e->steps = (int)n[2];
  e->done = n[3] != 0;
  return LPDM_OK;
}

static const lpdm_env_kind cp_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_ENV, "env.CartPole-v1",
                             "Gymnasium's CartPole-v1: balance a pole on a cart (Discrete(2), Box(4))", cp_keys),
    .create = cp_create,
    .reset = cp_reset,
    .step = cp_step,
    .free = cp_free,
    .get_state = cp_get_state,
    .set_state = cp_set_state,
    .render = cp_render,
    .save = cp_save,
    .load = cp_load,
    .render_rgb = cp_render_rgb,
    .render_info = cp_render_info,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_cartpole(void) { return &cp_kind.head; }
