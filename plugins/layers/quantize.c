/* SPDX-License-Identifier: MIT */
/*
** quantize.c -- a black-box layer: each value rounded to the nearest of
** `levels` evenly spaced levels over [lo, hi].
**
**     step = (hi - lo) / (levels - 1)
**     i    = floor((clamp(x, lo, hi) - lo) / step + 1/2)     (0 .. levels-1)
**     y    = lo + i * step            (hi exactly for the top level)
**
** Values outside [lo, hi] go to the end levels; a value exactly halfway
** between two levels goes to the upper one; a NaN stays NaN. levels = 2
** over [-1, 1] is a sign with sign(0) = +1. The output keeps the input's
** width.
**
** quantize has no backward: in local mode the next layer learns from the
** quantized output; in bp mode a net holding it is refused, naming it,
** unless straight_through = true (then dX = dY, the straight-through
** estimator).
**
** Config keys (defaults):
**   levels           = 8       number of levels (>= 2)
**   lo               = -1.0    lowest level
**   hi               = 1.0     highest level (> lo)
**   straight_through = false   bp mode: pass the gradient through unchanged
**
** Lua:
**   lpdm.net{ inputs = 4, lpdm.dense{ 64 }, lpdm.layer("quantize", { levels = 4 }),
**             lpdm.dense{ 64 } }
*/
#include <math.h>
#include <stdlib.h>

#include "lpdm/lpdm.h"

static const lpdm_key keys[] = {
    {"levels", LPDM_T_INT, "8", "number of levels (>= 2)"},
    {"lo", LPDM_T_NUMBER, "-1.0", "lowest level"},
    {"hi", LPDM_T_NUMBER, "1.0", "highest level"},
    {"straight_through", LPDM_T_BOOL, "false", "bp mode: pass the gradient through unchanged (dX = dY)"},
    {NULL, 0, NULL, NULL}};

typedef struct quantize {
  lpdm_layer base;
  int levels;
  double lo, hi, step;
} quantize;

static int q_init(const lpdm_layer_kind *kind, const lpdm_config *cfg, int in, lpdm_rng *rng, lpdm_layer **out,
                  lpdm_ctx *ctx) {
  double k = lpdm_cfg_num(cfg, "levels"), lo = lpdm_cfg_num(cfg, "lo"), hi = lpdm_cfg_num(cfg, "hi");
  if (!(k >= 2 && k <= (1 << 24))) return lpdm_error(ctx, LPDM_ERR_ARG, "levels must be 2..16777216, got %g", k);
  if (!isfinite(lo) || !isfinite(hi) || !(hi > lo))
    return lpdm_error(ctx, LPDM_ERR_ARG, "need finite lo < hi, got lo=%g hi=%g", lo, hi);
  quantize *s = calloc(1, sizeof *s);
  if (!s) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  s->levels = (int)k;
  s->lo = lo;
  s->hi = hi;
  s->step = (hi - lo) / (s->levels - 1);
  s->base.kind = kind;
  s->base.in_dim = in;
  s->base.out_dim = in;
  *out = &s->base;
  return LPDM_OK;
}

static void q_free(lpdm_layer *l) { free(l); }

static int q_forward(lpdm_layer *l, const float *X, int B, float *Y, lpdm_ctx *ctx) {
  const quantize *s = (const quantize *)l;
  const double lo = s->lo, hi = s->hi, step = s->step, top = s->levels - 1;
  size_t n = (size_t)B * l->in_dim;
  for (size_t i = 0; i < n; i++) {
    double x = X[i];
    if (x != x) {
      Y[i] = X[i];
      continue;
    }
    x = x < lo ? lo : x > hi ? hi : x;
    double k = floor((x - lo) / step + 0.5);
    Y[i] = (float)(k >= top ? hi : lo + k * step);
  }
  return LPDM_OK;
}

static const lpdm_layer_kind q_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_LAYER, "layer.quantize",
                             "black box: round to the nearest of k levels in [lo, hi]", keys),
    .init = q_init,
    .forward = q_forward,
    .free = q_free,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_quantize(void) { return &q_kind.head; }
