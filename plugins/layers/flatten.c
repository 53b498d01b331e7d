/* SPDX-License-Identifier: MIT */
/*
** flatten.c -- the identity on flattened data:  Y = X.
**
** lpdm's batches are already flat (B x features, row-major): a conv2d layer
** writes each sample's C x H x W output as one row, which is exactly what
** the next dense layer reads. flatten therefore copies its input; it exists
** so that a script reads like the network it builds (conv -> flatten ->
** dense), as in PyTorch. It has no parameters and is differentiable
** (dX = dY), so bp mode passes through it.
**
** Config keys: none.
**
** Lua:
**   local net = lpdm.net{ inputs = 400,
**     lpdm.layer("conv2d", { in_channels = 4, height = 10, width = 10, padding = 1 }),
**     lpdm.layer("flatten"), lpdm.dense{ 64 } }
*/
#include <stdlib.h>
#include <string.h>

#include "lpdm/lpdm.h"

static int flatten_init(const lpdm_layer_kind *kind, const lpdm_config *cfg, int in, lpdm_rng *rng,
                        lpdm_layer **out, lpdm_ctx *ctx) {
  lpdm_layer *l = calloc(1, sizeof *l);
  if (!l) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  l->kind = kind;
  l->in_dim = in;
  l->out_dim = in;
  *out = l;
  return LPDM_OK;
}

static void flatten_free(lpdm_layer *l) { free(l); }

static int flatten_forward(lpdm_layer *l, const float *X, int B, float *Y, lpdm_ctx *ctx) {
  if (Y != X) memmove(Y, X, (size_t)B * l->in_dim * sizeof(float));
  return LPDM_OK;
}

static int flatten_backward(lpdm_layer *l, const float *X, const float *Y, int B, float *dY, float *dX,
                            lpdm_ctx *ctx) {
  if (dX && dX != dY) memmove(dX, dY, (size_t)B * l->in_dim * sizeof(float));
  return LPDM_OK;
}

static const lpdm_layer_kind flatten_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_LAYER, "layer.flatten", "identity on flattened (C x H x W) rows", NULL),
    .init = flatten_init,
    .forward = flatten_forward,
    .free = flatten_free,
    .backward = flatten_backward,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_flatten(void) { return &flatten_kind.head; }
