/* SPDX-License-Identifier: MIT */
/*
** lpdm_dist.c -- distance and local-loss instances in Lua, to look at and
** test them, or to hand one to lpdm.algo.
**
**   lpdm.distance(name [, cfg])        Distance: pairwise(batch) -> B x B; .name .config
**   lpdm.loss(name [, cfg])            Loss: eval(DX, DY [, g]) -> L, dDY;
**                                      .name .config .uses_guidance
*/
#include <lauxlib.h>
#include <lua.h>
#include <string.h>

#include "lpdm_aux.h"

/* ================================================================ Distance, Loss */

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
  lpdm_ctx *ctx = lpdmL_ctx(L);
  const char *name = luaL_checkstring(L, 1);
  int t = lpdmL_opttable(L, 2);
  const lpdm_plugin *p = lpdmL_getplugin(L, ctx, LPDM_KIND_DISTANCE, name);
  lpdm_config *cfg = lpdmL_tmpbuf(L, sizeof *cfg);
  lpdmL_makeconfig(L, ctx, p, cfg, t);
  ldist *d = lpdmL_newobj(L, sizeof *d, DIST_T, 1);
  if (lpdm_distance_new(ctx, (const lpdm_distance_kind *)p, cfg, &d->d)) return lpdmL_fail(L, ctx);
  return 1;
}

/* lpdm.loss(name [, cfg]) */
static int l_loss(lua_State *L) {
  lpdm_ctx *ctx = lpdmL_ctx(L);
  const char *name = luaL_checkstring(L, 1);
  int t = lpdmL_opttable(L, 2);
  const lpdm_plugin *p = lpdmL_getplugin(L, ctx, LPDM_KIND_LOSS, name);
  lpdm_config *cfg = lpdmL_tmpbuf(L, sizeof *cfg);
  lpdmL_makeconfig(L, ctx, p, cfg, t);
  lloss *l = lpdmL_newobj(L, sizeof *l, LOSS_T, 1);
  if (lpdm_loss_new(ctx, (const lpdm_loss_kind *)p, cfg, &l->l)) return lpdmL_fail(L, ctx);
  return 1;
}

/* d:pairwise(batch) -> B x B */
static int dist_pairwise(lua_State *L) {
  ldist *d = check_dist(L, 1);
  lpdm_ctx *ctx = lpdmL_ctx(L);
  int B = 0, width = 0, single = 0;
  const float *X = lpdmL_readbatch(L, 2, &width, &B, &single, 0, 2);
  if ((size_t)B * (size_t)B > ((size_t)1 << 28)) return luaL_argerror(L, 2, "batch too large");
  float *D = lpdmL_tmpbuf(L, (size_t)B * B * sizeof(float));
  float *work = lpdmL_tmpbuf(L, LPDM_DIST_WORK(B, width) * sizeof(float));
  if (d->d->kind->pairwise(d->d, X, B, width, D, work, ctx) ||
      lpdm_config_check(ctx, &d->d->cfg, d->d->kind->head.name))
    return lpdmL_fail(L, ctx);
  lpdmL_pushfmat(L, D, B, B);
  return 1;
}

/* Reads a B x B matrix at arg (B from the matrix when *B == 0). */
static float *read_square(lua_State *L, int arg, int *B) {
  int w = *B, n = 0, single = 0;
  float *M = lpdmL_readbatch(L, arg, &w, &n, &single, 0, arg);
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
  lpdm_ctx *ctx = lpdmL_ctx(L);
  if (!l->l->kind->eval) /* ABI 2.3: a loss that names a learning rule (localhead, dfa) has no distances to compare */
    return luaL_error(L, "%s is a learning rule, not a distance-matching loss: it has no eval (use it as an "
                         "algorithm's loss)", l->l->kind->head.name);
  lua_settop(L, 4); /* g may be absent: temporaries go above it */
  int B = 0;
  const float *DX = read_square(L, 2, &B);
  const float *DY = read_square(L, 3, &B);
  if (B < 2) return luaL_argerror(L, 2, "a loss needs at least 2 samples");
  float *g = NULL;
  if (!lua_isnoneornil(L, 4)) {
    g = lpdmL_tmpbuf(L, (size_t)B * sizeof(float));
    lpdmL_readvec(L, 4, B, g, NULL, 4, "g");
  } else if (l->l->kind->uses_guidance) {
    return luaL_argerror(L, 4, lua_pushfstring(L, "%s needs the guidance g (B values)",
                                               l->l->kind->head.name));
  }
  float *dDY = lpdmL_tmpbuf(L, (size_t)B * B * sizeof(float));
  double val = 0;
  if (l->l->kind->eval(l->l, DX, DY, g, B, &val, dDY, ctx) ||
      lpdm_config_check(ctx, &l->l->cfg, l->l->kind->head.name))
    return lpdmL_fail(L, ctx);
  lua_pushnumber(L, val);
  lpdmL_pushfmat(L, dDY, B, B);
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
  if (lpdmL_method(L)) return 1;
  ldist *d = check_dist(L, 1);
  const char *k = lua_tostring(L, 2);
  if (k && !strcmp(k, "name")) lua_pushstring(L, lpdm_plugin_short(&d->d->kind->head));
  else if (k && !strcmp(k, "config")) lpdmL_pushconfig(L, &d->d->cfg);
  else lua_pushnil(L);
  return 1;
}
static int loss_index(lua_State *L) {
  if (lpdmL_method(L)) return 1;
  lloss *l = check_loss(L, 1);
  const char *k = lua_tostring(L, 2);
  if (k && !strcmp(k, "name")) lua_pushstring(L, lpdm_plugin_short(&l->l->kind->head));
  else if (k && !strcmp(k, "config")) lpdmL_pushconfig(L, &l->l->cfg);
  else if (k && !strcmp(k, "uses_guidance")) lua_pushboolean(L, l->l->kind->uses_guidance);
  else lua_pushnil(L);
  return 1;
}

static const luaL_Reg dist_meta[] = {
    {"__gc", dist_gc}, {"__close", dist_gc}, {"__tostring", dist_tostring}, {NULL, NULL}};
static const luaL_Reg dist_methods[] = {
    {"pairwise", dist_pairwise}, {"close", dist_close}, {NULL, NULL}};

static const luaL_Reg loss_meta[] = {
    {"__gc", loss_gc}, {"__close", loss_gc}, {"__tostring", loss_tostring}, {NULL, NULL}};
static const luaL_Reg loss_methods[] = {{"eval", loss_eval}, {"close", loss_close}, {NULL, NULL}};

/* The Distance and Loss types, lpdm.distance, lpdm.loss. */
void lpdmL_open_dist(lua_State *L, int c) {
  static const luaL_Reg funcs[] = {{"distance", l_distance}, {"loss", l_loss}, {NULL, NULL}};
  lpdmL_newtype(L, c, DIST_T, dist_meta, dist_methods, dist_index);
  lpdmL_newtype(L, c, LOSS_T, loss_meta, loss_methods, loss_index);
  lua_pushvalue(L, c);
  luaL_setfuncs(L, funcs, 1);
}
