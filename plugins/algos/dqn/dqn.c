/* SPDX-License-Identifier: MIT */
/*
** dqn.c -- Deep Q-Network (Mnih et al. 2015) with the semantics and flag
** names of CleanRL's dqn.py (Discrete actions only), in two modes over the
** same Q-network:
**
**   bp     the TD loss is backpropagated through the head and every hidden
**          layer (CleanRL's dqn.py);
**   local  the hidden layers learn by their local loss on each replay
**          minibatch (the LPDM rule of lib/rule.h), guided by the
**          minibatch's TD targets; the head learns by the TD loss on the
**          detached features. Local mode's defaults, chosen by measurement
**          on CartPole-v1 (docs/dqn.md): the loss "kernel anchor=1" when the
**          host names none (as PPO's), the hidden layers at 1e-5, the head
**          at 4 x learning_rate.
**
** The Q-network is the host's hidden layers (setup->policy; CleanRL's is
** 120 and 84 ReLU units, which scripts/train.lua builds for --algo=dqn)
** plus a linear head of one output per action that DQN adds (torch-style
** initialisation, as nn.Linear). The target network is a copy of both,
** made when the run is built.
**
** One env step t = 0, 1, ..., steps-1 (CleanRL's global_step):
**   epsilon = max(start_e + (end_e - start_e) t / (exploration_fraction steps), end_e)
**   with probability epsilon a uniformly random action, else argmax_a Q(obs, a)
**   step the env; store (obs, next_obs, a, r, terminated) in the replay buffer
**     (next_obs: the episode's final observation when it ends; a truncated
**     step stores terminated = 0 and so still bootstraps); on an episode's end
**     the env is reset at once;
**   if t > learning_starts:
**     if t % train_frequency == 0: sample batch_size transitions (uniform, with
**       replacement), y = r + gamma (1 - terminated) max_a' Q_target(next_obs, a'),
**       one Adam step on the mean of (Q(obs, a) - y)^2;
**     if t % target_network_frequency == 0: target <- tau Q + (1 - tau) target.
**
** One iteration (one call of iterate, one row of updates.csv) is
** iteration_steps env steps (100: the interval at which CleanRL logs
** td_loss and q_values).
**
** Config keys (CleanRL's names and defaults; steps is total_timesteps):
**   mode                     = "local"  "local" or "bp"
**   seed                     = 1        the env's reset seed; the exploration, the sampling, the head
**   steps                    = 500000   env-step budget (total_timesteps)
**   learning_rate            = 2.5e-4   bp: Adam rate of every layer
**   buffer_size              = 10000    replay buffer capacity (transitions)
**   gamma                    = 0.99     discount
**   tau                      = 1        target network update rate (1: hard copy)
**   target_network_frequency = 500      env steps between target updates
**   batch_size               = 128      transitions per gradient step
**   start_e, end_e           = 1, 0.05  epsilon's start and end
**   exploration_fraction     = 0.5      the fraction of steps over which epsilon decays
**   learning_starts          = 10000    no training before this step
**   train_frequency          = 10       env steps between gradient steps
**   head_lr                  = 0        local: the head's rate (0: 4 x learning_rate;
**                                       learning_rate with loss localhead or dfa)
**   local_lr                 = 0        local: the hidden layers' rate (0: 1e-5;
**                                       learning_rate with loss localhead or dfa)
**   iteration_steps          = 100      env steps per iteration
**   (A hidden layer whose rate the user set, lpdm_net_keep_lr, keeps it.
**   The run's config holds the rates used: in bp head_lr and local_lr
**   record learning_rate.)
**
** Stats per iteration: global_step, epsilon, td_loss and q_values (means
** over the iteration's gradient steps, NaN when it had none), updates (its
** gradient steps), replay_size, local_loss_N (local mode).
**
** Checkpoints hold the Q-network with its Adam moments ("q", "q_head"),
** its target ("q_target", "q_target_head"), the replay buffer ("replay.*",
** lib/replay.h), the generator, the counters, the current observation and
** the env copy (vecenv_save: its episode tally, "env.0"): a resumed run
** continues bit for bit. A checkpoint of another buffer_size is refused,
** naming both sizes. The policy file (export_policy, lib/policy.c;
** docs/policy.md) holds the online Q-network, distribution "q_greedy".
**
** Lua:
**   local q = lpdm.net{ inputs = 4, lpdm.dense{120, act = "relu"}, lpdm.dense{84, act = "relu"} }
**   local run = lpdm.algo("dqn", { env = lpdm.env("CartPole-v1"), policy = q, mode = "bp", seed = 1 })
**   for it in run:iterations() do print(it.global_step, it.stats.td_loss) end
*/
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/heads.h"
#include "lib/policy.h"
#include "lib/replay.h"
#include "lib/rule.h"
#include "lib/util.h"
#include "lib/vecenv.h"

static const lpdm_key keys[] = {
    {"mode", LPDM_T_STRING, "local", "local (local losses + head) or bp (backpropagation)"},
    {"seed", LPDM_T_INT, "1", "seed of the env, the exploration, the replay sampling and the head"},
    {"steps", LPDM_T_INT, "500000", "env-step budget (CleanRL's total_timesteps)"},
    {"learning_rate", LPDM_T_NUMBER, "2.5e-4", "bp: Adam learning rate of every layer"},
    {"buffer_size", LPDM_T_INT, "10000", "replay buffer capacity (transitions)"},
    {"gamma", LPDM_T_NUMBER, "0.99", "discount factor"},
    {"tau", LPDM_T_NUMBER, "1", "target network update rate (1: copy)"},
    {"target_network_frequency", LPDM_T_INT, "500", "env steps between target network updates"},
    {"batch_size", LPDM_T_INT, "128", "transitions sampled per gradient step"},
    {"start_e", LPDM_T_NUMBER, "1", "exploration epsilon at the start"},
    {"end_e", LPDM_T_NUMBER, "0.05", "exploration epsilon at the end of its decay"},
    {"exploration_fraction", LPDM_T_NUMBER, "0.5", "fraction of the steps over which epsilon decays"},
    {"learning_starts", LPDM_T_INT, "10000", "env step at which learning starts"},
    {"train_frequency", LPDM_T_INT, "10", "env steps between gradient steps"},
    {"head_lr", LPDM_T_NUMBER, "0", "local: learning rate of the head (0: 4 x learning_rate; learning_rate for localhead, dfa)"},
    {"local_lr", LPDM_T_NUMBER, "0", "local: learning rate of the hidden layers (0: 1e-5; learning_rate for localhead, dfa)"},
    {"iteration_steps", LPDM_T_INT, "100", "env steps per iteration (one row of updates.csv)"},
    {NULL, 0, NULL, NULL}};

typedef struct dqn {
  lpdm_algo base;
  lpdm_algo_setup setup;
  vecenv *venv;             /* one env copy: autoreset, episode tally, current obs */
  lpdm_net *trunk, *head;   /* the Q-network: trunk borrowed, head owned */
  lpdm_net *ttrunk, *thead; /* its target copy, owned */
  trunk_rule *rule;         /* local mode: how the trunk learns (LPDM's rule) */
  lpdm_replay *rb;
  lpdm_rng rng;
  int local, nact, od;
  /* hyperparameters */
  double gamma, tau, start_e, end_e, duration;
  int64_t budget, learning_starts, train_freq, target_freq;
  int batch, iter_steps;
  /* progress */
  int64_t global_step, updates;
  int iteration;
  float *next_obs; /* obs_dim: the step's next observation, before any reset */
  /* work: one observation's features and Q-values; the batch's targets, dQ, features */
  fbuf feat1, q1, y, dq, tfeat, tq, scratch;
  /* the iteration's sums, for its figures; ll: one update's local losses */
  double sum_loss, sum_q, *sum_local, *ll;
  int n_upd;
} dqn;

static void dqn_free(lpdm_algo *a) {
  dqn *s = (dqn *)a;
  if (!s) return;
  vecenv_free(s->venv);
  trunk_rule_free(s->rule);
  lpdm_net_free(s->head);
  lpdm_net_free(s->ttrunk);
  lpdm_net_free(s->thead);
  lpdm_replay_free(s->rb);
  free(s->next_obs);
  free(s->sum_local);
  free(s->ll);
  fbuf *bs[] = {&s->feat1, &s->q1, &s->y, &s->dq, &s->tfeat, &s->tq, &s->scratch};
  for (size_t i = 0; i < sizeof bs / sizeof *bs; i++) free(bs[i]->p);
  free(s);
}

/* dst's parameters and layer state <- src's (same shapes): CleanRL's
   target_network.load_state_dict(q_network.state_dict()). */
static int copy_net(lpdm_ctx *ctx, lpdm_net *src, lpdm_net *dst) {
  lpdm_st *st = NULL;
  int rc = lpdm_st_new(ctx, &st);
  if (!rc) rc = lpdm_net_save(src, ctx, st, "n", 0);
  if (!rc) rc = lpdm_net_load(dst, ctx, st, "n", 0);
  lpdm_st_free(st);
  return rc;
}

/* target <- tau online + (1 - tau) target, parameter by parameter. */
static void soft_update(lpdm_net *online, lpdm_net *target, double tau) {
  for (int i = 0; i < lpdm_net_depth(online); i++) {
    lpdm_layer *lo = lpdm_net_layer(online, i), *lt = lpdm_net_layer(target, i);
    for (int j = 0; j < lo->nparams; j++) {
      const float *w = lo->params[j].w;
      float *t = lt->params[j].w;
      size_t n = lo->params[j].n;
      if (tau == 1) memcpy(t, w, n * sizeof(float));
      else
        for (size_t k = 0; k < n; k++) t[k] = (float)(tau * w[k] + (1 - tau) * t[k]);
    }
  }
}

static int int_key(lpdm_ctx *ctx, const lpdm_config *cfg, const char *key, int64_t min, int64_t *out) {
  double v = lpdm_cfg_num(cfg, key);
  if (!(v >= (double)min && v <= 9.0e15))
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s must be an integer >= %lld, got %g", key, (long long)min, v);
  *out = (int64_t)v;
  return LPDM_OK;
}

static int dqn_create(const lpdm_algo_kind *kind, const lpdm_config *cfg, const lpdm_algo_setup *setup,
                      lpdm_algo **out, lpdm_ctx *ctx) {
  (void)kind;
  int local, rc = algo_mode(cfg, setup, &local, ctx);
  if (rc) return rc;
  dqn *s = calloc(1, sizeof *s);
  if (!s) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  s->setup = *setup;
  s->local = local;
  s->trunk = setup->policy;
  int64_t seed = 0, buffer = 0, batch = 0, iter_steps = 0;
  if ((rc = int_key(ctx, cfg, "seed", 0, &seed)) || (rc = int_key(ctx, cfg, "steps", 1, &s->budget)) ||
      (rc = int_key(ctx, cfg, "buffer_size", 1, &buffer)) || (rc = int_key(ctx, cfg, "batch_size", 1, &batch)) ||
      (rc = int_key(ctx, cfg, "learning_starts", 0, &s->learning_starts)) ||
      (rc = int_key(ctx, cfg, "train_frequency", 1, &s->train_freq)) ||
      (rc = int_key(ctx, cfg, "target_network_frequency", 1, &s->target_freq)) ||
      (rc = int_key(ctx, cfg, "iteration_steps", 1, &iter_steps)))
    goto fail;
  if (batch > 1 << 20 || iter_steps > INT32_MAX) {
    rc = lpdm_error(ctx, LPDM_ERR_ARG, "batch_size (at most 1048576) or iteration_steps too large");
    goto fail;
  }
  s->batch = (int)batch;
  s->iter_steps = (int)iter_steps;
  s->gamma = lpdm_cfg_num(cfg, "gamma");
  s->tau = lpdm_cfg_num(cfg, "tau");
  s->start_e = lpdm_cfg_num(cfg, "start_e");
  s->end_e = lpdm_cfg_num(cfg, "end_e");
  s->duration = lpdm_cfg_num(cfg, "exploration_fraction") * (double)s->budget;
  double lr = lpdm_cfg_num(cfg, "learning_rate"), head_lr = lpdm_cfg_num(cfg, "head_lr"),
         local_lr = lpdm_cfg_num(cfg, "local_lr");
  if (!(s->gamma >= 0 && s->gamma <= 1) || !(s->tau >= 0 && s->tau <= 1)) {
    rc = lpdm_error(ctx, LPDM_ERR_ARG, "gamma and tau must be in [0, 1], got %g and %g", s->gamma, s->tau);
    goto fail;
  }
  if (!(s->start_e >= 0 && s->start_e <= 1) || !(s->end_e >= 0 && s->end_e <= 1) ||
      !(lpdm_cfg_num(cfg, "exploration_fraction") >= 0)) {
    rc = lpdm_error(ctx, LPDM_ERR_ARG, "start_e and end_e must be in [0, 1] and exploration_fraction >= 0");
    goto fail;
  }
  if (!(lr > 0) || !(head_lr >= 0) || !(local_lr >= 0)) {
    rc = lpdm_error(ctx, LPDM_ERR_ARG, "learning_rate must be > 0, head_lr and local_lr >= 0");
    goto fail;
  }
  const int rule = local && trunk_rule_bp_rates(setup->loss); /* local heads, DFA, frozen: bp's rates */
  if (!head_lr) head_lr = local && !rule ? 4 * lr : lr;
  if (!local_lr) local_lr = rule ? lr : 1e-5;
  { /* the reported config holds the rates used (bp: every layer at learning_rate) */
    lpdm_config rcfg = *cfg;
    if ((rc = lpdm_config_set_num(ctx, &rcfg, "algo.dqn", "head_lr", local ? head_lr : lr)) ||
        (rc = lpdm_config_set_num(ctx, &rcfg, "algo.dqn", "local_lr", local ? local_lr : lr)))
      goto fail;
    s->base.cfg = rcfg;
  }
  /* the env copy, reset with seed (no wrappers: CleanRL's dqn.py has none) */
  const vecenv_opts vo = {.norm_obs = 0, .norm_reward = 0, .clip_obs = 1, .clip_reward = 1, .gamma = s->gamma};
  if ((rc = vecenv_new(ctx, setup->env_kind, setup->env_cfg, 1, (uint64_t)seed, &vo, &s->venv))) goto fail;
  vecenv_sink(s->venv, setup->on_episode, setup->user, 0);
  const lpdm_space *as = &s->venv->env[0]->act_space;
  if (as->type != LPDM_SPACE_DISCRETE) {
    rc = lpdm_error(ctx, LPDM_ERR_ARG,
                    "dqn needs a Discrete action space, but %s's is Box(%d): use ppo or reinforce for continuous "
                    "actions",
                    lpdm_plugin_short(&setup->env_kind->head), as->dim);
    goto fail;
  }
  s->nact = as->n;
  s->od = s->venv->od;
  if (lpdm_net_in_dim(s->trunk) != s->od) {
    rc = lpdm_error(ctx, LPDM_ERR_ARG, "the Q-network takes %d inputs, the env's observations have %d",
                    lpdm_net_in_dim(s->trunk), s->od);
    goto fail;
  }
  lpdm_rng_seed(&s->rng, (uint64_t)seed);
  /* the replay buffer first: a run it does not fit in is refused before anything else is built */
  if ((rc = lpdm_replay_new(ctx, buffer, s->od, 1, s->batch, "buffer_size", &s->rb))) goto fail;
  for (int i = 0; i < lpdm_net_depth(s->trunk); i++)
    if (!lpdm_net_lr_kept(s->trunk, i)) lpdm_optim_set_lr(lpdm_net_optim(s->trunk, i), local ? local_lr : lr);
  lpdm_optim_cfg hoc = lpdm_optim_default(LPDM_OPT_ADAM, local ? head_lr : lr);
  if ((rc = head_make(ctx, &s->head, lpdm_net_out_dim(s->trunk), s->nact, NULL, 1, &s->rng, &hoc))) goto fail;
  if (local &&
      (rc = trunk_rule_new(ctx, setup->distance, setup->loss, s->trunk, s->nact, (uint64_t)seed, "q", &s->rule)))
    goto fail;
  /* the target network: a copy (its own draws from a throwaway generator, then overwritten) */
  lpdm_rng tr;
  lpdm_rng_seed(&tr, (uint64_t)seed ^ 0x7a5c3d1e9b2f4a68ULL);
  if ((rc = lpdm_net_clone(s->trunk, ctx, &tr, &s->ttrunk)) || (rc = lpdm_net_clone(s->head, ctx, &tr, &s->thead)) ||
      (rc = copy_net(ctx, s->trunk, s->ttrunk)) || (rc = copy_net(ctx, s->head, s->thead)))
    goto fail;
  const int depth = lpdm_net_depth(s->trunk);
  s->next_obs = malloc((size_t)s->od * sizeof(float));
  s->sum_local = calloc((size_t)depth + 1, sizeof(double));
  s->ll = calloc((size_t)depth + 1, sizeof(double));
  if (!s->next_obs || !s->sum_local || !s->ll) {
    rc = lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
    goto fail;
  }
  size_t F = (size_t)lpdm_net_out_dim(s->trunk), B = (size_t)s->batch, A = (size_t)s->nact;
  if ((rc = fgrow(ctx, &s->feat1, F)) || (rc = fgrow(ctx, &s->q1, A)) || (rc = fgrow(ctx, &s->y, B)) ||
      (rc = fgrow(ctx, &s->dq, B * A)) || (rc = fgrow(ctx, &s->tfeat, B * F)) || (rc = fgrow(ctx, &s->tq, B * A)) ||
      (rc = fgrow(ctx, &s->scratch, B * F)))
    goto fail;
  *out = &s->base;
  return LPDM_OK;
fail:
  dqn_free(&s->base);
  return rc;
}

/* Q(obs, .) into s->q1 */
static int q_values(dqn *s, lpdm_ctx *ctx, const float *obs) {
  int rc = lpdm_net_forward(s->trunk, ctx, obs, 1, s->feat1.p);
  return rc ? rc : lpdm_net_forward(s->head, ctx, s->feat1.p, 1, s->q1.p);
}

/* CleanRL's linear_schedule(start_e, end_e, exploration_fraction * steps, t) */
static double epsilon(const dqn *s, int64_t t) {
  if (!(s->duration > 0)) return s->end_e;
  double e = (s->end_e - s->start_e) / s->duration * (double)t + s->start_e;
  return e > s->end_e ? e : s->end_e;
}

/* B times the TD loss mean_i (Q(s_i, a_i) - y_i)^2 on Q-values q (B x A),
   its gradient dq (at the taken actions only) and, when qsum is given, the
   sum of the taken actions' values: the head's loss, and local heads'
   (td_objective). */
static double td_loss(int B, int A, const float *q, const float *act, const float *y, float *dq, double *qsum) {
  memset(dq, 0, (size_t)B * A * sizeof(float));
  double L = 0, qs = 0;
  for (int i = 0; i < B; i++) {
    int a = (int)act[i];
    double e = (double)q[(size_t)i * A + a] - y[i];
    L += e * e;
    qs += q[(size_t)i * A + a];
    dq[(size_t)i * A + a] = (float)(2 * e / B);
  }
  if (qsum) *qsum = qs;
  return L;
}

static int td_objective(void *arg, const algo_targets *t, const float *out, float *dout, double *L, lpdm_ctx *ctx) {
  (void)ctx;
  const dqn *s = arg;
  *L = td_loss(t->B, s->nact, out, t->act, t->td_target, dout, NULL) / t->B;
  return LPDM_OK;
}

/* One gradient step on a replay minibatch. */
static int train_step(dqn *s, lpdm_ctx *ctx) {
  lpdm_replay_batch b;
  int rc = lpdm_replay_sample(s->rb, ctx, &s->rng, s->batch, &b);
  if (rc) return rc;
  const int B = b.B, A = s->nact;
  /* TD targets from the target network (no gradient) */
  if ((rc = lpdm_net_forward(s->ttrunk, ctx, b.next_obs, B, s->tfeat.p)) ||
      (rc = lpdm_net_forward(s->thead, ctx, s->tfeat.p, B, s->tq.p)))
    return rc;
  float *y = s->y.p;
  for (int i = 0; i < B; i++) {
    const float *qn = s->tq.p + (size_t)i * A;
    float mx = qn[cat_argmax(qn, A)];
    y[i] = b.reward[i] + (float)s->gamma * mx * (1.0f - b.done[i]);
  }
  /* The features the head sees (trunk_features): bp keeps the trunk's
     activations for backward; local lets the rule train the trunk on the
     minibatch first (LPDM guided by the TD targets; local heads on the TD
     loss) and detaches its output. A rule that needs the head's error
     (direct feedback alignment) gets the features frozen and runs after
     the loss, below. */
  const algo_targets t = {.B = B,
                          .g = y,
                          .act = b.action,
                          .na = 1,
                          .td_target = y,
                          .dout = s->dq.p,
                          .dout_dim = A,
                          .objective = td_objective,
                          .objective_arg = s};
  const int after = s->local && s->rule->vt->needs_head_error;
  const int fmode = !s->local ? LPDM_FEAT_BP : after ? LPDM_FEAT_FROZEN : LPDM_FEAT_LOCAL;
  const float *feat, *q;
  const int depth = lpdm_net_depth(s->trunk);
  for (int i = 0; i < depth; i++) s->ll[i] = 0;
  if ((rc = trunk_features(s->trunk, ctx, fmode, s->rule, b.obs, B, &t, s->scratch.p, &feat, s->ll)) ||
      (rc = lpdm_net_train_forward(s->head, ctx, feat, B, &q)))
    return rc;
  /* TD loss mean_i (Q(s_i, a_i) - y_i)^2 and its gradient, at the taken actions only */
  float *dq = s->dq.p;
  double qs = 0;
  const double L = td_loss(B, A, q, b.action, y, dq, &qs);
  if (after) { /* the rule learns from dL/dQ per sample (dq, before backward may overwrite it) */
    const float *Y;
    if ((rc = trunk_rule_update(s->rule, s->trunk, ctx, b.obs, B, &t, &Y, s->ll))) return rc;
  }
  lpdm_net_zero_grad(s->head);
  if (s->local) {
    if ((rc = lpdm_net_backward(s->head, ctx, dq, NULL)) || (rc = lpdm_net_step(s->head, ctx, 1.0f))) return rc;
  } else {
    lpdm_net_zero_grad(s->trunk);
    float *dfeat = s->tfeat.p; /* dL/dfeatures (the target's features are spent) */
    if ((rc = lpdm_net_backward(s->head, ctx, dq, dfeat)) || (rc = lpdm_net_backward(s->trunk, ctx, dfeat, NULL)) ||
        (rc = lpdm_net_step(s->head, ctx, 1.0f)) || (rc = lpdm_net_step(s->trunk, ctx, 1.0f)))
      return rc;
  }
  s->sum_loss += L / B;
  s->sum_q += qs / B;
  for (int i = 0; i < depth; i++) s->sum_local[i] += s->ll[i];
  s->n_upd++;
  s->updates++;
  return LPDM_OK;
}

/* One env step t = global_step: act, store, learn. */
static int env_step(dqn *s, lpdm_ctx *ctx) {
  const int64_t t = s->global_step;
  int rc, a;
  if (lpdm_rng_uniform(&s->rng) < epsilon(s, t))
    a = (int)lpdm_rng_below(&s->rng, (uint64_t)s->nact);
  else {
    if ((rc = q_values(s, ctx, s->venv->obs))) return rc;
    a = cat_argmax(s->q1.p, s->nact);
  }
  double act = a, r;
  int term, trunc;
  float *obs = s->venv->obs;
  if ((rc = vecenv_step(s->venv, ctx, 0, &act, s->next_obs, &r, &term, &trunc))) return rc;
  float fa = (float)a;
  lpdm_replay_add(s->rb, obs, s->next_obs, &fa, r, term);
  s->global_step++;
  if (term || trunc) { /* reports the episode, resets the copy, obs <- its first observation */
    if ((rc = vecenv_end_episode(s->venv, ctx, 0, s->global_step, obs))) return rc;
  } else
    memcpy(obs, s->next_obs, (size_t)s->od * sizeof(float));
  if (t > s->learning_starts) {
    if (t % s->train_freq == 0 && (rc = train_step(s, ctx)))
      return lpdm_ctx_prefix(ctx, rc, "gradient step %lld", (long long)s->updates + 1);
    if (t % s->target_freq == 0) {
      soft_update(s->trunk, s->ttrunk, s->tau);
      soft_update(s->head, s->thead, s->tau);
    }
  }
  return LPDM_OK;
}

static int dqn_iterate(lpdm_algo *a, lpdm_figures *st, lpdm_ctx *ctx) {
  dqn *s = (dqn *)a;
  if (s->global_step >= s->budget) return LPDM_DONE;
  s->sum_loss = s->sum_q = 0;
  const int depth = lpdm_net_depth(s->trunk);
  for (int i = 0; i < depth; i++) s->sum_local[i] = 0;
  s->n_upd = 0;
  double eps = epsilon(s, s->global_step);
  for (int k = 0; k < s->iter_steps && s->global_step < s->budget; k++) {
    int rc = env_step(s, ctx);
    if (rc) return lpdm_ctx_prefix(ctx, rc, "env step %lld", (long long)s->global_step + 1);
  }
  s->iteration++;
  double n = s->n_upd;
  int rc = lpdm_figures_set(st, "global_step", (double)s->global_step);
  if (!rc) rc = lpdm_figures_set(st, "epsilon", eps);
  if (!rc) rc = lpdm_figures_set(st, "td_loss", n > 0 ? s->sum_loss / n : NAN);
  if (!rc) rc = lpdm_figures_set(st, "q_values", n > 0 ? s->sum_q / n : NAN);
  if (!rc) rc = lpdm_figures_set(st, "updates", n);
  if (!rc) rc = lpdm_figures_set(st, "replay_size", (double)lpdm_replay_size(s->rb));
  for (int i = 0; !rc && s->local && i < depth; i++)
    rc = lpdm_figures_setf(st, n > 0 ? s->sum_local[i] / n : NAN, "local_loss_%d", i + 1);
  return rc;
}

static int dqn_act(lpdm_algo *a, const float *obs, double *action, lpdm_ctx *ctx) {
  dqn *s = (dqn *)a;
  int rc = q_values(s, ctx, obs);
  if (rc) return rc;
  action[0] = cat_argmax(s->q1.p, s->nact);
  return LPDM_OK;
}

/* Checkpoints: between iterations everything that decides the future is
   the four nets (with the online ones' Adam moments), the replay buffer,
   the generator, the counters, the current observation and the env. */
static int dqn_save(lpdm_algo *a, lpdm_st *st, lpdm_ctx *ctx) {
  dqn *s = (dqn *)a;
  int64_t n[3] = {s->global_step, s->iteration, s->updates};
  int rc = lpdm_net_save(s->trunk, ctx, st, "q", 1);
  if (!rc) rc = lpdm_net_save(s->head, ctx, st, "q_head", 1);
  if (!rc) rc = lpdm_net_save(s->ttrunk, ctx, st, "q_target", 0);
  if (!rc) rc = lpdm_net_save(s->thead, ctx, st, "q_target_head", 0);
  if (!rc) rc = lpdm_replay_save(s->rb, ctx, st, "replay");
  if (!rc) rc = lpdm_state_put_rng(st, ctx, "algo", "rng", &s->rng);
  if (!rc) rc = lpdm_state_put_i64(st, ctx, "algo", "counters", n, 3);
  if (!rc) rc = lpdm_state_put_f32(st, ctx, "algo", "obs", s->venv->obs, (size_t)s->od);
  if (!rc) rc = vecenv_save(s->venv, ctx, st); /* episode tally, "env.0" */
  if (!rc && s->rule) rc = trunk_rule_save(s->rule, ctx, st, "algo.rule");
  return rc;
}

static int dqn_load(lpdm_algo *a, const lpdm_st *st, lpdm_ctx *ctx) {
  dqn *s = (dqn *)a;
  int64_t n[3];
  /* the replay buffer first: another buffer_size is the likeliest mismatch, and it says so */
  int rc = lpdm_replay_load(s->rb, ctx, st, "replay");
  if (!rc) rc = lpdm_state_get_i64(st, ctx, "algo", "counters", n, 3);
  if (!rc && (n[0] < 0 || n[0] > s->budget || n[1] < 0 || n[1] > INT32_MAX || n[2] < 0 || n[2] > n[0]))
    rc = lpdm_error(ctx, LPDM_ERR_IO, "checkpoint: algo.counters out of range for this run (step %lld of %lld)",
                    (long long)n[0], (long long)s->budget);
  if (!rc) rc = lpdm_net_load(s->trunk, ctx, st, "q", 1);
  if (!rc) rc = lpdm_net_load(s->head, ctx, st, "q_head", 1);
  if (!rc) rc = lpdm_net_load(s->ttrunk, ctx, st, "q_target", 0);
  if (!rc) rc = lpdm_net_load(s->thead, ctx, st, "q_target_head", 0);
  if (!rc) rc = lpdm_state_get_rng(st, ctx, "algo", "rng", &s->rng);
  if (!rc) rc = lpdm_state_get_f32(st, ctx, "algo", "obs", s->venv->obs, (size_t)s->od);
  if (!rc) rc = vecenv_load(s->venv, ctx, st);
  if (!rc && s->rule) rc = trunk_rule_load(s->rule, ctx, st, "algo.rule");
  if (rc) return rc;
  s->global_step = n[0];
  s->iteration = (int)n[1];
  s->updates = n[2];
  return LPDM_OK;
}

/* The policy file: what dqn_act computes (docs/policy.md). */
static int dqn_export_policy(lpdm_algo *a, lpdm_st *st, lpdm_ctx *ctx) {
  dqn *s = (dqn *)a;
  const policy_parts pp = {.algo = "dqn",
                           .distribution = "q_greedy",
                           .setup = &s->setup,
                           .env = s->venv->env[0],
                           .trunk = s->trunk,
                           .head = s->head};
  return policy_export(&pp, st, ctx);
}

static const lpdm_algo_kind dqn_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_ALGO, "algo.dqn",
                             "DQN (CleanRL's dqn.py: replay, target network, epsilon-greedy), bp or local", keys),
    .create = dqn_create,
    .iterate = dqn_iterate,
    .free = dqn_free,
    .act = dqn_act,
    .save = dqn_save,
    .load = dqn_load,
    .local_loss = "kernel anchor=1",
    .export_policy = dqn_export_policy,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_dqn(void) { return &dqn_kind.head; }
