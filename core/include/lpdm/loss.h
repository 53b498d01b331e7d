/*
** lpdm/loss.h -- local-loss plugins: compare a layer's output distances DY
** with its input distances DX (and, for guided variants, a per-sample
** reward signal g), returning the loss and its gradient with respect to DY.
*/
#ifndef LPDM_LOSS_H
#define LPDM_LOSS_H
#include "plugin.h"

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
};

#endif
