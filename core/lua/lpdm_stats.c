/* SPDX-License-Identifier: MIT */
/*
** lpdm_stats.c -- lpdm.stats: statistics over runs (docs/statistics.md).
**
**   lpdm.stats.run{steps=, returns=, threshold=}, .across(values, {stuck_below=}),
**   .iqm(values), .quantile(values, p), .iqm_ci(by_task, opts), .prob_improvement(x, y, opts),
**   .aggregate(by_task, stat, opts)
*/
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lpdm_aux.h"

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
  double *x = (double *)lpdmL_tmpbuf(L, len * sizeof *x);
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
static lpdm_boot_cfg st_boot_keys(lua_State *L, int idx, int arg, const char *const *keys) {
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

static lpdm_boot_cfg st_boot(lua_State *L, int idx, int arg) {
  static const char *const keys[] = {"resamples", "seed", "level", NULL};
  return st_boot_keys(L, idx, arg, keys);
}

/* lpdm.stats.run{steps =, returns =, threshold =} -> {n, final, auc,
   steps_to_threshold (nil: not reached or no threshold), mean_drop,
   collapses, smoothed}. */
static int l_stats_run(lua_State *L) {
  static const char *const keys[] = {"steps", "returns", "threshold", NULL};
  lpdm_ctx *ctx = lpdmL_ctx(L);
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
  double *sm = (double *)lpdmL_tmpbuf(L, (size_t)nr * sizeof *sm);
  lpdm_run_stats s;
  if (lpdm_stats_run(ctx, steps, ret, nr, thr, &s, sm)) return lpdmL_fail(L, ctx);
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
  lpdm_ctx *ctx = lpdmL_ctx(L);
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
  if (lpdm_stats_across(ctx, x, n, stuck, &s)) return lpdmL_fail(L, ctx);
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
  lpdm_ctx *ctx = lpdmL_ctx(L);
  int n;
  const double *x = st_nums(L, 1, 1, "values", &n);
  double v;
  if (lpdm_stats_iqm(ctx, x, n, &v)) return lpdmL_fail(L, ctx);
  lua_pushnumber(L, v);
  return 1;
}

/* lpdm.stats.quantile(values, p) -> the p-quantile, numpy's "linear"
   (docs/statistics.md); p in [0, 1]. */
static int l_stats_quantile(lua_State *L) {
  lpdm_ctx *ctx = lpdmL_ctx(L);
  int n;
  const double *x = st_nums(L, 1, 1, "values", &n);
  const double p = luaL_checknumber(L, 2);
  if (!(p >= 0 && p <= 1)) return luaL_argerror(L, 2, lua_pushfstring(L, "p must be in [0, 1], got %f", p));
  double v;
  if (lpdm_stats_quantile(ctx, x, n, p, &v)) return lpdmL_fail(L, ctx);
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
    int *n = (int *)lpdmL_tmpbuf(L, sizeof *n);
    const double **x = (const double **)lpdmL_tmpbuf(L, sizeof *x);
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
  st_key *k = (st_key *)lpdmL_tmpbuf(L, (size_t)nt * sizeof *k);
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
  int *n = (int *)lpdmL_tmpbuf(L, (size_t)nt * sizeof *n);
  const double **x = (const double **)lpdmL_tmpbuf(L, (size_t)nt * sizeof *x);
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
  lpdm_ctx *ctx = lpdmL_ctx(L);
  lua_settop(L, 2);
  lpdm_boot_cfg c = st_boot(L, 2, 2);
  int nt, *n;
  const double **x;
  st_tasks(L, 1, 1, "scores", NULL, 0, 0, &nt, &x, &n, NULL);
  double est, lo, hi;
  if (lpdm_stats_iqm_ci(ctx, x, n, nt, &c, &est, &lo, &hi)) return lpdmL_fail(L, ctx);
  lua_pushnumber(L, est);
  lua_pushnumber(L, lo);
  lua_pushnumber(L, hi);
  return 3;
}

/* lpdm.stats.prob_improvement(x_by_task, y_by_task [, opts]) -> p, lo, hi. */
static int l_stats_prob_improvement(lua_State *L) {
  lpdm_ctx *ctx = lpdmL_ctx(L);
  lua_settop(L, 3);
  lpdm_boot_cfg c = st_boot(L, 3, 3);
  int nt, nty, *nx, *ny;
  const double **x, **y;
  st_key *k;
  st_tasks(L, 1, 1, "x", NULL, 0, 0, &nt, &x, &nx, &k);
  st_tasks(L, 2, 2, "y", k, nt, k == NULL, &nty, &y, &ny, NULL);
  double p, lo, hi;
  if (lpdm_stats_prob_improvement(ctx, x, nx, y, ny, nt, &c, &p, &lo, &hi)) return lpdmL_fail(L, ctx);
  lua_pushnumber(L, p);
  lua_pushnumber(L, lo);
  lua_pushnumber(L, hi);
  return 3;
}

/* lpdm.stats.aggregate(scores_by_task, stat [, {threshold, resamples, seed,
   level}]) -> est, lo, hi. stat: "iqm", "mean", "median", "optimality_gap"
   (threshold: the target, default 1), "profile" (threshold: tau, default
   0.5). */
static int l_stats_aggregate(lua_State *L) {
  static const char *const keys[] = {"threshold", "resamples", "seed", "level", NULL};
  static const char *const stats[] = {"iqm", "mean", "median", "optimality_gap", "profile", NULL};
  lpdm_ctx *ctx = lpdmL_ctx(L);
  lua_settop(L, 3);
  const int stat = LPDM_AGG_IQM + luaL_checkoption(L, 2, NULL, stats);
  lpdm_boot_cfg c = st_boot_keys(L, 3, 3, keys);
  const double thr = st_opt_num(L, 3, 3, "threshold", stat == LPDM_AGG_PROFILE ? 0.5 : 1.0);
  int nt, *n;
  const double **x;
  st_tasks(L, 1, 1, "scores", NULL, 0, 0, &nt, &x, &n, NULL);
  double est, lo, hi;
  if (lpdm_stats_aggregate_ci(ctx, x, n, nt, stat, thr, &c, &est, &lo, &hi)) return lpdmL_fail(L, ctx);
  lua_pushnumber(L, est);
  lua_pushnumber(L, lo);
  lua_pushnumber(L, hi);
  return 3;
}

static const luaL_Reg stats_funcs[] = {{"aggregate", l_stats_aggregate},{"run", l_stats_run},
                                       {"across", l_stats_across},
                                       {"iqm", l_stats_iqm},
                                       {"quantile", l_stats_quantile},
                                       {"iqm_ci", l_stats_iqm_ci},
                                       {"prob_improvement", l_stats_prob_improvement},
                                       {NULL, NULL}};

/* Sets lpdm.stats in the module table (on top). */
void lpdmL_open_stats(lua_State *L, int c) {
  luaL_newlibtable(L, stats_funcs);
  lua_pushvalue(L, c);
  luaL_setfuncs(L, stats_funcs, 1);
  lua_setfield(L, -2, "stats");
}
