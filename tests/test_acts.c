/* SPDX-License-Identifier: MIT */
/* test_acts.c -- the activations sigmoid, elu, gelu, silu, leaky_relu and
   softplus of layer.dense and layer.conv2d (plugins/layers/lib/act.h).

   Values and derivatives: a dense layer 1 -> 1 with W = 1, b = 0 gives
   Y = act(x) row by row and, with dY = 1, dX = act'(x); both against the
   definitions in double (PyTorch's defaults, elu also with alpha = 0.5,
   leaky_relu with negative_slope = 0.2) at points around 0, in both tails
   and on both sides of softplus's threshold 20. A value passes when
   |y - ref| <= 4e-7 (1 + c) |ref| + 1e-30, c = |x f'(x) / f(x)| the
   function's condition number (a few float32 ulp, times c: gelu's left
   tail, where c ~ x^2, gets x / sqrt 2 rounded to float), a derivative when
   |d - ref| <= 1e-6 |ref| + 1e-7 (the derivatives from Y lose relative
   precision where Y rounds: sigmoid and elu in their flat tails, within
   ulp(1) / 2 absolute; act.c explains). A sweep of 160001 points over
   [-40, 40] (half of them geometrically close to 0) bounds the value error
   at 8 half-ulps x (1 + c), 4 float32 ulp as lpdm_k_tanh's bound (measured:
   at most 6.3, gelu near its minimum at -0.75, where c ~ 0; an error
   below the smallest normal float, 2^-126, counts as none: gelu flushes
   values beneath it to 0) and the derivative as above.

   Gradients: finite differences (liblpdm's checker, tests/gradcheck.h;
   central, h = 1e-2, f = sum C .* layer(X) in double) of dX and of every
   parameter, in dense 3 -> 8 and conv2d (2 x 5 x 5, 4 filters of 3 x 3,
   padding 1), once at points around 0 (X ~ N(0, 1), the default weights)
   and once in the tails: each output unit's bias moved far (dense: -25,
   -12, -4, -0.5, 0.5, 4, 12, 25; conv2d: -25, -1, 1, 24), so that elu
   and sigmoid work far left and softplus above its threshold. Kinks
   (leaky_relu and elu with alpha != 1 at 0) are left out as usual, with
   h = 1e-3 for these two, so that few coordinates lie within h of one.

   The kept pre-activation (gelu, silu): backward from it and backward
   after another forward (Y at another address: Z recomputed from X) give
   the same gradients bit for bit.

   Local mode: a dense net (4 -> 16 -> 16) and a conv2d -> flatten -> dense
   net with each activation take one local update (euclidean, stress), with
   propagate post and pre: finite loss, weights and output. One PPO
   iteration in local mode with each activation on CartPole-v1.

   Config errors: an unknown act, alpha <= 0, negative_slope < 0, alpha or
   negative_slope set for another act, each named. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "lpdm/lpdm.h"
#include "tap.h"
#include "gradcheck.h"

static lpdm_ctx *ctx;
static lpdm_rng rng;
static const lpdm_layer_kind *dense_k, *conv_k, *flat_k;

static const char *const acts[] = {"sigmoid", "elu", "gelu", "silu", "leaky_relu", "softplus"};
#define NACTS 6

/* ---- the definitions in double */
static double sig(double x) { return 1 / (1 + exp(-x)); }
static double ref_f(const char *a, double x, double alpha, double slope) {
  if (!strcmp(a, "sigmoid")) return sig(x);
  if (!strcmp(a, "elu")) return x > 0 ? x : alpha * expm1(x);
  if (!strcmp(a, "gelu")) return 0.5 * x * erfc(-x / sqrt(2.0));
  if (!strcmp(a, "silu")) return x * sig(x);
  if (!strcmp(a, "leaky_relu")) return x > 0 ? x : slope * x;
  return x > 20 ? x : log1p(exp(x)); /* softplus */
}
static double ref_d(const char *a, double x, double alpha, double slope) {
  if (!strcmp(a, "sigmoid")) return sig(x) * (1 - sig(x));
  if (!strcmp(a, "elu")) return x > 0 ? 1 : alpha * exp(x);
  if (!strcmp(a, "gelu")) return 0.5 * erfc(-x / sqrt(2.0)) + x * exp(-0.5 * x * x) / sqrt(2 * M_PI);
  if (!strcmp(a, "silu")) return sig(x) * (1 + x * (1 - sig(x)));
  if (!strcmp(a, "leaky_relu")) return x > 0 ? 1 : slope;
  return x > 20 ? 1 : sig(x); /* softplus */
}

static lpdm_layer *make(const lpdm_layer_kind *k, int in, const char *text) {
  lpdm_config cfg;
  lpdm_layer *l = NULL;
  if (fx_config(ctx, &k->head, text, &cfg) || k->init(k, &cfg, in, &rng, &l, ctx)) {
    diag("%s %s: %s", k->head.name, text, lpdm_ctx_message(ctx));
    return NULL;
  }
  l->cfg = cfg;
  return l;
}

/* ---- values and derivatives at chosen points */
static void check_values(const char *a, double alpha, double slope) {
  static const float pts[] = {-40, -30, -17, -8, -3, -1, -0.25f, -1e-3f, -1e-6f, 0, 1e-6f, 1e-3f, 0.25f,
                              1,   3,   8,   17, 19.5f, 20, 20.5f, 25, 40};
  enum { N = sizeof pts / sizeof *pts };
  char text[128];
  snprintf(text, sizeof text, "out=1 act=%s init=zeros alpha=%.17g negative_slope=%.17g", a,
           !strcmp(a, "elu") ? alpha : 1.0, !strcmp(a, "leaky_relu") ? slope : 0.01);
  lpdm_layer *l = make(dense_k, 1, text);
  if (!ok(l != NULL, "%s: dense 1 -> 1 built", text)) return;
  l->params[0].w[0] = 1.0f;
  float Y[N], dY[N], dX[N];
  int rc = dense_k->forward(l, pts, N, Y, ctx);
  for (int i = 0; i < N; i++) dY[i] = 1.0f;
  if (!rc) rc = dense_k->backward(l, pts, Y, N, dY, dX, ctx);
  double worst_v = 0, worst_d = 0;
  int at_v = 0, at_d = 0;
  for (int i = 0; !rc && i < N; i++) {
    const double x = pts[i], rv = ref_f(a, x, alpha, slope), rd = ref_d(a, x, alpha, slope);
    const double cond = fabs(rv) > 0 ? fabs(x * rd / rv) : 1;
    const double ev = fabs(Y[i] - rv) / (4e-7 * (1 + cond) * fabs(rv) + 1e-30);
    const double ed = fabs(dX[i] - rd) / (1e-6 * fabs(rd) + 1e-7);
    if (ev > worst_v) worst_v = ev, at_v = i;
    if (ed > worst_d) worst_d = ed, at_d = i;
  }
  if (!ok(!rc && worst_v <= 1, "%s(alpha %g, slope %g): values within tolerance of double at %d points", a, alpha,
          slope, N))
    diag("worst at x = %g: %.9g vs %.17g (%s)", pts[at_v], Y[at_v], ref_f(a, pts[at_v], alpha, slope),
         lpdm_ctx_message(ctx));
  if (!ok(!rc && worst_d <= 1, "%s(alpha %g, slope %g): derivatives (backward's dX) within tolerance of double", a,
          alpha, slope))
    diag("worst at x = %g: %.9g vs %.17g", pts[at_d], dX[at_d], ref_d(a, pts[at_d], alpha, slope));
  dense_k->free(l);
}

/* ---- a sweep: the worst error over [-40, 40] in units of the value's
   rounding, times the condition number (1 + c), as check_values; and the
   derivative's worst absolute error beside its magnitude */
static void check_sweep(const char *a, double max_units) {
  enum { N = 160001 };
  char text[96];
  snprintf(text, sizeof text, "out=1 act=%s init=zeros", a);
  lpdm_layer *l = make(dense_k, 1, text);
  float *X = malloc(sizeof(float) * N), *Y = malloc(sizeof(float) * N), *dY = malloc(sizeof(float) * N),
        *dX = malloc(sizeof(float) * N);
  if (!ok(l && X && Y && dY && dX, "%s: built", text)) return;
  l->params[0].w[0] = 1.0f;
  for (int i = 0; i < N; i++) {
    X[i] = (float)(-40.0 + 80.0 * i / (N - 1));
    if (i % 2) X[i] = (float)ldexp(X[i] / 40.0, -(i % 23)); /* every other point closer to 0 */
    dY[i] = 1.0f;
  }
  int rc = dense_k->forward(l, X, N, Y, ctx);
  if (!rc) rc = dense_k->backward(l, X, Y, N, dY, dX, ctx);
  double worst = 0, worst_d = 0;
  int at = 0, at_d = 0;
  for (int i = 0; !rc && i < N; i++) {
    const double x = X[i], rv = ref_f(a, x, 1.0, 0.01), rd = ref_d(a, x, 1.0, 0.01);
    const double cond = fabs(rv) > 0 ? fabs(x * rd / rv) : 1;
    const double err = fabs(Y[i] - rv), e = err <= 0x1p-126 ? 0 : err / ((1 + cond) * fabs(rv) * 0x1p-24);
    const double ed = fabs(dX[i] - rd) / (fabs(rd) * 1e-6 + 1e-7);
    if (e > worst) worst = e, at = i;
    if (ed > worst_d) worst_d = ed, at_d = i;
  }
  if (!ok(!rc && worst <= max_units,
          "%s: over %d points in [-40, 40], values within %.2g half-ulps x (1 + c) of double (<= %g)", a, N, worst,
          max_units))
    diag("worst at x = %.9g: %.9g vs %.17g", X[at], Y[at], ref_f(a, X[at], 1.0, 0.01));
  if (!ok(!rc && worst_d <= 1, "%s: derivatives within 1e-6 |d| + 1e-7 of double (worst %.2g of that)", a, worst_d))
    diag("worst at x = %.9g: %.9g vs %.17g", X[at_d], dX[at_d], ref_d(a, X[at_d], 1.0, 0.01));
  free(X), free(Y), free(dY), free(dX);
  dense_k->free(l);
}

/* ---- finite differences */
static void check_fd(const lpdm_layer_kind *k, int in, const char *shape, const char *a, const float *bias, int nb) {
  char text[256];
  snprintf(text, sizeof text, "%s act=%s", shape, a);
  lpdm_layer *l = make(k, in, text);
  if (!ok(l != NULL, "%s built", text)) return;
  if (bias)
    for (int j = 0; j < l->params[1].cols; j++) l->params[1].w[j] = bias[j % nb];
  lpdm_fd_opts o = gc_opts(1e-2);
  o.kinks = 1; /* leaky_relu and elu's second derivative at 0 */
  if (!strcmp(a, "leaky_relu") || !strcmp(a, "elu")) o.h = 1e-3; /* fewer coordinates within h of the kink */
  char name[300];
  snprintf(name, sizeof name, "%s %s (%s)", k->head.name, text, bias ? "tails" : "around 0");
  gc_layer(ctx, &rng, l, 3, &o, name);
  k->free(l);
}

/* ---- the kept Z and the recomputed one agree */
static void check_kept_z(const lpdm_layer_kind *k, int in, const char *text) {
  lpdm_layer *l = make(k, in, text);
  if (!ok(l != NULL, "%s built", text)) return;
  const int B = 5, q = l->out_dim;
  float *X = malloc(sizeof(float) * B * in), *Y = malloc(sizeof(float) * B * q), *Y2 = malloc(sizeof(float) * B * q);
  float *dY = malloc(sizeof(float) * B * q), *dX1 = malloc(sizeof(float) * B * in);
  float *dX2 = malloc(sizeof(float) * B * in);
  float *g1 = malloc(sizeof(float) * l->params[0].n);
  gc_fill(&rng, X, (size_t)B * in, 1.0);
  gc_fill(&rng, dY, (size_t)B * q, 1.0);
  float *dYc = malloc(sizeof(float) * B * q);
  memcpy(dYc, dY, sizeof(float) * B * q);
  memset(l->params[0].g, 0, sizeof(float) * l->params[0].n);
  int rc = k->forward(l, X, B, Y, ctx);
  if (!rc) rc = k->backward(l, X, Y, B, dY, dX1, ctx); /* from the kept Z */
  memcpy(g1, l->params[0].g, sizeof(float) * l->params[0].n);
  memset(l->params[0].g, 0, sizeof(float) * l->params[0].n);
  memcpy(Y2, Y, sizeof(float) * B * q);
  float *Xo = malloc(sizeof(float) * 2 * in);
  gc_fill(&rng, Xo, (size_t)2 * in, 1.0);
  if (!rc) rc = k->forward(l, Xo, 2, dY, ctx); /* another forward in between */
  memcpy(dY, dYc, sizeof(float) * B * q);
  if (!rc) rc = k->backward(l, X, Y2, B, dY, dX2, ctx); /* Z recomputed from X */
  ok(!rc && !memcmp(dX1, dX2, sizeof(float) * B * in) && !memcmp(g1, l->params[0].g, sizeof(float) * l->params[0].n),
     "%s %s: backward from the kept pre-activation and from one recomputed after another forward agree bit for bit",
     k->head.name, text);
  free(X), free(Y), free(Y2), free(dY), free(dYc), free(dX1), free(dX2), free(g1), free(Xo);
  k->free(l);
}

/* ---- local mode: one update, finite results */
static int finite_params(lpdm_net *net) {
  for (int i = 0; i < lpdm_net_depth(net); i++) {
    const lpdm_layer *l = lpdm_net_layer(net, i);
    for (int j = 0; j < l->nparams; j++)
      if (lpdm_check_finite(ctx, l->params[j].w, l->params[j].n, l->params[j].name)) return 0;
  }
  return 1;
}

static void check_local(const char *a, int conv, int post, const lpdm_distance *dist, const lpdm_loss *loss) {
  char text[64];
  snprintf(text, sizeof text, "act=%s", a);
  lpdm_net *net = NULL;
  const int in = conv ? 2 * 6 * 6 : 4, B = 24;
  int rc = lpdm_net_new(ctx, in, &net);
  lpdm_config cfg;
  if (conv) {
    char ct[160];
    snprintf(ct, sizeof ct, "in_channels=2 height=6 width=6 out_channels=4 padding=1 %s", text);
    if (!rc) rc = fx_config(ctx, &conv_k->head, ct, &cfg);
    if (!rc) rc = lpdm_net_add(net, ctx, conv_k, &cfg, &rng, NULL);
    if (!rc) rc = lpdm_net_add(net, ctx, flat_k, NULL, &rng, NULL);
  }
  snprintf(text, sizeof text, "out=16 act=%s", a);
  for (int i = 0; i < 2 && !rc; i++) {
    rc = fx_config(ctx, &dense_k->head, text, &cfg);
    if (!rc) rc = lpdm_net_add(net, ctx, dense_k, &cfg, &rng, NULL);
  }
  lpdm_net_set_propagate_post(net, post);
  float *X = malloc(sizeof(float) * B * in);
  gc_fill(&rng, X, (size_t)B * in, 2.0);
  const float *Y = NULL;
  double losses[4] = {NAN, NAN, NAN, NAN};
  if (!rc) rc = lpdm_net_local_update(net, ctx, dist, loss, X, B, NULL, &Y, losses);
  const int d = lpdm_net_depth(net);
  int fin = !rc && finite_params(net) && !lpdm_check_finite(ctx, Y, (size_t)B * lpdm_net_out_dim(net), "output") &&
            isfinite(losses[0]) && isfinite(losses[d - 1]);
  if (!ok(fin, "local update (%s, propagate %s) of %s with act=%s: finite losses (%.3g, %.3g), weights and output",
          loss->kind->head.name, post ? "post" : "pre", conv ? "conv2d -> flatten -> dense x 2" : "dense x 2", a,
          losses[0], losses[d - 1]))
    diag("%s", lpdm_ctx_message(ctx));
  free(X);
  lpdm_net_free(net);
}

static void check_ppo(const char *a) {
  char text[64];
  snprintf(text, sizeof text, "out=16 act=%s", a);
  fx_run r;
  lpdm_run_spec spec = {.loss_name = "guided"};
  const int made = fx_run_new(ctx, &r, "ppo", "CartPole-v1", "mode=local steps=2048", &(fx_net_spec){2, text, 3},
                              &spec) == LPDM_OK;
  const int rc = made ? lpdm_run_iterate(r.run, ctx) : -1;
  if (!ok(rc == LPDM_OK && finite_params(r.net),
          "ppo local on CartPole-v1 with two dense(16, %s): one iteration, finite weights", a))
    diag("%s", lpdm_ctx_message(ctx));
  if (made) fx_run_free(&r);
}

/* ---- config errors */
static void check_error(const lpdm_layer_kind *k, int in, const char *text, const char *want) {
  lpdm_config cfg;
  lpdm_layer *l = NULL;
  int rc = fx_config(ctx, &k->head, text, &cfg);
  if (!rc) rc = k->init(k, &cfg, in, &rng, &l, ctx);
  const char *m = lpdm_ctx_message(ctx);
  ok(rc == LPDM_ERR_ARG && strstr(m, want), "%s %s is refused naming '%s': %s", k->head.name, text, want, m);
  if (!rc) k->free(l);
}

int main(void) {
  ctx = fx_ctx();
  lpdm_rng_seed(&rng, 23);
  dense_k = (const lpdm_layer_kind *)lpdm_plugin_find(ctx, LPDM_KIND_LAYER, "dense");
  conv_k = (const lpdm_layer_kind *)lpdm_plugin_find(ctx, LPDM_KIND_LAYER, "conv2d");
  flat_k = (const lpdm_layer_kind *)lpdm_plugin_find(ctx, LPDM_KIND_LAYER, "flatten");
  const lpdm_distance_kind *eu = (const lpdm_distance_kind *)lpdm_plugin_find(ctx, LPDM_KIND_DISTANCE, "euclidean");
  const lpdm_loss_kind *st = (const lpdm_loss_kind *)lpdm_plugin_find(ctx, LPDM_KIND_LOSS, "stress");
  if (!dense_k || !conv_k || !flat_k || !eu || !st) {
    printf("Bail out! layer.dense, layer.conv2d, layer.flatten, distance.euclidean or loss.stress missing\n");
    return 1;
  }

  for (int i = 0; i < NACTS; i++) check_values(acts[i], 1.0, 0.01);
  check_values("elu", 0.5, 0.01);
  check_values("elu", 2.0, 0.01);
  check_values("leaky_relu", 1.0, 0.2);
  check_values("leaky_relu", 1.0, 0.0);
  for (int i = 0; i < NACTS; i++) check_sweep(acts[i], 8); /* measured: at most 6.3 (gelu) */

  const float dense_tails[] = {-25, -12, -4, -0.5f, 0.5f, 4, 12, 25}, conv_tails[] = {-25, -1, 1, 24};
  const char *conv_shape = "in_channels=2 height=5 width=5 out_channels=4 kernel=3 padding=1";
  for (int i = 0; i < NACTS; i++) {
    check_fd(dense_k, 3, "out=8", acts[i], NULL, 0);
    check_fd(dense_k, 3, "out=8", acts[i], dense_tails, 8);
    check_fd(conv_k, 50, conv_shape, acts[i], NULL, 0);
    check_fd(conv_k, 50, conv_shape, acts[i], conv_tails, 4);
  }
  check_fd(dense_k, 3, "out=8 alpha=0.5", "elu", NULL, 0);
  check_fd(dense_k, 3, "out=8 negative_slope=0.2", "leaky_relu", NULL, 0);
  check_fd(dense_k, 3, "out=8 norm=layer", "gelu", NULL, 0);
  check_fd(dense_k, 3, "out=8 norm=layer", "softplus", NULL, 0);
  check_fd(dense_k, 5, "out=48", "silu", NULL, 0); /* the layer's own product kernel */

  check_kept_z(dense_k, 4, "out=20 act=gelu");
  check_kept_z(dense_k, 4, "out=20 act=silu norm=layer");
  check_kept_z(dense_k, 300, "out=100 act=silu"); /* the cblas path */
  check_kept_z(conv_k, 50, "in_channels=2 height=5 width=5 out_channels=3 padding=1 act=gelu");

  lpdm_distance *dist = NULL;
  lpdm_loss *loss = NULL;
  if (lpdm_distance_new(ctx, eu, NULL, &dist) || lpdm_loss_new(ctx, st, NULL, &loss)) {
    printf("Bail out! %s\n", lpdm_ctx_message(ctx));
    return 1;
  }
  for (int i = 0; i < NACTS; i++)
    for (int conv = 0; conv < 2; conv++) check_local(acts[i], conv, 1, dist, loss);
  check_local("gelu", 0, 0, dist, loss);
  check_local("silu", 1, 0, dist, loss);
  lpdm_distance_free(dist);
  lpdm_loss_free(loss);
  for (int i = 0; i < NACTS; i++) check_ppo(acts[i]);

  check_error(dense_k, 4, "act=swish", "swish");
  check_error(conv_k, 50, "in_channels=2 height=5 width=5 act=gelu_tanh", "gelu_tanh");
  check_error(dense_k, 4, "act=elu alpha=0", "alpha");
  check_error(dense_k, 4, "act=leaky_relu negative_slope=-0.1", "negative_slope");
  check_error(dense_k, 4, "act=tanh alpha=0.5", "alpha");
  check_error(conv_k, 50, "in_channels=2 height=5 width=5 act=relu negative_slope=0.1", "negative_slope");

  lpdm_ctx_free(ctx);
  return done_testing();
}
