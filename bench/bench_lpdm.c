/* SPDX-License-Identifier: MIT */
/* bench_lpdm.c -- lpdm's speed figures, each beside a reference measured in
   the same run on the same machine (this machine is shared and noisy: read
   the ratios, not the absolute numbers).

     1. Env steps/s of every classic-control plugin (random actions) beside
        Gymnasium's rate on the same kind of machine, and CartPole's float64
        physics inlined in a bare loop (the floor).
     2. REINFORCE training on CartPole-v1, env steps/s, in bp, local/guided
        and local/stress mode (defaults, 2 x 64 tanh, seed 1).
     3. One local update of a 64 -> 64 dense layer (forward, both distance
        matrices, the guided loss, its vjp, backward, Adam step, forward
        again), in GFLOP/s of its level-3 work, beside cblas_sgemm on a
        B x B x 64 product: the fraction of BLAS speed the local loss runs at.
     4. PPO training on CartPole-v1 with CleanRL's defaults, bp and local,
        1 and 2 threads, beside CleanRL ppo.py's rate, and local's time per
        update as a multiple of bp's.

   Run with one BLAS thread: OPENBLAS_NUM_THREADS=1 build/bench/bench_lpdm
   Options: --quick (shorter runs), --steps=N (training steps per mode). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lpdm/lpdm.h"
#include "lpdm/run.h"
#include "bench.h"

static lpdm_ctx *ctx;

static void die(const char *what) {
  fprintf(stderr, "bench_lpdm: %s: %s\n", what, lpdm_ctx_message(ctx));
  exit(1);
}

/* Gymnasium's own step rates on this kind of machine, with its default
   wrappers (the figures), to compare against. */
static const struct {
  const char *id;
  double gym;
} envs[] = {{"CartPole-v1", 150000},    {"Acrobot-v1", 29000},
            {"MountainCar-v0", 72000},  {"MountainCarContinuous-v0", 57000},
            {"Pendulum-v1", 35500}};

static double env_rate(const char *id, long n) {
  const lpdm_env_kind *ek = (const lpdm_env_kind *)lpdm_plugin_get(ctx, LPDM_KIND_ENV, id);
  lpdm_env *env = NULL;
  if (!ek || lpdm_env_new(ctx, ek, NULL, &env)) die(id);
  float obs[64];
  double a[8], r;
  int term, trunc;
  lpdm_rng rng;
  lpdm_rng_seed(&rng, 1);
  const lpdm_space *as = &env->act_space;
  lpdm_env_reset(env, ctx, 1, 1, obs);
  double t0 = bench_now();
  for (long i = 0; i < n; i++) {
    if (as->type == LPDM_SPACE_DISCRETE) a[0] = (double)lpdm_rng_below(&rng, (uint64_t)as->n);
    else
      for (int k = 0; k < as->dim; k++) a[k] = as->low[k] + (as->high[k] - as->low[k]) * lpdm_rng_uniform(&rng);
    lpdm_env_step(env, ctx, a, obs, &r, &term, &trunc);
    if (term || trunc) lpdm_env_reset(env, ctx, 0, 0, obs);
  }
  double dt = bench_now() - t0;
  lpdm_env_free(env);
  return n / dt;
}

static void bench_env(long n) {
  printf("\n[1] env steps/s through lpdm_env_step (random actions, %ld steps each) beside Gymnasium's\n", n);
  for (size_t i = 0; i < sizeof envs / sizeof *envs; i++) {
    if (!lpdm_plugin_find(ctx, LPDM_KIND_ENV, envs[i].id)) continue;
    double r = env_rate(envs[i].id, n);
    printf("    %-26s %12.0f steps/s   Gymnasium %7.0f   x%.0f\n", envs[i].id, r, envs[i].gym, r / envs[i].gym);
  }
  /* the floor for CartPole: the same Euler physics inlined, no plugin call */
  lpdm_rng rng;
  lpdm_rng_seed(&rng, 1);
  double s[4] = {0.01, 0, 0.01, 0}, acc = 0;
  double t0 = bench_now();
  for (long i = 0; i < n; i++) {
    double f = (lpdm_rng_u64(&rng) & 1) ? 10.0 : -10.0, ct = cos(s[2]), st = sin(s[2]);
    double tmp = (f + 0.05 * s[3] * s[3] * st) / 1.1;
    double thacc = (9.8 * st - ct * tmp) / (0.5 * (4.0 / 3.0 - 0.1 * ct * ct / 1.1));
    double xacc = tmp - 0.05 * thacc * ct / 1.1;
    s[0] += 0.02 * s[1];
    s[1] += 0.02 * xacc;
    s[2] += 0.02 * s[3];
    s[3] += 0.02 * thacc;
    if (fabs(s[0]) > 2.4 || fabs(s[2]) > 0.2095) {
      acc += s[0];
      s[0] = s[1] = s[3] = 0;
      s[2] = 0.01;
    }
  }
  double t_raw = bench_now() - t0;
  volatile double sink = acc; /* keeps the loop */
  (void)sink;
  printf("    CartPole physics inlined in a bare loop (the floor): %.0f steps/s\n", n / t_raw);
}

/* The GEMMs of one PPO CartPole update alone, as the nets run them (rows
   x 4 -> 64 -> 64 -> outputs, tanh between; beta = 1 as dense does): the
   rollout's 128 forwards of 4 rows for actor and critic, then 16
   minibatches of 128 rows each with forward, dW and dX per layer (no dX
   for the first). Single thread, ms per update (best of 5). Everything
   else an update does (tanh, softmax, Adam, the env) adds to this. */
static double ppo_gemm_floor_ms(void) {
  static float A[128 * 64], W[64 * 64], C[128 * 64];
  for (int i = 0; i < 128 * 64; i++) A[i] = (float)(i % 7) * 0.01f, C[i] = 0;
  for (int i = 0; i < 64 * 64; i++) W[i] = (float)(i % 5) * 0.01f;
  const CBLAS_ORDER R = CblasRowMajor;
  const CBLAS_TRANSPOSE N = CblasNoTrans, T = CblasTrans;
  double best = 1e30;
  for (int rep = 0; rep < 5; rep++) {
    const int U = 50;
    double t0 = bench_now();
    for (int u = 0; u < U; u++) {
      for (int step = 0; step < 128; step++)
        for (int out = 1; out <= 2; out++) { /* critic (1 output), actor (2) */
          cblas_sgemm(R, N, N, 4, 64, 4, 1, A, 4, W, 64, 1, C, 64);
          cblas_sgemm(R, N, N, 4, 64, 64, 1, A, 64, W, 64, 1, C, 64);
          cblas_sgemm(R, N, N, 4, out, 64, 1, A, 64, W, out, 1, C, out);
        }
      for (int mb = 0; mb < 16; mb++)
        for (int out = 1; out <= 2; out++) {
          const int M = 128;
          cblas_sgemm(R, N, N, M, 64, 4, 1, A, 4, W, 64, 1, C, 64); /* forward */
          cblas_sgemm(R, N, N, M, 64, 64, 1, A, 64, W, 64, 1, C, 64);
          cblas_sgemm(R, N, N, M, out, 64, 1, A, 64, W, out, 1, C, out);
          cblas_sgemm(R, T, N, 64, out, M, 1, A, 64, W, out, 1, C, out); /* dW3, dH2 */
          cblas_sgemm(R, N, T, M, 64, out, 1, A, out, W, out, 1, C, 64);
          cblas_sgemm(R, T, N, 64, 64, M, 1, A, 64, W, 64, 1, C, 64); /* dW2, dH1 */
          cblas_sgemm(R, N, T, M, 64, 64, 1, A, 64, W, 64, 1, C, 64);
          cblas_sgemm(R, T, N, 4, 64, M, 1, A, 4, W, 64, 1, C, 64); /* dW1 */
        }
    }
    const double ms = (bench_now() - t0) / U * 1e3;
    if (ms < best) best = ms;
  }
  return best;
}

/* The observation width of an env (one throwaway instance). */
static int env_obs_dim(const char *id) {
  const lpdm_env_kind *ek = (const lpdm_env_kind *)lpdm_plugin_get(ctx, LPDM_KIND_ENV, id);
  lpdm_env *e = NULL;
  if (!ek || lpdm_env_new(ctx, ek, NULL, &e)) die("env");
  int d = e->obs_space.dim;
  lpdm_env_free(e);
  return d;
}

/* Training env steps/s of algo on env_id (2 x 64 tanh; orthogonal, gain
   sqrt(2) for ppo as CleanRL); lossn NULL: the algorithm's own default
   local loss; *per_update gets ms per iteration. The run is assembled by
   lpdm_run_new (distance "euclidean"), as lpdm.algo does. */
static double bench_train_on(const char *env_id, const char *algon, const char *mode, const char *lossn, long steps,
                             int threads, double *per_update) {
  const lpdm_layer_kind *dk = (const lpdm_layer_kind *)lpdm_plugin_get(ctx, LPDM_KIND_LAYER, "dense");
  const lpdm_plugin *ak = lpdm_plugin_get(ctx, LPDM_KIND_ALGO, algon);
  lpdm_net *net = NULL;
  lpdm_run *run = NULL;
  lpdm_config ac, lc;
  lpdm_rng rng;
  lpdm_rng_seed(&rng, 1);
  const int ppo = !strcmp(algon, "ppo");
  if (!dk || !ak || lpdm_config_init(ctx, ak, &ac) ||
      lpdm_config_set_str(ctx, &ac, "r", "mode", mode) || lpdm_config_set_num(ctx, &ac, "r", "steps", (double)steps) ||
      lpdm_net_new(ctx, env_obs_dim(env_id), &net) ||
      lpdm_config_init(ctx, &dk->head, &lc) ||
      (ppo && (lpdm_config_set_str(ctx, &lc, "d", "init", "orthogonal") ||
               lpdm_config_set_num(ctx, &lc, "d", "gain", sqrt(2.0)) ||
               lpdm_config_set_num(ctx, &ac, "r", "threads", threads))) ||
      lpdm_net_add(net, ctx, dk, &lc, &rng, NULL) || lpdm_net_add(net, ctx, dk, &lc, &rng, NULL))
    die("setup");
  const lpdm_run_spec spec = {.algo = algon, .algo_cfg = &ac, .env_id = env_id, .policy = net, .loss_name = lossn};
  if (lpdm_run_new(ctx, &spec, &run)) die(algon);
  int rc, iters = 0;
  double t0 = bench_now();
  do {
    rc = lpdm_run_iterate(run, ctx);
    iters++;
  } while (rc == LPDM_OK);
  double dt = bench_now() - t0;
  if (per_update) *per_update = 1e3 * dt / iters;
  if (rc < 0) die("iterate");
  lpdm_run_free(run);
  lpdm_net_free(net);
  return steps / dt;
}

static double bench_train(const char *algon, const char *mode, const char *lossn, long steps, int threads,
                          double *per_update) {
  return bench_train_on("CartPole-v1", algon, mode, lossn, steps, threads, per_update);
}

/* This thread's CPU time, for section [3]: time-slicing by other processes
   on a shared machine does not count (their cache traffic still does). */
static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* One local update of a 64 -> 64 dense layer beside one cblas_sgemm of the
   vjp's shape (B x 64 x B), in alternation: each repetition times a batch
   of updates and then a batch of sgemm calls (each batch at least min_t
   seconds of CPU time); each figure is the best over the repetitions. */
static void bench_local(int B, int reps, double min_t) {
  const int p = 64, q = 64;
  const lpdm_layer_kind *dk = (const lpdm_layer_kind *)lpdm_plugin_get(ctx, LPDM_KIND_LAYER, "dense");
  const lpdm_distance_kind *eu = (const lpdm_distance_kind *)lpdm_plugin_get(ctx, LPDM_KIND_DISTANCE, "euclidean");
  const lpdm_loss_kind *lk = (const lpdm_loss_kind *)lpdm_plugin_get(ctx, LPDM_KIND_LOSS, "guided");
  lpdm_distance *dist = NULL;
  lpdm_loss *loss = NULL;
  lpdm_net *net = NULL;
  lpdm_rng rng;
  lpdm_rng_seed(&rng, 3);
  lpdm_config dc;
  if (lpdm_distance_new(ctx, eu, NULL, &dist) || lpdm_loss_new(ctx, lk, NULL, &loss) || lpdm_net_new(ctx, p, &net) ||
      lpdm_config_init(ctx, &dk->head, &dc) || lpdm_config_set_num(ctx, &dc, "dense", "out", q) ||
      lpdm_net_add(net, ctx, dk, &dc, &rng, NULL))
    die("local setup");
  float *X = malloc(sizeof(float) * B * p), *g = malloc(sizeof(float) * B);
  float *A = malloc(sizeof(float) * B * q), *C = malloc(sizeof(float) * B * B), *O = malloc(sizeof(float) * B * q);
  if (!X || !g || !A || !C || !O) die("local: out of memory");
  for (int i = 0; i < B * p; i++) X[i] = (float)lpdm_rng_normal(&rng);
  for (int i = 0; i < B * q; i++) A[i] = (float)lpdm_rng_normal(&rng);
  for (int i = 0; i < B * B; i++) C[i] = (float)lpdm_rng_uniform(&rng);
  for (int i = 0; i < B; i++) g[i] = (float)lpdm_rng_uniform(&rng);
  const float *Y;
  double L;
  lpdm_net_local_update(net, ctx, dist, loss, X, B, g, &Y, &L); /* warm-up: buffers */
  double t_loc = 1e30, t_gemm = 1e30;
  for (int r = 0; r < reps; r++) {
    long n = 0;
    double t0 = cpu_now(), t;
    do {
      if (lpdm_net_local_update(net, ctx, dist, loss, X, B, g, &Y, &L)) die("local update");
      n++;
      t = cpu_now() - t0;
    } while (t < min_t);
    if (t / n < t_loc) t_loc = t / n;
    n = 0;
    t0 = cpu_now();
    do {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, q, B, 1.0f, C, B, A, q, 0.0f, O, q);
      n++;
      t = cpu_now() - t0;
    } while (t < min_t);
    if (t / n < t_gemm) t_gemm = t / n;
  }
  /* level-3 work of one update: forward x2 and dW (2Bpq each), the
     pairwise of X and of Y (B^2 p and B^2 q: a syrk is half a product),
     the vjp's sgemm (2 B^2 q). (Before 2026-11-28 this counted B^2 p
     twice, which overstated the ratios by 10% at B = 64, 24% at 1024.) */
  double fl = 3 * 2.0 * B * p * q + (double)B * B * p + (double)B * B * q + 2.0 * B * B * q;
  double gf_loc = fl / t_loc * 1e-9, gf_gemm = 2.0 * B * B * q / t_gemm * 1e-9;
  printf("    B=%5d  local update %8.3f ms  %6.2f GFLOP/s   sgemm(BxBx64) %6.2f GFLOP/s   ratio %.2f\n", B, t_loc * 1e3,
         gf_loc, gf_gemm, gf_loc / gf_gemm);
  free(X);
  free(g);
  free(A);
  free(C);
  free(O);
  lpdm_net_free(net);
  lpdm_loss_free(loss);
  lpdm_distance_free(dist);
}

int main(int argc, char **argv) {
  int quick = 0;
  long steps = 300000;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--quick")) quick = 1;
    else if (!strncmp(argv[i], "--steps=", 8)) steps = atol(argv[i] + 8);
    else {
      fprintf(stderr, "usage: bench_lpdm [--quick] [--steps=N]\n");
      return 2;
    }
  }
  if (quick) steps = 50000;
  ctx = lpdm_ctx_new();
  if (lpdm_plugin_load_default(ctx)) die("plugins");
  bench_machine();
  bench_env(quick ? 1000000 : 10000000);
  printf("\n[2] REINFORCE on CartPole-v1, training env steps/s (%ld steps, seed 1, 2 x 64 tanh)\n", steps);
  const char *modes[][2] = {{"bp", "guided"}, {"local", "guided"}, {"local", "stress"}};
  for (int i = 0; i < 3; i++)
    printf("    %-5s %-7s %12.0f steps/s\n", modes[i][0], strcmp(modes[i][0], "bp") ? modes[i][1] : "",
           bench_train("reinforce", modes[i][0], modes[i][1], steps, 1, NULL));
  printf("\n[3] one local update of a 64 -> 64 dense layer (guided loss, euclidean), beside cblas_sgemm\n"
         "    (alternating batches, best of %d, CPU time)\n", quick ? 3 : 7);
  int Bs[] = {64, 256, 512, 1024, 4096};
  for (int i = 0; i < 5; i++) bench_local(Bs[i], quick ? 3 : 7, quick ? 0.02 : (Bs[i] >= 4096 ? 0.3 : 0.1));
  long psteps = quick ? 51200 : 204800;
  printf("\n[4] PPO on CartPole-v1 with CleanRL's ppo.py defaults (4 x 128 steps, 4 x 4 minibatches,\n"
         "    2 x 64 tanh), training env steps/s beside CleanRL ppo.py's ~12,600 env steps/s with\n"
         "    PyTorch on CPU on the same kind of machine (%ld steps, seed 1)\n", psteps);
  double bp_ms[2] = {0, 0};
  const char *pmodes[][2] = {{"bp", "guided"}, {"local", NULL}, {"local", "guided"}, {"local", "stress"}};
  for (int i = 0; i < 4; i++)
    for (int th = 1; th <= 2; th++) {
      double ms, r = bench_train("ppo", pmodes[i][0], pmodes[i][1], psteps, th, &ms);
      if (i == 0) bp_ms[th - 1] = ms;
      printf("    %-5s %-8s threads=%d %10.0f steps/s  %5.1fx CleanRL  %6.2f ms/update", pmodes[i][0],
             i == 0 ? "" : pmodes[i][1] ? pmodes[i][1] : "default", th, r, r / 12600.0, ms);
      if (i > 0) printf("  (%.2fx bp's time)", ms / bp_ms[th - 1]);
      printf("\n");
    }
  {
    const double floor_ms = ppo_gemm_floor_ms(), cap = 512.0 / (floor_ms * 1e-3);
    printf("    the update's GEMMs alone, one thread: %.2f ms/update (%.0f%% of bp's threads=1 time); even\n"
           "    split perfectly over 2 cores with nothing else to do they cap bp at %.0fx CleanRL\n",
           floor_ms, 100.0 * floor_ms / bp_ms[0], 2 * cap / 12600.0);
  }
  if (lpdm_plugin_find(ctx, LPDM_KIND_ENV, "HalfCheetah-v5")) {
    long hsteps = quick ? 20480 : 102400;
    printf("\n[5] PPO on HalfCheetah-v5 with ppo_continuous_action.py's defaults (1 x 2048 steps, 32 x 10\n"
           "    minibatches, 2 x 64 tanh), training env steps/s beside the env's own rate (random actions\n"
           "    through lpdm_env_step, the physics floor of training), measured in turn (%ld steps, seed 1)\n",
           hsteps);
    const double raw = env_rate("HalfCheetah-v5", hsteps);
    printf("    env alone (random actions)   %10.0f steps/s\n", raw);
    for (int i = 0; i < 2; i++)
      for (int th = 1; th <= 2; th++) {
        double ms, r = bench_train_on("HalfCheetah-v5", "ppo", pmodes[i][0], pmodes[i][1], hsteps, th, &ms);
        printf("    %-5s %-8s threads=%d %10.0f steps/s  %5.2f of the env's rate  %7.2f ms/update\n", pmodes[i][0],
               i ? "default" : "", th, r, r / raw, ms);
      }
  }
  lpdm_ctx_free(ctx);
  return 0;
}
