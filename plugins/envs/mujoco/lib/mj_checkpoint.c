/* SPDX-License-Identifier: MIT */
/*
** mj_checkpoint.c -- save and load of every MuJoCo env (the env kind's
** optional save/load callbacks; see mj_env.h).
**
** Saved, under the given prefix: everything that decides the rest of the
** episode: qpos, qvel, act, time, the solver's warm start
** (qacc_warmstart), the generator and counters, and the body positions
** xpos/xipos: after mj_step they still describe the state before the
** step's integration (MuJoCo computes them in the step's forward pass),
** and Ant's and Humanoid's forward velocity reads them before the next
** step, so they cannot be recomputed from qpos. load recomputes the derived
** quantities (mj_forward, mj_rnePostConstraint) and then writes qpos and
** the warm start back, because mj_forward renormalises quaternions in qpos
** and recomputes the warm start: the next mj_step then starts from exactly
** the saved mjData state.
*/
#include <limits.h>
#include <string.h>

#include "mj_env.h"

int mjx_save(const lpdm_env *self, lpdm_st *st, const char *prefix, lpdm_ctx *ctx) {
  const mjx_env *e = (const mjx_env *)self;
  const mjModel *m = e->m;
  const mjData *d = e->d;
  int64_t c[5] = {e->seeded, e->ready, e->diverged, e->steps, m->nq * 1000000LL + m->nv * 1000LL + m->na};
  int rc = lpdm_state_put_f64(st, ctx, prefix, "qpos", d->qpos, m->nq);
  if (!rc) rc = lpdm_state_put_f64(st, ctx, prefix, "qvel", d->qvel, m->nv);
  if (!rc && m->na) rc = lpdm_state_put_f64(st, ctx, prefix, "act", d->act, m->na);
  if (!rc) rc = lpdm_state_put_f64(st, ctx, prefix, "qacc_warmstart", d->qacc_warmstart, m->nv);
  if (!rc) rc = lpdm_state_put_f64(st, ctx, prefix, "time", &d->time, 1);
  if (!rc) rc = lpdm_state_put_f64(st, ctx, prefix, "xpos", d->xpos, 3 * m->nbody);
  if (!rc) rc = lpdm_state_put_f64(st, ctx, prefix, "xipos", d->xipos, 3 * m->nbody);
  if (!rc) rc = lpdm_state_put_i64(st, ctx, prefix, "counters", c, 5);
  if (!rc) rc = lpdm_state_put_nprng(st, ctx, prefix, "rng", &e->rng);
  return rc;
}

int mjx_load(lpdm_env *self, const lpdm_st *st, const char *prefix, lpdm_ctx *ctx) {
  mjx_env *e = (mjx_env *)self;
  const mjModel *m = e->m;
  mjData *d = e->d;
  int64_t c[5];
  lpdm_nprng r;
  int rc = lpdm_state_get_i64(st, ctx, prefix, "counters", c, 5);
  if (rc) return rc;
  if (c[4] != m->nq * 1000000LL + m->nv * 1000LL + m->na || c[3] < 0 || c[3] > INT_MAX || c[2] < 0 || c[2] > INT_MAX)
    return lpdm_error(ctx, LPDM_ERR_IO, "%s: the checkpoint's %s does not fit this model (nq %d, nv %d)", e->id, prefix,
                      m->nq, m->nv);
  double *qpos = malloc((size_t)(2 * m->nq + 2 * m->nv + m->na + 1 + 6 * m->nbody) * sizeof(double));
  if (!qpos) return lpdm_error(ctx, LPDM_ERR_MEM, "%s: out of memory", e->id);
  double *qvel = qpos + m->nq, *warm = qvel + m->nv, *act = warm + m->nv, *t = act + m->na;
  double *xpos = t + 1, *xipos = xpos + 3 * m->nbody;
  rc = lpdm_state_get_f64(st, ctx, prefix, "qpos", qpos, m->nq);
  if (!rc) rc = lpdm_state_get_f64(st, ctx, prefix, "qvel", qvel, m->nv);
  if (!rc && m->na) rc = lpdm_state_get_f64(st, ctx, prefix, "act", act, m->na);
  if (!rc) rc = lpdm_state_get_f64(st, ctx, prefix, "qacc_warmstart", warm, m->nv);
  if (!rc) rc = lpdm_state_get_f64(st, ctx, prefix, "time", t, 1);
  if (!rc) rc = lpdm_state_get_f64(st, ctx, prefix, "xpos", xpos, 3 * m->nbody);
  if (!rc) rc = lpdm_state_get_f64(st, ctx, prefix, "xipos", xipos, 3 * m->nbody);
  if (!rc) rc = lpdm_state_get_nprng(st, ctx, prefix, "rng", &r);
  if (rc) {
    free(qpos);
    return rc;
  }
  mj_resetData(m, d);
  memcpy(d->qpos, qpos, (size_t)m->nq * sizeof(double));
  memcpy(d->qvel, qvel, (size_t)m->nv * sizeof(double));
  if (m->na) memcpy(d->act, act, (size_t)m->na * sizeof(double));
  d->time = *t;
  mj_forward(m, d);
  mj_rnePostConstraint(m, d);
  memcpy(d->qpos, qpos, (size_t)m->nq * sizeof(double));
  memcpy(d->qacc_warmstart, warm, (size_t)m->nv * sizeof(double));
  memcpy(d->xpos, xpos, (size_t)(3 * m->nbody) * sizeof(double));
  memcpy(d->xipos, xipos, (size_t)(3 * m->nbody) * sizeof(double));
  free(qpos);
  e->rng = r;
  e->seeded = c[0] != 0;
  e->ready = c[1] != 0;
  e->diverged = (int)c[2];
  e->steps = (int)c[3];
  return LPDM_OK;
}
