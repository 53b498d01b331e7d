/* SPDX-License-Identifier: MIT */
/*
** lpdm_lua.c -- the Lua 5.4 binding of liblpdm: `local lpdm = require("lpdm")`.
**
** The only code in lpdm that includes lua.h. Built into the `lpdm`
** executable (package.preload) and as the module lpdm.so for a plain lua5.4.
**
** FILES (one per object family, as Lua's lbaselib.c, liolib.c, ...; each
** has its part of the API below in its own header comment)
**   lpdm_lua.c    this file: luaopen_lpdm, the context, lpdm.plugins, .envs,
**                 .load_plugin, .clock, .blas_threads
**   lpdm_aux.c/h  shared helpers (context upvalue, typed userdata, argument
**                 and config-table readers, errors), as lauxlib.c
**   lpdm_env.c    lpdm.Env          lpdm_net.c    lpdm.LayerSpec, lpdm.Net
**   lpdm_layer.c  layer.lua         lpdm_dist.c   lpdm.Distance, lpdm.Loss
**   lpdm_run.c    lpdm.Run          lpdm_ckpt.c   lpdm.save, lpdm.load
**   lpdm_stats.c  lpdm.stats        lpdm_mpi.c    lpdm.mpi
**   lpdm_policy.c lpdm.Policy (lpdm.policy)
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
**   lpdm.Policy     a policy read from its file lpdm.policy(path [, opts])
**   The lua layer's functions and its link to the state have their own
**   lifetimes, described in lpdm_layer.c.
**   A Run keeps its Env and Nets as user values, so they outlive it; it
**   copies the env's config, owns its distance and loss instances, and
**   counts itself as a user of its nets: a net cannot be closed, nor given
**   to a second run, while an open run trains it. After run:close() the
**   trained net can go on (into another run: transfer).
**
** THE API
**   lpdm.version                       "0.2.0"
**   lpdm.build                         {version=, commit= (git, "" outside git),
**                                      dirty=, build_type=, compiler=, blas=}
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
**                                      state(), set_state(t), render_text(), close();
**                                      render([{width=, height=}]) -> {width=, height=,
**                                      rgb=<W*H*3 bytes, RGB24, rows top-down>};
**                                      .id .name .doc .obs_dim .state_dim .max_episode_steps
**                                      .action_space .observation_space .config
**                                      .render_width .render_height .render_fps
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
**     "euclidean" and the algorithm's own local loss, "guided" unless it
**     names one); every other key is the algorithm's. The run is assembled
**     by the core (lpdm_run_new, lpdm/run.h).
**     global_step is the algorithm's "global_step" stat when it reports one,
**     else the step at which the last episode ended. run:save(path [, meta])
**     and run:load(path) -> meta checkpoint a whole run.
**     run:save_policy(path [, meta]) writes what acting needs as a policy
**     file (docs/policy.md; atomically: path.tmp, then rename); meta adds
**     string metadata (train.lua: config, env).
**   lpdm.policy(path [, {seed = 0}])   Policy read from a policy file:
**                                      act(obs [, {deterministic = false,
**                                      clip = true}]) -> action (as run:act;
**                                      deterministic is run:act's action),
**                                      close(); .env .env_config .algo
**                                      .distribution .obs_dim .action_space .meta
**   lpdm.save(path, {name = net, ...} [, opts]), lpdm.load(path [, nets [, opts]])
**                                      nets to and from safetensors files
**   lpdm.mpi                           MPI for scripts (lpdm_mpi.c)
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
#include <stdio.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lpdm_aux.h"
#include "lpdm_build_info.h" /* LPDM_GIT_COMMIT, LPDM_GIT_DIRTY: cmake/gitinfo.cmake */
#include "lpdm_mpi.h"

int luaopen_lpdm(lua_State *L);

/* ================================================================ context */

static int ctx_gc(lua_State *L) {
  lctx *c = (lctx *)luaL_checkudata(L, 1, CTX_T);
  lpdm_ctx_free(c->ctx);
  c->ctx = NULL;
  lpdmL_llclose(c);
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
  lpdm_config *cfg = lpdmL_tmpbuf(L, sizeof *cfg);
  if (lpdm_config_init(ctx, p, cfg)) cfg->n = 0;
  lua_createtable(L, cfg->n, 0);
  for (int i = 0; i < cfg->n; i++) {
    const lpdm_key *k = &cfg->keys[i];
    lua_createtable(L, 0, 4);
    lua_pushstring(L, k->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, lpdmL_typeword(k->type));
    lua_setfield(L, -2, "type");
    lpdmL_pushvalue(L, k, &cfg->v[i]);
    lua_setfield(L, -2, "default");
    lua_pushstring(L, k->doc ? k->doc : "");
    lua_setfield(L, -2, "doc");
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -3, "keys");
  lua_pop(L, 1); /* cfg */
  if (p->kind == LPDM_KIND_ALGO) { /* its default local loss, "guided" unless it names one */
    const lpdm_algo_kind *ak = (const lpdm_algo_kind *)p;
    lua_pushstring(L, lpdm_abi_has(&ak->head, LPDM_ABI_MINOR_ALGO_LOCAL_LOSS) && ak->local_loss ? ak->local_loss : "guided");
    lua_setfield(L, -2, "local_loss");
  }
}

/* lpdm.plugins([kind]) -> array of plugin tables, in load order. */
static int l_plugins(lua_State *L) {
  lpdm_ctx *ctx = lpdmL_ctx(L);
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

/* lpdm.envs() -> sorted array of env ids. */
static int l_envs(lua_State *L) {
  lpdm_ctx *ctx = lpdmL_ctx(L);
  int n = lpdm_plugin_count(ctx, LPDM_KIND_ENV);
  const char **ids = lpdmL_tmpbuf(L, (size_t)n * sizeof *ids);
  for (int i = 0; i < n; i++) ids[i] = lpdm_plugin_short(lpdm_plugin_at(ctx, LPDM_KIND_ENV, i));
  qsort(ids, (size_t)n, sizeof *ids, lpdmL_cmpstr);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushstring(L, ids[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* lpdm.load_plugin(path) -> the plugin's table. */
static int l_load_plugin(lua_State *L) {
  lpdm_ctx *ctx = lpdmL_ctx(L);
  const char *path = luaL_checkstring(L, 1);
  int before = lpdm_plugin_count(ctx, 0);
  if (lpdm_plugin_load(ctx, path)) return lpdmL_fail(L, ctx);
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

static const luaL_Reg ctx_meta[] = {{"__gc", ctx_gc}, {"__tostring", ctx_tostring}, {NULL, NULL}};

static const luaL_Reg funcs[] = {{"envs", l_envs},   {"plugins", l_plugins},           {"load_plugin", l_load_plugin},
                                 {"clock", l_clock}, {"blas_threads", l_blas_threads}, {NULL, NULL}};

/* The context of this state: made once, with the default plugins and
   layer.lua, and kept in the registry; pushed on the stack. */
static void open_context(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, CTX_KEY) == LUA_TUSERDATA) return;
  lua_pop(L, 1);
  lctx *c = (lctx *)lua_newuserdatauv(L, sizeof *c, 0);
  c->ctx = NULL;
  c->host = NULL;
  if (luaL_newmetatable(L, CTX_T)) luaL_setfuncs(L, ctx_meta, 0);
  lua_setmetatable(L, -2);
  c->ctx = lpdm_ctx_new();
  if (!c->ctx) luaL_error(L, "lpdm: out of memory creating a context");
  if (lpdm_plugin_load_default(c->ctx)) luaL_error(L, "%s", lpdm_ctx_message(c->ctx));
  /* files in a plugin directory that are not plugins: said once, not fatal */
  const char *notes = lpdm_ctx_notes(c->ctx);
  for (const char *nl; *notes; notes = nl + 1) {
    nl = strchr(notes, '\n');
    if (!nl) break;
    fprintf(stderr, "lpdm: note: %.*s\n", (int)(nl - notes), notes);
  }
  lpdmL_llopen(L, c);
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, CTX_KEY);
}

/* lpdm.build: what this binary was built from, for a run's manifest. */
static void push_build(lua_State *L) {
  lua_createtable(L, 0, 6);
  lua_pushliteral(L, LPDM_VERSION);
  lua_setfield(L, -2, "version");
  lua_pushliteral(L, LPDM_GIT_COMMIT);
  lua_setfield(L, -2, "commit");
  lua_pushboolean(L, LPDM_GIT_DIRTY);
  lua_setfield(L, -2, "dirty");
  lua_pushliteral(L, LPDM_BUILD_TYPE);
  lua_setfield(L, -2, "build_type");
#if defined(__clang__)
  lua_pushliteral(L, "clang " __clang_version__);
#elif defined(__GNUC__)
  lua_pushliteral(L, "gcc " __VERSION__);
#else
  lua_pushliteral(L, "unknown");
#endif
  lua_setfield(L, -2, "compiler");
  lua_pushstring(L, openblas_get_config());
  lua_setfield(L, -2, "blas");
}

/* OpenBLAS on one thread unless OPENBLAS_NUM_THREADS, GOTO_NUM_THREADS or
   OMP_NUM_THREADS says otherwise, in the `lpdm` executable and under a
   plain lua5.4 alike: the thread count changes a GEMM's summation order, so
   two hosts with two defaults would give two runs' bytes for one command
   (and OpenBLAS's idle threads spin against lpdm's own; core/main.c). */
static void blas_default_threads(void) {
  if (!getenv("OPENBLAS_NUM_THREADS") && !getenv("GOTO_NUM_THREADS") && !getenv("OMP_NUM_THREADS"))
    openblas_set_num_threads(1);
}

/* require("lpdm"): the context (upvalue 1 of every function), each family's
   types and functions, lpdm.version, lpdm.stats and lpdm.mpi. */
int luaopen_lpdm(lua_State *L) {
  luaL_checkversion(L);
  blas_default_threads();
  open_context(L);
  int c = lua_gettop(L);
  lua_createtable(L, 0, 24);
  lua_pushvalue(L, c);
  luaL_setfuncs(L, funcs, 1);
  lpdmL_open_env(L, c);
  lpdmL_open_net(L, c);
  lpdmL_open_dist(L, c);
  lpdmL_open_run(L, c);
  lpdmL_open_ckpt(L, c);
  lpdmL_open_policy(L, c);
  lua_pushliteral(L, LPDM_VERSION);
  lua_setfield(L, -2, "version");
  push_build(L);
  lua_setfield(L, -2, "build");
  lpdmL_open_stats(L, c);
  lpdm_lua_open_mpi(L);
  lua_setfield(L, -2, "mpi");
  return 1;
}
