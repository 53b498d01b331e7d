/* SPDX-License-Identifier: MIT */
/*
** lpdm_mpi.c -- lpdm.mpi: MPI for Lua scripts (sweeps over ranks,
** data-parallel training), and the lpdm_comm that lpdm.algo hands an
** algorithm for {distributed = true}. Built with MPI when CMake finds it
** (LPDM_HAVE_MPI); without it every function but `available` and
** `launched` raises an error that says how to get MPI.
**
**   lpdm.mpi.available      true when this lpdm was built with MPI
**   lpdm.mpi.launched()     true when the process was started by mpirun /
**                           srun (their environment variables), MPI or not
**   lpdm.mpi.init()         -> rank, size (initialises MPI once; later calls
**                           return the same); MPI_Finalize runs at exit
**   lpdm.mpi.rank(), .size(), .hostname()
**   lpdm.mpi.bcast(s)       -> rank 0's string s on every rank
**   lpdm.mpi.barrier()
**   lpdm.mpi.abort(code)    ends every rank (MPI_Abort)
**   lpdm.mpi.finalize()     MPI_Finalize now: a later os.exit(1) is then an
**                           ordinary exit status, not a failed rank
**
** A rank that fails must not leave the others waiting in a collective (or
** in MPI_Finalize, which waits for every rank): once MPI is initialised,
** os.exit with a failure status, and the `lpdm` executable's exit after an
** uncaught error (lpdm_lua_mpi_fail), end the job with MPI_Abort instead.
** A sweep, whose ranks share no collective after the start, runs with
** mpirun --enable-recovery and so survives a rank that dies.
**
** MPI errors return (MPI_ERRORS_RETURN) and become Lua errors naming the
** call. Nothing here runs a collective on its own: a script that uses
** lpdm.mpi decides which ranks call what.
*/
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lpdm_mpi.h"

int lpdm_lua_mpi_launched(void);
int lpdm_lua_mpi_launched(void) {
  static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK", "MPI_LOCALNRANKS",
                                     NULL};
  for (int i = 0; vars[i]; i++)
    if (getenv(vars[i])) return 1;
  return 0;
}

static int l_launched(lua_State *L) {
  lua_pushboolean(L, lpdm_lua_mpi_launched());
  return 1;
}

#ifdef LPDM_HAVE_MPI
#include <limits.h>
#include <mpi.h>

static lpdm_comm world;
static int world_ready;

static void finalize_at_exit(void) {
  int i = 0, f = 0;
  MPI_Initialized(&i);
  MPI_Finalized(&f);
  if (i && !f) MPI_Finalize();
}

static const char *mpi_msg(int rc, char *buf) {
  int len = 0;
  if (MPI_Error_string(rc, buf, &len) != MPI_SUCCESS) strcpy(buf, "unknown MPI error");
  return buf;
}

/* Sums in one fixed order on every rank: reduce onto rank 0, then
   broadcast its bits (an allreduce may add in another order per rank). */
static int c_reduce(void *user, void *x, size_t n, MPI_Datatype t, size_t esize) {
  (void)user;
  char *p = x;
  while (n > 0) {
    int k = n > (size_t)(INT_MAX / 8) ? INT_MAX / 8 : (int)n;
    int rc = MPI_Reduce(world.rank == 0 ? MPI_IN_PLACE : p, p, k, t, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rc == MPI_SUCCESS) rc = MPI_Bcast(p, k, t, 0, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return rc;
    p += (size_t)k * esize;
    n -= (size_t)k;
  }
  return 0;
}
static int c_allreduce_f32(void *u, float *x, size_t n) { return c_reduce(u, x, n, MPI_FLOAT, sizeof(float)); }
static int c_allreduce_f64(void *u, double *x, size_t n) { return c_reduce(u, x, n, MPI_DOUBLE, sizeof(double)); }

static int c_allgather(void *user, const void *send, size_t bytes, void *recv) {
  (void)user;
  if (bytes > INT_MAX) return MPI_ERR_COUNT;
  return MPI_Allgather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, MPI_COMM_WORLD);
}

static int c_allgatherv(void *user, const void *send, void *recv, const size_t *bytes_of) {
  (void)user;
  int n = world.size;
  int *cnt = malloc(2 * (size_t)n * sizeof *cnt);
  if (!cnt) return MPI_ERR_NO_MEM;
  int *dsp = cnt + n;
  size_t off = 0;
  for (int r = 0; r < n; r++) {
    if (bytes_of[r] > INT_MAX || off > INT_MAX) {
      free(cnt);
      return MPI_ERR_COUNT;
    }
    cnt[r] = (int)bytes_of[r];
    dsp[r] = (int)off;
    off += bytes_of[r];
  }
  int rc = MPI_Allgatherv(send, cnt[world.rank], MPI_BYTE, recv, cnt, dsp, MPI_BYTE, MPI_COMM_WORLD);
  free(cnt);
  return rc;
}

/* Initialises MPI once; 0 or an error message in buf. */
static const char *world_init(char *buf) {
  if (world_ready) return NULL;
  int inited = 0, fin = 0;
  MPI_Initialized(&inited);
  MPI_Finalized(&fin);
  if (fin) return "MPI was finalized already";
  if (!inited) {
    /* OpenMPI's MPI_Finalize waits for every rank (a fence): forever once
       one has died, even under mpirun --enable-recovery, which a sweep
       relies on. lpdm's ranks finish their collectives before exit, so the
       fence is never needed; the user's own setting wins. */
    setenv("OMPI_MCA_async_mpi_finalize", "1", 0);
    int provided = 0;
    int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS) return mpi_msg(rc, buf);
    atexit(finalize_at_exit);
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &world.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world.size);
  world.user = NULL;
  world.allreduce_f32 = c_allreduce_f32;
  world.allreduce_f64 = c_allreduce_f64;
  world.allgather = c_allgather;
  world.allgatherv = c_allgatherv;
  world_ready = 1;
  return NULL;
}

void lpdm_lua_mpi_fail(int code) {
  int i = 0, f = 0;
  MPI_Initialized(&i);
  MPI_Finalized(&f);
  if (i && !f && code != 0) {
    fflush(stdout);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
  }
}

/* os.exit while MPI runs: a failure status aborts the job (see above). */
static int l_os_exit(lua_State *L) {
  int code;
  if (lua_isboolean(L, 1)) code = lua_toboolean(L, 1) ? 0 : 1;
  else code = (int)luaL_optinteger(L, 1, 0);
  lpdm_lua_mpi_fail(code);
  lua_pushvalue(L, lua_upvalueindex(1)); /* the original os.exit */
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 0);
  return 0;
}

static void wrap_os_exit(lua_State *L) {
  if (lua_getglobal(L, "os") != LUA_TTABLE) {
    lua_pop(L, 1);
    return;
  }
  lua_getfield(L, -1, "exit");
  if (lua_tocfunction(L, -1) == l_os_exit || !lua_isfunction(L, -1)) {
    lua_pop(L, 2);
    return;
  }
  lua_pushcclosure(L, l_os_exit, 1);
  lua_setfield(L, -2, "exit");
  lua_pop(L, 1);
}

static void need(lua_State *L, const char *who) {
  char buf[MPI_MAX_ERROR_STRING + 1];
  const char *e = world_init(buf);
  if (e) luaL_error(L, "%s: cannot initialise MPI: %s", who, e);
  wrap_os_exit(L);
}

const lpdm_comm *lpdm_lua_mpi_comm(lua_State *L, const char *who) {
  need(L, who);
  return &world;
}

static int l_init(lua_State *L) {
  need(L, "lpdm.mpi.init");
  lua_pushinteger(L, world.rank);
  lua_pushinteger(L, world.size);
  return 2;
}
static int l_rank(lua_State *L) {
  need(L, "lpdm.mpi.rank");
  lua_pushinteger(L, world.rank);
  return 1;
}
static int l_size(lua_State *L) {
  need(L, "lpdm.mpi.size");
  lua_pushinteger(L, world.size);
  return 1;
}
static int l_hostname(lua_State *L) {
  need(L, "lpdm.mpi.hostname");
  char name[MPI_MAX_PROCESSOR_NAME + 1];
  int len = 0;
  if (MPI_Get_processor_name(name, &len) != MPI_SUCCESS) len = 0;
  lua_pushlstring(L, name, (size_t)len);
  return 1;
}
static int l_bcast(lua_State *L) {
  need(L, "lpdm.mpi.bcast");
  size_t n = 0;
  const char *s = world.rank == 0 ? luaL_checklstring(L, 1, &n) : NULL;
  if (n > INT_MAX) return luaL_error(L, "lpdm.mpi.bcast: string too long (%zu bytes)", n);
  long long len = (long long)n;
  char buf[MPI_MAX_ERROR_STRING + 1];
  int rc = MPI_Bcast(&len, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) return luaL_error(L, "lpdm.mpi.bcast: %s", mpi_msg(rc, buf));
  char *b = world.rank == 0 ? (char *)s : malloc((size_t)len + 1);
  if (!b) return luaL_error(L, "lpdm.mpi.bcast: out of memory");
  rc = MPI_Bcast(b, (int)len, MPI_BYTE, 0, MPI_COMM_WORLD);
  if (rc == MPI_SUCCESS) lua_pushlstring(L, b, (size_t)len);
  if (world.rank != 0) free(b);
  if (rc != MPI_SUCCESS) return luaL_error(L, "lpdm.mpi.bcast: %s", mpi_msg(rc, buf));
  return 1;
}
static int l_barrier(lua_State *L) {
  need(L, "lpdm.mpi.barrier");
  char buf[MPI_MAX_ERROR_STRING + 1];
  int rc = MPI_Barrier(MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) return luaL_error(L, "lpdm.mpi.barrier: %s", mpi_msg(rc, buf));
  return 0;
}
static int l_finalize(lua_State *L) {
  (void)L;
  int i = 0, f = 0;
  MPI_Initialized(&i);
  MPI_Finalized(&f);
  if (i && !f) MPI_Finalize();
  return 0;
}
static int l_abort(lua_State *L) {
  int code = (int)luaL_optinteger(L, 1, 1);
  need(L, "lpdm.mpi.abort");
  MPI_Abort(MPI_COMM_WORLD, code);
  return 0;
}
#define HAVE_MPI 1
#else
void lpdm_lua_mpi_fail(int code) { (void)code; }
#define NO_MPI_MSG "this lpdm was built without MPI (install libopenmpi-dev and openmpi-bin, then rebuild)"
const lpdm_comm *lpdm_lua_mpi_comm(lua_State *L, const char *who) {
  luaL_error(L, "%s: " NO_MPI_MSG, who);
  return NULL;
}
static int no_mpi(lua_State *L) { return luaL_error(L, "lpdm.mpi: " NO_MPI_MSG); }
#define l_init no_mpi
#define l_rank no_mpi
#define l_size no_mpi
#define l_hostname no_mpi
#define l_bcast no_mpi
#define l_barrier no_mpi
#define l_abort no_mpi
#define l_finalize no_mpi
#define HAVE_MPI 0
#endif

void lpdm_lua_open_mpi(lua_State *L) {
  static const luaL_Reg f[] = {{"launched", l_launched}, {"init", l_init},       {"rank", l_rank},
                               {"size", l_size},         {"hostname", l_hostname}, {"bcast", l_bcast},
                               {"barrier", l_barrier},   {"abort", l_abort},     {"finalize", l_finalize},
                               {NULL, NULL}};
  luaL_newlib(L, f);
  lua_pushboolean(L, HAVE_MPI);
  lua_setfield(L, -2, "available");
}
