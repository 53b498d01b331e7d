/*
** lpdm_lua.c -- the Lua 5.4 binding of liblpdm: `local lpdm = require("lpdm")`.
**
** The only code in lpdm that includes lua.h. Built into the `lpdm`
** executable (package.preload) and as the module lpdm.so for a plain lua5.4.
**
** LIFETIMES
**   One lpdm_ctx per Lua state, made when the module is opened, with the
**   default plugins loaded into it (an error there is a Lua error carrying
**   the loader's message). It lives in a userdata of type "lpdm.Context",
**   kept in the registry under "lpdm.context"; its __gc frees the context
**   (and so unloads the plugins). Every object holds the context userdata as
**   its first user value, and every function has it as upvalue 1. Lua runs
**   finalizers in the reverse order of their objects' creation, so the
**   context, made first, is freed after every object that uses its plugins.
**
** TYPES (one named metatable each; __gc and __close share one finalizer that
** may run twice; a closed object raises "attempt to use a closed lpdm.X")
**   lpdm.Env        an env instance             lpdm.env(id [, cfg])
**   lpdm.LayerSpec  a layer kind + checked cfg  lpdm.layer(name, cfg), lpdm.dense{...}
**   lpdm.Net        a stack of layers           lpdm.net{ inputs = 4, spec, ... }
**   lpdm.Distance   a distance instance         lpdm.distance(name [, cfg])
**   lpdm.Loss       a local-loss instance       lpdm.loss(name [, cfg])
**   lpdm.Run        an algorithm instance       lpdm.algo(name, cfg)
**   The lua layer's functions and its link to the state have their own
**   lifetimes, described at its section ("the lua layer").
**   A Run keeps its Env and Nets as user values, so they outlive it; it
**   copies the env's config, owns its distance and loss instances, and
**   counts itself as a user of its nets: a net cannot be closed, nor given
**   to a second run, while an open run trains it. After run:close() the
**   trained net can go on (into another run: transfer).
**
** THE API
**   lpdm.version                       "0.1.0"
**   lpdm.envs()                        sorted env ids
**   lpdm.plugins([kind])               { {kind=, name=, full_name=, doc=, origin=,
**                                        keys = { {name=, type=, default=, doc=}, ... } }, ... }
**   lpdm.load_plugin(path)             that plugin's table
**   lpdm.clock()                       monotonic wall-clock seconds
**   lpdm.stats.run{steps=, returns=, threshold=}, .across(values, {stuck_below=}),
**   .iqm(values), .quantile(values, p), .iqm_ci(by_task, opts), .prob_improvement(x, y, opts)
**                                      statistics over runs: docs/statistics.md
**   lpdm.env(id [, cfg])               Env: reset([{seed=n} | n]) -> obs;
**                                      step(a) -> obs, reward, terminated, truncated
**                                      (a: an integer 0..n-1 for Discrete; a table of
**                                      dim numbers for Box, even Box(1): step{0.3});
**                                      state(), set_state(t), render(), close();
**                                      .id .name .doc .obs_dim .state_dim .max_episode_steps
**                                      .action_space .observation_space .config
**   lpdm.layer(name [, cfg])           LayerSpec; cfg[1] is `out`; the binding keeps
**   lpdm.dense{out, act=, ...}           lr, optimizer ("adam"/"sgd"), weight_decay
**                                      for that layer's optimizer. .name .config
**   lpdm.lua_layer{[out,] fn = f,      LayerSpec of layer.lua: a black box running
**     flat=, straight_through=,        f(X, B, d) -> batch (see "the lua layer"
**     label=} or lpdm.lua_layer(f[, out])  below; also lpdm.layer("lua", {...}))
**   lpdm.net{inputs=, spec..., seed=0, lr=1e-3, optimizer="adam",
**            weight_decay=0, propagate="post"}
**                                      Net: forward(batch | row), params(),
**                                      set_lr(i | nil, lr), layer(i), close();
**                                      .inputs .outputs .depth
**   lpdm.distance(name [, cfg])        Distance: pairwise(batch) -> B x B
**   lpdm.loss(name [, cfg])            Loss: eval(DX, DY [, g]) -> L, dDY
**   lpdm.algo(name, cfg)               Run: iterate() -> {global_step=, iteration=,
**                                      episodes = { {global_step=, ret=, length=,
**                                      env_index=}, ... }, stats = {name = value}} or
**                                      nil when done; iterations() for a generic for;
**                                      act(obs); close(); .global_step .iteration
**                                      .episodes .done .algo .config .env .policy .value
**     cfg keys taken by the binding: env (Env or id), env_config (with an id),
**     policy (Net, required), value (Net), distance and loss (a name,
**     {name, key = value, ...} or a Distance/Loss object; defaults
**     "euclidean" and "guided"); every other key is the algorithm's.
**     global_step is the algorithm's "global_step" stat when it reports one,
**     else the step at which the last episode ended.
**
** ERRORS
**   Argument errors are Lua's own (luaL_checkudata, luaL_argerror,
**   luaL_typeerror: "bad argument #1 to 'step' (number expected, got
**   table)"). Every failing C call becomes luaL_error with the context's
**   message; nothing allocated with malloc is left behind by an error
**   (temporary buffers are Lua userdata; an object under construction is
**   already in its userdata, whose finalizer frees what was made).
**
** CONFIG TABLES
**   A config table is checked against the plugin's declared keys: numbers
**   go through lpdm_config_set_num, booleans lpdm_config_set_bool, strings
**   lpdm_config_set_str (which parses "0.5" for a numeric key, so command
**   line text can be passed as is). An unknown key is an error naming the
**   plugin and the key and listing the known keys.
*/
#include <cblas.h>
#include <float.h>
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lpdm/lpdm.h"
#include "lpdm_mpi.h"

int luaopen_lpdm(lua_State *L);

#define CTX_T "lpdm.Context"
#define ENV_T "lpdm.Env"
#define SPEC_T "lpdm.LayerSpec"
#define NET_T "lpdm.Net"
#define DIST_T "lpdm.Distance"
#define LOSS_T "lpdm.Loss"
#define RUN_T "lpdm.Run"
#define CTX_KEY "lpdm.context"

/* ================================================================ basics */

typedef struct llhost llhost; /* the lua layer's kind and its link to the state */

typedef struct lctx {
  lpdm_ctx *ctx;
  llhost *host;
} lctx;

/* The context of this state (upvalue 1 of every function). */
static lpdm_ctx *getctx(lua_State *L) {
  lctx *c = (lctx *)lua_touserdata(L, lua_upvalueindex(1));
  return c ? c->ctx : NULL;
}

/* Raises the context's message as a Lua error. */
static int fail(lua_State *L, lpdm_ctx *ctx) {
  const char *m = lpdm_ctx_message(ctx);
  return luaL_error(L, "%s", m && *m ? m : "lpdm: unknown error");
}

/* Type name for messages: __name of a typed userdata, else Lua's. */
static const char *tname(lua_State *L, int i) {
  if (luaL_getmetafield(L, i, "__name") == LUA_TSTRING) {
    const char *n = lua_tostring(L, -1);
    lua_pop(L, 1); /* still anchored in the metatable */
    return n;
  }
  return luaL_typename(L, i);
}

/* A new zeroed userdata of type tn with nuv user values, the first being
   the context. */
static void *newobj(lua_State *L, size_t size, const char *tn, int nuv) {
  void *p = lua_newuserdatauv(L, size, nuv);
  memset(p, 0, size);
  luaL_setmetatable(L, tn);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_setiuservalue(L, -2, 1);
  return p;
}

/* A temporary buffer of n bytes, collected by Lua (pushed on the stack). */
static void *tmpbuf(lua_State *L, size_t n) { return lua_newuserdatauv(L, n ? n : 1, 0); }

static int checkint(lua_State *L, int arg, lua_Integer lo, lua_Integer hi, const char *what) {
  lua_Integer v = luaL_checkinteger(L, arg);
  if (v < lo || v > hi)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s must be in %I..%I, got %I", what, lo, hi, v));
  return (int)v;
}

/* Pushes an array of n values. */
static void push_fvec(lua_State *L, const float *x, int n) {
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushnumber(L, (lua_Number)x[i]);
    lua_rawseti(L, -2, i + 1);
  }
}
static void push_dvec(lua_State *L, const double *x, int n) {
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushnumber(L, (lua_Number)x[i]);
    lua_rawseti(L, -2, i + 1);
  }
}
/* Pushes a rows x cols matrix as an array of rows. */
static void push_fmat(lua_State *L, const float *x, int rows, int cols) {
  lua_createtable(L, rows, 0);
  for (int i = 0; i < rows; i++) {
    push_fvec(L, x + (size_t)i * cols, cols);
    lua_rawseti(L, -2, i + 1);
  }
}

/* Reads the array at t (absolute index) of exactly n numbers, as argument
   `arg` of the calling function (`what` names it in messages). */
static void read_vec(lua_State *L, int t, int n, float *f, double *d, int arg, const char *what) {
  if (lua_type(L, t) != LUA_TTABLE)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s: table expected, got %s", what, tname(L, t)));
  lua_Integer len = (lua_Integer)lua_rawlen(L, t);
  if (len != n)
    luaL_argerror(L, arg,
                  lua_pushfstring(L, "%s has %I values, expected %d", what, len, n));
  for (int i = 0; i < n; i++) {
    if (lua_rawgeti(L, t, i + 1) != LUA_TNUMBER)
      luaL_argerror(L, arg, lua_pushfstring(L, "%s[%d] is a %s, expected a number", what, i + 1,
                                            tname(L, -1)));
    double v = (double)lua_tonumber(L, -1);
    if (f) f[i] = (float)v;
    if (d) d[i] = v;
    lua_pop(L, 1);
  }
}

/* Reads a batch at t: an array of rows of `width` numbers each (width <= 0:
   taken from the first row), or, when allow_row, a single row. Returns the
   rows in a temporary float buffer left on the stack. */
static float *read_batch(lua_State *L, int t, int *width, int *B, int *single, int allow_row,
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
    float *x = tmpbuf(L, (size_t)*width * sizeof(float));
    read_vec(L, t, *width, x, NULL, arg, "row");
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
  float *x = tmpbuf(L, (size_t)n * (size_t)*width * sizeof(float));
  int top = lua_gettop(L);
  for (int i = 0; i < *B; i++) {
    lua_rawgeti(L, t, i + 1);
    char what[32];
    snprintf(what, sizeof what, "batch[%d]", i + 1);
    read_vec(L, top + 1, *width, x + (size_t)i * *width, NULL, arg, what);
    lua_pop(L, 1);
  }
  return x;
}

/* Pushes a config value of key i. */
static void push_value(lua_State *L, const lpdm_key *k, const lpdm_value *v) {
  switch (k->type) {
    case LPDM_T_INT: lua_pushinteger(L, (lua_Integer)v->num); break;
    case LPDM_T_BOOL: lua_pushboolean(L, v->num != 0); break;
    case LPDM_T_STRING: lua_pushstring(L, v->str); break;
    default: lua_pushnumber(L, v->num); break;
  }
}

static const char *type_word(lpdm_type t) {
  switch (t) {
    case LPDM_T_NUMBER: return "number";
    case LPDM_T_INT: return "integer";
    case LPDM_T_BOOL: return "boolean";
    case LPDM_T_STRING: return "string";
  }
  return "?";
}

/* Pushes {key = value, ...} of a config. */
static void push_config(lua_State *L, const lpdm_config *cfg) {
  lua_createtable(L, 0, cfg->n);
  for (int i = 0; i < cfg->n; i++) {
    push_value(L, &cfg->keys[i], &cfg->v[i]);
    lua_setfield(L, -2, cfg->keys[i].name);
  }
}

/* Sets cfg[key] from the Lua value at v; raises on an unknown key or a
   value of the wrong type. */
static void set_cfg_value(lua_State *L, lpdm_ctx *ctx, lpdm_config *cfg, const char *what,
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
      const char *tn = tname(L, v);
      lpdm_type kt = cfg->keys[i].type;
      luaL_error(L, "%s: key '%s' expects %s %s, got a %s", what, key,
                 kt == LPDM_T_INT ? "an" : "a", type_word(kt), tn);
      return;
    }
  }
  if (rc) fail(L, ctx);
}

static int in_list(const char *s, const char *const *list) {
  for (; list && *list; list++)
    if (strcmp(s, *list) == 0) return 1;
  return 0;
}

/* Fills cfg from the table at t (absolute): string keys are config keys,
   except those in skip (handled by the caller); integer key 1 is allowed
   when positional is set (the caller reads it). extra names the caller's
   own keys in the unknown-key message. */
static void fill_config(lua_State *L, lpdm_ctx *ctx, lpdm_config *cfg, const char *what, int t,
                        const char *const *skip, int positional, const char *extra) {
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (lua_type(L, -2) == LUA_TSTRING) {
      const char *key = lua_tostring(L, -2);
      if (!in_list(key, skip)) {
        if (extra && lpdm_config_index(cfg, key) < 0) {
          lpdm_config_set_num(ctx, cfg, what, key, 0);
          luaL_error(L, "%s; also: %s", lpdm_ctx_message(ctx), extra);
        }
        set_cfg_value(L, ctx, cfg, what, key, lua_gettop(L));
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
static void make_config(lua_State *L, lpdm_ctx *ctx, const lpdm_plugin *p, lpdm_config *cfg,
                        int t) {
  if (lpdm_config_init(ctx, p, cfg)) fail(L, ctx);
  if (t) fill_config(L, ctx, cfg, p->name, t, NULL, 0, NULL);
}

/* The plugin of kind called name, or a Lua error listing the known ones. */
static const lpdm_plugin *get_plugin(lua_State *L, lpdm_ctx *ctx, int kind, const char *name) {
  const lpdm_plugin *p = lpdm_plugin_get(ctx, kind, name);
  if (!p) fail(L, ctx);
  return p;
}

/* An optional table argument: its absolute index, or 0. */
static int opt_table(lua_State *L, int arg) {
  if (lua_isnoneornil(L, arg)) return 0;
  luaL_checktype(L, arg, LUA_TTABLE);
  return lua_absindex(L, arg);
}

/* Makes the metatable tn: meta (with upvalue: the context at c), a methods
   table, and __index = index(upvalues: context, methods) or the methods. */
static void newtype(lua_State *L, int c, const char *tn, const luaL_Reg *meta,
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
static int method(lua_State *L) {
  if (lua_type(L, 2) != LUA_TSTRING) return 0;
  if (lua_getfield(L, lua_upvalueindex(2), lua_tostring(L, 2)) != LUA_TNIL) return 1;
  lua_pop(L, 1);
  return 0;
}

/* ================================================================ context */

static void ll_close(lctx *c);

static int ctx_gc(lua_State *L) {
  lctx *c = (lctx *)luaL_checkudata(L, 1, CTX_T);
  lpdm_ctx_free(c->ctx);
  c->ctx = NULL;
  ll_close(c);
  return 0;
}

static int ctx_tostring(lua_State *L) {
  lctx *c = (lctx *)luaL_checkudata(L, 1, CTX_T);
  if (!c->ctx) lua_pushliteral(L, "lpdm.Context (closed)");
  else lua_pushfstring(L, "lpdm.Context (%d plugins)", lpdm_plugin_count(c->ctx, 0));
  return 1;
}

/* ================================================================ plugins */

static int kind_of_name(const char *s) {
  for (int k = LPDM_KIND_DISTANCE; k <= LPDM_KIND_ALGO; k++)
    if (strcmp(s, lpdm_kind_name(k)) == 0) return k;
  return -1;
}

/* Pushes {kind=, name=, full_name=, doc=, origin=, keys={...}}. */
static void push_plugin(lua_State *L, lpdm_ctx *ctx, const lpdm_plugin *p) {
  lua_createtable(L, 0, 6);
  lua_pushstring(L, lpdm_kind_name(p->kind));
  lua_setfield(L, -2, "kind");
  lua_pushstring(L, lpdm_plugin_short(p));
  lua_setfield(L, -2, "name");
  lua_pushstring(L, p->name);
  lua_setfield(L, -2, "full_name");
  lua_pushstring(L, p->doc ? p->doc : "");
  lua_setfield(L, -2, "doc");
  const char *o = lpdm_plugin_origin(ctx, p);
  lua_pushstring(L, o ? o : "");
  lua_setfield(L, -2, "origin");
  lpdm_config *cfg = tmpbuf(L, sizeof *cfg);
  if (lpdm_config_init(ctx, p, cfg)) cfg->n = 0;
  lua_createtable(L, cfg->n, 0);
  for (int i = 0; i < cfg->n; i++) {
    const lpdm_key *k = &cfg->keys[i];
    lua_createtable(L, 0, 4);
    lua_pushstring(L, k->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, type_word(k->type));
    lua_setfield(L, -2, "type");
    push_value(L, k, &cfg->v[i]);
    lua_setfield(L, -2, "default");
    lua_pushstring(L, k->doc ? k->doc : "");
    lua_setfield(L, -2, "doc");
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -3, "keys");
  lua_pop(L, 1); /* cfg */
  if (p->kind == LPDM_KIND_ALGO) { /* its default local loss, "guided" unless it names one */
    const lpdm_algo_kind *ak = (const lpdm_algo_kind *)p;
    lua_pushstring(L, ak->head.abi_minor >= 2 && ak->local_loss ? ak->local_loss : "guided");
    lua_setfield(L, -2, "local_loss");
  }
}

/* lpdm.plugins([kind]) -> array of plugin tables, in load order. */
static int l_plugins(lua_State *L) {
  lpdm_ctx *ctx = getctx(L);
  int kind = 0;
  if (!lua_isnoneornil(L, 1)) {
    kind = kind_of_name(luaL_checkstring(L, 1));
    if (kind < 0)
      luaL_argerror(L, 1, lua_pushfstring(L, "unknown kind '%s' (known: distance, loss, layer, "
                                             "env, algo)", lua_tostring(L, 1)));
  }
  int n = lpdm_plugin_count(ctx, kind);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    push_plugin(L, ctx, lpdm_plugin_at(ctx, kind, i));
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* lpdm.envs() -> sorted array of env ids. */
static int l_envs(lua_State *L) {
  lpdm_ctx *ctx = getctx(L);
  int n = lpdm_plugin_count(ctx, LPDM_KIND_ENV);
  const char **ids = tmpbuf(L, (size_t)n * sizeof *ids);
  for (int i = 0; i < n; i++) ids[i] = lpdm_plugin_short(lpdm_plugin_at(ctx, LPDM_KIND_ENV, i));
  qsort(ids, (size_t)n, sizeof *ids, cmp_str);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushstring(L, ids[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* lpdm.load_plugin(path) -> the plugin's table. */
static int l_load_plugin(lua_State *L) {
  lpdm_ctx *ctx = getctx(L);
  const char *path = luaL_checkstring(L, 1);
  int before = lpdm_plugin_count(ctx, 0);
  if (lpdm_plugin_load(ctx, path)) return fail(L, ctx);
  push_plugin(L, ctx, lpdm_plugin_at(ctx, 0, before));
  return 1;
}

/* lpdm.clock() -> seconds of a monotonic wall clock (for timing runs). */
static int l_clock(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
  return 1;
}

/* lpdm.blas_threads() -> the number of threads OpenBLAS uses (the `lpdm`
   executable sets 1 unless OPENBLAS_NUM_THREADS or OMP_NUM_THREADS is set;
   results do not depend on it). */
static int l_blas_threads(lua_State *L) {
  lua_pushinteger(L, openblas_get_num_threads());
  return 1;
}

/* ================================================================ Env */

typedef struct lenv {
  lpdm_env *env;
  float *obs;
  double *act, *state;
} lenv;

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
static lenv *push_env(lua_State *L, lpdm_ctx *ctx, const char *id, int t) {
  const lpdm_plugin *p = get_plugin(L, ctx, LPDM_KIND_ENV, id);
  lpdm_config *cfg = tmpbuf(L, sizeof *cfg);
  make_config(L, ctx, p, cfg, t);
  lenv *e = newobj(L, sizeof *e, ENV_T, 1);
  if (lpdm_env_new(ctx, (const lpdm_env_kind *)p, cfg, &e->env)) fail(L, ctx);
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
  int t = opt_table(L, 2);
  push_env(L, getctx(L), id, t);
  return 1;
}

/* env:reset([{seed=n} | n]) -> obs */
static int env_reset(lua_State *L) {
  lenv *e = check_env(L, 1);
  lpdm_ctx *ctx = getctx(L);
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
  if (lpdm_env_reset(e->env, ctx, has_seed, (uint64_t)seed, e->obs)) return fail(L, ctx);
  push_fvec(L, e->obs, e->env->obs_space.dim);
  return 1;
}

/* env:step(action) -> obs, reward, terminated, truncated */
static int env_step(lua_State *L) {
  lenv *e = check_env(L, 1);
  lpdm_ctx *ctx = getctx(L);
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
                          tname(L, -1));
      e->act[i] = (double)lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
  }
  double r = 0;
  int term = 0, trunc = 0;
  if (lpdm_env_step(env, ctx, e->act, e->obs, &r, &term, &trunc)) return fail(L, ctx);
  push_fvec(L, e->obs, env->obs_space.dim);
  lua_pushnumber(L, r);
  lua_pushboolean(L, term);
  lua_pushboolean(L, trunc);
  return 4;
}

/* env:state() -> the raw state array */
static int env_state(lua_State *L) {
  lenv *e = check_env(L, 1);
  lpdm_env *env = e->env;
  if (lpdm_env_get_state(env, getctx(L), e->state)) return fail(L, getctx(L));
  push_dvec(L, e->state, env->state_dim);
  return 1;
}

/* env:set_state{...} */
static int env_set_state(lua_State *L) {
  lenv *e = check_env(L, 1);
  lpdm_ctx *ctx = getctx(L);
  lpdm_env *env = e->env;
  luaL_checktype(L, 2, LUA_TTABLE);
  if (env->state_dim > 0 && env->kind->set_state) read_vec(L, 2, env->state_dim, NULL, e->state, 2, "state");
  if (lpdm_env_set_state(env, ctx, e->state)) return fail(L, ctx); /* also: no state to set */
  return 0;
}

/* env:render() -> string */
static int env_render(lua_State *L) {
  lenv *e = check_env(L, 1);
  lpdm_env *env = e->env;
  if (!env->kind->render) return luaL_error(L, "%s: this env does not render", env_id(env));
  luaL_Buffer b;
  char *buf = luaL_buffinitsize(L, &b, 8192);
  buf[0] = '\0';
  if (env->kind->render(env, buf, 8192)) return luaL_error(L, "%s: render failed", env_id(env));
  luaL_pushresultsize(&b, strlen(buf));
  return 1;
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
static void push_space(lua_State *L, const lpdm_space *s) {
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
  if (method(L)) return 1;
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
  else if (!strcmp(k, "action_space")) push_space(L, &env->act_space);
  else if (!strcmp(k, "observation_space")) push_space(L, &env->obs_space);
  else if (!strcmp(k, "config")) push_config(L, &env->cfg);
  else lua_pushnil(L);
  return 1;
}

/* ================================================================ the lua layer

   "layer.lua": a black-box layer whose forward is a Lua function, registered
   into this state's context when the module opens (lpdm_plugin_register,
   origin "lpdm Lua binding"). It is defined here, the only code that may
   call Lua; core and plugins see an ordinary layer kind without backward.

   THE FUNCTION
     fn(X, B, d) gets the batch X (B rows of d numbers, as net:forward
     takes them; with flat = true one flat row-major array of B * d
     numbers) and returns the output batch, as rows or flat (either shape is
     accepted): B rows of `out` numbers each. Anything else (not a table,
     another number of rows or values, a non-number, NaN, Inf, a value
     beyond float range) is an error naming the layer; so is an error
     raised by fn, whose message is kept. Input tables are new at each call.

   LIFETIME
     * The functions live in a table in the registry (key: FNS_KEY, a light
       userdata): fns[id] = { fn, holders }. A LayerSpec holds its function
       (one holder), and so does every layer instance made from it (a net
       may outlive its spec; lpdm_net_clone, as PPO's critic, makes more).
       The config of the layer carries only the id (key `fn`), an integer
       never reused within the state, so a stale id is an error, never
       another function.
     * The kind descriptor and the link to the state live in a malloc'd
       llhost, counted by the context and by every instance: it outlives
       both, so a layer freed after its state closed still finds its kind.
       When the context is finalized (lua_close: the context is the first
       lpdm object of a state, so it is finalized last) host->T becomes
       NULL, and a lua layer still alive (held by C code past lua_close)
       then refuses to run: "its Lua state is closed".
     * fn runs on a thread of its own (host->T, anchored in the registry),
       never on whatever coroutine is running, inside lua_pcall: an error in
       fn, or a memory error building the tables, is a message, never a
       crash. A mutex serialises the calls, so PPO's worker thread
       (threads = 2), which runs the critic while the caller runs the
       actor, may hold lua layers too: their functions take turns.
     * While fn runs, the net calling it is in the middle of a pass (its
       buffers in use): nets and runs refuse to forward, train, act or
       close ("cannot be used inside a lua layer's function"), and a lua
       layer called again from inside fn refuses to run. */

#define LL_NAME "layer.lua"

struct llhost {
  lpdm_layer_kind kind; /* first: what the context registers */
  lua_State *T;         /* where the functions run; NULL once the state is closed */
  pthread_mutex_t mu;   /* error-checking: one call at a time, re-entry detected */
  int refs;             /* the context + one per layer instance */
  int calling;          /* > 0 while a function runs */
  lua_Integer next_id;  /* the next function id */
};

typedef struct llayer {
  lpdm_layer base;
  llhost *host;
  lua_Integer id;
  int flat;
  char what[LPDM_STRLEN + 16]; /* "layer.lua 'label'" for messages */
} llayer;

/* Registry keys (light userdata): two addresses within one object, so
   distinct whatever the compiler merges. */
static const char ll_anchor[2] = {0, 0};
#define FNS_KEY ((const void *)&ll_anchor[0])    /* the functions table */
#define THREAD_KEY ((const void *)&ll_anchor[1]) /* host->T             */

static const lpdm_key ll_keys[] = {
    {"out", LPDM_T_INT, "0", "output width (0: the input width)"},
    {"fn", LPDM_T_INT, "0", "the function's id, set by the binding from fn = <function>"},
    {"flat", LPDM_T_BOOL, "false", "pass the batch as one flat row-major array, not as rows"},
    {"straight_through", LPDM_T_BOOL, "false", "bp mode: pass the gradient through unchanged (out = input width)"},
    {"label", LPDM_T_STRING, "", "a name for messages"},
    {NULL, 0, NULL, NULL}};

/* Takes the host's lock: 1 when this call took it (unlock after), 0 when
   this OS thread holds it already (inside a function). */
static int host_lock(llhost *h) { return pthread_mutex_lock(&h->mu) == 0; }

/* Drops one reference (under the lock the caller took, or holds already)
   and says whether it was the last: the caller then frees the host, which
   nobody else can reach any more. */
static int host_unref(llhost *h) { return --h->refs == 0; }

static void host_free(llhost *h) {
  pthread_mutex_destroy(&h->mu);
  free(h);
}

/* Adds delta to the holders of function id on thread L (dropping it at
   zero). Allocates nothing, so it is safe outside a protected call.
   Returns 0 when id is unknown. */
static int fn_hold(lua_State *L, lua_Integer id, int delta) {
  if (!lua_checkstack(L, 3)) return 0;
  int found = 0;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, FNS_KEY) == LUA_TTABLE) {
    if (lua_rawgeti(L, -1, id) == LUA_TTABLE) {
      lua_rawgeti(L, -1, 2);
      lua_Integer n = lua_tointeger(L, -1) + delta;
      lua_pop(L, 1);
      found = 1;
      if (n > 0) {
        lua_pushinteger(L, n);
        lua_rawseti(L, -2, 2);
      } else {
        lua_pushnil(L);
        lua_rawseti(L, -3, id);
      }
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return found;
}

/* Registers the function at index f (one holder: the caller) and returns
   its id. May raise (memory): call it from Lua only. */
static lua_Integer fn_register(lua_State *L, llhost *h, int f) {
  f = lua_absindex(L, f);
  lua_rawgetp(L, LUA_REGISTRYINDEX, FNS_KEY);
  lua_createtable(L, 2, 0);
  lua_pushvalue(L, f);
  lua_rawseti(L, -2, 1);
  lua_pushinteger(L, 1);
  lua_rawseti(L, -2, 2);
  lua_Integer id = h->next_id++;
  lua_rawseti(L, -2, id);
  lua_pop(L, 1);
  return id;
}

static void ll_free(lpdm_layer *self) {
  llayer *l = (llayer *)self;
  if (!l) return;
  llhost *h = l->host;
  int own = host_lock(h);
  if (h->T) fn_hold(h->T, l->id, -1);
  int last = host_unref(h); /* never while a function runs: that layer holds h */
  if (own) pthread_mutex_unlock(&h->mu);
  free(l);
  if (last) host_free(h);
}

static int ll_init(const lpdm_layer_kind *kind, const lpdm_config *cfg, int in, lpdm_rng *rng,
                   lpdm_layer **out, lpdm_ctx *ctx) {
  llhost *h = (llhost *)(void *)kind;
  const char *label = lpdm_cfg_str(cfg, "label");
  char what[LPDM_STRLEN + 16];
  if (*label) snprintf(what, sizeof what, LL_NAME " '%s'", label);
  else snprintf(what, sizeof what, LL_NAME);
  int width = lpdm_cfg_int(cfg, "out");
  lua_Integer id = (lua_Integer)lpdm_cfg_num(cfg, "fn");
  if (width < 0) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: out must be >= 0 (0: the input width), got %d", what, width);
  if (width == 0) width = in;
  if (lpdm_cfg_bool(cfg, "straight_through") && width != in)
    return lpdm_error(ctx, LPDM_ERR_ARG,
                      "%s: straight_through passes the gradient unchanged, which needs out = the input width "
                      "(%d), got out = %d",
                      what, in, width);
  if (id <= 0)
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: no function (make it with lpdm.lua_layer{ fn = function(X) ... end })",
                      what);
  llayer *l = calloc(1, sizeof *l);
  if (!l) return lpdm_error(ctx, LPDM_ERR_MEM, "%s: out of memory", what);
  int own = host_lock(h);
  int rc = LPDM_OK;
  if (!h->T)
    rc = lpdm_error(ctx, LPDM_ERR, "%s: its Lua state is closed", what);
  else if (!fn_hold(h->T, id, +1))
    rc = lpdm_error(ctx, LPDM_ERR_ARG,
                    "%s: function #%lld is gone (its LayerSpec and every layer made from it were collected)",
                    what, (long long)id);
  else
    h->refs++;
  if (own) pthread_mutex_unlock(&h->mu);
  if (rc) {
    free(l);
    return rc;
  }
  l->host = h;
  l->id = id;
  l->flat = lpdm_cfg_bool(cfg, "flat");
  memcpy(l->what, what, sizeof what);
  l->base.in_dim = in;
  l->base.out_dim = width;
  l->base.nparams = 0;
  *out = &l->base;
  return LPDM_OK;
}

/* What a call needs and gives back (passed to ll_call as light userdata). */
typedef struct llcall {
  llayer *l;
  const float *X;
  float *Y;
  int B;
  int user; /* 1 when the error came from fn itself */
} llcall;

/* Message handler of fn's own errors: any error value to a string. */
static int ll_msgh(lua_State *T) {
  if (lua_type(T, 1) == LUA_TSTRING) return 1;
  if (lua_type(T, 1) == LUA_TNUMBER) {
    lua_tostring(T, 1);
    return 1;
  }
  if (luaL_callmeta(T, 1, "__tostring") && lua_type(T, -1) == LUA_TSTRING) return 1;
  lua_pushfstring(T, "(error object is a %s value)", luaL_typename(T, 1));
  return 1;
}

/* One value of the result: a finite number within float range. */
static float ll_value(lua_State *T, int i, int j, int flatpos) {
  if (lua_type(T, -1) != LUA_TNUMBER) {
    if (flatpos) luaL_error(T, "fn returned a %s at [%d], expected a number", luaL_typename(T, -1), flatpos);
    luaL_error(T, "fn returned a %s at row %d, column %d, expected a number", luaL_typename(T, -1), i + 1, j + 1);
  }
  double v = (double)lua_tonumber(T, -1);
  if (!isfinite(v) || fabs(v) > FLT_MAX) {
    if (flatpos) luaL_error(T, "fn returned %f at [%d]: not a finite float", (lua_Number)v, flatpos);
    luaL_error(T, "fn returned %f at row %d, column %d: not a finite float", (lua_Number)v, i + 1, j + 1);
  }
  lua_pop(T, 1);
  return (float)v;
}

/* Protected: builds the input, calls fn, reads and checks its result. */
static int ll_call(lua_State *T) {
  llcall *c = (llcall *)lua_touserdata(T, 1);
  llayer *l = c->l;
  const int B = c->B, d = l->base.in_dim, w = l->base.out_dim;
  lua_pushcfunction(T, ll_msgh);
  int mh = lua_gettop(T);
  lua_rawgetp(T, LUA_REGISTRYINDEX, FNS_KEY);
  if (lua_rawgeti(T, -1, l->id) != LUA_TTABLE || lua_rawgeti(T, -1, 1) != LUA_TFUNCTION)
    return luaL_error(T, "its function is gone");
  lua_replace(T, -3); /* fn where the fns table was */
  lua_pop(T, 1);
  luaL_checkstack(T, 8, "lua layer call");
  if (l->flat) push_fvec(T, c->X, B * d);
  else push_fmat(T, c->X, B, d);
  lua_pushinteger(T, B);
  lua_pushinteger(T, d);
  if (lua_pcall(T, 3, 1, mh) != LUA_OK) {
    c->user = 1;
    return lua_error(T);
  }
  if (lua_type(T, -1) != LUA_TTABLE)
    return luaL_error(T, "fn must return a batch (%d rows of %d numbers, or %d numbers), got a %s", B, w, B * w,
                      luaL_typename(T, -1));
  int r = lua_gettop(T);
  lua_Integer n = (lua_Integer)lua_rawlen(T, r);
  int first = lua_rawgeti(T, r, 1);
  lua_pop(T, 1);
  if (first == LUA_TNUMBER || (n == 0 && B * w == 0)) { /* flat */
    if (n != (lua_Integer)B * w)
      return luaL_error(T, "fn returned %I values, expected %d (%d rows of %d)", n, B * w, B, w);
    for (int k = 0; k < B * w; k++) {
      lua_rawgeti(T, r, k + 1);
      c->Y[k] = ll_value(T, 0, 0, k + 1);
    }
    return 0;
  }
  if (n != B)
    return luaL_error(T, "fn returned %I rows, expected %d (one per input row)", n, B);
  for (int i = 0; i < B; i++) {
    if (lua_rawgeti(T, r, i + 1) != LUA_TTABLE)
      return luaL_error(T, "fn returned a %s as row %d, expected a table of %d numbers", luaL_typename(T, -1),
                        i + 1, w);
    lua_Integer m = (lua_Integer)lua_rawlen(T, -1);
    if (m != w) return luaL_error(T, "fn returned %I values in row %d, expected %d (out)", m, i + 1, w);
    int row = lua_gettop(T);
    for (int j = 0; j < w; j++) {
      lua_rawgeti(T, row, j + 1);
      c->Y[(size_t)i * w + j] = ll_value(T, i, j, 0);
    }
    lua_pop(T, 1);
  }
  return 0;
}

static int ll_forward(lpdm_layer *self, const float *X, int B, float *Y, lpdm_ctx *ctx) {
  llayer *l = (llayer *)self;
  llhost *h = l->host;
  if (!host_lock(h))
    return lpdm_error(ctx, LPDM_ERR, "%s: called from inside a lua layer's function (nets cannot run there)",
                      l->what);
  lua_State *T = h->T;
  int rc = LPDM_OK;
  if (!T) {
    rc = lpdm_error(ctx, LPDM_ERR, "%s: its Lua state is closed (a lua layer runs only while the state that "
                                   "made it is open)",
                    l->what);
  } else if (!lua_checkstack(T, 4)) {
    rc = lpdm_error(ctx, LPDM_ERR_MEM, "%s: no Lua stack space", l->what);
  } else {
    int top = lua_gettop(T);
    llcall c = {l, X, Y, B, 0};
    lua_pushcfunction(T, ll_call);
    lua_pushlightuserdata(T, &c);
    h->calling++;
    int st = lua_pcall(T, 1, 0, 0);
    h->calling--;
    if (st != LUA_OK) {
      const char *m = lua_tostring(T, -1);
      rc = lpdm_error(ctx, st == LUA_ERRMEM ? LPDM_ERR_MEM : c.user ? LPDM_ERR : LPDM_ERR_ARG, "%s: %s%s",
                      l->what, c.user ? "fn raised an error: " : "", m ? m : "(no message)");
    }
    lua_settop(T, top);
  }
  pthread_mutex_unlock(&h->mu);
  return rc;
}

/* Makes this state's host and registers layer.lua into ctx. */
static void ll_open(lua_State *L, lctx *c) {
  llhost *h = calloc(1, sizeof *h);
  if (!h) luaL_error(L, "lpdm: out of memory");
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
  int e = pthread_mutex_init(&h->mu, &a);
  pthread_mutexattr_destroy(&a);
  if (e) {
    free(h);
    luaL_error(L, "lpdm: cannot make a mutex: %s", strerror(e));
  }
  const lpdm_layer_kind proto = {
      LPDM_PLUGIN_HEAD(LPDM_KIND_LAYER, LL_NAME, "a Lua function from a batch to a batch (black box)", ll_keys),
      ll_init, ll_forward, ll_free, NULL};
  h->kind = proto;
  h->refs = 1;
  h->next_id = 1;
  c->host = h; /* the context's finalizer releases it from now on */
  lua_newtable(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, FNS_KEY);
  h->T = lua_newthread(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, THREAD_KEY);
  if (lpdm_plugin_register(c->ctx, &h->kind.head, "lpdm Lua binding")) luaL_error(L, "%s", lpdm_ctx_message(c->ctx));
}

/* At the context's finalizer (lua_close): layers still alive in C refuse to
   run from now on; the host lives until the last of them is freed. */
static void ll_close(lctx *c) {
  llhost *h = c->host;
  if (!h) return;
  c->host = NULL;
  int own = host_lock(h);
  h->T = NULL;
  int last = host_unref(h);
  if (own) pthread_mutex_unlock(&h->mu);
  if (last) host_free(h);
}

/* The host of this state (upvalue 1 of every function). */
static llhost *gethost(lua_State *L) {
  lctx *c = (lctx *)lua_touserdata(L, lua_upvalueindex(1));
  return c ? c->host : NULL;
}

/* Raises when a lua layer's function is running: `what` cannot be used
   now (the net running it is mid-pass). */
static void not_in_fn(lua_State *L, const char *what) {
  llhost *h = gethost(L);
  if (h && h->calling > 0)
    luaL_error(L, "%s cannot be used inside a lua layer's function (it runs in the middle of a network's pass)",
               what);
}

/* ================================================================ LayerSpec */

typedef struct lspec {
  const lpdm_layer_kind *kind;
  lpdm_config cfg;
  double lr; /* NaN: the net's          */
  int opt;   /* 0: the net's            */
  double wd; /* NaN: the net's          */
  lua_Integer fn; /* layer.lua: the function it holds (0: none) */
} lspec;

static const char *const spec_keys[] = {"lr", "optimizer", "weight_decay", NULL};
static const char *const lua_spec_keys[] = {"lr", "optimizer", "weight_decay", "fn", NULL};

static int spec_gc(lua_State *L) {
  lspec *s = (lspec *)luaL_checkudata(L, 1, SPEC_T);
  s->kind = NULL; /* the kind is the context's */
  if (s->fn) fn_hold(L, s->fn, -1); /* layer.lua: let go of the function */
  s->fn = 0;
  return 0;
}

static lspec *check_spec(lua_State *L, int i) {
  lspec *s = (lspec *)luaL_checkudata(L, i, SPEC_T);
  if (!s->kind) luaL_error(L, "attempt to use a closed " SPEC_T);
  return s;
}

/* A number field of the table at t, or dflt when absent; checks >= 0. */
static double opt_rate(lua_State *L, int t, const char *field, double dflt, const char *what) {
  double v = dflt;
  int ty = lua_getfield(L, t, field);
  if (ty != LUA_TNIL) {
    if (ty != LUA_TNUMBER)
      luaL_error(L, "%s: '%s' expects a number, got a %s", what, field, tname(L, -1));
    v = (double)lua_tonumber(L, -1);
    if (!(v >= 0) || !isfinite(v))
      luaL_error(L, "%s: '%s' must be finite and >= 0, got %f", what, field, (lua_Number)v);
  }
  lua_pop(L, 1);
  return v;
}

/* An optimizer name field of the table at t, or dflt when absent. */
static int opt_optimizer(lua_State *L, int t, int dflt, const char *what) {
  int v = dflt;
  int ty = lua_getfield(L, t, "optimizer");
  if (ty != LUA_TNIL) {
    if (ty != LUA_TSTRING)
      luaL_error(L, "%s: 'optimizer' expects a string, got a %s", what, tname(L, -1));
    v = lpdm_optim_type_parse(lua_tostring(L, -1));
    if (!v)
      luaL_error(L, "%s: unknown optimizer '%s' (known: adam, sgd)", what, lua_tostring(L, -1));
  }
  lua_pop(L, 1);
  return v;
}

/* Pushes a LayerSpec of the layer kind called name, with the config table
   at t (absolute; 0: defaults); [1] of the table is the `out` key. */
static int push_spec(lua_State *L, const char *name, int t) {
  lpdm_ctx *ctx = getctx(L);
  const lpdm_plugin *p = get_plugin(L, ctx, LPDM_KIND_LAYER, name);
  lspec *s = newobj(L, sizeof *s, SPEC_T, 1);
  s->lr = NAN;
  s->wd = NAN;
  if (lpdm_config_init(ctx, p, &s->cfg)) return fail(L, ctx);
  llhost *h = gethost(L);
  int is_lua = h && p == &h->kind.head;
  if (is_lua) { /* the binding takes fn: the config gets its id */
    int ty = t ? lua_getfield(L, t, "fn") : LUA_TNIL;
    if (ty != LUA_TFUNCTION)
      return luaL_error(L, LL_NAME ": 'fn' (a function from a batch to a batch) is required, got a %s",
                        t ? tname(L, -1) : "nil");
    s->fn = fn_register(L, h, -1);
    lua_pop(L, 1);
    if (lpdm_config_set_num(ctx, &s->cfg, p->name, "fn", (double)s->fn)) return fail(L, ctx);
  }
  if (t) {
    if (lua_rawgeti(L, t, 1) != LUA_TNIL) set_cfg_value(L, ctx, &s->cfg, p->name, "out", lua_gettop(L));
    lua_pop(L, 1);
    fill_config(L, ctx, &s->cfg, p->name, t, is_lua ? lua_spec_keys : spec_keys, 1,
                is_lua ? "fn (the function), lr, optimizer, weight_decay"
                       : "lr, optimizer, weight_decay (per layer, for its optimizer)");
    s->lr = opt_rate(L, t, "lr", NAN, p->name);
    s->wd = opt_rate(L, t, "weight_decay", NAN, p->name);
    s->opt = opt_optimizer(L, t, 0, p->name);
  }
  s->kind = (const lpdm_layer_kind *)p;
  return 1;
}

/* lpdm.layer(name [, cfg]) */
static int l_layer(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  return push_spec(L, name, opt_table(L, 2));
}

/* lpdm.lua_layer{ [out,] fn = f, flat =, straight_through =, label = } or
   lpdm.lua_layer(f [, out]) */
static int l_lua_layer(lua_State *L) {
  if (lua_type(L, 1) == LUA_TFUNCTION) {
    lua_Integer out = luaL_optinteger(L, 2, 0);
    lua_settop(L, 1);
    lua_createtable(L, 1, 1);
    lua_pushinteger(L, out);
    lua_rawseti(L, -2, 1);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "fn");
    lua_replace(L, 1);
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  return push_spec(L, LL_NAME, 1);
}

/* lpdm.dense{out, act=, ...} or lpdm.dense(out) */
static int l_dense(lua_State *L) {
  if (lua_type(L, 1) == LUA_TNUMBER) {
    lua_createtable(L, 1, 0);
    lua_pushvalue(L, 1);
    lua_rawseti(L, -2, 1);
    lua_replace(L, 1);
  }
  return push_spec(L, "dense", opt_table(L, 1));
}

static int spec_tostring(lua_State *L) {
  lspec *s = (lspec *)luaL_checkudata(L, 1, SPEC_T);
  if (!s->kind) {
    lua_pushliteral(L, SPEC_T "(closed)");
    return 1;
  }
  char buf[1024];
  lpdm_config_format(&s->cfg, buf, sizeof buf);
  lua_pushfstring(L, SPEC_T "(%s: %s)", lpdm_plugin_short(&s->kind->head), buf);
  return 1;
}

static int spec_index(lua_State *L) {
  if (method(L)) return 1;
  lspec *s = check_spec(L, 1);
  const char *k = lua_tostring(L, 2);
  if (!k) return 0;
  if (!strcmp(k, "name")) lua_pushstring(L, lpdm_plugin_short(&s->kind->head));
  else if (!strcmp(k, "config")) push_config(L, &s->cfg);
  else if (!strcmp(k, "lr") && !isnan(s->lr)) lua_pushnumber(L, s->lr);
  else if (!strcmp(k, "weight_decay") && !isnan(s->wd)) lua_pushnumber(L, s->wd);
  else if (!strcmp(k, "optimizer") && s->opt) lua_pushstring(L, lpdm_optim_type_name(s->opt));
  else lua_pushnil(L);
  return 1;
}

/* ================================================================ Net */

typedef struct lnet {
  lpdm_net *net;
  int users; /* open runs training it */
} lnet;

static const char *const net_keys[] = {"inputs", "seed", "lr", "optimizer", "weight_decay",
                                       "propagate", "large_batches", NULL};

static int net_gc(lua_State *L) {
  lnet *n = (lnet *)luaL_checkudata(L, 1, NET_T);
  lpdm_net_free(n->net);
  n->net = NULL;
  return 0;
}

static lnet *check_net(lua_State *L, int i) {
  lnet *n = (lnet *)luaL_checkudata(L, i, NET_T);
  if (!n->net) luaL_error(L, "attempt to use a closed " NET_T);
  return n;
}

/* lpdm.net{ inputs = n, spec, ..., seed =, lr =, optimizer =, weight_decay =, propagate = } */
static int l_net(lua_State *L) {
  lpdm_ctx *ctx = getctx(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_Integer nspec = (lua_Integer)lua_rawlen(L, 1);
  /* keys */
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      if (!in_list(lua_tostring(L, -1), net_keys))
        return luaL_argerror(L, 1, lua_pushfstring(L, "unknown key '%s' (known: inputs, seed, lr, "
                                                      "optimizer, weight_decay, propagate, large_batches, and "
                                                      "layer specs at [1], [2], ...)",
                                                   lua_tostring(L, -1)));
    } else if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > nspec) {
      return luaL_argerror(L, 1, lua_pushfstring(L, "unexpected key %s (layer specs go at [1], "
                                                    "[2], ... without holes)",
                                                 luaL_tolstring(L, -1, NULL)));
    }
  }
  for (lua_Integer i = 1; i <= nspec; i++) {
    lua_rawgeti(L, 1, i);
    lspec *s = (lspec *)luaL_testudata(L, -1, SPEC_T);
    if (!s || !s->kind)
      return luaL_argerror(L, 1, lua_pushfstring(L, "entry [%I] is a %s, expected " SPEC_T " "
                                                    "(from lpdm.layer or lpdm.dense)",
                                                 i, s ? "closed " SPEC_T : tname(L, -1)));
    lua_pop(L, 1);
  }
  if (lua_getfield(L, 1, "inputs") == LUA_TNIL)
    return luaL_argerror(L, 1, "field 'inputs' (the input width) is required");
  int isint = 0;
  lua_Integer inputs = lua_tointegerx(L, -1, &isint);
  if (lua_type(L, -1) != LUA_TNUMBER || !isint || inputs < 1 || inputs > (1 << 24))
    return luaL_argerror(L, 1, "field 'inputs' must be a positive integer");
  lua_pop(L, 1);
  lua_Integer seed = 0;
  if (lua_getfield(L, 1, "seed") != LUA_TNIL) {
    seed = lua_tointegerx(L, -1, &isint);
    if (lua_type(L, -1) != LUA_TNUMBER || !isint)
      return luaL_argerror(L, 1, "field 'seed' must be an integer");
  }
  lua_pop(L, 1);
  const int net_lr_given = lua_getfield(L, 1, "lr") != LUA_TNIL;
  lua_pop(L, 1);
  double lr = opt_rate(L, 1, "lr", 1e-3, "lpdm.net");
  double wd = opt_rate(L, 1, "weight_decay", 0.0, "lpdm.net");
  int opt = opt_optimizer(L, 1, LPDM_OPT_ADAM, "lpdm.net");
  int post = 1;
  if (lua_getfield(L, 1, "propagate") != LUA_TNIL) {
    const char *pv = lua_tostring(L, -1);
    if (lua_type(L, -1) != LUA_TSTRING || (strcmp(pv, "post") && strcmp(pv, "pre")))
      return luaL_argerror(L, 1, "field 'propagate' must be \"post\" or \"pre\"");
    post = strcmp(pv, "post") == 0;
  }
  lua_pop(L, 1);

  /* large_batches = { blocked = bool, block = rows, budget_mib = n, partners = k, seed = s }
     (lpdm_local_cfg, docs/performance.md "Large batches") */
  lpdm_local_cfg lcfg = lpdm_local_default();
  if (lua_getfield(L, 1, "large_batches") != LUA_TNIL) {
    if (!lua_istable(L, -1)) return luaL_argerror(L, 1, "field 'large_batches' must be a table");
    static const char *const lb_keys[] = {"blocked", "block", "budget_mib", "partners", "seed", NULL};
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      lua_pop(L, 1);
      if (lua_type(L, -1) != LUA_TSTRING || !in_list(lua_tostring(L, -1), lb_keys))
        return luaL_argerror(L, 1, lua_pushfstring(L, "large_batches: unknown key '%s' (known: blocked, block, "
                                                      "budget_mib, partners, seed)",
                                                   luaL_tolstring(L, -1, NULL)));
    }
    if (lua_getfield(L, -1, "blocked") != LUA_TNIL) {
      if (!lua_isboolean(L, -1)) return luaL_argerror(L, 1, "large_batches.blocked must be a boolean");
      lcfg.blocked = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    const char *ints[] = {"block", "budget_mib", "partners", "seed"};
    for (int k = 0; k < 4; k++) {
      if (lua_getfield(L, -1, ints[k]) != LUA_TNIL) {
        lua_Integer v = lua_tointegerx(L, -1, &isint);
        if (lua_type(L, -1) != LUA_TNUMBER || !isint || v < (k == 2 || k == 3 ? 0 : 1) || v > ((lua_Integer)1 << 40))
          return luaL_argerror(L, 1, lua_pushfstring(L, "large_batches.%s must be an integer >= %d", ints[k],
                                                     k == 2 || k == 3 ? 0 : 1));
        if (k == 0) lcfg.block = (int)(v > (1 << 30) ? (1 << 30) : v);
        else if (k == 1) lcfg.budget = (size_t)v << 20;
        else if (k == 2) lcfg.partners = (int)(v > (1 << 30) ? (1 << 30) : v);
        else lcfg.seed = (uint64_t)v;
      }
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);

  lnet *n = newobj(L, sizeof *n, NET_T, 1);
  if (lpdm_net_new(ctx, (int)inputs, &n->net)) return fail(L, ctx);
  lpdm_net_set_propagate_post(n->net, post);
  if (lpdm_net_set_local(n->net, ctx, &lcfg)) return fail(L, ctx);
  lpdm_rng rng;
  lpdm_rng_seed(&rng, (uint64_t)seed);
  for (lua_Integer i = 1; i <= nspec; i++) {
    lua_rawgeti(L, 1, i);
    lspec *s = (lspec *)lua_touserdata(L, -1);
    lpdm_optim_cfg oc = lpdm_optim_default(s->opt ? s->opt : opt, isnan(s->lr) ? lr : s->lr);
    oc.weight_decay = isnan(s->wd) ? wd : s->wd;
    if (lpdm_net_add(n->net, ctx, s->kind, &s->cfg, &rng, &oc)) return fail(L, ctx);
    /* a rate the user chose (on the spec or the net) is kept by algorithms */
    if (!isnan(s->lr) || net_lr_given) lpdm_net_keep_lr(n->net, (int)i - 1, 1);
    lua_pop(L, 1);
  }
  return 1;
}

/* net:forward(batch | row) -> same shape */
static int net_forward(lua_State *L) {
  lnet *n = check_net(L, 1);
  not_in_fn(L, NET_T);
  lpdm_ctx *ctx = getctx(L);
  int in = lpdm_net_in_dim(n->net), out = lpdm_net_out_dim(n->net);
  int B = 0, single = 0, width = in;
  const float *X = read_batch(L, 2, &width, &B, &single, 1, 2);
  float *Y = tmpbuf(L, (size_t)B * (size_t)(out > in ? out : in) * sizeof(float));
  if (lpdm_net_forward(n->net, ctx, X, B, Y)) return fail(L, ctx);
  if (single) push_fvec(L, Y, out);
  else push_fmat(L, Y, B, out);
  return 1;
}

static int net_params(lua_State *L) {
  lnet *n = check_net(L, 1);
  lua_pushinteger(L, (lua_Integer)lpdm_net_param_count(n->net));
  return 1;
}

/* net:set_lr(i | nil, lr) */
static int net_set_lr(lua_State *L) {
  lnet *n = check_net(L, 1);
  int depth = lpdm_net_depth(n->net);
  int lo = 0, hi = depth;
  if (!lua_isnoneornil(L, 2)) {
    if (depth < 1) return luaL_argerror(L, 2, "the net has no layers");
    lo = checkint(L, 2, 1, depth, "layer") - 1;
    hi = lo + 1;
  }
  double lr = (double)luaL_checknumber(L, 3);
  if (!(lr >= 0) || !isfinite(lr)) return luaL_argerror(L, 3, "learning rate must be finite and >= 0");
  for (int i = lo; i < hi; i++) {
    lpdm_optim_set_lr(lpdm_net_optim(n->net, i), lr);
    lpdm_net_keep_lr(n->net, i, 1);
  }
  return 0;
}

/* net:layer(i) -> {name=, in_dim=, out_dim=, trainable=, lr=, optimizer=, config=, params={...}} */
static int net_layer(lua_State *L) {
  lnet *n = check_net(L, 1);
  int depth = lpdm_net_depth(n->net);
  if (depth < 1) return luaL_argerror(L, 2, "the net has no layers");
  int i = checkint(L, 2, 1, depth, "layer") - 1;
  lpdm_layer *l = lpdm_net_layer(n->net, i);
  const lpdm_optim *o = lpdm_net_optim(n->net, i);
  lua_createtable(L, 0, 9);
  lua_pushstring(L, lpdm_plugin_short(&l->kind->head));
  lua_setfield(L, -2, "name");
  lua_pushinteger(L, l->in_dim);
  lua_setfield(L, -2, "in_dim");
  lua_pushinteger(L, l->out_dim);
  lua_setfield(L, -2, "out_dim");
  lua_pushboolean(L, l->kind->backward != NULL);
  lua_setfield(L, -2, "trainable");
  if (o) {
    const lpdm_optim_cfg *oc = lpdm_optim_config(o);
    lua_pushnumber(L, lpdm_optim_lr(o));
    lua_setfield(L, -2, "lr");
    lua_pushstring(L, lpdm_optim_type_name(oc->type));
    lua_setfield(L, -2, "optimizer");
    lua_pushnumber(L, oc->weight_decay);
    lua_setfield(L, -2, "weight_decay");
  }
  push_config(L, &l->cfg);
  lua_setfield(L, -2, "config");
  int np = l->nparams < 0 ? 0 : l->nparams > LPDM_MAX_PARAMS ? LPDM_MAX_PARAMS : l->nparams;
  lua_createtable(L, np, 0);
  for (int j = 0; j < np; j++) {
    const lpdm_param *p = &l->params[j];
    lua_createtable(L, 0, 5);
    lua_pushstring(L, p->name ? p->name : "");
    lua_setfield(L, -2, "name");
    lua_pushinteger(L, p->rows);
    lua_setfield(L, -2, "rows");
    lua_pushinteger(L, p->cols);
    lua_setfield(L, -2, "cols");
    lua_pushinteger(L, (lua_Integer)p->n);
    lua_setfield(L, -2, "n");
    push_fvec(L, p->w, (int)p->n);
    lua_setfield(L, -2, "values");
    lua_rawseti(L, -2, j + 1);
  }
  lua_setfield(L, -2, "params");
  return 1;
}

static int net_close(lua_State *L) {
  lnet *n = check_net(L, 1);
  not_in_fn(L, NET_T);
  if (n->users > 0) return luaL_error(L, NET_T " is used by an open " RUN_T "; close the run first");
  return net_gc(L);
}

/* __close: like close, but a closed net is fine. __gc needs no such check:
   a run is created after its nets, so Lua finalizes it first. */
static int net_close_meta(lua_State *L) {
  lnet *n = (lnet *)luaL_checkudata(L, 1, NET_T);
  if (n->net) not_in_fn(L, NET_T);
  if (n->net && n->users > 0)
    return luaL_error(L, NET_T " is used by an open " RUN_T "; close the run first");
  return net_gc(L);
}

static int net_tostring(lua_State *L) {
  lnet *n = (lnet *)luaL_checkudata(L, 1, NET_T);
  if (!n->net) {
    lua_pushliteral(L, NET_T "(closed)");
    return 1;
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  lua_pushfstring(L, NET_T "(%d", lpdm_net_in_dim(n->net));
  luaL_addvalue(&b);
  for (int i = 0; i < lpdm_net_depth(n->net); i++) {
    lpdm_layer *l = lpdm_net_layer(n->net, i);
    lua_pushfstring(L, " -> %s %d", lpdm_plugin_short(&l->kind->head), l->out_dim);
    luaL_addvalue(&b);
  }
  lua_pushfstring(L, ", %I params)", (lua_Integer)lpdm_net_param_count(n->net));
  luaL_addvalue(&b);
  luaL_pushresult(&b);
  return 1;
}

static int net_index(lua_State *L) {
  if (method(L)) return 1;
  lnet *n = check_net(L, 1);
  const char *k = lua_tostring(L, 2);
  if (!k) return 0;
  if (!strcmp(k, "inputs")) lua_pushinteger(L, lpdm_net_in_dim(n->net));
  else if (!strcmp(k, "outputs")) lua_pushinteger(L, lpdm_net_out_dim(n->net));
  else if (!strcmp(k, "depth")) lua_pushinteger(L, lpdm_net_depth(n->net));
  else lua_pushnil(L);
  return 1;
}

/* ================================================================ Distance, Loss */

typedef struct ldist {
  lpdm_distance *d;
} ldist;
typedef struct lloss {
  lpdm_loss *l;
} lloss;

static int dist_gc(lua_State *L) {
  ldist *d = (ldist *)luaL_checkudata(L, 1, DIST_T);
  lpdm_distance_free(d->d);
  d->d = NULL;
  return 0;
}
static int loss_gc(lua_State *L) {
  lloss *l = (lloss *)luaL_checkudata(L, 1, LOSS_T);
  lpdm_loss_free(l->l);
  l->l = NULL;
  return 0;
}
static ldist *check_dist(lua_State *L, int i) {
  ldist *d = (ldist *)luaL_checkudata(L, i, DIST_T);
  if (!d->d) luaL_error(L, "attempt to use a closed " DIST_T);
  return d;
}
static lloss *check_loss(lua_State *L, int i) {
  lloss *l = (lloss *)luaL_checkudata(L, i, LOSS_T);
  if (!l->l) luaL_error(L, "attempt to use a closed " LOSS_T);
  return l;
}

/* lpdm.distance(name [, cfg]) */
static int l_distance(lua_State *L) {
  lpdm_ctx *ctx = getctx(L);
  const char *name = luaL_checkstring(L, 1);
  int t = opt_table(L, 2);
  const lpdm_plugin *p = get_plugin(L, ctx, LPDM_KIND_DISTANCE, name);
  lpdm_config *cfg = tmpbuf(L, sizeof *cfg);
  make_config(L, ctx, p, cfg, t);
  ldist *d = newobj(L, sizeof *d, DIST_T, 1);
  if (lpdm_distance_new(ctx, (const lpdm_distance_kind *)p, cfg, &d->d)) return fail(L, ctx);
  return 1;
}

/* lpdm.loss(name [, cfg]) */
static int l_loss(lua_State *L) {
  lpdm_ctx *ctx = getctx(L);
  const char *name = luaL_checkstring(L, 1);
  int t = opt_table(L, 2);
  const lpdm_plugin *p = get_plugin(L, ctx, LPDM_KIND_LOSS, name);
  lpdm_config *cfg = tmpbuf(L, sizeof *cfg);
  make_config(L, ctx, p, cfg, t);
  lloss *l = newobj(L, sizeof *l, LOSS_T, 1);
  if (lpdm_loss_new(ctx, (const lpdm_loss_kind *)p, cfg, &l->l)) return fail(L, ctx);
  return 1;
}

/* d:pairwise(batch) -> B x B */
static int dist_pairwise(lua_State *L) {
  ldist *d = check_dist(L, 1);
  lpdm_ctx *ctx = getctx(L);
  int B = 0, width = 0, single = 0;
  const float *X = read_batch(L, 2, &width, &B, &single, 0, 2);
  if ((size_t)B * (size_t)B > ((size_t)1 << 28)) return luaL_argerror(L, 2, "batch too large");
  float *D = tmpbuf(L, (size_t)B * B * sizeof(float));
  float *work = tmpbuf(L, LPDM_DIST_WORK(B, width) * sizeof(float));
  if (d->d->kind->pairwise(d->d, X, B, width, D, work, ctx)) return fail(L, ctx);
  push_fmat(L, D, B, B);
  return 1;
}

/* Reads a B x B matrix at arg (B from the matrix when *B == 0). */
static float *read_square(lua_State *L, int arg, int *B) {
  int w = *B, n = 0, single = 0;
  float *M = read_batch(L, arg, &w, &n, &single, 0, arg);
  if (*B == 0 && n != w)
    luaL_argerror(L, arg, lua_pushfstring(L, "expected a square matrix, got %d x %d", n, w));
  if (*B && n != *B)
    luaL_argerror(L, arg, lua_pushfstring(L, "expected a %d x %d matrix, got %d rows", *B, *B, n));
  *B = n;
  return M;
}

/* l:eval(DX, DY [, g]) -> L, dDY */
static int loss_eval(lua_State *L) {
  lloss *l = check_loss(L, 1);
  lpdm_ctx *ctx = getctx(L);
  lua_settop(L, 4); /* g may be absent: temporaries go above it */
  int B = 0;
  const float *DX = read_square(L, 2, &B);
  const float *DY = read_square(L, 3, &B);
  if (B < 2) return luaL_argerror(L, 2, "a loss needs at least 2 samples");
  float *g = NULL;
  if (!lua_isnoneornil(L, 4)) {
    g = tmpbuf(L, (size_t)B * sizeof(float));
    read_vec(L, 4, B, g, NULL, 4, "g");
  } else if (l->l->kind->uses_guidance) {
    return luaL_argerror(L, 4, lua_pushfstring(L, "%s needs the guidance g (B values)",
                                               l->l->kind->head.name));
  }
  float *dDY = tmpbuf(L, (size_t)B * B * sizeof(float));
  double val = 0;
  if (l->l->kind->eval(l->l, DX, DY, g, B, &val, dDY, ctx)) return fail(L, ctx);
  lua_pushnumber(L, val);
  push_fmat(L, dDY, B, B);
  return 2;
}

static int dist_close(lua_State *L) {
  check_dist(L, 1);
  return dist_gc(L);
}
static int loss_close(lua_State *L) {
  check_loss(L, 1);
  return loss_gc(L);
}

static int dist_tostring(lua_State *L) {
  ldist *d = (ldist *)luaL_checkudata(L, 1, DIST_T);
  if (!d->d) lua_pushliteral(L, DIST_T "(closed)");
  else lua_pushfstring(L, DIST_T "(%s)", lpdm_plugin_short(&d->d->kind->head));
  return 1;
}
static int loss_tostring(lua_State *L) {
  lloss *l = (lloss *)luaL_checkudata(L, 1, LOSS_T);
  if (!l->l) lua_pushliteral(L, LOSS_T "(closed)");
  else lua_pushfstring(L, LOSS_T "(%s)", lpdm_plugin_short(&l->l->kind->head));
  return 1;
}

static int dist_index(lua_State *L) {
  if (method(L)) return 1;
  ldist *d = check_dist(L, 1);
  const char *k = lua_tostring(L, 2);
  if (k && !strcmp(k, "name")) lua_pushstring(L, lpdm_plugin_short(&d->d->kind->head));
  else if (k && !strcmp(k, "config")) push_config(L, &d->d->cfg);
  else lua_pushnil(L);
  return 1;
}
static int loss_index(lua_State *L) {
  if (method(L)) return 1;
  lloss *l = check_loss(L, 1);
  const char *k = lua_tostring(L, 2);
  if (k && !strcmp(k, "name")) lua_pushstring(L, lpdm_plugin_short(&l->l->kind->head));
  else if (k && !strcmp(k, "config")) push_config(L, &l->l->cfg);
  else if (k && !strcmp(k, "uses_guidance")) lua_pushboolean(L, l->l->kind->uses_guidance);
  else lua_pushnil(L);
  return 1;
}

/* ================================================================ Run */

enum { UV_CTX = 1, UV_ENV, UV_POLICY, UV_VALUE, NUV };

typedef struct lrun {
  lpdm_algo *algo;
  const lpdm_algo_kind *kind;
  lpdm_distance *dist;
  lpdm_loss *loss;
  lnet *policy, *value;  /* kept alive by user values     */
  lpdm_config env_cfg;   /* the setup borrows these two   */
  lpdm_algo_setup setup;
  const char *env_id;    /* the env plugin's (context's)  */
  int obs_dim, act_type, act_dim;
  lpdm_episode *eps;     /* finished during one iterate() */
  int neps, caps, lost;
  int64_t global_step, iteration, episodes;
  int done, failed;
  float *obs;            /* act() buffers                 */
  double *act;
  lpdm_figures *fig;     /* iterate()'s figures, reused   */
} lrun;

static const char *const run_keys[] = {"env", "env_config", "policy", "value", "distance", "loss",
                                       "distributed", NULL};

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
  lpdm_algo_free(r->algo); /* first: it borrows everything below */
  r->algo = NULL;
  lpdm_distance_free(r->dist);
  r->dist = NULL;
  lpdm_loss_free(r->loss);
  r->loss = NULL;
  if (r->kind) { /* released once: kind is cleared below */
    release_net(r->policy);
    release_net(r->value);
  }
  r->policy = r->value = NULL;
  free(r->eps);
  r->eps = NULL;
  lpdm_figures_free(r->fig);
  r->fig = NULL;
  r->neps = r->caps = 0;
  free(r->obs);
  r->obs = NULL;
  r->act = NULL;
  r->kind = NULL;
  return 0;
}

static lrun *check_run(lua_State *L, int i) {
  lrun *r = (lrun *)luaL_checkudata(L, i, RUN_T);
  if (!r->algo) luaL_error(L, "attempt to use a closed " RUN_T);
  return r;
}

/* Reads cfg.<field> (a name string, {name, key = value, ...}, or a
   Distance/Loss object) and makes a new instance of that kind into *out. */
static void make_component(lua_State *L, lpdm_ctx *ctx, int cfgt, const char *field, int kind,
                           const char *dflt, const char *objtype, void **out) {
  lpdm_config *cfg = tmpbuf(L, sizeof *cfg);
  const lpdm_plugin *p = NULL;
  int ty = lua_getfield(L, cfgt, field);
  int v = lua_gettop(L);
  if (ty == LUA_TNIL || ty == LUA_TSTRING) {
    p = get_plugin(L, ctx, kind, ty == LUA_TNIL ? dflt : lua_tostring(L, v));
    make_config(L, ctx, p, cfg, 0);
  } else if (ty == LUA_TTABLE) {
    if (lua_rawgeti(L, v, 1) != LUA_TSTRING)
      luaL_error(L, "'%s': the table's [1] must be a %s name, got a %s", field,
                 lpdm_kind_name(kind), tname(L, -1));
    p = get_plugin(L, ctx, kind, lua_tostring(L, -1));
    lua_pop(L, 1);
    if (lpdm_config_init(ctx, p, cfg)) fail(L, ctx);
    fill_config(L, ctx, cfg, p->name, v, NULL, 1, NULL);
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
               field, lpdm_kind_name(kind), objtype, tname(L, v));
  }
  int rc = kind == LPDM_KIND_DISTANCE
               ? lpdm_distance_new(ctx, (const lpdm_distance_kind *)p, cfg, (lpdm_distance **)out)
               : lpdm_loss_new(ctx, (const lpdm_loss_kind *)p, cfg, (lpdm_loss **)out);
  if (rc) fail(L, ctx);
  lua_pop(L, 2); /* value, cfg */
}

/* cfg.<field> as a Net usable by a new run (NULL when absent and optional). */
static lnet *run_net(lua_State *L, int cfgt, const char *field, int required, int obs_dim,
                     const char *env, int uv, int r) {
  int ty = lua_getfield(L, cfgt, field);
  if (ty == LUA_TNIL) {
    lua_pop(L, 1);
    if (required) luaL_error(L, "lpdm.algo: '%s' (an " NET_T ") is required", field);
    return NULL;
  }
  lnet *n = (lnet *)luaL_testudata(L, -1, NET_T);
  if (!n) luaL_error(L, "lpdm.algo: '%s' must be an " NET_T ", got a %s", field, tname(L, -1));
  if (!n->net) luaL_error(L, "lpdm.algo: '%s': attempt to use a closed " NET_T, field);
  if (n->users > 0)
    luaL_error(L, "lpdm.algo: '%s': this " NET_T " is used by another open " RUN_T
                  " (close that run first to train the net further)",
               field);
  if (lpdm_net_in_dim(n->net) != obs_dim)
    luaL_error(L, "lpdm.algo: '%s' takes %d inputs, but %s observations have %d values", field,
               lpdm_net_in_dim(n->net), env, obs_dim);
  lua_setiuservalue(L, r, uv);
  return n;
}

/* lpdm.algo(name, cfg) -> Run */
static int l_algo(lua_State *L) {
  lpdm_ctx *ctx = getctx(L);
  const char *name = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  const lpdm_plugin *p = get_plugin(L, ctx, LPDM_KIND_ALGO, name);
  const lpdm_algo_kind *kind = (const lpdm_algo_kind *)p;

  /* the algorithm's own config first: a typo is the likeliest error */
  lpdm_config *acfg = tmpbuf(L, sizeof *acfg);
  if (lpdm_config_init(ctx, p, acfg)) return fail(L, ctx);
  fill_config(L, ctx, acfg, p->name, 2, run_keys, 0,
              "env, env_config, policy, value, distance, loss, distributed (taken by lpdm.algo)");

  lrun *r = newobj(L, sizeof *r, RUN_T, NUV);
  int ri = lua_gettop(L);

  /* env */
  int ety = lua_getfield(L, 2, "env");
  lenv *e = NULL;
  if (ety == LUA_TSTRING) {
    const char *id = lua_tostring(L, -1);
    int ct = 0;
    if (lua_getfield(L, 2, "env_config") != LUA_TNIL) {
      if (lua_type(L, -1) != LUA_TTABLE)
        return luaL_error(L, "lpdm.algo: 'env_config' must be a table, got a %s", tname(L, -1));
      ct = lua_gettop(L);
    }
    e = push_env(L, ctx, id, ct);
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
                      tname(L, -1));
  }
  const lpdm_env *env = e->env;
  r->env_cfg = env->cfg;
  r->env_id = env_id(env);
  r->obs_dim = env->obs_space.dim;
  r->act_type = env->act_space.type;
  r->act_dim = env->act_space.dim < 1 ? 1 : env->act_space.dim;
  r->setup.env_kind = env->kind;
  r->setup.env_cfg = &r->env_cfg;

  /* nets */
  lnet *policy = run_net(L, 2, "policy", 1, r->obs_dim, r->env_id, UV_POLICY, ri);
  lnet *value = run_net(L, 2, "value", 0, r->obs_dim, r->env_id, UV_VALUE, ri);
  if (value == policy)
    return luaL_error(L, "lpdm.algo: 'policy' and 'value' must be two different nets");

  /* local-learning components */
  void *out = NULL;
  make_component(L, ctx, 2, "distance", LPDM_KIND_DISTANCE, "euclidean", DIST_T, &out);
  r->dist = (lpdm_distance *)out;
  if (lua_getfield(L, 2, "loss") == LUA_TNIL) { /* the algorithm's own default */
    const lpdm_loss_kind *lk;
    lpdm_config *lc = tmpbuf(L, sizeof *lc);
    if (lpdm_algo_local_loss(ctx, kind, &lk, lc, NULL) || lpdm_loss_new(ctx, lk, lc, &r->loss)) return fail(L, ctx);
    lua_pop(L, 2); /* lc, nil */
  } else {
    lua_pop(L, 1);
    make_component(L, ctx, 2, "loss", LPDM_KIND_LOSS, "guided", LOSS_T, &out);
    r->loss = (lpdm_loss *)out;
  }

  r->obs = malloc((size_t)r->obs_dim * sizeof(float) + 8 + (size_t)r->act_dim * sizeof(double));
  if (!r->obs) return luaL_error(L, "lpdm.algo: out of memory");
  r->act = (double *)(void *)((char *)r->obs + ((size_t)r->obs_dim * sizeof(float) + 7) / 8 * 8);

  r->setup.policy = policy->net;
  r->setup.value = value ? value->net : NULL;
  r->setup.distance = r->dist;
  r->setup.loss = r->loss;
  r->setup.on_episode = on_episode;
  r->setup.user = r;
  r->setup.comm = NULL;
  if (lua_getfield(L, 2, "distributed") != LUA_TNIL) {
    if (lua_type(L, -1) != LUA_TBOOLEAN)
      return luaL_error(L, "lpdm.algo: 'distributed' must be true or false, got a %s", tname(L, -1));
    if (lua_toboolean(L, -1)) r->setup.comm = lpdm_lua_mpi_comm(L, "lpdm.algo: distributed = true");
  }
  lua_pop(L, 1);
  lpdm_ctx_clear(ctx);
  if (lpdm_algo_new(ctx, kind, acfg, &r->setup, &r->algo)) return fail(L, ctx);
  if (!r->algo) return luaL_error(L, "%s: create returned no instance", p->name);
  r->kind = kind;
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
  const char *an = r->kind->head.name;
  if (!*m) m = "failed (no message)";
  if (strncmp(m, an, strlen(an)) == 0) return luaL_error(L, "%s", m);
  return luaL_error(L, "%s: %s", an, m);
}

/* run:iterate() -> {global_step=, iteration=, episodes={...}, stats={...}} or nil */
static int run_iterate(lua_State *L) {
  lrun *r = check_run(L, 1);
  not_in_fn(L, RUN_T);
  lpdm_ctx *ctx = getctx(L);
  if (r->failed)
    return luaL_error(L, "%s: this run stopped with an error earlier; make a new one",
                      r->kind->head.name);
  if (r->done) {
    lua_pushnil(L);
    return 1;
  }
  if (!r->fig && !(r->fig = lpdm_figures_new())) return luaL_error(L, "%s: out of memory", r->kind->head.name);
  lpdm_figures *st = r->fig;
  lpdm_figures_clear(st);
  r->neps = 0;
  r->lost = 0;
  lpdm_ctx_clear(ctx);
  int rc = r->kind->iterate(r->algo, st, ctx);
  if (rc < 0) {
    r->failed = 1;
    return run_fail(L, r, ctx);
  }
  if (rc == LPDM_DONE) {
    r->done = 1;
    if (r->neps == 0 && lpdm_figures_count(st) == 0) {
      lua_pushnil(L);
      return 1;
    }
  }
  if (r->lost) return luaL_error(L, "%s: out of memory recording episodes", r->kind->head.name);
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
  lua_createtable(L, 0, lpdm_figures_count(st));
  for (int i = 0; i < lpdm_figures_count(st); i++) {
    if (strcmp(lpdm_figures_name(st, i), "global_step") == 0) continue;
    lua_pushnumber(L, lpdm_figures_value(st, i));
    lua_setfield(L, -2, lpdm_figures_name(st, i));
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
  not_in_fn(L, RUN_T);
  lpdm_ctx *ctx = getctx(L);
  if (!r->kind->act) return luaL_error(L, "%s has no act()", r->kind->head.name);
  read_vec(L, 2, r->obs_dim, r->obs, NULL, 2, "obs");
  for (int i = 0; i < r->act_dim; i++) r->act[i] = 0;
  lpdm_ctx_clear(ctx);
  if (r->kind->act(r->algo, r->obs, r->act, ctx)) return run_fail(L, r, ctx);
  if (r->act_type == LPDM_SPACE_DISCRETE) lua_pushinteger(L, (lua_Integer)r->act[0]);
  else push_dvec(L, r->act, r->act_dim);
  return 1;
}

static int run_close(lua_State *L) {
  check_run(L, 1);
  not_in_fn(L, RUN_T);
  return run_gc(L);
}

/* __close: as close, but a closed run is fine. */
static int run_close_meta(lua_State *L) {
  lrun *r = (lrun *)luaL_checkudata(L, 1, RUN_T);
  if (r->algo) not_in_fn(L, RUN_T);
  return run_gc(L);
}

static int run_tostring(lua_State *L) {
  lrun *r = (lrun *)luaL_checkudata(L, 1, RUN_T);
  if (!r->algo) lua_pushliteral(L, RUN_T "(closed)");
  else
    lua_pushfstring(L, RUN_T "(%s, %s, step %I%s)", lpdm_plugin_short(&r->kind->head), r->env_id,
                    (lua_Integer)r->global_step, r->done ? ", done" : "");
  return 1;
}

static int run_index(lua_State *L) {
  if (method(L)) return 1;
  lrun *r = check_run(L, 1);
  const char *k = lua_tostring(L, 2);
  if (!k) return 0;
  if (!strcmp(k, "global_step")) lua_pushinteger(L, (lua_Integer)r->global_step);
  else if (!strcmp(k, "iteration")) lua_pushinteger(L, (lua_Integer)r->iteration);
  else if (!strcmp(k, "episodes")) lua_pushinteger(L, (lua_Integer)r->episodes);
  else if (!strcmp(k, "done")) lua_pushboolean(L, r->done);
  else if (!strcmp(k, "algo")) lua_pushstring(L, lpdm_plugin_short(&r->kind->head));
  else if (!strcmp(k, "config")) push_config(L, &r->algo->cfg);
  else if (!strcmp(k, "distance")) lua_pushstring(L, lpdm_plugin_short(&r->dist->kind->head));
  else if (!strcmp(k, "loss")) lua_pushstring(L, lpdm_plugin_short(&r->loss->kind->head));
  else if (!strcmp(k, "env")) lua_getiuservalue(L, 1, UV_ENV);
  else if (!strcmp(k, "policy")) lua_getiuservalue(L, 1, UV_POLICY);
  else if (!strcmp(k, "value")) lua_getiuservalue(L, 1, UV_VALUE);
  else lua_pushnil(L);
  return 1;
}

/* ================================================================ module */

static const luaL_Reg ctx_meta[] = {{"__gc", ctx_gc}, {"__tostring", ctx_tostring}, {NULL, NULL}};

static const luaL_Reg env_meta[] = {
    {"__gc", env_gc}, {"__close", env_gc}, {"__tostring", env_tostring}, {NULL, NULL}};
static const luaL_Reg env_methods[] = {{"reset", env_reset},   {"step", env_step},
                                       {"state", env_state},   {"set_state", env_set_state},
                                       {"render", env_render}, {"close", env_close},
                                       {NULL, NULL}};

static const luaL_Reg spec_meta[] = {
    {"__gc", spec_gc}, {"__close", spec_gc}, {"__tostring", spec_tostring}, {NULL, NULL}};
static const luaL_Reg spec_methods[] = {{NULL, NULL}};

static const luaL_Reg net_meta[] = {
    {"__gc", net_gc}, {"__close", net_close_meta}, {"__tostring", net_tostring}, {NULL, NULL}};
static const luaL_Reg net_methods[] = {{"forward", net_forward}, {"params", net_params},
                                       {"set_lr", net_set_lr},   {"layer", net_layer},
                                       {"close", net_close},     {NULL, NULL}};

static const luaL_Reg dist_meta[] = {
    {"__gc", dist_gc}, {"__close", dist_gc}, {"__tostring", dist_tostring}, {NULL, NULL}};
static const luaL_Reg dist_methods[] = {
    {"pairwise", dist_pairwise}, {"close", dist_close}, {NULL, NULL}};

static const luaL_Reg loss_meta[] = {
    {"__gc", loss_gc}, {"__close", loss_gc}, {"__tostring", loss_tostring}, {NULL, NULL}};
static const luaL_Reg loss_methods[] = {{"eval", loss_eval}, {"close", loss_close}, {NULL, NULL}};

/* ------------------------------------------------------------ checkpoints */

#define ST_T "lpdm.Checkpoint"
typedef struct lst {
  lpdm_st *st;
} lst;

static int st_gc(lua_State *L) {
  lst *h = (lst *)luaL_checkudata(L, 1, ST_T);
  lpdm_st_free(h->st);
  h->st = NULL;
  return 0;
}

/* A holder that frees its lpdm_st when collected, even after an error. */
static lst *st_holder(lua_State *L) {
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
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "%s: keys must be names (strings), got a %s", what, tname(L, -1));
    const char *s = lua_tostring(L, -1);
    if (!*s || strlen(s) > 64) luaL_error(L, "%s: bad name '%s'", what, s);
    for (const char *c = s; *c; c++)
      if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_'))
        luaL_error(L, "%s: name '%s' may hold only letters, digits and '_'", what, s);
    k[i++] = s; /* the key stays alive in the table */
  }
  qsort(k, (size_t)cnt, sizeof *k, cmp_str);
  *n = cnt;
  return k;
}

static int opt_bool(lua_State *L, int t, const char *key, int dflt) {
  if (lua_isnoneornil(L, t)) return dflt;
  int ty = lua_getfield(L, t, key), v = dflt;
  if (ty == LUA_TBOOLEAN) v = lua_toboolean(L, -1);
  else if (ty != LUA_TNIL) luaL_error(L, "option '%s' must be a boolean, got a %s", key, tname(L, -1));
  lua_pop(L, 1);
  return v;
}

/* meta (the table at t: names to strings or numbers) into st's metadata. */
static void set_meta(lua_State *L, lpdm_ctx *ctx, lpdm_st *st, int t, const char *what) {
  int m;
  const char **mk = sorted_keys(L, t, &m, what);
  for (int i = 0; i < m; i++) {
    lua_getfield(L, t, mk[i]);
    if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
      luaL_error(L, "%s '%s' must be a string or number, got a %s", what, mk[i], tname(L, -1));
    if (lpdm_st_set_meta(st, ctx, mk[i], lua_tostring(L, -1))) fail(L, ctx);
    lua_pop(L, 1);
  }
  lua_pop(L, 1); /* the keys */
}

/* Pushes st's metadata as a table of strings. */
static void push_meta(lua_State *L, const lpdm_st *st) {
  lua_newtable(L);
  const char *mk;
  for (int i = 0; (mk = lpdm_st_meta_key(st, i)) != NULL; i++) {
    lua_pushstring(L, lpdm_st_meta(st, mk));
    lua_setfield(L, -2, mk);
  }
}

/* lpdm.save(path, {name = net, ...} [, {optim = true, meta = {k = "v"}}]) */
static int l_save(lua_State *L) {
  lpdm_ctx *ctx = getctx(L);
  lua_settop(L, 3); /* slots 1..3 stay the arguments (nil when absent) */
  const char *path = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  int optim = opt_bool(L, 3, "optim", 1), n;
  const char **keys = sorted_keys(L, 2, &n, "lpdm.save");
  if (n == 0) return luaL_error(L, "lpdm.save: no nets to save");
  lst *h = st_holder(L);
  if (lpdm_st_new(ctx, &h->st)) return fail(L, ctx);
  for (int i = 0; i < n; i++) {
    lua_getfield(L, 2, keys[i]);
    lnet *net = (lnet *)luaL_testudata(L, -1, NET_T);
    if (!net || !net->net) return luaL_error(L, "lpdm.save: '%s' must be a Net, got a %s", keys[i], tname(L, -1));
    if (lpdm_net_save(net->net, ctx, h->st, keys[i], optim)) return fail(L, ctx);
    lua_pop(L, 1);
  }
  if (lpdm_st_set_meta(h->st, ctx, "format", "lpdm") || lpdm_st_set_meta(h->st, ctx, "lpdm_version", LPDM_VERSION))
    return fail(L, ctx);
  if (!lua_isnoneornil(L, 3) && lua_getfield(L, 3, "meta") != LUA_TNIL) {
    int mt = lua_gettop(L);
    if (!lua_istable(L, mt)) return luaL_error(L, "lpdm.save: option 'meta' must be a table of strings");
    set_meta(L, ctx, h->st, mt, "lpdm.save: meta");
  }
  if (lpdm_st_write(h->st, ctx, path)) return fail(L, ctx);
  lpdm_st_free(h->st);
  h->st = NULL;
  return 0;
}

/* lpdm.load(path [, {name = net, ...} [, {optim = true}]]) -> {meta = {...},
   tensors = {name = {dtype =, shape = {...}}}}; with nets, each is checked
   against the file and then filled (a net that does not fit is left as it
   was, with an error naming the tensor). */
static int l_load(lua_State *L) {
  lpdm_ctx *ctx = getctx(L);
  lua_settop(L, 3);
  const char *path = luaL_checkstring(L, 1);
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  int optim = opt_bool(L, 3, "optim", 1);
  lst *h = st_holder(L);
  if (lpdm_st_read(ctx, path, &h->st)) return fail(L, ctx);
  if (!lua_isnoneornil(L, 2)) {
    int n;
    const char **keys = sorted_keys(L, 2, &n, "lpdm.load");
    for (int i = 0; i < n; i++) {
      lua_getfield(L, 2, keys[i]);
      lnet *net = (lnet *)luaL_testudata(L, -1, NET_T);
      if (!net || !net->net) return luaL_error(L, "lpdm.load: '%s' must be a Net, got a %s", keys[i], tname(L, -1));
      if (lpdm_net_load(net->net, ctx, h->st, keys[i], optim))
        return luaL_error(L, "lpdm.load: %s: net '%s': %s", path, keys[i], lpdm_ctx_message(ctx));
      lua_pop(L, 1);
    }
    lua_pop(L, 1); /* keys */
  }
  lua_newtable(L);
  push_meta(L, h->st);
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


/* run:save(path [, meta]) -- the whole run, to continue it exactly
   (between iterations; the algorithm must support checkpoints). */
static int run_save(lua_State *L) {
  lrun *r = check_run(L, 1);
  lpdm_ctx *ctx = getctx(L);
  const char *path = luaL_checkstring(L, 2);
  lua_settop(L, 3);
  if (!lua_isnil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  if (r->failed) return luaL_error(L, "%s: this run stopped with an error; it cannot be saved", r->kind->head.name);
  lst *h = st_holder(L);
  int64_t c[4] = {r->global_step, r->iteration, r->episodes, r->done};
  if (lpdm_st_new(ctx, &h->st) || lpdm_algo_save(r->algo, ctx, h->st) ||
      lpdm_state_put_i64(h->st, ctx, "run", "counters", c, 4) || lpdm_st_set_meta(h->st, ctx, "format", "lpdm") ||
      lpdm_st_set_meta(h->st, ctx, "lpdm_version", LPDM_VERSION) ||
      lpdm_st_set_meta(h->st, ctx, "algo", r->kind->head.name))
    return fail(L, ctx);
  if (!lua_isnil(L, 3)) set_meta(L, ctx, h->st, 3, "run:save: meta");
  if (lpdm_st_write(h->st, ctx, path)) return fail(L, ctx);
  lpdm_st_free(h->st);
  h->st = NULL;
  return 0;
}

/* run:load(path) -> meta -- a run saved by run:save, into this run, which
   must have been made with the same config and nets. A file that does not
   fit is an error and leaves the run unusable (it may be half loaded). */
static int run_load(lua_State *L) {
  lrun *r = check_run(L, 1);
  lpdm_ctx *ctx = getctx(L);
  const char *path = luaL_checkstring(L, 2);
  lua_settop(L, 2);
  lst *h = st_holder(L);
  if (lpdm_st_read(ctx, path, &h->st)) return fail(L, ctx);
  const char *an = lpdm_st_meta(h->st, "algo");
  if (!an || strcmp(an, r->kind->head.name))
    return luaL_error(L, "run:load: %s was saved by %s, not %s", path, an ? an : "no algorithm", r->kind->head.name);
  int64_t c[4];
  if (lpdm_state_get_i64(h->st, ctx, "run", "counters", c, 4) || lpdm_algo_load(r->algo, ctx, h->st)) {
    r->failed = 1;
    return luaL_error(L, "run:load: %s: %s", path, lpdm_ctx_message(ctx));
  }
  r->global_step = c[0];
  r->iteration = c[1];
  r->episodes = c[2];
  r->done = c[3] != 0;
  push_meta(L, h->st);
  return 1;
}

static const luaL_Reg run_meta[] = {
    {"__gc", run_gc}, {"__close", run_close_meta}, {"__tostring", run_tostring}, {NULL, NULL}};
static const luaL_Reg run_methods[] = {{"iterate", run_iterate}, {"iterations", run_iterations},
                                       {"act", run_act},         {"close", run_close},
                                       {"save", run_save},       {"load", run_load},
                                       {NULL, NULL}};

/* ================================================================ stats
   lpdm.stats.*: the statistics of stats.h (docs/statistics.md). Inputs
   are checked here, with 1-based indices in the messages, before the C
   functions see them; their buffers are temporary userdata. */

/* The array of numbers at idx (called `what` in the messages of argument
   arg) copied into a temporary buffer, pushed on the stack. */
static double *st_nums(lua_State *L, int idx, int arg, const char *what, int *n) {
  idx = lua_absindex(L, idx);
  if (!lua_istable(L, idx))
    luaL_argerror(L, arg, lua_pushfstring(L, "%s must be a table of numbers, got %s", what, luaL_typename(L, idx)));
  size_t len = lua_rawlen(L, idx);
  if (len == 0) luaL_argerror(L, arg, lua_pushfstring(L, "%s is empty (need at least one number)", what));
  if (len > (size_t)INT32_MAX) luaL_argerror(L, arg, lua_pushfstring(L, "%s is too long", what));
  double *x = (double *)tmpbuf(L, len * sizeof *x);
  for (size_t i = 0; i < len; i++) {
    int ty = lua_rawgeti(L, idx, (lua_Integer)i + 1);
    if (ty != LUA_TNUMBER)
      luaL_argerror(
          L, arg, lua_pushfstring(L, "%s[%I] must be a number, got %s", what, (lua_Integer)i + 1, lua_typename(L, ty)));
    x[i] = (double)lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (!isfinite(x[i]))
      luaL_argerror(L, arg,
                    lua_pushfstring(L, "%s[%I] is %s (must be finite)", what, (lua_Integer)i + 1,
                                    isnan(x[i]) ? "NaN"
                                    : x[i] > 0  ? "inf"
                                                : "-inf"));
  }
  *n = (int)len;
  return x;
}

/* Refuses a key of the table at idx not in keys (NULL-terminated). */
static void st_known(lua_State *L, int idx, int arg, const char *what, const char *const *keys) {
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    int found = 0;
    if (lua_type(L, -1) == LUA_TSTRING)
      for (int i = 0; keys[i] && !found; i++) found = strcmp(lua_tostring(L, -1), keys[i]) == 0;
    if (!found) {
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      for (int i = 0; keys[i]; i++) {
        if (i) luaL_addstring(&b, ", ");
        luaL_addstring(&b, keys[i]);
      }
      luaL_pushresult(&b);
      const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : luaL_typename(L, -2);
      luaL_argerror(L, arg, lua_pushfstring(L, "unknown %s key '%s' (known: %s)", what, k, lua_tostring(L, -1)));
    }
  }
}

/* Optional number field key of the options table at idx; def when nil. */
static double st_opt_num(lua_State *L, int idx, int arg, const char *key, double def) {
  if (lua_isnoneornil(L, idx)) return def;
  int ty = lua_getfield(L, idx, key);
  double v = def; /* the default may be NaN ("none"): only a given value must be finite */
  if (ty == LUA_TNUMBER) {
    v = (double)lua_tonumber(L, -1);
    if (isnan(v) || isinf(v)) luaL_argerror(L, arg, lua_pushfstring(L, "%s must be finite", key));
  } else if (ty != LUA_TNIL) {
    luaL_argerror(L, arg, lua_pushfstring(L, "%s must be a number, got %s", key, lua_typename(L, ty)));
  }
  lua_pop(L, 1);
  return v;
}

static lua_Integer st_opt_int(lua_State *L, int idx, int arg, const char *key, lua_Integer def, lua_Integer lo,
                              lua_Integer hi) {
  if (lua_isnoneornil(L, idx)) return def;
  int ty = lua_getfield(L, idx, key);
  lua_Integer v = def;
  if (ty != LUA_TNIL) {
    int isint = 0;
    v = lua_tointegerx(L, -1, &isint);
    if (ty != LUA_TNUMBER || !isint)
      luaL_argerror(L, arg,
                    lua_pushfstring(L, "%s must be an integer, got %s", key,
                                    ty == LUA_TNUMBER ? "a fraction" : lua_typename(L, ty)));
    if (v < lo || v > hi) luaL_argerror(L, arg, lua_pushfstring(L, "%s must be in %I..%I, got %I", key, lo, hi, v));
  }
  lua_pop(L, 1);
  return v;
}

/* Bootstrap options {resamples = 2000, seed = 0, level = 0.95} at idx. */
static lpdm_boot_cfg st_boot(lua_State *L, int idx, int arg) {
  static const char *const keys[] = {"resamples", "seed", "level", NULL};
  lpdm_boot_cfg c = lpdm_boot_default();
  if (!lua_isnoneornil(L, idx)) {
    luaL_checktype(L, idx, LUA_TTABLE);
    st_known(L, idx, arg, "option", keys);
  }
  c.resamples = (int)st_opt_int(L, idx, arg, "resamples", c.resamples, 1, 100000000);
  c.seed = (uint64_t)st_opt_int(L, idx, arg, "seed", 0, 0, LUA_MAXINTEGER);
  c.level = st_opt_num(L, idx, arg, "level", c.level);
  if (!(c.level > 0 && c.level < 1))
    luaL_argerror(L, arg, lua_pushfstring(L, "level must be in (0, 1), got %f", (LUAI_UACNUMBER)c.level));
  return c;
}

/* lpdm.stats.run{steps =, returns =, threshold =} -> {n, final, auc,
   steps_to_threshold (nil: not reached or no threshold), mean_drop,
   collapses, smoothed}. */
static int l_stats_run(lua_State *L) {
  static const char *const keys[] = {"steps", "returns", "threshold", NULL};
  lpdm_ctx *ctx = getctx(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  st_known(L, 1, 1, "run", keys);
  int ns, nr;
  lua_getfield(L, 1, "steps");
  const double *steps = st_nums(L, -1, 1, "steps", &ns);
  lua_getfield(L, 1, "returns");
  const double *ret = st_nums(L, -1, 1, "returns", &nr);
  if (ns != nr) luaL_argerror(L, 1, lua_pushfstring(L, "steps and returns have different lengths (%d and %d)", ns, nr));
  for (int i = 1; i < ns; i++)
    if (steps[i] < steps[i - 1])
      luaL_argerror(L, 1,
                    lua_pushfstring(L, "steps must be non-decreasing, but steps[%d] = %f < steps[%d] = %f", i + 1,
                                    (LUAI_UACNUMBER)steps[i], i, (LUAI_UACNUMBER)steps[i - 1]));
  double thr = NAN;
  int ty = lua_getfield(L, 1, "threshold");
  if (ty == LUA_TNUMBER) {
    thr = (double)lua_tonumber(L, -1);
    if (!isfinite(thr)) luaL_argerror(L, 1, "threshold must be finite");
  } else if (ty != LUA_TNIL)
    luaL_argerror(L, 1, lua_pushfstring(L, "threshold must be a number, got %s", lua_typename(L, ty)));
  lua_pop(L, 1);
  double *sm = (double *)tmpbuf(L, (size_t)nr * sizeof *sm);
  lpdm_run_stats s;
  if (lpdm_stats_run(ctx, steps, ret, nr, thr, &s, sm)) return fail(L, ctx);
  lua_createtable(L, 0, 8);
  lua_pushinteger(L, s.n);
  lua_setfield(L, -2, "n");
  lua_pushnumber(L, s.final);
  lua_setfield(L, -2, "final");
  lua_pushinteger(L, s.final_n);
  lua_setfield(L, -2, "final_n");
  lua_pushnumber(L, s.auc);
  lua_setfield(L, -2, "auc");
  if (s.reached) {
    lua_pushnumber(L, s.steps_to_threshold);
    lua_setfield(L, -2, "steps_to_threshold");
  }
  lua_pushnumber(L, s.mean_drop);
  lua_setfield(L, -2, "mean_drop");
  lua_pushinteger(L, s.collapses);
  lua_setfield(L, -2, "collapses");
  lua_createtable(L, nr, 0);
  for (int i = 0; i < nr; i++) {
    lua_pushnumber(L, sm[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "smoothed");
  return 1;
}

/* lpdm.stats.across(values [, {stuck_below = x}]) -> {n, mean, sd (NaN for
   one value), q25, q75, iqr, iqm, stuck (nil without stuck_below)}. */
static int l_stats_across(lua_State *L) {
  static const char *const keys[] = {"stuck_below", NULL};
  lpdm_ctx *ctx = getctx(L);
  lua_settop(L, 2);
  int n;
  const double *x = st_nums(L, 1, 1, "values", &n);
  double stuck = NAN;
  if (!lua_isnil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    st_known(L, 2, 2, "option", keys);
    stuck = st_opt_num(L, 2, 2, "stuck_below", NAN);
  }
  lpdm_across_stats s;
  if (lpdm_stats_across(ctx, x, n, stuck, &s)) return fail(L, ctx);
  lua_createtable(L, 0, 8);
  lua_pushinteger(L, s.n);
  lua_setfield(L, -2, "n");
  const struct {
    const char *k;
    double v;
  } f[] = {{"mean", s.mean}, {"sd", s.sd}, {"q25", s.q25}, {"q75", s.q75}, {"iqr", s.iqr}, {"iqm", s.iqm}};
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
    lua_pushnumber(L, f[i].v);
    lua_setfield(L, -2, f[i].k);
  }
  if (!isnan(stuck)) {
    lua_pushnumber(L, s.stuck);
    lua_setfield(L, -2, "stuck");
  }
  return 1;
}

/* lpdm.stats.iqm(values) -> the interquartile mean. */
static int l_stats_iqm(lua_State *L) {
  lpdm_ctx *ctx = getctx(L);
  int n;
  const double *x = st_nums(L, 1, 1, "values", &n);
  double v;
  if (lpdm_stats_iqm(ctx, x, n, &v)) return fail(L, ctx);
  lua_pushnumber(L, v);
  return 1;
}

/* lpdm.stats.quantile(values, p) -> the p-quantile, numpy's "linear"
   (docs/statistics.md); p in [0, 1]. */
static int l_stats_quantile(lua_State *L) {
  lpdm_ctx *ctx = getctx(L);
  int n;
  const double *x = st_nums(L, 1, 1, "values", &n);
  const double p = luaL_checknumber(L, 2);
  if (!(p >= 0 && p <= 1)) return luaL_argerror(L, 2, lua_pushfstring(L, "p must be in [0, 1], got %f", p));
  double v;
  if (lpdm_stats_quantile(ctx, x, n, p, &v)) return fail(L, ctx);
  lua_pushnumber(L, v);
  return 1;
}

/* Tasks of a by-task table: keys sorted (integers, then strings). */
typedef struct st_key {
  int str;
  lua_Integer i;
  const char *s; /* anchored: a key of the argument table */
} st_key;

static int st_keycmp(const void *a, const void *b) {
  const st_key *x = (const st_key *)a, *y = (const st_key *)b;
  if (x->str != y->str) return x->str - y->str;
  if (x->str) return strcmp(x->s, y->s);
  return (x->i > y->i) - (x->i < y->i);
}

static void st_pushkey(lua_State *L, const st_key *k) {
  if (k->str)
    lua_pushstring(L, k->s);
  else
    lua_pushinteger(L, k->i);
}

static int st_flat(lua_State *L, int idx) {
  int flat = lua_rawgeti(L, idx, 1) == LUA_TNUMBER;
  lua_pop(L, 1);
  return flat;
}

/* Reads the scores by task at idx: an array of numbers (one task) or a
   table of such arrays keyed by task. With want == NULL the tasks are the
   table's own keys (sorted, *keys set: NULL for one flat task); with
   nwant > 0 it must have x's shape (want_flat) and exactly want's keys.
   Buffers stay on the stack. */
static void st_tasks(lua_State *L, int idx, int arg, const char *what, const st_key *want, int nwant, int want_flat,
                     int *tasks, const double ***px, int **pn, st_key **keys) {
  idx = lua_absindex(L, idx);
  if (!lua_istable(L, idx))
    luaL_argerror(L, arg,
                  lua_pushfstring(L, "%s must be a table of scores by task, got %s", what, luaL_typename(L, idx)));
  int flat = st_flat(L, idx);
  if (nwant && flat != want_flat)
    luaL_argerror(L, arg,
                  lua_pushfstring(L, "%s must be shaped like x (%s)", what,
                                  want_flat ? "an array of numbers: one task" : "a table of tasks"));
  if (flat) {
    int *n = (int *)tmpbuf(L, sizeof *n);
    const double **x = (const double **)tmpbuf(L, sizeof *x);
    x[0] = st_nums(L, idx, arg, what, n);
    *tasks = 1, *px = x, *pn = n;
    if (keys) *keys = NULL;
    return;
  }
  int nt = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) lua_pop(L, 1), nt++;
  if (nt == 0) luaL_argerror(L, arg, lua_pushfstring(L, "%s is empty (need at least one task)", what));
  if (want && nt != nwant)
    luaL_argerror(L, arg,
                  lua_pushfstring(L, "%s has %d tasks, x has %d (they must name the same tasks)", what, nt, nwant));
  luaL_checkstack(L, 3 * nt + 8, "stats: tasks");
  st_key *k = (st_key *)tmpbuf(L, (size_t)nt * sizeof *k);
  if (want)
    memcpy(k, want, (size_t)nt * sizeof *k);
  else {
    int i = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      lua_pop(L, 1);
      int isint = 0;
      k[i].str = lua_type(L, -1) == LUA_TSTRING;
      k[i].s = k[i].str ? lua_tostring(L, -1) : NULL;
      k[i].i = k[i].str ? 0 : lua_tointegerx(L, -1, &isint);
      if (!k[i].str && (!isint || lua_type(L, -1) != LUA_TNUMBER))
        luaL_argerror(
            L, arg, lua_pushfstring(L, "%s: task keys must be names or integers, got %s", what, luaL_typename(L, -1)));
      i++;
    }
    qsort(k, (size_t)nt, sizeof *k, st_keycmp);
  }
  int *n = (int *)tmpbuf(L, (size_t)nt * sizeof *n);
  const double **x = (const double **)tmpbuf(L, (size_t)nt * sizeof *x);
  for (int t = 0; t < nt; t++) {
    const char *name =
        k[t].str ? lua_pushfstring(L, "%s.%s", what, k[t].s) : lua_pushfstring(L, "%s[%I]", what, k[t].i);
    st_pushkey(L, &k[t]);
    if (lua_rawget(L, idx) == LUA_TNIL && want)
      luaL_argerror(L, arg, lua_pushfstring(L, "%s has no task %s", what, name + strlen(what) + (k[t].str ? 1 : 0)));
    x[t] = st_nums(L, -1, arg, name, &n[t]);
  }
  *tasks = nt, *px = x, *pn = n;
  if (keys) *keys = k;
}

/* lpdm.stats.iqm_ci(scores_by_task [, {resamples, seed, level}]) -> iqm, lo, hi. */
static int l_stats_iqm_ci(lua_State *L) {
  lpdm_ctx *ctx = getctx(L);
  lua_settop(L, 2);
  lpdm_boot_cfg c = st_boot(L, 2, 2);
  int nt, *n;
  const double **x;
  st_tasks(L, 1, 1, "scores", NULL, 0, 0, &nt, &x, &n, NULL);
  double est, lo, hi;
  if (lpdm_stats_iqm_ci(ctx, x, n, nt, &c, &est, &lo, &hi)) return fail(L, ctx);
  lua_pushnumber(L, est);
  lua_pushnumber(L, lo);
  lua_pushnumber(L, hi);
  return 3;
}

/* lpdm.stats.prob_improvement(x_by_task, y_by_task [, opts]) -> p, lo, hi. */
static int l_stats_prob_improvement(lua_State *L) {
  lpdm_ctx *ctx = getctx(L);
  lua_settop(L, 3);
  lpdm_boot_cfg c = st_boot(L, 3, 3);
  int nt, nty, *nx, *ny;
  const double **x, **y;
  st_key *k;
  st_tasks(L, 1, 1, "x", NULL, 0, 0, &nt, &x, &nx, &k);
  st_tasks(L, 2, 2, "y", k, nt, k == NULL, &nty, &y, &ny, NULL);
  double p, lo, hi;
  if (lpdm_stats_prob_improvement(ctx, x, nx, y, ny, nt, &c, &p, &lo, &hi)) return fail(L, ctx);
  lua_pushnumber(L, p);
  lua_pushnumber(L, lo);
  lua_pushnumber(L, hi);
  return 3;
}

static const luaL_Reg stats_funcs[] = {{"run", l_stats_run},
                                       {"across", l_stats_across},
                                       {"iqm", l_stats_iqm},
                                       {"quantile", l_stats_quantile},
                                       {"iqm_ci", l_stats_iqm_ci},
                                       {"prob_improvement", l_stats_prob_improvement},
                                       {NULL, NULL}};

static const luaL_Reg funcs[] = {{"envs", l_envs},
                                 {"plugins", l_plugins},
                                 {"load_plugin", l_load_plugin},
                                 {"env", l_env},
                                 {"layer", l_layer},
                                 {"dense", l_dense},
                                 {"lua_layer", l_lua_layer},
                                 {"net", l_net},
                                 {"distance", l_distance},
                                 {"loss", l_loss},
                                 {"algo", l_algo},
                                 {"clock", l_clock},
                                 {"blas_threads", l_blas_threads},
                                 {"save", l_save},
                                 {"load", l_load},
                                 {NULL, NULL}};

int luaopen_lpdm(lua_State *L) {
  luaL_checkversion(L);
  if (lua_getfield(L, LUA_REGISTRYINDEX, CTX_KEY) != LUA_TUSERDATA) {
    lua_pop(L, 1);
    lctx *c = (lctx *)lua_newuserdatauv(L, sizeof *c, 0);
    c->ctx = NULL;
    c->host = NULL;
    if (luaL_newmetatable(L, CTX_T)) luaL_setfuncs(L, ctx_meta, 0);
    lua_setmetatable(L, -2);
    c->ctx = lpdm_ctx_new();
    if (!c->ctx) return luaL_error(L, "lpdm: out of memory creating a context");
    if (lpdm_plugin_load_default(c->ctx)) return luaL_error(L, "%s", lpdm_ctx_message(c->ctx));
    ll_open(L, c);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, CTX_KEY);
  }
  int c = lua_gettop(L);
  newtype(L, c, ENV_T, env_meta, env_methods, env_index);
  newtype(L, c, SPEC_T, spec_meta, spec_methods, spec_index);
  newtype(L, c, NET_T, net_meta, net_methods, net_index);
  newtype(L, c, DIST_T, dist_meta, dist_methods, dist_index);
  newtype(L, c, LOSS_T, loss_meta, loss_methods, loss_index);
  newtype(L, c, RUN_T, run_meta, run_methods, run_index);
  luaL_newlibtable(L, funcs);
  lua_pushvalue(L, c);
  luaL_setfuncs(L, funcs, 1);
  lua_pushliteral(L, LPDM_VERSION);
  lua_setfield(L, -2, "version");
  luaL_newlibtable(L, stats_funcs);
  lua_pushvalue(L, c);
  luaL_setfuncs(L, stats_funcs, 1);
  lua_setfield(L, -2, "stats");
  lpdm_lua_open_mpi(L);
  lua_setfield(L, -2, "mpi");
  return 1;
}
