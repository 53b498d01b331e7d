/* SPDX-License-Identifier: MIT */
/*
** lpdm/layer.h -- layer plugins. A layer maps a batch X (B x in_dim,
** row-major float32) to Y (B x out_dim). A layer with backward == NULL is a
** black box: in local mode the next layer learns from its output, in bp
** mode it is an error naming it -- unless its config has a bool key
** "straight_through" set to true and in_dim == out_dim, where the gradient
** passes through unchanged.
*/
#ifndef LPDM_LAYER_H
#define LPDM_LAYER_H
#include "plugin.h"

typedef struct lpdm_layer_kind lpdm_layer_kind;
typedef struct lpdm_rng lpdm_rng;
typedef struct lpdm_st lpdm_st;

/* A trainable tensor: values w and gradient g, n floats each (rows x cols
   for display and checkpoints), owned by the layer. */
typedef struct lpdm_param {
  const char *name; /* "weight", "bias", ... */
  float *w;
  float *g;
  size_t n;
  int rows, cols;
} lpdm_param;

/* LPDM_MAX_PARAMS (8): plugin.h, with the other sizes the fingerprint covers. */

/* The public part of a layer instance; a plugin embeds it as the first
   member of its own struct. init() fills every field. */
typedef struct lpdm_layer {
  const lpdm_layer_kind *kind;
  lpdm_config cfg;
  int in_dim, out_dim;
  int nparams;
  lpdm_param params[LPDM_MAX_PARAMS];
} lpdm_layer;

struct lpdm_layer_kind {
  lpdm_plugin head; /* kind LPDM_KIND_LAYER, name "layer.<x>" */
  /* Builds an instance for inputs of in_dim features, its parameters drawn
     from rng. Caller frees with kind->free. */
  int (*init)(const lpdm_layer_kind *kind, const lpdm_config *cfg, int in_dim,
              lpdm_rng *rng, lpdm_layer **out, lpdm_ctx *ctx);
  /* Y = layer(X); Y has room for B x out_dim. */
  int (*forward)(lpdm_layer *self, const float *X, int B, float *Y,
                 lpdm_ctx *ctx);
  void (*free)(lpdm_layer *self); /* accepts NULL */
  /* (optional; NULL = black box) Given X, the Y that forward() gave for it,
     and dY = dL/dY (which it may overwrite), ADDS dL/dparam into each
     param's g and, when dX != NULL, writes dL/dX. */
  int (*backward)(lpdm_layer *self, const float *X, const float *Y, int B,
                  float *dY, float *dX, lpdm_ctx *ctx);
  /* ---- added in ABI 1.2, part of 2.0 (host gate: LPDM_ABI_MINOR_LAYER_SAVE) */
  /* (optional) State that is not a parameter -- a generator, a fixed
     matrix, running moments -- as tensors "<prefix>.<what>" (prefix is
     "<net>.<layer>"; lpdm_state_put/get in lpdm.h help). The host saves
     the parameters itself. load must change nothing when it fails. */
  int (*save)(const lpdm_layer *self, lpdm_st *st, const char *prefix, lpdm_ctx *ctx);
  int (*load)(lpdm_layer *self, const lpdm_st *st, const char *prefix, lpdm_ctx *ctx);
};

#endif
