/*
** common.h -- helpers shared by the algorithm plugins of this folder (an
** internal header, not part of the ABI): growable float buffers, output
** heads, categorical sampling.
*/
#ifndef LPDM_ALGOS_COMMON_H
#define LPDM_ALGOS_COMMON_H
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lpdm/lpdm.h"

/* A float buffer that grows to the largest size asked for and is reused. */
typedef struct fbuf {
  float *p;
  size_t cap;
} fbuf;

static inline int fgrow(lpdm_ctx *ctx, fbuf *b, size_t n) {
  if (n <= b->cap) return LPDM_OK;
  size_t nc = b->cap ? b->cap : 256;
  while (nc < n) nc *= 2;
  float *p = realloc(b->p, nc * sizeof(float));
  if (!p) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  b->p = p;
  b->cap = nc;
  return LPDM_OK;
}

/* A one-layer net: a linear (identity) dense layer from in to n outputs.
   init NULL keeps layer.dense's default initialisation; otherwise init and
   gain are set (e.g. "orthogonal", 0.01 for a PPO policy head). The layer
   kinds are in the host's registry, which a plugin reaches through ctx. */
static inline int lpdm_algo_make_head(lpdm_ctx *ctx, lpdm_net **out, int in, int n, const char *init, double gain,
                                      lpdm_rng *rng, const lpdm_optim_cfg *oc) {
  *out = NULL;
  const lpdm_plugin *dk = lpdm_plugin_find(ctx, LPDM_KIND_LAYER, "dense");
  if (!dk) return lpdm_error(ctx, LPDM_ERR_ARG, "the output head needs layer.dense, which is not loaded");
  lpdm_net *h = NULL;
  lpdm_config c;
  int rc = lpdm_net_new(ctx, in, &h);
  if (!rc) rc = lpdm_config_init(ctx, dk, &c);
  if (!rc) rc = lpdm_config_set_num(ctx, &c, "head", "out", n);
  if (!rc) rc = lpdm_config_set_str(ctx, &c, "head", "act", "identity");
  if (!rc && init) rc = lpdm_config_set_str(ctx, &c, "head", "init", init);
  if (!rc && init) rc = lpdm_config_set_num(ctx, &c, "head", "gain", gain);
  if (!rc) rc = lpdm_net_add(h, ctx, (const lpdm_layer_kind *)dk, &c, rng, oc);
  if (rc) {
    lpdm_net_free(h);
    return rc;
  }
  *out = h;
  return LPDM_OK;
}

/* The "mode" key every algorithm has: *local = 1 for "local", 0 for "bp";
   local mode needs the setup's distance and loss. */
static inline int lpdm_algo_mode(const lpdm_config *cfg, const lpdm_algo_setup *setup, int *local, lpdm_ctx *ctx) {
  const char *mode = lpdm_cfg_str(cfg, "mode");
  if (!strcmp(mode, "local")) *local = 1;
  else if (!strcmp(mode, "bp")) *local = 0;
  else return lpdm_error(ctx, LPDM_ERR_ARG, "mode must be 'local' or 'bp', got '%s'", mode);
  if (*local && (!setup->distance || !setup->loss))
    return lpdm_error(ctx, LPDM_ERR_ARG, "mode 'local' needs a distance and a loss");
  return LPDM_OK;
}

/* A bounded Gaussian mean (an algorithm's squash_mean option): the head's
   output z becomes mu = c + h tanh(z), with c = (lo + hi) / 2 and
   h = (hi - lo) / 2 the action range's centre and half-width, so the mean
   stays inside [lo, hi] however far z goes. dmu/dz = h (1 - tanh(z)^2). */
static inline double lpdm_algo_squash(double z, double lo, double hi) {
  return 0.5 * (hi + lo) + 0.5 * (hi - lo) * tanh(z);
}
static inline double lpdm_algo_squash_grad(double z, double lo, double hi) {
  double t = tanh(z);
  return 0.5 * (hi - lo) * (1 - t * t);
}

/* The Gaussian head's per-update stats, the same in every algorithm:
   log_std_mean (the mean over the nact action dimensions) and mu_abs_mean
   (mu_abs / mu_n: the policy mean's |value| summed over the update's
   steps and dimensions; NaN without a step). */
static inline void lpdm_algo_box_stats(lpdm_figures *st, const float *log_std, int nact, double mu_abs, double mu_n) {
  double m = 0;
  for (int i = 0; i < nact; i++) m += log_std[i];
  lpdm_figures_set(st, "log_std_mean", m / nact);
  lpdm_figures_set(st, "mu_abs_mean", mu_n > 0 ? mu_abs / mu_n : NAN);
}

/* Draws an index from softmax(logits[0..n-1]). */
static inline int lpdm_algo_sample_softmax(lpdm_rng *rng, const float *logits, int n) {
  double mx = logits[0];
  for (int i = 1; i < n; i++)
    if (logits[i] > mx) mx = logits[i];
  double z = 0;
  for (int i = 0; i < n; i++) z += exp(logits[i] - mx);
  double u = lpdm_rng_uniform(rng) * z, c = 0;
  for (int i = 0; i < n - 1; i++) {
    c += exp(logits[i] - mx);
    if (u < c) return i;
  }
  return n - 1;
}

#endif
