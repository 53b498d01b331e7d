/* SPDX-License-Identifier: MIT */
/*
** lpdm_policy.c -- lpdm.Policy: a trained policy read from its file
** (run:save_policy, train.lua's DIR/policy.safetensors; docs/policy.md).
**
**   lpdm.policy(path [, {seed = 0}])   Policy (the core's lpdm_policy_load); seed
**                                      seeds the generator of stochastic acting
**   policy:act(obs [, {deterministic = false, clip = true}])
**                                      the action for one raw observation: an
**                                      integer for Discrete, a table for Box, as
**                                      run:act. deterministic = true is run:act's
**                                      action (argmax / the Gaussian's mean); else a
**                                      softmax sample or mean + std N(0, 1) (a DQN
**                                      policy acts greedily either way). A Box
**                                      action is clipped to the bounds unless
**                                      clip = false (then deterministic is exactly
**                                      run:act's, which does not clip).
**   policy:close()
**   .env (id) .env_config (table) .algo .distribution .obs_dim
**   .action_space ({kind=, n=} or {kind=, shape=, low=, high=}, as env's)
**   .meta (every metadata string of the file)
**
**   local p = lpdm.policy("runs/x/policy.safetensors")
**   local env = lpdm.env(p.env, p.env_config)
**   local a = p:act(env:reset(1000000), {deterministic = true})
*/
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "lpdm_aux.h"

typedef struct lpol {
  lpdm_policy *p;
  lpdm_rng rng;
} lpol;

static lpol *check_policy(lua_State *L, int i) {
  lpol *p = (lpol *)luaL_checkudata(L, i, POLICY_T);
  if (!p->p) luaL_error(L, "attempt to use a closed " POLICY_T);
  return p;
}

static int policy_gc(lua_State *L) {
  lpol *p = (lpol *)luaL_checkudata(L, 1, POLICY_T);
  lpdm_policy_free(p->p);
  p->p = NULL;
  return 0;
}

static int policy_close(lua_State *L) {
  check_policy(L, 1);
  return policy_gc(L);
}

/* A boolean option of the table at t (nil: dflt). */
static int opt_bool(lua_State *L, int t, const char *k, int dflt) {
  if (lua_isnoneornil(L, t)) return dflt;
  int ty = lua_getfield(L, t, k), v = ty == LUA_TNIL ? dflt : lua_toboolean(L, -1);
  if (ty != LUA_TNIL && ty != LUA_TBOOLEAN) luaL_error(L, "policy:act: option '%s' must be a boolean, got a %s", k, lpdmL_tname(L, -1));
  lua_pop(L, 1);
  return v;
}

/* lpdm.policy(path [, {seed = n}]) */
static int l_policy(lua_State *L) {
  lpdm_ctx *ctx = lpdmL_ctx(L);
  const char *path = luaL_checkstring(L, 1);
  lua_Integer seed = 0;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 2)) {
      if (lua_type(L, -2) != LUA_TSTRING || strcmp(lua_tostring(L, -2), "seed"))
        return luaL_error(L, "lpdm.policy: unknown option '%s' (known: seed)", luaL_tolstring(L, -2, NULL));
      if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0)
        return luaL_error(L, "lpdm.policy: seed must be an integer >= 0, got %s", luaL_tolstring(L, -1, NULL));
      seed = lua_tointeger(L, -1);
      lua_pop(L, 1);
    }
  }
  lua_settop(L, 1);
  lpol *p = (lpol *)lpdmL_newobj(L, sizeof *p, POLICY_T, 1);
  lpdm_rng_seed(&p->rng, (uint64_t)seed);
  lpdm_ctx_clear(ctx);
  if (lpdm_policy_load(ctx, path, &p->p)) return lpdmL_fail(L, ctx);
  return 1;
}

/* policy:act(obs [, {deterministic =, clip =}]) */
static int policy_act(lua_State *L) {
  lpol *p = check_policy(L, 1);
  lpdm_ctx *ctx = lpdmL_ctx(L);
  lua_settop(L, 3); /* the buffers go above the arguments */
  if (!lua_isnil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  const int od = lpdm_policy_obs_dim(p->p);
  const lpdm_space *sp = lpdm_policy_action_space(p->p);
  const int na = sp->type == LPDM_SPACE_BOX ? sp->dim : 1;
  float *obs = (float *)lpdmL_tmpbuf(L, (size_t)od * sizeof *obs);
  double *act = (double *)lpdmL_tmpbuf(L, (size_t)na * sizeof *act);
  lpdmL_readvec(L, 2, od, obs, NULL, 2, "obs");
  int flags = (opt_bool(L, 3, "deterministic", 0) ? LPDM_POLICY_DETERMINISTIC : 0) |
              (opt_bool(L, 3, "clip", 1) ? 0 : LPDM_POLICY_RAW);
  lpdm_ctx_clear(ctx);
  if (lpdm_policy_act(p->p, ctx, obs, flags, &p->rng, act)) return lpdmL_fail(L, ctx);
  if (sp->type == LPDM_SPACE_DISCRETE) lua_pushinteger(L, (lua_Integer)act[0]);
  else lpdmL_pushdvec(L, act, na);
  return 1;
}

/* The env's config as a table: typed by the env plugin's keys when it is
   loaded, else numbers and booleans recognised from the text. */
static void push_env_config(lua_State *L, lpdm_ctx *ctx, const lpdm_policy *p) {
  const lpdm_st *st = lpdm_policy_file(p);
  const char *id = lpdm_policy_meta(p, "env"), *mk;
  const lpdm_plugin *ek = id ? lpdm_plugin_find(ctx, LPDM_KIND_ENV, id) : NULL;
  lua_newtable(L);
  for (int i = 0; (mk = lpdm_st_meta_key(st, i)); i++) {
    if (strncmp(mk, "env_config.", 11)) continue;
    const char *k = mk + 11, *v = lpdm_st_meta(st, mk);
    int type = 0;
    for (const lpdm_key *key = ek ? ek->keys : NULL; key && key->name; key++)
      if (!strcmp(key->name, k)) type = key->type;
    if (type == LPDM_T_STRING) lua_pushstring(L, v);
    else if (!strcmp(v, "true") || !strcmp(v, "false")) lua_pushboolean(L, v[0] == 't');
    else if (!lua_stringtonumber(L, v)) lua_pushstring(L, v);
    lua_setfield(L, -2, k);
  }
}

static int policy_index(lua_State *L) {
  if (lpdmL_method(L)) return 1;
  lpol *p = check_policy(L, 1);
  const char *k = lua_tostring(L, 2);
  if (!k) return 0;
  if (!strcmp(k, "env") || !strcmp(k, "algo") || !strcmp(k, "distribution"))
    lua_pushstring(L, lpdm_policy_meta(p->p, k));
  else if (!strcmp(k, "env_config")) push_env_config(L, lpdmL_ctx(L), p->p);
  else if (!strcmp(k, "obs_dim")) lua_pushinteger(L, lpdm_policy_obs_dim(p->p));
  else if (!strcmp(k, "action_space")) lpdmL_pushspace(L, lpdm_policy_action_space(p->p));
  else if (!strcmp(k, "meta")) lpdmL_pushmeta(L, lpdm_policy_file(p->p));
  else lua_pushnil(L);
  return 1;
}

static int policy_tostring(lua_State *L) {
  lpol *p = (lpol *)luaL_checkudata(L, 1, POLICY_T);
  if (!p->p) lua_pushliteral(L, POLICY_T "(closed)");
  else lua_pushfstring(L, POLICY_T "(%s, %s)", lpdm_policy_meta(p->p, "algo"), lpdm_policy_meta(p->p, "env"));
  return 1;
}

/* The Policy type and lpdm.policy. */
void lpdmL_open_policy(lua_State *L, int c) {
  static const luaL_Reg meta[] = {{"__gc", policy_gc}, {"__close", policy_gc}, {"__tostring", policy_tostring}, {NULL, NULL}};
  static const luaL_Reg methods[] = {{"act", policy_act}, {"close", policy_close}, {NULL, NULL}};
  static const luaL_Reg funcs[] = {{"policy", l_policy}, {NULL, NULL}};
  lpdmL_newtype(L, c, POLICY_T, meta, methods, policy_index);
  lua_pushvalue(L, c);
  luaL_setfuncs(L, funcs, 1);
}
