/* SPDX-License-Identifier: MIT */
/*
** mj_render.c -- images of a MuJoCo env (render_rgb) with MuJoCo's own
** renderer, offscreen, through OSMesa (Mesa's software OpenGL: no display,
** no GPU). Part of the MuJoCo envs' private library (mj_env.h).
**
** HOW IT WORKS
**
** An env renders nothing until asked. Its first render_rgb makes an
** mjx_renderer: an OSMesa context with its own buffer, a private copy of the
** env's mjModel whose offscreen buffer (vis.global.offwidth, offheight) is
** grown to the size asked for and at least 480 x 480 (Gymnasium's
** MujocoEnv grows it the same way), an mjData of that copy, an mjvScene
** (1000 geoms, as Gymnasium), default mjvOption and an mjrContext
** (mjr_makeContext, font scale 150, offscreen buffer). A later request
** larger than the buffer remakes it. mjx_close frees it with the env.
**
** Each image:
**   1. copies the env's time, qpos, qvel, act, ctrl and mocap poses into the
**      private mjData and runs mj_forward there: the env's own mjData is
**      only read, so rendering never changes the simulation or the bytes
**      of a run, and the picture is a function of the state alone (the
**      env's mjData after mj_step holds the kinematics of the substep
**      before the last integration; the private one is exact);
**   2. places a free camera from the env's mjx_camera: it looks at the
**      tracked body's subtree centre of mass (x and y; z too unless the
**      camera fixes it), or at a fixed point, from distance / azimuth /
**      elevation. Gymnasium's DEFAULT_CAMERA_CONFIG names these values;
**      MuJoCo's own tracking camera smooths the lookat over frames (it
**      moves 0.2 of the way each update), which would make an image depend
**      on the frames before it, so lpdm sets the lookat itself;
**   3. mjv_updateScene, a grid of lines every metre on the ground for the
**      envs that move (the models carry no floor texture; mjx_camera.grid),
**      mjr_render into the offscreen buffer,
**      mjr_readPixels (rows bottom-up) and a flip to rows top-down.
**
** OSMesa binds a context to the calling thread, so each call makes its
** own context current first: instances render independently, one thread
** at a time per instance (as every env call). libOSMesa.so.8 itself is
** loaded (dlopen, RTLD_GLOBAL, once per process) at the first image, not
** linked: loading the plugins stays as light as before; a missing library
** is an error naming libosmesa6-dev.
**
** WITHOUT OSMESA (built without libosmesa6-dev: LPDM_HAVE_OSMESA unset)
** render_rgb fails with "rendering MuJoCo envs needs OSMesa: install
** libosmesa6-dev and rebuild"; render_info still answers. Built with it
** but run where libOSMesa.so.8 cannot be loaded, render_rgb fails with the
** loader's message and "(install libosmesa6-dev)".
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mj_env.h"

#define MJX_MIN_SIDE 480 /* Gymnasium's MujocoEnv DEFAULT_SIZE */

void mjx_render_info(const lpdm_env *self, int *w, int *h, int *fps) {
  const mjx_env *e = (const mjx_env *)self;
  *w = MJX_MIN_SIDE;
  *h = MJX_MIN_SIDE;
  /* Gymnasium: int(np.round(1.0 / self.dt)); nearbyint rounds half to even as NumPy */
  double f = e->dt > 0 ? nearbyint(1.0 / e->dt) : 0;
  *fps = f >= 1 && f <= 10000 ? (int)f : 1;
}

#ifndef LPDM_HAVE_OSMESA

struct mjx_renderer {
  int unused;
};

int mjx_render_rgb(lpdm_env *self, unsigned char *rgb, int width, int height, lpdm_ctx *ctx) {
  (void)self;
  (void)rgb;
  (void)width;
  (void)height;
  return lpdm_error(ctx, LPDM_ERR,
                    "rendering MuJoCo envs needs OSMesa: install libosmesa6-dev and rebuild");
}

void mjx_render_free(mjx_renderer *r) { free(r); }

#else

#include <dlfcn.h>
#include <pthread.h>

#include <GL/osmesa.h>

/* libOSMesa is loaded at the first image, not linked: it pulls in Mesa and
   LLVM (some 100 MB of libraries), which every process that loads the
   plugins would otherwise map, and whose loading valgrind misreads.
   RTLD_GLOBAL lets MuJoCo's own OpenGL loader find OSMesaGetProcAddress. */
#define MJX_OSMESA_LIB "libOSMesa.so.8"

typedef OSMesaContext (*create_fn)(GLenum, GLint, GLint, GLint, OSMesaContext);
typedef GLboolean (*current_fn)(OSMesaContext, void *, GLenum, GLsizei, GLsizei);
typedef void (*destroy_fn)(OSMesaContext);

static struct {
  pthread_once_t once;
  create_fn create;
  current_fn make_current;
  destroy_fn destroy;
  char err[512];
} osm = {PTHREAD_ONCE_INIT, NULL, NULL, NULL, ""};

static void gl_load(void) {
  void *lib = dlopen(MJX_OSMESA_LIB, RTLD_NOW | RTLD_GLOBAL);
  if (!lib) {
    const char *e = dlerror();
    snprintf(osm.err, sizeof osm.err, "%s", e ? e : MJX_OSMESA_LIB);
    return;
  }
  /* dlsym returns void *; a function pointer is read through memcpy (ISO C) */
  void *f[3] = {dlsym(lib, "OSMesaCreateContextExt"), dlsym(lib, "OSMesaMakeCurrent"),
                dlsym(lib, "OSMesaDestroyContext")};
  if (!f[0] || !f[1] || !f[2]) {
    snprintf(osm.err, sizeof osm.err, "%s lacks the OSMesa functions", MJX_OSMESA_LIB);
    return; /* the library stays loaded: dlclose under MuJoCo's feet is worse */
  }
  memcpy(&osm.create, &f[0], sizeof osm.create);
  memcpy(&osm.make_current, &f[1], sizeof osm.make_current);
  memcpy(&osm.destroy, &f[2], sizeof osm.destroy);
}

struct mjx_renderer {
  OSMesaContext gl;
  unsigned char *glbuf; /* OSMesa's window buffer (RGBA), side x side */
  int offw, offh;       /* the offscreen buffer's size */
  mjModel *m;           /* private copy with the grown offscreen size */
  mjData *d;            /* private data: the env's state, mj_forward */
  mjvScene scn;
  mjvOption opt;
  mjvPerturb pert;
  mjrContext con;
  int have_scn, have_con;
};

void mjx_render_free(mjx_renderer *r) {
  if (!r) return;
  if (r->gl && r->glbuf) osm.make_current(r->gl, r->glbuf, GL_UNSIGNED_BYTE, r->offw, r->offh);
  if (r->have_con) mjr_freeContext(&r->con);
  if (r->have_scn) mjv_freeScene(&r->scn);
  if (r->d) mj_deleteData(r->d);
  if (r->m) mj_deleteModel(r->m);
  if (r->gl) {
    /* unbind first: a context destroyed while current keeps its framebuffer */
    osm.make_current(NULL, NULL, GL_UNSIGNED_BYTE, 0, 0);
    osm.destroy(r->gl);
  }
  free(r->glbuf);
  free(r);
}

static int render_open(mjx_env *e, int w, int h, lpdm_ctx *ctx) {
  pthread_once(&osm.once, gl_load);
  if (!osm.create)
    return lpdm_error(ctx, LPDM_ERR,
                      "rendering MuJoCo envs needs OSMesa: %s (install libosmesa6-dev)", osm.err);
  mjx_renderer *r = calloc(1, sizeof *r);
  if (!r) return lpdm_error(ctx, LPDM_ERR_MEM, "%s: out of memory for the renderer", e->id);
  e->render = r;
  r->offw = w > e->m->vis.global.offwidth ? w : e->m->vis.global.offwidth;
  r->offh = h > e->m->vis.global.offheight ? h : e->m->vis.global.offheight;
  if (r->offw < MJX_MIN_SIDE) r->offw = MJX_MIN_SIDE;
  if (r->offh < MJX_MIN_SIDE) r->offh = MJX_MIN_SIDE;
  r->gl = osm.create(OSMESA_RGBA, 24, 8, 8, NULL);
  if (!r->gl) return lpdm_error(ctx, LPDM_ERR, "%s: OSMesa could not create a context", e->id);
  r->glbuf = malloc((size_t)r->offw * (size_t)r->offh * 4);
  if (!r->glbuf) return lpdm_error(ctx, LPDM_ERR_MEM, "%s: out of memory for the renderer", e->id);
  if (!osm.make_current(r->gl, r->glbuf, GL_UNSIGNED_BYTE, r->offw, r->offh))
    return lpdm_error(ctx, LPDM_ERR, "%s: OSMesa could not make its context current", e->id);
  r->m = mj_copyModel(NULL, e->m);
  if (!r->m) return lpdm_error(ctx, LPDM_ERR_MEM, "%s: out of memory copying the model", e->id);
  r->m->vis.global.offwidth = r->offw;
  r->m->vis.global.offheight = r->offh;
  r->d = mj_makeData(r->m);
  if (!r->d) return lpdm_error(ctx, LPDM_ERR_MEM, "%s: out of memory for the render data", e->id);
  mjv_defaultOption(&r->opt);
  mjv_defaultPerturb(&r->pert);
  mjv_defaultScene(&r->scn);
  mjv_makeScene(r->m, &r->scn, 1000);
  r->have_scn = 1;
  mjr_defaultContext(&r->con);
  mjr_makeContext(r->m, &r->con, mjFONTSCALE_150);
  r->have_con = 1;
  mjr_setBuffer(mjFB_OFFSCREEN, &r->con);
  if (r->con.currentBuffer != mjFB_OFFSCREEN)
    return lpdm_error(ctx, LPDM_ERR, "%s: MuJoCo's offscreen buffer is not available under OSMesa",
                      e->id);
  if (r->con.offWidth < w || r->con.offHeight < h)
    return lpdm_error(ctx, LPDM_ERR, "%s: MuJoCo made a %d x %d offscreen buffer, %d x %d asked",
                      e->id, r->con.offWidth, r->con.offHeight, w, h);
  return LPDM_OK;
}

/* The env's state into the private data, and its kinematics. */
static void copy_state(const mjx_env *e, mjx_renderer *r) {
  const mjModel *m = e->m;
  const mjData *s = e->d;
  mjData *d = r->d;
  d->time = s->time;
  memcpy(d->qpos, s->qpos, sizeof(mjtNum) * (size_t)m->nq);
  memcpy(d->qvel, s->qvel, sizeof(mjtNum) * (size_t)m->nv);
  if (m->na) memcpy(d->act, s->act, sizeof(mjtNum) * (size_t)m->na);
  if (m->nu) memcpy(d->ctrl, s->ctrl, sizeof(mjtNum) * (size_t)m->nu);
  if (m->nmocap) {
    memcpy(d->mocap_pos, s->mocap_pos, sizeof(mjtNum) * 3 * (size_t)m->nmocap);
    memcpy(d->mocap_quat, s->mocap_quat, sizeof(mjtNum) * 4 * (size_t)m->nmocap);
  }
  mj_forward(r->m, d);
}

static void place_camera(const mjx_env *e, const mjx_renderer *r, mjvCamera *cam) {
  const mjx_camera *c = e->camera;
  const mjModel *m = r->m;
  mjv_defaultCamera(cam);
  cam->type = mjCAMERA_FREE;
  cam->distance = c && c->distance > 0 ? c->distance : m->stat.extent;
  cam->azimuth = c ? c->azimuth : 90;
  cam->elevation = c ? c->elevation : -45;
  if (c && c->track > 0 && c->track < m->nbody) {
    const mjtNum *com = r->d->subtree_com + 3 * c->track;
    cam->lookat[0] = com[0];
    cam->lookat[1] = com[1];
    cam->lookat[2] = c->fixed_z ? c->lookat[2] : com[2];
  } else if (c && c->fixed_point) {
    for (int i = 0; i < 3; i++) cam->lookat[i] = c->lookat[i];
  } else {
    for (int i = 0; i < 3; i++) cam->lookat[i] = m->stat.center[i];
  }
}

/* Lines every metre on the ground (z = 0) around the lookat, so that a
   followed body is seen to move: lpdm's models carry no floor texture. */
static void add_grid(mjvScene *scn, const mjtNum *at) {
  const int n = 8;
  const float rgba[4] = {0.55f, 0.55f, 0.55f, 1};
  double x0 = floor(at[0]) - n, y0 = floor(at[1]) - n;
  for (int k = 0; k <= 2 * n; k++) {
    for (int dir = 0; dir < 2 && scn->ngeom < scn->maxgeom; dir++) {
      mjvGeom *g = &scn->geoms[scn->ngeom++];
      mjv_initGeom(g, mjGEOM_LINE, NULL, NULL, NULL, rgba);
      g->category = mjCAT_DECOR;
      if (dir == 0) mjv_makeConnector(g, mjGEOM_LINE, 2, x0 + k, y0, 1e-3, x0 + k, y0 + 2 * n, 1e-3);
      else mjv_makeConnector(g, mjGEOM_LINE, 2, x0, y0 + k, 1e-3, x0 + 2 * n, y0 + k, 1e-3);
    }
  }
}

int mjx_render_rgb(lpdm_env *self, unsigned char *rgb, int width, int height, lpdm_ctx *ctx) {
  mjx_env *e = (mjx_env *)self;
  mjx_renderer *r = e->render;
  if (r && (width > r->offw || height > r->offh)) { /* a larger image: a larger buffer */
    mjx_render_free(r);
    e->render = r = NULL;
  }
  if (!r) {
    int rc = render_open(e, width, height, ctx);
    if (rc) {
      mjx_render_free(e->render);
      e->render = NULL;
      return rc;
    }
    r = e->render;
  }
  if (!osm.make_current(r->gl, r->glbuf, GL_UNSIGNED_BYTE, r->offw, r->offh))
    return lpdm_error(ctx, LPDM_ERR, "%s: OSMesa could not make its context current", e->id);
  copy_state(e, r);
  mjvCamera cam;
  place_camera(e, r, &cam);
  mjv_updateScene(r->m, r->d, &r->opt, &r->pert, &cam, mjCAT_ALL, &r->scn);
  if (e->camera && e->camera->grid) add_grid(&r->scn, cam.lookat);
  mjrRect view = {0, 0, width, height};
  mjr_setBuffer(mjFB_OFFSCREEN, &r->con);
  mjr_render(view, &r->scn, &r->con);
  mjr_readPixels(rgb, NULL, view, &r->con);
  size_t row = (size_t)width * 3;
  unsigned char *tmp = malloc(row);
  if (!tmp) return lpdm_error(ctx, LPDM_ERR_MEM, "%s: out of memory", e->id);
  for (int y = 0; y < height / 2; y++) { /* bottom-up -> top-down */
    unsigned char *a = rgb + (size_t)y * row, *b = rgb + (size_t)(height - 1 - y) * row;
    memcpy(tmp, a, row);
    memcpy(a, b, row);
    memcpy(b, tmp, row);
  }
  free(tmp);
  return LPDM_OK;
}

#endif
