/* learn.h -- shared by the learning tests: a 20-episode moving average
   and the env step at which it first reached a threshold. */
#ifndef LPDM_TEST_LEARN_H
#define LPDM_TEST_LEARN_H
#include <string.h>

#include "lpdm/lpdm.h"

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

/* Creates algorithm ak (config ac, setup su, whose on_episode feeds t) and
   iterates it to the end of its budget, or with stop_at_threshold until t's
   average reaches the threshold; frees it. Returns 0, or the error code
   (the ctx says why). */
static inline int learn_iterate(lpdm_ctx *ctx, const lpdm_algo_kind *ak, const lpdm_config *ac,
                                const lpdm_algo_setup *su, const track *t, int stop_at_threshold) {
  lpdm_algo *algo = NULL;
  int rc = lpdm_algo_new(ctx, ak, ac, su, &algo);
  if (rc) return rc;
  lpdm_figures *st = lpdm_figures_new();
  if (!st) rc = LPDM_ERR_MEM;
  while (rc == LPDM_OK) {
    lpdm_figures_clear(st);
    rc = ak->iterate(algo, st, ctx);
    if (stop_at_threshold && t->reached >= 0) break;
  }
  lpdm_figures_free(st);
  lpdm_algo_free(algo);
  return rc < 0 ? rc : 0;
}

/* Observation width of an env kind (0 on error). */
static inline int env_obs_dim(lpdm_ctx *ctx, const lpdm_env_kind *ek) {
  lpdm_env *probe = NULL;
  if (lpdm_env_new(ctx, ek, NULL, &probe)) return 0;
  int d = probe->obs_space.dim;
  lpdm_env_free(probe);
  return d;
}
#endif
