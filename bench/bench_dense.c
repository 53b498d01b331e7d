/* SPDX-License-Identifier: MIT */
/* bench_dense.c -- the dense layer's forward and backward at the shapes of
   the default CartPole nets (issue 22: bp's own cost), one BLAS thread.

   For each shape in -> out (4 -> 64, 64 -> 64, the heads 64 -> 2 and
   64 -> 1, and 256 -> 256 for a layer above the size where the layer
   hands its products to OpenBLAS) it times, per call:
     fwd B      layer forward (X W + b, tanh) at B = 1, 4 (the rollout's
                one-env and four-env forwards) and 128 (a PPO minibatch)
     bwd 128    layer backward at B = 128 (tanh', dW, db, dX)
   each as the best of R batches of calls (a batch at least 20 ms of this
   thread's CPU time), so a busy machine shows as spread, not as a shift.
   The figures are microseconds per call. tanh alone is timed too (ns per
   element over a 64 x 128 block, the input refilled each time).

   Run: OPENBLAS_NUM_THREADS=1 build/bench/bench_dense [--quick] [--act=NAME]
   --act times the layers with another activation (tanh by default); then
   backward starts each call from the same dY (copied in, and timed), so
   that a derivative below 1 cannot drive it into subnormals.
   Another build's liblpdm and plugins (found beside liblpdm) under the
   same program: LD_LIBRARY_PATH=OTHER/build build/bench/bench_dense */
#include <math.h>

#include "bench.h"
#include "lpdm/layer.h"

static lpdm_ctx *ctx;

static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

typedef struct job {
  const lpdm_layer_kind *k;
  lpdm_layer *l;
  float *X, *Y, *dY, *dX;
  int B, bwd;
  const float *dY0; /* --act: dY copied from here before each backward */
} job;

static void run(job *j) {
  if (j->bwd && j->dY0) memcpy(j->dY, j->dY0, sizeof(float) * j->B * j->l->out_dim);
  if (j->bwd) j->k->backward(j->l, j->X, j->Y, j->B, j->dY, j->dX, ctx);
  else j->k->forward(j->l, j->X, j->B, j->Y, ctx);
}

/* microseconds per call, best of reps batches */
static double time_job(job *j, int reps) {
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    long n = 0;
    const double t0 = cpu_now();
    double t;
    do {
      for (int i = 0; i < 16; i++) run(j);
      n += 16;
    } while ((t = cpu_now() - t0) < 0.02);
    if (t / n < best) best = t / n;
  }
  return best * 1e6;
}

int main(int argc, char **argv) {
  int reps = 9;
  const char *act = "tanh";
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--quick")) reps = 3;
    else if (!strncmp(argv[i], "--act=", 6)) act = argv[i] + 6;
  ctx = lpdm_ctx_new();
  if (!ctx || lpdm_plugin_load_default(ctx)) {
    fprintf(stderr, "bench_dense: plugins: %s\n", ctx ? lpdm_ctx_message(ctx) : "no context");
    return 1;
  }
  const lpdm_layer_kind *k = (const lpdm_layer_kind *)lpdm_plugin_find(ctx, LPDM_KIND_LAYER, "dense");
  if (!k) {
    fprintf(stderr, "bench_dense: layer.dense not found\n");
    return 1;
  }
  bench_machine();
  lpdm_rng rng;
  lpdm_rng_seed(&rng, 1);
  const int shapes[][2] = {{4, 64}, {64, 64}, {64, 2}, {64, 1}, {256, 256}};
  printf("\n  act = %s\n", act);
  printf("\n  in -> out   fwd B=1   fwd B=4   fwd B=128   bwd B=128   (us per call, best of %d)\n", reps);
  for (int s = 0; s < 5; s++) {
    const int p = shapes[s][0], q = shapes[s][1], Bmax = 128;
    lpdm_config cfg;
    lpdm_layer *l = NULL;
    if (lpdm_config_init(ctx, &k->head, &cfg) || lpdm_config_set_num(ctx, &cfg, "dense", "out", q) ||
        lpdm_config_set_str(ctx, &cfg, "dense", "act", act) || k->init(k, &cfg, p, &rng, &l, ctx)) {
      fprintf(stderr, "bench_dense: %s\n", lpdm_ctx_message(ctx));
      return 1;
    }
    float *X = malloc(sizeof(float) * Bmax * p), *Y = malloc(sizeof(float) * Bmax * q),
          *dY = malloc(sizeof(float) * Bmax * q), *dX = malloc(sizeof(float) * Bmax * p),
          *dY0 = malloc(sizeof(float) * Bmax * q);
    if (!X || !Y || !dY || !dX || !dY0) return 1;
    for (int i = 0; i < Bmax * p; i++) X[i] = (float)lpdm_rng_normal(&rng);
    for (int i = 0; i < Bmax * q; i++) dY[i] = 1e-3f * (float)lpdm_rng_normal(&rng);
    memcpy(dY0, dY, sizeof(float) * Bmax * q);
    job j = {k, l, X, Y, dY, dX, 1, 0, strcmp(act, "tanh") ? dY0 : NULL};
    double f1 = time_job(&j, reps);
    j.B = 4;
    double f4 = time_job(&j, reps);
    j.B = 128;
    double f128 = time_job(&j, reps);
    k->forward(l, X, 128, Y, ctx);
    j.bwd = 1; /* dY shrinks by tanh' each call: scaled small, it stays finite */
    double b128 = time_job(&j, reps);
    printf("  %3d -> %-3d  %8.2f  %8.2f  %10.2f  %10.2f\n", p, q, f1, f4, f128, b128);
    k->free(l);
    free(X);
    free(Y);
    free(dY);
    free(dX);
    free(dY0);
  }
  enum { N = 64 * 128 };
  static float x[N];
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    long n = 0;
    const double t0 = cpu_now();
    double t;
    do {
      for (int i = 0; i < N; i++) x[i] = (float)(i % 2001 - 1000) / 200.0f;
      lpdm_k_tanh(x, N);
      n++;
    } while ((t = cpu_now() - t0) < 0.02);
    if (t / n < best) best = t / n;
  }
  printf("\n  tanh: %.3f ns per element (incl. refilling the input), block of %d\n", best / N * 1e9, N);
  lpdm_ctx_free(ctx);
  return 0;
}
