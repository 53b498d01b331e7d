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

static int lpdm_match_eval(const float *DX, const float *DY, const float *g, int B, double alpha,
                           int normalize, double eps, double *L, float *dDY, lpdm_ctx *ctx) {
  if (B < 2) return lpdm_error(ctx, LPDM_ERR_ARG, "batch size must be >= 2, got %d", B);
  const double N = (double)B * (B - 1);
  if (!g) alpha = 0;
  double sX = 0, sY = 0, sG = 0;
  for (int i = 0; i < B; i++)
    for (int j = 0; j < B; j++) {
      if (i == j) continue;
      size_t ij = (size_t)i * B + j;
      sX += DX[ij];
      sY += DY[ij];
      if (alpha != 0) sG += fabs((double)g[i] - g[j]);
    }
  const double mX = normalize ? sX / N + eps : 1.0;
  const double mY = normalize ? sY / N + eps : 1.0;
  const double mG = normalize ? sG / N + eps : 1.0;
  const double a = (1 - alpha) / mX, c2 = alpha / mG, iY = 1.0 / mY;
  double loss = 0, c = 0;
  for (int i = 0; i < B; i++)
    for (int j = 0; j < B; j++) {
      size_t ij = (size_t)i * B + j;
      if (i == j) {
        dDY[ij] = 0;
        continue;
      }
      double t = a * DX[ij];
      if (alpha != 0) t += c2 * fabs((double)g[i] - g[j]);
      double r = DY[ij] * iY - t;
      loss += r * r;
      c += r * DY[ij] * iY;
      dDY[ij] = (float)r; /* R for now; scaled below */
    }
  *L = loss / N;
  c = normalize ? c / N : 0;
  const double s = 2.0 / (N * mY);
  for (int i = 0; i < B; i++)
    for (int j = 0; j < B; j++) {
      size_t ij = (size_t)i * B + j;
      if (i != j) dDY[ij] = (float)(s * (dDY[ij] - c));
    }
  if (!isfinite(*L)) return lpdm_error(ctx, LPDM_ERR_NUM, "loss is %g (non-finite distances?)", *L);
  return LPDM_OK;
}
#endif
