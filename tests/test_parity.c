/* SPDX-License-Identifier: MIT */
/* test_parity.c -- every classic-control env against its Gymnasium 1.4.0
   reference trace in tests/data/ (CartPole-v1, Acrobot-v1, MountainCar-v0,
   MountainCarContinuous-v0, Pendulum-v1), step by step and by a short free
   replay, through parity.h.

   The plugins are loaded from the build's plugin folder and found by env
   id. An env whose plugin is not there yet gets its lines as TAP TODOs
   ("not ok ... # TODO plugin missing"), which do not fail the run; the
   same lines become real checks once the plugin lands. The env-specific
   checks (time limits, reset distributions, spaces, edge cases) live in
   test_cartpole.c and test_envs_misc.c. */
#include <stdio.h>
#include <string.h>

#include "lpdm/lpdm.h"
#include "parity.h"

static const char *const env_ids[] = {"CartPole-v1", "Acrobot-v1", "MountainCar-v0",
                                      "MountainCarContinuous-v0", "Pendulum-v1"};
#define NENVS ((int)(sizeof env_ids / sizeof env_ids[0]))

/* One trace: 1 line for the file, then PARITY_TAP_LINES. */
static void check_env(lpdm_ctx *ctx, const char *id) {
  char path[400], err[1024];
  parity_trace tr;
  snprintf(path, sizeof path, "%s/%s.csv", LPDM_TEST_DATA, id);
  int rc = parity_trace_load(path, &tr, err, sizeof err);
  if (!ok(rc == 0 && tr.nrows > 0, "%s: read %d rows of %s.csv (%d action, %d obs, %d state columns)",
          id, rc ? 0 : tr.nrows, id, tr.na, tr.nobs, tr.nstate)) {
    if (rc) diag("%s", err);
    parity_report(id, NULL);
    return;
  }

  const lpdm_env_kind *k = (const lpdm_env_kind *)lpdm_plugin_find(ctx, LPDM_KIND_ENV, id);
  if (!k) {
    diag("%s: no plugin env.%s in %s", id, id, LPDM_PLUGIN_DIR);
    parity_todo(id, "plugin missing");
    parity_trace_free(&tr);
    return;
  }

  lpdm_env *env = NULL;
  if (lpdm_env_new(ctx, k, NULL, &env)) {
    diag("%s: %s", id, lpdm_ctx_message(ctx));
    parity_report(id, NULL);
    parity_trace_free(&tr);
    return;
  }
  parity_result res;
  parity_check(ctx, env, &tr, id, &res);
  parity_report(id, &res);
  lpdm_env_free(env);
  parity_trace_free(&tr);
}

int main(void) {
  lpdm_ctx *ctx = lpdm_ctx_new();
  plan(1 + NENVS * (1 + PARITY_TAP_LINES));
  int rc = lpdm_plugin_load_dir(ctx, LPDM_PLUGIN_DIR);
  if (!ok(rc == LPDM_OK, "load the plugins in %s (%d envs registered)", LPDM_PLUGIN_DIR,
          lpdm_plugin_count(ctx, LPDM_KIND_ENV)))
    diag("%s", lpdm_ctx_message(ctx));
  for (int i = 0; i < NENVS; i++) check_env(ctx, env_ids[i]);
  lpdm_ctx_free(ctx);
  return done_testing();
}
