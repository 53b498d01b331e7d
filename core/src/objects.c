/* SPDX-License-Identifier: MIT */
/* objects.c -- host-side constructors for plugin instances: distances and
   losses (config + optional private state), envs (with action checking),
   algorithms. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int default_cfg(lpdm_ctx *ctx, const lpdm_plugin *p, const lpdm_config *cfg,
                       lpdm_config *dst) {
  if (cfg) {
    if (cfg->keys != p->keys)
      return lpdm_error(ctx, LPDM_ERR_ARG, "%s: config was built for another plugin", p->name);
    *dst = *cfg;
    return LPDM_OK;
  }
  return lpdm_config_init(ctx, p, dst);
}

int lpdm_distance_new(lpdm_ctx *ctx, const lpdm_distance_kind *k, const lpdm_config *cfg,
                      lpdm_distance **out) {
  *out = NULL;
  lpdm_distance *d = calloc(1, sizeof *d);
  if (!d) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  d->kind = k;
  int rc = default_cfg(ctx, &k->head, cfg, &d->cfg);
  if (!rc && k->create) {
    rc = k->create(d, ctx);
    if (!rc && d->cfg.bad.n && k->destroy) k->destroy(d);
    rc = lpdm__cfg_after(ctx, &d->cfg, &k->head, rc);
  }
  if (rc) {
    free(d);
    return rc;
  }
  *out = d;
  return LPDM_OK;
}

void lpdm_distance_free(lpdm_distance *d) {
  if (!d) return;
  if (d->kind->destroy) d->kind->destroy(d);
  free(d);
}

int lpdm_loss_new(lpdm_ctx *ctx, const lpdm_loss_kind *k, const lpdm_config *cfg,
                  lpdm_loss **out) {
  *out = NULL;
  lpdm_loss *l = calloc(1, sizeof *l);
  if (!l) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  l->kind = k;
  int rc = default_cfg(ctx, &k->head, cfg, &l->cfg);
  if (!rc && k->create) {
    rc = k->create(l, ctx);
    if (!rc && l->cfg.bad.n && k->destroy) k->destroy(l);
    rc = lpdm__cfg_after(ctx, &l->cfg, &k->head, rc);
  }
  if (rc) {
    free(l);
    return rc;
  }
  *out = l;
  return LPDM_OK;
}

void lpdm_loss_free(lpdm_loss *l) {
  if (!l) return;
  if (l->kind->destroy) l->kind->destroy(l);
  free(l);
}

/* ------------------------------------------------------------ envs */

int lpdm_env_new(lpdm_ctx *ctx, const lpdm_env_kind *k, const lpdm_config *cfg, lpdm_env **out) {
  *out = NULL;
  lpdm_config c;
  int rc = default_cfg(ctx, &k->head, cfg, &c);
  if (rc) return rc;
  lpdm_env *e = NULL;
  rc = k->create(k, &c, &e, ctx);
  if (c.bad.n) { /* a read of an undeclared key: the root cause, whatever create returned */
    if (!rc && e) k->free(e);
    return lpdm__cfg_after(ctx, &c, &k->head, rc);
  }
  if (rc) return lpdm__ctx_name(ctx, rc, &k->head);
  if (!e) return lpdm_error(ctx, LPDM_ERR, "%s: create returned no env", k->head.name);
  e->kind = k;
  e->cfg = c;
  *out = e;
  return LPDM_OK;
}

void lpdm_env_free(lpdm_env *env) {
  if (env) env->kind->free(env);
}

/* Nonzero when every value is finite: x * 0 is 0 for a finite x and NaN
   otherwise. Inline and branch-free: it runs on every env step, where a call
   into the dispatched lpdm_check_finite cost as much as CartPole's physics. */
static inline int obs_finite(const float *x, int n) {
  float acc = 0;
  for (int i = 0; i < n; i++) acc += x[i] * 0.0f;
  return acc == 0;
}

int lpdm_env_reset(lpdm_env *env, lpdm_ctx *ctx, int has_seed, uint64_t seed, float *obs) {
  int rc = env->kind->reset(env, has_seed, seed, obs, ctx);
  if (env->cfg.bad.n) return lpdm__cfg_after(ctx, &env->cfg, &env->kind->head, rc);
  if (rc) return rc;
  if (!obs_finite(obs, env->obs_space.dim) && lpdm_check_finite(ctx, obs, (size_t)env->obs_space.dim, "observation"))
    return lpdm_ctx_prefix(ctx, LPDM_ERR_NUM, "%s: reset returned", lpdm_plugin_short(&env->kind->head));
  return LPDM_OK;
}

int lpdm_env_get_state(const lpdm_env *env, lpdm_ctx *ctx, double *state) {
  if (!env->kind->get_state || env->state_dim < 1)
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: this env does not expose its state",
                      lpdm_plugin_short(&env->kind->head));
  return env->kind->get_state(env, state);
}

int lpdm_env_set_state(lpdm_env *env, lpdm_ctx *ctx, const double *state) {
  const char *id = lpdm_plugin_short(&env->kind->head);
  if (!env->kind->set_state || env->state_dim < 1)
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: this env does not allow setting its state", id);
  for (int i = 0; i < env->state_dim; i++)
    if (!isfinite(state[i]))
      return lpdm_error(ctx, LPDM_ERR_ARG, "%s: state[%d] is %s (must be finite)", id, i + 1,
                        isnan(state[i]) ? "NaN" : state[i] > 0 ? "inf" : "-inf");
  return env->kind->set_state(env, state, ctx);
}

int lpdm_env_step(lpdm_env *env, lpdm_ctx *ctx, const double *action, float *obs,
                  double *reward, int *terminated, int *truncated) {
  const lpdm_space *as = &env->act_space;
  const char *id = lpdm_plugin_short(&env->kind->head);
  if (as->type == LPDM_SPACE_DISCRETE) {
    double a = action[0];
    if (isnan(a)) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: action is NaN (Discrete(%d): an integer 0..%d)", id, as->n, as->n - 1);
    if (!(a >= 0 && a < as->n) || a != floor(a))
      return lpdm_error(ctx, LPDM_ERR_ARG, "%s: action %g out of range (Discrete(%d): an integer 0..%d)",
                        id, a, as->n, as->n - 1);
  } else {
    for (int i = 0; i < as->dim; i++)
      if (!isfinite(action[i]))
        return lpdm_error(ctx, LPDM_ERR_ARG, "%s: action[%d] is %s (must be finite)", id, i + 1,
                          isnan(action[i]) ? "NaN" : action[i] > 0 ? "inf" : "-inf");
  }
  int rc = env->kind->step(env, action, obs, reward, terminated, truncated, ctx);
  if (env->cfg.bad.n) return lpdm__cfg_after(ctx, &env->cfg, &env->kind->head, rc);
  if (rc) return rc;
  /* what an env hands back must be usable: a NaN here would surface much
     later as a non-finite loss somewhere else */
  if (!isfinite(*reward)) return lpdm_error(ctx, LPDM_ERR_NUM, "%s: step returned a non-finite reward (%g)", id, *reward);
  if (!obs_finite(obs, env->obs_space.dim) && lpdm_check_finite(ctx, obs, (size_t)env->obs_space.dim, "observation"))
    return lpdm_ctx_prefix(ctx, LPDM_ERR_NUM, "%s: step returned", id);
  return LPDM_OK;
}

/* ------------------------------------------------------------ env rendering (ABI 2.2) */

int lpdm_env_can_render(const lpdm_env *env) {
  const lpdm_env_kind *k = env->kind;
  return lpdm_abi_has(&k->head, LPDM_ABI_MINOR_RENDER_RGB) && k->render_rgb && k->render_info;
}

static int no_render(const lpdm_env *env, lpdm_ctx *ctx) {
  return lpdm_error(ctx, LPDM_ERR_ARG, "%s: this env does not render images (no render_rgb)",
                    lpdm_plugin_short(&env->kind->head));
}

int lpdm_env_render_info(const lpdm_env *env, lpdm_ctx *ctx, int *width, int *height, int *fps) {
  if (!lpdm_env_can_render(env)) return no_render(env, ctx);
  int w = 0, h = 0, f = 0;
  env->kind->render_info(env, &w, &h, &f);
  if (w < 1 || h < 1 || w > 8192 || h > 8192 || f < 1)
    return lpdm_error(ctx, LPDM_ERR, "%s: render_info gave %d x %d at %d fps",
                      lpdm_plugin_short(&env->kind->head), w, h, f);
  *width = w;
  *height = h;
  *fps = f;
  return LPDM_OK;
}

int lpdm_env_render_rgb(lpdm_env *env, lpdm_ctx *ctx, unsigned char *rgb, int width, int height) {
  const char *id = lpdm_plugin_short(&env->kind->head);
  if (!lpdm_env_can_render(env)) return no_render(env, ctx);
  if (width < 1 || height < 1 || width > 8192 || height > 8192)
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: cannot render %d x %d (width and height in 1..8192)",
                      id, width, height);
  int rc = env->kind->render_rgb(env, rgb, width, height, ctx);
  if (rc) return lpdm__ctx_name(ctx, rc, &env->kind->head);
  return LPDM_OK;
}

/* ------------------------------------------------------------ algos */

int lpdm_algo_new(lpdm_ctx *ctx, const lpdm_algo_kind *k, const lpdm_config *cfg,
                  const lpdm_algo_setup *setup, lpdm_algo **out) {
  *out = NULL;
  lpdm_config c;
  int rc = default_cfg(ctx, &k->head, cfg, &c);
  if (rc) return rc;
  if (!setup->env_kind || !setup->policy)
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: an env and a policy network are required", k->head.name);
  if (setup->comm && setup->comm->size > 1 && !(lpdm_abi_has(&k->head, LPDM_ABI_MINOR_ALGO_COMM) && k->distributed))
    return lpdm_error(ctx, LPDM_ERR_ARG,
                      "%s does not run data-parallel (asked for %d processes); run it without --distributed",
                      k->head.name, setup->comm->size);
  if (setup->comm && (setup->comm->size < 1 || setup->comm->rank < 0 || setup->comm->rank >= setup->comm->size ||
                      !setup->comm->allreduce_f32 || !setup->comm->allreduce_f64 || !setup->comm->allgather ||
                      !setup->comm->allgatherv))
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: the setup's comm is incomplete (rank %d of %d, or a NULL function)",
                      k->head.name, setup->comm->rank, setup->comm->size);
  lpdm_algo *a = NULL;
  rc = k->create(k, &c, setup, &a, ctx);
  const lpdm_config *bad = c.bad.n ? &c : !rc && a && a->cfg.bad.n ? &a->cfg : NULL;
  if (bad) { /* a read of an undeclared key: the root cause, whatever create returned */
    if (!rc && a) k->free(a);
    return lpdm__cfg_after(ctx, bad, &k->head, rc);
  }
  if (rc) return lpdm__ctx_name(ctx, rc, &k->head);
  a->kind = k;
  if (a->cfg.n == 0) a->cfg = c; /* unless create filled in its resolved config */
  *out = a;
  return LPDM_OK;
}

int lpdm_loss_spec(lpdm_ctx *ctx, const char *spec, const char *what, const lpdm_loss_kind **loss, lpdm_config *cfg) {
  char buf[256], name[64];
  if (strlen(spec) >= sizeof buf) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: loss spec too long", what);
  strcpy(buf, spec);
  char *save = NULL, *tok = strtok_r(buf, " ", &save);
  if (!tok || strlen(tok) + 6 >= sizeof name)
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: '%s' names no loss", what, spec);
  snprintf(name, sizeof name, "loss.%s", tok);
  const lpdm_plugin *p = lpdm_plugin_find(ctx, LPDM_KIND_LOSS, name);
  if (!p) {
    lpdm_plugin_get(ctx, LPDM_KIND_LOSS, name); /* its message: the known losses, the closest */
    return lpdm_ctx_prefix(ctx, LPDM_ERR_ARG, "%s: loss '%s' is not loaded", what, tok);
  }
  int rc = lpdm_config_init(ctx, p, cfg);
  while (!rc && (tok = strtok_r(NULL, " ", &save))) {
    char *eq = strchr(tok, '=');
    if (!eq) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: '%s': '%s' is not key=value", what, spec, tok);
    *eq = 0;
    rc = lpdm_config_set_text(ctx, cfg, p->name, tok, eq + 1);
  }
  if (rc) return lpdm_ctx_prefix(ctx, rc, "%s: '%s'", what, spec);
  *loss = (const lpdm_loss_kind *)p;
  return LPDM_OK;
}

int lpdm_algo_local_loss(lpdm_ctx *ctx, const lpdm_algo_kind *k, const lpdm_loss_kind **loss, lpdm_config *cfg,
                         const char **spec) {
  const char *s = lpdm_abi_has(&k->head, LPDM_ABI_MINOR_ALGO_LOCAL_LOSS) && k->local_loss ? k->local_loss : "guided";
  if (spec) *spec = s;
  char what[96];
  snprintf(what, sizeof what, "%s: local_loss", k->head.name);
  return lpdm_loss_spec(ctx, s, what, loss, cfg);
}

int lpdm_algo_iterate(lpdm_algo *a, lpdm_ctx *ctx, lpdm_figures *figures) {
  int rc = a->kind->iterate(a, figures, ctx);
  return a->cfg.bad.n ? lpdm__cfg_after(ctx, &a->cfg, &a->kind->head, rc) : rc;
}

int lpdm_algo_act(lpdm_algo *a, lpdm_ctx *ctx, const float *obs, double *action) {
  if (!a->kind->act)
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s has no deterministic action (act)", a->kind->head.name);
  int rc = a->kind->act(a, obs, action, ctx);
  return a->cfg.bad.n ? lpdm__cfg_after(ctx, &a->cfg, &a->kind->head, rc) : rc;
}

void lpdm_algo_free(lpdm_algo *a) {
  if (a) a->kind->free(a);
}
