/* SPDX-License-Identifier: MIT */
/*
** ppo/ppo.c -- Proximal Policy Optimization (Schulman et al. 2017) with the
** semantics of CleanRL's ppo.py (Discrete actions) and
** ppo_continuous_action.py (Box actions), in two modes:
**
**   bp     PPO's loss is backpropagated through the actor and the critic,
**          as CleanRL does it (one global gradient-norm clip over both);
**   local  the hidden layers of the actor and of the critic learn by their
**          local loss during each minibatch's forward pass (the guided loss
**          is guided by the minibatch's advantages for the actor and by its
**          returns for the critic); the policy head (and log-std) and the
**          value head learn from PPO's losses on the detached features, their
**          gradients clipped by the same global norm, their rates not
**          annealed (head_anneal). Local mode's default loss, when the host
**          names none, is "kernel anchor=1" (loss.kernel: Gaussian-kernel
**          targets with a scale anchor), with the hidden layers at 3e-4:
**          the best configuration of issue 7's search
**          (docs/local-learning.md): 13 of CartPole-v1's seeds 1..15 reach
**          475 and stay near it, against 2 of 15 for the former defaults
**          (guided, heads annealed, hidden layers at 1e-4).
**
** One iteration is one update: num_steps steps of num_envs env copies in
** lockstep (an episode that ends is reset at once, and its last step counts
** as done whether it terminated or was truncated, as in CleanRL; with
** bootstrap_truncated a truncated step's reward gets gamma V(final obs)
** added, the correct bootstrap), GAE(gamma, gae_lambda), then update_epochs
** passes over num_minibatches shuffled minibatches: advantages normalised
** per minibatch, clipped surrogate objective, clipped value loss, entropy
** bonus, Adam (eps adam_eps), every learning rate annealed linearly to 0
** over the run; an epoch loop that ends with approx_kl > target_kl stops
** the update (target_kl = 0: never).
**
** Networks: the actor's hidden layers are the policy net the host gives
** (setup->policy); the critic's are setup->value, or a fresh copy of the
** policy's layers. PPO adds the heads, orthogonally initialised with gain
** 0.01 (policy) and 1 (value), biases 0. CleanRL's hidden layers are
** orthogonal with gain sqrt(2): scripts/train.lua builds them so for ppo;
** from Lua, give lpdm.dense{64, init = "orthogonal", gain = math.sqrt(2)}.
** Box actions: a Gaussian with a state-independent log-std parameter; the
** sample is clipped to the bounds for the env only. With norm_obs, each env
** copy normalises its observations by running moments and clips them to
** +-clip_obs; with norm_reward, each copy divides rewards by the running
** std of its discounted return and clips them to +-clip_reward (both as
** Gymnasium's wrappers in CleanRL's make_env, so per copy). Reported
** episode returns are always the raw env rewards.
**
** Config keys (defaults; -1 / "auto" take CleanRL's default for the action
** space, Discrete / Box; the run's config reports the resolved values):
**   mode            = "local"  "local" or "bp"
**   seed            = 1        env copy i is reset with seed + i; also the sampling
**   steps           = 500000   env-step budget (CleanRL's total_timesteps)
**   num_envs        = -1       4 / 1
**   num_steps       = -1       128 / 2048 steps per env copy per update
**   num_minibatches = -1       4 / 32
**   update_epochs   = -1       4 / 10
**   learning_rate   = -1       2.5e-4 / 3e-4: bp, every parameter
**   anneal_lr       = true     anneal every learning rate linearly to 0
**   gamma           = 0.99
**   gae_lambda      = 0.95
**   norm_adv        = true     normalise advantages per minibatch
**   clip_coef       = 0.2      surrogate clipping (and value clipping)
**   clip_vloss      = true     clipped value loss
**   ent_coef        = -1       0.01 / 0
**   vf_coef         = 0.5
**   max_grad_norm   = 0.5      global gradient-norm clip (0: none)
**   clip_grad       = "joint"  one norm over actor and critic (CleanRL's single
**                              optimizer), or "separate": each side clipped alone
**   target_kl       = 0        early stop of the update's epochs (0: none)
**   adam_eps        = 1e-5     every Adam optimizer's epsilon
**   bootstrap_truncated = false
**   norm_obs        = "auto"   false / true
**   norm_reward     = "auto"   false / true
**   clip_obs        = 10
**   clip_reward     = 10
**   log_std_init    = 0        Gaussian policy: initial log standard deviation
**   head_lr         = 0        heads and log-std (0: local 4 x learning_rate,
**                              or learning_rate with a rule loss; bp
**                              learning_rate, a value sets the heads apart)
**   local_lr        = 0        local: hidden layers of both nets (0: 3e-4;
**                              learning_rate with loss localhead or dfa)
**   actor_local_lr  = 0        local: the actor's hidden layers (0: local_lr)
**   critic_local_lr = 0        local: the critic's hidden layers (0: local_lr)
**   actor_local_lrs = ""       local: one rate per actor hidden layer, "1e-3,1e-4"
**   critic_local_lrs= ""       local: one rate per critic hidden layer
**   (A hidden layer whose rate the user set, e.g. lpdm.dense{64, lr = 1e-3}
**   from Lua (lpdm_net_keep_lr), keeps that rate in both modes, annealed
**   like the others; only an explicit actor_local_lrs/critic_local_lrs list
**   overrides it.)
**   feature_norm    = false    standardise each head's input features by running
**                              moments, refreshed from the rollout's features
**                              after each update (moving toward them by
**                              feature_norm_momentum = 0.1) and fixed during
**                              rollouts and epochs; bp backpropagates through it
**                              with the moments as constants
**   The run's config (run.config, summary.json) holds the values used, never
**   the 0 / -1 placeholders: in bp, head_lr and every *local_lr record
**   learning_rate (bp trains every layer at it), the *_local_lrs lists hold
**   each hidden layer's rate, and actor_alpha / critic_alpha hold the alpha
**   of each net's loss (0 where there is no reward term: bp, or a loss
**   without alpha).
**   (issue 7's local-mode options, measured in docs/local-learning.md; none
**   is a default:)
**   actor_alpha     = -1       local: the actor's layers use the loss with this alpha
**   critic_alpha    = -1       local: the critic's (-1: the loss's own alpha)
**   actor_guide     = "adv"    local: "signed" guides the actor by A times the
**                              action index mapped to [-1, 1] (Discrete)
**   guide           = "raw"    local: guidance as given, "clip"ped to mean +-
**                              guide_clip (= 2) sd, or replaced by its "rank"s
**   critic_guide    = "ret"    local: "val" guides the critic by the rollout's values
**   head_epochs     = 0        local: extra epochs per update training only the heads
**   head_anneal     = false    local: true anneals the heads' rates too (with anneal_lr)
**   guide_anneal    = false    local: the losses' guidance weight alpha decays
**                              linearly to 0 over the run (a guidance schedule)
**   local_batch     = "minibatch"  local: the hidden layers learn on every
**                              minibatch, or once per epoch on the whole
**                              "rollout" batch (the heads still on minibatches),
**                              or "once": one step on the whole rollout before
**                              the first epoch, the trunks then fixed during
**                              every epoch
**   threads         = 0        2: each minibatch's actor and critic halves run on
**                              two threads (results identical to 1 thread); 0
**                              (auto): 2 when the process may run on 2 or more
**                              CPUs and is not one of several MPI ranks, else
**                              1, unless the environment variable LPDM_THREADS
**                              says 1 or 2 (sweeps set it to 1 when they run
**                              several runs at a time). The run's config
**                              reports the count used.
**
** Built from the parts in plugins/algos/lib: the env copies with their
** wrappers and episode reports (vecenv), the heads and distributions
** (heads: softmax, Gaussian with gauss_std), the features each head sees
** (trunk_features with LPDM's rule per trunk), the fork-join of threads = 2
** (forkjoin). This file is PPO itself: rollout, GAE, the epochs over
** minibatches, the clipped step; ppo_loss.c has the losses, research.c the
** local-learning options, dp.c the data-parallel exchange, ckpt.c the
** checkpoints (ppo.h lists them). The policy file (export_policy, through
** lib/policy.c; docs/policy.md) holds the actor's trunk and head, the
** log-std, copy 0's observation moments and the feature_norm moments: what
** ppo_act uses.
**
** Figures per update (CleanRL's names): learning_rate, value_loss,
** policy_loss, entropy, old_approx_kl, approx_kl (of the last minibatch),
** clipfrac (mean over the update), explained_variance, sps, epochs,
** grad_norm, for Box actions log_std_mean (over the action dimensions) and
** mu_abs_mean (the policy mean's |value| over the update's rollout, this
** rank's env copies, every dimension), and in local mode
** actor_local_loss_N / critic_local_loss_N for every hidden layer N.
**
** Lua:
**   local run = lpdm.algo("ppo", { env = lpdm.env("CartPole-v1"), policy = net,
**                                  mode = "bp", seed = 1, steps = 500000 })
*/
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/policy.h"
#include "ppo/ppo.h"

static const lpdm_key keys[] = {
    {"mode", LPDM_T_STRING, "local", "local (local losses + heads) or bp (backpropagation)"},
    {"seed", LPDM_T_INT, "1", "env copy i is reset with seed + i; seeds the heads and the sampling"},
    {"steps", LPDM_T_INT, "500000", "env-step budget (CleanRL's total_timesteps)"},
    {"num_envs", LPDM_T_INT, "-1", "env copies stepped in lockstep (-1: 4 Discrete, 1 Box)"},
    {"num_steps", LPDM_T_INT, "-1", "steps per env copy per update (-1: 128 Discrete, 2048 Box)"},
    {"num_minibatches", LPDM_T_INT, "-1", "minibatches per epoch (-1: 4 Discrete, 32 Box)"},
    {"update_epochs", LPDM_T_INT, "-1", "passes over the batch per update (-1: 4 Discrete, 10 Box)"},
    {"learning_rate", LPDM_T_NUMBER, "-1", "bp: Adam learning rate of everything (-1: 2.5e-4 Discrete, 3e-4 Box)"},
    {"anneal_lr", LPDM_T_BOOL, "true", "anneal every learning rate linearly to 0"},
    {"gamma", LPDM_T_NUMBER, "0.99", "discount factor"},
    {"gae_lambda", LPDM_T_NUMBER, "0.95", "GAE lambda"},
    {"norm_adv", LPDM_T_BOOL, "true", "normalise advantages per minibatch"},
    {"clip_coef", LPDM_T_NUMBER, "0.2", "surrogate (and value) clipping coefficient"},
    {"clip_vloss", LPDM_T_BOOL, "true", "clip the value loss"},
    {"ent_coef", LPDM_T_NUMBER, "-1", "entropy bonus (-1: 0.01 Discrete, 0 Box)"},
    {"vf_coef", LPDM_T_NUMBER, "0.5", "value loss coefficient"},
    {"max_grad_norm", LPDM_T_NUMBER, "0.5", "global gradient-norm clip (0: none)"},
    {"clip_grad", LPDM_T_STRING, "joint", "joint: one norm over actor and critic (CleanRL); separate: each alone"},
    {"target_kl", LPDM_T_NUMBER, "0", "stop the update's epochs when approx_kl exceeds it (0: never)"},
    {"adam_eps", LPDM_T_NUMBER, "1e-5", "epsilon of every Adam optimizer"},
    {"bootstrap_truncated", LPDM_T_BOOL, "false", "bootstrap V(final obs) on truncation (CleanRL: off)"},
    {"norm_obs", LPDM_T_STRING, "auto", "running observation normalisation: true, false, auto (Box only)"},
    {"norm_reward", LPDM_T_STRING, "auto",
     "reward scaling by the discounted return's std: true, false, auto (Box only)"},
    {"clip_obs", LPDM_T_NUMBER, "10", "normalised observations are clipped to +-clip_obs"},
    {"clip_reward", LPDM_T_NUMBER, "10", "scaled rewards are clipped to +-clip_reward"},
    {"log_std_init", LPDM_T_NUMBER, "0", "Gaussian policy: initial log standard deviation"},
    {"head_lr", LPDM_T_NUMBER, "0", "learning rate of the heads and log-std (0: bp learning_rate; local 4 x learning_rate, learning_rate for localhead, dfa, frozen)"},
    {"local_lr", LPDM_T_NUMBER, "0", "local: learning rate of every hidden layer (0: 3e-4; learning_rate for localhead, dfa)"},
    {"actor_local_lr", LPDM_T_NUMBER, "0", "local: the actor's hidden layers (0: local_lr)"},
    {"critic_local_lr", LPDM_T_NUMBER, "0", "local: the critic's hidden layers (0: local_lr)"},
    {"actor_local_lrs", LPDM_T_STRING, "", "local: per actor hidden layer, comma-separated (overrides)"},
    {"critic_local_lrs", LPDM_T_STRING, "", "local: per critic hidden layer, comma-separated (overrides)"},
    {"threads", LPDM_T_INT, "0",
     "1 or 2: update actor and critic on two threads (same results); 0: 2 when the process may use 2 CPUs"},
    {"feature_norm", LPDM_T_BOOL, "false", "standardise the hidden features before each head (running moments)"},
    {"feature_norm_momentum", LPDM_T_NUMBER, "0.1", "weight of each update's batch in the feature moments"},
    {"actor_alpha", LPDM_T_NUMBER, "-1", "local: the actor's loss with this alpha (-1: the loss's own)"},
    {"critic_alpha", LPDM_T_NUMBER, "-1", "local: the critic's loss with this alpha (-1: the loss's own)"},
    {"guide", LPDM_T_STRING, "raw", "local: guidance signal as given (raw), clipped (clip) or ranked (rank)"},
    {"guide_clip", LPDM_T_NUMBER, "2", "local, guide=clip: clip at this many standard deviations from the mean"},
    {"actor_guide", LPDM_T_STRING, "adv",
     "local: the actor's guidance, adv (A) or signed (A times the centred action index)"},
    {"critic_guide", LPDM_T_STRING, "ret", "local: the critic's guidance, ret (returns) or val (the rollout's values)"},
    {"head_epochs", LPDM_T_INT, "0", "local: extra epochs per update that train only the heads (features fixed)"},
    {"head_anneal", LPDM_T_BOOL, "false", "local: anneal the heads' rates (with anneal_lr)"},
    {"guide_anneal", LPDM_T_BOOL, "false", "local: the losses' alpha decays linearly to 0 over the run"},
    {"local_batch", LPDM_T_STRING, "minibatch",
     "local: hidden layers learn per minibatch, once per epoch on the whole rollout (rollout), or once per "
     "rollout, fixed during the epochs (once)"},
    {NULL, 0, NULL, NULL}};

static void ppo_free(lpdm_algo *a) {
  ppo *s = (ppo *)a;
  if (!s) return;
  forkjoin_free(s->fj);
  vecenv_free(s->venv);
  lpdm_net_free(s->head);
  lpdm_net_free(s->vhead);
  if (s->own_vtrunk) lpdm_net_free(s->vtrunk);
  gauss_std_free(s->ls);
  trunk_rule_free(s->arule);
  trunk_rule_free(s->crule);
  ppo_research_free(&s->x);
  ppo_dp_free(&s->dp);
  void *ps[] = {s->act_env, s->trunk_lr, s->vtrunk_lr, s->mb.perm, s->lbuf_a, s->lbuf_c, s->al, s->cl};
  for (size_t i = 0; i < sizeof ps / sizeof *ps; i++) free(ps[i]);
  ppo_rollout *ro = &s->ro;
  ppo_minibatch *mb = &s->mb;
  fbuf *bs[] = {&ro->obs,   &ro->act,       &ro->logp,     &ro->val,   &ro->rew,   &ro->done,  &ro->adv,
                &ro->ret,   &ro->next_done, &ro->next_val, &ro->feat,  &ro->out,   &ro->vfeat, &ro->vout,
                &mb->m_obs, &mb->m_act,     &mb->m_logp,   &mb->m_adv, &mb->m_ret, &mb->m_val, &mb->dout,
                &mb->dfeat, &mb->dv,        &mb->dvfeat,   &mb->tfeat, &mb->vtfeat};
  for (size_t i = 0; i < sizeof bs / sizeof *bs; i++) free(bs[i]->p);
  free(s);
}

static int critic_job(void *arg, lpdm_ctx *ctx);

/* Checks the resolved config against the env (od observations) and the
   processes (comm, NULL for one) before any env is stepped. */
static int ppo_check(const lpdm_config *cfg, const lpdm_algo_setup *setup, int od, const lpdm_comm *comm,
                     lpdm_ctx *ctx) {
  const int N = lpdm_cfg_int(cfg, "num_envs"), T = lpdm_cfg_int(cfg, "num_steps");
  const int nmb = lpdm_cfg_int(cfg, "num_minibatches");
  const char *sizes[] = {"num_envs", "num_steps", "num_minibatches", "update_epochs"};
  for (int i = 0; i < 4; i++)
    if (lpdm_cfg_num(cfg, sizes[i]) < 1)
      return lpdm_error(ctx, LPDM_ERR_ARG, "%s must be >= 1 (or -1 for CleanRL's default), got %g", sizes[i],
                        lpdm_cfg_num(cfg, sizes[i]));
  if (N > 4096) return lpdm_error(ctx, LPDM_ERR_ARG, "num_envs must be <= 4096, got %d", N);
  if ((double)N * T > (1 << 24))
    return lpdm_error(ctx, LPDM_ERR_ARG, "num_envs x num_steps = %.0f is too large (at most 16777216)", (double)N * T);
  const int B = N * T;
  if (B % nmb)
    return lpdm_error(ctx, LPDM_ERR_ARG,
                      "num_minibatches (%d) must divide the batch num_envs x num_steps = %d x %d = %d", nmb, N, T, B);
  const double steps = lpdm_cfg_num(cfg, "steps");
  if (steps < B)
    return lpdm_error(ctx, LPDM_ERR_ARG, "steps (%.0f) must cover at least one batch of num_envs x num_steps = %d",
                      steps, B);
  const double clip = lpdm_cfg_num(cfg, "clip_coef");
  if (!(clip > 0)) return lpdm_error(ctx, LPDM_ERR_ARG, "clip_coef must be > 0, got %g", clip);
  const char *unit[] = {"gamma", "gae_lambda"};
  for (int i = 0; i < 2; i++) {
    double v = lpdm_cfg_num(cfg, unit[i]);
    if (!(v >= 0 && v <= 1)) return lpdm_error(ctx, LPDM_ERR_ARG, "%s must be in [0, 1], got %g", unit[i], v);
  }
  const char *nonneg[] = {"learning_rate", "ent_coef", "vf_coef",        "max_grad_norm",  "target_kl",
                          "head_lr",       "local_lr", "actor_local_lr", "critic_local_lr"};
  for (size_t i = 0; i < sizeof nonneg / sizeof *nonneg; i++) {
    double v = lpdm_cfg_num(cfg, nonneg[i]);
    if (!(v >= 0))
      return lpdm_error(ctx, LPDM_ERR_ARG, "%s must be >= 0%s, got %g", nonneg[i],
                        i < 2 ? " (or -1 for CleanRL's default)" : "", v);
  }
  const int threads = lpdm_cfg_int(cfg, "threads");
  if (threads != 1 && threads != 2)
    return lpdm_error(ctx, LPDM_ERR_ARG, "threads must be 1 or 2 (or 0: auto), got %d", threads);
  const char *pos[] = {"adam_eps", "clip_obs", "clip_reward"};
  for (int i = 0; i < 3; i++)
    if (!(lpdm_cfg_num(cfg, pos[i]) > 0))
      return lpdm_error(ctx, LPDM_ERR_ARG, "%s must be > 0, got %g", pos[i], lpdm_cfg_num(cfg, pos[i]));
  if (lpdm_net_in_dim(setup->policy) != od)
    return lpdm_error(ctx, LPDM_ERR_ARG, "the policy takes %d inputs but %s observations have %d",
                      lpdm_net_in_dim(setup->policy), lpdm_plugin_short(&setup->env_kind->head), od);
  if (setup->value && lpdm_net_in_dim(setup->value) != od)
    return lpdm_error(ctx, LPDM_ERR_ARG, "the value net takes %d inputs but %s observations have %d",
                      lpdm_net_in_dim(setup->value), lpdm_plugin_short(&setup->env_kind->head), od);

  if (comm) {
    if (N % comm->size)
      return lpdm_error(ctx, LPDM_ERR_ARG,
                        "num_envs (%d) must be a multiple of the number of processes (%d): each process steps "
                        "num_envs / processes env copies",
                        N, comm->size);
    if (B / nmb < comm->size)
      return lpdm_error(ctx, LPDM_ERR_ARG, "a minibatch of %d rows cannot be split over %d processes", B / nmb,
                        comm->size);
    if (lpdm_cfg_bool(cfg, "feature_norm"))
      return lpdm_error(ctx, LPDM_ERR_ARG, "feature_norm is not supported in a data-parallel run (yet)");
  }

  return LPDM_OK;
}

/* threads = 0: 2 when this process may run on two CPUs (its affinity
   mask, so a pinned or cgroup-limited run counts what it has) and is the
   only rank, else 1; LPDM_THREADS = 1 or 2 in the environment decides
   instead (a sweep running several runs at once sets 1). */
static int auto_threads(const lpdm_comm *comm) {
  const char *e = getenv("LPDM_THREADS");
  if (e && (!strcmp(e, "1") || !strcmp(e, "2"))) return e[0] - '0';
  if (comm && comm->size > 1) return 1;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set) >= 2 ? 2 : 1;
  return sysconf(_SC_NPROCESSORS_ONLN) >= 2 ? 2 : 1;
}

static int ppo_create(const lpdm_algo_kind *kind, const lpdm_config *cfg, const lpdm_algo_setup *setup, lpdm_algo **out,
                      lpdm_ctx *ctx) {
  int local, rc0 = algo_mode(cfg, setup, &local, ctx);
  if (rc0) return rc0;

  /* The action space decides the defaults: look at one env first. */
  lpdm_env *probe = NULL;
  int rc = lpdm_env_new(ctx, setup->env_kind, setup->env_cfg, &probe);
  if (rc) return rc;
  const int discrete = probe->act_space.type == LPDM_SPACE_DISCRETE;
  const int od = probe->obs_space.dim, na = discrete ? 1 : probe->act_space.dim;
  const int nact = discrete ? probe->act_space.n : probe->act_space.dim;
  lpdm_env_free(probe);

  lpdm_config rcfg = *cfg; /* resolved */
  const char *self = "algo.ppo";
#define AUTO(key, d, c)                                                                                                \
  if (lpdm_cfg_num(cfg, key) == -1 && (rc = lpdm_config_set_num(ctx, &rcfg, self, key, discrete ? (d) : (c))))         \
    return rc;
  AUTO("num_envs", 4, 1)
  AUTO("num_steps", 128, 2048)
  AUTO("num_minibatches", 4, 32)
  AUTO("update_epochs", 4, 10)
  AUTO("learning_rate", 2.5e-4, 3e-4)
  AUTO("ent_coef", 0.01, 0.0)
#undef AUTO
  int norm_obs = algo_tri(lpdm_cfg_str(cfg, "norm_obs"), !discrete);
  int norm_rew = algo_tri(lpdm_cfg_str(cfg, "norm_reward"), !discrete);
  if (norm_obs < 0)
    return lpdm_error(ctx, LPDM_ERR_ARG, "norm_obs must be true, false or auto, got '%s'",
                      lpdm_cfg_str(cfg, "norm_obs"));
  if (norm_rew < 0)
    return lpdm_error(ctx, LPDM_ERR_ARG, "norm_reward must be true, false or auto, got '%s'",
                      lpdm_cfg_str(cfg, "norm_reward"));
  if ((rc = lpdm_config_set_str(ctx, &rcfg, self, "norm_obs", norm_obs ? "true" : "false")) ||
      (rc = lpdm_config_set_str(ctx, &rcfg, self, "norm_reward", norm_rew ? "true" : "false")))
    return rc;
  if (lpdm_cfg_int(cfg, "threads") == 0 &&
      (rc = lpdm_config_set_num(ctx, &rcfg, self, "threads", auto_threads(setup->comm))))
    return rc;
  cfg = &rcfg;

  /* Check everything before any env is stepped. */
  const lpdm_comm *comm = setup->comm && setup->comm->size > 1 ? setup->comm : NULL;
  if ((rc = ppo_check(cfg, setup, od, comm, ctx))) return rc;
  const int N = lpdm_cfg_int(cfg, "num_envs"), T = lpdm_cfg_int(cfg, "num_steps");
  const int nmb = lpdm_cfg_int(cfg, "num_minibatches"), epochs = lpdm_cfg_int(cfg, "update_epochs");
  const int B = N * T, threads = lpdm_cfg_int(cfg, "threads");
  const double steps = lpdm_cfg_num(cfg, "steps"), clip = lpdm_cfg_num(cfg, "clip_coef");

  ppo *s = calloc(1, sizeof *s);
  if (!s) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  s->base.cfg = rcfg;
  ppo_dp *dp = &s->dp;
  dp->comm = comm;
  dp->P = comm ? comm->size : 1;
  dp->rank = comm ? comm->rank : 0;
  dp->e0 = (int)((long long)dp->rank * N / dp->P);
  dp->e1 = (int)((long long)(dp->rank + 1) * N / dp->P);
  dp->r0 = (int)((long long)dp->rank * (B / nmb) / dp->P);
  dp->Ml = (int)((long long)(dp->rank + 1) * (B / nmb) / dp->P) - dp->r0;
  s->setup = *setup;
  s->N = N;
  s->T = T;
  s->B = B;
  s->nmb = nmb;
  s->M = B / nmb;
  s->epochs = epochs;
  s->od = od;
  s->na = na;
  s->nact = nact;
  s->local = local;
  s->discrete = discrete;
  s->gamma = lpdm_cfg_num(cfg, "gamma");
  s->lam = lpdm_cfg_num(cfg, "gae_lambda");
  s->clip = clip;
  s->ent_coef = lpdm_cfg_num(cfg, "ent_coef");
  s->vf_coef = lpdm_cfg_num(cfg, "vf_coef");
  s->max_grad_norm = lpdm_cfg_num(cfg, "max_grad_norm");
  {
    const char *cgm = lpdm_cfg_str(cfg, "clip_grad");
    if (strcmp(cgm, "joint") && strcmp(cgm, "separate")) {
      rc = lpdm_error(ctx, LPDM_ERR_ARG, "clip_grad must be joint or separate, got '%s'", cgm);
      goto fail;
    }
    s->clip_separate = !strcmp(cgm, "separate");
  }
  s->target_kl = lpdm_cfg_num(cfg, "target_kl");
  s->lr = lpdm_cfg_num(cfg, "learning_rate");
  /* bp: the heads at learning_rate, unless head_lr sets them apart (the
     control bp-headlr of docs/results/paper-v2/protocol.md) */
  const double hl = lpdm_cfg_num(cfg, "head_lr");
  s->head_lr = local || hl > 0 ? hl : s->lr;
  s->rule = local && trunk_rule_bp_rates(setup->loss); /* local heads, DFA, frozen: bp's rates */
  if (s->head_lr == 0) s->head_lr = s->rule ? s->lr : 4 * s->lr; /* measured: docs/ppo.md */
  s->norm_adv = lpdm_cfg_bool(cfg, "norm_adv");
  s->clip_vloss = lpdm_cfg_bool(cfg, "clip_vloss");
  s->anneal = lpdm_cfg_bool(cfg, "anneal_lr");
  s->bootstrap_trunc = lpdm_cfg_bool(cfg, "bootstrap_truncated");
  s->num_updates = (int)(steps / B);
  const uint64_t seed = (uint64_t)(int64_t)lpdm_cfg_num(cfg, "seed");
  lpdm_rng_seed(&s->rng, seed);
  s->trunk = setup->policy;
  const double eps = lpdm_cfg_num(cfg, "adam_eps");

  /* the critic's hidden layers, the rates of both nets' */
  if (setup->value)
    s->vtrunk = setup->value;
  else {
    if ((rc = algo_trunk_twin(ctx, s->trunk, seed, ALGO_SALT_CRITIC, &s->vtrunk))) goto fail;
    s->own_vtrunk = 1;
  }
  if ((rc = ppo_rates_init(s, cfg, ctx, eps))) goto fail;
  /* heads: orthogonal, gain 0.01 (policy) and 1 (value), biases 0 */
  lpdm_optim_cfg hoc = lpdm_optim_default(LPDM_OPT_ADAM, s->head_lr);
  hoc.eps = eps;
  if ((rc = head_make(ctx, &s->head, lpdm_net_out_dim(s->trunk), nact, "orthogonal", 0.01, &s->rng, &hoc)) ||
      (rc = head_make(ctx, &s->vhead, lpdm_net_out_dim(s->vtrunk), 1, "orthogonal", 1.0, &s->rng, &hoc)))
    goto fail;
  if (!discrete && (rc = gauss_std_new(ctx, nact, lpdm_cfg_num(cfg, "log_std_init"), &hoc, &s->ls))) goto fail;

  /* rollout and minibatch buffers */
  s->act_env = malloc((size_t)nact * sizeof *s->act_env);
  s->mb.perm = malloc((size_t)B * sizeof *s->mb.perm);
  if (!s->act_env || !s->mb.perm) goto oom;
  for (int i = 0; i < B; i++) s->mb.perm[i] = i;
  const int F = lpdm_net_out_dim(s->trunk), VF = lpdm_net_out_dim(s->vtrunk);
  const int W = N > s->M ? N : s->M;
  if ((rc = fgrow(ctx, &s->ro.obs, (size_t)B * od)) || (rc = fgrow(ctx, &s->ro.act, (size_t)B * na)) ||
      (rc = fgrow(ctx, &s->ro.logp, B)) || (rc = fgrow(ctx, &s->ro.val, B)) || (rc = fgrow(ctx, &s->ro.rew, B)) ||
      (rc = fgrow(ctx, &s->ro.done, B)) || (rc = fgrow(ctx, &s->ro.adv, B)) || (rc = fgrow(ctx, &s->ro.ret, B)) ||
      (rc = fgrow(ctx, &s->ro.next_done, N)) || (rc = fgrow(ctx, &s->ro.next_val, N)) ||
      (rc = fgrow(ctx, &s->ro.feat, (size_t)W * F)) || (rc = fgrow(ctx, &s->ro.out, (size_t)N * nact)) ||
      (rc = fgrow(ctx, &s->ro.vfeat, (size_t)B * VF)) || (rc = fgrow(ctx, &s->ro.vout, N)) ||
      (rc = fgrow(ctx, &s->mb.m_obs, (size_t)s->M * od)) || (rc = fgrow(ctx, &s->mb.m_act, (size_t)s->M * na)) ||
      (rc = fgrow(ctx, &s->mb.m_logp, s->M)) || (rc = fgrow(ctx, &s->mb.m_adv, s->M)) ||
      (rc = fgrow(ctx, &s->mb.m_ret, s->M)) || (rc = fgrow(ctx, &s->mb.m_val, s->M)) ||
      (rc = fgrow(ctx, &s->mb.dout, (size_t)s->M * nact)) || (rc = fgrow(ctx, &s->mb.dfeat, (size_t)s->M * F)) ||
      (rc = fgrow(ctx, &s->mb.dv, s->M)) || (rc = fgrow(ctx, &s->mb.dvfeat, (size_t)s->M * VF)) ||
      (rc = fgrow(ctx, &s->mb.tfeat, (size_t)s->M * F)) || (rc = fgrow(ctx, &s->mb.vtfeat, (size_t)s->M * VF)))
    goto fail;
  /* the local loss of every hidden layer, for the figures */
  const int da = lpdm_net_depth(s->trunk), dc = lpdm_net_depth(s->vtrunk);
  s->lbuf_a = calloc((size_t)da + 1, sizeof(double));
  s->lbuf_c = calloc((size_t)dc + 1, sizeof(double));
  s->al = calloc((size_t)da + 1, sizeof(double));
  s->cl = calloc((size_t)dc + 1, sizeof(double));
  if (!s->lbuf_a || !s->lbuf_c || !s->al || !s->cl) goto oom;
  /* the env copies, copy e reset with seed + e */
  const vecenv_opts vo = {.norm_obs = norm_obs,
                          .norm_reward = norm_rew,
                          .clip_obs = lpdm_cfg_num(cfg, "clip_obs"),
                          .clip_reward = lpdm_cfg_num(cfg, "clip_reward"),
                          .gamma = s->gamma};
  if ((rc = vecenv_new(ctx, setup->env_kind, setup->env_cfg, N, seed, &vo, &s->venv))) goto fail;
  vecenv_sink(s->venv, setup->on_episode, setup->user, comm != NULL);
  for (int e = 0; e < N; e++) s->ro.next_done.p[e] = 0;
  if ((rc = ppo_research_init(s, cfg, ctx)) || (rc = ppo_record_resolved(s, cfg, ctx))) goto fail;
  if (local && ((rc = trunk_rule_new(ctx, setup->distance, s->x.aloss ? s->x.aloss : setup->loss, s->trunk, s->nact,
                                     seed, "actor", &s->arule)) ||
                (rc = trunk_rule_new(ctx, setup->distance, s->x.closs ? s->x.closs : setup->loss, s->vtrunk, 1, seed,
                                     "critic", &s->crule))))
    goto fail;
  if (local && (s->arule->vt->needs_head_error || s->crule->vt->needs_head_error)) {
    /* feedback alignment learns from the head's error on the rows a process holds */
    if (comm && (rc = lpdm_error(ctx, LPDM_ERR_ARG,
                                 "%s (feedback alignment) does not run data-parallel (yet): run it in one process",
                                 setup->loss->kind->head.name)))
      goto fail;
    if (s->x.rollout_local && (rc = lpdm_error(ctx, LPDM_ERR_ARG,
                                               "%s (feedback alignment) learns from the head's error per minibatch: "
                                               "local_batch=%s has none",
                                               setup->loss->kind->head.name, s->x.rollout_once ? "once" : "rollout")))
      goto fail;
  }
  if (comm && (rc = ppo_dp_init(s, ctx))) goto fail;
  if (threads == 2 && (rc = forkjoin_new(ctx, critic_job, s, &s->fj))) goto fail;
  s->t_start = algo_now();
  *out = &s->base;
  return LPDM_OK;
oom:
  rc = lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
fail:
  ppo_free(&s->base);
  return rc;
}

/* head(norm(trunk(X))): feat receives the (normalised) features. */
int ppo_forward2(lpdm_net *trunk, lpdm_net *head, lpdm_ctx *ctx, const float *X, int B, float *feat, float *out,
                 const float *fm, const float *fv) {
  int rc = lpdm_net_forward(trunk, ctx, X, B, feat);
  if (rc) return rc;
  if (fm) ppo_fn_apply(fm, fv, feat, B, lpdm_net_out_dim(trunk), feat);
  return lpdm_net_forward(head, ctx, feat, B, out);
}

/* A copy another rank steps: its sampling's draws are made and dropped, so
   that every rank's generator stays where one process's would be. */
static void skip_draws(ppo *s) {
  if (s->discrete)
    (void)lpdm_rng_uniform(&s->rng);
  else
    for (int i = 0; i < s->nact; i++) (void)lpdm_rng_normal(&s->rng);
}

/* num_steps steps of every copy into the rollout buffers (in a
   data-parallel run: this rank's copies, then the exchange). */
static int rollout(ppo *s, lpdm_ctx *ctx) {
  const int N = s->N, od = s->od, na = s->na, nact = s->nact;
  float *next_obs = s->venv->obs;
  s->mu_abs = s->mu_n = 0;
  for (int t = 0; t < s->T; t++) {
    const size_t base = (size_t)t * N;
    s->global_step += N;
    memcpy(s->ro.obs.p + base * od, next_obs, (size_t)N * od * sizeof(float));
    memcpy(s->ro.done.p + base, s->ro.next_done.p, (size_t)N * sizeof(float));
    int rc;
    /* every copy's row, also in a data-parallel run (where the other
       ranks' rows are from the last exchange and their outputs unused):
       OpenBLAS may round a row differently in a GEMM of fewer rows (one
       row goes through gemv), and a rank's actions must be one process's */
    if ((rc = ppo_forward2(s->trunk, s->head, ctx, next_obs, N, s->ro.feat.p, s->ro.out.p, s->x.fm_a, s->x.fv_a)))
      return rc;
    for (int e = 0; e < N; e++) {
      if (e < s->dp.e0 || e >= s->dp.e1) {
        skip_draws(s);
        continue;
      }
      const float *z = s->ro.out.p + (size_t)e * nact;
      float *a = s->ro.act.p + (base + e) * na;
      double H;
      if (s->discrete) {
        int k = cat_sample(&s->rng, z, nact);
        a[0] = (float)k;
        s->act_env[0] = k;
        s->ro.logp.p[base + e] = (float)cat_logp(z, nact, k, &H);
      } else { /* the buffer keeps the draw as a float; the env gets that float clipped to the box */
        const lpdm_space *sp = &s->venv->env[e]->act_space;
        s->mu_n += nact;
        gauss_draw(&s->rng, z, s->ls->log_std, nact, s->act_env);
        for (int i = 0; i < nact; i++) {
          s->mu_abs += fabs(z[i]);
          a[i] = (float)s->act_env[i];
          s->act_env[i] = box_clip(sp, i, a[i]);
        }
        s->ro.logp.p[base + e] = (float)gauss_logp(z, s->ls->log_std, a, nact);
      }
      double rs;
      int term, trunc;
      float *o = next_obs + (size_t)e * od;
      if ((rc = vecenv_step(s->venv, ctx, e, s->act_env, o, &rs, &term, &trunc))) return rc;
      if (term || trunc) {
        if (trunc && !term && s->bootstrap_trunc) { /* V(final obs), from the current critic */
          float v;
          if ((rc = ppo_forward2(s->vtrunk, s->vhead, ctx, o, 1, s->ro.vfeat.p, &v, s->x.fm_c, s->x.fv_c))) return rc;
          rs += s->gamma * v;
        }
        if ((rc = vecenv_end_episode(s->venv, ctx, e, s->global_step, o))) return rc;
      }
      s->ro.rew.p[base + e] = (float)rs;
      s->ro.next_done.p[e] = (float)(term || trunc);
    }
  }
  return s->dp.comm ? ppo_dp_exchange(s, ctx) : LPDM_OK;
}

static void gather(const float *src, int width, const int *idx, int M, float *dst) {
  for (int i = 0; i < M; i++)
    memcpy(dst + (size_t)i * width, src + (size_t)idx[i] * width, (size_t)width * sizeof(float));
}

/* The features a head sees (trunk_features): bp keeps the activations for
   backward; local trains each hidden layer by the net's rule on the way
   (guided by t->g); frozen epochs only forward. */
int ppo_trunk_forward(ppo *s, lpdm_ctx *ctx, lpdm_net *trunk, trunk_rule *rule, const float *X, int M,
                      const algo_targets *t, const float **feat, double *losses, float *scratch) {
  const int after = rule && rule->vt->needs_head_error; /* feedback alignment: ppo_rule_after, after the loss */
  const int mode = !s->local ? LPDM_FEAT_BP : s->frozen || after ? LPDM_FEAT_FROZEN : LPDM_FEAT_LOCAL;
  return trunk_features(trunk, ctx, mode, rule, X, M, t, scratch, feat, losses);
}

/* A rule that learns from the head's error (feedback alignment): after the
   loss, before the head's backward may overwrite dout (M x t->dout_dim:
   the whole minibatch, which one process holds). */
static int ppo_rule_after(ppo *s, lpdm_ctx *ctx, lpdm_net *trunk, trunk_rule *rule, const algo_targets *t,
                          const float *dout, double *losses) {
  if (!s->local || s->frozen || !rule->vt->needs_head_error || s->M < rule->min_batch) return LPDM_OK;
  algo_targets te = *t;
  te.dout = dout;
  const float *Y;
  return trunk_rule_update(rule, trunk, ctx, s->mb.m_obs.p, s->M, &te, &Y, losses);
}

/* The hidden features of this process's rows [r0, r0 + Ml) of the
   minibatch: bp runs the trunk on those rows only; local mode trains each
   hidden layer on the whole minibatch (its pairs span every row, and every
   process computes the same step) and hands on the rows' features. */
static int trunk_rows(ppo *s, lpdm_ctx *ctx, lpdm_net *trunk, trunk_rule *rule, const algo_targets *t,
                      const float **feat, double *ll, float *scratch) {
  if (!s->local)
    return ppo_trunk_forward(s, ctx, trunk, rule, s->mb.m_obs.p + (size_t)s->dp.r0 * s->od, s->dp.Ml, t, feat, ll,
                             scratch);
  int rc = ppo_trunk_forward(s, ctx, trunk, rule, s->mb.m_obs.p, s->M, t, feat, ll, scratch);
  if (!rc) *feat += (size_t)s->dp.r0 * lpdm_net_out_dim(trunk);
  return rc;
}

/* The actor's half of a minibatch update: features (local: each hidden
   layer trained by its rule, guided by the advantages), the policy loss,
   and every gradient of the actor; *sq gets their squared norm. */
static int actor_part(ppo *s, lpdm_ctx *ctx, double *ll, ppo_pstats *ps, double *sq) {
  const int M = s->M, r0 = s->dp.r0, Ml = s->dp.Ml;
  const float *feat, *out;
  int rc;
  const int F = lpdm_net_out_dim(s->trunk);
  const algo_targets t = ppo_actor_targets(s, s->mb.m_adv.p, s->mb.m_act.p, s->mb.m_logp.p, s->mb.m_ret.p, M);
  if ((rc = trunk_rows(s, ctx, s->trunk, s->arule, &t, &feat, ll, s->mb.tfeat.p))) return rc;
  if (s->x.fnorm) {
    ppo_fn_apply(s->x.fm_a, s->x.fv_a, feat, Ml, F, s->x.nfeat.p);
    feat = s->x.nfeat.p;
  }
  if ((rc = lpdm_net_train_forward_ref(s->head, ctx, feat, Ml, &out))) return rc; /* feat holds until backward */
  if (s->ls) lpdm_optim_zero(s->ls->opt);
  ppo_policy_loss_part(Ml, 1.0 / M, s->discrete, s->nact, out, s->ls ? s->ls->log_std : NULL,
                       s->mb.m_act.p + (size_t)r0 * s->na, s->mb.m_logp.p + r0, s->mb.m_adv.p + r0, s->clip,
                       s->ent_coef, s->mb.dout.p, s->ls ? s->ls->grad : NULL, ps);
  if ((rc = ppo_rule_after(s, ctx, s->trunk, s->arule, &t, s->mb.dout.p, ll))) return rc;
  lpdm_net_zero_grad(s->head);
  if ((rc = lpdm_net_backward(s->head, ctx, s->mb.dout.p, s->local ? NULL : s->mb.dfeat.p))) return rc;
  *sq = lpdm_net_grad_sq(s->head) + (s->ls ? lpdm_optim_grad_sq(s->ls->opt) : 0);
  if (!s->local) {
    if (s->x.fnorm) ppo_fn_backward(s->x.fv_a, s->mb.dfeat.p, Ml, F);
    lpdm_net_zero_grad(s->trunk);
    if ((rc = lpdm_net_backward(s->trunk, ctx, s->mb.dfeat.p, NULL))) return rc;
    *sq += lpdm_net_grad_sq(s->trunk);
  }
  return LPDM_OK;
}

/* The critic's half (guided by the returns); results in s->job_*. Touches
   only the critic's nets and buffers, so it can run beside actor_part. */
static int critic_part(ppo *s, lpdm_ctx *ctx) {
  const int M = s->M, r0 = s->dp.r0, Ml = s->dp.Ml;
  const float *vfeat, *vout;
  int rc;
  const int VF = lpdm_net_out_dim(s->vtrunk);
  const algo_targets t = ppo_critic_targets(s, s->mb.m_ret.p, s->mb.m_val.p, M);
  if ((rc = trunk_rows(s, ctx, s->vtrunk, s->crule, &t, &vfeat, s->job_ll, s->mb.vtfeat.p))) return rc;
  if (s->x.fnorm) {
    ppo_fn_apply(s->x.fm_c, s->x.fv_c, vfeat, Ml, VF, s->x.nvfeat.p);
    vfeat = s->x.nvfeat.p;
  }
  if ((rc = lpdm_net_train_forward_ref(s->vhead, ctx, vfeat, Ml, &vout))) return rc;
  s->job_vloss = ppo_value_loss_part(Ml, 1.0 / M, vout, s->mb.m_val.p + r0, s->mb.m_ret.p + r0,
                                     s->clip_vloss ? s->clip : 0, s->vf_coef, s->mb.dv.p);
  if ((rc = ppo_rule_after(s, ctx, s->vtrunk, s->crule, &t, s->mb.dv.p, s->job_ll))) return rc;
  lpdm_net_zero_grad(s->vhead);
  if ((rc = lpdm_net_backward(s->vhead, ctx, s->mb.dv.p, s->local ? NULL : s->mb.dvfeat.p))) return rc;
  s->job_sq = lpdm_net_grad_sq(s->vhead);
  if (!s->local) {
    if (s->x.fnorm) ppo_fn_backward(s->x.fv_c, s->mb.dvfeat.p, Ml, VF);
    lpdm_net_zero_grad(s->vtrunk);
    if ((rc = lpdm_net_backward(s->vtrunk, ctx, s->mb.dvfeat.p, NULL))) return rc;
    s->job_sq += lpdm_net_grad_sq(s->vtrunk);
  }
  return LPDM_OK;
}

/* With threads = 2 the critic's half runs on the fork-join's thread while
   this one runs the actor's: the halves share no mutable state, so the
   results are the single-thread run's. */
static int critic_job(void *arg, lpdm_ctx *ctx) { return critic_part(arg, ctx); }

/* One minibatch (rows idx of the rollout): both halves, then one clipped
   step of everything PPO's loss trains. */
static int minibatch(ppo *s, lpdm_ctx *ctx, const int *idx, ppo_pstats *ps, double *vloss, double *gnorm) {
  const int M = s->M, od = s->od, na = s->na;
  int rc;
  gather(s->ro.obs.p, od, idx, M, s->mb.m_obs.p);
  gather(s->ro.act.p, na, idx, M, s->mb.m_act.p);
  gather(s->ro.logp.p, 1, idx, M, s->mb.m_logp.p);
  gather(s->ro.adv.p, 1, idx, M, s->mb.m_adv.p);
  gather(s->ro.ret.p, 1, idx, M, s->mb.m_ret.p);
  gather(s->ro.val.p, 1, idx, M, s->mb.m_val.p);
  if (s->norm_adv && M > 1) { /* torch's std: unbiased */
    double m = 0, v = 0;
    for (int i = 0; i < M; i++) m += s->mb.m_adv.p[i];
    m /= M;
    for (int i = 0; i < M; i++) v += (s->mb.m_adv.p[i] - m) * (s->mb.m_adv.p[i] - m);
    const double sd = sqrt(v / (M - 1));
    for (int i = 0; i < M; i++) s->mb.m_adv.p[i] = (float)((s->mb.m_adv.p[i] - m) / (sd + 1e-8));
  }
  s->job_ll = s->lbuf_c;
  /* the critic's half on the other thread (if any) while this one does the actor's */
  if (s->fj) forkjoin_post(s->fj);
  double sq_a = 0;
  int rca = actor_part(s, ctx, s->lbuf_a, ps, &sq_a);
  int rcc = s->fj ? forkjoin_wait(s->fj, ctx) : critic_part(s, ctx);
  if (rca) return lpdm_ctx_prefix(ctx, rca, "update %d, actor", s->update);
  if (rcc) return lpdm_ctx_prefix(ctx, rcc, "update %d, critic", s->update);
  if (s->dp.comm && (rc = ppo_dp_reduce(s, ctx, ps, &sq_a))) return lpdm_ctx_prefix(ctx, rc, "update %d", s->update);
  *vloss = s->job_vloss;
  const double sq = sq_a + s->job_sq;
  *gnorm = sqrt(sq);
  /* torch.nn.utils.clip_grad_norm_: over both sides (CleanRL's one
     optimizer), or over each side alone (clip_grad = separate) */
  float scale = 1.0f, scale_c = 1.0f;
  if (s->max_grad_norm > 0 && !s->clip_separate) {
    double c = s->max_grad_norm / (*gnorm + 1e-6);
    if (c < 1) scale = scale_c = (float)c;
  } else if (s->max_grad_norm > 0) {
    double ca = s->max_grad_norm / (sqrt(sq_a) + 1e-6), cc = s->max_grad_norm / (sqrt(s->job_sq) + 1e-6);
    if (ca < 1) scale = (float)ca;
    if (cc < 1) scale_c = (float)cc;
  }
  if ((rc = lpdm_net_step(s->head, ctx, scale)) || (rc = lpdm_net_step(s->vhead, ctx, scale_c)) ||
      (s->ls && (rc = lpdm_optim_step(s->ls->opt, ctx, scale))))
    return lpdm_ctx_prefix(ctx, rc, "update %d", s->update);
  if (!s->local && ((rc = lpdm_net_step(s->trunk, ctx, scale)) || (rc = lpdm_net_step(s->vtrunk, ctx, scale_c))))
    return lpdm_ctx_prefix(ctx, rc, "update %d", s->update);
  return LPDM_OK;
}

static int ppo_iterate(lpdm_algo *a, lpdm_figures *st, lpdm_ctx *ctx) {
  ppo *s = (ppo *)a;
  if (s->update >= s->num_updates) return LPDM_DONE;
  s->update++;
  const double frac = s->anneal ? 1.0 - (s->update - 1.0) / s->num_updates : 1.0;
  ppo_set_all_rates(s, frac);
  int rc = ppo_guide_anneal(s, ctx);
  if (rc) return rc;
  rc = rollout(s, ctx);
  if (rc) return lpdm_ctx_prefix(ctx, rc, "rollout of update %d (env step %lld)", s->update, (long long)s->global_step);

  if (s->x.fnorm && s->update == 1 && (rc = ppo_fn_refresh(s, ctx, 1.0))) return rc;
  /* the rollout's values in one batch (the critic did not change during
     it, so these are the values CleanRL computes step by step), the
     bootstrap values, GAE */
  const int N = s->N, B = s->B, M = s->M;
  if ((rc = ppo_forward2(s->vtrunk, s->vhead, ctx, s->ro.obs.p, B, s->ro.vfeat.p, s->ro.val.p, s->x.fm_c, s->x.fv_c)) ||
      (rc = ppo_forward2(s->vtrunk, s->vhead, ctx, s->venv->obs, N, s->ro.vfeat.p, s->ro.next_val.p, s->x.fm_c,
                         s->x.fv_c)))
    return rc;
  ppo_gae(s->T, N, s->ro.rew.p, s->ro.val.p, s->ro.done.p, s->ro.next_val.p, s->ro.next_done.p, s->gamma, s->lam,
          s->ro.adv.p, s->ro.ret.p);

  /* epochs over shuffled minibatches */
  ppo_pstats ps = {0};
  double vloss = 0, clipfrac = 0, gnorm = 0;
  const int da = lpdm_net_depth(s->trunk), dc = lpdm_net_depth(s->vtrunk);
  for (int i = 0; i < da; i++) s->al[i] = 0;
  for (int i = 0; i < dc; i++) s->cl[i] = 0;
  int nmb_done = 0, nmb_local = 0, epochs_done = 0;
  const int all_epochs = s->epochs + (s->local ? s->x.head_epochs : 0);
  for (int epoch = 0; epoch < all_epochs; epoch++) {
    s->frozen = epoch >= s->epochs;   /* head_epochs: the trunks only forward */
    for (int i = B - 1; i > 0; i--) { /* Fisher-Yates, in place as CleanRL's np.random.shuffle */
      int j = (int)lpdm_rng_below(&s->rng, (uint64_t)i + 1), t = s->mb.perm[i];
      s->mb.perm[i] = s->mb.perm[j];
      s->mb.perm[j] = t;
    }
    if (s->local && s->x.rollout_local && !s->frozen) {
      if (!s->x.rollout_once || epoch == 0) { /* once: the first epoch only */
        if ((rc = ppo_rollout_local_step(s, ctx, s->lbuf_a, s->lbuf_c))) return rc;
        nmb_local++;
        for (int i = 0; i < da; i++) s->al[i] += s->lbuf_a[i];
        for (int i = 0; i < dc; i++) s->cl[i] += s->lbuf_c[i];
      }
      s->frozen = 1; /* the minibatches: heads only */
    }
    for (int start = 0; start < B; start += M) {
      if ((rc = minibatch(s, ctx, s->mb.perm + start, &ps, &vloss, &gnorm))) return rc;
      clipfrac += ps.clipfrac;
      if (s->local && !s->frozen) {
        nmb_local++;
        for (int i = 0; i < da; i++) s->al[i] += s->lbuf_a[i];
        for (int i = 0; i < dc; i++) s->cl[i] += s->lbuf_c[i];
      }
      nmb_done++;
    }
    epochs_done++;
    s->frozen = 0;
    if (s->target_kl > 0 && ps.approx_kl > s->target_kl) break;
  }

  if (s->x.fnorm && (rc = ppo_fn_refresh(s, ctx, s->x.fn_beta))) return rc;
  /* explained variance of the rollout's values */
  double my = 0, md = 0;
  for (int i = 0; i < B; i++) my += s->ro.ret.p[i], md += s->ro.ret.p[i] - s->ro.val.p[i];
  my /= B;
  md /= B;
  double vy = 0, vd = 0;
  for (int i = 0; i < B; i++) {
    double y = s->ro.ret.p[i] - my, d = s->ro.ret.p[i] - s->ro.val.p[i] - md;
    vy += y * y;
    vd += d * d;
  }
  const double ev = vy == 0 ? NAN : 1 - vd / vy;
  const double wall = algo_now() - s->t_start;

  struct {
    const char *name;
    double v;
  } fig[] = {{"global_step", (double)s->global_step},
             {"learning_rate", (s->local ? s->head_lr : s->lr) * frac}, /* bp: learning_rate */
             {"value_loss", vloss},
             {"policy_loss", ps.pg_loss},
             {"entropy", ps.entropy},
             {"old_approx_kl", ps.old_approx_kl},
             {"approx_kl", ps.approx_kl},
             {"clipfrac", clipfrac / nmb_done},
             {"explained_variance", ev},
             {"sps", wall > 0 ? s->global_step / wall : 0},
             {"epochs", epochs_done},
             {"grad_norm", gnorm}};
  for (size_t i = 0; !rc && i < sizeof fig / sizeof *fig; i++) rc = lpdm_figures_set(st, fig[i].name, fig[i].v);
  if (!rc && !s->discrete) rc = gauss_figures(st, s->ls->log_std, s->nact, s->mu_abs, s->mu_n);
  const int nl = nmb_local ? nmb_local : 1;
  for (int i = 0; !rc && s->local && i < da; i++)
    rc = lpdm_figures_setf(st, s->al[i] / nl, "actor_local_loss_%d", i + 1);
  for (int i = 0; !rc && s->local && i < dc; i++)
    rc = lpdm_figures_setf(st, s->cl[i] / nl, "critic_local_loss_%d", i + 1);
  if (rc) return lpdm_error(ctx, rc, "update %d: cannot record its figures", s->update);
  return s->update >= s->num_updates ? LPDM_DONE : LPDM_OK;
}

/* Greedy action (argmax / the Gaussian's mean) for obs, normalised by copy
   0's running moments (not updated). */
static int ppo_act(lpdm_algo *a, const float *obs, double *action, lpdm_ctx *ctx) {
  ppo *s = (ppo *)a;
  float *o = s->mb.m_obs.p; /* M x od floats, M >= 1 */
  vecenv_norm_frozen(s->venv, 0, obs, o);
  int rc = ppo_forward2(s->trunk, s->head, ctx, o, 1, s->ro.feat.p, s->ro.out.p, s->x.fm_a, s->x.fv_a);
  if (rc) return rc;
  if (s->discrete)
    action[0] = cat_argmax(s->ro.out.p, s->nact);
  else
    for (int i = 0; i < s->nact; i++) action[i] = s->ro.out.p[i];
  return LPDM_OK;
}

/* The policy file: what ppo_act computes (docs/policy.md). */
static int ppo_export_policy(lpdm_algo *a, lpdm_st *st, lpdm_ctx *ctx) {
  ppo *s = (ppo *)a;
  const policy_parts pp = {.algo = "ppo",
                           .distribution = s->discrete ? "categorical" : "gaussian",
                           .setup = &s->setup,
                           .env = s->venv->env[0],
                           .trunk = s->trunk,
                           .head = s->head,
                           .log_std = s->ls ? s->ls->log_std : NULL,
                           .venv = s->venv,
                           .feat_mean = s->x.fm_a,
                           .feat_var = s->x.fv_a,
                           .feat_eps = 1e-5f}; /* ppo_fn_apply's */
  return policy_export(&pp, st, ctx);
}

static const lpdm_algo_kind ppo_kind = {
    .head =
        LPDM_PLUGIN_HEAD(LPDM_KIND_ALGO, "algo.ppo", "PPO (clipped surrogate, GAE) as CleanRL's, bp or local", keys),
    .create = ppo_create,
    .iterate = ppo_iterate,
    .free = ppo_free,
    .act = ppo_act,
    .save = ppo_save,
    .load = ppo_load,
    .local_loss = "kernel anchor=1", /* local mode's default loss: docs/local-learning.md */
    .distributed = 1,                /* data-parallel over setup.comm */
    .export_policy = ppo_export_policy,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_ppo(void) { return &ppo_kind.head; }
