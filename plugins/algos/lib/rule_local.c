/* SPDX-License-Identifier: MIT */
/*
** lib/rule_local.c -- the two learning rules besides distance matching
** (lib/rule.h), both through the core's lpdm_net_signal_update, which
** steps each layer on a gradient with respect to its own output and lets
** nothing flow back to its input:
**
**   localhead  layer-wise local heads (Nokland & Eidnes 2019, "pred";
**              Belilovsky et al. 2020, decoupled greedy learning). Layer l
**              has a linear head H_l: width_l -> out_dim, thrown away after
**              training. On the batch, out_l = H_l(Y_l) and the algorithm's
**              own objective gives L_l(out_l) and dL_l/dout_l (t->objective:
**              PPO's clipped surrogate or value loss, REINFORCE's
**              policy-gradient or value loss, DQN's TD loss). H_l takes an
**              Adam step on its gradient, the layer on
**                  dL_l/dY_l = dL_l/dout_l W_l^T
**              (its own parameters only), and the next layer sees Y_l after
**              the step (the net's "post" setting).
**   dfa        direct feedback alignment (Nokland 2016). After the head's
**              loss the algorithm hands over e = dL/dout (t->dout, B x
**              out_dim); layer l steps on
**                  dL/dY_l := e F_l
**              with F_l a fixed random out_dim x width_l matrix, entries
**              scale N(0, 1) / sqrt(out_dim), drawn once from the run's
**              seed and saved in checkpoints. Every layer learns from the
**              forward pass the head saw (signal post = 0): the update is
**              the definition's, whatever the depth.
**
** Both mix in distance matching with weight match (predsim's combination:
** dY = (1 - match) rule + match matching, match_loss on the algorithm's
** distance). Black boxes are applied and not trained, and need no feedback
** matrix or head.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/heads.h"
#include "lib/rule.h"
#include "lib/util.h"

typedef struct local_rule {
  trunk_rule base;
  char role[16];
  int depth, out_dim;
  int *width; /* per layer: its output width, 0 for a black box */
  double match;
  const lpdm_distance *dist;
  lpdm_loss *mloss; /* owned; NULL when match = 0 */
  /* localhead */
  lpdm_net **heads;
  double head_lr; /* 0: the layer's own rate at each update */
  fbuf dout; /* a local head's dL/dout */
  const algo_targets *t; /* during an update */
  /* dfa */
  float **fb;
} local_rule;

static void local_free(trunk_rule *r) {
  local_rule *l = (local_rule *)r;
  for (int i = 0; i < l->depth; i++) {
    if (l->heads) lpdm_net_free(l->heads[i]);
    if (l->fb) free(l->fb[i]);
  }
  free(l->heads);
  free(l->fb);
  free(l->width);
  free(l->dout.p);
  lpdm_loss_free(l->mloss);
  free(l);
}

/* A loss from "name key=value ..." (match_loss). */
static int loss_from_text(lpdm_ctx *ctx, const char *spec, const char *what, lpdm_loss **out) {
  char w[96];
  snprintf(w, sizeof w, "%s: match_loss", what);
  const lpdm_loss_kind *k;
  lpdm_config cfg;
  int rc = lpdm_loss_spec(ctx, spec, w, &k, &cfg);
  if (!rc && !k->eval) rc = lpdm_error(ctx, LPDM_ERR_ARG, "%s %s is not a distance-matching loss", w, k->head.name);
  return rc ? rc : lpdm_loss_new(ctx, k, &cfg, out);
}

/* What both rules share: the trunk's widths, the matching part. */
static int local_init(lpdm_ctx *ctx, local_rule *l, const lpdm_distance *dist, const lpdm_loss *loss,
                      lpdm_net *trunk, int out_dim, const char *role) {
  const char *what = loss->kind->head.name;
  snprintf(l->role, sizeof l->role, "%s", role);
  l->depth = lpdm_net_depth(trunk);
  l->out_dim = out_dim;
  l->dist = dist;
  l->match = lpdm_cfg_num(&loss->cfg, "match");
  if (!(l->match >= 0 && l->match <= 1))
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: match must be in [0, 1], got %g", what, l->match);
  if (out_dim < 1) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: the %s head has no outputs", what, role);
  l->width = calloc((size_t)(l->depth ? l->depth : 1), sizeof *l->width);
  if (!l->width) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  for (int i = 0; i < l->depth; i++) {
    const lpdm_layer *y = lpdm_net_layer(trunk, i);
    l->width[i] = y->kind->backward ? y->out_dim : 0;
  }
  if (l->match > 0) {
    if (!dist) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: match > 0 needs a distance", what);
    int rc = loss_from_text(ctx, lpdm_cfg_str(&loss->cfg, "match_loss"), what, &l->mloss);
    if (rc) return rc;
  }
  l->base.min_batch = l->match > 0 ? 2 : 1; /* matching needs a pair */
  return LPDM_OK;
}

static int local_update(local_rule *l, lpdm_net *trunk, lpdm_ctx *ctx, const float *X, int B, const algo_targets *t,
                        int (*add)(void *, lpdm_net *, int, const float *, const float *, int, float *, double *,
                                   lpdm_ctx *),
                        int post, const float **Y, double *stats) {
  if (lpdm_net_depth(trunk) != l->depth)
    return lpdm_error(ctx, LPDM_ERR_ARG, "rule %s (%s): built for %d layers, given a trunk of %d", l->base.vt->name,
                      l->role, l->depth, lpdm_net_depth(trunk));
  l->t = t;
  const lpdm_layer_signal sig = {add, l, l->match, l->dist, l->mloss, t ? t->g : NULL, post};
  int rc = lpdm_net_signal_update(trunk, ctx, &sig, X, B, Y, stats);
  l->t = NULL;
  return rc ? lpdm_ctx_prefix(ctx, rc, "rule %s (%s)", l->base.vt->name, l->role) : LPDM_OK;
}

/* ------------------------------------------------------------ localhead */

static int head_add(void *arg, lpdm_net *trunk, int i, const float *X, const float *Y, int B, float *dY, double *L,
                    lpdm_ctx *ctx) {
  (void)X;
  local_rule *l = arg;
  const algo_targets *t = l->t;
  lpdm_net *h = l->heads[i];
  if (!t || !t->objective) return lpdm_error(ctx, LPDM_ERR_ARG, "the algorithm gives no objective for local heads");
  lpdm_optim_set_lr(lpdm_net_optim(h, 0), l->head_lr > 0 ? l->head_lr : lpdm_optim_lr(lpdm_net_optim(trunk, i)));
  const float *out;
  int rc;
  if ((rc = fgrow(ctx, &l->dout, (size_t)B * l->out_dim))) return rc;
  if ((rc = lpdm_net_train_forward_ref(h, ctx, Y, B, &out))) return rc; /* Y holds until the layer's step */
  if ((rc = t->objective(t->objective_arg, t, out, l->dout.p, L, ctx))) return rc;
  lpdm_net_zero_grad(h);
  if ((rc = lpdm_net_backward(h, ctx, l->dout.p, dY))) return rc; /* dY = dL/dout W^T */
  return lpdm_net_step(h, ctx, 1.0f);
}

static int localhead_update(trunk_rule *r, lpdm_net *trunk, lpdm_ctx *ctx, const float *X, int B,
                            const algo_targets *t, const float **Y, double *stats) {
  return local_update((local_rule *)r, trunk, ctx, X, B, t, head_add, -1, Y, stats);
}

static void head_name(char *buf, size_t n, const char *prefix, int i) { snprintf(buf, n, "%s.head%d", prefix, i + 1); }

static int localhead_save(const trunk_rule *r, lpdm_ctx *ctx, lpdm_st *st, const char *prefix) {
  const local_rule *l = (const local_rule *)r;
  char name[128];
  for (int i = 0; i < l->depth; i++) {
    if (!l->heads[i]) continue;
    head_name(name, sizeof name, prefix, i);
    int rc = lpdm_net_save(l->heads[i], ctx, st, name, 1);
    if (rc) return rc;
  }
  return LPDM_OK;
}

static int localhead_load(trunk_rule *r, lpdm_ctx *ctx, const lpdm_st *st, const char *prefix) {
  local_rule *l = (local_rule *)r;
  char name[128];
  for (int i = 0; i < l->depth; i++) {
    if (!l->heads[i]) continue;
    head_name(name, sizeof name, prefix, i);
    int rc = lpdm_net_load(l->heads[i], ctx, st, name, 1);
    if (rc) return lpdm_ctx_prefix(ctx, rc, "rule localhead (%s), layer %d's head", l->role, i + 1);
  }
  return LPDM_OK;
}

static const trunk_rule_vt localhead_vt = {
    .name = "localhead",
    .needs_head_error = 0,
    .update = localhead_update,
    .free = local_free,
    .save = localhead_save,
    .load = localhead_load,
};

static uint64_t role_seed(uint64_t seed, const char *role, uint64_t salt) {
  uint64_t h = 1469598103934665603ULL ^ salt; /* FNV-1a over the role, then mixed with the seed */
  for (const char *c = role; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ULL;
  return seed ^ h;
}

int trunk_rule_localhead_new(lpdm_ctx *ctx, const lpdm_distance *dist, const lpdm_loss *loss, lpdm_net *trunk,
                             int out_dim, uint64_t seed, const char *role, trunk_rule **out) {
  *out = NULL;
  local_rule *l = calloc(1, sizeof *l);
  if (!l) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  l->base.vt = &localhead_vt;
  int rc = local_init(ctx, l, dist, loss, trunk, out_dim, role);
  if (!rc) {
    l->head_lr = lpdm_cfg_num(&loss->cfg, "head_lr");
    if (!(l->head_lr >= 0 && isfinite(l->head_lr)))
      rc = lpdm_error(ctx, LPDM_ERR_ARG, "%s: head_lr must be >= 0 (0: the layer's rate), got %g",
                      loss->kind->head.name, l->head_lr);
  }
  if (!rc && !(l->heads = calloc((size_t)(l->depth ? l->depth : 1), sizeof *l->heads)))
    rc = lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  lpdm_rng rng;
  lpdm_rng_seed(&rng, role_seed(seed, role, 0x6c6f63616c68ULL)); /* "localh" */
  for (int i = 0; !rc && i < l->depth; i++) {
    if (!l->width[i]) continue;
    lpdm_optim_cfg oc = lpdm_optim_default(LPDM_OPT_ADAM, 1e-3); /* the rate is set at every update */
    rc = head_make(ctx, &l->heads[i], l->width[i], out_dim, NULL, 1, &rng, &oc);
    if (rc) rc = lpdm_ctx_prefix(ctx, rc, "rule localhead (%s), layer %d's head", role, i + 1);
  }
  if (rc) {
    local_free(&l->base);
    return rc;
  }
  *out = &l->base;
  return LPDM_OK;
}

/* ------------------------------------------------------------ dfa */

static int dfa_add(void *arg, lpdm_net *trunk, int i, const float *X, const float *Y, int B, float *dY, double *L,
                   lpdm_ctx *ctx) {
  (void)trunk, (void)X, (void)Y;
  const local_rule *l = arg;
  const algo_targets *t = l->t;
  const int K = l->out_dim, W = l->width[i];
  if (!t || !t->dout)
    return lpdm_error(ctx, LPDM_ERR_ARG, "feedback alignment needs the head's error (targets.dout)");
  if (t->dout_dim != K || t->B != B)
    return lpdm_error(ctx, LPDM_ERR_ARG, "feedback alignment: the head's error is %d x %d, the feedback expects %d x %d",
                      t->B, t->dout_dim, B, K);
  const float *F = l->fb[i];
  for (int b = 0; b < B; b++) { /* dY_b = e_b F, a fixed order of sums */
    const float *e = t->dout + (size_t)b * K;
    float *d = dY + (size_t)b * W;
    for (int k = 0; k < K; k++) {
      const float ek = e[k], *f = F + (size_t)k * W;
      for (int j = 0; j < W; j++) d[j] += ek * f[j];
    }
  }
  *L = 0; /* DFA has no loss of its own per layer */
  return LPDM_OK;
}

static int dfa_update(trunk_rule *r, lpdm_net *trunk, lpdm_ctx *ctx, const float *X, int B, const algo_targets *t,
                      const float **Y, double *stats) {
  return local_update((local_rule *)r, trunk, ctx, X, B, t, dfa_add, 0, Y, stats);
}

static int dfa_save(const trunk_rule *r, lpdm_ctx *ctx, lpdm_st *st, const char *prefix) {
  const local_rule *l = (const local_rule *)r;
  char what[32];
  for (int i = 0; i < l->depth; i++) {
    if (!l->fb[i]) continue;
    snprintf(what, sizeof what, "feedback%d", i + 1);
    int64_t shape[2] = {l->out_dim, l->width[i]};
    char name[160];
    snprintf(name, sizeof name, "%s.%s", prefix, what);
    int rc = lpdm_st_add(st, ctx, name, LPDM_ST_F32, 2, shape, l->fb[i]);
    if (rc) return rc;
  }
  return LPDM_OK;
}

static int dfa_load(trunk_rule *r, lpdm_ctx *ctx, const lpdm_st *st, const char *prefix) {
  local_rule *l = (local_rule *)r;
  for (int i = 0; i < l->depth; i++) {
    if (!l->fb[i]) continue;
    char name[160];
    snprintf(name, sizeof name, "%s.feedback%d", prefix, i + 1);
    int dtype, ndim;
    const int64_t *shape;
    size_t bytes;
    const void *p = lpdm_st_get(st, name, &dtype, &ndim, &shape, &bytes);
    if (!p)
      return lpdm_error(ctx, LPDM_ERR_IO, "checkpoint: rule dfa (%s), layer %d: no feedback matrix %s", l->role, i + 1,
                        name);
    if (dtype != LPDM_ST_F32 || ndim != 2 || shape[0] != l->out_dim || shape[1] != l->width[i])
      return lpdm_error(ctx, LPDM_ERR_IO,
                        "checkpoint: rule dfa (%s), layer %d: feedback matrix %s is not F32 %d x %d (the head's "
                        "outputs x the layer's width)",
                        l->role, i + 1, name, l->out_dim, l->width[i]);
    memcpy(l->fb[i], p, bytes);
  }
  return LPDM_OK;
}

static const trunk_rule_vt dfa_vt = {
    .name = "dfa",
    .needs_head_error = 1,
    .update = dfa_update,
    .free = local_free,
    .save = dfa_save,
    .load = dfa_load,
};

int trunk_rule_dfa_new(lpdm_ctx *ctx, const lpdm_distance *dist, const lpdm_loss *loss, lpdm_net *trunk, int out_dim,
                       uint64_t seed, const char *role, trunk_rule **out) {
  *out = NULL;
  local_rule *l = calloc(1, sizeof *l);
  if (!l) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  l->base.vt = &dfa_vt;
  int rc = local_init(ctx, l, dist, loss, trunk, out_dim, role);
  const double scale = rc ? 0 : lpdm_cfg_num(&loss->cfg, "scale");
  if (!rc && !(scale > 0 && isfinite(scale)))
    rc = lpdm_error(ctx, LPDM_ERR_ARG, "%s: scale must be > 0, got %g", loss->kind->head.name, scale);
  if (!rc && !(l->fb = calloc((size_t)(l->depth ? l->depth : 1), sizeof *l->fb)))
    rc = lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  lpdm_rng rng;
  lpdm_rng_seed(&rng, role_seed(seed, role, 0x666565646261ULL)); /* "feedba" */
  const double sd = scale / sqrt((double)out_dim);
  for (int i = 0; !rc && i < l->depth; i++) {
    if (!l->width[i]) continue;
    const size_t n = (size_t)out_dim * l->width[i];
    if (!(l->fb[i] = malloc(n * sizeof(float)))) {
      rc = lpdm_error(ctx, LPDM_ERR_MEM, "rule dfa (%s), layer %d: out of memory", role, i + 1);
      break;
    }
    for (size_t j = 0; j < n; j++) l->fb[i][j] = (float)(sd * lpdm_rng_normal(&rng));
  }
  if (rc) {
    local_free(&l->base);
    return rc;
  }
  *out = &l->base;
  return LPDM_OK;
}

const float *trunk_rule_dfa_feedback(const trunk_rule *r, int i) {
  if (!r || r->vt != &dfa_vt) return NULL;
  const local_rule *l = (const local_rule *)r;
  return i >= 0 && i < l->depth ? l->fb[i] : NULL;
}

lpdm_net *trunk_rule_localhead_head(const trunk_rule *r, int i) {
  if (!r || r->vt != &localhead_vt) return NULL;
  const local_rule *l = (const local_rule *)r;
  return i >= 0 && i < l->depth ? l->heads[i] : NULL;
}
