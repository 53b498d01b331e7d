/* SPDX-License-Identifier: MIT */
/* test_envs_misc.c -- Acrobot-v1 and MountainCar-v0 beyond the trace
   parity of test_parity.c: the spaces as Gymnasium declares them, the
   time limit exactly at max_episode_steps, the start-state distribution
   over 2000 seeds (inside Gymnasium's range and covering it), the reset
   stream, and the rules the traces meet only rarely (Acrobot's reward 0 on
   the terminating step, the wrap and the velocity bounds; MountainCar's
   inelastic left wall and its goal velocity). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fixture.h"
#include "lpdm/lpdm.h"
#include "tap.h"

#define PI 3.14159265358979323846
#define NSEEDS 2000

static const lpdm_env_kind *load(lpdm_ctx *ctx, const char *file, const char *id) {
  const lpdm_env_kind *k = (const lpdm_env_kind *)fx_plugin(ctx, LPDM_KIND_ENV, file, id);
  if (!ok(k != NULL && k->get_state && k->set_state, "load %s: env.%s with get_state/set_state",
          file, id))
    diag("%s", lpdm_ctx_message(ctx));
  return k;
}

/* Steps from `state` (set before every step) until truncated; returns the
   first truncated step, 0 if none within limit + 1 steps, -1 on error or
   on any termination. */
static int first_truncation(lpdm_ctx *ctx, lpdm_env *env, const double *state, int limit) {
  float obs[8];
  double reward, a;
  int term, trunc;
  if (lpdm_env_reset(env, ctx, 1, 17, obs)) return -1;
  for (int t = 1; t <= limit + 1; t++) {
    a = t % env->act_space.n;
    if (lpdm_env_set_state(env, ctx, state) ||
        lpdm_env_step(env, ctx, &a, obs, &reward, &term, &trunc) || term)
      return -1;
    if (trunc) return t;
  }
  return 0;
}

static void check_time_limit(lpdm_ctx *ctx, const lpdm_env_kind *k, const double *state,
                             int limit) {
  const char *id = lpdm_plugin_short(&k->head);
  lpdm_env *env = fx_env(ctx, k, NULL);
  if (!env) {
    ok(0, "%s: env with defaults: %s", id, lpdm_ctx_message(ctx));
    ok(0, "%s: max_episode_steps=7", id);
    ok(0, "%s: max_episode_steps=0", id);
    return;
  }
  int at = first_truncation(ctx, env, state, limit);
  float obs[8];
  double reward, a = 1;
  int term, trunc = 0;
  int again = lpdm_env_step(env, ctx, &a, obs, &reward, &term, &trunc) == 0 && trunc;
  int restart = lpdm_env_reset(env, ctx, 0, 0, obs) == 0 &&
                lpdm_env_step(env, ctx, &a, obs, &reward, &term, &trunc) == 0 && !trunc;
  ok(env->max_episode_steps == limit && at == limit && again && restart,
     "%s: truncated first at step %d exactly (got %d), still after it, and not after a reset", id,
     limit, at);
  lpdm_env_free(env);

  env = fx_env(ctx, k, "max_episode_steps=7");
  at = env ? first_truncation(ctx, env, state, 7) : -1;
  ok(at == 7, "%s: max_episode_steps=7 truncates at step 7 (got %d)", id, at);
  lpdm_env_free(env);

  env = fx_env(ctx, k, "max_episode_steps=0");
  at = env ? first_truncation(ctx, env, state, 2 * limit) : -1;
  ok(at == 0, "%s: max_episode_steps=0 never truncates (%d steps)", id, 2 * limit + 1);
  lpdm_env_free(env);
}

/* Resets over NSEEDS seeds: every state value within [lo[j], hi[j]], the
   extremes within 2% of the range's ends (a component with lo == hi must
   equal it), and the whole state as the generator draws it. */
static void check_reset_distribution(lpdm_ctx *ctx, const lpdm_env_kind *k, const double *lo,
                                     const double *hi, const char *range) {
  const char *id = lpdm_plugin_short(&k->head);
  lpdm_env *env = fx_env(ctx, k, NULL);
  if (!env) {
    ok(0, "%s: reset distribution: %s", id, lpdm_ctx_message(ctx));
    ok(0, "%s: reset covers the range", id);
    return;
  }
  int n = env->state_dim, outside = 0, errors = 0;
  double mn[8], mx[8], st[8];
  float obs[8];
  for (int j = 0; j < n; j++) {
    mn[j] = INFINITY;
    mx[j] = -INFINITY;
  }
  for (uint64_t seed = 0; seed < NSEEDS; seed++) {
    if (lpdm_env_reset(env, ctx, 1, seed, obs) || env->kind->get_state(env, st)) {
      errors++;
      continue;
    }
    for (int j = 0; j < n; j++) {
      if (!(st[j] >= lo[j] && st[j] <= hi[j]) && outside++ < 3)
        diag("%s seed %d: state[%d] = %.17g outside [%.17g, %.17g]", id, (int)seed, j, st[j],
             lo[j], hi[j]);
      mn[j] = fmin(mn[j], st[j]);
      mx[j] = fmax(mx[j], st[j]);
    }
  }
  ok(errors == 0 && outside == 0, "%s: %d seeded resets, every state within %s", id, NSEEDS, range);
  int covers = errors == 0;
  for (int j = 0; j < n; j++) {
    double w = hi[j] - lo[j];
    int c = w == 0 ? mn[j] == lo[j] && mx[j] == hi[j]
                   : mn[j] <= lo[j] + 0.02 * w && mx[j] >= hi[j] - 0.02 * w;
    if (!c) diag("%s: state[%d] spans [%.6g, %.6g] of [%.6g, %.6g]", id, j, mn[j], mx[j], lo[j], hi[j]);
    covers &= c;
  }
  ok(covers, "%s: over %d seeds each state value comes within 2%% of both ends of its range", id,
     NSEEDS);
  lpdm_env_free(env);
}

/* ------------------------------------------------------------ Acrobot */

static void check_acrobot(lpdm_ctx *ctx, const lpdm_env_kind *k) {
  lpdm_env *env = fx_env(ctx, k, NULL);
  if (!ok(env != NULL, "Acrobot-v1: lpdm_env_new with defaults")) {
    diag("%s", lpdm_ctx_message(ctx));
    return;
  }
  const lpdm_space *os = &env->obs_space, *as = &env->act_space;
  const double vh[2] = {(double)(float)(4 * PI), (double)(float)(9 * PI)};
  int box = os->type == LPDM_SPACE_BOX && os->dim == 6;
  for (int i = 0; box && i < 4; i++) box &= os->low[i] == -1.0 && os->high[i] == 1.0;
  box = box && os->low[4] == -vh[0] && os->high[4] == vh[0] && os->low[5] == -vh[1] &&
        os->high[5] == vh[1];
  ok(box, "Acrobot-v1: observation space Box(6) float32 bounds +-1 x4, +-4pi, +-9pi "
          "(+-%.9g, +-%.9g)", vh[0], vh[1]);
  ok(as->type == LPDM_SPACE_DISCRETE && as->n == 3 && env->state_dim == 4 &&
         env->max_episode_steps == 500,
     "Acrobot-v1: action space Discrete(3), state_dim 4, max_episode_steps 500");

  /* The start state: float32 roundings of four uniform draws. */
  lpdm_nprng r;
  float obs[6];
  double st[4], want[8], reward, a;
  int term, trunc, rc;
  lpdm_nprng_seed(&r, 4242);
  for (int i = 0; i < 8; i++) want[i] = (float)lpdm_nprng_uniform(&r, -0.1, 0.1);
  rc = lpdm_env_reset(env, ctx, 1, 4242, obs) || env->kind->get_state(env, st);
  int first = rc == 0 && memcmp(st, want, sizeof st) == 0;
  rc = lpdm_env_reset(env, ctx, 0, 0, obs) || env->kind->get_state(env, st);
  ok(first && rc == 0 && memcmp(st, want + 4, sizeof st) == 0,
     "Acrobot-v1: reset state is float32(uniform(-0.1, 0.1, 4)); an unseeded reset continues "
     "the stream");
  ok(obs[0] == (float)cos(st[0]) && obs[1] == (float)sin(st[0]) && obs[2] == (float)cos(st[1]) &&
         obs[3] == (float)sin(st[1]) && obs[4] == (float)st[2] && obs[5] == (float)st[3],
     "Acrobot-v1: obs = cos t1, sin t1, cos t2, sin t2, dt1, dt2");

  /* Upside down: the tip is 2 above the pivot; the step that ends there
     has reward 0, an ordinary step -1. */
  static const double up[4] = {PI, 0, 0, 0}, down[4] = {0, 0, 0, 0};
  a = 1;
  rc = lpdm_env_set_state(env, ctx, up) || lpdm_env_step(env, ctx, &a, obs, &reward, &term, &trunc);
  int goal = rc == 0 && term == 1 && reward == 0.0;
  rc = lpdm_env_set_state(env, ctx, down) ||
       lpdm_env_step(env, ctx, &a, obs, &reward, &term, &trunc);
  ok(goal && rc == 0 && term == 0 && reward == -1.0,
     "Acrobot-v1: reward 0 on a terminating step, -1 otherwise");

  /* Wrap and bound: from fast spins the angles stay in [-pi, pi] and the
     velocities within +-4pi, +-9pi. */
  static const double spin[4] = {3.0, -3.0, 40.0, -90.0};
  rc = lpdm_env_set_state(env, ctx, spin);
  int inside = 1, steps = 0;
  for (int t = 0; t < 2000 && rc == 0; t++) {
    a = (t * 7 / 5) % 3;
    rc = lpdm_env_step(env, ctx, &a, obs, &reward, &term, &trunc) || env->kind->get_state(env, st);
    steps++;
    inside &= fabs(st[0]) <= PI && fabs(st[1]) <= PI && fabs(st[2]) <= 4 * PI &&
              fabs(st[3]) <= 9 * PI;
  }
  /* One step from 40 and -90 rad/s: both velocities end on their bounds. */
  rc = rc || lpdm_env_set_state(env, ctx, spin);
  a = 2;
  rc = rc || lpdm_env_step(env, ctx, &a, obs, &reward, &term, &trunc) ||
       env->kind->get_state(env, st);
  int bounded = rc == 0 && fabs(st[2]) == 4 * PI && fabs(st[3]) == 9 * PI;
  /* Across the top: t1 3.1 -> about 3.94, wrapped to about -2.36; t2 the
     other way round. */
  static const double over[4] = {3.1, -3.1, 4.0, -4.0};
  a = 1;
  rc = rc || lpdm_env_set_state(env, ctx, over) ||
       lpdm_env_step(env, ctx, &a, obs, &reward, &term, &trunc) || env->kind->get_state(env, st);
  int wrapped = rc == 0 && st[0] < -2 && st[0] >= -PI && st[1] > 2 && st[1] <= PI;
  ok(rc == 0 && inside && steps == 2000 && bounded && wrapped,
     "Acrobot-v1: angles wrapped into [-pi, pi] (3.1 + 0.84 -> %.4f), velocities bounded to "
     "exactly +-4pi, +-9pi",
     st[0]);

  char buf[256] = "";
  ok(env->kind->render && env->kind->render(env, buf, sizeof buf) == 0 && strstr(buf, "theta1="),
     "Acrobot-v1: render: %s", buf);
  lpdm_env_free(env);

  lpdm_env *bad = fx_env(ctx, k, "book_or_nips=paper");
  ok(bad == NULL, "Acrobot-v1: book_or_nips=\"paper\" is refused: %s", lpdm_ctx_message(ctx));
  lpdm_env_free(bad);
  lpdm_env *nips = fx_env(ctx, k, "book_or_nips=nips");
  lpdm_env *book = fx_env(ctx, k, NULL);
  double sn[4], sb[4];
  static const double swing[4] = {0.5, 1.0, 2.0, -3.0};
  a = 2;
  rc = !nips || !book || lpdm_env_set_state(nips, ctx, swing) ||
       lpdm_env_set_state(book, ctx, swing) ||
       lpdm_env_step(nips, ctx, &a, obs, &reward, &term, &trunc) ||
       lpdm_env_step(book, ctx, &a, obs, &reward, &term, &trunc) ||
       nips->kind->get_state(nips, sn) || book->kind->get_state(book, sb);
  ok(rc == 0 && memcmp(sn, sb, sizeof sn) != 0,
     "Acrobot-v1: book_or_nips=\"nips\" gives other dynamics than \"book\"");
  lpdm_env_free(nips);
  lpdm_env_free(book);

  check_time_limit(ctx, k, down, 500);
  const double f = (double)0.1f;
  const double lo[4] = {-f, -f, -f, -f}, hi[4] = {f, f, f, f};
  check_reset_distribution(ctx, k, lo, hi, "[-0.1f, 0.1f] (float32 roundings of U(-0.1, 0.1))");
}

/* ------------------------------------------------------------ MountainCar */

static void check_mountaincar(lpdm_ctx *ctx, const lpdm_env_kind *k) {
  lpdm_env *env = fx_env(ctx, k, NULL);
  if (!ok(env != NULL, "MountainCar-v0: lpdm_env_new with defaults")) {
    diag("%s", lpdm_ctx_message(ctx));
    return;
  }
  const lpdm_space *os = &env->obs_space, *as = &env->act_space;
  ok(os->type == LPDM_SPACE_BOX && os->dim == 2 && os->low[0] == (double)-1.2f &&
         os->high[0] == (double)0.6f && os->low[1] == (double)-0.07f &&
         os->high[1] == (double)0.07f,
     "MountainCar-v0: observation space Box(2) float32 [-1.2, 0.6] x [-0.07, 0.07]");
  ok(as->type == LPDM_SPACE_DISCRETE && as->n == 3 && env->state_dim == 2 &&
         env->max_episode_steps == 200,
     "MountainCar-v0: action space Discrete(3), state_dim 2, max_episode_steps 200");

  /* The start state: one uniform draw for the position, velocity 0. */
  lpdm_nprng r;
  float obs[2];
  double st[2], want[2], reward, a;
  int term, trunc, rc;
  lpdm_nprng_seed(&r, 4242);
  for (int i = 0; i < 2; i++) want[i] = lpdm_nprng_uniform(&r, -0.6, -0.4);
  rc = lpdm_env_reset(env, ctx, 1, 4242, obs) || env->kind->get_state(env, st);
  int first = rc == 0 && st[0] == want[0] && st[1] == 0.0;
  rc = lpdm_env_reset(env, ctx, 0, 0, obs) || env->kind->get_state(env, st);
  ok(first && rc == 0 && st[0] == want[1] && st[1] == 0.0 && obs[0] == (float)st[0] && obs[1] == 0.0f,
     "MountainCar-v0: reset is (uniform(-0.6, -0.4), 0), one draw per reset, obs its float32");

  /* The left wall stops the car; the flag needs velocity >= goal_velocity. */
  static const double wall[2] = {-1.19, -0.05}, flag[2] = {0.49, 0.02}, back[2] = {0.55, -0.01};
  a = 0;
  rc = lpdm_env_set_state(env, ctx, wall) || lpdm_env_step(env, ctx, &a, obs, &reward, &term, &trunc) ||
       env->kind->get_state(env, st);
  ok(rc == 0 && st[0] == -1.2 && st[1] == 0.0 && !term && reward == -1.0,
     "MountainCar-v0: at the left wall position -1.2, velocity 0, reward -1");
  a = 2;
  rc = lpdm_env_set_state(env, ctx, flag) || lpdm_env_step(env, ctx, &a, obs, &reward, &term, &trunc) ||
       env->kind->get_state(env, st);
  int reached = rc == 0 && term && st[0] >= 0.5 && reward == -1.0;
  a = 1;
  rc = lpdm_env_set_state(env, ctx, back) || lpdm_env_step(env, ctx, &a, obs, &reward, &term, &trunc) ||
       env->kind->get_state(env, st);
  ok(reached && rc == 0 && !term && st[0] >= 0.5 && st[1] < 0,
     "MountainCar-v0: terminated at x >= 0.5 moving right (reward -1), not when rolling back");
  lpdm_env_free(env);

  env = fx_env(ctx, k, "goal_velocity=0.05");
  a = 2;
  rc = !env || lpdm_env_set_state(env, ctx, flag) ||
       lpdm_env_step(env, ctx, &a, obs, &reward, &term, &trunc);
  ok(rc == 0 && !term, "MountainCar-v0: goal_velocity=0.05 needs a faster arrival");
  lpdm_env_free(env);

  static const double valley[2] = {-0.5, 0.0};
  check_time_limit(ctx, k, valley, 200);
  const double lo[2] = {-0.6, 0.0}, hi[2] = {-0.4, 0.0};
  check_reset_distribution(ctx, k, lo, hi, "[-0.6, -0.4] x {0}");
}

int main(void) {
  lpdm_ctx *ctx = lpdm_ctx_new();
  plan(29);
  const lpdm_env_kind *ac = load(ctx, "acrobot.so", "Acrobot-v1");
  const lpdm_env_kind *mc = load(ctx, "mountaincar.so", "MountainCar-v0");
  if (ac) check_acrobot(ctx, ac);
  if (mc) check_mountaincar(ctx, mc);
  lpdm_ctx_free(ctx);
  return done_testing();
}
