/* SPDX-License-Identifier: MIT */
/*
** lpdm_net.c -- layer specs and nets in Lua.
**
**   lpdm.layer(name [, cfg])           LayerSpec; cfg[1] is `out`; the binding keeps
**   lpdm.dense{out, act=, ...}           lr, optimizer ("adam"/"sgd"), weight_decay
**                                      for that layer's optimizer. .name .config
**   lpdm.lua_layer{[out,] fn = f,      LayerSpec of layer.lua (lpdm_layer.c)
**     flat=, straight_through=, label=} or lpdm.lua_layer(f[, out])
**   lpdm.net{inputs=, spec..., seed=0, lr=1e-3, optimizer="adam",
**            weight_decay=0, propagate="post", large_batches={...}}
**                                      Net: forward(batch | row), params(),
**                                      set_lr(i | nil, lr), layer(i), close();
**                                      .inputs .outputs .depth
**
** A Net counts the open runs that train it (lnet.users, lpdm_run.c): it
** cannot be closed, nor given to a second run, while one trains it.
*/
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "lpdm_aux.h"

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
  if (s->fn) lpdmL_fnrelease(L, s->fn); /* layer.lua: let go of the function */
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
      luaL_error(L, "%s: '%s' expects a number, got a %s", what, field, lpdmL_tname(L, -1));
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
      luaL_error(L, "%s: 'optimizer' expects a string, got a %s", what, lpdmL_tname(L, -1));
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
  lpdm_ctx *ctx = lpdmL_ctx(L);
  const lpdm_plugin *p = lpdmL_getplugin(L, ctx, LPDM_KIND_LAYER, name);
  lspec *s = lpdmL_newobj(L, sizeof *s, SPEC_T, 1);
  s->lr = NAN;
  s->wd = NAN;
  if (lpdm_config_init(ctx, p, &s->cfg)) return lpdmL_fail(L, ctx);
  int is_lua = lpdmL_islualayer(L, p);
  if (is_lua) { /* the binding takes fn: the config gets its id */
    int ty = t ? lua_getfield(L, t, "fn") : LUA_TNIL;
    if (ty != LUA_TFUNCTION)
      return luaL_error(L, LL_NAME ": 'fn' (a function from a batch to a batch) is required, got a %s",
                        t ? lpdmL_tname(L, -1) : "nil");
    s->fn = lpdmL_fnregister(L, -1);
    lua_pop(L, 1);
    if (lpdm_config_set_num(ctx, &s->cfg, p->name, "fn", (double)s->fn)) return lpdmL_fail(L, ctx);
  }
  if (t) {
    if (lua_rawgeti(L, t, 1) != LUA_TNIL) lpdmL_setcfgvalue(L, ctx, &s->cfg, p->name, "out", lua_gettop(L));
    lua_pop(L, 1);
    lpdmL_fillconfig(L, ctx, &s->cfg, p->name, t, is_lua ? lua_spec_keys : spec_keys, 1,
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
  return push_spec(L, name, lpdmL_opttable(L, 2));
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
  return push_spec(L, "dense", lpdmL_opttable(L, 1));
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
  if (lpdmL_method(L)) return 1;
  lspec *s = check_spec(L, 1);
  const char *k = lua_tostring(L, 2);
  if (!k) return 0;
  if (!strcmp(k, "name")) lua_pushstring(L, lpdm_plugin_short(&s->kind->head));
  else if (!strcmp(k, "config")) lpdmL_pushconfig(L, &s->cfg);
  else if (!strcmp(k, "lr") && !isnan(s->lr)) lua_pushnumber(L, s->lr);
  else if (!strcmp(k, "weight_decay") && !isnan(s->wd)) lua_pushnumber(L, s->wd);
  else if (!strcmp(k, "optimizer") && s->opt) lua_pushstring(L, lpdm_optim_type_name(s->opt));
  else lua_pushnil(L);
  return 1;
}

/* ================================================================ Net */

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
  lpdm_ctx *ctx = lpdmL_ctx(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_Integer nspec = (lua_Integer)lua_rawlen(L, 1);
  /* keys */
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      if (!lpdmL_inlist(lua_tostring(L, -1), net_keys))
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
                                                 i, s ? "closed " SPEC_T : lpdmL_tname(L, -1)));
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
      if (lua_type(L, -1) != LUA_TSTRING || !lpdmL_inlist(lua_tostring(L, -1), lb_keys))
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

  lnet *n = lpdmL_newobj(L, sizeof *n, NET_T, 1);
  if (lpdm_net_new(ctx, (int)inputs, &n->net)) return lpdmL_fail(L, ctx);
  lpdm_net_set_propagate_post(n->net, post);
  if (lpdm_net_set_local(n->net, ctx, &lcfg)) return lpdmL_fail(L, ctx);
  lpdm_rng rng;
  lpdm_rng_seed(&rng, (uint64_t)seed);
  for (lua_Integer i = 1; i <= nspec; i++) {
    lua_rawgeti(L, 1, i);
    lspec *s = (lspec *)lua_touserdata(L, -1);
    lpdm_optim_cfg oc = lpdm_optim_default(s->opt ? s->opt : opt, isnan(s->lr) ? lr : s->lr);
    oc.weight_decay = isnan(s->wd) ? wd : s->wd;
    if (lpdm_net_add(n->net, ctx, s->kind, &s->cfg, &rng, &oc)) return lpdmL_fail(L, ctx);
    /* a rate the user chose (on the spec or the net) is kept by algorithms */
    if (!isnan(s->lr) || net_lr_given) lpdm_net_keep_lr(n->net, (int)i - 1, 1);
    lua_pop(L, 1);
  }
  return 1;
}

/* net:forward(batch | row) -> same shape */
static int net_forward(lua_State *L) {
  lnet *n = check_net(L, 1);
  lpdmL_notinfn(L, NET_T);
  lpdm_ctx *ctx = lpdmL_ctx(L);
  int in = lpdm_net_in_dim(n->net), out = lpdm_net_out_dim(n->net);
  int B = 0, single = 0, width = in;
  const float *X = lpdmL_readbatch(L, 2, &width, &B, &single, 1, 2);
  float *Y = lpdmL_tmpbuf(L, (size_t)B * (size_t)(out > in ? out : in) * sizeof(float));
  if (lpdm_net_forward(n->net, ctx, X, B, Y)) return lpdmL_fail(L, ctx);
  if (single) lpdmL_pushfvec(L, Y, out);
  else lpdmL_pushfmat(L, Y, B, out);
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
    lo = lpdmL_checkint(L, 2, 1, depth, "layer") - 1;
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
  int i = lpdmL_checkint(L, 2, 1, depth, "layer") - 1;
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
  lpdmL_pushconfig(L, &l->cfg);
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
    lpdmL_pushfvec(L, p->w, (int)p->n);
    lua_setfield(L, -2, "values");
    lua_rawseti(L, -2, j + 1);
  }
  lua_setfield(L, -2, "params");
  return 1;
}

static int net_close(lua_State *L) {
  lnet *n = check_net(L, 1);
  lpdmL_notinfn(L, NET_T);
  if (n->users > 0) return luaL_error(L, NET_T " is used by an open " RUN_T "; close the run first");
  return net_gc(L);
}

/* __close: like close, but a closed net is fine. __gc needs no such check:
   a run is created after its nets, so Lua finalizes it first. */
static int net_close_meta(lua_State *L) {
  lnet *n = (lnet *)luaL_checkudata(L, 1, NET_T);
  if (n->net) lpdmL_notinfn(L, NET_T);
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
  if (lpdmL_method(L)) return 1;
  lnet *n = check_net(L, 1);
  const char *k = lua_tostring(L, 2);
  if (!k) return 0;
  if (!strcmp(k, "inputs")) lua_pushinteger(L, lpdm_net_in_dim(n->net));
  else if (!strcmp(k, "outputs")) lua_pushinteger(L, lpdm_net_out_dim(n->net));
  else if (!strcmp(k, "depth")) lua_pushinteger(L, lpdm_net_depth(n->net));
  else lua_pushnil(L);
  return 1;
}

static const luaL_Reg spec_meta[] = {
    {"__gc", spec_gc}, {"__close", spec_gc}, {"__tostring", spec_tostring}, {NULL, NULL}};
static const luaL_Reg spec_methods[] = {{NULL, NULL}};

static const luaL_Reg net_meta[] = {
    {"__gc", net_gc}, {"__close", net_close_meta}, {"__tostring", net_tostring}, {NULL, NULL}};
static const luaL_Reg net_methods[] = {{"forward", net_forward}, {"params", net_params},
                                       {"set_lr", net_set_lr},   {"layer", net_layer},
                                       {"close", net_close},     {NULL, NULL}};

/* The LayerSpec and Net types, lpdm.layer, lpdm.dense, lpdm.lua_layer, lpdm.net. */
void lpdmL_open_net(lua_State *L, int c) {
  static const luaL_Reg funcs[] = {
      {"layer", l_layer}, {"dense", l_dense}, {"lua_layer", l_lua_layer}, {"net", l_net}, {NULL, NULL}};
  lpdmL_newtype(L, c, SPEC_T, spec_meta, spec_methods, spec_index);
  lpdmL_newtype(L, c, NET_T, net_meta, net_methods, net_index);
  lua_pushvalue(L, c);
  luaL_setfuncs(L, funcs, 1);
}
