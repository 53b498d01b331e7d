/* SPDX-License-Identifier: MIT */
/*
** lib/heads.c -- output heads and distributions (lib/heads.h). The
** categorical functions share one log-softmax (cat_max_sum, cat_lse); the
** operation order of each formula is fixed, as runs repeat bit for bit.
*/
#include "lib/heads.h"

#include <math.h>
#include <stdlib.h>

int head_make(lpdm_ctx *ctx, lpdm_net **out, int in, int n, const char *init, double gain, lpdm_rng *rng,
              const lpdm_optim_cfg *oc) {
  *out = NULL;
  const lpdm_plugin *dk = lpdm_plugin_find(ctx, LPDM_KIND_LAYER, "dense");
  if (!dk) return lpdm_error(ctx, LPDM_ERR_ARG, "the output head needs layer.dense, which is not loaded");
  lpdm_net *h = NULL;
  lpdm_config c;
  int rc = lpdm_net_new(ctx, in, &h);
  if (!rc) rc = lpdm_config_init(ctx, dk, &c);
  if (!rc) rc = lpdm_config_set_num(ctx, &c, "head", "out", n);
  if (!rc) rc = lpdm_config_set_str(ctx, &c, "head", "act", "identity");
  if (!rc && init) rc = lpdm_config_set_str(ctx, &c, "head", "init", init);
  if (!rc && init) rc = lpdm_config_set_num(ctx, &c, "head", "gain", gain);
  if (!rc) rc = lpdm_net_add(h, ctx, (const lpdm_layer_kind *)dk, &c, rng, oc);
  if (rc) {
    lpdm_net_free(h);
    return rc;
  }
  *out = h;
  return LPDM_OK;
}

/* ------------------------------------------------------------ categorical */

/* The log-softmax's two reductions: mx = max z, sum = sum exp(z - mx). */
static void cat_max_sum(const float *z, int n, double *mx, double *sum) {
  double m = z[0];
  for (int i = 1; i < n; i++)
    if (z[i] > m) m = z[i];
  double s = 0;
  for (int i = 0; i < n; i++) s += exp(z[i] - m);
  *mx = m;
  *sum = s;
}

double cat_lse(const float *z, int n) {
  double mx, s;
  cat_max_sum(z, n, &mx, &s);
  return mx + log(s);
}

int cat_sample(lpdm_rng *rng, const float *z, int n) {
  double mx, s;
  cat_max_sum(z, n, &mx, &s);
  double u = lpdm_rng_uniform(rng) * s, c = 0;
  for (int i = 0; i < n - 1; i++) {
    c += exp(z[i] - mx);
    if (u < c) return i;
  }
  return n - 1;
}

double cat_logp(const float *z, int n, int a, double *H) {
  const double lse = cat_lse(z, n);
  double h = 0;
  for (int i = 0; i < n; i++) {
    double lp = z[i] - lse;
    h -= exp(lp) * lp;
  }
  *H = h;
  return z[a] - lse;
}

int cat_argmax(const float *z, int n) {
  int k = 0;
  for (int i = 1; i < n; i++)
    if (z[i] > z[k]) k = i;
  return k;
}

void cat_grad(const float *z, int n, int a, double H, double g, double c, double inv, float *dz) {
  const double lse = cat_lse(z, n);
  for (int i = 0; i < n; i++) {
    const double lpi = z[i] - lse, p = exp(lpi);
    /* dlp/dz_i = [i==a] - p_i;  d(-c H)/dz_i = c p_i (log p_i + H) */
    dz[i] = (float)(g * ((i == a) - p) + c * p * (lpi + H) * inv);
  }
}

/* ------------------------------------------------------------ Gaussian */

int gauss_std_new(lpdm_ctx *ctx, int n, double init, const lpdm_optim_cfg *oc, gauss_std **out) {
  *out = NULL;
  gauss_std *g = calloc(1, sizeof *g);
  if (!g) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  g->n = n;
  g->log_std = malloc((size_t)n * sizeof(float));
  g->grad = calloc((size_t)n, sizeof(float));
  if (!g->log_std || !g->grad) {
    gauss_std_free(g);
    return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  }
  for (int i = 0; i < n; i++) g->log_std[i] = (float)init;
  g->param = (lpdm_param){"log_std", g->log_std, g->grad, (size_t)n, 1, n};
  int rc = lpdm_optim_new(ctx, oc, &g->param, 1, &g->opt);
  if (rc) {
    gauss_std_free(g);
    return rc;
  }
  *out = g;
  return LPDM_OK;
}

void gauss_std_free(gauss_std *g) {
  if (!g) return;
  lpdm_optim_free(g->opt);
  free(g->log_std);
  free(g->grad);
  free(g);
}

int gauss_std_save(const gauss_std *g, lpdm_ctx *ctx, lpdm_st *st) {
  int rc = lpdm_state_put_f32(st, ctx, "algo", "log_std", g->log_std, (size_t)g->n);
  return rc ? rc : lpdm_optim_save(g->opt, ctx, st, "algo.log_std_optim");
}

int gauss_std_load(gauss_std *g, lpdm_ctx *ctx, const lpdm_st *st) {
  int rc = lpdm_state_get_f32(st, ctx, "algo", "log_std", g->log_std, (size_t)g->n);
  return rc ? rc : lpdm_optim_load(g->opt, ctx, st, "algo.log_std_optim");
}

double gauss_logp(const float *mu, const float *log_std, const float *a, int n) {
  double lp = 0;
  for (int i = 0; i < n; i++) {
    double x = (a[i] - (double)mu[i]) / exp(log_std[i]);
    lp += -0.5 * x * x - log_std[i] - HEAD_LOG_SQRT_2PI;
  }
  return lp;
}

double gauss_entropy(const float *log_std, int n) {
  double h = 0;
  for (int i = 0; i < n; i++) h += 0.5 + HEAD_LOG_SQRT_2PI + log_std[i];
  return h;
}

void gauss_grad(const float *mu, const float *log_std, const float *a, int n, double g, double c, double inv,
                float *dmu, float *dlogstd) {
  for (int i = 0; i < n; i++) {
    const double s = exp(log_std[i]), x = (a[i] - (double)mu[i]) / s;
    dmu[i] = (float)(g * x / s);                      /* dlp/dmu = x / s        */
    dlogstd[i] += (float)(g * (x * x - 1) - c * inv); /* dlp/dlog s = x^2 - 1 */
  }
}

void gauss_draw(lpdm_rng *rng, const float *mu, const float *log_std, int n, double *x) {
  for (int i = 0; i < n; i++) x[i] = mu[i] + exp(log_std[i]) * lpdm_rng_normal(rng);
}

double box_clip(const lpdm_space *sp, int i, double x) {
  return x < sp->low[i] ? sp->low[i] : x > sp->high[i] ? sp->high[i] : x;
}

double head_squash(double z, double lo, double hi) { return 0.5 * (hi + lo) + 0.5 * (hi - lo) * tanh(z); }

double head_squash_grad(double z, double lo, double hi) {
  double t = tanh(z);
  return 0.5 * (hi - lo) * (1 - t * t);
}

int gauss_figures(lpdm_figures *f, const float *log_std, int n, double mu_abs, double mu_n) {
  double m = 0;
  for (int i = 0; i < n; i++) m += log_std[i];
  int rc = lpdm_figures_set(f, "log_std_mean", m / n);
  return rc ? rc : lpdm_figures_set(f, "mu_abs_mean", mu_n > 0 ? mu_abs / mu_n : NAN);
}
