/* SPDX-License-Identifier: MIT */
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
** Cost: four passes over the B x B pairs (sums of DX and DY; K with its
** sum; R with its sums; the gradient), each vectorised: float lanes for the
** sums (below), expneg.h's exp instead of libm's. Issue 22 measured the
** old scalar double loops (one libm expf per pair) at 44% of local PPO's
** time on CartPole-v1; these take 16-20%.
**
** Large batches: eval_rows (ABI 1.2, below) gives the same loss over
** blocks of rows, so lpdm.net{large_batches = ...} and train.lua
** --blocked / --local-budget-mib work with it (PPO's local default). It
** runs the same row kernels in the same order as eval: blocked and whole
** give the same bits.
*/
#include <math.h>
#include <string.h>

#define LPDM_MATCH_TARGET_ONLY
#include "match.h"
#include "expneg.h"

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

/* ---- the row kernels, shared by eval (whole matrices) and eval_rows (row
   blocks, or listed partners). A row is w contiguous entries; entry t is
   the pair (i, j) with j = t, or j = J[t] for listed partners. Sums go into
   LN float lanes, entry t into lane t mod LN, and the lanes are added in
   lane order, in double, at the end of the row: a fixed order that every
   clone follows (AVX2 or baseline, the same bits) and that the compiler
   turns into vector additions (LPDM_VECTORIZE on the callers). The rows'
   sums are added in row order in double, so eval and eval_rows agree bit
   for bit. The diagonal (entry i of an unlisted row) holds DX_ii = DY_ii = 0
   by the distance ABI, so every term of it is 0 (kern(0) = 0, the gap 0, R
   = 0); it is computed like any other entry and its term then taken off the
   row's sum (exact when it is 0), which keeps the loops free of branches. */
enum { LN = 16 };
/* inlined into each clone of its callers (a call would run the baseline code) */
#define LPDM_INLINE static inline __attribute__((always_inline))

static inline double lanes_total(const float *a) {
  double s = 0;
  for (int l = 0; l < LN; l++) s += a[l];
  return s;
}

static inline float kern(int gauss, float d, float inv2s2) {
  return gauss ? 1.0f - lpdm_exp_neg(d * d * inv2s2) : d * d;
}

/* guidance gap |g_i - g_j| of entry t */
#define GAP(t) fabsf(gi - g[J ? J[t] : (t)])

/* sums of x and y over the row */
LPDM_INLINE void row_xy(const float *x, const float *y, int w, double *sx, double *sy) {
  float ax[LN] = {0}, ay[LN] = {0};
  int t = 0;
  for (; t + LN <= w; t += LN)
    for (int l = 0; l < LN; l++) ax[l] += x[t + l], ay[l] += y[t + l];
  for (int l = 0; t + l < w; l++) ax[l] += x[t + l], ay[l] += y[t + l];
  *sx = lanes_total(ax), *sy = lanes_total(ay);
}

/* sum of |g_i - g_j| over the row */
LPDM_INLINE double row_gap(const float *g, float gi, const int *J, int w) {
  float a[LN] = {0};
  int t = 0;
  if (J) {
    for (; t + LN <= w; t += LN)
      for (int l = 0; l < LN; l++) a[l] += fabsf(gi - g[J[t + l]]);
    for (int l = 0; t + l < w; l++) a[l] += fabsf(gi - g[J[t + l]]);
  } else {
    for (; t + LN <= w; t += LN)
      for (int l = 0; l < LN; l++) a[l] += fabsf(gi - g[t + l]);
    for (int l = 0; t + l < w; l++) a[l] += fabsf(gi - g[t + l]);
  }
  return lanes_total(a);
}

/* sum of k(x) over the row; k (may be NULL) receives the values */
LPDM_INLINE double row_kern(const float *x, float *k, int w, int gauss, float inv2s2) {
  float a[LN] = {0};
  int t = 0;
#define KLOOP(EXPR)                                          \
  for (; t + LN <= w; t += LN)                               \
    for (int l = 0; l < LN; l++) {                           \
      const float v = (EXPR);                                \
      if (k) k[t + l] = v;                                   \
      a[l] += v;                                             \
    }                                                        \
  for (int l = 0; t + l < w; l++) {                          \
    const float v = (EXPR);                                  \
    if (k) k[t + l] = v;                                     \
    a[l] += v;                                               \
  }
  if (gauss) {
    KLOOP(1.0f - lpdm_exp_neg(x[t + l] * x[t + l] * inv2s2))
  } else {
    KLOOP(x[t + l] * x[t + l])
  }
#undef KLOOP
  return lanes_total(a);
}

/* The residuals of a row: R = y / mY - T, T = ta k + tg |g_i - g_j|, with k
   read from k (a stored row of K) or, when k is NULL, computed from x.
   Sums of R^2 and R y/mY into *sl, *sc; out (may be NULL) receives
   fs (R - fc) + fa, the gradient (eval_rows' last pass), or R itself
   when fs = 1, fc = fa = 0 (eval's third pass). */
typedef struct residual {
  int gauss;
  float inv2s2, ta, tg, iY, fs, fc, fa;
} residual;

LPDM_INLINE void row_resid(const residual *p, const float *x, const float *k, const float *y, const float *g, float gi,
                             const int *J, int w, float *out, double *sl, double *sc) {
  float al[LN] = {0}, ac[LN] = {0};
  const float ta = p->ta, tg = p->tg, iY = p->iY, fs = p->fs, fc = p->fc, fa = p->fa, inv2s2 = p->inv2s2;
  const int gauss = p->gauss;
  int t = 0;
#define RLOOP(KV, GV)                                                                  \
  for (; t + LN <= w; t += LN)                                                         \
    for (int l = 0; l < LN; l++) {                                                     \
      const float yn = y[t + l] * iY, r = yn - (ta * (KV) + (GV));                     \
      al[l] += r * r, ac[l] += r * yn;                                                 \
      if (out) out[t + l] = fs * (r - fc) + fa;                                        \
    }                                                                                  \
  for (int l = 0; t + l < w; l++) {                                                    \
    const float yn = y[t + l] * iY, r = yn - (ta * (KV) + (GV));                       \
    al[l] += r * r, ac[l] += r * yn;                                                   \
    if (out) out[t + l] = fs * (r - fc) + fa;                                          \
  }
  if (k) {
    if (g) {
      RLOOP(k[t + l], tg * GAP(t + l))
    } else {
      RLOOP(k[t + l], 0.0f)
    }
  } else if (gauss) {
    if (g) {
      RLOOP(1.0f - lpdm_exp_neg(x[t + l] * x[t + l] * inv2s2), tg * GAP(t + l))
    } else {
      RLOOP(1.0f - lpdm_exp_neg(x[t + l] * x[t + l] * inv2s2), 0.0f)
    }
  } else {
    if (g) {
      RLOOP(x[t + l] * x[t + l], tg * GAP(t + l))
    } else {
      RLOOP(x[t + l] * x[t + l], 0.0f)
    }
  }
#undef RLOOP
  *sl = lanes_total(al), *sc = lanes_total(ac);
}


/* ---- the statistics, one row at a time: both paths call these, in row
   order, and finish with stats_*(): identical sums, identical results. */
enum { KR_SX, KR_SY, KR_SG, KR_SK, KR_C, KR_L };

typedef struct kset {
  int gauss, normalize;
  double alpha, eps, anchor, sigma;
} kset;

static kset kset_of(const lpdm_loss *self, const float *g) {
  const lpdm_config *cf = &self->cfg;
  return (kset){.gauss = !strcmp(lpdm_cfg_str(cf, "kind"), "gauss"),
                .normalize = lpdm_cfg_bool(cf, "normalize"),
                .alpha = g ? lpdm_cfg_num(cf, "alpha") : 0.0,
                .eps = lpdm_cfg_num(cf, "eps"),
                .anchor = lpdm_cfg_num(cf, "anchor"),
                .sigma = lpdm_cfg_num(cf, "sigma")};
}

/* pass 0 of a row: sums of DX, DY and (g: NULL when alpha = 0) the gaps
   |gi - g_j| */
LPDM_INLINE void stats0(const float *x, const float *y, const float *g, float gi, const int *J, int w, int diag,
                        double *acc) {
  double sx, sy;
  row_xy(x, y, w, &sx, &sy);
  if (diag >= 0) sx -= x[diag], sy -= y[diag];
  acc[KR_SX] += sx, acc[KR_SY] += sy;
  if (g) acc[KR_SG] += row_gap(g, gi, J, w); /* the diagonal's gap is 0 */
}

static inline float inv2s2_of(const kset *ks, const double *acc, double N) {
  const double mXr = acc[KR_SX] / N + ks->eps, s = ks->sigma * (mXr > 0 ? mXr : 1.0);
  return (float)(1.0 / (2 * s * s));
}

/* The residual's parameters from the sums of passes 0 and 1; *mYp gets mY. */
static residual resid_of(const kset *ks, const double *acc, double N, double *mYp) {
  double mK = ks->normalize ? acc[KR_SK] / N + ks->eps : 1.0, mG = ks->normalize ? acc[KR_SG] / N + ks->eps : 1.0;
  if (!(mK > 0)) mK = 1;
  if (!(mG > 0)) mG = 1;
  const double mYr = acc[KR_SY] / N + ks->eps, mY = ks->normalize ? (mYr > 0 ? mYr : 1.0) : 1.0;
  *mYp = mY;
  return (residual){.gauss = ks->gauss,
                    .inv2s2 = inv2s2_of(ks, acc, N),
                    .ta = (float)((1 - ks->alpha) / mK),
                    .tg = (float)(ks->alpha / mG),
                    .iY = (float)(1.0 / mY),
                    .fs = 1.0f};
}

/* The loss from all sums; fills the gradient's scale into p. */
static double finish(const kset *ks, const double *acc, double N, double mY, residual *p) {
  double loss = acc[KR_L] / N, an = 0;
  const double mXr = acc[KR_SX] / N + ks->eps, mYr = acc[KR_SY] / N + ks->eps;
  if (ks->anchor > 0 && mXr > 0) {
    const double q = mYr / mXr - 1;
    loss += ks->anchor * q * q;
    an = 2 * ks->anchor * q / (N * mXr);
  }
  p->fc = ks->normalize ? (float)(acc[KR_C] / N) : 0.0f;
  p->fs = (float)(2.0 / (N * mY));
  p->fa = (float)an;
  return loss;
}

/* eval (upper = 0) and eval_upper (upper = 1, ABI 2.1; loss.h). eval reads
   whole rows and takes the diagonal's terms off each row's sums. eval_upper
   reads DX and DY at i < j only: each pair is one entry, its sums count
   twice (an exact doubling), and dDY_ij (i < j) gets dL/dDY_ij +
   dL/dDY_ji, twice eval's entry (also exact): half the pairs' work, no
   diagonal, the same loss up to the order of the float sums. K goes into
   dDY (scratch until the last pass), then R over it in place. */
LPDM_INLINE int eval_pairs(const lpdm_loss *self, const float *DX, const float *DY, const float *g, int B, double *L,
                           float *dDY, lpdm_ctx *ctx, const int upper) {
  if (B < 2) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: batch size must be >= 2, got %d", NAME, B);
  const kset ks = kset_of(self, g);
  const float *ga = ks.alpha != 0 ? g : NULL; /* alpha = 0 never reads g */
  const double N = (double)B * (B - 1);
  const int rows = upper ? B - 1 : B;
  double acc[6] = {0};
/* row i: its first entry's offset, its width, its g_j, the diagonal's column (-1: none) */
#define ROW_O(i) ((size_t)(i) * B + (upper ? (size_t)(i) + 1 : 0))
#define ROW_W(i) (upper ? B - 1 - (i) : B)
#define ROW_G(i) (ga ? ga + (upper ? (i) + 1 : 0) : NULL)
#define ROW_D(i) (upper ? -1 : (i))
  for (int i = 0; i < rows; i++)
    stats0(DX + ROW_O(i), DY + ROW_O(i), ROW_G(i), ga ? ga[i] : 0.0f, NULL, ROW_W(i), ROW_D(i), acc);
  if (upper) acc[KR_SX] *= 2, acc[KR_SY] *= 2, acc[KR_SG] *= 2;
  const float inv2s2 = inv2s2_of(&ks, acc, N);
  for (int i = 0; i < rows; i++) {
    double v = row_kern(DX + ROW_O(i), dDY + ROW_O(i), ROW_W(i), ks.gauss, inv2s2);
    if (!upper) v -= kern(ks.gauss, DX[(size_t)i * B + i], inv2s2);
    acc[KR_SK] += v;
  }
  if (upper) acc[KR_SK] *= 2;
  double mY;
  residual p = resid_of(&ks, acc, N, &mY);
  for (int i = 0; i < rows; i++) { /* p.fs = 1, fc = fa = 0 leave R itself */
    const size_t o = ROW_O(i);
    float *d = dDY + o;
    const float kd = upper ? 0.0f : d[i];
    double sl, sc, dl = 0, dc = 0;
    row_resid(&p, DX + o, d, DY + o, ROW_G(i), ga ? ga[i] : 0.0f, NULL, ROW_W(i), d, &sl, &sc);
    if (!upper) { /* the diagonal's R (0 by the ABI) */
      const float yd = DY[o + (size_t)i] * p.iY, rd = DY[o + (size_t)i] * p.iY - p.ta * kd;
      dl = (double)(rd * rd), dc = (double)(rd * yd);
    }
    acc[KR_L] += sl - dl, acc[KR_C] += sc - dc;
  }
#undef ROW_O
#undef ROW_W
#undef ROW_G
#undef ROW_D
  if (upper) acc[KR_L] *= 2, acc[KR_C] *= 2;
  *L = finish(&ks, acc, N, mY, &p);
  const float fs = upper ? 2 * p.fs : p.fs, fc = p.fc, fa = upper ? 2 * p.fa : p.fa;
  for (int i = 0; i < rows; i++) {
    float *d = dDY + (size_t)i * B;
    for (int j = upper ? i + 1 : 0; j < B; j++) d[j] = fs * (d[j] - fc) + fa;
    if (!upper) d[i] = 0;
  }
  if (!isfinite(*L)) return lpdm_error(ctx, LPDM_ERR_NUM, "%s: loss is %g (non-finite distances?)", NAME, *L);
  return LPDM_OK;
}

LPDM_VECTORIZE static int eval(const lpdm_loss *self, const float *DX, const float *DY, const float *g, int B,
                               double *L, float *dDY, lpdm_ctx *ctx) {
  return eval_pairs(self, DX, DY, g, B, L, dDY, ctx, 0);
}

LPDM_VECTORIZE static int eval_upper(const lpdm_loss *self, const float *DX, const float *DY, const float *g, int B,
                                     double *L, float *dDY, lpdm_ctx *ctx) {
  return eval_pairs(self, DX, DY, g, B, L, dDY, ctx, 1);
}

/* ---- the same over row blocks (ABI 1.2 eval_rows; loss.h): three
   statistics passes, because each mean depends on the one before:
     pass 0: sums of DX, DY and |g_i - g_j|   -> mX (the kernel's width), mY, mG
     pass 1: sum of K                          -> mK
     pass 2: sums of R^2 and R Yn              -> L and c
     pass 3: dL/dDY per block (K again, from DX).
   The row kernels and the order of the sums are eval's: blocked runs give
   eval's results bit for bit. With partners (r->J) the diagonal is no
   column and the means are over the listed pairs. */
LPDM_VECTORIZE static int eval_rows(const lpdm_loss *self, int pass, const float *DX, const float *DY, const float *g,
                                    int B, const lpdm_rows *r, double *acc, double *L, float *dDY, lpdm_ctx *ctx) {
  if (B < 2) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: batch size must be >= 2, got %d", NAME, B);
  const kset ks = kset_of(self, g);
  const float *ga = ks.alpha != 0 ? g : NULL; /* alpha = 0 never reads g */
  const double N = r->npairs;
  const int w = r->w;
  const float inv2s2 = pass >= 1 ? inv2s2_of(&ks, acc, N) : 0.0f;
  double mY = 1;
  residual p = {0};
  if (pass >= 2) p = resid_of(&ks, acc, N, &mY);
  if (pass == 3) *L = finish(&ks, acc, N, mY, &p);
  for (int i = r->i0; i < r->i1; i++) {
    const size_t o = (size_t)(i - r->i0) * (size_t)w;
    const int *J = r->J ? r->J + o : NULL, dg = r->J ? -1 : i;
    const float *x = DX + o, *y = DY + o;
    if (pass == 0) {
      stats0(x, y, ga, ga ? ga[i] : 0.0f, J, w, dg, acc);
    } else if (pass == 1) {
      acc[KR_SK] += row_kern(x, NULL, w, ks.gauss, inv2s2) - (dg >= 0 ? kern(ks.gauss, x[dg], inv2s2) : 0.0f);
    } else {
      double sl, sc;
      row_resid(&p, x, NULL, y, ga, ga ? ga[i] : 0.0f, J, w, pass == 3 ? dDY + o : NULL, &sl, &sc);
      if (pass == 2) {
        float rd = 0, yd = 0;
        if (dg >= 0) yd = y[dg] * p.iY, rd = yd - p.ta * kern(ks.gauss, x[dg], inv2s2);
        acc[KR_L] += sl - (double)(rd * rd), acc[KR_C] += sc - (double)(rd * yd);
      } else if (dg >= 0) {
        dDY[o + (size_t)dg] = 0;
      }
    }
  }
  if (pass == 3 && !isfinite(*L))
    return lpdm_error(ctx, LPDM_ERR_NUM, "%s: loss is %g (non-finite distances?)", NAME, *L);
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
    .eval_upper = eval_upper,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_kernel(void) { return &kernel_kind.head; }
