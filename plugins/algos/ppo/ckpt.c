/* SPDX-License-Identifier: MIT */
/*
** ppo/ckpt.c -- PPO's checkpoints, taken between updates. The rollout and
** minibatch buffers are rebuilt by the next update, so the state is each
** part's own (the four nets with their optimizers, the env copies with
** their tallies and normalisation moments: vecenv_save, the log-std:
** gauss_std_save) and PPO's: the generator, the counters, the observation
** and done flag the next rollout starts from, the shuffle order (shuffled
** in place from update to update, as CleanRL's) and the feature moments.
** Names as docs/checkpoints.md lists them.
*/
#include <stdlib.h>

#include "lib/ckpt.h"
#include "ppo/ppo.h"

/* The nets, by their names in the file. */
#define CKPT_NETS 4
static void ckpt_nets(ppo *s, lpdm_net **net, const char **name) {
  net[0] = s->trunk, name[0] = "policy";
  net[1] = s->head, name[1] = "policy_head";
  net[2] = s->vtrunk, name[2] = "value";
  net[3] = s->vhead, name[3] = "value_head";
}

/* PPO's own arrays ("algo.<what>"); returns how many (at most 6). */
static int ckpt_arrays(ppo *s, ckpt_array *a) {
  const size_t N = (size_t)s->N, od = (size_t)s->od;
  int k = 0;
  a[k++] = (ckpt_array){"next_obs", s->venv->obs, N * od, CKPT_F32};
  a[k++] = (ckpt_array){"next_done", s->ro.next_done.p, N, CKPT_F32};
  if (s->x.fnorm) {
    const size_t F = (size_t)lpdm_net_out_dim(s->trunk), VF = (size_t)lpdm_net_out_dim(s->vtrunk);
    a[k++] = (ckpt_array){"feature_mean.policy", s->x.fm_a, F, CKPT_F32};
    a[k++] = (ckpt_array){"feature_var.policy", s->x.fv_a, F, CKPT_F32};
    a[k++] = (ckpt_array){"feature_mean.value", s->x.fm_c, VF, CKPT_F32};
    a[k++] = (ckpt_array){"feature_var.value", s->x.fv_c, VF, CKPT_F32};
  }
  return k;
}

int ppo_save(lpdm_algo *a, lpdm_st *st, lpdm_ctx *ctx) {
  ppo *s = (ppo *)a;
  if (s->dp.comm) /* each rank holds only its env copies' state */
    return lpdm_error(ctx, LPDM_ERR_ARG, "checkpoints of a data-parallel run are not supported (yet)");
  int64_t n[4] = {s->global_step, s->update, s->x.fn_seen_a, s->x.fn_seen_c};
  lpdm_net *net[CKPT_NETS];
  const char *nname[CKPT_NETS];
  ckpt_array arr[6];
  ckpt_nets(s, net, nname);
  const int na = ckpt_arrays(s, arr);
  int rc = LPDM_OK;
  for (int i = 0; !rc && i < CKPT_NETS; i++) rc = lpdm_net_save(net[i], ctx, st, nname[i], 1);
  if (!rc) rc = ckpt_put(st, ctx, "algo", arr, na);
  if (!rc && s->ls) rc = gauss_std_save(s->ls, ctx, st);
  if (!rc) rc = lpdm_state_put_rng(st, ctx, "algo", "rng", &s->rng);
  if (!rc) rc = lpdm_state_put_i64(st, ctx, "algo", "counters", n, 4);
  if (!rc) rc = ckpt_put_ints(st, ctx, "algo", "shuffle", s->mb.perm, s->B);
  if (!rc) rc = vecenv_save(s->venv, ctx, st);
  if (!rc) rc = trunk_rule_save(s->arule, ctx, st, "algo.rule.actor");
  if (!rc) rc = trunk_rule_save(s->crule, ctx, st, "algo.rule.critic");
  return rc;
}

/* Every count, index and moment is checked against this run. A file that
   fails half-way leaves the run half-loaded: the callers (train.lua's
   --resume, run:load) stop on the error and never continue such a run. */
int ppo_load(lpdm_algo *a, const lpdm_st *st, lpdm_ctx *ctx) {
  ppo *s = (ppo *)a;
  if (s->dp.comm) return lpdm_error(ctx, LPDM_ERR_ARG, "checkpoints of a data-parallel run are not supported (yet)");
  const int B = s->B;
  int64_t n[4];
  int rc = lpdm_state_get_i64(st, ctx, "algo", "counters", n, 4);
  if (!rc && (n[0] < 0 || n[0] > (int64_t)s->num_updates * B || n[1] < 0 || n[1] > s->num_updates || n[0] != n[1] * B ||
              (n[2] != 0 && n[2] != 1) || (n[3] != 0 && n[3] != 1)))
    return lpdm_error(ctx, LPDM_ERR_IO,
                      "checkpoint: algo.counters: env step %lld at update %lld does not fit this run (%d steps per "
                      "update, %d updates)",
                      (long long)n[0], (long long)n[1], B, s->num_updates);
  if (rc) return rc;
  int *perm = malloc((size_t)B * sizeof *perm);
  char *seen = calloc((size_t)B, 1);
  if (!perm || !seen) {
    free(perm);
    free(seen);
    return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  }
  rc = ckpt_get_ints(st, ctx, "algo", "shuffle", perm, B, 0, B - 1);
  for (int i = 0; !rc && i < B; i++) {
    if (seen[perm[i]])
      rc = lpdm_error(ctx, LPDM_ERR_IO, "checkpoint: algo.shuffle is not a permutation of 0..%d", B - 1);
    else
      seen[perm[i]] = 1;
  }
  if (!rc)
    for (int i = 0; i < B; i++) s->mb.perm[i] = perm[i];
  free(perm);
  free(seen);
  lpdm_net *net[CKPT_NETS];
  const char *nname[CKPT_NETS];
  ckpt_array arr[6];
  ckpt_nets(s, net, nname);
  const int na = ckpt_arrays(s, arr);
  for (int i = 0; !rc && i < CKPT_NETS; i++) rc = lpdm_net_load(net[i], ctx, st, nname[i], 1);
  if (!rc) rc = vecenv_load(s->venv, ctx, st);
  if (!rc) rc = ckpt_get(st, ctx, "algo", arr, na);
  if (!rc && s->ls) rc = gauss_std_load(s->ls, ctx, st);
  if (!rc) rc = lpdm_state_get_rng(st, ctx, "algo", "rng", &s->rng);
  if (!rc) rc = trunk_rule_load(s->arule, ctx, st, "algo.rule.actor");
  if (!rc) rc = trunk_rule_load(s->crule, ctx, st, "algo.rule.critic");
  if (rc) return rc;
  s->global_step = n[0];
  s->update = (int)n[1];
  s->x.fn_seen_a = (int)n[2];
  s->x.fn_seen_c = (int)n[3];
  return LPDM_OK;
}
