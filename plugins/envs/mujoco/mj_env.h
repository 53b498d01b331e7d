/*
** mj_env.h -- what every MuJoCo env plugin of lpdm shares (internal; each
** plugins/envs/mujoco/<name>.c includes it and is built into its own .so).
**
** WHAT IT DOES
**
** A MuJoCo env is an mjModel (the physics, read from an XML model file,
** never written to once compiled) and an mjData (the simulation state and
** MuJoCo's work memory). Every env instance owns one mjData; all instances
** of one plugin that use the same model file share one mjModel:
**
**   mjx_open     resolves the model file, takes the shared model (loading
**                and compiling it the first time), makes the instance's
**                mjData and fills the spaces: a Box action space from the
**                actuators' ctrlrange, an unbounded Box observation space.
**   mjx_close    frees the mjData and drops the model (the last user frees
**                it). Every mjModel and mjData is freed.
**
** The shared models live in a small per-plugin list guarded by a mutex with
** a reference count per model: the one piece of mutable static state in
** lpdm's plugins, there because the host's env factory creates envs one by
** one (one per PPO worker, say) and a model of the humanoid is about 40 kB of
** compiled data worth sharing; it holds nothing once every env is freed.
**
** THE STEP, as Gymnasium's MujocoEnv does it:
**
**   ctrl = action (as given: MuJoCo clamps ctrl to ctrlrange inside the
**          step without writing the clamped value back, exactly as it does
**          under Gymnasium)
**   mj_step   frame_skip times
**   mj_rnePostConstraint once (fills cacc, cfrc_int, cfrc_ext, which
**          Ant's and Humanoid's observations and rewards read)
**
** A step that meets a non-finite or huge (> 1e10) qpos, qvel or qacc makes
** MuJoCo warn and reset the simulation to the model's initial state. Under
** Gymnasium that goes unseen; here the step reports terminated = 1, leaves
** "<Id>: simulation diverged ..." with MuJoCo's warning in the context's
** message (the step itself returns LPDM_OK, so that training goes on with a
** new episode), and any further step before a reset or set_state is an
** error. MuJoCo prints its own warning once per mjData on stdout and appends
** it to MUJOCO_LOG.TXT in the working directory: its handler is process
** global, and a plugin does not replace it.
**
** THE STATE is qpos then qvel (state_dim = nq + nv), as Gymnasium's
** env.unwrapped.state_vector(). set_state puts MuJoCo's data back to its
** reset values first (mj_resetData: time, ctrl, the solver's warm start),
** then writes qpos and qvel and calls mj_forward, so that set_state(s)
** followed by step(a) depends on s and a only. In MuJoCo 2.2.2 mj_forward
** also writes to the state: it normalises free/ball joint quaternions in
** qpos in place, and it overwrites qacc_warmstart with the qacc it
** computes, here with ctrl = 0. (Gymnasium's set_state skips mj_resetData,
** so its warm start is computed with the previous action in ctrl; its
** reset() does the same as ours.) Because of these writes,
** set_state(get_state()) continues a run to solver tolerance, not always
** to the bit: see docs/mujoco.md, Parity.
**
** RESET NOISE comes from the env's lpdm_nprng, NumPy's
** Generator(PCG64(SeedSequence(seed))), which is Gymnasium's np_random after
** reset(seed=seed): draws in Gymnasium's order give Gymnasium's start state.
** reset without a seed continues the stream; an env never seeded seeds with
** 0 on its first reset (Gymnasium would take OS entropy there).
**
** MODEL FILES are found, in this order: the config key model_path when it
** is not empty (a path, at most 63 characters, as lpdm's string keys are);
** else <dir of this plugin's .so>/mujoco/models/<file>. The build puts the
** models in build/plugins/mujoco/models/ and `cmake --install` in
** <prefix>/lib/lpdm/plugins/mujoco/models/, beside the plugins in both
** cases, so the same rule finds them in the build tree and after install.
** A missing file or one that MuJoCo cannot compile is an error naming the
** path and carrying MuJoCo's own message.
**
** VERSION. create refuses to run when the MuJoCo library loaded at run time
** (mj_version()) is not the one whose headers the plugin was built with
** (mjVERSION_HEADER): mjModel and mjData layouts change between versions.
*/
#ifndef LPDM_MJ_ENV_H
#define LPDM_MJ_ENV_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr */
#endif
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mujoco/mujoco.h>

#include "lpdm/lpdm.h"

#define MJX_PATHLEN 4096
#define MJX_ERRLEN 1000

/* The config keys every MuJoCo env has (spliced into each key list). */
#define MJX_COMMON_KEYS(frame_skip_, max_steps_)                                                 \
  {"frame_skip", LPDM_T_INT, frame_skip_, "mj_step calls per env step (dt = timestep * frame_skip)"}, \
  {"max_episode_steps", LPDM_T_INT, max_steps_,                                                  \
   "truncate after this many steps since reset (0: never)"},                                      \
  {"model_path", LPDM_T_STRING, "",                                                              \
   "model file to use instead of the shipped one (empty: the shipped one)"}

/* ------------------------------------------------------------ shared models */

typedef struct mjx_model {
  struct mjx_model *next;
  char path[MJX_PATHLEN];
  mjModel *m;
  int refs;
} mjx_model;

static pthread_mutex_t mjx_models_lock = PTHREAD_MUTEX_INITIALIZER;
static mjx_model *mjx_models;

/* Takes a reference to the model at path, loading it on first use. */
static inline mjx_model *mjx_model_get(const char *path, char *err, size_t errlen) {
  pthread_mutex_lock(&mjx_models_lock);
  mjx_model *s = mjx_models;
  while (s && strcmp(s->path, path) != 0) s = s->next;
  if (s) {
    s->refs++;
    pthread_mutex_unlock(&mjx_models_lock);
    return s;
  }
  s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    pthread_mutex_unlock(&mjx_models_lock);
    return NULL;
  }
  char mjerr[MJX_ERRLEN] = "";
  s->m = mj_loadXML(path, NULL, mjerr, (int)sizeof mjerr);
  if (!s->m) {
    for (size_t n = strlen(mjerr); n > 0 && (mjerr[n - 1] == '\n' || mjerr[n - 1] == ' '); n--)
      mjerr[n - 1] = '\0';
    for (char *c = mjerr; *c; c++)
      if (*c == '\n') *c = ' '; /* one line: "Error: ... Element 'geom', line 1" */
    snprintf(err, errlen, "cannot load the model %s: MuJoCo says: %s", path,
             mjerr[0] ? mjerr : "(no message)");
    free(s);
    pthread_mutex_unlock(&mjx_models_lock);
    return NULL;
  }
  snprintf(s->path, sizeof s->path, "%s", path);
  s->refs = 1;
  s->next = mjx_models;
  mjx_models = s;
  pthread_mutex_unlock(&mjx_models_lock);
  return s;
}

/* Drops a reference; the last one frees the model. */
static inline void mjx_model_put(mjx_model *s) {
  if (!s) return;
  pthread_mutex_lock(&mjx_models_lock);
  if (--s->refs == 0) {
    mjx_model **pp = &mjx_models;
    while (*pp && *pp != s) pp = &(*pp)->next;
    if (*pp) *pp = s->next;
    mj_deleteModel(s->m);
    free(s);
  }
  pthread_mutex_unlock(&mjx_models_lock);
}

/* ------------------------------------------------------------ the env */

typedef struct mjx_env {
  lpdm_env pub; /* first: the host's view */
  const char *id;
  mjx_model *model;
  const mjModel *m;
  mjData *d;
  lpdm_nprng rng; /* Gymnasium's env.np_random */
  int seeded, ready, diverged;
  int steps, max_steps, frame_skip;
  double dt;            /* timestep * frame_skip, as Gymnasium's env.dt */
  double *space;        /* act low, act high, obs low, obs high (one block) */
  double *init_qpos;    /* the model's qpos0 (Gymnasium's init_qpos)     */
  double *init_qvel;    /* zeros                                         */
  double *work;         /* nq + nv scratch for reset draws                */
} mjx_env;

/* Directory of the shared object this code is linked into, into buf. */
static inline int mjx_plugin_dir(char *buf, size_t len) {
  Dl_info info;
  if (!dladdr((const void *)&mjx_plugin_dir, &info) || !info.dli_fname) return -1;
  const char *slash = strrchr(info.dli_fname, '/');
  if (!slash) return snprintf(buf, len, ".") < (int)len ? 0 : -1;
  int n = (int)(slash - info.dli_fname);
  return snprintf(buf, len, "%.*s", n, info.dli_fname) < (int)len ? 0 : -1;
}

/* Opens the env: version check, model, data, spaces except the obs size
   (mjx_set_obs_dim, once the env knows it). e is zeroed memory of the env's
   own struct; file is the shipped model's name ("hopper.xml"). On failure
   everything taken is released again (mjx_close is safe on e). */
static inline int mjx_open(mjx_env *e, const lpdm_env_kind *kind, const lpdm_config *cfg, const char *file,
                    lpdm_ctx *ctx) {
  const char *id = lpdm_plugin_short(&kind->head);
  e->id = id;
  e->pub.kind = kind;
  e->pub.cfg = *cfg;
  if (mj_version() != mjVERSION_HEADER)
    return lpdm_error(ctx, LPDM_ERR, "%s: this plugin was built with MuJoCo %d.%d.%d headers but "
                      "runs with the MuJoCo %s library; rebuild it against the installed MuJoCo",
                      id, mjVERSION_HEADER / 100, mjVERSION_HEADER / 10 % 10,
                      mjVERSION_HEADER % 10, mj_versionString());

  int frame_skip = lpdm_cfg_int(cfg, "frame_skip");
  int max_steps = lpdm_cfg_int(cfg, "max_episode_steps");
  if (frame_skip < 1)
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: frame_skip is %d (must be >= 1)", id, frame_skip);
  if (max_steps < 0)
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: max_episode_steps is %d (must be >= 0)", id,
                      max_steps);

  char path[MJX_PATHLEN], err[MJX_PATHLEN + MJX_ERRLEN + 64];
  const char *user = lpdm_cfg_str(cfg, "model_path");
  if (user && user[0]) {
    snprintf(path, sizeof path, "%s", user);
  } else {
    char dir[MJX_PATHLEN];
    if (mjx_plugin_dir(dir, sizeof dir))
      return lpdm_error(ctx, LPDM_ERR_IO, "%s: cannot tell where this plugin lives (dladdr) to "
                        "find %s; set model_path", id, file);
    if (snprintf(path, sizeof path, "%s/mujoco/models/%s", dir, file) >= (int)sizeof path)
      return lpdm_error(ctx, LPDM_ERR_IO, "%s: model path too long", id);
  }
  FILE *fp = fopen(path, "r");
  if (!fp)
    return lpdm_error(ctx, LPDM_ERR_IO, "%s: cannot open the model file %s: %s", id, path,
                      strerror(errno));
  fclose(fp);

  e->model = mjx_model_get(path, err, sizeof err);
  if (!e->model) return lpdm_error(ctx, LPDM_ERR_IO, "%s: %s", id, err);
  e->m = e->model->m;
  const mjModel *m = e->m;
  if (m->nu < 1)
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: the model %s has no actuator", id, path);
  e->d = mj_makeData(m);
  if (!e->d) return lpdm_error(ctx, LPDM_ERR_MEM, "%s: out of memory (mj_makeData)", id);

  e->init_qpos = malloc((size_t)(2 * m->nq + 2 * m->nv) * sizeof(double));
  if (!e->init_qpos) return lpdm_error(ctx, LPDM_ERR_MEM, "%s: out of memory", id);
  e->init_qvel = e->init_qpos + m->nq;
  e->work = e->init_qvel + m->nv;
  memcpy(e->init_qpos, m->qpos0, (size_t)m->nq * sizeof(double));
  memset(e->init_qvel, 0, (size_t)m->nv * sizeof(double));

  e->frame_skip = frame_skip;
  e->max_steps = max_steps;
  e->dt = m->opt.timestep * frame_skip;
  e->pub.state_dim = m->nq + m->nv;
  e->pub.max_episode_steps = max_steps;
  return LPDM_OK;
}

/* Allocates the space bounds once the observation size is known. The
   action bounds are the actuators' ctrlrange rounded to float32, as
   Gymnasium's Box(float32) holds them ([-inf, inf] for an actuator
   without ctrllimited); the observation is unbounded. */
static inline int mjx_set_obs_dim(mjx_env *e, int obs_dim, lpdm_ctx *ctx) {
  const mjModel *m = e->m;
  int nu = m->nu;
  e->space = malloc((size_t)(2 * nu + 2 * obs_dim) * sizeof(double));
  if (!e->space) return lpdm_error(ctx, LPDM_ERR_MEM, "%s: out of memory", e->id);
  double *alo = e->space, *ahi = alo + nu, *olo = ahi + nu, *ohi = olo + obs_dim;
  for (int i = 0; i < nu; i++) {
    if (m->actuator_ctrllimited[i]) {
      alo[i] = (double)(float)m->actuator_ctrlrange[2 * i];
      ahi[i] = (double)(float)m->actuator_ctrlrange[2 * i + 1];
    } else {
      alo[i] = -HUGE_VAL;
      ahi[i] = HUGE_VAL;
    }
  }
  for (int i = 0; i < obs_dim; i++) {
    olo[i] = -HUGE_VAL;
    ohi[i] = HUGE_VAL;
  }
  e->pub.act_space = (lpdm_space){LPDM_SPACE_BOX, 0, nu, alo, ahi};
  e->pub.obs_space = (lpdm_space){LPDM_SPACE_BOX, 0, obs_dim, olo, ohi};
  return LPDM_OK;
}

/* Checks that the model has the sizes the env's observation and reward
   code index (a model_path override may not). */
static inline int mjx_expect(mjx_env *e, int nq, int nv, int nu, lpdm_ctx *ctx) {
  const mjModel *m = e->m;
  if (m->nq != nq || m->nv != nv || m->nu != nu)
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: the model %s has nq=%d nv=%d nu=%d; this env needs "
                      "nq=%d nv=%d nu=%d", e->id, e->model->path, m->nq, m->nv, m->nu, nq, nv, nu);
  return LPDM_OK;
}

static inline void mjx_close(mjx_env *e) {
  if (!e) return;
  if (e->d) mj_deleteData(e->d);
  mjx_model_put(e->model);
  free(e->init_qpos);
  free(e->space);
  e->d = NULL;
  e->model = NULL;
}

/* The env's free: every MuJoCo env's struct starts with an mjx_env. */
static inline void mjx_free(lpdm_env *self) {
  if (!self) return;
  mjx_close((mjx_env *)self);
  free(self);
}

/* The end of every create: checks reset_noise_scale (an env without one
   passes 0) if all before went well, then hands the env out, or releases
   it on any error. */
static inline int mjx_created(mjx_env *e, int rc, double noise, lpdm_env **out, lpdm_ctx *ctx) {
  if (!rc && !(isfinite(noise) && noise >= 0))
    rc = lpdm_error(ctx, LPDM_ERR_ARG, "%s: reset_noise_scale is %g (must be finite and >= 0)",
                    e->id, noise);
  if (rc) {
    mjx_free(&e->pub);
    return rc;
  }
  *out = &e->pub;
  return LPDM_OK;
}

/* ------------------------------------------------------------ state */

/* mj_resetData, qpos/qvel from the arguments, mj_forward. */
static inline void mjx_put_state(mjx_env *e, const double *qpos, const double *qvel) {
  mj_resetData(e->m, e->d);
  memcpy(e->d->qpos, qpos, (size_t)e->m->nq * sizeof(double));
  memcpy(e->d->qvel, qvel, (size_t)e->m->nv * sizeof(double));
  mj_forward(e->m, e->d);
  e->ready = 1;
  e->diverged = 0;
}

static inline int mjx_get_state(const lpdm_env *self, double *state) {
  const mjx_env *e = (const mjx_env *)self;
  memcpy(state, e->d->qpos, (size_t)e->m->nq * sizeof(double));
  memcpy(state + e->m->nq, e->d->qvel, (size_t)e->m->nv * sizeof(double));
  return LPDM_OK;
}

/* set_state keeps the step counter (as Gymnasium's set_state does). */
static inline int mjx_set_state(lpdm_env *self, const double *state, lpdm_ctx *ctx) {
  mjx_env *e = (mjx_env *)self;
  (void)ctx;
  mjx_put_state(e, state, state + e->m->nq);
  return LPDM_OK;
}

/* ------------------------------------------------------------ reset */

/* Seeds (as reset(seed=...)) and starts a new episode's counters. */
static inline void mjx_reset_seed(mjx_env *e, int has_seed, uint64_t seed) {
  if (has_seed || !e->seeded) {
    lpdm_nprng_seed(&e->rng, has_seed ? seed : 0);
    e->seeded = 1;
  }
  e->steps = 0;
}

/* out[i] = base[i] + U(low, high), drawn in index order, as
   init + np_random.uniform(low, high, size=n). */
static inline void mjx_add_uniform(mjx_env *e, double *out, const double *base, int n, double low,
                            double high) {
  for (int i = 0; i < n; i++) out[i] = base[i] + lpdm_nprng_uniform(&e->rng, low, high);
}

/* out[i] = base[i] + scale * N(0, 1), as init + scale *
   np_random.standard_normal(n). */
static inline void mjx_add_normal(mjx_env *e, double *out, const double *base, int n, double scale) {
  for (int i = 0; i < n; i++) out[i] = base[i] + scale * lpdm_nprng_standard_normal(&e->rng);
}

/* The reset of every env but Reacher: seeds, then qpos = init_qpos +
   U(-noise, noise) and qvel = init_qvel + U(-noise, noise), or + noise *
   N(0, 1) with normal_qvel (HalfCheetah, InvertedDoublePendulum, Ant), in
   that order of draws, and puts the state. */
static inline void mjx_reset_noise(mjx_env *e, int has_seed, uint64_t seed, double noise,
                                   int normal_qvel) {
  int nq = e->m->nq, nv = e->m->nv;
  double *qpos = e->work, *qvel = e->work + nq;
  mjx_reset_seed(e, has_seed, seed);
  mjx_add_uniform(e, qpos, e->init_qpos, nq, -noise, noise);
  if (normal_qvel)
    mjx_add_normal(e, qvel, e->init_qvel, nv, noise);
  else
    mjx_add_uniform(e, qvel, e->init_qvel, nv, -noise, noise);
  mjx_put_state(e, qpos, qvel);
}

/* ------------------------------------------------------------ step */

/* ctrl = action, frame_skip x mj_step, mj_rnePostConstraint. Returns 1 if
   MuJoCo met a bad qpos/qvel/qacc (and reset itself), 0 otherwise, or a
   negative status (step before reset). */
static inline int mjx_simulate(mjx_env *e, const double *action, lpdm_ctx *ctx) {
  if (!e->ready) {
    if (e->diverged)
      return lpdm_error(ctx, LPDM_ERR, "%s: step after the simulation diverged; reset first",
                        e->id);
    return lpdm_error(ctx, LPDM_ERR, "%s: step before reset", e->id);
  }
  const mjModel *m = e->m;
  mjData *d = e->d;
  int before = d->warning[mjWARN_BADQPOS].number + d->warning[mjWARN_BADQVEL].number +
               d->warning[mjWARN_BADQACC].number;
  memcpy(d->ctrl, action, (size_t)m->nu * sizeof(double));
  for (int i = 0; i < e->frame_skip; i++) mj_step(m, d);
  mj_rnePostConstraint(m, d);
  int after = d->warning[mjWARN_BADQPOS].number + d->warning[mjWARN_BADQVEL].number +
              d->warning[mjWARN_BADQACC].number;
  if (after == before) return 0;
  static const char *const what[] = {"qpos", "qvel", "qacc"};
  int w = 0;
  for (int k = 0; k < 3; k++)
    if (d->warning[mjWARN_BADQPOS + k].number) w = k;
  e->ready = 0;
  e->diverged++;
  lpdm_error(ctx, LPDM_ERR_NUM,
             "%s: simulation diverged at step %d (MuJoCo: NaN, Inf or |x| > 1e10 in %s at dof "
             "%d; MuJoCo reset the simulation); the episode ends",
             e->id, e->steps + 1, what[w], d->warning[mjWARN_BADQPOS + w].lastinfo);
  return 1;
}

/* Counts the step and sets truncated (TimeLimit: steps >= limit). */
static inline void mjx_count(mjx_env *e, int *truncated) {
  if (e->steps < INT_MAX) e->steps++;
  *truncated = e->max_steps > 0 && e->steps >= e->max_steps;
}

/* ------------------------------------------------------------ NumPy sums */

/* np.sum of a contiguous float64 array, in NumPy's order: pairwise
   summation, blocks of at most 128 summed with eight running partial sums
   (i mod 8), combined as ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)), the tail
   added last; fewer than 8 values are added left to right. */
static inline double mjx_np_sum(const double *a, int n) {
  if (n < 8) {
    double s = 0.0;
    for (int i = 0; i < n; i++) s += a[i];
    return s;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; j++) r[j] = a[j];
    int i;
    for (i = 8; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; j++) r[j] += a[i + j];
    double s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) s += a[i];
    return s;
  }
  int n2 = n / 2;
  n2 -= n2 % 8;
  return mjx_np_sum(a, n2) + mjx_np_sum(a + n2, n - n2);
}

/* np.sum(np.square(a)) (the squares first, then NumPy's sum). sq must hold
   n values. */
static inline double mjx_np_sumsq(const double *a, int n, double *sq) {
  for (int i = 0; i < n; i++) sq[i] = a[i] * a[i];
  return mjx_np_sum(sq, n);
}

/* x**2 as Python computes it on a float: libm's pow(x, 2), which for an
   x*x near a rounding tie can differ from x*x in the last bit (see
   plugins/envs/pendulum.c). The volatile keeps GCC from folding it. */
static inline double mjx_pow2(double x) {
  volatile double two = 2.0;
  return pow(x, two);
}

/* Index of a named body, or -1 with an error naming the model. */
static inline int mjx_body(mjx_env *e, const char *name, int *id, lpdm_ctx *ctx) {
  *id = mj_name2id(e->m, mjOBJ_BODY, name);
  if (*id < 0)
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: the model %s has no body named \"%s\"", e->id,
                      e->model->path, name);
  return LPDM_OK;
}

static inline double mjx_clip(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

/* ------------------------------------------------------------ checkpoints */

/* Everything that decides the rest of the episode: qpos, qvel, act, time,
   the solver's warm start (qacc_warmstart), the generator and counters,
   and the body positions xpos/xipos: after mj_step they still describe the
   state before the step's integration (MuJoCo computes them in the step's
   forward pass), and Ant's and Humanoid's forward velocity reads them
   before the next step, so they cannot be recomputed from qpos.
   load recomputes the derived quantities (mj_forward, mj_rnePostConstraint)
   and then writes qpos and the warm start back, because mj_forward
   renormalises quaternions in qpos and recomputes the warm start: the next
   mj_step then starts from exactly the saved mjData state. */
static inline int mjx_save(const lpdm_env *self, lpdm_st *st, const char *prefix, lpdm_ctx *ctx) {
  const mjx_env *e = (const mjx_env *)self;
  const mjModel *m = e->m;
  const mjData *d = e->d;
  int64_t c[5] = {e->seeded, e->ready, e->diverged, e->steps, m->nq * 1000000LL + m->nv * 1000LL + m->na};
  int rc = lpdm_state_put_f64(st, ctx, prefix, "qpos", d->qpos, m->nq);
  if (!rc) rc = lpdm_state_put_f64(st, ctx, prefix, "qvel", d->qvel, m->nv);
  if (!rc && m->na) rc = lpdm_state_put_f64(st, ctx, prefix, "act", d->act, m->na);
  if (!rc) rc = lpdm_state_put_f64(st, ctx, prefix, "qacc_warmstart", d->qacc_warmstart, m->nv);
  if (!rc) rc = lpdm_state_put_f64(st, ctx, prefix, "time", &d->time, 1);
  if (!rc) rc = lpdm_state_put_f64(st, ctx, prefix, "xpos", d->xpos, 3 * m->nbody);
  if (!rc) rc = lpdm_state_put_f64(st, ctx, prefix, "xipos", d->xipos, 3 * m->nbody);
  if (!rc) rc = lpdm_state_put_i64(st, ctx, prefix, "counters", c, 5);
  if (!rc) rc = lpdm_state_put_nprng(st, ctx, prefix, "rng", &e->rng);
  return rc;
}

static inline int mjx_load(lpdm_env *self, const lpdm_st *st, const char *prefix, lpdm_ctx *ctx) {
  mjx_env *e = (mjx_env *)self;
  const mjModel *m = e->m;
  mjData *d = e->d;
  int64_t c[5];
  lpdm_nprng r;
  int rc = lpdm_state_get_i64(st, ctx, prefix, "counters", c, 5);
  if (rc) return rc;
  if (c[4] != m->nq * 1000000LL + m->nv * 1000LL + m->na || c[3] < 0 || c[3] > INT_MAX || c[2] < 0 || c[2] > INT_MAX)
    return lpdm_error(ctx, LPDM_ERR_IO, "%s: the checkpoint's %s does not fit this model (nq %d, nv %d)", e->id, prefix,
                      m->nq, m->nv);
  double *qpos = malloc((size_t)(2 * m->nq + 2 * m->nv + m->na + 1 + 6 * m->nbody) * sizeof(double));
  if (!qpos) return lpdm_error(ctx, LPDM_ERR_MEM, "%s: out of memory", e->id);
  double *qvel = qpos + m->nq, *warm = qvel + m->nv, *act = warm + m->nv, *t = act + m->na;
  double *xpos = t + 1, *xipos = xpos + 3 * m->nbody;
  rc = lpdm_state_get_f64(st, ctx, prefix, "qpos", qpos, m->nq);
  if (!rc) rc = lpdm_state_get_f64(st, ctx, prefix, "qvel", qvel, m->nv);
  if (!rc && m->na) rc = lpdm_state_get_f64(st, ctx, prefix, "act", act, m->na);
  if (!rc) rc = lpdm_state_get_f64(st, ctx, prefix, "qacc_warmstart", warm, m->nv);
  if (!rc) rc = lpdm_state_get_f64(st, ctx, prefix, "time", t, 1);
  if (!rc) rc = lpdm_state_get_f64(st, ctx, prefix, "xpos", xpos, 3 * m->nbody);
  if (!rc) rc = lpdm_state_get_f64(st, ctx, prefix, "xipos", xipos, 3 * m->nbody);
  if (!rc) rc = lpdm_state_get_nprng(st, ctx, prefix, "rng", &r);
  if (rc) {
    free(qpos);
    return rc;
  }
  mj_resetData(m, d);
  memcpy(d->qpos, qpos, (size_t)m->nq * sizeof(double));
  memcpy(d->qvel, qvel, (size_t)m->nv * sizeof(double));
  if (m->na) memcpy(d->act, act, (size_t)m->na * sizeof(double));
  d->time = *t;
  mj_forward(m, d);
  mj_rnePostConstraint(m, d);
  memcpy(d->qpos, qpos, (size_t)m->nq * sizeof(double));
  memcpy(d->qacc_warmstart, warm, (size_t)m->nv * sizeof(double));
  memcpy(d->xpos, xpos, (size_t)(3 * m->nbody) * sizeof(double));
  memcpy(d->xipos, xipos, (size_t)(3 * m->nbody) * sizeof(double));
  free(qpos);
  e->rng = r;
  e->seeded = c[0] != 0;
  e->ready = c[1] != 0;
  e->diverged = (int)c[2];
  e->steps = (int)c[3];
  return LPDM_OK;
}

/* ------------------------------------------------------------ render */

static inline int mjx_render(const lpdm_env *self, char *buf, size_t len) {
  const mjx_env *e = (const mjx_env *)self;
  if (!buf || len == 0) return LPDM_OK;
  size_t at = 0;
  int w = snprintf(buf, len, "%s t=%d time=%.4f qpos=", e->id, e->steps, e->d->time);
  for (int i = 0; w >= 0 && (at += (size_t)w) < len && i < e->m->nq; i++)
    w = snprintf(buf + at, len - at, i ? " %+.4f" : "%+.4f", e->d->qpos[i]);
  if (at < len && e->diverged)
    snprintf(buf + at, len - at, " (diverged %d times)", e->diverged);
  return LPDM_OK;
}

#endif
