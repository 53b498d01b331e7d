/* SPDX-License-Identifier: MIT */
/*
** lpdm_ckpt.c -- nets to and from safetensors files (docs/checkpoints.md).
**
**   lpdm.save(path, {name = net, ...} [, {optim = true, meta = {k = "v"}}])
**   lpdm.load(path [, {name = net, ...} [, {optim = true}]])
**                                      -> {meta = {...}, tensors = {name = {dtype =, shape = {...}}}}
**
** Tensors are named "<name>.<layer>.<param>" (lpdm_net_save). A whole run
** is saved by run:save (lpdm_run.c), with the holder and metadata helpers
** defined here.
*/
#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lpdm_aux.h"

static int st_gc(lua_State *L) {
  lst *h = (lst *)luaL_checkudata(L, 1, ST_T);
  lpdm_st_free(h->st);
  h->st = NULL;
  return 0;
}

/* A holder that frees its lpdm_st when collected, even after an error. */
lst *lpdmL_stholder(lua_State *L) {
  lst *h = (lst *)lua_newuserdatauv(L, sizeof *h, 0);
  h->st = NULL;
  if (luaL_newmetatable(L, ST_T)) {
    lua_pushcfunction(L, st_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return h;
}

/* The string keys of the table at t, sorted (a file's bytes must not
   depend on table order); each key must be a name of [A-Za-z0-9_]. The
   array lives in a userdata pushed on the stack. */
static const char **sorted_keys(lua_State *L, int t, int *n, const char *what) {
  int cnt = 0;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    lua_pop(L, 1);
    cnt++;
  }
  const char **k = (const char **)lua_newuserdatauv(L, (size_t)(cnt ? cnt : 1) * sizeof *k, 0);
  int i = 0;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "%s: keys must be names (strings), got a %s", what, lpdmL_tname(L, -1));
    const char *s = lua_tostring(L, -1);
    if (!*s || strlen(s) > 64) luaL_error(L, "%s: bad name '%s'", what, s);
    for (const char *c = s; *c; c++)
      if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_'))
        luaL_error(L, "%s: name '%s' may hold only letters, digits and '_'", what, s);
    k[i++] = s; /* the key stays alive in the table */
  }
  qsort(k, (size_t)cnt, sizeof *k, lpdmL_cmpstr);
  *n = cnt;
  return k;
}

static int opt_bool(lua_State *L, int t, const char *key, int dflt) {
  if (lua_isnoneornil(L, t)) return dflt;
  int ty = lua_getfield(L, t, key), v = dflt;
  if (ty == LUA_TBOOLEAN) v = lua_toboolean(L, -1);
  else if (ty != LUA_TNIL) luaL_error(L, "option '%s' must be a boolean, got a %s", key, lpdmL_tname(L, -1));
  lua_pop(L, 1);
  return v;
}

/* meta (the table at t: names to strings or numbers) into st's metadata. */
void lpdmL_setmeta(lua_State *L, lpdm_ctx *ctx, lpdm_st *st, int t, const char *what) {
  int m;
  const char **mk = sorted_keys(L, t, &m, what);
  for (int i = 0; i < m; i++) {
    lua_getfield(L, t, mk[i]);
    if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
      luaL_error(L, "%s '%s' must be a string or number, got a %s", what, mk[i], lpdmL_tname(L, -1));
    if (lpdm_st_set_meta(st, ctx, mk[i], lua_tostring(L, -1))) lpdmL_fail(L, ctx);
    lua_pop(L, 1);
  }
  lua_pop(L, 1); /* the keys */
}

/* Pushes st's metadata as a table of strings. */
void lpdmL_pushmeta(lua_State *L, const lpdm_st *st) {
  lua_newtable(L);
  const char *mk;
  for (int i = 0; (mk = lpdm_st_meta_key(st, i)) != NULL; i++) {
    lua_pushstring(L, lpdm_st_meta(st, mk));
    lua_setfield(L, -2, mk);
  }
}

/* lpdm.save(path, {name = net, ...} [, {optim = true, meta = {k = "v"}}]) */
static int l_save(lua_State *L) {
  lpdm_ctx *ctx = lpdmL_ctx(L);
  lua_settop(L, 3); /* slots 1..3 stay the arguments (nil when absent) */
  const char *path = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  int optim = opt_bool(L, 3, "optim", 1), n;
  const char **keys = sorted_keys(L, 2, &n, "lpdm.save");
  if (n == 0) return luaL_error(L, "lpdm.save: no nets to save");
  lst *h = lpdmL_stholder(L);
  if (lpdm_st_new(ctx, &h->st)) return lpdmL_fail(L, ctx);
  for (int i = 0; i < n; i++) {
    lua_getfield(L, 2, keys[i]);
    lnet *net = (lnet *)luaL_testudata(L, -1, NET_T);
    if (!net || !net->net) return luaL_error(L, "lpdm.save: '%s' must be a Net, got a %s", keys[i], lpdmL_tname(L, -1));
    if (lpdm_net_save(net->net, ctx, h->st, keys[i], optim)) return lpdmL_fail(L, ctx);
    lua_pop(L, 1);
  }
  if (lpdm_st_set_meta(h->st, ctx, "format", "lpdm") || lpdm_st_set_meta(h->st, ctx, "lpdm_version", LPDM_VERSION))
    return lpdmL_fail(L, ctx);
  if (!lua_isnoneornil(L, 3) && lua_getfield(L, 3, "meta") != LUA_TNIL) {
    int mt = lua_gettop(L);
    if (!lua_istable(L, mt)) return luaL_error(L, "lpdm.save: option 'meta' must be a table of strings");
    lpdmL_setmeta(L, ctx, h->st, mt, "lpdm.save: meta");
  }
  if (lpdm_st_write(h->st, ctx, path)) return lpdmL_fail(L, ctx);
  lpdm_st_free(h->st);
  h->st = NULL;
  return 0;
}

/* lpdm.load(path [, {name = net, ...} [, {optim = true}]]) -> {meta = {...},
   tensors = {name = {dtype =, shape = {...}}}}; with nets, each is checked
   against the file and then filled (a net that does not fit is left as it
   was, with an error naming the tensor). */
static int l_load(lua_State *L) {
  lpdm_ctx *ctx = lpdmL_ctx(L);
  lua_settop(L, 3);
  const char *path = luaL_checkstring(L, 1);
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  int optim = opt_bool(L, 3, "optim", 1);
  lst *h = lpdmL_stholder(L);
  if (lpdm_st_read(ctx, path, &h->st)) return lpdmL_fail(L, ctx);
  if (!lua_isnoneornil(L, 2)) {
    int n;
    const char **keys = sorted_keys(L, 2, &n, "lpdm.load");
    for (int i = 0; i < n; i++) {
      lua_getfield(L, 2, keys[i]);
      lnet *net = (lnet *)luaL_testudata(L, -1, NET_T);
      if (!net || !net->net) return luaL_error(L, "lpdm.load: '%s' must be a Net, got a %s", keys[i], lpdmL_tname(L, -1));
      if (lpdm_net_load(net->net, ctx, h->st, keys[i], optim))
        return luaL_error(L, "lpdm.load: %s: net '%s': %s", path, keys[i], lpdm_ctx_message(ctx));
      lua_pop(L, 1);
    }
    lua_pop(L, 1); /* keys */
  }
  lua_newtable(L);
  lpdmL_pushmeta(L, h->st);
  lua_setfield(L, -2, "meta");
  lua_newtable(L);
  for (int i = 0; i < lpdm_st_count(h->st); i++) {
    const char *nm = lpdm_st_name(h->st, i);
    int dt, nd;
    const int64_t *shape;
    size_t nb;
    lpdm_st_get(h->st, nm, &dt, &nd, &shape, &nb);
    lua_createtable(L, 0, 2);
    lua_pushstring(L, lpdm_st_dtype_name(dt));
    lua_setfield(L, -2, "dtype");
    lua_createtable(L, nd, 0);
    for (int d = 0; d < nd; d++) {
      lua_pushinteger(L, (lua_Integer)shape[d]);
      lua_rawseti(L, -2, d + 1);
    }
    lua_setfield(L, -2, "shape");
    lua_setfield(L, -2, nm);
  }
  lua_setfield(L, -2, "tensors");
  return 1;
}

/* lpdm.save, lpdm.load. */
void lpdmL_open_ckpt(lua_State *L, int c) {
  static const luaL_Reg funcs[] = {{"save", l_save}, {"load", l_load}, {NULL, NULL}};
  lua_pushvalue(L, c);
  luaL_setfuncs(L, funcs, 1);
}
