/* SPDX-License-Identifier: MIT */
/*
** lib/forkjoin.h -- a two-thread fork-join: a second thread that runs one
** job while the calling thread runs another, then joins. For halves of a
** computation that share no mutable state (PPO's actor and critic halves of
** a minibatch), so the results are the single-thread run's, bit for bit.
**
**   forkjoin *fj;
**   rc = forkjoin_new(ctx, critic_half, s, &fj);   // int critic_half(void *s, lpdm_ctx *c)
**   forkjoin_post(fj);                             // critic_half starts on the other thread
**   int rca = actor_half(s, ctx);                  // meanwhile, here
**   int rcc = forkjoin_wait(fj, ctx);              // its status; its message copied into ctx
**   forkjoin_free(fj);
**
** A half takes ~0.1 ms, less than a condition variable's wake-up on a busy
** VM, so each side spins a while (about 50 us, yielding the core every 64
** rounds) before it sleeps; a sleeping side is woken through the mutex. The
** job reports into the thread's own context.
*/
#ifndef LPDM_ALGOS_FORKJOIN_H
#define LPDM_ALGOS_FORKJOIN_H
#include "lpdm/lpdm.h"

typedef struct forkjoin forkjoin;
typedef int (*forkjoin_fn)(void *arg, lpdm_ctx *ctx);

/* Starts the thread (idle until a post). Caller frees with forkjoin_free. */
int forkjoin_new(lpdm_ctx *ctx, forkjoin_fn fn, void *arg, forkjoin **out);
void forkjoin_post(forkjoin *fj);
int forkjoin_wait(forkjoin *fj, lpdm_ctx *ctx);
void forkjoin_free(forkjoin *fj); /* joins the thread; accepts NULL */

#endif
