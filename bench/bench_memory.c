/* SPDX-License-Identifier: MIT */
/* bench_memory.c -- peak resident memory of one training update against
   depth (issue 9, item 3; docs/performance.md "Memory in depth").

   Networks of 4, 16 and 64 hidden dense layers (width 256, tanh, Adam),
   inputs of width 256, X ~ N(0, 1), batch B = 4096. One update each:
     bp      lpdm_net_train_forward, the gradient of the mean squared error
             to a random target T ~ N(0, 1) (dY = 2 (Y - T) / (B out)),
             lpdm_net_backward, lpdm_net_step;
     local   lpdm_net_local_update with distance.euclidean and loss.guided
             (g ~ U(0, 10)), whole B x B matrices (the default path at this
             batch);
     blocked the same with lpdm_local_cfg.blocked = 1 (row blocks of 256).
   bp keeps every layer's output (B x 256 floats, 4 MiB a layer at B =
   4096); local keeps two ping-pong buffers and three B x B matrices plus
   the distance's work, whatever the depth.

   Each configuration runs in a process of its own (fork, then exec of this
   program with --one=MODE:DEPTH), so that no peak carries over. The child
   fills its inputs, runs one small sgemm and ssyrk (the BLAS library's own
   lazy start-up), then reads its baseline (VmHWM of /proc/self/status and
   getrusage's ru_maxrss), builds the net, runs the update and reads both
   again. It reports the peak above the baseline, the bytes of parameters
   and optimizer state (4 bytes each of the weight, its gradient and Adam's
   m and v: 16 bytes a parameter), the peak beyond those, and
   lpdm_net_work_bytes. The parent prints the table and the ratios.

   Not a test: run it by hand, with one BLAS thread:

     OPENBLAS_NUM_THREADS=1 build/bench/bench_memory [--batch=4096]
         [--depths=4,16,64] [--modes=bp,local,blocked] [--block=256]
*/
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lpdm/lpdm.h"
#include "bench.h"

enum { WIDTH = 256, MAX_DEPTHS = 8, MAX_MODES = 3 };

static const char *const mode_names[MAX_MODES] = {"bp", "local", "blocked"};

static lpdm_ctx *ctx;

static void die(const char *what) {
  fprintf(stderr, "bench_memory: %s: %s\n", what, ctx ? lpdm_ctx_message(ctx) : "");
  exit(1);
}

static void *xmalloc(size_t n) {
  void *p = malloc(n);
  if (!p) {
    fprintf(stderr, "bench_memory: out of memory (%zu bytes)\n", n);
    exit(1);
  }
  return p;
}

static long maxrss_kb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/* ------------------------------------------------------------ one configuration (the child) */

static lpdm_net *make_net(int depth, int blocked, int block) {
  const lpdm_layer_kind *dense = (const lpdm_layer_kind *)lpdm_plugin_get(ctx, LPDM_KIND_LAYER, "dense");
  lpdm_net *net = NULL;
  lpdm_config cfg;
  lpdm_rng r;
  lpdm_rng_seed(&r, 7);
  if (!dense || lpdm_net_new(ctx, WIDTH, &net) || lpdm_config_init(ctx, &dense->head, &cfg) ||
      lpdm_config_set_num(ctx, &cfg, "layer.dense", "out", WIDTH) ||
      lpdm_config_set_str(ctx, &cfg, "layer.dense", "act", "tanh"))
    die("net");
  lpdm_optim_cfg oc = lpdm_optim_default(LPDM_OPT_ADAM, 1e-3);
  for (int i = 0; i < depth; i++)
    if (lpdm_net_add(net, ctx, dense, &cfg, &r, &oc)) die("net");
  if (blocked) {
    lpdm_local_cfg lc = lpdm_local_default();
    lc.blocked = 1;
    lc.block = block;
    if (lpdm_net_set_local(net, ctx, &lc)) die("local options");
  }
  return net;
}

/* Runs mode (0 bp, 1 local, 2 blocked) on a net of `depth` layers and
   prints one line for the parent:
     RESULT mode depth params base_hwm hwm base_maxrss maxrss work seconds loss
   (params: parameter count; memory in kB; work in bytes). */
static int run_one(int mode, int depth, int B, int block) {
  ctx = lpdm_ctx_new();
  if (!ctx || lpdm_plugin_load_default(ctx)) die("plugins");
  const lpdm_distance_kind *dk = (const lpdm_distance_kind *)lpdm_plugin_get(ctx, LPDM_KIND_DISTANCE, "euclidean");
  const lpdm_loss_kind *lk = (const lpdm_loss_kind *)lpdm_plugin_get(ctx, LPDM_KIND_LOSS, "guided");
  lpdm_distance *dist = NULL;
  lpdm_loss *loss = NULL;
  if (!dk || !lk || lpdm_distance_new(ctx, dk, NULL, &dist) || lpdm_loss_new(ctx, lk, NULL, &loss)) die("plugins");

  /* The caller's data: inputs, guidance, target. */
  const size_t n = (size_t)B * WIDTH;
  float *X = xmalloc(n * sizeof *X), *g = xmalloc((size_t)B * sizeof *g), *T = NULL;
  lpdm_rng r;
  lpdm_rng_seed(&r, 1);
  for (size_t i = 0; i < n; i++) X[i] = (float)lpdm_rng_normal(&r);
  for (int i = 0; i < B; i++) g[i] = (float)(10 * lpdm_rng_uniform(&r));
  if (mode == 0) {
    T = xmalloc(n * sizeof *T);
    for (size_t i = 0; i < n; i++) T[i] = (float)lpdm_rng_normal(&r);
  }
  { /* the BLAS library's lazy start-up belongs to the baseline */
    float a[64 * 64], c[64 * 64];
    for (int i = 0; i < 64 * 64; i++) a[i] = (float)(i % 7) * 0.1f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 64, 64, 64, 1.0f, a, 64, a, 64, 0.0f, c, 64);
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, 64, 64, 1.0f, a, 64, 0.0f, c, 64);
  }
  const long base_hwm = bench_status_kb("VmHWM"), base_rss = maxrss_kb();

  lpdm_net *net = make_net(depth, mode == 2, block);
  const float *Y = NULL;
  double L = 0, t = bench_now();
  if (mode == 0) {
    if (lpdm_net_train_forward(net, ctx, X, B, &Y)) die("train_forward");
    float *dY = xmalloc(n * sizeof *dY);
    const float s = 2.0f / (float)n;
    for (size_t i = 0; i < n; i++) {
      const float e = Y[i] - T[i];
      L += (double)e * e;
      dY[i] = s * e;
    }
    L /= (double)n;
    lpdm_net_zero_grad(net);
    if (lpdm_net_backward(net, ctx, dY, NULL)) die("backward");
    if (lpdm_net_step(net, ctx, 1.0f)) die("step");
    t = bench_now() - t;
    const long hwm = bench_status_kb("VmHWM"), rss = maxrss_kb(); /* dY still held: part of the update */
    printf("RESULT %d %d %zu %ld %ld %ld %ld %zu %.3f %.9g\n", mode, depth, lpdm_net_param_count(net), base_hwm, hwm,
           base_rss, rss, lpdm_net_work_bytes(net), t, L);
    free(dY);
  } else {
    double *losses = xmalloc((size_t)depth * sizeof *losses);
    if (lpdm_net_local_update(net, ctx, dist, loss, X, B, g, &Y, losses)) die("local update");
    t = bench_now() - t;
    L = losses[depth - 1];
    const long hwm = bench_status_kb("VmHWM"), rss = maxrss_kb();
    printf("RESULT %d %d %zu %ld %ld %ld %ld %zu %.3f %.9g\n", mode, depth, lpdm_net_param_count(net), base_hwm, hwm,
           base_rss, rss, lpdm_net_work_bytes(net), t, L);
    free(losses);
  }
  fflush(stdout);
  lpdm_net_free(net);
  lpdm_distance_free(dist);
  lpdm_loss_free(loss);
  free(X);
  free(g);
  free(T);
  lpdm_ctx_free(ctx);
  return 0;
}

/* ------------------------------------------------------------ the parent */

typedef struct result {
  int ok;
  size_t params, work;
  long base_hwm, hwm, base_rss, rss;
  double secs, loss;
} result;

/* Runs this program again as `--one=mode:depth` in a child; parses its line. */
static int spawn(const char *self, int mode, int depth, int B, int block, result *res) {
  char a_one[64], a_batch[64], a_block[64];
  snprintf(a_one, sizeof a_one, "--one=%s:%d", mode_names[mode], depth);
  snprintf(a_batch, sizeof a_batch, "--batch=%d", B);
  snprintf(a_block, sizeof a_block, "--block=%d", block);
  int fd[2];
  if (pipe(fd)) {
    perror("pipe");
    return -1;
  }
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return -1;
  }
  if (pid == 0) { /* a fresh image: its own peak from zero */
    close(fd[0]);
    if (dup2(fd[1], STDOUT_FILENO) < 0) _exit(127);
    close(fd[1]);
    char *args[] = {(char *)self, a_one, a_batch, a_block, NULL};
    execv(self, args);
    perror("execv");
    _exit(127);
  }
  close(fd[1]);
  FILE *f = fdopen(fd[0], "r");
  char line[512];
  memset(res, 0, sizeof *res);
  while (f && fgets(line, sizeof line, f)) {
    int m, d;
    if (sscanf(line, "RESULT %d %d %zu %ld %ld %ld %ld %zu %lf %lf", &m, &d, &res->params, &res->base_hwm, &res->hwm,
               &res->base_rss, &res->rss, &res->work, &res->secs, &res->loss) == 10)
      res->ok = 1;
    else fputs(line, stdout);
  }
  if (f) fclose(f);
  int st = 0;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st)) res->ok = 0;
  return res->ok ? 0 : -1;
}

static double mib_kb(long kb) { return kb / 1024.0; }

/* Bytes of parameters and optimizer state: weight, gradient, Adam's m, v. */
static double opt_mib(const result *r) { return (double)r->params * 16.0 / 1048576.0; }
static double peak_mib(const result *r) { return mib_kb(r->hwm - r->base_hwm); }
static double beyond_mib(const result *r) { return peak_mib(r) - opt_mib(r); }

int main(int argc, char **argv) {
  int B = 4096, block = 256, depths[MAX_DEPTHS] = {4, 16, 64}, nd = 3, use[MAX_MODES] = {1, 1, 1};
  const char *one = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strncmp(argv[i], "--batch=", 8)) B = atoi(argv[i] + 8);
    else if (!strncmp(argv[i], "--block=", 8)) block = atoi(argv[i] + 8);
    else if (!strncmp(argv[i], "--one=", 6)) one = argv[i] + 6;
    else if (!strncmp(argv[i], "--depths=", 9)) {
      nd = 0;
      char *p = argv[i] + 9;
      while (*p && nd < MAX_DEPTHS) {
        depths[nd++] = (int)strtol(p, &p, 10);
        if (*p == ',') p++;
        else if (*p) {
          nd = 0; /* not a list of integers: refused below */
          break;
        }
      }
    } else if (!strncmp(argv[i], "--modes=", 8)) {
      for (int m = 0; m < MAX_MODES; m++) use[m] = strstr(argv[i] + 8, mode_names[m]) != NULL;
    } else {
      fprintf(stderr,
              "usage: %s [--batch=4096] [--depths=4,16,64] [--modes=bp,local,blocked] [--block=256]\n", argv[0]);
      return 2;
    }
  }
  if (B < 2 || block < 1 || nd < 1) {
    fprintf(stderr, "bench_memory: batch must be >= 2, block >= 1, depths a list of integers >= 1\n");
    return 2;
  }
  for (int k = 0; k < nd; k++)
    if (depths[k] < 1) {
      fprintf(stderr, "bench_memory: depths must be >= 1\n");
      return 2;
    }
  if (one) {
    char name[16] = "";
    int depth = 0, mode = -1;
    if (sscanf(one, "%15[a-z]:%d", name, &depth) != 2 || depth < 1) return 2;
    for (int m = 0; m < MAX_MODES; m++)
      if (!strcmp(name, mode_names[m])) mode = m;
    if (mode < 0) return 2;
    return run_one(mode, depth, B, block);
  }

  bench_machine();
  printf("one update, B = %d, inputs %d, dense %d tanh x depth, Adam; distance.euclidean, loss.guided;\n"
         "blocked: row blocks of %d. Memory in MiB: peak = VmHWM after the update minus before the net was built;\n"
         "params+opt = weights, gradients, Adam m and v (16 bytes a parameter); beyond = peak - params+opt.\n"
         "Times from one run on a shared machine.\n\n",
         B, WIDTH, WIDTH, block);
  printf("%-8s %5s %11s %9s %9s %11s %10s %9s %12s\n", "mode", "depth", "params+opt", "peak", "beyond", "ru_maxrss",
         "work", "time s", "loss");
  result res[MAX_MODES][MAX_DEPTHS];
  int fail = 0;
  for (int m = 0; m < MAX_MODES; m++) {
    if (!use[m]) continue;
    for (int k = 0; k < nd; k++) {
      result *r = &res[m][k];
      if (spawn("/proc/self/exe", m, depths[k], B, block, r)) {
        printf("%-8s %5d   (failed)\n", mode_names[m], depths[k]);
        fail = 1;
        continue;
      }
      printf("%-8s %5d %11.1f %9.1f %9.1f %11.1f %10.1f %9.2f %12.6g\n", mode_names[m], depths[k], opt_mib(r),
             peak_mib(r), beyond_mib(r), mib_kb(r->rss - r->base_rss), r->work / 1048576.0, r->secs, r->loss);
      fflush(stdout);
    }
  }
  if (fail || nd < 2) return fail;
  const int lo = 0, hi = nd - 1;
  printf("\nratios of the memory beyond params+opt, depth %d / depth %d:\n", depths[hi], depths[lo]);
  for (int m = 0; m < MAX_MODES; m++)
    if (use[m])
      printf("  %-8s %.2f   (peak: %.2f)\n", mode_names[m], beyond_mib(&res[m][hi]) / beyond_mib(&res[m][lo]),
             peak_mib(&res[m][hi]) / peak_mib(&res[m][lo]));
  for (int m = 1; m < MAX_MODES; m++)
    if (use[0] && use[m])
      printf("bp / %s at depth %d: beyond %.2f, peak %.2f\n", mode_names[m], depths[hi],
             beyond_mib(&res[0][hi]) / beyond_mib(&res[m][hi]), peak_mib(&res[0][hi]) / peak_mib(&res[m][hi]));
  return 0;
}
