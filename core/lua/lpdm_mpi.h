/* SPDX-License-Identifier: MIT */
/* lpdm_mpi.h -- the Lua binding's MPI part (lpdm_mpi.c), internal. */
#ifndef LPDM_LUA_MPI_H
#define LPDM_LUA_MPI_H
#include <lua.h>

#include "lpdm/comm.h"

/* Pushes the lpdm.mpi table. */
void lpdm_lua_open_mpi(lua_State *L);
/* The comm over MPI_COMM_WORLD, initialising MPI if needed; raises a Lua
   error (naming `who`) when this lpdm has no MPI. */
const lpdm_comm *lpdm_lua_mpi_comm(lua_State *L, const char *who);

/* Ends an MPI job with MPI_Abort(code) when MPI is initialised and code is
   a failure (the other ranks may be waiting in a collective); else nothing. */
void lpdm_lua_mpi_fail(int code);

#endif
