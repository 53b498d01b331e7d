/* SPDX-License-Identifier: MIT */
/*
** random_projection.c -- a black-box layer:  Y = X R  with a fixed random
** Gaussian matrix R (in x out), drawn once at init and never trained.
**
**     R_ij ~ N(0, 1/out)
**
** so that E |x R|^2 = |x|^2: squared norms, and hence pairwise distances,
** are preserved in expectation (Johnson-Lindenstrauss). R comes from the
** layer's own RNG: with seed = -1 (default) that RNG is seeded by one draw
** of the RNG that initialises the network (R follows the net's seed, and a
** cloned net gets its own R); with seed >= 0 by the seed itself (the same
** R in every run and every net of that config). R is not a parameter: the
** layer has none.
**
** random_projection has no backward: in local mode the next layer learns
** from the projected features; in bp mode a net holding it is refused,
** naming it. straight_through = true only helps when out equals the input
** width (then dX = dY, not R^T dY); with out != width, bp mode refuses it
** and says why.
**
** Config keys (defaults):
**   out              = 64      output width
**   seed             = -1      -1: from the net's init RNG; >= 0: fixed seed
**   straight_through = false   bp mode: pass the gradient through unchanged
**
** Lua:
**   lpdm.net{ inputs = 4, lpdm.dense{ 64 }, lpdm.layer("random_projection", { 256, seed = 7 }),
**             lpdm.dense{ 64 } }
*/
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lpdm/lpdm.h"

static const lpdm_key keys[] = {
    {"out", LPDM_T_INT, "64", "output width"},
    {"seed", LPDM_T_INT, "-1", "-1: seeded from the net's init RNG; >= 0: this fixed seed"},
    {"straight_through", LPDM_T_BOOL, "false", "bp mode: pass the gradient through unchanged (needs out = width)"},
    {NULL, 0, NULL, NULL}};

typedef struct rproj {
  lpdm_layer base;
  float *R; /* in x out */
} rproj;

static void rp_free(lpdm_layer *l) {
  rproj *r = (rproj *)l;
  if (!r) return;
  free(r->R);
  free(r);
}

static int rp_init(const lpdm_layer_kind *kind, const lpdm_config *cfg, int in, lpdm_rng *rng, lpdm_layer **out,
                   lpdm_ctx *ctx) {
  double q = lpdm_cfg_num(cfg, "out"), seed = lpdm_cfg_num(cfg, "seed");
  if (!(q >= 1 && q <= (1 << 20))) return lpdm_error(ctx, LPDM_ERR_ARG, "out must be 1..1048576, got %g", q);
  if (!(seed >= -1)) return lpdm_error(ctx, LPDM_ERR_ARG, "seed must be -1 or >= 0, got %g", seed);
  if ((double)in * q > (1 << 28)) return lpdm_error(ctx, LPDM_ERR_ARG, "too large: %d x %g matrix", in, q);
  rproj *r = calloc(1, sizeof *r);
  size_t n = (size_t)in * (size_t)q;
  if (!r || !(r->R = malloc(n * sizeof(float)))) {
    free(r);
    return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory (%d x %g matrix)", in, q);
  }
  lpdm_rng own;
  lpdm_rng_seed(&own, seed >= 0 ? (uint64_t)seed : lpdm_rng_u64(rng));
  const double sd = 1.0 / sqrt(q);
  for (size_t i = 0; i < n; i++) r->R[i] = (float)(sd * lpdm_rng_normal(&own));
  r->base.kind = kind;
  r->base.in_dim = in;
  r->base.out_dim = (int)q;
  *out = &r->base;
  return LPDM_OK;
}

static int rp_forward(lpdm_layer *l, const float *X, int B, float *Y, lpdm_ctx *ctx) {
  const rproj *r = (const rproj *)l;
  const int p = l->in_dim, q = l->out_dim;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, q, p, 1.0f, X, p, r->R, q, 0.0f, Y, q);
  return LPDM_OK;
}

/* R as "<prefix>.matrix" (F32, in x out): a checkpoint holds everything the
   net computes, for readers without lpdm's generator (PyTorch: Y = X @ R).
   load takes the file's R, checked for shape and finite values first. */
static int rp_save(const lpdm_layer *l, lpdm_st *st, const char *prefix, lpdm_ctx *ctx) {
  char name[LPDM_ST_NAMELEN];
  const int64_t shape[2] = {l->in_dim, l->out_dim};
  if (snprintf(name, sizeof name, "%s.matrix", prefix) >= (int)sizeof name)
    return lpdm_error(ctx, LPDM_ERR_ARG, "checkpoint: tensor name too long (prefix '%s')", prefix);
  return lpdm_st_add(st, ctx, name, LPDM_ST_F32, 2, shape, ((const rproj *)l)->R);
}

static int rp_load(lpdm_layer *l, const lpdm_st *st, const char *prefix, lpdm_ctx *ctx) {
  char name[LPDM_ST_NAMELEN];
  int dtype, ndim;
  const int64_t *shape;
  size_t nb, n = (size_t)l->in_dim * (size_t)l->out_dim;
  if (snprintf(name, sizeof name, "%s.matrix", prefix) >= (int)sizeof name)
    return lpdm_error(ctx, LPDM_ERR_ARG, "checkpoint: tensor name too long (prefix '%s')", prefix);
  const char *x = lpdm_st_get(st, name, &dtype, &ndim, &shape, &nb);
  if (!x) return lpdm_error(ctx, LPDM_ERR_IO, "checkpoint: no tensor '%s'", name);
  if (dtype != LPDM_ST_F32 || ndim != 2 || shape[0] != l->in_dim || shape[1] != l->out_dim)
    return lpdm_error(ctx, LPDM_ERR_IO, "checkpoint: tensor '%s' must be F32 of shape %d x %d", name, l->in_dim,
                      l->out_dim);
  for (size_t k = 0; k < n; k++) {
    float f;
    memcpy(&f, x + 4 * k, 4);
    if (!isfinite(f))
      return lpdm_error(ctx, LPDM_ERR_NUM, "checkpoint: tensor '%s' has a non-finite value at index %zu", name, k);
  }
  memcpy(((rproj *)l)->R, x, n * sizeof(float));
  return LPDM_OK;
}

static const lpdm_layer_kind rp_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_LAYER, "layer.random_projection",
                             "black box: X R with a fixed seeded Gaussian R, N(0, 1/out), never trained", keys),
    .init = rp_init,
    .forward = rp_forward,
    .free = rp_free,
    .save = rp_save,
    .load = rp_load,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_random_projection(void) { return &rp_kind.head; }
