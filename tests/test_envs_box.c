/* SPDX-License-Identifier: MIT */
/* test_envs_box.c -- the Box-action envs Pendulum-v1 and
   MountainCarContinuous-v0: what a step-by-step trace does not show.

   For each env: the spaces as Gymnasium declares them; truncation exactly
   at the time limit and never a termination on the way (Pendulum never
   terminates); the reset distribution over 2000 seeds (inside Gymnasium's
   range and covering it); an out-of-bound action moves the system exactly
   as the bound does (Gymnasium clips), while MountainCarContinuous charges
   its fuel cost on the raw action; a NaN or infinite action is refused by
   lpdm_env_step with a message naming the env, leaving the state as it
   was. Then each env's own edges (speed limit, gravity key, the left wall,
   the goal, float32 state). Bit parity with Gymnasium's traces is
   tests/test_parity.c's job. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "lpdm/lpdm.h"
#include "tap.h"

#define PI 3.14159265358979323846

/* What Gymnasium declares for an env, and what we test it with. */
typedef struct spec {
  const char *file, *id;
  int obs_dim, limit;
  double obs_low[3], obs_high[3];
  double act_bound;                     /* action space [-b, b]           */
  double reset_low[2], reset_high[2];   /* start state range, per element */
} spec;

static const spec pendulum_spec = {
    "pendulum.so", "Pendulum-v1", 3, 200, {-1, -1, -8}, {1, 1, 8}, 2.0, {-PI, -1}, {PI, 1}};
static const spec mcc_spec = {"mountaincar_continuous.so",
                              "MountainCarContinuous-v0",
                              2,
                              999,
                              {(double)-1.2f, (double)-0.07f},
                              {(double)0.6f, (double)0.07f},
                              1.0,
                              {-0.6, 0},
                              {-0.4, 0}};

static const lpdm_env_kind *load(lpdm_ctx *ctx, const spec *s) {
  const lpdm_env_kind *k = (const lpdm_env_kind *)fx_plugin(ctx, LPDM_KIND_ENV, s->file, s->id);
  if (!k) diag("%s", lpdm_ctx_message(ctx));
  return k;
}

/* One step from state st with action a; obs, reward, new state out. */
static int step_from(lpdm_env *env, lpdm_ctx *ctx, const double *st, double a, float *obs,
                     double *reward, int *term, double *st_out) {
  int trunc;
  if (lpdm_env_set_state(env, ctx, st)) return -1;
  if (lpdm_env_step(env, ctx, &a, obs, reward, term, &trunc)) return -1;
  return env->kind->get_state(env, st_out);
}

/* ------------------------------------------------------------ common checks */

static void check_spaces(lpdm_env *env, const spec *s) {
  const lpdm_space *o = &env->obs_space, *a = &env->act_space;
  int same = o->type == LPDM_SPACE_BOX && o->dim == s->obs_dim && o->low && o->high;
  for (int i = 0; same && i < s->obs_dim; i++)
    same = o->low[i] == s->obs_low[i] && o->high[i] == s->obs_high[i];
  ok(same, "%s: observation space Box(%d) with Gymnasium's bounds", s->id, s->obs_dim);
  ok(a->type == LPDM_SPACE_BOX && a->dim == 1 && a->low && a->high &&
         a->low[0] == -s->act_bound && a->high[0] == s->act_bound,
     "%s: action space Box(1) in [%g, %g]", s->id, -s->act_bound, s->act_bound);
  ok(env->state_dim == 2 && env->max_episode_steps == s->limit,
     "%s: state_dim 2, max_episode_steps %d", s->id, s->limit);
}

static void check_time_limit(lpdm_ctx *ctx, const lpdm_env_kind *k, const spec *s) {
  lpdm_env *env = fx_env(ctx, k, NULL);
  if (!env) {
    ok(0, "%s: time limit (env)", s->id);
    ok(0, "%s: past the limit", s->id);
    ok(0, "%s: max_episode_steps=5", s->id);
    return;
  }
  float obs[3];
  double reward, a = 0;
  int term, trunc, anyterm = 0, first = 0, rc = lpdm_env_reset(env, ctx, 1, 4, obs);
  for (int t = 1; t <= s->limit && !rc; t++) {
    rc = lpdm_env_step(env, ctx, &a, obs, &reward, &term, &trunc);
    anyterm |= term;
    if (trunc && !first) first = t;
  }
  ok(rc == 0 && !anyterm && first == s->limit,
     "%s: no termination, truncated first at step %d exactly (got %d)", s->id, s->limit, first);
  rc = lpdm_env_step(env, ctx, &a, obs, &reward, &term, &trunc);
  int past = rc == 0 && trunc == 1;
  rc = lpdm_env_reset(env, ctx, 0, 0, obs) ||
       lpdm_env_step(env, ctx, &a, obs, &reward, &term, &trunc);
  ok(past && rc == 0 && trunc == 0, "%s: past the limit stays truncated; reset restarts the count",
     s->id);
  lpdm_env_free(env);

  env = fx_env(ctx, k, "max_episode_steps=5");
  int at = 0;
  rc = env ? lpdm_env_reset(env, ctx, 1, 4, obs) : -1;
  for (int t = 1; t <= 5 && !rc; t++) {
    rc = lpdm_env_step(env, ctx, &a, obs, &reward, &term, &trunc);
    if (trunc && !at) at = t;
  }
  ok(rc == 0 && at == 5, "%s: max_episode_steps=5 truncates at 5", s->id);
  lpdm_env_free(env);
}

static void check_reset_distribution(lpdm_ctx *ctx, const lpdm_env_kind *k, const spec *s) {
  lpdm_env *env = fx_env(ctx, k, NULL);
  if (!env) {
    ok(0, "%s: reset distribution (env)", s->id);
    ok(0, "%s: reset covers", s->id);
    ok(0, "%s: reset obs", s->id);
    return;
  }
  double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY}, st[2];
  float obs[3];
  int outside = 0, obs_bad = 0, rc = 0;
  for (uint64_t seed = 0; seed < 2000 && !rc; seed++) {
    rc = lpdm_env_reset(env, ctx, 1, seed, obs);
    env->kind->get_state(env, st);
    for (int j = 0; j < 2; j++) {
      lo[j] = fmin(lo[j], st[j]);
      hi[j] = fmax(hi[j], st[j]);
      int in = s->reset_low[j] == s->reset_high[j]
                   ? st[j] == s->reset_low[j]
                   : st[j] >= s->reset_low[j] && st[j] < s->reset_high[j];
      if (!in && outside++ < 3) diag("seed %d: state[%d] = %.17g", (int)seed, j, st[j]);
    }
    /* the observation is the state as Gymnasium shows it */
    if (s->obs_dim == 3)
      obs_bad += obs[0] != (float)cos(st[0]) || obs[1] != (float)sin(st[0]) ||
                 obs[2] != (float)st[1];
    else
      obs_bad += obs[0] != (float)st[0] || obs[1] != (float)st[1];
  }
  ok(rc == 0 && outside == 0, "%s: 2000 seeded resets all inside [%g, %g) x [%g, %g)", s->id,
     s->reset_low[0], s->reset_high[0], s->reset_low[1], s->reset_high[1]);
  int covers = 1;
  for (int j = 0; j < 2; j++) {
    double w = s->reset_high[j] - s->reset_low[j];
    if (w == 0) continue;
    covers &= lo[j] - s->reset_low[j] < 0.02 * w && s->reset_high[j] - hi[j] < 0.02 * w;
  }
  ok(covers, "%s: and covering it (min/max within 2%%): [%.4f, %.4f] x [%.4f, %.4f]", s->id, lo[0],
     hi[0], lo[1], hi[1]);
  ok(obs_bad == 0, "%s: reset obs is the float32 view of the state", s->id);
  lpdm_env_free(env);
}

/* An action beyond the bound moves the system as the bound does. */
static void check_clipping(lpdm_ctx *ctx, const lpdm_env_kind *k, const spec *s,
                           const double (*states)[2], int n) {
  lpdm_env *env = fx_env(ctx, k, NULL);
  if (!env) {
    ok(0, "%s: clipping (env)", s->id);
    return;
  }
  float obs[3], obs_b[3];
  int same = 1, rc = 0, term, term_b;
  double r, r_b, st[2], st_b[2];
  rc = lpdm_env_reset(env, ctx, 1, 0, obs);
  for (int i = 0; i < n && !rc; i++)
    for (int sign = -1; sign <= 1; sign += 2) {
      rc |= step_from(env, ctx, states[i], sign * 7.0, obs, &r, &term, st);
      rc |= step_from(env, ctx, states[i], sign * s->act_bound, obs_b, &r_b, &term_b, st_b);
      same &= memcmp(st, st_b, sizeof st) == 0 &&
              memcmp(obs, obs_b, (size_t)s->obs_dim * sizeof *obs) == 0 && term == term_b;
    }
  ok(rc == 0 && same, "%s: actions +-7 give the same state and obs as +-%g", s->id, s->act_bound);
  lpdm_env_free(env);
}

static void check_bad_actions(lpdm_ctx *ctx, const lpdm_env_kind *k, const spec *s) {
  lpdm_env *env = fx_env(ctx, k, NULL);
  if (!env) {
    ok(0, "%s: NaN action (env)", s->id);
    ok(0, "%s: Inf action", s->id);
    return;
  }
  float obs[3];
  double before[2], after[2], reward, a = 0.5;
  int term, trunc;
  int rc = lpdm_env_reset(env, ctx, 1, 8, obs) ||
           lpdm_env_step(env, ctx, &a, obs, &reward, &term, &trunc);
  env->kind->get_state(env, before);
  a = NAN;
  int refused = lpdm_env_step(env, ctx, &a, obs, &reward, &term, &trunc) != LPDM_OK;
  env->kind->get_state(env, after);
  ok(rc == 0 && refused && strstr(lpdm_ctx_message(ctx), s->id) != NULL &&
         memcmp(before, after, sizeof before) == 0,
     "%s: a NaN action is refused, state unchanged: %s", s->id, lpdm_ctx_message(ctx));
  a = -INFINITY;
  refused = lpdm_env_step(env, ctx, &a, obs, &reward, &term, &trunc) != LPDM_OK;
  env->kind->get_state(env, after);
  ok(refused && memcmp(before, after, sizeof before) == 0,
     "%s: a -Inf action is refused, state unchanged: %s", s->id, lpdm_ctx_message(ctx));
  lpdm_env_free(env);
}

static void check_misc(lpdm_ctx *ctx, const lpdm_env_kind *k, const spec *s) {
  lpdm_env *env = fx_env(ctx, k, NULL);
  if (!env) {
    ok(0, "%s: misc (env)", s->id);
    return;
  }
  float obs[3];
  double reward, a = 0, st[2];
  int term, trunc;
  int before_reset = lpdm_env_step(env, ctx, &a, obs, &reward, &term, &trunc) != LPDM_OK;
  static const double nan_state[2] = {NAN, 0};
  int nan_refused = lpdm_env_set_state(env, ctx, nan_state) != LPDM_OK;
  static const double some[2] = {-0.3, 0.01};
  lpdm_env_set_state(env, ctx, some);
  env->kind->get_state(env, st);
  char buf[256] = "";
  if (env->kind->render) env->kind->render(env, buf, sizeof buf);
  ok(before_reset && nan_refused && memcmp(st, some, sizeof st) == 0 && strstr(buf, s->id),
     "%s: step before reset fails, set_state refuses NaN, get_state returns what set_state set, "
     "render: %s",
     s->id, buf);

  /* same seed, same trajectory; unseeded reset continues the stream */
  lpdm_env *e2 = fx_env(ctx, k, NULL);
  float o1[3], o2[3];
  int same = e2 && lpdm_env_reset(env, ctx, 1, 99, o1) == 0 &&
             lpdm_env_reset(e2, ctx, 1, 99, o2) == 0;
  for (int t = 0; t < 100 && same; t++) {
    double act = sin(0.37 * t) * 1.5, r1, r2;
    int te1, tr1, te2, tr2;
    same = lpdm_env_step(env, ctx, &act, o1, &r1, &te1, &tr1) == 0 &&
           lpdm_env_step(e2, ctx, &act, o2, &r2, &te2, &tr2) == 0 &&
           memcmp(o1, o2, (size_t)s->obs_dim * sizeof *o1) == 0 && r1 == r2 && te1 == te2;
  }
  double s1[2];
  lpdm_nprng r;
  lpdm_nprng_seed(&r, 99);
  /* a reset draws the state elements whose range is not a point, in order;
     the next reset's first draw is state[0] */
  int draws = s->reset_low[1] < s->reset_high[1] ? 2 : 1;
  for (int i = 0; i < draws; i++) lpdm_nprng_uniform(&r, 0, 1);
  double want = lpdm_nprng_uniform(&r, s->reset_low[0], s->reset_high[0]);
  int cont = lpdm_env_reset(env, ctx, 0, 0, o1) == 0;
  env->kind->get_state(env, s1);
  ok(same && cont && s1[0] == want,
     "%s: same seed, same 100 steps; an unseeded reset continues the seeded stream", s->id);
  lpdm_env_free(e2);
  lpdm_env_free(env);
}

/* ------------------------------------------------------------ Pendulum */

static void check_pendulum(lpdm_ctx *ctx, const lpdm_env_kind *k) {
  static const double states[][2] = {{0, 0}, {PI, 0}, {-2.5, 7.9}, {1.0, -3.0}, {12.0, 0.5}};
  check_clipping(ctx, k, &pendulum_spec, states, 5);

  lpdm_env *env = fx_env(ctx, k, NULL);
  if (!env) {
    ok(0, "Pendulum-v1 env");
    return;
  }
  float obs[3];
  double r, r_b, st[2], st_b[2];
  int term;
  int rc = lpdm_env_reset(env, ctx, 1, 0, obs);

  /* the reward penalises the clipped torque: 7 costs what 2 costs */
  static const double hang[2] = {PI / 2, 1.0};
  rc |= step_from(env, ctx, hang, 7.0, obs, &r, &term, st);
  rc |= step_from(env, ctx, hang, 2.0, obs, &r_b, &term, st_b);
  ok(rc == 0 && r == r_b, "Pendulum-v1: the reward of torque 7 is that of torque 2 (%.6f)", r);

  /* the worst reward: hanging down, at full speed, full torque */
  static const double worst[2] = {PI, 8.0};
  rc = step_from(env, ctx, worst, -2.0, obs, &r, &term, st);
  ok(rc == 0 && fabs(r - -16.2736044) < 1e-7 && term == 0,
     "Pendulum-v1: worst reward -(pi^2 + 0.1*64 + 0.001*4) = %.7f", r);

  /* upright and still with no torque: reward 0 and it stays put */
  static const double top[2] = {0, 0};
  rc = step_from(env, ctx, top, 0.0, obs, &r, &term, st);
  ok(rc == 0 && r == 0 && st[0] == 0 && st[1] == 0 && obs[0] == 1 && obs[1] == 0 && obs[2] == 0,
     "Pendulum-v1: upright and still: reward 0, obs (1, 0, 0)");

  /* the speed limit */
  static const double fast[2] = {0.5, 7.99};
  rc = step_from(env, ctx, fast, 2.0, obs, &r, &term, st);
  ok(rc == 0 && st[1] == 8.0 && st[0] == 0.5 + 8.0 * 0.05,
     "Pendulum-v1: theta_dot clipped to 8, then theta += 8 * dt");

  /* angle_normalize: the cost sees theta modulo 2 pi */
  static const double wound[2] = {0.25 + 4 * PI, 0}, plain[2] = {0.25, 0};
  rc = step_from(env, ctx, wound, 0.0, obs, &r, &term, st);
  rc |= step_from(env, ctx, plain, 0.0, obs, &r_b, &term, st_b);
  ok(rc == 0 && fabs(r - r_b) < 1e-12 && fabs(r - -0.0625) < 1e-12,
     "Pendulum-v1: theta + 4 pi costs what theta costs (%.15f)", r);
  lpdm_env_free(env);

  /* the gravity key: with g = 0 and no torque, theta_dot keeps its value */
  env = fx_env(ctx, k, "g=0.0");
  static const double spin[2] = {1.0, 0.75};
  rc = env ? step_from(env, ctx, spin, 0.0, obs, &r, &term, st) : -1;
  ok(rc == 0 && st[1] == 0.75 && st[0] == 1.0 + 0.75 * 0.05,
     "Pendulum-v1: g=0: no torque, no change of theta_dot");
  lpdm_env_free(env);
  env = fx_env(ctx, k, "g=9.81");
  rc = env ? step_from(env, ctx, hang, 0.0, obs, &r, &term, st) : -1;
  ok(rc == 0 && fabs(st[1] - (1.0 + 3 * 9.81 / 2 * 0.05)) < 1e-15,
     "Pendulum-v1: g=9.81: theta_dot += 3 g / (2 l) sin(theta) dt");
  lpdm_env_free(env);
}

/* ------------------------------------------------------------ MountainCarContinuous */

static void check_mcc(lpdm_ctx *ctx, const lpdm_env_kind *k) {
  static const double states[][2] = {
      {-0.5, 0}, {-1.19, -0.069}, {0.44, 0.0695}, {0.0, 0.03}, {(double)-1.2f, 0}};
  check_clipping(ctx, k, &mcc_spec, states, 5);

  lpdm_env *env = fx_env(ctx, k, NULL);
  if (!env) {
    ok(0, "MountainCarContinuous-v0 env");
    return;
  }
  float obs[2];
  double r, st[2];
  int term;
  int rc = lpdm_env_reset(env, ctx, 1, 0, obs);

  /* the fuel cost is charged on the raw action, as Gymnasium does */
  static const double valley[2] = {-0.5, 0};
  double r1, r7, rm7;
  rc |= step_from(env, ctx, valley, 1.0, obs, &r1, &term, st);
  rc |= step_from(env, ctx, valley, 7.0, obs, &r7, &term, st);
  rc |= step_from(env, ctx, valley, -7.0, obs, &rm7, &term, st);
  ok(rc == 0 && r1 == -1.0 * 1.0 * 0.1 && r7 == -7.0 * 7.0 * 0.1 && rm7 == r7,
     "MountainCarContinuous-v0: fuel cost on the unclipped action: -0.1 for 1, %.2f for +-7", r7);

  /* the state is stored in float32 after a step (float64 after reset) */
  static const double odd[2] = {-0.523456789012345, 0.0123456789012345};
  rc = step_from(env, ctx, odd, 0.3, obs, &r, &term, st);
  ok(rc == 0 && st[0] == (double)(float)st[0] && st[1] == (double)(float)st[1] &&
         obs[0] == (float)st[0] && obs[1] == (float)st[1],
     "MountainCarContinuous-v0: after a step the state is float32 values, the obs the state");

  /* the left wall stops the car */
  static const double wall[2] = {-1.19, -0.07};
  rc = step_from(env, ctx, wall, -1.0, obs, &r, &term, st);
  ok(rc == 0 && st[0] == (double)(float)-1.2 && st[1] == 0 && term == 0,
     "MountainCarContinuous-v0: at the left wall position is -1.2 and velocity 0");

  /* the velocity limit */
  static const double fast[2] = {-1.0, 0.0699}; /* gravity pushes right here */
  rc = step_from(env, ctx, fast, 1.0, obs, &r, &term, st);
  ok(rc == 0 && st[1] == (double)(float)0.07,
     "MountainCarContinuous-v0: velocity clipped to 0.07");

  /* the goal: position >= 0.45 with velocity >= 0 */
  static const double near_goal[2] = {0.44, 0.02};
  rc = step_from(env, ctx, near_goal, 0.5, obs, &r, &term, st);
  ok(rc == 0 && term == 1 && r == 100.0 - 0.5 * 0.5 * 0.1,
     "MountainCarContinuous-v0: reaching 0.45 terminates with 100 - 0.1 a^2 (%.3f)", r);
  static const double past_goal[2] = {0.5, -0.01};
  rc = step_from(env, ctx, past_goal, 0.0, obs, &r, &term, st);
  ok(rc == 0 && term == 0 && r == 0, "MountainCarContinuous-v0: at the goal moving left: not done");
  static const double at_goal[2] = {0.46, 0.01};
  int t2;
  double r2;
  rc = step_from(env, ctx, at_goal, 0.0, obs, &r, &term, st) ||
       lpdm_env_step(env, ctx, &(double){0.0}, obs, &r2, &t2, &(int){0});
  ok(rc == 0 && term == 1 && t2 == 1 && r2 == 100.0,
     "MountainCarContinuous-v0: stepping past termination keeps going (and stays done)");
  lpdm_env_free(env);

  /* goal_velocity */
  env = fx_env(ctx, k, "goal_velocity=0.05");
  rc = env ? step_from(env, ctx, near_goal, 0.5, obs, &r, &term, st) : -1;
  ok(rc == 0 && term == 0, "MountainCarContinuous-v0: goal_velocity=0.05: too slow to count");
  lpdm_env_free(env);

  /* reset: the position is the float64 draw, velocity 0 */
  env = fx_env(ctx, k, NULL);
  lpdm_nprng g;
  lpdm_nprng_seed(&g, 12);
  double want = lpdm_nprng_uniform(&g, -0.6, -0.4);
  rc = env ? lpdm_env_reset(env, ctx, 1, 12, obs) : -1;
  if (env) env->kind->get_state(env, st);
  ok(rc == 0 && st[0] == want && st[1] == 0 && obs[0] == (float)want,
     "MountainCarContinuous-v0: reset position is Generator.uniform(-0.6, -0.4) in float64");
  lpdm_env_free(env);
}

int main(void) {
  lpdm_ctx *ctx = lpdm_ctx_new();
  plan(2 * 15 + 7 + 9);
  const spec *specs[2] = {&pendulum_spec, &mcc_spec};
  for (int i = 0; i < 2; i++) {
    const spec *s = specs[i];
    const lpdm_env_kind *k = load(ctx, s);
    if (!ok(k && k->get_state && k->set_state, "%s: %s loads, with get_state/set_state", s->id,
            s->file))
      continue;
    lpdm_env *env = fx_env(ctx, k, NULL);
    if (env)
      check_spaces(env, s);
    else
      for (int j = 0; j < 3; j++) ok(0, "%s: spaces", s->id);
    lpdm_env_free(env);
    check_time_limit(ctx, k, s);
    check_reset_distribution(ctx, k, s);
    check_bad_actions(ctx, k, s);
    check_misc(ctx, k, s);
    if (i == 0)
      check_pendulum(ctx, k);
    else
      check_mcc(ctx, k);
  }
  lpdm_ctx_free(ctx);
  return done_testing();
}
