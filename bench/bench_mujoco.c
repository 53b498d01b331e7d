/* SPDX-License-Identifier: MIT */
/* bench_mujoco.c -- the MuJoCo envs' speed beside raw MuJoCo, in one run.

   For each of the nine MuJoCo env plugins (Gymnasium v5 suite, see
   docs/mujoco.md):

     env   env steps/s through lpdm_env_step: uniform random actions inside
           the action bounds, reset (lpdm_env_reset) on termination or
           truncation inside the timed loop;
     raw   the same work straight on MuJoCo: the same model file
           (<plugin dir>/mujoco/models/<file>), its own mjModel/mjData,
           ctrl = the same random actions, mj_step x frame_skip, then
           mj_rnePostConstraint; reset (mj_resetData, the env's start
           state, mj_forward) at the very steps where the env reset.

   Both loops draw the same actions from the same generator and restart
   from the same states at the same steps, so they do the same physics
   (a contact-heavy fallen Hopper costs more than a flying one); what the
   env adds is the host's action check, the plugin call, the observation,
   the reward, the termination test and the reset draws. The env's first
   run records that schedule (the steps where it reset and its start
   states, a copy of nq + nv doubles per episode). After that the two
   sides alternate order over several rounds, so that the noise of this
   shared machine hits both. Printed: steps/s of each (the total steps
   over the total time of all rounds), env/raw, and the env's overhead
   (raw rate / env rate - 1) with its spread over the rounds.

   The raw side reaches MuJoCo through dlopen("libmujoco.so.2.2.2") +
   dlsym: bench programs link lpdm_core only. <mujoco/mujoco.h> gives the
   types; without it (no libmujoco-dev) the bench says so and exits 0, as
   it does when the env plugins were not built.

   Run: build/bench/bench_mujoco [--seconds=S] [--rounds=R] [--plugins=DIR]
     --seconds  time per side per round per env (default 0.35)
     --rounds   rounds per env (default 4)
     --plugins  the plugin directory (default: lpdm_plugin_load_default,
                i.e. the plugins/ folder beside the build's liblpdm)
   The defaults take about 30 s. */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lpdm/lpdm.h"
#include "bench.h"

#if defined(__has_include)
#if __has_include(<mujoco/mujoco.h>)
#include <mujoco/mujoco.h>
#define HAVE_MJ 1
#endif
#endif

#ifndef HAVE_MJ
int main(void) {
  printf("bench_mujoco: skipped: no <mujoco/mujoco.h> (install libmujoco-dev)\n");
  return 0;
}
#else

static lpdm_ctx *ctx;

static void die(const char *what) {
  fprintf(stderr, "bench_mujoco: %s: %s\n", what, lpdm_ctx_message(ctx));
  exit(1);
}

/* ------------------------------------------------------------ MuJoCo by dlsym */

static struct {
  void *lib;
  __typeof__(mj_loadXML) *loadXML;
  __typeof__(mj_makeData) *makeData;
  __typeof__(mj_deleteData) *deleteData;
  __typeof__(mj_deleteModel) *deleteModel;
  __typeof__(mj_resetData) *resetData;
  __typeof__(mj_forward) *forward;
  __typeof__(mj_step) *step;
  __typeof__(mj_rnePostConstraint) *rnePostConstraint;
  __typeof__(mj_versionString) *versionString;
} mj;

/* Opens the MuJoCo library the env plugins use (already mapped by them:
   dlopen returns the same object) and looks up the few functions needed. */
static int mj_open(char *err, size_t len) {
  char name[64];
  snprintf(name, sizeof name, "libmujoco.so.%d.%d.%d", mjVERSION_HEADER / 100, mjVERSION_HEADER / 10 % 10,
           mjVERSION_HEADER % 10);
  mj.lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (!mj.lib) mj.lib = dlopen("libmujoco.so", RTLD_NOW | RTLD_LOCAL);
  if (!mj.lib) {
    snprintf(err, len, "cannot dlopen %s: %s", name, dlerror());
    return -1;
  }
#define SYM(f)                                                                  \
  if (!(*(void **)&mj.f = dlsym(mj.lib, "mj_" #f))) {                           \
    snprintf(err, len, "%s has no mj_%s", name, #f);                            \
    return -1;                                                                  \
  }
  SYM(loadXML) SYM(makeData) SYM(deleteData) SYM(deleteModel) SYM(resetData) SYM(forward) SYM(step)
  SYM(rnePostConstraint) SYM(versionString)
#undef SYM
  return 0;
}

/* ------------------------------------------------------------ the envs */

static const struct {
  const char *id, *file;
} cases[] = {
    {"InvertedPendulum-v5", "inverted_pendulum.xml"},
    {"InvertedDoublePendulum-v5", "inverted_double_pendulum.xml"},
    {"Reacher-v5", "reacher.xml"},
    {"Swimmer-v5", "swimmer.xml"},
    {"Hopper-v5", "hopper.xml"},
    {"HalfCheetah-v5", "half_cheetah.xml"},
    {"Walker2d-v5", "walker2d_v5.xml"},
    {"Ant-v5", "ant.xml"},
    {"Humanoid-v5", "humanoid.xml"},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))
#define ACT_SEED 12345
#define ENV_SEED 7

/* Where the env reset within a run of n steps: before step at[i] (0 =
   the start) it was put in state st + i * ns. */
typedef struct {
  int n, cap, ns;
  long *at;
  double *st;
} schedule;

static void sched_add(schedule *s, long at, const lpdm_env *env) {
  if (s->n == s->cap) {
    s->cap = s->cap ? 2 * s->cap : 64;
    s->at = realloc(s->at, (size_t)s->cap * sizeof *s->at);
    s->st = realloc(s->st, (size_t)s->cap * s->ns * sizeof *s->st);
    if (!s->at || !s->st) {
      fprintf(stderr, "bench_mujoco: out of memory\n");
      exit(1);
    }
  }
  s->at[s->n] = at;
  if (lpdm_env_get_state(env, ctx, s->st + (size_t)s->n * s->ns)) die("get_state");
  s->n++;
}

static inline void draw(lpdm_rng *rng, const lpdm_space *as, double *a) {
  for (int k = 0; k < as->dim; k++) a[k] = as->low[k] + (as->high[k] - as->low[k]) * lpdm_rng_uniform(rng);
}

/* n env steps from reset(seed=ENV_SEED); records the schedule when rec. */
static double run_env(lpdm_env *env, long n, float *obs, double *a, schedule *rec) {
  lpdm_rng rng;
  lpdm_rng_seed(&rng, ACT_SEED);
  double r;
  int term, trunc;
  if (lpdm_env_reset(env, ctx, 1, ENV_SEED, obs)) die("reset");
  if (rec) {
    rec->n = 0;
    sched_add(rec, 0, env);
  }
  double t0 = bench_now();
  for (long i = 0; i < n; i++) {
    draw(&rng, &env->act_space, a);
    if (lpdm_env_step(env, ctx, a, obs, &r, &term, &trunc)) die("step");
    if (term || trunc) {
      if (lpdm_env_reset(env, ctx, 0, 0, obs)) die("reset");
      if (rec && i + 1 < n) sched_add(rec, i + 1, env);
    }
  }
  return bench_now() - t0;
}

static void raw_put(const mjModel *m, mjData *d, const double *st) {
  mj.resetData(m, d);
  memcpy(d->qpos, st, (size_t)m->nq * sizeof(double));
  memcpy(d->qvel, st + m->nq, (size_t)m->nv * sizeof(double));
  mj.forward(m, d);
}

/* The same n steps on MuJoCo alone, resetting as the schedule says. */
static double run_raw(const mjModel *m, mjData *d, int frame_skip, const lpdm_space *as, long n, double *a,
                      const schedule *s) {
  lpdm_rng rng;
  lpdm_rng_seed(&rng, ACT_SEED);
  raw_put(m, d, s->st);
  int next = 1;
  const size_t nu = (size_t)m->nu * sizeof(double);
  double t0 = bench_now();
  for (long i = 0; i < n; i++) {
    if (next < s->n && s->at[next] == i) raw_put(m, d, s->st + (size_t)s->ns * next++);
    draw(&rng, as, a);
    memcpy(d->ctrl, a, nu);
    for (int k = 0; k < frame_skip; k++) mj.step(m, d);
    mj.rnePostConstraint(m, d);
  }
  return bench_now() - t0;
}

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

typedef struct {
  double env_rate, raw_rate, ovh, ovh_lo, ovh_hi;
  long n;
  int episodes;
} result;

static int bench_case(int c, double seconds, int rounds, result *res) {
  const lpdm_env_kind *k = (const lpdm_env_kind *)lpdm_plugin_find(ctx, LPDM_KIND_ENV, cases[c].id);
  if (!k) return -1;
  char path[4096];
  const char *origin = lpdm_plugin_origin(ctx, &k->head);
  const char *slash = origin ? strrchr(origin, '/') : NULL;
  if (!slash) {
    fprintf(stderr, "bench_mujoco: %s: cannot tell where its plugin lives (%s)\n", cases[c].id,
            origin ? origin : "no origin");
    exit(1);
  }
  snprintf(path, sizeof path, "%.*s/mujoco/models/%s", (int)(slash - origin), origin, cases[c].file);

  lpdm_config cfg;
  if (lpdm_config_init(ctx, &k->head, &cfg)) die(cases[c].id);
  int frame_skip = lpdm_cfg_int(&cfg, "frame_skip");
  lpdm_env *env = NULL;
  if (lpdm_env_new(ctx, k, NULL, &env)) die(cases[c].id);

  char err[1000] = "";
  mjModel *m = mj.loadXML(path, NULL, err, (int)sizeof err);
  if (!m) {
    fprintf(stderr, "bench_mujoco: %s: cannot load %s: %s\n", cases[c].id, path, err);
    exit(1);
  }
  mjData *d = mj.makeData(m);
  if (!d || m->nq + m->nv != env->state_dim || m->nu != env->act_space.dim) {
    fprintf(stderr, "bench_mujoco: %s: %s does not fit the env\n", cases[c].id, path);
    exit(1);
  }
  float *obs = malloc((size_t)env->obs_space.dim * sizeof *obs);
  double *a = malloc((size_t)m->nu * sizeof *a);
  schedule s = {0, 0, env->state_dim, NULL, NULL};
  if (!obs || !a) die("out of memory");

  /* size the runs: a short env run (warms the caches too) */
  long n = 300;
  double t = run_env(env, n, obs, a, &s);
  n = (long)(seconds * n / t);
  if (n < 1000) n = 1000;
  /* the schedule of the n-step run, from the env itself (also a warm-up) */
  run_env(env, n, obs, a, &s);

  double te = 0, tr = 0, *ovh = malloc((size_t)rounds * sizeof *ovh);
  for (int r = 0; r < rounds; r++) {
    double e1, r1;
    if (r % 2 == 0) {
      e1 = run_env(env, n, obs, a, NULL);
      r1 = run_raw(m, d, frame_skip, &env->act_space, n, a, &s);
    } else {
      r1 = run_raw(m, d, frame_skip, &env->act_space, n, a, &s);
      e1 = run_env(env, n, obs, a, NULL);
    }
    te += e1;
    tr += r1;
    ovh[r] = 100.0 * (e1 / r1 - 1.0);
  }
  qsort(ovh, (size_t)rounds, sizeof *ovh, cmp_double);
  res->n = n;
  res->episodes = s.n;
  res->env_rate = rounds * n / te;
  res->raw_rate = rounds * n / tr;
  res->ovh = 100.0 * (te / tr - 1.0);
  res->ovh_lo = ovh[0];
  res->ovh_hi = ovh[rounds - 1];

  free(ovh);
  free(s.at);
  free(s.st);
  free(obs);
  free(a);
  mj.deleteData(d);
  mj.deleteModel(m);
  lpdm_env_free(env);
  return 0;
}

int main(int argc, char **argv) {
  double seconds = 0.35;
  int rounds = 4;
  const char *dir = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strncmp(argv[i], "--seconds=", 10)) seconds = atof(argv[i] + 10);
    else if (!strncmp(argv[i], "--rounds=", 9)) rounds = atoi(argv[i] + 9);
    else if (!strncmp(argv[i], "--plugins=", 10)) dir = argv[i] + 10;
    else {
      fprintf(stderr, "usage: bench_mujoco [--seconds=S] [--rounds=R] [--plugins=DIR]\n");
      return 2;
    }
  }
  if (!(seconds > 0) || rounds < 1) {
    fprintf(stderr, "bench_mujoco: --seconds must be > 0 and --rounds >= 1\n");
    return 2;
  }
  ctx = lpdm_ctx_new();
  if (dir ? lpdm_plugin_load_dir(ctx, dir) : lpdm_plugin_load_default(ctx)) die("plugins");
  int have = 0;
  for (int c = 0; c < NCASES; c++) have += lpdm_plugin_find(ctx, LPDM_KIND_ENV, cases[c].id) != NULL;
  if (!have) {
    printf("bench_mujoco: skipped: no MuJoCo env plugin was built (libmujoco-dev missing?)\n");
    lpdm_ctx_free(ctx);
    return 0;
  }
  char err[512];
  if (mj_open(err, sizeof err)) {
    fprintf(stderr, "bench_mujoco: %s\n", err);
    return 1;
  }
  bench_machine();
  printf("\nenv steps/s through lpdm_env_step (random actions in the bounds, resets included) beside raw\n"
         "MuJoCo on the same model and the same actions and resets (ctrl, mj_step x frame_skip,\n"
         "mj_rnePostConstraint); %d rounds of ~%.2f s per side, alternating order; overhead = raw/env - 1\n\n",
         rounds, seconds);
  printf("  %-26s %8s %7s %12s %12s %7s %9s %15s\n", "env", "steps", "resets", "env steps/s", "raw steps/s",
         "env/raw", "overhead", "rounds min..max");
  double worst = -1e9;
  const char *worst_id = "";
  for (int c = 0; c < NCASES; c++) {
    result r;
    if (bench_case(c, seconds, rounds, &r)) {
      printf("  %-26s (plugin not built)\n", cases[c].id);
      continue;
    }
    printf("  %-26s %8ld %7d %12.0f %12.0f %7.3f %8.1f%% %6.1f..%5.1f%%\n", cases[c].id, r.n, r.episodes - 1,
           r.env_rate, r.raw_rate, r.env_rate / r.raw_rate, r.ovh, r.ovh_lo, r.ovh_hi);
    fflush(stdout);
    if (r.ovh > worst) {
      worst = r.ovh;
      worst_id = cases[c].id;
    }
  }
  printf("\nlargest overhead: %s %.1f%% (the issue's bound: 10%%)\n", worst_id, worst);
  lpdm_ctx_free(ctx);
  return 0;
}

#endif /* HAVE_MJ */
