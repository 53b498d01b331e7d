/* SPDX-License-Identifier: MIT */
/*
** lib/vecenv.h -- N copies of one env stepped in lockstep, with autoreset,
** episode bookkeeping and Gymnasium-style wrappers per copy.
**
** What a copy does on vecenv_step: the env steps; its observation is
** normalised by the copy's running moments (norm_obs: Gymnasium's
** NormalizeObservation, RunningMeanStd with initial count 1e-4, clipped to
** +-clip_obs); its reward is divided by the running std of the copy's
** discounted return (norm_reward: NormalizeReward, clipped to
** +-clip_reward); the raw reward goes into the episode's tally. When the
** step ends the episode (terminated or truncated), the caller may look at
** the final (normalised) observation -- e.g. to bootstrap a truncation --
** and then calls vecenv_end_episode, which reports the episode (raw return,
** length, copy) to the sink, resets the copy and writes its first obs.
**
**   vecenv_opts o = {.norm_obs = 1, .norm_reward = 1, .clip_obs = 10, .clip_reward = 10, .gamma = 0.99};
**   vecenv *v;
**   rc = vecenv_new(ctx, setup->env_kind, setup->env_cfg, N, seed, &o, &v); // copy e reset with seed + e
**   vecenv_sink(v, setup->on_episode, setup->user, 0);
**   float *obs = v->obs + e * v->od;                 // copy e's current observation
**   rc = vecenv_step(v, ctx, e, action, obs, &r, &term, &trunc);
**   if (term || trunc) rc = vecenv_end_episode(v, ctx, e, global_step, obs);
**
** A value-based algorithm uses it the same way (N = 1, no wrappers gives a
** plain env with episode reports). Everything a checkpoint needs is saved by
** vecenv_save under the names of docs/checkpoints.md ("algo.episode_return",
** "algo.obs_mean", ..., "env.<e>"); an algorithm with other names (REINFORCE's
** "env", "algo.obs") reads the public fields and saves them itself.
*/
#ifndef LPDM_ALGOS_VECENV_H
#define LPDM_ALGOS_VECENV_H
#include "lpdm/lpdm.h"

typedef struct vecenv_opts {
  int norm_obs, norm_reward;    /* the wrappers, per copy                 */
  double clip_obs, clip_reward; /* their clipping (> 0)                   */
  double gamma;                 /* the discount of norm_reward's return   */
} vecenv_opts;

typedef struct vecenv {
  int n, od; /* copies, observation size                           */
  vecenv_opts o;
  lpdm_env **env;              /* n copies (owned)                                   */
  float *obs;                  /* n x od: each copy's current (normalised) observation */
  double *ep_ret;              /* raw return of each copy's running episode          */
  int *ep_len;                 /* its length                                         */
  double *om, *ov, *oc;        /* observation moments: n x od mean, n x od var, n counts */
  double *rm, *rv, *rc, *disc; /* return moments and discounted return: n each       */
  /* the episode sink: reported at once, or held (defer) for the caller to
     take with vecenv_held (a data-parallel rank gathers them first) */
  void (*on_episode)(void *user, const lpdm_episode *ep);
  void *user;
  int defer;
  lpdm_episode *held;
  int nheld, held_cap;
  double *xbuf; /* od doubles */
  float *raw;   /* one raw observation */
} vecenv;

/* Makes n copies of the env (kind, cfg), resets copy e with seed + e and
   writes its first (normalised) observation into obs + e * od. Caller
   frees with vecenv_free. */
int vecenv_new(lpdm_ctx *ctx, const lpdm_env_kind *kind, const lpdm_config *cfg, int n, uint64_t seed,
               const vecenv_opts *o, vecenv **out);
void vecenv_free(vecenv *v); /* accepts NULL */
/* Where finished episodes go (on_episode may be NULL); defer = 1 holds them. */
void vecenv_sink(vecenv *v, void (*on_episode)(void *, const lpdm_episode *), void *user, int defer);

/* One step of copy e: obs (usually v->obs + e * od) receives the normalised
   observation, *reward the scaled reward (both as given when the wrappers
   are off). */
int vecenv_step(vecenv *v, lpdm_ctx *ctx, int e, const double *action, float *obs, double *reward, int *term,
                int *trunc);
/* The end of copy e's episode, global_step the steps taken when it ended:
   reports it, clears the tallies, resets the copy (no seed) and writes the
   new first observation into obs. */
int vecenv_end_episode(vecenv *v, lpdm_ctx *ctx, int e, int64_t global_step, float *obs);
/* Normalises raw by copy e's moments without updating them (greedy acting). */
void vecenv_norm_frozen(const vecenv *v, int e, const float *raw, float *obs);
/* Held episodes (defer = 1): the count; vecenv_clear_held forgets them. */
int vecenv_nheld(const vecenv *v);
void vecenv_clear_held(vecenv *v);

/* Gymnasium's RunningMeanStd update by one sample x of dim values. */
void rms_update(double *mean, double *var, double *count, const double *x, int dim);

/* Checkpoint part: tallies, moments and every copy's env state
   ("algo.episode_return", "algo.obs_mean", "algo.obs_var", "algo.obs_count",
   "algo.ret_mean", "algo.ret_var", "algo.ret_count", "algo.discounted_return",
   "algo.episode_length", "env.<e>"). load checks counts and moments. */
int vecenv_save(const vecenv *v, lpdm_ctx *ctx, lpdm_st *st);
int vecenv_load(vecenv *v, lpdm_ctx *ctx, const lpdm_st *st);

#endif
