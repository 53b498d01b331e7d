/* gradcheck.h -- shared by the gradient tests (test_grad, test_layers):
   normal fills, the relative error of a gradient vector, and the
   finite-difference check of a layer's backward.

   The check: central differences in float32 with h = 1e-2 of the objective
   f = sum C .* layer(X), summed in double, for dL/dX and every parameter;
   a check passes when |fd - analytic| / |analytic| over the whole vector
   is below the caller's tolerance. Then backward is run again without dX,
   and must add the same gradient into every parameter's g. Include after tap.h. */
#ifndef LPDM_TEST_GRADCHECK_H
#define LPDM_TEST_GRADCHECK_H
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lpdm/lpdm.h"

static inline void gc_fill(lpdm_rng *rng, float *x, size_t n, double scale) {
  for (size_t i = 0; i < n; i++) x[i] = (float)(scale * lpdm_rng_normal(rng));
}

static inline double gc_rel_err(const double *a, const double *b, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return sqrt(num) / (sqrt(den) + 1e-30);
}

static inline double gc_dot(const float *a, const float *c, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += (double)a[i] * c[i];
  return s;
}

/* One central difference of f at *x, restored after. */
static double gc_diff(lpdm_ctx *ctx, const lpdm_layer_kind *k, lpdm_layer *l, float *x, const float *X, int B,
                      float *Y, const float *C, float h) {
  size_t nq = (size_t)B * l->out_dim;
  float x0 = *x;
  *x = x0 + h;
  k->forward(l, X, B, Y, ctx);
  double fp = gc_dot(Y, C, nq);
  *x = x0 - h;
  k->forward(l, X, B, Y, ctx);
  double fm = gc_dot(Y, C, nq);
  *x = x0;
  return (fp - fm) / (2 * h);
}

/* The TAP checks of layer l (kind k) on a batch of B normal rows drawn
   from rng; the checks' names start with name. */
static void gc_check_layer(lpdm_ctx *ctx, lpdm_rng *rng, const lpdm_layer_kind *k, lpdm_layer *l, int B, double tol,
                           const char *name) {
  int p = l->in_dim, q = l->out_dim;
  float *X = malloc(sizeof(float) * B * p), *Y = malloc(sizeof(float) * B * q);
  float *C = malloc(sizeof(float) * B * q), *dY = malloc(sizeof(float) * B * q);
  float *dX = malloc(sizeof(float) * B * p);
  gc_fill(rng, X, (size_t)B * p, 1.0);
  gc_fill(rng, C, (size_t)B * q, 1.0);
  k->forward(l, X, B, Y, ctx);
  memcpy(dY, C, sizeof(float) * B * q);
  for (int j = 0; j < l->nparams; j++) memset(l->params[j].g, 0, l->params[j].n * sizeof(float));
  int rc = k->backward(l, X, Y, B, dY, dX, ctx);
  ok(rc == 0, "%s: backward runs", name);
  const float h = 1e-2f;
  size_t n = (size_t)B * p;
  double *fd = malloc(sizeof(double) * n), *an = malloc(sizeof(double) * n);
  for (size_t i = 0; i < n; i++) {
    fd[i] = gc_diff(ctx, k, l, &X[i], X, B, Y, C, h);
    an[i] = dX[i];
  }
  double e = gc_rel_err(fd, an, n);
  ok(e < tol, "%s: dL/dX matches finite differences (rel err %.2g)", name, e);
  free(fd);
  free(an);
  for (int j = 0; j < l->nparams; j++) {
    lpdm_param *pr = &l->params[j];
    fd = malloc(sizeof(double) * pr->n);
    an = malloc(sizeof(double) * pr->n);
    for (size_t i = 0; i < pr->n; i++) {
      fd[i] = gc_diff(ctx, k, l, &pr->w[i], X, B, Y, C, h);
      an[i] = pr->g[i];
    }
    e = gc_rel_err(fd, an, pr->n);
    ok(e < tol, "%s: dL/d%s matches finite differences (rel err %.2g)", name, pr->name, e);
    free(fd);
    free(an);
  }
  if (l->nparams > 0) {
    /* backward adds into every g; without dX it gives the same parameter
       gradients */
    size_t total = 0;
    for (int j = 0; j < l->nparams; j++) total += l->params[j].n;
    float *g0 = malloc(sizeof(float) * total), *g = g0;
    for (int j = 0; j < l->nparams; j++) {
      memcpy(g, l->params[j].g, sizeof(float) * l->params[j].n);
      g += l->params[j].n;
    }
    memcpy(dY, C, sizeof(float) * B * q);
    k->forward(l, X, B, Y, ctx);
    k->backward(l, X, Y, B, dY, NULL, ctx);
    double worst = 0;
    g = g0;
    for (int j = 0; j < l->nparams; j++) {
      for (size_t i = 0; i < l->params[j].n; i++)
        worst = fmax(worst, fabs(l->params[j].g[i] - 2 * g[i]) / (1e-3 + fabs(g[i])));
      g += l->params[j].n;
    }
    ok(worst < 1e-4, "%s: backward adds into every parameter's gradient (and needs no dX)", name);
    free(g0);
  }
  free(X);
  free(Y);
  free(C);
  free(dY);
  free(dX);
}

#endif
