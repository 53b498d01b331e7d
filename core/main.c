/* SPDX-License-Identifier: MIT */
/*
** main.c -- the `lpdm` executable: runs a Lua 5.4 script with the lpdm
** module built in.
**
**   lpdm script.lua [args...]    run a script; `arg` as in the lua
**                                interpreter: arg[0] = script, arg[1..n] =
**                                args, arg[-1] = the interpreter
**   lpdm -e 'code' [script ...]  run a chunk first (repeatable)
**   lpdm -v                      print the version
**   lpdm -h                      print the usage
**
** `require("lpdm")` finds the built-in binding (package.preload), and
** package.path starts with the script's directory and the scripts/ folder
** (LPDM_SCRIPT_DIR), so a script can require its helpers. An error prints
** "lpdm: <message>" and a traceback to stderr and exits 1, as does bad
** usage. Ctrl-C (SIGINT), and SIGTERM (kill, a batch scheduler's time
** limit), raise "interrupted!" inside the script (as the lua
** interpreter does), so <close> variables and finalizers still run.
**
** OpenBLAS runs on one thread (set when the lpdm module opens,
** lpdm_lua.c) unless OPENBLAS_NUM_THREADS (or
** GOTO_NUM_THREADS / OMP_NUM_THREADS, which OpenBLAS also reads) is set:
** lpdm's matrices are small and it threads over env copies itself. With
** OpenBLAS's default (one thread per core) its idle threads spin in
** sched_yield against lpdm's: PPO on CartPole ran 4x slower on this 2-core
** machine with its other core busy. Results depend on it (a GEMM's sums
** split over threads round differently), so require("lpdm") under a plain
** lua5.4 sets the same default (lpdm_lua.c), and summary.json records
** the count.
*/
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lpdm/lpdm.h"
#include "lua/lpdm_mpi.h"

#ifndef LPDM_SCRIPT_DIR
#define LPDM_SCRIPT_DIR "scripts"
#endif

int luaopen_lpdm(lua_State *L);

static const char *progname = "lpdm";
static lua_State *globalL = NULL;

/* ------------------------------------------------------------ Ctrl-C */

static void lstop(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted!");
}

static void on_signal(int sig) {
  signal(sig, SIG_DFL); /* a second Ctrl-C kills */
  lua_sethook(globalL, lstop, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* ------------------------------------------------------------ running */

static void usage(FILE *f) {
  fprintf(f,
          "usage: %s [options] [script [args...]]\n"
          "Runs an lpdm experiment script (Lua %s.%s with require(\"lpdm\")).\n"
          "  -e code   run the Lua chunk 'code' (repeatable)\n"
          "  -v        print the version and exit\n"
          "  -h        print this help and exit\n"
          "  --        stop handling options\n"
          "  -         run the script from standard input\n"
          "Example: %s scripts/train.lua --env=CartPole-v1 --algo=reinforce --mode=local\n",
          progname, LUA_VERSION_MAJOR, LUA_VERSION_MINOR, progname);
}

static void report(const char *msg) {
  fprintf(stderr, "%s: %s\n", progname, msg);
  fflush(stderr);
}

/* Adds a traceback to an error message (lua.c's msghandler). */
static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* Calls the function below narg arguments; prints an error. */
static int docall(lua_State *L, int narg) {
  int base = lua_gettop(L) - narg;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  globalL = L;
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  int status = lua_pcall(L, narg, 0, base);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  lua_remove(L, base);
  if (status != LUA_OK) {
    report(lua_tostring(L, -1) ? lua_tostring(L, -1) : "(error with no message)");
    lua_pop(L, 1);
  }
  return status;
}

static int dostring(lua_State *L, const char *code) {
  if (luaL_loadbuffer(L, code, strlen(code), "=(command line)") != LUA_OK) {
    report(lua_tostring(L, -1));
    lua_pop(L, 1);
    return 1;
  }
  return docall(L, 0);
}

/* arg = { [-k..-1] = interpreter and options, [0] = script, [1..n] = args } */
static void create_arg_table(lua_State *L, char **argv, int argc, int script) {
  if (script >= argc) script = 0; /* no script: arg[0] is the interpreter */
  lua_createtable(L, argc - script - 1 > 0 ? argc - script - 1 : 0, script + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

/* package.path = <dir of script>/?.lua;...;LPDM_SCRIPT_DIR/?.lua;...;<old> */
static void set_path(lua_State *L, const char *script) {
  luaL_Buffer b;
  lua_getglobal(L, "package");
  luaL_buffinit(L, &b);
  if (script && strcmp(script, "-") != 0) {
    const char *slash = strrchr(script, '/');
    if (slash) {
      size_t n = (size_t)(slash - script);
      if (n == 0) n = 1; /* "/x.lua" */
      for (int k = 0; k < 2; k++) {
        luaL_addlstring(&b, script, n);
        luaL_addstring(&b, k ? "/?/init.lua;" : "/?.lua;");
      }
    } else {
      luaL_addstring(&b, "./?.lua;./?/init.lua;");
    }
  }
  luaL_addstring(&b, LPDM_SCRIPT_DIR "/?.lua;" LPDM_SCRIPT_DIR "/?/init.lua;");
#ifdef LPDM_INSTALL_SCRIPT_DIR
  luaL_addstring(&b, LPDM_INSTALL_SCRIPT_DIR "/?.lua;" LPDM_INSTALL_SCRIPT_DIR "/?/init.lua;");
#endif
  lua_getfield(L, -2, "path");
  luaL_addvalue(&b);
  luaL_pushresult(&b);
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
}

typedef struct args {
  int argc;
  char **argv;
} args;

/* Runs in protected mode: everything that may raise happens here. */
static int pmain(lua_State *L) {
  args *a = (args *)lua_touserdata(L, 1);
  int argc = a->argc;
  char **argv = a->argv;
  int script = 0, has_e = 0;
  luaL_checkversion(L);
  for (int i = 1; i < argc; i++) { /* options: only check them here */
    const char *o = argv[i];
    if (o[0] != '-' || strcmp(o, "-") == 0) {
      script = i;
      break;
    }
    if (strcmp(o, "--") == 0) {
      if (i + 1 < argc) script = i + 1;
      break;
    }
    if (strcmp(o, "-e") == 0) {
      if (++i >= argc) {
        fprintf(stderr, "%s: '-e' needs an argument\n", progname);
        usage(stderr);
        lua_pushinteger(L, 1);
        return 1;
      }
      has_e = 1;
    } else if (strcmp(o, "-v") == 0 || strcmp(o, "--version") == 0) {
      printf("lpdm %s (%s)\n", LPDM_VERSION, LUA_RELEASE);
      lua_pushinteger(L, 0);
      return 1;
    } else if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0) {
      usage(stdout);
      lua_pushinteger(L, 0);
      return 1;
    } else {
      fprintf(stderr, "%s: unrecognized option '%s'\n", progname, o);
      usage(stderr);
      lua_pushinteger(L, 1);
      return 1;
    }
  }
  if (!script && !has_e) {
    usage(stderr);
    lua_pushinteger(L, 1);
    return 1;
  }

  luaL_openlibs(L);
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, luaopen_lpdm);
  lua_setfield(L, -2, "lpdm");
  lua_pop(L, 2);
  set_path(L, script ? argv[script] : NULL);
  create_arg_table(L, argv, argc, script ? script : argc);
  lua_gc(L, LUA_GCRESTART);
  lua_gc(L, LUA_GCGEN, 0, 0);

  int end = script ? script : argc;
  for (int i = 1; i < end; i++)
    if (strcmp(argv[i], "-e") == 0 && dostring(L, argv[++i]) != LUA_OK) {
      lua_pushinteger(L, 1);
      return 1;
    }
  if (script) {
    const char *fname = strcmp(argv[script], "-") == 0 ? NULL : argv[script];
    if (luaL_loadfile(L, fname) != LUA_OK) {
      report(lua_tostring(L, -1));
      lua_pushinteger(L, 1);
      return 1;
    }
    int n = argc - script - 1;
    luaL_checkstack(L, n + 3, "too many arguments to script");
    for (int i = 0; i < n; i++) lua_pushstring(L, argv[script + 1 + i]);
    if (docall(L, n) != LUA_OK) {
      lua_pushinteger(L, 1);
      return 1;
    }
  }
  lua_pushinteger(L, 0);
  return 1;
}

int main(int argc, char **argv) {
  if (argv[0] && argv[0][0]) {
    const char *base = strrchr(argv[0], '/');
    progname = base ? base + 1 : argv[0];
  }
  lua_State *L = luaL_newstate();
  if (!L) {
    report("cannot create the Lua state: not enough memory");
    return 1;
  }
  lua_gc(L, LUA_GCSTOP);
  args a = {argc, argv};
  lua_pushcfunction(L, pmain);
  lua_pushlightuserdata(L, &a);
  int status = lua_pcall(L, 1, 1, 0);
  int code = 1;
  if (status != LUA_OK) {
    report(lua_tostring(L, -1) ? lua_tostring(L, -1) : "(error with no message)");
  } else {
    code = (int)lua_tointeger(L, -1);
  }
  lpdm_lua_mpi_fail(code); /* a failed rank ends its MPI job, never leaves it waiting */
  lua_close(L); /* runs the finalizers: runs, nets, envs, then the context */
  return code;
}
