/* test_bad_input.c -- part of issue 8's bad-input matrix that is about
   numbers going bad at run time: an env whose observation or reward turns
   NaN stops REINFORCE and PPO (both modes) with a message naming the env,
   what was non-finite and the update; nothing crashes (run under ASan in
   CI). The fixture env is tests/fixtures/nan_env.c. */
#include <stdio.h>
#include <string.h>

#include "lpdm/lpdm.h"
#include "tap.h"

static lpdm_ctx *ctx;

/* Runs algo on NanEnv-v0 (one env setting ekey = eval, one algo setting
   akey = aval; NULL: none) until it stops; returns its status and leaves
   the message in ctx. */
static int run2(const char *algo, const char *mode, const char *ekey, const char *eval, const char *akey,
                const char *aval) {
  const lpdm_env_kind *ek = (const lpdm_env_kind *)lpdm_plugin_get(ctx, LPDM_KIND_ENV, "NanEnv-v0");
  const lpdm_layer_kind *dk = (const lpdm_layer_kind *)lpdm_plugin_get(ctx, LPDM_KIND_LAYER, "dense");
  const lpdm_algo_kind *ak = (const lpdm_algo_kind *)lpdm_plugin_get(ctx, LPDM_KIND_ALGO, algo);
  const lpdm_distance_kind *eu = (const lpdm_distance_kind *)lpdm_plugin_get(ctx, LPDM_KIND_DISTANCE, "euclidean");
  const lpdm_loss_kind *lk = (const lpdm_loss_kind *)lpdm_plugin_get(ctx, LPDM_KIND_LOSS, "guided");
  if (!ek || !dk || !ak || !eu || !lk) return 1;
  lpdm_net *net = NULL;
  lpdm_distance *dist = NULL;
  lpdm_loss *loss = NULL;
  lpdm_algo *a = NULL;
  lpdm_config ec, ac;
  lpdm_rng rng;
  lpdm_rng_seed(&rng, 1);
  int rc = lpdm_config_init(ctx, &ek->head, &ec);
  if (!rc && ekey) rc = lpdm_config_set_text(ctx, &ec, "env", ekey, eval);
  if (!rc) rc = lpdm_config_init(ctx, &ak->head, &ac);
  if (!rc) rc = lpdm_config_set_str(ctx, &ac, algo, "mode", mode);
  if (!rc) rc = lpdm_config_set_num(ctx, &ac, algo, "steps", 4096);
  if (!rc && akey) rc = lpdm_config_set_text(ctx, &ac, algo, akey, aval);
  if (!rc) rc = lpdm_net_new(ctx, 2, &net);
  if (!rc) rc = lpdm_net_add(net, ctx, dk, NULL, &rng, NULL);
  if (!rc) rc = lpdm_distance_new(ctx, eu, NULL, &dist);
  if (!rc) rc = lpdm_loss_new(ctx, lk, NULL, &loss);
  if (!rc) {
    lpdm_algo_setup su = {ek, &ec, net, NULL, dist, loss, NULL, NULL};
    rc = lpdm_algo_new(ctx, ak, &ac, &su, &a);
  }
  lpdm_figures *st = lpdm_figures_new();
  while (!rc) {
    lpdm_figures_clear(st);
    rc = ak->iterate(a, st, ctx);
    if (rc == LPDM_DONE) break;
  }
  lpdm_figures_free(st);
  lpdm_algo_free(a);
  lpdm_net_free(net);
  lpdm_loss_free(loss);
  lpdm_distance_free(dist);
  return rc;
}

static int run(const char *algo, const char *mode, const char *ekey, const char *eval) {
  return run2(algo, mode, ekey, eval, NULL, NULL);
}

int main(void) {
  ctx = lpdm_ctx_new();
  if (lpdm_plugin_load_dir(ctx, LPDM_PLUGIN_DIR) || lpdm_plugin_load(ctx, LPDM_FIXTURE_DIR "/nan_env.so")) {
    printf("Bail out! %s\n", lpdm_ctx_message(ctx));
    return 1;
  }
  const char *algos[] = {"reinforce", "ppo"}, *modes[] = {"bp", "local"};
  for (int i = 0; i < 2; i++)
    for (int m = 0; m < 2; m++) {
      int rc = run(algos[i], modes[m], NULL, NULL);
      const char *msg = lpdm_ctx_message(ctx);
      ok(rc < 0 && strstr(msg, "NanEnv-v0: step returned: observation: non-finite value nan at index 1") &&
             strstr(msg, "rollout of update 1 (env step "),
         "%s %s: a NaN observation stops training, naming the update, the env step, the env and the index (%s)", algos[i], modes[m], msg);
      rc = run(algos[i], modes[m], "bad_reward", "true");
      msg = lpdm_ctx_message(ctx);
      ok(rc < 0 && strstr(msg, "NanEnv-v0: step returned a non-finite reward (nan)") && strstr(msg, "(env step "),
         "%s %s: a NaN reward stops training, naming the update, the env step and the env (%s)", algos[i], modes[m], msg);
    }
  /* REINFORCE's squash_mean maps the mean into the action range, so it
     needs a finite one; an env with an unbounded action is refused by name
     when the algo is made, not at the first step. */
  for (int m = 0; m < 2; m++) {
    int rc = run2("reinforce", modes[m], "box_actions", "true", "squash_mean", "true");
    const char *msg = lpdm_ctx_message(ctx);
    ok(rc == LPDM_ERR_ARG && strstr(msg, "squash_mean needs a finite action range, but NanEnv-v0's action 1 has [-inf, inf]"),
       "reinforce %s: squash_mean on an unbounded action is refused, naming the env and the action (%s)", modes[m], msg);
  }
  /* without squash_mean the same env trains until its NaN (the refusal is
     squash_mean's, not the unbounded Box's) */
  int rc = run2("reinforce", "bp", "box_actions", "true", NULL, NULL);
  ok(rc < 0 && strstr(lpdm_ctx_message(ctx), "non-finite value nan at index 1"),
     "reinforce bp: the unbounded-Box env runs without squash_mean, to its NaN (%s)", lpdm_ctx_message(ctx));
  lpdm_ctx_free(ctx);
  return done_testing();
}
