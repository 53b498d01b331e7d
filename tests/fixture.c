/* SPDX-License-Identifier: MIT */
/* fixture.c -- the shared set-up of the C tests (see fixture.h): contexts
   with plugins, config text, envs, dense nets and runs. Built into the
   static library lpdm_test_fixture with each test's compile definitions
   (LPDM_PLUGIN_DIR). Not part of liblpdm. */
#include "fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void bail(lpdm_ctx *ctx) {
  printf("Bail out! %s\n", ctx ? lpdm_ctx_message(ctx) : "no context (out of memory)");
  fflush(stdout);
  lpdm_ctx_free(ctx);
  exit(1);
}

lpdm_ctx *fx_ctx_with(const char *const *extra) {
  lpdm_ctx *ctx = lpdm_ctx_new();
  if (!ctx || lpdm_plugin_load_dir(ctx, LPDM_PLUGIN_DIR)) bail(ctx);
  for (; extra && *extra; extra++)
    if (lpdm_plugin_load(ctx, *extra)) bail(ctx);
  return ctx;
}

lpdm_ctx *fx_ctx(void) { return fx_ctx_with(NULL); }

lpdm_ctx *fx_ctx_only(const char *const *files) {
  lpdm_ctx *ctx = lpdm_ctx_new();
  if (!ctx) bail(ctx);
  for (; files && *files; files++) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", LPDM_PLUGIN_DIR, *files);
    if (lpdm_plugin_load(ctx, path)) bail(ctx);
  }
  return ctx;
}

const lpdm_plugin *fx_plugin(lpdm_ctx *ctx, int kind, const char *file, const char *name) {
  const lpdm_plugin *p = lpdm_plugin_find(ctx, kind, name);
  if (p) return p;
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", LPDM_PLUGIN_DIR, file);
  if (lpdm_plugin_load(ctx, path)) return NULL;
  return lpdm_plugin_get(ctx, kind, name);
}

int fx_config_text(lpdm_ctx *ctx, lpdm_config *cfg, const char *what, const char *text) {
  char buf[1024];
  if (!text) return LPDM_OK;
  if (strlen(text) >= sizeof buf) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: settings text too long", what);
  strcpy(buf, text);
  for (char *save = NULL, *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
    char *eq = strchr(tok, '=');
    if (!eq) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: '%s' is not key=value", what, tok);
    *eq = 0;
    int rc = lpdm_config_set_text(ctx, cfg, what, tok, eq + 1);
    if (rc) return rc;
  }
  return LPDM_OK;
}

int fx_config(lpdm_ctx *ctx, const lpdm_plugin *p, const char *text, lpdm_config *cfg) {
  int rc = lpdm_config_init(ctx, p, cfg);
  return rc ? rc : fx_config_text(ctx, cfg, p->name, text);
}

lpdm_env *fx_env(lpdm_ctx *ctx, const lpdm_env_kind *k, const char *text) {
  lpdm_config cfg;
  lpdm_env *env = NULL;
  if (fx_config(ctx, &k->head, text, &cfg) || lpdm_env_new(ctx, k, &cfg, &env)) {
    printf("# %s\n", lpdm_ctx_message(ctx));
    fflush(stdout);
    return NULL;
  }
  return env;
}

int fx_obs_dim(lpdm_ctx *ctx, const char *id) {
  const lpdm_plugin *p = lpdm_plugin_get(ctx, LPDM_KIND_ENV, id);
  lpdm_env *probe = NULL;
  if (!p || lpdm_env_new(ctx, (const lpdm_env_kind *)p, NULL, &probe)) return 0;
  int d = probe->obs_space.dim;
  lpdm_env_free(probe);
  return d;
}

lpdm_net *fx_dense_net(lpdm_ctx *ctx, int in, int layers, const char *text, uint64_t seed) {
  const lpdm_plugin *dk = lpdm_plugin_get(ctx, LPDM_KIND_LAYER, "dense");
  lpdm_net *net = NULL;
  lpdm_rng rng;
  lpdm_rng_seed(&rng, seed);
  if (!dk || lpdm_net_new(ctx, in, &net)) return NULL;
  const char *seg = text ? text : "";
  for (int i = 0; i < layers; i++) {
    /* "a|b": layer 1 takes a, layer 2 b, later layers the last segment */
    char one[256];
    const char *bar = strchr(seg, '|');
    size_t n = bar ? (size_t)(bar - seg) : strlen(seg);
    snprintf(one, sizeof one, "%.*s", (int)n, seg);
    lpdm_config cfg;
    if (fx_config(ctx, dk, one, &cfg) || lpdm_net_add(net, ctx, (const lpdm_layer_kind *)dk, &cfg, &rng, NULL)) {
      lpdm_net_free(net);
      return NULL;
    }
    if (bar) seg = bar + 1;
  }
  return net;
}

int fx_run_new(lpdm_ctx *ctx, fx_run *r, const char *algo, const char *env, const char *text,
               const fx_net_spec *net, const lpdm_run_spec *spec) {
  r->run = NULL;
  r->net = NULL;
  lpdm_run_spec s;
  if (spec) s = *spec;
  else memset(&s, 0, sizeof s);
  const lpdm_plugin *ap = lpdm_plugin_get(ctx, LPDM_KIND_ALGO, algo);
  lpdm_config ac;
  int rc = ap ? fx_config(ctx, ap, text, &ac) : LPDM_ERR_ARG;
  if (rc) return rc;
  const fx_net_spec dflt = {2, NULL, 0};
  if (!net) net = &dflt;
  int in = fx_obs_dim(ctx, env);
  if (!in) return LPDM_ERR_ARG;
  r->net = fx_dense_net(ctx, in, net->layers, net->text, net->seed);
  if (!r->net) return LPDM_ERR;
  s.algo = ap->name;
  s.algo_cfg = &ac;
  s.env = NULL;
  s.env_id = env;
  s.policy = r->net;
  rc = lpdm_run_new(ctx, &s, &r->run);
  if (rc) fx_run_free(r);
  return rc;
}

void fx_run_free(fx_run *r) {
  lpdm_run_free(r->run); /* first: it trains the net */
  lpdm_net_free(r->net);
  r->run = NULL;
  r->net = NULL;
}
