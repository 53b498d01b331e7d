/* SPDX-License-Identifier: MIT */
/*
** mahalanobis.c -- a Mahalanobis distance with a diagonal covariance
** estimated from the batch itself: the Euclidean distance after each
** feature is divided by its standard deviation over the batch,
**
**     mu_k  = (1/B) sum_i x_ik,    v_k = (1/B) sum_i (x_ik - mu_k)^2
**     w_k   = 1 / (v_k + eps)
**     D_ij  = sqrt( sum_k w_k (x_ik - x_jk)^2 )
**
** Every feature then counts alike, whatever its scale: the distance is
** unchanged when a feature is scaled or shifted (up to eps), so a layer
** cannot lower its loss by inflating one unit.
**
** pairwise: Z = (X - mu) diag(sqrt(w)) (centring costs nothing here and
** spares the Gram form a cancellation), then as euclidean.c: one
** cblas_ssyrk, D_ij = sqrt(max(n_i + n_j - 2 G_ij, 0)).
**
** vjp: the scale is differentiated through (w depends on the whole batch).
** With S_ij = (dD_ij + dD_ji) / D_ij (0 where D_ij = 0), r = rowsum(S),
** Xc = X - mu and Q = diag(r) Xc - S Xc (one cblas_sgemm),
**     direct:        dX_ik  = w_k Q_ik
**     through w_k:   dL/dw_k = (1/2) sum_i Xc_ik Q_ik,
**                    dw_k/dv_k = -w_k^2,  dv_k/dx_ik = 2 Xc_ik / B
**     dX_ik = w_k Q_ik - (w_k^2 / B) (sum_i Xc_ik Q_ik) Xc_ik
** (the path through mu vanishes: D does not move when a column shifts).
** detach_scale = true drops the second term, treating w as a constant (a
** stop-gradient on the statistics, as some whitening layers do).
**
** Degenerate cases: identical rows have D = 0 and no gradient between them
** (as euclidean.c). A constant feature has v_k = 0, w_k = 1/eps and Xc = 0:
** it adds nothing to any distance and gets no gradient. A feature of tiny
** variance is magnified up to 1/sqrt(eps): that is what standardising does.
**
** Work: B^2 + B + B d floats (within LPDM_DIST_WORK); the per-feature
** statistics live in stack blocks of LPDM_PAIRS_COLS.
**
** Config keys (defaults):
**   eps          = 1e-5    added to each feature's variance (> 0)
**   detach_scale = false   true: w is a constant in the vjp
**
** Lua:
**   lpdm.algo("reinforce", { ..., mode = "local", distance = "mahalanobis" })
**   lpdm.algo("reinforce", { ..., distance = { "mahalanobis", detach_scale = true } })
*/
#include <cblas.h>
#include <math.h>

#include "pairs.h"

static const char NAME[] = "distance.mahalanobis";

static const lpdm_key keys[] = {
    {"eps", LPDM_T_NUMBER, "1e-5", "added to each feature's batch variance (> 0)"},
    {"detach_scale", LPDM_T_BOOL, "false", "treat the per-feature scale as a constant in the vjp"},
    {NULL, 0, NULL, NULL}};

static int create(lpdm_distance *self, lpdm_ctx *ctx) {
  double eps = lpdm_cfg_num(&self->cfg, "eps");
  if (!(eps > 0 && isfinite(eps)))
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: eps must be finite and > 0, got %g", NAME, eps);
  return LPDM_OK;
}

/* Z = (X - mu) sqrt(w) (scale != 0) or X - mu (scale == 0), B x d. */
LPDM_VECTORIZE static void standardise(const float *X, int B, int d, double eps, int scale, float *Z) {
  double mu[LPDM_PAIRS_COLS], var[LPDM_PAIRS_COLS];
  float m[LPDM_PAIRS_COLS], s[LPDM_PAIRS_COLS];
  for (int k0 = 0; k0 < d; k0 += LPDM_PAIRS_COLS) {
    const int k1 = k0 + LPDM_PAIRS_COLS < d ? k0 + LPDM_PAIRS_COLS : d, n = k1 - k0;
    lpdm_pairs_colstats(X, B, d, k0, k1, mu, var);
    for (int t = 0; t < n; t++) {
      m[t] = (float)mu[t];
      s[t] = scale ? (float)(1.0 / sqrt(var[t] + eps)) : 1.0f;
    }
    for (int i = 0; i < B; i++) {
      const float *x = X + (size_t)i * d + k0;
      float *z = Z + (size_t)i * d + k0;
#pragma omp simd
      for (int t = 0; t < n; t++) z[t] = (x[t] - m[t]) * s[t];
    }
  }
}

LPDM_VECTORIZE static int pairwise(const lpdm_distance *self, const float *X, int B, int d, float *D, float *work,
                                   lpdm_ctx *ctx) {
  int rc = lpdm_pairs_check(ctx, NAME, B, d);
  if (rc) return rc;
  float *nrm = work, *Z = work + B; /* B, B x d */
  standardise(X, B, d, lpdm_cfg_num(&self->cfg, "eps"), 1, Z);
  lpdm_pairs_sqdist(Z, B, d, D, nrm);
  for (int i = 0; i < B; i++) {
    float *Di = D + (size_t)i * B;
#pragma omp simd
    for (int j = i + 1; j < B; j++) Di[j] = sqrtf(Di[j]);
  }
  lpdm_k_mirror_upper(D, B);
  return LPDM_OK;
}

LPDM_VECTORIZE static int vjp(const lpdm_distance *self, const float *X, int B, int d, const float *D, const float *dD,
                              float *dX, float *work, lpdm_ctx *ctx) {
  int rc = lpdm_pairs_check(ctx, NAME, B, d);
  if (rc) return rc;
  const double eps = lpdm_cfg_num(&self->cfg, "eps");
  const int detach = lpdm_cfg_bool(&self->cfg, "detach_scale");
  float *S = work, *r = work + (size_t)B * B, *Xc = r + B; /* B^2, B, B x d */
  standardise(X, B, d, eps, 0, Xc);
  lpdm_pairs_sym(dD, S, B);
  for (int i = 0; i < B; i++) {
    float *Si = S + (size_t)i * B;
    const float *Di = D + (size_t)i * B;
    float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
    for (int j = 0; j < B; j++) {
      const float s = Di[j] > 0.0f ? Si[j] / Di[j] : 0.0f;
      Si[j] = s;
      acc += s;
    }
    r[i] = acc;
  }
  /* Q = diag(r) Xc - S Xc, built in dX */
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, d, B, -1.0f, S, B, Xc, d, 0.0f, dX, d);
  for (int i = 0; i < B; i++) {
    float *q = dX + (size_t)i * d;
    const float *x = Xc + (size_t)i * d;
    const float ri = r[i];
#pragma omp simd
    for (int k = 0; k < d; k++) q[k] += ri * x[k];
  }
  /* per feature block: w, sum_i Xc Q, then dX = w Q - (w^2 / B) (sum Xc Q) Xc */
  double var[LPDM_PAIRS_COLS], xq[LPDM_PAIRS_COLS];
  float a[LPDM_PAIRS_COLS], c[LPDM_PAIRS_COLS];
  for (int k0 = 0; k0 < d; k0 += LPDM_PAIRS_COLS) {
    const int k1 = k0 + LPDM_PAIRS_COLS < d ? k0 + LPDM_PAIRS_COLS : d, n = k1 - k0;
    for (int t = 0; t < n; t++) var[t] = xq[t] = 0;
    for (int i = 0; i < B; i++) {
      const float *x = Xc + (size_t)i * d + k0, *q = dX + (size_t)i * d + k0;
#pragma omp simd
      for (int t = 0; t < n; t++) {
        var[t] += (double)x[t] * x[t];
        xq[t] += (double)x[t] * q[t];
      }
    }
    for (int t = 0; t < n; t++) {
      const double w = 1.0 / (var[t] / B + eps);
      a[t] = (float)w;
      c[t] = detach ? 0.0f : (float)(w * w * xq[t] / B);
    }
    for (int i = 0; i < B; i++) {
      const float *x = Xc + (size_t)i * d + k0;
      float *q = dX + (size_t)i * d + k0;
#pragma omp simd
      for (int t = 0; t < n; t++) q[t] = a[t] * q[t] - c[t] * x[t];
    }
  }
  return LPDM_OK;
}

static const lpdm_distance_kind mahalanobis_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_DISTANCE, "distance.mahalanobis",
                             "Euclidean distance of the batch-standardised features (diagonal Mahalanobis)", keys),
    .pairwise = pairwise,
    .vjp = vjp,
    .create = create,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_mahalanobis(void) { return &mahalanobis_kind.head; }
