/* SPDX-License-Identifier: MIT */
/*
** lib/util.c -- growable buffers, the mode key, the clock (lib/util.h).
*/
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int fgrow(lpdm_ctx *ctx, fbuf *b, size_t n) {
  if (n <= b->cap) return LPDM_OK;
  size_t nc = b->cap ? b->cap : 256;
  while (nc < n) nc *= 2;
  float *p = realloc(b->p, nc * sizeof(float));
  if (!p) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  b->p = p;
  b->cap = nc;
  return LPDM_OK;
}

int algo_mode(const lpdm_config *cfg, const lpdm_algo_setup *setup, int *local, lpdm_ctx *ctx) {
  const char *mode = lpdm_cfg_str(cfg, "mode");
  if (!strcmp(mode, "local"))
    *local = 1;
  else if (!strcmp(mode, "bp"))
    *local = 0;
  else
    return lpdm_error(ctx, LPDM_ERR_ARG, "mode must be 'local' or 'bp', got '%s'", mode);
  if (*local && (!setup->distance || !setup->loss))
    return lpdm_error(ctx, LPDM_ERR_ARG, "mode 'local' needs a distance and a loss");
  if (!*local) { /* refused when the run is built, not at its first update */
    int rc = setup->policy ? lpdm_net_check_backward(setup->policy, ctx, "the policy") : LPDM_OK;
    if (!rc && setup->value) rc = lpdm_net_check_backward(setup->value, ctx, "the value net");
    if (rc) return rc;
  }
  return LPDM_OK;
}

int algo_tri(const char *v, int dflt) {
  if (!strcmp(v, "auto")) return dflt;
  if (!strcmp(v, "true")) return 1;
  if (!strcmp(v, "false")) return 0;
  return -1;
}

double algo_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int algo_trunk_twin(lpdm_ctx *ctx, lpdm_net *src, uint64_t seed, uint64_t salt, lpdm_net **out) {
  lpdm_rng r;
  lpdm_rng_seed(&r, seed ^ salt);
  int rc = lpdm_net_clone(src, ctx, &r, out);
  if (rc) return rc;
  lpdm_local_cfg lc = lpdm_net_local(*out);
  lc.seed ^= salt;
  if ((rc = lpdm_net_set_local(*out, ctx, &lc))) {
    lpdm_net_free(*out);
    *out = NULL;
  }
  return rc;
}
