/* SPDX-License-Identifier: MIT */
/*
** mountaincar.c -- the MountainCar-v0 environment, as Gymnasium 1.x
** defines it.
**
** WHAT IT IS
**
** A car sits in a valley between two hills, on the curve height(x) =
** 0.45 sin(3x) + 0.55, and its engine is too weak to drive straight up the
** right hill: it has to rock back and forth to build momentum. Each step
** the agent accelerates left (action 0), not at all (1) or right (2). The
** episode ends (terminated) when the car reaches the flag at x >= 0.5
** moving right (velocity >= goal_velocity); it is cut (truncated) after
** max_episode_steps steps. Reward is -1 every step. This is Andrew Moore's
** mountain car (PhD thesis, 1990) as Sutton's MountainCar1.cp and
** Gymnasium write it; a step from the same state with the same action
** matches Gymnasium's bit for bit (Gymnasium takes its cos from the C
** library too; see tests/test_parity.c).
**
**   observation  Box(2) float32: position, velocity. Bounds as Gymnasium's
**                Box, rounded to float32: [-1.2, 0.6] and [-0.07, 0.07].
**   action       Discrete(3): 0 accelerates left, 1 coasts, 2 accelerates
**                right.
**   state        position, velocity in float64 (get_state/set_state); the
**                observation is this state rounded to float32.
**
** HOW IT WORKS
**
** Constants: force 0.001, gravity 0.0025, positions [-1.2, 0.6], speed
** limit 0.07, goal position 0.5. One step, in float64 and in Gymnasium's
** order of operations:
**
**   velocity += (action - 1) * force + cos(3 * position) * (-gravity)
**   velocity  = clip(velocity, -0.07, 0.07)
**   position += velocity
**   position  = clip(position, -1.2, 0.6)
**   if position == -1.2 and velocity < 0:  velocity = 0
**
** (the left wall is inelastic: the car stops there; at the right end the
** car is at the flag anyway). terminated = position >= 0.5 and velocity
** >= goal_velocity. The step counter counts steps since the last reset;
** truncated = (counter >= max_episode_steps), as Gymnasium's TimeLimit
** wrapper: the 200th step is truncated, the 199th is not.
**
** Reset draws the position from U(reset_low, reset_high) = U(-0.6, -0.4)
** -- one draw of the env's NumPy-exact generator (lpdm_nprng:
** Generator(PCG64(SeedSequence(seed)))), kept in float64 -- and sets the
** velocity to 0, as Gymnasium does. reset with a seed reseeds the
** generator first, like Gymnasium's reset(seed=seed); without one it
** continues the stream; an env never seeded seeds with 0 on its first
** reset (Gymnasium would take OS entropy there; lpdm stays reproducible).
**
** Stepping after termination is allowed, as in Gymnasium: the car moves on
** and the reward stays -1. set_state replaces the two numbers only (the
** step counter is kept, as assigning env.unwrapped.state in Gymnasium
** does). step before any reset or set_state is an error.
**
** CONFIG KEYS
**
**   max_episode_steps  int     200   truncation limit (0: never truncate)
**   goal_velocity      number  0     least velocity at the flag that ends
**                                    the episode (Gymnasium's argument)
**   reset_low          number  -0.6  lower bound of the start position
**   reset_high         number  -0.4  upper bound of the start position
**                                    (Gymnasium's reset options
**                                    "low"/"high")
**
** USAGE (Lua)
**
**   local env = lpdm.env("MountainCar-v0")
**   local obs = env:reset{seed=3}
**   local obs, r, term, trunc = env:step(obs[2] < 0 and 0 or 2)  -- push along
**
** RENDERING. render_rgb draws the hill, the car and the flag as
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

/* Gymnasium's constants. */
static const double mc_min_position = -1.2;
static const double mc_max_position = 0.6;
static const double mc_max_speed = 0.07;
static const double mc_goal_position = 0.5;
static const double mc_force = 0.001;
static const double mc_gravity = 0.0025;

static const double mc_obs_low[2] = {(double)(float)-1.2, (double)(float)-0.07};
static const double mc_obs_high[2] = {(double)(float)0.6, (double)(float)0.07};

typedef struct mountaincar {
  lpdm_env pub;   /* first: the host's view */
  lpdm_nprng rng; /* env.np_random */
  double s[2];    /* position, velocity */
  int seeded;     /* rng seeded at least once */
  int ready;      /* a state exists (reset or set_state happened) */
  int steps;      /* steps since the last reset */
  int max_steps;
  double goal_velocity;
  double reset_low, reset_high;
} mountaincar;

static const lpdm_key mc_keys[] = {
    {"max_episode_steps", LPDM_T_INT, "200", "truncate after this many steps since reset (0: never)"},
    {"goal_velocity", LPDM_T_NUMBER, "0", "least velocity at the flag that ends the episode"},
    {"reset_low", LPDM_T_NUMBER, "-0.6", "lower bound of the uniform start position"},
    {"reset_high", LPDM_T_NUMBER, "-0.4", "upper bound of the uniform start position"},
    {NULL, 0, NULL, NULL}};

static double mc_clip(double x, double lo, double hi) {
  double y = x < lo ? lo : x;
  return y > hi ? hi : y;
}

static void mc_observe(const mountaincar *c, float *obs) {
  obs[0] = (float)c->s[0];
  obs[1] = (float)c->s[1];
}

static int mc_create(const lpdm_env_kind *kind, const lpdm_config *cfg, lpdm_env **out,
                     lpdm_ctx *ctx) {
  *out = NULL;
  int max_steps = lpdm_cfg_int(cfg, "max_episode_steps");
  double goal_velocity = lpdm_cfg_num(cfg, "goal_velocity");
  double lo = lpdm_cfg_num(cfg, "reset_low"), hi = lpdm_cfg_num(cfg, "reset_high");
  if (max_steps < 0)
    return lpdm_error(ctx, LPDM_ERR_ARG, "max_episode_steps is %d (must be >= 0)", max_steps);
  if (isnan(goal_velocity))
    return lpdm_error(ctx, LPDM_ERR_ARG, "goal_velocity is NaN");
  if (!isfinite(lo) || !isfinite(hi) || lo > hi)
    return lpdm_error(ctx, LPDM_ERR_ARG,
                      "reset_low %g and reset_high %g must be finite with reset_low <= reset_high",
                      lo, hi);

  mountaincar *c = calloc(1, sizeof *c);
  if (!c) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  c->pub.kind = kind;
  c->pub.cfg = *cfg;
  c->pub.obs_space = (lpdm_space){LPDM_SPACE_BOX, 0, 2, mc_obs_low, mc_obs_high};
  c->pub.act_space = (lpdm_space){LPDM_SPACE_DISCRETE, 3, 1, NULL, NULL};
  c->pub.state_dim = 2;
  c->pub.max_episode_steps = max_steps;
  c->max_steps = max_steps;
  c->goal_velocity = goal_velocity;
  c->reset_low = lo;
  c->reset_high = hi;
  *out = &c->pub;
  return LPDM_OK;
}

static int mc_reset(lpdm_env *self, int has_seed, uint64_t seed, float *obs, lpdm_ctx *ctx) {
  mountaincar *c = (mountaincar *)self;
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
  mountaincar *c = (mountaincar *)self;
  if (!c->ready) return lpdm_error(ctx, LPDM_ERR, "MountainCar-v0: step before reset");

  double position = c->s[0], velocity = c->s[1];
  double push = (action[0] - 1) * mc_force; /* -0.001, 0 or 0.001 exactly */
  velocity = velocity + (push + cos(3 * position) * (-mc_gravity));
  velocity = mc_clip(velocity, -mc_max_speed, mc_max_speed);
  position = position + velocity;
  position = mc_clip(position, mc_min_position, mc_max_position);
  if (position == mc_min_position && velocity < 0) velocity = 0;
  c->s[0] = position;
  c->s[1] = velocity;

  *reward = -1.0;
  if (c->steps < INT_MAX) c->steps++;
  *terminated = position >= mc_goal_position && velocity >= c->goal_velocity;
  *truncated = c->max_steps > 0 && c->steps >= c->max_steps;
  mc_observe(c, obs);
  return LPDM_OK;
}

static void mc_free(lpdm_env *self) { free(self); }

static int mc_get_state(const lpdm_env *self, double *state) {
  const mountaincar *c = (const mountaincar *)self;
  state[0] = c->s[0];
  state[1] = c->s[1];
  return LPDM_OK;
}

static int mc_set_state(lpdm_env *self, const double *state, lpdm_ctx *ctx) {
  mountaincar *c = (mountaincar *)self;
  c->s[0] = state[0];
  c->s[1] = state[1];
  c->ready = 1;
  return LPDM_OK;
}

static int mc_render(const lpdm_env *self, char *buf, size_t len) {
  const mountaincar *c = (const mountaincar *)self;
  if (!buf || len == 0) return LPDM_OK;
  snprintf(buf, len, "MountainCar-v0 t=%d position=%+.4f velocity=%+.5f height=%.4f (flag at 0.5)",
           c->steps, c->s[0], c->s[1], 0.45 * sin(3 * c->s[0]) + 0.55);
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
  const mountaincar *c = (const mountaincar *)self;
  lpdm_draw_mountain_car(rgb, width, height, c->s[0], mc_min_position, mc_max_position, mc_goal_position);
  return LPDM_OK;
}

/* Checkpoints: the state, the generator and the counters decide the rest
   of the episode exactly. */
static int mc_save(const lpdm_env *self, lpdm_st *st, const char *prefix, lpdm_ctx *ctx) {
  const mountaincar *e = (const mountaincar *)self;
  const int64_t n[3] = {e->seeded, e->ready, e->steps};
  return lpdm_state_put_env(st, ctx, prefix, e->s, 2, n, 3, &e->rng);
}

static int mc_load(lpdm_env *self, const lpdm_st *st, const char *prefix, lpdm_ctx *ctx) {
  mountaincar *e = (mountaincar *)self;
  int64_t n[3];
  int rc = lpdm_state_get_env(st, ctx, prefix, e->s, 2, n, 3, &e->rng); /* changes nothing unless all fit */
  if (rc) return rc;
  e->seeded = n[0] != 0;
  e->ready = n[1] != 0;
  e->steps = (int)n[2];
  return LPDM_OK;
}

static const lpdm_env_kind mc_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_ENV, "env.MountainCar-v0",
                             "Gymnasium's MountainCar-v0: rock a car up a hill (Discrete(3), Box(2))", mc_keys),
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

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_mountaincar(void) { return &mc_kind.head; }
