/* SPDX-License-Identifier: MIT */
/*
** chebyshev.c -- the Chebyshev (L-infinity, maximum) distance between the
** rows of a batch,
**
**     D_ij = max_k |x_ik - x_jk|
**
** Two samples are as far apart as their most different feature.
**
** pairwise: no Gram-matrix form, so no BLAS: the upper triangle in tiles
** of LPDM_PAIRS_TILE x LPDM_PAIRS_TILE row pairs, one row against four
** others at a time, the feature loop a vectorised max reduction
** (LPDM_VECTORIZE), each value also written to its mirror position while
** the tile is in cache. 3 flops per pair and feature.
**
** vjp: the gradient of a pair goes to its argmax coordinate k*,
**     dX_ik* += S_ij sign(x_ik* - x_jk*),   dX_jk* -= S_ij sign(...)
** with S = dD + dD^T. Ties (several k with |x_ik - x_jk| = D_ij): the
** whole gradient goes to the LOWEST such k, a valid subgradient, and the
** same choice for (i, j) and (j, i). The argmax is found again from X and
** D (the first k with |x_ik - x_jk| == D_ij, exact in float since D_ij is
** one of those values), 64 features per vectorised step, pairs visited in
** the tiles of pairwise. When D is not pairwise()'s own output and no
** coordinate matches, the largest |x_ik - x_jk| is used. Identical rows
** (D = 0): no gradient between them. O(B^2 d); work: B^2 floats for S.
**
** Config keys: none.
**
** Lua:
**   lpdm.algo("reinforce", { ..., mode = "local", distance = "chebyshev" })
*/
#include <math.h>
#include <string.h>

#include "pairs.h"

static const char NAME[] = "distance.chebyshev";

/* out[t] = max_k |a_k - b_t,k| for four rows b_t. */
static inline void linf_4(const float *a, const float *b0, const float *b1, const float *b2, const float *b3, int d,
                          float *out) {
  float m0 = 0.0f, m1 = 0.0f, m2 = 0.0f, m3 = 0.0f;
#pragma omp simd reduction(max : m0, m1, m2, m3)
  for (int k = 0; k < d; k++) {
    const float x = a[k];
    const float v0 = fabsf(x - b0[k]), v1 = fabsf(x - b1[k]), v2 = fabsf(x - b2[k]), v3 = fabsf(x - b3[k]);
    m0 = v0 > m0 ? v0 : m0;
    m1 = v1 > m1 ? v1 : m1;
    m2 = v2 > m2 ? v2 : m2;
    m3 = v3 > m3 ? v3 : m3;
  }
  out[0] = m0;
  out[1] = m1;
  out[2] = m2;
  out[3] = m3;
}

static inline float linf_1(const float *a, const float *b, int d) {
  float m = 0.0f;
#pragma omp simd reduction(max : m)
  for (int k = 0; k < d; k++) {
    const float v = fabsf(a[k] - b[k]);
    m = v > m ? v : m;
  }
  return m;
}

LPDM_VECTORIZE static int pairwise(const lpdm_distance *self, const float *X, int B, int d, float *D, float *work,
                                   lpdm_ctx *ctx) {
  int rc = lpdm_pairs_check(ctx, NAME, B, d);
  if (rc) return rc;
  LPDM_PAIRS_TILED(X, B, d, D, linf_4, linf_1);
  return LPDM_OK;
}

/* The lowest k with |a_k - b_k| == m (a vectorised min-index search, 64
   features at a time); without one, the lowest argmax. */
static inline int argmax_first(const float *a, const float *b, int d, float m) {
  enum { C = 64 };
  for (int k0 = 0; k0 < d; k0 += C) {
    const int n = d - k0 < C ? d - k0 : C;
    int km = d;
#pragma omp simd reduction(min : km)
    for (int t = 0; t < n; t++) {
      const int c = fabsf(a[k0 + t] - b[k0 + t]) == m ? k0 + t : d;
      km = c < km ? c : km;
    }
    if (km < d) return km;
  }
  int best = 0;
  float bv = -1.0f;
  for (int k = 0; k < d; k++) {
    const float v = fabsf(a[k] - b[k]);
    if (v > bv) {
      bv = v;
      best = k;
    }
  }
  return best;
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
        const float *Di = D + (size_t)i * B, *Si = S + (size_t)i * B;
        for (int j = jb > i + 1 ? jb : i + 1; j < je; j++) {
          const float s = Si[j];
          if (s == 0.0f || !(Di[j] > 0.0f)) continue;
          const float *xj = X + (size_t)j * d;
          const int k = argmax_first(xi, xj, d, Di[j]);
          const float v = xi[k] > xj[k] ? s : (xi[k] < xj[k] ? -s : 0.0f);
          dX[(size_t)i * d + k] += v;
          dX[(size_t)j * d + k] -= v;
        }
      }
    }
  }
  return LPDM_OK;
}

static const lpdm_distance_kind chebyshev_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_DISTANCE, "distance.chebyshev",
                             "Chebyshev (L-inf) distance max_k |x_ik - x_jk|", NULL),
    .pairwise = pairwise,
    .vjp = vjp,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_chebyshev(void) { return &chebyshev_kind.head; }
