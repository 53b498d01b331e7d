/* SPDX-License-Identifier: MIT */
/*
** guided.c -- the reward-guided local loss. The target distances mix the
** input geometry with the distance between the samples' reward signals g
** (return-to-go for REINFORCE, advantage for a PPO actor, return for a
** critic):
**
**     T_ij = (1 - alpha) DX_ij / mX + alpha |g_i - g_j| / mG
**     L    = 1/(B(B-1)) sum_{i != j} (DY_ij / mY - T_ij)^2
**
** mX, mY, mG are the mean off-diagonal entries (+ eps; equal returns give
** mG = eps, and the guidance term vanishes instead of blowing up).
** alpha = 0 is the unsupervised stress. Samples with similar returns are
** pulled together in feature space, dissimilar ones pushed apart.
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
**   alpha     = 0.5      weight of the reward term in the target
**   normalize = true     divide each matrix by its off-diagonal mean
**   eps       = 1e-8     added to each mean
**
** Lua:
**   lpdm.algo("reinforce", { ..., mode = "local", loss = { "guided", alpha = 0.3 } })
*/
#include "match.h"

static const lpdm_key keys[] = {
    {"alpha", LPDM_T_NUMBER, "0.5", "weight of the reward term in the target distances"},
    {"normalize", LPDM_T_BOOL, "true", "divide each distance matrix by its off-diagonal mean"},
    {"eps", LPDM_T_NUMBER, "1e-8", "added to each mean"},
    {NULL, 0, NULL, NULL}};

static int create(lpdm_loss *self, lpdm_ctx *ctx) {
  double a = lpdm_cfg_num(&self->cfg, "alpha");
  if (!(a >= 0 && a <= 1)) return lpdm_error(ctx, LPDM_ERR_ARG, "loss.guided: alpha must be in [0, 1], got %g", a);
  return LPDM_OK;
}

static int eval(const lpdm_loss *self, const float *DX, const float *DY, const float *g, int B,
                double *L, float *dDY, lpdm_ctx *ctx) {
  return lpdm_match_eval(DX, DY, g, B, lpdm_cfg_num(&self->cfg, "alpha"),
                         lpdm_cfg_bool(&self->cfg, "normalize"), lpdm_cfg_num(&self->cfg, "eps"), L,
                         dDY, ctx);
}

static int eval_upper(const lpdm_loss *self, const float *DX, const float *DY, const float *g, int B, double *L,
                      float *dDY, lpdm_ctx *ctx) {
  return lpdm_match_eval_upper(DX, DY, g, B, lpdm_cfg_num(&self->cfg, "alpha"), lpdm_cfg_bool(&self->cfg, "normalize"),
                               lpdm_cfg_num(&self->cfg, "eps"), L, dDY, ctx);
}

static int eval_rows(const lpdm_loss *self, int pass, const float *DX, const float *DY, const float *g, int B,
                     const lpdm_rows *r, double *acc, double *L, float *dDY, lpdm_ctx *ctx) {
  return lpdm_match_rows(pass, DX, DY, g, B, r, lpdm_cfg_num(&self->cfg, "alpha"),
                         lpdm_cfg_bool(&self->cfg, "normalize"), lpdm_cfg_num(&self->cfg, "eps"), acc, L, dDY, ctx);
}

static const lpdm_loss_kind guided_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_LOSS, "loss.guided", "reward-guided distance matching", keys),
    .uses_guidance = 1,
    .eval = eval,
    .create = create,
    .row_passes = 1,
    .eval_rows = eval_rows,
    .eval_upper = eval_upper,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_guided(void) { return &guided_kind.head; }
