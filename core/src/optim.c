/* SPDX-License-Identifier: MIT */
/* optim.c -- Adam and SGD (with momentum and L2 weight decay) over a list
   of lpdm_params. State (moments, step count) is allocated once here;
   a step allocates nothing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct lpdm_optim {
  lpdm_optim_cfg cfg;
  lpdm_param *params; /* borrowed */
  int nparams;
  long long t;
  float **m, **v; /* per param: Adam moments / SGD velocity (m) */
};

lpdm_optim_cfg lpdm_optim_default(int type, double lr) {
  lpdm_optim_cfg c;
  memset(&c, 0, sizeof c);
  c.type = type;
  c.lr = lr;
  c.beta1 = 0.9;
  c.beta2 = 0.999;
  c.eps = 1e-8;
  return c;
}

const char *lpdm_optim_type_name(int type) {
  return type == LPDM_OPT_ADAM ? "adam" : type == LPDM_OPT_SGD ? "sgd" : "?";
}

int lpdm_optim_type_parse(const char *name) {
  if (!strcmp(name, "adam")) return LPDM_OPT_ADAM;
  if (!strcmp(name, "sgd")) return LPDM_OPT_SGD;
  return 0;
}

void lpdm_optim_free(lpdm_optim *o) {
  if (!o) return;
  for (int i = 0; i < o->nparams; i++) {
    if (o->m) free(o->m[i]);
    if (o->v) free(o->v[i]);
  }
  free(o->m);
  free(o->v);
  free(o);
}

int lpdm_optim_new(lpdm_ctx *ctx, const lpdm_optim_cfg *cfg, lpdm_param *params, int nparams,
                   lpdm_optim **out) {
  *out = NULL;
  if (cfg->type != LPDM_OPT_ADAM && cfg->type != LPDM_OPT_SGD)
    return lpdm_error(ctx, LPDM_ERR_ARG, "optimizer: unknown type %d (adam or sgd)", cfg->type);
  if (!(cfg->lr >= 0) || !isfinite(cfg->lr))
    return lpdm_error(ctx, LPDM_ERR_ARG, "optimizer: learning rate must be >= 0, got %g", cfg->lr);
  lpdm_optim *o = calloc(1, sizeof *o);
  if (!o) return lpdm_error(ctx, LPDM_ERR_MEM, "optimizer: out of memory");
  o->cfg = *cfg;
  o->params = params;
  o->nparams = nparams;
  if (nparams > 0) {
    o->m = calloc((size_t)nparams, sizeof *o->m);
    o->v = calloc((size_t)nparams, sizeof *o->v);
    if (!o->m || !o->v) goto oom;
    for (int i = 0; i < nparams; i++) {
      o->m[i] = calloc(params[i].n ? params[i].n : 1, sizeof(float));
      o->v[i] = calloc(params[i].n ? params[i].n : 1, sizeof(float));
      if (!o->m[i] || !o->v[i]) goto oom;
    }
  }
  *out = o;
  return LPDM_OK;
oom:
  lpdm_optim_free(o);
  return lpdm_error(ctx, LPDM_ERR_MEM, "optimizer: out of memory");
}

void lpdm__optim_state(lpdm_optim *o, int i, float **m, float **v, long long **t) {
  *m = o->m ? o->m[i] : NULL;
  *v = o->v ? o->v[i] : NULL;
  *t = &o->t;
}

void lpdm_optim_zero(lpdm_optim *o) {
  if (!o) return;
  for (int i = 0; i < o->nparams; i++) memset(o->params[i].g, 0, o->params[i].n * sizeof(float));
}

void lpdm_optim_set_lr(lpdm_optim *o, double lr) {
  if (lr >= 0 && isfinite(lr)) o->cfg.lr = lr; /* callers validate; never store a NaN */
}
double lpdm_optim_lr(const lpdm_optim *o) { return o->cfg.lr; }
const lpdm_optim_cfg *lpdm_optim_config(const lpdm_optim *o) { return &o->cfg; }

/* Squares summed in float in vectorised blocks of 256, blocks added in
   double: accurate enough for a norm, and not a bottleneck. */
LPDM_VECTORIZE static double sum_sq(const float *g, size_t n) {
  double s = 0;
  for (size_t b = 0; b < n; b += 256) {
    size_t e = b + 256 < n ? b + 256 : n;
    float acc = 0;
#pragma omp simd reduction(+ : acc)
    for (size_t j = b; j < e; j++) acc += g[j] * g[j];
    s += acc;
  }
  return s;
}

size_t lpdm_optim_grad_count(const lpdm_optim *o) {
  size_t n = 0;
  for (int i = 0; o && i < o->nparams; i++) n += o->params[i].n;
  return n;
}

float *lpdm_optim_grad_get(const lpdm_optim *o, float *dst) {
  for (int i = 0; o && i < o->nparams; i++) {
    memcpy(dst, o->params[i].g, o->params[i].n * sizeof(float));
    dst += o->params[i].n;
  }
  return dst;
}

const float *lpdm_optim_grad_set(lpdm_optim *o, const float *src) {
  for (int i = 0; o && i < o->nparams; i++) {
    memcpy(o->params[i].g, src, o->params[i].n * sizeof(float));
    src += o->params[i].n;
  }
  return src;
}

double lpdm_optim_grad_sq(const lpdm_optim *o) {
  double s = 0;
  for (int i = 0; i < o->nparams; i++) s += sum_sq(o->params[i].g, o->params[i].n);
  return s;
}

/* Element-wise, so every clone gives the same bits (no FMA contraction in
   ISO C mode). */
LPDM_VECTORIZE static void adam_update(float *w, const float *g, float *m, float *v, size_t n, float scale, float wd,
                                       float b1, float b2, float step, float sbc2, float eps) {
  for (size_t j = 0; j < n; j++) {
    float gj = g[j] * scale + wd * w[j];
    m[j] = b1 * m[j] + (1 - b1) * gj;
    v[j] = b2 * v[j] + (1 - b2) * gj * gj;
    w[j] -= step * m[j] / (sqrtf(v[j]) / sbc2 + eps);
  }
}

int lpdm_optim_step(lpdm_optim *o, lpdm_ctx *ctx, float scale) {
  for (int i = 0; i < o->nparams; i++) {
    int rc = lpdm_check_finite(ctx, o->params[i].g, o->params[i].n, o->params[i].name);
    if (rc) return lpdm_ctx_prefix(ctx, rc, "gradient");
  }
  const lpdm_optim_cfg *c = &o->cfg;
  const float lr = (float)c->lr, wd = (float)c->weight_decay;
  o->t++;
  if (c->type == LPDM_OPT_ADAM) {
    const float b1 = (float)c->beta1, b2 = (float)c->beta2, eps = (float)c->eps;
    const double bc1 = 1.0 - pow(c->beta1, (double)o->t);
    const double bc2 = 1.0 - pow(c->beta2, (double)o->t);
    /* PyTorch's form: w -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps). */
    const float step = (float)(c->lr / bc1);
    const float sbc2 = (float)sqrt(bc2);
    for (int i = 0; i < o->nparams; i++)
      adam_update(o->params[i].w, o->params[i].g, o->m[i], o->v[i], o->params[i].n, scale, wd, b1, b2, step, sbc2,
                  eps);
  } else {
    const float mu = (float)c->momentum;
    for (int i = 0; i < o->nparams; i++) {
      float *w = o->params[i].w, *g = o->params[i].g, *m = o->m[i];
      for (size_t j = 0, n = o->params[i].n; j < n; j++) {
        float gj = g[j] * scale + wd * w[j];
        if (mu != 0) {
          m[j] = mu * m[j] + gj;
          gj = m[j];
        }
        w[j] -= lr * gj;
      }
    }
  }
  return LPDM_OK;
}

int lpdm_optim_save(lpdm_optim *o, lpdm_ctx *ctx, lpdm_st *st, const char *prefix) {
  char what[64];
  for (int i = 0; i < o->nparams; i++) {
    snprintf(what, sizeof what, "%d.m", i);
    int rc = lpdm_state_put_f32(st, ctx, prefix, what, o->m[i], o->params[i].n);
    snprintf(what, sizeof what, "%d.v", i);
    if (!rc) rc = lpdm_state_put_f32(st, ctx, prefix, what, o->v[i], o->params[i].n);
    if (rc) return rc;
  }
  int64_t t = o->t;
  return lpdm_state_put_i64(st, ctx, prefix, "step", &t, 1);
}

int lpdm_optim_load(lpdm_optim *o, lpdm_ctx *ctx, const lpdm_st *st, const char *prefix) {
  char what[64];
  int64_t t;
  int rc = lpdm_state_get_i64(st, ctx, prefix, "step", &t, 1);
  if (rc) return rc;
  if (t < 0) return lpdm_error(ctx, LPDM_ERR_IO, "checkpoint: %s.step is negative", prefix);
  for (int pass = 0; pass < 2; pass++) /* check both moments of every param before changing any */
    for (int i = 0; i < o->nparams; i++) {
      size_t n = o->params[i].n;
      float *m = pass ? o->m[i] : malloc(n * sizeof(float)), *v = pass ? o->v[i] : malloc(n * sizeof(float));
      if (!m || !v) {
        if (!pass) free(m), free(v);
        return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
      }
      snprintf(what, sizeof what, "%d.m", i);
      rc = lpdm_state_get_f32(st, ctx, prefix, what, m, n);
      snprintf(what, sizeof what, "%d.v", i);
      if (!rc) rc = lpdm_state_get_f32(st, ctx, prefix, what, v, n);
      if (!pass) free(m), free(v);
      if (rc) return rc;
    }
  o->t = t;
  return LPDM_OK;
}
