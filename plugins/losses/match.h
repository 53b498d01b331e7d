/* SPDX-License-Identifier: MIT */
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
** lpdm_match_eval_upper is the same loss over the upper triangles (the ABI
** 2.1 eval_upper of stress.c and guided.c): sums over i < j, and dL/dDY_ij
** there as the pair's whole gradient (twice the entry above).
**
** lpdm_match_rows is the same loss over blocks of rows (the ABI 1.2
** eval_rows of stress.c and guided.c), for batches whose B x B matrices do
** not fit; kruskal.c, sammon.c, rank.c and kernel.c do not see it.
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
/* The whole matrices (upper = 0, lpdm_match_eval) or the upper triangles
   (upper = 1, lpdm_match_eval_upper: loss.h's eval_upper). Over the upper
   triangles the sums run over the N = B(B-1)/2 pairs i < j, which give the
   same means, L and c as the B(B-1) ordered pairs of a symmetric matrix,
   and dDY_ij (i < j) is the pair's whole gradient, twice the whole
   matrix's entry: dDY_ij = 2 / (N mY) * (R_ij - c), N the unordered count.
   Whole matrices: the diagonals of DX, DY and |g_i - g_j| are zero, so
   whole-row sums are off-diagonal sums. Rows are summed in float
   (vectorised), rows added in double. */
static inline __attribute__((always_inline)) int lpdm_match_pairs(const float *DX, const float *DY, const float *g,
                                                                  int B, double alpha, int normalize, double eps,
                                                                  double *L, float *dDY, lpdm_ctx *ctx,
                                                                  const int upper) {
  if (B < 2) return lpdm_error(ctx, LPDM_ERR_ARG, "batch size must be >= 2, got %d", B);
  const double N = upper ? (double)B * (B - 1) / 2 : (double)B * (B - 1);
  const int rows = upper ? B - 1 : B;
  if (!g) alpha = 0;
  double sX = 0, sY = 0, sG = 0;
  for (int i = 0; i < rows; i++) {
    const float *x = DX + (size_t)i * B, *y = DY + (size_t)i * B;
    const int j0 = upper ? i + 1 : 0;
    float rx = 0, ry = 0, rg = 0;
#pragma omp simd reduction(+ : rx, ry)
    for (int j = j0; j < B; j++) {
      rx += x[j];
      ry += y[j];
    }
    if (alpha != 0) {
      const float gi = g[i];
#pragma omp simd reduction(+ : rg)
      for (int j = j0; j < B; j++) rg += fabsf(gi - g[j]);
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
  for (int i = 0; i < rows; i++) {
    const float *x = DX + (size_t)i * B, *y = DY + (size_t)i * B;
    float *d = dDY + (size_t)i * B;
    const int j0 = upper ? i + 1 : 0;
    float rl = 0, rc = 0;
    if (alpha != 0) {
      const float gi = g[i];
#pragma omp simd reduction(+ : rl, rc)
      for (int j = j0; j < B; j++) {
        float yn = y[j] * iY;
        float r = yn - (a * x[j] + c2 * fabsf(gi - g[j]));
        rl += r * r;
        rc += r * yn;
        d[j] = r;
      }
    } else {
#pragma omp simd reduction(+ : rl, rc)
      for (int j = j0; j < B; j++) {
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
  for (int i = 0; i < rows; i++) {
    float *d = dDY + (size_t)i * B;
    for (int j = upper ? i + 1 : 0; j < B; j++) d[j] = fs * (d[j] - fc);
    if (!upper) d[i] = 0;
  }
  if (!isfinite(*L)) return lpdm_error(ctx, LPDM_ERR_NUM, "loss is %g (non-finite distances?)", *L);
  return LPDM_OK;
}

LPDM_VECTORIZE static int lpdm_match_eval(const float *DX, const float *DY, const float *g, int B, double alpha,
                                          int normalize, double eps, double *L, float *dDY, lpdm_ctx *ctx) {
  return lpdm_match_pairs(DX, DY, g, B, alpha, normalize, eps, L, dDY, ctx, 0);
}

LPDM_VECTORIZE static int lpdm_match_eval_upper(const float *DX, const float *DY, const float *g, int B, double alpha,
                                                int normalize, double eps, double *L, float *dDY, lpdm_ctx *ctx) {
  return lpdm_match_pairs(DX, DY, g, B, alpha, normalize, eps, L, dDY, ctx, 1);
}

/* ---- the same loss over row blocks (loss.h's eval_rows, row_passes = 1):
   one statistics pass, then the gradient pass.

   The statistics pass adds, over the block's pairs and in double, nine
   sums (G_ij = |g_i - g_j|; the G ones only when alpha != 0):
       sX, sY, sG, sXX, sYY, sGG, sXY, sXG, sYG
   each row summed in double, rows added into acc in row order (so the
   result does not depend on the block size). They give the means and,
   since R_ij = iY DY_ij - a DX_ij - b G_ij is linear in the three, also L
   and c, without a second pass over the matrices:
       N L = iY^2 sYY + a^2 sXX + b^2 sGG - 2 iY a sXY - 2 iY b sYG + 2 a b sXG
       N c = iY^2 sYY - iY a sXY - iY b sYG
   A product of two floats is exact in double and the sums keep ~1e-16 of
   their size, so the cancellation in N L is harmless: a loss 1e-6 of its
   terms still has ~10 digits, more than lpdm_match_eval's float sums.
   a, b, iY are rounded to float as lpdm_match_eval rounds them, and the
   gradient pass writes, as it does, dDY_ij = fs (R_ij - fc) with R_ij in
   float: the two agree up to summation order. A rounding below zero of a
   vanishing L is reported as 0.

   With r->J (listed partners) the sums run over the listed pairs and N is
   r->npairs = B w: the same formula over a sample of pairs. */
enum { MR_SX, MR_SY, MR_SG, MR_XX, MR_YY, MR_GG, MR_XY, MR_XG, MR_YG, MR_COUNT };

LPDM_VECTORIZE static int lpdm_match_rows(int pass, const float *DX, const float *DY, const float *g, int B,
                                          const lpdm_rows *r, double alpha, int normalize, double eps, double *acc,
                                          double *L, float *dDY, lpdm_ctx *ctx) {
  if (B < 2) return lpdm_error(ctx, LPDM_ERR_ARG, "batch size must be >= 2, got %d", B);
  if (!g) alpha = 0;
  const int w = r->w;
  if (pass == 0) {
    for (int i = r->i0; i < r->i1; i++) {
      const size_t o = (size_t)(i - r->i0) * (size_t)w;
      const float *x = DX + o, *y = DY + o;
      double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
#pragma omp simd reduction(+ : sx, sy, sxx, syy, sxy)
      for (int t = 0; t < w; t++) {
        const double xv = x[t], yv = y[t];
        sx += xv;
        sy += yv;
        sxx += xv * xv;
        syy += yv * yv;
        sxy += xv * yv;
      }
      acc[MR_SX] += sx;
      acc[MR_SY] += sy;
      acc[MR_XX] += sxx;
      acc[MR_YY] += syy;
      acc[MR_XY] += sxy;
      if (alpha != 0) {
        const float gi = g[i];
        double sg = 0, sgg = 0, sxg = 0, syg = 0;
        if (r->J) {
          const int *J = r->J + o;
#pragma omp simd reduction(+ : sg, sgg, sxg, syg)
          for (int t = 0; t < w; t++) {
            const double gv = fabsf(gi - g[J[t]]);
            sg += gv;
            sgg += gv * gv;
            sxg += (double)x[t] * gv;
            syg += (double)y[t] * gv;
          }
        } else {
#pragma omp simd reduction(+ : sg, sgg, sxg, syg)
          for (int t = 0; t < w; t++) {
            const double gv = fabsf(gi - g[t]);
            sg += gv;
            sgg += gv * gv;
            sxg += (double)x[t] * gv;
            syg += (double)y[t] * gv;
          }
        }
        acc[MR_SG] += sg;
        acc[MR_GG] += sgg;
        acc[MR_XG] += sxg;
        acc[MR_YG] += syg;
      }
    }
    return LPDM_OK;
  }
  /* the gradient pass: the means, L and c from acc (the same in every block) */
  const double N = r->npairs;
  const double mX = normalize ? acc[MR_SX] / N + eps : 1.0;
  const double mY = normalize ? acc[MR_SY] / N + eps : 1.0;
  const double mG = normalize ? acc[MR_SG] / N + eps : 1.0;
  const float a = (float)((1 - alpha) / mX), c2 = (float)(alpha / mG), iY = (float)(1.0 / mY);
  const double da = a, db = c2, di = iY;
  double loss = di * di * acc[MR_YY] + da * da * acc[MR_XX] + db * db * acc[MR_GG] - 2 * di * da * acc[MR_XY] -
                2 * di * db * acc[MR_YG] + 2 * da * db * acc[MR_XG];
  loss /= N;
  if (loss < 0) loss = 0; /* rounding of a vanishing loss; NaN stays NaN */
  const double c = (di * di * acc[MR_YY] - di * da * acc[MR_XY] - di * db * acc[MR_YG]) / N;
  const float fc = normalize ? (float)c : 0.0f, fs = (float)(2.0 / (N * mY));
  for (int i = r->i0; i < r->i1; i++) {
    const size_t o = (size_t)(i - r->i0) * (size_t)w;
    const float *x = DX + o, *y = DY + o;
    float *d = dDY + o;
    if (alpha != 0) {
      const float gi = g[i];
      if (r->J) {
        const int *J = r->J + o;
#pragma omp simd
        for (int t = 0; t < w; t++) {
          float rr = y[t] * iY - (a * x[t] + c2 * fabsf(gi - g[J[t]]));
          d[t] = fs * (rr - fc);
        }
      } else {
#pragma omp simd
        for (int t = 0; t < w; t++) {
          float rr = y[t] * iY - (a * x[t] + c2 * fabsf(gi - g[t]));
          d[t] = fs * (rr - fc);
        }
      }
    } else {
#pragma omp simd
      for (int t = 0; t < w; t++) {
        float rr = y[t] * iY - a * x[t];
        d[t] = fs * (rr - fc);
      }
    }
    if (!r->J) d[i] = 0; /* the diagonal is no pair */
  }
  *L = loss;
  if (!isfinite(loss)) return lpdm_error(ctx, LPDM_ERR_NUM, "loss is %g (non-finite distances?)", loss);
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
