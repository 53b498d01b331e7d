/* SPDX-License-Identifier: MIT */
/*
** run.c -- a training run assembled from names and configs (lpdm/run.h).
**
** lpdm_run_new resolves what a user names -- the env by id (or an
** instance), the distance ("euclidean" unless named), the local loss (the
** algorithm's own default unless named), the algorithm -- and hands the
** algorithm its setup. The Lua binding's lpdm.algo, the C tests and the
** benchmarks all build runs here, so the defaults live in one place.
**
** Ownership: the run owns the algorithm instance and the distance and loss
** it made from names; nets, a given env and given instances are borrowed.
** On any failure everything made so far is freed and *out stays NULL.
*/
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "lpdm/run.h"

void lpdm_run_free(lpdm_run *run) {
  if (!run) return;
  lpdm_algo_free(run->algo); /* first: it borrows everything below */
  if (run->own_distance) lpdm_distance_free(run->distance);
  if (run->own_loss) lpdm_loss_free(run->loss);
  lpdm_figures_free(run->figures);
  free(run);
}

/* The env's kind, config, observation width and action space into r: from
   the given instance, or from an env made by id (and freed again). */
static int run_env(lpdm_ctx *ctx, const lpdm_run_spec *s, const char *what, lpdm_run *r) {
  const lpdm_env *env = s->env;
  lpdm_env *made = NULL;
  if (!env) {
    if (!s->env_id) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: an env (an instance or an id) is required", what);
    const lpdm_plugin *p = lpdm_plugin_get(ctx, LPDM_KIND_ENV, s->env_id);
    if (!p) return LPDM_ERR_ARG;
    int rc = lpdm_env_new(ctx, (const lpdm_env_kind *)p, s->env_cfg, &made);
    if (rc) return rc;
    env = made;
  }
  r->env_kind = env->kind;
  r->env_cfg = env->cfg;
  r->obs_dim = env->obs_space.dim;
  r->act_space = env->act_space;
  r->act_space.low = r->act_space.high = NULL; /* the env's arrays: not kept */
  lpdm_env_free(made);
  return LPDM_OK;
}

/* A net of the spec (field: its name in messages) against the env's width. */
static int run_net(lpdm_ctx *ctx, const lpdm_net *net, const char *field, const char *what, const lpdm_run *r) {
  if (net && lpdm_net_in_dim(net) != r->obs_dim)
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: '%s' takes %d inputs, but %s observations have %d values", what, field,
                      lpdm_net_in_dim(net), lpdm_plugin_short(&r->env_kind->head), r->obs_dim);
  return LPDM_OK;
}

/* The distance and loss: given instances, or made from names (defaults:
   "euclidean" and the algorithm's own local loss). */
static int run_parts(lpdm_ctx *ctx, const lpdm_run_spec *s, lpdm_run *r) {
  if (s->distance) {
    r->distance = s->distance;
  } else {
    const lpdm_plugin *p = lpdm_plugin_get(ctx, LPDM_KIND_DISTANCE, s->distance_name ? s->distance_name : "euclidean");
    if (!p) return LPDM_ERR_ARG;
    int rc = lpdm_distance_new(ctx, (const lpdm_distance_kind *)p, s->distance_cfg, &r->distance);
    if (rc) return rc;
    r->own_distance = 1;
  }
  if (s->loss) {
    r->loss = s->loss;
    return LPDM_OK;
  }
  int rc;
  if (s->loss_name) {
    const lpdm_plugin *p = lpdm_plugin_get(ctx, LPDM_KIND_LOSS, s->loss_name);
    if (!p) return LPDM_ERR_ARG;
    rc = lpdm_loss_new(ctx, (const lpdm_loss_kind *)p, s->loss_cfg, &r->loss);
  } else {
    const lpdm_loss_kind *lk;
    lpdm_config lc;
    rc = lpdm_algo_local_loss(ctx, r->kind, &lk, &lc, NULL);
    if (!rc) rc = lpdm_loss_new(ctx, lk, &lc, &r->loss);
  }
  if (!rc) r->own_loss = 1;
  return rc;
}

int lpdm_run_new(lpdm_ctx *ctx, const lpdm_run_spec *s, lpdm_run **out) {
  *out = NULL;
  const char *what = s->what ? s->what : "lpdm_run_new";
  if (!s->algo) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: an algorithm name is required", what);
  const lpdm_plugin *ap = lpdm_plugin_get(ctx, LPDM_KIND_ALGO, s->algo);
  if (!ap) return LPDM_ERR_ARG;
  lpdm_run *r = calloc(1, sizeof *r);
  if (!r) return lpdm_error(ctx, LPDM_ERR_MEM, "%s: out of memory", what);
  r->kind = (const lpdm_algo_kind *)ap;
  int rc = (r->figures = lpdm_figures_new()) ? LPDM_OK : lpdm_error(ctx, LPDM_ERR_MEM, "%s: out of memory", what);
  if (!rc) rc = run_env(ctx, s, what, r);
  if (!rc && !s->policy) rc = lpdm_error(ctx, LPDM_ERR_ARG, "%s: 'policy' (a net) is required", what);
  if (!rc) rc = run_net(ctx, s->policy, "policy", what, r);
  if (!rc) rc = run_net(ctx, s->value, "value", what, r);
  if (!rc && s->value == s->policy)
    rc = lpdm_error(ctx, LPDM_ERR_ARG, "%s: 'policy' and 'value' must be two different nets", what);
  if (!rc) rc = run_parts(ctx, s, r);
  if (rc) {
    lpdm_run_free(r);
    return rc;
  }
  r->setup.env_kind = r->env_kind;
  r->setup.env_cfg = &r->env_cfg;
  r->setup.policy = s->policy;
  r->setup.value = s->value;
  r->setup.distance = r->distance;
  r->setup.loss = r->loss;
  r->setup.on_episode = s->on_episode;
  r->setup.user = s->user;
  r->setup.comm = s->comm;
  lpdm_ctx_clear(ctx);
  rc = lpdm_algo_new(ctx, r->kind, s->algo_cfg, &r->setup, &r->algo);
  if (!rc && !r->algo) rc = lpdm_error(ctx, LPDM_ERR, "%s: create returned no instance", ap->name);
  if (rc) {
    lpdm_run_free(r);
    return rc;
  }
  *out = r;
  return LPDM_OK;
}

int lpdm_run_iterate(lpdm_run *run, lpdm_ctx *ctx) {
  lpdm_figures_clear(run->figures);
  return lpdm_algo_iterate(run->algo, ctx, run->figures);
}
