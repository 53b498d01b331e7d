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
*/
#ifndef LPDM_LOSSES_MATCH_H
#define LPDM_LOSSES_MATCH_H
#include <math.h>

#include "lpdm/lpdm.h"

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
