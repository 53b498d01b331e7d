/* SPDX-License-Identifier: MIT */
/*
** lpdm_env.c -- lpdm.Env: an env plugin's instance in Lua.
**
**   lpdm.env(id [, cfg])     Env: reset([{seed=n} | n]) -> obs;
**                            step(a) -> obs, reward, terminated, truncated
**                            (a: an integer 0..n-1 for Discrete; a table of
**                            dim numbers for Box, even Box(1): step{0.3});
**                            state(), set_state(t), render_text(), close();
**                            render([{width=, height=}]) -> image {width=,
**                            height=, rgb=<string of W*H*3 bytes, RGB24,
**                            rows top-down>} (natural size unless given;
**                            docs/rendering.md; an env without images says so);
**                            .id .name .doc .obs_dim .state_dim .max_episode_steps
**                            .action_space .observation_space .config
**                            .render_width .render_height .render_fps (nil
**                            when the env renders no images)
**
** lpdm.algo makes an Env from an id with lpdmL_pushenv (lpdm_run.c).
*/
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lpdm_aux.h"

static int env_gc(lua_State *L) {
  lenv *e = (lenv *)luaL_checkudata(L, 1, ENV_T);
  lpdm_env_free(e->env);
  e->env = NULL;
  free(e->obs); /* one block: obs, act, state */
  e->obs = NULL;
  e->act = e->state = NULL;
  return 0;
}

static lenv *check_env(lua_State *L, int i) {
  lenv *e = (lenv *)luaL_checkudata(L, i, ENV_T);
  if (!e->env) luaL_error(L, "attempt to use a closed " ENV_T);
  return e;
}

static const char *env_id(const lpdm_env *env) { return lpdm_plugin_short(&env->kind->head); }

/* Pushes a new Env of id with the config table at t (absolute; 0: none). */
lenv *lpdmL_pushenv(lua_State *L, lpdm_ctx *ctx, const char *id, int t) {
  const lpdm_plugin *p = lpdmL_getplugin(L, ctx, LPDM_KIND_ENV, id);
  lpdm_config *cfg = lpdmL_tmpbuf(L, sizeof *cfg);
  lpdmL_makeconfig(L, ctx, p, cfg, t);
  lenv *e = lpdmL_newobj(L, sizeof *e, ENV_T, 1);
  if (lpdm_env_new(ctx, (const lpdm_env_kind *)p, cfg, &e->env)) lpdmL_fail(L, ctx);
  lpdm_env *env = e->env;
  int od = env->obs_space.dim, ad = env->act_space.dim, sd = env->state_dim;
  if (od < 1 || ad < 0 || sd < 0 || od > (1 << 24) || ad > (1 << 24) || sd > (1 << 24))
    luaL_error(L, "%s: the env reports bad dimensions (obs %d, action %d, state %d)", p->name, od,
               ad, sd);
  size_t nd = (size_t)(ad < 1 ? 1 : ad) + (size_t)sd;
  e->obs = malloc((size_t)od * sizeof(float) + 8 + nd * sizeof(double));
  if (!e->obs) luaL_error(L, "%s: out of memory", p->name);
  size_t off = ((size_t)od * sizeof(float) + 7) / 8 * 8;
  e->act = (double *)(void *)((char *)e->obs + off);
  e->state = e->act + (ad < 1 ? 1 : ad);
  lua_remove(L, -2); /* cfg */
  return e;
}

/* lpdm.env(id [, cfg]) */
static int l_env(lua_State *L) {
  const char *id = luaL_checkstring(L, 1);
  int t = lpdmL_opttable(L, 2);
  lpdmL_pushenv(L, lpdmL_ctx(L), id, t);
  return 1;
}

/* env:reset([{seed=n} | n]) -> obs */
static int env_reset(lua_State *L) {
  lenv *e = check_env(L, 1);
  lpdm_ctx *ctx = lpdmL_ctx(L);
  int has_seed = 0;
  lua_Integer seed = 0;
  int t = lua_type(L, 2);
  if (t == LUA_TTABLE) {
    lua_pushnil(L);
    while (lua_next(L, 2)) {
      lua_pop(L, 1);
      if (lua_type(L, -1) != LUA_TSTRING || strcmp(lua_tostring(L, -1), "seed") != 0)
        luaL_argerror(L, 2, lua_pushfstring(L, "unknown option '%s' (known: seed)",
                                            luaL_tolstring(L, -1, NULL)));
    }
    if (lua_getfield(L, 2, "seed") != LUA_TNIL) {
      int ok = 0;
      if (lua_type(L, -1) == LUA_TNUMBER) seed = lua_tointegerx(L, -1, &ok);
      if (!ok || seed < 0) luaL_argerror(L, 2, "field 'seed' must be a non-negative integer");
      has_seed = 1;
    }
    lua_pop(L, 1);
  } else if (t == LUA_TNUMBER) {
    seed = luaL_checkinteger(L, 2);
    if (seed < 0) luaL_argerror(L, 2, "seed must be a non-negative integer");
    has_seed = 1;
  } else if (t != LUA_TNONE && t != LUA_TNIL) {
    return luaL_typeerror(L, 2, "table or integer");
  }
  if (lpdm_env_reset(e->env, ctx, has_seed, (uint64_t)seed, e->obs)) return lpdmL_fail(L, ctx);
  lpdmL_pushfvec(L, e->obs, e->env->obs_space.dim);
  return 1;
}

/* env:step(action) -> obs, reward, terminated, truncated */
static int env_step(lua_State *L) {
  lenv *e = check_env(L, 1);
  lpdm_ctx *ctx = lpdmL_ctx(L);
  lpdm_env *env = e->env;
  const lpdm_space *as = &env->act_space;
  if (as->type == LPDM_SPACE_DISCRETE) {
    e->act[0] = (double)luaL_checknumber(L, 2);
  } else {
    /* A Box action is always a table, even of one value: a bare number
       is the mistake of treating a Box env as a Discrete one. */
    if (lua_type(L, 2) != LUA_TTABLE) return luaL_typeerror(L, 2, "table");
    lua_Integer n = (lua_Integer)lua_rawlen(L, 2);
    if (n != as->dim)
      return luaL_error(L, "%s: action has %I values, expected %d (Box(%d))", env_id(env), n,
                        as->dim, as->dim);
    for (int i = 0; i < as->dim; i++) {
      if (lua_rawgeti(L, 2, i + 1) != LUA_TNUMBER)
        return luaL_error(L, "%s: action[%d] is a %s, expected a number", env_id(env), i + 1,
                          lpdmL_tname(L, -1));
      e->act[i] = (double)lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
  }
  double r = 0;
  int term = 0, trunc = 0;
  if (lpdm_env_step(env, ctx, e->act, e->obs, &r, &term, &trunc)) return lpdmL_fail(L, ctx);
  lpdmL_pushfvec(L, e->obs, env->obs_space.dim);
  lua_pushnumber(L, r);
  lua_pushboolean(L, term);
  lua_pushboolean(L, trunc);
  return 4;
}

/* env:state() -> the raw state array */
static int env_state(lua_State *L) {
  lenv *e = check_env(L, 1);
  lpdm_env *env = e->env;
  if (lpdm_env_get_state(env, lpdmL_ctx(L), e->state)) return lpdmL_fail(L, lpdmL_ctx(L));
  lpdmL_pushdvec(L, e->state, env->state_dim);
  return 1;
}

/* env:set_state{...} */
static int env_set_state(lua_State *L) {
  lenv *e = check_env(L, 1);
  lpdm_ctx *ctx = lpdmL_ctx(L);
  lpdm_env *env = e->env;
  luaL_checktype(L, 2, LUA_TTABLE);
  if (env->state_dim > 0 && env->kind->set_state) lpdmL_readvec(L, 2, env->state_dim, NULL, e->state, 2, "state");
  if (lpdm_env_set_state(env, ctx, e->state)) return lpdmL_fail(L, ctx); /* also: no state to set */
  return 0;
}

/* env:render_text() -> string: the env's one-line (or few-line) text */
static int env_render_text(lua_State *L) {
  lenv *e = check_env(L, 1);
  lpdm_env *env = e->env;
  if (!env->kind->render) return luaL_error(L, "%s: this env does not render text", env_id(env));
  luaL_Buffer b;
  char *buf = luaL_buffinitsize(L, &b, 8192);
  buf[0] = '\0';
  if (env->kind->render(env, buf, 8192)) return luaL_error(L, "%s: render_text failed", env_id(env));
  luaL_pushresultsize(&b, strlen(buf));
  return 1;
}

/* Reads field k of the options table at 2 into *v (a positive integer). */
static void render_opt(lua_State *L, const char *k, int *v) {
  if (lua_getfield(L, 2, k) != LUA_TNIL) {
    int ok = 0;
    lua_Integer n = lua_type(L, -1) == LUA_TNUMBER ? lua_tointegerx(L, -1, &ok) : 0;
    if (!ok || n < 1 || n > 8192)
      luaL_argerror(L, 2, lua_pushfstring(L, "field '%s' must be an integer in 1..8192", k));
    *v = (int)n;
  }
  lua_pop(L, 1);
}

/* env:render([{width=, height=}]) -> {width=, height=, rgb=<W*H*3 bytes>}
   (RGB24, rows top-down; the env's natural size unless given) */
static int env_render(lua_State *L) {
  lenv *e = check_env(L, 1);
  lpdm_ctx *ctx = lpdmL_ctx(L);
  lpdm_env *env = e->env;
  int w, h, fps;
  if (lpdm_env_render_info(env, ctx, &w, &h, &fps)) return lpdmL_fail(L, ctx);
  int t = lua_type(L, 2);
  if (t == LUA_TTABLE) {
    lua_pushnil(L);
    while (lua_next(L, 2)) {
      lua_pop(L, 1);
      const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
      if (!k || (strcmp(k, "width") != 0 && strcmp(k, "height") != 0))
        luaL_argerror(L, 2, lua_pushfstring(L, "unknown option '%s' (known: width, height)",
                                            luaL_tolstring(L, -1, NULL)));
    }
    render_opt(L, "width", &w);
    render_opt(L, "height", &h);
  } else if (t != LUA_TNONE && t != LUA_TNIL) {
    return luaL_typeerror(L, 2, "table");
  }
  size_t n = (size_t)w * (size_t)h * 3;
  luaL_Buffer b;
  unsigned char *rgb = (unsigned char *)luaL_buffinitsize(L, &b, n);
  if (lpdm_env_render_rgb(env, ctx, rgb, w, h)) return lpdmL_fail(L, ctx);
  luaL_pushresultsize(&b, n);
  lua_createtable(L, 0, 3);
  lua_rotate(L, -2, 1); /* table below the string */
  lua_setfield(L, -2, "rgb");
  lua_pushinteger(L, w);
  lua_setfield(L, -2, "width");
  lua_pushinteger(L, h);
  lua_setfield(L, -2, "height");
  return 1;
}

/* pushes field k of render_info (0 width, 1 height, 2 fps), nil if none */
static void push_render_info(lua_State *L, const lpdm_env *env, int which) {
  int v[3];
  if (!lpdm_env_can_render(env)) {
    lua_pushnil(L);
    return;
  }
  env->kind->render_info(env, &v[0], &v[1], &v[2]);
  lua_pushinteger(L, v[which]);
}

static int env_close(lua_State *L) {
  check_env(L, 1);
  return env_gc(L);
}

static int env_tostring(lua_State *L) {
  lenv *e = (lenv *)luaL_checkudata(L, 1, ENV_T);
  if (!e->env) lua_pushliteral(L, ENV_T "(closed)");
  else lua_pushfstring(L, ENV_T "(%s)", env_id(e->env));
  return 1;
}

/* {kind="discrete", n=} or {kind="box", shape={d}, low={...}, high={...}} */
void lpdmL_pushspace(lua_State *L, const lpdm_space *s) {
  if (s->type == LPDM_SPACE_DISCRETE) {
    lua_createtable(L, 0, 2);
    lua_pushliteral(L, "discrete");
    lua_setfield(L, -2, "kind");
    lua_pushinteger(L, s->n);
    lua_setfield(L, -2, "n");
    return;
  }
  lua_createtable(L, 0, 4);
  lua_pushliteral(L, "box");
  lua_setfield(L, -2, "kind");
  lua_createtable(L, 1, 0);
  lua_pushinteger(L, s->dim);
  lua_rawseti(L, -2, 1);
  lua_setfield(L, -2, "shape");
  for (int w = 0; w < 2; w++) {
    const double *b = w ? s->high : s->low;
    lua_createtable(L, s->dim, 0);
    for (int i = 0; i < s->dim; i++) {
      lua_pushnumber(L, b ? b[i] : (w ? HUGE_VAL : -HUGE_VAL));
      lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, w ? "high" : "low");
  }
}

static int env_index(lua_State *L) {
  if (lpdmL_method(L)) return 1;
  lenv *e = check_env(L, 1);
  lpdm_env *env = e->env;
  const char *k = lua_tostring(L, 2);
  if (!k) return 0;
  if (!strcmp(k, "id")) lua_pushstring(L, env_id(env));
  else if (!strcmp(k, "name")) lua_pushstring(L, env->kind->head.name);
  else if (!strcmp(k, "doc")) lua_pushstring(L, env->kind->head.doc ? env->kind->head.doc : "");
  else if (!strcmp(k, "obs_dim")) lua_pushinteger(L, env->obs_space.dim);
  else if (!strcmp(k, "state_dim")) lua_pushinteger(L, env->state_dim);
  else if (!strcmp(k, "max_episode_steps")) lua_pushinteger(L, env->max_episode_steps);
  else if (!strcmp(k, "action_space")) lpdmL_pushspace(L, &env->act_space);
  else if (!strcmp(k, "observation_space")) lpdmL_pushspace(L, &env->obs_space);
  else if (!strcmp(k, "config")) lpdmL_pushconfig(L, &env->cfg);
  else if (!strcmp(k, "render_width")) push_render_info(L, env, 0);
  else if (!strcmp(k, "render_height")) push_render_info(L, env, 1);
  else if (!strcmp(k, "render_fps")) push_render_info(L, env, 2);
  else lua_pushnil(L);
  return 1;
}

static const luaL_Reg env_meta[] = {
    {"__gc", env_gc}, {"__close", env_gc}, {"__tostring", env_tostring}, {NULL, NULL}};
static const luaL_Reg env_methods[] = {{"reset", env_reset},   {"step", env_step},
                                       {"state", env_state},   {"set_state", env_set_state},
                                       {"render", env_render}, {"render_text", env_render_text},
                                       {"close", env_close},
                                       {NULL, NULL}};

/* The Env type and lpdm.env. */
void lpdmL_open_env(lua_State *L, int c) {
  static const luaL_Reg funcs[] = {{"env", l_env}, {NULL, NULL}};
  lpdmL_newtype(L, c, ENV_T, env_meta, env_methods, env_index);
  lua_pushvalue(L, c);
  luaL_setfuncs(L, funcs, 1);
}
