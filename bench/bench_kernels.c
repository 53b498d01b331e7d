/* SPDX-License-Identifier: MIT */
/* bench_kernels.c -- the local-loss kernels of one layer beside cblas_sgemm
   (issue 9, item 2), in the same run, on one BLAS thread.

   What is timed ("the chain"): for a layer w -> w with input X and output Y
   (both B x w, float32), the plugins' own callbacks as
   lpdm_net_local_update calls them, without the layer itself:
       DX = euclidean pairwise(X)        one cblas_ssyrk, sqrt, mirror
       DY = euclidean pairwise(Y)
       L, dL/dDY = loss eval(DX, DY, g)  loss.stress or loss.guided (defaults)
       dY = euclidean vjp(Y, DY, dL/dDY) one cblas_sgemm
   The dense layer's forward and backward (O(B w^2)) are not in it; section
   [3] of bench_lpdm times a whole local update with them.

   Flops attributed to one chain (d_in = d_out = w here):
       F = B (B + 1) (d_in + d_out)     the two Gram products (ssyrk: one
                                        triangle, B (B + 1) / 2 dot
                                        products of d multiply-adds)
         + 2 B^2 d_out                  the vjp's S Y (sgemm B x d x B)
         + E B^2                        element-wise work
   with E = 19 for stress, 26 for guided: the distances 2 per entry of each
   matrix (n_i + n_j - 2 G_ij, max, sqrt over a triangle), the loss 12
   (row sums 2, residual 4, its square and its product with DY 4, scaling
   2) plus 7 for guided's |g_i - g_j| terms (sum 3, target 4), the vjp 3
   (add the transpose, divide, row sum). The reference is one cblas_sgemm
   of B x B x w (X Y^T, 2 B^2 w flops), timed in alternation with the
   chain: repetition r times a batch of chains, then a batch of sgemm calls
   (each batch at least min_t seconds of this thread's CPU time), and each
   figure is the best over the repetitions.

   Options:
     --quick           shorter batches, fewer repetitions
     --stages          also time each callback alone
     --check           no timing: print the bits of L and a hash of DX, DY,
                       dL/dDY and dY for many shapes (to compare two builds)
     --B=a,b,...       batch sizes (default 64,256,1024,4096)

   Run: OPENBLAS_NUM_THREADS=1 build/bench/bench_kernels */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lpdm/lpdm.h"
#include "bench.h"

/* This thread's CPU time: time-slicing by other processes on a shared
   machine does not count (their cache traffic still does). */
static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

static lpdm_ctx *ctx;

static void die(const char *what) {
  fprintf(stderr, "bench_kernels: %s: %s\n", what, lpdm_ctx_message(ctx));
  exit(1);
}

static void *xmalloc(size_t n) {
  void *p = malloc(n);
  if (!p) {
    fprintf(stderr, "bench_kernels: out of memory\n");
    exit(1);
  }
  return p;
}

typedef struct chain {
  const lpdm_distance *dist;
  const lpdm_loss *loss;
  int B, w;
  float *X, *Y, *g, *DX, *DY, *dD, *dY, *work, *C;
  double L;
} chain;

static void chain_new(chain *c, const lpdm_distance *dist, int B, int w, lpdm_rng *rng, int dups) {
  memset(c, 0, sizeof *c);
  c->dist = dist;
  c->B = B;
  c->w = w;
  const size_t BB = (size_t)B * B, Bw = (size_t)B * w;
  c->X = xmalloc(Bw * sizeof(float));
  c->Y = xmalloc(Bw * sizeof(float));
  c->g = xmalloc((size_t)B * sizeof(float));
  c->DX = xmalloc(BB * sizeof(float));
  c->DY = xmalloc(BB * sizeof(float));
  c->dD = xmalloc(BB * sizeof(float));
  c->C = xmalloc(BB * sizeof(float));
  c->dY = xmalloc(Bw * sizeof(float));
  c->work = xmalloc(LPDM_DIST_WORK(B, w) * sizeof(float));
  /* Y: a tanh layer's output of sorts, correlated with X */
  for (size_t i = 0; i < Bw; i++) {
    c->X[i] = (float)lpdm_rng_normal(rng);
    c->Y[i] = tanhf(0.6f * c->X[i] + 0.4f * (float)lpdm_rng_normal(rng));
  }
  for (int i = 0; i < B; i++) c->g[i] = (float)(10 * lpdm_rng_uniform(rng));
  if (dups) /* repeated samples, as in RL batches: zero distances */
    for (int i = 1; i < B; i += 5) {
      memcpy(c->X + (size_t)i * w, c->X + (size_t)(i - 1) * w, (size_t)w * sizeof(float));
      memcpy(c->Y + (size_t)i * w, c->Y + (size_t)(i - 1) * w, (size_t)w * sizeof(float));
      if (i % 3 == 0) c->g[i] = c->g[i - 1];
    }
}

static void chain_free(chain *c) {
  float *p[] = {c->X, c->Y, c->g, c->DX, c->DY, c->dD, c->dY, c->work, c->C};
  for (size_t i = 0; i < sizeof p / sizeof *p; i++) free(p[i]);
}

enum { ST_PX, ST_PY, ST_LOSS, ST_VJP, ST_ALL, ST_SGEMM };

static void run(chain *c, int what) {
  const lpdm_distance_kind *dk = c->dist->kind;
  const int B = c->B, w = c->w;
  int rc = 0;
  if (what == ST_SGEMM) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, B, w, 1.0f, c->X, w, c->Y, w, 0.0f, c->C, B);
    return;
  }
  if (what == ST_PX || what == ST_ALL) rc |= dk->pairwise(c->dist, c->X, B, w, c->DX, c->work, ctx);
  if (what == ST_PY || what == ST_ALL) rc |= dk->pairwise(c->dist, c->Y, B, w, c->DY, c->work, ctx);
  if (what == ST_LOSS || what == ST_ALL) rc |= c->loss->kind->eval(c->loss, c->DX, c->DY, c->g, B, &c->L, c->dD, ctx);
  if (what == ST_VJP || what == ST_ALL) rc |= dk->vjp(c->dist, c->Y, B, w, c->DY, c->dD, c->dY, c->work, ctx);
  if (rc) die("chain");
}

/* seconds per call: one batch of calls lasting at least min_t */
static double batch(chain *c, int what, double min_t) {
  long n = 0;
  double t0 = now(), t;
  do {
    run(c, what);
    n++;
    t = now() - t0;
  } while (t < min_t);
  return t / n;
}

static double flops(int B, int w, int guided) {
  const double b = B;
  return b * (b + 1) * 2 * w + 2 * b * b * w + (guided ? 26 : 19) * b * b;
}

static uint64_t hash(const float *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) {
    uint32_t u;
    memcpy(&u, p + i, sizeof u);
    h = (h ^ u) * 1099511628211ull;
  }
  return h;
}

static lpdm_loss *make_loss(const char *name, int normalize) {
  const lpdm_loss_kind *lk = (const lpdm_loss_kind *)lpdm_plugin_get(ctx, LPDM_KIND_LOSS, name);
  lpdm_config cfg;
  lpdm_loss *loss = NULL;
  if (!lk || lpdm_config_init(ctx, &lk->head, &cfg) || lpdm_config_set_bool(ctx, &cfg, name, "normalize", normalize) ||
      lpdm_loss_new(ctx, lk, &cfg, &loss))
    die(name);
  return loss;
}

/* --check: bits of everything the chain computes, for many shapes; and the
   vjp with a non-symmetric gradient (the ABI does not promise symmetry). */
static void check(const lpdm_distance *dist, lpdm_loss **losses, const char **names, int nl) {
  const int Bs[] = {2, 3, 7, 8, 31, 32, 33, 64, 100, 127, 129, 160, 257, 300, 500, 1024, 1500, 4096};
  const int ws[] = {1, 3, 64, 256};
  lpdm_rng rng;
  lpdm_rng_seed(&rng, 7);
  for (size_t bi = 0; bi < sizeof Bs / sizeof *Bs; bi++)
    for (size_t wi = 0; wi < sizeof ws / sizeof *ws; wi++)
      for (int dups = 0; dups < 2; dups++) {
        if (Bs[bi] > 2000 && (ws[wi] != 64 || dups)) continue;
        chain c;
        chain_new(&c, dist, Bs[bi], ws[wi], &rng, dups);
        const size_t BB = (size_t)c.B * c.B, Bw = (size_t)c.B * c.w;
        for (int k = 0; k < nl; k++) {
          c.loss = losses[k];
          run(&c, ST_ALL);
          printf("B=%4d w=%3d dups=%d %-14s L=%a DX %016llx DY %016llx dD %016llx dY %016llx\n", c.B, c.w, dups,
                 names[k], c.L, (unsigned long long)hash(c.DX, BB), (unsigned long long)hash(c.DY, BB),
                 (unsigned long long)hash(c.dD, BB), (unsigned long long)hash(c.dY, Bw));
        }
        for (size_t i = 0; i < BB; i++) c.dD[i] = (float)lpdm_rng_normal(&rng);
        if (dist->kind->vjp(dist, c.Y, c.B, c.w, c.DY, c.dD, c.dY, c.work, ctx)) die("vjp");
        printf("B=%4d w=%3d dups=%d %-14s dY %016llx\n", c.B, c.w, dups, "vjp(random)",
               (unsigned long long)hash(c.dY, Bw));
        chain_free(&c);
      }
}

int main(int argc, char **argv) {
  int quick = 0, stages = 0, do_check = 0, nB = 4;
  int Bs[16] = {64, 256, 1024, 4096};
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--quick")) quick = 1;
    else if (!strcmp(argv[i], "--stages")) stages = 1;
    else if (!strcmp(argv[i], "--check")) do_check = 1;
    else if (!strncmp(argv[i], "--B=", 4)) {
      nB = 0;
      for (char *s = argv[i] + 4; *s && nB < 16; s++) {
        Bs[nB++] = (int)strtol(s, &s, 10);
        if (*s != ',') break;
      }
    } else {
      fprintf(stderr, "usage: bench_kernels [--quick] [--stages] [--check] [--B=64,256,...]\n");
      return 2;
    }
  }
  openblas_set_num_threads(1);
  ctx = lpdm_ctx_new();
  if (lpdm_plugin_load_default(ctx)) die("plugins");
  const lpdm_distance_kind *eu = (const lpdm_distance_kind *)lpdm_plugin_get(ctx, LPDM_KIND_DISTANCE, "euclidean");
  lpdm_distance *dist = NULL;
  if (!eu || lpdm_distance_new(ctx, eu, NULL, &dist)) die("distance.euclidean");
  if (do_check) {
    lpdm_loss *ls[] = {make_loss("stress", 1), make_loss("guided", 1), make_loss("stress", 0), make_loss("guided", 0)};
    const char *names[] = {"stress", "guided", "stress/raw", "guided/raw"};
    check(dist, ls, names, 4);
    for (int k = 0; k < 4; k++) lpdm_loss_free(ls[k]);
    lpdm_distance_free(dist);
    lpdm_ctx_free(ctx);
    return 0;
  }
  lpdm_loss *ls[] = {make_loss("stress", 1), make_loss("guided", 1)};
  const char *names[] = {"stress", "guided"};
  const int reps = quick ? 3 : 7;
  bench_machine();
  printf("bench_kernels: one layer's local-loss kernels (euclidean pairwise of X and Y, loss, vjp) beside\n"
         "cblas_sgemm B x B x w; one BLAS thread (%d), %s, lpdm %s; best of %d alternating batches\n",
         openblas_get_num_threads(), openblas_get_config(), LPDM_VERSION, reps);
  printf("%6s %5s %-7s %10s %9s %9s %7s", "B", "width", "loss", "time ms", "GFLOP/s", "sgemm", "ratio");
  if (stages) printf("   %9s %9s %9s %9s %9s", "pairX", "pairY", "loss", "vjp", "sgemm ms");
  printf("\n");
  lpdm_rng rng;
  lpdm_rng_seed(&rng, 1);
  const int ws[] = {64, 256};
  for (int bi = 0; bi < nB; bi++)
    for (int wi = 0; wi < 2; wi++)
      for (int k = 0; k < 2; k++) {
        chain c;
        chain_new(&c, dist, Bs[bi], ws[wi], &rng, 0);
        c.loss = ls[k];
        const double min_t = (quick ? 0.02 : 0.05) * (c.B >= 4096 ? 2 : 1);
        run(&c, ST_ALL); /* warm-up */
        run(&c, ST_SGEMM);
        double tc = 1e30, ts = 1e30, tst[4] = {1e30, 1e30, 1e30, 1e30};
        for (int r = 0; r < reps; r++) {
          double t = batch(&c, ST_ALL, min_t);
          if (t < tc) tc = t;
          t = batch(&c, ST_SGEMM, min_t);
          if (t < ts) ts = t;
          if (stages)
            for (int s = 0; s < 4; s++) {
              t = batch(&c, s, min_t / 2);
              if (t < tst[s]) tst[s] = t;
            }
        }
        const double gc = flops(c.B, c.w, k == 1) / tc * 1e-9, gs = 2.0 * c.B * c.B * c.w / ts * 1e-9;
        printf("%6d %5d %-7s %10.3f %9.1f %9.1f %7.2f", c.B, c.w, names[k], tc * 1e3, gc, gs, gc / gs);
        if (stages)
          printf("   %9.3f %9.3f %9.3f %9.3f %9.3f", tst[0] * 1e3, tst[1] * 1e3, tst[2] * 1e3, tst[3] * 1e3, ts * 1e3);
        printf("\n");
        fflush(stdout);
        chain_free(&c);
      }
  for (int k = 0; k < 2; k++) lpdm_loss_free(ls[k]);
  lpdm_distance_free(dist);
  lpdm_ctx_free(ctx);
  return 0;
}
