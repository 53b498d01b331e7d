/* SPDX-License-Identifier: MIT */
/* bench_conv.c -- layer.conv2d's forward and backward throughput beside
   cblas_sgemm on the equivalent GEMM shapes, measured in the same run on
   the same machine (which is shared and noisy: read the ratios).

   For a batch of B samples, C x H x W in, O filters of C x k x k, output
   H' x W', let K = C k k and N = B H' W'. Then
     forward   = one O x K x N product:        2 O K N flop
     backward  = dW (O x N x K) and dX (K x O x N) products: 4 O K N flop
                 (2 O K N without dX)
   (bias, activation, im2col and col2im are counted as free: they are the
   layer's overhead over BLAS). The reference runs cblas_sgemm on exactly
   those shapes, on contiguous operands, so "ratio" is the fraction of BLAS
   speed the layer reaches. Times are the best of several rounds.

   Shapes: MinAtar's (B = 32..256, 4 x 10 x 10 in, 16 filters 3 x 3, stride
   1, padding 1) and the first layer of the Nature DQN (4 x 84 x 84 in, 32
   filters 8 x 8, stride 4).

   Run: build/bench/bench_conv [--quick] [--conv=path/to/conv2d.so]
   (--conv measures another build of the plugin, e.g. a variant). One BLAS
   thread is forced (openblas_set_num_threads(1)). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lpdm/lpdm.h"
#include "bench.h"

static lpdm_ctx *ctx;
static double min_time = 0.25; /* seconds per round */

static void die(const char *what) {
  fprintf(stderr, "bench_conv: %s: %s\n", what, lpdm_ctx_message(ctx));
  exit(1);
}

typedef struct shape {
  const char *name;
  int B, C, H, W, O, k, s, pad;
} shape;

typedef void (*op_fn)(void *);

/* Seconds per call of f: the best of 3 rounds of at least min_time each. */
static double timeit(op_fn f, void *u) {
  f(u); /* warm up (and grow buffers) */
  double best = 1e30;
  for (int round = 0; round < 3; round++) {
    long n = 0;
    double t0 = bench_now(), t;
    do {
      f(u);
      n++;
    } while ((t = bench_now() - t0) < min_time);
    if (t / n < best) best = t / n;
  }
  return best;
}

typedef struct job {
  const lpdm_layer_kind *k;
  lpdm_layer *l;
  int B, M, N, K;
  float *X, *Y, *dY, *dYc, *dX, *A, *Bm, *Cm, *D;
  int with_dx;
} job;

static void fwd(void *u) {
  job *j = u;
  j->k->forward(j->l, j->X, j->B, j->Y, ctx);
}
static void bwd(void *u) {
  job *j = u;
  size_t n = (size_t)j->B * j->l->out_dim;
  memcpy(j->dYc, j->dY, n * sizeof(float)); /* backward may overwrite dY; the copy is counted */
  j->k->backward(j->l, j->X, j->Y, j->B, j->dYc, j->with_dx ? j->dX : NULL, ctx);
}
/* the forward GEMM: (M x K) (K x N) */
static void ref_fwd(void *u) {
  job *j = u;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, j->M, j->N, j->K, 1.0f, j->A, j->K, j->Bm, j->N, 0.0f, j->Cm,
              j->N);
}
/* the backward GEMMs: dW += (M x N)(N x K), dcol = (K x M)(M x N) */
static void ref_bwd(void *u) {
  job *j = u;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->M, j->K, j->N, 1.0f, j->Cm, j->N, j->Bm, j->N, 1.0f, j->D,
              j->K);
  if (j->with_dx)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, j->K, j->N, j->M, 1.0f, j->A, j->K, j->Cm, j->N, 0.0f, j->Bm,
                j->N);
}

static float *randv(size_t n, lpdm_rng *r) {
  float *p = malloc(n * sizeof(float));
  if (!p) {
    fprintf(stderr, "bench_conv: out of memory\n");
    exit(1);
  }
  for (size_t i = 0; i < n; i++) p[i] = (float)(lpdm_rng_uniform(r) - 0.5);
  return p;
}

static void bench(const lpdm_layer_kind *k, const shape *sh) {
  lpdm_rng rng;
  lpdm_rng_seed(&rng, 1);
  lpdm_config cfg;
  lpdm_config_init(ctx, &k->head, &cfg);
  const char *names[] = {"in_channels", "height", "width", "out_channels", "kernel", "stride", "padding"};
  int vals[] = {sh->C, sh->H, sh->W, sh->O, sh->k, sh->s, sh->pad};
  for (int i = 0; i < 7; i++)
    if (lpdm_config_set_num(ctx, &cfg, "conv2d", names[i], vals[i])) die("config");
  lpdm_config_set_str(ctx, &cfg, "conv2d", "act", "relu");
  job j = {k, NULL, sh->B, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1};
  if (k->init(k, &cfg, sh->C * sh->H * sh->W, &rng, &j.l, ctx)) die("init");
  int Ho = (sh->H + 2 * sh->pad - sh->k) / sh->s + 1, Wo = (sh->W + 2 * sh->pad - sh->k) / sh->s + 1;
  j.M = sh->O;
  j.K = sh->C * sh->k * sh->k;
  j.N = sh->B * Ho * Wo;
  size_t in = (size_t)sh->B * j.l->in_dim, out = (size_t)sh->B * j.l->out_dim;
  j.X = randv(in, &rng);
  j.Y = randv(out, &rng);
  j.dY = randv(out, &rng);
  j.dYc = randv(out, &rng);
  j.dX = randv(in, &rng);
  j.A = randv((size_t)j.M * j.K, &rng);
  j.Bm = randv((size_t)j.K * j.N, &rng);
  j.Cm = randv((size_t)j.M * j.N, &rng);
  j.D = randv((size_t)j.M * j.K, &rng);
  double flop = 2.0 * j.M * j.K * j.N;
  double tf = timeit(fwd, &j), tb = timeit(bwd, &j), rf = timeit(ref_fwd, &j), rb = timeit(ref_bwd, &j);
  j.with_dx = 0;
  double tb0 = timeit(bwd, &j), rb0 = timeit(ref_bwd, &j);
  printf("  %-8s B=%4d  %dx%dx%d -> %dx%dx%d  GEMM %d x %d x %d\n", sh->name, sh->B, sh->C, sh->H, sh->W, sh->O, Ho,
         Wo, j.M, j.K, j.N);
  printf("      forward          %8.3f ms %7.2f GFLOP/s   sgemm %7.2f GFLOP/s   ratio %.2f\n", 1e3 * tf,
         flop / tf * 1e-9, flop / rf * 1e-9, rf / tf);
  printf("      backward (+dX)   %8.3f ms %7.2f GFLOP/s   sgemm %7.2f GFLOP/s   ratio %.2f\n", 1e3 * tb,
         2 * flop / tb * 1e-9, 2 * flop / rb * 1e-9, rb / tb);
  printf("      backward (no dX) %8.3f ms %7.2f GFLOP/s   sgemm %7.2f GFLOP/s   ratio %.2f\n", 1e3 * tb0,
         flop / tb0 * 1e-9, flop / rb0 * 1e-9, rb0 / tb0);
  fflush(stdout);
  k->free(j.l);
  float *bufs[] = {j.X, j.Y, j.dY, j.dYc, j.dX, j.A, j.Bm, j.Cm, j.D};
  for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
}

int main(int argc, char **argv) {
  const char *conv_path = NULL;
  int quick = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--quick")) quick = 1;
    else if (!strncmp(argv[i], "--conv=", 7)) conv_path = argv[i] + 7;
    else {
      fprintf(stderr, "usage: bench_conv [--quick] [--conv=path/to/conv2d.so]\n");
      return 2;
    }
  }
  if (quick) min_time = 0.05;
  openblas_set_num_threads(1);
  ctx = lpdm_ctx_new();
  if (conv_path ? lpdm_plugin_load(ctx, conv_path) : lpdm_plugin_load_default(ctx)) die("plugins");
  const lpdm_layer_kind *k = (const lpdm_layer_kind *)lpdm_plugin_get(ctx, LPDM_KIND_LAYER, "conv2d");
  if (!k) die("layer.conv2d");
  bench_machine();
  if (conv_path) printf("conv2d from %s\n", conv_path);
  printf("\nconv2d (relu) beside cblas_sgemm on the same GEMM shapes (flop: forward 2OKN, backward 4OKN with dX)\n");
  const shape shapes[] = {{"MinAtar", 32, 4, 10, 10, 16, 3, 1, 1},  {"MinAtar", 64, 4, 10, 10, 16, 3, 1, 1},
                          {"MinAtar", 128, 4, 10, 10, 16, 3, 1, 1}, {"MinAtar", 256, 4, 10, 10, 16, 3, 1, 1},
                          {"DQN-c1", 32, 4, 84, 84, 32, 8, 4, 0},   {"DQN-c1", 128, 4, 84, 84, 32, 8, 4, 0}};
  for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) bench(k, &shapes[i]);
  lpdm_ctx_free(ctx);
  return 0;
}
