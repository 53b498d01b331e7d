/* SPDX-License-Identifier: MIT */
/*
** lib/vecenv.c -- env copies in lockstep with autoreset, episode reports and
** Gymnasium-style observation/reward wrappers per copy (lib/vecenv.h).
*/
#include "lib/vecenv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ckpt.h"

void rms_update(double *mean, double *var, double *count, const double *x, int dim) {
  const double tot = *count + 1;
  for (int i = 0; i < dim; i++) {
    const double delta = x[i] - mean[i];
    mean[i] += delta / tot;
    var[i] = (var[i] * *count + delta * delta * *count / tot) / tot;
  }
  *count = tot;
}

void vecenv_free(vecenv *v) {
  if (!v) return;
  if (v->env)
    for (int e = 0; e < v->n; e++) lpdm_env_free(v->env[e]);
  void *ps[] = {v->env, v->ep_ret, v->ep_len, v->om,   v->ov,   v->oc,  v->rm,
                v->rv,  v->rc,     v->disc,   v->held, v->xbuf, v->raw, v->obs};
  for (size_t i = 0; i < sizeof ps / sizeof *ps; i++) free(ps[i]);
  free(v);
}

/* Observation normalisation of copy e: raw -> o (updates the moments). */
static void norm_obs(vecenv *v, int e, const float *raw, float *o) {
  const int od = v->od;
  if (!v->o.norm_obs) {
    memcpy(o, raw, (size_t)od * sizeof(float));
    return;
  }
  double *x = v->xbuf, *m = v->om + (size_t)e * od, *var = v->ov + (size_t)e * od;
  for (int i = 0; i < od; i++) x[i] = raw[i];
  rms_update(m, var, &v->oc[e], x, od);
  const double c = v->o.clip_obs;
  for (int i = 0; i < od; i++) {
    double y = (x[i] - m[i]) / sqrt(var[i] + 1e-8);
    o[i] = (float)(y < -c ? -c : y > c ? c : y);
  }
}

void vecenv_norm_frozen(const vecenv *v, int e, const float *raw, float *o) {
  const int od = v->od;
  const double *m = v->om + (size_t)e * od, *var = v->ov + (size_t)e * od, c = v->o.clip_obs;
  for (int i = 0; i < od; i++) {
    if (v->o.norm_obs) {
      double y = (raw[i] - m[i]) / sqrt(var[i] + 1e-8);
      o[i] = (float)(y < -c ? -c : y > c ? c : y);
    } else
      o[i] = raw[i];
  }
}

/* Reward scaling of copy e (updates the return moments). */
static double scale_reward(vecenv *v, int e, double r, int terminated) {
  if (!v->o.norm_reward) return r;
  v->disc[e] = v->disc[e] * v->o.gamma * (1 - terminated) + r;
  rms_update(&v->rm[e], &v->rv[e], &v->rc[e], &v->disc[e], 1);
  double y = r / sqrt(v->rv[e] + 1e-8);
  const double c = v->o.clip_reward;
  return y < -c ? -c : y > c ? c : y;
}

int vecenv_new(lpdm_ctx *ctx, const lpdm_env_kind *kind, const lpdm_config *cfg, int n, uint64_t seed,
               const vecenv_opts *o, vecenv **out) {
  *out = NULL;
  vecenv *v = calloc(1, sizeof *v);
  if (!v) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  int rc = LPDM_OK;
  v->n = n;
  v->o = *o;
  v->env = calloc((size_t)n, sizeof *v->env);
  v->ep_ret = calloc((size_t)n, sizeof *v->ep_ret);
  v->ep_len = calloc((size_t)n, sizeof *v->ep_len);
  v->oc = malloc((size_t)n * sizeof *v->oc);
  v->rm = calloc((size_t)n, sizeof *v->rm);
  v->rv = malloc((size_t)n * sizeof *v->rv);
  v->rc = malloc((size_t)n * sizeof *v->rc);
  v->disc = calloc((size_t)n, sizeof *v->disc);
  if (!v->env || !v->ep_ret || !v->ep_len || !v->oc || !v->rm || !v->rv || !v->rc || !v->disc) goto oom;
  for (int e = 0; e < n; e++) {
    if ((rc = lpdm_env_new(ctx, kind, cfg, &v->env[e]))) goto fail;
    if (e == 0) { /* the observation size is known from the first copy */
      const int od = v->od = v->env[0]->obs_space.dim;
      v->om = calloc((size_t)n * od, sizeof *v->om);
      v->ov = malloc((size_t)n * od * sizeof *v->ov);
      v->xbuf = malloc((size_t)(od ? od : 1) * sizeof *v->xbuf);
      v->raw = malloc((size_t)(od ? od : 1) * sizeof *v->raw);
      v->obs = malloc(((size_t)n * od + 1) * sizeof *v->obs);
      if (!v->om || !v->ov || !v->xbuf || !v->raw || !v->obs) goto oom;
      for (int i = 0; i < n * od; i++) v->ov[i] = 1;
      for (int k = 0; k < n; k++) v->oc[k] = v->rc[k] = 1e-4, v->rv[k] = 1;
    }
    if ((rc = lpdm_env_reset(v->env[e], ctx, 1, seed + (uint64_t)e, v->raw))) goto fail;
    norm_obs(v, e, v->raw, v->obs + (size_t)e * v->od); /* normalised after the reset, as the wrapper does */
  }
  *out = v;
  return LPDM_OK;
oom:
  rc = lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
fail:
  vecenv_free(v);
  return rc;
}

void vecenv_sink(vecenv *v, void (*on_episode)(void *, const lpdm_episode *), void *user, int defer) {
  v->on_episode = on_episode;
  v->user = user;
  v->defer = defer;
}

int vecenv_step(vecenv *v, lpdm_ctx *ctx, int e, const double *action, float *obs, double *reward, int *term,
                int *trunc) {
  double r;
  int rc = lpdm_env_step(v->env[e], ctx, action, v->raw, &r, term, trunc);
  if (rc) return rc;
  norm_obs(v, e, v->raw, obs);
  *reward = scale_reward(v, e, r, *term);
  v->ep_ret[e] += r;
  v->ep_len[e]++;
  return LPDM_OK;
}

int vecenv_end_episode(vecenv *v, lpdm_ctx *ctx, int e, int64_t global_step, float *obs) {
  lpdm_episode ep = {global_step, v->ep_ret[e], v->ep_len[e], e};
  if (!v->defer) {
    if (v->on_episode) v->on_episode(v->user, &ep);
  } else {
    if (v->nheld == v->held_cap) {
      int nc = v->held_cap ? 2 * v->held_cap : 64;
      lpdm_episode *h = realloc(v->held, (size_t)nc * sizeof *h);
      if (!h) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
      v->held = h;
      v->held_cap = nc;
    }
    v->held[v->nheld++] = ep;
  }
  v->ep_ret[e] = 0;
  v->ep_len[e] = 0;
  int rc = lpdm_env_reset(v->env[e], ctx, 0, 0, v->raw);
  if (rc) return rc;
  norm_obs(v, e, v->raw, obs);
  return LPDM_OK;
}

int vecenv_nheld(const vecenv *v) { return v->nheld; }

void vecenv_clear_held(vecenv *v) { v->nheld = 0; }

/* The arrays, by name, that save and load share. */
static int arrays(const vecenv *v, ckpt_array *a) {
  const size_t N = (size_t)v->n, od = (size_t)v->od;
  int k = 0;
  a[k++] = (ckpt_array){"episode_return", v->ep_ret, N, CKPT_F64};
  a[k++] = (ckpt_array){"obs_mean", v->om, N * od, CKPT_F64};
  a[k++] = (ckpt_array){"obs_var", v->ov, N * od, CKPT_F64};
  a[k++] = (ckpt_array){"obs_count", v->oc, N, CKPT_F64};
  a[k++] = (ckpt_array){"ret_mean", v->rm, N, CKPT_F64};
  a[k++] = (ckpt_array){"ret_var", v->rv, N, CKPT_F64};
  a[k++] = (ckpt_array){"ret_count", v->rc, N, CKPT_F64};
  a[k++] = (ckpt_array){"discounted_return", v->disc, N, CKPT_F64};
  return k;
}

int vecenv_save(const vecenv *v, lpdm_ctx *ctx, lpdm_st *st) {
  ckpt_array a[8];
  int rc = ckpt_put(st, ctx, "algo", a, arrays(v, a));
  if (!rc) rc = ckpt_put_ints(st, ctx, "algo", "episode_length", v->ep_len, v->n);
  for (int e = 0; !rc && e < v->n; e++) {
    char pre[32];
    snprintf(pre, sizeof pre, "env.%d", e);
    rc = lpdm_env_save(v->env[e], ctx, st, pre);
  }
  return rc;
}

int vecenv_load(vecenv *v, lpdm_ctx *ctx, const lpdm_st *st) {
  const int N = v->n, od = v->od;
  ckpt_array a[8];
  int rc = ckpt_get_ints(st, ctx, "algo", "episode_length", v->ep_len, N, 0, INT32_MAX);
  if (!rc) rc = ckpt_get(st, ctx, "algo", a, arrays(v, a));
  if (!rc &&
      (!ckpt_nonneg(v->ov, N * od) || !ckpt_nonneg(v->oc, N) || !ckpt_nonneg(v->rv, N) || !ckpt_nonneg(v->rc, N)))
    rc = lpdm_error(ctx, LPDM_ERR_IO, "checkpoint: a normalisation variance or count is negative or not finite");
  for (int e = 0; !rc && e < N; e++) {
    char pre[32];
    snprintf(pre, sizeof pre, "env.%d", e);
    rc = lpdm_env_load(v->env[e], ctx, st, pre);
  }
  return rc;
}
