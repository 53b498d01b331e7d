/* SPDX-License-Identifier: MIT */
/*
** ant.c -- Ant-v5 (Gymnasium 1.x) over MuJoCo.
**
** WHAT IT IS
**
** A four-legged robot on a free joint must walk forward (+x). Model
** models/ant.xml (RK4, timestep 0.01 s; frame_skip 5: dt = 0.05 s).
**
**   observation  Box(105): qpos[2..14] (torso z, quaternion, 8 joints),
**                qvel (14), and the external contact forces cfrc_ext of
**                bodies 1..13 (6 each: torque then force, MuJoCo's
**                order), clipped to [contact_force_min, contact_force_max]
**                (78). With exclude_current_positions_from_observation
**                false qpos[0..1] come first (107); without
**                include_cfrc_ext_in_observation the forces are left out.
**   action       Box(8) within [-1, 1]: hip_4, ankle_4, hip_1, ankle_1,
**                hip_2, ankle_2, hip_3, ankle_3 motors (gear 150).
**   reward       (x_velocity * forward_reward_weight + healthy)
**                - (ctrl_cost_weight * |a|^2
**                   + contact_cost_weight * |clip(cfrc_ext)|^2),
**                x_velocity = change of the main body's x (xpos, the body
**                frame's world position; main_body, default "torso")
**                over dt; healthy = healthy_reward when healthy, else 0;
**                the contact term sums all bodies, the world's included
**                (its row is 0), in NumPy's pairwise order.
**   healthy      every qpos and qvel value finite and healthy_z_min <=
**                qpos[2] <= healthy_z_max (inclusive, as Gymnasium).
**   terminated   when not healthy and terminate_when_unhealthy.
**   truncated    after max_episode_steps (1000) steps.
**   state        qpos then qvel (29 values).
**
** Reset: mj_resetData, qpos = qpos0 + U(-s, s) (15 draws), then
** qvel = s * N(0, 1) (14 draws of NumPy's standard_normal), s =
** reset_noise_scale, from the env's NumPy-exact generator; mj_forward.
**
** CONFIG KEYS (Gymnasium's range tuples split into _min/_max)
**
**   frame_skip                                  int     5
**   max_episode_steps                           int     1000
**   model_path                                  string  ""
**   forward_reward_weight                       number  1
**   ctrl_cost_weight                            number  0.5
**   contact_cost_weight                         number  5e-4
**   healthy_reward                              number  1
**   main_body                                   string  "torso"
**   terminate_when_unhealthy                    bool    true
**   healthy_z_min, healthy_z_max                number  0.2, 1
**   contact_force_min, contact_force_max        number  -1, 1
**   reset_noise_scale                           number  0.1
**   exclude_current_positions_from_observation  bool    true
**   include_cfrc_ext_in_observation             bool    true
**
** USAGE (Lua)
**
**   local env = lpdm.env("Ant-v5")
**   local obs = env:reset{seed=1}
**   local obs, r, term, trunc = env:step{0, 0, 0, 0, 0, 0, 0, 0}
*/
#include "lib/mj_env.h"

/* The models of this plugin's envs, shared by its instances (lib/mj_model.c). */
static mjx_cache ant_models = MJX_CACHE_INIT;

#define ANT_NBODY 14

typedef struct ant_env {
  mjx_env base; /* first */
  double w_fwd, w_ctrl, w_contact, healthy_reward, noise;
  double z_min, z_max, f_min, f_max;
  int terminate, skip, with_cfrc, main_body;
  double sq[6 * ANT_NBODY];
} ant_env;

static const lpdm_key ant_keys[] = {
    MJX_COMMON_KEYS("5", "1000"),
    {"forward_reward_weight", LPDM_T_NUMBER, "1", "weight of the forward velocity"},
    {"ctrl_cost_weight", LPDM_T_NUMBER, "0.5", "weight of the squared action"},
    {"contact_cost_weight", LPDM_T_NUMBER, "5e-4", "weight of the squared clipped contact forces"},
    {"healthy_reward", LPDM_T_NUMBER, "1", "reward for each step while healthy"},
    {"main_body", LPDM_T_STRING, "torso", "body whose x-y motion is rewarded"},
    {"terminate_when_unhealthy", LPDM_T_BOOL, "true", "end the episode when unhealthy"},
    {"healthy_z_min", LPDM_T_NUMBER, "0.2", "lower bound of the torso height qpos[2]"},
    {"healthy_z_max", LPDM_T_NUMBER, "1", "upper bound of the torso height qpos[2]"},
    {"contact_force_min", LPDM_T_NUMBER, "-1", "lower clip of the contact forces"},
    {"contact_force_max", LPDM_T_NUMBER, "1", "upper clip of the contact forces"},
    {"reset_noise_scale", LPDM_T_NUMBER, "0.1", "scale of the start noise"},
    {"exclude_current_positions_from_observation", LPDM_T_BOOL, "true",
     "leave x, y (qpos[0..1]) out of the observation"},
    {"include_cfrc_ext_in_observation", LPDM_T_BOOL, "true",
     "append the clipped contact forces of bodies 1.. to the observation"},
    {NULL, 0, NULL, NULL}};

static void ant_observe(const ant_env *p, float *obs) {
  const mjData *d = p->base.d;
  int k = 0;
  for (int i = p->skip; i < 15; i++) obs[k++] = (float)d->qpos[i];
  for (int i = 0; i < 14; i++) obs[k++] = (float)d->qvel[i];
  if (p->with_cfrc)
    for (int i = 6; i < 6 * ANT_NBODY; i++)
      obs[k++] = (float)mjx_clip(d->cfrc_ext[i], p->f_min, p->f_max);
}

static int ant_healthy(const ant_env *p) {
  const mjData *d = p->base.d;
  int finite = 1;
  for (int i = 0; i < 15; i++) finite &= isfinite(d->qpos[i]);
  for (int i = 0; i < 14; i++) finite &= isfinite(d->qvel[i]);
  return finite && p->z_min <= d->qpos[2] && d->qpos[2] <= p->z_max;
}

/* The camera (docs/rendering.md): Gymnasium Ant-v5 gives distance 4 only; lpdm follows the
   torso (body 1) so that the ant stays in view. */
static const mjx_camera ant_camera = {
    .track = 1, .distance = 4, .azimuth = 90, .elevation = -45, .grid = 1};

static int ant_create(const lpdm_env_kind *kind, const lpdm_config *cfg, lpdm_env **out,
                      lpdm_ctx *ctx) {
  *out = NULL;
  ant_env *p = calloc(1, sizeof *p);
  if (!p) return lpdm_error(ctx, LPDM_ERR_MEM, "Ant-v5: out of memory");
  mjx_env *e = &p->base;
  p->skip = lpdm_cfg_bool(cfg, "exclude_current_positions_from_observation") ? 2 : 0;
  p->with_cfrc = lpdm_cfg_bool(cfg, "include_cfrc_ext_in_observation");
  p->w_fwd = lpdm_cfg_num(cfg, "forward_reward_weight");
  p->w_ctrl = lpdm_cfg_num(cfg, "ctrl_cost_weight");
  p->w_contact = lpdm_cfg_num(cfg, "contact_cost_weight");
  p->healthy_reward = lpdm_cfg_num(cfg, "healthy_reward");
  p->terminate = lpdm_cfg_bool(cfg, "terminate_when_unhealthy");
  p->z_min = lpdm_cfg_num(cfg, "healthy_z_min");
  p->z_max = lpdm_cfg_num(cfg, "healthy_z_max");
  p->f_min = lpdm_cfg_num(cfg, "contact_force_min");
  p->f_max = lpdm_cfg_num(cfg, "contact_force_max");
  p->noise = lpdm_cfg_num(cfg, "reset_noise_scale");
  int rc = mjx_open(e, kind, cfg, "ant.xml", &ant_models, ctx);
  e->camera = &ant_camera;
  if (!rc) rc = mjx_expect(e, 15, 14, 8, ctx);
  if (!rc && e->m->nbody != ANT_NBODY)
    rc = lpdm_error(ctx, LPDM_ERR_ARG, "%s: the model %s has %d bodies; this env needs %d", e->id,
                    e->model->path, e->m->nbody, ANT_NBODY);
  if (!rc) rc = mjx_body(e, lpdm_cfg_str(cfg, "main_body"), &p->main_body, ctx);
  if (!rc) rc = mjx_set_obs_dim(e, 29 - p->skip + (p->with_cfrc ? 6 * (ANT_NBODY - 1) : 0), ctx);
  return mjx_created(e, rc, p->noise, out, ctx);
}

static int ant_reset(lpdm_env *self, int has_seed, uint64_t seed, float *obs, lpdm_ctx *ctx) {
  ant_env *p = (ant_env *)self;
  mjx_env *e = &p->base;
  (void)ctx;
  mjx_reset_noise(e, has_seed, seed, p->noise, 1);
  ant_observe(p, obs);
  return LPDM_OK;
}

static int ant_step(lpdm_env *self, const double *action, float *obs, double *reward,
                    int *terminated, int *truncated, lpdm_ctx *ctx) {
  ant_env *p = (ant_env *)self;
  mjx_env *e = &p->base;
  const mjData *d = e->d;
  double x_before = d->xpos[3 * p->main_body];
  int div = mjx_simulate(e, action, ctx);
  if (div < 0) return div;
  double x_velocity = (d->xpos[3 * p->main_body] - x_before) / e->dt;
  int healthy = ant_healthy(p);
  double forward = x_velocity * p->w_fwd;
  double healthy_reward = healthy * p->healthy_reward;
  double ctrl_cost = p->w_ctrl * mjx_np_sumsq(action, 8, p->sq);
  for (int i = 0; i < 6 * ANT_NBODY; i++) {
    double f = mjx_clip(d->cfrc_ext[i], p->f_min, p->f_max);
    p->sq[i] = f * f;
  }
  double contact_cost = p->w_contact * mjx_np_sum(p->sq, 6 * ANT_NBODY);
  *reward = (forward + healthy_reward) - (ctrl_cost + contact_cost);
  *terminated = div || (!healthy && p->terminate);
  mjx_count(e, truncated);
  ant_observe(p, obs);
  return LPDM_OK;
}

static const lpdm_env_kind ant_kind = {
    .head = LPDM_PLUGIN_HEAD(
        LPDM_KIND_ENV, "env.Ant-v5",
        "Gymnasium's Ant-v5 (MuJoCo): a quadruped walking forward (Box(8), Box(105))",
        ant_keys),
    .create = ant_create,
    .reset = ant_reset,
    .step = ant_step,
    .free = mjx_free,
    .get_state = mjx_get_state,
    .set_state = mjx_set_state,
    .render = mjx_render,
    .save = mjx_save,
    .load = mjx_load,
    .render_rgb = mjx_render_rgb,
    .render_info = mjx_render_info,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_ant(void) { return &ant_kind.head; }
