/* SPDX-License-Identifier: MIT */
/*
** cosine.c -- the cosine distance between the rows of a batch: one minus
** the cosine of the angle between them,
**
**     D_ij = 1 - c_ij,   c_ij = x_i . x_j / (|x_i| |x_j|),   D in [0, 2]
**
** (SciPy's `cosine`). It sees directions only: scaling a row leaves its
** distances unchanged, so a layer matched under it keeps its norm free.
**
** pairwise: the Gram matrix G = X X^T (one cblas_ssyrk), u_i = 1 / |x_i|
** with |x_i| = sqrt(G_ii), c_ij = G_ij u_i u_j, D_ij = 1 - c_ij clamped to
** [0, 2]. In float32, 1 - c carries a rounding error of a few 1e-7 (a
** duplicate row can come out at 3e-7, or a few ulp below 0): D_ij below
** 2^-20 (~1e-6, an angle of ~1.4e-3 rad) is set to 0, so that duplicate and
** parallel rows are at distance exactly 0.
**
** vjp: dc_ij/dx_i = u_i (u_j x_j - c_ij u_i x_i), so with S = dD + dD^T
** (zero diagonal), M_ij = S_ij u_i u_j and r_i = u_i^2 sum_j S_ij c_ij,
**     dX = diag(r) X - M X                (one cblas_sgemm)
** taking c_ij = 1 - D_ij (the clamp is not differentiated: it moves D by
** rounding error only). Parallel rows (D = 0) sit at the distance's
** minimum, where the formula's gradient is 0: no special case.
**
** Degenerate rows: a row with |x_i| <= eps counts as the zero vector. It
** has no direction, so by convention it is at distance 1 (orthogonal, the
** middle of the range) from every row that has one, at distance 0 from
** another zero row (the same point), and it neither receives nor passes a
** gradient (u_i = 0 in the formulas above). Nothing is NaN.
**
** Work: B^2 + 2B floats (within LPDM_DIST_WORK).
**
** Config keys (defaults):
**   eps = 1e-8     rows with |x| <= eps are zero rows (see above); >= 0
**
** Lua:
**   lpdm.algo("reinforce", { ..., mode = "local", distance = "cosine" })
**   lpdm.algo("ppo", { ..., mode = "local", distance = { "cosine", eps = 1e-6 } })
*/
#include <cblas.h>
#include <math.h>

#include "pairs.h"

static const char NAME[] = "distance.cosine";
#define SNAP 0x1p-20f /* 1 - c below this is rounding noise: 0 */

static const lpdm_key keys[] = {
    {"eps", LPDM_T_NUMBER, "1e-8", "rows with |x| <= eps count as zero rows (distance 1, no gradient)"},
    {NULL, 0, NULL, NULL}};

static int create(lpdm_distance *self, lpdm_ctx *ctx) {
  double eps = lpdm_cfg_num(&self->cfg, "eps");
  if (!(eps >= 0 && isfinite(eps)))
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: eps must be finite and >= 0, got %g", NAME, eps);
  return LPDM_OK;
}

/* u_i = 1/|x_i| (0 for a zero row) from the Gram diagonal G_ii = |x_i|^2. */
static inline float inv_norm(float g, float eps) {
  float n = sqrtf(g > 0.0f ? g : 0.0f);
  return n > eps ? 1.0f / n : 0.0f;
}

LPDM_VECTORIZE static int pairwise(const lpdm_distance *self, const float *X, int B, int d, float *D, float *work,
                                   lpdm_ctx *ctx) {
  int rc = lpdm_pairs_check(ctx, NAME, B, d);
  if (rc) return rc;
  const float eps = (float)lpdm_cfg_num(&self->cfg, "eps");
  float *u = work; /* B */
  cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, B, d, 1.0f, X, d, 0.0f, D, B);
  for (int i = 0; i < B; i++) u[i] = inv_norm(D[(size_t)i * B + i], eps);
  for (int i = 0; i < B; i++) {
    float *Di = D + (size_t)i * B;
    const float ui = u[i];
#pragma omp simd
    for (int j = i + 1; j < B; j++) {
      float c = Di[j] * ui * u[j];
      float s = 1.0f - c;
      s = s >= SNAP ? s : 0.0f;
      s = s < 2.0f ? s : 2.0f;
      /* two zero rows: the same point */
      Di[j] = (ui == 0.0f && u[j] == 0.0f) ? 0.0f : s;
    }
    Di[i] = 0.0f;
  }
  lpdm_k_mirror_upper(D, B);
  return LPDM_OK;
}

LPDM_VECTORIZE static int vjp(const lpdm_distance *self, const float *X, int B, int d, const float *D, const float *dD,
                              float *dX, float *work, lpdm_ctx *ctx) {
  int rc = lpdm_pairs_check(ctx, NAME, B, d);
  if (rc) return rc;
  const float eps = (float)lpdm_cfg_num(&self->cfg, "eps");
  float *M = work, *u = work + (size_t)B * B, *r = u + B;
  for (int i = 0; i < B; i++) {
    const float *x = X + (size_t)i * d;
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int k = 0; k < d; k++) s += x[k] * x[k];
    u[i] = inv_norm(s, eps);
  }
  lpdm_pairs_sym(dD, M, B); /* M = S, then S_ij u_i u_j */
  for (int i = 0; i < B; i++) {
    float *Mi = M + (size_t)i * B;
    const float *Di = D + (size_t)i * B;
    const float ui = u[i];
    float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
    for (int j = 0; j < B; j++) {
      acc += Mi[j] * (1.0f - Di[j]); /* S_ij c_ij */
      Mi[j] *= ui * u[j];
    }
    r[i] = ui * ui * acc;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, d, B, -1.0f, M, B, X, d, 0.0f, dX, d);
  for (int i = 0; i < B; i++) {
    float *o = dX + (size_t)i * d;
    const float *x = X + (size_t)i * d;
    const float ri = r[i];
#pragma omp simd
    for (int k = 0; k < d; k++) o[k] += ri * x[k];
  }
  return LPDM_OK;
}

static const lpdm_distance_kind cosine_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_DISTANCE, "distance.cosine", "cosine distance 1 - cos(x_i, x_j)", keys),
    .pairwise = pairwise,
    .vjp = vjp,
    .create = create,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_cosine(void) { return &cosine_kind.head; }
