/* SPDX-License-Identifier: MIT */
/* test_cartpole.c -- CartPole-v1 against Gymnasium 1.4.0 reference traces
   (tests/data/CartPole-v1.csv), and lpdm_nprng against NumPy.

   Parity goes step by step, as tests/data's README says: reset(seed) at
   each t=0 row (obs bit-exact, state exact: this checks lpdm_nprng, since
   Gymnasium's start state is Generator(PCG64(SeedSequence(seed)))
   .uniform(-0.05, 0.05, size=4)); before each later row, set the state to
   the previous row's and step with the row's action. A free replay of the
   first 20 steps of each episode is checked with a loose tolerance (glibc's
   and NumPy's sin/cos differ in the last bit, and the dynamics amplify it).
   Then the time limit, the reset stream, determinism and the edge cases. */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "lpdm/lpdm.h"
#include "parity.h" /* the trace reader and the ulp/relative-error helpers; includes tap.h */

/* ------------------------------------------------------------ the trace */

typedef struct row {
  int episode, t;
  uint64_t seed;
  double action;
  float obs[4];
  double reward;
  int terminated, truncated;
  double state[4];
} row;

/* The trace through parity.h's reader, as rows of this env's fixed shape. */
static row *load_trace(const char *path, int *nrows) {
  parity_trace tr;
  char err[256];
  *nrows = 0;
  if (parity_trace_load(path, &tr, err, sizeof err)) {
    diag("%s", err);
    return NULL;
  }
  row *rows = NULL;
  if (tr.na == 1 && tr.nobs == 4 && tr.nstate == 4 && (rows = calloc((size_t)tr.nrows, sizeof *rows))) {
    for (int i = 0; i < tr.nrows; i++) {
      row *r = &rows[i];
      r->episode = tr.episode[i];
      r->t = tr.t[i];
      r->seed = tr.seed[i];
      r->action = tr.t[i] ? tr.a[i] : -1;
      memcpy(r->obs, tr.obs + (size_t)i * 4, sizeof r->obs);
      r->reward = tr.reward[i];
      r->terminated = tr.term[i];
      r->truncated = tr.trunc[i];
      memcpy(r->state, tr.state + (size_t)i * 4, sizeof r->state);
    }
    *nrows = tr.nrows;
  }
  parity_trace_free(&tr);
  return rows;
}

/* ------------------------------------------------------------ helpers */

static int same_bits(const float *a, const float *b, int n) {
  return memcmp(a, b, (size_t)n * sizeof *a) == 0;
}

/* ------------------------------------------------------------ checks */

static void check_nprng(const row *rows, int n) {
  int seeds = 0, bad = 0;
  for (int i = 0; i < n; i++) {
    if (rows[i].t != 0) continue;
    lpdm_nprng r;
    lpdm_nprng_seed(&r, rows[i].seed);
    seeds++;
    for (int j = 0; j < 4; j++) {
      double v = lpdm_nprng_uniform(&r, -0.05, 0.05);
      if (v != rows[i].state[j]) {
        if (bad++ < 3)
          diag("seed %" PRIu64 " draw %d: got %.17g want %.17g", rows[i].seed, j, v,
               rows[i].state[j]);
      }
    }
  }
  ok(seeds == 10 && bad == 0,
     "nprng: Generator(PCG64(SeedSequence(s))).uniform(-0.05, 0.05) x4 exact at all %d seeds",
     seeds);

  /* Structural properties that do not need reference values. */
  lpdm_nprng a, b;
  lpdm_nprng_seed(&a, 42);
  lpdm_nprng_seed(&b, 42);
  int same = 1;
  for (int i = 0; i < 100; i++) same &= lpdm_nprng_u64(&a) == lpdm_nprng_u64(&b);
  ok(same, "nprng: same seed, same stream");

  /* 2^32 + 5 has two entropy words; it must not collide with seed 5. */
  lpdm_nprng_seed(&a, 5);
  lpdm_nprng_seed(&b, ((uint64_t)1 << 32) + 5);
  ok(lpdm_nprng_u64(&a) != lpdm_nprng_u64(&b), "nprng: seed 2^32+5 differs from seed 5");

  lpdm_nprng_seed(&a, 0);
  ok((a.inc_lo & 1) == 1, "nprng: PCG increment is odd");

  lpdm_nprng_seed(&a, 9);
  int in_range = 1;
  double lo = 1, hi = 0;
  for (int i = 0; i < 100000; i++) {
    double u = lpdm_nprng_uniform(&a, 0.0, 1.0);
    in_range &= u >= 0.0 && u < 1.0;
    lo = fmin(lo, u);
    hi = fmax(hi, u);
  }
  ok(in_range && lo < 1e-3 && hi > 1 - 1e-3, "nprng: uniform(0,1) stays in [0,1) and covers it");
  double sum = 0;
  lpdm_nprng_seed(&a, 10);
  for (int i = 0; i < 100000; i++) sum += lpdm_nprng_uniform(&a, -0.05, 0.05);
  is_near(sum / 100000, 0.0, 1e-3, "nprng: uniform(-0.05, 0.05) has mean ~0");
}

static void check_parity(lpdm_ctx *ctx, lpdm_env *env, const row *rows, int n) {
  int nreset = 0, reset_obs_bad = 0, reset_state_bad = 0;
  int nstep = 0, obs_bad = 0, state_bad = 0, reward_bad = 0, flags_bad = 0, errors = 0;
  int nterm = 0, ntrunc = 0, exact_state = 0;
  double max_state_err = 0, max_pure_rel = 0;
  int64_t max_ulp = 0;
  float obs[4];
  double st[4];

  for (int i = 0; i < n; i++) {
    const row *r = &rows[i];
    if (r->t == 0) {
      nreset++;
      if (lpdm_env_reset(env, ctx, 1, r->seed, obs)) {
        if (errors++ < 3) diag("reset(seed=%" PRIu64 "): %s", r->seed, lpdm_ctx_message(ctx));
        continue;
      }
      env->kind->get_state(env, st);
      if (!same_bits(obs, r->obs, 4) && reset_obs_bad++ < 3)
        diag("ep %d reset obs: got %.9g %.9g %.9g %.9g want %.9g %.9g %.9g %.9g", r->episode,
             obs[0], obs[1], obs[2], obs[3], r->obs[0], r->obs[1], r->obs[2], r->obs[3]);
      if (memcmp(st, r->state, sizeof st) != 0 && reset_state_bad++ < 3)
        diag("ep %d reset state: got %.17g ... want %.17g ...", r->episode, st[0], r->state[0]);
      continue;
    }
    if (i == 0 || rows[i - 1].episode != r->episode || rows[i - 1].t != r->t - 1) {
      if (errors++ < 3) diag("row %d: trace out of order", i);
      continue;
    }
    nstep++;
    double reward;
    int term, trunc;
    if (lpdm_env_set_state(env, ctx, rows[i - 1].state) ||
        lpdm_env_step(env, ctx, &r->action, obs, &reward, &term, &trunc)) {
      if (errors++ < 3) diag("ep %d t %d: %s", r->episode, r->t, lpdm_ctx_message(ctx));
      continue;
    }
    env->kind->get_state(env, st);

    int64_t u = 0;
    for (int j = 0; j < 4; j++) u = u > parity_ulps(obs[j], r->obs[j]) ? u : parity_ulps(obs[j], r->obs[j]);
    if (u > max_ulp) max_ulp = u;
    if (u > 1 && obs_bad++ < 3)
      diag("ep %d t %d obs off by %" PRId64 " ulp: got %.9g %.9g %.9g %.9g want %.9g %.9g %.9g %.9g",
           r->episode, r->t, u, obs[0], obs[1], obs[2], obs[3], r->obs[0], r->obs[1], r->obs[2],
           r->obs[3]);

    /* Relative to max(|want|, 1e-3): a value that is a near-cancelling sum
       (theta_dot crossing zero) inherits NumPy-vs-glibc cos's one-ulp
       difference as ~1e-16 absolute, which is 1e-11 "relative" at 1e-5. */
    double e = 0;
    for (int j = 0; j < 4; j++) {
      e = fmax(e, parity_relerr(st[j], r->state[j], 1e-3));
      max_pure_rel = fmax(max_pure_rel, parity_relerr(st[j], r->state[j], 1e-300));
    }
    if (e > max_state_err) max_state_err = e;
    if (memcmp(st, r->state, sizeof st) == 0) exact_state++;
    if (e > 1e-12 && state_bad++ < 3)
      diag("ep %d t %d state rel err %.3g: got %.17g %.17g %.17g %.17g want %.17g %.17g %.17g %.17g",
           r->episode, r->t, e, st[0], st[1], st[2], st[3], r->state[0], r->state[1],
           r->state[2], r->state[3]);

    if (parity_relerr(reward, r->reward, 1e-300) > 1e-12 && reward_bad++ < 3)
      diag("ep %d t %d reward got %.17g want %.17g", r->episode, r->t, reward, r->reward);
    if ((term != r->terminated || trunc != r->truncated) && flags_bad++ < 3)
      diag("ep %d t %d terminated/truncated got %d/%d want %d/%d", r->episode, r->t, term, trunc,
           r->terminated, r->truncated);
    nterm += r->terminated;
    ntrunc += r->truncated;
  }

  ok(errors == 0, "trace: every reset/set_state/step call succeeded");
  ok(nreset == 10 && reset_obs_bad == 0, "reset obs bit-exact at all %d t=0 rows", nreset);
  ok(nreset == 10 && reset_state_bad == 0, "reset state exact at all %d t=0 rows", nreset);
  ok(nstep > 0 && obs_bad == 0, "step obs within 1 float32 ulp at all %d step rows (max %" PRId64 ")",
     nstep, max_ulp);
  ok(nstep > 0 && state_bad == 0,
     "step state within 1e-12 relative at all %d rows (max %.3g; %d rows bit-exact)", nstep,
     max_state_err, exact_state);
  diag("largest plain relative state error %.3g (a one-ulp sin/cos difference near zero)",
       max_pure_rel);
  ok(nstep > 0 && reward_bad == 0, "step reward matches at all %d rows", nstep);
  ok(nstep > 0 && flags_bad == 0,
     "terminated/truncated exact at all %d rows (trace has %d terminations, %d truncations)", nstep,
     nterm, ntrunc);
  ok(nterm > 0 && ntrunc > 0, "the trace exercises both termination and truncation");
}

/* From each reset, the first 20 actions without resetting the state. */
static void check_free_replay(lpdm_ctx *ctx, lpdm_env *env, const row *rows, int n) {
  int episodes = 0, steps = 0, bad = 0, errors = 0;
  double max_err = 0;
  float obs[4];
  double st[4], reward;
  int term, trunc;
  for (int i = 0; i < n; i++) {
    if (rows[i].t != 0) continue;
    if (lpdm_env_reset(env, ctx, 1, rows[i].seed, obs)) {
      errors++;
      continue;
    }
    episodes++;
    for (int k = 1; k <= 20 && i + k < n && rows[i + k].t == k; k++) {
      const row *r = &rows[i + k];
      if (lpdm_env_step(env, ctx, &r->action, obs, &reward, &term, &trunc)) {
        errors++;
        break;
      }
      env->kind->get_state(env, st);
      steps++;
      double e = 0;
      for (int j = 0; j < 4; j++) e = fmax(e, parity_relerr(st[j], r->state[j], 1e-3));
      max_err = fmax(max_err, e);
      if ((e > 1e-6 || term != r->terminated) && bad++ < 3)
        diag("free replay ep %d t %d: state rel err %.3g, terminated %d want %d", r->episode,
             r->t, e, term, r->terminated);
    }
  }
  ok(errors == 0 && episodes == 10 && bad == 0,
     "free replay: first 20 steps of %d episodes (%d steps) within 1e-6 (max rel err %.3g)",
     episodes, steps, max_err);
}

static void check_time_limit(lpdm_ctx *ctx, const lpdm_env_kind *k) {
  lpdm_env *env = fx_env(ctx, k, NULL);
  if (!ok(env != NULL, "env with default config")) {
    diag("%s", lpdm_ctx_message(ctx));
    return;
  }
  ok(env->max_episode_steps == 500, "default max_episode_steps is 500");

  static const double upright[4] = {0, 0, 0, 0};
  float obs[4];
  double reward, a;
  int term, trunc, early = 0, first = 0, anyterm = 0, rc = 0;
  rc |= lpdm_env_reset(env, ctx, 1, 11, obs);
  for (int t = 1; t <= 500; t++) {
    a = t & 1;
    rc |= lpdm_env_set_state(env, ctx, upright);
    rc |= lpdm_env_step(env, ctx, &a, obs, &reward, &term, &trunc);
    anyterm |= term;
    if (trunc && !first) first = t;
    if (trunc && t < 500) early = 1;
  }
  ok(rc == 0 && !anyterm && !early && first == 500,
     "truncated first at step 500 exactly (not 499), set_state keeps the step count");
  a = 1;
  rc = lpdm_env_step(env, ctx, &a, obs, &reward, &term, &trunc);
  ok(rc == 0 && trunc == 1, "stepping past the limit stays truncated");
  rc = lpdm_env_reset(env, ctx, 0, 0, obs) || lpdm_env_step(env, ctx, &a, obs, &reward, &term, &trunc);
  ok(rc == 0 && trunc == 0, "reset restarts the step count");
  lpdm_env_free(env);

  env = fx_env(ctx, k, "max_episode_steps=7");
  if (env) {
    int at = 0;
    rc = lpdm_env_reset(env, ctx, 1, 3, obs);
    for (int t = 1; t <= 7 && !rc; t++) {
      a = 0;
      rc |= lpdm_env_set_state(env, ctx, upright);
      rc |= lpdm_env_step(env, ctx, &a, obs, &reward, &term, &trunc);
      if (trunc && !at) at = t;
    }
    ok(rc == 0 && at == 7 && env->max_episode_steps == 7, "max_episode_steps=7 truncates at 7");
  } else {
    ok(0, "max_episode_steps=7 truncates at 7");
    diag("%s", lpdm_ctx_message(ctx));
  }
  lpdm_env_free(env);

  env = fx_env(ctx, k, "max_episode_steps=0");
  if (env) {
    int any = 0;
    rc = lpdm_env_reset(env, ctx, 1, 3, obs);
    for (int t = 1; t <= 1000 && !rc; t++) {
      a = t & 1;
      rc |= lpdm_env_set_state(env, ctx, upright);
      rc |= lpdm_env_step(env, ctx, &a, obs, &reward, &term, &trunc);
      any |= trunc;
    }
    ok(rc == 0 && !any, "max_episode_steps=0 never truncates");
  } else {
    ok(0, "max_episode_steps=0 never truncates");
  }
  lpdm_env_free(env);

  lpdm_config cfg;
  lpdm_env *bad = NULL;
  lpdm_config_init(ctx, &k->head, &cfg);
  lpdm_config_set_num(ctx, &cfg, "CartPole-v1", "max_episode_steps", -1);
  ok(lpdm_env_new(ctx, k, &cfg, &bad) != LPDM_OK && bad == NULL,
     "max_episode_steps=-1 is refused: %s", lpdm_ctx_message(ctx));
  lpdm_env_free(bad);
}

static void check_streams(lpdm_ctx *ctx, const lpdm_env_kind *k) {
  lpdm_env *e1 = fx_env(ctx, k, NULL), *e2 = fx_env(ctx, k, NULL);
  if (!e1 || !e2) {
    ok(0, "two envs");
    lpdm_env_free(e1);
    lpdm_env_free(e2);
    return;
  }
  float o1[4], o2[4], seeded[4];
  double s1[4], want[8];
  int rc = 0;

  /* seeded reset, then unseeded reset: the stream continues. */
  lpdm_nprng r;
  lpdm_nprng_seed(&r, 77);
  for (int i = 0; i < 8; i++) want[i] = lpdm_nprng_uniform(&r, -0.05, 0.05);
  rc |= lpdm_env_reset(e1, ctx, 1, 77, seeded);
  e1->kind->get_state(e1, s1);
  int first_ok = memcmp(s1, want, sizeof s1) == 0;
  rc |= lpdm_env_reset(e1, ctx, 0, 0, o1);
  e1->kind->get_state(e1, s1);
  ok(rc == 0 && first_ok && memcmp(s1, want + 4, sizeof s1) == 0,
     "reset without seed continues the stream (draws 5..8 of the seeded generator)");
  ok(!same_bits(o1, seeded, 4), "the unseeded reset differs from the seeded one");

  /* the same seed on two envs: the same start and the same trajectory. */
  rc = lpdm_env_reset(e1, ctx, 1, 123, o1) | lpdm_env_reset(e2, ctx, 1, 123, o2);
  int same = rc == 0 && same_bits(o1, o2, 4);
  for (int t = 0; t < 50 && same; t++) {
    double a = (t * 7 / 3) & 1, r1, r2;
    int te1, tr1, te2, tr2;
    rc = lpdm_env_step(e1, ctx, &a, o1, &r1, &te1, &tr1) |
         lpdm_env_step(e2, ctx, &a, o2, &r2, &te2, &tr2);
    same = rc == 0 && same_bits(o1, o2, 4) && r1 == r2 && te1 == te2 && tr1 == tr2;
  }
  ok(same, "two envs with the same seed give identical obs for 50 steps");

  /* reseeding reproduces the first reset of the seed. */
  rc = lpdm_env_reset(e1, ctx, 1, 77, o1);
  ok(rc == 0 && same_bits(o1, seeded, 4), "reset(seed) again gives the same start");

  /* never seeded: the first reset seeds with 0. */
  lpdm_env *e3 = fx_env(ctx, k, NULL);
  lpdm_nprng_seed(&r, 0);
  for (int i = 0; i < 4; i++) want[i] = lpdm_nprng_uniform(&r, -0.05, 0.05);
  rc = e3 ? lpdm_env_reset(e3, ctx, 0, 0, o1) : -1;
  if (e3) e3->kind->get_state(e3, s1);
  ok(rc == 0 && memcmp(s1, want, 4 * sizeof(double)) == 0,
     "an env never seeded seeds with 0 on its first reset");
  lpdm_env_free(e3);
  lpdm_env_free(e1);
  lpdm_env_free(e2);
}

static void check_edges(lpdm_ctx *ctx, const lpdm_env_kind *k) {
  lpdm_env *env = fx_env(ctx, k, NULL);
  if (!env) {
    ok(0, "edge-case env");
    return;
  }
  float obs[4];
  double reward, a = 1, st[4];
  int term, trunc;

  ok(lpdm_env_step(env, ctx, &a, obs, &reward, &term, &trunc) != LPDM_OK,
     "step before reset is an error: %s", lpdm_ctx_message(ctx));

  ok(env->obs_space.type == LPDM_SPACE_BOX && env->obs_space.dim == 4 &&
         env->obs_space.high[0] == (double)4.8f && env->obs_space.low[0] == -(double)4.8f &&
         env->obs_space.high[2] == (double)(float)(12 * 2 * 3.14159265358979323846 / 360 * 2) &&
         isinf(env->obs_space.high[1]) && isinf(env->obs_space.low[3]) && env->state_dim == 4,
     "observation space Box(4): +-4.8, +-inf, +-0.41887903, +-inf");
  ok(env->act_space.type == LPDM_SPACE_DISCRETE && env->act_space.n == 2,
     "action space Discrete(2)");

  lpdm_env_reset(env, ctx, 1, 5, obs);
  a = 2;
  ok(lpdm_env_step(env, ctx, &a, obs, &reward, &term, &trunc) != LPDM_OK,
     "action 2 is refused by the host");

  /* push right until the pole falls, then keep stepping. */
  a = 1;
  int t = 0, rc = 0;
  term = 0;
  while (!term && t < 500 && !rc) {
    rc = lpdm_env_step(env, ctx, &a, obs, &reward, &term, &trunc);
    t++;
  }
  ok(rc == 0 && term && reward == 1.0, "always-right terminates after %d steps with reward 1", t);
  double r2 = -1;
  int term2 = 0;
  rc = lpdm_env_step(env, ctx, &a, obs, &r2, &term2, &trunc);
  ok(rc == 0 && term2 == 1 && r2 == 0.0,
     "a step after termination keeps going: terminated 1, reward 0 (as Gymnasium)");
  ok(env->kind->render != NULL, "render exists");
  char buf[256] = "";
  env->kind->render(env, buf, sizeof buf);
  ok(strstr(buf, "theta=") != NULL, "render: %s", buf);

  static const double nan_state[4] = {0, NAN, 0, 0};
  ok(lpdm_env_set_state(env, ctx, nan_state) != LPDM_OK, "set_state refuses NaN: %s",
     lpdm_ctx_message(ctx));
  static const double some[4] = {0.1, -0.2, 0.03, 0.4};
  lpdm_env_set_state(env, ctx, some);
  env->kind->get_state(env, st);
  ok(memcmp(st, some, sizeof st) == 0, "get_state returns what set_state set");
  lpdm_env_free(env);

  /* Sutton-Barto rewards. */
  lpdm_config cfg;
  lpdm_env *sb = NULL;
  lpdm_config_init(ctx, &k->head, &cfg);
  lpdm_config_set_bool(ctx, &cfg, "CartPole-v1", "sutton_barto_reward", 1);
  if (lpdm_env_new(ctx, k, &cfg, &sb) == LPDM_OK) {
    double r[3];
    lpdm_env_reset(sb, ctx, 1, 5, obs);
    lpdm_env_step(sb, ctx, &a, obs, &r[0], &term, &trunc);
    while (!term) lpdm_env_step(sb, ctx, &a, obs, &r[1], &term, &trunc);
    lpdm_env_step(sb, ctx, &a, obs, &r[2], &term, &trunc);
    ok(r[0] == 0.0 && r[1] == -1.0 && r[2] == -1.0,
       "sutton_barto_reward: 0 per step, -1 on termination and after");
  } else {
    ok(0, "sutton_barto_reward: %s", lpdm_ctx_message(ctx));
  }
  lpdm_env_free(sb);
}

int main(void) {
  lpdm_ctx *ctx = lpdm_ctx_new();
  plan(43);
  const lpdm_env_kind *k = (const lpdm_env_kind *)fx_plugin(ctx, LPDM_KIND_ENV, "cartpole.so", "CartPole-v1");
  if (!ok(k != NULL, "load cartpole.so")) {
    diag("%s", lpdm_ctx_message(ctx));
    lpdm_ctx_free(ctx);
    return done_testing();
  }
  if (!ok(k != NULL && strcmp(k->head.name, "env.CartPole-v1") == 0 && k->get_state &&
              k->set_state,
          "env.CartPole-v1 registered, with get_state/set_state")) {
    lpdm_ctx_free(ctx);
    return done_testing();
  }

  int n = 0;
  row *rows = load_trace(LPDM_TEST_DATA "/CartPole-v1.csv", &n);
  ok(rows != NULL && n > 1000, "read %d rows of CartPole-v1.csv", n);
  if (rows) {
    check_nprng(rows, n);
    lpdm_env *env = fx_env(ctx, k, NULL);
    if (ok(env != NULL, "lpdm_env_new")) {
      check_parity(ctx, env, rows, n);
      check_free_replay(ctx, env, rows, n);
    } else {
      diag("%s", lpdm_ctx_message(ctx));
    }
    lpdm_env_free(env);
  }
  check_time_limit(ctx, k);
  check_streams(ctx, k);
  check_edges(ctx, k);

  free(rows);
  lpdm_ctx_free(ctx);
  return done_testing();
}
