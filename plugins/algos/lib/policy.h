/* SPDX-License-Identifier: MIT */
/*
** lib/policy.h -- the algorithms' export_policy (algo.h, ABI 2.2): what an
** algorithm's act() needs, as a policy file (docs/policy.md). An algorithm
** fills a policy_parts with its nets and options, and policy_export writes
** the tensors and the metadata:
**
**   policy_parts pp = {.algo = "ppo", .distribution = "categorical", .setup = &s->setup,
**                      .env = s->venv->env[0], .trunk = s->trunk, .head = s->head,
**                      .venv = s->venv};    // obs_norm from copy 0, as vecenv_norm_frozen
**   return policy_export(&pp, st, ctx);
*/
#ifndef LPDM_ALGOS_POLICY_H
#define LPDM_ALGOS_POLICY_H
#include "lib/vecenv.h"

typedef struct policy_parts {
  const char *algo;             /* "ppo", "reinforce", "dqn"                            */
  const char *distribution;     /* "categorical", "gaussian" or "q_greedy"              */
  const lpdm_algo_setup *setup; /* the env's kind and config                            */
  const lpdm_env *env;          /* one copy: the spaces                                 */
  lpdm_net *trunk, *head;       /* features, then logits / mean / Q-values              */
  const float *log_std;         /* gaussian: one per action dimension                   */
  int squash_mean;              /* gaussian: mean = c + h tanh(head output)             */
  const vecenv *venv;           /* its copy 0's observation moments when norm_obs is on */
  const float *feat_mean, *feat_var; /* PPO's feature_norm: trunk width each, or NULL  */
  float feat_eps;
} policy_parts;

/* The tensors and metadata of docs/policy.md into st. */
int policy_export(const policy_parts *pp, lpdm_st *st, lpdm_ctx *ctx);

#endif
