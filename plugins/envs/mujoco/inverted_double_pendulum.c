/* SPDX-License-Identifier: MIT */
/*
** inverted_double_pendulum.c -- InvertedDoublePendulum-v5 (Gymnasium 1.x)
** over MuJoCo.
**
** WHAT IT IS
**
** A cart on a rail carries two poles in a chain; the agent pushes the cart
** and must keep both poles up. Model models/inverted_double_pendulum.xml
** (RK4, timestep 0.01 s; frame_skip 5: dt = 0.05 s). Its site "tip" is the
** top of the upper pole, at (x, y) = (tip x, tip height).
**
**   observation  Box(9): cart x, sin(hinge), sin(hinge2), cos(hinge),
**                cos(hinge2), the three qvel clipped to [-10, 10], and the
**                cart's constraint force qfrc_constraint[0] clipped to
**                [-10, 10] (v5 dropped the two hinge ones, always 0).
**   action       Box(1) within [-1, 1]: the cart motor's ctrl (gear 500).
**   reward       healthy_reward * (not terminated)
**                - (0.01 x^2 + (y - 2)^2)             distance penalty
**                - (1e-3 v1^2 + 5e-3 v2^2)            velocity penalty
**                with v1, v2 the hinges' velocities (qvel[1], qvel[2]),
**                each square Python's x**2, summed in Gymnasium's order.
**   terminated   when the tip's height y <= 1 (upright it is 1.2).
**   truncated    after max_episode_steps (1000) steps.
**   state        qpos then qvel (6 values).
**
** Reset: mj_resetData, qpos = qpos0 + U(-s, s) (3 draws), then
** qvel = s * N(0, 1) (3 draws of NumPy's standard_normal), s =
** reset_noise_scale, from the env's NumPy-exact generator; mj_forward.
** The step and the MuJoCo machinery: lib/mj_env.h.
**
** CONFIG KEYS
**
**   frame_skip          int     5      mj_step calls per env step
**   max_episode_steps   int     1000   truncation limit (0: never)
**   model_path          string  ""     another model file (63 chars max)
**   healthy_reward      number  10     reward while not terminated
**   reset_noise_scale   number  0.1    scale of the start noise
**
** USAGE (Lua)
**
**   local env = lpdm.env("InvertedDoublePendulum-v5")
**   local obs = env:reset{seed=1}
**   local obs, r, term, trunc = env:step{0.1}
*/
#include "lib/mj_env.h"

/* The models of this plugin's envs, shared by its instances (lib/mj_model.c). */
static mjx_cache idp_models = MJX_CACHE_INIT;

typedef struct idp_env {
  mjx_env base; /* first */
  double healthy_reward, noise;
  int tip;      /* site id */
} idp_env;

static const lpdm_key idp_keys[] = {
    MJX_COMMON_KEYS("5", "1000"),
    {"healthy_reward", LPDM_T_NUMBER, "10", "reward for each step while not terminated"},
    {"reset_noise_scale", LPDM_T_NUMBER, "0.1", "scale of the start noise"},
    {NULL, 0, NULL, NULL}};

static void idp_observe(const mjx_env *e, float *obs) {
  const mjData *d = e->d;
  obs[0] = (float)d->qpos[0];
  obs[1] = (float)sin(d->qpos[1]);
  obs[2] = (float)sin(d->qpos[2]);
  obs[3] = (float)cos(d->qpos[1]);
  obs[4] = (float)cos(d->qpos[2]);
  for (int i = 0; i < 3; i++) obs[5 + i] = (float)mjx_clip(d->qvel[i], -10, 10);
  obs[8] = (float)mjx_clip(d->qfrc_constraint[0], -10, 10);
}

/* The camera (docs/rendering.md): Gymnasium InvertedDoublePendulum-v5's DEFAULT_CAMERA_CONFIG:
   trackbodyid 0 (fixed), distance 4.1225, lookat z 0.1225. */
static const mjx_camera idp_camera = {
    .track = 0, .fixed_point = 1, .lookat = {0, 0, 0.1225}, .distance = 4.1225, .azimuth = 90,
    .elevation = -45};

static int idp_create(const lpdm_env_kind *kind, const lpdm_config *cfg, lpdm_env **out,
                      lpdm_ctx *ctx) {
  *out = NULL;
  idp_env *p = calloc(1, sizeof *p);
  if (!p) return lpdm_error(ctx, LPDM_ERR_MEM, "InvertedDoublePendulum-v5: out of memory");
  mjx_env *e = &p->base;
  int rc = mjx_open(e, kind, cfg, "inverted_double_pendulum.xml", &idp_models, ctx);
  e->camera = &idp_camera;
  if (!rc) rc = mjx_expect(e, 3, 3, 1, ctx);
  if (!rc) rc = mjx_set_obs_dim(e, 9, ctx);
  if (!rc) {
    p->tip = mj_name2id(e->m, mjOBJ_SITE, "tip");
    if (p->tip < 0)
      rc = lpdm_error(ctx, LPDM_ERR_ARG, "%s: the model %s has no site named \"tip\"", e->id,
                      e->model->path);
  }
  p->healthy_reward = lpdm_cfg_num(cfg, "healthy_reward");
  p->noise = lpdm_cfg_num(cfg, "reset_noise_scale");
  return mjx_created(e, rc, p->noise, out, ctx);
}

static int idp_reset(lpdm_env *self, int has_seed, uint64_t seed, float *obs, lpdm_ctx *ctx) {
  idp_env *p = (idp_env *)self;
  mjx_env *e = &p->base;
  (void)ctx;
  mjx_reset_noise(e, has_seed, seed, p->noise, 1);
  idp_observe(e, obs);
  return LPDM_OK;
}

static int idp_step(lpdm_env *self, const double *action, float *obs, double *reward,
                    int *terminated, int *truncated, lpdm_ctx *ctx) {
  idp_env *p = (idp_env *)self;
  mjx_env *e = &p->base;
  int div = mjx_simulate(e, action, ctx);
  if (div < 0) return div;
  const mjData *d = e->d;
  double x = d->site_xpos[3 * p->tip], y = d->site_xpos[3 * p->tip + 2];
  int term = div || y <= 1;
  double dist_penalty = 0.01 * mjx_pow2(x) + mjx_pow2(y - 2);
  double vel_penalty = 1e-3 * mjx_pow2(d->qvel[1]) + 5e-3 * mjx_pow2(d->qvel[2]);
  double alive = p->healthy_reward * (term ? 0 : 1);
  *reward = alive - dist_penalty - vel_penalty;
  *terminated = term;
  mjx_count(e, truncated);
  idp_observe(e, obs);
  return LPDM_OK;
}

static const lpdm_env_kind idp_kind = {
    .head = LPDM_PLUGIN_HEAD(
        LPDM_KIND_ENV, "env.InvertedDoublePendulum-v5",
        "Gymnasium's InvertedDoublePendulum-v5 (MuJoCo): balance two poles on a cart "
        "(Box(1), Box(9))",
        idp_keys),
    .create = idp_create,
    .reset = idp_reset,
    .step = idp_step,
    .free = mjx_free,
    .get_state = mjx_get_state,
    .set_state = mjx_set_state,
    .render = mjx_render,
    .save = mjx_save,
    .load = mjx_load,
    .render_rgb = mjx_render_rgb,
    .render_info = mjx_render_info,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_inverted_double_pendulum(void) {
  return &idp_kind.head;
}
