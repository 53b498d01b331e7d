/* SPDX-License-Identifier: MIT */
/*
** swimmer.c -- Swimmer-v5 (Gymnasium 1.x) over MuJoCo.
**
** WHAT IT IS
**
** A three-segment swimmer in a viscous fluid must move forward (+x) by
** undulating its two joints. Model models/swimmer.xml (RK4, timestep
** 0.01 s; frame_skip 4: dt = 0.04 s).
**
**   observation  Box(8): qpos[2..4] (heading, the two joint angles) and
**                qvel (5); Box(10) with qpos[0..1] (x, y) when
**                exclude_current_positions_from_observation is false.
**   action       Box(2) within [-1, 1]: the two motors' ctrl (gear 150).
**   reward       forward_reward_weight * x_velocity
**                - ctrl_cost_weight * (a0^2 + a1^2),
**                x_velocity = (x after - x before) / dt, x = qpos[0].
**   terminated   never.
**   truncated    after max_episode_steps (1000) steps.
**   state        qpos then qvel (10 values).
**
** Reset: mj_resetData, qpos = qpos0 + U(-s, s) (5 draws), then
** qvel = U(-s, s) (5 draws), s = reset_noise_scale, from the env's
** NumPy-exact generator; mj_forward. The step: lib/mj_env.h.
**
** CONFIG KEYS
**
**   frame_skip                                  int     4      mj_steps per step
**   max_episode_steps                           int     1000   truncation (0: never)
**   model_path                                  string  ""     another model file
**   forward_reward_weight                       number  1      weight of x_velocity
**   ctrl_cost_weight                            number  1e-4   weight of |a|^2
**   reset_noise_scale                           number  0.1    half-width of start noise
**   exclude_current_positions_from_observation  bool    true   drop x, y from obs
**
** USAGE (Lua)
**
**   local env = lpdm.env("Swimmer-v5")
**   local obs = env:reset{seed=1}
**   local obs, r, term, trunc = env:step{0.5, -0.5}
*/
#include "lib/mj_env.h"

/* The models of this plugin's envs, shared by its instances (lib/mj_model.c). */
static mjx_cache sw_models = MJX_CACHE_INIT;

typedef struct swimmer_env {
  mjx_env base; /* first */
  double w_fwd, w_ctrl, noise;
  int skip; /* qpos values left out of the observation: 2 or 0 */
} swimmer_env;

static const lpdm_key sw_keys[] = {
    MJX_COMMON_KEYS("4", "1000"),
    {"forward_reward_weight", LPDM_T_NUMBER, "1", "weight of the forward velocity"},
    {"ctrl_cost_weight", LPDM_T_NUMBER, "1e-4", "weight of the squared action"},
    {"reset_noise_scale", LPDM_T_NUMBER, "0.1", "half-width of the uniform start noise"},
    {"exclude_current_positions_from_observation", LPDM_T_BOOL, "true",
     "leave x and y (qpos[0..1]) out of the observation"},
    {NULL, 0, NULL, NULL}};

static void sw_observe(const swimmer_env *p, float *obs) {
  const mjData *d = p->base.d;
  int k = 0;
  for (int i = p->skip; i < 5; i++) obs[k++] = (float)d->qpos[i];
  for (int i = 0; i < 5; i++) obs[k++] = (float)d->qvel[i];
}

/* The camera (docs/rendering.md): Gymnasium Swimmer-v5 gives none (the model's extent as
   distance); lpdm follows the front body (body 1). */
static const mjx_camera sw_camera = {
    .track = 1, .distance = 0, .azimuth = 90, .elevation = -45, .grid = 1};

static int sw_create(const lpdm_env_kind *kind, const lpdm_config *cfg, lpdm_env **out,
                     lpdm_ctx *ctx) {
  *out = NULL;
  swimmer_env *p = calloc(1, sizeof *p);
  if (!p) return lpdm_error(ctx, LPDM_ERR_MEM, "Swimmer-v5: out of memory");
  mjx_env *e = &p->base;
  p->skip = lpdm_cfg_bool(cfg, "exclude_current_positions_from_observation") ? 2 : 0;
  p->w_fwd = lpdm_cfg_num(cfg, "forward_reward_weight");
  p->w_ctrl = lpdm_cfg_num(cfg, "ctrl_cost_weight");
  p->noise = lpdm_cfg_num(cfg, "reset_noise_scale");
  int rc = mjx_open(e, kind, cfg, "swimmer.xml", &sw_models, ctx);
  e->camera = &sw_camera;
  if (!rc) rc = mjx_expect(e, 5, 5, 2, ctx);
  if (!rc) rc = mjx_set_obs_dim(e, 10 - p->skip, ctx);
  return mjx_created(e, rc, p->noise, out, ctx);
}

static int sw_reset(lpdm_env *self, int has_seed, uint64_t seed, float *obs, lpdm_ctx *ctx) {
  swimmer_env *p = (swimmer_env *)self;
  mjx_env *e = &p->base;
  (void)ctx;
  mjx_reset_noise(e, has_seed, seed, p->noise, 0);
  sw_observe(p, obs);
  return LPDM_OK;
}

static int sw_step(lpdm_env *self, const double *action, float *obs, double *reward,
                   int *terminated, int *truncated, lpdm_ctx *ctx) {
  swimmer_env *p = (swimmer_env *)self;
  mjx_env *e = &p->base;
  double x_before = e->d->qpos[0];
  int div = mjx_simulate(e, action, ctx);
  if (div < 0) return div;
  double x_velocity = (e->d->qpos[0] - x_before) / e->dt;
  double sq[2];
  double forward = p->w_fwd * x_velocity;
  double ctrl_cost = p->w_ctrl * mjx_np_sumsq(action, 2, sq);
  *reward = forward - ctrl_cost;
  *terminated = div;
  mjx_count(e, truncated);
  sw_observe(p, obs);
  return LPDM_OK;
}

static const lpdm_env_kind sw_kind = {
    .head = LPDM_PLUGIN_HEAD(
        LPDM_KIND_ENV, "env.Swimmer-v5",
        "Gymnasium's Swimmer-v5 (MuJoCo): a three-segment swimmer moving forward "
        "(Box(2), Box(8))",
        sw_keys),
    .create = sw_create,
    .reset = sw_reset,
    .step = sw_step,
    .free = mjx_free,
    .get_state = mjx_get_state,
    .set_state = mjx_set_state,
    .render = mjx_render,
    .save = mjx_save,
    .load = mjx_load,
    .render_rgb = mjx_render_rgb,
    .render_info = mjx_render_info,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_swimmer(void) { return &sw_kind.head; }
