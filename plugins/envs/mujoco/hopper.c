/* SPDX-License-Identifier: MIT */
/*
** hopper.c -- Hopper-v5 (Gymnasium 1.x) over MuJoCo.
**
** WHAT IT IS
**
** A one-legged robot in the x-z plane must hop forward (+x) without
** falling. Model models/hopper.xml (RK4, timestep 0.002 s; frame_skip 4:
** dt = 0.008 s).
**
**   observation  Box(11): qpos[1..5] (z, torso angle, thigh, leg, foot)
**                and qvel (6) clipped to [-10, 10]; Box(12) with qpos[0]
**                (x) when exclude_current_positions_from_observation is
**                false.
**   action       Box(3) within [-1, 1]: thigh, leg, foot motors (gear 200).
**   reward       (forward_reward_weight * x_velocity + healthy)
**                - ctrl_cost_weight * |a|^2, in that order of operations,
**                x_velocity = (x after - x before) / dt, x = qpos[0], and
**                healthy = healthy_reward when healthy, else 0.
**   healthy      every value of qpos[2..5] and qvel strictly inside
**                (healthy_state_min, healthy_state_max), and z = qpos[1]
**                inside (healthy_z_min, healthy_z_max), and the torso
**                angle qpos[2] inside (healthy_angle_min, healthy_angle_max)
**                (a NaN is never inside).
**   terminated   when not healthy and terminate_when_unhealthy.
**   truncated    after max_episode_steps (1000) steps.
**   state        qpos then qvel (12 values).
**
** Reset: mj_resetData, qpos = qpos0 + U(-s, s) (6 draws), then
** qvel = U(-s, s) (6 draws), s = reset_noise_scale, from the env's
** NumPy-exact generator; mj_forward. The step: lib/mj_env.h.
**
** CONFIG KEYS (Gymnasium's tuples are split into _min/_max; config numbers
** are finite, so healthy_z_max's +inf is the largest double, which tests
** the same on every finite z)
**
**   frame_skip                                  int     4
**   max_episode_steps                           int     1000
**   model_path                                  string  ""
**   forward_reward_weight                       number  1
**   ctrl_cost_weight                            number  1e-3
**   healthy_reward                              number  1
**   terminate_when_unhealthy                    bool    true
**   healthy_state_min, healthy_state_max        number  -100, 100
**   healthy_z_min, healthy_z_max                number  0.7, 1.797...e308
**   healthy_angle_min, healthy_angle_max        number  -0.2, 0.2
**   reset_noise_scale                           number  5e-3
**   exclude_current_positions_from_observation  bool    true
**
** USAGE (Lua)
**
**   local env = lpdm.env("Hopper-v5")
**   local obs = env:reset{seed=1}
**   local obs, r, term, trunc = env:step{0.1, 0.2, -0.3}
*/
#include "lib/mj_env.h"

/* The models of this plugin's envs, shared by its instances (lib/mj_model.c). */
static mjx_cache hp_models = MJX_CACHE_INIT;

typedef struct hopper_env {
  mjx_env base; /* first */
  double w_fwd, w_ctrl, healthy_reward, noise;
  double state_min, state_max, z_min, z_max, angle_min, angle_max;
  int terminate, skip;
} hopper_env;

static const lpdm_key hp_keys[] = {
    MJX_COMMON_KEYS("4", "1000"),
    {"forward_reward_weight", LPDM_T_NUMBER, "1", "weight of the forward velocity"},
    {"ctrl_cost_weight", LPDM_T_NUMBER, "1e-3", "weight of the squared action"},
    {"healthy_reward", LPDM_T_NUMBER, "1", "reward for each step while healthy"},
    {"terminate_when_unhealthy", LPDM_T_BOOL, "true", "end the episode when unhealthy"},
    {"healthy_state_min", LPDM_T_NUMBER, "-100", "lower bound of qpos[2..] and qvel"},
    {"healthy_state_max", LPDM_T_NUMBER, "100", "upper bound of qpos[2..] and qvel"},
    {"healthy_z_min", LPDM_T_NUMBER, "0.7", "lower bound of the torso height qpos[1]"},
    {"healthy_z_max", LPDM_T_NUMBER, "1.7976931348623157e308",
     "upper bound of the torso height (default: none)"},
    {"healthy_angle_min", LPDM_T_NUMBER, "-0.2", "lower bound of the torso angle qpos[2]"},
    {"healthy_angle_max", LPDM_T_NUMBER, "0.2", "upper bound of the torso angle qpos[2]"},
    {"reset_noise_scale", LPDM_T_NUMBER, "5e-3", "half-width of the uniform start noise"},
    {"exclude_current_positions_from_observation", LPDM_T_BOOL, "true",
     "leave x (qpos[0]) out of the observation"},
    {NULL, 0, NULL, NULL}};

static void hp_observe(const hopper_env *p, float *obs) {
  const mjData *d = p->base.d;
  int k = 0;
  for (int i = p->skip; i < 6; i++) obs[k++] = (float)d->qpos[i];
  for (int i = 0; i < 6; i++) obs[k++] = (float)mjx_clip(d->qvel[i], -10, 10);
}

static int hp_healthy(const hopper_env *p) {
  const mjData *d = p->base.d;
  int ok_state = 1;
  for (int i = 2; i < 6; i++) ok_state &= p->state_min < d->qpos[i] && d->qpos[i] < p->state_max;
  for (int i = 0; i < 6; i++) ok_state &= p->state_min < d->qvel[i] && d->qvel[i] < p->state_max;
  double z = d->qpos[1], angle = d->qpos[2];
  return ok_state && p->z_min < z && z < p->z_max && p->angle_min < angle && angle < p->angle_max;
}

/* The camera (docs/rendering.md): Gymnasium Hopper-v5: trackbodyid 2 (the thigh), distance 3,
   lookat z 1.15, elevation -20. */
static const mjx_camera hp_camera = {
    .track = 2, .fixed_z = 1, .lookat = {0, 0, 1.15}, .distance = 3, .azimuth = 90,
    .elevation = -20, .grid = 1};

static int hp_create(const lpdm_env_kind *kind, const lpdm_config *cfg, lpdm_env **out,
                     lpdm_ctx *ctx) {
  *out = NULL;
  hopper_env *p = calloc(1, sizeof *p);
  if (!p) return lpdm_error(ctx, LPDM_ERR_MEM, "Hopper-v5: out of memory");
  mjx_env *e = &p->base;
  p->skip = lpdm_cfg_bool(cfg, "exclude_current_positions_from_observation") ? 1 : 0;
  p->w_fwd = lpdm_cfg_num(cfg, "forward_reward_weight");
  p->w_ctrl = lpdm_cfg_num(cfg, "ctrl_cost_weight");
  p->healthy_reward = lpdm_cfg_num(cfg, "healthy_reward");
  p->terminate = lpdm_cfg_bool(cfg, "terminate_when_unhealthy");
  p->state_min = lpdm_cfg_num(cfg, "healthy_state_min");
  p->state_max = lpdm_cfg_num(cfg, "healthy_state_max");
  p->z_min = lpdm_cfg_num(cfg, "healthy_z_min");
  p->z_max = lpdm_cfg_num(cfg, "healthy_z_max");
  p->angle_min = lpdm_cfg_num(cfg, "healthy_angle_min");
  p->angle_max = lpdm_cfg_num(cfg, "healthy_angle_max");
  p->noise = lpdm_cfg_num(cfg, "reset_noise_scale");
  int rc = mjx_open(e, kind, cfg, "hopper.xml", &hp_models, ctx);
  e->camera = &hp_camera;
  if (!rc) rc = mjx_expect(e, 6, 6, 3, ctx);
  if (!rc) rc = mjx_set_obs_dim(e, 12 - p->skip, ctx);
  return mjx_created(e, rc, p->noise, out, ctx);
}

static int hp_reset(lpdm_env *self, int has_seed, uint64_t seed, float *obs, lpdm_ctx *ctx) {
  hopper_env *p = (hopper_env *)self;
  mjx_env *e = &p->base;
  (void)ctx;
  mjx_reset_noise(e, has_seed, seed, p->noise, 0);
  hp_observe(p, obs);
  return LPDM_OK;
}

static int hp_step(lpdm_env *self, const double *action, float *obs, double *reward,
                   int *terminated, int *truncated, lpdm_ctx *ctx) {
  hopper_env *p = (hopper_env *)self;
  mjx_env *e = &p->base;
  double x_before = e->d->qpos[0];
  int div = mjx_simulate(e, action, ctx);
  if (div < 0) return div;
  double x_velocity = (e->d->qpos[0] - x_before) / e->dt;
  double sq[3];
  double ctrl_cost = p->w_ctrl * mjx_np_sumsq(action, 3, sq);
  int healthy = hp_healthy(p);
  double forward = p->w_fwd * x_velocity;
  double healthy_reward = healthy * p->healthy_reward;
  *reward = (forward + healthy_reward) - ctrl_cost;
  *terminated = div || (!healthy && p->terminate);
  mjx_count(e, truncated);
  hp_observe(p, obs);
  return LPDM_OK;
}

static const lpdm_env_kind hp_kind = {
    .head = LPDM_PLUGIN_HEAD(
        LPDM_KIND_ENV, "env.Hopper-v5",
        "Gymnasium's Hopper-v5 (MuJoCo): a one-legged robot hopping forward "
        "(Box(3), Box(11))",
        hp_keys),
    .create = hp_create,
    .reset = hp_reset,
    .step = hp_step,
    .free = mjx_free,
    .get_state = mjx_get_state,
    .set_state = mjx_set_state,
    .render = mjx_render,
    .save = mjx_save,
    .load = mjx_load,
    .render_rgb = mjx_render_rgb,
    .render_info = mjx_render_info,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_hopper(void) { return &hp_kind.head; }
