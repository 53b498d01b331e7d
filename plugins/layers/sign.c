/* SPDX-License-Identifier: MIT */
/*
** sign.c -- a black-box layer:  Y = sign(X), elementwise.
**
**     sign(x) = +1 for x > 0,  -1 for x < 0,  0 for x = 0 (either zero),
**
** as torch.sign and numpy.sign (a NaN stays NaN, so the net's finiteness
** checks still see it). The output keeps the input's width.
**
** sign has no backward (its derivative is zero almost everywhere): in local
** mode the next layer learns from the binary code it outputs; in bp mode a
** net holding it is refused, naming it, unless straight_through = true, in
** which case backpropagation passes the gradient through unchanged
** (dX = dY, the straight-through estimator of Bengio et al. 2013).
**
** Config keys (defaults):
**   straight_through = false   bp mode: pass the gradient through unchanged
**
** Lua:
**   local net = lpdm.net{ inputs = 4, lpdm.dense{ 64, act = "tanh" },
**                         lpdm.layer("sign"), lpdm.dense{ 64, act = "tanh" } }
*/
#include <stdlib.h>

#include "lpdm/lpdm.h"

static const lpdm_key keys[] = {
    {"straight_through", LPDM_T_BOOL, "false", "bp mode: pass the gradient through unchanged (dX = dY)"},
    {NULL, 0, NULL, NULL}};

static int sign_init(const lpdm_layer_kind *kind, const lpdm_config *cfg, int in, lpdm_rng *rng,
                     lpdm_layer **out, lpdm_ctx *ctx) {
  lpdm_layer *l = calloc(1, sizeof *l);
  if (!l) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  l->kind = kind;
  l->in_dim = in;
  l->out_dim = in;
  *out = l;
  return LPDM_OK;
}

static void sign_free(lpdm_layer *l) { free(l); }

static int sign_forward(lpdm_layer *l, const float *X, int B, float *Y, lpdm_ctx *ctx) {
  size_t n = (size_t)B * l->in_dim;
  for (size_t i = 0; i < n; i++) {
    float x = X[i];
    Y[i] = x > 0 ? 1.0f : x < 0 ? -1.0f : x == x ? 0.0f : x;
  }
  return LPDM_OK;
}

static const lpdm_layer_kind sign_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_LAYER, "layer.sign", "black box: sign(x) in {-1, 0, +1}", keys),
    .init = sign_init,
    .forward = sign_forward,
    .free = sign_free,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_sign(void) { return &sign_kind.head; }
