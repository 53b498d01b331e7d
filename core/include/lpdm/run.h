/* SPDX-License-Identifier: MIT */
/*
** lpdm/run.h -- a training run assembled from names and configs: the env
** (an id and its config, or an instance), the nets, the local-learning
** distance and loss (a name and config, or an instance), the algorithm.
**
** This is what lpdm.algo(name, cfg) does in Lua, for C hosts, tests and
** benchmarks: one call instead of eight. The defaults are the binding's:
** distance "euclidean", loss the algorithm's own (lpdm_algo_local_loss:
** its local_loss, "guided" when it names none).
**
**   lpdm_run_spec s = {.algo = "ppo", .algo_cfg = &cfg, .env_id = "CartPole-v1",
**                      .policy = net};
**   lpdm_run *run = NULL;
**   if (lpdm_run_new(ctx, &s, &run)) fprintf(stderr, "%s\n", lpdm_ctx_message(ctx));
**   while (lpdm_run_iterate(run, ctx) == LPDM_OK) { ... run->figures ... }
**   lpdm_run_free(run);
**
** Errors leave a message in ctx; with spec.what set, messages about the
** spec itself start with it ("lpdm.algo: 'policy' takes 3 inputs, ...").
*/
#ifndef LPDM_RUN_H
#define LPDM_RUN_H

#include "lpdm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a run is made of. Zero-initialise it and set what you need. Every
   pointer is borrowed: it must stay valid while lpdm_run_new runs, and the
   nets, a given env's kind, and given distance/loss instances must outlive
   the run (the run copies configs, never frees what it was given). */
typedef struct lpdm_run_spec {
  const char *what;             /* the caller, prefixing messages; NULL: "lpdm_run_new"      */
  const char *algo;             /* algorithm name, full or short ("algo.ppo", "ppo"); required */
  const lpdm_config *algo_cfg;  /* NULL: the algorithm's defaults                            */
  /* the env: an instance (its kind and config are used; the algorithm makes
     its own copies), or else an id with a config (NULL: defaults) */
  const lpdm_env *env;
  const char *env_id;
  const lpdm_config *env_cfg;
  lpdm_net *policy;             /* required: hidden layers of the policy                    */
  lpdm_net *value;              /* hidden layers of a value net, or NULL                     */
  /* local-learning components: an instance, or else a name with a config
     (NULL: defaults); with neither, "euclidean" and the algorithm's loss */
  lpdm_distance *distance;
  const char *distance_name;
  const lpdm_config *distance_cfg;
  lpdm_loss *loss;
  const char *loss_name;
  const lpdm_config *loss_cfg;
  void (*on_episode)(void *user, const lpdm_episode *ep); /* may be NULL */
  void *user;
  const lpdm_comm *comm;        /* data-parallel run (lpdm/comm.h), or NULL                 */
} lpdm_run_spec;

/* A run. Read-only for its user; lpdm_run_free frees what it owns. */
typedef struct lpdm_run {
  lpdm_algo *algo;              /* the algorithm instance (owned)                           */
  const lpdm_algo_kind *kind;   /* its kind (the context's)                                 */
  const lpdm_env_kind *env_kind;
  lpdm_config env_cfg;          /* a copy of the env's config (the algorithm borrows it)     */
  int obs_dim;                  /* the env's observation width                              */
  lpdm_space act_space;         /* the env's action space (low/high: NULL, not kept)         */
  lpdm_distance *distance;      /* used by local mode; owned unless the spec gave it         */
  lpdm_loss *loss;
  int own_distance, own_loss;
  lpdm_algo_setup setup;        /* what the algorithm was given                             */
  lpdm_figures *figures;        /* the last iteration's figures (owned; read them)           */
} lpdm_run;

/* Builds a run from spec into *out (NULL on failure; nothing is left
   allocated then). Checks, in order: the algorithm's name and config, the
   env, a policy net, each net's input width against the env's
   observations, policy != value, the distance, the loss, then the
   algorithm's own create(). Caller frees with lpdm_run_free. */
int lpdm_run_new(lpdm_ctx *ctx, const lpdm_run_spec *spec, lpdm_run **out);
/* Frees the algorithm, then the distance and loss it made. Accepts NULL. */
void lpdm_run_free(lpdm_run *run);
/* One iteration (one update): clears run->figures and has the algorithm
   fill them (lpdm_algo_iterate). LPDM_OK while there is more to do,
   LPDM_DONE when the budget is spent, a negative status on error (ctx says
   why). */
int lpdm_run_iterate(lpdm_run *run, lpdm_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
