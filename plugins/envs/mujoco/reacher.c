/* SPDX-License-Identifier: MIT */
/*
** reacher.c -- Reacher-v5 (Gymnasium 1.x) over MuJoCo.
**
** WHAT IT IS
**
** A two-link arm in a plane must bring its fingertip to a target placed at
** random on each reset. Model models/reacher.xml (RK4, timestep 0.01 s;
** frame_skip 2: dt = 0.02 s). The target sits on two slide joints, so it
** is part of qpos (qpos[2], qpos[3]) and so of the state.
**
**   observation  Box(10): cos(joint0), cos(joint1), sin(joint0),
**                sin(joint1), target x, target y, the two arm joints'
**                velocities, and (fingertip - target)'s x and y (the
**                bodies' world positions, xpos; v5 dropped the z).
**   action       Box(2) within [-1, 1]: the two motors' ctrl (gear 200).
**   reward       reward_dist + reward_ctrl, with
**                reward_dist = -|fingertip - target| * reward_dist_weight
**                (3-D distance, after the step) and
**                reward_ctrl = -(a0^2 + a1^2) * reward_control_weight
**                (the action as given, before MuJoCo's clamping).
**   terminated   never.
**   truncated    after max_episode_steps (50) steps.
**   state        qpos then qvel (8 values): the arm and the goal.
**
** Reset, in Gymnasium's order of draws from the env's NumPy-exact
** generator: qpos = qpos0 + U(-0.1, 0.1) (4 draws); then goal pairs
** U(-0.2, 0.2) x 2 until |goal| < 0.2 (rejection sampling in the disc),
** written into qpos[2..3]; then qvel = U(-0.005, 0.005) (4 draws), with
** the target's two velocities set to 0 afterwards; mj_resetData before,
** mj_forward after. The step and the MuJoCo machinery: lib/mj_env.h.
**
** CONFIG KEYS
**
**   frame_skip              int     2     mj_step calls per env step
**   max_episode_steps       int     50    truncation limit (0: never)
**   model_path              string  ""    another model file (63 chars max)
**   reward_dist_weight      number  1     weight of the distance term
**   reward_control_weight   number  1     weight of the control term
**
** USAGE (Lua)
**
**   local env = lpdm.env("Reacher-v5")
**   local obs = env:reset{seed=1}
**   local obs, r, term, trunc = env:step{0.1, -0.2}
*/
#include "lib/mj_env.h"

/* The models of this plugin's envs, shared by its instances (lib/mj_model.c). */
static mjx_cache rc_models = MJX_CACHE_INIT;

typedef struct reacher_env {
  mjx_env base; /* first */
  double w_dist, w_ctrl;
  int tip, target; /* body ids */
} reacher_env;

static const lpdm_key rc_keys[] = {
    MJX_COMMON_KEYS("2", "50"),
    {"reward_dist_weight", LPDM_T_NUMBER, "1", "weight of the fingertip-target distance term"},
    {"reward_control_weight", LPDM_T_NUMBER, "1", "weight of the squared-action term"},
    {NULL, 0, NULL, NULL}};

static void rc_observe(const reacher_env *p, float *obs) {
  const mjData *d = p->base.d;
  obs[0] = (float)cos(d->qpos[0]);
  obs[1] = (float)cos(d->qpos[1]);
  obs[2] = (float)sin(d->qpos[0]);
  obs[3] = (float)sin(d->qpos[1]);
  obs[4] = (float)d->qpos[2];
  obs[5] = (float)d->qpos[3];
  obs[6] = (float)d->qvel[0];
  obs[7] = (float)d->qvel[1];
  obs[8] = (float)(d->xpos[3 * p->tip] - d->xpos[3 * p->target]);
  obs[9] = (float)(d->xpos[3 * p->tip + 1] - d->xpos[3 * p->target + 1]);
}

/* The camera (docs/rendering.md): Gymnasium Reacher-v5: trackbodyid 0 (the world: a fixed
   camera) at the model's centre and extent. */
static const mjx_camera rc_camera = {
    .track = 0, .distance = 0, .azimuth = 90, .elevation = -45};

static int rc_create(const lpdm_env_kind *kind, const lpdm_config *cfg, lpdm_env **out,
                     lpdm_ctx *ctx) {
  *out = NULL;
  reacher_env *p = calloc(1, sizeof *p);
  if (!p) return lpdm_error(ctx, LPDM_ERR_MEM, "Reacher-v5: out of memory");
  mjx_env *e = &p->base;
  int rc = mjx_open(e, kind, cfg, "reacher.xml", &rc_models, ctx);
  e->camera = &rc_camera;
  if (!rc) rc = mjx_expect(e, 4, 4, 2, ctx);
  if (!rc) rc = mjx_set_obs_dim(e, 10, ctx);
  if (!rc) rc = mjx_body(e, "fingertip", &p->tip, ctx);
  if (!rc) rc = mjx_body(e, "target", &p->target, ctx);
  p->w_dist = lpdm_cfg_num(cfg, "reward_dist_weight");
  p->w_ctrl = lpdm_cfg_num(cfg, "reward_control_weight");
  return mjx_created(e, rc, 0, out, ctx);
}

static int rc_reset(lpdm_env *self, int has_seed, uint64_t seed, float *obs, lpdm_ctx *ctx) {
  reacher_env *p = (reacher_env *)self;
  mjx_env *e = &p->base;
  (void)ctx;
  mjx_reset_seed(e, has_seed, seed);
  double *qpos = e->work, *qvel = e->work + 4;
  mjx_add_uniform(e, qpos, e->init_qpos, 4, -0.1, 0.1);
  double g[2];
  do {
    g[0] = lpdm_nprng_uniform(&e->rng, -0.2, 0.2);
    g[1] = lpdm_nprng_uniform(&e->rng, -0.2, 0.2);
  } while (!(sqrt(g[0] * g[0] + g[1] * g[1]) < 0.2));
  qpos[2] = g[0];
  qpos[3] = g[1];
  mjx_add_uniform(e, qvel, e->init_qvel, 4, -0.005, 0.005);
  qvel[2] = qvel[3] = 0;
  mjx_put_state(e, qpos, qvel);
  rc_observe(p, obs);
  return LPDM_OK;
}

static int rc_step(lpdm_env *self, const double *action, float *obs, double *reward,
                   int *terminated, int *truncated, lpdm_ctx *ctx) {
  reacher_env *p = (reacher_env *)self;
  mjx_env *e = &p->base;
  int div = mjx_simulate(e, action, ctx);
  if (div < 0) return div;
  const mjData *d = e->d;
  double v[3], sq[3];
  for (int i = 0; i < 3; i++) v[i] = d->xpos[3 * p->tip + i] - d->xpos[3 * p->target + i];
  double dist = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
  double reward_dist = -dist * p->w_dist;
  double reward_ctrl = -mjx_np_sumsq(action, 2, sq) * p->w_ctrl;
  *reward = reward_dist + reward_ctrl;
  *terminated = div;
  mjx_count(e, truncated);
  rc_observe(p, obs);
  return LPDM_OK;
}

static const lpdm_env_kind rc_kind = {
    .head = LPDM_PLUGIN_HEAD(
        LPDM_KIND_ENV, "env.Reacher-v5",
        "Gymnasium's Reacher-v5 (MuJoCo): bring a two-link arm's tip to a target "
        "(Box(2), Box(10))",
        rc_keys),
    .create = rc_create,
    .reset = rc_reset,
    .step = rc_step,
    .free = mjx_free,
    .get_state = mjx_get_state,
    .set_state = mjx_set_state,
    .render = mjx_render,
    .save = mjx_save,
    .load = mjx_load,
    .render_rgb = mjx_render_rgb,
    .render_info = mjx_render_info,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_reacher(void) { return &rc_kind.head; }
