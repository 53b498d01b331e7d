/* SPDX-License-Identifier: MIT */
/*
** humanoid.c -- Humanoid-v5 (Gymnasium 1.x) over MuJoCo.
**
** WHAT IT IS
**
** A 3-D humanoid on a free joint must walk forward (+x) without falling.
** Model models/humanoid.xml (RK4, PGS solver, timestep 0.003 s;
** frame_skip 5: dt = 0.015 s).
**
**   observation  Box(348): qpos[2..23] (22), qvel (23), then for bodies
**                1..13: cinert (10 each, 130), cvel (6 each, 78), then
**                qfrc_actuator of the 17 hinges (qfrc_actuator[6..22]),
**                then cfrc_ext of bodies 1..13 (78). The include_* keys
**                drop a block; exclude_current_positions_from_observation
**                false puts qpos[0..1] first.
**   action       Box(17) within [-0.4, 0.4]: the 17 motors (see the model).
**   reward       (forward_reward_weight * x_velocity + healthy)
**                - (ctrl_cost + contact_cost), with
**                x_velocity = change of the centre of mass's x over dt
**                (sum_b mass_b xipos_b / sum_b mass_b, Gymnasium's
**                mass_center), healthy = healthy_reward when healthy,
**                ctrl_cost = ctrl_cost_weight * |ctrl|^2 (MuJoCo's ctrl
**                after the step, i.e. the action as given), and
**                contact_cost = clip(contact_cost_weight * |cfrc_ext|^2,
**                contact_cost_min, contact_cost_max) (all bodies).
**   healthy      healthy_z_min < qpos[2] < healthy_z_max.
**   terminated   when not healthy and terminate_when_unhealthy.
**   truncated    after max_episode_steps (1000) steps.
**   state        qpos then qvel (47 values).
**
** Reset: mj_resetData, qpos = qpos0 + U(-s, s) (24 draws), then
** qvel = U(-s, s) (23 draws), s = reset_noise_scale, from the env's
** NumPy-exact generator; mj_forward.
**
** CONFIG KEYS (contact_cost_min's -inf is the lowest double)
**
**   frame_skip                                  int     5
**   max_episode_steps                           int     1000
**   model_path                                  string  ""
**   forward_reward_weight                       number  1.25
**   ctrl_cost_weight                            number  0.1
**   contact_cost_weight                         number  5e-7
**   contact_cost_min, contact_cost_max          number  -1.797...e308, 10
**   healthy_reward                              number  5
**   terminate_when_unhealthy                    bool    true
**   healthy_z_min, healthy_z_max                number  1, 2
**   reset_noise_scale                           number  1e-2
**   exclude_current_positions_from_observation  bool    true
**   include_cinert_in_observation               bool    true
**   include_cvel_in_observation                 bool    true
**   include_qfrc_actuator_in_observation        bool    true
**   include_cfrc_ext_in_observation             bool    true
**
** USAGE (Lua)
**
**   local env = lpdm.env("Humanoid-v5")
**   local obs = env:reset{seed=1}
*/
#include "lib/mj_env.h"

/* The models of this plugin's envs, shared by its instances (lib/mj_model.c). */
static mjx_cache hu_models = MJX_CACHE_INIT;

#define HU_NBODY 14

typedef struct humanoid_env {
  mjx_env base; /* first */
  double w_fwd, w_ctrl, w_contact, c_min, c_max, healthy_reward, noise, z_min, z_max;
  int terminate, skip, cinert, cvel, qfrc, cfrc;
  double sq[6 * HU_NBODY];
} humanoid_env;

static const lpdm_key hu_keys[] = {
    MJX_COMMON_KEYS("5", "1000"),
    {"forward_reward_weight", LPDM_T_NUMBER, "1.25", "weight of the forward velocity"},
    {"ctrl_cost_weight", LPDM_T_NUMBER, "0.1", "weight of the squared ctrl"},
    {"contact_cost_weight", LPDM_T_NUMBER, "5e-7", "weight of the squared contact forces"},
    {"contact_cost_min", LPDM_T_NUMBER, "-1.7976931348623157e308", "lower clip of the contact cost"},
    {"contact_cost_max", LPDM_T_NUMBER, "10", "upper clip of the contact cost"},
    {"healthy_reward", LPDM_T_NUMBER, "5", "reward for each step while healthy"},
    {"terminate_when_unhealthy", LPDM_T_BOOL, "true", "end the episode when unhealthy"},
    {"healthy_z_min", LPDM_T_NUMBER, "1", "lower bound of the torso height qpos[2]"},
    {"healthy_z_max", LPDM_T_NUMBER, "2", "upper bound of the torso height qpos[2]"},
    {"reset_noise_scale", LPDM_T_NUMBER, "1e-2", "half-width of the uniform start noise"},
    {"exclude_current_positions_from_observation", LPDM_T_BOOL, "true",
     "leave x, y (qpos[0..1]) out of the observation"},
    {"include_cinert_in_observation", LPDM_T_BOOL, "true", "observe cinert of bodies 1.."},
    {"include_cvel_in_observation", LPDM_T_BOOL, "true", "observe cvel of bodies 1.."},
    {"include_qfrc_actuator_in_observation", LPDM_T_BOOL, "true",
     "observe qfrc_actuator of the hinges"},
    {"include_cfrc_ext_in_observation", LPDM_T_BOOL, "true", "observe cfrc_ext of bodies 1.."},
    {NULL, 0, NULL, NULL}};

static void hu_observe(const humanoid_env *p, float *obs) {
  const mjData *d = p->base.d;
  int k = 0;
  for (int i = p->skip; i < 24; i++) obs[k++] = (float)d->qpos[i];
  for (int i = 0; i < 23; i++) obs[k++] = (float)d->qvel[i];
  if (p->cinert)
    for (int i = 10; i < 10 * HU_NBODY; i++) obs[k++] = (float)d->cinert[i];
  if (p->cvel)
    for (int i = 6; i < 6 * HU_NBODY; i++) obs[k++] = (float)d->cvel[i];
  if (p->qfrc)
    for (int i = 6; i < 23; i++) obs[k++] = (float)d->qfrc_actuator[i];
  if (p->cfrc)
    for (int i = 6; i < 6 * HU_NBODY; i++) obs[k++] = (float)d->cfrc_ext[i];
}

/* Gymnasium's mass_center: x of sum(mass * xipos, axis=0) / sum(mass). */
static double hu_mass_center_x(const humanoid_env *p) {
  const mjModel *m = p->base.m;
  const mjData *d = p->base.d;
  double num = 0;
  for (int b = 0; b < HU_NBODY; b++) num += m->body_mass[b] * d->xipos[3 * b];
  return num / mjx_np_sum(m->body_mass, HU_NBODY);
}

/* The camera (docs/rendering.md): Gymnasium Humanoid-v5: trackbodyid 1 (the torso), distance 4,
   lookat z 2, elevation -20. */
static const mjx_camera hu_camera = {
    .track = 1, .fixed_z = 1, .lookat = {0, 0, 2.0}, .distance = 4, .azimuth = 90,
    .elevation = -20, .grid = 1};

static int hu_create(const lpdm_env_kind *kind, const lpdm_config *cfg, lpdm_env **out,
                     lpdm_ctx *ctx) {
  *out = NULL;
  humanoid_env *p = calloc(1, sizeof *p);
  if (!p) return lpdm_error(ctx, LPDM_ERR_MEM, "Humanoid-v5: out of memory");
  mjx_env *e = &p->base;
  p->skip = lpdm_cfg_bool(cfg, "exclude_current_positions_from_observation") ? 2 : 0;
  p->cinert = lpdm_cfg_bool(cfg, "include_cinert_in_observation");
  p->cvel = lpdm_cfg_bool(cfg, "include_cvel_in_observation");
  p->qfrc = lpdm_cfg_bool(cfg, "include_qfrc_actuator_in_observation");
  p->cfrc = lpdm_cfg_bool(cfg, "include_cfrc_ext_in_observation");
  p->w_fwd = lpdm_cfg_num(cfg, "forward_reward_weight");
  p->w_ctrl = lpdm_cfg_num(cfg, "ctrl_cost_weight");
  p->w_contact = lpdm_cfg_num(cfg, "contact_cost_weight");
  p->c_min = lpdm_cfg_num(cfg, "contact_cost_min");
  p->c_max = lpdm_cfg_num(cfg, "contact_cost_max");
  p->healthy_reward = lpdm_cfg_num(cfg, "healthy_reward");
  p->terminate = lpdm_cfg_bool(cfg, "terminate_when_unhealthy");
  p->z_min = lpdm_cfg_num(cfg, "healthy_z_min");
  p->z_max = lpdm_cfg_num(cfg, "healthy_z_max");
  p->noise = lpdm_cfg_num(cfg, "reset_noise_scale");
  int rc = mjx_open(e, kind, cfg, "humanoid.xml", &hu_models, ctx);
  e->camera = &hu_camera;
  if (!rc) rc = mjx_expect(e, 24, 23, 17, ctx);
  if (!rc && e->m->nbody != HU_NBODY)
    rc = lpdm_error(ctx, LPDM_ERR_ARG, "%s: the model %s has %d bodies; this env needs %d", e->id,
                    e->model->path, e->m->nbody, HU_NBODY);
  int n = 47 - p->skip + (p->cinert ? 10 * (HU_NBODY - 1) : 0) + (p->cvel ? 6 * (HU_NBODY - 1) : 0) +
          (p->qfrc ? 17 : 0) + (p->cfrc ? 6 * (HU_NBODY - 1) : 0);
  if (!rc) rc = mjx_set_obs_dim(e, n, ctx);
  return mjx_created(e, rc, p->noise, out, ctx);
}

static int hu_reset(lpdm_env *self, int has_seed, uint64_t seed, float *obs, lpdm_ctx *ctx) {
  humanoid_env *p = (humanoid_env *)self;
  mjx_env *e = &p->base;
  (void)ctx;
  mjx_reset_noise(e, has_seed, seed, p->noise, 0);
  hu_observe(p, obs);
  return LPDM_OK;
}

static int hu_step(lpdm_env *self, const double *action, float *obs, double *reward,
                   int *terminated, int *truncated, lpdm_ctx *ctx) {
  humanoid_env *p = (humanoid_env *)self;
  mjx_env *e = &p->base;
  const mjData *d = e->d;
  double x_before = hu_mass_center_x(p);
  int div = mjx_simulate(e, action, ctx);
  if (div < 0) return div;
  double x_velocity = (hu_mass_center_x(p) - x_before) / e->dt;
  double forward = p->w_fwd * x_velocity;
  int healthy = p->z_min < d->qpos[2] && d->qpos[2] < p->z_max;
  double healthy_reward = healthy * p->healthy_reward;
  double ctrl_cost = p->w_ctrl * mjx_np_sumsq(d->ctrl, 17, p->sq);
  double contact_cost =
      mjx_clip(p->w_contact * mjx_np_sumsq(d->cfrc_ext, 6 * HU_NBODY, p->sq), p->c_min, p->c_max);
  *reward = (forward + healthy_reward) - (ctrl_cost + contact_cost);
  *terminated = div || (!healthy && p->terminate);
  mjx_count(e, truncated);
  hu_observe(p, obs);
  return LPDM_OK;
}

static const lpdm_env_kind hu_kind = {
    .head = LPDM_PLUGIN_HEAD(
        LPDM_KIND_ENV, "env.Humanoid-v5",
        "Gymnasium's Humanoid-v5 (MuJoCo): a 3-D humanoid walking forward "
        "(Box(17), Box(348))",
        hu_keys),
    .create = hu_create,
    .reset = hu_reset,
    .step = hu_step,
    .free = mjx_free,
    .get_state = mjx_get_state,
    .set_state = mjx_set_state,
    .render = mjx_render,
    .save = mjx_save,
    .load = mjx_load,
    .render_rgb = mjx_render_rgb,
    .render_info = mjx_render_info,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_humanoid(void) { return &hu_kind.head; }
