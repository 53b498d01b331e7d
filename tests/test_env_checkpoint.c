/* SPDX-License-Identifier: MIT */
/* test_env_checkpoint.c -- every env with checkpoint support (ABI 1.1
   save/load) continues exactly: run an env, save it mid-episode, keep
   going (episodes end and reset from the env's own generator), then load
   the save into a fresh copy seeded differently and replay the same
   actions: observations, rewards and episode ends must be equal bit for
   bit. Envs without save/load are listed (and must refuse by name). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fixture.h"
#include "lpdm/lpdm.h"
#include "tap.h"

static lpdm_ctx *ctx;

enum { WARM = 37, STEPS = 300, MAXOBS = 512, MAXACT = 32 };

static void action(const lpdm_env *e, lpdm_rng *r, double *a) {
  const lpdm_space *s = &e->act_space;
  if (s->type == LPDM_SPACE_DISCRETE) a[0] = (double)lpdm_rng_below(r, (uint64_t)s->n);
  else
    for (int i = 0; i < s->dim; i++) {
      double lo = isfinite(s->low[i]) ? s->low[i] : -1, hi = isfinite(s->high[i]) ? s->high[i] : 1;
      a[i] = lo + (hi - lo) * lpdm_rng_uniform(r);
    }
}

/* STEPS steps from the env's current state, resetting (unseeded) at episode
   ends; a hash of everything observed. */
static uint64_t trail(lpdm_env *e, uint64_t seed, int *ok_run) {
  lpdm_rng r;
  lpdm_rng_seed(&r, seed);
  float obs[MAXOBS];
  double a[MAXACT], rew;
  int term, trunc;
  uint64_t h = 1469598103934665603ULL;
  *ok_run = 1;
  for (int t = 0; t < STEPS; t++) {
    action(e, &r, a);
    if (lpdm_env_step(e, ctx, a, obs, &rew, &term, &trunc)) {
      diag("%s", lpdm_ctx_message(ctx));
      *ok_run = 0;
      return 0;
    }
    unsigned char bytes[MAXOBS * 4 + 16];
    size_t n = (size_t)e->obs_space.dim * 4;
    memcpy(bytes, obs, n);
    memcpy(bytes + n, &rew, 8);
    bytes[n + 8] = (unsigned char)(term * 2 + trunc);
    for (size_t i = 0; i < n + 9; i++) h = (h ^ bytes[i]) * 1099511628211ULL;
    if ((term || trunc) && lpdm_env_reset(e, ctx, 0, 0, obs)) {
      *ok_run = 0;
      return 0;
    }
  }
  return h;
}

int main(void) {
  ctx = fx_ctx();
  int n = lpdm_plugin_count(ctx, LPDM_KIND_ENV), tested = 0;
  for (int i = 0; i < n; i++) {
    const lpdm_env_kind *k = (const lpdm_env_kind *)lpdm_plugin_at(ctx, LPDM_KIND_ENV, i);
    const char *id = lpdm_plugin_short(&k->head);
    lpdm_env *a = NULL, *b = NULL;
    lpdm_st *st = NULL;
    if (lpdm_env_new(ctx, k, NULL, &a) || lpdm_env_new(ctx, k, NULL, &b) || lpdm_st_new(ctx, &st)) {
      ok(0, "%s: create (%s)", id, lpdm_ctx_message(ctx));
      continue;
    }
    float obs[MAXOBS];
    if (a->obs_space.dim > MAXOBS || (a->act_space.type == LPDM_SPACE_BOX && a->act_space.dim > MAXACT)) {
      ok(0, "%s: obs/action larger than this test's buffers", id);
      continue;
    }
    int good = !lpdm_env_reset(a, ctx, 1, 7, obs);
    lpdm_rng r;
    lpdm_rng_seed(&r, 11);
    double act[MAXACT], rew;
    int term, trunc;
    for (int t = 0; good && t < WARM; t++) {
      action(a, &r, act);
      good = !lpdm_env_step(a, ctx, act, obs, &rew, &term, &trunc);
      if (good && (term || trunc)) good = !lpdm_env_reset(a, ctx, 0, 0, obs);
    }
    if (!k->save) {
      int rc = lpdm_env_save(a, ctx, st, "env");
      ok(rc != 0 && strstr(lpdm_ctx_message(ctx), "cannot be checkpointed"), "%s: no checkpoints, refused by name", id);
    } else {
      int ra, rb;
      good = good && !lpdm_env_save(a, ctx, st, "env");
      uint64_t ha = good ? trail(a, 5, &ra) : 0;
      good = good && !lpdm_env_reset(b, ctx, 1, 999, obs) && !lpdm_env_load(b, ctx, st, "env");
      uint64_t hb = good ? trail(b, 5, &rb) : 1;
      ok(good && ra && rb && ha == hb, "%s: saved mid-run and loaded into a fresh copy, the next %d steps are identical",
         id, STEPS);
      if (!good) diag("%s", lpdm_ctx_message(ctx));
      tested++;
    }
    lpdm_st_free(st);
    lpdm_env_free(a);
    lpdm_env_free(b);
  }
  ok(tested >= 6, "%d envs support checkpoints (the classic-control five and MinAtar at least)", tested);
  lpdm_ctx_free(ctx);
  return done_testing();
}
