/* SPDX-License-Identifier: MIT */
/* test_layers.c -- the conv2d, flatten and layer-normalised dense layers.

   conv2d: the forward pass against a naive direct convolution in double
   (several shapes, strides, paddings, batch sizes that take one or several
   im2col chunks), the output shape rule, and finite-difference checks of
   its parameter gradients and dL/dX at stride 1 and 2, padding 0 and 1.
   flatten: identity forward and backward. dense with norm = "layer": the
   forward pass against a naive layer norm in double, and finite-difference
   checks of weight, bias, norm_gain, norm_shift and dL/dX. dense without
   norm at shapes that take the layer's own product kernel (out >= 16, in x
   out <= 16384: 6-row and 1-row tiles, 16-column blocks, scalar edge
   columns and rows), with and without bias: the forward pass against
   double, each row bit for bit the same whether computed alone, in blocks
   of 4 or in one call of B rows, and finite-difference checks of all
   gradients. Shape and config errors name the layer and the key.

   Tolerances. Forward against the double reference: max |err| <= 1e-5 x
   (1 + |ref|) per output (float32 sums of at most 144 products of O(1)
   terms). Gradients: central differences in float32 with h = 1e-2 and the
   objective f = sum C .* layer(X) summed in double (liblpdm's checker,
   lpdm/gradcheck.h, through tests/gradcheck.h); a check passes when the
   relative error of the whole gradient vector, |fd - analytic| /
   max(|fd|, 1e-3), is below GTOL = 5e-3 (measured: at most 2.1e-4; the
   error is h^2 truncation through tanh and float32 rounding of f,
   ~1e-7 / h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "lpdm/lpdm.h"
#include "tap.h"
#include "gradcheck.h"

#define FTOL 1e-5
#define GTOL 5e-3

static lpdm_ctx *ctx;
static lpdm_rng rng;
static const lpdm_layer_kind *conv_k, *flat_k, *dense_k;


typedef struct convcfg {
  int C, H, W, O, k, s, pad;
  const char *act;
} convcfg;

static int conv_config(lpdm_config *cfg, const convcfg *c) {
  if (lpdm_config_init(ctx, &conv_k->head, cfg)) return -1;
  const char *names[] = {"in_channels", "height", "width", "out_channels", "kernel", "stride", "padding"};
  int vals[] = {c->C, c->H, c->W, c->O, c->k, c->s, c->pad};
  for (int i = 0; i < 7; i++)
    if (lpdm_config_set_num(ctx, cfg, "conv2d", names[i], vals[i])) return -1;
  return lpdm_config_set_str(ctx, cfg, "conv2d", "act", c->act);
}

static lpdm_layer *make_conv(const convcfg *c) {
  lpdm_config cfg;
  lpdm_layer *l = NULL;
  if (conv_config(&cfg, c) || conv_k->init(conv_k, &cfg, c->C * c->H * c->W, &rng, &l, ctx)) {
    diag("conv2d init: %s", lpdm_ctx_message(ctx));
    return NULL;
  }
  l->cfg = cfg;
  return l;
}

/* Y = act(conv(X) + b) directly from the definition, in double. */
static void conv_naive(const convcfg *c, const float *Wt, const float *b, int has_bias, const float *X, int B,
                       double *Y) {
  int Ho = (c->H + 2 * c->pad - c->k) / c->s + 1, Wo = (c->W + 2 * c->pad - c->k) / c->s + 1;
  for (int n = 0; n < B; n++)
    for (int o = 0; o < c->O; o++)
      for (int oy = 0; oy < Ho; oy++)
        for (int ox = 0; ox < Wo; ox++) {
          double s = has_bias ? b[o] : 0;
          for (int ch = 0; ch < c->C; ch++)
            for (int ki = 0; ki < c->k; ki++)
              for (int kj = 0; kj < c->k; kj++) {
                int iy = oy * c->s - c->pad + ki, ix = ox * c->s - c->pad + kj;
                if (iy < 0 || iy >= c->H || ix < 0 || ix >= c->W) continue;
                s += (double)Wt[((o * c->C + ch) * c->k + ki) * c->k + kj] *
                     X[(((size_t)n * c->C + ch) * c->H + iy) * c->W + ix];
              }
          if (!strcmp(c->act, "tanh")) s = tanh(s);
          else if (!strcmp(c->act, "relu")) s = s > 0 ? s : 0;
          Y[(((size_t)n * c->O + o) * Ho + oy) * Wo + ox] = s;
        }
}

static void check_conv_forward(const convcfg *c, int B) {
  lpdm_layer *l = make_conv(c);
  if (!l) {
    ok(0, "conv2d forward: init");
    return;
  }
  int Ho = (c->H + 2 * c->pad - c->k) / c->s + 1, Wo = (c->W + 2 * c->pad - c->k) / c->s + 1;
  int in = l->in_dim, out = l->out_dim;
  float *X = malloc(sizeof(float) * B * in), *Y = malloc(sizeof(float) * B * out);
  double *R = malloc(sizeof(double) * B * out);
  gc_fill(&rng, X, (size_t)B * in, 1.0);
  conv_k->forward(l, X, B, Y, ctx);
  conv_naive(c, l->params[0].w, l->nparams > 1 ? l->params[1].w : NULL, l->nparams > 1, X, B, R);
  double worst = 0;
  for (size_t i = 0; i < (size_t)B * out; i++) worst = fmax(worst, fabs(Y[i] - R[i]) / (1 + fabs(R[i])));
  if (!ok(out == c->O * Ho * Wo && worst <= FTOL,
          "conv2d %dx%dx%d -> %d ch, k%d s%d p%d, %s, B=%d: forward equals the direct convolution (out %d = %dx%dx%d)",
          c->C, c->H, c->W, c->O, c->k, c->s, c->pad, c->act, B, out, c->O, Ho, Wo))
    diag("out_dim %d, max scaled error %.3g", out, worst);
  conv_k->free(l);
  free(X);
  free(Y);
  free(R);
}

static void check_conv_grads(const convcfg *c, int B) {
  lpdm_layer *l = make_conv(c);
  if (!l) {
    ok(0, "conv2d grads: init");
    return;
  }
  char name[128];
  snprintf(name, sizeof name, "conv2d %dx%dx%d -> %d ch, k%d s%d p%d, %s, B=%d", c->C, c->H, c->W, c->O, c->k, c->s,
           c->pad, c->act, B);
  gc_check_layer(ctx, &rng, conv_k, l, B, GTOL, name);
  conv_k->free(l);
}

/* ---- errors, through lpdm_net_add so that the message names the layer */
static void expect_error(const lpdm_layer_kind *k, int in, const char *key, const char *val, const char *want1,
                         const char *want2) {
  lpdm_config cfg;
  lpdm_config_init(ctx, &k->head, &cfg);
  if (!strcmp(k->head.name, "layer.conv2d")) {
    lpdm_config_set_num(ctx, &cfg, "c", "in_channels", 4);
    lpdm_config_set_num(ctx, &cfg, "c", "height", 10);
    lpdm_config_set_num(ctx, &cfg, "c", "width", 10);
  }
  if (key) lpdm_config_set_text(ctx, &cfg, k->head.name, key, val);
  lpdm_net *net = NULL;
  lpdm_net_new(ctx, in, &net);
  lpdm_ctx_clear(ctx);
  int rc = lpdm_net_add(net, ctx, k, &cfg, &rng, NULL);
  const char *m = lpdm_ctx_message(ctx);
  if (!ok(rc == LPDM_ERR_ARG && strstr(m, k->head.name) && strstr(m, want1) && (!want2 || strstr(m, want2)),
          "%s with %s=%s on %d inputs is refused, naming the layer and '%s'", k->head.name, key ? key : "(defaults)",
          key ? val : "", in, want1))
    diag("rc %d, message: %s", rc, m);
  else diag("%s", m);
  lpdm_net_free(net);
}

/* ---- dense (norm = "none") at shapes of its own product kernel */
static void check_dense_own(const char *act, int bias, int B, int p, int q) {
  lpdm_config cfg;
  lpdm_config_init(ctx, &dense_k->head, &cfg);
  lpdm_config_set_num(ctx, &cfg, "dense", "out", q);
  lpdm_config_set_str(ctx, &cfg, "dense", "act", act);
  lpdm_config_set_bool(ctx, &cfg, "dense", "bias", bias);
  lpdm_layer *l = NULL;
  if (dense_k->init(dense_k, &cfg, p, &rng, &l, ctx)) {
    ok(0, "dense init: %s", lpdm_ctx_message(ctx));
    return;
  }
  float *X = malloc(sizeof(float) * B * p), *Y = malloc(sizeof(float) * B * q), *Y1 = malloc(sizeof(float) * B * q),
        *Y4 = malloc(sizeof(float) * B * q);
  gc_fill(&rng, X, (size_t)B * p, 1.0);
  dense_k->forward(l, X, B, Y, ctx);
  for (int i = 0; i < B; i++) dense_k->forward(l, X + (size_t)i * p, 1, Y1 + (size_t)i * q, ctx);
  for (int i = 0; i < B; i += 4)
    dense_k->forward(l, X + (size_t)i * p, B - i < 4 ? B - i : 4, Y4 + (size_t)i * q, ctx);
  const float *W = l->params[0].w, *b = bias ? l->params[1].w : NULL;
  double worst = 0;
  for (int i = 0; i < B; i++)
    for (int j = 0; j < q; j++) {
      double u = b ? b[j] : 0;
      for (int t = 0; t < p; t++) u += (double)X[i * p + t] * W[t * q + j];
      if (!strcmp(act, "tanh")) u = tanh(u);
      else if (!strcmp(act, "relu")) u = u > 0 ? u : 0;
      worst = fmax(worst, fabs(Y[i * q + j] - u) / (1 + fabs(u)));
    }
  if (!ok(worst <= FTOL, "dense(%s, bias=%d) %dx%d->%d: forward equals X W + b, act", act, bias, B, p, q))
    diag("max scaled error %.3g", worst);
  ok(!memcmp(Y, Y1, sizeof(float) * B * q) && !memcmp(Y, Y4, sizeof(float) * B * q),
     "dense(%s) %dx%d->%d: each row's bits the same in one call, alone and in blocks of 4", act, B, p, q);
  char name[96];
  snprintf(name, sizeof name, "dense(%s, bias=%d) %dx%d->%d", act, bias, B, p, q);
  /* relu: with ~100 outputs some pre-activation lies within h of its kink
     and the central difference is wrong there; test_grad checks relu small */
  if (strcmp(act, "relu")) gc_check_layer(ctx, &rng, dense_k, l, B, GTOL, name);
  free(X);
  free(Y);
  free(Y1);
  free(Y4);
  dense_k->free(l);
}

/* ---- dense with norm = "layer" against a naive layer norm */
static void check_dense_ln_forward(const char *act, int B, int p, int q) {
  lpdm_config cfg;
  lpdm_config_init(ctx, &dense_k->head, &cfg);
  lpdm_config_set_num(ctx, &cfg, "dense", "out", q);
  lpdm_config_set_str(ctx, &cfg, "dense", "act", act);
  lpdm_config_set_str(ctx, &cfg, "dense", "norm", "layer");
  lpdm_layer *l = NULL;
  if (dense_k->init(dense_k, &cfg, p, &rng, &l, ctx)) {
    ok(0, "dense norm=layer init: %s", lpdm_ctx_message(ctx));
    return;
  }
  int names_ok = l->nparams == 4 && !strcmp(l->params[2].name, "norm_gain") &&
                 !strcmp(l->params[3].name, "norm_shift") && l->params[2].w[0] == 1.0f && l->params[3].w[0] == 0.0f;
  ok(names_ok, "dense norm=layer: params weight, bias, norm_gain (init 1), norm_shift (init 0)");
  gc_fill(&rng, l->params[2].w, (size_t)q, 0.3);
  for (int j = 0; j < q; j++) l->params[2].w[j] += 1.0f;
  gc_fill(&rng, l->params[3].w, (size_t)q, 0.3);
  float *X = malloc(sizeof(float) * B * p), *Y = malloc(sizeof(float) * B * q);
  gc_fill(&rng, X, (size_t)B * p, 1.0);
  dense_k->forward(l, X, B, Y, ctx);
  const float *W = l->params[0].w, *b = l->params[1].w, *gam = l->params[2].w, *bet = l->params[3].w;
  double eps = lpdm_cfg_num(&cfg, "eps"), worst = 0;
  double *z = malloc(sizeof(double) * q);
  for (int i = 0; i < B; i++) {
    double mu = 0, var = 0;
    for (int j = 0; j < q; j++) {
      double s = b[j];
      for (int t = 0; t < p; t++) s += (double)X[i * p + t] * W[t * q + j];
      z[j] = s;
      mu += s;
    }
    mu /= q;
    for (int j = 0; j < q; j++) var += (z[j] - mu) * (z[j] - mu);
    var /= q;
    for (int j = 0; j < q; j++) {
      double u = (z[j] - mu) / sqrt(var + eps) * gam[j] + bet[j];
      if (!strcmp(act, "tanh")) u = tanh(u);
      else if (!strcmp(act, "relu")) u = u > 0 ? u : 0;
      worst = fmax(worst, fabs(Y[i * q + j] - u) / (1 + fabs(u)));
    }
  }
  if (!ok(worst <= FTOL, "dense(%s, norm=layer) %dx%d->%d: forward equals the layer-norm formula", act, B, p, q))
    diag("max scaled error %.3g", worst);
  char name[96];
  snprintf(name, sizeof name, "dense(%s, norm=layer) %dx%d->%d", act, B, p, q);
  gc_check_layer(ctx, &rng, dense_k, l, B, GTOL, name);
  free(z);
  free(X);
  free(Y);
  dense_k->free(l);
}

int main(void) {
  ctx = fx_ctx();
  lpdm_rng_seed(&rng, 7);
  conv_k = (const lpdm_layer_kind *)lpdm_plugin_find(ctx, LPDM_KIND_LAYER, "conv2d");
  flat_k = (const lpdm_layer_kind *)lpdm_plugin_find(ctx, LPDM_KIND_LAYER, "flatten");
  dense_k = (const lpdm_layer_kind *)lpdm_plugin_find(ctx, LPDM_KIND_LAYER, "dense");
  if (!conv_k || !flat_k || !dense_k) {
    printf("Bail out! layer.conv2d, layer.flatten or layer.dense missing\n");
    return 1;
  }

  /* conv2d forward */
  const convcfg fw[] = {{2, 5, 6, 3, 3, 1, 0, "identity"}, {2, 5, 6, 3, 3, 2, 1, "identity"},
                        {3, 7, 7, 4, 2, 2, 0, "tanh"},     {1, 4, 4, 2, 1, 1, 0, "relu"},
                        {2, 6, 5, 3, 3, 3, 2, "identity"}, {4, 10, 10, 16, 3, 1, 1, "relu"}};
  for (size_t i = 0; i < sizeof fw / sizeof *fw; i++) {
    check_conv_forward(&fw[i], 1);
    check_conv_forward(&fw[i], 5);
  }
  /* MinAtar's shape over 25 im2col chunks (4 samples each), and a large
     sample that takes a chunk of its own */
  check_conv_forward(&fw[5], 100);
  const convcfg big = {16, 32, 32, 4, 3, 1, 1, "identity"};
  check_conv_forward(&big, 3);

  /* conv2d gradients: stride 1 and 2, padding 0 and 1 */
  const convcfg gr[] = {{2, 5, 6, 3, 3, 1, 0, "tanh"}, {2, 5, 6, 3, 3, 1, 1, "tanh"},
                        {2, 6, 5, 3, 3, 2, 0, "tanh"}, {2, 6, 5, 3, 3, 2, 1, "tanh"},
                        {3, 5, 5, 2, 2, 2, 1, "identity"}};
  for (size_t i = 0; i < sizeof gr / sizeof *gr; i++) check_conv_grads(&gr[i], 3);
  check_conv_grads(&gr[1], 1);

  /* flatten */
  {
    lpdm_layer *l = NULL;
    int rc = flat_k->init(flat_k, NULL, 12, &rng, &l, ctx);
    float X[24], Y[24], dY[24], dX[24];
    gc_fill(&rng, X, 24, 1.0);
    gc_fill(&rng, dY, 24, 1.0);
    flat_k->forward(l, X, 2, Y, ctx);
    flat_k->backward(l, X, Y, 2, dY, dX, ctx);
    ok(rc == 0 && l->in_dim == 12 && l->out_dim == 12 && l->nparams == 0 && !memcmp(X, Y, sizeof X) &&
           !memcmp(dX, dY, sizeof dX),
       "flatten: Y = X, dX = dY, no parameters, width kept");
    flat_k->free(l);
  }
  /* conv -> flatten -> dense chains in a net, bp passes through all three */
  {
    lpdm_net *net = NULL;
    lpdm_config cc;
    const convcfg c = {4, 10, 10, 8, 3, 2, 1, "relu"};
    conv_config(&cc, &c);
    int rc = lpdm_net_new(ctx, 400, &net);
    if (!rc) rc = lpdm_net_add(net, ctx, conv_k, &cc, &rng, NULL);
    if (!rc) rc = lpdm_net_add(net, ctx, flat_k, NULL, &rng, NULL);
    if (!rc) rc = lpdm_net_add(net, ctx, dense_k, NULL, &rng, NULL);
    float X[3 * 400], dX[3 * 400], dO[3 * 64];
    const float *Y = NULL;
    gc_fill(&rng, X, 3 * 400, 1.0);
    gc_fill(&rng, dO, 3 * 64, 1.0);
    if (!rc) rc = lpdm_net_train_forward(net, ctx, X, 3, &Y);
    if (!rc) rc = lpdm_net_backward(net, ctx, dO, dX);
    if (!ok(rc == 0 && lpdm_net_layer(net, 0)->out_dim == 8 * 5 * 5 && lpdm_net_out_dim(net) == 64,
            "net conv2d(4x10x10 -> 8, k3 s2 p1) -> flatten -> dense: widths 200, 200, 64; bp runs"))
      diag("%s", lpdm_ctx_message(ctx));
    lpdm_net_free(net);
  }

  /* dense with layer norm */
  check_dense_ln_forward("tanh", 6, 5, 7);
  check_dense_ln_forward("identity", 4, 3, 5);
  check_dense_ln_forward("relu", 6, 5, 9);

  /* dense through its own product kernel: 16-column blocks and edges,
     6-row tiles, short blocks of 3-5 rows, single rows */
  check_dense_own("tanh", 1, 13, 4, 64);
  check_dense_own("tanh", 1, 1, 64, 16);
  check_dense_own("identity", 0, 7, 17, 40);
  check_dense_own("relu", 1, 5, 6, 20);
  check_dense_own("tanh", 0, 8, 3, 48);

  /* errors */
  expect_error(conv_k, 399, NULL, NULL, "400", "4 x 10 x 10");
  expect_error(conv_k, 400, "height", "0", "height", NULL);
  expect_error(conv_k, 400, "kernel", "13", "kernel=13", NULL);
  expect_error(conv_k, 400, "stride", "0", "stride", NULL);
  expect_error(conv_k, 400, "padding", "-1", "padding", NULL);
  expect_error(conv_k, 400, "act", "swish", "swish", NULL);
  expect_error(conv_k, 400, "init", "xavier", "xavier", NULL);
  expect_error(dense_k, 4, "norm", "batch", "norm 'batch'", NULL);
  {
    lpdm_config cfg;
    lpdm_config_init(ctx, &dense_k->head, &cfg);
    lpdm_config_set_str(ctx, &cfg, "dense", "norm", "layer");
    lpdm_config_set_num(ctx, &cfg, "dense", "eps", 0);
    lpdm_net *net = NULL;
    lpdm_net_new(ctx, 4, &net);
    int rc = lpdm_net_add(net, ctx, dense_k, &cfg, &rng, NULL);
    const char *m = lpdm_ctx_message(ctx);
    ok(rc == LPDM_ERR_ARG && strstr(m, "layer.dense") && strstr(m, "eps"), "dense norm=layer eps=0 is refused: %s", m);
    lpdm_net_free(net);
  }
  lpdm_ctx_free(ctx);
  return done_testing();
}
