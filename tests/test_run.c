/* SPDX-License-Identifier: MIT */
/* test_run.c -- lpdm_run_new (lpdm/run.h), the one place a run is
   assembled: an env by id or instance, the default distance ("euclidean")
   and the algorithm's own local loss, instances lent by the caller (used,
   never freed), and each refusal with its message and nothing left
   allocated (the suite runs under ASan too). */
#include <stdio.h>
#include <string.h>

#include "fixture.h"
#include "lpdm/lpdm.h"
#include "lpdm/run.h"
#include "tap.h"

static lpdm_ctx *ctx;

static int has(const char *needle) { return strstr(lpdm_ctx_message(ctx), needle) != NULL; }

/* lpdm_run_new must refuse s with a message holding want. */
static void refused(const lpdm_run_spec *s, const char *want, const char *what) {
  lpdm_run *r = NULL;
  int rc = lpdm_run_new(ctx, s, &r);
  ok(rc < 0 && r == NULL && has(want), "%s is refused: %s", what, lpdm_ctx_message(ctx));
}

/* The algorithm's default local loss kind (lpdm_algo_local_loss). */
static const lpdm_loss_kind *default_loss(const char *algo) {
  const lpdm_loss_kind *lk = NULL;
  lpdm_config lc;
  const lpdm_plugin *p = lpdm_plugin_get(ctx, LPDM_KIND_ALGO, algo);
  if (!p || lpdm_algo_local_loss(ctx, (const lpdm_algo_kind *)p, &lk, &lc, NULL)) return NULL;
  return lk;
}

int main(void) {
  ctx = fx_ctx();
  plan(18);
  lpdm_net *net = fx_dense_net(ctx, 4, 2, "out=8", 1), *value = fx_dense_net(ctx, 4, 1, "out=8", 2),
           *narrow = fx_dense_net(ctx, 3, 1, NULL, 3);
  if (!net || !value || !narrow) {
    printf("Bail out! nets: %s\n", lpdm_ctx_message(ctx));
    return 1;
  }

  /* by names, with the defaults */
  const char *algos[] = {"reinforce", "ppo"};
  for (int i = 0; i < 2; i++) {
    lpdm_run_spec s = {.algo = algos[i], .env_id = "CartPole-v1", .policy = net};
    lpdm_run *r = NULL;
    int rc = lpdm_run_new(ctx, &s, &r);
    ok(rc == 0 && r && r->algo && r->kind == (const lpdm_algo_kind *)lpdm_plugin_find(ctx, LPDM_KIND_ALGO, algos[i]) &&
           !strcmp(r->distance->kind->head.name, "distance.euclidean") && r->loss->kind == default_loss(algos[i]) &&
           r->own_distance && r->own_loss && r->obs_dim == 4 && r->act_space.type == LPDM_SPACE_DISCRETE &&
           r->act_space.n == 2 && r->setup.policy == net && r->setup.value == NULL && r->setup.env_cfg == &r->env_cfg,
       "%s on CartPole-v1 by id: distance.euclidean and the algorithm's own loss (%s), made by the run", algos[i],
       r && r->loss ? r->loss->kind->head.name : lpdm_ctx_message(ctx));
    int it = r ? lpdm_run_iterate(r, ctx) : -1;
    int nfig = it == LPDM_OK ? lpdm_figures_count(r->figures) : 0;
    ok(it == LPDM_OK && nfig > 0, "%s: one iteration runs (%d figures)", algos[i], nfig);
    lpdm_run_free(r);
  }

  /* lent instances and configs */
  const lpdm_plugin *ek = lpdm_plugin_get(ctx, LPDM_KIND_ENV, "CartPole-v1");
  const lpdm_plugin *ck = lpdm_plugin_get(ctx, LPDM_KIND_DISTANCE, "cosine");
  const lpdm_plugin *sk = lpdm_plugin_get(ctx, LPDM_KIND_LOSS, "stress");
  lpdm_config ec;
  lpdm_env *env = NULL;
  lpdm_distance *dist = NULL;
  lpdm_loss *loss = NULL;
  int rc = fx_config(ctx, ek, "max_episode_steps=50", &ec) || lpdm_env_new(ctx, (const lpdm_env_kind *)ek, &ec, &env) ||
           lpdm_distance_new(ctx, (const lpdm_distance_kind *)ck, NULL, &dist) ||
           lpdm_loss_new(ctx, (const lpdm_loss_kind *)sk, NULL, &loss);
  lpdm_run_spec s = {.algo = "algo.ppo", .env = env, .policy = net, .value = value, .distance = dist, .loss = loss};
  lpdm_run *r = NULL;
  rc = rc || lpdm_run_new(ctx, &s, &r);
  ok(!rc && r->distance == dist && r->loss == loss && !r->own_distance && !r->own_loss && r->setup.value == value &&
         lpdm_cfg_int(&r->env_cfg, "max_episode_steps") == 50,
     "an env instance (its config copied), a value net and lent distance and loss instances are used as given");
  lpdm_run_free(r);
  float X[3 * 4] = {0, 1, 2, 3, 1, 1, 1, 1, 3, 2, 1, 0}, D[9], work[LPDM_DIST_WORK(3, 4)];
  ok(dist && dist->kind->pairwise(dist, X, 3, 4, D, work, ctx) == 0, "the lent distance outlives the run");
  lpdm_distance_free(dist);
  lpdm_loss_free(loss);
  lpdm_env_free(env);

  lpdm_config gc;
  const lpdm_plugin *gk = lpdm_plugin_get(ctx, LPDM_KIND_LOSS, "guided");
  r = NULL;
  rc = fx_config(ctx, gk, "alpha=0.25", &gc);
  lpdm_run_spec s2 = {.algo = "reinforce", .env_id = "CartPole-v1", .policy = net, .distance_name = "sqeuclidean",
                      .loss_name = "guided", .loss_cfg = &gc};
  rc = rc || lpdm_run_new(ctx, &s2, &r);
  ok(!rc && !strcmp(r->distance->kind->head.name, "distance.sqeuclidean") && lpdm_cfg_num(&r->loss->cfg, "alpha") == 0.25,
     "a distance and a loss by name, the loss with a config");
  lpdm_run_free(r);
  lpdm_run_free(NULL);

  /* refusals */
  refused(&(lpdm_run_spec){.env_id = "CartPole-v1", .policy = net}, "an algorithm name is required", "no algorithm");
  refused(&(lpdm_run_spec){.algo = "nope", .env_id = "CartPole-v1", .policy = net}, "nope", "an unknown algorithm");
  refused(&(lpdm_run_spec){.algo = "ppo", .policy = net}, "an env (an instance or an id) is required", "no env");
  refused(&(lpdm_run_spec){.algo = "ppo", .env_id = "Nope-v0", .policy = net}, "Nope-v0", "an unknown env id");
  refused(&(lpdm_run_spec){.algo = "ppo", .env_id = "CartPole-v1"}, "'policy' (a net) is required", "no policy");
  refused(&(lpdm_run_spec){.what = "lpdm.algo", .algo = "ppo", .env_id = "CartPole-v1", .policy = narrow},
          "lpdm.algo: 'policy' takes 3 inputs, but CartPole-v1 observations have 4 values",
          "a policy of the wrong width (named by spec.what)");
  refused(&(lpdm_run_spec){.algo = "ppo", .env_id = "CartPole-v1", .policy = net, .value = narrow},
          "'value' takes 3 inputs", "a value net of the wrong width");
  refused(&(lpdm_run_spec){.algo = "ppo", .env_id = "CartPole-v1", .policy = net, .value = net},
          "'policy' and 'value' must be two different nets", "one net as policy and value");
  refused(&(lpdm_run_spec){.algo = "ppo", .env_id = "CartPole-v1", .policy = net, .loss_name = "nope"}, "nope",
          "an unknown loss");
  refused(&(lpdm_run_spec){.algo = "ppo", .env_id = "CartPole-v1", .policy = net, .distance_name = "nope"}, "nope",
          "an unknown distance");
  lpdm_config rc_cfg;
  lpdm_config_init(ctx, lpdm_plugin_get(ctx, LPDM_KIND_ALGO, "reinforce"), &rc_cfg);
  refused(&(lpdm_run_spec){.algo = "ppo", .algo_cfg = &rc_cfg, .env_id = "CartPole-v1", .policy = net},
          "config was built for another plugin", "another algorithm's config");

  lpdm_net_free(net);
  lpdm_net_free(value);
  lpdm_net_free(narrow);
  lpdm_ctx_free(ctx);
  return done_testing();
}
