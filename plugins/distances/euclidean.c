/* SPDX-License-Identifier: MIT */
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
** The O(B^2) passes around them (the sqrt and the mirror of the syrk's
** triangle; dD's transpose, S and its row sums) go by panels of PR rows,
** each finished while it is in cache, and transpose through a local tile
** (a plain transpose of a power-of-two B puts a column's rows on one L1
** set, and cost more than the sgemm). Every value is the same expression
** as in the untiled loops, and the row sums are the same loop: the results
** are those of the untiled code to the bit (bench_kernels --check compares
** two builds; docs/performance.md, "Local-loss kernels").
**
** The upper triangle (ABI 2.1, the local update's path when its loss has
** eval_upper): pairwise_upper is the syrk and one sqrt pass over i < j,
** nothing mirrored; vjp_upper takes the pair's whole gradient dD_ij (i < j),
** forms S_ij = dD_ij / D_ij there with the full row sums r (row i's entries
** plus column i's), and dX = diag(r) X - S X by one cblas_ssymm on S's
** upper triangle: no transpose of dD, half the O(B^2) passes. (A mirrored
** S and cblas_sgemm measured no faster than the ssymm; a direct
** |x_i - x_j| for narrow X, d = 4, no faster than the syrk.)
**
** Row blocks (ABI 1.2, for batches whose B x B matrix does not fit):
** pairwise_rows forms rows i0..i1 as X[i0:i1] X^T (one cblas_sgemm) with the
** norms n_j recomputed (O(B d), small beside the product); vjp_rows, with
** S_ij = dD_ij / D_ij over the block, r_i its row sums and c_j its column
** sums, adds
**     dX[i0:i1] += diag(r) X[i0:i1] - S X          (rows i: D_ij's x_i)
**     dX        += diag(c) X - S^T X[i0:i1]        (rows j: D_ij's x_j)
** (two cblas_sgemm). Listed partners (r->J) are computed pair by pair,
** D_ij = |x_i - x_j| directly, and their vjp scattered pair by pair.
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
#include "pairs.h"

/* Panels of PR rows (a panel of D or S, PR x B floats, fits a 1 MiB L2 up
   to B = 4096) and transpose tiles of PR x TC floats (16 KiB, in L1). The
   results do not depend on either. */
enum { PR = 64, TC = 64 };

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

/* dst[c * ldd + r] = src[r * lds + c], r < h, c < w: by 4 x 4 blocks in
   SSE registers where there is SSE (x86-64 always has it). */
static inline void transpose(const float *src, size_t lds, float *dst, size_t ldd, int h, int w) {
  int r = 0;
#if defined(__SSE__)
  for (; r + 4 <= h; r += 4) {
    const float *s = src + (size_t)r * lds;
    int c = 0;
    for (; c + 4 <= w; c += 4) {
      __m128 a0 = _mm_loadu_ps(s + c), a1 = _mm_loadu_ps(s + lds + c), a2 = _mm_loadu_ps(s + 2 * lds + c),
             a3 = _mm_loadu_ps(s + 3 * lds + c);
      _MM_TRANSPOSE4_PS(a0, a1, a2, a3);
      float *o = dst + (size_t)c * ldd + r;
      _mm_storeu_ps(o, a0);
      _mm_storeu_ps(o + ldd, a1);
      _mm_storeu_ps(o + 2 * ldd, a2);
      _mm_storeu_ps(o + 3 * ldd, a3);
    }
    for (; c < w; c++)
      for (int k = 0; k < 4; k++) dst[(size_t)c * ldd + r + k] = s[k * lds + c];
  }
#endif
  for (; r < h; r++)
    for (int c = 0; c < w; c++) dst[(size_t)c * ldd + r] = src[(size_t)r * lds + c];
}

/* D's rows i0 <= i < i1, finished: the sqrt over the upper triangle (the
   syrk left G there), the diagonal zeroed, and the lower triangle of
   columns i0..i1 of later rows filled by mirroring (rows j >= i1 are
   finished by their own panels later). */
LPDM_VECTORIZE static void finish_rows(float *D, const float *nrm, int B, int i0, int i1) {
  float t[TC * PR];
  for (int i = i0; i < i1; i++) {
    float *Di = D + (size_t)i * B;
    const float ni = nrm[i];
    for (int j = i + 1; j < B; j++) {
      float s = ni + nrm[j] - 2.0f * Di[j];
      Di[j] = sqrtf(s > 0.0f ? s : 0.0f);
    }
    Di[i] = 0.0f;
  }
  const int h = i1 - i0;
  for (int j0 = i0; j0 < B; j0 += TC) {
    const int w = j0 + TC < B ? TC : B - j0;
    transpose(D + (size_t)i0 * B + j0, (size_t)B, t, PR, h, w);
    for (int j = 0; j < w; j++) {
      float *Dj = D + (size_t)(j0 + j) * B + i0;
      const int e = j0 + j < i1 ? j0 + j - i0 : h; /* the diagonal block: only i < j */
      memcpy(Dj, t + (size_t)j * PR, (size_t)e * sizeof *Dj);
    }
  }
}

LPDM_VECTORIZE static int pairwise(const lpdm_distance *self, const float *X, int B, int d, float *D, float *work,
                                   lpdm_ctx *ctx) {
  float *nrm = work; /* B */
  cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, B, d, 1.0f, X, d, 0.0f, D, B);
  for (int i = 0; i < B; i++) nrm[i] = D[(size_t)i * B + i];
  for (int i0 = 0; i0 < B; i0 += PR) finish_rows(D, nrm, B, i0, i0 + PR < B ? i0 + PR : B);
  return LPDM_OK;
}

/* S[i0:i1, :] = dD[:, i0:i1]^T, through a local tile (the column panel of
   dD is read by rows of h floats, S's rows written by TC floats). */
static inline void transpose_panel(const float *dD, float *S, int B, int i0, int i1) {
  float u[PR * TC];
  const int h = i1 - i0;
  for (int j0 = 0; j0 < B; j0 += TC) {
    const int w = j0 + TC < B ? TC : B - j0;
    transpose(dD + (size_t)j0 * B + i0, (size_t)B, u, TC, w, h);
    for (int i = 0; i < h; i++) memcpy(S + (size_t)(i0 + i) * B + j0, u + (size_t)i * TC, (size_t)w * sizeof *S);
  }
}

LPDM_VECTORIZE static int vjp(const lpdm_distance *self, const float *X, int B, int d, const float *D,
                              const float *dD, float *dX, float *work, lpdm_ctx *ctx) {
  float *S = work, *r = work + (size_t)B * B;
  /* S = dD^T, then S = (dD + dD^T) / D, by panels of PR rows: a panel is
     transposed into S and finished while it is in cache. The row loop is
     the untiled code's own, so the row sums keep their order (and each
     build vectorises it as it did). */
  for (int i0 = 0; i0 < B; i0 += PR) {
    const int i1 = i0 + PR < B ? i0 + PR : B;
    transpose_panel(dD, S, B, i0, i1);
    for (int i = i0; i < i1; i++) {
      float *Si = S + (size_t)i * B;
      const float *Di = D + (size_t)i * B, *gi = dD + (size_t)i * B;
      float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
      for (int j = 0; j < B; j++) {
        const float q = (gi[j] + Si[j]) / Di[j]; /* unconditional: no masked loads */
        const float s = Di[j] > 0.0f ? q : 0.0f;
        Si[j] = s;
        acc += s;
      }
      r[i] = acc;
    }
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, d, B, -1.0f, S, B, X, d, 0.0f, dX, d);
  for (int i = 0; i < B; i++) {
    float *o = dX + (size_t)i * d;
    const float *x = X + (size_t)i * d;
    for (int k = 0; k < d; k++) o[k] += r[i] * x[k];
  }
  return LPDM_OK;
}

LPDM_VECTORIZE static int pairwise_rows(const lpdm_distance *self, const float *X, int B, int d, const lpdm_rows *r,
                                        float *D, float *work, lpdm_ctx *ctx) {
  lpdm_pairs_l2_rows(X, B, d, r, D, work, 1);
  return LPDM_OK;
}

LPDM_VECTORIZE static int vjp_rows(const lpdm_distance *self, const float *X, int B, int d, const lpdm_rows *r,
                                   const float *D, const float *dD, float *dX, float *work, lpdm_ctx *ctx) {
  lpdm_pairs_l2_rows_vjp(X, B, d, r, D, dD, dX, work, 1);
  return LPDM_OK;
}

/* The upper triangle only (ABI 2.1): the syrk's G, then one pass of sqrt
   over i < j, nothing mirrored. */
LPDM_VECTORIZE static int pairwise_upper(const lpdm_distance *self, const float *X, int B, int d, float *D,
                                         float *work, lpdm_ctx *ctx) {
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
  return LPDM_OK;
}

/* dD given at i < j, the pair's whole gradient: S_ij = dD_ij / D_ij there
   (the upper triangle of the symmetric S of vjp), r its full row sums
   (row i's own entries plus column i's, accumulated as the rows go), and
   dX = diag(r) X - S X by one cblas_ssymm, which reads S's upper triangle. */
LPDM_VECTORIZE static int vjp_upper(const lpdm_distance *self, const float *X, int B, int d, const float *D,
                                    const float *dD, float *dX, float *work, lpdm_ctx *ctx) {
  float *S = work, *r = work + (size_t)B * B;
  memset(r, 0, (size_t)B * sizeof *r);
  for (int i = 0; i < B; i++) {
    float *Si = S + (size_t)i * B;
    const float *Di = D + (size_t)i * B, *gi = dD + (size_t)i * B;
    float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
    for (int j = i + 1; j < B; j++) {
      const float q = gi[j] / Di[j]; /* read and divide unconditionally: no masked loads */
      const float s = Di[j] > 0.0f ? q : 0.0f;
      Si[j] = s;
      r[j] += s;
      acc += s;
    }
    Si[i] = 0.0f;
    r[i] += acc;
  }
  cblas_ssymm(CblasRowMajor, CblasLeft, CblasUpper, B, d, -1.0f, S, B, X, d, 0.0f, dX, d);
  for (int i = 0; i < B; i++) {
    float *o = dX + (size_t)i * d;
    const float *x = X + (size_t)i * d;
    for (int k = 0; k < d; k++) o[k] += r[i] * x[k];
  }
  return LPDM_OK;
}

static const lpdm_distance_kind euclidean_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_DISTANCE, "distance.euclidean", "Euclidean distance |x_i - x_j|", NULL),
    .pairwise = pairwise,
    .vjp = vjp,
    .pairwise_rows = pairwise_rows,
    .vjp_rows = vjp_rows,
    .pairwise_upper = pairwise_upper,
    .vjp_upper = vjp_upper,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_euclidean(void) { return &euclidean_kind.head; }
