/* SPDX-License-Identifier: MIT */
/*
** inverted_pendulum.c -- InvertedPendulum-v5 (Gymnasium 1.x) over MuJoCo.
**
** WHAT IT IS
**
** Cart-pole in MuJoCo: a cart on a 2 m rail carries a pole on a hinge; the
** agent pushes the cart and must keep the pole upright. Model
** models/inverted_pendulum.xml (RK4, timestep 0.02 s; frame_skip 2, so one
** env step is dt = 0.04 s).
**
**   observation  Box(4): qpos (cart x, pole angle), qvel (their rates).
**   action       Box(1) within [-3, 3]: the motor's ctrl (force 100 ctrl).
**   reward       1 while the pole is up (not terminated), else 0.
**   terminated   when an observation value is not finite or
**                |pole angle| > 0.2 rad.
**   truncated    after max_episode_steps (1000) steps.
**   state        qpos then qvel (4 values; see lib/mj_env.h).
**
** Reset: mj_resetData, then qpos = qpos0 + U(-s, s) (2 draws) and
** qvel = U(-s, s) (2 draws), s = reset_noise_scale, in that order from the
** env's NumPy-exact generator, then mj_forward: Gymnasium's start state for
** the same seed. The step and the MuJoCo machinery: lib/mj_env.h.
**
** CONFIG KEYS
**
**   frame_skip          int     2      mj_step calls per env step
**   max_episode_steps   int     1000   truncation limit (0: never)
**   model_path          string  ""     another model file (63 chars max)
**   reset_noise_scale   number  0.01   half-width of the uniform start noise
**
** USAGE (Lua)
**
**   local env = lpdm.env("InvertedPendulum-v5")
**   local obs = env:reset{seed=1}
**   local obs, r, term, trunc = env:step{0.5}
*/
#include "lib/mj_env.h"

/* The models of this plugin's envs, shared by its instances (lib/mj_model.c). */
static mjx_cache ip_models = MJX_CACHE_INIT;

typedef struct ip_env {
  mjx_env base; /* first */
  double noise;
} ip_env;

static const lpdm_key ip_keys[] = {
    MJX_COMMON_KEYS("2", "1000"),
    {"reset_noise_scale", LPDM_T_NUMBER, "0.01", "half-width of the uniform start noise"},
    {NULL, 0, NULL, NULL}};

static void ip_observe(const mjx_env *e, float *obs) {
  const mjData *d = e->d;
  obs[0] = (float)d->qpos[0];
  obs[1] = (float)d->qpos[1];
  obs[2] = (float)d->qvel[0];
  obs[3] = (float)d->qvel[1];
}

/* The camera (docs/rendering.md): Gymnasium InvertedPendulum-v5: trackbodyid 0 (fixed),
   distance 2.04, at the model's centre. */
static const mjx_camera ip_camera = {
    .track = 0, .distance = 2.04, .azimuth = 90, .elevation = -45};

static int ip_create(const lpdm_env_kind *kind, const lpdm_config *cfg, lpdm_env **out,
                     lpdm_ctx *ctx) {
  *out = NULL;
  ip_env *p = calloc(1, sizeof *p);
  if (!p) return lpdm_error(ctx, LPDM_ERR_MEM, "InvertedPendulum-v5: out of memory");
  int rc = mjx_open(&p->base, kind, cfg, "inverted_pendulum.xml", &ip_models, ctx);
  p->base.camera = &ip_camera;
  if (!rc) rc = mjx_expect(&p->base, 2, 2, 1, ctx);
  if (!rc) rc = mjx_set_obs_dim(&p->base, 4, ctx);
  p->noise = lpdm_cfg_num(cfg, "reset_noise_scale");
  return mjx_created(&p->base, rc, p->noise, out, ctx);
}

static int ip_reset(lpdm_env *self, int has_seed, uint64_t seed, float *obs, lpdm_ctx *ctx) {
  ip_env *p = (ip_env *)self;
  mjx_env *e = &p->base;
  (void)ctx;
  mjx_reset_noise(e, has_seed, seed, p->noise, 0);
  ip_observe(e, obs);
  return LPDM_OK;
}

static int ip_step(lpdm_env *self, const double *action, float *obs, double *reward,
                   int *terminated, int *truncated, lpdm_ctx *ctx) {
  mjx_env *e = &((ip_env *)self)->base;
  int div = mjx_simulate(e, action, ctx);
  if (div < 0) return div;
  const mjData *d = e->d;
  int finite = 1;
  for (int i = 0; i < 2; i++) finite &= isfinite(d->qpos[i]) && isfinite(d->qvel[i]);
  int term = div || !finite || fabs(d->qpos[1]) > 0.2;
  *terminated = term;
  *reward = term ? 0.0 : 1.0;
  mjx_count(e, truncated);
  ip_observe(e, obs);
  return LPDM_OK;
}

static const lpdm_env_kind ip_kind = {
    .head = LPDM_PLUGIN_HEAD(
        LPDM_KIND_ENV, "env.InvertedPendulum-v5",
        "Gymnasium's InvertedPendulum-v5 (MuJoCo): balance a pole on a cart "
        "(Box(1), Box(4))",
        ip_keys),
    .create = ip_create,
    .reset = ip_reset,
    .step = ip_step,
    .free = mjx_free,
    .get_state = mjx_get_state,
    .set_state = mjx_set_state,
    .render = mjx_render,
    .save = mjx_save,
    .load = mjx_load,
    .render_rgb = mjx_render_rgb,
    .render_info = mjx_render_info,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_inverted_pendulum(void) { return &ip_kind.head; }
