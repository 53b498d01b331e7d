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

#include "learn.h"
#include "tap.h"

static lpdm_ctx *ctx;

/* The step at which the bar was reached, -1 if never, -2 on error. */
static long long run(const char *env, const char *mode, int seed, double threshold, double steps, double *best) {
  const lpdm_env_kind *ek = (const lpdm_env_kind *)lpdm_plugin_get(ctx, LPDM_KIND_ENV, env);
  const lpdm_layer_kind *dk = (const lpdm_layer_kind *)lpdm_plugin_get(ctx, LPDM_KIND_LAYER, "dense");
  const lpdm_algo_kind *ak = (const lpdm_algo_kind *)lpdm_plugin_get(ctx, LPDM_KIND_ALGO, "dqn");
  if (!ek || !dk || !ak) return -2;
  lpdm_net *net = NULL;
  long long result = -2;
  lpdm_config ac, l1, l2;
  lpdm_rng rng;
  lpdm_rng_seed(&rng, (uint64_t)seed);
  if (lpdm_config_init(ctx, &dk->head, &l1) || lpdm_config_set_num(ctx, &l1, "dense", "out", 120) ||
      lpdm_config_set_str(ctx, &l1, "dense", "act", "relu") || lpdm_config_init(ctx, &dk->head, &l2) ||
      lpdm_config_set_num(ctx, &l2, "dense", "out", 84) || lpdm_config_set_str(ctx, &l2, "dense", "act", "relu") ||
      lpdm_config_init(ctx, &ak->head, &ac) || lpdm_config_set_str(ctx, &ac, "dqn", "mode", mode) ||
      lpdm_config_set_num(ctx, &ac, "dqn", "seed", seed) || lpdm_config_set_num(ctx, &ac, "dqn", "steps", steps) ||
      lpdm_net_new(ctx, env_obs_dim(ctx, ek), &net) || lpdm_net_add(net, ctx, dk, &l1, &rng, NULL) ||
      lpdm_net_add(net, ctx, dk, &l2, &rng, NULL))
    goto out;
  track t;
  track_init(&t, threshold);
  lpdm_algo_setup su = {ek, NULL, net, NULL, NULL, NULL, track_episode, &t};
  if (learn_iterate(ctx, ak, &ac, &su, &t, 1)) goto out;
  *best = t.best;
  result = t.reached;
out:
  if (result == -2) diag("error: %s", lpdm_ctx_message(ctx));
  lpdm_net_free(net);
  return result;
}

int main(void) {
  ctx = lpdm_ctx_new();
  if (lpdm_plugin_load_dir(ctx, LPDM_PLUGIN_DIR)) {
    printf("Bail out! %s\n", lpdm_ctx_message(ctx));
    return 1;
  }
  plan(1);
  int hits = 0;
  for (int seed = 1; seed <= 5; seed++) {
    double best = NAN;
    long long at = run("CartPole-v1", "bp", seed, 475, 500000, &best);
    hits += at >= 0;
    diag("CartPole-v1 bp seed %d: %s 475%s %lld (best 20-episode average %.1f)", seed,
         at >= 0 ? "reached" : "did not reach", at >= 0 ? " at step" : "", at, best);
  }
  ok(hits >= 4,
     "DQN bp (CleanRL defaults) on CartPole-v1 reaches a 20-episode average of 475 within 500000 steps in %d of 5 "
     "seeds (need 4)",
     hits);
  lpdm_ctx_free(ctx);
  return done_testing();
}
