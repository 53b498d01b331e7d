/* SPDX-License-Identifier: MIT */
/*
** sort.c -- a black-box layer: each row sorted ascending.
**
** A permutation-invariant summary of the features (the sorted row forgets
** which unit carried which value). NaNs go last (as numpy.sort); -0 sorts
** before +0, so the output is fully determined by the input. The output
** keeps the input's width.
**
** sort has no backward: in local mode the next layer learns from the sorted
** rows; in bp mode a net holding it is refused, naming it, unless
** straight_through = true (then dX = dY unchanged, by position: not routed
** back through the permutation).
**
** Config keys (defaults):
**   straight_through = false   bp mode: pass the gradient through unchanged
**
** Lua:
**   lpdm.net{ inputs = 4, lpdm.dense{ 64 }, lpdm.layer("sort"), lpdm.dense{ 64 } }
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lpdm/lpdm.h"

static const lpdm_key keys[] = {
    {"straight_through", LPDM_T_BOOL, "false", "bp mode: pass the gradient through unchanged (dX = dY)"},
    {NULL, 0, NULL, NULL}};

/* Ascending, -0 before +0, NaN last. */
static int cmp_asc(const void *pa, const void *pb) {
  float a = *(const float *)pa, b = *(const float *)pb;
  int na = a != a, nb = b != b;
  if (na || nb) return na - nb;
  if (a < b) return -1;
  if (a > b) return 1;
  return (signbit(b) != 0) - (signbit(a) != 0);
}

static int sort_init(const lpdm_layer_kind *kind, const lpdm_config *cfg, int in, lpdm_rng *rng,
                     lpdm_layer **out, lpdm_ctx *ctx) {
  lpdm_layer *l = calloc(1, sizeof *l);
  if (!l) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  l->kind = kind;
  l->in_dim = in;
  l->out_dim = in;
  *out = l;
  return LPDM_OK;
}

static void sort_free(lpdm_layer *l) { free(l); }

static int sort_forward(lpdm_layer *l, const float *X, int B, float *Y, lpdm_ctx *ctx) {
  const int d = l->in_dim;
  if (Y != X) memmove(Y, X, (size_t)B * d * sizeof(float));
  for (int r = 0; r < B; r++) qsort(Y + (size_t)r * d, (size_t)d, sizeof(float), cmp_asc);
  return LPDM_OK;
}

static const lpdm_layer_kind sort_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_LAYER, "layer.sort", "black box: each row sorted ascending", keys),
    .init = sort_init,
    .forward = sort_forward,
    .free = sort_free,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_sort(void) { return &sort_kind.head; }
