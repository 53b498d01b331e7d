/* SPDX-License-Identifier: MIT */
/*
** kruskal.c -- Kruskal's stress-1 between a layer's output distances and a
** target built from its input distances (and, guided, from the samples'
** reward signal g), over the B(B-1) off-diagonal pairs:
**
**     T_ij = (1 - alpha) DX_ij / mX + alpha |g_i - g_j| / mG
**     b    = sum DY_ij T_ij / sum T_ij^2          (normalize = true)
**     L    = sqrt( sum (DY_ij - b T_ij)^2 / sum DY_ij^2 )
**
** mX, mG are the mean off-diagonal entries (+ eps), as in guided.c. b is the
** least-squares scale of the target ("ratio MDS" disparities b T), so L is
** the sine of the angle between DY and T seen as vectors: 0 for a perfect
** match up to scale, 1 at worst, blind to the scale of DY (Kruskal 1964's
** normalisation by sum DY^2, with disparities that scale with DY). With
** normalize = false, T = (1 - alpha) DX + alpha |g_i - g_j| and b = 1:
** L = |DY - T| / |DY| in raw units, which also pulls DY to T's scale.
** alpha = 0 (or g == NULL) is the unsupervised stress-1.
**
** Gradient: b minimises the numerator, so its own dependence on DY drops
** out (envelope theorem), and with R = DY - b T, Den = sum DY^2,
**     dL/dDY_ij = (R_ij - L^2 DY_ij) / (L Den)       (0 on the diagonal)
** Degenerate cases, no NaN: L = 0 (a perfect fit, where L is not
** differentiable) gives a zero gradient; all of DY zero (a collapsed
** layer, where L is undefined) gives L = 1 and a zero gradient; all of T
** zero gives b = 0, L = 1 and a zero gradient.
**
** The host always passes g when the kind uses guidance (uses_guidance = 1
** since alpha may be > 0); with alpha = 0 it is not read.
**
** Config keys (defaults):
**   alpha     = 0.5      weight of the reward term in the target, in [0, 1]
**   normalize = true     mean-normalised target terms and the fitted scale b
**   eps       = 1e-8     added to each mean (>= 0)
**
** Lua:
**   lpdm.algo("reinforce", { ..., mode = "local", loss = "kruskal" })
**   lpdm.algo("reinforce", { ..., mode = "local", loss = { "kruskal", alpha = 0 } })
*/
#include <math.h>

#define LPDM_MATCH_TARGET_ONLY
#include "match.h"

static const char NAME[] = "loss.kruskal";

static const lpdm_key keys[] = {
    {"alpha", LPDM_T_NUMBER, "0.5", "weight of the reward term in the target distances, in [0, 1]"},
    {"normalize", LPDM_T_BOOL, "true", "mean-normalised target terms, target scale fitted to DY"},
    {"eps", LPDM_T_NUMBER, "1e-8", "added to each mean"},
    {NULL, 0, NULL, NULL}};

static int create(lpdm_loss *self, lpdm_ctx *ctx) {
  double a = lpdm_cfg_num(&self->cfg, "alpha"), eps = lpdm_cfg_num(&self->cfg, "eps");
  if (!(a >= 0 && a <= 1)) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: alpha must be in [0, 1], got %g", NAME, a);
  if (!(eps >= 0 && isfinite(eps)))
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: eps must be finite and >= 0, got %g", NAME, eps);
  return LPDM_OK;
}

LPDM_VECTORIZE static int eval(const lpdm_loss *self, const float *DX, const float *DY, const float *g, int B,
                               double *L, float *dDY, lpdm_ctx *ctx) {
  const int normalize = lpdm_cfg_bool(&self->cfg, "normalize");
  lpdm_match_target t = {0};
  int rc = lpdm_match_target_init(DX, DY, g, B, lpdm_cfg_num(&self->cfg, "alpha"), normalize,
                                  lpdm_cfg_num(&self->cfg, "eps"), &t, ctx);
  if (rc) return lpdm_ctx_prefix(ctx, rc, "%s", NAME);
  /* T into dDY; <DY, T>, <T, T>, <DY, DY> off the diagonal */
  double yt = 0, tt = 0, yy = 0;
  for (int i = 0; i < B; i++) {
    float *Ti = dDY + (size_t)i * B;
    const float *y = DY + (size_t)i * B;
    lpdm_match_target_row(&t, DX, g, B, i, Ti);
    float a = 0, c = 0, e = 0;
#pragma omp simd reduction(+ : a, c, e)
    for (int j = 0; j < B; j++) {
      a += y[j] * Ti[j];
      c += Ti[j] * Ti[j];
      e += y[j] * y[j];
    }
    yt += a;
    tt += c;
    yy += e - (double)y[i] * y[i];
  }
  const float b = normalize ? (tt > 0 ? (float)(yt / tt) : 0.0f) : 1.0f;
  /* R = DY - b T into dDY, sum R^2 */
  double rr = 0;
  for (int i = 0; i < B; i++) {
    float *Ri = dDY + (size_t)i * B;
    const float *y = DY + (size_t)i * B;
    float a = 0;
#pragma omp simd reduction(+ : a)
    for (int j = 0; j < B; j++) {
      const float r = y[j] - b * Ri[j];
      Ri[j] = r;
      a += r * r;
    }
    rr += a - (double)Ri[i] * Ri[i];
  }
  const double l = yy > 0 ? sqrt(rr / yy) : 1.0;
  *L = l;
  if (!isfinite(l)) return lpdm_error(ctx, LPDM_ERR_NUM, "%s: loss is %g (non-finite distances?)", NAME, l);
  const int grad = yy > 0 && l > 0;
  const float s = grad ? (float)(1.0 / (l * yy)) : 0.0f, l2 = (float)(l * l);
  for (int i = 0; i < B; i++) {
    float *Ri = dDY + (size_t)i * B;
    const float *y = DY + (size_t)i * B;
#pragma omp simd
    for (int j = 0; j < B; j++) Ri[j] = s * (Ri[j] - l2 * y[j]);
    Ri[i] = 0;
  }
  return LPDM_OK;
}

static const lpdm_loss_kind kruskal_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_LOSS, "loss.kruskal",
                             "Kruskal's stress-1 against the (guided) input distances", keys),
    .uses_guidance = 1,
    .eval = eval,
    .create = create,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_kruskal(void) { return &kruskal_kind.head; }
