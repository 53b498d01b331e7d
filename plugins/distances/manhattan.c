/* SPDX-License-Identifier: MIT */
/*
** manhattan.c -- the Manhattan (L1, city-block) distance between the rows
** of a batch,
**
**     D_ij = sum_k |x_ik - x_jk|
**
** Less dominated by a few large coordinates than the Euclidean distance,
** and every coordinate's gradient has the same size.
**
** pairwise: no Gram-matrix form, so no BLAS. The upper triangle is
** visited in tiles of LPDM_PAIRS_TILE x LPDM_PAIRS_TILE row pairs (both
** tiles' rows stay in cache), one row against four others at a time, the
** feature loop a vectorised sum (built for AVX2+FMA and the baseline,
** LPDM_VECTORIZE), each value also written to its mirror position while
** the tile is in cache. 3 flops per pair and feature.
**
** vjp: dD_ij/dx_ik = sign(x_ik - x_jk), with sign(0) = 0 (the subgradient
** of |t| at 0 that keeps identical coordinates where they are). With
** S = dD + dD^T, for each pair i < j and feature k
**     dX_ik += S_ij sign(x_ik - x_jk),   dX_jk -= S_ij sign(x_ik - x_jk)
** in the same tiles, vectorised over k. O(B^2 d); work: B^2 floats for S.
** Identical rows: D = 0 and no gradient between them.
**
** Config keys: none.
**
** Lua:
**   lpdm.algo("reinforce", { ..., mode = "local", distance = "manhattan" })
*/
#include <math.h>
#include <string.h>

#include "pairs.h"

static const char NAME[] = "distance.manhattan";

/* out[t] = sum_k |a_k - b_t,k| for four rows b_t. */
static inline void l1_4(const float *a, const float *b0, const float *b1, const float *b2, const float *b3, int d,
                        float *out) {
  float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
  for (int k = 0; k < d; k++) {
    const float x = a[k];
    s0 += fabsf(x - b0[k]);
    s1 += fabsf(x - b1[k]);
    s2 += fabsf(x - b2[k]);
    s3 += fabsf(x - b3[k]);
  }
  out[0] = s0;
  out[1] = s1;
  out[2] = s2;
  out[3] = s3;
}

static inline float l1_1(const float *a, const float *b, int d) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int k = 0; k < d; k++) s += fabsf(a[k] - b[k]);
  return s;
}

LPDM_VECTORIZE static int pairwise(const lpdm_distance *self, const float *X, int B, int d, float *D, float *work,
                                   lpdm_ctx *ctx) {
  int rc = lpdm_pairs_check(ctx, NAME, B, d);
  if (rc) return rc;
  LPDM_PAIRS_TILED(X, B, d, D, l1_4, l1_1);
  return LPDM_OK;
}

/* gi += s sign(a - b), gj -= s sign(a - b). */
static inline void sign_pair(const float *a, const float *b, float s, float *gi, float *gj, int d) {
#pragma omp simd
  for (int k = 0; k < d; k++) {
    const float t = a[k] - b[k];
    const float v = (t > 0.0f ? s : 0.0f) - (t < 0.0f ? s : 0.0f);
    gi[k] += v;
    gj[k] -= v;
  }
}

LPDM_VECTORIZE static int vjp(const lpdm_distance *self, const float *X, int B, int d, const float *D, const float *dD,
                              float *dX, float *work, lpdm_ctx *ctx) {
  int rc = lpdm_pairs_check(ctx, NAME, B, d);
  if (rc) return rc;
  float *S = work; /* dD + dD^T, read by rows */
  lpdm_pairs_sym(dD, S, B);
  memset(dX, 0, sizeof(float) * (size_t)B * d);
  const int T = LPDM_PAIRS_TILE;
  for (int ib = 0; ib < B; ib += T) {
    const int ie = ib + T < B ? ib + T : B;
    for (int jb = ib; jb < B; jb += T) {
      const int je = jb + T < B ? jb + T : B;
      for (int i = ib; i < ie; i++) {
        const float *xi = X + (size_t)i * d;
        float *gi = dX + (size_t)i * d;
        const float *Si = S + (size_t)i * B;
        for (int j = jb > i + 1 ? jb : i + 1; j < je; j++) {
          const float s = Si[j];
          if (s != 0.0f) sign_pair(xi, X + (size_t)j * d, s, gi, dX + (size_t)j * d, d);
        }
      }
    }
  }
  return LPDM_OK;
}

static const lpdm_distance_kind manhattan_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_DISTANCE, "distance.manhattan",
                             "Manhattan (L1) distance sum_k |x_ik - x_jk|", NULL),
    .pairwise = pairwise,
    .vjp = vjp,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_manhattan(void) { return &manhattan_kind.head; }
