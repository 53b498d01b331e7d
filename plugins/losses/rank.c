/* SPDX-License-Identifier: MIT */
/*
** rank.c -- a rank-based local loss: the layer's output distances should
** put each sample's neighbours in the same ORDER as the target does, whatever
** their sizes. A pairwise logistic surrogate (RankNet, Burges et al. 2005)
** over triplets: anchor i, partners j and k,
**
**     T_ij = (1 - alpha) DX_ij / mX + alpha |g_i - g_j| / mG   (as guided.c)
**     Y_ij = DY_ij / mY
**     z    = s (Y_ij - Y_ik) / tau,   s = sign(T_ik - T_ij)
**     L    = (1/M) sum over the M triplets with T_ij != T_ik of
**            log(1 + exp(z))
**
** z < 0 when the output orders j and k as the target does: each triplet
** costs log 2 at a tie, -> 0 when ordered with room to spare (a margin of a
** few tau, in units of the mean output distance), ~ z when misordered.
** Triplets tied in the target (T_ij == T_ik exactly, e.g. duplicate
** samples) carry no order and are left out. Monotone transforms of DY
** leave the order alone, and the loss only asks for the order (plus a
** tau-sized margin), unlike stress, which asks for the sizes.
**
** Which triplets: for anchor i the partners are k = j + o (mod B) for
** `pairs` offsets o in 1..B-1, distinct, drawn per row from a hash of
** (seed, i): o_t = 1 + (h_i + t s_i) mod (B - 1) with s_i coprime to
** B - 1. The sample is a fixed function of (seed, B, i): the loss is a
** deterministic, smooth function of DY, and eval keeps no state (one
** instance serves concurrent threads). pairs = 0 or >= B - 1 takes every
** offset: all triplets, each unordered {j, k} twice. The anchor itself is
** never a partner. Cost: O(B^2 pairs) time (O(B^3) for all), no memory
** beyond dDY: a row's triplets read rows i of DX, DY and write row i of
** dDY, the loop over j vectorised (LPDM_VECTORIZE, a float32 exp/log1p
** good to 3e-7 relative), in stack chunks of 64.
**
** Gradient: with sigma the logistic function, a triplet adds
** s sigma(z) / (tau M) to dL/dY_ij and subtracts it from dL/dY_ik; then
**     dL/dDY_ij = (q_ij - (1/N) sum_kl q_kl Y_kl) / mY      (q = dL/dY)
** through mY as in match.h (normalize = false: Y = DY, T raw, dL/dDY = q,
** tau in raw units). No triplet (B < 3, or a target with no order): L = 0
** and a zero gradient.
**
** Config keys (defaults):
**   alpha     = 0.5      weight of the reward term in the target, in [0, 1]
**   normalize = true     divide each matrix by its off-diagonal mean
**   eps       = 1e-8     added to each mean (>= 0)
**   tau       = 0.1      temperature of the logistic (> 0)
**   pairs     = 8        partner offsets per anchor (0: all, O(B^3))
**   seed      = 1        which offsets are drawn
**
** Lua:
**   lpdm.algo("reinforce", { ..., mode = "local", loss = "rank" })
**   lpdm.algo("reinforce", { ..., mode = "local", loss = { "rank", alpha = 0, tau = 0.05, pairs = 16 } })
*/
#include <math.h>
#include <stdint.h>
#include <string.h>

#define LPDM_MATCH_TARGET_ONLY
#include "match.h"
#include "expneg.h"

static const char NAME[] = "loss.rank";

static const lpdm_key keys[] = {
    {"alpha", LPDM_T_NUMBER, "0.5", "weight of the reward term in the target distances, in [0, 1]"},
    {"normalize", LPDM_T_BOOL, "true", "divide each distance matrix by its off-diagonal mean"},
    {"eps", LPDM_T_NUMBER, "1e-8", "added to each mean"},
    {"tau", LPDM_T_NUMBER, "0.1", "temperature of the logistic surrogate (> 0)"},
    {"pairs", LPDM_T_INT, "8", "partner offsets per anchor (0: all triplets)"},
    {"seed", LPDM_T_INT, "1", "seed of the partner offsets"},
    {NULL, 0, NULL, NULL}};

static int create(lpdm_loss *self, lpdm_ctx *ctx) {
  const lpdm_config *c = &self->cfg;
  double a = lpdm_cfg_num(c, "alpha"), eps = lpdm_cfg_num(c, "eps"), tau = lpdm_cfg_num(c, "tau");
  int pairs = lpdm_cfg_int(c, "pairs");
  if (!(a >= 0 && a <= 1)) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: alpha must be in [0, 1], got %g", NAME, a);
  if (!(eps >= 0 && isfinite(eps)))
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: eps must be finite and >= 0, got %g", NAME, eps);
  if (!(tau > 0 && isfinite(tau)))
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: tau must be finite and > 0, got %g", NAME, tau);
  if (pairs < 0) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: pairs must be >= 0 (0: all), got %d", NAME, pairs);
  return LPDM_OK;
}

/* log(1 + e) for 0 <= e <= 1: 2 atanh(e / (2 + e)), seven odd terms. */
static inline float log1p_01(float e) {
  const float s = e / (2.0f + e), s2 = s * s;
  float p = 1.0f / 13.0f;
  p = p * s2 + 1.0f / 11.0f;
  p = p * s2 + 1.0f / 9.0f;
  p = p * s2 + 1.0f / 7.0f;
  p = p * s2 + 1.0f / 5.0f;
  p = p * s2 + 1.0f / 3.0f;
  p = p * s2 + 1.0f;
  return 2.0f * s * p;
}

static inline uint64_t mix64(uint64_t z) { /* splitmix64's finaliser */
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static inline int gcd(int a, int b) {
  while (b) {
    int t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/* What one row's triplets need. */
typedef struct row {
  const float *x, *y, *g; /* rows i of DX and DY; g (NULL: unguided) */
  float *q;               /* row i of dDY: dL/dY (unscaled by 1/M) */
  float gi, ta, tg, iY, itau;
  int i;
} row;

enum { CHUNK = 64 };

/* The triplets (i; j, j + off) for j in [j0, j1): adds their loss and
   count to *ls, *cnt and their gradient to r->q. */
static inline void segment(const row *r, int guided, int j0, int j1, int off, double *ls, double *cnt) {
  float zb[CHUNK], wb[CHUNK], gz[CHUNK];
  const float *x = r->x, *y = r->y, *g = r->g;
  const float gi = r->gi, ta = r->ta, tg = r->tg, f = r->iY * r->itau, itau = r->itau;
  const int i = r->i;
  for (int jc = j0; jc < j1; jc += CHUNK) {
    const int n = j1 - jc < CHUNK ? j1 - jc : CHUNK;
    /* the triplets: z and the signed weight w s (0: left out) */
#pragma omp simd
    for (int u = 0; u < n; u++) {
      const int j = jc + u, k = j + off;
      float tj = ta * x[j], tk = ta * x[k];
      if (guided) {
        tj += tg * fabsf(gi - g[j]);
        tk += tg * fabsf(gi - g[k]);
      }
      const float s = tk > tj ? 1.0f : -1.0f;
      wb[u] = (j != i && k != i && tj != tk) ? s : 0.0f;
      zb[u] = s * (y[j] - y[k]) * f;
    }
    /* their logistic costs and slopes */
    float l = 0, c = 0;
#pragma omp simd reduction(+ : l, c)
    for (int u = 0; u < n; u++) {
      const float z = zb[u], w = fabsf(wb[u]);
      const float e = lpdm_exp_neg(fabsf(z)), inv = 1.0f / (1.0f + e);
      const float sp = (z > 0.0f ? z : 0.0f) + log1p_01(e);
      const float sg = z >= 0.0f ? inv : e * inv;
      l += w * sp;
      c += w;
      gz[u] = wb[u] * sg * itau;
    }
    *ls += l;
    *cnt += c;
    float *qj = r->q + jc, *qk = r->q + jc + off;
#pragma omp simd
    for (int u = 0; u < n; u++) qj[u] += gz[u];
#pragma omp simd
    for (int u = 0; u < n; u++) qk[u] -= gz[u];
  }
}

LPDM_VECTORIZE static int eval(const lpdm_loss *self, const float *DX, const float *DY, const float *g, int B,
                               double *L, float *dDY, lpdm_ctx *ctx) {
  const lpdm_config *cfg = &self->cfg;
  const int normalize = lpdm_cfg_bool(cfg, "normalize");
  lpdm_match_target t = {0};
  int rc =
      lpdm_match_target_init(DX, DY, g, B, lpdm_cfg_num(cfg, "alpha"), normalize, lpdm_cfg_num(cfg, "eps"), &t, ctx);
  if (rc) return lpdm_ctx_prefix(ctx, rc, "%s", NAME);
  const int pairs = lpdm_cfg_int(cfg, "pairs");
  const uint64_t seed = (uint64_t)lpdm_cfg_int(cfg, "seed");
  const int all = pairs == 0 || pairs >= B - 1, m = all ? B - 1 : pairs;
  const int guided = g && t.tg != 0;
  memset(dDY, 0, sizeof(float) * (size_t)B * B);
  double ls = 0, cnt = 0;
  for (int i = 0; i < B && B >= 3; i++) {
    row r = {DX + (size_t)i * B,
             DY + (size_t)i * B,
             g,
             dDY + (size_t)i * B,
             guided ? g[i] : 0.0f,
             t.ta,
             t.tg,
             t.iY,
             (float)(1.0 / lpdm_cfg_num(cfg, "tau")),
             i};
    int h = 0, st = 1;
    if (!all) { /* offsets h + t st (mod B - 1), distinct since gcd(st, B - 1) = 1 */
      const uint64_t z = mix64(seed * 0x9e3779b97f4a7c15ULL + (uint64_t)i + 1);
      h = (int)((z & 0xffffffffu) % (uint64_t)(B - 1));
      st = 1 + (int)((z >> 32) % (uint64_t)(B - 2));
      while (gcd(st, B - 1) != 1) st = st % (B - 1) + 1;
    }
    for (int u = 0; u < m; u++) {
      const int o = all ? u + 1 : 1 + (int)(((int64_t)h + (int64_t)u * st) % (B - 1));
      if (guided) {
        segment(&r, 1, 0, B - o, o, &ls, &cnt);
        segment(&r, 1, B - o, B, o - B, &ls, &cnt);
      } else {
        segment(&r, 0, 0, B - o, o, &ls, &cnt);
        segment(&r, 0, B - o, B, o - B, &ls, &cnt);
      }
    }
  }
  *L = cnt > 0 ? ls / cnt : 0.0;
  if (!isfinite(*L)) return lpdm_error(ctx, LPDM_ERR_NUM, "%s: loss is %g (non-finite distances?)", NAME, *L);
  if (cnt > 0) {
    const float s = (float)(1.0 / cnt);
    for (size_t n = 0; n < (size_t)B * B; n++) dDY[n] *= s;
  }
  lpdm_match_through_mean(&t, DY, B, normalize, dDY);
  return LPDM_OK;
}

static const lpdm_loss_kind rank_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_LOSS, "loss.rank",
                             "order of the output distances matches the (guided) target's", keys),
    .uses_guidance = 1,
    .eval = eval,
    .create = create,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_rank(void) { return &rank_kind.head; }
