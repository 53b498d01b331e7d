/*
** kernel.c -- distance matching to a NONLINEAR function of the input
** distances (issue 7). A layer trained by loss.stress can settle into a
** near-isometry of its input (a linear map in tanh's linear range); a
** target that bends the input geometry cannot be met by a linear layer:
**
**     K_ij = k(DX_ij)      kind = "gauss": k(d) = 1 - exp(-d^2 / (2 s^2)),
**                                          s = sigma * mX (mX: mean
**                                          off-diagonal input distance)
**                          kind = "sq":    k(d) = d^2
**     T_ij = (1 - alpha) K_ij / mK + alpha |g_i - g_j| / mG
**     R_ij = DY_ij / mY - T_ij
**     L    = 1/N sum_{i != j} R_ij^2  +  anchor * (mY / mX - 1)^2
**
** over the N = B(B-1) off-diagonal pairs; mK, mY, mG are the means (+ eps).
** The Gaussian kernel saturates: pairs far apart (relative to sigma times
** the mean distance) all get a target near 1, so the layer must fold the
** input space; near pairs keep their (squared, scaled) distances. "sq"
** stretches the large distances instead. With normalize = false the
** matrices are compared raw: T = (1 - alpha) K + alpha |g_i - g_j|, R =
** DY - T. The anchor term (0: off) ties the output's mean distance mY to
** the input's mX: with normalize on, the matching alone leaves the scale of
** the features free to drift.
**
** Gradient (T does not depend on DY): with c = 1/N sum R_ij DY_ij / mY,
**     dL/dDY_kl = 2 / (N mY) (R_kl - c)  +  2 anchor (mY / mX - 1) / (N mX)
** (normalize = false: 2 R_kl / N + the anchor term; mY = 1 in R then).
**
** Config keys (defaults):
**   alpha     = 0.5      weight of the reward term in the target, in [0, 1]
**   kind      = "gauss"  gauss or sq
**   sigma     = 1        Gaussian width in units of the mean input distance (> 0)
**   anchor    = 0        weight of the scale anchor (>= 0)
**   normalize = true     divide each matrix by its off-diagonal mean
**   eps       = 1e-8     added to each mean
**
** Lua:
**   lpdm.algo("ppo", { ..., mode = "local", loss = { "kernel", sigma = 0.5 } })
**
** Large batches: eval_rows (ABI 1.2, below) gives the same loss over
** blocks of rows, so lpdm.net{large_batches = ...} and train.lua
** --blocked / --local-budget-mib work with it (PPO's local default).
*/
#include <math.h>
#include <string.h>

#define LPDM_MATCH_TARGET_ONLY
#include "match.h"

static const char NAME[] = "loss.kernel";

static const lpdm_key keys[] = {
    {"alpha", LPDM_T_NUMBER, "0.5", "weight of the reward term in the target distances, in [0, 1]"},
    {"kind", LPDM_T_STRING, "gauss", "kernel of the input distances: gauss (1 - exp(-d^2/2s^2)) or sq (d^2)"},
    {"sigma", LPDM_T_NUMBER, "1", "Gaussian width, in units of the mean input distance"},
    {"anchor", LPDM_T_NUMBER, "0", "weight of the penalty (mY/mX - 1)^2 tying the output's scale to the input's"},
    {"normalize", LPDM_T_BOOL, "true", "divide each distance matrix by its off-diagonal mean"},
    {"eps", LPDM_T_NUMBER, "1e-8", "added to each mean"},
    {NULL, 0, NULL, NULL}};

static int create(lpdm_loss *self, lpdm_ctx *ctx) {
  const lpdm_config *c = &self->cfg;
  double a = lpdm_cfg_num(c, "alpha"), s = lpdm_cfg_num(c, "sigma"), an = lpdm_cfg_num(c, "anchor"),
         eps = lpdm_cfg_num(c, "eps");
  const char *k = lpdm_cfg_str(c, "kind");
  if (!(a >= 0 && a <= 1)) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: alpha must be in [0, 1], got %g", NAME, a);
  if (strcmp(k, "gauss") && strcmp(k, "sq"))
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: kind must be gauss or sq, got '%s'", NAME, k);
  if (!(s > 0 && isfinite(s))) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: sigma must be finite and > 0, got %g", NAME, s);
  if (!(an >= 0 && isfinite(an)))
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: anchor must be finite and >= 0, got %g", NAME, an);
  if (!(eps >= 0 && isfinite(eps)))
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: eps must be finite and >= 0, got %g", NAME, eps);
  return LPDM_OK;
}

static inline float kern(int gauss, float d, float inv2s2) {
  return gauss ? 1.0f - expf(-d * d * inv2s2) : d * d;
}

static int eval(const lpdm_loss *self, const float *DX, const float *DY, const float *g, int B, double *L,
                float *dDY, lpdm_ctx *ctx) {
  const lpdm_config *cf = &self->cfg;
  if (B < 2) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: batch size must be >= 2, got %d", NAME, B);
  double alpha = g ? lpdm_cfg_num(cf, "alpha") : 0.0;
  const int normalize = lpdm_cfg_bool(cf, "normalize"), gauss = !strcmp(lpdm_cfg_str(cf, "kind"), "gauss");
  const double eps = lpdm_cfg_num(cf, "eps"), anchor = lpdm_cfg_num(cf, "anchor");
  const double N = (double)B * (B - 1);
  /* raw means of DX and DY (the kernel's width and the anchor need them) */
  double sX = 0, sY = 0, sG = 0;
  for (int i = 0; i < B; i++) {
    const float *x = DX + (size_t)i * B, *y = DY + (size_t)i * B;
    double rx = 0, ry = 0, rg = 0;
    for (int j = 0; j < B; j++) {
      if (j == i) continue;
      rx += x[j];
      ry += y[j];
      if (alpha != 0) rg += fabsf(g[i] - g[j]);
    }
    sX += rx, sY += ry, sG += rg;
  }
  const double mXr = sX / N + eps, mYr = sY / N + eps;
  const double s = lpdm_cfg_num(cf, "sigma") * (mXr > 0 ? mXr : 1.0);
  const float inv2s2 = (float)(1.0 / (2 * s * s));
  /* K into dDY (scratch until the last pass): one kernel value per pair,
     mirrored, since DX is symmetric (the distance ABI's contract); then
     summed row by row in the order the values would have come anyway */
  for (int i = 0; i < B; i++) {
    const float *x = DX + (size_t)i * B;
    float *k = dDY + (size_t)i * B;
    for (int j = i + 1; j < B; j++) k[j] = dDY[(size_t)j * B + i] = kern(gauss, x[j], inv2s2);
  }
  double sK = 0;
  for (int i = 0; i < B; i++) {
    const float *k = dDY + (size_t)i * B;
    double rk = 0;
    for (int j = 0; j < B; j++)
      if (j != i) rk += k[j];
    sK += rk;
  }
  double mK = normalize ? sK / N + eps : 1.0, mG = normalize ? sG / N + eps : 1.0;
  if (!(mK > 0)) mK = 1;
  if (!(mG > 0)) mG = 1;
  const double mY = normalize ? (mYr > 0 ? mYr : 1.0) : 1.0;
  const float ta = (float)((1 - alpha) / mK), tg = (float)(alpha / mG), iY = (float)(1.0 / mY);
  double loss = 0, c = 0;
  for (int i = 0; i < B; i++) {
    const float *y = DY + (size_t)i * B;
    float *d = dDY + (size_t)i * B; /* holds K_ij until r overwrites it */
    double rl = 0, rc = 0;
    for (int j = 0; j < B; j++) {
      if (j == i) {
        d[j] = 0;
        continue;
      }
      float t = ta * d[j];
      if (alpha != 0) t += tg * fabsf(g[i] - g[j]);
      float yn = y[j] * iY, r = yn - t;
      rl += (double)r * r;
      rc += (double)r * yn;
      d[j] = r;
    }
    loss += rl;
    c += rc;
  }
  *L = loss / N;
  double an = 0;
  if (anchor > 0 && mXr > 0) {
    const double q = mYr / mXr - 1;
    *L += anchor * q * q;
    an = 2 * anchor * q / (N * mXr);
  }
  const float fc = normalize ? (float)(c / N) : 0.0f, fs = (float)(2.0 / (N * mY)), fa = (float)an;
  for (int i = 0; i < B; i++) {
    float *d = dDY + (size_t)i * B;
    for (int j = 0; j < B; j++) d[j] = fs * (d[j] - fc) + fa;
    d[i] = 0;
  }
  if (!isfinite(*L)) return lpdm_error(ctx, LPDM_ERR_NUM, "%s: loss is %g (non-finite distances?)", NAME, *L);
  return LPDM_OK;
}

/* ---- the same over row blocks (ABI 1.2 eval_rows; loss.h): three
   statistics passes, because each mean depends on the one before:
     pass 0: sums of DX, DY and |g_i - g_j|   -> mX (the kernel's width), mY, mG
     pass 1: sum of K                          -> mK
     pass 2: sums of R^2 and R Yn              -> L and c
     pass 3: dL/dDY per block (K again, from DX).
   Each row's sums in double in column order, rows added in row order (as
   eval does for its row sums): blocked runs repeat bit for bit, and agree
   with eval up to summation order. With partners (r->J) the diagonal is no
   column and the means are over the listed pairs. */
enum { KR_SX, KR_SY, KR_SG, KR_SK, KR_C, KR_L };

static int eval_rows(const lpdm_loss *self, int pass, const float *DX, const float *DY, const float *g, int B,
                     const lpdm_rows *r, double *acc, double *L, float *dDY, lpdm_ctx *ctx) {
  const lpdm_config *cf = &self->cfg;
  if (B < 2) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: batch size must be >= 2, got %d", NAME, B);
  const double alpha = g ? lpdm_cfg_num(cf, "alpha") : 0.0;
  const int normalize = lpdm_cfg_bool(cf, "normalize"), gauss = !strcmp(lpdm_cfg_str(cf, "kind"), "gauss");
  const double eps = lpdm_cfg_num(cf, "eps"), anchor = lpdm_cfg_num(cf, "anchor");
  const double N = r->npairs;
  const int w = r->w;
  if (pass == 0) {
    for (int i = r->i0; i < r->i1; i++) {
      const size_t o = (size_t)(i - r->i0) * (size_t)w;
      double rx = 0, ry = 0, rg = 0;
      for (int t = 0; t < w; t++) {
        const int j = LPDM_ROWS_COL(r, i, t);
        if (j == i) continue;
        rx += DX[o + t];
        ry += DY[o + t];
        if (alpha != 0) rg += fabsf(g[i] - g[j]);
      }
      acc[KR_SX] += rx, acc[KR_SY] += ry, acc[KR_SG] += rg;
    }
    return LPDM_OK;
  }
  const double mXr = acc[KR_SX] / N + eps, mYr = acc[KR_SY] / N + eps;
  const double s = lpdm_cfg_num(cf, "sigma") * (mXr > 0 ? mXr : 1.0);
  const float inv2s2 = (float)(1.0 / (2 * s * s));
  if (pass == 1) {
    for (int i = r->i0; i < r->i1; i++) {
      const size_t o = (size_t)(i - r->i0) * (size_t)w;
      double rk = 0;
      for (int t = 0; t < w; t++)
        if (LPDM_ROWS_COL(r, i, t) != i) rk += kern(gauss, DX[o + t], inv2s2);
      acc[KR_SK] += rk;
    }
    return LPDM_OK;
  }
  double mK = normalize ? acc[KR_SK] / N + eps : 1.0, mG = normalize ? acc[KR_SG] / N + eps : 1.0;
  if (!(mK > 0)) mK = 1;
  if (!(mG > 0)) mG = 1;
  const double mY = normalize ? (mYr > 0 ? mYr : 1.0) : 1.0;
  const float ta = (float)((1 - alpha) / mK), tg = (float)(alpha / mG), iY = (float)(1.0 / mY);
  if (pass == 2) {
    for (int i = r->i0; i < r->i1; i++) {
      const size_t o = (size_t)(i - r->i0) * (size_t)w;
      double rl = 0, rc = 0;
      for (int t = 0; t < w; t++) {
        const int j = LPDM_ROWS_COL(r, i, t);
        if (j == i) continue;
        float tt = ta * kern(gauss, DX[o + t], inv2s2);
        if (alpha != 0) tt += tg * fabsf(g[i] - g[j]);
        const float yn = DY[o + t] * iY, rr = yn - tt;
        rl += (double)rr * rr;
        rc += (double)rr * yn;
      }
      acc[KR_L] += rl, acc[KR_C] += rc;
    }
    return LPDM_OK;
  }
  double loss = acc[KR_L] / N, an = 0;
  if (anchor > 0 && mXr > 0) {
    const double q = mYr / mXr - 1;
    loss += anchor * q * q;
    an = 2 * anchor * q / (N * mXr);
  }
  const float fc = normalize ? (float)(acc[KR_C] / N) : 0.0f, fs = (float)(2.0 / (N * mY)), fa = (float)an;
  for (int i = r->i0; i < r->i1; i++) {
    const size_t o = (size_t)(i - r->i0) * (size_t)w;
    for (int t = 0; t < w; t++) {
      const int j = LPDM_ROWS_COL(r, i, t);
      if (j == i) {
        dDY[o + t] = 0;
        continue;
      }
      float tt = ta * kern(gauss, DX[o + t], inv2s2);
      if (alpha != 0) tt += tg * fabsf(g[i] - g[j]);
      dDY[o + t] = fs * ((DY[o + t] * iY - tt) - fc) + fa;
    }
  }
  *L = loss;
  if (!isfinite(loss)) return lpdm_error(ctx, LPDM_ERR_NUM, "%s: loss is %g (non-finite distances?)", NAME, loss);
  return LPDM_OK;
}

static const lpdm_loss_kind kernel_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_LOSS, "loss.kernel",
                             "distance matching to a kernel of the input distances", keys),
    .uses_guidance = 1,
    .eval = eval,
    .create = create,
    .row_passes = 3,
    .eval_rows = eval_rows,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_kernel(void) { return &kernel_kind.head; }
