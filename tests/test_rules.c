/* SPDX-License-Identifier: MIT */
/* test_rules.c -- the learning rules besides distance matching
   (plugins/algos/lib/rule_local.c over lpdm_net_signal_update):

   localhead  each parameter gradient a layer's update used (the layer's and
              its local head's) equals the central finite difference of that
              layer's own local-head loss; a layer's update does not depend
              on the layers after it, and depends on the layers before it
              only through its input (a one-layer net fed that input makes
              the same update, bit for bit);
   dfa        one update with plain SGD equals the definition computed here
              by hand in double (dY_l = e F_l, every layer from the same
              forward pass); the feedback matrices survive a checkpoint
              round trip, and a checkpoint of other widths is refused
              naming the layer;
   both       the local heads' state round-trips (the next update repeats
              bit for bit); bad settings and missing inputs are refused by
              name; a rule loss is refused by the plain local update.
   The algorithms' use of the rules (training, resume) is tested by
   tests/test_lua_rules.lua through train.lua. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../plugins/algos/lib/rule.h"
#include "fixture.h"
#include "lpdm/lpdm.h"
#include "tap.h"

static lpdm_ctx *ctx;
enum { B = 6, IN = 3, H1 = 5, H2 = 4, K = 2 };

static int has(const char *s, const char *sub) { return s && strstr(s, sub) != NULL; }

static lpdm_loss *mk_loss(const char *name, const char *text) {
  const lpdm_plugin *p = lpdm_plugin_get(ctx, LPDM_KIND_LOSS, name);
  lpdm_config cfg;
  lpdm_loss *l = NULL;
  if (!p || fx_config(ctx, p, text, &cfg) || lpdm_loss_new(ctx, (const lpdm_loss_kind *)p, &cfg, &l)) {
    diag("loss %s: %s", name, lpdm_ctx_message(ctx));
    return NULL;
  }
  return l;
}

/* The objective: L = 1/(2B) sum (out - T)^2, T from the arg. */
static int quad(void *arg, const algo_targets *t, const float *out, float *dout, double *L, lpdm_ctx *c) {
  (void)c;
  const float *T = arg;
  double s = 0;
  for (int i = 0; i < t->B * K; i++) {
    double e = (double)out[i] - T[i];
    s += e * e;
    dout[i] = (float)(e / t->B);
  }
  *L = s / (2.0 * t->B);
  return LPDM_OK;
}

/* A copy of every parameter of a layer, to restore. */
typedef struct pcopy {
  float *w[LPDM_MAX_PARAMS];
  int n;
} pcopy;
static pcopy save_params(const lpdm_layer *l) {
  pcopy c = {.n = l->nparams};
  for (int j = 0; j < l->nparams; j++) {
    c.w[j] = malloc(l->params[j].n * sizeof(float));
    memcpy(c.w[j], l->params[j].w, l->params[j].n * sizeof(float));
  }
  return c;
}
static void load_params(lpdm_layer *l, const pcopy *c) {
  for (int j = 0; j < c->n; j++) memcpy(l->params[j].w, c->w[j], l->params[j].n * sizeof(float));
}
static void free_params(pcopy *c) {
  for (int j = 0; j < c->n; j++) free(c->w[j]);
}

/* The local-head loss of layer lay (input Xl) through head layer hl. */
static double head_loss(lpdm_layer *lay, lpdm_layer *hl, const float *Xl, const float *T) {
  float Y[B * 16], out[B * K], d[B * K];
  lay->kind->forward(lay, Xl, B, Y, ctx);
  hl->kind->forward(hl, Y, B, out, ctx);
  algo_targets t = {.B = B};
  double L;
  quad((void *)T, &t, out, d, &L, ctx);
  return L;
}

/* Central differences of head_loss over every coordinate of layer p's
   parameters (p is lay or hl), against the gradients in their g. */
static double fd_worst(lpdm_layer *p, lpdm_layer *lay, lpdm_layer *hl, const float *Xl, const float *T, int *count) {
  double worst = 0;
  const float h = 1e-3f;
  for (int j = 0; j < p->nparams; j++)
    for (size_t k = 0; k < p->params[j].n; k++) {
      float *w = &p->params[j].w[k], w0 = *w;
      *w = w0 + h;
      double lp = head_loss(lay, hl, Xl, T);
      *w = w0 - h;
      double lm = head_loss(lay, hl, Xl, T);
      *w = w0;
      double fd = (lp - lm) / (2.0 * h), an = p->params[j].g[k];
      double err = fabs(fd - an) / (1e-3 + fabs(fd));
      if (err > worst) worst = err;
      ++*count;
    }
  return worst;
}

static void test_localhead_fd(void) {
  lpdm_net *net = fx_dense_net(ctx, IN, 2, "out=5 act=tanh|out=4 act=tanh", 11);
  lpdm_loss *loss = mk_loss("localhead", NULL);
  trunk_rule *r = NULL;
  if (!net || !loss || trunk_rule_new(ctx, NULL, loss, net, K, 5, "actor", &r)) {
    ok(0, "a local-heads rule on a 3-5-4 tanh net: %s", lpdm_ctx_message(ctx));
    return;
  }
  float X[B * IN], T[B * K], X1[B * H1];
  for (int i = 0; i < B * IN; i++) X[i] = (float)sin(1.3 * i + 0.2);
  for (int i = 0; i < B * K; i++) T[i] = (float)cos(0.7 * i);
  pcopy pre[2], hpre[2];
  for (int l = 0; l < 2; l++) {
    pre[l] = save_params(lpdm_net_layer(net, l));
    hpre[l] = save_params(lpdm_net_layer(trunk_rule_localhead_head(r, l), 0));
  }
  algo_targets t = {.B = B, .objective = quad, .objective_arg = T};
  const float *Y;
  double st[2] = {0, 0};
  int rc = trunk_rule_update(r, net, ctx, X, B, &t, &Y, st);
  ok(!rc, "one local-heads update (%s)", lpdm_ctx_message(ctx));
  /* layer 2's input: layer 1's output after its step (the net's "post") */
  lpdm_layer *l0 = lpdm_net_layer(net, 0);
  l0->kind->forward(l0, X, B, X1, ctx);
  const float *Xin[2] = {X, X1};
  for (int l = 0; l < 2; l++) {
    lpdm_layer *lay = lpdm_net_layer(net, l), *hl = lpdm_net_layer(trunk_rule_localhead_head(r, l), 0);
    pcopy post = save_params(lay), hpost = save_params(hl);
    load_params(lay, &pre[l]); /* the gradients were taken at the weights before the step */
    load_params(hl, &hpre[l]);
    const double L0 = head_loss(lay, hl, Xin[l], T);
    ok(fabs(L0 - st[l]) <= 1e-6 * (1 + fabs(L0)), "layer %d: the reported loss is its local head's (%g, %g)", l + 1,
       st[l], L0);
    int n1 = 0, n2 = 0;
    const double wl = fd_worst(lay, lay, hl, Xin[l], T, &n1), wh = fd_worst(hl, lay, hl, Xin[l], T, &n2);
    ok(wl < 2e-2, "layer %d: its %d parameter gradients match central differences of its head's loss (worst %.2g)",
       l + 1, n1, wl);
    ok(wh < 2e-2, "layer %d: its head's %d parameter gradients match central differences (worst %.2g)", l + 1, n2,
       wh);
    load_params(lay, &post);
    load_params(hl, &hpost);
    free_params(&post);
    free_params(&hpost);
    free_params(&pre[l]);
    free_params(&hpre[l]);
  }
  trunk_rule_free(r);
  lpdm_loss_free(loss);
  lpdm_net_free(net);
}

static int same_layer(const lpdm_layer *a, const lpdm_layer *b) {
  for (int j = 0; j < a->nparams; j++)
    if (memcmp(a->params[j].w, b->params[j].w, a->params[j].n * sizeof(float))) return 0;
  return 1;
}

static void test_no_backward_path(void) {
  lpdm_loss *loss = mk_loss("localhead", NULL);
  lpdm_net *a = fx_dense_net(ctx, IN, 2, "out=5 act=tanh|out=4 act=tanh", 21);
  lpdm_net *a2 = fx_dense_net(ctx, IN, 2, "out=5 act=tanh|out=4 act=tanh", 21);
  lpdm_net *c = fx_dense_net(ctx, H1, 1, "out=4 act=tanh", 99);
  trunk_rule *ra = NULL, *ra2 = NULL, *rc_ = NULL;
  if (!loss || !a || !a2 || !c || trunk_rule_new(ctx, NULL, loss, a, K, 3, "actor", &ra) ||
      trunk_rule_new(ctx, NULL, loss, a2, K, 3, "actor", &ra2) || trunk_rule_new(ctx, NULL, loss, c, K, 4, "x", &rc_)) {
    ok(0, "three nets and rules: %s", lpdm_ctx_message(ctx));
    return;
  }
  float X[B * IN], T[B * K], X1[B * H1];
  for (int i = 0; i < B * IN; i++) X[i] = (float)sin(0.9 * i - 0.4);
  for (int i = 0; i < B * K; i++) T[i] = (float)(0.3 * i - 1);
  /* a2: a with layer 2's weights changed */
  lpdm_layer *z = lpdm_net_layer(a2, 1);
  for (size_t k = 0; k < z->params[0].n; k++) z->params[0].w[k] += 0.25f * (float)cos(k);
  /* c: a's layer 2 and its head, alone */
  pcopy w1 = save_params(lpdm_net_layer(a, 1)), h1 = save_params(lpdm_net_layer(trunk_rule_localhead_head(ra, 1), 0));
  load_params(lpdm_net_layer(c, 0), &w1);
  load_params(lpdm_net_layer(trunk_rule_localhead_head(rc_, 0), 0), &h1);
  algo_targets t = {.B = B, .objective = quad, .objective_arg = T};
  const float *Y;
  int rc = trunk_rule_update(ra, a, ctx, X, B, &t, &Y, NULL) || trunk_rule_update(ra2, a2, ctx, X, B, &t, &Y, NULL);
  ok(!rc && same_layer(lpdm_net_layer(a, 0), lpdm_net_layer(a2, 0)) &&
         same_layer(lpdm_net_layer(trunk_rule_localhead_head(ra, 0), 0),
                    lpdm_net_layer(trunk_rule_localhead_head(ra2, 0), 0)) &&
         !same_layer(lpdm_net_layer(a, 1), lpdm_net_layer(a2, 1)),
     "changing layer 2's weights changes nothing in layer 1's update or its head's");
  lpdm_layer *l0 = lpdm_net_layer(a, 0);
  l0->kind->forward(l0, X, B, X1, ctx);
  rc = trunk_rule_update(rc_, c, ctx, X1, B, &t, &Y, NULL);
  ok(!rc && same_layer(lpdm_net_layer(a, 1), lpdm_net_layer(c, 0)) &&
         same_layer(lpdm_net_layer(trunk_rule_localhead_head(ra, 1), 0),
                    lpdm_net_layer(trunk_rule_localhead_head(rc_, 0), 0)),
     "layer 2's update is that of a one-layer net fed layer 1's output: earlier layers act through its input only");
  free_params(&w1);
  free_params(&h1);
  trunk_rule_free(ra);
  trunk_rule_free(ra2);
  trunk_rule_free(rc_);
  lpdm_net_free(a);
  lpdm_net_free(a2);
  lpdm_net_free(c);
  lpdm_loss_free(loss);
}

/* DFA by hand: 2 -> 3 tanh -> 2 identity, SGD 0.1, B = 2, e given. */
static void test_dfa_definition(void) {
  enum { Bd = 2, I = 2, M = 3, O = 2 };
  const double lr = 0.1;
  lpdm_net *net = fx_dense_net(ctx, I, 2, "out=3 act=tanh|out=2 act=identity", 7);
  lpdm_loss *loss = mk_loss("dfa", "scale=1.5");
  trunk_rule *r = NULL;
  lpdm_optim_cfg sgd = lpdm_optim_default(LPDM_OPT_SGD, lr);
  if (!net || !loss || lpdm_net_set_optim(net, ctx, 0, &sgd) || lpdm_net_set_optim(net, ctx, 1, &sgd) ||
      trunk_rule_new(ctx, NULL, loss, net, O, 9, "actor", &r)) {
    ok(0, "a DFA rule on a 2-3-2 net: %s", lpdm_ctx_message(ctx));
    return;
  }
  const float X[Bd * I] = {0.5f, -1.0f, 1.5f, 0.25f}, e[Bd * O] = {0.3f, -0.2f, 0.1f, 0.4f};
  const float *F1 = trunk_rule_dfa_feedback(r, 0), *F2 = trunk_rule_dfa_feedback(r, 1);
  lpdm_layer *L1 = lpdm_net_layer(net, 0), *L2 = lpdm_net_layer(net, 1);
  ok(F1 && F2 && L1->params[0].rows == I && L1->params[0].cols == M && L2->params[0].rows == M,
     "feedback matrices for both layers; dense weights are in x out");
  /* the definition, in double, from the weights before the update */
  double W1[I * M], b1[M], W2[M * O], b2[O], Y1[Bd * M], Y1post[Bd * M];
  for (int k = 0; k < I * M; k++) W1[k] = L1->params[0].w[k];
  for (int k = 0; k < M; k++) b1[k] = L1->params[1].w[k];
  for (int k = 0; k < M * O; k++) W2[k] = L2->params[0].w[k];
  for (int k = 0; k < O; k++) b2[k] = L2->params[1].w[k];
  for (int b = 0; b < Bd; b++)
    for (int j = 0; j < M; j++) {
      double z = b1[j];
      for (int i = 0; i < I; i++) z += X[b * I + i] * W1[i * M + j];
      Y1[b * M + j] = tanh(z);
    }
  double gW1[I * M] = {0}, gb1[M] = {0}, gW2[M * O] = {0}, gb2[O] = {0};
  for (int b = 0; b < Bd; b++) {
    for (int j = 0; j < M; j++) { /* dY1 = e F1, then through tanh */
      double d = 0;
      for (int k = 0; k < O; k++) d += e[b * O + k] * F1[k * M + j];
      d *= 1 - Y1[b * M + j] * Y1[b * M + j];
      gb1[j] += d;
      for (int i = 0; i < I; i++) gW1[i * M + j] += X[b * I + i] * d;
    }
    for (int j = 0; j < O; j++) { /* dY2 = e F2 (identity), input Y1 from before the update */
      double d = 0;
      for (int k = 0; k < O; k++) d += e[b * O + k] * F2[k * O + j];
      gb2[j] += d;
      for (int i = 0; i < M; i++) gW2[i * O + j] += Y1[b * M + i] * d;
    }
  }
  /* what layer 2 would get from layer 1's output after its step (not the definition) */
  for (int b = 0; b < Bd; b++)
    for (int j = 0; j < M; j++) {
      double z = b1[j] - lr * gb1[j];
      for (int i = 0; i < I; i++) z += X[b * I + i] * (W1[i * M + j] - lr * gW1[i * M + j]);
      Y1post[b * M + j] = tanh(z);
    }
  double alt = 0;
  for (int j = 0; j < O; j++)
    for (int i = 0; i < M; i++) {
      double g = 0, d;
      for (int b = 0; b < Bd; b++) {
        d = 0;
        for (int k = 0; k < O; k++) d += e[b * O + k] * F2[k * O + j];
        g += Y1post[b * M + i] * d;
      }
      alt = fmax(alt, fabs(lr * (g - gW2[i * O + j])));
    }
  algo_targets t = {.B = Bd, .dout = e, .dout_dim = O};
  const float *Y;
  int rc = trunk_rule_update(r, net, ctx, X, Bd, &t, &Y, NULL);
  double worst = 0;
  for (int k = 0; k < I * M; k++) worst = fmax(worst, fabs(L1->params[0].w[k] - (W1[k] - lr * gW1[k])));
  for (int k = 0; k < M; k++) worst = fmax(worst, fabs(L1->params[1].w[k] - (b1[k] - lr * gb1[k])));
  for (int k = 0; k < M * O; k++) worst = fmax(worst, fabs(L2->params[0].w[k] - (W2[k] - lr * gW2[k])));
  for (int k = 0; k < O; k++) worst = fmax(worst, fabs(L2->params[1].w[k] - (b2[k] - lr * gb2[k])));
  ok(!rc && worst < 1e-6, "one DFA step equals W -= lr X_l^T (e F_l * act') for both layers (worst %.2g)", worst);
  ok(alt > 1e-4, "(the check can fail: feeding layer 2 the updated layer 1 would move W2 by %.2g)", alt);
  double fsq = 0;
  for (int k = 0; k < O * M; k++) fsq += F1[k] * F1[k];
  const double expect = O * M * (1.5 * 1.5 / O); /* O x M entries of variance scale^2 / out_dim */
  ok(fsq > 0.3 * expect && fsq < 3.0 * expect,
     "feedback entries have about scale^2 / out_dim variance (sum of squares %.3g)", fsq);
  trunk_rule_free(r);
  lpdm_loss_free(loss);
  lpdm_net_free(net);
}

static void test_checkpoints(void) {
  lpdm_loss *dfa = mk_loss("dfa", NULL), *lh = mk_loss("localhead", NULL);
  lpdm_net *n1 = fx_dense_net(ctx, IN, 2, "out=5 act=tanh|out=4 act=tanh", 1);
  lpdm_net *n2 = fx_dense_net(ctx, IN, 2, "out=6 act=tanh|out=4 act=tanh", 1);
  trunk_rule *r1 = NULL, *r2 = NULL, *r3 = NULL;
  lpdm_st *st = NULL;
  if (!dfa || !lh || !n1 || !n2 || trunk_rule_new(ctx, NULL, dfa, n1, K, 7, "actor", &r1) ||
      trunk_rule_new(ctx, NULL, dfa, n1, K, 8, "actor", &r2) || trunk_rule_new(ctx, NULL, dfa, n2, K, 7, "actor", &r3) ||
      lpdm_st_new(ctx, &st)) {
    ok(0, "DFA rules and a tensor set: %s", lpdm_ctx_message(ctx));
    return;
  }
  const size_t n = (size_t)K * H1 * sizeof(float);
  ok(memcmp(trunk_rule_dfa_feedback(r1, 0), trunk_rule_dfa_feedback(r2, 0), n) != 0,
     "another seed draws other feedback matrices");
  int rc = trunk_rule_save(r1, ctx, st, "algo.rule.actor") || trunk_rule_load(r2, ctx, st, "algo.rule.actor");
  ok(!rc && !memcmp(trunk_rule_dfa_feedback(r1, 0), trunk_rule_dfa_feedback(r2, 0), n) &&
         !memcmp(trunk_rule_dfa_feedback(r1, 1), trunk_rule_dfa_feedback(r2, 1), (size_t)K * H2 * sizeof(float)),
     "DFA's feedback matrices survive a checkpoint round trip");
  rc = trunk_rule_load(r3, ctx, st, "algo.rule.actor");
  const char *m = lpdm_ctx_message(ctx);
  ok(rc < 0 && has(m, "layer 1") && has(m, "feedback") && has(m, "2 x 6"),
     "a checkpoint whose feedback matrix does not fit a layer is refused, naming it: %s", m);
  rc = trunk_rule_load(r1, ctx, st, "algo.rule.critic");
  ok(rc < 0 && has(lpdm_ctx_message(ctx), "algo.rule.critic.feedback1"), "a missing feedback matrix is named: %s",
     lpdm_ctx_message(ctx));
  trunk_rule_free(r1);
  trunk_rule_free(r2);
  trunk_rule_free(r3);
  lpdm_st_free(st);

  /* local heads: state (weights and Adam moments) round-trips; the next update repeats bit for bit */
  lpdm_net *a = fx_dense_net(ctx, IN, 2, "out=5 act=tanh|out=4 act=tanh", 31);
  lpdm_net *b = fx_dense_net(ctx, IN, 2, "out=5 act=tanh|out=4 act=tanh", 32);
  trunk_rule *ra = NULL, *rb = NULL;
  float X[B * IN], T[B * K];
  for (int i = 0; i < B * IN; i++) X[i] = (float)sin(2.1 * i);
  for (int i = 0; i < B * K; i++) T[i] = (float)sin(0.3 * i);
  algo_targets t = {.B = B, .objective = quad, .objective_arg = T};
  const float *Y;
  rc = !a || !b || trunk_rule_new(ctx, NULL, lh, a, K, 1, "critic", &ra) ||
       trunk_rule_new(ctx, NULL, lh, b, K, 2, "critic", &rb) || lpdm_st_new(ctx, &st) ||
       trunk_rule_update(ra, a, ctx, X, B, &t, &Y, NULL) || trunk_rule_update(ra, a, ctx, X, B, &t, &Y, NULL) ||
       lpdm_net_save(a, ctx, st, "value", 1) || trunk_rule_save(ra, ctx, st, "algo.rule.critic") ||
       lpdm_net_load(b, ctx, st, "value", 1) || trunk_rule_load(rb, ctx, st, "algo.rule.critic");
  int dt, nd;
  const int64_t *sh;
  size_t nb;
  ok(!rc && lpdm_st_get(st, "algo.rule.critic.head1.0.weight", &dt, &nd, &sh, &nb) != NULL,
     "local heads saved under the rule's prefix and loaded into another rule (%s)", lpdm_ctx_message(ctx));
  for (int k = 0; !rc && k < 3; k++)
    rc = trunk_rule_update(ra, a, ctx, X, B, &t, &Y, NULL) || trunk_rule_update(rb, b, ctx, X, B, &t, &Y, NULL);
  int same = !rc;
  for (int l = 0; same && l < 2; l++)
    same = same_layer(lpdm_net_layer(a, l), lpdm_net_layer(b, l)) &&
           same_layer(lpdm_net_layer(trunk_rule_localhead_head(ra, l), 0),
                      lpdm_net_layer(trunk_rule_localhead_head(rb, l), 0));
  ok(same, "after the round trip three more updates repeat bit for bit (trunk and local heads)");
  trunk_rule_free(ra);
  trunk_rule_free(rb);
  lpdm_st_free(st);
  lpdm_net_free(a);
  lpdm_net_free(b);
  lpdm_net_free(n1);
  lpdm_net_free(n2);
  lpdm_loss_free(dfa);
  lpdm_loss_free(lh);
}

static const lpdm_loss_kind ff_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_LOSS, "loss.ff", "a rule nobody built", NULL),
    .rule = "forward_forward",
};

static void test_bad_input(void) {
  lpdm_net *net = fx_dense_net(ctx, IN, 2, "out=5 act=tanh|out=4 act=tanh", 3);
  const lpdm_plugin *eu = lpdm_plugin_get(ctx, LPDM_KIND_DISTANCE, "euclidean");
  lpdm_distance *dist = NULL;
  lpdm_loss *dfa = mk_loss("dfa", NULL), *lh = mk_loss("localhead", NULL);
  if (!net || !eu || !dfa || !lh || lpdm_distance_new(ctx, (const lpdm_distance_kind *)eu, NULL, &dist)) {
    ok(0, "fixture: %s", lpdm_ctx_message(ctx));
    return;
  }
  float X[B * IN] = {0}, T[B * K] = {0}, e[B * 3] = {0};
  for (int i = 0; i < B * IN; i++) X[i] = (float)i / 7;
  const float *Y;
  int rc = lpdm_net_local_update(net, ctx, dist, dfa, X, B, NULL, &Y, NULL);
  ok(rc == LPDM_ERR_ARG && has(lpdm_ctx_message(ctx), "loss.dfa") && has(lpdm_ctx_message(ctx), "learning rule"),
     "the plain local update refuses a rule loss by name: %s", lpdm_ctx_message(ctx));
  trunk_rule *r = NULL;
  ok(lpdm_plugin_register(ctx, &ff_kind.head, "test") == 0, "a loss naming an unknown rule registers");
  lpdm_loss *ff = mk_loss("ff", NULL);
  rc = ff ? trunk_rule_new(ctx, dist, ff, net, K, 1, "actor", &r) : -1;
  ok(rc < 0 && !r && has(lpdm_ctx_message(ctx), "forward_forward") && has(lpdm_ctx_message(ctx), "loss.ff"),
     "a rule the algorithms do not know is refused when the run is built: %s", lpdm_ctx_message(ctx));
  static const struct {
    const char *loss, *text, *want, *ml; /* ml: match_loss (it holds spaces) */
  } bad[] = {
      {"localhead", "match=1.5", "match must be in [0, 1]"},
      {"localhead", "head_lr=-1", "head_lr must be >= 0"},
      {"dfa", "scale=0", "scale must be > 0"},
      {"dfa", "match=0.5 match_loss=dfa", "not a distance-matching loss"},
      {"localhead", "match=0.5 match_loss=strss", "stress"},
      {"localhead", "match=0.5", "alpha", "guided alph=1"},
      {"localhead", "match=0.5", "not key=value", "guided alpha"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    lpdm_loss *l = mk_loss(bad[i].loss, bad[i].text);
    if (l && bad[i].ml) lpdm_config_set_str(ctx, &l->cfg, bad[i].loss, "match_loss", bad[i].ml);
    rc = l ? trunk_rule_new(ctx, dist, l, net, K, 1, "actor", &r) : -1;
    ok(rc < 0 && !r && has(lpdm_ctx_message(ctx), bad[i].want), "%s %s %s refused: %s", bad[i].loss, bad[i].text,
       bad[i].ml ? bad[i].ml : "", lpdm_ctx_message(ctx));
    lpdm_loss_free(l);
  }
  rc = trunk_rule_new(ctx, dist, lh, net, K, 1, "actor", &r);
  algo_targets t = {.B = B};
  rc = rc || trunk_rule_update(r, net, ctx, X, B, &t, &Y, NULL) != LPDM_ERR_ARG;
  ok(!rc && has(lpdm_ctx_message(ctx), "objective") && has(lpdm_ctx_message(ctx), "layer 1"),
     "local heads without the algorithm's objective: refused, naming the layer: %s", lpdm_ctx_message(ctx));
  trunk_rule_free(r);
  r = NULL;
  rc = trunk_rule_new(ctx, dist, dfa, net, K, 1, "actor", &r);
  rc = rc || trunk_rule_update(r, net, ctx, X, B, &t, &Y, NULL) != LPDM_ERR_ARG;
  ok(!rc && has(lpdm_ctx_message(ctx), "head's error"), "DFA without the head's error: refused: %s",
     lpdm_ctx_message(ctx));
  algo_targets te = {.B = B, .dout = e, .dout_dim = 3};
  rc = trunk_rule_update(r, net, ctx, X, B, &te, &Y, NULL);
  ok(rc == LPDM_ERR_ARG && has(lpdm_ctx_message(ctx), "6 x 3") && has(lpdm_ctx_message(ctx), "layer 1"),
     "DFA given an error of another width than its feedback expects: refused, naming the layer: %s",
     lpdm_ctx_message(ctx));
  trunk_rule_free(r);
  (void)T;
  lpdm_loss_free(ff);
  lpdm_loss_free(dfa);
  lpdm_loss_free(lh);
  lpdm_distance_free(dist);
  lpdm_net_free(net);
}

static int zero_add(void *arg, lpdm_net *n, int i, const float *X, const float *Y, int B_, float *dY, double *L,
                    lpdm_ctx *c) {
  (void)arg, (void)n, (void)i, (void)X, (void)Y, (void)B_, (void)dY, (void)c;
  *L = 0;
  return LPDM_OK;
}

/* lpdm_net_signal_update with match = 1 is distance matching: the same
   update as lpdm_net_local_update (bit for bit with the net's default post). */
static void test_match_only(void) {
  lpdm_net *a = fx_dense_net(ctx, IN, 2, "out=5 act=tanh|out=4 act=tanh", 41);
  lpdm_net *b = fx_dense_net(ctx, IN, 2, "out=5 act=tanh|out=4 act=tanh", 41);
  const lpdm_plugin *eu = lpdm_plugin_get(ctx, LPDM_KIND_DISTANCE, "euclidean");
  lpdm_distance *dist = NULL;
  lpdm_loss *stress = mk_loss("stress", NULL);
  if (!a || !b || !eu || !stress || lpdm_distance_new(ctx, (const lpdm_distance_kind *)eu, NULL, &dist)) {
    ok(0, "fixture: %s", lpdm_ctx_message(ctx));
    return;
  }
  float X[B * IN];
  for (int i = 0; i < B * IN; i++) X[i] = (float)cos(0.37 * i);
  const float *Ya, *Yb;
  double la[2], lb[2];
  const lpdm_layer_signal s = {NULL, NULL, 1.0, dist, stress, NULL, -1};
  ok(lpdm_net_signal_update(a, ctx, &s, X, B, &Ya, la) == LPDM_ERR_ARG && has(lpdm_ctx_message(ctx), "add"),
     "a signal without its callback is refused");
  lpdm_layer_signal s1 = s;
  s1.add = zero_add;
  int rc = lpdm_net_signal_update(a, ctx, &s1, X, B, &Ya, la) || lpdm_net_local_update(b, ctx, dist, stress, X, B, NULL, &Yb, lb);
  ok(!rc && !memcmp(Ya, Yb, B * H2 * sizeof(float)) && la[0] == lb[0] && la[1] == lb[1],
     "match = 1: the signal update is distance matching (stress %g %g)", la[0], la[1]);
  lpdm_loss_free(stress);
  lpdm_distance_free(dist);
  lpdm_net_free(a);
  lpdm_net_free(b);
}

/* The control "frozen": the trunk's output, and no weight moves. */
static void test_frozen(void) {
  lpdm_net *net = fx_dense_net(ctx, IN, 2, "out=5 act=tanh|out=4 act=tanh", 5);
  lpdm_loss *fz = mk_loss("frozen", NULL);
  trunk_rule *r = NULL;
  if (!net || !fz || trunk_rule_new(ctx, NULL, fz, net, K, 1, "actor", &r)) {
    ok(0, "a frozen rule: %s", lpdm_ctx_message(ctx));
    return;
  }
  float X[B * IN], want[B * H2];
  for (int i = 0; i < B * IN; i++) X[i] = (float)sin(0.5 * i);
  pcopy w0 = save_params(lpdm_net_layer(net, 0)), w1 = save_params(lpdm_net_layer(net, 1));
  lpdm_net_forward(net, ctx, X, B, want);
  const float *Y;
  double st[2] = {1, 1};
  algo_targets t = {.B = B};
  int rc = trunk_rule_update(r, net, ctx, X, B, &t, &Y, st) || trunk_rule_update(r, net, ctx, X, B, &t, &Y, st);
  int same = !rc && !memcmp(Y, want, sizeof want) && st[0] == 0 && st[1] == 0;
  for (int j = 0; same && j < w0.n; j++)
    same = !memcmp(lpdm_net_layer(net, 0)->params[j].w, w0.w[j], lpdm_net_layer(net, 0)->params[j].n * sizeof(float));
  for (int j = 0; same && j < w1.n; j++)
    same = !memcmp(lpdm_net_layer(net, 1)->params[j].w, w1.w[j], lpdm_net_layer(net, 1)->params[j].n * sizeof(float));
  ok(same && !strcmp(r->vt->name, "frozen") && !r->vt->needs_head_error,
     "frozen: the features are the trunk's output, no weight moves, the local figures are 0");
  free_params(&w0);
  free_params(&w1);
  trunk_rule_free(r);
  lpdm_loss_free(fz);
  lpdm_net_free(net);
}

int main(void) {
  ctx = fx_ctx();
  test_localhead_fd();
  test_no_backward_path();
  test_dfa_definition();
  test_checkpoints();
  test_bad_input();
  test_match_only();
  test_frozen();
  lpdm_ctx_free(ctx);
  return done_testing();
}
