/* SPDX-License-Identifier: MIT */
/*
** lpdm/loss.h -- local-loss plugins: compare a layer's output distances DY
** with its input distances DX (and, for guided variants, a per-sample
** reward signal g), returning the loss and its gradient with respect to DY.
*/
#ifndef LPDM_LOSS_H
#define LPDM_LOSS_H
#include "plugin.h"
#include "distance.h" /* lpdm_rows */

typedef struct lpdm_loss_kind lpdm_loss_kind;

typedef struct lpdm_loss {
  const lpdm_loss_kind *kind;
  lpdm_config cfg;
  void *state;
} lpdm_loss;

struct lpdm_loss_kind {
  lpdm_plugin head; /* kind LPDM_KIND_LOSS, name "loss.<x>" */
  /* Set 1 when the loss reads g (the host then refuses g == NULL). */
  int uses_guidance;
  /* DX, DY: B x B, symmetric, zero diagonal. g: B values or NULL.
     Writes *L and dDY (B x B, overwritten). */
  int (*eval)(const lpdm_loss *self, const float *DX, const float *DY,
              const float *g, int B, double *L, float *dDY, lpdm_ctx *ctx);
  int (*create)(lpdm_loss *self, lpdm_ctx *ctx); /* (optional) */
  void (*destroy)(lpdm_loss *self);              /* (optional) */
  /* ---- added in ABI 1.2, part of 2.0 (host gate: LPDM_ABI_MINOR_ROWS) */
  /* (optional) Row-blocked evaluation, for batches whose B x B matrices do
     not fit (docs/performance.md, "Large batches"). row_passes (1 to
     LPDM_LOSS_MAX_PASSES; 0 with eval_rows NULL) statistics passes come
     before one gradient pass. In every pass the host calls eval_rows once
     per block of rows, blocks in increasing order, covering rows 0..B-1;
     DX and DY are the block's rows of the two matrices and dDY its rows of
     the gradient, all (r->i1 - r->i0) x r->w laid out as lpdm_rows says
     (whole rows: entry i of row i is the zero diagonal); g is all B values
     (NULL when uses_guidance is 0 and the caller gave none).
       pass <  row_passes: ADDS the block's share of the statistics into acc
                (LPDM_LOSS_ACC doubles, zeroed by the host before pass 0;
                the layout is the loss's); L and dDY are NULL.
       pass == row_passes: reads acc (and does not change it), writes the
                block's dL/dDY (a zero diagonal) and sets *L to the loss.
     The loss is the plugin's eval over the pairs the rows hold: every
     off-diagonal pair (r->npairs = B (B - 1)) gives eval's loss up to float
     summation order; listed partners (r->npairs = B w) give the same
     formula over those pairs, an estimate (the host's option "partners").
     Sums must be formed in a fixed order (e.g. each row in float, rows
     added to acc in row order): blocked runs then repeat bit for bit. */
  int row_passes;
  int (*eval_rows)(const lpdm_loss *self, int pass, const float *DX, const float *DY, const float *g, int B,
                   const lpdm_rows *r, double *acc, double *L, float *dDY, lpdm_ctx *ctx);
  /* ---- added in ABI 2.1 (host gate: LPDM_ABI_MINOR_UPPER) */
  /* (optional) eval over the upper triangles: DX and DY are read at i < j
     only (the host's distance wrote nothing else, distance.h's
     pairwise_upper), and the loss is eval's for the symmetric matrices
     they stand for, up to float summation order. Writes *L and, at i < j
     only, dDY_ij = dL/dDY_ij + dL/dDY_ji: the gradient with respect to the
     pair's one distance, which vjp_upper takes. The host uses it when its
     distance has pairwise_upper and vjp_upper. */
  int (*eval_upper)(const lpdm_loss *self, const float *DX, const float *DY, const float *g, int B, double *L,
                    float *dDY, lpdm_ctx *ctx);
  /* ---- added in ABI 2.3 (host gate: LPDM_ABI_MINOR_RULE) */
  /* (optional) NULL: a distance-matching loss (eval is required). Otherwise
     the name of the learning rule this plugin selects for an algorithm's
     trunks instead of distance matching ("localhead": layer-wise local
     heads; "dfa": direct feedback alignment): the algorithms build the rule
     (plugins/algos/lib/rule.h) from the plugin's config, eval may be NULL,
     and lpdm_net_local_update refuses the loss by name. docs/architecture.md
     ("Learning rules") says why a rule is named through a loss. */
  const char *rule;
};

/* LPDM_LOSS_ACC (32 doubles of eval_rows' accumulator): plugin.h, in the fingerprint. */
#define LPDM_LOSS_MAX_PASSES 8  /* most statistics passes eval_rows may ask for */

#endif
