/* SPDX-License-Identifier: MIT */
/*
** sammon.c -- Sammon's stress (Sammon 1969, "A nonlinear mapping for data
** structure analysis") between a layer's output distances and a target
** built from its input distances (and, guided, the reward signal g), over
** the B(B-1) off-diagonal pairs:
**
**     T_ij = (1 - alpha) DX_ij / mX + alpha |g_i - g_j| / mG
**     Y_ij = DY_ij / mY
**     L    = 1 / (sum T_ij + eps) * sum (Y_ij - T_ij)^2 / (T_ij + delta)
**
** mX, mY, mG are the mean off-diagonal entries (+ eps), as in guided.c: the
** loss compares shapes, not scales. Dividing each squared error by its
** target distance weighs the small distances up: Sammon's mapping keeps
** neighbourhoods, where plain stress (loss.stress) keeps the large
** distances. delta keeps the weight finite for pairs whose target is 0
** (duplicate inputs; with normalize = true it is in units of the mean
** target distance, so the largest weight is 1/delta times the mean's).
** With normalize = false: T = (1 - alpha) DX + alpha |g_i - g_j|, Y = DY,
** raw units (delta then in those units). alpha = 0 (or g == NULL) is the
** unsupervised Sammon stress.
**
** Gradient: with c = 1 / (sum T + eps) and q_ij = 2 c (Y_ij - T_ij) /
** (T_ij + delta) = dL/dY_ij,
**     dL/dDY_ij = (q_ij - (1/N) sum_kl q_kl Y_kl) / mY
** (the second term is the path through mY; N = B(B-1); normalize = false:
** dL/dDY = q). T does not depend on DY. No case divides by zero: every
** denominator carries eps or delta.
**
** Config keys (defaults):
**   alpha     = 0.5      weight of the reward term in the target, in [0, 1]
**   normalize = true     divide each matrix by its off-diagonal mean
**   eps       = 1e-8     added to each mean and to sum T (>= 0)
**   delta     = 1e-3     added to T_ij in the weight 1 / (T_ij + delta) (> 0)
**
** Lua:
**   lpdm.algo("reinforce", { ..., mode = "local", loss = "sammon" })
**   lpdm.algo("ppo", { ..., mode = "local", loss = { "sammon", alpha = 0.2, delta = 1e-2 } })
*/
#include <math.h>

#define LPDM_MATCH_TARGET_ONLY
#include "match.h"

static const char NAME[] = "loss.sammon";

static const lpdm_key keys[] = {
    {"alpha", LPDM_T_NUMBER, "0.5", "weight of the reward term in the target distances, in [0, 1]"},
    {"normalize", LPDM_T_BOOL, "true", "divide each distance matrix by its off-diagonal mean"},
    {"eps", LPDM_T_NUMBER, "1e-8", "added to each mean and to the sum of the targets"},
    {"delta", LPDM_T_NUMBER, "1e-3", "added to each target distance in Sammon's weight 1/(T + delta)"},
    {NULL, 0, NULL, NULL}};

static int create(lpdm_loss *self, lpdm_ctx *ctx) {
  const lpdm_config *c = &self->cfg;
  double a = lpdm_cfg_num(c, "alpha"), eps = lpdm_cfg_num(c, "eps"), delta = lpdm_cfg_num(c, "delta");
  if (!(a >= 0 && a <= 1)) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: alpha must be in [0, 1], got %g", NAME, a);
  if (!(eps >= 0 && isfinite(eps)))
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: eps must be finite and >= 0, got %g", NAME, eps);
  if (!(delta > 0 && isfinite(delta)))
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: delta must be finite and > 0, got %g", NAME, delta);
  return LPDM_OK;
}

LPDM_VECTORIZE static int eval(const lpdm_loss *self, const float *DX, const float *DY, const float *g, int B,
                               double *L, float *dDY, lpdm_ctx *ctx) {
  const int normalize = lpdm_cfg_bool(&self->cfg, "normalize");
  const double eps = lpdm_cfg_num(&self->cfg, "eps");
  const float delta = (float)lpdm_cfg_num(&self->cfg, "delta");
  lpdm_match_target t = {0};
  int rc = lpdm_match_target_init(DX, DY, g, B, lpdm_cfg_num(&self->cfg, "alpha"), normalize, eps, &t, ctx);
  if (rc) return lpdm_ctx_prefix(ctx, rc, "%s", NAME);
  /* T into dDY and its sum (T_ii = 0) */
  double st = 0;
  for (int i = 0; i < B; i++) {
    float *Ti = dDY + (size_t)i * B;
    lpdm_match_target_row(&t, DX, g, B, i, Ti);
    float a = 0;
#pragma omp simd reduction(+ : a)
    for (int j = 0; j < B; j++) a += Ti[j];
    st += a;
  }
  const double c = 1.0 / (st + eps);
  /* sum w (Y - T)^2 and q = 2 c w (Y - T) into dDY */
  const float iY = t.iY, c2 = (float)(2.0 * c);
  double e = 0;
  for (int i = 0; i < B; i++) {
    float *q = dDY + (size_t)i * B;
    const float *y = DY + (size_t)i * B;
    float a = 0;
#pragma omp simd reduction(+ : a)
    for (int j = 0; j < B; j++) {
      const float w = 1.0f / (q[j] + delta), r = y[j] * iY - q[j];
      a += w * r * r;
      q[j] = c2 * w * r;
    }
    const float ri = y[i] * iY; /* the diagonal is no pair: T_ii = 0 */
    e += a - (double)ri * ri / delta;
    q[i] = 0;
  }
  *L = c * e;
  if (!isfinite(*L)) return lpdm_error(ctx, LPDM_ERR_NUM, "%s: loss is %g (non-finite distances?)", NAME, *L);
  lpdm_match_through_mean(&t, DY, B, normalize, dDY);
  return LPDM_OK;
}

static const lpdm_loss_kind sammon_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_LOSS, "loss.sammon",
                             "Sammon's stress against the (guided) input distances", keys),
    .uses_guidance = 1,
    .eval = eval,
    .create = create,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_sammon(void) { return &sammon_kind.head; }
