/* SPDX-License-Identifier: MIT */
/*
** ppo/ppo.h -- the PPO plugin's internal header (not ABI): the instance
** and the functions its files share.
**
**   ppo.c        the algorithm as CleanRL's ppo.py reads: config, rollout,
**                GAE, the epochs over minibatches, the clipped losses' step
**   ppo_loss.c   GAE and the clipped policy and value losses (ppo_loss.h)
**   research.c   the local-learning research options (rates per layer,
**                per-net losses, guidance transforms, head-only epochs, the
**                whole-rollout local step) and feature standardisation
**   dp.c         the data-parallel exchange of a rollout and of gradients
**   ckpt.c       checkpoints
*/
#ifndef LPDM_ALGOS_PPO_H
#define LPDM_ALGOS_PPO_H
#include "lib/forkjoin.h"
#include "lib/heads.h"
#include "lib/rule.h"
#include "lib/util.h"
#include "lib/vecenv.h"
#include "ppo/ppo_loss.h"

/* The research options (research.c), each off by default. */
typedef struct ppo_research {
  /* per-net local losses (actor_alpha / critic_alpha, guide_anneal): own
     instances, else NULL (the setup's loss) */
  lpdm_loss *aloss, *closs;
  int guide_anneal;
  double alpha0[2]; /* guide_anneal: the actor's and the critic's starting alpha */
  int guide;        /* 0 raw, 1 clip, 2 rank */
  double guide_clip;
  int signed_guide; /* actor_guide = signed */
  int val_guide;    /* critic_guide = val   */
  int head_epochs, head_anneal;
  int rollout_local; /* local_batch = rollout or once */
  int rollout_once;  /* local_batch = once: the first epoch only */
  fbuf ga, gc, gs;   /* transformed guidance */
  void *rk_a, *rk_c; /* rank scratch */
  /* feature standardisation before the heads (feature_norm, both modes) */
  int fnorm;
  double fn_beta;
  float *fm_a, *fv_a, *fm_c, *fv_c; /* moments per feature, actor and critic */
  int fn_seen_a, fn_seen_c;
  fbuf nfeat, nvfeat, bfeat;
  fbuf dls; /* local heads' objective: a log-std gradient nobody steps on */
} ppo_research;

/* A data-parallel run (setup.comm of size P > 1): this rank steps env
   copies [e0, e1) and computes rows [r0, r0 + Ml) of every minibatch; one
   process: P = 1, all copies, all rows. */
typedef struct ppo_dp {
  const lpdm_comm *comm; /* NULL: one process */
  int P, rank, e0, e1, r0, Ml;
  float *send, *recv; /* the rollout exchange */
  size_t per;         /* floats per rank in it */
  float *grad;        /* every summed gradient, flat */
  size_t ngrad;
  lpdm_episode *all; /* everyone's episodes of a rollout */
  size_t allcap;
} ppo_dp;

/* The rollout's buffers, time-major (row t * N + e): observations,
   actions, their log-probs, values, rewards, done flags (obs t began an
   episode), advantages and returns; the done flags and values after the
   last step; the features and outputs of the acting passes. */
typedef struct ppo_rollout {
  fbuf obs, act, logp, val, rew, done, adv, ret, next_done, next_val;
  fbuf feat, out, vfeat, vout;
} ppo_rollout;

/* A minibatch: the shuffle order (in place from epoch to epoch, as
   CleanRL's), the gathered rows, the heads' output gradients and the
   trunks' feature buffers. */
typedef struct ppo_minibatch {
  int *perm;
  fbuf m_obs, m_act, m_logp, m_adv, m_ret, m_val, dout, dfeat, dv, dvfeat, tfeat, vtfeat;
} ppo_minibatch;

typedef struct ppo {
  lpdm_algo base;
  lpdm_algo_setup setup;
  /* sizes: copies, steps per copy, batch, minibatch, minibatches, epochs,
     obs width, action width in the buffers, head outputs */
  int N, T, B, M, nmb, epochs, od, na, nact;
  int local, discrete;
  /* hyperparameters */
  double gamma, lam, clip, ent_coef, vf_coef, max_grad_norm, target_kl, lr, head_lr;
  int rule; /* local mode with a learning rule (local heads, feedback alignment): bp's default rates */
  int clip_separate, norm_adv, clip_vloss, anneal, bootstrap_trunc;
  /* progress */
  int64_t global_step;
  int update, num_updates;
  double t_start;
  double mu_abs, mu_n; /* Box: sum of |policy mean| over the rollout */
  lpdm_rng rng;
  /* parts */
  vecenv *venv;    /* the copies; venv->obs is the obs each copy's next step starts from */
  double *act_env; /* one copy's action for the env */
  lpdm_net *trunk, *head, *vtrunk, *vhead;
  int own_vtrunk;
  double *trunk_lr, *vtrunk_lr; /* base rate of each hidden layer */
  gauss_std *ls;                /* Box: the log-std */
  trunk_rule *arule, *crule;    /* local mode: the actor's and the critic's LPDM rule */
  forkjoin *fj;                 /* threads = 2 */
  ppo_rollout ro;
  ppo_minibatch mb;
  int frozen; /* this epoch's trunks only forward (head_epochs, rollout local step) */
  /* the critic's half of a minibatch: results (critic_part) */
  double *job_ll, job_vloss, job_sq;
  /* local loss per hidden layer: this minibatch's, summed over the update */
  double *lbuf_a, *lbuf_c, *al, *cl;
  ppo_research x;
  ppo_dp dp;
} ppo;

/* ppo.c */
int ppo_forward2(lpdm_net *trunk, lpdm_net *head, lpdm_ctx *ctx, const float *X, int B, float *feat, float *out,
                 const float *fm, const float *fv);
int ppo_trunk_forward(ppo *s, lpdm_ctx *ctx, lpdm_net *trunk, trunk_rule *rule, const float *X, int M,
                      const algo_targets *t, const float **feat, double *losses, float *scratch);

/* research.c */
int ppo_rates_init(ppo *s, const lpdm_config *cfg, lpdm_ctx *ctx, double eps);
void ppo_set_all_rates(ppo *s, double frac);
int ppo_record_resolved(ppo *s, const lpdm_config *cfg, lpdm_ctx *ctx);
int ppo_research_init(ppo *s, const lpdm_config *cfg, lpdm_ctx *ctx);
void ppo_research_free(ppo_research *x);
int ppo_guide_anneal(ppo *s, lpdm_ctx *ctx);
algo_targets ppo_actor_targets(ppo *s, const float *adv, const float *act, const float *logp, const float *ret,
                               int n);
algo_targets ppo_critic_targets(ppo *s, const float *ret, const float *val, int n);
int ppo_rollout_local_step(ppo *s, lpdm_ctx *ctx, double *la, double *lc);
void ppo_fn_apply(const float *m, const float *v, const float *X, int B, int F, float *out);
void ppo_fn_backward(const float *v, float *d, int B, int F);
int ppo_fn_refresh(ppo *s, lpdm_ctx *ctx, double beta);

/* dp.c */
int ppo_dp_init(ppo *s, lpdm_ctx *ctx);
void ppo_dp_free(ppo_dp *d);
int ppo_dp_exchange(ppo *s, lpdm_ctx *ctx);
int ppo_dp_reduce(ppo *s, lpdm_ctx *ctx, ppo_pstats *ps, double *sq_a);

/* ckpt.c */
int ppo_save(lpdm_algo *a, lpdm_st *st, lpdm_ctx *ctx);
int ppo_load(lpdm_algo *a, const lpdm_st *st, lpdm_ctx *ctx);

#endif
