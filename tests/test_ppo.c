/* SPDX-License-Identifier: MIT */
/* test_ppo.c -- PPO's parts, each on its own (plugins/algos/ppo/ppo_loss.h),
   then the plugin: GAE against hand-computed cases, the Gaussian and
   categorical log-probabilities and entropies against closed forms and a
   Monte-Carlo estimate, the clipped surrogate's and the clipped value
   loss's gradients against central finite differences, Gymnasium's running
   moments against the direct formula, and the plugin's resolved defaults,
   raw episode returns, per-layer local rates, annealing, target-KL stop
   and determinism (the same seed, run on 1 thread and on 2, gives the same
   episodes and losses). */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../plugins/algos/lib/heads.h"
#include "../plugins/algos/ppo/ppo_loss.h"
#include "../plugins/algos/lib/vecenv.h"
#include "fixture.h"
#include "lpdm/lpdm.h"
#include "tap.h"

static int close_to(double a, double b, double tol) { return fabs(a - b) <= tol * (1 + fabs(b)); }

/* ---------------------------------------------------------------- GAE */

static void test_gae(void) {
  /* copy 0: one episode ending at the last step (next_done = 1);
     copy 1: an episode ends after step 0 (done[1] = 1), the next runs on */
  const float rew[6] = {1, 1, 2, 1, 3, 1}, val[6] = {0.5f, 0, 1, 0, 1.5f, 0}, done[6] = {0, 0, 0, 1, 0, 0};
  const float nv[2] = {10, 2}, nd[2] = {1, 0};
  float adv[6], ret[6];
  ppo_gae(3, 2, rew, val, done, nv, nd, 0.9, 0.8, adv, ret);
  /* by hand, gamma 0.9, lambda 0.8:
     copy 0: A2 = 3 - 1.5 = 1.5; A1 = 2 + 0.9*1.5 - 1 + 0.72*1.5 = 3.43;
             A0 = 1 + 0.9*1 - 0.5 + 0.72*3.43 = 3.8696
     copy 1: A2 = 1 + 0.9*2 = 2.8; A1 = 1 + 0.72*2.8 = 3.016; A0 = 1 (its episode ended) */
  const double want_a[6] = {3.8696, 1, 3.43, 3.016, 1.5, 2.8};
  int ok_a = 1, ok_r = 1;
  for (int i = 0; i < 6; i++) {
    if (!close_to(adv[i], want_a[i], 1e-6)) ok_a = 0, diag("adv[%d] = %.7g, want %.7g", i, adv[i], want_a[i]);
    if (!close_to(ret[i], want_a[i] + val[i], 1e-6)) ok_r = 0;
  }
  ok(ok_a, "GAE matches the hand-computed advantages (episode ends inside and at the end of the rollout)");
  ok(ok_r, "returns are advantages plus values");
  float adv1[6], ret1[6];
  ppo_gae(3, 2, rew, val, done, nv, nd, 0.9, 1.0, adv1, ret1);
  /* lambda = 1: the discounted return bootstrapped at the end */
  ok(close_to(ret1[0], 1 + 0.9 * 2 + 0.81 * 3, 1e-6) && close_to(ret1[5], 1 + 0.9 * 2, 1e-6),
     "GAE with lambda 1 gives the discounted Monte-Carlo return (bootstrapped by V when not done)");
}

/* ---------------------------------------------------------------- distributions */

static void test_distributions(void) {
  const float mu[2] = {0.5f, -1}, ls[2] = {(float)log(2.0), 0}, a[2] = {1.5f, -1};
  double want = -0.5 * 0.25 - log(2.0) - 0.5 * log(2 * M_PI) + (-0.5 * log(2 * M_PI));
  ok(close_to(gauss_logp(mu, ls, a, 2), want, 1e-6), "Gaussian log-prob: closed form (%.6f)", want);
  double H = gauss_entropy(ls, 2), wantH = 1 + log(2 * M_PI) + ls[0];
  ok(close_to(H, wantH, 1e-6), "Gaussian entropy: closed form (%.6f)", wantH);
  lpdm_rng rng;
  lpdm_rng_seed(&rng, 7);
  double mc = 0;
  const int n = 200000;
  for (int i = 0; i < n; i++) {
    float x[2];
    for (int j = 0; j < 2; j++) x[j] = (float)(mu[j] + exp(ls[j]) * lpdm_rng_normal(&rng));
    mc -= gauss_logp(mu, ls, x, 2);
  }
  mc /= n;
  ok(fabs(mc - H) < 0.02, "Gaussian entropy equals E[-log p] over 200k samples (%.4f vs %.4f)", mc, H);
  const float z[3] = {1, 2, 3};
  double Hc, lp = cat_logp(z, 3, 2, &Hc);
  double Z = exp(1) + exp(2) + exp(3), wH = 0;
  for (int i = 0; i < 3; i++) wH -= exp(z[i]) / Z * log(exp(z[i]) / Z);
  ok(close_to(lp, 3 - log(Z), 1e-9) && close_to(Hc, wH, 1e-9), "categorical log-prob and entropy: closed form");
  const float zbig[2] = {1000, 0};
  cat_logp(zbig, 2, 1, &Hc);
  ok(isfinite(cat_logp(zbig, 2, 1, &Hc)) && isfinite(Hc), "categorical log-prob stays finite for logits of 1000");
}

/* ---------------------------------------------------------------- clipped objective */

enum { M = 12, NA = 3 };

typedef struct pcase {
  int discrete;
  float out[M * NA], ls[NA], act[M * NA], oldlp[M], adv[M];
} pcase;

static double ploss(pcase *c, float *dout, float *dls) {
  ppo_pstats st;
  float tmp_o[M * NA], tmp_l[NA] = {0};
  return ppo_policy_loss(M, c->discrete, NA, c->out, c->ls, c->act, c->oldlp, c->adv, 0.2, 0.01, dout ? dout : tmp_o,
                         dls ? dls : tmp_l, &st);
}

/* Old log-probs put each ratio in [0.6, 1.6], away from the clip kinks, so
   about half the samples sit in the clipped region. */
static void make_case(pcase *c, int discrete, lpdm_rng *rng) {
  c->discrete = discrete;
  for (int i = 0; i < M * NA; i++) c->out[i] = (float)lpdm_rng_normal(rng);
  for (int i = 0; i < NA; i++) c->ls[i] = (float)(0.3 * lpdm_rng_normal(rng));
  for (int t = 0; t < M; t++) {
    if (discrete) c->act[t] = (float)lpdm_rng_below(rng, NA);
    else
      for (int i = 0; i < NA; i++) c->act[t * NA + i] = (float)(c->out[t * NA + i] + lpdm_rng_normal(rng));
    c->adv[t] = (float)lpdm_rng_normal(rng);
  }
  for (int t = 0; t < M; t++) {
    double H, lp = discrete ? cat_logp(c->out + t * NA, NA, (int)c->act[t], &H)
                            : gauss_logp(c->out + t * NA, c->ls, c->act + t * NA, NA);
    double r;
    do r = 0.6 + lpdm_rng_uniform(rng); /* [0.6, 1.6) */
    while (fabs(r - 0.8) < 0.05 || fabs(r - 1.2) < 0.05);
    c->oldlp[t] = (float)(lp - log(r));
  }
}

/* squash_mean (plugins/algos/common.h): mu = c + h tanh(z) stays in
   [c - h, c + h], and the Gaussian NLL's gradient in z, as reinforce.c
   forms it (-(a - mu) / s^2 * dmu/dz), matches central differences. */
static void test_squash(void) {
  const double rng[2][2] = {{-2, 2}, {0, 1}}; /* Pendulum's range; an asymmetric one */
  const double zs[] = {-50, -3, -0.7, 0, 0.4, 2.5, 50};
  int inside = 1, fd_ok = 1;
  double worst = 0;
  for (int r = 0; r < 2; r++) {
    double lo = rng[r][0], hi = rng[r][1], c = 0.5 * (lo + hi), h = 0.5 * (hi - lo);
    for (size_t k = 0; k < sizeof zs / sizeof *zs; k++) {
      double z = zs[k], mu = head_squash(z, lo, hi);
      if (!(mu >= lo && mu <= hi)) inside = 0;
      const double a = c + 0.3 * h, sd = 0.6;
      double x = (a - mu) / sd, g = -x / sd * head_squash_grad(z, lo, hi);
      double e = 1e-5, xp = (a - head_squash(z + e, lo, hi)) / sd, xm = (a - head_squash(z - e, lo, hi)) / sd;
      double fd = (0.5 * xp * xp - 0.5 * xm * xm) / (2 * e);
      double err = fabs(fd - g) / fmax(1e-6, fabs(fd) + fabs(g));
      if (fabs(fd - g) > 1e-7 && err > 1e-6) fd_ok = 0;
      if (fabs(fd) + fabs(g) > 1e-4 && err > worst) worst = err; /* away from the flat tails */
    }
  }
  ok(inside, "squash_mean: the mean stays inside the action range for z in [-50, 50]");
  ok(fd_ok, "squash_mean: the NLL's gradient in z matches central differences (worst relative error %.2g)", worst);
}

static void test_clip_grad(int discrete) {
  lpdm_rng rng;
  lpdm_rng_seed(&rng, discrete ? 11 : 12);
  pcase c;
  make_case(&c, discrete, &rng);
  float dout[M * NA], dls[NA] = {0};
  ploss(&c, dout, dls);
  const float h = 1e-3f;
  double worst = 0;
  for (int i = 0; i < M * NA; i++) {
    float o = c.out[i];
    c.out[i] = o + h;
    double lp = ploss(&c, NULL, NULL);
    c.out[i] = o - h;
    double lm = ploss(&c, NULL, NULL);
    c.out[i] = o;
    double fd = (lp - lm) / (2.0 * ((double)(o + h) - o));
    double e = fabs(fd - dout[i]) / (1e-4 + fabs(fd));
    if (e > worst) worst = e;
  }
  ok(worst < 2e-3, "%s clipped surrogate + entropy: dL/doutput matches finite differences (worst rel. error %.2g)",
     discrete ? "categorical" : "Gaussian", worst);
  if (!discrete) {
    worst = 0;
    for (int i = 0; i < NA; i++) {
      float o = c.ls[i];
      c.ls[i] = o + h;
      double lp = ploss(&c, NULL, NULL);
      c.ls[i] = o - h;
      double lm = ploss(&c, NULL, NULL);
      c.ls[i] = o;
      double fd = (lp - lm) / (2.0 * h);
      double e = fabs(fd - dls[i]) / (1e-4 + fabs(fd));
      if (e > worst) worst = e;
    }
    ok(worst < 2e-3, "Gaussian clipped surrogate + entropy: dL/dlog_std matches finite differences (worst %.2g)", worst);
  }
  /* the clipped samples get no gradient: a ratio above 1 + c with A > 0 */
  pcase one = c;
  float d1[M * NA];
  for (int t = 0; t < M; t++) one.adv[t] = 0;
  one.adv[0] = 1;
  double H, lp0 = discrete ? cat_logp(one.out, NA, (int)one.act[0], &H) : gauss_logp(one.out, one.ls, one.act, NA);
  one.oldlp[0] = (float)(lp0 - log(1.5));
  ppo_pstats st;
  float dl1[NA] = {0};
  ppo_policy_loss(M, discrete, NA, one.out, one.ls, one.act, one.oldlp, one.adv, 0.2, 0, d1, dl1, &st);
  int zero = 1;
  for (int i = 0; i < NA; i++) zero &= d1[i] == 0;
  ok(zero && st.clipfrac > 0,
     "%s: a sample with ratio 1.5 and a positive advantage is clipped and gets no gradient",
     discrete ? "categorical" : "Gaussian");
}

static void test_value_grad(int clipped) {
  lpdm_rng rng;
  lpdm_rng_seed(&rng, 21 + clipped);
  float v[M], vold[M], ret[M], dv[M];
  for (int t = 0; t < M; t++) {
    vold[t] = (float)lpdm_rng_normal(&rng);
    double d;
    do d = 0.6 * (2 * lpdm_rng_uniform(&rng) - 1);
    while (fabs(fabs(d) - 0.2) < 0.03);
    v[t] = (float)(vold[t] + d);
    ret[t] = (float)(vold[t] + 2 * lpdm_rng_normal(&rng));
    if (fabs(v[t] - ret[t]) < 0.05) ret[t] += 0.3f;
  }
  double clip = clipped ? 0.2 : 0;
  ppo_value_loss(M, v, vold, ret, clip, 0.5, dv);
  double worst = 0;
  const float h = 1e-3f;
  for (int t = 0; t < M; t++) {
    float o = v[t], tmp[M];
    v[t] = o + h;
    double lp = 0.5 * ppo_value_loss(M, v, vold, ret, clip, 0.5, tmp);
    v[t] = o - h;
    double lm = 0.5 * ppo_value_loss(M, v, vold, ret, clip, 0.5, tmp);
    v[t] = o;
    double fd = (lp - lm) / (2.0 * ((double)(o + h) - o));
    double e = fabs(fd - dv[t]) / (1e-4 + fabs(fd));
    if (e > worst) worst = e;
  }
  ok(worst < 2e-3, "%s value loss x vf_coef: gradient matches finite differences (worst rel. error %.2g)",
     clipped ? "clipped" : "unclipped", worst);
}

static void test_rms(void) {
  double mean[2] = {0, 0}, var[2] = {1, 1}, count = 1e-4;
  const double xs[5][2] = {{1, -3}, {2, 5}, {0.5, 7}, {-4, 1}, {3, 3}};
  for (int i = 0; i < 5; i++) rms_update(mean, var, &count, xs[i], 2);
  /* the pooled moments of the prior (mean 0, var 1, weight 1e-4) and the data */
  int good = close_to(count, 5 + 1e-4, 1e-12);
  for (int j = 0; j < 2; j++) {
    double s = 0;
    for (int i = 0; i < 5; i++) s += xs[i][j];
    double m = s / (5 + 1e-4), ss = 1e-4 * (1 + m * m);
    for (int i = 0; i < 5; i++) ss += (xs[i][j] - m) * (xs[i][j] - m);
    good &= close_to(mean[j], m, 1e-12) && close_to(var[j], ss / (5 + 1e-4), 1e-12);
  }
  ok(good, "running moments (one sample at a time) equal the pooled mean and variance with the 1e-4 prior");
}

/* ---------------------------------------------------------------- the plugin */

static lpdm_ctx *ctx;

typedef struct rec {
  int n;
  double first_ret;
  double sum;
} rec;

static void on_ep(void *u, const lpdm_episode *e) {
  rec *r = u;
  if (r->n == 0) r->first_ret = e->ret;
  r->n++;
  r->sum += e->ret * (r->n % 7 + 1) + e->length;
}

typedef struct prun {
  fx_run f;
  lpdm_net *net;   /* f.net          */
  lpdm_algo *algo; /* f.run's algo   */
  rec r;
} prun;

static void prun_free(prun *p) { fx_run_free(&p->f); }

/* Builds PPO on env with two tanh layers of 16 and the "k=v k=v" settings. */
static int prun_new(prun *p, const char *env, const char *loss, const char *settings) {
  memset(p, 0, sizeof *p);
  lpdm_run_spec spec = {.loss_name = loss, .on_episode = on_ep, .user = &p->r};
  int rc = fx_run_new(ctx, &p->f, "ppo", env, settings,
                      &(fx_net_spec){2, "out=16 init=orthogonal gain=1.4142135623730951", 3}, &spec);
  p->net = p->f.net;
  p->algo = p->f.run ? p->f.run->algo : NULL;
  return rc;
}

static int prun_iter(prun *p) { return lpdm_run_iterate(p->f.run, ctx); }

static double stat(const prun *p, const char *name) {
  double v;
  return lpdm_figures_get(p->f.run->figures, name, &v) ? v : NAN;
}

/* ---------------------------------------------------------------- the critic's own weights

   The critic's (REINFORCE: the baseline's) hidden layers are drawn
   independently of the actor's (issue 22: they used to be drawn from a
   generator seeded like the actor's, so the two started identical, and in
   local-stress mode stayed so). Compared through the checkpoint's tensors,
   at the start and after three updates, in every mode. The run's seed is
   the policy net's (3), as train.lua seeds both. */
static int trunks_differ(lpdm_run *run, int layer) {
  lpdm_st *st = NULL;
  int differ = -1;
  char pn[32], vn[32];
  snprintf(pn, sizeof pn, "policy.%d.weight", layer);
  snprintf(vn, sizeof vn, "value.%d.weight", layer);
  if (!lpdm_st_new(ctx, &st) && !run->kind->save(run->algo, st, ctx)) {
    size_t na = 0, nb = 0;
    const void *a = lpdm_st_get(st, pn, NULL, NULL, NULL, &na), *b = lpdm_st_get(st, vn, NULL, NULL, NULL, &nb);
    if (a && b) differ = na != nb || memcmp(a, b, na) != 0;
  }
  lpdm_st_free(st);
  return differ;
}

static void test_critic_init(void) {
  const struct {
    const char *algo, *env, *loss, *settings;
  } c[] = {
      {"ppo", "CartPole-v1", NULL, "mode=bp seed=3 steps=2048 num_steps=64"},
      {"ppo", "CartPole-v1", NULL, "mode=local seed=3 steps=2048 num_steps=64"},
      {"ppo", "CartPole-v1", "stress", "mode=local seed=3 steps=2048 num_steps=64"},
      {"ppo", "CartPole-v1", "guided", "mode=local seed=3 steps=2048 num_steps=64"},
      {"ppo", "Pendulum-v1", "stress", "mode=local seed=3 steps=2048 num_steps=64"},
      {"reinforce", "CartPole-v1", NULL, "mode=bp seed=3 baseline=true steps=3000"},
      {"reinforce", "CartPole-v1", "stress", "mode=local seed=3 baseline=true steps=3000"},
      {"reinforce", "CartPole-v1", "guided", "mode=local seed=3 baseline=true steps=3000"},
      /* the other learning rules (issue 25) */
      {"ppo", "CartPole-v1", "localhead", "mode=local seed=3 steps=2048 num_steps=64"},
      {"ppo", "CartPole-v1", "dfa", "mode=local seed=3 steps=2048 num_steps=64"},
      {"reinforce", "CartPole-v1", "localhead", "mode=local seed=3 baseline=true steps=3000"},
      {"reinforce", "CartPole-v1", "dfa", "mode=local seed=3 baseline=true steps=3000"},
      {"ppo", "CartPole-v1", "frozen", "mode=local seed=3 steps=2048 num_steps=64"},
  };
  for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
    fx_run f;
    lpdm_run_spec spec = {.loss_name = c[k].loss};
    int rc = fx_run_new(ctx, &f, c[k].algo, c[k].env, c[k].settings,
                        &(fx_net_spec){2, "out=16 init=orthogonal gain=1.4142135623730951", 3}, &spec);
    int d0[2] = {-1, -1}, d1[2] = {-1, -1};
    if (!rc)
      for (int l = 0; l < 2; l++) d0[l] = trunks_differ(f.run, l);
    for (int i = 0; !rc && i < 3; i++) rc = lpdm_run_iterate(f.run, ctx) < 0;
    if (!rc)
      for (int l = 0; l < 2; l++) d1[l] = trunks_differ(f.run, l);
    ok(!rc && d0[0] == 1 && d0[1] == 1 && d1[0] == 1 && d1[1] == 1,
       "%s %s %s %s: the critic's hidden layers differ from the actor's at the start (%d %d) and after 3 updates "
       "(%d %d)",
       c[k].algo, c[k].env, c[k].settings, c[k].loss ? c[k].loss : "(default loss)", d0[0], d0[1], d1[0], d1[1]);
    if (rc) diag("%s", lpdm_ctx_message(ctx));
    fx_run_free(&f);
  }
}

/* The bytes of a tensor of the run's checkpoint, into buf (n bytes at most);
   returns its size, 0 when absent. */
static size_t ckpt_tensor(lpdm_run *run, const char *name, void *buf, size_t n) {
  lpdm_st *st = NULL;
  size_t got = 0;
  if (!lpdm_st_new(ctx, &st) && !run->kind->save(run->algo, st, ctx)) {
    const void *p = lpdm_st_get(st, name, NULL, NULL, NULL, &got);
    if (p && got <= n) memcpy(buf, p, got);
    else got = 0;
  }
  lpdm_st_free(st);
  return got;
}

/* One update's actor layer 1 under settings (1 iteration). */
static size_t one_update(const char *algo, const char *loss, const char *settings, float *w, size_t n) {
  fx_run f;
  lpdm_run_spec spec = {.loss_name = loss};
  int rc = fx_run_new(ctx, &f, algo, "CartPole-v1", settings,
                      &(fx_net_spec){2, "out=16 init=orthogonal gain=1.4142135623730951", 3}, &spec);
  size_t got = 0;
  if (!rc && lpdm_run_iterate(f.run, ctx) >= 0)
    got = ckpt_tensor(f.run, "policy.0.weight", w, n);
  if (!got) diag("%s %s: %s", algo, settings, lpdm_ctx_message(ctx));
  if (!rc) fx_run_free(&f);
  return got;
}

/* The second edition's schedule and guidance ablations (issue 26):
   local_batch = once steps the trunks once per rollout, before the first
   epoch, so the number of epochs changes nothing in them (rollout, a step
   per epoch, does change); REINFORCE's guide = advantage feeds the local
   loss G - V(s): a guided loss then learns otherwise, stress (which reads
   no guidance) identically; without a baseline it is refused. */
static void test_schedule_guide(void) {
  enum { N = 4 * 16 };
  float a[N], b[N];
  size_t na = one_update("ppo", "stress", "mode=local seed=3 num_steps=128 local_batch=once update_epochs=1", a, sizeof a);
  size_t nb = one_update("ppo", "stress", "mode=local seed=3 num_steps=128 local_batch=once update_epochs=4", b, sizeof b);
  ok(na && na == nb && !memcmp(a, b, na), "local_batch=once: the trunk after an update is the same for 1 and 4 epochs");
  na = one_update("ppo", "stress", "mode=local seed=3 num_steps=128 local_batch=rollout update_epochs=1", a, sizeof a);
  nb = one_update("ppo", "stress", "mode=local seed=3 num_steps=128 local_batch=rollout update_epochs=4", b, sizeof b);
  ok(na && na == nb && memcmp(a, b, na), "local_batch=rollout: 4 epochs step the trunk more than 1 (the check can fail)");
  const char *ret = "mode=local seed=3 baseline=true episodes_per_update=4 steps=400";
  const char *adv = "mode=local seed=3 baseline=true episodes_per_update=4 steps=400 guide=advantage";
  na = one_update("reinforce", "guided", ret, a, sizeof a);
  nb = one_update("reinforce", "guided", adv, b, sizeof b);
  ok(na && na == nb && memcmp(a, b, na), "guide=advantage: the guided loss learns from another signal");
  na = one_update("reinforce", "stress", ret, a, sizeof a);
  nb = one_update("reinforce", "stress", adv, b, sizeof b);
  ok(na && na == nb && !memcmp(a, b, na), "guide=advantage: stress, which reads no guidance, is unchanged");
  fx_run f;
  lpdm_run_spec spec = {.loss_name = "guided"};
  int rc = fx_run_new(ctx, &f, "reinforce", "CartPole-v1", "mode=local guide=advantage", &(fx_net_spec){1, "out=8", 3},
                      &spec);
  ok(rc && strstr(lpdm_ctx_message(ctx), "needs baseline=true"), "guide=advantage without a baseline is refused: %s",
     lpdm_ctx_message(ctx));
  if (!rc) fx_run_free(&f);
}

/* REINFORCE's observation normalisation and window of recent states
   (issue 26's ablations). A window at least as large as the first batch
   holds exactly that batch, so the first update is the one without a
   window, bit for bit; a smaller window trains on fewer states and
   differs. norm_obs counts every observation it normalises: the first,
   one per step and one per reset, on top of Gymnasium's 1e-4. */
static void test_reinforce_window_norm(void) {
  enum { N = 4 * 16 };
  float a[N], b[N];
  const char *base = "mode=local seed=3 baseline=true episodes_per_update=4 steps=400 guide=advantage";
  char big[256], small[256];
  snprintf(big, sizeof big, "%s local_window=100000", base);
  snprintf(small, sizeof small, "%s local_window=8", base);
  size_t na = one_update("reinforce", "guided", base, a, sizeof a);
  size_t nb = one_update("reinforce", "guided", big, b, sizeof b);
  ok(na && na == nb && !memcmp(a, b, na), "local_window larger than the batch: the first update is the batch's, bit for bit");
  nb = one_update("reinforce", "guided", small, b, sizeof b);
  ok(na && na == nb && memcmp(a, b, na), "local_window=8: the local loss sees the last 8 states only (the check can fail)");

  fx_run f;
  lpdm_run_spec spec = {.loss_name = "stress"};
  int rc = fx_run_new(ctx, &f, "reinforce", "CartPole-v1", "mode=local seed=2 episodes_per_update=3 norm_obs=true",
                      &(fx_net_spec){1, "out=8", 3}, &spec);
  double count = -1;
  int64_t n[3] = {0, 0, 0};
  if (!rc && lpdm_run_iterate(f.run, ctx) >= 0) {
    ckpt_tensor(f.run, "algo.obs_count", &count, sizeof count);
    ckpt_tensor(f.run, "algo.counters", n, sizeof n);
  }
  ok(n[0] > 0 && count == 1e-4 + 1 + (double)n[0] + 3, "norm_obs: the moments count %.4f observations after %lld steps of 3 episodes",
     count, (long long)n[0]);
  if (!rc) fx_run_free(&f);
  spec.loss_name = "localhead";
  rc = fx_run_new(ctx, &f, "reinforce", "CartPole-v1", "mode=local local_window=64", &(fx_net_spec){1, "out=8", 3}, &spec);
  ok(rc && strstr(lpdm_ctx_message(ctx), "local_window") && strstr(lpdm_ctx_message(ctx), "localhead"),
     "local_window with a learning rule is refused by name: %s", lpdm_ctx_message(ctx));
  if (!rc) fx_run_free(&f);
}

/* threads = 0 (the default) resolves to 2 when the process may use two
   CPUs, else 1; LPDM_THREADS = 1 or 2 decides instead; the run's config
   reports the count used. */
static void test_threads_auto(void) {
  cpu_set_t set;
  const int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
  const char *was = getenv("LPDM_THREADS");
  char *saved = was ? strdup(was) : NULL;
  unsetenv("LPDM_THREADS");
  prun a;
  int rc = prun_new(&a, "CartPole-v1", NULL, "mode=bp steps=2048");
  ok(!rc && lpdm_cfg_int(&a.algo->cfg, "threads") == (cpus >= 2 ? 2 : 1),
     "threads = 0 resolves to %d on %d CPU(s) (got %d)", cpus >= 2 ? 2 : 1, cpus,
     rc ? -1 : lpdm_cfg_int(&a.algo->cfg, "threads"));
  prun_free(&a);
  setenv("LPDM_THREADS", "1", 1);
  rc = prun_new(&a, "CartPole-v1", NULL, "mode=bp steps=2048");
  ok(!rc && lpdm_cfg_int(&a.algo->cfg, "threads") == 1, "LPDM_THREADS=1 makes it 1");
  prun_free(&a);
  rc = prun_new(&a, "CartPole-v1", NULL, "mode=bp steps=2048 threads=2");
  ok(!rc && lpdm_cfg_int(&a.algo->cfg, "threads") == 2, "an explicit threads = 2 is kept whatever LPDM_THREADS says");
  prun_free(&a);
  if (saved) setenv("LPDM_THREADS", saved, 1);
  else unsetenv("LPDM_THREADS");
  free(saved);
}

static void test_plugin(void) {
  prun a, b;
  /* resolved defaults */
  int rc = prun_new(&a, "CartPole-v1", "guided", "mode=bp steps=2048");
  ok(rc == 0 && lpdm_cfg_int(&a.algo->cfg, "num_envs") == 4 && lpdm_cfg_int(&a.algo->cfg, "num_steps") == 128 &&
         lpdm_cfg_num(&a.algo->cfg, "learning_rate") == 2.5e-4 && lpdm_cfg_num(&a.algo->cfg, "ent_coef") == 0.01 &&
         !strcmp(lpdm_cfg_str(&a.algo->cfg, "norm_obs"), "false"),
     "Discrete: the run's config reports ppo.py's defaults (4 envs x 128 steps, lr 2.5e-4, ent 0.01, no obs norm)");
  if (rc) diag("%s", lpdm_ctx_message(ctx));
  prun_free(&a);
  rc = prun_new(&a, "Pendulum-v1", "guided", "mode=bp steps=4096");
  ok(rc == 0 && lpdm_cfg_int(&a.algo->cfg, "num_envs") == 1 && lpdm_cfg_int(&a.algo->cfg, "num_steps") == 2048 &&
         lpdm_cfg_int(&a.algo->cfg, "num_minibatches") == 32 && lpdm_cfg_int(&a.algo->cfg, "update_epochs") == 10 &&
         lpdm_cfg_num(&a.algo->cfg, "ent_coef") == 0 && !strcmp(lpdm_cfg_str(&a.algo->cfg, "norm_reward"), "true"),
     "Box: the run's config reports ppo_continuous_action.py's defaults (1 x 2048, 32 x 10, ent 0, normalisation)");
  if (rc) diag("%s", lpdm_ctx_message(ctx));

  /* raw episode returns: reward scaling changes what PPO learns from, not
     what is reported; the first update's rollout is the same either way */
  rc = prun_new(&b, "Pendulum-v1", "guided", "mode=bp steps=4096 norm_reward=false");
  int r1 = rc == 0 ? prun_iter(&a) : -1, r2 = rc == 0 ? prun_iter(&b) : -1;
  ok(r1 >= 0 && r2 >= 0 && a.r.n == 10 && b.r.n == 10 && a.r.first_ret == b.r.first_ret && a.r.first_ret < -100,
     "Box: episode returns are raw env rewards whether or not rewards are scaled (%g, %g)", a.r.first_ret,
     b.r.first_ret);
  ok(stat(&a, "value_loss") != stat(&b, "value_loss"), "... while the value loss differs (scaled vs raw returns)");
  prun_free(&b);
  rc = prun_new(&b, "Pendulum-v1", "guided", "mode=bp steps=4096 bootstrap_truncated=true");
  r2 = rc == 0 ? prun_iter(&b) : -1;
  ok(r2 >= 0 && b.r.first_ret == a.r.first_ret && stat(&a, "value_loss") != stat(&b, "value_loss"),
     "bootstrap_truncated: same rollout, other targets (Pendulum's episodes all end by truncation)");
  prun_free(&a);
  prun_free(&b);

  /* annealing, target-KL */
  rc = prun_new(&a, "CartPole-v1", "guided", "mode=bp steps=2048 target_kl=1e-12");
  int good = rc == 0;
  for (int k = 1; good && k <= 4; k++) {
    int r = prun_iter(&a);
    good = r >= 0 && (k < 4 ? r == LPDM_OK : r == LPDM_DONE) && close_to(stat(&a, "learning_rate"), 2.5e-4 * (1 - (k - 1) / 4.0), 1e-12) &&
           stat(&a, "epochs") == 1;
  }
  ok(good, "learning rate annealed linearly over 4 updates; target_kl stops the epochs after the first");
  prun_free(&a);

  /* per-layer local rates: a layer at rate 0 does not move */
  rc = prun_new(&a, "CartPole-v1", "stress", "mode=local steps=512 actor_local_lrs=1e-3,0 critic_local_lr=0");
  good = rc == 0;
  float w0[2][64];
  if (good) {
    for (int l = 0; l < 2; l++) memcpy(w0[l], lpdm_net_layer(a.net, l)->params[0].w, 64 * sizeof(float));
    good = prun_iter(&a) >= 0;
  }
  ok(good && memcmp(w0[0], lpdm_net_layer(a.net, 0)->params[0].w, 64 * sizeof(float)) != 0 &&
         memcmp(w0[1], lpdm_net_layer(a.net, 1)->params[0].w, 64 * sizeof(float)) == 0 &&
         isfinite(stat(&a, "actor_local_loss_1")) && isfinite(stat(&a, "critic_local_loss_2")),
     "local: actor_local_lrs=1e-3,0 trains layer 1 and leaves layer 2; both nets report their local losses");
  if ((rc || !good) && a.net) diag("rc %d: %s; changed: %d %d; losses %g %g", rc, lpdm_ctx_message(ctx),
                        memcmp(w0[0], lpdm_net_layer(a.net, 0)->params[0].w, 64 * sizeof(float)) != 0,
                        memcmp(w0[1], lpdm_net_layer(a.net, 1)->params[0].w, 64 * sizeof(float)) != 0,
                        stat(&a, "actor_local_loss_1"), stat(&a, "critic_local_loss_2"));
  prun_free(&a);

  /* determinism, both modes */
  const char *modes[2][2] = {{"mode=bp steps=1024", "mode=bp steps=1024 threads=2"},
                             {"mode=local steps=1024", "mode=local steps=1024 threads=2"}};
  for (int m = 0; m < 2; m++) {
    good = prun_new(&a, "CartPole-v1", "guided", modes[m][0]) == 0 &&
           prun_new(&b, "CartPole-v1", "guided", modes[m][1]) == 0;
    while (good) {
      int ra = prun_iter(&a), rb = prun_iter(&b);
      good = ra >= 0 && ra == rb && stat(&a, "value_loss") == stat(&b, "value_loss") &&
             stat(&a, "approx_kl") == stat(&b, "approx_kl");
      if (ra == LPDM_DONE) break;
    }
    ok(good && a.r.n == b.r.n && a.r.sum == b.r.sum,
       "%s mode: the same seed gives the same episodes and losses, with 1 thread and with 2", m ? "local" : "bp");
    prun_free(&a);
    prun_free(&b);
  }

  /* issue 7's local options: they run, deterministically with 1 and 2 threads */
  const char *opts = "mode=local steps=1024 actor_alpha=0.9 critic_alpha=0.2 guide=rank actor_guide=signed "
                     "critic_guide=val head_epochs=1 head_anneal=false";
  char opts2[512];
  snprintf(opts2, sizeof opts2, "%s threads=2", opts);
  good = prun_new(&a, "CartPole-v1", "kernel", opts) == 0 && prun_new(&b, "CartPole-v1", "kernel", opts2) == 0;
  while (good) {
    int ra = prun_iter(&a), rb = prun_iter(&b);
    good = ra >= 0 && ra == rb && stat(&a, "value_loss") == stat(&b, "value_loss") &&
           stat(&a, "epochs") == 5 && isfinite(stat(&a, "actor_local_loss_1"));
    if (ra == LPDM_DONE) break;
  }
  ok(good && a.r.n == b.r.n && a.r.sum == b.r.sum,
     "local options (per-net alpha, rank, signed and value guidance, head epochs, unannealed heads) run "
     "deterministically");
  if (!good) diag("%s", lpdm_ctx_message(ctx));
  prun_free(&a);
  prun_free(&b);
  /* local_batch = rollout: one local step per epoch on the whole batch,
     deterministic with 1 and 2 threads, the layers' losses reported */
  good = prun_new(&a, "CartPole-v1", "kernel", "mode=local steps=1024 local_batch=rollout guide=rank actor_guide=signed") == 0 &&
         prun_new(&b, "CartPole-v1", "kernel", "mode=local steps=1024 local_batch=rollout guide=rank actor_guide=signed threads=2") == 0;
  float w1[64];
  if (good) memcpy(w1, lpdm_net_layer(a.net, 0)->params[0].w, sizeof w1);
  while (good) {
    int ra = prun_iter(&a), rb = prun_iter(&b);
    good = ra >= 0 && ra == rb && stat(&a, "value_loss") == stat(&b, "value_loss") &&
           isfinite(stat(&a, "actor_local_loss_2")) && isfinite(stat(&a, "critic_local_loss_1"));
    if (ra == LPDM_DONE) break;
  }
  ok(good && a.r.n == b.r.n && a.r.sum == b.r.sum && memcmp(w1, lpdm_net_layer(a.net, 0)->params[0].w, sizeof w1) != 0,
     "local_batch=rollout trains the hidden layers, reports their losses, and is deterministic on 1 and 2 threads");
  if (!good) diag("%s", lpdm_ctx_message(ctx));
  prun_free(&a);
  prun_free(&b);

  /* guide_anneal: alpha * (1 - (update - 1) / updates): the first update is
     the plain run's, the later ones are not */
  good = prun_new(&a, "CartPole-v1", "kernel", "mode=local steps=2048") == 0 &&
         prun_new(&b, "CartPole-v1", "kernel", "mode=local steps=2048 guide_anneal=true") == 0;
  int first_same = 0, later_differ = 0;
  for (int it = 0; good; it++) {
    int ra = prun_iter(&a), rb = prun_iter(&b);
    good = ra >= 0 && ra == rb;
    const int same = stat(&a, "actor_local_loss_1") == stat(&b, "actor_local_loss_1");
    if (it == 0) first_same = same;
    else if (!same) later_differ = 1;
    if (ra == LPDM_DONE) break;
  }
  ok(good && first_same && later_differ, "guide_anneal: the first update as without it, later ones lower the guidance");
  prun_free(&a);
  prun_free(&b);
  rc = prun_new(&a, "CartPole-v1", "stress", "mode=local steps=2048 guide_anneal=true");
  ok(rc != 0 && strstr(lpdm_ctx_message(ctx), "guide_anneal") && strstr(lpdm_ctx_message(ctx), "no alpha"),
     "guide_anneal with a loss without alpha is refused: %s", lpdm_ctx_message(ctx));
  prun_free(&a);

  /* clip_grad: without a clip (max_grad_norm = 0) joint and separate are
     the same run; with CleanRL's 0.5 they differ (the value gradient,
     several times the policy's, no longer scales the policy's steps) */
  for (int m = 0; m < 2; m++) {
    const char *set[2][2] = {{"mode=local steps=2048 max_grad_norm=0", "mode=local steps=2048 max_grad_norm=0 clip_grad=separate"},
                             {"mode=bp steps=2048", "mode=bp steps=2048 clip_grad=separate"}};
    good = prun_new(&a, "CartPole-v1", "guided", set[m][0]) == 0 && prun_new(&b, "CartPole-v1", "guided", set[m][1]) == 0;
    int same = 1;
    while (good) {
      int ra = prun_iter(&a), rb = prun_iter(&b);
      good = ra >= 0 && ra == rb;
      same = same && stat(&a, "value_loss") == stat(&b, "value_loss") && stat(&a, "approx_kl") == stat(&b, "approx_kl");
      if (ra == LPDM_DONE) break;
    }
    ok(good && (m == 0 ? same : !same),
       m == 0 ? "clip_grad=separate without a clip is the joint run, bit for bit"
              : "clip_grad=separate with max_grad_norm 0.5 changes the run");
    prun_free(&a);
    prun_free(&b);
  }
  const struct {
    const char *env, *loss, *settings, *key;
  } bad[] = {{"CartPole-v1", "guided", "guide=median", "guide"},
             {"CartPole-v1", "stress", "actor_alpha=0.5", "alpha"},
             {"CartPole-v1", "guided", "critic_alpha=2", "critic_alpha"},
             {"CartPole-v1", "guided", "critic_guide=adv", "critic_guide"},
             {"Pendulum-v1", "guided", "actor_guide=signed", "actor_guide"},
             {"CartPole-v1", "guided", "clip_grad=both", "clip_grad"},
             {"CartPole-v1", "guided", "local_batch=all", "local_batch"}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char set[256];
    snprintf(set, sizeof set, "mode=local steps=4096 %s", bad[i].settings);
    rc = prun_new(&a, bad[i].env, bad[i].loss, set);
    ok(rc != 0 && strstr(lpdm_ctx_message(ctx), bad[i].key), "%s (loss %s) is refused, naming %s: %s",
       bad[i].settings, bad[i].loss, bad[i].key, lpdm_ctx_message(ctx));
    prun_free(&a);
  }
}

int main(void) {
  ctx = fx_ctx();
  test_gae();
  test_distributions();
  test_squash();
  test_clip_grad(1);
  test_clip_grad(0);
  test_value_grad(0);
  test_value_grad(1);
  test_rms();
  test_plugin();
  test_critic_init();
  test_threads_auto();
  test_schedule_guide();
  test_reinforce_window_norm();
  lpdm_ctx_free(ctx);
  return done_testing();
}
