/* learn.h -- shared by the learning tests: a 20-episode moving average
   and the env step at which it first reached a threshold. */
#ifndef LPDM_TEST_LEARN_H
#define LPDM_TEST_LEARN_H
#include <string.h>

#include "lpdm/lpdm.h"
#include "lpdm/run.h"

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
#endif
