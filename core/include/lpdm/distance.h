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
};

#endif
