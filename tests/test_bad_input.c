/* SPDX-License-Identifier: MIT */
/* test_bad_input.c -- part of issue 8's bad-input matrix that is about
   numbers going bad at run time: an env whose observation or reward turns
   NaN stops REINFORCE and PPO (both modes) with a message naming the env,
   what was non-finite and the update; nothing crashes (run under ASan in
   CI). The fixture env is tests/fixtures/nan_env.c. */
#include <stdio.h>
#include <string.h>

#include "fixture.h"
#include "lpdm/lpdm.h"
#include "tap.h"

static lpdm_ctx *ctx;

/* Runs algo on NanEnv-v0 (one env setting ekey = eval, one algo setting
   akey = aval; NULL: none) until it stops; returns its status and leaves
   the message in ctx. */
static int run2(const char *algo, const char *mode, const char *ekey, const char *eval, const char *akey,
                const char *aval) {
  const lpdm_plugin *ek = lpdm_plugin_get(ctx, LPDM_KIND_ENV, "NanEnv-v0");
  lpdm_config ec;
  char etext[128] = "", atext[128];
  if (ekey) snprintf(etext, sizeof etext, "%s=%s", ekey, eval);
  snprintf(atext, sizeof atext, "mode=%s steps=4096 %s%s%s", mode, akey ? akey : "", akey ? "=" : "", akey ? aval : "");
  int rc = ek ? fx_config(ctx, ek, etext, &ec) : LPDM_ERR_ARG;
  fx_run r = {NULL, NULL};
  lpdm_run_spec spec = {.env_cfg = &ec, .loss_name = "guided"};
  if (!rc) rc = fx_run_new(ctx, &r, algo, "NanEnv-v0", atext, &(fx_net_spec){1, NULL, 1}, &spec);
  while (!rc) {
    rc = lpdm_run_iterate(r.run, ctx);
    if (rc == LPDM_DONE) break;
  }
  fx_run_free(&r);
  return rc;
}

static int run(const char *algo, const char *mode, const char *ekey, const char *eval) {
  return run2(algo, mode, ekey, eval, NULL, NULL);
}

int main(void) {
  ctx = fx_ctx_with((const char *const[]){LPDM_FIXTURE_DIR "/nan_env.so", NULL});
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
