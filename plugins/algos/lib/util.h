/* SPDX-License-Identifier: MIT */
/*
** lib/util.h -- small helpers of the algorithm plugins (plugins/algos/lib,
** a private static library linked into every algo plugin; not ABI):
** growable float buffers, the "mode" key, a monotonic clock and the
** "auto"/"true"/"false" switches.
**
**   fbuf b = {0};
**   if ((rc = fgrow(ctx, &b, n))) return rc;   // b.p holds >= n floats
**   ...
**   free(b.p);
*/
#ifndef LPDM_ALGOS_UTIL_H
#define LPDM_ALGOS_UTIL_H
#include <stddef.h>
#include <stdint.h>

#include "lpdm/lpdm.h"

/* A float buffer that grows to the largest size asked for and is reused. */
typedef struct fbuf {
  float *p;
  size_t cap;
} fbuf;

/* Makes b hold at least n floats (contents kept); LPDM_ERR_MEM on failure. */
int fgrow(lpdm_ctx *ctx, fbuf *b, size_t n);

/* The "mode" key every algorithm has: *local = 1 for "local", 0 for "bp";
   local mode needs the setup's distance and loss; bp mode refuses nets
   with black boxes it cannot pass (lpdm_net_check_backward), at build time. */
int algo_mode(const lpdm_config *cfg, const lpdm_algo_setup *setup, int *local, lpdm_ctx *ctx);

/* "auto" / "true" / "false" -> dflt / 1 / 0, or -1 when none of them. */
int algo_tri(const char *v, int dflt);

/* The critic's (or baseline's) hidden layers: a net shaped like src (its
   layers, settings, optimisers, local options) with weights of its own,
   drawn from a generator seeded from seed and salt, not from the
   algorithm's: the actor's trunk is drawn from a generator seeded with the
   run's seed, so a clone drawn from the same stream started out identical
   to it (issue 22). Its partner generator (local mode's pair sampling) is
   reseeded from salt too, so the two trunks never share partners. */
int algo_trunk_twin(lpdm_ctx *ctx, lpdm_net *src, uint64_t seed, uint64_t salt, lpdm_net **out);
/* Salts: one per role, so that two roles never share a stream. */
#define ALGO_SALT_CRITIC 0x63726974696301ULL /* "critic" */

/* Seconds on a monotonic clock (for sps). */
double algo_now(void);

#endif
