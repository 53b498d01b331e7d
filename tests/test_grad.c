/* SPDX-License-Identifier: MIT */
/* test_grad.c -- finite-difference gradient checks (Torch7/THNN style) of
   the dense layer, the euclidean distance's vjp, the stress and guided
   losses (with and without scale normalisation), and the whole local-loss
   chain of one layer (also over the upper triangles, ABI 2.1's
   pairwise_upper, eval_upper and vjp_upper, which must equal the full
   callbacks: the upper entries of pairwise, eval's L, dD_ij + dD_ji, and
   vjp of the full dD; nothing below the diagonal read or written).
   Central differences in float32 with the objective
   summed in double, by liblpdm's checker (lpdm/gradcheck.h, through
   tests/gradcheck.h); a check passes when the relative error of the whole
   gradient vector, |fd - analytic| / max(|fd|, 1e-3), is below TOL. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lpdm/lpdm.h"
#include "tap.h"
#include "gradcheck.h"

#define TOL 2e-2

static lpdm_ctx *ctx;
static lpdm_rng rng;

static const lpdm_plugin *load(const char *file, int kind, const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s.so", LPDM_PLUGIN_DIR, file);
  if (!lpdm_plugin_find(ctx, kind, name) && lpdm_plugin_load(ctx, path)) {
    diag("load %s: %s", path, lpdm_ctx_message(ctx));
    return NULL;
  }
  return lpdm_plugin_find(ctx, kind, name);
}

/* ---- dense: f = sum C .* layer(X) */
static void check_dense(const lpdm_layer_kind *k, const char *act, int B, int p, int q) {
  lpdm_config cfg;
  lpdm_config_init(ctx, &k->head, &cfg);
  lpdm_config_set_num(ctx, &cfg, "dense", "out", q);
  lpdm_config_set_str(ctx, &cfg, "dense", "act", act);
  lpdm_layer *l = NULL;
  if (k->init(k, &cfg, p, &rng, &l, ctx)) {
    ok(0, "dense init: %s", lpdm_ctx_message(ctx));
    return;
  }
  if (!strcmp(act, "relu")) /* keep inputs away from the kink */
    for (int i = 0; i < l->params[1].cols; i++) l->params[1].w[i] += 0.3f;
  char name[64];
  snprintf(name, sizeof name, "dense(%s) %dx%d->%d", act, B, p, q);
  gc_check_layer(ctx, &rng, k, l, B, TOL, name);
  k->free(l);
}

/* ---- euclidean vjp: f = sum C .* D(X) */
static void check_distance(const lpdm_distance_kind *k, int B, int d) {
  lpdm_distance *dist = NULL;
  lpdm_distance_new(ctx, k, NULL, &dist);
  float *X = malloc(sizeof(float) * B * d), *D = malloc(sizeof(float) * B * B);
  float *C = malloc(sizeof(float) * B * B), *dX = malloc(sizeof(float) * B * d);
  float *work = malloc(sizeof(float) * LPDM_DIST_WORK(B, d));
  gc_fill(&rng, X, (size_t)B * d, 1.0);
  gc_fill(&rng, C, (size_t)B * B, 1.0);
  k->pairwise(dist, X, B, d, D, work, ctx);
  /* direct check of the values */
  double maxerr = 0, sym = 0;
  for (int i = 0; i < B; i++)
    for (int j = 0; j < B; j++) {
      double s = 0;
      for (int t = 0; t < d; t++) s += ((double)X[i * d + t] - X[j * d + t]) * ((double)X[i * d + t] - X[j * d + t]);
      maxerr = fmax(maxerr, fabs(sqrt(s) - D[i * B + j]));
      sym = fmax(sym, fabs(D[i * B + j] - D[j * B + i]));
    }
  ok(maxerr < 1e-4 && sym == 0, "%s: pairwise equals the direct formula (max err %.2g), symmetric", k->head.name, maxerr);
  /* vjp against finite differences of sum C .* D(X) */
  const lpdm_fd_opts o = gc_opts(TOL);
  lpdm_fd_result r;
  int rc = lpdm_fd_distance_at(ctx, dist, X, B, d, C, &o, &rng, &r);
  if (!ok(rc == 0 && r.pass, "%s %dx%d: vjp matches finite differences", k->head.name, B, d))
    diag("relative error %.3g (%s)", r.err, lpdm_ctx_message(ctx));
  size_t n = (size_t)B * d;
  /* duplicate rows: zero distance, finite gradient */
  memcpy(X + d, X, sizeof(float) * d);
  k->pairwise(dist, X, B, d, D, work, ctx);
  k->vjp(dist, X, B, d, D, C, dX, work, ctx);
  ok(D[1] == 0 && lpdm_check_finite(ctx, dX, n, "dX") == 0, "%s: duplicate rows give distance 0 and a finite gradient", k->head.name);
  free(X);
  free(D);
  free(C);
  free(dX);
  free(work);
  lpdm_distance_free(dist);
}

/* A random valid distance matrix (of random points). */
static void random_dist(const lpdm_distance_kind *dk, float *D, int B, int d) {
  float *X = malloc(sizeof(float) * B * d), *work = malloc(sizeof(float) * LPDM_DIST_WORK(B, d));
  gc_fill(&rng, X, (size_t)B * d, 1.0);
  lpdm_distance dist = {dk, {0}, NULL};
  dk->pairwise(&dist, X, B, d, D, work, ctx);
  free(X);
  free(work);
}

/* ---- losses: dL/dDY on the off-diagonal, perturbing DY_ij and DY_ji together */
static void check_loss(const lpdm_loss_kind *k, const lpdm_distance_kind *dk, int normalize, double alpha, int B) {
  lpdm_config cfg;
  lpdm_config_init(ctx, &k->head, &cfg);
  lpdm_config_set_bool(ctx, &cfg, k->head.name, "normalize", normalize);
  if (lpdm_config_index(&cfg, "alpha") >= 0) lpdm_config_set_num(ctx, &cfg, k->head.name, "alpha", alpha);
  lpdm_loss *loss = NULL;
  lpdm_loss_new(ctx, k, &cfg, &loss);
  float *DX = malloc(sizeof(float) * B * B), *DY = malloc(sizeof(float) * B * B);
  float *dD = malloc(sizeof(float) * B * B), *tmp = malloc(sizeof(float) * B * B), g[64];
  random_dist(dk, DX, B, 3);
  random_dist(dk, DY, B, 5);
  for (int i = 0; i < B; i++) g[i] = (float)(10 * lpdm_rng_uniform(&rng));
  double L;
  int rc = k->eval(loss, DX, DY, g, B, &L, dD, ctx);
  ok(rc == 0 && L >= 0, "%s(normalize=%d, alpha=%g): eval ok, L=%.4g >= 0", k->head.name, normalize, alpha, L);
  int diag_zero = 1;
  for (int i = 0; i < B; i++)
    if (dD[i * B + i] != 0) diag_zero = 0;
  lpdm_fd_opts o = gc_opts(TOL);
  o.h = 1e-3;
  lpdm_fd_result r;
  rc = lpdm_fd_loss_at(ctx, loss, DX, DY, g, B, &o, &rng, &r);
  if (!ok(rc == 0 && r.pass && diag_zero, "%s(normalize=%d, alpha=%g): dL/dDY matches finite differences", k->head.name,
          normalize, alpha))
    diag("relative error %.3g (%s)", r.err, lpdm_ctx_message(ctx));
  /* scale: with normalisation, scaling DY leaves the loss unchanged */
  if (normalize) {
    for (int i = 0; i < B * B; i++) tmp[i] = 3.0f * DY[i];
    double L3;
    k->eval(loss, DX, tmp, g, B, &L3, dD, ctx);
    ok(fabs(L3 - L) < 1e-5 * (1 + L), "%s: normalised loss is blind to the scale of DY (%.6g vs %.6g)", k->head.name, L3, L);
  } else {
    double L0;
    k->eval(loss, DX, DX, g, B, &L0, dD, ctx);
    if (alpha == 0) ok(L0 == 0, "%s(normalize=0): DY == DX gives zero loss", k->head.name);
  }
  free(DX);
  free(DY);
  free(dD);
  free(tmp);
  lpdm_loss_free(loss);
}

/* ---- the upper-triangle callbacks against the full ones. A NaN below the
   diagonal of every input shows a read of it; a sentinel below the
   diagonal of every output, a write. */
static int lower_is(const float *A, int B, int nan_or_val, float v) {
  for (int i = 1; i < B; i++)
    for (int j = 0; j < i; j++)
      if (nan_or_val ? !isnan(A[i * B + j]) : A[i * B + j] != v) return 0;
  return 1;
}

static void poison_lower(float *A, int B, float v) {
  for (int i = 1; i < B; i++)
    for (int j = 0; j < i; j++) A[i * B + j] = v;
}

static double max_rel(const float *a, const float *b, size_t n, double floor_) {
  double m = 0, s = floor_;
  for (size_t i = 0; i < n; i++) s = fmax(s, fabs((double)b[i]));
  for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - (double)b[i]) / s);
  return m;
}

static void check_upper_distance(const lpdm_distance_kind *k, int B, int d) {
  lpdm_distance *dist = NULL;
  lpdm_distance_new(ctx, k, NULL, &dist);
  float *X = malloc(sizeof(float) * B * d), *D = malloc(sizeof(float) * B * B), *U = malloc(sizeof(float) * B * B);
  float *C = malloc(sizeof(float) * B * B), *Cu = malloc(sizeof(float) * B * B);
  float *dX = malloc(sizeof(float) * B * d), *dXu = malloc(sizeof(float) * B * d);
  float *work = malloc(sizeof(float) * LPDM_DIST_WORK(B, d));
  gc_fill(&rng, X, (size_t)B * d, 1.0);
  for (int i = 0; i < B * B; i++) C[i] = (float)lpdm_rng_normal(&rng);
  for (int i = 0; i < B; i++)
    for (int j = 0; j < B; j++) Cu[i * B + j] = j > i ? C[i * B + j] + C[j * B + i] : NAN;
  k->pairwise(dist, X, B, d, D, work, ctx);
  poison_lower(U, B, -7.0f);
  int rc = k->pairwise_upper(dist, X, B, d, U, work, ctx);
  double err = 0;
  int diag0 = 1;
  for (int i = 0; i < B; i++) {
    diag0 &= U[i * B + i] == 0;
    for (int j = i + 1; j < B; j++) err = fmax(err, fabs(U[i * B + j] - D[i * B + j]) / fmax(1.0, D[i * B + j]));
  }
  ok(rc == 0 && err < 1e-5 && diag0 && lower_is(U, B, 0, -7.0f),
     "%s %dx%d: pairwise_upper is pairwise's upper triangle (max err %.2g), zero diagonal, lower untouched",
     k->head.name, B, d, err);
  k->vjp(dist, X, B, d, D, C, dX, work, ctx);
  poison_lower(U, B, NAN);
  rc = k->vjp_upper(dist, X, B, d, U, Cu, dXu, work, ctx);
  err = max_rel(dXu, dX, (size_t)B * d, 1e-3);
  ok(rc == 0 && err < 1e-4, "%s %dx%d: vjp_upper of dD_ij + dD_ji is vjp of dD (rel err %.2g), reads no lower entry",
     k->head.name, B, d, err);
  free(X);
  free(D);
  free(U);
  free(C);
  free(Cu);
  free(dX);
  free(dXu);
  free(work);
  lpdm_distance_free(dist);
}

static void check_upper_loss(const lpdm_loss_kind *k, const lpdm_distance_kind *dk, int normalize, double alpha, int B) {
  lpdm_config cfg;
  lpdm_config_init(ctx, &k->head, &cfg);
  lpdm_config_set_bool(ctx, &cfg, k->head.name, "normalize", normalize);
  if (lpdm_config_index(&cfg, "alpha") >= 0) lpdm_config_set_num(ctx, &cfg, k->head.name, "alpha", alpha);
  lpdm_loss *loss = NULL;
  lpdm_loss_new(ctx, k, &cfg, &loss);
  const size_t BB = (size_t)B * B;
  float *DX = malloc(sizeof(float) * BB), *DY = malloc(sizeof(float) * BB), *dD = malloc(sizeof(float) * BB);
  float *uX = malloc(sizeof(float) * BB), *uY = malloc(sizeof(float) * BB), *du = malloc(sizeof(float) * BB);
  float *want = malloc(sizeof(float) * BB), *got = malloc(sizeof(float) * BB), g[64];
  random_dist(dk, DX, B, 3);
  random_dist(dk, DY, B, 5);
  for (int i = 0; i < B; i++) g[i] = (float)(10 * lpdm_rng_uniform(&rng));
  memcpy(uX, DX, sizeof(float) * BB);
  memcpy(uY, DY, sizeof(float) * BB);
  poison_lower(uX, B, NAN);
  poison_lower(uY, B, NAN);
  poison_lower(du, B, -7.0f);
  double L, Lu;
  int rc = k->eval(loss, DX, DY, g, B, &L, dD, ctx) || k->eval_upper(loss, uX, uY, g, B, &Lu, du, ctx);
  size_t n = 0;
  for (int i = 0; i < B; i++)
    for (int j = i + 1; j < B; j++, n++) {
      want[n] = dD[i * B + j] + dD[j * B + i];
      got[n] = du[i * B + j];
    }
  double err = max_rel(got, want, n, 1e-6);
  ok(rc == 0 && fabs(Lu - L) <= 1e-5 * L && err < 1e-4 && lower_is(du, B, 0, -7.0f),
     "%s(normalize=%d, alpha=%g) B=%d: eval_upper gives eval's L (%.7g vs %.7g) and dD_ij + dD_ji (rel err %.2g), "
     "reads and writes nothing below the diagonal",
     k->head.name, normalize, alpha, B, Lu, L, err);
  free(DX);
  free(DY);
  free(dD);
  free(uX);
  free(uY);
  free(du);
  free(want);
  free(got);
  lpdm_loss_free(loss);
}

/* ---- the whole local step of one dense layer: dL/dW through dist and loss */
static double chain_loss(const lpdm_layer_kind *lk, lpdm_layer *l, const lpdm_distance *dist, const lpdm_loss *loss,
                         const float *X, int B, const float *g, float *Y, float *DX, float *DY, float *dD, float *work,
                         int upper) {
  double L;
  lk->forward(l, X, B, Y, ctx);
  if (upper) {
    dist->kind->pairwise_upper(dist, X, B, l->in_dim, DX, work, ctx);
    dist->kind->pairwise_upper(dist, Y, B, l->out_dim, DY, work, ctx);
    loss->kind->eval_upper(loss, DX, DY, g, B, &L, dD, ctx);
    return L;
  }
  dist->kind->pairwise(dist, X, B, l->in_dim, DX, work, ctx);
  dist->kind->pairwise(dist, Y, B, l->out_dim, DY, work, ctx);
  loss->kind->eval(loss, DX, DY, g, B, &L, dD, ctx);
  return L;
}

typedef struct chain {
  const lpdm_layer_kind *lk;
  lpdm_layer *l;
  const lpdm_distance *dist;
  const lpdm_loss *loss;
  const float *X;
  int B;
  const float *g;
  float *Y, *DX, *DY, *dD, *work;
  int upper;
} chain;

static double chain_f(void *u) {
  chain *c = u;
  return chain_loss(c->lk, c->l, c->dist, c->loss, c->X, c->B, c->g, c->Y, c->DX, c->DY, c->dD, c->work, c->upper);
}

static void check_chain(const lpdm_layer_kind *lk, const lpdm_distance_kind *dk, const lpdm_loss_kind *k, int upper) {
  const int B = 12, p = 4, q = 7;
  lpdm_config cfg;
  lpdm_config_init(ctx, &lk->head, &cfg);
  lpdm_config_set_num(ctx, &cfg, "dense", "out", q);
  lpdm_layer *l = NULL;
  lk->init(lk, &cfg, p, &rng, &l, ctx);
  lpdm_distance *dist = NULL;
  lpdm_distance_new(ctx, dk, NULL, &dist);
  lpdm_loss *loss = NULL;
  lpdm_loss_new(ctx, k, NULL, &loss);
  float X[B * p], Y[B * q], DX[B * B], DY[B * B], dD[B * B], dY[B * q], g[B];
  float *work = malloc(sizeof(float) * LPDM_DIST_WORK(B, q));
  gc_fill(&rng, X, B * p, 1.0);
  for (int i = 0; i < B; i++) g[i] = (float)(i % 3);
  chain_loss(lk, l, dist, loss, X, B, g, Y, DX, DY, dD, work, upper);
  if (upper) dk->vjp_upper(dist, Y, B, q, DY, dD, dY, work, ctx);
  else dk->vjp(dist, Y, B, q, DY, dD, dY, work, ctx);
  for (int j = 0; j < l->nparams; j++) memset(l->params[j].g, 0, l->params[j].n * sizeof(float));
  lk->backward(l, X, Y, B, dY, NULL, ctx);
  lpdm_param *W = &l->params[0];
  chain ch = {lk, l, dist, loss, X, B, g, Y, DX, DY, dD, work, upper};
  const lpdm_fd_opts o = gc_opts(TOL);
  lpdm_fd_result r;
  int rc = lpdm_fd_check_vec(ctx, chain_f, &ch, W->w, W->g, W->n, &o, &rng, &r);
  if (!ok(rc == 0 && r.pass, "local chain dense->%s->%s%s: dL/dW matches finite differences", dk->head.name,
          k->head.name, upper ? " (upper triangles)" : ""))
    diag("relative error %.3g", r.err);
  free(work);
  lk->free(l);
  lpdm_distance_free(dist);
  lpdm_loss_free(loss);
}

int main(void) {
  ctx = lpdm_ctx_new();
  lpdm_rng_seed(&rng, 42);
  const lpdm_layer_kind *dense = (const lpdm_layer_kind *)load("dense", LPDM_KIND_LAYER, "dense");
  const lpdm_distance_kind *eu = (const lpdm_distance_kind *)load("euclidean", LPDM_KIND_DISTANCE, "euclidean");
  const lpdm_loss_kind *stress = (const lpdm_loss_kind *)load("stress", LPDM_KIND_LOSS, "stress");
  const lpdm_loss_kind *guided = (const lpdm_loss_kind *)load("guided", LPDM_KIND_LOSS, "guided");
  const lpdm_loss_kind *kernel = (const lpdm_loss_kind *)load("kernel", LPDM_KIND_LOSS, "kernel");
  if (!dense || !eu || !stress || !guided || !kernel) {
    printf("Bail out! plugins missing: %s\n", lpdm_ctx_message(ctx));
    return 1;
  }
  const char *acts[] = {"tanh", "relu", "identity"};
  for (int i = 0; i < 3; i++) check_dense(dense, acts[i], 5, 4, 6);
  check_distance(eu, 9, 5);
  check_distance(eu, 6, 1);
  check_loss(stress, eu, 1, 0, 10);
  check_loss(stress, eu, 0, 0, 10);
  check_loss(guided, eu, 1, 0.5, 10);
  check_loss(guided, eu, 0, 0.5, 10);
  check_loss(guided, eu, 1, 1.0, 8);
  check_chain(dense, eu, stress, 0);
  check_chain(dense, eu, guided, 0);
  check_upper_distance(eu, 9, 5);
  check_upper_distance(eu, 70, 3); /* more than one panel of rows */
  check_upper_distance(eu, 33, 64);
  check_upper_loss(stress, eu, 1, 0, 10);
  check_upper_loss(stress, eu, 0, 0, 10);
  check_upper_loss(guided, eu, 1, 0.5, 10);
  check_upper_loss(guided, eu, 0, 0.5, 17);
  check_upper_loss(guided, eu, 1, 1.0, 2);
  /* loss.kernel (PPO's local default): rows longer than its 16 float lanes too */
  check_upper_loss(kernel, eu, 1, 0.5, 10);
  check_upper_loss(kernel, eu, 0, 0.5, 17);
  check_upper_loss(kernel, eu, 1, 0.0, 40);
  check_upper_loss(kernel, eu, 1, 1.0, 64);
  check_chain(dense, eu, stress, 1);
  check_chain(dense, eu, guided, 1);
  check_chain(dense, eu, kernel, 0);
  check_chain(dense, eu, kernel, 1);
  lpdm_ctx_free(ctx);
  return done_testing();
}
