/* SPDX-License-Identifier: MIT */
/*
** lpdm/algo.h -- algorithm plugins (REINFORCE, PPO, ...). An algorithm is
** created from its config and a setup (the env to make copies of, the
** networks, the local-learning components), then advanced one iteration
** (one update) at a time, so a Lua loop can watch it.
*/
#ifndef LPDM_ALGO_H
#define LPDM_ALGO_H
#include "plugin.h"
#include "env.h"
#include "distance.h"
#include "loss.h"
#include "comm.h"

typedef struct lpdm_algo_kind lpdm_algo_kind;
typedef struct lpdm_net lpdm_net;

/* One finished episode. */
typedef struct lpdm_episode {
  int64_t global_step; /* env steps taken when it ended (all copies)  */
  double ret;          /* undiscounted sum of raw env rewards          */
  int length;          /* steps                                         */
  int env_index;       /* which env copy                                */
} lpdm_episode;

/* The named figures of one iteration ("loss_policy", "entropy",
   "actor_local_loss_12", ...): an opaque, growable list that the host makes
   and an algorithm's iterate fills with lpdm_figures_set (lpdm.h). Names are
   copied, of any number and length; setting a name again replaces its value.
   (Up to ABI 1.3 this was the fixed struct lpdm_stats of 32 static names.) */
typedef struct lpdm_figures lpdm_figures;

/* What the host hands an algorithm. Everything is borrowed: the algorithm
   must not free it, and it outlives the algorithm instance. */
typedef struct lpdm_algo_setup {
  const lpdm_env_kind *env_kind; /* the algorithm makes its own copies */
  const lpdm_config *env_cfg;
  lpdm_net *policy;  /* hidden layers of the policy; the algo adds its head  */
  lpdm_net *value;   /* hidden layers of a value net, or NULL                */
  lpdm_distance *distance; /* local mode: distance between samples          */
  lpdm_loss *loss;         /* local mode: the hidden layers' local loss     */
  void (*on_episode)(void *user, const lpdm_episode *ep); /* may be NULL */
  void *user;
  /* ---- ABI 1.3 (a host fills it; only plugins built for >= 1.3 read it) */
  /* Data-parallel run over comm->size processes (lpdm/comm.h), each with
     the same config and seed; NULL or size 1: one process. Every rank's
     on_episode sees every rank's episodes, in the single-process order. */
  const lpdm_comm *comm;
} lpdm_algo_setup;

/* The public part of an instance, first member of the plugin's own struct
   (allocate it zeroed). The host sets kind, and cfg to the config create()
   was given -- unless create() filled cfg itself (cfg.n > 0), e.g. with
   "auto" defaults made concrete, so that what a run reports is what ran. */
typedef struct lpdm_algo {
  const lpdm_algo_kind *kind;
  lpdm_config cfg;
} lpdm_algo;

/* iterate() returns LPDM_OK while there is more to do, LPDM_DONE when the
   step budget is spent, a negative status on error. */
#define LPDM_DONE 1

struct lpdm_algo_kind {
  lpdm_plugin head; /* kind LPDM_KIND_ALGO, name "algo.<x>" */
  int (*create)(const lpdm_algo_kind *kind, const lpdm_config *cfg,
                const lpdm_algo_setup *setup, lpdm_algo **out, lpdm_ctx *ctx);
  int (*iterate)(lpdm_algo *self, lpdm_figures *figures, lpdm_ctx *ctx);
  void (*free)(lpdm_algo *self); /* accepts NULL */
  /* (optional) greedy/deterministic action for obs, for evaluation */
  int (*act)(lpdm_algo *self, const float *obs, double *action, lpdm_ctx *ctx);
  /* ---- ABI 1.1 (read by the host only from plugins built for >= 1.1) */
  /* (optional) Everything needed to continue the run exactly after the
     last iterate -- networks and their optimizers, RNGs, env copies,
     counters -- into st (names of the algorithm's choosing); load restores
     it into an instance created with the same config and setup. Called
     between iterations only. */
  int (*save)(lpdm_algo *self, lpdm_st *st, lpdm_ctx *ctx);
  int (*load)(lpdm_algo *self, const lpdm_st *st, lpdm_ctx *ctx);
  /* ---- ABI 1.2 */
  /* (optional) The local loss this algorithm's local mode uses when the
     user names none: a loss name and settings, "kernel anchor=1" (NULL:
     "guided"). Hosts resolve it with lpdm_algo_local_loss. */
  const char *local_loss;
  /* ---- ABI 1.3 */
  /* 1: create() honours setup->comm (a data-parallel run); 0: the host
     refuses a comm of more than one process. */
  int distributed;
  /* ---- ABI 2.2 (host gate: LPDM_ABI_MINOR_ALGO_POLICY) */
  /* (optional) Everything acting needs, as a policy file (docs/policy.md):
     the trunk and head ("trunk.<i>.<param>", "head.<i>.<param>", no
     optimizer), a Gaussian's "log_std", the observation normalisation
     ("obs_norm.mean", "obs_norm.var", F64) and the metadata (format
     "lpdm.policy", algo, distribution, env, spaces, the nets' layer
     lists) into st, so that lpdm_policy_act (lpdm.h) on the file gives
     act()'s action bit for bit. Called between iterations only. */
  int (*export_policy)(lpdm_algo *self, lpdm_st *st, lpdm_ctx *ctx);
};

#endif
