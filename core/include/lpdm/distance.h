/* SPDX-License-Identifier: MIT */
/*
** lpdm/distance.h -- distance plugins: a batch X (B x d, row-major float32)
** to its B x B matrix of pairwise distances, and the vector-Jacobian product
** that carries a gradient on the distances back to X.
*/
#ifndef LPDM_DISTANCE_H
#define LPDM_DISTANCE_H
#include "plugin.h"

typedef struct lpdm_distance_kind lpdm_distance_kind;

/* An instance: the kind, its checked config, and private state (NULL
   unless the kind has create/destroy). Built by lpdm_distance_new. */
typedef struct lpdm_distance {
  const lpdm_distance_kind *kind;
  lpdm_config cfg;
  void *state;
} lpdm_distance;

/* Workspace: the host passes `work` with room for at least
   LPDM_DIST_WORK(B, d) floats, free for the callback to use. */
#define LPDM_DIST_WORK(B, d) ((size_t)(B) * (size_t)(B) + 4 * (size_t)(B) + (size_t)(B) * (size_t)(d))

/* A block of rows of the B x B matrix (ABI 1.2, the row-blocked path of
   the local update; also read by loss.h's eval_rows). Every row of the
   block has w entries: with J == NULL all B columns (w = B, entry t of row
   i is column t, the diagonal included), else w listed partners, entry t
   of row i being column J[(i - i0) * w + t] (never i; J points at the
   block's own rows). npairs is the number of pairs the loss averages over,
   across all blocks: B (B - 1) for whole rows, B w for partners. */
typedef struct lpdm_rows {
  int i0, i1;    /* rows i0 <= i < i1 */
  int w;         /* entries per row   */
  const int *J;  /* NULL, or (i1 - i0) x w column indices */
  double npairs; /* pairs over the whole matrix (all blocks) */
} lpdm_rows;
#define LPDM_ROWS_COL(r, i, t) ((r)->J ? (r)->J[(size_t)((i) - (r)->i0) * (size_t)(r)->w + (size_t)(t)] : (t))

/* Workspace of pairwise_rows / vjp_rows for a block of `rows` rows. */
#define LPDM_DIST_ROWS_WORK(B, d, rows) \
  ((size_t)(rows) * (size_t)(B) + 4 * (size_t)(B) + (size_t)(B) * (size_t)(d))

struct lpdm_distance_kind {
  lpdm_plugin head; /* kind LPDM_KIND_DISTANCE, name "distance.<x>" */
  /* D[i*B+j] = dist(x_i, x_j); D symmetric with a zero diagonal. */
  int (*pairwise)(const lpdm_distance *self, const float *X, int B, int d,
                  float *D, float *work, lpdm_ctx *ctx);
  /* dX = sum over (i,j) of dD[i*B+j] * d D_ij / d X, overwriting dX.
     D is the matrix pairwise() returned for the same X. */
  int (*vjp)(const lpdm_distance *self, const float *X, int B, int d,
             const float *D, const float *dD, float *dX, float *work,
             lpdm_ctx *ctx);
  /* (optional) private state from the config; NULL means none. */
  int (*create)(lpdm_distance *self, lpdm_ctx *ctx);
  void (*destroy)(lpdm_distance *self); /* (optional) */
  /* ---- added in ABI 1.2, part of 2.0 (host gate: LPDM_ABI_MINOR_ROWS) */
  /* (optional; both or neither) Rows of the matrix, for batches whose
     B x B matrix does not fit (docs/performance.md, "Large batches").
     pairwise_rows writes the rows r->i0 <= i < r->i1, r->w entries each:
         D[(i - r->i0) * r->w + t] = dist(x_i, x_j),  j = LPDM_ROWS_COL(r, i, t)
     (with r->J == NULL, j = t and D_ii = 0). vjp_rows ADDS to dX (B x d)
         sum over the block's (i, t) of dD[(i - r->i0) * r->w + t] * dD_ij/dX
     -- into row i AND row j, since D_ij depends on both -- where D is the
     block pairwise_rows gave for the same X and rows. The host zeroes dX
     and calls vjp_rows once per block, blocks in increasing order; for a
     given X and blocks the result must not depend on anything else (no
     threads racing on dX), so blocked runs repeat bit for bit.
     work: LPDM_DIST_ROWS_WORK(B, d, r->i1 - r->i0) floats. */
  int (*pairwise_rows)(const lpdm_distance *self, const float *X, int B, int d, const lpdm_rows *r, float *D,
                       float *work, lpdm_ctx *ctx);
  int (*vjp_rows)(const lpdm_distance *self, const float *X, int B, int d, const lpdm_rows *r, const float *D,
                  const float *dD, float *dX, float *work, lpdm_ctx *ctx);
  /* ---- added in ABI 2.1 (host gate: LPDM_ABI_MINOR_UPPER) */
  /* (optional; both or neither) The same matrix and vjp over the upper
     triangle only, for a host whose loss reads only that (loss.h's
     eval_upper): half the O(B^2) passes, no mirror and no transpose.
     pairwise_upper writes D[i*B+j] = dist(x_i, x_j) for i < j and D_ii = 0;
     the lower triangle is left as it was. vjp_upper overwrites dX with
         sum over i < j of dD[i*B+j] * d D_ij / d X
     reading D and dD at i < j only: dD_ij is the gradient with respect to
     the pair's one distance (which the full vjp gets as dD_ij + dD_ji).
     work: LPDM_DIST_WORK(B, d) floats, as pairwise and vjp. */
  int (*pairwise_upper)(const lpdm_distance *self, const float *X, int B, int d, float *D, float *work,
                        lpdm_ctx *ctx);
  int (*vjp_upper)(const lpdm_distance *self, const float *X, int B, int d, const float *D, const float *dD,
                   float *dX, float *work, lpdm_ctx *ctx);
};

#endif
