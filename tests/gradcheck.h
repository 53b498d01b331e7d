/* SPDX-License-Identifier: MIT */
/* gradcheck.h -- the one finite-difference fixture of lpdm's tests: TAP
   wrappers around liblpdm's installed checker (lpdm/gradcheck.h, which says
   what is checked), used by test_grad, test_fd_table, test_layers,
   test_losses and test_distances. Out-of-tree plugin tests call the same
   lpdm_fd_* functions (tests/test_sdk.c does).

     gc_fill(rng, x, n, scale)        x[i] = scale N(0, 1), in order
     gc_opts(tol)                     the default options with tol, every
                                      coordinate, no kink test
     gc_ok(r, tol, name, what)        one TAP line for a result
     gc_check_layer(...)              a layer at a random point (no jitter):
                                      dX, every parameter, and that backward
                                      adds into g and needs no dX
   Include after tap.h. */
#ifndef LPDM_TEST_GRADCHECK_H
#define LPDM_TEST_GRADCHECK_H
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lpdm/gradcheck.h"
#include "lpdm/lpdm.h"

static inline void gc_fill(lpdm_rng *rng, float *x, size_t n, double scale) {
  for (size_t i = 0; i < n; i++) x[i] = (float)(scale * lpdm_rng_normal(rng));
}

static inline lpdm_fd_opts gc_opts(double tol) {
  lpdm_fd_opts o = lpdm_fd_default();
  o.tol = tol;
  o.max_coords = 0;
  o.kinks = 0;
  return o;
}

/* One TAP check: the result passed. */
static inline int gc_ok(const lpdm_fd_result *r, double tol, const char *name, const char *what) {
  const int total = r->kept + r->dropped;
  if (r->dropped)
    return ok(r->pass, "%s: %s matches finite differences (rel err %.2g <= %.0e, %d of %d coordinates at a kink)",
              name, what, r->err, tol, r->dropped, total);
  return ok(r->pass, "%s: %s matches finite differences (rel err %.2g <= %.0e)", name, what, r->err, tol);
}

/* The TAP checks of every gradient of layer l on X and C drawn from rng
   (X first, then C, both N(0, 1)): dX, each parameter, accumulation.
   opts NULL: gc_opts(tol). */
static inline void gc_layer(lpdm_ctx *ctx, lpdm_rng *rng, lpdm_layer *l, int B, const lpdm_fd_opts *opts,
                            const char *name) {
  float *X = malloc(sizeof(float) * B * l->in_dim), *C = malloc(sizeof(float) * B * l->out_dim);
  gc_fill(rng, X, (size_t)B * l->in_dim, opts->scale);
  gc_fill(rng, C, (size_t)B * l->out_dim, 1.0);
  lpdm_fd_layer_result r;
  int rc = lpdm_fd_layer_at(ctx, l, X, B, C, opts, rng, &r);
  if (!ok(rc == 0, "%s: forward and backward run", name)) diag("%s", lpdm_ctx_message(ctx));
  if (!rc) {
    gc_ok(&r.dX, opts->tol, name, "dL/dX");
    for (int j = 0; j < l->nparams; j++) {
      char what[64];
      snprintf(what, sizeof what, "dL/d%s", l->params[j].name ? l->params[j].name : "param");
      gc_ok(&r.param[j], opts->tol, name, what);
    }
    if (l->nparams > 0)
      ok(r.accumulate_err < 1e-4, "%s: backward adds into every parameter's gradient (and needs no dX)", name);
  }
  free(X);
  free(C);
}

/* gc_layer with gc_opts(tol) (k is l's kind, kept for the callers). */
static inline void gc_check_layer(lpdm_ctx *ctx, lpdm_rng *rng, const lpdm_layer_kind *k, lpdm_layer *l, int B,
                                  double tol, const char *name) {
  (void)k;
  lpdm_fd_opts o = gc_opts(tol);
  gc_layer(ctx, rng, l, B, &o, name);
}

#endif
