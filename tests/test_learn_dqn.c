/* SPDX-License-Identifier: MIT */
/* test_learn_dqn.c -- DQN must learn as CleanRL's dqn.py does.

   The bar (issue 21): with CleanRL's defaults (dqn.py: Q-network of 120
   and 84 ReLU units, torch-style initialisation, Adam 2.5e-4, buffer 10000,
   batch 128, gamma 0.99, hard target copy every 500 steps, epsilon 1 ->
   0.05 over half the budget, learning from step 10000 every 10 steps),
   bp mode reaches a 20-episode moving average of at least 475 on
   CartPole-v1 within 500,000 env steps for at least 4 of seeds 1..5 --
   what `build/lpdm scripts/train.lua --algo=dqn --mode=bp
   --env=CartPole-v1 --seed=N` runs. A run stops once it reaches the bar
   (the budget stays 500,000: epsilon's decay depends on it). Seconds per
   seed; labelled "learning". */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fixture.h"
#include "learn.h"
#include "tap.h"

static lpdm_ctx *ctx;

/* The step at which the bar was reached, -1 if never, -2 on error. */
static long long run(const char *env, const char *mode, int seed, double threshold, double steps, double *best) {
  char text[128];
  snprintf(text, sizeof text, "mode=%s seed=%d steps=%.0f", mode, seed, steps);
  /* CleanRL's Q-network: 120 and 84 ReLU units, seeded by the run's seed */
  return learn_run(ctx, "dqn", env, text, &(fx_net_spec){2, "out=120 act=relu|out=84 act=relu", (uint64_t)seed}, NULL,
                   threshold, 1, best);
}

int main(void) {
  ctx = fx_ctx();
  plan(1);
  int hits = 0;
  for (int seed = 1; seed <= learn_seeds(5); seed++) {
    double best = NAN;
    long long at = run("CartPole-v1", "bp", seed, 475, 500000, &best);
    hits += at >= 0 && seed <= 5;
    diag("CartPole-v1 bp seed %d: %s 475%s %lld (best 20-episode average %.1f)%s", seed,
         at >= 0 ? "reached" : "did not reach", at >= 0 ? " at step" : "", at, best,
         learn_extra(seed, 5));
  }
  ok(hits >= 4,
     "DQN bp (CleanRL defaults) on CartPole-v1 reaches a 20-episode average of 475 within 500000 steps in %d of 5 "
     "seeds (need 4)",
     hits);
  lpdm_ctx_free(ctx);
  return done_testing();
}
