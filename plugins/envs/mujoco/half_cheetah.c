/* SPDX-License-Identifier: MIT */
/*
** half_cheetah.c -- HalfCheetah-v5 (Gymnasium 1.x) over MuJoCo.
**
** WHAT IT IS
**
** A planar two-legged cat-like robot must run forward (+x) as fast as it
** can. Model models/half_cheetah.xml (Euler, timestep 0.01 s; frame_skip 5:
** dt = 0.05 s). It never falls over for good, so nothing terminates.
**
**   observation  Box(17): qpos[1..8] (z, torso angle, the six leg joints)
**                and qvel (9), unclipped; Box(18) with qpos[0] (x) when
**                exclude_current_positions_from_observation is false.
**   action       Box(6) within [-1, 1]: bthigh, bshin, bfoot, fthigh,
**                fshin, ffoot motors (gears 120, 90, 60, 120, 60, 30).
**   reward       forward_reward_weight * x_velocity
**                - ctrl_cost_weight * |a|^2,
**                x_velocity = (x after - x before) / dt, x = qpos[0].
**   terminated   never (but see lib/mj_env.h on a diverging simulation).
**   truncated    after max_episode_steps (1000) steps.
**   state        qpos then qvel (18 values).
**
** Reset: mj_resetData, qpos = qpos0 + U(-s, s) (9 draws), then
** qvel = s * N(0, 1) (9 draws of NumPy's standard_normal), s =
** reset_noise_scale, from the env's NumPy-exact generator; mj_forward.
**
** CONFIG KEYS
**
**   frame_skip                                  int     5
**   max_episode_steps                           int     1000
**   model_path                                  string  ""
**   forward_reward_weight                       number  1
**   ctrl_cost_weight                            number  0.1
**   reset_noise_scale                           number  0.1
**   exclude_current_positions_from_observation  bool    true
**
** USAGE (Lua)
**
**   local env = lpdm.env("HalfCheetah-v5")
**   local obs = env:reset{seed=1}
**   local obs, r, term, trunc = env:step{0, 0, 0, 0, 0, 0}
*/
#include "lib/mj_env.h"

/* The models of this plugin's envs, shared by its instances (lib/mj_model.c). */
static mjx_cache hc_models = MJX_CACHE_INIT;

typedef struct cheetah_env {
  mjx_env base; /* first */
  double w_fwd, w_ctrl, noise;
  int skip;
} cheetah_env;

static const lpdm_key hc_keys[] = {
    MJX_COMMON_KEYS("5", "1000"),
    {"forward_reward_weight", LPDM_T_NUMBER, "1", "weight of the forward velocity"},
    {"ctrl_cost_weight", LPDM_T_NUMBER, "0.1", "weight of the squared action"},
    {"reset_noise_scale", LPDM_T_NUMBER, "0.1", "scale of the start noise"},
    {"exclude_current_positions_from_observation", LPDM_T_BOOL, "true",
     "leave x (qpos[0]) out of the observation"},
    {NULL, 0, NULL, NULL}};

static void hc_observe(const cheetah_env *p, float *obs) {
  const mjData *d = p->base.d;
  int k = 0;
  for (int i = p->skip; i < 9; i++) obs[k++] = (float)d->qpos[i];
  for (int i = 0; i < 9; i++) obs[k++] = (float)d->qvel[i];
}

/* The camera (docs/rendering.md): Gymnasium HalfCheetah-v5 gives distance 4 only; lpdm follows
   the torso (body 1) so that the runner stays in view. */
static const mjx_camera hc_camera = {
    .track = 1, .distance = 4, .azimuth = 90, .elevation = -45, .grid = 1};

static int hc_create(const lpdm_env_kind *kind, const lpdm_config *cfg, lpdm_env **out,
                     lpdm_ctx *ctx) {
  *out = NULL;
  cheetah_env *p = calloc(1, sizeof *p);
  if (!p) return lpdm_error(ctx, LPDM_ERR_MEM, "HalfCheetah-v5: out of memory");
  mjx_env *e = &p->base;
  p->skip = lpdm_cfg_bool(cfg, "exclude_current_positions_from_observation") ? 1 : 0;
  p->w_fwd = lpdm_cfg_num(cfg, "forward_reward_weight");
  p->w_ctrl = lpdm_cfg_num(cfg, "ctrl_cost_weight");
  p->noise = lpdm_cfg_num(cfg, "reset_noise_scale");
  int rc = mjx_open(e, kind, cfg, "half_cheetah.xml", &hc_models, ctx);
  e->camera = &hc_camera;
  if (!rc) rc = mjx_expect(e, 9, 9, 6, ctx);
  if (!rc) rc = mjx_set_obs_dim(e, 18 - p->skip, ctx);
  return mjx_created(e, rc, p->noise, out, ctx);
}

static int hc_reset(lpdm_env *self, int has_seed, uint64_t seed, float *obs, lpdm_ctx *ctx) {
  cheetah_env *p = (cheetah_env *)self;
  mjx_env *e = &p->base;
  (void)ctx;
  mjx_reset_noise(e, has_seed, seed, p->noise, 1);
  hc_observe(p, obs);
  return LPDM_OK;
}

static int hc_step(lpdm_env *self, const double *action, float *obs, double *reward,
                   int *terminated, int *truncated, lpdm_ctx *ctx) {
  cheetah_env *p = (cheetah_env *)self;
  mjx_env *e = &p->base;
  double x_before = e->d->qpos[0];
  int div = mjx_simulate(e, action, ctx);
  if (div < 0) return div;
  double x_velocity = (e->d->qpos[0] - x_before) / e->dt;
  double sq[6];
  double forward = p->w_fwd * x_velocity;
  double ctrl_cost = p->w_ctrl * mjx_np_sumsq(action, 6, sq);
  *reward = forward - ctrl_cost;
  *terminated = div;
  mjx_count(e, truncated);
  hc_observe(p, obs);
  return LPDM_OK;
}

static const lpdm_env_kind hc_kind = {
    .head = LPDM_PLUGIN_HEAD(
        LPDM_KIND_ENV, "env.HalfCheetah-v5",
        "Gymnasium's HalfCheetah-v5 (MuJoCo): a planar cheetah running forward "
        "(Box(6), Box(17))",
        hc_keys),
    .create = hc_create,
    .reset = hc_reset,
    .step = hc_step,
    .free = mjx_free,
    .get_state = mjx_get_state,
    .set_state = mjx_set_state,
    .render = mjx_render,
    .save = mjx_save,
    .load = mjx_load,
    .render_rgb = mjx_render_rgb,
    .render_info = mjx_render_info,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_half_cheetah(void) { return &hc_kind.head; }
