/* SPDX-License-Identifier: MIT */
/* test_distances.c -- every distance plugin of plugins/distances/ against a
   naive double-precision reference written here from its definition.

   For each distance and a few shapes (B x d = 13 x 7, 40 x 33 (two row
   tiles of the blocked loops), 5 x 1, 4 x 300 (d > 3B: more features than
   the work buffer has spare rows)):
     * D is exactly symmetric with an exactly zero diagonal;
     * D agrees with the reference: max |D - ref| / max(1, |ref|) below
       REF_TOL_LOOP = 1e-6 for the distances computed by direct loops
       (manhattan, chebyshev) and REF_TOL_GRAM = 1e-5 for those from a
       float32 Gram matrix (euclidean, sqeuclidean, cosine, mahalanobis:
       n_i + n_j - 2 G_ij cancels);
     * the vjp (float32, for a random non-symmetric dD with a non-zero
       diagonal) matches central differences of f(X) = sum_ij W_ij D_ij(X)
       computed on the double reference (h = 1e-5): the relative error of
       the whole gradient, |fd - vjp| / max(|fd|, 1), below FD_TOL = 1e-5 (at most
       FD_MAX = 240 coordinates, drawn at random, per shape);
     * dX is overwritten, not added to (it is filled with NaN first), and
       the callbacks stay inside LPDM_DIST_WORK(B, d) floats of work (an
       exact-size allocation: ASan builds catch an overrun).
   Degenerate inputs (duplicate rows, a batch of identical rows, zero
   rows, a constant feature, B = 1) give finite D and dX, and the values
   each plugin documents for them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "lpdm/lpdm.h"
#include "tap.h"
#include "gradcheck.h"

#define REF_TOL_LOOP 1e-6
#define REF_TOL_GRAM 1e-5
#define FD_TOL 1e-5
#define FD_H 1e-5
#define FD_MAX 240

static lpdm_ctx *ctx;
static lpdm_rng rng;

/* ---- the references, in double */

typedef struct ref {
  const char *name; /* registered name */
  const char *cfg;  /* "key=value" or NULL */
  int gram;         /* computed from a Gram matrix (looser tolerance) */
  int id;
} ref;

enum { EUCLID, SQEUCLID, MANHATTAN, CHEBYSHEV, COSINE, MAHAL, MAHAL_DETACH };

static const ref refs[] = {
    {"distance.euclidean", NULL, 1, EUCLID},
    {"distance.sqeuclidean", NULL, 1, SQEUCLID},
    {"distance.manhattan", NULL, 0, MANHATTAN},
    {"distance.chebyshev", NULL, 0, CHEBYSHEV},
    {"distance.cosine", NULL, 1, COSINE},
    {"distance.mahalanobis", NULL, 1, MAHAL},
    {"distance.mahalanobis", "detach_scale=true", 1, MAHAL_DETACH},
};
#define NREFS ((int)(sizeof refs / sizeof refs[0]))

#define COS_EPS 1e-8     /* distance.cosine's default eps */
#define COS_SNAP 0x1p-20 /* distance.cosine: 1 - c below this is 0 */
#define MAHAL_EPS 1e-5   /* distance.mahalanobis's default eps */

/* Per-feature weights 1 / (var + eps) of a batch (mahalanobis). */
static void mahal_w(const double *X, int B, int d, double *w) {
  for (int k = 0; k < d; k++) {
    double mu = 0, v = 0;
    for (int i = 0; i < B; i++) mu += X[i * d + k];
    mu /= B;
    for (int i = 0; i < B; i++) v += (X[i * d + k] - mu) * (X[i * d + k] - mu);
    w[k] = 1.0 / (v / B + MAHAL_EPS);
  }
}

/* D = ref(X); wfix: mahalanobis weights held fixed (NULL: from X). */
static void ref_pairwise(int id, const double *X, int B, int d, double *D, const double *wfix) {
  double *w = NULL;
  if (id == MAHAL || id == MAHAL_DETACH) {
    w = malloc(sizeof(double) * d);
    if (wfix)
      memcpy(w, wfix, sizeof(double) * d);
    else
      mahal_w(X, B, d, w);
  }
  for (int i = 0; i < B; i++)
    for (int j = 0; j < B; j++) {
      const double *a = X + (size_t)i * d, *b = X + (size_t)j * d;
      double s = 0, na = 0, nb = 0;
      for (int k = 0; k < d; k++) {
        const double t = a[k] - b[k];
        switch (id) {
          case EUCLID:
          case SQEUCLID: s += t * t; break;
          case MANHATTAN: s += fabs(t); break;
          case CHEBYSHEV: s = fmax(s, fabs(t)); break;
          case COSINE:
            s += a[k] * b[k];
            na += a[k] * a[k];
            nb += b[k] * b[k];
            break;
          default: s += w[k] * t * t; break;
        }
      }
      if (id == EUCLID || id == MAHAL || id == MAHAL_DETACH) s = sqrt(s);
      if (id == COSINE) {
        na = sqrt(na);
        nb = sqrt(nb);
        if (na <= COS_EPS && nb <= COS_EPS)
          s = 0; /* two zero rows: the same point */
        else if (na <= COS_EPS || nb <= COS_EPS)
          s = 1; /* no direction: orthogonal */
        else
          s = fmin(fmax(1 - s / (na * nb), 0), 2);
        if (s < COS_SNAP) s = 0; /* plugin: float32 rounding noise snapped to 0 */
      }
      D[(size_t)i * B + j] = i == j ? 0 : s;
    }
  free(w);
}

/* ---- helpers */

static void fill(float *x, size_t n, double scale) {
  for (size_t i = 0; i < n; i++) x[i] = (float)(scale * lpdm_rng_normal(&rng));
}

static lpdm_distance *make(const ref *r) {
  const lpdm_distance_kind *k = (const lpdm_distance_kind *)lpdm_plugin_find(ctx, LPDM_KIND_DISTANCE, r->name);
  if (!k) return NULL;
  lpdm_config cfg;
  lpdm_config_init(ctx, &k->head, &cfg);
  if (r->cfg) {
    char key[64], val[64];
    if (sscanf(r->cfg, "%63[^=]=%63s", key, val) != 2 || lpdm_config_set_text(ctx, &cfg, r->name, key, val))
      return NULL;
  }
  lpdm_distance *dist = NULL;
  if (lpdm_distance_new(ctx, k, &cfg, &dist)) return NULL;
  return dist;
}

static const char *label(const ref *r) {
  static char buf[128]; /* test-only */
  snprintf(buf, sizeof buf, "%s%s%s", r->name, r->cfg ? " " : "", r->cfg ? r->cfg : "");
  return buf;
}

/* Runs pairwise and vjp on X (B x d) with exact-size buffers; D and dX out. */
static int run(const lpdm_distance *dist, const float *X, int B, int d, float *D, const float *dD, float *dX) {
  float *work = malloc(sizeof(float) * LPDM_DIST_WORK(B, d));
  for (size_t i = 0; i < (size_t)B * d; i++) dX[i] = NAN;
  int rc = dist->kind->pairwise(dist, X, B, d, D, work, ctx);
  if (!rc && dD) rc = dist->kind->vjp(dist, X, B, d, D, dD, dX, work, ctx);
  free(work);
  return rc;
}

static int all_finite(const float *x, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(x[i])) return 0;
  return 1;
}

/* ---- the checks on random data */

/* sum W .* ref(X) with X[i] moved by delta (the double reference). */
typedef struct refobj {
  const ref *r;
  double *Xd;
  int B, d;
  double *Dr;
  const float *W;
  const double *w0;
} refobj;

static double ref_f(void *u, size_t i, double delta) {
  refobj *o = u;
  const double x0 = o->Xd[i];
  o->Xd[i] = x0 + delta;
  ref_pairwise(o->r->id, o->Xd, o->B, o->d, o->Dr, o->w0);
  o->Xd[i] = x0;
  double f = 0;
  for (size_t t = 0; t < (size_t)o->B * o->B; t++) f += o->W[t] * o->Dr[t];
  return f;
}

static void check_shape(const ref *r, const lpdm_distance *dist, int B, int d) {
  const size_t BB = (size_t)B * B, n = (size_t)B * d;
  float *X = malloc(sizeof(float) * n), *D = malloc(sizeof(float) * BB), *W = malloc(sizeof(float) * BB);
  float *dX = malloc(sizeof(float) * n);
  double *Xd = malloc(sizeof(double) * n), *Dr = malloc(sizeof(double) * BB);
  double *fd = malloc(sizeof(double) * n), *w0 = malloc(sizeof(double) * d);
  fill(X, n, 1.0);
  if (r->id == COSINE)
    for (size_t i = 0; i < n; i++) X[i] += 0.3f; /* angles away from 90 degrees too */
  fill(W, BB, 1.0);
  int rc = run(dist, X, B, d, D, W, dX);
  if (!ok(rc == 0, "%s %dx%d: pairwise and vjp run", label(r), B, d)) {
    diag("%s", lpdm_ctx_message(ctx));
    goto out;
  }
  /* symmetry, diagonal */
  int sym = 1, diag0 = 1;
  for (int i = 0; i < B; i++) {
    if (D[(size_t)i * B + i] != 0.0f) diag0 = 0;
    for (int j = 0; j < B; j++)
      if (D[(size_t)i * B + j] != D[(size_t)j * B + i]) sym = 0;
  }
  ok(sym && diag0, "%s %dx%d: D exactly symmetric, zero diagonal", label(r), B, d);
  /* reference */
  for (size_t i = 0; i < n; i++) Xd[i] = X[i];
  ref_pairwise(r->id, Xd, B, d, Dr, NULL);
  double err = 0;
  for (size_t i = 0; i < BB; i++) err = fmax(err, fabs(D[i] - Dr[i]) / fmax(1.0, fabs(Dr[i])));
  const double tol = r->gram ? REF_TOL_GRAM : REF_TOL_LOOP;
  ok(err <= tol, "%s %dx%d: D matches the double reference (max rel err %.2g <= %.0e)", label(r), B, d, err, tol);
  /* vjp against central differences of sum W .* ref(X) */
  if (r->id == MAHAL_DETACH) mahal_w(Xd, B, d, w0);
  for (size_t i = 0; i < n; i++) fd[i] = dX[i];
  refobj ro = {r, Xd, B, d, Dr, W, r->id == MAHAL_DETACH ? w0 : NULL};
  lpdm_fd_opts o = gc_opts(FD_TOL);
  o.h = FD_H;
  o.floor = 1.0; /* relative, or absolute for a vanishing gradient */
  o.max_coords = FD_MAX;
  lpdm_fd_result fr;
  lpdm_fd_check(ctx, ref_f, &ro, fd, n, &o, &rng, &fr);
  err = fr.err;
  ok(err <= FD_TOL && all_finite(dX, n), "%s %dx%d: vjp matches finite differences (rel err %.2g <= %.0e)", label(r), B,
     d, err, FD_TOL);
out:
  free(X);
  free(D);
  free(W);
  free(dX);
  free(Xd);
  free(Dr);
  free(fd);
  free(w0);
}

/* ---- degenerate inputs */

static void check_degenerate(const ref *r, const lpdm_distance *dist) {
  enum { B = 6, d = 4 };
  float X[B * d], D[B * B], W[B * B], dX[B * d];
  fill(W, B * B, 1.0);
  const char *what[] = {"duplicate rows", "identical rows",     "a zero row",
                        "all-zero rows",  "a constant feature", "huge and tiny scales"};
  for (int c = 0; c < 6; c++) {
    fill(X, B * d, 1.0);
    switch (c) {
      case 0: memcpy(X + 2 * d, X + 4 * d, sizeof(float) * d); break;
      case 1:
        for (int i = 1; i < B; i++) memcpy(X + i * d, X, sizeof(float) * d);
        break;
      case 2: memset(X + 3 * d, 0, sizeof(float) * d); break;
      case 3: memset(X, 0, sizeof X); break;
      case 4:
        for (int i = 0; i < B; i++) X[i * d + 1] = 0.75f;
        break;
      case 5:
        for (int i = 0; i < B * d; i++) X[i] *= (i % 2) ? 1e12f : 1e-12f;
        break;
    }
    int rc = run(dist, X, B, d, D, W, dX);
    int good = rc == 0 && all_finite(D, B * B) && all_finite(dX, B * d);
    if (c == 0) good = good && D[2 * B + 4] == 0.0f && D[4 * B + 2] == 0.0f;
    if (!ok(good, "%s: %s give finite D and dX", label(r), what[c])) diag("%s", lpdm_ctx_message(ctx));
  }
  /* B = 1: a 1 x 1 zero matrix */
  fill(X, d, 1.0);
  D[0] = 1.0f;
  W[0] = 1.0f;
  int rc = run(dist, X, 1, d, D, W, dX);
  ok(rc == 0 && D[0] == 0.0f && all_finite(dX, d), "%s: B = 1 gives D = 0 and a finite dX", label(r));
}

/* ---- the documented special values */

static void check_special(lpdm_distance *const *dist) {
  /* cosine: zero rows */
  {
    const int B = 3, d = 2;
    float X[] = {1, 2, 0, 0, 0, 0}, D[9], W[9], dX[6];
    for (int i = 0; i < 9; i++) W[i] = 1;
    run(dist[COSINE], X, B, d, D, W, dX);
    ok(D[1] == 1.0f && D[2] == 1.0f && D[5] == 0.0f && dX[2] == 0 && dX[3] == 0 && dX[4] == 0 && dX[5] == 0 &&
           dX[0] == 0 && dX[1] == 0,
       "distance.cosine: a zero row is at 1 from a row with a direction, 0 from a zero row, no gradient either way");
    /* invariance to the scale of a row */
    float Y[] = {1, 2, 3, -1, 0.5f, 4}, D1[9], D2[9];
    run(dist[COSINE], Y, B, d, D1, NULL, dX);
    Y[2] *= 7;
    Y[3] *= 7;
    run(dist[COSINE], Y, B, d, D2, NULL, dX);
    double e = 0;
    for (int i = 0; i < 9; i++) e = fmax(e, fabs(D1[i] - D2[i]));
    ok(e < 1e-6, "distance.cosine: scaling a row leaves D unchanged (max diff %.2g)", e);
  }
  /* chebyshev: ties go to the lowest coordinate */
  {
    float X[] = {1, 1, 1, 0, 0, 0}, D[4], W[] = {0, 1, 0, 0}, dX[6];
    run(dist[CHEBYSHEV], X, 2, 3, D, W, dX);
    ok(D[1] == 1.0f && dX[0] == 1 && dX[1] == 0 && dX[2] == 0 && dX[3] == -1 && dX[4] == 0 && dX[5] == 0,
       "distance.chebyshev: a three-way tie sends the gradient to the lowest coordinate");
  }
  /* manhattan: sign(0) = 0 */
  {
    float X[] = {1, 2, 1, 0}, D[4], W[] = {0, 1, 0, 0}, dX[4];
    run(dist[MANHATTAN], X, 2, 2, D, W, dX);
    ok(D[1] == 2.0f && dX[0] == 0 && dX[1] == 1 && dX[2] == 0 && dX[3] == -1,
       "distance.manhattan: an equal coordinate gets no gradient");
  }
  /* mahalanobis: blind to a feature's scale and offset; a constant feature adds nothing */
  {
    enum { B = 7, d = 3 };
    float X[B * d], Y[B * d], Z[B * 2], D1[B * B], D2[B * B], D3[B * B], dX[B * d];
    fill(X, B * d, 1.0);
    for (int i = 0; i < B; i++) {
      Y[i * d] = 40 * X[i * d] - 3;
      Y[i * d + 1] = X[i * d + 1];
      Y[i * d + 2] = 0.5f * X[i * d + 2] + 5;
    }
    run(dist[MAHAL], X, B, d, D1, NULL, dX);
    run(dist[MAHAL], Y, B, d, D2, NULL, dX);
    double e = 0;
    for (int i = 0; i < B * B; i++) e = fmax(e, fabs(D1[i] - D2[i]) / fmax(1, D1[i]));
    ok(e < 1e-3, "distance.mahalanobis: scaling and shifting a feature leaves D unchanged (max rel diff %.2g)", e);
    for (int i = 0; i < B; i++) {
      X[i * d + 2] = -2.5f;
      Z[i * 2] = X[i * d];
      Z[i * 2 + 1] = X[i * d + 1];
    }
    run(dist[MAHAL], X, B, d, D1, NULL, dX);
    run(dist[MAHAL], Z, B, 2, D3, NULL, dX);
    e = 0;
    for (int i = 0; i < B * B; i++) e = fmax(e, fabs(D1[i] - D3[i]));
    ok(e < 1e-5, "distance.mahalanobis: a constant feature adds nothing to D (max diff %.2g)", e);
  }
  /* config errors name the plugin and the key */
  {
    const lpdm_distance_kind *k = (const lpdm_distance_kind *)lpdm_plugin_find(ctx, LPDM_KIND_DISTANCE, "mahalanobis");
    lpdm_config cfg;
    lpdm_config_init(ctx, &k->head, &cfg);
    lpdm_config_set_num(ctx, &cfg, "mahalanobis", "eps", 0);
    lpdm_distance *m = NULL;
    int rc = lpdm_distance_new(ctx, k, &cfg, &m);
    const char *msg = lpdm_ctx_message(ctx);
    ok(rc == LPDM_ERR_ARG && !m && strstr(msg, "distance.mahalanobis") && strstr(msg, "eps"),
       "distance.mahalanobis: eps = 0 is refused by name (%s)", msg);
    k = (const lpdm_distance_kind *)lpdm_plugin_find(ctx, LPDM_KIND_DISTANCE, "cosine");
    lpdm_config_init(ctx, &k->head, &cfg);
    lpdm_config_set_num(ctx, &cfg, "cosine", "eps", -1);
    rc = lpdm_distance_new(ctx, k, &cfg, &m);
    msg = lpdm_ctx_message(ctx);
    ok(rc == LPDM_ERR_ARG && !m && strstr(msg, "distance.cosine") && strstr(msg, "eps"),
       "distance.cosine: eps = -1 is refused by name (%s)", msg);
  }
}

int main(void) {
  ctx = fx_ctx_only((const char *const[]){"euclidean.so", "sqeuclidean.so", "manhattan.so", "chebyshev.so",
                                           "cosine.so", "mahalanobis.so", NULL});
  lpdm_rng_seed(&rng, 7);
  lpdm_distance *dist[NREFS] = {0};
  for (int r = 0; r < NREFS; r++) {
    dist[r] = make(&refs[r]);
    if (!dist[r]) {
      printf("Bail out! %s: %s\n", label(&refs[r]), lpdm_ctx_message(ctx));
      return 1;
    }
  }
  const int shapes[][2] = {{13, 7}, {40, 33}, {5, 1}, {4, 300}};
  for (int r = 0; r < NREFS; r++) {
    for (int s = 0; s < 4; s++) check_shape(&refs[r], dist[r], shapes[s][0], shapes[s][1]);
    check_degenerate(&refs[r], dist[r]);
  }
  check_special(dist);
  for (int r = 0; r < NREFS; r++) lpdm_distance_free(dist[r]);
  lpdm_ctx_free(ctx);
  return done_testing();
}
