/* SPDX-License-Identifier: MIT */
/* test_dqn.c -- DQN's parts and refusals: the replay buffer
   (plugins/algos/lib/replay.h: ring order, sampling, checkpoints, the
   refusals), CleanRL's epsilon schedule, a checkpoint that resumes a DQN
   run bit for bit (replay buffer included), and the bad inputs issue 21
   names: a Box action space, a buffer that cannot be allocated, a
   checkpoint of another buffer size. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lib/replay.h"
#include "tap.h"

static lpdm_ctx *ctx;
static lpdm_distance *dist; /* local mode's, made once, freed in main */
static lpdm_loss *loss;

static void replay_tests(void) {
  lpdm_replay *rb = NULL, *rb2 = NULL, *rb4 = NULL;
  ok(lpdm_replay_new(ctx, 3, 2, 1, 64, "buffer_size", &rb) == LPDM_OK, "a replay buffer of 3 transitions");
  for (int i = 0; i < 5; i++) {
    float o[2] = {(float)i, -(float)i}, n[2] = {(float)i + 100, 0}, a = (float)(i % 2);
    lpdm_replay_add(rb, o, n, &a, i * 0.5, i == 3);
  }
  ok(lpdm_replay_size(rb) == 3 && lpdm_replay_capacity(rb) == 3, "it holds the last 3 of 5 transitions");
  lpdm_rng r;
  lpdm_rng_seed(&r, 7);
  lpdm_replay_batch b;
  int good = lpdm_replay_sample(rb, ctx, &r, 64, &b) == LPDM_OK, seen[5] = {0};
  for (int i = 0; good && i < b.B; i++) {
    int k = (int)b.obs[2 * i];
    good = k >= 2 && k <= 4 && b.obs[2 * i + 1] == -k && b.next_obs[2 * i] == k + 100 && b.action[i] == k % 2 &&
           b.reward[i] == (float)(k * 0.5) && b.done[i] == (k == 3);
    if (good) seen[k] = 1;
  }
  ok(good && seen[2] && seen[3] && seen[4], "a sample draws whole transitions among the last 3 (all of them in 64)");
  ok(lpdm_replay_sample(rb, ctx, &r, 65, &b) != LPDM_OK, "a batch beyond the buffer's max_batch is refused");

  /* checkpoint: the same buffer back, and the same draws from the same generator */
  lpdm_st *st = NULL;
  lpdm_st_new(ctx, &st);
  ok(lpdm_replay_save(rb, ctx, st, "replay") == LPDM_OK, "saved");
  lpdm_replay_new(ctx, 3, 2, 1, 64, "buffer_size", &rb2);
  ok(lpdm_replay_load(rb2, ctx, st, "replay") == LPDM_OK && lpdm_replay_size(rb2) == 3, "loaded into a fresh buffer");
  float o[2] = {9, 9}, n[2] = {9, 9}, a = 1;
  lpdm_replay_add(rb, o, n, &a, 9, 0);
  lpdm_replay_add(rb2, o, n, &a, 9, 0); /* overwrites the same oldest row in both */
  lpdm_rng r1, r2;
  lpdm_rng_seed(&r1, 3);
  lpdm_rng_seed(&r2, 3);
  lpdm_replay_batch b1, b2;
  lpdm_replay_sample(rb, ctx, &r1, 16, &b1);
  lpdm_replay_sample(rb2, ctx, &r2, 16, &b2);
  ok(!memcmp(b1.obs, b2.obs, 32 * sizeof(float)) && !memcmp(b1.next_obs, b2.next_obs, 32 * sizeof(float)) &&
         !memcmp(b1.reward, b2.reward, 16 * sizeof(float)),
     "the loaded buffer continues as the saved one (ring position included)");
  lpdm_replay_new(ctx, 4, 2, 1, 64, "buffer_size", &rb4);
  int rc = lpdm_replay_load(rb4, ctx, st, "replay");
  ok(rc != LPDM_OK && strstr(lpdm_ctx_message(ctx), "holds 3 transitions") &&
         strstr(lpdm_ctx_message(ctx), "buffer_size is 4"),
     "a checkpoint of another buffer size is refused, naming both: %s", lpdm_ctx_message(ctx));
  ok(lpdm_replay_size(rb4) == 0, "and the buffer is left as it was");
  lpdm_st_free(st);

  lpdm_replay *huge = NULL;
  rc = lpdm_replay_new(ctx, (int64_t)1 << 50, 400, 1, 128, "buffer_size", &huge);
  ok(rc != LPDM_OK && !huge && strstr(lpdm_ctx_message(ctx), "buffer_size=1125899906842624"),
     "a buffer that cannot be allocated is refused, naming its size: %s", lpdm_ctx_message(ctx));
  lpdm_replay_free(rb);
  lpdm_replay_free(rb2);
  lpdm_replay_free(rb4);
  lpdm_replay_free(NULL);
}

/* A DQN run on env with a 2-layer relu net of 16 units and the given
   "key=value" settings; NULL on error (the ctx says why). */
static lpdm_algo *make(const char *env, const char *mode, const char *const *kv, lpdm_net **net) {
  const lpdm_env_kind *ek = (const lpdm_env_kind *)lpdm_plugin_get(ctx, LPDM_KIND_ENV, env);
  const lpdm_layer_kind *dk = (const lpdm_layer_kind *)lpdm_plugin_get(ctx, LPDM_KIND_LAYER, "dense");
  const lpdm_algo_kind *ak = (const lpdm_algo_kind *)lpdm_plugin_get(ctx, LPDM_KIND_ALGO, "dqn");
  if (!dist) {
    lpdm_distance_new(ctx, (const lpdm_distance_kind *)lpdm_plugin_get(ctx, LPDM_KIND_DISTANCE, "euclidean"), NULL,
                      &dist);
    lpdm_loss_new(ctx, (const lpdm_loss_kind *)lpdm_plugin_get(ctx, LPDM_KIND_LOSS, "guided"), NULL, &loss);
  }
  lpdm_env *probe = NULL;
  if (!ek || !dk || !ak || lpdm_env_new(ctx, ek, NULL, &probe)) return NULL;
  int od = probe->obs_space.dim;
  lpdm_env_free(probe);
  lpdm_config lc, ac;
  lpdm_rng rng;
  lpdm_rng_seed(&rng, 1);
  *net = NULL;
  if (lpdm_config_init(ctx, &dk->head, &lc) || lpdm_config_set_num(ctx, &lc, "d", "out", 16) ||
      lpdm_config_set_str(ctx, &lc, "d", "act", "relu") || lpdm_net_new(ctx, od, net) ||
      lpdm_net_add(*net, ctx, dk, &lc, &rng, NULL) || lpdm_net_add(*net, ctx, dk, &lc, &rng, NULL) ||
      lpdm_config_init(ctx, &ak->head, &ac) || lpdm_config_set_str(ctx, &ac, "dqn", "mode", mode))
    return NULL;
  for (int i = 0; kv && kv[i]; i++) {
    char k[64];
    const char *eq = strchr(kv[i], '=');
    snprintf(k, sizeof k, "%.*s", (int)(eq - kv[i]), kv[i]);
    if (lpdm_config_set_text(ctx, &ac, "dqn", k, eq + 1)) return NULL;
  }
  lpdm_algo_setup su = {ek, NULL, *net, NULL, dist, loss, NULL, NULL};
  lpdm_algo *a = NULL;
  if (lpdm_algo_new(ctx, ak, &ac, &su, &a)) return NULL;
  return a;
}

static int iterate(lpdm_algo *a, lpdm_figures *st) {
  lpdm_figures_clear(st);
  return a->kind->iterate(a, st, ctx);
}

static double stat(const lpdm_figures *st, const char *name) {
  double v;
  return lpdm_figures_get(st, name, &v) ? v : NAN;
}

/* 1 when a and b hold the same names with the same bits */
static int same_figures(const lpdm_figures *a, const lpdm_figures *b) {
  if (lpdm_figures_count(a) != lpdm_figures_count(b)) return 0;
  for (int i = 0; i < lpdm_figures_count(a); i++) {
    double x = lpdm_figures_value(a, i), y = lpdm_figures_value(b, i);
    if (strcmp(lpdm_figures_name(a, i), lpdm_figures_name(b, i)) || memcmp(&x, &y, sizeof x)) return 0;
  }
  return 1;
}

static void algo_tests(void) {
  lpdm_net *net = NULL;
  lpdm_algo *a = make("Pendulum-v1", "bp", NULL, &net);
  ok(!a && strstr(lpdm_ctx_message(ctx), "Discrete") && strstr(lpdm_ctx_message(ctx), "Pendulum-v1") &&
         strstr(lpdm_ctx_message(ctx), "Box"),
     "a Box action space is refused by name: %s", lpdm_ctx_message(ctx));
  lpdm_net_free(net);
  const char *huge[] = {"buffer_size=1000000000000000", NULL};
  a = make("CartPole-v1", "bp", huge, &net);
  ok(!a && strstr(lpdm_ctx_message(ctx), "buffer_size=1000000000000000") && strstr(lpdm_ctx_message(ctx), "bytes"),
     "a replay buffer that cannot be allocated is refused when the run is built: %s", lpdm_ctx_message(ctx));
  lpdm_net_free(net);

  /* epsilon: CleanRL's linear schedule, read at each iteration's first step */
  const char *sched[] = {"steps=1000", "iteration_steps=100", "learning_starts=2000", NULL};
  a = make("CartPole-v1", "bp", sched, &net);
  lpdm_figures *st = lpdm_figures_new(), *s1 = lpdm_figures_new(), *s2 = lpdm_figures_new();
  int good = a != NULL;
  for (int it = 0; good && it < 10; it++) {
    good = iterate(a, st) == LPDM_OK;
    double t = it * 100, want = fmax(1 + (0.05 - 1) / 500 * t, 0.05);
    good = good && fabs(stat(st, "epsilon") - want) < 1e-12 && isnan(stat(st, "td_loss"));
  }
  ok(good && iterate(a, st) == LPDM_DONE, "epsilon falls linearly from 1 to 0.05 over half the budget, then stays");
  lpdm_algo_free(a);
  lpdm_net_free(net);

  /* resume: save after 6 iterations, load into a fresh run, the next 6 give the same bits */
  for (int local = 0; local <= 1; local++) {
    const char *kv[] = {"steps=3000",          "iteration_steps=200", "learning_starts=300",
                        "buffer_size=500",     "batch_size=32",       "target_network_frequency=100",
                        "train_frequency=4",   "tau=0.5",             NULL};
    lpdm_net *n1 = NULL, *n2 = NULL;
    lpdm_algo *a1 = make("CartPole-v1", local ? "local" : "bp", kv, &n1);
    lpdm_algo *a2 = make("CartPole-v1", local ? "local" : "bp", kv, &n2);
    lpdm_st *ck = NULL;
    good = a1 && a2 && !lpdm_st_new(ctx, &ck);
    for (int i = 0; good && i < 6; i++) good = iterate(a1, st) == LPDM_OK;
    good = good && !lpdm_algo_save(a1, ctx, ck) && !lpdm_algo_load(a2, ctx, ck);
    int same = good;
    for (int i = 0; same && i < 6; i++) {
      same = iterate(a1, s1) == LPDM_OK && iterate(a2, s2) == LPDM_OK && same_figures(s1, s2) &&
             !isnan(stat(s1, "td_loss"));
    }
    ok(same, "%s: a run loaded from a checkpoint continues bit for bit (replay buffer, target net, generator)",
       local ? "local" : "bp");
    /* another buffer size: refused, naming both */
    const char *kv2[] = {"steps=3000", "iteration_steps=200", "buffer_size=400", NULL};
    lpdm_net *n3 = NULL;
    lpdm_algo *a3 = make("CartPole-v1", local ? "local" : "bp", kv2, &n3);
    int rc = a3 && ck ? lpdm_algo_load(a3, ctx, ck) : LPDM_OK;
    ok(rc != LPDM_OK && strstr(lpdm_ctx_message(ctx), "holds 500 transitions") &&
           strstr(lpdm_ctx_message(ctx), "buffer_size is 400"),
       "loading a checkpoint of another buffer_size says so: %s", lpdm_ctx_message(ctx));
    lpdm_algo_free(a3);
    lpdm_net_free(n3);
    lpdm_st_free(ck);
    lpdm_algo_free(a1);
    lpdm_algo_free(a2);
    lpdm_net_free(n1);
    lpdm_net_free(n2);
  }
  lpdm_figures_free(st);
  lpdm_figures_free(s1);
  lpdm_figures_free(s2);
}

int main(void) {
  ctx = lpdm_ctx_new();
  if (lpdm_plugin_load_dir(ctx, LPDM_PLUGIN_DIR)) {
    printf("Bail out! %s\n", lpdm_ctx_message(ctx));
    return 1;
  }
  replay_tests();
  algo_tests();
  lpdm_distance_free(dist);
  lpdm_loss_free(loss);
  lpdm_ctx_free(ctx);
  return done_testing();
}
