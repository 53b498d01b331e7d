/* SPDX-License-Identifier: MIT */
/* test_mujoco_envs.c -- what each MuJoCo env adds on top of the physics
   (test_mujoco.c checks the physics): spaces and sizes, reset(seed)
   determinism and draw order, NumPy's standard_normal, rewards on a
   hand-checked step, termination outside the healthy range, truncation,
   and bad input (missing or broken model file, non-finite state or
   action, step before reset, a diverging simulation), and envs of two
   kinds made, run and freed from several threads at once (each kind's
   shared-model cache, plugins/envs/mujoco/lib/mj_model.c). Without MuJoCo
   the program is skipped. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lpdm/lpdm.h"
#include "tap.h"

typedef struct {
  const char *id;
  int obs, act, state, max_steps;
  double lo, hi;
} env_case;

static const env_case cases[] = {
    {"InvertedPendulum-v5", 4, 1, 4, 1000, -3, 3},
    {"InvertedDoublePendulum-v5", 9, 1, 6, 1000, -1, 1},
    {"Reacher-v5", 10, 2, 8, 50, -1, 1},
    {"Swimmer-v5", 8, 2, 10, 1000, -1, 1},
    {"Hopper-v5", 11, 3, 12, 1000, -1, 1},
    {"HalfCheetah-v5", 17, 6, 18, 1000, -1, 1},
    {"Walker2d-v5", 17, 6, 18, 1000, -1, 1},
    {"Ant-v5", 105, 8, 29, 1000, -1, 1},
    {"Humanoid-v5", 348, 17, 47, 1000, (double)-0.4f, (double)0.4f},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

static lpdm_ctx *ctx;

static lpdm_env *make(const char *id, const char *key, const char *val) {
  const lpdm_plugin *p = lpdm_plugin_find(ctx, LPDM_KIND_ENV, id);
  if (!p) return NULL;
  lpdm_config cfg;
  lpdm_env *env = NULL;
  if (lpdm_config_init(ctx, p, &cfg)) return NULL;
  if (key && lpdm_config_set_text(ctx, &cfg, id, key, val)) return NULL;
  if (lpdm_env_new(ctx, (const lpdm_env_kind *)p, &cfg, &env)) return NULL;
  return env;
}

/* One step from state st with action a. */
static int step_from(lpdm_env *env, const double *st, const double *a, float *obs, double *r,
                     int *term, int *trunc) {
  if (lpdm_env_set_state(env, ctx, st)) return -1;
  return lpdm_env_step(env, ctx, a, obs, r, term, trunc);
}

static void check_spaces(void) {
  for (int i = 0; i < NCASES; i++) {
    const env_case *c = &cases[i];
    lpdm_env *env = make(c->id, NULL, NULL);
    if (!env) {
      ok(0, "%s: create (%s)", c->id, lpdm_ctx_message(ctx));
      continue;
    }
    int good = env->obs_space.dim == c->obs && env->act_space.type == LPDM_SPACE_BOX &&
               env->act_space.dim == c->act && env->state_dim == c->state &&
               env->max_episode_steps == c->max_steps;
    for (int j = 0; j < c->act; j++)
      good &= env->act_space.low[j] == c->lo && env->act_space.high[j] == c->hi;
    ok(good, "%s: Box(%d) obs, Box(%d) actions in [%g, %g], state %d, limit %d", c->id,
       env->obs_space.dim, env->act_space.dim, env->act_space.low[0], env->act_space.high[0],
       env->state_dim, env->max_episode_steps);
    lpdm_env_free(env);
  }
}

/* reset(seed) twice gives the same start; another seed another one; the
   start is qpos0 + the generator's draws in Gymnasium's order. */
static void check_reset(void) {
  lpdm_env *env = make("Hopper-v5", NULL, NULL), *env2 = make("Hopper-v5", NULL, NULL);
  float o1[11], o2[11];
  double s1[12], s2[12], s3[12];
  lpdm_env_reset(env, ctx, 1, 7, o1);
  lpdm_env_get_state(env, ctx, s1);
  lpdm_env_reset(env2, ctx, 1, 7, o2);
  lpdm_env_get_state(env2, ctx, s2);
  lpdm_env_reset(env, ctx, 1, 8, o1);
  lpdm_env_get_state(env, ctx, s3);
  ok(!memcmp(s1, s2, sizeof s1) && memcmp(s1, s3, sizeof s1),
     "Hopper-v5: reset(seed=7) twice gives one start state, seed 8 another");
  lpdm_nprng r;
  lpdm_nprng_seed(&r, 7);
  double qpos0[6] = {0, 1.25, 0, 0, 0, 0}, want[12];
  for (int i = 0; i < 6; i++) want[i] = qpos0[i] + lpdm_nprng_uniform(&r, -5e-3, 5e-3);
  for (int i = 0; i < 6; i++) want[6 + i] = 0 + lpdm_nprng_uniform(&r, -5e-3, 5e-3);
  ok(!memcmp(s2, want, sizeof want), "Hopper-v5: start = qpos0 + U(-5e-3, 5e-3) x 6, then "
     "qvel = U(-5e-3, 5e-3) x 6, from the seeded generator");
  lpdm_env_free(env);
  lpdm_env_free(env2);

  /* NumPy 1.24: Generator(PCG64(SeedSequence(42))).standard_normal(4) */
  static const double np42[4] = {0.30471707975443135, -1.0399841062404955, 0.7504511958064572,
                                 0.9405647163912139};
  lpdm_nprng_seed(&r, 42);
  int same = 1;
  for (int i = 0; i < 4; i++) same &= lpdm_nprng_standard_normal(&r) == np42[i];
  ok(same, "lpdm_nprng_standard_normal equals NumPy's standard_normal (seed 42, 4 draws)");

  /* HalfCheetah: qpos0 + U(-0.1, 0.1) x 9, then qvel = 0.1 * N(0, 1) x 9 */
  env = make("HalfCheetah-v5", NULL, NULL);
  float o[17];
  double s[18], w[18];
  lpdm_env_reset(env, ctx, 1, 3, o);
  lpdm_env_get_state(env, ctx, s);
  lpdm_nprng_seed(&r, 3);
  for (int i = 0; i < 9; i++) w[i] = 0 + lpdm_nprng_uniform(&r, -0.1, 0.1);
  for (int i = 0; i < 9; i++) w[9 + i] = 0 + 0.1 * lpdm_nprng_standard_normal(&r);
  ok(!memcmp(s, w, sizeof w), "HalfCheetah-v5: start qpos uniform then qvel normal draws");
  ok(o[0] == (float)s[1] && o[8] == (float)s[9] && o[16] == (float)s[17],
     "HalfCheetah-v5: obs = qpos[1..8], qvel (x left out)");
  lpdm_env_free(env);

  /* Reacher: the goal lies in the disc of radius 0.2, its velocity is 0 */
  env = make("Reacher-v5", NULL, NULL);
  int in_disc = 1;
  for (uint64_t sd = 0; sd < 20; sd++) {
    float ob[10];
    double st[8];
    lpdm_env_reset(env, ctx, 1, sd, ob);
    lpdm_env_get_state(env, ctx, st);
    in_disc &= sqrt(st[2] * st[2] + st[3] * st[3]) < 0.2 && st[6] == 0 && st[7] == 0 &&
               ob[4] == (float)st[2] && ob[5] == (float)st[3];
  }
  ok(in_disc, "Reacher-v5: 20 resets put the goal in the 0.2 disc, at rest, observed in obs[4..5]");
  lpdm_env_free(env);
}

/* Rewards on a hand-checked step, and termination outside the healthy range. */
static void check_rewards(void) {
  float obs[400];
  double r, before[47], after[47];
  int term, trunc;

  /* Hopper standing still, action (0.5, -0.5, 0.2) */
  lpdm_env *env = make("Hopper-v5", NULL, NULL);
  double st[12] = {0, 1.25, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, a[17] = {0.5, -0.5, 0.2};
  lpdm_env_reset(env, ctx, 1, 0, obs);
  step_from(env, st, a, obs, &r, &term, &trunc);
  lpdm_env_get_state(env, ctx, after);
  double want = ((after[0] - 0) / 0.008 + 1.0) - 1e-3 * (0.25 + 0.25 + 0.04);
  ok(fabs(r - want) < 1e-12 && !term, "Hopper-v5: reward = x_velocity + 1 - 1e-3 |a|^2 (%.12g)",
     r);
  ok(obs[0] == (float)after[1] && obs[5] == (float)after[6] && fabs(obs[10]) <= 10,
     "Hopper-v5: obs = qpos[1..5], clipped qvel");
  st[1] = 0.6; /* below healthy_z_min 0.7 */
  step_from(env, st, a, obs, &r, &term, &trunc);
  lpdm_env_get_state(env, ctx, after);
  want = ((after[0] - 0) / 0.008 + 0.0) - 1e-3 * 0.54;
  ok(term && fabs(r - want) < 1e-12, "Hopper-v5: z = 0.6 terminates, without the healthy reward");
  st[1] = 1.25;
  st[2] = 0.3; /* torso angle beyond 0.2 */
  step_from(env, st, a, obs, &r, &term, &trunc);
  ok(term, "Hopper-v5: torso angle 0.3 terminates");
  st[2] = 0;
  st[8] = 150; /* a velocity beyond the healthy state range */
  step_from(env, st, a, obs, &r, &term, &trunc);
  ok(term, "Hopper-v5: a joint velocity of 150 terminates (healthy_state_range)");
  lpdm_env_free(env);

  env = make("Hopper-v5", "terminate_when_unhealthy", "false");
  st[8] = 0;
  st[1] = 0.6;
  step_from(env, st, a, obs, &r, &term, &trunc);
  ok(env && !term, "Hopper-v5: terminate_when_unhealthy=false keeps going");
  lpdm_env_free(env);

  /* Walker2d: z below 0.8 */
  env = make("Walker2d-v5", NULL, NULL);
  double ws[18] = {0, 1.25};
  lpdm_env_reset(env, ctx, 1, 0, obs);
  step_from(env, ws, a, obs, &r, &term, &trunc);
  ok(!term, "Walker2d-v5: standing is healthy");
  ws[1] = 0.7;
  step_from(env, ws, a, obs, &r, &term, &trunc);
  ok(term, "Walker2d-v5: z = 0.7 terminates");
  lpdm_env_free(env);

  /* InvertedPendulum: |angle| > 0.2 */
  env = make("InvertedPendulum-v5", NULL, NULL);
  double ps[4] = {0, 0, 0, 0}, pa[1] = {0};
  lpdm_env_reset(env, ctx, 1, 0, obs);
  step_from(env, ps, pa, obs, &r, &term, &trunc);
  ok(!term && r == 1, "InvertedPendulum-v5: upright: reward 1, not terminated");
  ps[1] = 0.3;
  step_from(env, ps, pa, obs, &r, &term, &trunc);
  ok(term && r == 0, "InvertedPendulum-v5: angle 0.3: terminated, reward 0");
  lpdm_env_free(env);

  /* InvertedDoublePendulum: the tip low */
  env = make("InvertedDoublePendulum-v5", NULL, NULL);
  double ds[6] = {0, 0, 0, 0, 0, 0};
  lpdm_env_reset(env, ctx, 1, 0, obs);
  step_from(env, ds, pa, obs, &r, &term, &trunc);
  ok(!term && r > 9 && r <= 10, "InvertedDoublePendulum-v5: upright: reward near 10 (%.6g)", r);
  ds[1] = 1.2;
  step_from(env, ds, pa, obs, &r, &term, &trunc);
  ok(term && r < 0, "InvertedDoublePendulum-v5: leaning 1.2 rad: terminated, no alive bonus");
  lpdm_env_free(env);

  /* Swimmer / HalfCheetah: forward velocity minus control cost */
  env = make("HalfCheetah-v5", NULL, NULL);
  double hs[18] = {0};
  hs[9] = 1.0; /* moving forward at 1 m/s */
  double ha[6] = {0.1, 0.2, 0.3, -0.1, -0.2, -0.3};
  lpdm_env_reset(env, ctx, 1, 0, obs);
  lpdm_env_get_state(env, ctx, before);
  step_from(env, hs, ha, obs, &r, &term, &trunc);
  lpdm_env_get_state(env, ctx, after);
  want = (after[0] - 0) / 0.05 - 0.1 * (2 * (0.01 + 0.04 + 0.09));
  ok(fabs(r - want) < 1e-12 && !term && after[0] > 0.01,
     "HalfCheetah-v5: reward = x_velocity - 0.1 |a|^2 (%.12g)", r);
  lpdm_env_free(env);

  /* Reacher: zero action: reward = -|fingertip - target| */
  env = make("Reacher-v5", NULL, NULL);
  lpdm_env_reset(env, ctx, 1, 5, obs);
  double z2[2] = {0, 0};
  lpdm_env_step(env, ctx, z2, obs, &r, &term, &trunc);
  double d = sqrt((double)obs[8] * obs[8] + (double)obs[9] * obs[9]);
  ok(fabs(r + d) < 1e-6 && !term, "Reacher-v5: reward -%.6g = -|fingertip - target|", -r);
  lpdm_env_free(env);

  /* Ant: z out of [0.2, 1] */
  env = make("Ant-v5", NULL, NULL);
  double as[29] = {0, 0, 0.55, 1, 0, 0, 0};
  double aa[8] = {0};
  lpdm_env_reset(env, ctx, 1, 0, obs);
  step_from(env, as, aa, obs, &r, &term, &trunc);
  ok(!term, "Ant-v5: z = 0.55 is healthy (reward %.6g)", r);
  as[2] = 1.5;
  step_from(env, as, aa, obs, &r, &term, &trunc);
  ok(term, "Ant-v5: z = 1.5 terminates");
  lpdm_env_free(env);

  /* Humanoid: z out of (1, 2) */
  env = make("Humanoid-v5", NULL, NULL);
  double hu[47] = {0, 0, 1.4, 1, 0, 0, 0};
  double hua[17] = {0};
  lpdm_env_reset(env, ctx, 1, 0, obs);
  step_from(env, hu, hua, obs, &r, &term, &trunc);
  ok(!term && r > 4 && r < 6, "Humanoid-v5: standing: healthy reward 5 (%.6g)", r);
  hu[2] = 0.8;
  step_from(env, hu, hua, obs, &r, &term, &trunc);
  ok(term, "Humanoid-v5: z = 0.8 terminates");
  lpdm_env_free(env);
}

static void check_truncation(void) {
  lpdm_env *env = make("Reacher-v5", NULL, NULL);
  float obs[10];
  double a[2] = {0.1, -0.1}, r;
  int term, trunc = 0, n = 0;
  lpdm_env_reset(env, ctx, 1, 1, obs);
  while (!trunc && n < 100) {
    if (lpdm_env_step(env, ctx, a, obs, &r, &term, &trunc)) break;
    n++;
  }
  ok(n == 50 && trunc, "Reacher-v5: truncated at step %d (limit 50)", n);
  lpdm_env_free(env);
  env = make("InvertedPendulum-v5", "max_episode_steps", "3");
  double pa[1] = {0};
  lpdm_env_reset(env, ctx, 1, 1, obs);
  int t1, t2, t3;
  lpdm_env_step(env, ctx, pa, obs, &r, &term, &t1);
  lpdm_env_step(env, ctx, pa, obs, &r, &term, &t2);
  lpdm_env_step(env, ctx, pa, obs, &r, &term, &t3);
  ok(env && !t1 && !t2 && t3, "InvertedPendulum-v5: max_episode_steps=3 truncates the third step");
  lpdm_env_free(env);
}

static void check_bad_input(void) {
  lpdm_env *env = make("Hopper-v5", "model_path", "/nonexistent/hopper.xml");
  const char *msg = lpdm_ctx_message(ctx);
  ok(!env && strstr(msg, "/nonexistent/hopper.xml") && strstr(msg, "cannot open"),
     "missing model file: %s", msg);
  lpdm_env_free(env);

  /* every env refuses a negative reset noise, and the message names the
     env once (the host's "env.<id>: " prefix, not the plugin's own again) */
  for (int i = 0; i < NCASES; i++) {
    if (!strcmp(cases[i].id, "Reacher-v5")) continue; /* no reset_noise_scale */
    char want[96];
    snprintf(want, sizeof want, "env.%s: reset_noise_scale is -1 (must be finite and >= 0)", cases[i].id);
    env = make(cases[i].id, "reset_noise_scale", "-1");
    msg = lpdm_ctx_message(ctx);
    ok(!env && !strcmp(msg, want), "%s: reset_noise_scale=-1 refused: %s", cases[i].id, msg);
    lpdm_env_free(env);
  }

  char dir[] = "/tmp/lpdm_mjXXXXXX", path[128];
  if (mkdtemp(dir)) {
    snprintf(path, sizeof path, "%s/broken.xml", dir);
    FILE *fp = fopen(path, "w");
    if (fp) {
      fputs("<mujoco model=\"broken\"><worldbody><body><geom type=\"nosuchtype\"/></body>"
            "</worldbody></mujoco>\n",
            fp);
      fclose(fp);
    }
    env = make("Hopper-v5", "model_path", path);
    msg = lpdm_ctx_message(ctx);
    ok(!env && strstr(msg, path) && strstr(msg, "MuJoCo says"), "broken model file: %s", msg);
    lpdm_env_free(env);
    /* a model that compiles but is not a hopper */
    fp = fopen(path, "w");
    if (fp) {
      fputs("<mujoco><worldbody><body><joint type=\"hinge\" name=\"j\"/><geom size=\"0.1\"/>"
            "</body></worldbody><actuator><motor joint=\"j\"/></actuator></mujoco>\n",
            fp);
      fclose(fp);
    }
    env = make("Hopper-v5", "model_path", path);
    msg = lpdm_ctx_message(ctx);
    ok(!env && strstr(msg, "nq=1") && strstr(msg, "nq=6"), "a model of the wrong size: %s", msg);
    lpdm_env_free(env);
    remove(path);
    rmdir(dir);
  } else {
    ok(0, "mkdtemp");
    ok(0, "mkdtemp");
  }

  env = make("Walker2d-v5", NULL, NULL);
  float obs[17];
  double a[6] = {0}, r, st[18] = {0, 1.25};
  int term, trunc;
  int rc = lpdm_env_step(env, ctx, a, obs, &r, &term, &trunc);
  ok(rc != 0 && strstr(lpdm_ctx_message(ctx), "before reset"), "step before reset: %s",
     lpdm_ctx_message(ctx));
  lpdm_env_reset(env, ctx, 1, 0, obs);
  double st0[18];
  lpdm_env_get_state(env, ctx, st0);
  a[2] = NAN;
  rc = lpdm_env_step(env, ctx, a, obs, &r, &term, &trunc);
  double st1[18];
  lpdm_env_get_state(env, ctx, st1);
  ok(rc != 0 && !memcmp(st0, st1, sizeof st0), "NaN action refused, state untouched: %s",
     lpdm_ctx_message(ctx));
  st[4] = INFINITY;
  rc = lpdm_env_set_state(env, ctx, st);
  ok(rc != 0 && strstr(lpdm_ctx_message(ctx), "state[5]"), "non-finite state refused: %s",
     lpdm_ctx_message(ctx));
  lpdm_env_free(env);

  /* A simulation that blows up ends the episode and says so. */
  env = make("InvertedPendulum-v5", NULL, NULL);
  double ps[4] = {0, 0, 9e9, 9e9}, pa[1] = {3};
  float po[4];
  lpdm_env_reset(env, ctx, 1, 0, po);
  lpdm_ctx_clear(ctx);
  rc = step_from(env, ps, pa, po, &r, &term, &trunc);
  int diverged = rc == 0 && term && strstr(lpdm_ctx_message(ctx), "diverged");
  ok(diverged, "diverging simulation: terminated, reported: %s", lpdm_ctx_message(ctx));
  rc = lpdm_env_step(env, ctx, pa, po, &r, &term, &trunc);
  ok(rc != 0, "a step after divergence is refused until reset: %s", lpdm_ctx_message(ctx));
  lpdm_env_free(env);
}

/* Copies share the model: many envs, each freed (ASan checks the rest). */
static void check_copies(void) {
  lpdm_env *envs[8];
  int made = 0;
  float obs[348];
  double a[17] = {0}, r;
  int term, trunc, good = 1;
  for (int i = 0; i < 8; i++) {
    envs[i] = make(i % 2 ? "Humanoid-v5" : "Ant-v5", NULL, NULL);
    made += envs[i] != NULL;
  }
  for (int i = 0; i < 8 && made == 8; i++) {
    good &= lpdm_env_reset(envs[i], ctx, 1, (uint64_t)i, obs) == 0;
    good &= lpdm_env_step(envs[i], ctx, a, obs, &r, &term, &trunc) == 0;
  }
  for (int i = 0; i < 8; i++) lpdm_env_free(envs[i]);
  ok(made == 8 && good, "8 envs of two kinds made, stepped and freed");
}

/* Envs of two kinds made at once from several threads (each with its own
   context), so that the kinds' model caches are taken, shared and emptied
   concurrently: every Hopper run must match the one made alone, bit for
   bit, and every env must be freed (ASan checks the caches end empty). */
#define NTHREADS 4
#define TSTEPS 20
/* The threads wait at this gate until all are made, then start together. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_open;

typedef struct {
  const lpdm_env_kind *hopper, *walker;
  float obs[11];
  int rc;
} thread_job;

/* reset(seed 7), TSTEPS steps of a fixed action; the last obs in obs. */
static int run_hopper(lpdm_ctx *c, lpdm_env *env, float *obs) {
  double a[3] = {0.3, -0.2, 0.1}, r;
  int term, trunc, rc = lpdm_env_reset(env, c, 1, 7, obs);
  for (int t = 0; t < TSTEPS && !rc; t++) rc = lpdm_env_step(env, c, a, obs, &r, &term, &trunc);
  return rc;
}

static void *thread_main(void *arg) {
  thread_job *j = arg;
  lpdm_ctx *c = lpdm_ctx_new();
  lpdm_env *h1 = NULL, *w = NULL, *h2 = NULL;
  float wobs[17];
  j->rc = c ? 0 : -1;
  pthread_mutex_lock(&gate_lock);
  while (!gate_open) pthread_cond_wait(&gate_cond, &gate_lock);
  pthread_mutex_unlock(&gate_lock);
  if (!j->rc) j->rc = lpdm_env_new(c, j->hopper, NULL, &h1);
  if (!j->rc) j->rc = lpdm_env_new(c, j->walker, NULL, &w);
  if (!j->rc) j->rc = lpdm_env_reset(w, c, 1, 3, wobs);
  lpdm_env_free(w);
  if (!j->rc) j->rc = lpdm_env_new(c, j->hopper, NULL, &h2);
  lpdm_env_free(h1);
  if (!j->rc) j->rc = run_hopper(c, h2, j->obs);
  lpdm_env_free(h2);
  lpdm_ctx_free(c);
  return NULL;
}

static void check_threads(void) {
  const lpdm_env_kind *hopper =
      (const lpdm_env_kind *)lpdm_plugin_find(ctx, LPDM_KIND_ENV, "Hopper-v5");
  const lpdm_env_kind *walker =
      (const lpdm_env_kind *)lpdm_plugin_find(ctx, LPDM_KIND_ENV, "Walker2d-v5");
  lpdm_env *alone = hopper ? make("Hopper-v5", NULL, NULL) : NULL;
  float want[11];
  if (!walker || !alone || run_hopper(ctx, alone, want)) {
    lpdm_env_free(alone);
    ok(0, "%d threads make, run and free Hopper and Walker2d envs (%s)", NTHREADS,
       lpdm_ctx_message(ctx));
    return;
  }
  lpdm_env_free(alone);
  thread_job jobs[NTHREADS];
  pthread_t tid[NTHREADS];
  int started = 0, good = 1;
  for (int i = 0; i < NTHREADS; i++) {
    jobs[started] = (thread_job){.hopper = hopper, .walker = walker, .rc = -1};
    started += pthread_create(&tid[started], NULL, thread_main, &jobs[started]) == 0;
  }
  if (started < NTHREADS) {
    diag("only %d of %d threads started", started, NTHREADS);
    good = 0;
  }
  pthread_mutex_lock(&gate_lock);
  gate_open = 1;
  pthread_cond_broadcast(&gate_cond);
  pthread_mutex_unlock(&gate_lock);
  for (int i = 0; i < started; i++) pthread_join(tid[i], NULL);
  for (int i = 0; i < started; i++)
    good &= jobs[i].rc == 0 && memcmp(jobs[i].obs, want, sizeof want) == 0;
  ok(good, "%d threads make, run and free Hopper and Walker2d envs at once; each Hopper run is "
     "the one made alone, bit for bit", NTHREADS);
}

int main(void) {
  char probe[512];
  snprintf(probe, sizeof probe, "%s/inverted_pendulum.so", LPDM_PLUGIN_DIR);
  if (access(probe, F_OK) != 0) {
    printf("1..0 # SKIP no MuJoCo (no %s)\n", probe);
    return 0;
  }
  ctx = lpdm_ctx_new();
  if (!ok(lpdm_plugin_load_dir(ctx, LPDM_PLUGIN_DIR) == LPDM_OK, "load the plugins"))
    diag("%s", lpdm_ctx_message(ctx));
  check_spaces();
  check_reset();
  check_rewards();
  check_truncation();
  check_bad_input();
  check_copies();
  check_threads();
  lpdm_ctx_free(ctx);
  return done_testing();
}
