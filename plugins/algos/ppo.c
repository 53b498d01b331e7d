/*
** ppo.c -- Proximal Policy Optimization (Schulman et al. 2017) with the
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
**   head_lr         = 0        local: heads and log-std (0: 4 x learning_rate)
**   local_lr        = 0        local: hidden layers of both nets (0: 3e-4)
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
**                              "rollout" batch (the heads still on minibatches)
**   threads         = 1        2: each minibatch's actor and critic halves run on
**                              two threads (results identical to 1 thread)
**
** Stats per update (CleanRL's names): learning_rate, value_loss,
** policy_loss, entropy, old_approx_kl, approx_kl (of the last minibatch),
** clipfrac (mean over the update), explained_variance, sps, epochs,
** grad_norm, for Box actions log_std_mean (over the action dimensions) and
** mu_abs_mean (the policy mean's |value| over the update's rollout, this
** rank's env copies, every dimension), and in local mode
** actor_local_loss_N / critic_local_loss_N.
**
** Lua:
**   local run = lpdm.algo("ppo", { env = lpdm.env("CartPole-v1"), policy = net,
**                                  mode = "bp", seed = 1, steps = 500000 })
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "common.h"
#include "ppo_math.h"

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
    {"norm_reward", LPDM_T_STRING, "auto", "reward scaling by the discounted return's std: true, false, auto (Box only)"},
    {"clip_obs", LPDM_T_NUMBER, "10", "normalised observations are clipped to +-clip_obs"},
    {"clip_reward", LPDM_T_NUMBER, "10", "scaled rewards are clipped to +-clip_reward"},
    {"log_std_init", LPDM_T_NUMBER, "0", "Gaussian policy: initial log standard deviation"},
    {"head_lr", LPDM_T_NUMBER, "0", "local: learning rate of the heads and log-std (0: 4 x learning_rate)"},
    {"local_lr", LPDM_T_NUMBER, "0", "local: learning rate of every hidden layer (0: 3e-4)"},
    {"actor_local_lr", LPDM_T_NUMBER, "0", "local: the actor's hidden layers (0: local_lr)"},
    {"critic_local_lr", LPDM_T_NUMBER, "0", "local: the critic's hidden layers (0: local_lr)"},
    {"actor_local_lrs", LPDM_T_STRING, "", "local: per actor hidden layer, comma-separated (overrides)"},
    {"critic_local_lrs", LPDM_T_STRING, "", "local: per critic hidden layer, comma-separated (overrides)"},
    {"threads", LPDM_T_INT, "1", "2: update actor and critic on two threads (same results)"},
    {"feature_norm", LPDM_T_BOOL, "false", "standardise the hidden features before each head (running moments)"},
    {"feature_norm_momentum", LPDM_T_NUMBER, "0.1", "weight of each update's batch in the feature moments"},
    {"actor_alpha", LPDM_T_NUMBER, "-1", "local: the actor's loss with this alpha (-1: the loss's own)"},
    {"critic_alpha", LPDM_T_NUMBER, "-1", "local: the critic's loss with this alpha (-1: the loss's own)"},
    {"guide", LPDM_T_STRING, "raw", "local: guidance signal as given (raw), clipped (clip) or ranked (rank)"},
    {"guide_clip", LPDM_T_NUMBER, "2", "local, guide=clip: clip at this many standard deviations from the mean"},
    {"actor_guide", LPDM_T_STRING, "adv", "local: the actor's guidance, adv (A) or signed (A times the centred action index)"},
    {"critic_guide", LPDM_T_STRING, "ret", "local: the critic's guidance, ret (returns) or val (the rollout's values)"},
    {"head_epochs", LPDM_T_INT, "0", "local: extra epochs per update that train only the heads (features fixed)"},
    {"head_anneal", LPDM_T_BOOL, "false", "local: anneal the heads' rates (with anneal_lr)"},
    {"guide_anneal", LPDM_T_BOOL, "false", "local: the losses' alpha decays linearly to 0 over the run"},
    {"local_batch", LPDM_T_STRING, "minibatch", "local: hidden layers learn per minibatch, or once per epoch on the whole rollout"},
    {NULL, 0, NULL, NULL}};

#define MAX_LAYER_STATS 8

typedef struct worker worker;

typedef struct ppo {
  lpdm_algo base;
  lpdm_algo_setup setup;
  /* sizes */
  int N, T, B, M, nmb, epochs, od, na, nact;
  int local, discrete;
  /* hyperparameters */
  double gamma, lam, clip, ent_coef, vf_coef, max_grad_norm, target_kl, lr, head_lr;
  int clip_separate;
  int norm_adv, clip_vloss, anneal, bootstrap_trunc, norm_obs, norm_rew;
  double clip_obs, clip_rew;
  /* progress */
  int64_t global_step;
  int update, num_updates;
  double t_start;
  double mu_abs, mu_n;           /* Box: sum of |policy mean| over the rollout */
  lpdm_rng rng;
  /* env copies and their wrappers' state */
  lpdm_env **env;
  double *ep_ret;
  int *ep_len;
  double *om, *ov, *oc;          /* observation moments: N x od, N x od, N */
  double *rm, *rv, *rc, *disc;   /* return moments and discounted return: N each */
  double *act_env;               /* one copy's action for the env */
  double *xbuf;                  /* od doubles */
  float *raw;                    /* one raw observation */
  /* networks */
  lpdm_net *trunk, *head, *vtrunk, *vhead;
  int own_vtrunk;
  double *trunk_lr, *vtrunk_lr; /* base rate of each hidden layer (local) */
  float *log_std, *glog_std;
  lpdm_param ls_param;
  lpdm_optim *ls_opt;
  /* rollout (time-major, T x N) */
  fbuf obs, act, logp, val, rew, done, adv, ret, next_obs, next_done, next_val;
  fbuf feat, out, vfeat, vout;
  /* minibatch */
  int *perm;
  fbuf m_obs, m_act, m_logp, m_adv, m_ret, m_val, dout, dfeat, dv, dvfeat, tfeat, vtfeat;
  /* the critic's half of a minibatch: inputs and results (critic_part) */
  double *job_ll, job_vloss, job_sq;
  /* feature standardisation before the heads: moments per feature */
  int fnorm;
  double fn_beta;
  float *fm_a, *fv_a, *fm_c, *fv_c;
  int fn_seen_a, fn_seen_c;
  fbuf nfeat, nvfeat, bfeat;
  /* issue 7 options: per-net losses, guidance transform, head-only epochs */
  lpdm_loss *aloss, *closs; /* own instances (actor_alpha / critic_alpha), else NULL */
  int guide;                /* 0 raw, 1 clip, 2 rank */
  double guide_clip;
  int head_epochs, head_anneal, frozen, signed_guide, val_guide;
  int rollout_local; /* local_batch = rollout */
  int guide_anneal;
  double alpha0[2]; /* guide_anneal: the actor's and the critic's starting alpha */
  fbuf ga, gc, gs;
  void *rk_a, *rk_c; /* rank scratch */
  worker *worker; /* threads = 2 */
  /* data-parallel run (setup.comm of size P > 1): this rank steps env
     copies [e0, e1) and computes rows [r0, r0 + Ml) of every minibatch;
     one process: P = 1, all copies, all rows */
  const lpdm_comm *comm;
  int P, rank, e0, e1, r0, Ml;
  float *dp_send, *dp_recv; /* the rollout exchange */
  size_t dp_per;            /* floats per rank in it */
  float *dp_grad;           /* every summed gradient, flat */
  size_t dp_ngrad;
  lpdm_episode *dp_eps, *dp_all; /* this rank's episodes of a rollout; everyone's */
  int dp_neps, dp_cap;
  size_t dp_allcap;
} ppo;

static void worker_free(worker *w);
static int worker_new(ppo *s, lpdm_ctx *ctx, worker **out);

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void ppo_free(lpdm_algo *a) {
  ppo *s = (ppo *)a;
  if (!s) return;
  worker_free(s->worker);
  if (s->env)
    for (int e = 0; e < s->N; e++) lpdm_env_free(s->env[e]);
  free(s->env);
  lpdm_net_free(s->head);
  lpdm_net_free(s->vhead);
  if (s->own_vtrunk) lpdm_net_free(s->vtrunk);
  lpdm_optim_free(s->ls_opt);
  if (s->aloss) lpdm_loss_free(s->aloss);
  if (s->closs) lpdm_loss_free(s->closs);
  free(s->ga.p);
  free(s->gs.p);
  free(s->gc.p);
  free(s->rk_a);
  free(s->rk_c);
  void *ps[] = {s->ep_ret, s->ep_len, s->om,       s->ov,        s->oc,      s->rm,      s->rv,    s->rc,
                s->disc,   s->act_env, s->xbuf,   s->raw,       s->trunk_lr, s->vtrunk_lr, s->log_std,
                s->glog_std, s->perm, s->fm_a, s->fv_a, s->fm_c, s->fv_c, s->dp_send, s->dp_recv, s->dp_grad,
                s->dp_eps, s->dp_all};
  for (size_t i = 0; i < sizeof ps / sizeof *ps; i++) free(ps[i]);
  fbuf *bs[] = {&s->obs,  &s->act,   &s->logp,  &s->val,   &s->rew,   &s->done,  &s->adv,   &s->ret,
                &s->next_obs, &s->next_done, &s->next_val, &s->feat, &s->out, &s->vfeat, &s->vout,
                &s->m_obs, &s->m_act, &s->m_logp, &s->m_adv, &s->m_ret, &s->m_val, &s->dout, &s->dfeat,
                &s->dv, &s->dvfeat, &s->tfeat, &s->vtfeat, &s->nfeat, &s->nvfeat, &s->bfeat};
  for (size_t i = 0; i < sizeof bs / sizeof *bs; i++) free(bs[i]->p);
  free(s);
}

/* "auto" / "true" / "false" -> dflt / 1 / 0, or -1 when none of them. */
static int tri(const char *v, int dflt) {
  if (!strcmp(v, "auto")) return dflt;
  if (!strcmp(v, "true")) return 1;
  if (!strcmp(v, "false")) return 0;
  return -1;
}

/* Parses "1e-3,1e-4" into n rates (n must match). */
static int parse_rates(lpdm_ctx *ctx, const char *key, const char *text, int n, double *out) {
  const char *p = text;
  for (int i = 0; i < n; i++) {
    char *end;
    double v = strtod(p, &end);
    if (end == p || !(v >= 0) || !isfinite(v))
      return lpdm_error(ctx, LPDM_ERR_ARG, "%s: expected %d non-negative rates separated by commas, got '%s'", key, n,
                        text);
    out[i] = v;
    p = end;
    if (i < n - 1) {
      if (*p != ',')
        return lpdm_error(ctx, LPDM_ERR_ARG, "%s: expected %d rates (one per hidden layer), got '%s'", key, n, text);
      p++;
    }
  }
  if (*p) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: expected %d rates (one per hidden layer), got '%s'", key, n, text);
  return LPDM_OK;
}

/* Gives every layer of net an Adam-eps-adjusted optimizer at rate lr[i]
   (keeping each layer's optimizer type, betas and weight decay). */
static int set_rates(lpdm_net *net, lpdm_ctx *ctx, const double *lr, double eps) {
  for (int i = 0; i < lpdm_net_depth(net); i++) {
    lpdm_optim_cfg oc = *lpdm_optim_config(lpdm_net_optim(net, i));
    oc.lr = lr[i];
    if (oc.type == LPDM_OPT_ADAM) oc.eps = eps;
    int rc = lpdm_net_set_optim(net, ctx, i, &oc);
    if (rc) return rc;
  }
  return LPDM_OK;
}

static int resolve_rates(lpdm_ctx *ctx, const lpdm_config *cfg, lpdm_net *net, const char *who, double base,
                         double **out) {
  int d = lpdm_net_depth(net);
  double *r = malloc((size_t)(d ? d : 1) * sizeof *r);
  if (!r) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  *out = r;
  char k1[32], k2[32];
  snprintf(k1, sizeof k1, "%s_local_lr", who);
  snprintf(k2, sizeof k2, "%s_local_lrs", who);
  double one = lpdm_cfg_num(cfg, k1);
  if (one == 0) one = base;
  /* a rate the user set on the layer (lpdm_net_keep_lr) is kept */
  for (int i = 0; i < d; i++) r[i] = lpdm_net_lr_kept(net, i) ? lpdm_optim_lr(lpdm_net_optim(net, i)) : one;
  const char *list = lpdm_cfg_str(cfg, k2);
  if (*list) return parse_rates(ctx, k2, list, d, r);
  return LPDM_OK;
}

static int ppo_create(const lpdm_algo_kind *kind, const lpdm_config *cfg, const lpdm_algo_setup *setup,
                      lpdm_algo **out, lpdm_ctx *ctx) {
  int local, rc0 = lpdm_algo_mode(cfg, setup, &local, ctx);
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
#define AUTO(key, d, c)                                                                          \
  if (lpdm_cfg_num(cfg, key) == -1 && (rc = lpdm_config_set_num(ctx, &rcfg, self, key, discrete ? (d) : (c)))) \
    return rc;
  AUTO("num_envs", 4, 1)
  AUTO("num_steps", 128, 2048)
  AUTO("num_minibatches", 4, 32)
  AUTO("update_epochs", 4, 10)
  AUTO("learning_rate", 2.5e-4, 3e-4)
  AUTO("ent_coef", 0.01, 0.0)
#undef AUTO
  int norm_obs = tri(lpdm_cfg_str(cfg, "norm_obs"), !discrete);
  int norm_rew = tri(lpdm_cfg_str(cfg, "norm_reward"), !discrete);
  if (norm_obs < 0) return lpdm_error(ctx, LPDM_ERR_ARG, "norm_obs must be true, false or auto, got '%s'", lpdm_cfg_str(cfg, "norm_obs"));
  if (norm_rew < 0)
    return lpdm_error(ctx, LPDM_ERR_ARG, "norm_reward must be true, false or auto, got '%s'", lpdm_cfg_str(cfg, "norm_reward"));
  if ((rc = lpdm_config_set_str(ctx, &rcfg, self, "norm_obs", norm_obs ? "true" : "false")) ||
      (rc = lpdm_config_set_str(ctx, &rcfg, self, "norm_reward", norm_rew ? "true" : "false")))
    return rc;
  cfg = &rcfg;

  /* Check everything before any env is stepped. */
  const int N = lpdm_cfg_int(cfg, "num_envs"), T = lpdm_cfg_int(cfg, "num_steps");
  const int nmb = lpdm_cfg_int(cfg, "num_minibatches"), epochs = lpdm_cfg_int(cfg, "update_epochs");
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
    return lpdm_error(ctx, LPDM_ERR_ARG,
                      "steps (%.0f) must cover at least one batch of num_envs x num_steps = %d", steps, B);
  const double clip = lpdm_cfg_num(cfg, "clip_coef");
  if (!(clip > 0)) return lpdm_error(ctx, LPDM_ERR_ARG, "clip_coef must be > 0, got %g", clip);
  const char *unit[] = {"gamma", "gae_lambda"};
  for (int i = 0; i < 2; i++) {
    double v = lpdm_cfg_num(cfg, unit[i]);
    if (!(v >= 0 && v <= 1)) return lpdm_error(ctx, LPDM_ERR_ARG, "%s must be in [0, 1], got %g", unit[i], v);
  }
  const char *nonneg[] = {"learning_rate", "ent_coef",  "vf_coef", "max_grad_norm", "target_kl", "head_lr",
                          "local_lr",      "actor_local_lr", "critic_local_lr"};
  for (size_t i = 0; i < sizeof nonneg / sizeof *nonneg; i++) {
    double v = lpdm_cfg_num(cfg, nonneg[i]);
    if (!(v >= 0))
      return lpdm_error(ctx, LPDM_ERR_ARG, "%s must be >= 0%s, got %g", nonneg[i],
                        i < 2 ? " (or -1 for CleanRL's default)" : "", v);
  }
  const int threads = lpdm_cfg_int(cfg, "threads");
  if (threads != 1 && threads != 2) return lpdm_error(ctx, LPDM_ERR_ARG, "threads must be 1 or 2, got %d", threads);
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

  const lpdm_comm *comm = setup->comm && setup->comm->size > 1 ? setup->comm : NULL;
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

  ppo *s = calloc(1, sizeof *s);
  if (!s) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  s->base.cfg = rcfg;
  s->comm = comm;
  s->P = comm ? comm->size : 1;
  s->rank = comm ? comm->rank : 0;
  s->e0 = (int)((long long)s->rank * N / s->P);
  s->e1 = (int)((long long)(s->rank + 1) * N / s->P);
  s->r0 = (int)((long long)s->rank * (B / nmb) / s->P);
  s->Ml = (int)((long long)(s->rank + 1) * (B / nmb) / s->P) - s->r0;
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
  s->head_lr = local ? lpdm_cfg_num(cfg, "head_lr") : s->lr;
  if (s->head_lr == 0) s->head_lr = 4 * s->lr; /* measured: docs/ppo.md */
  s->norm_adv = lpdm_cfg_bool(cfg, "norm_adv");
  s->clip_vloss = lpdm_cfg_bool(cfg, "clip_vloss");
  s->anneal = lpdm_cfg_bool(cfg, "anneal_lr");
  s->bootstrap_trunc = lpdm_cfg_bool(cfg, "bootstrap_truncated");
  s->norm_obs = norm_obs;
  s->norm_rew = norm_rew;
  s->clip_obs = lpdm_cfg_num(cfg, "clip_obs");
  s->clip_rew = lpdm_cfg_num(cfg, "clip_reward");
  s->num_updates = (int)(steps / B);
  const uint64_t seed = (uint64_t)(int64_t)lpdm_cfg_num(cfg, "seed");
  lpdm_rng_seed(&s->rng, seed);
  s->trunk = setup->policy;
  const double eps = lpdm_cfg_num(cfg, "adam_eps");

  /* the critic's hidden layers */
  if (setup->value) s->vtrunk = setup->value;
  else {
    if ((rc = lpdm_net_clone(s->trunk, ctx, &s->rng, &s->vtrunk))) goto fail;
    s->own_vtrunk = 1;
  }
  /* rates of the hidden layers */
  double base_local = lpdm_cfg_num(cfg, "local_lr");
  if (base_local == 0) base_local = 3e-4; /* issue 7: docs/local-learning.md */
  if ((rc = resolve_rates(ctx, cfg, s->trunk, "actor", local ? base_local : s->lr, &s->trunk_lr)) ||
      (rc = resolve_rates(ctx, cfg, s->vtrunk, "critic", local ? base_local : s->lr, &s->vtrunk_lr)))
    goto fail;
  if (!local) { /* bp: learning_rate, except where the user set a layer's rate */
    for (int i = 0; i < lpdm_net_depth(s->trunk); i++)
      if (!lpdm_net_lr_kept(s->trunk, i)) s->trunk_lr[i] = s->lr;
    for (int i = 0; i < lpdm_net_depth(s->vtrunk); i++)
      if (!lpdm_net_lr_kept(s->vtrunk, i)) s->vtrunk_lr[i] = s->lr;
  }
  if ((rc = set_rates(s->trunk, ctx, s->trunk_lr, eps)) || (rc = set_rates(s->vtrunk, ctx, s->vtrunk_lr, eps)))
    goto fail;
  /* heads: orthogonal, gain 0.01 (policy) and 1 (value), biases 0 */
  lpdm_optim_cfg hoc = lpdm_optim_default(LPDM_OPT_ADAM, s->head_lr);
  hoc.eps = eps;
  if ((rc = lpdm_algo_make_head(ctx, &s->head, lpdm_net_out_dim(s->trunk), nact, "orthogonal", 0.01, &s->rng,
                                &hoc)) ||
      (rc = lpdm_algo_make_head(ctx, &s->vhead, lpdm_net_out_dim(s->vtrunk), 1, "orthogonal", 1.0, &s->rng, &hoc)))
    goto fail;
  if (!discrete) {
    s->log_std = malloc((size_t)nact * sizeof(float));
    s->glog_std = calloc((size_t)nact, sizeof(float));
    if (!s->log_std || !s->glog_std) goto oom;
    for (int i = 0; i < nact; i++) s->log_std[i] = (float)lpdm_cfg_num(cfg, "log_std_init");
    s->ls_param = (lpdm_param){"log_std", s->log_std, s->glog_std, (size_t)nact, 1, nact};
    if ((rc = lpdm_optim_new(ctx, &hoc, &s->ls_param, 1, &s->ls_opt))) goto fail;
  }

  /* env copies and per-copy state */
  s->env = calloc((size_t)N, sizeof *s->env);
  s->ep_ret = calloc((size_t)N, sizeof *s->ep_ret);
  s->ep_len = calloc((size_t)N, sizeof *s->ep_len);
  s->om = calloc((size_t)N * od, sizeof *s->om);
  s->ov = malloc((size_t)N * od * sizeof *s->ov);
  s->oc = malloc((size_t)N * sizeof *s->oc);
  s->rm = calloc((size_t)N, sizeof *s->rm);
  s->rv = malloc((size_t)N * sizeof *s->rv);
  s->rc = malloc((size_t)N * sizeof *s->rc);
  s->disc = calloc((size_t)N, sizeof *s->disc);
  s->act_env = malloc((size_t)nact * sizeof *s->act_env);
  s->xbuf = malloc((size_t)od * sizeof *s->xbuf);
  s->raw = malloc((size_t)od * sizeof *s->raw);
  s->perm = malloc((size_t)B * sizeof *s->perm);
  if (!s->env || !s->ep_ret || !s->ep_len || !s->om || !s->ov || !s->oc || !s->rm || !s->rv || !s->rc ||
      !s->disc || !s->act_env || !s->xbuf || !s->raw || !s->perm)
    goto oom;
  for (int i = 0; i < N * od; i++) s->ov[i] = 1;
  for (int e = 0; e < N; e++) s->oc[e] = s->rc[e] = 1e-4, s->rv[e] = 1;
  for (int i = 0; i < B; i++) s->perm[i] = i;
  const int F = lpdm_net_out_dim(s->trunk), VF = lpdm_net_out_dim(s->vtrunk);
  const int W = N > s->M ? N : s->M;
  if ((rc = fgrow(ctx, &s->obs, (size_t)B * od)) || (rc = fgrow(ctx, &s->act, (size_t)B * na)) ||
      (rc = fgrow(ctx, &s->logp, B)) || (rc = fgrow(ctx, &s->val, B)) || (rc = fgrow(ctx, &s->rew, B)) ||
      (rc = fgrow(ctx, &s->done, B)) || (rc = fgrow(ctx, &s->adv, B)) || (rc = fgrow(ctx, &s->ret, B)) ||
      (rc = fgrow(ctx, &s->next_obs, (size_t)N * od)) || (rc = fgrow(ctx, &s->next_done, N)) ||
      (rc = fgrow(ctx, &s->next_val, N)) || (rc = fgrow(ctx, &s->feat, (size_t)W * F)) ||
      (rc = fgrow(ctx, &s->out, (size_t)N * nact)) || (rc = fgrow(ctx, &s->vfeat, (size_t)B * VF)) ||
      (rc = fgrow(ctx, &s->vout, N)) || (rc = fgrow(ctx, &s->m_obs, (size_t)s->M * od)) ||
      (rc = fgrow(ctx, &s->m_act, (size_t)s->M * na)) || (rc = fgrow(ctx, &s->m_logp, s->M)) ||
      (rc = fgrow(ctx, &s->m_adv, s->M)) || (rc = fgrow(ctx, &s->m_ret, s->M)) || (rc = fgrow(ctx, &s->m_val, s->M)) ||
      (rc = fgrow(ctx, &s->dout, (size_t)s->M * nact)) || (rc = fgrow(ctx, &s->dfeat, (size_t)s->M * F)) ||
      (rc = fgrow(ctx, &s->dv, s->M)) || (rc = fgrow(ctx, &s->dvfeat, (size_t)s->M * VF)) ||
      (rc = fgrow(ctx, &s->tfeat, (size_t)s->M * F)) || (rc = fgrow(ctx, &s->vtfeat, (size_t)s->M * VF)))
    goto fail;
  for (int e = 0; e < N; e++) {
    if ((rc = lpdm_env_new(ctx, setup->env_kind, setup->env_cfg, &s->env[e]))) goto fail;
    if ((rc = lpdm_env_reset(s->env[e], ctx, 1, seed + (uint64_t)e, s->raw))) goto fail;
    /* normalise after the reset as the wrapper does */
    float *o = s->next_obs.p + (size_t)e * od;
    if (s->norm_obs) {
      double *x = s->xbuf;
      for (int i = 0; i < od; i++) x[i] = s->raw[i];
      ppo_rms_update(s->om + (size_t)e * od, s->ov + (size_t)e * od, &s->oc[e], x, od);
      for (int i = 0; i < od; i++) {
        double v = (x[i] - s->om[(size_t)e * od + i]) / sqrt(s->ov[(size_t)e * od + i] + 1e-8);
        o[i] = (float)(v < -s->clip_obs ? -s->clip_obs : v > s->clip_obs ? s->clip_obs : v);
      }
    } else
      memcpy(o, s->raw, (size_t)od * sizeof(float));
    s->next_done.p[e] = 0;
  }
  s->fnorm = lpdm_cfg_bool(cfg, "feature_norm");
  s->fn_beta = lpdm_cfg_num(cfg, "feature_norm_momentum");
  if (s->fnorm) {
    if (!(s->fn_beta > 0 && s->fn_beta <= 1)) {
      rc = lpdm_error(ctx, LPDM_ERR_ARG, "feature_norm_momentum must be in (0, 1], got %g", s->fn_beta);
      goto fail;
    }
    s->fm_a = calloc((size_t)F, sizeof(float));
    s->fv_a = malloc((size_t)F * sizeof(float));
    s->fm_c = calloc((size_t)VF, sizeof(float));
    s->fv_c = malloc((size_t)VF * sizeof(float));
    if (!s->fm_a || !s->fv_a || !s->fm_c || !s->fv_c) goto oom;
    for (int i = 0; i < F; i++) s->fv_a[i] = 1;
    for (int i = 0; i < VF; i++) s->fv_c[i] = 1;
    if ((rc = fgrow(ctx, &s->nfeat, (size_t)s->M * F)) || (rc = fgrow(ctx, &s->nvfeat, (size_t)s->M * VF)) ||
        (rc = fgrow(ctx, &s->bfeat, (size_t)B * (F > VF ? F : VF))))
      goto fail;
  }
  /* issue 7 options (local mode) */
  {
    const char *an[2] = {"actor_alpha", "critic_alpha"};
    lpdm_loss **dst[2] = {&s->aloss, &s->closs};
    for (int k = 0; k < 2; k++) {
      double a = lpdm_cfg_num(cfg, an[k]);
      if (a == -1 || !local) continue;
      if (!(a >= 0 && a <= 1)) {
        rc = lpdm_error(ctx, LPDM_ERR_ARG, "%s must be in [0, 1] (or -1: the loss's own), got %g", an[k], a);
        goto fail;
      }
      if (lpdm_config_index(&setup->loss->cfg, "alpha") < 0) {
        rc = lpdm_error(ctx, LPDM_ERR_ARG, "%s: the loss %s has no alpha", an[k], setup->loss->kind->head.name);
        goto fail;
      }
      lpdm_config lc = setup->loss->cfg;
      if ((rc = lpdm_config_set_num(ctx, &lc, setup->loss->kind->head.name, "alpha", a)) ||
          (rc = lpdm_loss_new(ctx, setup->loss->kind, &lc, dst[k])))
        goto fail;
    }
    s->guide_anneal = local && lpdm_cfg_bool(cfg, "guide_anneal");
    if (s->guide_anneal) { /* own instances for both nets, whose alpha the updates lower */
      if (lpdm_config_index(&setup->loss->cfg, "alpha") < 0) {
        rc = lpdm_error(ctx, LPDM_ERR_ARG, "guide_anneal: the loss %s has no alpha", setup->loss->kind->head.name);
        goto fail;
      }
      for (int k = 0; k < 2; k++) {
        if (!*dst[k] && (rc = lpdm_loss_new(ctx, setup->loss->kind, &setup->loss->cfg, dst[k]))) goto fail;
        s->alpha0[k] = lpdm_cfg_num(&(*dst[k])->cfg, "alpha");
      }
    }
    const char *gd = lpdm_cfg_str(cfg, "guide");
    s->guide = !strcmp(gd, "raw") ? 0 : !strcmp(gd, "clip") ? 1 : !strcmp(gd, "rank") ? 2 : -1;
    if (s->guide < 0) {
      rc = lpdm_error(ctx, LPDM_ERR_ARG, "guide must be raw, clip or rank, got '%s'", gd);
      goto fail;
    }
    s->guide_clip = lpdm_cfg_num(cfg, "guide_clip");
    if (!(s->guide_clip > 0)) {
      rc = lpdm_error(ctx, LPDM_ERR_ARG, "guide_clip must be > 0, got %g", s->guide_clip);
      goto fail;
    }
    s->head_epochs = lpdm_cfg_int(cfg, "head_epochs");
    if (s->head_epochs < 0) {
      rc = lpdm_error(ctx, LPDM_ERR_ARG, "head_epochs must be >= 0, got %d", s->head_epochs);
      goto fail;
    }
    s->head_anneal = lpdm_cfg_bool(cfg, "head_anneal");
    const char *lb = lpdm_cfg_str(cfg, "local_batch");
    if (strcmp(lb, "minibatch") && strcmp(lb, "rollout")) {
      rc = lpdm_error(ctx, LPDM_ERR_ARG, "local_batch must be minibatch or rollout, got '%s'", lb);
      goto fail;
    }
    s->rollout_local = !strcmp(lb, "rollout");
    const char *ag = lpdm_cfg_str(cfg, "actor_guide");
    if (strcmp(ag, "adv") && strcmp(ag, "signed")) {
      rc = lpdm_error(ctx, LPDM_ERR_ARG, "actor_guide must be adv or signed, got '%s'", ag);
      goto fail;
    }
    s->signed_guide = !strcmp(ag, "signed");
    const char *cg = lpdm_cfg_str(cfg, "critic_guide");
    if (strcmp(cg, "ret") && strcmp(cg, "val")) {
      rc = lpdm_error(ctx, LPDM_ERR_ARG, "critic_guide must be ret or val, got '%s'", cg);
      goto fail;
    }
    s->val_guide = !strcmp(cg, "val");
    if (s->signed_guide && (!discrete || nact < 2)) {
      rc = lpdm_error(ctx, LPDM_ERR_ARG, "actor_guide=signed needs Discrete actions (at least 2)");
      goto fail;
    }
    const int GM = s->rollout_local ? B : s->M; /* the largest batch a local step sees */
    if (s->signed_guide && (rc = fgrow(ctx, &s->gs, GM))) goto fail;
    if (s->rollout_local && ((rc = fgrow(ctx, &s->tfeat, (size_t)B * lpdm_net_out_dim(s->trunk))) ||
                             (rc = fgrow(ctx, &s->vtfeat, (size_t)B * lpdm_net_out_dim(s->vtrunk)))))
      goto fail;
    if (s->guide) {
      if ((rc = fgrow(ctx, &s->ga, GM)) || (rc = fgrow(ctx, &s->gc, GM))) goto fail;
      s->rk_a = malloc((size_t)GM * 2 * sizeof(float));
      s->rk_c = malloc((size_t)GM * 2 * sizeof(float));
      if (!s->rk_a || !s->rk_c) goto oom;
    }
  }
  if (comm) {
    const int Nl = s->e1 - s->e0;
    /* floats per rank: the rollout's rows, next_obs and next_done, then
       (norm_obs) the observation moments as doubles, 2 floats each, at an
       even offset (dp_per floats per rank keep every block 8-aligned) */
    s->dp_per = (size_t)T * Nl * (od + na + 3) + (size_t)Nl * (od + 1);
    s->dp_per += s->dp_per & 1;
    if (s->norm_obs) s->dp_per += 2 * ((size_t)Nl * (2 * od + 1));
    s->dp_per += s->dp_per & 1;
    s->dp_ngrad = lpdm_net_grad_count(s->head) + lpdm_net_grad_count(s->vhead) + lpdm_optim_grad_count(s->ls_opt);
    if (!local) s->dp_ngrad += lpdm_net_grad_count(s->trunk) + lpdm_net_grad_count(s->vtrunk);
    s->dp_send = malloc(s->dp_per * sizeof(float));
    s->dp_recv = malloc(s->dp_per * (size_t)s->P * sizeof(float));
    s->dp_grad = malloc((s->dp_ngrad ? s->dp_ngrad : 1) * sizeof(float));
    if (!s->dp_send || !s->dp_recv || !s->dp_grad) goto oom;
  }
  if (threads == 2 && (rc = worker_new(s, ctx, &s->worker))) goto fail;
  s->t_start = now_s();
  *out = &s->base;
  return LPDM_OK;
oom:
  rc = lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
fail:
  ppo_free(&s->base);
  return rc;
}

/* Observation normalisation of copy e: raw -> o (updates the moments). */
static void norm_obs(ppo *s, int e, const float *raw, float *o) {
  const int od = s->od;
  if (!s->norm_obs) {
    memcpy(o, raw, (size_t)od * sizeof(float));
    return;
  }
  double *x = s->xbuf, *m = s->om + (size_t)e * od, *v = s->ov + (size_t)e * od;
  for (int i = 0; i < od; i++) x[i] = raw[i];
  ppo_rms_update(m, v, &s->oc[e], x, od);
  for (int i = 0; i < od; i++) {
    double y = (x[i] - m[i]) / sqrt(v[i] + 1e-8);
    o[i] = (float)(y < -s->clip_obs ? -s->clip_obs : y > s->clip_obs ? s->clip_obs : y);
  }
}

/* Reward scaling of copy e (updates the return moments). */
static double scale_reward(ppo *s, int e, double r, int terminated) {
  if (!s->norm_rew) return r;
  s->disc[e] = s->disc[e] * s->gamma * (1 - terminated) + r;
  ppo_rms_update(&s->rm[e], &s->rv[e], &s->rc[e], &s->disc[e], 1);
  double y = r / sqrt(s->rv[e] + 1e-8);
  return y < -s->clip_rew ? -s->clip_rew : y > s->clip_rew ? s->clip_rew : y;
}

/* (f - mean) / sqrt(var + 1e-5), per feature, in place or into out. */
static void fn_apply(const float *m, const float *v, const float *X, int B, int F, float *out) {
  for (int j = 0; j < F; j++) {
    const float a = 1.0f / sqrtf(v[j] + 1e-5f), c = m[j];
    for (int i = 0; i < B; i++) out[(size_t)i * F + j] = (X[(size_t)i * F + j] - c) * a;
  }
}

/* Moves the moments toward the batch's: m += beta (batch mean - m), the
   same for the variance; the first batch sets them. */
static void fn_update(float *m, float *v, int *seen, double beta, const float *X, int B, int F) {
  for (int j = 0; j < F; j++) {
    double bm = 0, bv = 0;
    for (int i = 0; i < B; i++) bm += X[(size_t)i * F + j];
    bm /= B;
    for (int i = 0; i < B; i++) {
      double d = X[(size_t)i * F + j] - bm;
      bv += d * d;
    }
    bv /= B;
    if (!*seen) m[j] = (float)bm, v[j] = (float)bv;
    else m[j] += (float)(beta * (bm - m[j])), v[j] += (float)(beta * (bv - v[j]));
  }
  *seen = 1;
}

/* The moments of both nets' features on the rollout's observations (the
   trunks' current weights), moved toward by beta (set on the first call).
   Called before the first update's epochs and after every update's, so a
   rollout and the epochs that learn from it see the same standardisation. */
static int fn_refresh(ppo *s, lpdm_ctx *ctx, double beta) {
  int rc = lpdm_net_forward(s->trunk, ctx, s->obs.p, s->B, s->bfeat.p);
  if (rc) return rc;
  fn_update(s->fm_a, s->fv_a, &s->fn_seen_a, beta, s->bfeat.p, s->B, lpdm_net_out_dim(s->trunk));
  if ((rc = lpdm_net_forward(s->vtrunk, ctx, s->obs.p, s->B, s->bfeat.p))) return rc;
  fn_update(s->fm_c, s->fv_c, &s->fn_seen_c, beta, s->bfeat.p, s->B, lpdm_net_out_dim(s->vtrunk));
  return LPDM_OK;
}

/* head(norm(trunk(X))): feat receives the (normalised) features. */
static int forward2(lpdm_net *trunk, lpdm_net *head, lpdm_ctx *ctx, const float *X, int B, float *feat, float *out,
                    const float *fm, const float *fv) {
  int rc = lpdm_net_forward(trunk, ctx, X, B, feat);
  if (rc) return rc;
  if (fm) fn_apply(fm, fv, feat, B, lpdm_net_out_dim(trunk), feat);
  return lpdm_net_forward(head, ctx, feat, B, out);
}

/* A copy another rank steps: its sampling's draws are made and dropped, so
   that every rank's generator stays where one process's would be. */
static void skip_draws(ppo *s) {
  if (s->discrete) (void)lpdm_rng_uniform(&s->rng);
  else
    for (int i = 0; i < s->nact; i++) (void)lpdm_rng_normal(&s->rng);
}

/* An episode that ended: reported at once by one process; kept for the
   exchange after the rollout by a rank of a data-parallel run. */
static int note_episode(ppo *s, lpdm_ctx *ctx, const lpdm_episode *ep) {
  if (!s->comm) {
    if (s->setup.on_episode) s->setup.on_episode(s->setup.user, ep);
    return LPDM_OK;
  }
  if (s->dp_neps == s->dp_cap) {
    int nc = s->dp_cap ? 2 * s->dp_cap : 64;
    lpdm_episode *n = realloc(s->dp_eps, (size_t)nc * sizeof *n);
    if (!n) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
    s->dp_eps = n;
    s->dp_cap = nc;
  }
  s->dp_eps[s->dp_neps++] = *ep;
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
static int dp_exchange(ppo *s, lpdm_ctx *ctx) {
  const lpdm_comm *c = s->comm;
  const int N = s->N, T = s->T, od = s->od, na = s->na, Nl = s->e1 - s->e0;
  struct {
    float *a;
    int w;
  } rows[] = {{s->obs.p, od}, {s->act.p, na}, {s->logp.p, 1}, {s->rew.p, 1}, {s->done.p, 1}};
  float *p = s->dp_send;
  for (int t = 0; t < T; t++)
    for (size_t k = 0; k < sizeof rows / sizeof *rows; k++) {
      size_t w = (size_t)rows[k].w;
      memcpy(p, rows[k].a + ((size_t)t * N + s->e0) * w, (size_t)Nl * w * sizeof(float));
      p += (size_t)Nl * w;
    }
  memcpy(p, s->next_obs.p + (size_t)s->e0 * od, (size_t)Nl * od * sizeof(float));
  p += (size_t)Nl * od;
  memcpy(p, s->next_done.p + s->e0, (size_t)Nl * sizeof(float));
  p += Nl;
  p += (size_t)(p - s->dp_send) & 1; /* doubles at an even offset */
  if (s->norm_obs) { /* the copies' observation moments, so that run:act is the same on every rank */
    double *d = (double *)(void *)p;
    memcpy(d, s->om + (size_t)s->e0 * od, (size_t)Nl * od * sizeof(double));
    memcpy(d + (size_t)Nl * od, s->ov + (size_t)s->e0 * od, (size_t)Nl * od * sizeof(double));
    memcpy(d + (size_t)2 * Nl * od, s->oc + s->e0, (size_t)Nl * sizeof(double));
  }
  if (c->allgather(c->user, s->dp_send, s->dp_per * sizeof(float), s->dp_recv))
    return lpdm_error(ctx, LPDM_ERR, "data-parallel rollout exchange failed (allgather of %zu bytes)",
                      s->dp_per * sizeof(float));
  for (int r = 0; r < s->P; r++) {
    const float *q = s->dp_recv + (size_t)r * s->dp_per;
    const int f0 = (int)((long long)r * N / s->P);
    for (int t = 0; t < T; t++)
      for (size_t k = 0; k < sizeof rows / sizeof *rows; k++) {
        size_t w = (size_t)rows[k].w;
        memcpy(rows[k].a + ((size_t)t * N + f0) * w, q, (size_t)Nl * w * sizeof(float));
        q += (size_t)Nl * w;
      }
    memcpy(s->next_obs.p + (size_t)f0 * od, q, (size_t)Nl * od * sizeof(float));
    q += (size_t)Nl * od;
    memcpy(s->next_done.p + f0, q, (size_t)Nl * sizeof(float));
    q += Nl;
    q += (size_t)(q - (s->dp_recv + (size_t)r * s->dp_per)) & 1;
    if (s->norm_obs) {
      const double *d = (const double *)(const void *)q;
      memcpy(s->om + (size_t)f0 * od, d, (size_t)Nl * od * sizeof(double));
      memcpy(s->ov + (size_t)f0 * od, d + (size_t)Nl * od, (size_t)Nl * od * sizeof(double));
      memcpy(s->oc + f0, d + (size_t)2 * Nl * od, (size_t)Nl * sizeof(double));
    }
  }
  /* episodes: the counts, then the records */
  double *cnt = (double *)s->dp_recv; /* P counts fit: dp_per >= 2 floats per rank */
  double mine = s->dp_neps;
  if (c->allgather(c->user, &mine, sizeof mine, cnt))
    return lpdm_error(ctx, LPDM_ERR, "data-parallel episode exchange failed (counts)");
  size_t total = 0, bytes_of[64], *bo = s->P <= 64 ? bytes_of : malloc((size_t)s->P * sizeof *bo);
  if (!bo) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  for (int r = 0; r < s->P; r++) {
    bo[r] = (size_t)cnt[r] * sizeof(lpdm_episode);
    total += (size_t)cnt[r];
  }
  int rc = LPDM_OK;
  if (total > s->dp_allcap) {
    lpdm_episode *n = realloc(s->dp_all, (total + 64) * sizeof *n);
    if (!n) rc = lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
    else {
      s->dp_all = n;
      s->dp_allcap = total + 64;
    }
  }
  if (!rc && total && c->allgatherv(c->user, s->dp_eps, s->dp_all, bo))
    rc = lpdm_error(ctx, LPDM_ERR, "data-parallel episode exchange failed (%zu episodes)", total);
  if (bo != bytes_of) free(bo);
  if (rc) return rc;
  s->dp_neps = 0;
  qsort(s->dp_all, total, sizeof *s->dp_all, episode_cmp);
  for (size_t i = 0; i < total && s->setup.on_episode; i++) s->setup.on_episode(s->setup.user, &s->dp_all[i]);
  return LPDM_OK;
}

/* num_steps steps of every copy into the rollout buffers (in a
   data-parallel run: this rank's copies, then the exchange). */
static int rollout(ppo *s, lpdm_ctx *ctx) {
  const int N = s->N, od = s->od, na = s->na, nact = s->nact;
  s->mu_abs = s->mu_n = 0;
  for (int t = 0; t < s->T; t++) {
    const size_t base = (size_t)t * N;
    s->global_step += N;
    memcpy(s->obs.p + base * od, s->next_obs.p, (size_t)N * od * sizeof(float));
    memcpy(s->done.p + base, s->next_done.p, (size_t)N * sizeof(float));
    int rc;
    /* every copy's row, also in a data-parallel run (where the other
       ranks' rows are from the last exchange and their outputs unused):
       OpenBLAS may round a row differently in a GEMM of fewer rows (one
       row goes through gemv), and a rank's actions must be one process's */
    if ((rc = forward2(s->trunk, s->head, ctx, s->next_obs.p, N, s->feat.p, s->out.p, s->fm_a, s->fv_a))) return rc;
    for (int e = 0; e < N; e++) {
      if (e < s->e0 || e >= s->e1) {
        skip_draws(s);
        continue;
      }
      const float *z = s->out.p + (size_t)e * nact;
      float *a = s->act.p + (base + e) * na;
      double H;
      if (s->discrete) {
        int k = lpdm_algo_sample_softmax(&s->rng, z, nact);
        a[0] = (float)k;
        s->act_env[0] = k;
        s->logp.p[base + e] = (float)ppo_cat_logp(z, nact, k, &H);
      } else {
        const lpdm_space *sp = &s->env[e]->act_space;
        s->mu_n += nact;
        for (int i = 0; i < nact; i++) {
          s->mu_abs += fabs(z[i]);
          double x = z[i] + exp(s->log_std[i]) * lpdm_rng_normal(&s->rng);
          a[i] = (float)x;
          x = a[i];
          s->act_env[i] = x < sp->low[i] ? sp->low[i] : x > sp->high[i] ? sp->high[i] : x;
        }
        s->logp.p[base + e] = (float)ppo_gauss_logp(z, s->log_std, a, nact);
      }
      double r;
      int term, trunc;
      if ((rc = lpdm_env_step(s->env[e], ctx, s->act_env, s->raw, &r, &term, &trunc))) return rc;
      float *o = s->next_obs.p + (size_t)e * od;
      norm_obs(s, e, s->raw, o);
      double rs = scale_reward(s, e, r, term);
      s->ep_ret[e] += r;
      s->ep_len[e]++;
      if (term || trunc) {
        if (trunc && !term && s->bootstrap_trunc) { /* V(final obs), from the current critic */
          float v;
          if ((rc = forward2(s->vtrunk, s->vhead, ctx, o, 1, s->vfeat.p, &v, s->fm_c, s->fv_c))) return rc;
          rs += s->gamma * v;
        }
        lpdm_episode ep = {s->global_step, s->ep_ret[e], s->ep_len[e], e};
        if ((rc = note_episode(s, ctx, &ep))) return rc;
        s->ep_ret[e] = 0;
        s->ep_len[e] = 0;
        if ((rc = lpdm_env_reset(s->env[e], ctx, 0, 0, s->raw))) return rc;
        norm_obs(s, e, s->raw, o);
      }
      s->rew.p[base + e] = (float)rs;
      s->next_done.p[e] = (float)(term || trunc);
    }
  }
  return s->comm ? dp_exchange(s, ctx) : LPDM_OK;
}

static void gather(const float *src, int width, const int *idx, int M, float *dst) {
  for (int i = 0; i < M; i++) memcpy(dst + (size_t)i * width, src + (size_t)idx[i] * width, (size_t)width * sizeof(float));
}

/* Hidden features of a minibatch: bp keeps activations for backward; local
   trains each hidden layer by its local loss on the way (guided by g). */
static int trunk_forward(ppo *s, lpdm_ctx *ctx, lpdm_net *trunk, const lpdm_loss *loss, const float *X, int M,
                         const float *g, const float **feat, double *losses, float *scratch) {
  if (!s->local) return lpdm_net_train_forward(trunk, ctx, X, M, feat);
  if (lpdm_net_depth(trunk) == 0) {
    *feat = X;
    return LPDM_OK;
  }
  if (M < 2 || s->frozen) { /* no pairs: features without a local step */
    int rc = lpdm_net_forward(trunk, ctx, X, M, scratch);
    *feat = scratch;
    return rc;
  }
  return lpdm_net_local_update(trunk, ctx, s->setup.distance, loss ? loss : s->setup.loss, X, M, g, feat, losses);
}

typedef struct rank_item {
  float v;
  int i;
} rank_item;

static int rank_cmp(const void *a, const void *b) {
  const rank_item *x = a, *y = b;
  return x->v < y->v ? -1 : x->v > y->v ? 1 : x->i - y->i;
}

/* The guidance signal as the local loss sees it: g (raw), g clipped to
   mean +- guide_clip standard deviations (clip), or g's ranks scaled to
   [0, 1], ties sharing their mean rank (rank). */
static const float *guide_signal(const ppo *s, const float *g, int M, float *out, void *scratch) {
  if (!s->guide || M < 2) return g;
  if (s->guide == 1) {
    double m = 0, v = 0;
    for (int i = 0; i < M; i++) m += g[i];
    m /= M;
    for (int i = 0; i < M; i++) v += (g[i] - m) * (g[i] - m);
    const double sd = sqrt(v / (M - 1)), lo = m - s->guide_clip * sd, hi = m + s->guide_clip * sd;
    for (int i = 0; i < M; i++) out[i] = (float)(g[i] < lo ? lo : g[i] > hi ? hi : g[i]);
    return out;
  }
  rank_item *r = scratch;
  for (int i = 0; i < M; i++) r[i].v = g[i], r[i].i = i;
  qsort(r, (size_t)M, sizeof *r, rank_cmp);
  for (int a = 0; a < M;) {
    int b = a;
    while (b + 1 < M && r[b + 1].v == r[a].v) b++;
    const float rk = (float)(0.5 * (a + b) / (M - 1));
    for (int k = a; k <= b; k++) out[r[k].i] = rk;
    a = b + 1;
  }
  return out;
}

static void set_all_rates(ppo *s, double frac) {
  for (int i = 0; i < lpdm_net_depth(s->trunk); i++) lpdm_optim_set_lr(lpdm_net_optim(s->trunk, i), s->trunk_lr[i] * frac);
  for (int i = 0; i < lpdm_net_depth(s->vtrunk); i++)
    lpdm_optim_set_lr(lpdm_net_optim(s->vtrunk, i), s->vtrunk_lr[i] * frac);
  const double hf = s->local && !s->head_anneal ? 1.0 : frac;
  lpdm_optim_set_lr(lpdm_net_optim(s->head, 0), s->head_lr * hf);
  lpdm_optim_set_lr(lpdm_net_optim(s->vhead, 0), s->head_lr * hf);
  if (s->ls_opt) lpdm_optim_set_lr(s->ls_opt, s->head_lr * hf);
}

static const char *actor_names[MAX_LAYER_STATS] = {"actor_local_loss_1", "actor_local_loss_2", "actor_local_loss_3",
                                                   "actor_local_loss_4", "actor_local_loss_5", "actor_local_loss_6",
                                                   "actor_local_loss_7", "actor_local_loss_8"};
static const char *critic_names[MAX_LAYER_STATS] = {"critic_local_loss_1", "critic_local_loss_2", "critic_local_loss_3",
                                                    "critic_local_loss_4", "critic_local_loss_5", "critic_local_loss_6",
                                                    "critic_local_loss_7", "critic_local_loss_8"};

/* bp through the standardisation, the moments taken as constants. */
static void fn_backward(const float *v, float *d, int B, int F) {
  for (int j = 0; j < F; j++) {
    const float a = 1.0f / sqrtf(v[j] + 1e-5f);
    for (int i = 0; i < B; i++) d[(size_t)i * F + j] *= a;
  }
}

/* The actor's half of a minibatch update: features (bp: kept for backward;
   local: each hidden layer trained by its local loss, guided by the
   advantages), the policy loss, and every gradient of the actor; *sq gets
   their squared norm. */
/* The guidance of the actor's local loss for n samples: the advantages
   (times the action index mapped to [-1, 1] with actor_guide = signed),
   then guide_signal's transform. */
static const float *actor_guidance(ppo *s, const float *adv, const float *act, int n) {
  const float *ga = adv;
  if (s->signed_guide) {
    const float h = 0.5f * (float)(s->nact - 1);
    for (int i = 0; i < n; i++) s->gs.p[i] = adv[i] * (act[i] - h) / h;
    ga = s->gs.p;
  }
  return guide_signal(s, ga, n, s->ga.p, s->rk_a);
}

/* The critic's: the returns (or the rollout's values, critic_guide = val). */
static const float *critic_guidance(ppo *s, const float *ret, const float *val, int n) {
  return guide_signal(s, s->val_guide ? val : ret, n, s->gc.p, s->rk_c);
}

/* The hidden features of this process's rows [r0, r0 + Ml) of the
   minibatch: bp runs the trunk on those rows only; local mode trains each
   hidden layer on the whole minibatch (its pairs span every row, and every
   process computes the same step) and hands on the rows' features. */
static int trunk_rows(ppo *s, lpdm_ctx *ctx, lpdm_net *trunk, const lpdm_loss *loss, const float *g,
                      const float **feat, double *ll, float *scratch) {
  if (!s->local)
    return trunk_forward(s, ctx, trunk, loss, s->m_obs.p + (size_t)s->r0 * s->od, s->Ml, g, feat, ll, scratch);
  int rc = trunk_forward(s, ctx, trunk, loss, s->m_obs.p, s->M, g, feat, ll, scratch);
  if (!rc) *feat += (size_t)s->r0 * lpdm_net_out_dim(trunk);
  return rc;
}

static int actor_part(ppo *s, lpdm_ctx *ctx, double *ll, ppo_pstats *ps, double *sq) {
  const int M = s->M, r0 = s->r0, Ml = s->Ml;
  const float *feat, *out;
  int rc;
  const int F = lpdm_net_out_dim(s->trunk);
  const float *ga = s->local ? actor_guidance(s, s->m_adv.p, s->m_act.p, M) : s->m_adv.p;
  if ((rc = trunk_rows(s, ctx, s->trunk, s->aloss, ga, &feat, ll, s->tfeat.p))) return rc;
  if (s->fnorm) {
    fn_apply(s->fm_a, s->fv_a, feat, Ml, F, s->nfeat.p);
    feat = s->nfeat.p;
  }
  if ((rc = lpdm_net_train_forward(s->head, ctx, feat, Ml, &out))) return rc;
  if (s->ls_opt) lpdm_optim_zero(s->ls_opt);
  ppo_policy_loss_part(Ml, 1.0 / M, s->discrete, s->nact, out, s->log_std, s->m_act.p + (size_t)r0 * s->na,
                       s->m_logp.p + r0, s->m_adv.p + r0, s->clip, s->ent_coef, s->dout.p, s->glog_std, ps);
  lpdm_net_zero_grad(s->head);
  if ((rc = lpdm_net_backward(s->head, ctx, s->dout.p, s->local ? NULL : s->dfeat.p))) return rc;
  *sq = lpdm_net_grad_sq(s->head) + (s->ls_opt ? lpdm_optim_grad_sq(s->ls_opt) : 0);
  if (!s->local) {
    if (s->fnorm) fn_backward(s->fv_a, s->dfeat.p, Ml, F);
    lpdm_net_zero_grad(s->trunk);
    if ((rc = lpdm_net_backward(s->trunk, ctx, s->dfeat.p, NULL))) return rc;
    *sq += lpdm_net_grad_sq(s->trunk);
  }
  return LPDM_OK;
}

/* The critic's half (guided by the returns); results in s->job_*. Touches
   only the critic's nets and buffers, so it can run beside actor_part. */
static int critic_part(ppo *s, lpdm_ctx *ctx) {
  const int M = s->M, r0 = s->r0, Ml = s->Ml;
  const float *vfeat, *vout;
  int rc;
  const int VF = lpdm_net_out_dim(s->vtrunk);
  const float *gc = s->local ? critic_guidance(s, s->m_ret.p, s->m_val.p, M) : s->m_ret.p;
  if ((rc = trunk_rows(s, ctx, s->vtrunk, s->closs, gc, &vfeat, s->job_ll, s->vtfeat.p))) return rc;
  if (s->fnorm) {
    fn_apply(s->fm_c, s->fv_c, vfeat, Ml, VF, s->nvfeat.p);
    vfeat = s->nvfeat.p;
  }
  if ((rc = lpdm_net_train_forward(s->vhead, ctx, vfeat, Ml, &vout))) return rc;
  s->job_vloss = ppo_value_loss_part(Ml, 1.0 / M, vout, s->m_val.p + r0, s->m_ret.p + r0, s->clip_vloss ? s->clip : 0,
                                     s->vf_coef, s->dv.p);
  lpdm_net_zero_grad(s->vhead);
  if ((rc = lpdm_net_backward(s->vhead, ctx, s->dv.p, s->local ? NULL : s->dvfeat.p))) return rc;
  s->job_sq = lpdm_net_grad_sq(s->vhead);
  if (!s->local) {
    if (s->fnorm) fn_backward(s->fv_c, s->dvfeat.p, Ml, VF);
    lpdm_net_zero_grad(s->vtrunk);
    if ((rc = lpdm_net_backward(s->vtrunk, ctx, s->dvfeat.p, NULL))) return rc;
    s->job_sq += lpdm_net_grad_sq(s->vtrunk);
  }
  return LPDM_OK;
}

/* A data-parallel minibatch's end: the gradients of every net that learns
   by PPO's loss (the heads and log-std; in bp the trunks too) and the loss
   figures are summed over the processes, so each holds the whole
   minibatch's, the same bits on every rank; then the clipping norms. */
static int dp_reduce(ppo *s, lpdm_ctx *ctx, ppo_pstats *ps, double *sq_a) {
  const lpdm_comm *c = s->comm;
  float *p = s->dp_grad;
  p = lpdm_net_grad_get(s->head, p);
  p = lpdm_net_grad_get(s->vhead, p);
  p = lpdm_optim_grad_get(s->ls_opt, p);
  if (!s->local) {
    p = lpdm_net_grad_get(s->trunk, p);
    p = lpdm_net_grad_get(s->vtrunk, p);
  }
  if (c->allreduce_f32(c->user, s->dp_grad, s->dp_ngrad))
    return lpdm_error(ctx, LPDM_ERR, "data-parallel gradient sum failed (%zu floats)", s->dp_ngrad);
  const float *q = s->dp_grad;
  q = lpdm_net_grad_set(s->head, q);
  q = lpdm_net_grad_set(s->vhead, q);
  q = lpdm_optim_grad_set(s->ls_opt, q);
  if (!s->local) {
    q = lpdm_net_grad_set(s->trunk, q);
    lpdm_net_grad_set(s->vtrunk, q);
  }
  double v[6] = {ps->pg_loss, ps->entropy, ps->approx_kl, ps->old_approx_kl, ps->clipfrac, s->job_vloss};
  if (c->allreduce_f64(c->user, v, 6)) return lpdm_error(ctx, LPDM_ERR, "data-parallel loss sum failed");
  ps->pg_loss = v[0], ps->entropy = v[1], ps->approx_kl = v[2], ps->old_approx_kl = v[3], ps->clipfrac = v[4];
  s->job_vloss = v[5];
  *sq_a = lpdm_net_grad_sq(s->head) + (s->ls_opt ? lpdm_optim_grad_sq(s->ls_opt) : 0) +
          (s->local ? 0 : lpdm_net_grad_sq(s->trunk));
  s->job_sq = lpdm_net_grad_sq(s->vhead) + (s->local ? 0 : lpdm_net_grad_sq(s->vtrunk));
  return LPDM_OK;
}

/* local_batch = rollout: both trunks take one local step on the whole
   rollout batch (the actor guided by the advantages, the critic by the
   returns, as per minibatch); the epoch's minibatches then only forward
   them. Losses per layer into la / lc (may be NULL). */
static int rollout_local_step(ppo *s, lpdm_ctx *ctx, double *la, double *lc) {
  const int B = s->B;
  const float *feat;
  int rc;
  const float *ga = actor_guidance(s, s->adv.p, s->act.p, B);
  if ((rc = trunk_forward(s, ctx, s->trunk, s->aloss, s->obs.p, B, ga, &feat, la, s->tfeat.p)))
    return lpdm_ctx_prefix(ctx, rc, "update %d, actor", s->update);
  const float *gc = critic_guidance(s, s->ret.p, s->val.p, B);
  if ((rc = trunk_forward(s, ctx, s->vtrunk, s->closs, s->obs.p, B, gc, &feat, lc, s->vtfeat.p)))
    return lpdm_ctx_prefix(ctx, rc, "update %d, critic", s->update);
  return LPDM_OK;
}

/* ------------------------------------------------------------ worker thread

   With threads = 2, a second thread runs critic_part while the calling
   thread runs actor_part: the two halves share no mutable state, each net
   computes exactly what it would alone, so results are identical to the
   single-thread run. A minibatch's half takes ~0.1 ms, less than a
   condition variable's wake-up on a busy VM, so each side spins a while
   (about 50 us) before it sleeps; a sleeping side is woken through the
   mutex (the seq_cst flag exchange makes a lost wake-up impossible). The
   worker reports into its own context. */
struct worker {
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  _Atomic int state;                  /* W_IDLE, W_POSTED, W_DONE, W_QUIT */
  _Atomic int worker_asleep, main_asleep;
  int rc;
  lpdm_ctx *ctx;
  ppo *s;
};
enum { W_IDLE, W_POSTED, W_DONE, W_QUIT };

#if defined(__x86_64__) || defined(__i386__)
#define SPIN_PAUSE() __builtin_ia32_pause()
#else
#define SPIN_PAUSE() ((void)0)
#endif
/* A pause is ~65 cycles on Zen 2 and ~140 on recent Intel cores: 2048
   rounds are 50-100 us, about one minibatch half. Every 64 rounds the
   spinner yields the core, so that on a machine whose other core is busy
   (shared machines, a second run) the thread it waits for can run at once
   instead of after the spin: without the yield, 20,000 rounds made two
   threads 7x slower than one on a half-busy 2-core machine. */
#define SPIN_ROUNDS 2048

/* Waits until w->state is one of a or b: spins (yielding now and then),
   then sleeps on the condition variable with *asleep raised. */
static int await_state(worker *w, _Atomic int *asleep, int a, int b) {
  for (int i = 0; i < SPIN_ROUNDS; i++) {
    int st = atomic_load(&w->state);
    if (st == a || st == b) return st;
    SPIN_PAUSE();
    if ((i & 63) == 63) sched_yield();
  }
  pthread_mutex_lock(&w->mu);
  atomic_store(asleep, 1);
  int st;
  while ((st = atomic_load(&w->state)) != a && st != b) pthread_cond_wait(&w->cv, &w->mu);
  atomic_store(asleep, 0);
  pthread_mutex_unlock(&w->mu);
  return st;
}

/* Sets the state and wakes the other side if it sleeps. */
static void set_state(worker *w, _Atomic int *other_asleep, int st) {
  atomic_store(&w->state, st);
  if (atomic_load(other_asleep)) {
    pthread_mutex_lock(&w->mu);
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
  }
}

static void *worker_main(void *arg) {
  worker *w = arg;
  while (await_state(w, &w->worker_asleep, W_POSTED, W_QUIT) == W_POSTED) {
    lpdm_ctx_clear(w->ctx);
    w->rc = critic_part(w->s, w->ctx);
    set_state(w, &w->main_asleep, W_DONE);
  }
  return NULL;
}

static void worker_post(worker *w) { set_state(w, &w->worker_asleep, W_POSTED); }

static int worker_wait(worker *w, lpdm_ctx *ctx) {
  await_state(w, &w->main_asleep, W_DONE, W_DONE);
  atomic_store(&w->state, W_IDLE);
  return w->rc ? lpdm_error(ctx, w->rc, "%s", lpdm_ctx_message(w->ctx)) : LPDM_OK;
}

static void worker_free(worker *w) {
  if (!w) return;
  set_state(w, &w->worker_asleep, W_QUIT);
  pthread_join(w->th, NULL);
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->mu);
  lpdm_ctx_free(w->ctx);
  free(w);
}

static int worker_new(ppo *s, lpdm_ctx *ctx, worker **out) {
  worker *w = calloc(1, sizeof *w);
  if (!w || !(w->ctx = lpdm_ctx_new())) {
    free(w);
    return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  }
  w->s = s;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  int e = pthread_create(&w->th, NULL, worker_main, w);
  if (e) {
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    lpdm_ctx_free(w->ctx);
    free(w);
    return lpdm_error(ctx, LPDM_ERR, "cannot start the worker thread: %s", strerror(e));
  }
  *out = w;
  return LPDM_OK;
}

static int ppo_iterate(lpdm_algo *a, lpdm_figures *st, lpdm_ctx *ctx) {
  ppo *s = (ppo *)a;
  if (s->update >= s->num_updates) return LPDM_DONE;
  s->update++;
  const double frac = s->anneal ? 1.0 - (s->update - 1.0) / s->num_updates : 1.0;
  set_all_rates(s, frac);
  int rc;
  if (s->guide_anneal) { /* the losses read alpha from their config at every eval */
    const double gf = 1.0 - (s->update - 1.0) / s->num_updates;
    lpdm_loss *ls[2] = {s->aloss, s->closs};
    for (int k = 0; k < 2; k++)
      if ((rc = lpdm_config_set_num(ctx, &ls[k]->cfg, ls[k]->kind->head.name, "alpha", s->alpha0[k] * gf))) return rc;
  }
  rc = rollout(s, ctx);
  if (rc) return lpdm_ctx_prefix(ctx, rc, "rollout of update %d (env step %lld)", s->update, (long long)s->global_step);

  if (s->fnorm && s->update == 1 && (rc = fn_refresh(s, ctx, 1.0))) return rc;
  /* the rollout's values in one batch (the critic did not change during
     it, so these are the values CleanRL computes step by step), the
     bootstrap values, GAE */
  const int N = s->N, B = s->B, M = s->M, od = s->od, na = s->na;
  if ((rc = forward2(s->vtrunk, s->vhead, ctx, s->obs.p, B, s->vfeat.p, s->val.p, s->fm_c, s->fv_c)) ||
      (rc = forward2(s->vtrunk, s->vhead, ctx, s->next_obs.p, N, s->vfeat.p, s->next_val.p, s->fm_c, s->fv_c)))
    return rc;
  ppo_gae(s->T, N, s->rew.p, s->val.p, s->done.p, s->next_val.p, s->next_done.p, s->gamma, s->lam, s->adv.p,
          s->ret.p);

  /* epochs over shuffled minibatches */
  ppo_pstats ps = {0};
  double vloss = 0, clipfrac = 0, gnorm = 0, al[MAX_LAYER_STATS] = {0}, cl[MAX_LAYER_STATS] = {0};
  double lbuf_a[MAX_LAYER_STATS], lbuf_c[MAX_LAYER_STATS];
  const int da = lpdm_net_depth(s->trunk), dc = lpdm_net_depth(s->vtrunk);
  int nmb_done = 0, nmb_local = 0, epochs_done = 0;
  const int all_epochs = s->epochs + (s->local ? s->head_epochs : 0);
  for (int epoch = 0; epoch < all_epochs; epoch++) {
    s->frozen = epoch >= s->epochs; /* head_epochs: the trunks only forward */
    for (int i = B - 1; i > 0; i--) { /* Fisher-Yates, in place as CleanRL's np.random.shuffle */
      int j = (int)lpdm_rng_below(&s->rng, (uint64_t)i + 1), t = s->perm[i];
      s->perm[i] = s->perm[j];
      s->perm[j] = t;
    }
    if (s->local && s->rollout_local && !s->frozen) {
      double *lla = da <= MAX_LAYER_STATS ? lbuf_a : NULL, *llc = dc <= MAX_LAYER_STATS ? lbuf_c : NULL;
      if ((rc = rollout_local_step(s, ctx, lla, llc))) return rc;
      nmb_local++;
      for (int i = 0; lla && i < da; i++) al[i] += lla[i];
      for (int i = 0; llc && i < dc; i++) cl[i] += llc[i];
      s->frozen = 1; /* the minibatches: heads only */
    }
    for (int start = 0; start < B; start += M) {
      const int *idx = s->perm + start;
      gather(s->obs.p, od, idx, M, s->m_obs.p);
      gather(s->act.p, na, idx, M, s->m_act.p);
      gather(s->logp.p, 1, idx, M, s->m_logp.p);
      gather(s->adv.p, 1, idx, M, s->m_adv.p);
      gather(s->ret.p, 1, idx, M, s->m_ret.p);
      gather(s->val.p, 1, idx, M, s->m_val.p);
      if (s->norm_adv && M > 1) { /* torch's std: unbiased */
        double m = 0, v = 0;
        for (int i = 0; i < M; i++) m += s->m_adv.p[i];
        m /= M;
        for (int i = 0; i < M; i++) v += (s->m_adv.p[i] - m) * (s->m_adv.p[i] - m);
        const double sd = sqrt(v / (M - 1));
        for (int i = 0; i < M; i++) s->m_adv.p[i] = (float)((s->m_adv.p[i] - m) / (sd + 1e-8));
      }
      double *lla = da <= MAX_LAYER_STATS ? lbuf_a : NULL;
      s->job_ll = dc <= MAX_LAYER_STATS ? lbuf_c : NULL;
      /* the critic's half on the worker thread (if any) while this one does the actor's */
      if (s->worker) worker_post(s->worker);
      double sq_a = 0;
      int rca = actor_part(s, ctx, lla, &ps, &sq_a);
      int rcc = s->worker ? worker_wait(s->worker, ctx) : critic_part(s, ctx);
      if (rca) return lpdm_ctx_prefix(ctx, rca, "update %d, actor", s->update);
      if (rcc) return lpdm_ctx_prefix(ctx, rcc, "update %d, critic", s->update);
      if (s->comm && (rc = dp_reduce(s, ctx, &ps, &sq_a))) return lpdm_ctx_prefix(ctx, rc, "update %d", s->update);
      vloss = s->job_vloss;
      const double sq = sq_a + s->job_sq;
      gnorm = sqrt(sq);
      /* torch.nn.utils.clip_grad_norm_: over both sides (CleanRL's one
         optimizer), or over each side alone (clip_grad = separate) */
      float scale = 1.0f, scale_c = 1.0f;
      if (s->max_grad_norm > 0 && !s->clip_separate) {
        double c = s->max_grad_norm / (gnorm + 1e-6);
        if (c < 1) scale = scale_c = (float)c;
      } else if (s->max_grad_norm > 0) {
        double ca = s->max_grad_norm / (sqrt(sq_a) + 1e-6), cc = s->max_grad_norm / (sqrt(s->job_sq) + 1e-6);
        if (ca < 1) scale = (float)ca;
        if (cc < 1) scale_c = (float)cc;
      }
      if ((rc = lpdm_net_step(s->head, ctx, scale)) || (rc = lpdm_net_step(s->vhead, ctx, scale_c)) ||
          (s->ls_opt && (rc = lpdm_optim_step(s->ls_opt, ctx, scale))))
        return lpdm_ctx_prefix(ctx, rc, "update %d", s->update);
      if (!s->local && ((rc = lpdm_net_step(s->trunk, ctx, scale)) || (rc = lpdm_net_step(s->vtrunk, ctx, scale_c))))
        return lpdm_ctx_prefix(ctx, rc, "update %d", s->update);
      clipfrac += ps.clipfrac;
      if (s->local && !s->frozen) {
        nmb_local++;
        for (int i = 0; lla && i < da; i++) al[i] += lla[i];
        for (int i = 0; s->job_ll && i < dc; i++) cl[i] += s->job_ll[i];
      }
      nmb_done++;
    }
    epochs_done++;
    s->frozen = 0;
    if (s->target_kl > 0 && ps.approx_kl > s->target_kl) break;
  }

  if (s->fnorm && (rc = fn_refresh(s, ctx, s->fn_beta))) return rc;
  /* explained variance of the rollout's values */
  double my = 0, md = 0;
  for (int i = 0; i < B; i++) my += s->ret.p[i], md += s->ret.p[i] - s->val.p[i];
  my /= B;
  md /= B;
  double vy = 0, vd = 0;
  for (int i = 0; i < B; i++) {
    double y = s->ret.p[i] - my, d = s->ret.p[i] - s->val.p[i] - md;
    vy += y * y;
    vd += d * d;
  }
  const double ev = vy == 0 ? NAN : 1 - vd / vy;
  const double wall = now_s() - s->t_start;

  lpdm_figures_set(st, "global_step", (double)s->global_step);
  lpdm_figures_set(st, "learning_rate", s->head_lr * frac); /* bp: learning_rate */
  lpdm_figures_set(st, "value_loss", vloss);
  lpdm_figures_set(st, "policy_loss", ps.pg_loss);
  lpdm_figures_set(st, "entropy", ps.entropy);
  lpdm_figures_set(st, "old_approx_kl", ps.old_approx_kl);
  lpdm_figures_set(st, "approx_kl", ps.approx_kl);
  lpdm_figures_set(st, "clipfrac", clipfrac / nmb_done);
  lpdm_figures_set(st, "explained_variance", ev);
  lpdm_figures_set(st, "sps", wall > 0 ? s->global_step / wall : 0);
  lpdm_figures_set(st, "epochs", epochs_done);
  lpdm_figures_set(st, "grad_norm", gnorm);
  if (!s->discrete) lpdm_algo_box_stats(st, s->log_std, s->nact, s->mu_abs, s->mu_n);
  if (s->local) {
    if (da <= MAX_LAYER_STATS)
      for (int i = 0; i < da; i++) lpdm_figures_set(st, actor_names[i], al[i] / (nmb_local ? nmb_local : 1));
    if (dc <= MAX_LAYER_STATS)
      for (int i = 0; i < dc; i++) lpdm_figures_set(st, critic_names[i], cl[i] / (nmb_local ? nmb_local : 1));
  }
  return s->update >= s->num_updates ? LPDM_DONE : LPDM_OK;
}

/* Greedy action (argmax / the Gaussian's mean) for obs, normalised by copy
   0's running moments (not updated). */
static int ppo_act(lpdm_algo *a, const float *obs, double *action, lpdm_ctx *ctx) {
  ppo *s = (ppo *)a;
  const int od = s->od;
  float *o = s->m_obs.p; /* M x od floats, M >= 1 */
  for (int i = 0; i < od; i++) {
    if (s->norm_obs) {
      double y = (obs[i] - s->om[i]) / sqrt(s->ov[i] + 1e-8);
      o[i] = (float)(y < -s->clip_obs ? -s->clip_obs : y > s->clip_obs ? s->clip_obs : y);
    } else
      o[i] = obs[i];
  }
  int rc = forward2(s->trunk, s->head, ctx, o, 1, s->feat.p, s->out.p, s->fm_a, s->fv_a);
  if (rc) return rc;
  if (s->discrete) {
    int k = 0;
    for (int i = 1; i < s->nact; i++)
      if (s->out.p[i] > s->out.p[k]) k = i;
    action[0] = k;
  } else
    for (int i = 0; i < s->nact; i++) action[i] = s->out.p[i];
  return LPDM_OK;
}

/* Checkpoints, taken between updates: the rollout and minibatch buffers are
   rebuilt by the next update, so the state is the four nets with their
   optimizers, the log-std, the generator, the counters, every copy's env,
   episode tallies and normalisation moments, the observation and done flag
   the next rollout starts from, the shuffle order (shuffled in place from
   update to update, as CleanRL's) and the feature moments. */
/* The nets, by their names in the file. */
#define CKPT_NETS 4
static void ckpt_nets(ppo *s, lpdm_net **net, const char **name) {
  net[0] = s->trunk, name[0] = "policy";
  net[1] = s->head, name[1] = "policy_head";
  net[2] = s->vtrunk, name[2] = "value";
  net[3] = s->vhead, name[3] = "value_head";
}

/* The arrays stored as they are ("algo.<what>", F64 or F32); returns how
   many (at most CKPT_ARRAYS). */
#define CKPT_ARRAYS 16
typedef struct ckpt_array {
  const char *what;
  void *p;
  size_t n;
  int f32;
} ckpt_array;
static int ckpt_arrays(ppo *s, ckpt_array *a) {
  const size_t N = (size_t)s->N, od = (size_t)s->od;
  int k = 0;
  a[k++] = (ckpt_array){"episode_return", s->ep_ret, N, 0};
  a[k++] = (ckpt_array){"obs_mean", s->om, N * od, 0};
  a[k++] = (ckpt_array){"obs_var", s->ov, N * od, 0};
  a[k++] = (ckpt_array){"obs_count", s->oc, N, 0};
  a[k++] = (ckpt_array){"ret_mean", s->rm, N, 0};
  a[k++] = (ckpt_array){"ret_var", s->rv, N, 0};
  a[k++] = (ckpt_array){"ret_count", s->rc, N, 0};
  a[k++] = (ckpt_array){"discounted_return", s->disc, N, 0};
  a[k++] = (ckpt_array){"next_obs", s->next_obs.p, N * od, 1};
  a[k++] = (ckpt_array){"next_done", s->next_done.p, N, 1};
  if (s->ls_opt) a[k++] = (ckpt_array){"log_std", s->log_std, (size_t)s->nact, 1};
  if (s->fnorm) {
    const size_t F = (size_t)lpdm_net_out_dim(s->trunk), VF = (size_t)lpdm_net_out_dim(s->vtrunk);
    a[k++] = (ckpt_array){"feature_mean.policy", s->fm_a, F, 1};
    a[k++] = (ckpt_array){"feature_var.policy", s->fv_a, F, 1};
    a[k++] = (ckpt_array){"feature_mean.value", s->fm_c, VF, 1};
    a[k++] = (ckpt_array){"feature_var.value", s->fv_c, VF, 1};
  }
  return k;
}

static int ppo_save(lpdm_algo *a, lpdm_st *st, lpdm_ctx *ctx) {
  ppo *s = (ppo *)a;
  if (s->comm) /* each rank holds only its env copies' state */
    return lpdm_error(ctx, LPDM_ERR_ARG, "checkpoints of a data-parallel run are not supported (yet)");
  const int N = s->N, B = s->B;
  int64_t n[4] = {s->global_step, s->update, s->fn_seen_a, s->fn_seen_c};
  lpdm_net *net[CKPT_NETS];
  const char *nname[CKPT_NETS];
  ckpt_array arr[CKPT_ARRAYS];
  ckpt_nets(s, net, nname);
  const int na = ckpt_arrays(s, arr);
  int rc = LPDM_OK;
  for (int i = 0; !rc && i < CKPT_NETS; i++) rc = lpdm_net_save(net[i], ctx, st, nname[i], 1);
  for (int i = 0; !rc && i < na; i++)
    rc = arr[i].f32 ? lpdm_state_put_f32(st, ctx, "algo", arr[i].what, arr[i].p, arr[i].n)
                    : lpdm_state_put_f64(st, ctx, "algo", arr[i].what, arr[i].p, (int)arr[i].n);
  if (!rc && s->ls_opt) rc = lpdm_optim_save(s->ls_opt, ctx, st, "algo.log_std_optim");
  if (!rc) rc = lpdm_state_put_rng(st, ctx, "algo", "rng", &s->rng);
  if (!rc) rc = lpdm_state_put_i64(st, ctx, "algo", "counters", n, 4);
  int64_t *tmp = malloc((size_t)(B > N ? B : N) * sizeof *tmp);
  if (!tmp) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  for (int e = 0; e < N; e++) tmp[e] = s->ep_len[e];
  if (!rc) rc = lpdm_state_put_i64(st, ctx, "algo", "episode_length", tmp, N);
  for (int i = 0; i < B; i++) tmp[i] = s->perm[i];
  if (!rc) rc = lpdm_state_put_i64(st, ctx, "algo", "shuffle", tmp, B);
  free(tmp);
  for (int e = 0; !rc && e < N; e++) {
    char pre[32];
    snprintf(pre, sizeof pre, "env.%d", e);
    rc = lpdm_env_save(s->env[e], ctx, st, pre);
  }
  return rc;
}

static int moments_ok(const double *x, int n) {
  for (int i = 0; i < n; i++)
    if (!(x[i] >= 0) || !isfinite(x[i])) return 0;
  return 1;
}

/* Every count, index and moment is checked against this run. A file that
   fails half-way leaves the run half-loaded: the callers (train.lua's
   --resume, run:load) stop on the error and never continue such a run. */
static int ppo_load(lpdm_algo *a, const lpdm_st *st, lpdm_ctx *ctx) {
  ppo *s = (ppo *)a;
  if (s->comm) return lpdm_error(ctx, LPDM_ERR_ARG, "checkpoints of a data-parallel run are not supported (yet)");
  const int N = s->N, od = s->od, B = s->B;
  int64_t n[4];
  int rc = lpdm_state_get_i64(st, ctx, "algo", "counters", n, 4);
  if (!rc && (n[0] < 0 || n[0] > (int64_t)s->num_updates * B || n[1] < 0 || n[1] > s->num_updates ||
              n[0] != n[1] * B || (n[2] != 0 && n[2] != 1) || (n[3] != 0 && n[3] != 1)))
    return lpdm_error(ctx, LPDM_ERR_IO,
                      "checkpoint: algo.counters: env step %lld at update %lld does not fit this run (%d steps per "
                      "update, %d updates)",
                      (long long)n[0], (long long)n[1], B, s->num_updates);
  if (rc) return rc;
  int64_t *tmp = malloc((size_t)(B > N ? B : N) * sizeof *tmp);
  char *seen = calloc((size_t)B, 1);
  if (!tmp || !seen) {
    free(tmp);
    free(seen);
    return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  }
  rc = lpdm_state_get_i64(st, ctx, "algo", "shuffle", tmp, B);
  for (int i = 0; !rc && i < B; i++) {
    if (tmp[i] < 0 || tmp[i] >= B || seen[tmp[i]])
      rc = lpdm_error(ctx, LPDM_ERR_IO, "checkpoint: algo.shuffle is not a permutation of 0..%d", B - 1);
    else
      seen[tmp[i]] = 1;
  }
  if (!rc)
    for (int i = 0; i < B; i++) s->perm[i] = (int)tmp[i];
  if (!rc) rc = lpdm_state_get_i64(st, ctx, "algo", "episode_length", tmp, N);
  for (int e = 0; !rc && e < N; e++) {
    if (tmp[e] < 0 || tmp[e] > INT32_MAX)
      rc = lpdm_error(ctx, LPDM_ERR_IO, "checkpoint: algo.episode_length of copy %d out of range (%lld)", e,
                      (long long)tmp[e]);
    else
      s->ep_len[e] = (int)tmp[e];
  }
  free(tmp);
  free(seen);
  lpdm_net *net[CKPT_NETS];
  const char *nname[CKPT_NETS];
  ckpt_array arr[CKPT_ARRAYS];
  ckpt_nets(s, net, nname);
  const int na = ckpt_arrays(s, arr);
  for (int i = 0; !rc && i < CKPT_NETS; i++) rc = lpdm_net_load(net[i], ctx, st, nname[i], 1);
  for (int i = 0; !rc && i < na; i++)
    rc = arr[i].f32 ? lpdm_state_get_f32(st, ctx, "algo", arr[i].what, arr[i].p, arr[i].n)
                    : lpdm_state_get_f64(st, ctx, "algo", arr[i].what, arr[i].p, (int)arr[i].n);
  if (!rc && s->ls_opt) rc = lpdm_optim_load(s->ls_opt, ctx, st, "algo.log_std_optim");
  if (!rc) rc = lpdm_state_get_rng(st, ctx, "algo", "rng", &s->rng);
  if (!rc && (!moments_ok(s->ov, N * od) || !moments_ok(s->oc, N) || !moments_ok(s->rv, N) || !moments_ok(s->rc, N)))
    rc = lpdm_error(ctx, LPDM_ERR_IO, "checkpoint: a normalisation variance or count is negative or not finite");
  for (int e = 0; !rc && e < N; e++) {
    char pre[32];
    snprintf(pre, sizeof pre, "env.%d", e);
    rc = lpdm_env_load(s->env[e], ctx, st, pre);
  }
  if (rc) return rc;
  s->global_step = n[0];
  s->update = (int)n[1];
  s->fn_seen_a = (int)n[2];
  s->fn_seen_c = (int)n[3];
  return LPDM_OK;
}

static const lpdm_algo_kind ppo_kind = {
    LPDM_PLUGIN_HEAD(LPDM_KIND_ALGO, "algo.ppo", "PPO (clipped surrogate, GAE) as CleanRL's, bp or local", keys),
    ppo_create, ppo_iterate, ppo_free, ppo_act, ppo_save, ppo_load,
    "kernel anchor=1", /* local mode's default loss: docs/local-learning.md */
    1 /* data-parallel over setup.comm */};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_ppo(void) { return &ppo_kind.head; }
