/* SPDX-License-Identifier: MIT */
/*
** ppo/research.c -- PPO's local-learning research options (issue 7,
** measured in docs/local-learning.md; none is a default), kept apart from
** the algorithm so that ppo.c reads as PPO:
**
**   rates        local_lr / actor_local_lr / critic_local_lr and the
**                per-layer lists actor_local_lrs / critic_local_lrs (a rate
**                the user set on a layer, lpdm_net_keep_lr, is kept); the
**                heads at head_lr, annealed only with head_anneal
**   losses       actor_alpha / critic_alpha: each net's own copy of the
**                local loss with that alpha; guide_anneal: alpha decays
**                linearly to 0 over the run
**   guidance     actor_guide = signed (A times the centred action index),
**                critic_guide = val (the rollout's values), and guide =
**                clip / rank transforms of the signal
**   schedule     head_epochs (extra epochs training only the heads) and
**                local_batch = rollout (one local step per epoch on the
**                whole rollout) or once (one before the first epoch, the
**                trunks then fixed)
**   features     feature_norm: each head's input standardised by running
**                moments (both modes)
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ppo/ppo.h"

/* ------------------------------------------------------------ rates */

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

/* The hidden layers' rates: local mode local_lr (0: 3e-4) and the per-net
   keys; bp learning_rate, except where the user set a layer's rate. */
int ppo_rates_init(ppo *s, const lpdm_config *cfg, lpdm_ctx *ctx, double eps) {
  double base_local = lpdm_cfg_num(cfg, "local_lr");
  if (base_local == 0) base_local = s->rule ? s->lr : 3e-4; /* issue 7: docs/local-learning.md */
  int rc;
  if ((rc = resolve_rates(ctx, cfg, s->trunk, "actor", s->local ? base_local : s->lr, &s->trunk_lr)) ||
      (rc = resolve_rates(ctx, cfg, s->vtrunk, "critic", s->local ? base_local : s->lr, &s->vtrunk_lr)))
    return rc;
  if (!s->local) { /* bp: learning_rate, except where the user set a layer's rate */
    for (int i = 0; i < lpdm_net_depth(s->trunk); i++)
      if (!lpdm_net_lr_kept(s->trunk, i)) s->trunk_lr[i] = s->lr;
    for (int i = 0; i < lpdm_net_depth(s->vtrunk); i++)
      if (!lpdm_net_lr_kept(s->vtrunk, i)) s->vtrunk_lr[i] = s->lr;
  }
  if ((rc = set_rates(s->trunk, ctx, s->trunk_lr, eps))) return rc;
  return set_rates(s->vtrunk, ctx, s->vtrunk_lr, eps);
}

/* The values the run uses, written into its reported config over the 0 / -1
   placeholders (after ppo_rates_init and ppo_research_init): the heads'
   rate, each net's hidden-layer rate (bp: learning_rate), each net's alpha
   (0 without a reward term). The per-layer lists stay as given: a layer
   whose rate the user set keeps its own, which the list does not show. */
int ppo_record_resolved(ppo *s, const lpdm_config *cfg, lpdm_ctx *ctx) {
  lpdm_config *rc_ = &s->base.cfg;
  const char *self = "algo.ppo";
  double base = s->local ? lpdm_cfg_num(cfg, "local_lr") : s->lr;
  if (s->local && base == 0) base = s->rule ? s->lr : 3e-4; /* as ppo_rates_init */
  double a_lr = s->local ? lpdm_cfg_num(cfg, "actor_local_lr") : s->lr;
  double c_lr = s->local ? lpdm_cfg_num(cfg, "critic_local_lr") : s->lr;
  if (a_lr == 0) a_lr = base;
  if (c_lr == 0) c_lr = base;
  const lpdm_loss *ls[2] = {s->x.aloss ? s->x.aloss : s->setup.loss, s->x.closs ? s->x.closs : s->setup.loss};
  double alpha[2];
  for (int k = 0; k < 2; k++)
    alpha[k] = s->local && ls[k] && lpdm_config_index(&ls[k]->cfg, "alpha") >= 0 && ls[k]->kind->uses_guidance
                   ? lpdm_cfg_num(&ls[k]->cfg, "alpha")
                   : 0;
  const char *key[] = {"head_lr", "local_lr", "actor_local_lr", "critic_local_lr", "actor_alpha", "critic_alpha"};
  const double val[] = {s->head_lr, base, a_lr, c_lr, alpha[0], alpha[1]};
  for (int i = 0; i < 6; i++) {
    int rc = lpdm_config_set_num(ctx, rc_, self, key[i], val[i]);
    if (rc) return rc;
  }
  return LPDM_OK;
}

/* Every rate at frac of its base (anneal_lr); local heads keep theirs
   unless head_anneal. */
void ppo_set_all_rates(ppo *s, double frac) {
  for (int i = 0; i < lpdm_net_depth(s->trunk); i++)
    lpdm_optim_set_lr(lpdm_net_optim(s->trunk, i), s->trunk_lr[i] * frac);
  for (int i = 0; i < lpdm_net_depth(s->vtrunk); i++)
    lpdm_optim_set_lr(lpdm_net_optim(s->vtrunk, i), s->vtrunk_lr[i] * frac);
  const double hf = s->local && !s->x.head_anneal ? 1.0 : frac;
  lpdm_optim_set_lr(lpdm_net_optim(s->head, 0), s->head_lr * hf);
  lpdm_optim_set_lr(lpdm_net_optim(s->vhead, 0), s->head_lr * hf);
  if (s->ls) lpdm_optim_set_lr(s->ls->opt, s->head_lr * hf);
}

/* ------------------------------------------------------------ options */

void ppo_research_free(ppo_research *x) {
  if (x->aloss) lpdm_loss_free(x->aloss);
  if (x->closs) lpdm_loss_free(x->closs);
  fbuf *bs[] = {&x->ga, &x->gc, &x->gs, &x->nfeat, &x->nvfeat, &x->bfeat, &x->dls};
  for (size_t i = 0; i < sizeof bs / sizeof *bs; i++) free(bs[i]->p);
  void *ps[] = {x->rk_a, x->rk_c, x->fm_a, x->fv_a, x->fm_c, x->fv_c};
  for (size_t i = 0; i < sizeof ps / sizeof *ps; i++) free(ps[i]);
}

#define OOM lpdm_error(ctx, LPDM_ERR_MEM, "out of memory")

/* Reads and checks the options, and sizes their buffers (after the nets,
   rates and env copies exist). */
int ppo_research_init(ppo *s, const lpdm_config *cfg, lpdm_ctx *ctx) {
  ppo_research *x = &s->x;
  const lpdm_algo_setup *setup = &s->setup;
  const int local = s->local, B = s->B;
  const int F = lpdm_net_out_dim(s->trunk), VF = lpdm_net_out_dim(s->vtrunk);
  int rc;
  x->fnorm = lpdm_cfg_bool(cfg, "feature_norm");
  x->fn_beta = lpdm_cfg_num(cfg, "feature_norm_momentum");
  if (x->fnorm) {
    if (!(x->fn_beta > 0 && x->fn_beta <= 1))
      return lpdm_error(ctx, LPDM_ERR_ARG, "feature_norm_momentum must be in (0, 1], got %g", x->fn_beta);
    x->fm_a = calloc((size_t)F, sizeof(float));
    x->fv_a = malloc((size_t)F * sizeof(float));
    x->fm_c = calloc((size_t)VF, sizeof(float));
    x->fv_c = malloc((size_t)VF * sizeof(float));
    if (!x->fm_a || !x->fv_a || !x->fm_c || !x->fv_c) return OOM;
    for (int i = 0; i < F; i++) x->fv_a[i] = 1;
    for (int i = 0; i < VF; i++) x->fv_c[i] = 1;
    if ((rc = fgrow(ctx, &x->nfeat, (size_t)s->M * F)) || (rc = fgrow(ctx, &x->nvfeat, (size_t)s->M * VF)) ||
        (rc = fgrow(ctx, &x->bfeat, (size_t)B * (F > VF ? F : VF))))
      return rc;
  }
  const char *an[2] = {"actor_alpha", "critic_alpha"};
  lpdm_loss **dst[2] = {&x->aloss, &x->closs};
  for (int k = 0; k < 2; k++) {
    double a = lpdm_cfg_num(cfg, an[k]);
    if (a == -1 || !local) continue;
    if (!(a >= 0 && a <= 1))
      return lpdm_error(ctx, LPDM_ERR_ARG, "%s must be in [0, 1] (or -1: the loss's own), got %g", an[k], a);
    if (lpdm_config_index(&setup->loss->cfg, "alpha") < 0)
      return lpdm_error(ctx, LPDM_ERR_ARG, "%s: the loss %s has no alpha", an[k], setup->loss->kind->head.name);
    lpdm_config lc = setup->loss->cfg;
    if ((rc = lpdm_config_set_num(ctx, &lc, setup->loss->kind->head.name, "alpha", a)) ||
        (rc = lpdm_loss_new(ctx, setup->loss->kind, &lc, dst[k])))
      return rc;
  }
  x->guide_anneal = local && lpdm_cfg_bool(cfg, "guide_anneal");
  if (x->guide_anneal) { /* own instances for both nets, whose alpha the updates lower */
    if (lpdm_config_index(&setup->loss->cfg, "alpha") < 0)
      return lpdm_error(ctx, LPDM_ERR_ARG, "guide_anneal: the loss %s has no alpha", setup->loss->kind->head.name);
    for (int k = 0; k < 2; k++) {
      if (!*dst[k] && (rc = lpdm_loss_new(ctx, setup->loss->kind, &setup->loss->cfg, dst[k]))) return rc;
      x->alpha0[k] = lpdm_cfg_num(&(*dst[k])->cfg, "alpha");
    }
  }
  const char *gd = lpdm_cfg_str(cfg, "guide");
  x->guide = !strcmp(gd, "raw") ? 0 : !strcmp(gd, "clip") ? 1 : !strcmp(gd, "rank") ? 2 : -1;
  if (x->guide < 0) return lpdm_error(ctx, LPDM_ERR_ARG, "guide must be raw, clip or rank, got '%s'", gd);
  x->guide_clip = lpdm_cfg_num(cfg, "guide_clip");
  if (!(x->guide_clip > 0)) return lpdm_error(ctx, LPDM_ERR_ARG, "guide_clip must be > 0, got %g", x->guide_clip);
  x->head_epochs = lpdm_cfg_int(cfg, "head_epochs");
  if (x->head_epochs < 0) return lpdm_error(ctx, LPDM_ERR_ARG, "head_epochs must be >= 0, got %d", x->head_epochs);
  x->head_anneal = lpdm_cfg_bool(cfg, "head_anneal");
  const char *lb = lpdm_cfg_str(cfg, "local_batch");
  if (strcmp(lb, "minibatch") && strcmp(lb, "rollout") && strcmp(lb, "once"))
    return lpdm_error(ctx, LPDM_ERR_ARG, "local_batch must be minibatch, rollout or once, got '%s'", lb);
  x->rollout_once = !strcmp(lb, "once");
  x->rollout_local = x->rollout_once || !strcmp(lb, "rollout");
  const char *ag = lpdm_cfg_str(cfg, "actor_guide");
  if (strcmp(ag, "adv") && strcmp(ag, "signed"))
    return lpdm_error(ctx, LPDM_ERR_ARG, "actor_guide must be adv or signed, got '%s'", ag);
  x->signed_guide = !strcmp(ag, "signed");
  const char *cg = lpdm_cfg_str(cfg, "critic_guide");
  if (strcmp(cg, "ret") && strcmp(cg, "val"))
    return lpdm_error(ctx, LPDM_ERR_ARG, "critic_guide must be ret or val, got '%s'", cg);
  x->val_guide = !strcmp(cg, "val");
  if (x->signed_guide && (!s->discrete || s->nact < 2))
    return lpdm_error(ctx, LPDM_ERR_ARG, "actor_guide=signed needs Discrete actions (at least 2)");
  const int GM = x->rollout_local ? B : s->M; /* the largest batch a local step sees */
  if (x->signed_guide && (rc = fgrow(ctx, &x->gs, GM))) return rc;
  if (x->rollout_local &&
      ((rc = fgrow(ctx, &s->mb.tfeat, (size_t)B * F)) || (rc = fgrow(ctx, &s->mb.vtfeat, (size_t)B * VF))))
    return rc;
  if (x->guide) {
    if ((rc = fgrow(ctx, &x->ga, GM)) || (rc = fgrow(ctx, &x->gc, GM))) return rc;
    x->rk_a = malloc((size_t)GM * 2 * sizeof(float));
    x->rk_c = malloc((size_t)GM * 2 * sizeof(float));
    if (!x->rk_a || !x->rk_c) return OOM;
  }
  return LPDM_OK;
}

/* guide_anneal: the losses read alpha from their config at every eval. */
int ppo_guide_anneal(ppo *s, lpdm_ctx *ctx) {
  if (!s->x.guide_anneal) return LPDM_OK;
  const double gf = 1.0 - (s->update - 1.0) / s->num_updates;
  lpdm_loss *ls[2] = {s->x.aloss, s->x.closs};
  for (int k = 0; k < 2; k++) {
    int rc = lpdm_config_set_num(ctx, &ls[k]->cfg, ls[k]->kind->head.name, "alpha", s->x.alpha0[k] * gf);
    if (rc) return rc;
  }
  return LPDM_OK;
}

/* ------------------------------------------------------------ guidance */

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
  if (!s->x.guide || M < 2) return g;
  if (s->x.guide == 1) {
    double m = 0, v = 0;
    for (int i = 0; i < M; i++) m += g[i];
    m /= M;
    for (int i = 0; i < M; i++) v += (g[i] - m) * (g[i] - m);
    const double sd = sqrt(v / (M - 1)), lo = m - s->x.guide_clip * sd, hi = m + s->x.guide_clip * sd;
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

/* The guidance of the actor's local loss for n samples: the advantages
   (times the action index mapped to [-1, 1] with actor_guide = signed),
   then guide_signal's transform. */
static const float *ppo_actor_guidance(ppo *s, const float *adv, const float *act, int n) {
  const float *ga = adv;
  if (s->x.signed_guide) {
    const float h = 0.5f * (float)(s->nact - 1);
    for (int i = 0; i < n; i++) s->x.gs.p[i] = adv[i] * (act[i] - h) / h;
    ga = s->x.gs.p;
  }
  return guide_signal(s, ga, n, s->x.ga.p, s->x.rk_a);
}

/* The critic's: the returns (or the rollout's values, critic_guide = val). */
static const float *ppo_critic_guidance(ppo *s, const float *ret, const float *val, int n) {
  return guide_signal(s, s->x.val_guide ? val : ret, n, s->x.gc.p, s->x.rk_c);
}

/* What the actor's trunk rule learns from, for n samples (a minibatch or
   the whole rollout): the guidance (in local mode; bp reads no guidance),
   the actions, the old log-probs, the advantages and the returns. */
/* PPO's objectives on any head's outputs (lib/rule.h), for local heads:
   the clipped surrogate with the entropy bonus at the current log-std
   (which only the output head's loss trains), and the value loss. */
static int actor_objective(void *arg, const algo_targets *t, const float *out, float *dout, double *L, lpdm_ctx *ctx) {
  ppo *s = arg;
  float *dls = NULL;
  if (s->ls) {
    int rc = fgrow(ctx, &s->x.dls, (size_t)s->nact);
    if (rc) return rc;
    dls = s->x.dls.p;
    for (int i = 0; i < s->nact; i++) dls[i] = 0;
  }
  ppo_pstats st;
  *L = ppo_policy_loss(t->B, s->discrete, s->nact, out, s->ls ? s->ls->log_std : NULL, t->act, t->old_logp, t->adv,
                       s->clip, s->ent_coef, dout, dls, &st);
  return LPDM_OK;
}

static int critic_objective(void *arg, const algo_targets *t, const float *out, float *dout, double *L,
                            lpdm_ctx *ctx) {
  (void)ctx;
  const ppo *s = arg;
  *L = s->vf_coef * ppo_value_loss(t->B, out, t->val, t->ret, s->clip_vloss ? s->clip : 0, s->vf_coef, dout);
  return LPDM_OK;
}

algo_targets ppo_actor_targets(ppo *s, const float *adv, const float *act, const float *logp, const float *ret,
                               int n) {
  return (algo_targets){.B = n,
                        .g = s->local ? ppo_actor_guidance(s, adv, act, n) : adv,
                        .act = act,
                        .na = s->na,
                        .old_logp = logp,
                        .adv = adv,
                        .ret = ret,
                        .dout_dim = s->nact,
                        .objective = actor_objective,
                        .objective_arg = s};
}

/* The critic's: its guidance and the returns. */
algo_targets ppo_critic_targets(ppo *s, const float *ret, const float *val, int n) {
  return (algo_targets){.B = n,
                        .g = s->local ? ppo_critic_guidance(s, ret, val, n) : ret,
                        .ret = ret,
                        .val = val,
                        .dout_dim = 1,
                        .objective = critic_objective,
                        .objective_arg = s};
}

/* local_batch = rollout: both trunks take one local step on the whole
   rollout batch (the actor guided by the advantages, the critic by the
   returns, as per minibatch); the epoch's minibatches then only forward
   them. Losses per layer into la / lc. */
int ppo_rollout_local_step(ppo *s, lpdm_ctx *ctx, double *la, double *lc) {
  const int B = s->B;
  const float *feat;
  int rc;
  const algo_targets ta = ppo_actor_targets(s, s->ro.adv.p, s->ro.act.p, s->ro.logp.p, s->ro.ret.p, B);
  if ((rc = ppo_trunk_forward(s, ctx, s->trunk, s->arule, s->ro.obs.p, B, &ta, &feat, la, s->mb.tfeat.p)))
    return lpdm_ctx_prefix(ctx, rc, "update %d, actor", s->update);
  const algo_targets tc = ppo_critic_targets(s, s->ro.ret.p, s->ro.val.p, B);
  if ((rc = ppo_trunk_forward(s, ctx, s->vtrunk, s->crule, s->ro.obs.p, B, &tc, &feat, lc, s->mb.vtfeat.p)))
    return lpdm_ctx_prefix(ctx, rc, "update %d, critic", s->update);
  return LPDM_OK;
}

/* ------------------------------------------------------------ feature standardisation */

/* (f - mean) / sqrt(var + 1e-5), per feature, in place or into out. */
void ppo_fn_apply(const float *m, const float *v, const float *X, int B, int F, float *out) {
  for (int j = 0; j < F; j++) {
    const float a = 1.0f / sqrtf(v[j] + 1e-5f), c = m[j];
    for (int i = 0; i < B; i++) out[(size_t)i * F + j] = (X[(size_t)i * F + j] - c) * a;
  }
}

/* bp through the standardisation, the moments taken as constants. */
void ppo_fn_backward(const float *v, float *d, int B, int F) {
  for (int j = 0; j < F; j++) {
    const float a = 1.0f / sqrtf(v[j] + 1e-5f);
    for (int i = 0; i < B; i++) d[(size_t)i * F + j] *= a;
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
    if (!*seen)
      m[j] = (float)bm, v[j] = (float)bv;
    else
      m[j] += (float)(beta * (bm - m[j])), v[j] += (float)(beta * (bv - v[j]));
  }
  *seen = 1;
}

/* The moments of both nets' features on the rollout's observations (the
   trunks' current weights), moved toward by beta (set on the first call).
   Called before the first update's epochs and after every update's, so a
   rollout and the epochs that learn from it see the same standardisation. */
int ppo_fn_refresh(ppo *s, lpdm_ctx *ctx, double beta) {
  ppo_research *x = &s->x;
  int rc = lpdm_net_forward(s->trunk, ctx, s->ro.obs.p, s->B, x->bfeat.p);
  if (rc) return rc;
  fn_update(x->fm_a, x->fv_a, &x->fn_seen_a, beta, x->bfeat.p, s->B, lpdm_net_out_dim(s->trunk));
  if ((rc = lpdm_net_forward(s->vtrunk, ctx, s->ro.obs.p, s->B, x->bfeat.p))) return rc;
  fn_update(x->fm_c, x->fv_c, &x->fn_seen_c, beta, x->bfeat.p, s->B, lpdm_net_out_dim(s->vtrunk));
  return LPDM_OK;
}
