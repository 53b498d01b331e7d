/* SPDX-License-Identifier: MIT */
/* test_loader.c -- the plugin registry and loader (core/src/plugin.c).
   One refusal per way a plugin can be broken (fixtures in tests/fixtures/,
   built into LPDM_FIXTURE_DIR), each checked for a negative status, a
   message naming the file and the reason, and an unchanged registry; then
   finding, directories, the default search path and context isolation. */
#include <dirent.h>
#include <math.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lpdm/lpdm.h"
#include "tap.h"

static char tmp[64]; /* from mkdtemp */

static int has(const char *msg, const char *needle) { return strstr(msg, needle) != NULL; }

static void fixture(char *buf, size_t len, const char *base) {
  snprintf(buf, len, "%s/%s.so", LPDM_FIXTURE_DIR, base);
}

static int copy_file(const char *from, const char *to) {
  FILE *in = fopen(from, "rb");
  if (!in) return -1;
  FILE *out = fopen(to, "wb");
  if (!out) {
    fclose(in);
    return -1;
  }
  char buf[8192];
  size_t n;
  int rc = 0;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0)
    if (fwrite(buf, 1, n, out) != n) rc = -1;
  fclose(in);
  if (fclose(out) != 0) rc = -1;
  return rc;
}

/* Copies fixture `base` to dir/name (name NULL: the fixture's own name). */
static void copy_fixture(const char *base, const char *dir, const char *name) {
  char from[PATH_MAX], to[PATH_MAX + 64];
  fixture(from, sizeof from, base);
  if (name) snprintf(to, sizeof to, "%s/%s", dir, name);
  else snprintf(to, sizeof to, "%s/%s.so", dir, base);
  if (copy_file(from, to) != 0) diag("cannot copy %s to %s", from, to);
}

static void rm_tree(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
      if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
      char sub[PATH_MAX + 256];
      snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
      rm_tree(sub);
    }
    if (d) closedir(d);
    rmdir(path);
  } else {
    unlink(path);
  }
}

/* Number of *.so files in dir, and the smallest name among them. */
static int count_so(const char *dir, char *first, size_t len) {
  DIR *d = opendir(dir);
  int n = 0;
  if (first) first[0] = '\0';
  if (!d) return 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    size_t l = strlen(de->d_name);
    if (l <= 3 || strcmp(de->d_name + l - 3, ".so")) continue;
    if (first && (!first[0] || strcmp(de->d_name, first) < 0)) snprintf(first, len, "%s", de->d_name);
    n++;
  }
  closedir(d);
  return n;
}

/* Loading fixture `base` fails, naming the file and each of the needles,
   and leaves the registry as it was. */
static void refused(lpdm_ctx *ctx, const char *base, const char *n1, const char *n2) {
  char path[PATH_MAX], file[128];
  fixture(path, sizeof path, base);
  snprintf(file, sizeof file, "%s.so", base);
  int before = lpdm_plugin_count(ctx, 0);
  int rc = lpdm_plugin_load(ctx, path);
  const char *msg = lpdm_ctx_message(ctx);
  diag("%s: %s", base, msg);
  ok(rc < 0, "%s: refused (status %d)", base, rc);
  ok(has(msg, file), "%s: message names the file", base);
  ok(has(msg, n1), "%s: message says '%s'", base, n1);
  if (n2) ok(has(msg, n2), "%s: message says '%s'", base, n2);
  ok(lpdm_plugin_count(ctx, 0) == before, "%s: registry unchanged", base);
  lpdm_ctx_clear(ctx);
}

/* ------------------------------------------------------------ in-memory */

static int d_pair(const lpdm_distance *s, const float *X, int B, int d, float *D, float *w,
                  lpdm_ctx *c) {
  return 0;
}
static int d_vjp(const lpdm_distance *s, const float *X, int B, int d, const float *D,
                 const float *dD, float *dX, float *w, lpdm_ctx *c) {
  return 0;
}
static int l_eval(const lpdm_loss *s, const float *DX, const float *DY, const float *g, int B,
                  double *L, float *dDY, lpdm_ctx *c) {
  return 0;
}
static int y_init(const lpdm_layer_kind *k, const lpdm_config *cfg, int in, lpdm_rng *r,
                  lpdm_layer **out, lpdm_ctx *c) {
  return 0;
}
static int y_fwd(lpdm_layer *s, const float *X, int B, float *Y, lpdm_ctx *c) { return 0; }
static void y_free(lpdm_layer *s) {}
static int e_create(const lpdm_env_kind *k, const lpdm_config *cfg, lpdm_env **out,
                    lpdm_ctx *c) {
  return 0;
}
static int e_reset(lpdm_env *s, int hs, uint64_t seed, float *obs, lpdm_ctx *c) { return 0; }
static int e_step(lpdm_env *s, const double *a, float *obs, double *r, int *te, int *tr,
                  lpdm_ctx *c) {
  return 0;
}
static void e_free(lpdm_env *s) {}
static int a_create(const lpdm_algo_kind *k, const lpdm_config *cfg, const lpdm_algo_setup *su,
                    lpdm_algo **out, lpdm_ctx *c) {
  return 0;
}
static int a_iter(lpdm_algo *s, lpdm_figures *st, lpdm_ctx *c) { return 0; }
static void a_free(lpdm_algo *s) {}

/* Registering desc (of type `type`) with `member` cleared fails naming `field`. */
#define NULL_FIELD(type, desc, member, field)                                                        \
  do {                                                                                       \
    lpdm_ctx *c_ = lpdm_ctx_new();                                                           \
    type d_ = (desc);                                                                        \
    d_.member = NULL;                                                                        \
    int rc_ = lpdm_plugin_register(c_, &d_.head, "mem");                                     \
    ok(rc_ < 0 && has(lpdm_ctx_message(c_), "'" field "'") &&                                \
           has(lpdm_ctx_message(c_), d_.head.name) && lpdm_plugin_count(c_, 0) == 0,         \
       "register: %s without %s refused: %s", d_.head.name, field, lpdm_ctx_message(c_));    \
    lpdm_ctx_free(c_);                                                                       \
  } while (0)

/* An in-memory env kind (the e_* callbacks above), registered by hand. */
static const lpdm_env_kind mem_env = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_ENV, "env.Mem-v0", "", NULL),
    .create = e_create,
    .reset = e_reset,
    .step = e_step,
    .free = e_free,
};

static void test_register(void) {
  lpdm_distance_kind dk = {
      .head = LPDM_PLUGIN_HEAD(LPDM_KIND_DISTANCE, "distance.mem", "", NULL),
      .pairwise = d_pair,
      .vjp = d_vjp,
  };
  lpdm_loss_kind lk = {
      .head = LPDM_PLUGIN_HEAD(LPDM_KIND_LOSS, "loss.mem", "", NULL),
      .eval = l_eval,
  };
  lpdm_layer_kind yk = {
      .head = LPDM_PLUGIN_HEAD(LPDM_KIND_LAYER, "layer.mem", "", NULL),
      .init = y_init,
      .forward = y_fwd,
      .free = y_free,
  };
  lpdm_algo_kind ak = {
      .head = LPDM_PLUGIN_HEAD(LPDM_KIND_ALGO, "algo.mem", "", NULL),
      .create = a_create,
      .iterate = a_iter,
      .free = a_free,
  };

  NULL_FIELD(lpdm_distance_kind, dk, pairwise, "pairwise");
  NULL_FIELD(lpdm_distance_kind, dk, vjp, "vjp");
  NULL_FIELD(lpdm_loss_kind, lk, eval, "eval");
  NULL_FIELD(lpdm_layer_kind, yk, init, "init");
  NULL_FIELD(lpdm_layer_kind, yk, forward, "forward");
  NULL_FIELD(lpdm_layer_kind, yk, free, "free");
  NULL_FIELD(lpdm_env_kind, mem_env, create, "create");
  NULL_FIELD(lpdm_env_kind, mem_env, reset, "reset");
  NULL_FIELD(lpdm_env_kind, mem_env, step, "step");
  NULL_FIELD(lpdm_env_kind, mem_env, free, "free");
  NULL_FIELD(lpdm_algo_kind, ak, create, "create");
  NULL_FIELD(lpdm_algo_kind, ak, iterate, "iterate");
  NULL_FIELD(lpdm_algo_kind, ak, free, "free");
  { /* ABI 2.3: a loss that names a learning rule needs no eval; an empty rule name is refused */
    lpdm_ctx *c = lpdm_ctx_new();
    lpdm_loss_kind rk = {.head = LPDM_PLUGIN_HEAD(LPDM_KIND_LOSS, "loss.memrule", "", NULL), .rule = "localhead"};
    ok(lpdm_plugin_register(c, &rk.head, "mem") == 0, "register: a loss naming a rule, without eval (%s)",
       lpdm_ctx_message(c));
    lpdm_loss_kind ek = {.head = LPDM_PLUGIN_HEAD(LPDM_KIND_LOSS, "loss.memempty", "", NULL), .rule = ""};
    int rc0 = lpdm_plugin_register(c, &ek.head, "mem");
    ok(rc0 < 0 && has(lpdm_ctx_message(c), "loss.memempty") && has(lpdm_ctx_message(c), "empty"),
       "register: a loss naming an empty rule refused: %s", lpdm_ctx_message(c));
    lpdm_loss_kind ok22 = {.head = LPDM_PLUGIN_HEAD(LPDM_KIND_LOSS, "loss.mem22", "", NULL), .rule = "dfa"};
    ok22.head.abi_minor = 2; /* built for 2.2: the host does not read rule, so eval is required */
    rc0 = lpdm_plugin_register(c, &ok22.head, "mem");
    ok(rc0 < 0 && has(lpdm_ctx_message(c), "'eval'"), "register: a 2.2 loss without eval refused, its rule unread: %s",
       lpdm_ctx_message(c));
    lpdm_ctx_free(c);
  }

  lpdm_ctx *ctx = lpdm_ctx_new();
  ok(lpdm_plugin_register(ctx, &dk.head, "A") == 0 && lpdm_plugin_register(ctx, &lk.head, NULL) == 0 &&
         lpdm_plugin_register(ctx, &yk.head, "C") == 0 &&
         lpdm_plugin_register(ctx, &mem_env.head, "D") == 0 &&
         lpdm_plugin_register(ctx, &ak.head, "E") == 0,
     "register: one complete descriptor of each kind (%s)", lpdm_ctx_message(ctx));
  ok(lpdm_plugin_count(ctx, 0) == 5 && lpdm_plugin_count(ctx, LPDM_KIND_ENV) == 1,
     "register: counts");
  ok(lpdm_plugin_find(ctx, LPDM_KIND_ENV, "Mem-v0") == &mem_env.head &&
         lpdm_plugin_find(ctx, 0, "env.Mem-v0") == &mem_env.head,
     "register: env found by short and full name");
  ok(lpdm_plugin_origin(ctx, &lk.head) && strcmp(lpdm_plugin_origin(ctx, &lk.head), "<memory>") == 0,
     "register: NULL origin recorded as <memory>");
  ok(lpdm_plugin_origin(ctx, NULL) == NULL, "origin of an unregistered plugin is NULL");

  /* The same name again, from elsewhere: both origins named. */
  lpdm_distance_kind dk2 = dk;
  int rc = lpdm_plugin_register(ctx, &dk2.head, "B");
  const char *m = lpdm_ctx_message(ctx);
  ok(rc < 0 && has(m, "already registered") && has(m, "A") && has(m, "B: ") &&
         lpdm_plugin_count(ctx, 0) == 5,
     "register: duplicate names both origins: %s", m);

  ok(lpdm_plugin_register(ctx, NULL, "nothing") < 0 && has(lpdm_ctx_message(ctx), "nothing"),
     "register: NULL descriptor refused: %s", lpdm_ctx_message(ctx));

  static const struct {
    const char *name, *needle;
  } names[] = {{NULL, "NULL name"},
               {"", "empty name"},
               {"fixture", "expected 'distance.<name>'"},
               {"distance.", "expected 'distance.<name>'"},
               {"distancex.y", "expected 'distance.<name>'"},
               {"layer.mem2", "expected 'distance.<name>'"}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    lpdm_distance_kind bad = dk;
    bad.head.name = names[i].name;
    rc = lpdm_plugin_register(ctx, &bad.head, "badname");
    ok(rc < 0 && has(lpdm_ctx_message(ctx), names[i].needle) &&
           has(lpdm_ctx_message(ctx), "badname") && lpdm_plugin_count(ctx, 0) == 5,
       "register: distance named %s%s%s refused: %s", names[i].name ? "'" : "",
       names[i].name ? names[i].name : "NULL", names[i].name ? "'" : "", lpdm_ctx_message(ctx));
  }

  /* Keys: duplicate key, empty key name. */
  static const lpdm_key twice[] = {{"a", LPDM_T_INT, "1", ""}, {"a", LPDM_T_INT, "2", ""}, {NULL, 0, NULL, NULL}};
  lpdm_distance_kind kd = dk;
  kd.head.name = "distance.keys";
  kd.head.keys = twice;
  rc = lpdm_plugin_register(ctx, &kd.head, "keys");
  ok(rc < 0 && has(lpdm_ctx_message(ctx), "'a' is listed twice"), "register: key listed twice: %s",
     lpdm_ctx_message(ctx));
  static const lpdm_key fine[] = {{"n", LPDM_T_INT, "3", ""}, {"act", LPDM_T_STRING, "tanh", ""},
                                  {"on", LPDM_T_BOOL, NULL, ""}, {NULL, 0, NULL, NULL}};
  kd.head.keys = fine;
  lpdm_ctx_clear(ctx);
  ok(lpdm_plugin_register(ctx, &kd.head, "keys") == 0, "register: keys of every type accepted (%s)",
     lpdm_ctx_message(ctx));
  lpdm_ctx_free(ctx);
}

/* ------------------------------------------------------------ fingerprint */

/* Each LPDM_MAX_* size shapes a shared struct: a descriptor built with
   another value of any one of them is refused, naming that size. */
static void test_fingerprint_sizes(void) {
  static const struct {
    const char *what;
    uint64_t fp;
    int got, want;
  } c[] = {
      {"LPDM_STRLEN", LPDM_FINGERPRINT_OF(32, LPDM_MAX_KEYS, LPDM_MAX_PARAMS, LPDM_LOSS_ACC), 32,
       LPDM_STRLEN},
      {"LPDM_MAX_KEYS", LPDM_FINGERPRINT_OF(LPDM_STRLEN, 256, LPDM_MAX_PARAMS, LPDM_LOSS_ACC), 256,
       LPDM_MAX_KEYS},
      {"LPDM_MAX_PARAMS", LPDM_FINGERPRINT_OF(LPDM_STRLEN, LPDM_MAX_KEYS, 4, LPDM_LOSS_ACC), 4,
       LPDM_MAX_PARAMS},
      {"LPDM_LOSS_ACC", LPDM_FINGERPRINT_OF(LPDM_STRLEN, LPDM_MAX_KEYS, LPDM_MAX_PARAMS, 16), 16,
       LPDM_LOSS_ACC},
  };
  ok(LPDM_FINGERPRINT ==
         LPDM_FINGERPRINT_OF(LPDM_STRLEN, LPDM_MAX_KEYS, LPDM_MAX_PARAMS, LPDM_LOSS_ACC),
     "LPDM_FINGERPRINT packs this build's sizes");
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    lpdm_ctx *ctx = lpdm_ctx_new();
    lpdm_distance_kind dk = {
        .head = LPDM_PLUGIN_HEAD(LPDM_KIND_DISTANCE, "distance.sized", "", NULL),
        .pairwise = d_pair,
        .vjp = d_vjp,
    };
    dk.head.fingerprint = c[i].fp;
    char want[96];
    snprintf(want, sizeof want, "%s %d vs %d", c[i].what, c[i].got, c[i].want);
    int rc = lpdm_plugin_register(ctx, &dk.head, "sized.so");
    const char *m = lpdm_ctx_message(ctx);
    ok(rc < 0 && has(m, want) && has(m, "distance.sized") && has(m, "sized.so") && lpdm_plugin_count(ctx, 0) == 0,
       "a plugin built with %s %d is refused by name: %s", c[i].what, c[i].got, m);
    lpdm_ctx_free(ctx);
  }
}

/* ------------------------------------------------------------ config reads */

/* A layer whose init reads its string key "act" as a number. */
static const lpdm_key act_key[] = {{"act", LPDM_T_STRING, "tanh", ""}, {NULL, 0, NULL, NULL}};
static int y_init_bad(const lpdm_layer_kind *k, const lpdm_config *cfg, int in, lpdm_rng *r, lpdm_layer **out,
                      lpdm_ctx *c) {
  lpdm_layer *l = calloc(1, sizeof *l);
  if (!l) return lpdm_error(c, LPDM_ERR_MEM, "out of memory");
  l->in_dim = in;
  l->out_dim = (int)lpdm_cfg_num(cfg, "act") > 0 ? 3 : in; /* NaN: the bug */
  *out = l;
  return 0;
}
static void y_free_bad(lpdm_layer *s) { free(s); }

/* An algorithm whose iterate reads "steps", which it does not declare. */
static int a_create_ok(const lpdm_algo_kind *k, const lpdm_config *cfg, const lpdm_algo_setup *su, lpdm_algo **out,
                       lpdm_ctx *c) {
  *out = calloc(1, sizeof **out);
  return *out ? 0 : lpdm_error(c, LPDM_ERR_MEM, "out of memory");
}
static int a_iter_bad(lpdm_algo *s, lpdm_figures *st, lpdm_ctx *c) {
  return lpdm_cfg_int(&s->cfg, "steps") > 0 ? LPDM_DONE : LPDM_OK;
}
static void a_free_ok(lpdm_algo *s) { free(s); }
static const lpdm_key seed_key[] = {{"seed", LPDM_T_INT, "1", ""}, {NULL, 0, NULL, NULL}};

static void test_config_reads(void) {
  char path[PATH_MAX];
  lpdm_ctx *ctx = lpdm_ctx_new();
  fixture(path, sizeof path, "undeclared_key");
  int rc = lpdm_plugin_load(ctx, path);
  ok(rc == 0, "undeclared_key loads: a read is checked when it happens (%s)", lpdm_ctx_message(ctx));
  const lpdm_env_kind *ek = (const lpdm_env_kind *)lpdm_plugin_find(ctx, LPDM_KIND_ENV, "UndeclaredKey-v0");
  if (!ek) {
    lpdm_ctx_free(ctx);
    return;
  }
  lpdm_config cfg;
  lpdm_config_init(ctx, &ek->head, &cfg);
  ok(isnan(lpdm_cfg_num(&cfg, "nope")) && lpdm_cfg_int(&cfg, "nope") == 0 && !strcmp(lpdm_cfg_str(&cfg, "nope"), "") &&
         cfg.bad.n == 3 && !strcmp(cfg.bad.key, "nope"),
     "an undeclared read returns NaN, 0, \"\" and is recorded (%d reads of '%s')", cfg.bad.n, cfg.bad.key);
  rc = lpdm_config_check(ctx, &cfg, "env.UndeclaredKey-v0");
  ok(rc == LPDM_ERR_ARG && has(lpdm_ctx_message(ctx), "env.UndeclaredKey-v0: read config key 'nope', which it does "
                                                       "not declare (declared: where, max_episode_steps)"),
     "lpdm_config_check names the plugin, the key and the declared keys: %s", lpdm_ctx_message(ctx));
  lpdm_config_init(ctx, &ek->head, &cfg);
  ok(lpdm_cfg_int(&cfg, "where") == 0 && cfg.bad.why == 3 && lpdm_config_check(ctx, &cfg, "x") == LPDM_ERR_ARG &&
         has(lpdm_ctx_message(ctx), "read config key 'where' as a number, but it declares it as a string"),
     "a string key read as a number is a bad read too: %s", lpdm_ctx_message(ctx));
  lpdm_config_init(ctx, &ek->head, &cfg);
  ok(lpdm_config_check(ctx, &cfg, "x") == LPDM_OK && lpdm_cfg_int(&cfg, "max_episode_steps") == 10 &&
         !strcmp(lpdm_cfg_str(&cfg, "where"), "create") && cfg.bad.n == 0,
     "declared reads record nothing");

  /* create reads it: lpdm_env_new fails, naming env and key */
  lpdm_env *env = NULL;
  lpdm_ctx_clear(ctx);
  rc = lpdm_env_new(ctx, ek, NULL, &env);
  ok(rc == LPDM_ERR_ARG && env == NULL && has(lpdm_ctx_message(ctx), "env.UndeclaredKey-v0") &&
         has(lpdm_ctx_message(ctx), "'max_steps'"),
     "create reading an undeclared key fails lpdm_env_new: %s", lpdm_ctx_message(ctx));

  /* step reads it: the first step fails */
  lpdm_config_init(ctx, &ek->head, &cfg);
  lpdm_config_set_str(ctx, &cfg, "env.UndeclaredKey-v0", "where", "step");
  lpdm_ctx_clear(ctx);
  rc = lpdm_env_new(ctx, ek, &cfg, &env);
  float obs[2];
  double a = 0, r;
  int te, tr;
  if (!rc) rc = lpdm_env_reset(env, ctx, 1, 1, obs);
  ok(rc == 0, "where=step: create and reset run (%s)", lpdm_ctx_message(ctx));
  if (!rc) {
    rc = lpdm_env_step(env, ctx, &a, obs, &r, &te, &tr);
    ok(rc == LPDM_ERR_ARG && has(lpdm_ctx_message(ctx), "env.UndeclaredKey-v0: read config key 'max_steps'"),
       "step reading an undeclared key fails lpdm_env_step: %s", lpdm_ctx_message(ctx));
  }
  lpdm_env_free(env);
  env = NULL;

  /* a whole run: the algorithm's env copies fail, and so does the run */
  if (lpdm_plugin_load_dir(ctx, LPDM_PLUGIN_DIR) == 0) {
    const lpdm_algo_kind *rk = (const lpdm_algo_kind *)lpdm_plugin_find(ctx, LPDM_KIND_ALGO, "reinforce");
    lpdm_net *net = NULL;
    lpdm_algo *run = NULL;
    lpdm_config ecfg;
    lpdm_config_init(ctx, &ek->head, &ecfg);
    lpdm_config acfg;
    rc = rk ? lpdm_net_new(ctx, 2, &net) : -1;
    if (!rc) rc = lpdm_config_init(ctx, &rk->head, &acfg);
    if (!rc) rc = lpdm_config_set_str(ctx, &acfg, "reinforce", "mode", "bp");
    lpdm_algo_setup su = {.env_kind = ek, .env_cfg = &ecfg, .policy = net};
    if (!rc) rc = lpdm_algo_new(ctx, rk, &acfg, &su, &run);
    ok(rc < 0 && run == NULL && has(lpdm_ctx_message(ctx), "env.UndeclaredKey-v0") &&
           has(lpdm_ctx_message(ctx), "'max_steps'"),
       "a reinforce run on it fails, naming the env and the key: %s", lpdm_ctx_message(ctx));
    lpdm_algo_free(run);
    lpdm_net_free(net);
  } else {
    ok(0, "load %s: %s", LPDM_PLUGIN_DIR, lpdm_ctx_message(ctx));
  }
  lpdm_ctx_free(ctx);

  /* a layer's init and an algorithm's iterate, in memory */
  ctx = lpdm_ctx_new();
  lpdm_layer_kind yk = {
      .head = LPDM_PLUGIN_HEAD(LPDM_KIND_LAYER, "layer.badread", "", act_key),
      .init = y_init_bad,
      .forward = y_fwd,
      .free = y_free_bad,
  };
  lpdm_net *net = NULL;
  lpdm_rng rng;
  lpdm_rng_seed(&rng, 1);
  rc = lpdm_plugin_register(ctx, &yk.head, "mem");
  if (!rc) rc = lpdm_net_new(ctx, 3, &net);
  if (!rc) rc = lpdm_net_add(net, ctx, &yk, NULL, &rng, NULL);
  ok(rc == LPDM_ERR_ARG && lpdm_net_depth(net) == 0 &&
         has(lpdm_ctx_message(ctx), "layer 1: layer.badread: read config key 'act' as a number"),
     "a layer's init reading a string key as a number fails lpdm_net_add: %s", lpdm_ctx_message(ctx));
  lpdm_net_free(net);
  lpdm_ctx_clear(ctx);
  lpdm_algo_kind ak = {
      .head = LPDM_PLUGIN_HEAD(LPDM_KIND_ALGO, "algo.badread", "", seed_key),
      .create = a_create_ok,
      .iterate = a_iter_bad,
      .free = a_free_ok,
  };
  lpdm_algo *alg = NULL;
  lpdm_figures *st = lpdm_figures_new();
  rc = lpdm_net_new(ctx, 3, &net);
  lpdm_algo_setup su = {.env_kind = &mem_env, .policy = net};
  if (!rc) rc = lpdm_algo_new(ctx, &ak, NULL, &su, &alg);
  ok(rc == 0, "algo.badread is created (%s)", lpdm_ctx_message(ctx));
  if (!rc) {
    rc = lpdm_algo_iterate(alg, ctx, st);
    ok(rc == LPDM_ERR_ARG && has(lpdm_ctx_message(ctx), "algo.badread: read config key 'steps', which it does not "
                                                         "declare (declared: seed)"),
       "its iterate reading an undeclared key fails lpdm_algo_iterate: %s", lpdm_ctx_message(ctx));
  }
  lpdm_algo_free(alg);
  lpdm_figures_free(st);
  lpdm_net_free(net);
  lpdm_ctx_free(ctx);
}

/* ------------------------------------------------------------ main */

int main(void) {
  char path[PATH_MAX], path2[PATH_MAX], dir[256];
  (void)plan; /* tap.h helpers this test does not use */
  (void)is_near;
  snprintf(tmp, sizeof tmp, "/tmp/lpdm_loader_XXXXXX");
  if (!mkdtemp(tmp)) {
    printf("Bail out! mkdtemp failed\n");
    return 1;
  }

  ok(strcmp(lpdm_kind_name(LPDM_KIND_DISTANCE), "distance") == 0 &&
         strcmp(lpdm_kind_name(LPDM_KIND_LOSS), "loss") == 0 &&
         strcmp(lpdm_kind_name(LPDM_KIND_LAYER), "layer") == 0 &&
         strcmp(lpdm_kind_name(LPDM_KIND_ENV), "env") == 0 &&
         strcmp(lpdm_kind_name(LPDM_KIND_ALGO), "algo") == 0 &&
         strcmp(lpdm_kind_name(99), "unknown") == 0,
     "lpdm_kind_name");
  ok(strcmp(lpdm_plugin_short(NULL), "") == 0, "lpdm_plugin_short(NULL) is \"\"");
  ok(lpdm_plugin_count(NULL, 0) == 0 && lpdm_plugin_find(NULL, 0, "x") == NULL,
     "NULL context: empty registry");

  lpdm_ctx *ctx = lpdm_ctx_new();
  ok(lpdm_plugin_count(ctx, 0) == 0, "a new context has no plugins");
  ok(lpdm_plugin_get(ctx, LPDM_KIND_DISTANCE, "euclidean") == NULL &&
         has(lpdm_ctx_message(ctx), "no distance plugins loaded"),
     "get on an empty registry: %s", lpdm_ctx_message(ctx));
  lpdm_ctx_clear(ctx);

  /* -------- the good fixture */
  fixture(path, sizeof path, "good_distance");
  int rc = lpdm_plugin_load(ctx, path);
  ok(rc == 0, "good_distance loads (%s)", lpdm_ctx_message(ctx));
  const lpdm_plugin *p = lpdm_plugin_find(ctx, LPDM_KIND_DISTANCE, "distance.fixture_good");
  ok(p != NULL, "found by full name");
  ok(p && lpdm_plugin_find(ctx, LPDM_KIND_DISTANCE, "fixture_good") == p, "found by short name");
  ok(p && lpdm_plugin_find(ctx, 0, "fixture_good") == p, "found by short name, any kind");
  ok(lpdm_plugin_find(ctx, LPDM_KIND_LOSS, "fixture_good") == NULL, "not found as a loss");
  ok(lpdm_plugin_find(ctx, 0, "distance") == NULL && lpdm_plugin_find(ctx, 0, "fixture") == NULL,
     "no prefix matches");
  ok(p && strcmp(lpdm_plugin_short(p), "fixture_good") == 0, "lpdm_plugin_short");
  ok(p && lpdm_plugin_origin(ctx, p) && strcmp(lpdm_plugin_origin(ctx, p), path) == 0,
     "origin is the path");
  ok(lpdm_plugin_count(ctx, 0) == 1 && lpdm_plugin_count(ctx, LPDM_KIND_DISTANCE) == 1 &&
         lpdm_plugin_count(ctx, LPDM_KIND_LOSS) == 0,
     "counts by kind");
  ok(lpdm_plugin_at(ctx, 0, 0) == p && lpdm_plugin_at(ctx, LPDM_KIND_DISTANCE, 0) == p &&
         lpdm_plugin_at(ctx, LPDM_KIND_LOSS, 0) == NULL && lpdm_plugin_at(ctx, 0, 1) == NULL &&
         lpdm_plugin_at(ctx, 0, -1) == NULL,
     "lpdm_plugin_at");
  ok(lpdm_plugin_get(ctx, LPDM_KIND_DISTANCE, "fixture_good") == p, "get finds it");
  ok(lpdm_plugin_get(ctx, LPDM_KIND_DISTANCE, "fixture_goo") == NULL &&
         has(lpdm_ctx_message(ctx), "unknown distance 'fixture_goo' (did you mean 'fixture_good'?)") &&
         has(lpdm_ctx_message(ctx), "(known: fixture_good)"),
     "get of an unknown name suggests the closest and lists the known ones: %s", lpdm_ctx_message(ctx));
  ok(lpdm_plugin_get(ctx, LPDM_KIND_DISTANCE, "cosine") == NULL && !has(lpdm_ctx_message(ctx), "did you mean"),
     "no suggestion for a name far from every known one: %s", lpdm_ctx_message(ctx));
  ok(lpdm_plugin_get(ctx, 0, "nope") == NULL &&
         has(lpdm_ctx_message(ctx), "unknown plugin 'nope' (known: distance.fixture_good)"),
     "get of any kind lists full names: %s", lpdm_ctx_message(ctx));
  lpdm_ctx_clear(ctx);

  /* -------- one refusal per way of being broken */
  char want[128];
  snprintf(want, sizeof want, "ABI %d.%d", LPDM_ABI_MAJOR + 1, LPDM_ABI_MINOR);
  char have[128];
  snprintf(have, sizeof have, "this lpdm is %d.%d", LPDM_ABI_MAJOR, LPDM_ABI_MINOR);
  refused(ctx, "bad_major", want, have);
  snprintf(want, sizeof want, "ABI %d.%d", LPDM_ABI_MAJOR, LPDM_ABI_MINOR + 1);
  refused(ctx, "newer_minor", "newer minor", want);
  snprintf(want, sizeof want, "0x%016llx", (unsigned long long)((LPDM_FINGERPRINT & ~(uint64_t)0xff) | 0x44u));
  snprintf(have, sizeof have, "0x%016llx", (unsigned long long)LPDM_FINGERPRINT);
  refused(ctx, "bad_fingerprint", want, have);
  refused(ctx, "bad_fingerprint", "sizeof(void *) 4 vs 8", "fixture_bad_fingerprint");
  snprintf(want, sizeof want, "LPDM_MAX_KEYS 48 vs %d", LPDM_MAX_KEYS);
  refused(ctx, "other_max_keys", want, "distance.fixture_other_max_keys");
  refused(ctx, "null_callback", "'eval'", "loss.fixture_null_callback");
  refused(ctx, "no_entry", "lpdm_plugin_no_entry", NULL);
  refused(ctx, "null_descriptor", "lpdm_plugin_null_descriptor() returned NULL", NULL);
  refused(ctx, "bad_kind", "unknown kind 99", "distance.fixture_bad_kind");
  refused(ctx, "bad_name", "'loss.fixture_bad_name'", "expected 'distance.<name>'");
  refused(ctx, "duplicate", "already registered", "good_distance.so");
  refused(ctx, "bad_key_type", "'weird' has unknown type 42", "distance.fixture_bad_key_type");
  refused(ctx, "bad_default", "'fast'", "distance.fixture_bad_default");
  snprintf(want, sizeof want, "more than %d config keys", LPDM_MAX_KEYS);
  refused(ctx, "too_many_keys", want, "distance.fixture_too_many_keys");
  refused(ctx, "undefined_symbol", "lpdm_fixture_nowhere", NULL);
  refused(ctx, "render_no_info", "'render_info'", "env.fixture_render_no_info");
  /* Loading the same file again is a duplicate too. */
  fixture(path, sizeof path, "good_distance");
  ok(lpdm_plugin_load(ctx, path) < 0 && has(lpdm_ctx_message(ctx), "already registered") &&
         lpdm_plugin_count(ctx, 0) == 1,
     "loading good_distance twice: %s", lpdm_ctx_message(ctx));

  /* Not a shared object; a missing file. */
  snprintf(path2, sizeof path2, "%s/notanso.so", tmp);
  FILE *f = fopen(path2, "w");
  if (f) {
    fputs("this is text, not ELF\n", f);
    fclose(f);
  }
  rc = lpdm_plugin_load(ctx, path2);
  diag("notanso: %s", lpdm_ctx_message(ctx));
  ok(rc < 0 && has(lpdm_ctx_message(ctx), path2) && lpdm_plugin_count(ctx, 0) == 1,
     "a text file named .so is refused, naming it");
  snprintf(path2, sizeof path2, "%s/missing.so", tmp);
  rc = lpdm_plugin_load(ctx, path2);
  diag("missing: %s", lpdm_ctx_message(ctx));
  ok(rc < 0 && has(lpdm_ctx_message(ctx), path2) && has(lpdm_ctx_message(ctx), "No such file"),
     "a missing file is refused, naming it");
  /* File names: not an identifier; renamed (entry no longer matches). */
  copy_fixture("good_loss", tmp, "not-ident.so");
  snprintf(path2, sizeof path2, "%s/not-ident.so", tmp);
  rc = lpdm_plugin_load(ctx, path2);
  ok(rc < 0 && has(lpdm_ctx_message(ctx), "not-ident") &&
         has(lpdm_ctx_message(ctx), "not a C identifier"),
     "a file name that is no C identifier: %s", lpdm_ctx_message(ctx));
  copy_fixture("good_loss", tmp, "renamed.so");
  snprintf(path2, sizeof path2, "%s/renamed.so", tmp);
  rc = lpdm_plugin_load(ctx, path2);
  ok(rc < 0 && has(lpdm_ctx_message(ctx), "renamed.so") &&
         has(lpdm_ctx_message(ctx), "lpdm_plugin_renamed"),
     "a renamed plugin has no entry: %s", lpdm_ctx_message(ctx));
  ok(lpdm_plugin_count(ctx, 0) == 1, "still one plugin after all refusals");
  unlink(path2);
  snprintf(path2, sizeof path2, "%s/not-ident.so", tmp);
  unlink(path2);
  snprintf(path2, sizeof path2, "%s/notanso.so", tmp);
  unlink(path2);

  /* The good plugin still works after all that. */
  {
    const lpdm_distance_kind *dk = (const lpdm_distance_kind *)p;
    float X[2] = {1, 2}, D[4] = {9, 9, 9, 9};
    ok(dk->pairwise(NULL, X, 2, 1, D, NULL, NULL) == 0 && D[1] == 0, "fixture callable");
  }
  lpdm_ctx_free(ctx);

  test_register();

  /* -------- directories */
  ctx = lpdm_ctx_new();
  char first[256];
  count_so(LPDM_FIXTURE_DIR, first, sizeof first);
  rc = lpdm_plugin_load_dir(ctx, LPDM_FIXTURE_DIR);
  diag("fixture dir: %s", lpdm_ctx_message(ctx));
  ok(rc < 0 && first[0] && has(lpdm_ctx_message(ctx), first),
     "load_dir of the fixtures stops at the first broken file, %s", first);
  ok(lpdm_plugin_count(ctx, 0) == 0, "and leaves the registry unchanged");

  snprintf(dir, sizeof dir, "%s/good", tmp);
  mkdir(dir, 0700);
  copy_fixture("good_loss", dir, NULL);
  copy_fixture("good_distance", dir, NULL);
  snprintf(path2, sizeof path2, "%s/sub.so", dir);
  mkdir(path2, 0700); /* a directory named *.so: skipped */
  snprintf(path2, sizeof path2, "%s/README", dir);
  if ((f = fopen(path2, "w"))) fclose(f); /* not *.so: skipped */
  lpdm_ctx_clear(ctx);
  rc = lpdm_plugin_load_dir(ctx, dir);
  ok(rc == 0 && lpdm_plugin_count(ctx, 0) == 2, "load_dir of two good plugins (%s)",
     lpdm_ctx_message(ctx));
  ok(lpdm_plugin_at(ctx, 0, 0) && !strcmp(lpdm_plugin_at(ctx, 0, 0)->name, "distance.fixture_good") &&
         lpdm_plugin_at(ctx, 0, 1) && !strcmp(lpdm_plugin_at(ctx, 0, 1)->name, "loss.fixture_good"),
     "loaded in name order");
  rc = lpdm_plugin_load_dir(ctx, dir);
  ok(rc < 0 && has(lpdm_ctx_message(ctx), "already registered") && lpdm_plugin_count(ctx, 0) == 2,
     "loading the dir again: duplicates (%s)", lpdm_ctx_message(ctx));
  lpdm_ctx_free(ctx);

  /* A shared object without any entry in a plugin directory is not a
     plugin: skipped with a note, the others load. */
  ctx = lpdm_ctx_new();
  snprintf(dir, sizeof dir, "%s/stray", tmp);
  mkdir(dir, 0700);
  copy_fixture("good_distance", dir, NULL);
  copy_fixture("no_entry", dir, "libstray.so");
  rc = lpdm_plugin_load_dir(ctx, dir);
  ok(rc == 0 && lpdm_plugin_count(ctx, 0) == 1 && has(lpdm_ctx_notes(ctx), "libstray.so") &&
         has(lpdm_ctx_notes(ctx), "not an lpdm plugin"),
     "a stray non-plugin .so in a plugin dir is skipped with a note (%s | %s)", lpdm_ctx_message(ctx),
     lpdm_ctx_notes(ctx));
  snprintf(path2, sizeof path2, "%s/libstray.so", dir);
  rc = lpdm_plugin_load(ctx, path2);
  ok(rc < 0 && has(lpdm_ctx_message(ctx), "no entry function lpdm_plugin_libstray"),
     "loaded by name, the same file is refused: %s", lpdm_ctx_message(ctx));
  lpdm_ctx_free(ctx);

  /* All or nothing: the good plugin before the broken one is unloaded. */
  ctx = lpdm_ctx_new();
  snprintf(dir, sizeof dir, "%s/mixed", tmp);
  mkdir(dir, 0700);
  copy_fixture("good_distance", dir, NULL);
  copy_fixture("null_descriptor", dir, NULL);
  rc = lpdm_plugin_load_dir(ctx, dir);
  ok(rc < 0 && has(lpdm_ctx_message(ctx), "null_descriptor.so") && lpdm_plugin_count(ctx, 0) == 0,
     "load_dir is all or nothing: %s", lpdm_ctx_message(ctx));
  snprintf(dir, sizeof dir, "%s/no_such_dir", tmp);
  rc = lpdm_plugin_load_dir(ctx, dir);
  ok(rc < 0 && has(lpdm_ctx_message(ctx), dir), "a missing dir is named: %s", lpdm_ctx_message(ctx));

  /* A path without '/' is relative to the working directory. */
  char cwd[PATH_MAX];
  snprintf(dir, sizeof dir, "%s/good", tmp);
  lpdm_ctx_clear(ctx);
  if (getcwd(cwd, sizeof cwd) && chdir(dir) == 0) {
    rc = lpdm_plugin_load(ctx, "good_loss.so");
    ok(rc == 0 && lpdm_plugin_find(ctx, LPDM_KIND_LOSS, "fixture_good"),
       "a bare file name loads from the working directory (%s)", lpdm_ctx_message(ctx));
    if (chdir(cwd) != 0) diag("cannot chdir back to %s", cwd);
  }
  lpdm_ctx_free(ctx);

  /* -------- two contexts do not share registries */
  lpdm_ctx *a = lpdm_ctx_new(), *b = lpdm_ctx_new();
  fixture(path, sizeof path, "good_distance");
  ok(lpdm_plugin_load(a, path) == 0, "context A loads good_distance");
  ok(lpdm_plugin_count(b, 0) == 0 && lpdm_plugin_find(b, 0, "fixture_good") == NULL,
     "context B does not see it");
  ok(lpdm_plugin_load(b, path) == 0, "context B loads the same file: no duplicate (%s)",
     lpdm_ctx_message(b));
  lpdm_ctx_free(a);
  p = lpdm_plugin_find(b, LPDM_KIND_DISTANCE, "fixture_good");
  {
    float X[2] = {1, 2}, D[4] = {9, 9, 9, 9};
    ok(p && ((const lpdm_distance_kind *)p)->pairwise(NULL, X, 2, 1, D, NULL, NULL) == 0 &&
           D[3] == 0,
       "freeing A leaves B's plugin mapped and callable");
  }
  lpdm_ctx_free(b);
  lpdm_ctx_free(NULL);
  ok(1, "lpdm_ctx_free(NULL) is harmless");

  /* -------- the default search path */
  char first_builtin[256];
  int nbuiltin = count_so(LPDM_PLUGIN_DIR, first_builtin, sizeof first_builtin);
  diag("%d built-in plugins in %s", nbuiltin, LPDM_PLUGIN_DIR);
  snprintf(dir, sizeof dir, "%s/extra", tmp);
  mkdir(dir, 0700);
  copy_fixture("good_distance", dir, NULL);
  snprintf(path2, sizeof path2, "::%s:", dir); /* empty entries are skipped */
  setenv("LPDM_PLUGIN_PATH", path2, 1);
  ctx = lpdm_ctx_new();
  rc = lpdm_plugin_load_default(ctx);
  ok(rc == 0, "load_default with LPDM_PLUGIN_PATH=%s (%s)", path2, lpdm_ctx_message(ctx));
  p = lpdm_plugin_find(ctx, LPDM_KIND_DISTANCE, "fixture_good");
  snprintf(path2, sizeof path2, "%s/good_distance.so", dir);
  ok(p && !strcmp(lpdm_plugin_origin(ctx, p), path2), "the fixture is found, from %s",
     p ? lpdm_plugin_origin(ctx, p) : "nowhere");
  ok(rc != 0 || lpdm_plugin_count(ctx, 0) == 1 + nbuiltin,
     "and the built-in plugins beside liblpdm: %d of %d", lpdm_plugin_count(ctx, 0) - 1, nbuiltin);
  lpdm_ctx_free(ctx);

  snprintf(path2, sizeof path2, "%s:%s/not_there", dir, tmp);
  setenv("LPDM_PLUGIN_PATH", path2, 1);
  ctx = lpdm_ctx_new();
  rc = lpdm_plugin_load_default(ctx);
  snprintf(path2, sizeof path2, "%s/not_there", tmp);
  ok(rc < 0 && has(lpdm_ctx_message(ctx), path2) && lpdm_plugin_count(ctx, 0) == 0,
     "a missing LPDM_PLUGIN_PATH dir is an error naming it: %s", lpdm_ctx_message(ctx));
  lpdm_ctx_free(ctx);

  if (nbuiltin > 0) {
    /* Found twice (LPDM_PLUGIN_PATH and beside liblpdm): a duplicate. */
    char from[PATH_MAX + 256];
    snprintf(dir, sizeof dir, "%s/dup", tmp);
    mkdir(dir, 0700);
    snprintf(from, sizeof from, "%s/%s", LPDM_PLUGIN_DIR, first_builtin);
    snprintf(path2, sizeof path2, "%s/%s", dir, first_builtin);
    copy_file(from, path2);
    setenv("LPDM_PLUGIN_PATH", dir, 1);
    ctx = lpdm_ctx_new();
    rc = lpdm_plugin_load_default(ctx);
    ok(rc < 0 && has(lpdm_ctx_message(ctx), "already registered") &&
           has(lpdm_ctx_message(ctx), path2) && has(lpdm_ctx_message(ctx), first_builtin) &&
           lpdm_plugin_count(ctx, 0) == 0,
       "a built-in plugin also in LPDM_PLUGIN_PATH is a duplicate: %s", lpdm_ctx_message(ctx));
    /* A real plugin (linked to liblpdm) renamed after a liblpdm function:
       its entry must not resolve to liblpdm's lpdm_plugin_count. */
    snprintf(path2, sizeof path2, "%s/count.so", dir);
    copy_file(from, path2);
    rc = lpdm_plugin_load(ctx, path2);
    ok(rc < 0 && has(lpdm_ctx_message(ctx), "lpdm_plugin_count"),
       "count.so does not call liblpdm's lpdm_plugin_count: %s", lpdm_ctx_message(ctx));
    lpdm_ctx_free(ctx);
  } else {
    unsetenv("LPDM_PLUGIN_PATH");
    ctx = lpdm_ctx_new();
    rc = lpdm_plugin_load_default(ctx);
    ok(rc < 0 && has(lpdm_ctx_message(ctx), "looked in"),
       "no built-in plugins and no LPDM_PLUGIN_PATH: %s", lpdm_ctx_message(ctx));
    lpdm_ctx_free(ctx);
  }
  unsetenv("LPDM_PLUGIN_PATH");

  test_fingerprint_sizes();
  test_config_reads();
  rm_tree(tmp);
  return done_testing();
}
