/* SPDX-License-Identifier: MIT */
/*
** policy.c -- a trained policy as a file of its own, and acting from it.
**
** An algorithm with export_policy (algo.h, ABI 2.2) writes everything its
** act() needs into a safetensors set: the trunk and head as tensors
** "trunk.<i>.<param>", "head.<i>.<param>" (lpdm_net_save without optimizer)
** with their layer lists as metadata (lpdm_policy_put_net), a Gaussian's
** "log_std", the observation normalisation of the env copy act() uses
** ("obs_norm.mean", "obs_norm.var", F64), and the metadata that says what
** the file is (format "lpdm.policy", format_version, algo, distribution,
** env, env_config.<key>, obs_dim, action_space). docs/policy.md describes
** the file tensor by tensor.
**
** lpdm_policy_load rebuilds the nets from the layer lists (the layer
** plugins must be loaded; a Lua layer cannot be rebuilt) and refuses, with
** a message naming the file and the thing at fault, a file that is not a
** policy, a newer format_version, a missing or misshapen tensor, an
** unknown layer. lpdm_policy_act then computes, from the file alone, the
** action the algorithm's act() gave:
**
**   o   = clip((obs - mean) / sqrt(var + eps), -clip, clip)  (obs_norm; double, then float)
**   f   = trunk(o); f = (f - fm) / sqrtf(fv + feps)          (feat_norm; PPO's feature_norm)
**   z   = head(f); z = c + h tanh(z)                          (squash_mean)
**   deterministic: argmax z (categorical, q_greedy), z (gaussian)
**   stochastic:    a softmax sample of z (one uniform), z + exp(log_std) N(0, 1),
**                  greedy for q_greedy (a Q-function has no distribution)
**   then a Box action is clipped to the bounds (unless LPDM_POLICY_RAW).
**
**   lpdm_policy *p = NULL;
**   if (lpdm_policy_load(ctx, "runs/x/policy.safetensors", &p)) fail(lpdm_ctx_message(ctx));
**   rc = lpdm_policy_act(p, ctx, obs, LPDM_POLICY_DETERMINISTIC, NULL, action);
**   lpdm_policy_free(p);
*/
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct lpdm_policy {
  lpdm_st *st;                  /* the file: tensors and metadata      */
  char *path;                   /* for messages                        */
  int dist;                     /* LPDM_POLICY_CATEGORICAL, ...        */
  int obs_dim, nact;
  lpdm_space space;             /* low/high point into lo, hi          */
  double *lo, *hi;
  lpdm_net *trunk, *head;
  float *log_std;               /* gaussian: nact values               */
  int squash;
  double *om, *ov;              /* obs_norm: obs_dim each, or NULL     */
  double oclip, oeps;
  float *fm, *fv;               /* feat_norm: trunk width each, or NULL  */
  float feps;
  float *o, *f, *z;             /* buffers                              */
};

/* ------------------------------------------------------------ writing */

int lpdm_algo_has_policy(const lpdm_algo_kind *k) {
  return lpdm_abi_has(&k->head, LPDM_ABI_MINOR_ALGO_POLICY) && k->export_policy;
}

int lpdm_algo_export_policy(lpdm_algo *a, lpdm_ctx *ctx, lpdm_st *st) {
  const lpdm_algo_kind *k = a->kind;
  if (!lpdm_algo_has_policy(k))
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s cannot write a policy file (it has no export_policy)", k->head.name);
  int rc = k->export_policy(a, st, ctx);
  if (!rc && !lpdm_st_meta(st, "format")) rc = lpdm_st_set_meta(st, ctx, "format", LPDM_POLICY_FORMAT);
  if (!rc) rc = lpdm_st_set_meta(st, ctx, "lpdm_version", LPDM_VERSION);
  return a->cfg.bad.n ? lpdm__cfg_after(ctx, &a->cfg, &k->head, rc) : rc;
}

static int metaf(lpdm_st *st, lpdm_ctx *ctx, const char *key, const char *fmt, ...) LPDM_PRINTF(4, 5);
static int metaf(lpdm_st *st, lpdm_ctx *ctx, const char *key, const char *fmt, ...) {
  char v[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(v, sizeof v, fmt, ap);
  va_end(ap);
  return lpdm_st_set_meta(st, ctx, key, v);
}

/* A config value as text that lpdm_config_set_text reads back exactly. */
static void value_text(const lpdm_key *k, const lpdm_value *v, char *buf, size_t len) {
  if (k->type == LPDM_T_STRING) snprintf(buf, len, "%s", v->str);
  else if (k->type == LPDM_T_BOOL) snprintf(buf, len, "%s", v->num ? "true" : "false");
  else { /* the shortest of 15..17 digits that reads back exactly */
    for (int d = 15; d <= 17; d++)
      if (snprintf(buf, len, "%.*g", d, v->num) > 0 && strtod(buf, NULL) == v->num) break;
  }
}

int lpdm_policy_put_config(lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const lpdm_config *cfg) {
  char key[LPDM_ST_NAMELEN], val[LPDM_STRLEN + 32];
  for (int i = 0; i < cfg->n; i++) {
    snprintf(key, sizeof key, "%s.%s", prefix, cfg->keys[i].name);
    value_text(&cfg->keys[i], &cfg->v[i], val, sizeof val);
    int rc = lpdm_st_set_meta(st, ctx, key, val);
    if (rc) return rc;
  }
  return LPDM_OK;
}

int lpdm_policy_put_net(lpdm_st *st, lpdm_ctx *ctx, const char *prefix, lpdm_net *net) {
  char key[LPDM_ST_NAMELEN];
  const int depth = lpdm_net_depth(net);
  int rc = metaf(st, ctx, (snprintf(key, sizeof key, "%s.depth", prefix), key), "%d", depth);
  if (!rc) rc = metaf(st, ctx, (snprintf(key, sizeof key, "%s.in_dim", prefix), key), "%d", lpdm_net_in_dim(net));
  for (int i = 0; !rc && i < depth; i++) {
    const lpdm_layer *l = lpdm_net_layer(net, i);
    snprintf(key, sizeof key, "%s.%d.kind", prefix, i);
    if ((rc = lpdm_st_set_meta(st, ctx, key, l->kind->head.name))) break;
    snprintf(key, sizeof key, "%s.%d.out_dim", prefix, i);
    if ((rc = metaf(st, ctx, key, "%d", l->out_dim))) break;
    snprintf(key, sizeof key, "%s.%d.config", prefix, i);
    rc = lpdm_policy_put_config(st, ctx, key, &l->cfg);
  }
  return rc ? rc : lpdm_net_save(net, ctx, st, prefix, 0);
}

/* ------------------------------------------------------------ reading */

static const char *need_meta(lpdm_policy *p, lpdm_ctx *ctx, const char *key, int *rc) {
  const char *v = lpdm_st_meta(p->st, key);
  if (!v) *rc = lpdm_error(ctx, LPDM_ERR_IO, "%s: the policy file has no metadata '%s'", p->path, key);
  return v;
}

static int meta_int(lpdm_policy *p, lpdm_ctx *ctx, const char *key, int lo, int hi, int *out) {
  int rc = LPDM_OK;
  const char *v = need_meta(p, ctx, key, &rc);
  if (!v) return rc;
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (end == v || *end || errno || x < lo || x > hi)
    return lpdm_error(ctx, LPDM_ERR_IO, "%s: metadata '%s' is '%s', not an integer in [%d, %d]", p->path, key, v, lo, hi);
  *out = (int)x;
  return LPDM_OK;
}

static int meta_num(lpdm_policy *p, lpdm_ctx *ctx, const char *key, double *out) {
  int rc = LPDM_OK;
  const char *v = need_meta(p, ctx, key, &rc);
  if (!v) return rc;
  char *end;
  double x = strtod(v, &end);
  if (end == v || *end || !isfinite(x)) return lpdm_error(ctx, LPDM_ERR_IO, "%s: metadata '%s' is '%s', not a number", p->path, key, v);
  *out = x;
  return LPDM_OK;
}

static int meta_bool(lpdm_policy *p, const char *key) {
  const char *v = lpdm_st_meta(p->st, key);
  return v && !strcmp(v, "true");
}

/* A copy of a tensor of n values of dtype (the file's bytes need not be
   aligned; caller frees), or NULL with a message naming it. */
static void *tensor(lpdm_policy *p, lpdm_ctx *ctx, const char *name, int dtype, int n, int *rc) {
  int dt, nd;
  const int64_t *shape;
  size_t nb;
  const void *x = lpdm_st_get(p->st, name, &dt, &nd, &shape, &nb);
  if (!x) {
    *rc = lpdm_error(ctx, LPDM_ERR_IO, "%s: the policy file has no tensor '%s'", p->path, name);
    return NULL;
  }
  if (dt != dtype || nd != 1 || shape[0] != n) {
    *rc = lpdm_error(ctx, LPDM_ERR_IO, "%s: tensor '%s' is not %s [%d]", p->path, name, lpdm_st_dtype_name(dtype), n);
    return NULL;
  }
  void *c = malloc(nb ? nb : 1);
  if (!c) *rc = lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  else memcpy(c, x, nb);
  return c;
}

/* The net "<prefix>" rebuilt from its layer list and loaded from its tensors. */
static int rebuild(lpdm_policy *p, lpdm_ctx *ctx, const char *prefix, int in_expected, lpdm_net **out) {
  char key[LPDM_ST_NAMELEN], what[LPDM_ST_NAMELEN + 16];
  int depth, in_dim, rc;
  snprintf(key, sizeof key, "%s.depth", prefix);
  if ((rc = meta_int(p, ctx, key, 0, 1 << 20, &depth))) return rc;
  snprintf(key, sizeof key, "%s.in_dim", prefix);
  if ((rc = meta_int(p, ctx, key, 1, 1 << 30, &in_dim))) return rc;
  if (in_expected > 0 && in_dim != in_expected)
    return lpdm_error(ctx, LPDM_ERR_IO, "%s: the %s takes %d inputs, but it is fed %d", p->path, prefix, in_dim, in_expected);
  if ((rc = lpdm_net_new(ctx, in_dim, out))) return rc;
  lpdm_rng rng;
  lpdm_rng_seed(&rng, 0); /* the initial weights are overwritten by the file's */
  const lpdm_optim_cfg oc = lpdm_optim_default(LPDM_OPT_SGD, 0);
  for (int i = 0; i < depth; i++) {
    snprintf(key, sizeof key, "%s.%d.kind", prefix, i);
    const char *kn = need_meta(p, ctx, key, &rc);
    if (!kn) return rc;
    snprintf(what, sizeof what, "%s layer %d (%s)", prefix, i + 1, kn);
    if (!strcmp(kn, "layer.lua"))
      return lpdm_error(ctx, LPDM_ERR_ARG, "%s: %s cannot be rebuilt from a file: its function is Lua code, not in the file",
                        p->path, what);
    const lpdm_plugin *k = lpdm_plugin_find(ctx, LPDM_KIND_LAYER, kn);
    if (!k) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: %s needs the plugin %s, which is not loaded", p->path, what, kn);
    lpdm_config cfg;
    if ((rc = lpdm_config_init(ctx, k, &cfg))) return rc;
    snprintf(key, sizeof key, "%s.%d.config.", prefix, i);
    const size_t kl = strlen(key);
    const char *mk;
    for (int j = 0; (mk = lpdm_st_meta_key(p->st, j)); j++)
      if (!strncmp(mk, key, kl) && (rc = lpdm_config_set_text(ctx, &cfg, kn, mk + kl, lpdm_st_meta(p->st, mk))))
        return lpdm_ctx_prefix(ctx, rc, "%s: %s", p->path, what);
    if ((rc = lpdm_net_add(*out, ctx, (const lpdm_layer_kind *)k, &cfg, &rng, &oc)))
      return lpdm_ctx_prefix(ctx, rc, "%s: %s cannot be rebuilt", p->path, what);
  }
  if ((rc = lpdm_net_load(*out, ctx, p->st, prefix, 0))) return lpdm_ctx_prefix(ctx, rc, "%s", p->path);
  return LPDM_OK;
}

static int parse(lpdm_policy *p, lpdm_ctx *ctx) {
  int rc = LPDM_OK, version;
  const char *fmt = lpdm_st_meta(p->st, "format");
  if (!fmt || strcmp(fmt, LPDM_POLICY_FORMAT))
    return lpdm_error(ctx, LPDM_ERR_IO, "%s is not an lpdm policy file (its metadata 'format' is %s%s%s, not '%s')", p->path,
                      fmt ? "'" : "", fmt ? fmt : "absent", fmt ? "'" : "", LPDM_POLICY_FORMAT);
  if ((rc = meta_int(p, ctx, "format_version", 1, 1 << 30, &version))) return rc;
  if (version > LPDM_POLICY_FORMAT_VERSION)
    return lpdm_error(ctx, LPDM_ERR_IO, "%s: policy format_version %d is newer than this lpdm's %d; use a newer lpdm",
                      p->path, version, LPDM_POLICY_FORMAT_VERSION);
  const char *d = need_meta(p, ctx, "distribution", &rc), *sp;
  if (!d || !need_meta(p, ctx, "algo", &rc) || !need_meta(p, ctx, "env", &rc) ||
      !(sp = need_meta(p, ctx, "action_space", &rc)))
    return rc;
  if (!strcmp(d, "categorical")) p->dist = LPDM_POLICY_CATEGORICAL;
  else if (!strcmp(d, "gaussian")) p->dist = LPDM_POLICY_GAUSSIAN;
  else if (!strcmp(d, "q_greedy")) p->dist = LPDM_POLICY_Q_GREEDY;
  else return lpdm_error(ctx, LPDM_ERR_IO, "%s: unknown distribution '%s' (categorical, gaussian, q_greedy)", p->path, d);
  if ((rc = meta_int(p, ctx, "obs_dim", 1, 1 << 30, &p->obs_dim))) return rc;
  if (!strcmp(sp, "discrete")) {
    p->space.type = LPDM_SPACE_DISCRETE;
    p->space.dim = 1;
    if ((rc = meta_int(p, ctx, "action_n", 1, 1 << 30, &p->space.n))) return rc;
    p->nact = p->space.n;
    if (p->dist == LPDM_POLICY_GAUSSIAN)
      return lpdm_error(ctx, LPDM_ERR_IO, "%s: a gaussian policy for a discrete action space", p->path);
  } else if (!strcmp(sp, "box")) {
    p->space.type = LPDM_SPACE_BOX;
    if ((rc = meta_int(p, ctx, "action_dim", 1, 1 << 20, &p->space.dim))) return rc;
    p->nact = p->space.dim;
    if (p->dist != LPDM_POLICY_GAUSSIAN)
      return lpdm_error(ctx, LPDM_ERR_IO, "%s: a %s policy for a box action space", p->path, d);
    if (!(p->lo = tensor(p, ctx, "action.low", LPDM_ST_F64, p->nact, &rc)) ||
        !(p->hi = tensor(p, ctx, "action.high", LPDM_ST_F64, p->nact, &rc)))
      return rc;
    p->space.low = p->lo;
    p->space.high = p->hi;
  } else
    return lpdm_error(ctx, LPDM_ERR_IO, "%s: unknown action_space '%s' (discrete, box)", p->path, sp);
  if (p->dist == LPDM_POLICY_GAUSSIAN && !(p->log_std = tensor(p, ctx, "log_std", LPDM_ST_F32, p->nact, &rc))) return rc;
  p->squash = meta_bool(p, "squash_mean");
  if (p->squash && p->dist != LPDM_POLICY_GAUSSIAN)
    return lpdm_error(ctx, LPDM_ERR_IO, "%s: squash_mean is for a gaussian policy, this one is %s", p->path, d);
  for (int i = 0; p->squash && i < p->nact; i++)
    if (!isfinite(p->lo[i]) || !isfinite(p->hi[i]))
      return lpdm_error(ctx, LPDM_ERR_IO, "%s: squash_mean with an unbounded action %d", p->path, i);
  if (meta_bool(p, "obs_norm")) {
    if (!(p->om = tensor(p, ctx, "obs_norm.mean", LPDM_ST_F64, p->obs_dim, &rc)) ||
        !(p->ov = tensor(p, ctx, "obs_norm.var", LPDM_ST_F64, p->obs_dim, &rc)) ||
        (rc = meta_num(p, ctx, "obs_norm.clip", &p->oclip)) || (rc = meta_num(p, ctx, "obs_norm.epsilon", &p->oeps)))
      return rc;
  }
  if ((rc = rebuild(p, ctx, "trunk", p->obs_dim, &p->trunk))) return rc;
  const int F = lpdm_net_out_dim(p->trunk);
  if (meta_bool(p, "feat_norm")) {
    double e;
    if (!(p->fm = tensor(p, ctx, "feat_norm.mean", LPDM_ST_F32, F, &rc)) ||
        !(p->fv = tensor(p, ctx, "feat_norm.var", LPDM_ST_F32, F, &rc)) || (rc = meta_num(p, ctx, "feat_norm.epsilon", &e)))
      return rc;
    p->feps = (float)e;
  }
  if ((rc = rebuild(p, ctx, "head", F, &p->head))) return rc;
  if (lpdm_net_out_dim(p->head) != p->nact)
    return lpdm_error(ctx, LPDM_ERR_IO, "%s: the head gives %d outputs, the action space needs %d", p->path,
                      lpdm_net_out_dim(p->head), p->nact);
  p->o = malloc((size_t)p->obs_dim * sizeof *p->o);
  p->f = malloc((size_t)F * sizeof *p->f);
  p->z = malloc((size_t)p->nact * sizeof *p->z);
  if (!p->o || !p->f || !p->z) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  return LPDM_OK;
}

int lpdm_policy_from_st(lpdm_ctx *ctx, lpdm_st *st, const char *what, lpdm_policy **out) {
  *out = NULL;
  lpdm_policy *p = calloc(1, sizeof *p);
  if (!p || !(p->path = strdup(what ? what : "policy"))) {
    free(p);
    lpdm_st_free(st);
    return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  }
  p->st = st;
  int rc = parse(p, ctx);
  if (rc) {
    lpdm_policy_free(p);
    return rc;
  }
  *out = p;
  return LPDM_OK;
}

int lpdm_policy_load(lpdm_ctx *ctx, const char *path, lpdm_policy **out) {
  *out = NULL;
  lpdm_st *st = NULL;
  int rc = lpdm_st_read(ctx, path, &st);
  return rc ? rc : lpdm_policy_from_st(ctx, st, path, out);
}

void lpdm_policy_free(lpdm_policy *p) {
  if (!p) return;
  lpdm_net_free(p->trunk);
  lpdm_net_free(p->head);
  lpdm_st_free(p->st);
  free(p->lo);
  free(p->hi);
  free(p->log_std);
  free(p->om);
  free(p->ov);
  free(p->fm);
  free(p->fv);
  free(p->o);
  free(p->f);
  free(p->z);
  free(p->path);
  free(p);
}

int lpdm_policy_obs_dim(const lpdm_policy *p) { return p->obs_dim; }
const lpdm_space *lpdm_policy_action_space(const lpdm_policy *p) { return &p->space; }
int lpdm_policy_distribution(const lpdm_policy *p) { return p->dist; }
const lpdm_st *lpdm_policy_file(const lpdm_policy *p) { return p->st; }
const char *lpdm_policy_meta(const lpdm_policy *p, const char *key) { return lpdm_st_meta(p->st, key); }

/* ------------------------------------------------------------ acting */

int lpdm_policy_act(lpdm_policy *p, lpdm_ctx *ctx, const float *obs, int flags, lpdm_rng *rng, double *action) {
  const int od = p->obs_dim, n = p->nact;
  const int det = (flags & LPDM_POLICY_DETERMINISTIC) || p->dist == LPDM_POLICY_Q_GREEDY;
  if (!det && !rng) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: stochastic acting needs a generator", p->path);
  for (int i = 0; i < od; i++) {
    if (p->om) { /* as the env copies' observation normalisation (plugins/algos/lib/vecenv.c) */
      double y = (obs[i] - p->om[i]) / sqrt(p->ov[i] + p->oeps), c = p->oclip;
      p->o[i] = (float)(y < -c ? -c : y > c ? c : y);
    } else
      p->o[i] = obs[i];
  }
  int rc = lpdm_net_forward(p->trunk, ctx, p->o, 1, p->f);
  if (rc) return lpdm_ctx_prefix(ctx, rc, "%s", p->path);
  if (p->fm)
    for (int j = 0; j < lpdm_net_out_dim(p->trunk); j++) p->f[j] = (p->f[j] - p->fm[j]) * (1.0f / sqrtf(p->fv[j] + p->feps));
  if ((rc = lpdm_net_forward(p->head, ctx, p->f, 1, p->z))) return lpdm_ctx_prefix(ctx, rc, "%s", p->path);
  if (p->squash)
    for (int i = 0; i < n; i++)
      p->z[i] = (float)(0.5 * (p->hi[i] + p->lo[i]) + 0.5 * (p->hi[i] - p->lo[i]) * tanh(p->z[i]));
  if (p->dist != LPDM_POLICY_GAUSSIAN) {
    int k = 0;
    if (det) {
      for (int i = 1; i < n; i++)
        if (p->z[i] > p->z[k]) k = i;
    } else { /* softmax sample: one uniform against the cumulative sum */
      double mx = p->z[0], s = 0, c = 0;
      for (int i = 1; i < n; i++)
        if (p->z[i] > mx) mx = p->z[i];
      for (int i = 0; i < n; i++) s += exp(p->z[i] - mx);
      double u = lpdm_rng_uniform(rng) * s;
      for (k = 0; k < n - 1; k++)
        if (u < (c += exp(p->z[k] - mx))) break;
    }
    action[0] = k;
    return LPDM_OK;
  }
  for (int i = 0; i < n; i++) {
    double a = p->z[i];
    if (!det) a += exp((double)p->log_std[i]) * lpdm_rng_normal(rng);
    if (!(flags & LPDM_POLICY_RAW)) a = a < p->lo[i] ? p->lo[i] : a > p->hi[i] ? p->hi[i] : a;
    action[i] = a;
  }
  return LPDM_OK;
}
