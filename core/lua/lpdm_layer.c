/* SPDX-License-Identifier: MIT */
/*
** lpdm_layer.c -- layer.lua: a black-box layer whose forward is a Lua
** function (lpdm.lua_layer{ fn = f, ... }, whose LayerSpec lpdm_net.c makes).
** Its kind is registered into each state's context when the module opens;
** its lifetime rules are below.
*/
#include <float.h>
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lpdm_aux.h"

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
  if (l->flat) lpdmL_pushfvec(T, c->X, B * d);
  else lpdmL_pushfmat(T, c->X, B, d);
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
void lpdmL_llopen(lua_State *L, lctx *c) {
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
void lpdmL_llclose(lctx *c) {
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
void lpdmL_notinfn(lua_State *L, const char *what) {
  llhost *h = gethost(L);
  if (h && h->calling > 0)
    luaL_error(L, "%s cannot be used inside a lua layer's function (it runs in the middle of a network's pass)",
               what);
}

/* Is p this state's layer.lua kind? */
int lpdmL_islualayer(lua_State *L, const lpdm_plugin *p) {
  llhost *h = gethost(L);
  return h && p == &h->kind.head;
}

/* Registers the function at index f for a new LayerSpec (one holder). */
lua_Integer lpdmL_fnregister(lua_State *L, int f) { return fn_register(L, gethost(L), f); }

/* A LayerSpec lets go of its function. */
void lpdmL_fnrelease(lua_State *L, lua_Integer id) { fn_hold(L, id, -1); }
