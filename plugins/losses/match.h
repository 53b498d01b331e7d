/*
** match.h -- the distance-matching core shared by the stress and guided
** losses (an internal header of plugins/losses/, not part of the ABI).
**
** Over the N = B(B-1) off-diagonal pairs, with means mX, mY, mG of DX, DY
** and G_ij = |g_i - g_j| (each + eps), and normalize on:
**     T_ij = (1 - alpha) DX_ij / mX + alpha G_ij / mG
**     R_ij = DY_ij / mY - T_ij,        L = (1/N) sum R_ij^2
**     dL/dDY_kl = 2 / (N mY) * (R_kl - c),   c = (1/N) sum R_ij DY_ij / mY
** (the c term is the gradient through mY). With normalize off:
**     T = (1 - alpha) DX + alpha G,   R = DY - T,   dL/dDY = 2 R / N.
** alpha = 0 (or g == NULL) is the unsupervised stress.
**
** Below it, the same target and the same path through mY as separate
** pieces (lpdm_match_target_*, lpdm_match_through_mean) for the losses that
** compare DY with the target in other ways: kruskal.c, sammon.c, rank.c.
*/
#ifndef LPDM_LOSSES_MATCH_H
#define LPDM_LOSSES_MATCH_H
#include <math.h>

#include "lpdm/lpdm.h"

#ifndef LPDM_MATCH_TARGET_ONLY /* defined by the losses that use only the pieces below */
LPDM_VECTORIZE static int lpdm_match_eval(const float *DX, const float *DY, const float *g, int B, double alpha,
                           int normalize, double eps, double *L, float *dDY, lpdm_ctx *ctx) {
  if (B < 2) return lpdm_error(ctx, LPDM_ERR_ARG, "batch size must be >= 2, got %d", B);
  const double N = (double)B * (B - 1);
  if (!g) alpha = 0;
  /* The diagonals of DX, DY and |g_i - g_j| are zero, so whole-row sums
     are off-diagonal sums; rows are summed in float (vectorised), rows
     added in double. */
  double sX = 0, sY = 0, sG = 0;
  for (int i = 0; i < B; i++) {
    const float *x = DX + (size_t)i * B, *y = DY + (size_t)i * B;
    float rx = 0, ry = 0, rg = 0;
#pragma omp simd reduction(+ : rx, ry)
    for (int j = 0; j < B; j++) {
      rx += x[j];
      ry += y[j];
    }
    if (alpha != 0) {
      const float gi = g[i];
#pragma omp simd reduction(+ : rg)
      for (int j = 0; j < B; j++) rg += fabsf(gi - g[j]);
    }
    sX += rx;
    sY += ry;
    sG += rg;
  }
  const double mX = normalize ? sX / N + eps : 1.0;
  const double mY = normalize ? sY / N + eps : 1.0;
  const double mG = normalize ? sG / N + eps : 1.0;
  const float a = (float)((1 - alpha) / mX), c2 = (float)(alpha / mG), iY = (float)(1.0 / mY);
  double loss = 0, c = 0;
  for (int i = 0; i < B; i++) {
    const float *x = DX + (size_t)i * B, *y = DY + (size_t)i * B;
    float *d = dDY + (size_t)i * B;
    float rl = 0, rc = 0;
    if (alpha != 0) {
      const float gi = g[i];
#pragma omp simd reduction(+ : rl, rc)
      for (int j = 0; j < B; j++) {
        float yn = y[j] * iY;
        float r = yn - (a * x[j] + c2 * fabsf(gi - g[j]));
        rl += r * r;
        rc += r * yn;
        d[j] = r;
      }
    } else {
#pragma omp simd reduction(+ : rl, rc)
      for (int j = 0; j < B; j++) {
        float yn = y[j] * iY;
        float r = yn - a * x[j];
        rl += r * r;
        rc += r * yn;
        d[j] = r;
      }
    }
    loss += rl;
    c += rc;
  }
  *L = loss / N;
  /* dL/dDY = s (R - c) off the diagonal; the diagonal is no pair */
  const float fc = normalize ? (float)(c / N) : 0.0f, fs = (float)(2.0 / (N * mY));
  for (int i = 0; i < B; i++) {
    float *d = dDY + (size_t)i * B;
    for (int j = 0; j < B; j++) d[j] = fs * (d[j] - fc);
    d[i] = 0;
  }
  if (!isfinite(*L)) return lpdm_error(ctx, LPDM_ERR_NUM, "loss is %g (non-finite distances?)", *L);
  return LPDM_OK;
}
#endif

/* ---- the target alone, for the losses that compare DY with it in their
   own way (kruskal.c, sammon.c, rank.c). static inline: stress.c and
   guided.c do not use them, and lpdm_match_eval above is unchanged.

   T_ij = ta DX_ij + tg |g_i - g_j| with ta = (1 - alpha) / mX and
   tg = alpha / mG (normalize on) or ta = 1 - alpha, tg = alpha (off);
   iY = 1 / mY (1 when normalize is off), the scale of DY. g == NULL is
   alpha = 0. A mean of 0 (only with eps = 0: the matrix is all zero) is
   taken as 1. Sums as lpdm_match_eval: rows in float, rows added in double. */
typedef struct lpdm_match_target {
  float ta, tg, iY;
  double N, mY; /* B(B-1) off-diagonal pairs; mY = 1 with normalize off */
} lpdm_match_target;

static inline int lpdm_match_target_init(const float *DX, const float *DY, const float *g, int B, double alpha,
                                         int normalize, double eps, lpdm_match_target *t, lpdm_ctx *ctx) {
  if (B < 2) return lpdm_error(ctx, LPDM_ERR_ARG, "batch size must be >= 2, got %d", B);
  if (!g) alpha = 0;
  double sX = 0, sY = 0, sG = 0;
  for (int i = 0; i < B; i++) {
    const float *x = DX + (size_t)i * B, *y = DY + (size_t)i * B;
    float rx = 0, ry = 0, rg = 0;
#pragma omp simd reduction(+ : rx, ry)
    for (int j = 0; j < B; j++) {
      rx += x[j];
      ry += y[j];
    }
    if (alpha != 0) {
      const float gi = g[i];
#pragma omp simd reduction(+ : rg)
      for (int j = 0; j < B; j++) rg += fabsf(gi - g[j]);
    }
    sX += rx;
    sY += ry;
    sG += rg;
  }
  t->N = (double)B * (B - 1);
  double mX = normalize ? sX / t->N + eps : 1.0;
  double mG = normalize ? sG / t->N + eps : 1.0;
  double mY = normalize ? sY / t->N + eps : 1.0;
  /* a zero mean (eps = 0): the matrix is all zero and any scale will do */
  if (!(mX > 0)) mX = 1;
  if (!(mG > 0)) mG = 1;
  if (!(mY > 0)) mY = 1;
  t->mY = mY;
  t->ta = (float)((1 - alpha) / mX);
  t->tg = (float)(alpha / mG);
  t->iY = (float)(1.0 / mY);
  return LPDM_OK;
}

/* Ti[j] = T_ij for j = 0..B-1 (Ti[i] = 0). */
static inline void lpdm_match_target_row(const lpdm_match_target *t, const float *DX, const float *g, int B, int i,
                                         float *Ti) {
  const float *x = DX + (size_t)i * B;
  const float ta = t->ta, tg = t->tg;
  if (tg != 0 && g) {
    const float gi = g[i];
#pragma omp simd
    for (int j = 0; j < B; j++) Ti[j] = ta * x[j] + tg * fabsf(gi - g[j]);
  } else {
#pragma omp simd
    for (int j = 0; j < B; j++) Ti[j] = ta * x[j];
  }
  Ti[i] = 0;
}

/* Turns q = dL/dYn (Yn = DY / mY, the loss's view of DY) into dL/dDY in
   place, through mY = mean off-diagonal DY + eps when normalize is on:
       dL/dDY = (q - c) / mY,   c = (1/N) sum_{k != l} q_kl Yn_kl
   (the same path through mY as lpdm_match_eval). The diagonal is zeroed. */
static inline void lpdm_match_through_mean(const lpdm_match_target *t, const float *DY, int B, int normalize,
                                           float *q) {
  double c = 0;
  if (normalize) {
    for (int i = 0; i < B; i++) {
      const float *y = DY + (size_t)i * B, *qi = q + (size_t)i * B;
      float rc = 0;
#pragma omp simd reduction(+ : rc)
      for (int j = 0; j < B; j++) rc += qi[j] * y[j];
      rc -= qi[i] * y[i];
      c += rc;
    }
    c = c * t->iY / t->N;
  }
  const float fc = (float)c, s = t->iY;
  for (int i = 0; i < B; i++) {
    float *qi = q + (size_t)i * B;
#pragma omp simd
    for (int j = 0; j < B; j++) qi[j] = s * (qi[j] - fc);
    qi[i] = 0;
  }
}
#endif
