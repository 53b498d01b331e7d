/* SPDX-License-Identifier: MIT */
/*
** ppo/dp.c -- PPO over several processes (setup.comm, lpdm/comm.h): each
** rank steps its share of the env copies; after a rollout every rank gets
** every copy's rows and every episode (ppo_dp_exchange), and after each
** minibatch's backward pass the gradients of everything PPO's loss trains
** are summed (ppo_dp_reduce), so every rank holds the same bits as one
** process would.
*/
#include <stdlib.h>
#include <string.h>

#include "ppo/ppo.h"

void ppo_dp_free(ppo_dp *d) {
  free(d->send);
  free(d->recv);
  free(d->grad);
  free(d->all);
}

/* The exchange buffers (comm set). */
int ppo_dp_init(ppo *s, lpdm_ctx *ctx) {
  ppo_dp *d = &s->dp;
  const int Nl = d->e1 - d->e0, T = s->T, od = s->od, na = s->na;
  /* floats per rank: the rollout's rows, next_obs and next_done, then
     (norm_obs) the observation moments as doubles, 2 floats each, at an
     even offset (per floats per rank keep every block 8-aligned) */
  d->per = (size_t)T * Nl * (od + na + 3) + (size_t)Nl * (od + 1);
  d->per += d->per & 1;
  if (s->venv->o.norm_obs) d->per += 2 * ((size_t)Nl * (2 * od + 1));
  d->per += d->per & 1;
  d->ngrad =
      lpdm_net_grad_count(s->head) + lpdm_net_grad_count(s->vhead) + lpdm_optim_grad_count(s->ls ? s->ls->opt : NULL);
  if (!s->local) d->ngrad += lpdm_net_grad_count(s->trunk) + lpdm_net_grad_count(s->vtrunk);
  d->send = malloc(d->per * sizeof(float));
  d->recv = malloc(d->per * (size_t)d->P * sizeof(float));
  d->grad = malloc((d->ngrad ? d->ngrad : 1) * sizeof(float));
  if (!d->send || !d->recv || !d->grad) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  return LPDM_OK;
}

static int episode_cmp(const void *a, const void *b) {
  const lpdm_episode *x = a, *y = b;
  if (x->global_step != y->global_step) return x->global_step < y->global_step ? -1 : 1;
  return x->env_index - y->env_index;
}

/* A data-parallel rollout's end: every rank gets every copy's steps (its
   own copies' rows were stepped here, the rest arrive from their ranks)
   and every episode, reported in one process's order (step, then copy). */
int ppo_dp_exchange(ppo *s, lpdm_ctx *ctx) {
  ppo_dp *d = &s->dp;
  vecenv *v = s->venv;
  const lpdm_comm *c = d->comm;
  const int N = s->N, T = s->T, od = s->od, na = s->na, Nl = d->e1 - d->e0;
  struct {
    float *a;
    int w;
  } rows[] = {{s->ro.obs.p, od}, {s->ro.act.p, na}, {s->ro.logp.p, 1}, {s->ro.rew.p, 1}, {s->ro.done.p, 1}};
  float *p = d->send;
  for (int t = 0; t < T; t++)
    for (size_t k = 0; k < sizeof rows / sizeof *rows; k++) {
      size_t w = (size_t)rows[k].w;
      memcpy(p, rows[k].a + ((size_t)t * N + d->e0) * w, (size_t)Nl * w * sizeof(float));
      p += (size_t)Nl * w;
    }
  memcpy(p, v->obs + (size_t)d->e0 * od, (size_t)Nl * od * sizeof(float));
  p += (size_t)Nl * od;
  memcpy(p, s->ro.next_done.p + d->e0, (size_t)Nl * sizeof(float));
  p += Nl;
  p += (size_t)(p - d->send) & 1; /* doubles at an even offset */
  if (v->o.norm_obs) {            /* the copies' observation moments, so that run:act is the same on every rank */
    double *x = (double *)(void *)p;
    memcpy(x, v->om + (size_t)d->e0 * od, (size_t)Nl * od * sizeof(double));
    memcpy(x + (size_t)Nl * od, v->ov + (size_t)d->e0 * od, (size_t)Nl * od * sizeof(double));
    memcpy(x + (size_t)2 * Nl * od, v->oc + d->e0, (size_t)Nl * sizeof(double));
  }
  if (c->allgather(c->user, d->send, d->per * sizeof(float), d->recv))
    return lpdm_error(ctx, LPDM_ERR, "data-parallel rollout exchange failed (allgather of %zu bytes)",
                      d->per * sizeof(float));
  for (int r = 0; r < d->P; r++) {
    const float *q = d->recv + (size_t)r * d->per;
    const int f0 = (int)((long long)r * N / d->P);
    for (int t = 0; t < T; t++)
      for (size_t k = 0; k < sizeof rows / sizeof *rows; k++) {
        size_t w = (size_t)rows[k].w;
        memcpy(rows[k].a + ((size_t)t * N + f0) * w, q, (size_t)Nl * w * sizeof(float));
        q += (size_t)Nl * w;
      }
    memcpy(v->obs + (size_t)f0 * od, q, (size_t)Nl * od * sizeof(float));
    q += (size_t)Nl * od;
    memcpy(s->ro.next_done.p + f0, q, (size_t)Nl * sizeof(float));
    q += Nl;
    q += (size_t)(q - (d->recv + (size_t)r * d->per)) & 1;
    if (v->o.norm_obs) {
      const double *x = (const double *)(const void *)q;
      memcpy(v->om + (size_t)f0 * od, x, (size_t)Nl * od * sizeof(double));
      memcpy(v->ov + (size_t)f0 * od, x + (size_t)Nl * od, (size_t)Nl * od * sizeof(double));
      memcpy(v->oc + f0, x + (size_t)2 * Nl * od, (size_t)Nl * sizeof(double));
    }
  }
  /* episodes: the counts, then the records */
  double *cnt = (double *)d->recv; /* P counts fit: per >= 2 floats per rank */
  double mine = vecenv_nheld(v);
  if (c->allgather(c->user, &mine, sizeof mine, cnt))
    return lpdm_error(ctx, LPDM_ERR, "data-parallel episode exchange failed (counts)");
  size_t total = 0, bytes_of[64], *bo = d->P <= 64 ? bytes_of : malloc((size_t)d->P * sizeof *bo);
  if (!bo) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  for (int r = 0; r < d->P; r++) {
    bo[r] = (size_t)cnt[r] * sizeof(lpdm_episode);
    total += (size_t)cnt[r];
  }
  int rc = LPDM_OK;
  if (total > d->allcap) {
    lpdm_episode *n = realloc(d->all, (total + 64) * sizeof *n);
    if (!n)
      rc = lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
    else {
      d->all = n;
      d->allcap = total + 64;
    }
  }
  if (!rc && total && c->allgatherv(c->user, v->held, d->all, bo))
    rc = lpdm_error(ctx, LPDM_ERR, "data-parallel episode exchange failed (%zu episodes)", total);
  if (bo != bytes_of) free(bo);
  if (rc) return rc;
  vecenv_clear_held(v);
  qsort(d->all, total, sizeof *d->all, episode_cmp);
  for (size_t i = 0; i < total && s->setup.on_episode; i++) s->setup.on_episode(s->setup.user, &d->all[i]);
  return LPDM_OK;
}

/* A data-parallel minibatch's end: the gradients of every net that learns
   by PPO's loss (the heads and log-std; in bp the trunks too) and the loss
   figures are summed over the processes, so each holds the whole
   minibatch's, the same bits on every rank; then the clipping norms. */
int ppo_dp_reduce(ppo *s, lpdm_ctx *ctx, ppo_pstats *ps, double *sq_a) {
  ppo_dp *d = &s->dp;
  const lpdm_comm *c = d->comm;
  lpdm_optim *lso = s->ls ? s->ls->opt : NULL;
  float *p = d->grad;
  p = lpdm_net_grad_get(s->head, p);
  p = lpdm_net_grad_get(s->vhead, p);
  p = lpdm_optim_grad_get(lso, p);
  if (!s->local) {
    p = lpdm_net_grad_get(s->trunk, p);
    p = lpdm_net_grad_get(s->vtrunk, p);
  }
  if (c->allreduce_f32(c->user, d->grad, d->ngrad))
    return lpdm_error(ctx, LPDM_ERR, "data-parallel gradient sum failed (%zu floats)", d->ngrad);
  const float *q = d->grad;
  q = lpdm_net_grad_set(s->head, q);
  q = lpdm_net_grad_set(s->vhead, q);
  q = lpdm_optim_grad_set(lso, q);
  if (!s->local) {
    q = lpdm_net_grad_set(s->trunk, q);
    lpdm_net_grad_set(s->vtrunk, q);
  }
  double v[6] = {ps->pg_loss, ps->entropy, ps->approx_kl, ps->old_approx_kl, ps->clipfrac, s->job_vloss};
  if (c->allreduce_f64(c->user, v, 6)) return lpdm_error(ctx, LPDM_ERR, "data-parallel loss sum failed");
  ps->pg_loss = v[0], ps->entropy = v[1], ps->approx_kl = v[2], ps->old_approx_kl = v[3], ps->clipfrac = v[4];
  s->job_vloss = v[5];
  *sq_a = lpdm_net_grad_sq(s->head) + (lso ? lpdm_optim_grad_sq(lso) : 0) + (s->local ? 0 : lpdm_net_grad_sq(s->trunk));
  s->job_sq = lpdm_net_grad_sq(s->vhead) + (s->local ? 0 : lpdm_net_grad_sq(s->vtrunk));
  return LPDM_OK;
}
