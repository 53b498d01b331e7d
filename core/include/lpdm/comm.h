/* SPDX-License-Identifier: MIT */
/*
** lpdm/comm.h -- the collectives a data-parallel algorithm needs, as a
** table of functions the host fills in. lpdm's core and its plugins never
** include mpi.h: the `lpdm` executable, built with MPI, hands an algorithm
** an lpdm_comm over MPI_COMM_WORLD (Lua: lpdm.algo(..., {distributed =
** true})); a test can hand it one over threads or a single process.
**
** Every function is collective: all ranks call it, in the same order, with
** the same sizes. Each returns 0, or non-zero when the transport failed
** (the algorithm then stops with an error naming the step).
*/
#ifndef LPDM_COMM_H
#define LPDM_COMM_H
#include <stddef.h>

typedef struct lpdm_comm {
  int rank; /* 0 .. size-1 */
  int size; /* number of processes */
  void *user;
  /* x[i] = the sum over ranks of x[i], in place. Every rank gets the same
     bits (the implementation reduces in one fixed order). */
  int (*allreduce_f32)(void *user, float *x, size_t n);
  int (*allreduce_f64)(void *user, double *x, size_t n);
  /* recv = rank 0's bytes, rank 1's bytes, ... (size * bytes bytes). */
  int (*allgather)(void *user, const void *send, size_t bytes, void *recv);
  /* Like allgather with bytes_of[r] bytes from rank r (the same array on
     every rank; send holds bytes_of[rank]); recv gets them concatenated. */
  int (*allgatherv)(void *user, const void *send, void *recv, const size_t *bytes_of);
} lpdm_comm;

#endif
