/* SPDX-License-Identifier: MIT */
/*
** lpdm/env.h -- environment plugins. Observations are float32 vectors,
** actions float64 vectors (a discrete action is one integral value 0..n-1,
** checked by the host before step() sees it), rewards float64.
*/
#ifndef LPDM_ENV_H
#define LPDM_ENV_H
#include "plugin.h"

typedef struct lpdm_env_kind lpdm_env_kind;

typedef enum lpdm_space_type {
  LPDM_SPACE_DISCRETE = 1,
  LPDM_SPACE_BOX = 2
} lpdm_space_type;

/* Discrete: n choices, dim 1. Box: dim values within [low, high]
   (arrays borrowed from the env; +-HUGE_VAL for unbounded). */
typedef struct lpdm_space {
  int type;
  int n;
  int dim;
  const double *low, *high;
} lpdm_space;

/* The public part of an env instance, first member of the plugin's own. */
typedef struct lpdm_env {
  const lpdm_env_kind *kind;
  lpdm_config cfg;
  lpdm_space obs_space, act_space;
  int state_dim;         /* length of get_state's vector, 0 if none */
  int max_episode_steps; /* truncation limit, 0 if none            */
} lpdm_env;

struct lpdm_env_kind {
  lpdm_plugin head; /* kind LPDM_KIND_ENV, name "env.<Id>", e.g. "env.CartPole-v1" */
  /* cfg is the host-checked config (defaults filled in), never NULL. */
  int (*create)(const lpdm_env_kind *kind, const lpdm_config *cfg,
                lpdm_env **out, lpdm_ctx *ctx);
  /* has_seed: reseed the env's generator from seed first (as Gymnasium's
     reset(seed=...)); otherwise continue its stream. */
  int (*reset)(lpdm_env *self, int has_seed, uint64_t seed, float *obs,
               lpdm_ctx *ctx);
  int (*step)(lpdm_env *self, const double *action, float *obs,
              double *reward, int *terminated, int *truncated, lpdm_ctx *ctx);
  void (*free)(lpdm_env *self); /* accepts NULL */
  /* (optional) raw internal state, in Gymnasium's layout, state_dim values.
     Through lpdm_env_set_state, set_state only ever sees finite values. */
  int (*get_state)(const lpdm_env *self, double *state);
  int (*set_state)(lpdm_env *self, const double *state, lpdm_ctx *ctx);
  /* (optional) one line (or a few) of text about the state into buf, len
     bytes with the NUL; Lua's env:render_text(). */
  int (*render)(const lpdm_env *self, char *buf, size_t len);
  /* ---- added in ABI 1.1, part of 2.0 (host gate: LPDM_ABI_MINOR_ENV_SAVE) */
  /* (optional) Everything that decides the env's future -- its state, its
     generator, its step counter -- as tensors named "<prefix>.<what>";
     load restores it exactly (lpdm_state_put/get in lpdm.h help). An env
     without them cannot be checkpointed (the host says so). */
  int (*save)(const lpdm_env *self, lpdm_st *st, const char *prefix, lpdm_ctx *ctx);
  int (*load)(lpdm_env *self, const lpdm_st *st, const char *prefix, lpdm_ctx *ctx);
  /* ---- added in ABI 2.2 (host gate: LPDM_ABI_MINOR_RENDER_RGB) */
  /* (optional) A picture of the current state: width * height * 3 bytes
     into rgb (the caller's), RGB24, rows top-down, width and height >= 1
     (the host checks). Rendering never changes anything that decides the
     env's future: the next step, get_state and save give the same bytes
     whether or not the env was rendered, and one state always gives the
     same image. self is not const because an env may keep a renderer
     (made at the first call, freed by free). Hosts call it through
     lpdm_env_render_rgb. */
  int (*render_rgb)(lpdm_env *self, unsigned char *rgb, int width, int height, lpdm_ctx *ctx);
  /* (required with render_rgb) The instance's natural image size (as
     Gymnasium's render() returns it) and its frames per second (Gymnasium's
     metadata["render_fps"]: the env's real time, 1 / dt rounded). */
  void (*render_info)(const lpdm_env *self, int *width, int *height, int *fps);
};

#endif
