/* SPDX-License-Identifier: MIT */
/* bench_blocked.c -- local mode on large batches: the row-blocked path
   (lpdm_local_cfg, docs/performance.md "Large batches").

   One local update of one dense layer, 256 -> 256 (tanh), loss.guided,
   distance.euclidean, X ~ N(0, 1), g ~ U(0, 10):
     1. B = 4096 (default): the whole-matrix path beside the blocked one, on
        two copies of the same net: time of each (best of --reps updates),
        their ratio, and the largest |difference| of the weights after the
        first update.
     2. B = 65536 (default): the blocked path once: wall time and peak
        resident memory (VmHWM of /proc/self/status; ru_maxrss as a check).
   Each case runs in a child process of its own, so that each peak is its
   own. Not a test: run it by hand, with one BLAS thread:

     OPENBLAS_NUM_THREADS=1 build/bench/bench_blocked [--small=4096] [--big=65536]
         [--block=256] [--reps=3] [--only=small|big]
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lpdm/lpdm.h"
#include "bench.h"

enum { WIDTH = 256 };

static lpdm_ctx *ctx;

static void die(const char *what) {
  fprintf(stderr, "bench_blocked: %s: %s\n", what, lpdm_ctx_message(ctx));
  exit(1);
}

typedef struct setup {
  const lpdm_distance *dist;
  const lpdm_loss *loss;
  float *X, *g;
} setup;

static void make_setup(setup *s, int B) {
  const lpdm_distance_kind *dk = (const lpdm_distance_kind *)lpdm_plugin_get(ctx, LPDM_KIND_DISTANCE, "euclidean");
  const lpdm_loss_kind *lk = (const lpdm_loss_kind *)lpdm_plugin_get(ctx, LPDM_KIND_LOSS, "guided");
  lpdm_distance *d = NULL;
  lpdm_loss *l = NULL;
  if (!dk || !lk || lpdm_distance_new(ctx, dk, NULL, &d) || lpdm_loss_new(ctx, lk, NULL, &l)) die("plugins");
  s->dist = d;
  s->loss = l;
  s->X = malloc(sizeof(float) * (size_t)B * WIDTH);
  s->g = malloc(sizeof(float) * (size_t)B);
  if (!s->X || !s->g) {
    fprintf(stderr, "bench_blocked: out of memory\n");
    exit(1);
  }
  lpdm_rng r;
  lpdm_rng_seed(&r, 1);
  for (size_t i = 0; i < (size_t)B * WIDTH; i++) s->X[i] = (float)lpdm_rng_normal(&r);
  for (int i = 0; i < B; i++) s->g[i] = (float)(10 * lpdm_rng_uniform(&r));
}

static lpdm_net *make_net(int blocked, int block) {
  const lpdm_layer_kind *dense = (const lpdm_layer_kind *)lpdm_plugin_get(ctx, LPDM_KIND_LAYER, "dense");
  lpdm_net *net = NULL;
  lpdm_config cfg;
  lpdm_rng r;
  lpdm_rng_seed(&r, 7);
  if (!dense || lpdm_net_new(ctx, WIDTH, &net) || lpdm_config_init(ctx, &dense->head, &cfg) ||
      lpdm_config_set_num(ctx, &cfg, "layer.dense", "out", WIDTH))
    die("net");
  lpdm_optim_cfg oc = lpdm_optim_default(LPDM_OPT_ADAM, 1e-3);
  if (lpdm_net_add(net, ctx, dense, &cfg, &r, &oc)) die("net");
  lpdm_local_cfg lc = lpdm_local_default();
  lc.blocked = blocked;
  lc.block = block;
  lc.budget = (size_t)64 << 30; /* the path is chosen by `blocked`, not by the budget */
  if (lpdm_net_set_local(net, ctx, &lc)) die("local options");
  return net;
}

static double update(lpdm_net *net, const setup *s, int B, double *L) {
  const float *Y;
  double t = bench_now();
  if (lpdm_net_local_update(net, ctx, s->dist, s->loss, s->X, B, s->g, &Y, L)) die("local update");
  return bench_now() - t;
}

static void small_case(int B, int block, int reps) {
  setup s;
  make_setup(&s, B);
  lpdm_net *full = make_net(0, block), *blk = make_net(1, block);
  double Lf, Lb;
  double tf = update(full, &s, B, &Lf), tb = update(blk, &s, B, &Lb);
  lpdm_layer *a = lpdm_net_layer(full, 0), *b = lpdm_net_layer(blk, 0);
  double dw = 0, wmax = 0, dg = 0, gmax = 0;
  for (int j = 0; j < a->nparams; j++)
    for (size_t i = 0; i < a->params[j].n; i++) {
      dw = fmax(dw, fabs((double)a->params[j].w[i] - b->params[j].w[i]));
      wmax = fmax(wmax, fabs(a->params[j].w[i]));
      dg = fmax(dg, fabs((double)a->params[j].g[i] - b->params[j].g[i]));
      gmax = fmax(gmax, fabs(a->params[j].g[i]));
    }
  for (int r = 1; r < reps; r++) { /* best of reps (the machine is shared) */
    double L;
    tf = fmin(tf, update(full, &s, B, &L));
    tb = fmin(tb, update(blk, &s, B, &L));
  }
  printf("[1] B = %d, dense %d -> %d, guided, euclidean: whole matrices vs row blocks of %d (best of %d)\n", B, WIDTH,
         WIDTH, block, reps);
  printf("    whole matrices  %8.3f s   loss %.9g\n", tf, Lf);
  printf("    row blocks      %8.3f s   loss %.9g\n", tb, Lb);
  printf("    blocked / whole time %.2f; loss rel diff %.2g\n", tb / tf, fabs(Lb - Lf) / Lf);
  printf("    after the first update: max |w_blocked - w_whole| %.3g (weights up to %.3g; Adam's first step is\n"
         "    about lr = 1e-3 per weight); gradients: max diff %.3g of their largest entry %.3g\n",
         dw, wmax, dg / gmax, gmax);
  printf("    peak resident (both nets) %.1f MiB\n", bench_status_kb("VmHWM") / 1024.0);
}

static void big_case(int B, int block) {
  setup s;
  make_setup(&s, B);
  lpdm_net *net = make_net(1, block);
  double L;
  const long before = bench_status_kb("VmHWM");
  double t = update(net, &s, B, &L);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  const long hwm = bench_status_kb("VmHWM");
  const double BB = (double)B * B;
  printf("[2] B = %d, dense %d -> %d, guided, euclidean, row blocks of %d: one local update\n", B, WIDTH, WIDTH, block);
  printf("    wall time %.1f s, loss %.9g\n", t, L);
  printf("    peak resident %.1f MiB (VmHWM; ru_maxrss %.1f MiB; %.1f MiB before the update: X, g, plugins)\n",
         hwm / 1024.0, ru.ru_maxrss / 1024.0, before / 1024.0);
  printf("    net working memory %.1f MiB; one B x B float matrix would be %.1f GiB, the whole-matrix path ~%.1f GiB\n",
         lpdm_net_work_bytes(net) / 1048576.0, BB * 4 / 1073741824.0, 16 * BB / 1073741824.0);
}

int main(int argc, char **argv) {
  int small = 4096, big = 65536, block = 256, reps = 3;
  const char *only = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strncmp(argv[i], "--small=", 8)) small = atoi(argv[i] + 8);
    else if (!strncmp(argv[i], "--big=", 6)) big = atoi(argv[i] + 6);
    else if (!strncmp(argv[i], "--block=", 8)) block = atoi(argv[i] + 8);
    else if (!strncmp(argv[i], "--reps=", 7)) reps = atoi(argv[i] + 7);
    else if (!strncmp(argv[i], "--only=", 7)) only = argv[i] + 7;
    else {
      fprintf(stderr, "usage: %s [--small=B] [--big=B] [--block=rows] [--reps=n] [--only=small|big]\n", argv[0]);
      return 2;
    }
  }
  if (small < 2 || big < 2 || block < 1 || reps < 1) {
    fprintf(stderr, "bench_blocked: sizes must be >= 2, block and reps >= 1\n");
    return 2;
  }
  bench_machine();
  fflush(stdout);
  for (int c = 0; c < 2; c++) {
    if (only && strcmp(only, c ? "big" : "small")) continue;
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      return 1;
    }
    if (pid == 0) { /* each case in a fresh process: its own peak */
      ctx = lpdm_ctx_new();
      if (!ctx || lpdm_plugin_load_default(ctx)) die("plugins");
      if (c) big_case(big, block);
      else small_case(small, block, reps);
      fflush(stdout);
      _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st)) return 1;
  }
  return 0;
}
