/* SPDX-License-Identifier: MIT */
/*
** minkowski.c -- the Minkowski (L_p) distance between the rows of a batch:
** an lpdm distance plugin built outside lpdm's tree, against the installed
** SDK (see CMakeLists.txt beside it, and docs/plugins.md).
**
**     D_ij = ( sum_k |x_ik - x_jk|^p )^(1/p)          p >= 1
**
** p = 1 is the Manhattan distance, p = 2 the Euclidean one, and p -> inf
** tends to the Chebyshev distance. lpdm's local losses compare the geometry
** of a layer's input and output batches through such a matrix, so a new
** distance is a new notion of "which samples are alike".
**
** vjp: with u = x_i - x_j, dD_ij/dx_i = sign(u) |u|^(p-1) / D_ij^(p-1) and
** dD_ij/dx_j = -dD_ij/dx_i, so each pair i < j adds, with
** s = dD_ij + dD_ji,
**     t_k = s * sign(u_k) |u_k|^(p-1) / D_ij^(p-1)   to dX_i,  -t_k to dX_j.
** A pair at distance 0 has no gradient (as in distance.euclidean).
** Plain loops, O(B^2 d) pow() calls: clear rather than fast (BLAS cannot
** help for p != 2).
**
** Config keys (defaults):
**   p = 3        the exponent, a finite number >= 1 (else refused by create)
**
** Lua (with LPDM_PLUGIN_PATH pointing at the directory of minkowski.so):
**   local d = lpdm.distance("minkowski", { p = 1.5 })
**   print(d:pairwise{ {0, 0}, {3, 4} }[1][2])           --> 5.5842...
**   lpdm.algo("reinforce", { ..., mode = "local", distance = { "minkowski", p = 3 } })
*/
#include <math.h>
#include <string.h>

#include <lpdm/lpdm.h>

static const lpdm_key keys[] = {
    {"p", LPDM_T_NUMBER, "3", "exponent p >= 1 (1: Manhattan, 2: Euclidean)"},
    {NULL, 0, NULL, NULL}};

/* Checks the config once, when an instance is made: the callbacks below can
   then trust p. */
static int create(lpdm_distance *self, lpdm_ctx *ctx) {
  double p = lpdm_cfg_num(&self->cfg, "p");
  if (!(p >= 1) || !isfinite(p))
    return lpdm_error(ctx, LPDM_ERR_ARG, "distance.minkowski: p must be a finite number >= 1, got %g", p);
  return LPDM_OK;
}

static int pairwise(const lpdm_distance *self, const float *X, int B, int d, float *D, float *work,
                    lpdm_ctx *ctx) {
  const double p = lpdm_cfg_num(&self->cfg, "p");
  for (int i = 0; i < B; i++) {
    D[(size_t)i * B + i] = 0.0f;
    for (int j = i + 1; j < B; j++) {
      const float *a = X + (size_t)i * d, *b = X + (size_t)j * d;
      double s = 0;
      for (int k = 0; k < d; k++) s += pow(fabs((double)a[k] - b[k]), p);
      float v = (float)pow(s, 1.0 / p);
      D[(size_t)i * B + j] = D[(size_t)j * B + i] = v;
    }
  }
  return LPDM_OK;
}

static int vjp(const lpdm_distance *self, const float *X, int B, int d, const float *D, const float *dD,
               float *dX, float *work, lpdm_ctx *ctx) {
  const double p = lpdm_cfg_num(&self->cfg, "p");
  memset(dX, 0, (size_t)B * d * sizeof *dX);
  for (int i = 0; i < B; i++)
    for (int j = i + 1; j < B; j++) {
      double Dij = D[(size_t)i * B + j];
      if (!(Dij > 0)) continue;
      double w = ((double)dD[(size_t)i * B + j] + dD[(size_t)j * B + i]) / pow(Dij, p - 1);
      const float *a = X + (size_t)i * d, *b = X + (size_t)j * d;
      float *ga = dX + (size_t)i * d, *gb = dX + (size_t)j * d;
      for (int k = 0; k < d; k++) {
        double u = (double)a[k] - b[k];
        if (u == 0) continue;
        double t = w * copysign(pow(fabs(u), p - 1), u);
        ga[k] += (float)t;
        gb[k] -= (float)t;
      }
    }
  return LPDM_OK;
}

static const lpdm_distance_kind minkowski_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_DISTANCE, "distance.minkowski",
                             "Minkowski distance (sum |x_i - x_j|^p)^(1/p)", keys),
    .pairwise = pairwise,
    .vjp = vjp,
    .create = create,
};

/* The one exported symbol: named after the file (minkowski.so). */
LPDM_EXPORT const lpdm_plugin *lpdm_plugin_minkowski(void) { return &minkowski_kind.head; }
