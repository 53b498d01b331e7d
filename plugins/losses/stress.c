/* SPDX-License-Identifier: MIT */
/*
** stress.c -- the unsupervised local loss: metric-MDS stress between the
** distances of a layer's input and output batches.
**
**     L = 1/(B(B-1)) sum_{i != j} (DY_ij / mY - DX_ij / mX)^2
**
** mX, mY are the mean off-diagonal distances (+ eps), so the loss matches
** the shape of the geometry and not its scale; normalize = false compares
** raw distances. The gradient with respect to DY includes the path through
** mY (see match.h). The layer learns a (usually wider) map that preserves
** its input's pairwise geometry, as in multi-dimensional scaling.
**
** Upper triangles (ABI 2.1 eval_upper, match.h's lpdm_match_eval_upper):
** the same loss read from the pairs i < j only, writing the pair's whole
** gradient there; the local update takes it with distance.euclidean.
**
** Large batches (ABI 1.2 eval_rows, match.h's lpdm_match_rows): one pass
** over row blocks gathers the sums that give the means, L and c; a second
** writes dL/dDY block by block. Never a B x B matrix.
**
** Config keys (defaults):
**   normalize = true     divide each matrix by its mean off-diagonal entry
**   eps       = 1e-8     added to each mean
**
** Lua:
**   lpdm.algo("reinforce", { ..., mode = "local", loss = "stress" })
**   lpdm.algo("reinforce", { ..., mode = "local", loss = { "stress", normalize = false } })
*/
#include "match.h"

static const lpdm_key keys[] = {
    {"normalize", LPDM_T_BOOL, "true", "divide each distance matrix by its off-diagonal mean"},
    {"eps", LPDM_T_NUMBER, "1e-8", "added to each mean"},
    {NULL, 0, NULL, NULL}};

static int eval(const lpdm_loss *self, const float *DX, const float *DY, const float *g, int B,
                double *L, float *dDY, lpdm_ctx *ctx) {
  return lpdm_match_eval(DX, DY, NULL, B, 0.0, lpdm_cfg_bool(&self->cfg, "normalize"),
                         lpdm_cfg_num(&self->cfg, "eps"), L, dDY, ctx);
}

static int eval_upper(const lpdm_loss *self, const float *DX, const float *DY, const float *g, int B, double *L,
                      float *dDY, lpdm_ctx *ctx) {
  return lpdm_match_eval_upper(DX, DY, NULL, B, 0.0, lpdm_cfg_bool(&self->cfg, "normalize"),
                               lpdm_cfg_num(&self->cfg, "eps"), L, dDY, ctx);
}

static int eval_rows(const lpdm_loss *self, int pass, const float *DX, const float *DY, const float *g, int B,
                     const lpdm_rows *r, double *acc, double *L, float *dDY, lpdm_ctx *ctx) {
  return lpdm_match_rows(pass, DX, DY, NULL, B, r, 0.0, lpdm_cfg_bool(&self->cfg, "normalize"),
                         lpdm_cfg_num(&self->cfg, "eps"), acc, L, dDY, ctx);
}

static const lpdm_loss_kind stress_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_LOSS, "loss.stress",
                             "unsupervised MDS stress between input and output distances", keys),
    .eval = eval,
    .row_passes = 1,
    .eval_rows = eval_rows,
    .eval_upper = eval_upper,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_stress(void) { return &stress_kind.head; }
