/* SPDX-License-Identifier: MIT */
/*
** lpdm_run.c -- lpdm.Run: an algorithm training nets on an env, in Lua.
**
**   lpdm.algo(name, cfg)               Run: iterate() -> {global_step=, iteration=,
**                                      episodes = { {global_step=, ret=, length=,
**                                      env_index=}, ... }, stats = {name = value}} or
**                                      nil when done; iterations() for a generic for;
**                                      act(obs); save(path [, meta]); load(path) -> meta;
**                                      save_policy(path [, meta]) (docs/policy.md);
**                                      close(); .global_step .iteration .episodes .done
**                                      .algo .config .distance .loss .env .policy .value
**     cfg keys taken by the binding: env (Env or id), env_config (with an id),
**     policy (Net, required), value (Net), distance and loss (a name,
**     {name, key = value, ...} or a Distance/Loss object; defaults
**     "euclidean" and the algorithm's own loss), distributed; every other
**     key is the algorithm's. The run itself is assembled by the core's
**     lpdm_run_new (lpdm/run.h).
**     global_step is the algorithm's "global_step" stat when it reports one,
**     else the step at which the last episode ended.
**
** A Run keeps its Env and Nets as user values, so they outlive it; it
** copies the env's config, owns its distance and loss instances, and
** counts itself as a user of its nets: a net cannot be closed, nor given
** to a second run, while an open run trains it. After run:close() the
** trained net can go on (into another run: transfer).
*/
#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lpdm/run.h"
#include "lpdm_aux.h"
#include "lpdm_mpi.h"

/* ================================================================ Run */

enum { UV_CTX = 1, UV_ENV, UV_POLICY, UV_VALUE, NUV };

typedef struct lrun {
  lpdm_run *run;         /* the core's run (run.h): algo, distance, loss */
  lnet *policy, *value;  /* kept alive by user values     */
  lpdm_episode *eps;     /* finished during one iterate() */
  int neps, caps, lost;
  int64_t global_step, iteration, episodes;
  int done, failed;
  float *obs;            /* act() buffers                 */
  double *act;
} lrun;

static const char *const run_keys[] = {"env",  "env_config",  "policy",          "value", "distance",
                                       "loss", "distributed", "total_timesteps", NULL};

/* setup.on_episode: appends to the run's buffer (never raises). */
static void on_episode(void *user, const lpdm_episode *ep) {
  lrun *r = (lrun *)user;
  if (ep->global_step > r->global_step) r->global_step = ep->global_step;
  r->episodes++;
  if (r->neps == r->caps) {
    int nc = r->caps ? 2 * r->caps : 64;
    lpdm_episode *ne = realloc(r->eps, (size_t)nc * sizeof *ne);
    if (!ne) {
      r->lost++;
      return;
    }
    r->eps = ne;
    r->caps = nc;
  }
  r->eps[r->neps++] = *ep;
}

static void release_net(lnet *n) {
  if (n && n->users > 0) n->users--;
}

static int run_gc(lua_State *L) {
  lrun *r = (lrun *)luaL_checkudata(L, 1, RUN_T);
  if (r->run) { /* released once: run is cleared below */
    lpdm_run_free(r->run);
    release_net(r->policy);
    release_net(r->value);
  }
  r->run = NULL;
  r->policy = r->value = NULL;
  free(r->eps);
  r->eps = NULL;
  r->neps = r->caps = 0;
  free(r->obs);
  r->obs = NULL;
  r->act = NULL;
  return 0;
}

static lrun *check_run(lua_State *L, int i) {
  lrun *r = (lrun *)luaL_checkudata(L, i, RUN_T);
  if (!r->run) luaL_error(L, "attempt to use a closed " RUN_T);
  return r;
}

/* The width of an action (a Discrete action is one value). */
static int run_act_dim(const lrun *r) { return r->run->act_space.dim < 1 ? 1 : r->run->act_space.dim; }

/* Reads cfg.<field> (nil: dflt, a name string, {name, key = value, ...},
   or a Distance/Loss object, whose kind and config are copied) into the
   plugin's full name and a checked config (a temporary left on the stack,
   with the field's value above it). */
static const char *run_component(lua_State *L, lpdm_ctx *ctx, int cfgt, const char *field, int kind,
                                 const char *dflt, const char *objtype, lpdm_config **pcfg) {
  lpdm_config *cfg = lpdmL_tmpbuf(L, sizeof *cfg);
  const lpdm_plugin *p = NULL;
  int ty = lua_getfield(L, cfgt, field);
  int v = lua_gettop(L);
  if (ty == LUA_TNIL || ty == LUA_TSTRING) {
    p = lpdmL_getplugin(L, ctx, kind, ty == LUA_TNIL ? dflt : lua_tostring(L, v));
    lpdmL_makeconfig(L, ctx, p, cfg, 0);
  } else if (ty == LUA_TTABLE) {
    if (lua_rawgeti(L, v, 1) != LUA_TSTRING)
      luaL_error(L, "'%s': the table's [1] must be a %s name, got a %s", field,
                 lpdm_kind_name(kind), lpdmL_tname(L, -1));
    p = lpdmL_getplugin(L, ctx, kind, lua_tostring(L, -1));
    lua_pop(L, 1);
    if (lpdm_config_init(ctx, p, cfg)) lpdmL_fail(L, ctx);
    lpdmL_fillconfig(L, ctx, cfg, p->name, v, NULL, 1, NULL);
  } else if (ty == LUA_TUSERDATA && luaL_testudata(L, v, objtype)) {
    if (kind == LPDM_KIND_DISTANCE) {
      const lpdm_distance *d = ((ldist *)lua_touserdata(L, v))->d;
      if (!d) luaL_error(L, "'%s': attempt to use a closed %s", field, objtype);
      p = &d->kind->head;
      *cfg = d->cfg;
    } else {
      const lpdm_loss *l = ((lloss *)lua_touserdata(L, v))->l;
      if (!l) luaL_error(L, "'%s': attempt to use a closed %s", field, objtype);
      p = &l->kind->head;
      *cfg = l->cfg;
    }
  } else {
    luaL_error(L, "'%s' must be a %s name, a table {name, key = value, ...} or an %s, got a %s",
               field, lpdm_kind_name(kind), objtype, lpdmL_tname(L, v));
  }
  *pcfg = cfg;
  return p->name;
}

/* cfg.<field> as a Net usable by a new run (NULL when absent and optional);
   the core checks its width against the env's. */
static lnet *run_net(lua_State *L, int cfgt, const char *field, int required, int uv, int r) {
  int ty = lua_getfield(L, cfgt, field);
  if (ty == LUA_TNIL) {
    lua_pop(L, 1);
    if (required) luaL_error(L, "lpdm.algo: '%s' (an " NET_T ") is required", field);
    return NULL;
  }
  lnet *n = (lnet *)luaL_testudata(L, -1, NET_T);
  if (!n) luaL_error(L, "lpdm.algo: '%s' must be an " NET_T ", got a %s", field, lpdmL_tname(L, -1));
  if (!n->net) luaL_error(L, "lpdm.algo: '%s': attempt to use a closed " NET_T, field);
  if (n->users > 0)
    luaL_error(L, "lpdm.algo: '%s': this " NET_T " is used by another open " RUN_T
                  " (close that run first to train the net further)",
               field);
  lua_setiuservalue(L, r, uv);
  return n;
}

/* lpdm.algo(name, cfg) -> Run: the Lua values read into an lpdm_run_spec,
   the run built by lpdm_run_new (run.h). */
static int l_algo(lua_State *L) {
  lpdm_ctx *ctx = lpdmL_ctx(L);
  const char *name = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  const lpdm_plugin *p = lpdmL_getplugin(L, ctx, LPDM_KIND_ALGO, name);
  lpdm_run_spec spec;
  memset(&spec, 0, sizeof spec);
  spec.what = "lpdm.algo";
  spec.algo = p->name;

  /* the algorithm's own config first: a typo is the likeliest error */
  lpdm_config *acfg = lpdmL_tmpbuf(L, sizeof *acfg);
  if (lpdm_config_init(ctx, p, acfg)) return lpdmL_fail(L, ctx);
  lpdmL_fillconfig(L, ctx, acfg, p->name, 2, run_keys, 0,
                   "env, env_config, policy, value, distance, loss, distributed, total_timesteps (taken by lpdm.algo)");
  /* total_timesteps: CleanRL's name for steps, as train.lua's --total-timesteps
     (unless the algorithm declares a key of that name itself) */
  if (lua_getfield(L, 2, "total_timesteps") != LUA_TNIL && lpdm_config_index(acfg, "total_timesteps") < 0) {
    if (lpdm_config_index(acfg, "steps") < 0)
      return luaL_error(L, "lpdm.algo: total_timesteps names the step budget, but %s has no 'steps' key", p->name);
    lua_getfield(L, 2, "steps");
    if (!lua_isnil(L, -1)) return luaL_error(L, "lpdm.algo: steps and total_timesteps name the same budget: give one");
    lua_pop(L, 1);
    lpdmL_setcfgvalue(L, ctx, acfg, p->name, "steps", lua_gettop(L));
  }
  lua_pop(L, 1);
  spec.algo_cfg = acfg;

  lrun *r = lpdmL_newobj(L, sizeof *r, RUN_T, NUV);
  int ri = lua_gettop(L);

  /* env: an Env object (made here from an id, so run.env is one) */
  int ety = lua_getfield(L, 2, "env");
  lenv *e = NULL;
  if (ety == LUA_TSTRING) {
    const char *id = lua_tostring(L, -1);
    int ct = 0;
    if (lua_getfield(L, 2, "env_config") != LUA_TNIL) {
      if (lua_type(L, -1) != LUA_TTABLE)
        return luaL_error(L, "lpdm.algo: 'env_config' must be a table, got a %s", lpdmL_tname(L, -1));
      ct = lua_gettop(L);
    }
    e = lpdmL_pushenv(L, ctx, id, ct);
    lua_setiuservalue(L, ri, UV_ENV);
    lua_pop(L, 2); /* env_config (or nil), id */
  } else if (ety == LUA_TUSERDATA && (e = (lenv *)luaL_testudata(L, -1, ENV_T)) != NULL) {
    if (!e->env) return luaL_error(L, "lpdm.algo: 'env': attempt to use a closed " ENV_T);
    if (lua_getfield(L, 2, "env_config") != LUA_TNIL)
      return luaL_error(L, "lpdm.algo: 'env_config' is for an env given by id; this " ENV_T
                           " is configured already");
    lua_pop(L, 1);
    lua_setiuservalue(L, ri, UV_ENV);
  } else if (ety == LUA_TNIL) {
    return luaL_error(L, "lpdm.algo: 'env' (an " ENV_T " or an env id) is required");
  } else {
    return luaL_error(L, "lpdm.algo: 'env' must be an " ENV_T " or an env id, got a %s",
                      lpdmL_tname(L, -1));
  }
  spec.env = e->env;

  /* nets */
  lnet *policy = run_net(L, 2, "policy", 1, UV_POLICY, ri);
  lnet *value = run_net(L, 2, "value", 0, UV_VALUE, ri);
  spec.policy = policy->net;
  spec.value = value ? value->net : NULL;

  /* local-learning components (temporaries stay on the stack until the run is made) */
  lpdm_config *dcfg = NULL, *lcfg = NULL;
  spec.distance_name = run_component(L, ctx, 2, "distance", LPDM_KIND_DISTANCE, "euclidean", DIST_T, &dcfg);
  spec.distance_cfg = dcfg;
  if (lua_getfield(L, 2, "loss") != LUA_TNIL) { /* else the algorithm's own default */
    spec.loss_name = run_component(L, ctx, 2, "loss", LPDM_KIND_LOSS, "guided", LOSS_T, &lcfg);
    spec.loss_cfg = lcfg;
  }

  const int obs_dim = e->env->obs_space.dim, act_dim = e->env->act_space.dim < 1 ? 1 : e->env->act_space.dim;
  r->obs = malloc((size_t)obs_dim * sizeof(float) + 8 + (size_t)act_dim * sizeof(double));
  if (!r->obs) return luaL_error(L, "lpdm.algo: out of memory");
  r->act = (double *)(void *)((char *)r->obs + ((size_t)obs_dim * sizeof(float) + 7) / 8 * 8);

  spec.on_episode = on_episode;
  spec.user = r;
  if (lua_getfield(L, 2, "distributed") != LUA_TNIL) {
    if (lua_type(L, -1) != LUA_TBOOLEAN)
      return luaL_error(L, "lpdm.algo: 'distributed' must be true or false, got a %s", lpdmL_tname(L, -1));
    if (lua_toboolean(L, -1)) spec.comm = lpdm_lua_mpi_comm(L, "lpdm.algo: distributed = true");
  }
  lua_pop(L, 1);
  if (lpdm_run_new(ctx, &spec, &r->run)) return lpdmL_fail(L, ctx);
  r->policy = policy;
  r->value = value;
  policy->users++;
  if (value) value->users++;
  lua_settop(L, ri);
  return 1;
}
/* Raises an iterate() failure: the message, prefixed by the algo's name
   unless it names it already. */
static int run_fail(lua_State *L, lrun *r, lpdm_ctx *ctx) {
  const char *m = lpdm_ctx_message(ctx);
  const char *an = r->run->kind->head.name;
  if (!*m) m = "failed (no message)";
  if (strncmp(m, an, strlen(an)) == 0) return luaL_error(L, "%s", m);
  return luaL_error(L, "%s: %s", an, m);
}

/* run:iterate() -> {global_step=, iteration=, episodes={...}, stats={...}} or nil */
static int run_iterate(lua_State *L) {
  lrun *r = check_run(L, 1);
  lpdmL_notinfn(L, RUN_T);
  lpdm_ctx *ctx = lpdmL_ctx(L);
  if (r->failed)
    return luaL_error(L, "%s: this run stopped with an error earlier; make a new one",
                      r->run->kind->head.name);
  if (r->done) {
    lua_pushnil(L);
    return 1;
  }
  r->neps = 0;
  r->lost = 0;
  lpdm_ctx_clear(ctx);
  int rc = lpdm_run_iterate(r->run, ctx);
  const lpdm_figures *st = r->run->figures;
  int nfig = lpdm_figures_count(st);
  if (rc < 0) {
    r->failed = 1;
    return run_fail(L, r, ctx);
  }
  if (rc == LPDM_DONE) {
    r->done = 1;
    if (r->neps == 0 && nfig == 0) {
      lua_pushnil(L);
      return 1;
    }
  }
  if (r->lost) return luaL_error(L, "%s: out of memory recording episodes", r->run->kind->head.name);
  r->iteration++;
  double gs;
  if (lpdm_figures_get(st, "global_step", &gs) && gs > (double)r->global_step) r->global_step = (int64_t)gs;

  lua_createtable(L, 0, 4);
  lua_pushinteger(L, (lua_Integer)r->global_step);
  lua_setfield(L, -2, "global_step");
  lua_pushinteger(L, (lua_Integer)r->iteration);
  lua_setfield(L, -2, "iteration");
  lua_createtable(L, r->neps, 0);
  for (int i = 0; i < r->neps; i++) {
    const lpdm_episode *ep = &r->eps[i];
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, (lua_Integer)ep->global_step);
    lua_setfield(L, -2, "global_step");
    lua_pushnumber(L, ep->ret);
    lua_setfield(L, -2, "ret");
    lua_pushinteger(L, ep->length);
    lua_setfield(L, -2, "length");
    lua_pushinteger(L, ep->env_index);
    lua_setfield(L, -2, "env_index");
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "episodes");
  lua_createtable(L, 0, nfig);
  for (int i = 0; i < nfig; i++) {
    const char *name = lpdm_figures_name(st, i);
    if (!name || strcmp(name, "global_step") == 0) continue;
    lua_pushnumber(L, lpdm_figures_value(st, i));
    lua_setfield(L, -2, name);
  }
  lua_setfield(L, -2, "stats");
  return 1;
}

/* for it in run:iterations() do ... end */
static int run_iterations(lua_State *L) {
  check_run(L, 1);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushcclosure(L, run_iterate, 1);
  lua_pushvalue(L, 1);
  return 2;
}

/* run:act(obs) -> action (integer for Discrete, table for Box) */
static int run_act(lua_State *L) {
  lrun *r = check_run(L, 1);
  lpdmL_notinfn(L, RUN_T);
  lpdm_ctx *ctx = lpdmL_ctx(L);
  if (!r->run->kind->act) return luaL_error(L, "%s has no act()", r->run->kind->head.name);
  lpdmL_readvec(L, 2, r->run->obs_dim, r->obs, NULL, 2, "obs");
  for (int i = 0; i < run_act_dim(r); i++) r->act[i] = 0;
  lpdm_ctx_clear(ctx);
  if (lpdm_algo_act(r->run->algo, ctx, r->obs, r->act)) return run_fail(L, r, ctx);
  if (r->run->act_space.type == LPDM_SPACE_DISCRETE) lua_pushinteger(L, (lua_Integer)r->act[0]);
  else lpdmL_pushdvec(L, r->act, run_act_dim(r));
  return 1;
}

static int run_close(lua_State *L) {
  check_run(L, 1);
  lpdmL_notinfn(L, RUN_T);
  return run_gc(L);
}

/* __close: as close, but a closed run is fine. */
static int run_close_meta(lua_State *L) {
  lrun *r = (lrun *)luaL_checkudata(L, 1, RUN_T);
  if (r->run) lpdmL_notinfn(L, RUN_T);
  return run_gc(L);
}

static int run_tostring(lua_State *L) {
  lrun *r = (lrun *)luaL_checkudata(L, 1, RUN_T);
  if (!r->run) lua_pushliteral(L, RUN_T "(closed)");
  else
    lua_pushfstring(L, RUN_T "(%s, %s, step %I%s)", lpdm_plugin_short(&r->run->kind->head), lpdm_plugin_short(&r->run->env_kind->head),
                    (lua_Integer)r->global_step, r->done ? ", done" : "");
  return 1;
}

static int run_index(lua_State *L) {
  if (lpdmL_method(L)) return 1;
  lrun *r = check_run(L, 1);
  const char *k = lua_tostring(L, 2);
  if (!k) return 0;
  if (!strcmp(k, "global_step")) lua_pushinteger(L, (lua_Integer)r->global_step);
  else if (!strcmp(k, "iteration")) lua_pushinteger(L, (lua_Integer)r->iteration);
  else if (!strcmp(k, "episodes")) lua_pushinteger(L, (lua_Integer)r->episodes);
  else if (!strcmp(k, "done")) lua_pushboolean(L, r->done);
  else if (!strcmp(k, "algo")) lua_pushstring(L, lpdm_plugin_short(&r->run->kind->head));
  else if (!strcmp(k, "config")) lpdmL_pushconfig(L, &r->run->algo->cfg);
  else if (!strcmp(k, "distance")) lua_pushstring(L, lpdm_plugin_short(&r->run->distance->kind->head));
  else if (!strcmp(k, "loss")) lua_pushstring(L, lpdm_plugin_short(&r->run->loss->kind->head));
  else if (!strcmp(k, "env")) lua_getiuservalue(L, 1, UV_ENV);
  else if (!strcmp(k, "policy")) lua_getiuservalue(L, 1, UV_POLICY);
  else if (!strcmp(k, "value")) lua_getiuservalue(L, 1, UV_VALUE);
  else lua_pushnil(L);
  return 1;
}

/* run:save(path [, meta]) -- the whole run, to continue it exactly
   (between iterations; the algorithm must support checkpoints). */
static int run_save(lua_State *L) {
  lrun *r = check_run(L, 1);
  lpdm_ctx *ctx = lpdmL_ctx(L);
  const char *path = luaL_checkstring(L, 2);
  lua_settop(L, 3);
  if (!lua_isnil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  if (r->failed) return luaL_error(L, "%s: this run stopped with an error; it cannot be saved", r->run->kind->head.name);
  lst *h = lpdmL_stholder(L);
  int64_t c[4] = {r->global_step, r->iteration, r->episodes, r->done};
  if (lpdm_st_new(ctx, &h->st) || lpdm_algo_save(r->run->algo, ctx, h->st) ||
      lpdm_state_put_i64(h->st, ctx, "run", "counters", c, 4) || lpdm_st_set_meta(h->st, ctx, "format", "lpdm") ||
      lpdm_st_set_meta(h->st, ctx, "lpdm_version", LPDM_VERSION) ||
      lpdm_st_set_meta(h->st, ctx, "algo", r->run->kind->head.name))
    return lpdmL_fail(L, ctx);
  if (!lua_isnil(L, 3)) lpdmL_setmeta(L, ctx, h->st, 3, "run:save: meta");
  if (lpdm_st_write(h->st, ctx, path)) return lpdmL_fail(L, ctx);
  lpdm_st_free(h->st);
  h->st = NULL;
  return 0;
}

/* run:save_policy(path [, meta]) -- what acting needs, as a policy file
   (lpdm_algo_export_policy; docs/policy.md), between iterations. */
static int run_save_policy(lua_State *L) {
  lrun *r = check_run(L, 1);
  lpdm_ctx *ctx = lpdmL_ctx(L);
  const char *path = luaL_checkstring(L, 2);
  lua_settop(L, 3);
  if (!lua_isnil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  if (r->failed) return luaL_error(L, "%s: this run stopped with an error; its policy cannot be saved", r->run->kind->head.name);
  lst *h = lpdmL_stholder(L);
  lpdm_ctx_clear(ctx);
  if (lpdm_st_new(ctx, &h->st) || lpdm_algo_export_policy(r->run->algo, ctx, h->st)) return lpdmL_fail(L, ctx);
  if (!lua_isnil(L, 3)) lpdmL_setmeta(L, ctx, h->st, 3, "run:save_policy: meta");
  if (lpdm_st_write(h->st, ctx, path)) return lpdmL_fail(L, ctx);
  lpdm_st_free(h->st);
  h->st = NULL;
  return 0;
}

/* run:load(path) -> meta -- a run saved by run:save, into this run, which
   must have been made with the same config and nets. A file that does not
   fit is an error and leaves the run unusable (it may be half loaded). */
static int run_load(lua_State *L) {
  lrun *r = check_run(L, 1);
  lpdm_ctx *ctx = lpdmL_ctx(L);
  const char *path = luaL_checkstring(L, 2);
  lua_settop(L, 2);
  lst *h = lpdmL_stholder(L);
  if (lpdm_st_read(ctx, path, &h->st)) return lpdmL_fail(L, ctx);
  const char *an = lpdm_st_meta(h->st, "algo");
  if (!an || strcmp(an, r->run->kind->head.name))
    return luaL_error(L, "run:load: %s was saved by %s, not %s", path, an ? an : "no algorithm", r->run->kind->head.name);
  int64_t c[4];
  if (lpdm_state_get_i64(h->st, ctx, "run", "counters", c, 4) || lpdm_algo_load(r->run->algo, ctx, h->st)) {
    r->failed = 1;
    return luaL_error(L, "run:load: %s: %s", path, lpdm_ctx_message(ctx));
  }
  r->global_step = c[0];
  r->iteration = c[1];
  r->episodes = c[2];
  r->done = c[3] != 0;
  lpdmL_pushmeta(L, h->st);
  return 1;
}

static const luaL_Reg run_meta[] = {
    {"__gc", run_gc}, {"__close", run_close_meta}, {"__tostring", run_tostring}, {NULL, NULL}};
static const luaL_Reg run_methods[] = {{"iterate", run_iterate}, {"iterations", run_iterations},
                                       {"act", run_act},         {"close", run_close},
                                       {"save", run_save},       {"load", run_load},
                                       {"save_policy", run_save_policy}, {NULL, NULL}};

/* The Run type and lpdm.algo. */
void lpdmL_open_run(lua_State *L, int c) {
  static const luaL_Reg funcs[] = {{"algo", l_algo}, {NULL, NULL}};
  lpdmL_newtype(L, c, RUN_T, run_meta, run_methods, run_index);
  lua_pushvalue(L, c);
  luaL_setfuncs(L, funcs, 1);
}
