/* SPDX-License-Identifier: MIT */
/* gradcheck.c -- finite-difference gradient checks of distances, losses and
   layers (lpdm/gradcheck.h says what is checked and how). Used by lpdm's
   own tests (tests/gradcheck.h wraps these in TAP) and installed with the
   SDK for out-of-tree plugins. Nothing here is on a training path. */
#include "lpdm/gradcheck.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

lpdm_fd_opts lpdm_fd_default(void) {
  lpdm_fd_opts o = {.h = 1e-2, .tol = 1e-2, .floor = 1e-3, .max_coords = 200, .kinks = 1, .scale = 1.0, .jitter = 0.1};
  return o;
}

static int bad_opts(lpdm_ctx *ctx, const lpdm_fd_opts *o) {
  if (!(o->h > 0) || !(o->tol > 0) || !(o->floor > 0) || o->max_coords < 0 || !isfinite(o->h))
    return lpdm_error(ctx, LPDM_ERR_ARG,
                      "gradcheck: h, tol and floor must be > 0 and max_coords >= 0 (got h %g, tol %g, floor %g, "
                      "max_coords %d)",
                      o->h, o->tol, o->floor, o->max_coords);
  return LPDM_OK;
}

int lpdm_fd_check(lpdm_ctx *ctx, lpdm_fd_fn f, void *user, const double *analytic, size_t n, const lpdm_fd_opts *o,
                  lpdm_rng *rng, lpdm_fd_result *r) {
  memset(r, 0, sizeof *r);
  r->err = NAN;
  int rc = bad_opts(ctx, o);
  if (rc) return rc;
  const int all = o->max_coords == 0 || n <= (size_t)o->max_coords;
  const size_t count = all ? n : (size_t)o->max_coords;
  const double h = o->h;
  double num = 0, den = 0;
  for (size_t c = 0; c < count; c++) {
    const size_t i = all ? c : rng ? (size_t)lpdm_rng_below(rng, n) : c;
    const double f1 = (f(user, i, h) - f(user, i, -h)) / (2 * h);
    if (o->kinks) {
      const double f2 = (f(user, i, h / 2) - f(user, i, -h / 2)) / h;
      if (fabs(f1 - f2) > o->tol * fmax(1.0, fabs(f1))) {
        r->dropped++;
        continue;
      }
    }
    r->kept++;
    num += (f1 - analytic[i]) * (f1 - analytic[i]);
    den += f1 * f1;
  }
  r->err = sqrt(num) / fmax(sqrt(den), o->floor);
  r->pass = r->err <= o->tol && r->kept > 0 && r->dropped * 10 <= r->kept + r->dropped;
  return LPDM_OK;
}

/* ------------------------------------------------------------ float vectors */

typedef struct vec_obj {
  double (*f)(void *user);
  void *user;
  float *v;
} vec_obj;

static double vec_f(void *u, size_t i, double delta) {
  vec_obj *o = u;
  const float v0 = o->v[i];
  o->v[i] = (float)(v0 + delta);
  const double y = o->f(o->user);
  o->v[i] = v0;
  return y;
}

int lpdm_fd_check_vec(lpdm_ctx *ctx, double (*f)(void *user), void *user, float *v, const float *grad, size_t n,
                      const lpdm_fd_opts *o, lpdm_rng *rng, lpdm_fd_result *r) {
  double *an = malloc(sizeof(double) * (n ? n : 1));
  if (!an) {
    memset(r, 0, sizeof *r);
    return lpdm_error(ctx, LPDM_ERR_MEM, "gradcheck: out of memory (%zu values)", n);
  }
  for (size_t i = 0; i < n; i++) an[i] = grad[i];
  vec_obj vo = {f, user, v};
  int rc = lpdm_fd_check(ctx, vec_f, &vo, an, n, o, rng, r);
  free(an);
  return rc;
}

static double dot(const float *a, const float *b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
  return s;
}

static void fill(lpdm_rng *rng, float *x, size_t n, double scale) {
  for (size_t i = 0; i < n; i++) x[i] = (float)(scale * lpdm_rng_normal(rng));
}

/* ------------------------------------------------------------ distances */

typedef struct dist_obj {
  lpdm_ctx *ctx;
  const lpdm_distance *d;
  const float *X, *W;
  int B, dim, rc;
  float *D, *work;
} dist_obj;

static double dist_f(void *u) {
  dist_obj *o = u;
  int rc = o->d->kind->pairwise(o->d, o->X, o->B, o->dim, o->D, o->work, o->ctx);
  if (rc && !o->rc) o->rc = rc;
  return dot(o->W, o->D, (size_t)o->B * o->B);
}

int lpdm_fd_distance_at(lpdm_ctx *ctx, const lpdm_distance *d, float *X, int B, int dim, const float *W,
                        const lpdm_fd_opts *o, lpdm_rng *rng, lpdm_fd_result *r) {
  memset(r, 0, sizeof *r);
  if (B < 2 || dim < 1) return lpdm_error(ctx, LPDM_ERR_ARG, "gradcheck: a distance needs B >= 2, dim >= 1");
  const size_t n = (size_t)B * dim;
  float *D = malloc(sizeof(float) * B * B), *dX = malloc(sizeof(float) * n);
  float *work = malloc(sizeof(float) * LPDM_DIST_WORK(B, dim));
  int rc = D && dX && work ? LPDM_OK : lpdm_error(ctx, LPDM_ERR_MEM, "gradcheck: out of memory");
  if (!rc) rc = d->kind->pairwise(d, X, B, dim, D, work, ctx);
  if (!rc) rc = d->kind->vjp(d, X, B, dim, D, W, dX, work, ctx);
  if (!rc) rc = lpdm_config_check(ctx, &d->cfg, d->kind->head.name);
  dist_obj ob = {ctx, d, X, W, B, dim, 0, D, work};
  if (!rc) rc = lpdm_fd_check_vec(ctx, dist_f, &ob, X, dX, n, o, rng, r);
  if (!rc && ob.rc) rc = ob.rc;
  if (rc) r->pass = 0;
  free(D);
  free(dX);
  free(work);
  return rc ? lpdm_ctx_prefix(ctx, rc, "gradcheck of %s", d->kind->head.name) : LPDM_OK;
}

int lpdm_fd_distance(lpdm_ctx *ctx, const lpdm_distance *d, int B, int dim, const lpdm_fd_opts *o, lpdm_rng *rng,
                     lpdm_fd_result *r) {
  memset(r, 0, sizeof *r);
  if (B < 2 || dim < 1) return lpdm_error(ctx, LPDM_ERR_ARG, "gradcheck: a distance needs B >= 2, dim >= 1");
  float *X = malloc(sizeof(float) * B * dim), *W = malloc(sizeof(float) * B * B);
  int rc = X && W ? LPDM_OK : lpdm_error(ctx, LPDM_ERR_MEM, "gradcheck: out of memory");
  if (!rc) {
    fill(rng, X, (size_t)B * dim, o->scale);
    fill(rng, W, (size_t)B * B, 1.0);
    rc = lpdm_fd_distance_at(ctx, d, X, B, dim, W, o, rng, r);
  }
  free(X);
  free(W);
  return rc;
}

/* ------------------------------------------------------------ losses */

typedef struct loss_obj {
  lpdm_ctx *ctx;
  const lpdm_loss *l;
  const float *DX, *g;
  float *DY, *tmp;
  int B, rc;
  const int *pi, *pj;
} loss_obj;

static double loss_f(void *u, size_t k, double delta) {
  loss_obj *o = u;
  const int B = o->B, i = o->pi[k], j = o->pj[k];
  const float y0 = o->DY[i * B + j];
  o->DY[i * B + j] = o->DY[j * B + i] = (float)(y0 + delta);
  double L = NAN;
  int rc = o->l->kind->eval(o->l, o->DX, o->DY, o->g, B, &L, o->tmp, o->ctx);
  if (rc && !o->rc) o->rc = rc;
  o->DY[i * B + j] = o->DY[j * B + i] = y0;
  return L;
}

int lpdm_fd_loss_at(lpdm_ctx *ctx, const lpdm_loss *l, const float *DX, float *DY, const float *g, int B,
                    const lpdm_fd_opts *o, lpdm_rng *rng, lpdm_fd_result *r) {
  memset(r, 0, sizeof *r);
  if (B < 2) return lpdm_error(ctx, LPDM_ERR_ARG, "gradcheck: a loss needs B >= 2");
  if (!l->kind->eval)
    return lpdm_error(ctx, LPDM_ERR_ARG, "gradcheck: %s is a learning rule, not a distance-matching loss",
                      l->kind->head.name);
  const size_t BB = (size_t)B * B, np = (size_t)B * (B - 1) / 2;
  float *dD = malloc(sizeof(float) * BB), *tmp = malloc(sizeof(float) * BB);
  int *pi = malloc(sizeof(int) * np), *pj = malloc(sizeof(int) * np);
  double *an = malloc(sizeof(double) * np), L;
  int rc = dD && tmp && pi && pj && an ? LPDM_OK : lpdm_error(ctx, LPDM_ERR_MEM, "gradcheck: out of memory");
  if (!rc) rc = l->kind->eval(l, DX, DY, g, B, &L, dD, ctx);
  if (!rc) rc = lpdm_config_check(ctx, &l->cfg, l->kind->head.name);
  if (!rc) {
    size_t k = 0;
    for (int i = 0; i < B; i++)
      for (int j = i + 1; j < B; j++, k++) {
        pi[k] = i;
        pj[k] = j;
        an[k] = (double)dD[i * B + j] + dD[j * B + i];
      }
    loss_obj ob = {ctx, l, DX, g, DY, tmp, B, 0, pi, pj};
    rc = lpdm_fd_check(ctx, loss_f, &ob, an, np, o, rng, r);
    if (!rc && ob.rc) rc = ob.rc;
  }
  if (rc) r->pass = 0;
  free(dD);
  free(tmp);
  free(pi);
  free(pj);
  free(an);
  return rc ? lpdm_ctx_prefix(ctx, rc, "gradcheck of %s", l->kind->head.name) : LPDM_OK;
}

/* D (B x B) = Euclidean distances of B normal points in d dimensions. */
static int euclid(lpdm_rng *rng, float *D, int B, int d) {
  double *x = malloc(sizeof(double) * B * d);
  if (!x) return LPDM_ERR_MEM;
  for (int i = 0; i < B * d; i++) x[i] = lpdm_rng_normal(rng);
  for (int i = 0; i < B; i++)
    for (int j = 0; j < B; j++) {
      double s = 0;
      for (int k = 0; k < d; k++) s += (x[i * d + k] - x[j * d + k]) * (x[i * d + k] - x[j * d + k]);
      D[i * B + j] = (float)sqrt(s);
    }
  free(x);
  return LPDM_OK;
}

int lpdm_fd_loss(lpdm_ctx *ctx, const lpdm_loss *l, int B, const lpdm_fd_opts *o, lpdm_rng *rng, lpdm_fd_result *r) {
  memset(r, 0, sizeof *r);
  if (B < 2) return lpdm_error(ctx, LPDM_ERR_ARG, "gradcheck: a loss needs B >= 2");
  float *DX = malloc(sizeof(float) * B * B), *DY = malloc(sizeof(float) * B * B), *g = malloc(sizeof(float) * B);
  int rc = DX && DY && g ? LPDM_OK : LPDM_ERR_MEM;
  if (!rc) rc = euclid(rng, DX, B, 3);
  if (!rc) rc = euclid(rng, DY, B, 4);
  if (rc) rc = lpdm_error(ctx, LPDM_ERR_MEM, "gradcheck: out of memory");
  if (!rc) {
    for (int i = 0; i < B; i++) g[i] = (float)(5 * lpdm_rng_uniform(rng));
    rc = lpdm_fd_loss_at(ctx, l, DX, DY, g, B, o, rng, r);
  }
  free(DX);
  free(DY);
  free(g);
  return rc;
}

/* ------------------------------------------------------------ layers */

typedef struct layer_obj {
  lpdm_ctx *ctx;
  lpdm_layer *l;
  const float *X, *C;
  float *Y;
  int B, rc;
} layer_obj;

static double layer_f(void *u) {
  layer_obj *o = u;
  int rc = o->l->kind->forward(o->l, o->X, o->B, o->Y, o->ctx);
  if (rc && !o->rc) o->rc = rc;
  return dot(o->C, o->Y, (size_t)o->B * o->l->out_dim);
}

int lpdm_fd_layer_at(lpdm_ctx *ctx, lpdm_layer *l, float *X, int B, const float *C, const lpdm_fd_opts *o,
                     lpdm_rng *rng, lpdm_fd_layer_result *r) {
  memset(r, 0, sizeof *r);
  const lpdm_layer_kind *k = l->kind;
  if (!k->backward) return lpdm_error(ctx, LPDM_ERR_ARG, "gradcheck: %s has no backward (a black box)", k->head.name);
  if (B < 1) return lpdm_error(ctx, LPDM_ERR_ARG, "gradcheck: a layer needs B >= 1");
  const size_t nin = (size_t)B * l->in_dim, nout = (size_t)B * l->out_dim;
  size_t total = 0;
  for (int j = 0; j < l->nparams; j++) total += l->params[j].n;
  float *Y = malloc(sizeof(float) * nout), *dY = malloc(sizeof(float) * nout), *dX = malloc(sizeof(float) * nin);
  float *g0 = malloc(sizeof(float) * (total ? total : 1));
  int rc = Y && dY && dX && g0 ? LPDM_OK : lpdm_error(ctx, LPDM_ERR_MEM, "gradcheck: out of memory");
  for (int j = 0; !rc && j < l->nparams; j++) memset(l->params[j].g, 0, sizeof(float) * l->params[j].n);
  if (!rc) memcpy(dY, C, sizeof(float) * nout);
  if (!rc) rc = k->forward(l, X, B, Y, ctx);
  if (!rc) rc = k->backward(l, X, Y, B, dY, dX, ctx);
  if (!rc) rc = lpdm_config_check(ctx, &l->cfg, k->head.name);
  layer_obj ob = {ctx, l, X, C, Y, B, 0};
  if (!rc) rc = lpdm_fd_check_vec(ctx, layer_f, &ob, X, dX, nin, o, rng, &r->dX);
  int pass = r->dX.pass;
  for (int j = 0; !rc && j < l->nparams; j++) {
    lpdm_param *p = &l->params[j];
    rc = lpdm_fd_check_vec(ctx, layer_f, &ob, p->w, p->g, p->n, o, rng, &r->param[j]);
    pass = pass && r->param[j].pass;
  }
  if (!rc && ob.rc) rc = ob.rc;
  if (!rc && l->nparams > 0) { /* backward adds into every g, and needs no dX */
    float *g = g0;
    for (int j = 0; j < l->nparams; j++) {
      memcpy(g, l->params[j].g, sizeof(float) * l->params[j].n);
      g += l->params[j].n;
    }
    memcpy(dY, C, sizeof(float) * nout);
    rc = k->forward(l, X, B, Y, ctx);
    if (!rc) rc = k->backward(l, X, Y, B, dY, NULL, ctx);
    double worst = 0;
    g = g0;
    for (int j = 0; !rc && j < l->nparams; j++) {
      for (size_t i = 0; i < l->params[j].n; i++)
        worst = fmax(worst, fabs(l->params[j].g[i] - 2 * g[i]) / (1e-3 + fabs(g[i])));
      g += l->params[j].n;
    }
    r->accumulate_err = worst;
    pass = pass && worst < 1e-4;
  }
  r->pass = !rc && pass;
  free(Y);
  free(dY);
  free(dX);
  free(g0);
  return rc ? lpdm_ctx_prefix(ctx, rc, "gradcheck of %s", k->head.name) : LPDM_OK;
}

int lpdm_fd_layer(lpdm_ctx *ctx, lpdm_layer *l, int B, const lpdm_fd_opts *o, lpdm_rng *rng, lpdm_fd_layer_result *r) {
  memset(r, 0, sizeof *r);
  if (B < 1) return lpdm_error(ctx, LPDM_ERR_ARG, "gradcheck: a layer needs B >= 1");
  float *X = malloc(sizeof(float) * B * l->in_dim), *C = malloc(sizeof(float) * B * l->out_dim);
  int rc = X && C ? LPDM_OK : lpdm_error(ctx, LPDM_ERR_MEM, "gradcheck: out of memory");
  if (!rc) {
    fill(rng, X, (size_t)B * l->in_dim, o->scale);
    fill(rng, C, (size_t)B * l->out_dim, 1.0);
    /* off special values (zero biases, unit gains): a general point */
    for (int j = 0; o->jitter != 0 && j < l->nparams; j++)
      for (size_t i = 0; i < l->params[j].n; i++) l->params[j].w[i] += (float)(o->jitter * lpdm_rng_normal(rng));
    rc = lpdm_fd_layer_at(ctx, l, X, B, C, o, rng, r);
  }
  free(X);
  free(C);
  return rc;
}
