/* SPDX-License-Identifier: MIT */
/* bench_distances.c -- every registered distance plugin's pairwise (and
   vjp) throughput beside cblas_sgemm of the same B x B x d shape, in the
   same run, on one BLAS thread (set here with openblas_set_num_threads).
   The machine is shared and noisy: read the ratios; each figure is the
   best of REPS timed batches of calls, timed in this thread's CPU time.

   Flops counted (the work each method must do, not what a naive loop
   would do; O(B^2) element-wise passes and O(B d) scalings not counted):
     sgemm (X X^T, B x B x d)                 2 B^2 d
     euclidean, sqeuclidean, cosine,
     mahalanobis (one ssyrk: a triangle)       B (B + 1) d
     manhattan, chebyshev (direct loops over
     the B (B - 1) / 2 pairs: sub, abs,
     add or max per feature)                  3 d B (B - 1) / 2
     any other distance                       B (B + 1) d (stated as such)
   "t/sgemm" is the time of pairwise over the time of the sgemm: below 1
   means faster than the full product. "vjp" is the time of one vjp.
   Last, each registered loss's eval (defaults, B = 256 and 1024) beside
   one euclidean pairwise of 64 features.

   Run: build/bench/bench_distances [--quick] */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lpdm/lpdm.h"

#define REPS 5

/* This thread's CPU time: time-slicing by other processes on a shared
   machine does not count (their cache traffic still does). */
static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* Flops of one pairwise call and whether the count is the generic one. */
static double flops(const char *name, int B, int d, int *generic) {
  *generic = 0;
  if (!strcmp(name, "distance.manhattan") || !strcmp(name, "distance.chebyshev")) return 3.0 * d * B * (B - 1) / 2;
  if (strcmp(name, "distance.euclidean") && strcmp(name, "distance.sqeuclidean") && strcmp(name, "distance.cosine") &&
      strcmp(name, "distance.mahalanobis"))
    *generic = 1;
  return (double)B * (B + 1) * d;
}

/* Seconds per call of fn, best of REPS batches of at least min_t seconds. */
typedef struct job {
  const lpdm_distance *dist; /* NULL: sgemm */
  const float *X, *D0, *dD;
  float *D, *dX, *work;
  int B, d, vjp;
  lpdm_ctx *ctx;
} job;

static void call(const job *j) {
  if (!j->dist)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->B, j->B, j->d, 1.0f, j->X, j->d, j->X, j->d, 0.0f, j->D,
                j->B);
  else if (!j->vjp)
    j->dist->kind->pairwise(j->dist, j->X, j->B, j->d, j->D, j->work, j->ctx);
  else
    j->dist->kind->vjp(j->dist, j->X, j->B, j->d, j->D0, j->dD, j->dX, j->work, j->ctx);
}

static double time_call(const job *j, double min_t) {
  call(j); /* warm up */
  double best = 1e30;
  for (int r = 0; r < REPS; r++) {
    long n = 0;
    double t0 = now(), t;
    do {
      call(j);
      n++;
      t = now() - t0;
    } while (t < min_t);
    if (t / n < best) best = t / n;
  }
  return best;
}

int main(int argc, char **argv) {
  const double min_t = argc > 1 && !strcmp(argv[1], "--quick") ? 0.02 : 0.1;
  openblas_set_num_threads(1);
  lpdm_ctx *ctx = lpdm_ctx_new();
  if (lpdm_plugin_load_default(ctx)) {
    fprintf(stderr, "bench_distances: %s\n", lpdm_ctx_message(ctx));
    return 1;
  }
  printf("bench_distances: pairwise of B x d float32 rows, one BLAS thread (%d), %s, lpdm %s\n",
         openblas_get_num_threads(), openblas_get_config(), LPDM_VERSION);
  const int nd = lpdm_plugin_count(ctx, LPDM_KIND_DISTANCE);
  lpdm_rng rng;
  lpdm_rng_seed(&rng, 1);
  const int Bs[] = {256, 1024}, ds[] = {64, 256};
  for (int bi = 0; bi < 2; bi++)
    for (int di = 0; di < 2; di++) {
      const int B = Bs[bi], d = ds[di];
      float *X = malloc(sizeof(float) * B * d), *D = malloc(sizeof(float) * B * B), *D0 = malloc(sizeof(float) * B * B);
      float *dD = malloc(sizeof(float) * B * B), *dX = malloc(sizeof(float) * B * d);
      float *work = malloc(sizeof(float) * LPDM_DIST_WORK(B, d));
      if (!X || !D || !D0 || !dD || !dX || !work) {
        fprintf(stderr, "bench_distances: out of memory\n");
        return 1;
      }
      for (int i = 0; i < B * d; i++) X[i] = (float)lpdm_rng_normal(&rng);
      for (int i = 0; i < B * B; i++) dD[i] = (float)lpdm_rng_normal(&rng);
      job g = {NULL, X, NULL, NULL, D, NULL, NULL, B, d, 0, ctx};
      const double ts = time_call(&g, min_t), gs = 2.0 * B * B * d / ts * 1e-9;
      printf("\nB = %4d, d = %3d    sgemm (B x B x %d): %8.3f ms  %6.1f GFLOP/s\n", B, d, d, ts * 1e3, gs);
      printf("    %-22s %10s %9s %8s %8s %10s\n", "distance", "pairwise", "GFLOP/s", "/sgemm", "t/sgemm", "vjp");
      for (int k = 0; k < nd; k++) {
        const lpdm_distance_kind *dk = (const lpdm_distance_kind *)lpdm_plugin_at(ctx, LPDM_KIND_DISTANCE, k);
        lpdm_distance *dist = NULL;
        if (lpdm_distance_new(ctx, dk, NULL, &dist)) {
          printf("    %-22s (%s)\n", dk->head.name, lpdm_ctx_message(ctx));
          continue;
        }
        job j = {dist, X, D0, dD, D, dX, work, B, d, 0, ctx};
        dist->kind->pairwise(dist, X, B, d, D0, work, ctx);
        const double tp = time_call(&j, min_t);
        j.vjp = 1;
        const double tv = time_call(&j, min_t);
        int generic;
        const double gp = flops(dk->head.name, B, d, &generic) / tp * 1e-9;
        printf("    %-22s %7.3f ms %9.1f %8.2f %8.2f %7.3f ms%s\n", dk->head.name, tp * 1e3, gp, gp / gs, tp / ts,
               tv * 1e3, generic ? "  (flops: the Gram count)" : "");
        lpdm_distance_free(dist);
      }
      free(X);
      free(D);
      free(D0);
      free(dD);
      free(dX);
      free(work);
    }
  /* the local losses on the same machine: one eval (L and dDY) per call */
  const int nl = lpdm_plugin_count(ctx, LPDM_KIND_LOSS);
  for (int bi = 0; bi < 2; bi++) {
    const int B = Bs[bi], d = 64;
    float *X = malloc(sizeof(float) * B * d), *DX = malloc(sizeof(float) * B * B), *DY = malloc(sizeof(float) * B * B);
    float *dD = malloc(sizeof(float) * B * B), *g = malloc(sizeof(float) * B);
    float *work = malloc(sizeof(float) * LPDM_DIST_WORK(B, d));
    const lpdm_distance_kind *eu = (const lpdm_distance_kind *)lpdm_plugin_find(ctx, LPDM_KIND_DISTANCE, "euclidean");
    lpdm_distance *dist = NULL;
    if (!X || !DX || !DY || !dD || !g || !work || !eu || lpdm_distance_new(ctx, eu, NULL, &dist)) {
      fprintf(stderr, "bench_distances: no memory or no distance.euclidean\n");
      return 1;
    }
    for (int i = 0; i < B * d; i++) X[i] = (float)lpdm_rng_normal(&rng);
    eu->pairwise(dist, X, B, d, DX, work, ctx);
    for (int i = 0; i < B * d; i++) X[i] = (float)lpdm_rng_normal(&rng);
    eu->pairwise(dist, X, B, d, DY, work, ctx);
    for (int i = 0; i < B; i++) g[i] = (float)lpdm_rng_uniform(&rng);
    job p = {dist, X, NULL, NULL, DY, NULL, work, B, d, 0, ctx};
    const double tp = time_call(&p, min_t);
    printf("\nlocal losses, B = %4d (euclidean DX, DY of %d features; one pairwise: %.3f ms)\n", B, d, tp * 1e3);
    printf("    %-22s %10s %12s\n", "loss", "eval", "/pairwise");
    for (int k = 0; k < nl; k++) {
      const lpdm_loss_kind *lk = (const lpdm_loss_kind *)lpdm_plugin_at(ctx, LPDM_KIND_LOSS, k);
      lpdm_loss *loss = NULL;
      if (lpdm_loss_new(ctx, lk, NULL, &loss)) continue;
      double L, best = 1e30;
      for (int r = 0; r < REPS; r++) {
        long n = 0;
        double t0 = now(), t;
        do {
          lk->eval(loss, DX, DY, g, B, &L, dD, ctx);
          n++;
          t = now() - t0;
        } while (t < min_t);
        if (t / n < best) best = t / n;
      }
      printf("    %-22s %7.3f ms %12.2f\n", lk->head.name, best * 1e3, best / tp);
      lpdm_loss_free(loss);
    }
    lpdm_distance_free(dist);
    free(X);
    free(DX);
    free(DY);
    free(dD);
    free(g);
    free(work);
  }
  lpdm_ctx_free(ctx);
  return 0;
}
