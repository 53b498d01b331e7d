/* SPDX-License-Identifier: MIT */
/*
** walker2d.c -- Walker2d-v5 (Gymnasium 1.x) over MuJoCo.
**
** WHAT IT IS
**
** A two-legged robot in the x-z plane must walk forward (+x) without
** falling. Model models/walker2d_v5.xml (RK4, timestep 0.002 s;
** frame_skip 4: dt = 0.008 s; both feet with friction 1.9, v5's model).
**
**   observation  Box(17): qpos[1..8] (z, torso angle, the six leg joints)
**                and qvel (9) clipped to [-10, 10]; Box(18) with qpos[0]
**                (x) when exclude_current_positions_from_observation is
**                false.
**   action       Box(6) within [-1, 1]: right thigh, leg, foot, then left
**                thigh, leg, foot motors (gear 100).
**   reward       (forward_reward_weight * x_velocity + healthy)
**                - ctrl_cost_weight * |a|^2, in that order of operations,
**                x_velocity = (x after - x before) / dt, x = qpos[0], and
**                healthy = healthy_reward when healthy, else 0.
**   healthy      z = qpos[1] strictly inside (healthy_z_min, healthy_z_max)
**                and the torso angle qpos[2] strictly inside
**                (healthy_angle_min, healthy_angle_max).
**   terminated   when not healthy and terminate_when_unhealthy.
**   truncated    after max_episode_steps (1000) steps.
**   state        qpos then qvel (18 values).
**
** Reset: mj_resetData, qpos = qpos0 + U(-s, s) (9 draws), then
** qvel = U(-s, s) (9 draws), s = reset_noise_scale, from the env's
** NumPy-exact generator; mj_forward. The step: lib/mj_env.h.
**
** CONFIG KEYS (Gymnasium's range tuples split into _min/_max)
**
**   frame_skip                                  int     4
**   max_episode_steps                           int     1000
**   model_path                                  string  ""
**   forward_reward_weight                       number  1
**   ctrl_cost_weight                            number  1e-3
**   healthy_reward                              number  1
**   terminate_when_unhealthy                    bool    true
**   healthy_z_min, healthy_z_max                number  0.8, 2
**   healthy_angle_min, healthy_angle_max        number  -1, 1
**   reset_noise_scale                           number  5e-3
**   exclude_current_positions_from_observation  bool    true
**
** USAGE (Lua)
**
**   local env = lpdm.env("Walker2d-v5")
**   local obs = env:reset{seed=1}
**   local obs, r, term, trunc = env:step{0, 0, 0, 0, 0, 0}
*/
#include "lib/mj_env.h"

/* The models of this plugin's envs, shared by its instances (lib/mj_model.c). */
static mjx_cache wk_models = MJX_CACHE_INIT;

typedef struct walker_env {
  mjx_env base; /* first */
  double w_fwd, w_ctrl, healthy_reward, noise;
  double z_min, z_max, angle_min, angle_max;
  int terminate, skip;
} walker_env;

static const lpdm_key wk_keys[] = {
    MJX_COMMON_KEYS("4", "1000"),
    {"forward_reward_weight", LPDM_T_NUMBER, "1", "weight of the forward velocity"},
    {"ctrl_cost_weight", LPDM_T_NUMBER, "1e-3", "weight of the squared action"},
    {"healthy_reward", LPDM_T_NUMBER, "1", "reward for each step while healthy"},
    {"terminate_when_unhealthy", LPDM_T_BOOL, "true", "end the episode when unhealthy"},
    {"healthy_z_min", LPDM_T_NUMBER, "0.8", "lower bound of the torso height qpos[1]"},
    {"healthy_z_max", LPDM_T_NUMBER, "2", "upper bound of the torso height qpos[1]"},
    {"healthy_angle_min", LPDM_T_NUMBER, "-1", "lower bound of the torso angle qpos[2]"},
    {"healthy_angle_max", LPDM_T_NUMBER, "1", "upper bound of the torso angle qpos[2]"},
    {"reset_noise_scale", LPDM_T_NUMBER, "5e-3", "half-width of the uniform start noise"},
    {"exclude_current_positions_from_observation", LPDM_T_BOOL, "true",
     "leave x (qpos[0]) out of the observation"},
    {NULL, 0, NULL, NULL}};

static void wk_observe(const walker_env *p, float *obs) {
  const mjData *d = p->base.d;
  int k = 0;
  for (int i = p->skip; i < 9; i++) obs[k++] = (float)d->qpos[i];
  for (int i = 0; i < 9; i++) obs[k++] = (float)mjx_clip(d->qvel[i], -10, 10);
}

static int wk_healthy(const walker_env *p) {
  double z = p->base.d->qpos[1], angle = p->base.d->qpos[2];
  return p->z_min < z && z < p->z_max && p->angle_min < angle && angle < p->angle_max;
}

/* The camera (docs/rendering.md): Gymnasium Walker2d-v5: trackbodyid 2 (the right thigh),
   distance 4, lookat z 1.15, elevation -20. */
static const mjx_camera wk_camera = {
    .track = 2, .fixed_z = 1, .lookat = {0, 0, 1.15}, .distance = 4, .azimuth = 90,
    .elevation = -20, .grid = 1};

static int wk_create(const lpdm_env_kind *kind, const lpdm_config *cfg, lpdm_env **out,
                     lpdm_ctx *ctx) {
  *out = NULL;
  walker_env *p = calloc(1, sizeof *p);
  if (!p) return lpdm_error(ctx, LPDM_ERR_MEM, "Walker2d-v5: out of memory");
  mjx_env *e = &p->base;
  p->skip = lpdm_cfg_bool(cfg, "exclude_current_positions_from_observation") ? 1 : 0;
  p->w_fwd = lpdm_cfg_num(cfg, "forward_reward_weight");
  p->w_ctrl = lpdm_cfg_num(cfg, "ctrl_cost_weight");
  p->healthy_reward = lpdm_cfg_num(cfg, "healthy_reward");
  p->terminate = lpdm_cfg_bool(cfg, "terminate_when_unhealthy");
  p->z_min = lpdm_cfg_num(cfg, "healthy_z_min");
  p->z_max = lpdm_cfg_num(cfg, "healthy_z_max");
  p->angle_min = lpdm_cfg_num(cfg, "healthy_angle_min");
  p->angle_max = lpdm_cfg_num(cfg, "healthy_angle_max");
  p->noise = lpdm_cfg_num(cfg, "reset_noise_scale");
  int rc = mjx_open(e, kind, cfg, "walker2d_v5.xml", &wk_models, ctx);
  e->camera = &wk_camera;
  if (!rc) rc = mjx_expect(e, 9, 9, 6, ctx);
  if (!rc) rc = mjx_set_obs_dim(e, 18 - p->skip, ctx);
  return mjx_created(e, rc, p->noise, out, ctx);
}

static int wk_reset(lpdm_env *self, int has_seed, uint64_t seed, float *obs, lpdm_ctx *ctx) {
  walker_env *p = (walker_env *)self;
  mjx_env *e = &p->base;
  (void)ctx;
  mjx_reset_noise(e, has_seed, seed, p->noise, 0);
  wk_observe(p, obs);
  return LPDM_OK;
}

static int wk_step(lpdm_env *self, const double *action, float *obs, double *reward,
                   int *terminated, int *truncated, lpdm_ctx *ctx) {
  walker_env *p = (walker_env *)self;
  mjx_env *e = &p->base;
  double x_before = e->d->qpos[0];
  int div = mjx_simulate(e, action, ctx);
  if (div < 0) return div;
  double x_velocity = (e->d->qpos[0] - x_before) / e->dt;
  int healthy = wk_healthy(p);
  double forward = p->w_fwd * x_velocity;
  double healthy_reward = healthy * p->healthy_reward;
  double sq[6];
  double ctrl_cost = p->w_ctrl * mjx_np_sumsq(action, 6, sq);
  *reward = (forward + healthy_reward) - ctrl_cost;
  *terminated = div || (!healthy && p->terminate);
  mjx_count(e, truncated);
  wk_observe(p, obs);
  return LPDM_OK;
}

static const lpdm_env_kind wk_kind = {
    .head = LPDM_PLUGIN_HEAD(
        LPDM_KIND_ENV, "env.Walker2d-v5",
        "Gymnasium's Walker2d-v5 (MuJoCo): a two-legged robot walking forward "
        "(Box(6), Box(17))",
        wk_keys),
    .create = wk_create,
    .reset = wk_reset,
    .step = wk_step,
    .free = mjx_free,
    .get_state = mjx_get_state,
    .set_state = mjx_set_state,
    .render = mjx_render,
    .save = mjx_save,
    .load = mjx_load,
    .render_rgb = mjx_render_rgb,
    .render_info = mjx_render_info,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_walker2d(void) { return &wk_kind.head; }
