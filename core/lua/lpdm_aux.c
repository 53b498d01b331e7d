/* SPDX-License-Identifier: MIT */
/*
** lpdm_aux.c -- the Lua binding's own auxiliary library (lpdm_aux.h), as
** lauxlib.c is Lua's: the context of a state, typed userdata, argument
** readers (numbers, rows, batches), config tables checked against a
** plugin's declared keys, and turning a context's message into a Lua error.
** Every file of the binding uses it; it defines no Lua function itself.
*/
#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lpdm_aux.h"

/* The context of this state (upvalue 1 of every function). */
lpdm_ctx *lpdmL_ctx(lua_State *L) {
  lctx *c = (lctx *)lua_touserdata(L, lua_upvalueindex(1));
  return c ? c->ctx : NULL;
}

/* Raises the context's message as a Lua error. */
int lpdmL_fail(lua_State *L, lpdm_ctx *ctx) {
  const char *m = lpdm_ctx_message(ctx);
  return luaL_error(L, "%s", m && *m ? m : "lpdm: unknown error");
}

/* Type name for messages: __name of a typed userdata, else Lua's. */
const char *lpdmL_tname(lua_State *L, int i) {
  if (luaL_getmetafield(L, i, "__name") == LUA_TSTRING) {
    const char *n = lua_tostring(L, -1);
    lua_pop(L, 1); /* still anchored in the metatable */
    return n;
  }
  return luaL_typename(L, i);
}

/* A new zeroed userdata of type tn with nuv user values, the first being
   the context. */
void *lpdmL_newobj(lua_State *L, size_t size, const char *tn, int nuv) {
  void *p = lua_newuserdatauv(L, size, nuv);
  memset(p, 0, size);
  luaL_setmetatable(L, tn);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_setiuservalue(L, -2, 1);
  return p;
}

/* A temporary buffer of n bytes, collected by Lua (pushed on the stack). */
void *lpdmL_tmpbuf(lua_State *L, size_t n) { return lua_newuserdatauv(L, n ? n : 1, 0); }

int lpdmL_checkint(lua_State *L, int arg, lua_Integer lo, lua_Integer hi, const char *what) {
  lua_Integer v = luaL_checkinteger(L, arg);
  if (v < lo || v > hi)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s must be in %I..%I, got %I", what, lo, hi, v));
  return (int)v;
}

/* Pushes an array of n values. */
void lpdmL_pushfvec(lua_State *L, const float *x, int n) {
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushnumber(L, (lua_Number)x[i]);
    lua_rawseti(L, -2, i + 1);
  }
}
void lpdmL_pushdvec(lua_State *L, const double *x, int n) {
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushnumber(L, (lua_Number)x[i]);
    lua_rawseti(L, -2, i + 1);
  }
}
/* Pushes a rows x cols matrix as an array of rows. */
void lpdmL_pushfmat(lua_State *L, const float *x, int rows, int cols) {
  lua_createtable(L, rows, 0);
  for (int i = 0; i < rows; i++) {
    lpdmL_pushfvec(L, x + (size_t)i * cols, cols);
    lua_rawseti(L, -2, i + 1);
  }
}

/* Reads the array at t (absolute index) of exactly n numbers, as argument
   `arg` of the calling function (`what` names it in messages). */
void lpdmL_readvec(lua_State *L, int t, int n, float *f, double *d, int arg, const char *what) {
  if (lua_type(L, t) != LUA_TTABLE)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s: table expected, got %s", what, lpdmL_tname(L, t)));
  lua_Integer len = (lua_Integer)lua_rawlen(L, t);
  if (len != n)
    luaL_argerror(L, arg,
                  lua_pushfstring(L, "%s has %I values, expected %d", what, len, n));
  for (int i = 0; i < n; i++) {
    if (lua_rawgeti(L, t, i + 1) != LUA_TNUMBER)
      luaL_argerror(L, arg, lua_pushfstring(L, "%s[%d] is a %s, expected a number", what, i + 1,
                                            lpdmL_tname(L, -1)));
    double v = (double)lua_tonumber(L, -1);
    if (f) f[i] = (float)v;
    if (d) d[i] = v;
    lua_pop(L, 1);
  }
}

/* Reads a batch at t: an array of rows of `width` numbers each (width <= 0:
   taken from the first row), or, when allow_row, a single row. Returns the
   rows in a temporary float buffer left on the stack. */
float *lpdmL_readbatch(lua_State *L, int t, int *width, int *B, int *single, int allow_row,
                         int arg) {
  luaL_checktype(L, t, LUA_TTABLE);
  lua_Integer n = (lua_Integer)lua_rawlen(L, t);
  if (n < 1) luaL_argerror(L, arg, "empty batch");
  int first = lua_rawgeti(L, t, 1);
  lua_pop(L, 1);
  *single = 0;
  if (first == LUA_TNUMBER && allow_row) {
    *single = 1;
    if (*width <= 0) *width = (int)(n > INT32_MAX ? INT32_MAX : n);
    float *x = lpdmL_tmpbuf(L, (size_t)*width * sizeof(float));
    lpdmL_readvec(L, t, *width, x, NULL, arg, "row");
    *B = 1;
    return x;
  }
  if (first != LUA_TTABLE)
    luaL_argerror(L, arg, lua_pushfstring(L, "batch[1] is a %s, expected a row (table)",
                                          lua_typename(L, first)));
  if (*width <= 0) {
    lua_rawgeti(L, t, 1);
    lua_Integer w = (lua_Integer)lua_rawlen(L, -1);
    lua_pop(L, 1);
    if (w < 1 || w > INT32_MAX) luaL_argerror(L, arg, "batch[1] is an empty row");
    *width = (int)w;
  }
  if (n > INT32_MAX / *width) luaL_argerror(L, arg, "batch too large");
  *B = (int)n;
  float *x = lpdmL_tmpbuf(L, (size_t)n * (size_t)*width * sizeof(float));
  int top = lua_gettop(L);
  for (int i = 0; i < *B; i++) {
    lua_rawgeti(L, t, i + 1);
    char what[32];
    snprintf(what, sizeof what, "batch[%d]", i + 1);
    lpdmL_readvec(L, top + 1, *width, x + (size_t)i * *width, NULL, arg, what);
    lua_pop(L, 1);
  }
  return x;
}

/* Pushes a config value of key i. */
void lpdmL_pushvalue(lua_State *L, const lpdm_key *k, const lpdm_value *v) {
  switch (k->type) {
    case LPDM_T_INT: lua_pushinteger(L, (lua_Integer)v->num); break;
    case LPDM_T_BOOL: lua_pushboolean(L, v->num != 0); break;
    case LPDM_T_STRING: lua_pushstring(L, v->str); break;
    default: lua_pushnumber(L, v->num); break;
  }
}

const char *lpdmL_typeword(lpdm_type t) {
  switch (t) {
    case LPDM_T_NUMBER: return "number";
    case LPDM_T_INT: return "integer";
    case LPDM_T_BOOL: return "boolean";
    case LPDM_T_STRING: return "string";
  }
  return "?";
}

/* Pushes {key = value, ...} of a config. */
void lpdmL_pushconfig(lua_State *L, const lpdm_config *cfg) {
  lua_createtable(L, 0, cfg->n);
  for (int i = 0; i < cfg->n; i++) {
    lpdmL_pushvalue(L, &cfg->keys[i], &cfg->v[i]);
    lua_setfield(L, -2, cfg->keys[i].name);
  }
}

/* Sets cfg[key] from the Lua value at v; raises on an unknown key or a
   value of the wrong type. */
void lpdmL_setcfgvalue(lua_State *L, lpdm_ctx *ctx, lpdm_config *cfg, const char *what,
                          const char *key, int v) {
  int rc;
  switch (lua_type(L, v)) {
    case LUA_TNUMBER: rc = lpdm_config_set_num(ctx, cfg, what, key, (double)lua_tonumber(L, v)); break;
    case LUA_TBOOLEAN: rc = lpdm_config_set_bool(ctx, cfg, what, key, lua_toboolean(L, v)); break;
    case LUA_TSTRING: rc = lpdm_config_set_str(ctx, cfg, what, key, lua_tostring(L, v)); break;
    default: {
      int i = lpdm_config_index(cfg, key);
      if (i < 0) {
        rc = lpdm_config_set_num(ctx, cfg, what, key, 0); /* the unknown-key message */
        break;
      }
      const char *tn = lpdmL_tname(L, v);
      lpdm_type kt = cfg->keys[i].type;
      luaL_error(L, "%s: key '%s' expects %s %s, got a %s", what, key,
                 kt == LPDM_T_INT ? "an" : "a", lpdmL_typeword(kt), tn);
      return;
    }
  }
  if (rc) lpdmL_fail(L, ctx);
}

int lpdmL_inlist(const char *s, const char *const *list) {
  for (; list && *list; list++)
    if (strcmp(s, *list) == 0) return 1;
  return 0;
}

/* Fills cfg from the table at t (absolute): string keys are config keys,
   except those in skip (handled by the caller); integer key 1 is allowed
   when positional is set (the caller reads it). extra names the caller's
   own keys in the unknown-key message. */
void lpdmL_fillconfig(lua_State *L, lpdm_ctx *ctx, lpdm_config *cfg, const char *what, int t,
                        const char *const *skip, int positional, const char *extra) {
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (lua_type(L, -2) == LUA_TSTRING) {
      const char *key = lua_tostring(L, -2);
      if (!lpdmL_inlist(key, skip)) {
        if (extra && lpdm_config_index(cfg, key) < 0) {
          lpdm_config_set_num(ctx, cfg, what, key, 0);
          luaL_error(L, "%s; also: %s", lpdm_ctx_message(ctx), extra);
        }
        lpdmL_setcfgvalue(L, ctx, cfg, what, key, lua_gettop(L));
      }
    } else if (!(positional && lua_isinteger(L, -2) && lua_tointeger(L, -2) == 1)) {
      lua_pushvalue(L, -2);
      luaL_error(L, "%s: config keys are names, got the %s key %s", what, luaL_typename(L, -1),
                 luaL_tolstring(L, -1, NULL));
    }
    lua_pop(L, 1);
  }
}

/* A config for plugin p from the table at t (0: defaults). */
void lpdmL_makeconfig(lua_State *L, lpdm_ctx *ctx, const lpdm_plugin *p, lpdm_config *cfg,
                        int t) {
  if (lpdm_config_init(ctx, p, cfg)) lpdmL_fail(L, ctx);
  if (t) lpdmL_fillconfig(L, ctx, cfg, p->name, t, NULL, 0, NULL);
}

/* The plugin of kind called name, or a Lua error listing the known ones. */
const lpdm_plugin *lpdmL_getplugin(lua_State *L, lpdm_ctx *ctx, int kind, const char *name) {
  const lpdm_plugin *p = lpdm_plugin_get(ctx, kind, name);
  if (!p) lpdmL_fail(L, ctx);
  return p;
}

/* An optional table argument: its absolute index, or 0. */
int lpdmL_opttable(lua_State *L, int arg) {
  if (lua_isnoneornil(L, arg)) return 0;
  luaL_checktype(L, arg, LUA_TTABLE);
  return lua_absindex(L, arg);
}

/* Makes the metatable tn: meta (with upvalue: the context at c), a methods
   table, and __index = index(upvalues: context, methods) or the methods. */
void lpdmL_newtype(lua_State *L, int c, const char *tn, const luaL_Reg *meta,
                    const luaL_Reg *methods, lua_CFunction index) {
  luaL_newmetatable(L, tn);
  lua_pushvalue(L, c);
  luaL_setfuncs(L, meta, 1);
  lua_newtable(L);
  lua_pushvalue(L, c);
  luaL_setfuncs(L, methods, 1);
  if (index) {
    lua_pushvalue(L, c);
    lua_pushvalue(L, -2);
    lua_pushcclosure(L, index, 2);
    lua_setfield(L, -3, "__index");
    lua_pop(L, 1);
  } else {
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
}

/* In an __index closure: pushes the method called by key 2 and returns 1,
   or returns 0 with nothing pushed. */
int lpdmL_method(lua_State *L) {
  if (lua_type(L, 2) != LUA_TSTRING) return 0;
  if (lua_getfield(L, lua_upvalueindex(2), lua_tostring(L, 2)) != LUA_TNIL) return 1;
  lua_pop(L, 1);
  return 0;
}

int lpdmL_cmpstr(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}
