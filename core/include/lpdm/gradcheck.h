/* SPDX-License-Identifier: MIT */
/*
** lpdm/gradcheck.h -- finite-difference gradient checks (gradcheck.c in
** liblpdm, installed with the SDK), so that a plugin author, in lpdm's tree
** or out of it, checks a vjp, a dL/dDY or a backward the way lpdm's own
** tests do (Torch7/THNN style).
**
** THE CHECK. For each coordinate i of a vector (all of them, or max_coords
** drawn at random), the central difference of a scalar objective f,
**     fd_i = (f(x + h e_i) - f(x - h e_i)) / 2h
** (the perturbed coordinate rounded to float32 as the plugin sees it; f
** summed in double), against the analytic gradient an_i. The error is
**     err = |fd - an| / max(|fd|, floor)        (2-norms over the coordinates)
** and the check passes when err <= tol. With kinks = 1 the difference is
** also taken at h/2, and a coordinate where the two disagree by more than
** tol * max(1, |fd_i|) straddles a kink (relu, |x|, max) and is left out;
** at most 10% may be.
**
** THE KINDS. Each has a form that draws a random point from rng and an
** "_at" form at the caller's point:
**   distance  f(X) = sum_ij W_ij D_ij(X), X (B x dim) of N(0, scale^2)
**             entries, W (B x B) N(0, 1), not symmetric: vjp's dX vs fd.
**   loss      L(DX, DY, g), DX and DY Euclidean distances of B random points
**             in 3 and 4 dimensions, g uniform in [0, 5): dDY_ij + dDY_ji
**             vs fd moving DY_ij and DY_ji together (i < j).
**   layer     f(X, params) = sum C .* layer(X), X of N(0, scale^2), C
**             N(0, 1), each parameter first moved by jitter N(0, 1) (off
**             special values such as zero biases): backward's dX and every
**             parameter's gradient vs fd; then backward again without dX
**             must ADD the same parameter gradients (accumulate_err).
** The random forms draw, in order: the point, then (only when a tensor has
** more than max_coords coordinates) its coordinates, tensor by tensor.
**
** Example (a distance plugin's test; see docs/plugins.md):
**     lpdm_fd_opts o = lpdm_fd_default();
**     lpdm_fd_result r;
**     lpdm_rng rng;
**     lpdm_rng_seed(&rng, 1);
**     if (lpdm_fd_distance(ctx, dist, 6, 5, &o, &rng, &r) || !r.pass)
**       printf("vjp is wrong: rel err %g (%s)\n", r.err, lpdm_ctx_message(ctx));
**
** Every function returns LPDM_OK when the check ran (its verdict is in the
** result), or a negative status with a message in ctx when a callback of
** the plugin failed, an argument is bad, or memory ran out.
*/
#ifndef LPDM_GRADCHECK_H
#define LPDM_GRADCHECK_H

#include <stddef.h>

#include "lpdm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lpdm_fd_opts {
  double h;       /* step (default 1e-2)                                              */
  double tol;     /* pass when err <= tol (default 1e-2); also the kink test's bound   */
  double floor;   /* err's denominator is max(|fd|, floor) (default 1e-3)             */
  int max_coords; /* coordinates per tensor: 0 every one; k > 0 at most k, drawn at
                     random from rng when there are more (default 200)               */
  int kinks;      /* 1: leave out coordinates at a kink, see above (default 1)        */
  double scale;   /* random forms: the sd of X (default 1)                            */
  double jitter;  /* layers: the sd of the move of each parameter (default 0.1)       */
} lpdm_fd_opts;
lpdm_fd_opts lpdm_fd_default(void);

typedef struct lpdm_fd_result {
  double err;      /* |fd - an| / max(|fd|, floor) over the kept coordinates */
  int kept;        /* coordinates compared                                   */
  int dropped;     /* coordinates left out at a kink                         */
  int pass;        /* err <= tol, kept > 0, dropped <= 10% of all            */
} lpdm_fd_result;

/* The generic check. f(user, i, delta) is the objective with coordinate i
   (0 <= i < n) moved by delta and put back afterwards; analytic holds the
   n analytic derivatives. rng draws the coordinates when n > max_coords
   (NULL: the first max_coords). */
typedef double (*lpdm_fd_fn)(void *user, size_t i, double delta);
int lpdm_fd_check(lpdm_ctx *ctx, lpdm_fd_fn f, void *user, const double *analytic, size_t n,
                  const lpdm_fd_opts *o, lpdm_rng *rng, lpdm_fd_result *r);

/* The same over a float vector v the objective reads: the checker moves
   v[i] itself and calls f(user) (v is restored bit for bit). */
int lpdm_fd_check_vec(lpdm_ctx *ctx, double (*f)(void *user), void *user, float *v, const float *grad, size_t n,
                      const lpdm_fd_opts *o, lpdm_rng *rng, lpdm_fd_result *r);

/* A distance's vjp at X (B x dim) with weights W (B x B); X is restored. */
int lpdm_fd_distance_at(lpdm_ctx *ctx, const lpdm_distance *d, float *X, int B, int dim, const float *W,
                        const lpdm_fd_opts *o, lpdm_rng *rng, lpdm_fd_result *r);
int lpdm_fd_distance(lpdm_ctx *ctx, const lpdm_distance *d, int B, int dim, const lpdm_fd_opts *o, lpdm_rng *rng,
                     lpdm_fd_result *r);

/* A loss's dL/dDY at (DX, DY, g) (B x B matrices, g: B values or NULL);
   DY is restored. */
int lpdm_fd_loss_at(lpdm_ctx *ctx, const lpdm_loss *l, const float *DX, float *DY, const float *g, int B,
                    const lpdm_fd_opts *o, lpdm_rng *rng, lpdm_fd_result *r);
int lpdm_fd_loss(lpdm_ctx *ctx, const lpdm_loss *l, int B, const lpdm_fd_opts *o, lpdm_rng *rng, lpdm_fd_result *r);

/* A layer's backward (it must have one). dX, then param[j] for each of its
   nparams parameters; accumulate_err is the worst |g2 - 2 g1| / (1e-3 +
   |g1|) after a second backward without dX (0 for a layer without
   parameters), which must be ~0 (< 1e-4): backward adds, and needs no dX.
   The parameters' gradients are left as the second backward made them. */
typedef struct lpdm_fd_layer_result {
  lpdm_fd_result dX;
  lpdm_fd_result param[LPDM_MAX_PARAMS];
  double accumulate_err;
  int pass; /* every check above passed */
} lpdm_fd_layer_result;
/* At X (B x in_dim) with weights C (B x out_dim); no jitter. */
int lpdm_fd_layer_at(lpdm_ctx *ctx, lpdm_layer *l, float *X, int B, const float *C, const lpdm_fd_opts *o,
                     lpdm_rng *rng, lpdm_fd_layer_result *r);
int lpdm_fd_layer(lpdm_ctx *ctx, lpdm_layer *l, int B, const lpdm_fd_opts *o, lpdm_rng *rng, lpdm_fd_layer_result *r);

#ifdef __cplusplus
}
#endif
#endif
