/* SPDX-License-Identifier: MIT */
/*
** lib/policy.c -- policy_export (policy.h): an algorithm's act() as the
** tensors and metadata of a policy file, under the names of
** docs/policy.md. The reader is core/src/policy.c (lpdm_policy_load).
*/
#include <stdio.h>
#include <string.h>

#include "lib/policy.h"

static int meta_int(lpdm_st *st, lpdm_ctx *ctx, const char *key, int v) {
  char b[32];
  snprintf(b, sizeof b, "%d", v);
  return lpdm_st_set_meta(st, ctx, key, b);
}

static int meta_num(lpdm_st *st, lpdm_ctx *ctx, const char *key, double v) {
  char b[40];
  snprintf(b, sizeof b, "%.17g", v);
  return lpdm_st_set_meta(st, ctx, key, b);
}

int policy_export(const policy_parts *pp, lpdm_st *st, lpdm_ctx *ctx) {
  const lpdm_env *env = pp->env;
  const lpdm_space *as = &env->act_space;
  const int box = as->type == LPDM_SPACE_BOX, od = env->obs_space.dim;
  const int norm = pp->venv && pp->venv->o.norm_obs;
  int rc = lpdm_st_set_meta(st, ctx, "format", LPDM_POLICY_FORMAT);
  if (!rc) rc = meta_int(st, ctx, "format_version", LPDM_POLICY_FORMAT_VERSION);
  if (!rc) rc = lpdm_st_set_meta(st, ctx, "algo", pp->algo);
  if (!rc) rc = lpdm_st_set_meta(st, ctx, "distribution", pp->distribution);
  if (!rc) rc = lpdm_st_set_meta(st, ctx, "env", lpdm_plugin_short(&pp->setup->env_kind->head));
  if (!rc) rc = lpdm_policy_put_config(st, ctx, "env_config", pp->setup->env_cfg);
  if (!rc) rc = meta_int(st, ctx, "obs_dim", od);
  if (!rc) rc = lpdm_st_set_meta(st, ctx, "action_space", box ? "box" : "discrete");
  if (!rc) rc = box ? meta_int(st, ctx, "action_dim", as->dim) : meta_int(st, ctx, "action_n", as->n);
  if (!rc && box) {
    const int64_t shape[1] = {as->dim};
    rc = lpdm_st_add(st, ctx, "action.low", LPDM_ST_F64, 1, shape, as->low);
    if (!rc) rc = lpdm_st_add(st, ctx, "action.high", LPDM_ST_F64, 1, shape, as->high);
  }
  if (!rc && pp->log_std) {
    const int64_t shape[1] = {as->dim};
    rc = lpdm_st_add(st, ctx, "log_std", LPDM_ST_F32, 1, shape, pp->log_std);
  }
  if (!rc) rc = lpdm_st_set_meta(st, ctx, "squash_mean", pp->squash_mean ? "true" : "false");
  if (!rc) rc = lpdm_st_set_meta(st, ctx, "obs_norm", norm ? "true" : "false");
  if (!rc && norm) { /* copy 0's moments, as vecenv_norm_frozen(v, 0, ...) */
    const int64_t shape[1] = {od};
    rc = lpdm_st_add(st, ctx, "obs_norm.mean", LPDM_ST_F64, 1, shape, pp->venv->om);
    if (!rc) rc = lpdm_st_add(st, ctx, "obs_norm.var", LPDM_ST_F64, 1, shape, pp->venv->ov);
    if (!rc) rc = meta_num(st, ctx, "obs_norm.clip", pp->venv->o.clip_obs);
    if (!rc) rc = meta_num(st, ctx, "obs_norm.epsilon", 1e-8);
  }
  if (!rc) rc = lpdm_st_set_meta(st, ctx, "feat_norm", pp->feat_mean ? "true" : "false");
  if (!rc && pp->feat_mean) {
    const int64_t shape[1] = {lpdm_net_out_dim(pp->trunk)};
    rc = lpdm_st_add(st, ctx, "feat_norm.mean", LPDM_ST_F32, 1, shape, pp->feat_mean);
    if (!rc) rc = lpdm_st_add(st, ctx, "feat_norm.var", LPDM_ST_F32, 1, shape, pp->feat_var);
    if (!rc) rc = meta_num(st, ctx, "feat_norm.epsilon", pp->feat_eps);
  }
  if (!rc) rc = lpdm_policy_put_net(st, ctx, "trunk", pp->trunk);
  if (!rc) rc = lpdm_policy_put_net(st, ctx, "head", pp->head);
  return rc;
}
