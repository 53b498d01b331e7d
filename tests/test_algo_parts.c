/* SPDX-License-Identifier: MIT */
/* test_algo_parts.c -- the parts algorithms are built from, each on its own:
   the per-iteration figures (lpdm_figures: copied names, no limit of number
   or length, replace on a second set, an error for a bad name), the core's
   "which features a head sees" (lpdm_net_features in bp, local and frozen
   mode, a rule's min_batch), a trunk rule written from the outside through
   lib/rule.h's vtable (what layer-wise heads or DFA will do), the LPDM rule
   against lpdm_net_local_update, the fork-join (the job runs on the other
   thread, its error reaches the caller), the env copies (seeds, episode
   reports, normalised observations in range), the categorical head's one
   log-softmax (probabilities sum to 1, the gradient against finite
   differences) and the checkpoint helpers' range checks. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../plugins/algos/lib/ckpt.h"
#include "../plugins/algos/lib/forkjoin.h"
#include "../plugins/algos/lib/heads.h"
#include "../plugins/algos/lib/rule.h"
#include "../plugins/algos/lib/vecenv.h"
#include "lpdm/lpdm.h"
#include "tap.h"

static lpdm_ctx *ctx;

static void test_figures(void) {
  lpdm_figures *f = lpdm_figures_new();
  int rc = 0;
  for (int i = 1; i <= 40 && !rc; i++) rc = lpdm_figures_setf(f, i, "actor_local_loss_%d", i);
  for (int i = 1; i <= 40 && !rc; i++) rc = lpdm_figures_setf(f, -i, "critic_local_loss_%d", i);
  double v = 0;
  ok(!rc && lpdm_figures_count(f) == 80 && lpdm_figures_get(f, "critic_local_loss_40", &v) && v == -40,
     "80 figures with formatted names are all kept (count %d)", lpdm_figures_count(f));
  ok(!strcmp(lpdm_figures_name(f, 0), "actor_local_loss_1") && lpdm_figures_value(f, 79) == -40,
     "figures keep the order they were first set in");
  char name[200];
  memset(name, 'x', sizeof name - 1);
  name[sizeof name - 1] = 0;
  ok(!lpdm_figures_set(f, name, 7) && lpdm_figures_get(f, name, &v) && v == 7, "a 199-character name is kept whole");
  lpdm_figures_set(f, "actor_local_loss_3", 0.5);
  ok(lpdm_figures_count(f) == 81 && lpdm_figures_get(f, "actor_local_loss_3", &v) && v == 0.5,
     "setting a name again replaces its value");
  ok(lpdm_figures_set(f, "", 1) == LPDM_ERR_ARG && lpdm_figures_set(f, NULL, 1) == LPDM_ERR_ARG,
     "an empty or NULL name is an error, not a silent drop");
  lpdm_figures_clear(f);
  ok(lpdm_figures_count(f) == 0 && !lpdm_figures_get(f, "actor_local_loss_1", &v) && !lpdm_figures_name(f, 0) &&
         isnan(lpdm_figures_value(f, 0)),
     "clear empties it; out of range is NULL / NaN");
  lpdm_figures_free(f);
  lpdm_figures_free(NULL);
}

/* A rule written outside lib/: counts its calls, keeps the targets it saw,
   and hands on the trunk's plain output. */
typedef struct count_rule {
  trunk_rule base;
  int calls;
  const algo_targets *seen;
  float *out;
} count_rule;
static int count_update(trunk_rule *r, lpdm_net *trunk, lpdm_ctx *c, const float *X, int B, const algo_targets *t,
                        const float **Y, double *stats) {
  count_rule *k = (count_rule *)r;
  k->calls++;
  k->seen = t;
  if (stats) stats[0] = 42;
  *Y = k->out;
  return lpdm_net_forward(trunk, c, X, B, k->out);
}
static void count_free(trunk_rule *r) { (void)r; }
static const trunk_rule_vt count_vt = {.name = "count", .update = count_update, .free = count_free};

static void test_features(void) {
  const lpdm_layer_kind *dk = (const lpdm_layer_kind *)lpdm_plugin_get(ctx, LPDM_KIND_LAYER, "dense");
  const lpdm_distance_kind *eu = (const lpdm_distance_kind *)lpdm_plugin_get(ctx, LPDM_KIND_DISTANCE, "euclidean");
  const lpdm_loss_kind *lk = (const lpdm_loss_kind *)lpdm_plugin_get(ctx, LPDM_KIND_LOSS, "guided");
  lpdm_net *a = NULL, *b = NULL, *empty = NULL;
  lpdm_distance *dist = NULL;
  lpdm_loss *loss = NULL;
  lpdm_config lc;
  lpdm_rng r1, r2;
  lpdm_rng_seed(&r1, 5);
  lpdm_rng_seed(&r2, 5);
  int rc = !dk || !eu || !lk || lpdm_config_init(ctx, &dk->head, &lc) ||
           lpdm_config_set_num(ctx, &lc, "dense", "out", 6) || lpdm_net_new(ctx, 3, &a) ||
           lpdm_net_add(a, ctx, dk, &lc, &r1, NULL) || lpdm_net_new(ctx, 3, &b) ||
           lpdm_net_add(b, ctx, dk, &lc, &r2, NULL) || lpdm_net_new(ctx, 3, &empty) ||
           lpdm_distance_new(ctx, eu, NULL, &dist) || lpdm_loss_new(ctx, lk, NULL, &loss);
  if (!ok(!rc, "a two-net fixture (dense 3 -> 6)")) {
    diag("%s", lpdm_ctx_message(ctx));
    return;
  }
  float X[8 * 3], scratch[8 * 6], want[8 * 6], g[8];
  for (int i = 0; i < 24; i++) X[i] = (float)sin(0.7 * i);
  for (int i = 0; i < 8; i++) g[i] = (float)i;
  const float *Y = NULL;
  lpdm_net_forward(a, ctx, X, 8, want);
  rc = lpdm_net_features(a, ctx, LPDM_FEAT_FROZEN, NULL, X, 8, scratch, &Y);
  ok(!rc && Y == scratch && !memcmp(scratch, want, sizeof want), "frozen: the plain output, in scratch");
  rc = lpdm_net_features(a, ctx, LPDM_FEAT_BP, NULL, X, 8, scratch, &Y);
  ok(!rc && Y != scratch && !memcmp(Y, want, sizeof want), "bp: the same output, kept by the net for backward");
  rc = lpdm_net_features(empty, ctx, LPDM_FEAT_LOCAL, NULL, X, 8, scratch, &Y);
  ok(!rc && Y == X, "local on a net without layers: X itself");
  ok(lpdm_net_features(a, ctx, 7, NULL, X, 8, scratch, &Y) == LPDM_ERR_ARG, "an unknown mode is refused");

  float out[8 * 6];
  count_rule cr = {.base = {&count_vt, 3}, .out = out};
  algo_targets t = {.B = 8, .g = g, .ret = g};
  double st[1] = {0};
  rc = trunk_features(a, ctx, LPDM_FEAT_LOCAL, &cr.base, X, 8, &t, scratch, &Y, st);
  ok(!rc && cr.calls == 1 && cr.seen == &t && Y == out && st[0] == 42,
     "a rule from outside lib/ runs in local mode and sees the targets");
  rc = trunk_features(a, ctx, LPDM_FEAT_LOCAL, &cr.base, X, 2, &t, scratch, &Y, st);
  ok(!rc && cr.calls == 1 && Y == scratch, "below the rule's min_batch: the plain output, no update");
  rc = trunk_features(a, ctx, LPDM_FEAT_FROZEN, &cr.base, X, 8, &t, scratch, &Y, st);
  ok(!rc && cr.calls == 1, "frozen mode never calls the rule");

  /* the LPDM rule is lpdm_net_local_update, bit for bit */
  trunk_rule *lr = NULL;
  rc = trunk_rule_lpdm_new(ctx, dist, loss, &lr);
  double la[1], lb[1];
  const float *Ya = NULL, *Yb = NULL;
  if (!rc) rc = trunk_features(a, ctx, LPDM_FEAT_LOCAL, lr, X, 8, &t, scratch, &Ya, la);
  if (!rc) rc = lpdm_net_local_update(b, ctx, dist, loss, X, 8, g, &Yb, lb);
  ok(!rc && !memcmp(Ya, Yb, sizeof want) && la[0] == lb[0],
     "the LPDM rule's features and loss are lpdm_net_local_update's (loss %g)", la[0]);
  ok(!strcmp(lr->vt->name, "lpdm") && lr->min_batch == 2 && !lr->vt->needs_head_error &&
         trunk_rule_save(lr, ctx, NULL, "algo.rule") == LPDM_OK,
     "the LPDM rule: min_batch 2, no head error, no state of its own");
  trunk_rule_free(lr);
  trunk_rule_free(NULL);
  lpdm_net_free(a);
  lpdm_net_free(b);
  lpdm_net_free(empty);
  lpdm_distance_free(dist);
  lpdm_loss_free(loss);
}

static int job_ok(void *arg, lpdm_ctx *c) {
  (void)c;
  *(int *)arg += 1;
  return LPDM_OK;
}
static int job_fail(void *arg, lpdm_ctx *c) {
  (void)arg;
  return lpdm_error(c, LPDM_ERR_NUM, "the critic's half met a NaN");
}

static void test_forkjoin(void) {
  int n = 0;
  forkjoin *fj = NULL;
  int rc = forkjoin_new(ctx, job_ok, &n, &fj);
  for (int i = 0; !rc && i < 100; i++) {
    forkjoin_post(fj);
    rc = forkjoin_wait(fj, ctx);
  }
  ok(!rc && n == 100, "100 fork-joins run the job 100 times (%d)", n);
  forkjoin_free(fj);
  rc = forkjoin_new(ctx, job_fail, NULL, &fj);
  if (!rc) {
    forkjoin_post(fj);
    rc = forkjoin_wait(fj, ctx);
  }
  ok(rc == LPDM_ERR_NUM && strstr(lpdm_ctx_message(ctx), "met a NaN"),
     "the job's status and message reach the caller: %s", lpdm_ctx_message(ctx));
  forkjoin_free(fj);
  forkjoin_free(NULL);
}

static int neps;
static void count_ep(void *user, const lpdm_episode *ep) {
  (void)user;
  (void)ep;
  neps++;
}

static void test_vecenv(void) {
  const lpdm_env_kind *ek = (const lpdm_env_kind *)lpdm_plugin_get(ctx, LPDM_KIND_ENV, "CartPole-v1");
  vecenv *v = NULL, *w = NULL;
  const vecenv_opts o = {.norm_obs = 1, .norm_reward = 1, .clip_obs = 2, .clip_reward = 3, .gamma = 0.99};
  const vecenv_opts raw = {.clip_obs = 1, .clip_reward = 1, .gamma = 0.99};
  int rc = !ek || vecenv_new(ctx, ek, NULL, 3, 10, &o, &v) || vecenv_new(ctx, ek, NULL, 3, 10, &raw, &w);
  if (!ok(!rc, "three CartPole copies, with and without the wrappers")) {
    diag("%s", lpdm_ctx_message(ctx));
    vecenv_free(v);
    vecenv_free(w);
    return;
  }
  vecenv_sink(v, count_ep, NULL, 0);
  vecenv_sink(w, NULL, NULL, 1);
  ok(memcmp(w->obs, w->obs + 4, 4 * sizeof(float)) && memcmp(w->obs + 4, w->obs + 8, 4 * sizeof(float)),
     "copy e is reset with seed + e: the copies start apart");
  int ends = 0, inrange = 1;
  double act = 1;
  for (int t = 0; t < 200 && !rc; t++)
    for (int e = 0; e < 3 && !rc; e++) {
      double r, rw;
      int term, trunc, term2, trunc2;
      float *ov = v->obs + e * 4, *ow = w->obs + e * 4;
      act = (t + e) % 3 ? 1 : 0;
      rc = vecenv_step(v, ctx, e, &act, ov, &r, &term, &trunc) || vecenv_step(w, ctx, e, &act, ow, &rw, &term2, &trunc2);
      for (int i = 0; i < 4; i++) inrange &= fabsf(ov[i]) <= 2;
      inrange &= fabs(r) <= 3 && rw == 1 && term == term2;
      if (!rc && (term || trunc)) {
        ends++;
        rc = vecenv_end_episode(v, ctx, e, t, ov) || vecenv_end_episode(w, ctx, e, t, ow);
      }
    }
  ok(!rc && ends > 0 && neps == ends && vecenv_nheld(w) == ends,
     "%d episodes: reported at once, or held (defer) for the caller", ends);
  ok(inrange, "normalised observations stay within clip_obs, scaled rewards within clip_reward, raw rewards are 1");
  vecenv_clear_held(w);
  ok(vecenv_nheld(w) == 0, "clear_held forgets them");
  vecenv_free(v);
  vecenv_free(w);
  vecenv_free(NULL);
}

static void test_categorical(void) {
  const float z[4] = {0.5f, -1.0f, 2.0f, 1000.0f};
  double H, sum = 0;
  for (int a = 0; a < 3; a++) sum += exp(cat_logp(z, 3, a, &H));
  ok(fabs(sum - 1) < 1e-12 && H > 0 && isfinite(cat_logp(z, 4, 0, &H)), "softmax sums to 1; logits of 1000 stay finite");
  ok(cat_argmax(z, 4) == 3 && cat_argmax(z, 3) == 2, "argmax");
  /* the gradient of g log pi(a) - c inv H against central differences */
  float dz[3], zp[3];
  const int a = 1;
  const double g = 0.7, c = 0.3, inv = 0.5;
  cat_logp(z, 3, a, &H);
  cat_grad(z, 3, a, H, g, c, inv, dz);
  double worst = 0;
  for (int i = 0; i < 3; i++) {
    double f[2];
    for (int k = 0; k < 2; k++) {
      memcpy(zp, z, sizeof zp);
      zp[i] += (float)(k ? -1e-3 : 1e-3);
      double Hp, lp = cat_logp(zp, 3, a, &Hp);
      f[k] = g * lp - c * inv * Hp;
    }
    double fd = (f[0] - f[1]) / ((double)(z[i] + 1e-3f) - (double)(z[i] - 1e-3f));
    worst = fmax(worst, fabs(fd - dz[i]));
  }
  ok(worst < 1e-4, "cat_grad against finite differences (worst %.2g)", worst);
  lpdm_rng rng;
  lpdm_rng_seed(&rng, 1);
  int hits[3] = {0};
  for (int i = 0; i < 20000; i++) hits[cat_sample(&rng, z, 3)]++;
  ok(fabs(hits[2] / 20000.0 - exp(cat_logp(z, 3, 2, &H))) < 0.02, "cat_sample draws by the softmax (%d of 20000)",
     hits[2]);
}

static void test_ckpt(void) {
  lpdm_st *st = NULL;
  int x[3] = {1, 5, 9}, y[3] = {0};
  int rc = lpdm_st_new(ctx, &st) || ckpt_put_ints(st, ctx, "algo", "ints", x, 3);
  ok(!rc && !ckpt_get_ints(st, ctx, "algo", "ints", y, 3, 0, 9) && !memcmp(x, y, sizeof x), "ints round-trip");
  int z[3] = {7, 7, 7};
  ok(ckpt_get_ints(st, ctx, "algo", "ints", z, 3, 0, 8) == LPDM_ERR_IO && strstr(lpdm_ctx_message(ctx), "algo.ints[2]") &&
         z[0] == 7,
     "an int out of range names the tensor and index, and changes nothing: %s", lpdm_ctx_message(ctx));
  double d[2] = {1, -1}, e[2] = {1, INFINITY};
  ok(ckpt_nonneg(d, 1) && !ckpt_nonneg(d, 2) && !ckpt_nonneg(e, 2), "nonneg refuses negative and infinite values");
  lpdm_st_free(st);
}

int main(void) {
  ctx = lpdm_ctx_new();
  if (!ctx || lpdm_plugin_load_dir(ctx, LPDM_PLUGIN_DIR)) {
    printf("1..0 # SKIP plugins: %s\n", ctx ? lpdm_ctx_message(ctx) : "no context");
    lpdm_ctx_free(ctx);
    return 0;
  }
  test_figures();
  test_features();
  test_forkjoin();
  test_vecenv();
  test_categorical();
  test_ckpt();
  lpdm_ctx_free(ctx);
  return done_testing();
}
