/* SPDX-License-Identifier: MIT */
/*
** topk.c -- a black-box layer: in each row, keep the k largest values and
** set the others to zero (k-winners-take-all).
**
** "Largest" is by value, as torch.topk (not by magnitude). Ties: when
** several entries equal the k-th largest value, the ones with the lowest
** index are kept, so exactly k entries of each row pass (-0 and +0 count as
** equal). A NaN ranks above every number (as torch.topk) and is passed on.
** The output keeps the input's width; k must be 1..width.
**
** topk has no backward: in local mode the next layer learns from the sparse
** code; in bp mode a net holding it is refused, naming it, unless
** straight_through = true (then dX = dY unchanged; note that this also
** passes gradient to the zeroed entries: the plain straight-through rule,
** not the masked one).
**
** Config keys (defaults):
**   k                = 8       values kept per row (1..width)
**   straight_through = false   bp mode: pass the gradient through unchanged
**
** Lua:
**   lpdm.net{ inputs = 4, lpdm.dense{ 64 }, lpdm.layer("topk", { k = 16 }), lpdm.dense{ 64 } }
*/
#include <stdlib.h>
#include <string.h>

#include "lpdm/lpdm.h"

static const lpdm_key keys[] = {
    {"k", LPDM_T_INT, "8", "values kept per row (1..width)"},
    {"straight_through", LPDM_T_BOOL, "false", "bp mode: pass the gradient through unchanged (dX = dY)"},
    {NULL, 0, NULL, NULL}};

typedef struct entry {
  float v;
  int i;
} entry;

typedef struct topk {
  lpdm_layer base;
  int k;
  entry *row; /* one row's (value, index) pairs, sized at init */
} topk;

/* Descending by value, NaN first, then ascending by index. */
static int cmp_desc(const void *pa, const void *pb) {
  const entry *a = pa, *b = pb;
  int na = a->v != a->v, nb = b->v != b->v;
  if (na != nb) return na ? -1 : 1;
  if (!na) {
    if (a->v > b->v) return -1;
    if (a->v < b->v) return 1;
  }
  return (a->i > b->i) - (a->i < b->i);
}

static void topk_free(lpdm_layer *l) {
  topk *t = (topk *)l;
  if (!t) return;
  free(t->row);
  free(t);
}

static int topk_init(const lpdm_layer_kind *kind, const lpdm_config *cfg, int in, lpdm_rng *rng,
                     lpdm_layer **out, lpdm_ctx *ctx) {
  double k = lpdm_cfg_num(cfg, "k");
  if (!(k >= 1 && k <= in))
    return lpdm_error(ctx, LPDM_ERR_ARG, "k must be 1..%d (the input width), got %g", in, k);
  topk *t = calloc(1, sizeof *t);
  if (!t || !(t->row = malloc((size_t)in * sizeof *t->row))) {
    free(t);
    return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  }
  t->k = (int)k;
  t->base.kind = kind;
  t->base.in_dim = in;
  t->base.out_dim = in;
  *out = &t->base;
  return LPDM_OK;
}

static int topk_forward(lpdm_layer *l, const float *X, int B, float *Y, lpdm_ctx *ctx) {
  topk *t = (topk *)l;
  const int d = l->in_dim, k = t->k;
  for (int r = 0; r < B; r++) {
    const float *x = X + (size_t)r * d;
    float *y = Y + (size_t)r * d;
    for (int j = 0; j < d; j++) t->row[j] = (entry){x[j], j};
    if (k < d) qsort(t->row, (size_t)d, sizeof *t->row, cmp_desc);
    memset(y, 0, (size_t)d * sizeof(float)); /* X and Y may be the same row: x is not read after this */
    for (int j = 0; j < k; j++) y[t->row[j].i] = t->row[j].v;
  }
  return LPDM_OK;
}

static const lpdm_layer_kind topk_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_LAYER, "layer.topk",
                             "black box: keep the k largest values of each row, zero the rest", keys),
    .init = topk_init,
    .forward = topk_forward,
    .free = topk_free,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_topk(void) { return &topk_kind.head; }
