/* SPDX-License-Identifier: MIT */
/*
** lib/rule.c -- trunk rules (lib/rule.h): the generic calls, and LPDM's
** distance-matching rule, the first of them.
*/
#include "lib/rule.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

void trunk_rule_free(trunk_rule *r) {
  if (r) r->vt->free(r);
}

int trunk_rule_update(trunk_rule *r, lpdm_net *trunk, lpdm_ctx *ctx, const float *X, int B, const algo_targets *t,
                      const float **Y, double *stats) {
  return r->vt->update(r, trunk, ctx, X, B, t, Y, stats);
}

int trunk_rule_save(const trunk_rule *r, lpdm_ctx *ctx, lpdm_st *st, const char *prefix) {
  return r && r->vt->save ? r->vt->save(r, ctx, st, prefix) : LPDM_OK;
}

int trunk_rule_load(trunk_rule *r, lpdm_ctx *ctx, const lpdm_st *st, const char *prefix) {
  return r && r->vt->load ? r->vt->load(r, ctx, st, prefix) : LPDM_OK;
}

/* The closure lpdm_net_features calls in local mode. */
typedef struct step_arg {
  trunk_rule *r;
  const algo_targets *t;
  double *stats;
} step_arg;

static int step_update(void *arg, lpdm_net *net, lpdm_ctx *ctx, const float *X, int B, const float **Y) {
  step_arg *a = arg;
  return a->r->vt->update(a->r, net, ctx, X, B, a->t, Y, a->stats);
}

int trunk_features(lpdm_net *trunk, lpdm_ctx *ctx, int mode, trunk_rule *r, const float *X, int B,
                   const algo_targets *t, float *scratch, const float **Y, double *stats) {
  if (mode == LPDM_FEAT_LOCAL && r && r->vt->needs_head_error && B >= r->min_batch)
    return lpdm_error(ctx, LPDM_ERR_ARG,
                      "the trunk rule '%s' learns from the head's error: take the features frozen, then call "
                      "trunk_rule_update with targets.dout",
                      r->vt->name);
  step_arg a = {r, t, stats};
  lpdm_local_step step = {step_update, &a, r ? r->min_batch : 0};
  return lpdm_net_features(trunk, ctx, mode, r ? &step : NULL, X, B, scratch, Y);
}

/* ------------------------------------------------------------ LPDM */

typedef struct lpdm_rule {
  trunk_rule base;
  const lpdm_distance *dist;
  const lpdm_loss *loss;
} lpdm_rule;

static int lpdm_update(trunk_rule *r, lpdm_net *trunk, lpdm_ctx *ctx, const float *X, int B, const algo_targets *t,
                       const float **Y, double *stats) {
  const lpdm_rule *l = (const lpdm_rule *)r;
  return lpdm_net_local_update(trunk, ctx, l->dist, l->loss, X, B, t ? t->g : NULL, Y, stats);
}

static void lpdm_rule_free(trunk_rule *r) { free(r); }

static const trunk_rule_vt lpdm_vt = {
    .name = "lpdm",
    .needs_head_error = 0,
    .update = lpdm_update,
    .free = lpdm_rule_free,
};

int trunk_rule_lpdm_new(lpdm_ctx *ctx, const lpdm_distance *dist, const lpdm_loss *loss, trunk_rule **out) {
  *out = NULL;
  lpdm_rule *l = calloc(1, sizeof *l);
  if (!l) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  l->base.vt = &lpdm_vt;
  l->base.min_batch = 2; /* no pairs below two samples */
  l->dist = dist;
  l->loss = loss;
  *out = &l->base;
  return LPDM_OK;
}

void trunk_rule_lpdm_set_loss(trunk_rule *r, const lpdm_loss *loss) {
  if (r && r->vt == &lpdm_vt) ((lpdm_rule *)r)->loss = loss;
}

/* ------------------------------------------------------------ frozen */

/* The control of issue 26: the trunk's output, never a step (its random
   initial weights stay). */
typedef struct frozen_rule {
  trunk_rule base;
  fbuf y;
} frozen_rule;

static int frozen_update(trunk_rule *r, lpdm_net *trunk, lpdm_ctx *ctx, const float *X, int B, const algo_targets *t,
                         const float **Y, double *stats) {
  (void)t;
  frozen_rule *f = (frozen_rule *)r;
  int rc = fgrow(ctx, &f->y, (size_t)B * lpdm_net_out_dim(trunk));
  if (rc) return rc;
  if (stats)
    for (int i = 0; i < lpdm_net_depth(trunk); i++) stats[i] = 0;
  *Y = f->y.p;
  return lpdm_net_forward(trunk, ctx, X, B, f->y.p);
}

static void frozen_free(trunk_rule *r) {
  if (r) free(((frozen_rule *)r)->y.p);
  free(r);
}

static const trunk_rule_vt frozen_vt = {.name = "frozen", .update = frozen_update, .free = frozen_free};

int trunk_rule_frozen_new(lpdm_ctx *ctx, trunk_rule **out) {
  *out = NULL;
  frozen_rule *f = calloc(1, sizeof *f);
  if (!f) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  f->base.vt = &frozen_vt;
  f->base.min_batch = 1;
  *out = &f->base;
  return LPDM_OK;
}

/* ------------------------------------------------------------ choosing a rule */

/* The rule a loss names ("lpdm" for distance matching). */
static const char *trunk_rule_kind(const lpdm_loss *loss) {
  const lpdm_loss_kind *k = loss ? loss->kind : NULL;
  return k && lpdm_abi_has(&k->head, LPDM_ABI_MINOR_RULE) && k->rule ? k->rule : "lpdm";
}

int trunk_rule_bp_rates(const lpdm_loss *loss) { return strcmp(trunk_rule_kind(loss), "lpdm") != 0; }

int trunk_rule_new(lpdm_ctx *ctx, const lpdm_distance *dist, const lpdm_loss *loss, lpdm_net *trunk, int out_dim,
                   uint64_t seed, const char *role, trunk_rule **out) {
  *out = NULL;
  if (!loss) return lpdm_error(ctx, LPDM_ERR_ARG, "local mode needs a loss (or a learning rule)");
  const char *k = trunk_rule_kind(loss);
  if (!strcmp(k, "lpdm")) return trunk_rule_lpdm_new(ctx, dist, loss, out);
  if (!strcmp(k, "localhead")) return trunk_rule_localhead_new(ctx, dist, loss, trunk, out_dim, seed, role, out);
  if (!strcmp(k, "dfa")) return trunk_rule_dfa_new(ctx, dist, loss, trunk, out_dim, seed, role, out);
  if (!strcmp(k, "frozen")) return trunk_rule_frozen_new(ctx, out);
  return lpdm_error(ctx, LPDM_ERR_ARG, "%s names the learning rule '%s', which the algorithms do not know (known: "
                    "localhead, dfa, frozen; none for distance matching)", loss->kind->head.name, k);
}
