/* SPDX-License-Identifier: MIT */
/*
** mj_env.c -- open, close, state, reset, step and render of every MuJoCo
** env plugin (see mj_env.h for what they do and how an env uses them).
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr */
#endif
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "mj_env.h"

/* ------------------------------------------------------------ open and close */

/* Directory of the shared object this code is linked into (the plugin's
   .so: the library is static), into buf. */
static int mjx_plugin_dir(char *buf, size_t len) {
  Dl_info info;
  if (!dladdr((const void *)&mjx_plugin_dir, &info) || !info.dli_fname) return -1;
  const char *slash = strrchr(info.dli_fname, '/');
  if (!slash) return snprintf(buf, len, ".") < (int)len ? 0 : -1;
  int n = (int)(slash - info.dli_fname);
  return snprintf(buf, len, "%.*s", n, info.dli_fname) < (int)len ? 0 : -1;
}

int mjx_open(mjx_env *e, const lpdm_env_kind *kind, const lpdm_config *cfg, const char *file,
             mjx_cache *cache, lpdm_ctx *ctx) {
  const char *id = lpdm_plugin_short(&kind->head);
  e->id = id;
  e->pub.kind = kind;
  e->pub.cfg = *cfg;
  if (mj_version() != mjVERSION_HEADER)
    return lpdm_error(ctx, LPDM_ERR, "%s: this plugin was built with MuJoCo %d.%d.%d headers but "
                      "runs with the MuJoCo %s library; rebuild it against the installed MuJoCo",
                      id, mjVERSION_HEADER / 100, mjVERSION_HEADER / 10 % 10,
                      mjVERSION_HEADER % 10, mj_versionString());

  int frame_skip = lpdm_cfg_int(cfg, "frame_skip");
  int max_steps = lpdm_cfg_int(cfg, "max_episode_steps");
  if (frame_skip < 1)
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: frame_skip is %d (must be >= 1)", id, frame_skip);
  if (max_steps < 0)
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: max_episode_steps is %d (must be >= 0)", id,
                      max_steps);

  char path[MJX_PATHLEN], err[MJX_PATHLEN + MJX_ERRLEN + 64];
  const char *user = lpdm_cfg_str(cfg, "model_path");
  if (user && user[0]) {
    snprintf(path, sizeof path, "%s", user);
  } else {
    char dir[MJX_PATHLEN];
    if (mjx_plugin_dir(dir, sizeof dir))
      return lpdm_error(ctx, LPDM_ERR_IO, "%s: cannot tell where this plugin lives (dladdr) to "
                        "find %s; set model_path", id, file);
    if (snprintf(path, sizeof path, "%s/mujoco/models/%s", dir, file) >= (int)sizeof path)
      return lpdm_error(ctx, LPDM_ERR_IO, "%s: model path too long", id);
  }
  FILE *fp = fopen(path, "r");
  if (!fp)
    return lpdm_error(ctx, LPDM_ERR_IO, "%s: cannot open the model file %s: %s", id, path,
                      strerror(errno));
  fclose(fp);

  e->model = mjx_model_get(cache, path, err, sizeof err);
  if (!e->model) return lpdm_error(ctx, LPDM_ERR_IO, "%s: %s", id, err);
  e->m = e->model->m;
  const mjModel *m = e->m;
  if (m->nu < 1)
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: the model %s has no actuator", id, path);
  e->d = mj_makeData(m);
  if (!e->d) return lpdm_error(ctx, LPDM_ERR_MEM, "%s: out of memory (mj_makeData)", id);

  e->init_qpos = malloc((size_t)(2 * m->nq + 2 * m->nv) * sizeof(double));
  if (!e->init_qpos) return lpdm_error(ctx, LPDM_ERR_MEM, "%s: out of memory", id);
  e->init_qvel = e->init_qpos + m->nq;
  e->work = e->init_qvel + m->nv;
  memcpy(e->init_qpos, m->qpos0, (size_t)m->nq * sizeof(double));
  memset(e->init_qvel, 0, (size_t)m->nv * sizeof(double));

  e->frame_skip = frame_skip;
  e->max_steps = max_steps;
  e->dt = m->opt.timestep * frame_skip;
  e->pub.state_dim = m->nq + m->nv;
  e->pub.max_episode_steps = max_steps;
  return LPDM_OK;
}

int mjx_set_obs_dim(mjx_env *e, int obs_dim, lpdm_ctx *ctx) {
  const mjModel *m = e->m;
  int nu = m->nu;
  e->space = malloc((size_t)(2 * nu + 2 * obs_dim) * sizeof(double));
  if (!e->space) return lpdm_error(ctx, LPDM_ERR_MEM, "%s: out of memory", e->id);
  double *alo = e->space, *ahi = alo + nu, *olo = ahi + nu, *ohi = olo + obs_dim;
  for (int i = 0; i < nu; i++) {
    if (m->actuator_ctrllimited[i]) {
      alo[i] = (double)(float)m->actuator_ctrlrange[2 * i];
      ahi[i] = (double)(float)m->actuator_ctrlrange[2 * i + 1];
    } else {
      alo[i] = -HUGE_VAL;
      ahi[i] = HUGE_VAL;
    }
  }
  for (int i = 0; i < obs_dim; i++) {
    olo[i] = -HUGE_VAL;
    ohi[i] = HUGE_VAL;
  }
  e->pub.act_space = (lpdm_space){LPDM_SPACE_BOX, 0, nu, alo, ahi};
  e->pub.obs_space = (lpdm_space){LPDM_SPACE_BOX, 0, obs_dim, olo, ohi};
  return LPDM_OK;
}

int mjx_expect(mjx_env *e, int nq, int nv, int nu, lpdm_ctx *ctx) {
  const mjModel *m = e->m;
  if (m->nq != nq || m->nv != nv || m->nu != nu)
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: the model %s has nq=%d nv=%d nu=%d; this env needs "
                      "nq=%d nv=%d nu=%d", e->id, e->model->path, m->nq, m->nv, m->nu, nq, nv, nu);
  return LPDM_OK;
}

int mjx_body(mjx_env *e, const char *name, int *id, lpdm_ctx *ctx) {
  *id = mj_name2id(e->m, mjOBJ_BODY, name);
  if (*id < 0)
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: the model %s has no body named \"%s\"", e->id,
                      e->model->path, name);
  return LPDM_OK;
}

void mjx_close(mjx_env *e) {
  if (!e) return;
  mjx_render_free(e->render);
  e->render = NULL;
  if (e->d) mj_deleteData(e->d);
  mjx_model_put(e->model);
  free(e->init_qpos);
  free(e->space);
  e->d = NULL;
  e->model = NULL;
  e->init_qpos = e->space = NULL;
}

void mjx_free(lpdm_env *self) {
  if (!self) return;
  mjx_close((mjx_env *)self);
  free(self);
}

int mjx_created(mjx_env *e, int rc, double noise, lpdm_env **out, lpdm_ctx *ctx) {
  if (!rc && !(isfinite(noise) && noise >= 0))
    rc = lpdm_error(ctx, LPDM_ERR_ARG, "%s: reset_noise_scale is %g (must be finite and >= 0)",
                    e->id, noise);
  if (rc) {
    mjx_free(&e->pub);
    return rc;
  }
  *out = &e->pub;
  return LPDM_OK;
}

/* ------------------------------------------------------------ state */

void mjx_put_state(mjx_env *e, const double *qpos, const double *qvel) {
  mj_resetData(e->m, e->d);
  memcpy(e->d->qpos, qpos, (size_t)e->m->nq * sizeof(double));
  memcpy(e->d->qvel, qvel, (size_t)e->m->nv * sizeof(double));
  mj_forward(e->m, e->d);
  e->ready = 1;
  e->diverged = 0;
}

int mjx_get_state(const lpdm_env *self, double *state) {
  const mjx_env *e = (const mjx_env *)self;
  memcpy(state, e->d->qpos, (size_t)e->m->nq * sizeof(double));
  memcpy(state + e->m->nq, e->d->qvel, (size_t)e->m->nv * sizeof(double));
  return LPDM_OK;
}

int mjx_set_state(lpdm_env *self, const double *state, lpdm_ctx *ctx) {
  mjx_env *e = (mjx_env *)self;
  (void)ctx;
  mjx_put_state(e, state, state + e->m->nq);
  return LPDM_OK;
}

/* ------------------------------------------------------------ reset */

void mjx_reset_seed(mjx_env *e, int has_seed, uint64_t seed) {
  if (has_seed || !e->seeded) {
    lpdm_nprng_seed(&e->rng, has_seed ? seed : 0);
    e->seeded = 1;
  }
  e->steps = 0;
}

void mjx_add_uniform(mjx_env *e, double *out, const double *base, int n, double low, double high) {
  for (int i = 0; i < n; i++) out[i] = base[i] + lpdm_nprng_uniform(&e->rng, low, high);
}

void mjx_add_normal(mjx_env *e, double *out, const double *base, int n, double scale) {
  for (int i = 0; i < n; i++) out[i] = base[i] + scale * lpdm_nprng_standard_normal(&e->rng);
}

void mjx_reset_noise(mjx_env *e, int has_seed, uint64_t seed, double noise, int normal_qvel) {
  int nq = e->m->nq, nv = e->m->nv;
  double *qpos = e->work, *qvel = e->work + nq;
  mjx_reset_seed(e, has_seed, seed);
  mjx_add_uniform(e, qpos, e->init_qpos, nq, -noise, noise);
  if (normal_qvel)
    mjx_add_normal(e, qvel, e->init_qvel, nv, noise);
  else
    mjx_add_uniform(e, qvel, e->init_qvel, nv, -noise, noise);
  mjx_put_state(e, qpos, qvel);
}

/* ------------------------------------------------------------ step */

int mjx_simulate(mjx_env *e, const double *action, lpdm_ctx *ctx) {
  if (!e->ready) {
    if (e->diverged)
      return lpdm_error(ctx, LPDM_ERR, "%s: step after the simulation diverged; reset first",
                        e->id);
    return lpdm_error(ctx, LPDM_ERR, "%s: step before reset", e->id);
  }
  const mjModel *m = e->m;
  mjData *d = e->d;
  int before = d->warning[mjWARN_BADQPOS].number + d->warning[mjWARN_BADQVEL].number +
               d->warning[mjWARN_BADQACC].number;
  memcpy(d->ctrl, action, (size_t)m->nu * sizeof(double));
  for (int i = 0; i < e->frame_skip; i++) mj_step(m, d);
  mj_rnePostConstraint(m, d);
  int after = d->warning[mjWARN_BADQPOS].number + d->warning[mjWARN_BADQVEL].number +
              d->warning[mjWARN_BADQACC].number;
  if (after == before) return 0;
  static const char *const what[] = {"qpos", "qvel", "qacc"};
  int w = 0;
  for (int k = 0; k < 3; k++)
    if (d->warning[mjWARN_BADQPOS + k].number) w = k;
  e->ready = 0;
  e->diverged++;
  lpdm_error(ctx, LPDM_ERR_NUM,
             "%s: simulation diverged at step %d (MuJoCo: NaN, Inf or |x| > 1e10 in %s at dof "
             "%d; MuJoCo reset the simulation); the episode ends",
             e->id, e->steps + 1, what[w], d->warning[mjWARN_BADQPOS + w].lastinfo);
  return 1;
}

void mjx_count(mjx_env *e, int *truncated) {
  if (e->steps < INT_MAX) e->steps++;
  *truncated = e->max_steps > 0 && e->steps >= e->max_steps;
}

/* ------------------------------------------------------------ render */

int mjx_render(const lpdm_env *self, char *buf, size_t len) {
  const mjx_env *e = (const mjx_env *)self;
  if (!buf || len == 0) return LPDM_OK;
  size_t at = 0;
  int w = snprintf(buf, len, "%s t=%d time=%.4f qpos=", e->id, e->steps, e->d->time);
  for (int i = 0; w >= 0 && (at += (size_t)w) < len && i < e->m->nq; i++)
    w = snprintf(buf + at, len - at, i ? " %+.4f" : "%+.4f", e->d->qpos[i]);
  if (at < len && e->diverged)
    snprintf(buf + at, len - at, " (diverged %d times)", e->diverged);
  return LPDM_OK;
}
