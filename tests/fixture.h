/* SPDX-License-Identifier: MIT */
/* fixture.h -- what many C tests set up the same way, written once
   (tests/fixture.c, a static library linked into every tests/test_*.c):

     context + plugins   fx_ctx() loads every plugin of the build (or says
                         "Bail out!" and exits), fx_ctx_with() also some
                         fixture plugins, fx_ctx_only() just the named .so
                         files; fx_plugin() loads one .so of the build and
                         finds one plugin in it;
     config text         fx_config_text() sets "key=value key=value"
                         settings, each parsed by its key's type (a value
                         may hold commas: "lrs=1e-3,0"); fx_config() starts
                         from a plugin's defaults;
     envs                fx_env() makes an env of a kind with settings;
     nets and runs       fx_dense_net() stacks dense layers; fx_run_new()
                         builds a policy net and a run (lpdm_run_new) of an
                         algorithm on an env id with settings text, and
                         fx_run_free() frees both.

   Every function that can fail returns NULL or a nonzero status and
   leaves the message in the context (fx_env also prints it as a TAP
   diagnostic). Example:

     lpdm_ctx *ctx = fx_ctx();
     fx_run r;
     if (fx_run_new(ctx, &r, "ppo", "CartPole-v1", "mode=local steps=2048",
                    &(fx_net_spec){2, "out=16", 3}, NULL))
       diag("%s", lpdm_ctx_message(ctx));
     ... lpdm_run_iterate(r.run, ctx) ...
     fx_run_free(&r);
     lpdm_ctx_free(ctx); */
#ifndef LPDM_TEST_FIXTURE_H
#define LPDM_TEST_FIXTURE_H
#include <stdint.h>

#include "lpdm/lpdm.h"
#include "lpdm/run.h"

/* ------------------------------------------------------------ context + plugins */

/* A new context with every plugin of the build (LPDM_PLUGIN_DIR) loaded,
   and then each path of `extra` (NULL-terminated, may be NULL: e.g. a
   fixture plugin of LPDM_FIXTURE_DIR). On failure prints "Bail out!" with
   the message and exits 1: a test cannot run without its plugins. */
lpdm_ctx *fx_ctx(void);
lpdm_ctx *fx_ctx_with(const char *const *extra);
/* A new context with only these files of the build loaded (NULL-terminated
   names, "cartpole.so"); "Bail out!" and exit 1 when one fails. */
lpdm_ctx *fx_ctx_only(const char *const *files);
/* Loads LPDM_PLUGIN_DIR/<file> (unless `name` of `kind` is registered
   already) and returns that plugin; NULL when either fails. */
const lpdm_plugin *fx_plugin(lpdm_ctx *ctx, int kind, const char *file, const char *name);

/* ------------------------------------------------------------ config text */

/* Sets each "key=value" of text (separated by spaces; NULL or "" for
   none) in cfg with lpdm_config_set_text; `what` names the plugin in
   messages. A token without '=' is an error. */
int fx_config_text(lpdm_ctx *ctx, lpdm_config *cfg, const char *what, const char *text);
/* p's defaults, then text. */
int fx_config(lpdm_ctx *ctx, const lpdm_plugin *p, const char *text, lpdm_config *cfg);

/* ------------------------------------------------------------ envs */

/* An env of kind k with settings text (NULL: defaults); caller frees with
   lpdm_env_free. NULL on failure (the message is also printed as "# ..."). */
lpdm_env *fx_env(lpdm_ctx *ctx, const lpdm_env_kind *k, const char *text);
/* The observation width of env `id` with its defaults (0 on error). */
int fx_obs_dim(lpdm_ctx *ctx, const char *id);

/* ------------------------------------------------------------ nets and runs */

/* `layers` dense layers from `in` inputs, each with settings text (NULL:
   defaults; "a|b" gives layer 1 the settings a, layer 2 and later b), initialised in order from one generator seeded with seed,
   with the default optimizer. Caller frees with lpdm_net_free; NULL on
   failure. */
lpdm_net *fx_dense_net(lpdm_ctx *ctx, int in, int layers, const char *text, uint64_t seed);

/* A policy net for fx_run_new: `layers` dense layers with settings text,
   seeded with seed (its input width is the env's, with its defaults). */
typedef struct fx_net_spec {
  int layers;
  const char *text;
  uint64_t seed;
} fx_net_spec;

/* A run and the policy net it trains (both owned). */
typedef struct fx_run {
  lpdm_run *run;
  lpdm_net *net;
} fx_run;

/* Builds r: a policy net (spec net) on env `env` and the run of `algo`
   with settings text (NULL: defaults). spec (may be NULL) gives the rest:
   env config, distance, loss, on_episode, ...; its algo, algo_cfg, env,
   env_id and policy are filled in here. On failure r holds nothing to
   free and the status is returned. */
int fx_run_new(lpdm_ctx *ctx, fx_run *r, const char *algo, const char *env, const char *text,
               const fx_net_spec *net, const lpdm_run_spec *spec);
void fx_run_free(fx_run *r);
#endif
