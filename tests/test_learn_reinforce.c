/* SPDX-License-Identifier: MIT */
/* test_learn_reinforce.c -- REINFORCE must learn.

   The bars: a 20-episode moving average of at least 475 on CartPole-v1
   within 500,000 env steps for at least 4 of seeds 1..5 in bp mode and in
   local mode with the guided loss and with the stress loss (issue 7; issue
   2 asked 3 of 5 for stress), each with the algorithm's own
   defaults (two hidden tanh layers of 64); and at least -100 on Acrobot-v1
   in bp mode for at least 4 of seeds 1..5 (issue 3), with a learned
   baseline (without one, REINFORCE's Acrobot policies collapse: see
   docs/classic_control.md). About a minute on one core; labelled
   "learning" so the sanitizer pass of .ci/run can skip it. */
#include <stdio.h>
#include <string.h>

#include "lpdm/lpdm.h"
#include "fixture.h"
#include "learn.h"
#include "tap.h"

static lpdm_ctx *ctx;

/* Returns the step where the bar was reached, -1 if never, -2 on error. */
typedef struct variant {
  const char *env, *mode, *loss, *extra; /* extra: "key=value" or NULL */
  double threshold;
  int need;
} variant;

static long long run(const variant *v, int seed, double *best) {
  char text[256];
  snprintf(text, sizeof text, "mode=%s seed=%d steps=500000 %s", v->mode, seed, v->extra ? v->extra : "");
  return learn_run(ctx, "reinforce", v->env, text, &(fx_net_spec){2, NULL, (uint64_t)seed}, v->loss, v->threshold, 0,
                   best);
}

int main(void) {
  ctx = fx_ctx();
  const variant v[] = {{"CartPole-v1", "bp", "guided", NULL, 475, 4},
                       {"CartPole-v1", "local", "guided", NULL, 475, 4},
                       {"CartPole-v1", "local", "stress", NULL, 475, 4},
                       {"Acrobot-v1", "bp", "guided", "baseline=true", -100, 4}};
  const int nv = (int)(sizeof v / sizeof *v);
  plan(nv);
  for (int i = 0; i < nv; i++) {
    int hits = 0;
    for (int seed = 1; seed <= learn_seeds(5); seed++) {
      double best = 0;
      long long at = run(&v[i], seed, &best);
      if (at >= 0 && seed <= 5) hits++;
      diag("%s %s/%s seed %d: %s %g%s %lld (best 20-episode average %.1f)%s", v[i].env, v[i].mode, v[i].loss, seed,
           at >= 0 ? "reached" : "did not reach", v[i].threshold, at >= 0 ? " at step" : "", at, best,
           learn_extra(seed, 5));
    }
    ok(hits >= v[i].need, "REINFORCE %s %s/%s%s%s reaches a 20-episode average of %g in %d of 5 seeds (need %d)",
       v[i].env, v[i].mode, v[i].loss, v[i].extra ? " " : "", v[i].extra ? v[i].extra : "", v[i].threshold, hits,
       v[i].need);
  }
  lpdm_ctx_free(ctx);
  return done_testing();
}
