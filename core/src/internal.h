/* SPDX-License-Identifier: MIT */
/* internal.h -- liblpdm's private declarations (not installed). */
#ifndef LPDM_INTERNAL_H
#define LPDM_INTERNAL_H

#include "lpdm/lpdm.h"

#define LPDM_MSGLEN 1024

/* One registered plugin: its descriptor, where it came from, and the
   dlopen handle that keeps it alive (NULL for in-memory registrations). */
typedef struct lpdm_entry {
  const lpdm_plugin *p;
  char *origin;
  void *handle;
} lpdm_entry;

struct lpdm_ctx {
  int status;
  char msg[LPDM_MSGLEN];
  lpdm_entry *entries;
  int nentries, cap;
  char notes[1024]; /* lpdm_ctx_notes: what loading skipped, one line each */
  size_t nnotes;
};

/* Registry (plugin.c). */
void lpdm__registry_free(lpdm_ctx *ctx);

/* Grows *buf to hold at least n floats (keeps contents up to the old
   size). Returns 0 or LPDM_ERR_MEM with a message. */
int lpdm__grow(lpdm_ctx *ctx, float **buf, size_t *cap, size_t n);

/* The name among cands[0..n-1] closest to name by edit distance (ignoring
   case, '-' = '_'), when it is close enough to be a typo (at most 1 edit
   per 3 characters, at least 1, at most 3), or NULL: for "did you mean". */
const char *lpdm__closest(const char *name, const char *const *cands, int n);
/* Prefixes the context's message with name ("env.Hopper-v5: ...") like
   lpdm_ctx_prefix, first dropping the plugin's own short name if the
   message starts with it ("Hopper-v5: ..."), so the kind is named once. */
int lpdm__ctx_name(lpdm_ctx *ctx, int code, const lpdm_plugin *head);

/* The host's check after a callback it handed cfg to (ctx.c): rc when cfg
   recorded no bad read, else LPDM_ERR_ARG with lpdm_config_check's message
   naming head's plugin (a bad read is the root cause of whatever else the
   callback reported). */
int lpdm__cfg_after(lpdm_ctx *ctx, const lpdm_config *cfg, const lpdm_plugin *head, int rc);

/* Optimizer state (optim.c): moments of param i (v is NULL for SGD) and
   the step count. */
void lpdm__optim_state(lpdm_optim *o, int i, float **m, float **v, long long **t);

/* The generator of a net's sampled local pairs (lpdm_local_cfg.partners), for checkpoints. */
lpdm_rng *lpdm__net_partner_rng(lpdm_net *net);

#endif
