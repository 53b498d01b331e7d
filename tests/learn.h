/* SPDX-License-Identifier: MIT */
/* learn.h -- shared by the learning tests: a 20-episode moving average
   and the env step at which it first reached a threshold. */
#ifndef LPDM_TEST_LEARN_H
#define LPDM_TEST_LEARN_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "lpdm/lpdm.h"
#include "lpdm/run.h"

/* How many seeds a bar runs: its own n, or LPDM_LEARN_SEEDS when that is
   larger. Seeds beyond n are run and reported as TAP comments only; the
   bar counts seeds 1..n. For "seeds 1..10 before and after a change":
   LPDM_LEARN_SEEDS=10 ctest --test-dir build -R test_learn -V. */
static inline int learn_seeds(int n) {
  const char *e = getenv("LPDM_LEARN_SEEDS");
  const int m = e ? atoi(e) : 0;
  return m > n ? m : n;
}

/* The suffix of a seed's TAP comment: seeds beyond the bar's n are marked. */
static inline const char *learn_extra(int seed, int n) { return seed > n ? " [extra seed, not counted]" : ""; }

typedef struct track {
  double win[20];
  int n;
  double sum;
  long long reached; /* -1 until the average reaches threshold */
  double best, threshold;
} track;

static inline void track_init(track *t, double threshold) {
  *t = (track){{0}, 0, 0, -1, 0, threshold};
}

/* setup.on_episode with user = a track */
static void track_episode(void *u, const lpdm_episode *e) {
  track *t = u;
  t->sum += e->ret - t->win[t->n % 20];
  t->win[t->n % 20] = e->ret;
  t->n++;
  if (t->n >= 20) {
    double avg = t->sum / 20;
    if (t->n == 20 || avg > t->best) t->best = avg;
    if (avg >= t->threshold && t->reached < 0) t->reached = e->global_step;
  }
}

/* Iterates run (whose on_episode feeds t) to the end of its budget, or
   with stop_at_threshold until t's average reaches the threshold. Returns
   0, or the error code (the ctx says why). */
static inline int learn_iterate(lpdm_ctx *ctx, lpdm_run *run, const track *t, int stop_at_threshold) {
  int rc;
  do rc = lpdm_run_iterate(run, ctx);
  while (rc == LPDM_OK && !(stop_at_threshold && t->reached >= 0));
  return rc < 0 ? rc : 0;
}

/* One learning run: algo on env with the settings text, a policy of the
   dense layers net describes, the local loss by name (NULL: the
   algorithm's own), its 20-episode average tracked against threshold to
   the end of the budget or, with stop_at_threshold, until it reaches it.
   Returns the env step at which it did, -1 if never, -2 on error (said as a
   TAP comment); *best receives the best average. */
static inline long long learn_run(lpdm_ctx *ctx, const char *algo, const char *env, const char *text,
                                  const fx_net_spec *net, const char *loss, double threshold, int stop_at_threshold,
                                  double *best) {
  track t;
  track_init(&t, threshold);
  lpdm_run_spec spec = {.loss_name = loss, .on_episode = track_episode, .user = &t};
  fx_run r;
  long long result = -2;
  if (!fx_run_new(ctx, &r, algo, env, text, net, &spec) && !learn_iterate(ctx, r.run, &t, stop_at_threshold)) {
    *best = t.best;
    result = t.reached;
  }
  if (result == -2) printf("# error: %s\n", lpdm_ctx_message(ctx));
  fx_run_free(&r);
  return result;
}
#endif
