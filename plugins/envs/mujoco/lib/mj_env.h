/* SPDX-License-Identifier: MIT */
/*
** mj_env.h -- what every MuJoCo env plugin of lpdm shares: the interface of
** the private static library plugins/envs/mujoco/lib/ (built into
** lpdm_plugins_envs_mujoco_lib and linked into each plugin's .so, so each
** plugin has its own copy; nothing here is exported).
**
** HOW AN ENV USES IT
**
** An env's struct starts with an mjx_env; its plugin file owns one model
** cache (the only mutable state of the plugin) and passes it to mjx_open:
**
**   static mjx_cache hp_models = MJX_CACHE_INIT;   (in hopper.c)
**   ... create:  rc = mjx_open(e, kind, cfg, "hopper.xml", &hp_models, ctx);
**                if (!rc) rc = mjx_expect(e, nq, nv, nu, ctx);
**                if (!rc) rc = mjx_set_obs_dim(e, obs_dim, ctx);
**                return mjx_created(e, rc, noise, out, ctx);
**   ... reset:   mjx_reset_noise(e, has_seed, seed, noise, normal_qvel);
**   ... step:    div = mjx_simulate(e, action, ctx); reward terms;
**                mjx_count(e, truncated);
**   ... create:  e->camera = &hp_camera;   (a static const mjx_camera)
**   descriptor:  .free = mjx_free, .get_state = mjx_get_state, ...,
**                .render_rgb = mjx_render_rgb, .render_info = mjx_render_info
**
** The files: mj_model.c (the model cache), mj_env.c (open, close, state,
** reset, step, text render), mj_render.c (images: render_rgb through
** OSMesa, the camera), mj_checkpoint.c (save, load), mj_numpy.c (NumPy's
** summation order and Python's x**2, for Gymnasium-exact rewards).
**
** MODELS. A MuJoCo env is an mjModel (the physics, read from an XML model
** file, never written to once compiled) and an mjData (the simulation
** state and MuJoCo's work memory). Every env instance owns one mjData; the
** instances of one env kind that use the same model file share one mjModel
** through the kind's mjx_cache: a list of models with a reference count
** each, behind a mutex, because the host's env factory creates envs one by
** one, maybe from several threads (one per PPO worker, say), and a compiled
** humanoid is about 40 kB worth sharing. The cache holds nothing once every
** env of its kind is freed.
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

#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

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

/* ------------------------------------------------------------ models (mj_model.c) */

typedef struct mjx_model mjx_model;

/* One env kind's shared models. A plugin file defines one, statically
   initialised with MJX_CACHE_INIT, and hands it to mjx_open. */
typedef struct mjx_cache {
  pthread_mutex_t lock;
  mjx_model *models; /* guarded by lock */
} mjx_cache;

#define MJX_CACHE_INIT {PTHREAD_MUTEX_INITIALIZER, NULL}

/* A compiled model shared by the envs of one kind; m is read-only. */
struct mjx_model {
  mjx_model *next;
  mjx_cache *cache; /* the cache it belongs to (mjx_model_put returns it there) */
  char path[MJX_PATHLEN];
  mjModel *m;
  int refs;
};

/* Takes a reference to the model at path from cache, loading and compiling
   it on first use; NULL with a message in err (MuJoCo's, on one line). */
mjx_model *mjx_model_get(mjx_cache *cache, const char *path, char *err, size_t errlen);
/* Drops a reference; the last one frees the model. Accepts NULL. */
void mjx_model_put(mjx_model *model);

/* ------------------------------------------------------------ the env (mj_env.c) */

/* Where an env's camera looks (mj_render.c): the values of Gymnasium's
   DEFAULT_CAMERA_CONFIG for the env, with one difference: a tracked body
   is followed without lag. */
typedef struct mjx_camera {
  int track;        /* body whose subtree centre of mass the camera looks
                       at (x, y; z too unless fixed_z); 0: none          */
  int fixed_z;      /* with track: lookat z is lookat[2]                 */
  int fixed_point;  /* without track: look at lookat (else the model's
                       centre, stat.center)                              */
  double lookat[3];
  double distance;  /* 0: the model's extent (stat.extent), as Gymnasium */
  double azimuth;   /* degrees; MuJoCo's default camera: 90              */
  double elevation; /* degrees; MuJoCo's default camera: -45             */
  int grid;         /* draw lines every metre on the ground (z = 0)      */
} mjx_camera;

typedef struct mjx_renderer mjx_renderer; /* an env's renderer (mj_render.c) */

typedef struct mjx_env {
  lpdm_env pub; /* first: the host's view */
  const mjx_camera *camera; /* set by the env's create (NULL: defaults) */
  mjx_renderer *render;      /* made at the first render_rgb, freed by mjx_close */
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

/* Opens the env: version check, model (from cache), data, spaces except the
   obs size (mjx_set_obs_dim, once the env knows it). e is zeroed memory of
   the env's own struct; file is the shipped model's name ("hopper.xml").
   On failure the caller still hands e to mjx_created, which releases
   everything taken. */
int mjx_open(mjx_env *e, const lpdm_env_kind *kind, const lpdm_config *cfg, const char *file,
             mjx_cache *cache, lpdm_ctx *ctx);
/* Allocates the space bounds once the observation size is known. The
   action bounds are the actuators' ctrlrange rounded to float32, as
   Gymnasium's Box(float32) holds them ([-inf, inf] for an actuator
   without ctrllimited); the observation is unbounded. */
int mjx_set_obs_dim(mjx_env *e, int obs_dim, lpdm_ctx *ctx);
/* Checks that the model has the sizes the env's observation and reward
   code index (a model_path override may not). */
int mjx_expect(mjx_env *e, int nq, int nv, int nu, lpdm_ctx *ctx);
/* Index of a named body in *id, or an error naming the model. */
int mjx_body(mjx_env *e, const char *name, int *id, lpdm_ctx *ctx);
/* The end of every create: checks reset_noise_scale (an env without one
   passes 0) if all before went well, then hands the env out in *out, or
   releases it on any error (rc or the check's). */
int mjx_created(mjx_env *e, int rc, double noise, lpdm_env **out, lpdm_ctx *ctx);
/* Frees the mjData and drops the model; safe on a half-opened env. */
void mjx_close(mjx_env *e);
/* The env's free: every MuJoCo env's struct starts with an mjx_env. */
void mjx_free(lpdm_env *self);

/* mj_resetData, qpos/qvel from the arguments, mj_forward. */
void mjx_put_state(mjx_env *e, const double *qpos, const double *qvel);
int mjx_get_state(const lpdm_env *self, double *state);
/* set_state keeps the step counter (as Gymnasium's set_state does). */
int mjx_set_state(lpdm_env *self, const double *state, lpdm_ctx *ctx);

/* Seeds (as reset(seed=...)) and starts a new episode's counters. */
void mjx_reset_seed(mjx_env *e, int has_seed, uint64_t seed);
/* out[i] = base[i] + U(low, high), drawn in index order, as
   init + np_random.uniform(low, high, size=n). */
void mjx_add_uniform(mjx_env *e, double *out, const double *base, int n, double low, double high);
/* out[i] = base[i] + scale * N(0, 1), as init + scale *
   np_random.standard_normal(n). */
void mjx_add_normal(mjx_env *e, double *out, const double *base, int n, double scale);
/* The reset of every env but Reacher: seeds, then qpos = init_qpos +
   U(-noise, noise) and qvel = init_qvel + U(-noise, noise), or + noise *
   N(0, 1) with normal_qvel (HalfCheetah, InvertedDoublePendulum, Ant), in
   that order of draws, and puts the state. */
void mjx_reset_noise(mjx_env *e, int has_seed, uint64_t seed, double noise, int normal_qvel);

/* ctrl = action, frame_skip x mj_step, mj_rnePostConstraint. Returns 1 if
   MuJoCo met a bad qpos/qvel/qacc (and reset itself), 0 otherwise, or a
   negative status (step before reset). */
int mjx_simulate(mjx_env *e, const double *action, lpdm_ctx *ctx);
/* Counts the step and sets truncated (TimeLimit: steps >= limit). */
void mjx_count(mjx_env *e, int *truncated);
/* One line: id, step, time, qpos (and how often it diverged). */
int mjx_render(const lpdm_env *self, char *buf, size_t len);

/* ------------------------------------------------------------ images (mj_render.c) */

/* render_rgb and render_info of every MuJoCo env: 480 x 480 by default,
   1 / dt frames per second (Gymnasium's render_fps); an OSMesa context made
   at the first image. Built without OSMesa, render_rgb fails naming
   libosmesa6-dev. */
int mjx_render_rgb(lpdm_env *self, unsigned char *rgb, int width, int height, lpdm_ctx *ctx);
void mjx_render_info(const lpdm_env *self, int *width, int *height, int *fps);
/* Frees a renderer (mjx_close calls it). Accepts NULL. */
void mjx_render_free(mjx_renderer *r);

/* ------------------------------------------------------------ checkpoints (mj_checkpoint.c) */

int mjx_save(const lpdm_env *self, lpdm_st *st, const char *prefix, lpdm_ctx *ctx);
int mjx_load(lpdm_env *self, const lpdm_st *st, const char *prefix, lpdm_ctx *ctx);

/* ------------------------------------------------------------ NumPy arithmetic (mj_numpy.c) */

/* np.sum of a contiguous float64 array, in NumPy's pairwise order. */
double mjx_np_sum(const double *a, int n);
/* np.sum(np.square(a)) (the squares first, then NumPy's sum). sq must hold
   n values. */
double mjx_np_sumsq(const double *a, int n, double *sq);
/* x**2 as Python computes it on a float: libm's pow(x, 2). */
double mjx_pow2(double x);

/* x clipped to [lo, hi] (np.clip; a NaN passes through). */
static inline double mjx_clip(double x, double lo, double hi) {
  return x < lo ? lo : x > hi ? hi : x;
}

#endif
