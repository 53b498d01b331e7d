/* SPDX-License-Identifier: MIT */
/*
** sqeuclidean.c -- the squared Euclidean distance between the rows of a
** batch, D_ij = |x_i - x_j|^2 (not a metric: it breaks the triangle
** inequality, and weighs large gaps quadratically, as a Gaussian kernel's
** exponent does).
**
** pairwise: with n_i = |x_i|^2 and the Gram matrix G = X X^T (one
** cblas_ssyrk), D_ij = max(n_i + n_j - 2 G_ij, 0), D_ii = 0.
**
** vjp: dD_ij/dx_i = 2 (x_i - x_j), so with S = dD + dD^T (zero diagonal)
** and r_i = sum_j S_ij,
**     dX = 2 (diag(r) X - S X)          (one cblas_sgemm)
** The distance is smooth everywhere: identical rows have D = 0 and a
** gradient of 0 with respect to each other, no special case.
**
** Work: B^2 + B floats (within LPDM_DIST_WORK).
**
** Row blocks (ABI 1.2, for batches whose B x B matrix does not fit):
** pairwise_rows forms rows i0..i1 from X[i0:i1] X^T (one cblas_sgemm) and
** the norms n_j (recomputed, O(B d)); vjp_rows, with S = dD over the block
** (zero diagonal), r_i its row sums and c_j its column sums, adds
**     dX[i0:i1] += 2 (diag(r) X[i0:i1] - S X)      (rows i)
**     dX        += 2 (diag(c) X - S^T X[i0:i1])    (rows j)
** (two cblas_sgemm). Listed partners (r->J) go pair by pair. Work: the
** block's rows x B + 2 B floats (within LPDM_DIST_ROWS_WORK).
**
** Config keys: none.
**
** Lua:
**   lpdm.algo("reinforce", { ..., mode = "local", distance = "sqeuclidean" })
*/
#include <cblas.h>
#include <string.h>

#include "pairs.h"

static const char NAME[] = "distance.sqeuclidean";

LPDM_VECTORIZE static int pairwise(const lpdm_distance *self, const float *X, int B, int d, float *D, float *work,
                                   lpdm_ctx *ctx) {
  int rc = lpdm_pairs_check(ctx, NAME, B, d);
  if (rc) return rc;
  lpdm_pairs_sqdist(X, B, d, D, work);
  lpdm_k_mirror_upper(D, B);
  return LPDM_OK;
}

LPDM_VECTORIZE static int vjp(const lpdm_distance *self, const float *X, int B, int d, const float *D, const float *dD,
                              float *dX, float *work, lpdm_ctx *ctx) {
  int rc = lpdm_pairs_check(ctx, NAME, B, d);
  if (rc) return rc;
  float *S = work, *r = work + (size_t)B * B;
  lpdm_pairs_sym(dD, S, B);
  for (int i = 0; i < B; i++) {
    const float *Si = S + (size_t)i * B;
    float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
    for (int j = 0; j < B; j++) acc += Si[j];
    r[i] = 2.0f * acc;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, d, B, -2.0f, S, B, X, d, 0.0f, dX, d);
  for (int i = 0; i < B; i++) {
    float *o = dX + (size_t)i * d;
    const float *x = X + (size_t)i * d;
    const float ri = r[i];
#pragma omp simd
    for (int k = 0; k < d; k++) o[k] += ri * x[k];
  }
  return LPDM_OK;
}

LPDM_VECTORIZE static int pairwise_rows(const lpdm_distance *self, const float *X, int B, int d, const lpdm_rows *r,
                                        float *D, float *work, lpdm_ctx *ctx) {
  int rc = lpdm_pairs_check(ctx, NAME, B, d);
  if (rc) return rc;
  lpdm_pairs_l2_rows(X, B, d, r, D, work, 0);
  return LPDM_OK;
}

LPDM_VECTORIZE static int vjp_rows(const lpdm_distance *self, const float *X, int B, int d, const lpdm_rows *r,
                                   const float *D, const float *dD, float *dX, float *work, lpdm_ctx *ctx) {
  int rc = lpdm_pairs_check(ctx, NAME, B, d);
  if (rc) return rc;
  lpdm_pairs_l2_rows_vjp(X, B, d, r, D, dD, dX, work, 0);
  return LPDM_OK;
}

static const lpdm_distance_kind sqeuclidean_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_DISTANCE, "distance.sqeuclidean",
                             "squared Euclidean distance |x_i - x_j|^2", NULL),
    .pairwise = pairwise,
    .vjp = vjp,
    .pairwise_rows = pairwise_rows,
    .vjp_rows = vjp_rows,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_sqeuclidean(void) { return &sqeuclidean_kind.head; }
