/* SPDX-License-Identifier: MIT */
/*
** pairs.h -- kernels shared by the distance plugins of plugins/distances/
** (an internal header, not part of the ABI).
**
**   lpdm_pairs_check     refuses B < 1 or d < 1, naming the plugin
**   LPDM_PAIRS_TILED     the tiled pair loop of manhattan and chebyshev
**   lpdm_pairs_l2_rows   a block of rows of the (squared) euclidean distance
**   lpdm_pairs_l2_rows_vjp  and its vector-Jacobian product (ABI 1.2 row
**                        callbacks of euclidean and sqeuclidean)
**   lpdm_pairs_sqdist    squared distances of the rows of Z from their Gram
**                        matrix (one cblas_ssyrk): the upper triangle of D,
**                        D_ii = 0, the lower triangle left for the caller
**   lpdm_pairs_sym       S = dD + dD^T with a zero diagonal (the gradient
**                        on a symmetric matrix's free entries)
**   lpdm_pairs_colstats  the mean and the biased variance of columns
**                        [k0, k1) of X, summed in double
**
** Everything works inside the caller's buffers: nothing allocates. Column
** statistics go to the caller's stack arrays of at most LPDM_PAIRS_COLS
** entries, so that a distance needs no work memory proportional to d
** beyond the B x d that LPDM_DIST_WORK grants.
*/
#ifndef LPDM_DISTANCES_PAIRS_H
#define LPDM_DISTANCES_PAIRS_H
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "lpdm/lpdm.h"

/* Width of a column block (stack arrays of doubles of this size). */
#define LPDM_PAIRS_COLS 64

/* Rows per tile of the blocked B x B loops (manhattan, chebyshev): two
   tiles of 32 rows of 256 floats fit in 64 KiB. */
#define LPDM_PAIRS_TILE 32

/* The body of a direct-loop distance's pairwise(): the upper triangle of
   D (B x B) by tiles of LPDM_PAIRS_TILE rows, four pairs at a time through
   K4(xi, xj, xj+d, xj+2d, xj+3d, d, out) and the rest through
   K1(xi, xj, d), each tile's values mirrored into the lower triangle while
   its lines are in cache; D_ii = 0. A statement rather than a function, so
   that each plugin's kernels inline into its own vectorised pairwise(). */
#define LPDM_PAIRS_TILED(X, B, d, D, K4, K1)                                                \
  do {                                                                                    \
    const int T_ = LPDM_PAIRS_TILE;                                                       \
    for (int ib = 0; ib < (B); ib += T_) {                                                \
      const int ie = ib + T_ < (B) ? ib + T_ : (B);                                       \
      for (int jb = ib; jb < (B); jb += T_) {                                             \
        const int je = jb + T_ < (B) ? jb + T_ : (B);                                     \
        for (int i = ib; i < ie; i++) {                                                   \
          const float *xi = (X) + (size_t)i * (d);                                        \
          float *Di = (D) + (size_t)i * (B);                                              \
          int j = jb > i + 1 ? jb : i + 1;                                                \
          for (; j + 4 <= je; j += 4) {                                                   \
            const float *xj = (X) + (size_t)j * (d);                                      \
            K4(xi, xj, xj + (d), xj + 2 * (size_t)(d), xj + 3 * (size_t)(d), (d), Di + j); \
          }                                                                               \
          for (; j < je; j++) Di[j] = K1(xi, (X) + (size_t)j * (d), (d));                 \
          for (j = jb > i + 1 ? jb : i + 1; j < je; j++) (D)[(size_t)j * (B) + i] = Di[j]; \
        }                                                                                 \
      }                                                                                   \
    }                                                                                     \
    for (int i = 0; i < (B); i++) (D)[(size_t)i * (B) + i] = 0.0f;                        \
  } while (0)

static inline int lpdm_pairs_check(lpdm_ctx *ctx, const char *name, int B, int d) {
  if (B < 1 || d < 1)
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: needs B >= 1 rows of d >= 1 features, got %d x %d", name, B, d);
  return LPDM_OK;
}

/* D_ij = max(n_i + n_j - 2 G_ij, 0) for j > i, D_ii = 0, with G = Z Z^T
   and n_i = G_ii (written to nrm, B floats). The lower triangle of D is
   left as ssyrk leaves it (unspecified): mirror it when done. */
static inline void lpdm_pairs_sqdist(const float *Z, int B, int d, float *D, float *nrm) {
  cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, B, d, 1.0f, Z, d, 0.0f, D, B);
  for (int i = 0; i < B; i++) nrm[i] = D[(size_t)i * B + i];
  for (int i = 0; i < B; i++) {
    float *Di = D + (size_t)i * B;
    const float ni = nrm[i];
#pragma omp simd
    for (int j = i + 1; j < B; j++) {
      float s = ni + nrm[j] - 2.0f * Di[j];
      Di[j] = s > 0.0f ? s : 0.0f;
    }
    Di[i] = 0.0f;
  }
}

/* S = dD + dD^T, S_ii = 0. */
static inline void lpdm_pairs_sym(const float *dD, float *S, int B) {
  lpdm_k_transpose(dD, S, B);
  for (int i = 0; i < B; i++) {
    float *Si = S + (size_t)i * B;
    const float *gi = dD + (size_t)i * B;
#pragma omp simd
    for (int j = 0; j < B; j++) Si[j] += gi[j];
    Si[i] = 0.0f;
  }
}

/* mu[k - k0] = mean_i X_ik, var[k - k0] = mean_i (X_ik - mu)^2 for
   k0 <= k < k1 (k1 - k0 <= LPDM_PAIRS_COLS), two passes in double. */
static inline void lpdm_pairs_colstats(const float *X, int B, int d, int k0, int k1, double *mu, double *var) {
  const int n = k1 - k0;
  for (int t = 0; t < n; t++) mu[t] = var[t] = 0;
  for (int i = 0; i < B; i++) {
    const float *x = X + (size_t)i * d + k0;
#pragma omp simd
    for (int t = 0; t < n; t++) mu[t] += x[t];
  }
  for (int t = 0; t < n; t++) mu[t] /= B;
  for (int i = 0; i < B; i++) {
    const float *x = X + (size_t)i * d + k0;
#pragma omp simd
    for (int t = 0; t < n; t++) {
      double c = x[t] - mu[t];
      var[t] += c * c;
    }
  }
  for (int t = 0; t < n; t++) var[t] /= B;
}

/* Rows [r->i0, r->i1) of the euclidean distance matrix, squared
   (root = 0) or not (root = 1), for a distance's pairwise_rows: each
   row's listed partners pair by pair (r->J), or whole rows from one GEMM
   against X and the squared row norms (nrm: B floats of the work). */
static inline void lpdm_pairs_l2_rows(const float *X, int B, int d, const lpdm_rows *r, float *D, float *nrm,
                                      int root) {
  const int nb = r->i1 - r->i0, w = r->w;
  if (r->J) {
    for (int i = r->i0; i < r->i1; i++) {
      const float *xi = X + (size_t)i * d;
      const int *J = r->J + (size_t)(i - r->i0) * w;
      float *Di = D + (size_t)(i - r->i0) * w;
      for (int t = 0; t < w; t++) {
        const float *xj = X + (size_t)J[t] * d;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int k = 0; k < d; k++) s += (xi[k] - xj[k]) * (xi[k] - xj[k]);
        Di[t] = root ? sqrtf(s) : s;
      }
    }
    return;
  }
  for (int j = 0; j < B; j++) {
    const float *x = X + (size_t)j * d;
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int k = 0; k < d; k++) s += x[k] * x[k];
    nrm[j] = s;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, B, d, 1.0f, X + (size_t)r->i0 * d, d, X, d, 0.0f, D, B);
  for (int i = r->i0; i < r->i1; i++) {
    float *Di = D + (size_t)(i - r->i0) * B;
    const float ni = nrm[i];
#pragma omp simd
    for (int j = 0; j < B; j++) {
      const float s = ni + nrm[j] - 2.0f * Di[j], c = s > 0.0f ? s : 0.0f;
      Di[j] = root ? sqrtf(c) : c;
    }
    Di[i] = 0.0f;
  }
}

/* dX += the vector-Jacobian product of lpdm_pairs_l2_rows' block D (the
   host zeroes dX and calls the blocks in order): with S_ij = dD_ij / D_ij
   (root; 0 where D_ij = 0) or dD_ij (squared), and c = 1 or 2,
   dx_i += c S_ij (x_i - x_j) and dx_j -= the same. Whole rows go through
   two GEMMs and the row and column sums of S (work: nb x B + B + nb). */
static inline void lpdm_pairs_l2_rows_vjp(const float *X, int B, int d, const lpdm_rows *r, const float *D,
                                          const float *dD, float *dX, float *work, int root) {
  const int nb = r->i1 - r->i0, w = r->w;
  const float c = root ? 1.0f : 2.0f;
  if (r->J) {
    for (int i = r->i0; i < r->i1; i++) {
      const size_t o = (size_t)(i - r->i0) * w;
      const float *xi = X + (size_t)i * d;
      float *gi = dX + (size_t)i * d;
      for (int t = 0; t < w; t++) {
        const float s = root ? (D[o + t] > 0.0f ? dD[o + t] / D[o + t] : 0.0f) : c * dD[o + t];
        if (s == 0.0f) continue;
        const int j = r->J[o + t];
        const float *xj = X + (size_t)j * d;
        float *gj = dX + (size_t)j * d;
#pragma omp simd
        for (int k = 0; k < d; k++) {
          const float v = s * (xi[k] - xj[k]);
          gi[k] += v;
          gj[k] -= v;
        }
      }
    }
    return;
  }
  float *S = work, *cs = work + (size_t)nb * B, *rs = cs + B; /* nb x B, B, nb */
  memset(cs, 0, (size_t)B * sizeof *cs);
  for (int i = 0; i < nb; i++) {
    float *Si = S + (size_t)i * B;
    const float *Di = D + (size_t)i * B, *gi = dD + (size_t)i * B;
    if (root) {
#pragma omp simd
      for (int j = 0; j < B; j++) { /* read and divide unconditionally: no masked loads */
        const float q = gi[j] / Di[j];
        Si[j] = Di[j] > 0.0f ? q : 0.0f;
      }
    } else {
      memcpy(Si, gi, (size_t)B * sizeof *Si);
    }
    Si[r->i0 + i] = 0.0f; /* D_ii is constant (and 0: S_ii is 0 already with root) */
    float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
    for (int j = 0; j < B; j++) acc += Si[j];
    rs[i] = c * acc;
#pragma omp simd
    for (int j = 0; j < B; j++) cs[j] += Si[j];
  }
  const float *Xb = X + (size_t)r->i0 * d;
  float *dXb = dX + (size_t)r->i0 * d;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb, d, B, -c, S, B, X, d, 1.0f, dXb, d);
  for (int i = 0; i < nb; i++) {
    float *o = dXb + (size_t)i * d;
    const float *x = Xb + (size_t)i * d, ri = rs[i];
#pragma omp simd
    for (int k = 0; k < d; k++) o[k] += ri * x[k];
  }
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, B, d, nb, -c, S, B, Xb, d, 1.0f, dX, d);
  for (int j = 0; j < B; j++) {
    float *o = dX + (size_t)j * d;
    const float *x = X + (size_t)j * d, cj = c * cs[j];
    if (cj == 0.0f) continue;
#pragma omp simd
    for (int k = 0; k < d; k++) o[k] += cj * x[k];
  }
}

#endif
