/* SPDX-License-Identifier: MIT */
/* test_blackbox.c -- the black-box layers: sign, quantize, topk, sort,
   random_projection, noise.

   Each one's output against its definition on hand-made cases (ties,
   zeros, NaN, the clamp), random_projection's linearity, seeding and scale,
   noise's statistics and seeding. None has a backward or a parameter. bp mode
   refuses a net holding one, naming it; straight_through = true passes the
   gradient unchanged for the same-width boxes (bit for bit what the layers
   around it give without the box) and is refused for a random projection
   that changes the width. local mode trains the layer after each box. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "lpdm/lpdm.h"
#include "tap.h"

static lpdm_ctx *ctx;
static lpdm_rng rng;

static const lpdm_layer_kind *kind(const char *name) {
  return (const lpdm_layer_kind *)lpdm_plugin_find(ctx, LPDM_KIND_LAYER, name);
}

/* A config for kind k from "key=value key=value" (NULL: defaults). */
static lpdm_config config(const lpdm_layer_kind *k, const char *kv) {
  lpdm_config cfg;
  if (fx_config(ctx, &k->head, kv, &cfg)) diag("config: %s", lpdm_ctx_message(ctx));
  return cfg;
}

static lpdm_layer *make(const char *name, const char *kv, int in) {
  const lpdm_layer_kind *k = kind(name);
  lpdm_config cfg = config(k, kv);
  lpdm_layer *l = NULL;
  if (k->init(k, &cfg, in, &rng, &l, ctx)) {
    diag("%s init: %s", name, lpdm_ctx_message(ctx));
    return NULL;
  }
  l->cfg = cfg;
  return l;
}

static int same(const float *a, const float *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!(a[i] == b[i] && signbit(a[i]) == signbit(b[i]))) {
      diag("at %zu: got %.9g want %.9g", i, a[i], b[i]);
      return 0;
    }
  return 1;
}

/* Runs layer name (config kv) on B rows of X (width d), compares with want. */
static void hand(const char *name, const char *kv, int B, int d, const float *X, const float *want, const char *what) {
  lpdm_layer *l = make(name, kv, d);
  float Y[64];
  if (!l || l->out_dim != d) {
    ok(0, "%s(%s): %s", name, kv ? kv : "", what);
    return;
  }
  l->kind->forward(l, X, B, Y, ctx);
  ok(same(Y, want, (size_t)B * d), "%s(%s): %s", name, kv ? kv : "", what);
  l->kind->free(l);
}

static void hand_cases(void) {
  const float nan = NAN;
  {
    const float X[] = {-2, -0.0f, 0, 3e-8f, -1e-30f, 5};
    const float W[] = {-1, 0, 0, 1, -1, 1};
    hand("sign", NULL, 2, 3, X, W, "sign(x) in {-1, 0, +1}, sign(+-0) = 0");
    lpdm_layer *l = make("sign", NULL, 1);
    float y;
    l->kind->forward(l, &nan, 1, &y, ctx);
    ok(isnan(y), "sign(NaN) is NaN");
    l->kind->free(l);
  }
  {
    /* levels -1, -0.5, 0, 0.5, 1; -0.25 and 0.75 lie halfway: upper level */
    const float X[] = {-3, -1, -0.76f, -0.74f, -0.25f, 0.1f, 0.3f, 0.75f, 2};
    const float W[] = {-1, -1, -1, -0.5f, 0, 0, 0.5f, 1, 1};
    hand("quantize", "levels=5 lo=-1 hi=1", 1, 9, X, W, "nearest of 5 levels over [-1, 1], clamped, halfway goes up");
    const float X2[] = {0.0f, 0.2f, 1.2f, 1.25f, 1.3f, -7, 17};
    const float W2[] = {0.5f, 0.5f, 0.5f, 2, 2, 0.5f, 2};
    hand("quantize", "levels=2 lo=0.5 hi=2", 1, 7, X2, W2, "two levels over [0.5, 2], 1.25 halfway goes up");
    const float X3[] = {-0.01f, 0.0f, 0.01f};
    const float W3[] = {-1, 1, 1};
    hand("quantize", "levels=2", 1, 3, X3, W3, "levels=2 over [-1, 1] is a sign with sign(0) = +1");
  }
  {
    const float X[] = {1, 5, 3, 5, -2, 3, 0, /**/ 2, 2, 2, 2, 2, 2, 2, /**/ -5, -1, -3, -2, -4, -6, -7};
    const float W[] = {0, 5, 3, 5, 0, 0, 0, /**/ 2, 2, 2, 0, 0, 0, 0, /**/ 0, -1, -3, -2, 0, 0, 0};
    hand("topk", "k=3", 3, 7, X, W, "the 3 largest per row kept, ties to the lowest index, the rest 0");
    const float X2[] = {4, -1, nan, 2};
    lpdm_layer *l = make("topk", "k=2", 4);
    float Y[4];
    l->kind->forward(l, X2, 1, Y, ctx);
    ok(Y[0] == 4 && Y[1] == 0 && isnan(Y[2]) && Y[3] == 0, "topk: NaN ranks above every number");
    l->kind->free(l);
    const float X3[] = {3, 1, 2};
    hand("topk", "k=3", 1, 3, X3, X3, "topk with k = width is the identity");
  }
  {
    const float X[] = {3, -1, 2, 0.0f, -0.0f, 7, /**/ 1, 1, -1, 0, 0, -2};
    const float W[] = {-1, -0.0f, 0.0f, 2, 3, 7, /**/ -2, -1, 0, 0, 1, 1};
    hand("sort", NULL, 2, 6, X, W, "each row ascending, -0 before +0");
    const float X2[] = {nan, 1, -1};
    lpdm_layer *l = make("sort", NULL, 3);
    float Y[3];
    l->kind->forward(l, X2, 1, Y, ctx);
    ok(Y[0] == -1 && Y[1] == 1 && isnan(Y[2]), "sort: NaN last");
    l->kind->free(l);
  }
}

static void projection(void) {
  const int in = 16, out = 4096;
  lpdm_layer *a = make("random_projection", "out=4096 seed=3", in);
  lpdm_layer *b = make("random_projection", "out=4096 seed=3", in);
  lpdm_layer *c = make("random_projection", "out=4096 seed=4", in);
  float *I = calloc((size_t)in * in, sizeof(float)), *Ra = malloc(sizeof(float) * in * out);
  float *Rb = malloc(sizeof(float) * in * out), *Rc = malloc(sizeof(float) * in * out);
  for (int i = 0; i < in; i++) I[i * in + i] = 1;
  a->kind->forward(a, I, in, Ra, ctx); /* the rows of R */
  b->kind->forward(b, I, in, Rb, ctx);
  c->kind->forward(c, I, in, Rc, ctx);
  ok(a->out_dim == out && a->nparams == 0 && !memcmp(Ra, Rb, sizeof(float) * in * out) &&
         memcmp(Ra, Rc, sizeof(float) * in * out),
     "random_projection: out width 4096, no parameters; seed 3 twice gives the same R, seed 4 another");
  double s = 0, s2 = 0;
  size_t n = (size_t)in * out;
  for (size_t i = 0; i < n; i++) {
    s += Ra[i];
    s2 += (double)Ra[i] * Ra[i];
  }
  double mean = s / n, var = s2 / n - mean * mean;
  /* 65536 draws: the sample variance is within 2% of 1/out with overwhelming probability */
  ok(fabs(mean) < 5 * sqrt(1.0 / out / n) && fabs(var * out - 1) < 0.02,
     "random_projection: R_ij ~ N(0, 1/out) (mean %.2g, var x out %.4f)", mean, var * out);
  /* linear, and norms preserved on average */
  float X[2 * 16], *Y = malloc(sizeof(float) * 2 * out), Z[16], *YZ = malloc(sizeof(float) * out);
  for (int i = 0; i < 2 * in; i++) X[i] = (float)lpdm_rng_normal(&rng);
  for (int i = 0; i < in; i++) Z[i] = 2 * X[i] - 3 * X[in + i];
  a->kind->forward(a, X, 2, Y, ctx);
  a->kind->forward(a, Z, 1, YZ, ctx);
  double worst = 0, nx = 0, ny = 0;
  for (int j = 0; j < out; j++) worst = fmax(worst, fabs(YZ[j] - (2 * Y[j] - 3 * Y[out + j])));
  for (int i = 0; i < in; i++) nx += (double)X[i] * X[i];
  for (int j = 0; j < out; j++) ny += (double)Y[j] * Y[j];
  ok(worst < 1e-4 && fabs(ny / nx - 1) < 0.1, "random_projection: linear (err %.2g), |xR|^2 / |x|^2 = %.3f", worst,
     ny / nx);
  /* seed = -1: from the init RNG */
  lpdm_rng r1, r2;
  lpdm_rng_seed(&r1, 11);
  lpdm_rng_seed(&r2, 11);
  const lpdm_layer_kind *k = kind("random_projection");
  lpdm_config cfg = config(k, "out=8");
  lpdm_layer *d = NULL, *e = NULL, *f = NULL;
  k->init(k, &cfg, in, &r1, &d, ctx);
  k->init(k, &cfg, in, &r2, &e, ctx);
  k->init(k, &cfg, in, &r2, &f, ctx);
  float Yd[8], Ye[8], Yf[8];
  k->forward(d, X, 1, Yd, ctx);
  k->forward(e, X, 1, Ye, ctx);
  k->forward(f, X, 1, Yf, ctx);
  ok(!memcmp(Yd, Ye, sizeof Yd) && memcmp(Ye, Yf, sizeof Ye),
     "random_projection seed=-1: R follows the init RNG (same state, same R; next draw, another R)");
  k->free(d);
  k->free(e);
  k->free(f);
  free(Y);
  free(YZ);
  free(I);
  free(Ra);
  free(Rb);
  free(Rc);
  a->kind->free(a);
  b->kind->free(b);
  c->kind->free(c);
}

static void noise(void) {
  const int B = 4000, d = 8;
  size_t n = (size_t)B * d;
  float *X = calloc(n, sizeof(float)), *Y1 = malloc(sizeof(float) * n), *Y2 = malloc(sizeof(float) * n);
  float *Y3 = malloc(sizeof(float) * n);
  lpdm_layer *a = make("noise", "std=0.5 seed=9", d), *b = make("noise", "std=0.5 seed=9", d);
  for (size_t i = 0; i < n; i++) X[i] = (float)(i % 7) - 3;
  a->kind->forward(a, X, B, Y1, ctx);
  a->kind->forward(a, X, B, Y2, ctx);
  b->kind->forward(b, X, B, Y3, ctx);
  double s = 0, s2 = 0;
  for (size_t i = 0; i < n; i++) {
    double e = (double)Y1[i] - X[i];
    s += e;
    s2 += e * e;
  }
  double mean = s / n, sd = sqrt(s2 / n - mean * mean);
  ok(fabs(mean) < 5 * 0.5 / sqrt((double)n) && fabs(sd - 0.5) < 0.01, "noise std=0.5: Y - X has mean %.2g, std %.4f",
     mean, sd);
  ok(memcmp(Y1, Y2, sizeof(float) * n) && !memcmp(Y1, Y3, sizeof(float) * n),
     "noise: fresh draws on every forward; two instances with the same seed draw the same stream");
  lpdm_layer *z = make("noise", "std=0", d);
  z->kind->forward(z, X, B, Y1, ctx);
  ok(!memcmp(X, Y1, sizeof(float) * n), "noise std=0 is the identity");
  lpdm_rng r1, r2;
  lpdm_rng_seed(&r1, 5);
  lpdm_rng_seed(&r2, 6);
  const lpdm_layer_kind *k = kind("noise");
  lpdm_config cfg = config(k, NULL);
  lpdm_layer *e = NULL, *f = NULL;
  k->init(k, &cfg, d, &r1, &e, ctx);
  k->init(k, &cfg, d, &r2, &f, ctx);
  k->forward(e, X, 1, Y1, ctx);
  k->forward(f, X, 1, Y2, ctx);
  ok(memcmp(Y1, Y2, sizeof(float) * d) != 0, "noise seed=-1: the stream follows the init RNG");
  k->free(e);
  k->free(f);
  a->kind->free(a);
  b->kind->free(b);
  z->kind->free(z);
  free(X);
  free(Y1);
  free(Y2);
  free(Y3);
}

typedef struct box {
  const char *name, *kv; /* kv: its config with the width it keeps (out = 6 for the projection) */
} box;

static const box boxes[] = {{"sign", NULL},   {"quantize", "levels=4"}, {"topk", "k=3"},
                            {"sort", NULL},   {"noise", "std=0.1"},     {"random_projection", "out=6"}};
enum { NBOX = sizeof boxes / sizeof *boxes };

/* A net 4 -> dense(6) -> box -> dense(3). */
static lpdm_net *sandwich(const box *b, const char *extra, uint64_t seed) {
  lpdm_rng r;
  lpdm_rng_seed(&r, seed);
  char kv[128];
  snprintf(kv, sizeof kv, "%s%s%s", b->kv ? b->kv : "", b->kv && extra ? " " : "", extra ? extra : "");
  const lpdm_layer_kind *dk = kind("dense"), *bk = kind(b->name);
  lpdm_config d6 = config(dk, "out=6"), d3 = config(dk, "out=3"), bc = config(bk, kv);
  lpdm_net *net = NULL;
  if (lpdm_net_new(ctx, 4, &net) || lpdm_net_add(net, ctx, dk, &d6, &r, NULL) ||
      lpdm_net_add(net, ctx, bk, &bc, &r, NULL) || lpdm_net_add(net, ctx, dk, &d3, &r, NULL)) {
    diag("sandwich %s: %s", b->name, lpdm_ctx_message(ctx));
    lpdm_net_free(net);
    return NULL;
  }
  return net;
}

static void no_backward_and_bp(void) {
  for (int i = 0; i < NBOX; i++) {
    const lpdm_layer_kind *k = kind(boxes[i].name);
    lpdm_net *net = sandwich(&boxes[i], NULL, 1);
    if (!k || !net) {
      ok(0, "%s: registered and builds", boxes[i].name);
      continue;
    }
    lpdm_layer *l = lpdm_net_layer(net, 1);
    ok(k->backward == NULL && l->nparams == 0 && lpdm_config_index(&l->cfg, "straight_through") >= 0 &&
           !lpdm_cfg_bool(&l->cfg, "straight_through"),
       "%s: a black box (no backward, no parameters), straight_through defaults to false", k->head.name);
    float X[5 * 4], dO[5 * 3];
    for (int j = 0; j < 20; j++) X[j] = (float)lpdm_rng_normal(&rng);
    for (int j = 0; j < 15; j++) dO[j] = (float)lpdm_rng_normal(&rng);
    const float *Y;
    lpdm_net_train_forward(net, ctx, X, 5, &Y);
    lpdm_ctx_clear(ctx);
    int rc = lpdm_net_backward(net, ctx, dO, NULL);
    const char *m = lpdm_ctx_message(ctx);
    char want[64];
    snprintf(want, sizeof want, "layer 2 (%s)", k->head.name);
    if (!ok(rc == LPDM_ERR_ARG && strstr(m, want) && strstr(m, "mode=local") && strstr(m, "straight_through=true"),
            "bp refuses %s by name and suggests mode=local or straight_through=true", k->head.name))
      diag("rc %d: %s", rc, m);
    else diag("%s", m);
    lpdm_net_free(net);
  }
}

/* straight_through = true: the box passes dL/dY unchanged. The net
   [dense(6), box] must give the first layer exactly the gradients and dX of
   the net [dense(6)] with the same weights; and [box, dense] the dX that
   dense gives on box(X). */
static void straight_through(void) {
  const lpdm_layer_kind *dk = kind("dense");
  for (int i = 0; i < NBOX; i++) {
    const box *b = &boxes[i];
    const lpdm_layer_kind *bk = kind(b->name);
    char kv[128];
    snprintf(kv, sizeof kv, "%s%sstraight_through=true", b->kv ? b->kv : "", b->kv ? " " : "");
    lpdm_config d6 = config(dk, "out=6"), bc = config(bk, kv);
    lpdm_rng r1, r2;
    lpdm_rng_seed(&r1, 3);
    lpdm_rng_seed(&r2, 3);
    lpdm_net *e = NULL, *f = NULL;
    lpdm_net_new(ctx, 4, &e);
    lpdm_net_new(ctx, 4, &f);
    lpdm_net_add(e, ctx, dk, &d6, &r1, NULL);
    lpdm_net_add(e, ctx, bk, &bc, &r1, NULL);
    lpdm_net_add(f, ctx, dk, &d6, &r2, NULL);
    float X[5 * 4], dO[5 * 6], dO2[5 * 6], dXe[5 * 4], dXf[5 * 4];
    for (int j = 0; j < 20; j++) X[j] = (float)lpdm_rng_normal(&rng);
    for (int j = 0; j < 30; j++) dO[j] = (float)lpdm_rng_normal(&rng);
    memcpy(dO2, dO, sizeof dO);
    const float *Y;
    lpdm_net_zero_grad(e);
    lpdm_net_zero_grad(f);
    lpdm_net_train_forward(e, ctx, X, 5, &Y);
    lpdm_net_train_forward(f, ctx, X, 5, &Y);
    lpdm_ctx_clear(ctx);
    int rc = lpdm_net_backward(e, ctx, dO, dXe);
    int rcf = lpdm_net_backward(f, ctx, dO2, dXf);
    lpdm_layer *le = lpdm_net_layer(e, 0), *lf = lpdm_net_layer(f, 0);
    if (!strcmp(b->name, "random_projection")) { /* 6 -> 6: same width, allowed */
      ok(rc == 0, "random_projection out = width with straight_through=true: bp passes it");
    } else {
      int eq = rc == 0 && rcf == 0 && !memcmp(dXe, dXf, sizeof dXe);
      for (int j = 0; j < le->nparams; j++)
        eq = eq && !memcmp(le->params[j].g, lf->params[j].g, le->params[j].n * sizeof(float));
      if (!ok(eq, "%s straight_through=true: bp passes dL/dY through unchanged (grads and dX bit-identical)",
              bk->head.name))
        diag("rc %d: %s", rc, lpdm_ctx_message(ctx));
    }
    lpdm_net_free(e);
    lpdm_net_free(f);
  }
  /* the box first: dX of the net is the gradient at the box's output */
  {
    const lpdm_layer_kind *sk = kind("sign");
    lpdm_config sc = config(sk, "straight_through=true"), d3 = config(dk, "out=3");
    lpdm_net *a = NULL, *b = NULL;
    lpdm_net_new(ctx, 4, &a);
    lpdm_net_new(ctx, 4, &b);
    lpdm_rng r1, r2;
    lpdm_rng_seed(&r1, 4);
    lpdm_rng_seed(&r2, 4);
    lpdm_net_add(a, ctx, sk, &sc, &r1, NULL);
    lpdm_net_add(a, ctx, dk, &d3, &r1, NULL);
    lpdm_net_add(b, ctx, dk, &d3, &r2, NULL);
    float X[5 * 4], SX[5 * 4], dO[5 * 3], dO2[5 * 3], dXa[5 * 4], dXb[5 * 4];
    for (int j = 0; j < 20; j++) X[j] = (float)lpdm_rng_normal(&rng);
    for (int j = 0; j < 15; j++) dO[j] = (float)lpdm_rng_normal(&rng);
    memcpy(dO2, dO, sizeof dO);
    sk->forward(lpdm_net_layer(a, 0), X, 5, SX, ctx);
    const float *Y;
    lpdm_net_train_forward(a, ctx, X, 5, &Y);
    lpdm_net_train_forward(b, ctx, SX, 5, &Y);
    int rc = lpdm_net_backward(a, ctx, dO, dXa);
    lpdm_net_backward(b, ctx, dO2, dXb);
    ok(rc == 0 && !memcmp(dXa, dXb, sizeof dXa), "sign first with straight_through=true: the net's dX is dL/d sign(X)");
    lpdm_net_free(a);
    lpdm_net_free(b);
  }
  /* a projection that changes the width cannot pass the gradient unchanged */
  {
    box rp = {"random_projection", "out=5"};
    lpdm_net *net = sandwich(&rp, "straight_through=true", 2);
    float X[5 * 4], dO[5 * 3];
    for (int j = 0; j < 20; j++) X[j] = (float)lpdm_rng_normal(&rng);
    for (int j = 0; j < 15; j++) dO[j] = 1;
    const float *Y;
    lpdm_net_train_forward(net, ctx, X, 5, &Y);
    lpdm_ctx_clear(ctx);
    int rc = lpdm_net_backward(net, ctx, dO, NULL);
    const char *m = lpdm_ctx_message(ctx);
    if (!ok(rc == LPDM_ERR_ARG && strstr(m, "layer 2 (layer.random_projection)") && strstr(m, "6 to 5") &&
                strstr(m, "widths"),
            "random_projection 6 -> 5 with straight_through=true: bp refuses it, naming it and the widths"))
      diag("rc %d: %s", rc, m);
    else diag("%s", m);
    lpdm_net_free(net);
  }
}

/* local mode: the layer after the box learns (its weights change), the box
   reports a zero loss and has nothing to train. */
static void local_mode(void) {
  const lpdm_distance_kind *ek = (const lpdm_distance_kind *)lpdm_plugin_find(ctx, LPDM_KIND_DISTANCE, "euclidean");
  const lpdm_loss_kind *gk = (const lpdm_loss_kind *)lpdm_plugin_find(ctx, LPDM_KIND_LOSS, "guided");
  lpdm_distance *dist = NULL;
  lpdm_loss *loss = NULL;
  if (!ek || !gk || lpdm_distance_new(ctx, ek, NULL, &dist) || lpdm_loss_new(ctx, gk, NULL, &loss)) {
    ok(0, "local mode: euclidean and guided plugins");
    return;
  }
  for (int i = 0; i < NBOX; i++) {
    lpdm_net *net = sandwich(&boxes[i], NULL, 5);
    const int B = 16;
    float X[16 * 4], g[16], before[6 * 3], before0[4 * 6];
    for (int j = 0; j < B * 4; j++) X[j] = (float)lpdm_rng_normal(&rng);
    for (int j = 0; j < B; j++) g[j] = (float)(j % 4);
    lpdm_param *w3 = &lpdm_net_layer(net, 2)->params[0], *w1 = &lpdm_net_layer(net, 0)->params[0];
    memcpy(before, w3->w, sizeof before);
    memcpy(before0, w1->w, sizeof before0);
    const float *Y;
    double losses[3] = {-1, -1, -1};
    int rc = lpdm_net_local_update(net, ctx, dist, loss, X, B, g, &Y, losses);
    if (!ok(rc == 0 && memcmp(before, w3->w, sizeof before) && memcmp(before0, w1->w, sizeof before0) &&
                losses[1] == 0 && losses[2] > 0,
            "local mode trains the dense layer after %s (its weights change; box loss 0, next loss %.3g)",
            boxes[i].name, losses[2]))
      diag("rc %d: %s", rc, lpdm_ctx_message(ctx));
    lpdm_net_free(net);
  }
  lpdm_distance_free(dist);
  lpdm_loss_free(loss);
}

int main(void) {
  ctx = fx_ctx();
  lpdm_rng_seed(&rng, 17);
  for (int i = 0; i < NBOX; i++)
    if (!kind(boxes[i].name)) {
      printf("Bail out! layer.%s is not registered\n", boxes[i].name);
      return 1;
    }
  hand_cases();
  projection();
  noise();
  no_backward_and_bp();
  straight_through();
  local_mode();
  lpdm_ctx_free(ctx);
  return done_testing();
}
