/* SPDX-License-Identifier: MIT */
/*
** lpdm_aux.h -- internal to the Lua binding: what its files share.
**
** The binding is split by object family, as Lua's own libraries are:
**   lpdm_lua.c    luaopen_lpdm, the context, lpdm.plugins/envs/load_plugin/clock
**   lpdm_aux.c    this header's helpers (as lauxlib.c is Lua's)
**   lpdm_env.c    lpdm.Env                 lpdm_net.c    lpdm.LayerSpec, lpdm.Net
**   lpdm_layer.c  layer.lua (Lua black box) lpdm_dist.c   lpdm.Distance, lpdm.Loss
**   lpdm_run.c    lpdm.Run (lpdm.algo)     lpdm_ckpt.c   lpdm.save, lpdm.load
**   lpdm_stats.c  lpdm.stats               lpdm_mpi.c    lpdm.mpi
**   lpdm_policy.c lpdm.Policy (lpdm.policy)
** Each family has an lpdmL_open_<family>(L, c) that makes its metatables and
** sets its functions into the module table on top of the stack, with the
** context userdata at index c as their upvalue 1.
**
** Names here are lpdmL_* and hidden: nothing of this leaves the module.
*/
#ifndef LPDM_LUA_AUX_H
#define LPDM_LUA_AUX_H
#include <lauxlib.h>
#include <lua.h>

#include "lpdm/lpdm.h"

#define CTX_T "lpdm.Context"
#define ENV_T "lpdm.Env"
#define SPEC_T "lpdm.LayerSpec"
#define NET_T "lpdm.Net"
#define DIST_T "lpdm.Distance"
#define LOSS_T "lpdm.Loss"
#define RUN_T "lpdm.Run"
#define ST_T "lpdm.Checkpoint"
#define POLICY_T "lpdm.Policy"
#define CTX_KEY "lpdm.context"
#define LL_NAME "layer.lua"

#pragma GCC visibility push(hidden)

typedef struct llhost llhost; /* the lua layer's kind and its link to the state (lpdm_layer.c) */

/* The context userdata: upvalue 1 of every function, user value 1 of every object. */
typedef struct lctx {
  lpdm_ctx *ctx;
  llhost *host;
} lctx;

/* The userdata of the shared types (each type's own file has its functions). */
typedef struct lenv {
  lpdm_env *env;
  float *obs;
  double *act, *state;
} lenv;
typedef struct lnet {
  lpdm_net *net;
  int users; /* open runs training it */
} lnet;
typedef struct ldist {
  lpdm_distance *d;
} ldist;
typedef struct lloss {
  lpdm_loss *l;
} lloss;
typedef struct lst { /* a checkpoint being written or read (lpdm_ckpt.c) */
  lpdm_st *st;
} lst;

/* ------------------------------------------------------------ lpdm_aux.c */
lpdm_ctx *lpdmL_ctx(lua_State *L);                 /* this state's context (upvalue 1)   */
int lpdmL_fail(lua_State *L, lpdm_ctx *ctx);       /* raises the context's message       */
const char *lpdmL_tname(lua_State *L, int i);      /* __name of a typed userdata, or Lua's */
void *lpdmL_newobj(lua_State *L, size_t size, const char *tn, int nuv);
void *lpdmL_tmpbuf(lua_State *L, size_t n);        /* a temporary buffer on the stack    */
int lpdmL_checkint(lua_State *L, int arg, lua_Integer lo, lua_Integer hi, const char *what);
void lpdmL_pushfvec(lua_State *L, const float *x, int n);
void lpdmL_pushdvec(lua_State *L, const double *x, int n);
void lpdmL_pushfmat(lua_State *L, const float *x, int rows, int cols);
void lpdmL_readvec(lua_State *L, int t, int n, float *f, double *d, int arg, const char *what);
float *lpdmL_readbatch(lua_State *L, int t, int *width, int *B, int *single, int allow_row, int arg);
void lpdmL_pushvalue(lua_State *L, const lpdm_key *k, const lpdm_value *v);
const char *lpdmL_typeword(lpdm_type t);
void lpdmL_pushconfig(lua_State *L, const lpdm_config *cfg);
void lpdmL_setcfgvalue(lua_State *L, lpdm_ctx *ctx, lpdm_config *cfg, const char *what, const char *key, int v);
int lpdmL_inlist(const char *s, const char *const *list);
void lpdmL_fillconfig(lua_State *L, lpdm_ctx *ctx, lpdm_config *cfg, const char *what, int t,
                      const char *const *skip, int positional, const char *extra);
void lpdmL_makeconfig(lua_State *L, lpdm_ctx *ctx, const lpdm_plugin *p, lpdm_config *cfg, int t);
const lpdm_plugin *lpdmL_getplugin(lua_State *L, lpdm_ctx *ctx, int kind, const char *name);
int lpdmL_opttable(lua_State *L, int arg);
void lpdmL_newtype(lua_State *L, int c, const char *tn, const luaL_Reg *meta, const luaL_Reg *methods,
                   lua_CFunction index);
int lpdmL_method(lua_State *L);                    /* in an __index: the method, or 0    */
int lpdmL_cmpstr(const void *a, const void *b);    /* qsort of C strings                 */

/* ------------------------------------------------------------ the families */
lenv *lpdmL_pushenv(lua_State *L, lpdm_ctx *ctx, const char *id, int t); /* lpdm_env.c */
void lpdmL_pushspace(lua_State *L, const lpdm_space *s);                /* {kind=, n= | shape=, low=, high=} */
void lpdmL_llopen(lua_State *L, lctx *c);         /* lpdm_layer.c: registers layer.lua  */
void lpdmL_llclose(lctx *c);                      /* at the context's finalizer         */
void lpdmL_notinfn(lua_State *L, const char *what); /* raises inside a layer's function */
int lpdmL_islualayer(lua_State *L, const lpdm_plugin *p);
lua_Integer lpdmL_fnregister(lua_State *L, int f);
void lpdmL_fnrelease(lua_State *L, lua_Integer id);
lst *lpdmL_stholder(lua_State *L);                /* lpdm_ckpt.c                        */
void lpdmL_setmeta(lua_State *L, lpdm_ctx *ctx, lpdm_st *st, int t, const char *what);
void lpdmL_pushmeta(lua_State *L, const lpdm_st *st);

void lpdmL_open_env(lua_State *L, int c);
void lpdmL_open_net(lua_State *L, int c);
void lpdmL_open_dist(lua_State *L, int c);
void lpdmL_open_run(lua_State *L, int c);
void lpdmL_open_ckpt(lua_State *L, int c);
void lpdmL_open_stats(lua_State *L, int c);
void lpdmL_open_policy(lua_State *L, int c);

#pragma GCC visibility pop
#endif
