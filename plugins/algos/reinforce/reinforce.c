/* SPDX-License-Identifier: MIT */
/*
** reinforce/reinforce.c -- REINFORCE (Williams 1992), Monte-Carlo policy gradient, in
** two modes over the same network:
**
**   bp     the policy loss  -1/B sum_t log pi(a_t | s_t) A_t  is
**          backpropagated through the head and every hidden layer;
**   local  the hidden layers learn by their local loss (lib/rule.h's LPDM
**          rule: each layer matches its output distances to its input
**          distances, guided by the returns-to-go for loss.guided), and only
**          the head learns from the policy loss, on the detached features.
**
** One iteration: run `episodes_per_update` whole episodes with the current
** policy, compute the discounted returns-to-go G_t, the weights A_t (G_t,
** standardised over the batch when normalize_returns, minus a learned
** baseline V(s_t) when baseline), then one update on the batch of all their
** steps. Discrete action spaces get a softmax head (logits = dense(features));
** Box action spaces a Gaussian head with a state-independent log-std
** parameter (the sampled action is clipped to the bounds for the env only).
**
** Config keys (defaults; 0 for a learning rate means "the mode's default",
** chosen by measurement on CartPole-v1, see docs/reinforce.md):
**   mode               = "local"  "local" or "bp"
**   seed               = 1        seeds the network heads, the sampling and the env
**   steps              = 500000   env-step budget
**   gamma              = 0.99     discount
**   episodes_per_update= 1
**   normalize_returns  = true     standardise A over the batch
**   baseline           = false    learn V(s) (a value net with the policy's
**                                 hidden widths, trained like the policy)
**   guide              = "return" local: the guidance g of the policy's local
**                                 loss: the return-to-go G, or "advantage",
**                                 G - V(s) (with baseline)
**   lr                 = 0        bp: every layer (default 1e-3)
**   head_lr            = 0        local: the policy head (guided 3e-3, else 1e-2;
**                                 lr with loss localhead or dfa)
**   local_lr           = 0        local: the hidden layers (guided 1e-3, else 1e-4;
**                                 lr with loss localhead or dfa)
**                                 (a layer whose rate the user set, lpdm_net_keep_lr,
**                                 keeps it: lr and local_lr do not apply to it)
**   value_lr           = 0        the baseline's head (bp: lr, local: head_lr)
**   entropy_coef       = 0        entropy bonus
**   log_std_init       = 0        Gaussian head: initial log standard deviation
**   norm_obs           = false    running observation normalisation, as PPO's
**                                 (Gymnasium's NormalizeObservation, clipped to
**                                 +-10): the batch, the local losses and act()
**                                 see normalised observations; the moments are
**                                 checkpointed and go into the policy file
**   local_window       = 0        local, distance matching: 0 trains the hidden
**                                 layers on the update's episodes; N >= 2 on the
**                                 last N states visited, across updates (with
**                                 their guidance), so that the local loss sees
**                                 more than one episode's consecutive states
**   squash_mean        = false    Gaussian head: mean = centre + half-width * tanh(z)
**                                 of the action range (z the head's output), so the
**                                 mean cannot leave the range (docs/reinforce.md)
**   log_std_lr         = 0        Gaussian head: the log standard deviation's rate
**                                 (default: the policy head's, bp lr, local head_lr;
**                                 docs/reinforce.md, "Box actions in local mode")
** The run's config (run.config, summary.json) holds the rates used, never
** the 0 placeholders: in bp, head_lr and local_lr record lr (bp trains every
** layer at it).
**
** Built from the parts in plugins/algos/lib: one env copy (vecenv, no
** wrappers), the heads and distributions (heads: softmax, Gaussian with
** gauss_std), the features each head sees (trunk_features: bp or local
** through the LPDM rule).
**
** Figures per update: global_step, batch_size, loss_policy, loss_value (with a
** baseline), local_loss_N for every hidden layer N (local mode), and for Box actions log_std_mean
** (over the action dimensions) and mu_abs_mean (the policy mean's |value|
** over the update's steps and the action dimensions).
**
** The policy file (export_policy, lib/policy.c; docs/policy.md) holds the
** trunk, the head, the log-std and squash_mean: what rf_act computes.
**
** Lua:
**   local run = lpdm.algo("reinforce", { env = env, policy = net, mode = "local",
**                                        loss = "guided", seed = 1, steps = 200000 })
**   for it in run:iterations() do print(it.global_step) end
*/
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/heads.h"
#include "lib/policy.h"
#include "lib/rule.h"
#include "lib/util.h"
#include "lib/vecenv.h"

static const lpdm_key keys[] = {
    {"mode", LPDM_T_STRING, "local", "local (local losses + head) or bp (backpropagation)"},
    {"seed", LPDM_T_INT, "1", "seed of the heads, the sampling and the env"},
    {"steps", LPDM_T_INT, "500000", "env-step budget"},
    {"gamma", LPDM_T_NUMBER, "0.99", "discount factor"},
    {"episodes_per_update", LPDM_T_INT, "1", "whole episodes per update"},
    {"normalize_returns", LPDM_T_BOOL, "true", "standardise the policy-gradient weights over the batch"},
    {"baseline", LPDM_T_BOOL, "false", "subtract a learned value baseline"},
    {"guide", LPDM_T_STRING, "return",
     "local: the policy's guidance, the return-to-go (return) or G - V(s) (advantage: needs baseline)"},
    {"lr", LPDM_T_NUMBER, "0", "bp: learning rate of every layer (0: 1e-3)"},
    {"head_lr", LPDM_T_NUMBER, "0", "local: learning rate of the heads (0: 3e-3 guided, 1e-2 otherwise, lr for localhead, dfa)"},
    {"local_lr", LPDM_T_NUMBER, "0", "local: learning rate of the hidden layers (0: 1e-3 guided, 1e-4 otherwise, lr for localhead, dfa)"},
    {"value_lr", LPDM_T_NUMBER, "0", "learning rate of the baseline (0: as the policy)"},
    {"entropy_coef", LPDM_T_NUMBER, "0", "entropy bonus coefficient"},
    {"log_std_init", LPDM_T_NUMBER, "0", "Gaussian policy: initial log standard deviation"},
    {"log_std_lr", LPDM_T_NUMBER, "0",
     "Gaussian policy: learning rate of the log standard deviation (0: the policy head's)"},
    {"squash_mean", LPDM_T_BOOL, "false",
     "Gaussian policy: mean = centre + half-width * tanh(head output), inside the action range"},
    {"norm_obs", LPDM_T_BOOL, "false", "running observation normalisation (clipped to +-10), as PPO's"},
    {"local_window", LPDM_T_INT, "0",
     "local, distance matching: the hidden layers learn on the update's episodes (0) or the last N states (N >= 2)"},
    {NULL, 0, NULL, NULL}};

typedef struct rf {
  lpdm_algo base;
  lpdm_algo_setup setup;
  vecenv *venv;           /* one copy: its env, episode tally and current obs */
  const lpdm_space *asp;  /* its action space */
  lpdm_net *trunk, *head; /* policy: trunk borrowed, head owned */
  lpdm_net *vtrunk, *vhead;
  int own_vtrunk;
  int local, discrete, nact, obs_dim;
  trunk_rule *rule, *vrule; /* local mode: the policy's and the baseline's trunk rules (lib/rule.h) */
  double gamma, entropy_coef;
  int normalize, episodes_per_update;
  int guide_adv; /* guide = advantage: the policy's local loss is guided by G - V(s) */
  int window, wn; /* local_window: its size N (0: off), and the rows it holds */
  int64_t budget, global_step;
  int iteration;
  lpdm_rng rng;
  gauss_std *ls;       /* Box: the log-std with its own Adam */
  int squash;          /* squash_mean: mu inside the action range (head_squash) */
  double mu_abs, mu_n; /* Box: sum of |policy mean| over the update's steps */
  double *ll, *vll;    /* the local loss per hidden layer of the policy, of the baseline */
  /* batch buffers */
  fbuf X, A, R, G, W, dlogits, feat1, out1, V, dV, Ga; /* Ga: guide = advantage's G - V(s) */
  fbuf WX, WG, WGa; /* local_window: the last wn states, their G and G - V(s), oldest first */
  fbuf oact;        /* norm_obs: act()'s normalised observation */
  size_t T; /* steps in the batch */
} rf;

static void rf_free(lpdm_algo *a) {
  rf *s = (rf *)a;
  if (!s) return;
  vecenv_free(s->venv);
  lpdm_net_free(s->head);
  lpdm_net_free(s->vhead);
  if (s->own_vtrunk) lpdm_net_free(s->vtrunk);
  gauss_std_free(s->ls);
  trunk_rule_free(s->rule);
  trunk_rule_free(s->vrule);
  free(s->ll);
  free(s->vll);
  fbuf *bs[] = {&s->X,  &s->A,  &s->R, &s->G,  &s->W,  &s->dlogits, &s->feat1, &s->out1,
                &s->V,  &s->dV, &s->Ga, &s->WX, &s->WG, &s->WGa,    &s->oact};
  for (size_t i = 0; i < sizeof bs / sizeof *bs; i++) free(bs[i]->p);
  free(s);
}

static int rf_create(const lpdm_algo_kind *kind, const lpdm_config *cfg, const lpdm_algo_setup *setup, lpdm_algo **out,
                     lpdm_ctx *ctx) {
  int local, rc0 = algo_mode(cfg, setup, &local, ctx);
  if (rc0) return rc0;
  double gamma = lpdm_cfg_num(cfg, "gamma");
  if (!(gamma >= 0 && gamma <= 1)) return lpdm_error(ctx, LPDM_ERR_ARG, "gamma must be in [0, 1], got %g", gamma);
  if (lpdm_cfg_int(cfg, "episodes_per_update") < 1)
    return lpdm_error(ctx, LPDM_ERR_ARG, "episodes_per_update must be >= 1");
  if (lpdm_cfg_num(cfg, "steps") < 1) return lpdm_error(ctx, LPDM_ERR_ARG, "steps must be >= 1");
  const char *lrk[] = {"lr", "head_lr", "local_lr", "value_lr", "log_std_lr"};
  for (int i = 0; i < 5; i++)
    if (!(lpdm_cfg_num(cfg, lrk[i]) >= 0)) return lpdm_error(ctx, LPDM_ERR_ARG, "%s must be >= 0", lrk[i]);

  const char *gd = lpdm_cfg_str(cfg, "guide");
  if (strcmp(gd, "return") && strcmp(gd, "advantage"))
    return lpdm_error(ctx, LPDM_ERR_ARG, "guide must be return or advantage, got '%s'", gd);
  if (!strcmp(gd, "advantage") && !lpdm_cfg_bool(cfg, "baseline"))
    return lpdm_error(ctx, LPDM_ERR_ARG, "guide=advantage needs baseline=true (the advantage is G - V(s))");
  const int window = lpdm_cfg_int(cfg, "local_window");
  if (window < 0 || window == 1)
    return lpdm_error(ctx, LPDM_ERR_ARG, "local_window must be 0 (the update's episodes) or >= 2, got %d", window);
  if (window && !local)
    return lpdm_error(ctx, LPDM_ERR_ARG, "local_window is for mode=local: bp trains every layer on the update's batch");
  if (window && trunk_rule_bp_rates(setup->loss))
    return lpdm_error(ctx, LPDM_ERR_ARG,
                      "local_window is for distance-matching losses; loss '%s' is a learning rule that trains on the "
                      "update's own samples",
                      lpdm_plugin_short(&setup->loss->kind->head));

  rf *s = calloc(1, sizeof *s);
  if (!s) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  s->setup = *setup;
  s->local = local;
  s->gamma = gamma;
  s->entropy_coef = lpdm_cfg_num(cfg, "entropy_coef");
  s->normalize = lpdm_cfg_bool(cfg, "normalize_returns");
  s->episodes_per_update = lpdm_cfg_int(cfg, "episodes_per_update");
  s->guide_adv = !strcmp(lpdm_cfg_str(cfg, "guide"), "advantage");
  s->window = window;
  s->budget = (int64_t)lpdm_cfg_num(cfg, "steps");
  uint64_t seed = (uint64_t)(int64_t)lpdm_cfg_num(cfg, "seed");
  lpdm_rng_seed(&s->rng, seed);
  s->trunk = setup->policy;
  /* the env, reset with seed (it draws nothing from s->rng) */
  const vecenv_opts vo = {
      .norm_obs = lpdm_cfg_bool(cfg, "norm_obs"), .norm_reward = 0, .clip_obs = 10, .clip_reward = 1, .gamma = gamma};
  int rc = vecenv_new(ctx, setup->env_kind, setup->env_cfg, 1, seed, &vo, &s->venv);
  if (rc) goto fail;
  vecenv_sink(s->venv, setup->on_episode, setup->user, 0);
  const lpdm_env *env = s->venv->env[0];
  s->asp = &env->act_space;
  s->obs_dim = env->obs_space.dim;
  if (lpdm_net_in_dim(s->trunk) != s->obs_dim) {
    rc = lpdm_error(ctx, LPDM_ERR_ARG, "the policy takes %d inputs but %s observations have %d",
                    lpdm_net_in_dim(s->trunk), lpdm_plugin_short(&setup->env_kind->head), s->obs_dim);
    goto fail;
  }
  s->discrete = env->act_space.type == LPDM_SPACE_DISCRETE;
  s->nact = s->discrete ? env->act_space.n : env->act_space.dim;

  /* learning rates */
  int guided = local && setup->loss->kind->uses_guidance;
  double lr = lpdm_cfg_num(cfg, "lr"), head_lr = lpdm_cfg_num(cfg, "head_lr");
  double local_lr = lpdm_cfg_num(cfg, "local_lr"), value_lr = lpdm_cfg_num(cfg, "value_lr");
  if (lr == 0) lr = 1e-3;
  const int rule = local && trunk_rule_bp_rates(setup->loss); /* local heads, DFA, frozen: bp's rate */
  if (head_lr == 0) head_lr = rule ? lr : guided ? 3e-3 : 1e-2;
  if (local_lr == 0) local_lr = rule ? lr : guided ? 1e-3 : 1e-4;
  double plr = local ? head_lr : lr;
  if (value_lr == 0) value_lr = plr;
  double log_std_lr = lpdm_cfg_num(cfg, "log_std_lr");
  if (!(log_std_lr > 0)) log_std_lr = plr;
  { /* what the run reports (run.config, summary.json) is what it uses: bp
       trains the head and hidden layers at lr, so head_lr and local_lr
       record lr there */
    lpdm_config rcfg = *cfg;
    const char *rk[] = {"lr", "head_lr", "local_lr", "value_lr", "log_std_lr"};
    const double rv[] = {lr, plr, local ? local_lr : lr, value_lr, log_std_lr};
    for (int i = 0; i < 5; i++)
      if ((rc = lpdm_config_set_num(ctx, &rcfg, "algo.reinforce", rk[i], rv[i]))) goto fail;
    s->base.cfg = rcfg;
  }
  /* the hidden layers: bp trains them at lr, local at local_lr (keeping
     each layer's optimizer type and betas) */
  for (int i = 0; i < lpdm_net_depth(s->trunk); i++)
    if (!lpdm_net_lr_kept(s->trunk, i)) lpdm_optim_set_lr(lpdm_net_optim(s->trunk, i), local ? local_lr : lr);

  lpdm_optim_cfg hoc = lpdm_optim_default(LPDM_OPT_ADAM, plr);
  if ((rc = head_make(ctx, &s->head, lpdm_net_out_dim(s->trunk), s->nact, NULL, 1, &s->rng, &hoc))) goto fail;
  if (s->discrete && lpdm_cfg_bool(cfg, "squash_mean")) {
    rc = lpdm_error(ctx, LPDM_ERR_ARG, "squash_mean is for Box actions, and %s's are Discrete",
                    lpdm_plugin_short(&setup->env_kind->head));
    goto fail;
  }
  if (!s->discrete) {
    s->squash = lpdm_cfg_bool(cfg, "squash_mean");
    const lpdm_space *sp = s->asp;
    for (int i = 0; s->squash && i < s->nact; i++)
      if (!isfinite(sp->low[i]) || !isfinite(sp->high[i]) || !(sp->high[i] > sp->low[i])) {
        rc = lpdm_error(ctx, LPDM_ERR_ARG, "squash_mean needs a finite action range, but %s's action %d has [%g, %g]",
                        lpdm_plugin_short(&setup->env_kind->head), i, sp->low[i], sp->high[i]);
        goto fail;
      }
    lpdm_optim_cfg oc = lpdm_optim_default(LPDM_OPT_ADAM, log_std_lr);
    if ((rc = gauss_std_new(ctx, s->nact, lpdm_cfg_num(cfg, "log_std_init"), &oc, &s->ls))) goto fail;
  }
  if (lpdm_cfg_bool(cfg, "baseline")) {
    if (setup->value) {
      s->vtrunk = setup->value;
      for (int i = 0; i < lpdm_net_depth(s->vtrunk); i++)
        if (!lpdm_net_lr_kept(s->vtrunk, i))
          lpdm_optim_set_lr(lpdm_net_optim(s->vtrunk, i), local ? local_lr : value_lr);
    } else {
      if ((rc = algo_trunk_twin(ctx, s->trunk, seed, ALGO_SALT_CRITIC, &s->vtrunk))) goto fail;
      s->own_vtrunk = 1;
      for (int i = 0; i < lpdm_net_depth(s->vtrunk); i++)
        if (!lpdm_net_lr_kept(s->vtrunk, i))
          lpdm_optim_set_lr(lpdm_net_optim(s->vtrunk, i), local ? local_lr : value_lr);
    }
    lpdm_optim_cfg voc = lpdm_optim_default(LPDM_OPT_ADAM, value_lr);
    if ((rc = head_make(ctx, &s->vhead, lpdm_net_out_dim(s->vtrunk), 1, NULL, 1, &s->rng, &voc))) goto fail;
  }
  if (local && ((rc = trunk_rule_new(ctx, setup->distance, setup->loss, s->trunk, s->nact, (uint64_t)seed, "policy",
                                     &s->rule)) ||
                (s->vtrunk && (rc = trunk_rule_new(ctx, setup->distance, setup->loss, s->vtrunk, 1, (uint64_t)seed,
                                                   "value", &s->vrule)))))
    goto fail;
  const int depth = lpdm_net_depth(s->trunk), vdepth = s->vtrunk ? lpdm_net_depth(s->vtrunk) : 0;
  s->ll = calloc((size_t)(depth ? depth : 1), sizeof *s->ll);
  s->vll = calloc((size_t)(vdepth ? vdepth : 1), sizeof *s->vll);
  if (!s->ll || !s->vll) {
    rc = lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
    goto fail;
  }
  if ((rc = fgrow(ctx, &s->feat1, (size_t)lpdm_net_out_dim(s->trunk))) || (rc = fgrow(ctx, &s->out1, (size_t)s->nact)) ||
      (rc = fgrow(ctx, &s->oact, (size_t)s->obs_dim)))
    goto fail;
  if (window && ((rc = fgrow(ctx, &s->WX, (size_t)window * s->obs_dim)) || (rc = fgrow(ctx, &s->WG, (size_t)window)) ||
                 (rc = fgrow(ctx, &s->WGa, (size_t)window))))
    goto fail;
  *out = &s->base;
  return LPDM_OK;
fail:
  rf_free(&s->base);
  return rc;
}

/* pi(.|s) for one observation: fills s->out1 (logits or mean). */
static int policy_out(rf *s, lpdm_ctx *ctx, const float *obs) {
  int rc = lpdm_net_forward(s->trunk, ctx, obs, 1, s->feat1.p);
  if (!rc) rc = lpdm_net_forward(s->head, ctx, s->feat1.p, 1, s->out1.p);
  const lpdm_space *sp = s->asp;
  if (!rc && s->squash)
    for (int i = 0; i < s->nact; i++) s->out1.p[i] = (float)head_squash(s->out1.p[i], sp->low[i], sp->high[i]);
  return rc;
}

/* Runs one whole episode (or until the budget), appending to the batch. */
static int run_episode(rf *s, lpdm_ctx *ctx, int *finished) {
  *finished = 0;
  int od = s->obs_dim, na = s->nact;
  double act[64];
  double *a = na <= 64 ? act : NULL;
  if (!a) return lpdm_error(ctx, LPDM_ERR_ARG, "more than 64 action dimensions");
  while (s->global_step < s->budget) {
    int rc;
    if ((rc = fgrow(ctx, &s->X, (s->T + 1) * od)) || (rc = fgrow(ctx, &s->A, (s->T + 1) * na)) ||
        (rc = fgrow(ctx, &s->R, s->T + 1)))
      return rc;
    float *obs = s->venv->obs;
    memcpy(s->X.p + s->T * od, obs, (size_t)od * sizeof(float));
    if ((rc = policy_out(s, ctx, obs))) return rc;
    if (s->discrete) {
      int k = cat_sample(&s->rng, s->out1.p, s->nact);
      s->A.p[s->T] = (float)k;
      a[0] = k;
    } else { /* the env gets the draw clipped to the box, the batch the draw as a float */
      s->mu_n += na;
      gauss_draw(&s->rng, s->out1.p, s->ls->log_std, na, a);
      for (int i = 0; i < na; i++) {
        s->mu_abs += fabs(s->out1.p[i]);
        s->A.p[s->T * na + i] = (float)a[i];
        a[i] = box_clip(s->asp, i, a[i]);
      }
    }
    double r;
    int term, trunc;
    if ((rc = vecenv_step(s->venv, ctx, 0, a, obs, &r, &term, &trunc))) return rc;
    s->R.p[s->T] = (float)r;
    s->T++;
    s->global_step++;
    if (term || trunc) {
      *finished = 1;
      return vecenv_end_episode(s->venv, ctx, 0, s->global_step, obs);
    }
  }
  return LPDM_OK;
}

typedef int (*rf_grad_fn)(rf *, lpdm_ctx *, const float *, int, float *, double *);
/* A loss (policy_grad, value_grad) as the rule's objective (lib/rule.h). */
typedef struct rf_objective {
  rf *s;
  rf_grad_fn fn;
} rf_objective;
static int objective(void *arg, const algo_targets *t, const float *out, float *dout, double *L, lpdm_ctx *ctx) {
  const rf_objective *o = arg;
  return o->fn(o->s, ctx, out, t->B, dout, L);
}

/* Trains trunk+head on batch X (B rows) so that head(trunk(X)) follows the
   output gradient computed by grad_fn. In local mode the trunk is trained by
   its rule first (trunk_features: LPDM guided by g, local heads on grad_fn's
   loss), and the head learns on the detached features; a rule that needs
   the head's error (feedback alignment) takes it after grad_fn. */
static int update_net(rf *s, lpdm_ctx *ctx, lpdm_net *trunk, lpdm_net *head, trunk_rule *rule, int B, const float *g,
                      const float *wg, rf_grad_fn grad_fn, double *loss_out, double *local_losses) {
  const float *feat, *out;
  int rc, F = lpdm_net_out_dim(trunk), O = lpdm_net_out_dim(head);
  rf_objective obj = {s, grad_fn};
  /* local: a one-step episode has no pairs to match, and gets the features
     without an update (the rule's min_batch) into V */
  if ((rc = fgrow(ctx, &s->dlogits, (size_t)B * O))) return rc;
  const algo_targets t = {.B = B,
                          .g = g,
                          .act = s->A.p,
                          .na = s->discrete ? 1 : s->nact,
                          .ret = s->G.p,
                          .dout = s->dlogits.p,
                          .dout_dim = O,
                          .objective = objective,
                          .objective_arg = &obj};
  const int after = s->local && rule && rule->vt->needs_head_error;
  const int win = s->local && rule && s->window; /* distance matching on the window, the head on the batch */
  const int mode = !s->local ? LPDM_FEAT_BP : after || win ? LPDM_FEAT_FROZEN : LPDM_FEAT_LOCAL;
  if (s->local && (rc = fgrow(ctx, &s->V, (size_t)B * F))) return rc;
  if (win && s->wn >= rule->min_batch) {
    const algo_targets tw = {.B = s->wn, .g = wg};
    const float *Y;
    if ((rc = trunk_rule_update(rule, trunk, ctx, s->WX.p, s->wn, &tw, &Y, local_losses))) return rc;
  }
  if ((rc = trunk_features(trunk, ctx, mode, rule, s->X.p, B, &t, s->V.p, &feat, local_losses))) return rc;
  if ((rc = lpdm_net_train_forward_ref(head, ctx, feat, B, &out))) return rc; /* feat holds until backward */
  if ((rc = grad_fn(s, ctx, out, B, s->dlogits.p, loss_out))) return rc;
  if (after && B >= rule->min_batch) { /* dL/dout, before the head's backward may overwrite it */
    const float *Y;
    if ((rc = trunk_rule_update(rule, trunk, ctx, s->X.p, B, &t, &Y, local_losses))) return rc;
  }
  lpdm_net_zero_grad(head);
  if (s->local) {
    if ((rc = lpdm_net_backward(head, ctx, s->dlogits.p, NULL))) return rc;
    return lpdm_net_step(head, ctx, 1.0f);
  }
  if ((rc = fgrow(ctx, &s->dV, (size_t)B * F))) return rc;
  lpdm_net_zero_grad(trunk);
  if ((rc = lpdm_net_backward(head, ctx, s->dlogits.p, s->dV.p))) return rc;
  if ((rc = lpdm_net_backward(trunk, ctx, s->dV.p, NULL))) return rc;
  if ((rc = lpdm_net_step(head, ctx, 1.0f))) return rc;
  return lpdm_net_step(trunk, ctx, 1.0f);
}

/* Policy loss -1/B sum w_t log pi(a_t|s_t) - c * entropy, and its gradient. */
static int policy_grad(rf *s, lpdm_ctx *ctx, const float *out, int B, float *d, double *loss) {
  const float *w = s->W.p;
  double L = 0, ent = 0;
  int na = s->nact;
  const double c = s->entropy_coef;
  if (s->discrete) {
    for (int t = 0; t < B; t++) {
      const float *z = out + (size_t)t * na;
      float *dz = d + (size_t)t * na;
      const int a = (int)s->A.p[t];
      double H;
      const double lpa = cat_logp(z, na, a, &H), lse = cat_lse(z, na);
      L -= w[t] * lpa;
      ent += H;
      for (int i = 0; i < na; i++) {
        double p = exp(z[i] - lse), lp = z[i] - lse;
        /* d(-w log p_a)/dz_i = w (p_i - [i==a]);  d(-c H)/dz_i = c p_i (log p_i + H) */
        dz[i] = (float)((w[t] * (p - (i == a)) + c * p * (lp + H)) / B);
      }
    }
  } else {
    const lpdm_space *sp = s->asp;
    const float *log_std = s->ls->log_std;
    float *glog_std = s->ls->grad;
    for (int i = 0; i < na; i++) glog_std[i] = 0;
    for (int t = 0; t < B; t++) {
      const float *z = out + (size_t)t * na; /* the head's outputs: mu, or squashed to it */
      float *dm = d + (size_t)t * na;
      for (int i = 0; i < na; i++) {
        /* a float, as the head's output: A - mu is a float difference, as it always was */
        float mu = s->squash ? (float)head_squash(z[i], sp->low[i], sp->high[i]) : z[i];
        double sd = exp(log_std[i]), x = (s->A.p[(size_t)t * na + i] - mu) / sd;
        double lp = -0.5 * x * x - log_std[i] - 0.5 * log(2 * M_PI);
        L -= w[t] * lp;
        dm[i] = (float)(-w[t] * x / sd / B * (s->squash ? head_squash_grad(z[i], sp->low[i], sp->high[i]) : 1));
        glog_std[i] += (float)((w[t] * (1 - x * x) - c) / B);
      }
    }
    for (int i = 0; i < na; i++) ent += B * (0.5 + 0.5 * log(2 * M_PI) + log_std[i]);
  }
  *loss = L / B - c * ent / B;
  return LPDM_OK;
}

static int value_grad(rf *s, lpdm_ctx *ctx, const float *out, int B, float *d, double *loss) {
  double L = 0;
  for (int t = 0; t < B; t++) {
    double e = out[t] - s->G.p[t];
    L += e * e;
    d[t] = (float)(2 * e / B);
  }
  *loss = L / B;
  return LPDM_OK;
}

/* local_window: the batch's B states (with G and G - V(s)) join the
   window, which keeps the last `window` of them, oldest first. */
static void window_add(rf *s, int B) {
  const size_t od = (size_t)s->obs_dim, N = (size_t)s->window;
  const size_t nb = (size_t)B < N ? (size_t)B : N, b0 = (size_t)B - nb; /* the batch's rows that enter */
  const size_t keep = (size_t)s->wn + nb > N ? N - nb : (size_t)s->wn, drop = (size_t)s->wn - keep;
  memmove(s->WX.p, s->WX.p + drop * od, keep * od * sizeof(float));
  memmove(s->WG.p, s->WG.p + drop, keep * sizeof(float));
  memcpy(s->WX.p + keep * od, s->X.p + b0 * od, nb * od * sizeof(float));
  memcpy(s->WG.p + keep, s->G.p + b0, nb * sizeof(float));
  if (s->guide_adv) { /* G - V(s) is kept, and read, only under advantage guidance */
    memmove(s->WGa.p, s->WGa.p + drop, keep * sizeof(float));
    memcpy(s->WGa.p + keep, s->Ga.p + b0, nb * sizeof(float));
  }
  s->wn = (int)(keep + nb);
}

static int rf_iterate(lpdm_algo *a, lpdm_figures *st, lpdm_ctx *ctx) {
  rf *s = (rf *)a;
  if (s->global_step >= s->budget) return LPDM_DONE;
  s->T = 0;
  s->mu_abs = s->mu_n = 0;
  size_t done_T = 0; /* steps belonging to finished episodes */
  int eps = 0, rc, fin;
  while (eps < s->episodes_per_update && s->global_step < s->budget) {
    size_t t0 = s->T;
    if ((rc = run_episode(s, ctx, &fin)))
      return lpdm_ctx_prefix(ctx, rc, "rollout of update %d (env step %lld)", s->iteration + 1,
                             (long long)s->global_step + 1);
    if (!fin) break; /* the budget ran out inside an episode: drop its tail */
    eps++;
    /* discounted returns-to-go of the episode [t0, T) */
    if ((rc = fgrow(ctx, &s->G, s->T)) || (rc = fgrow(ctx, &s->W, s->T))) return rc;
    double G = 0;
    for (size_t t = s->T; t-- > t0;) {
      G = s->R.p[t] + s->gamma * G;
      s->G.p[t] = (float)G;
    }
    done_T = s->T;
  }
  if (eps == 0) return LPDM_DONE;
  int B = (int)done_T;
  s->iteration++;
  double vloss = 0, ploss = 0;
  const int depth = lpdm_net_depth(s->trunk);
  for (int i = 0; i < depth; i++) s->ll[i] = 0;
  /* the weights: G, minus the baseline, standardised */
  if (s->vhead) {
    const int F = lpdm_net_out_dim(s->vtrunk);
    if ((rc = fgrow(ctx, &s->V, (size_t)B * F)) || (rc = fgrow(ctx, &s->dV, (size_t)B)) ||
        (rc = lpdm_net_forward(s->vtrunk, ctx, s->X.p, B, s->V.p)) ||
        (rc = lpdm_net_forward(s->vhead, ctx, s->V.p, B, s->dV.p)))
      return rc;
    for (int t = 0; t < B; t++) s->W.p[t] = s->G.p[t] - s->dV.p[t];
    if (s->guide_adv) { /* the policy's local guidance: the raw advantage, before the standardisation */
      if ((rc = fgrow(ctx, &s->Ga, (size_t)B))) return rc;
      memcpy(s->Ga.p, s->W.p, (size_t)B * sizeof(float));
    }
  } else
    memcpy(s->W.p, s->G.p, (size_t)B * sizeof(float));
  if (s->normalize && B > 1) {
    double m = 0, v = 0;
    for (int t = 0; t < B; t++) m += s->W.p[t];
    m /= B;
    for (int t = 0; t < B; t++) v += (s->W.p[t] - m) * (s->W.p[t] - m);
    double sd = sqrt(v / (B - 1));
    for (int t = 0; t < B; t++) s->W.p[t] = (float)((s->W.p[t] - m) / (sd + 1e-8));
  }
  if (s->ls) lpdm_optim_zero(s->ls->opt);
  if (s->window) window_add(s, B);
  if ((rc = update_net(s, ctx, s->trunk, s->head, s->rule, B, s->guide_adv ? s->Ga.p : s->G.p,
                       s->guide_adv ? s->WGa.p : s->WG.p, policy_grad, &ploss, s->ll)))
    return lpdm_ctx_prefix(ctx, rc, "policy update %d", s->iteration);
  if (s->ls && (rc = lpdm_optim_step(s->ls->opt, ctx, 1.0f))) return rc;
  if (s->vhead &&
      (rc = update_net(s, ctx, s->vtrunk, s->vhead, s->vrule, B, s->G.p, s->WG.p, value_grad, &vloss, s->vll)))
    return lpdm_ctx_prefix(ctx, rc, "baseline update %d", s->iteration);
  rc = lpdm_figures_set(st, "global_step", (double)s->global_step);
  if (!rc) rc = lpdm_figures_set(st, "batch_size", B);
  if (!rc && s->window) rc = lpdm_figures_set(st, "local_batch_size", s->wn);
  if (!rc) rc = lpdm_figures_set(st, "loss_policy", ploss);
  if (!rc && s->vhead) rc = lpdm_figures_set(st, "loss_value", vloss);
  for (int i = 0; !rc && s->local && i < depth; i++) rc = lpdm_figures_setf(st, s->ll[i], "local_loss_%d", i + 1);
  if (!rc && !s->discrete) rc = gauss_figures(st, s->ls->log_std, s->nact, s->mu_abs, s->mu_n);
  return rc ? lpdm_error(ctx, rc, "update %d: cannot record its figures", s->iteration) : LPDM_OK;
}

static int rf_act(lpdm_algo *a, const float *obs, double *action, lpdm_ctx *ctx) {
  rf *s = (rf *)a;
  if (s->venv->o.norm_obs) { /* the run's moments, not updated by acting */
    vecenv_norm_frozen(s->venv, 0, obs, s->oact.p);
    obs = s->oact.p;
  }
  int rc = policy_out(s, ctx, obs);
  if (rc) return rc;
  if (s->discrete)
    action[0] = cat_argmax(s->out1.p, s->nact);
  else
    for (int i = 0; i < s->nact; i++) action[i] = s->out1.p[i];
  return LPDM_OK;
}

/* Checkpoints: between iterations the batch buffers are empty and the env
   sits at the start of an episode (or inside one cut by the budget), so the
   nets with their optimizers, the log-std, the generator, the counters, the
   current observation and the env's own state are everything. */
static int rf_save(lpdm_algo *a, lpdm_st *st, lpdm_ctx *ctx) {
  rf *s = (rf *)a;
  const vecenv *v = s->venv;
  int64_t n[3] = {s->global_step, s->iteration, v->ep_len[0]};
  int rc = lpdm_net_save(s->trunk, ctx, st, "policy", 1);
  if (!rc) rc = lpdm_net_save(s->head, ctx, st, "policy_head", 1);
  if (!rc && s->vhead) rc = lpdm_net_save(s->vtrunk, ctx, st, "value", 1);
  if (!rc && s->vhead) rc = lpdm_net_save(s->vhead, ctx, st, "value_head", 1);
  if (!rc && s->ls) rc = gauss_std_save(s->ls, ctx, st);
  if (!rc) rc = lpdm_state_put_rng(st, ctx, "algo", "rng", &s->rng);
  if (!rc) rc = lpdm_state_put_i64(st, ctx, "algo", "counters", n, 3);
  if (!rc) rc = lpdm_state_put_f64(st, ctx, "algo", "episode_return", v->ep_ret, 1);
  if (!rc) rc = lpdm_state_put_f32(st, ctx, "algo", "obs", v->obs, (size_t)s->obs_dim);
  if (!rc) rc = lpdm_env_save(v->env[0], ctx, st, "env");
  if (!rc) rc = trunk_rule_save(s->rule, ctx, st, "algo.rule.policy");
  if (!rc) rc = trunk_rule_save(s->vrule, ctx, st, "algo.rule.value");
  if (!rc && v->o.norm_obs) rc = lpdm_state_put_f64(st, ctx, "algo", "obs_mean", v->om, s->obs_dim);
  if (!rc && v->o.norm_obs) rc = lpdm_state_put_f64(st, ctx, "algo", "obs_var", v->ov, s->obs_dim);
  if (!rc && v->o.norm_obs) rc = lpdm_state_put_f64(st, ctx, "algo", "obs_count", v->oc, 1);
  if (s->window) {
    const int64_t wn = s->wn;
    if (!rc) rc = lpdm_state_put_i64(st, ctx, "algo", "window_rows", &wn, 1);
    if (!rc && wn) rc = lpdm_state_put_f32(st, ctx, "algo", "window_obs", s->WX.p, (size_t)wn * s->obs_dim);
    if (!rc && wn) rc = lpdm_state_put_f32(st, ctx, "algo", "window_g", s->WG.p, (size_t)wn);
    if (!rc && wn && s->guide_adv) rc = lpdm_state_put_f32(st, ctx, "algo", "window_ga", s->WGa.p, (size_t)wn);
  }
  return rc;
}

static int rf_load(lpdm_algo *a, const lpdm_st *st, lpdm_ctx *ctx) {
  rf *s = (rf *)a;
  int64_t n[3];
  double ret;
  int rc = lpdm_state_get_i64(st, ctx, "algo", "counters", n, 3);
  if (!rc && (n[0] < 0 || n[0] > s->budget || n[1] < 0 || n[1] > INT32_MAX || n[2] < 0 || n[2] > INT32_MAX))
    rc = lpdm_error(ctx, LPDM_ERR_IO, "checkpoint: algo.counters out of range for this run (step %lld of %lld)",
                    (long long)n[0], (long long)s->budget);
  if (!rc) rc = lpdm_state_get_f64(st, ctx, "algo", "episode_return", &ret, 1);
  if (!rc) rc = lpdm_net_load(s->trunk, ctx, st, "policy", 1);
  if (!rc) rc = lpdm_net_load(s->head, ctx, st, "policy_head", 1);
  if (!rc && s->vhead) rc = lpdm_net_load(s->vtrunk, ctx, st, "value", 1);
  if (!rc && s->vhead) rc = lpdm_net_load(s->vhead, ctx, st, "value_head", 1);
  if (!rc && s->ls) rc = gauss_std_load(s->ls, ctx, st);
  if (!rc) rc = lpdm_state_get_rng(st, ctx, "algo", "rng", &s->rng);
  vecenv *v = s->venv;
  if (!rc) rc = lpdm_state_get_f32(st, ctx, "algo", "obs", v->obs, (size_t)s->obs_dim);
  if (!rc) rc = lpdm_env_load(v->env[0], ctx, st, "env");
  if (!rc) rc = trunk_rule_load(s->rule, ctx, st, "algo.rule.policy");
  if (!rc) rc = trunk_rule_load(s->vrule, ctx, st, "algo.rule.value");
  if (!rc && v->o.norm_obs) {
    const int od = s->obs_dim;
    rc = lpdm_state_get_f64(st, ctx, "algo", "obs_mean", v->om, od);
    if (!rc) rc = lpdm_state_get_f64(st, ctx, "algo", "obs_var", v->ov, od);
    if (!rc) rc = lpdm_state_get_f64(st, ctx, "algo", "obs_count", v->oc, 1);
    int bad = !rc && !(v->oc[0] >= 0 && isfinite(v->oc[0]));
    for (int i = 0; !rc && i < od; i++) bad |= !(v->ov[i] >= 0 && isfinite(v->ov[i])) || !isfinite(v->om[i]);
    if (bad) rc = lpdm_error(ctx, LPDM_ERR_IO, "checkpoint: algo.obs_mean, obs_var or obs_count is negative or not finite");
  }
  int64_t wn = 0;
  if (!rc && s->window) {
    rc = lpdm_state_get_i64(st, ctx, "algo", "window_rows", &wn, 1);
    if (!rc && (wn < 0 || wn > s->window))
      rc = lpdm_error(ctx, LPDM_ERR_IO, "checkpoint: algo.window_rows is %lld, outside [0, local_window = %d]",
                      (long long)wn, s->window);
    if (!rc && wn) rc = lpdm_state_get_f32(st, ctx, "algo", "window_obs", s->WX.p, (size_t)wn * s->obs_dim);
    if (!rc && wn) rc = lpdm_state_get_f32(st, ctx, "algo", "window_g", s->WG.p, (size_t)wn);
    if (!rc && wn && s->guide_adv) rc = lpdm_state_get_f32(st, ctx, "algo", "window_ga", s->WGa.p, (size_t)wn);
  }
  if (rc) return rc;
  s->wn = (int)wn;
  s->global_step = n[0];
  s->iteration = (int)n[1];
  v->ep_len[0] = (int)n[2];
  v->ep_ret[0] = ret;
  return LPDM_OK;
}

/* The policy file: what rf_act computes (docs/policy.md). */
static int rf_export_policy(lpdm_algo *a, lpdm_st *st, lpdm_ctx *ctx) {
  rf *s = (rf *)a;
  const policy_parts pp = {.algo = "reinforce",
                           .distribution = s->discrete ? "categorical" : "gaussian",
                           .setup = &s->setup,
                           .env = s->venv->env[0],
                           .trunk = s->trunk,
                           .head = s->head,
                           .log_std = s->ls ? s->ls->log_std : NULL,
                           .squash_mean = s->squash,
                           .venv = s->venv};
  return policy_export(&pp, st, ctx);
}

static const lpdm_algo_kind reinforce_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_ALGO, "algo.reinforce", "REINFORCE (Monte-Carlo policy gradient), bp or local",
                             keys),
    .create = rf_create,
    .iterate = rf_iterate,
    .free = rf_free,
    .act = rf_act,
    .save = rf_save,
    .load = rf_load,
    .export_policy = rf_export_policy,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_reinforce(void) { return &reinforce_kind.head; }
