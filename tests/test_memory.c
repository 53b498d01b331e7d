/* SPDX-License-Identifier: MIT */
/* test_memory.c -- local mode's working memory does not grow with depth
   (issue 9, item 3; docs/performance.md "Memory in depth").

   Counts lpdm_net_work_bytes (a deterministic count of the net's buffers,
   not a measured peak) after one update of nets of 1, 4 and 16 dense
   layers (width W, tanh) on a batch of B:
     local, whole matrices: the same at every depth, and equal to two
       ping-pong buffers and dY (3 B W), three B x B matrices and the
       distance's work (LPDM_DIST_WORK);
     local, row blocks: the same at every depth (3 B W, three blocks of
       rows and LPDM_DIST_ROWS_WORK);
     bp: the input copy, one B x W activation per layer and two gradient
       buffers, so B W floats more per layer;
   and a second local update allocates nothing more. bench/bench_memory.c
   measures the resident peaks these counts stand for. */
#include <stdio.h>
#include <stdlib.h>

#include "fixture.h"
#include "lpdm/lpdm.h"
#include "tap.h"

enum { B = 64, W = 32, BLOCK = 16, NDEPTH = 3 };
static const int depths[NDEPTH] = {1, 4, 16};

static lpdm_ctx *ctx;

static lpdm_net *make_net(const lpdm_layer_kind *dense, int depth, int blocked) {
  lpdm_net *net = NULL;
  lpdm_config cfg;
  lpdm_rng r;
  lpdm_rng_seed(&r, 3);
  if (lpdm_net_new(ctx, W, &net) || lpdm_config_init(ctx, &dense->head, &cfg) ||
      lpdm_config_set_num(ctx, &cfg, "layer.dense", "out", W))
    return NULL;
  for (int i = 0; i < depth; i++)
    if (lpdm_net_add(net, ctx, dense, &cfg, &r, NULL)) {
      lpdm_net_free(net);
      return NULL;
    }
  if (blocked) {
    lpdm_local_cfg lc = lpdm_local_default();
    lc.blocked = 1;
    lc.block = BLOCK;
    if (lpdm_net_set_local(net, ctx, &lc)) {
      lpdm_net_free(net);
      return NULL;
    }
  }
  return net;
}

/* Work bytes after one update in mode 0 (bp), 1 (local) or 2 (local, row
   blocks); 0 on failure. *again: after a second update. */
static size_t work_after(const lpdm_layer_kind *dense, const lpdm_distance *dist, const lpdm_loss *loss,
                         const float *X, const float *g, float *dY, int mode, int depth, size_t *again) {
  lpdm_net *net = make_net(dense, depth, mode == 2);
  if (!net) {
    diag("net: %s", lpdm_ctx_message(ctx));
    return 0;
  }
  size_t w[2] = {0, 0};
  for (int rep = 0; rep < 2; rep++) {
    const float *Y = NULL;
    int rc;
    if (mode == 0) {
      rc = lpdm_net_train_forward(net, ctx, X, B, &Y);
      for (size_t i = 0; !rc && i < (size_t)B * W; i++) dY[i] = Y[i];
      if (!rc) rc = lpdm_net_backward(net, ctx, dY, NULL);
    } else {
      rc = lpdm_net_local_update(net, ctx, dist, loss, X, B, g, &Y, NULL);
    }
    if (rc) {
      diag("update: %s", lpdm_ctx_message(ctx));
      lpdm_net_free(net);
      return 0;
    }
    w[rep] = lpdm_net_work_bytes(net);
  }
  lpdm_net_free(net);
  *again = w[1];
  return w[0];
}

int main(void) {
  plan(9);
  ctx = lpdm_ctx_new();
  const lpdm_layer_kind *dense = (const lpdm_layer_kind *)fx_plugin(ctx, LPDM_KIND_LAYER, "dense.so", "dense");
  const lpdm_distance_kind *eu = (const lpdm_distance_kind *)fx_plugin(ctx, LPDM_KIND_DISTANCE, "euclidean.so", "euclidean");
  const lpdm_loss_kind *guided = (const lpdm_loss_kind *)fx_plugin(ctx, LPDM_KIND_LOSS, "guided.so", "guided");
  lpdm_distance *dist = NULL;
  lpdm_loss *loss = NULL;
  if (!dense || !eu || !guided || lpdm_distance_new(ctx, eu, NULL, &dist) || lpdm_loss_new(ctx, guided, NULL, &loss)) {
    diag("plugins: %s", lpdm_ctx_message(ctx));
    return 1;
  }
  float *X = malloc(sizeof(float) * B * W), *dY = malloc(sizeof(float) * B * W), g[B];
  lpdm_rng r;
  lpdm_rng_seed(&r, 1);
  for (int i = 0; i < B * W; i++) X[i] = (float)lpdm_rng_normal(&r);
  for (int i = 0; i < B; i++) g[i] = (float)lpdm_rng_uniform(&r);

  const size_t f = sizeof(float);
  const size_t want_local = (3 * (size_t)B * W + 3 * (size_t)B * B + LPDM_DIST_WORK(B, W)) * f;
  const size_t want_blocked = (3 * (size_t)B * W + 3 * (size_t)BLOCK * B + LPDM_DIST_ROWS_WORK(B, W, BLOCK)) * f;
  static const char *const names[3] = {"bp", "local", "local, row blocks"};
  size_t work[3][NDEPTH], again[3][NDEPTH];
  for (int m = 0; m < 3; m++)
    for (int k = 0; k < NDEPTH; k++) work[m][k] = work_after(dense, dist, loss, X, g, dY, m, depths[k], &again[m][k]);

  for (int m = 1; m < 3; m++) {
    const size_t want = m == 1 ? want_local : want_blocked;
    int flat = 1, exact = 1, still = 1;
    for (int k = 0; k < NDEPTH; k++) {
      flat &= work[m][k] == work[m][0];
      exact &= work[m][k] == want;
      still &= again[m][k] == work[m][k];
      diag("%s, depth %2d: %zu bytes (second update %zu)", names[m], depths[k], work[m][k], again[m][k]);
    }
    ok(flat && work[m][0] > 0, "%s: work bytes the same at depths 1, 4 and 16", names[m]);
    ok(exact, "%s: work bytes are the fixed buffers only (%zu)", names[m], want);
    ok(still, "%s: a second update allocates nothing more", names[m]);
  }
  int grows = 1, still = 1;
  for (int k = 0; k < NDEPTH; k++) {
    const size_t want = ((size_t)B * W + (size_t)depths[k] * B * W + 2 * (size_t)B * W) * f;
    grows &= work[0][k] == want;
    still &= again[0][k] == work[0][k];
    diag("bp, depth %2d: %zu bytes (want %zu)", depths[k], work[0][k], want);
  }
  ok(grows, "bp: one B x W activation more per layer");
  ok(still, "bp: a second update allocates nothing more");
  ok(work[0][NDEPTH - 1] > work[0][0], "bp: work grows with depth (as it must)");

  free(X);
  free(dY);
  lpdm_distance_free(dist);
  lpdm_loss_free(loss);
  lpdm_ctx_free(ctx);
  return done_testing();
}
