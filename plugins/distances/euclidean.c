/*
** euclidean.c -- the Euclidean distance between the rows of a batch.
**
** pairwise: with n_i = |x_i|^2 and the Gram matrix G = X X^T (one
** cblas_ssyrk), D_ij = sqrt(max(n_i + n_j - 2 G_ij, 0)), D_ii = 0.
**
** vjp: dD_ij/dx_i = (x_i - x_j) / D_ij, so with S_ij = (dD_ij + dD_ji) / D_ij
** (0 where D_ij = 0, where the distance has no gradient),
**     dX = diag(rowsum S) X - S X          (one cblas_sgemm)
** Both run at BLAS speed: O(B^2 d) flops in two level-3 calls.
**
** Config keys: none.
**
** Lua:
**   lpdm.algo("reinforce", { ..., mode = "local", distance = "euclidean" })
*/
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "lpdm/lpdm.h"

LPDM_VECTORIZE static int pairwise(const lpdm_distance *self, const float *X, int B, int d, float *D, float *work,
                    lpdm_ctx *ctx) {
  float *nrm = work; /* B */
  cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, B, d, 1.0f, X, d, 0.0f, D, B);
  for (int i = 0; i < B; i++) nrm[i] = D[(size_t)i * B + i];
  for (int i = 0; i < B; i++) {
    float *Di = D + (size_t)i * B;
    const float ni = nrm[i];
    for (int j = i + 1; j < B; j++) {
      float s = ni + nrm[j] - 2.0f * Di[j];
      Di[j] = sqrtf(s > 0.0f ? s : 0.0f);
    }
    Di[i] = 0.0f;
  }
  lpdm_k_mirror_upper(D, B);
  return LPDM_OK;
}

LPDM_VECTORIZE static int vjp(const lpdm_distance *self, const float *X, int B, int d, const float *D,
               const float *dD, float *dX, float *work, lpdm_ctx *ctx) {
  float *S = work, *r = work + (size_t)B * B;
  lpdm_k_transpose(dD, S, B); /* S = dD^T, then S = (dD + dD^T) / D */
  for (int i = 0; i < B; i++) {
    float *Si = S + (size_t)i * B;
    const float *Di = D + (size_t)i * B, *gi = dD + (size_t)i * B;
    float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
    for (int j = 0; j < B; j++) {
      float s = Di[j] > 0.0f ? (gi[j] + Si[j]) / Di[j] : 0.0f;
      Si[j] = s;
      acc += s;
    }
    r[i] = acc;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, d, B, -1.0f, S, B, X, d, 0.0f, dX, d);
  for (int i = 0; i < B; i++) {
    float *o = dX + (size_t)i * d;
    const float *x = X + (size_t)i * d;
    for (int k = 0; k < d; k++) o[k] += r[i] * x[k];
  }
  return LPDM_OK;
}

static const lpdm_distance_kind euclidean_kind = {
    LPDM_PLUGIN_HEAD(LPDM_KIND_DISTANCE, "distance.euclidean", "Euclidean distance |x_i - x_j|", NULL),
    pairwise, vjp, NULL, NULL};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_euclidean(void) { return &euclidean_kind.head; }
