/* SPDX-License-Identifier: MIT */
/*
** noise.c -- a black-box layer: additive Gaussian noise,  Y = X + std * N(0, 1),
** a fresh draw for every value on every forward call.
**
** Stochastic: the layer owns its RNG (an lpdm_rng in the instance, no
** globals). With seed = -1 (default) it is seeded by one draw of the RNG
** that initialises the network, so a run is reproducible from its seed and
** a cloned net (a critic shaped like the actor) draws its own stream; with
** seed >= 0 by the seed itself.
**
** When it applies: on every forward pass, acting (rollouts) and training
** alike. A layer cannot tell the two apart (lpdm's layer interface has no
** train/eval flag), and for on-policy RL this is the consistent choice: the
** policy that collects the data is the policy that is trained (as NoisyNets
** resample their noise when acting). For a noiseless evaluation build the
** evaluation net with std = 0. std = 0 is the identity.
**
** noise has no backward (it is treated as an opaque operation): in local
** mode the next layer learns from the noisy features; in bp mode a net
** holding it is refused, naming it, unless straight_through = true (then
** dX = dY, which for additive noise is also the exact gradient).
**
** Config keys (defaults):
**   std              = 0.1     standard deviation (>= 0)
**   seed             = -1      -1: from the net's init RNG; >= 0: fixed seed
**   straight_through = false   bp mode: pass the gradient through unchanged
**
** Lua:
**   lpdm.net{ inputs = 4, lpdm.dense{ 64 }, lpdm.layer("noise", { std = 0.05 }), lpdm.dense{ 64 } }
*/
#include <math.h>
#include <stdlib.h>

#include "lpdm/lpdm.h"

static const lpdm_key keys[] = {
    {"std", LPDM_T_NUMBER, "0.1", "standard deviation of the additive noise"},
    {"seed", LPDM_T_INT, "-1", "-1: seeded from the net's init RNG; >= 0: this fixed seed"},
    {"straight_through", LPDM_T_BOOL, "false", "bp mode: pass the gradient through unchanged (dX = dY)"},
    {NULL, 0, NULL, NULL}};

typedef struct noise {
  lpdm_layer base;
  double std;
  lpdm_rng rng; /* this instance's own stream */
} noise;

static int noise_init(const lpdm_layer_kind *kind, const lpdm_config *cfg, int in, lpdm_rng *rng,
                      lpdm_layer **out, lpdm_ctx *ctx) {
  double sd = lpdm_cfg_num(cfg, "std"), seed = lpdm_cfg_num(cfg, "seed");
  if (!(sd >= 0 && isfinite(sd))) return lpdm_error(ctx, LPDM_ERR_ARG, "std must be finite and >= 0, got %g", sd);
  if (!(seed >= -1)) return lpdm_error(ctx, LPDM_ERR_ARG, "seed must be -1 or >= 0, got %g", seed);
  noise *s = calloc(1, sizeof *s);
  if (!s) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  s->std = sd;
  lpdm_rng_seed(&s->rng, seed >= 0 ? (uint64_t)seed : lpdm_rng_u64(rng));
  s->base.kind = kind;
  s->base.in_dim = in;
  s->base.out_dim = in;
  *out = &s->base;
  return LPDM_OK;
}

static void noise_free(lpdm_layer *l) { free(l); }

static int noise_forward(lpdm_layer *l, const float *X, int B, float *Y, lpdm_ctx *ctx) {
  noise *s = (noise *)l;
  size_t n = (size_t)B * l->in_dim;
  if (s->std == 0) {
    for (size_t i = 0; i < n; i++) Y[i] = X[i];
    return LPDM_OK;
  }
  for (size_t i = 0; i < n; i++) Y[i] = (float)(X[i] + s->std * lpdm_rng_normal(&s->rng));
  return LPDM_OK;
}

/* The generator is the layer's state: a resumed run draws the same noise. */
static int noise_save(const lpdm_layer *l, lpdm_st *st, const char *prefix, lpdm_ctx *ctx) {
  return lpdm_state_put_rng(st, ctx, prefix, "rng", &((const noise *)l)->rng);
}

static int noise_load(lpdm_layer *l, const lpdm_st *st, const char *prefix, lpdm_ctx *ctx) {
  return lpdm_state_get_rng(st, ctx, prefix, "rng", &((noise *)l)->rng);
}

static const lpdm_layer_kind noise_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_LAYER, "layer.noise",
                             "black box: additive Gaussian noise, X + std N(0, 1)", keys),
    .init = noise_init,
    .forward = noise_forward,
    .free = noise_free,
    .save = noise_save,
    .load = noise_load,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_noise(void) { return &noise_kind.head; }
