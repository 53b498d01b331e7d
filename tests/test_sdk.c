/* SPDX-License-Identifier: MIT */
/* test_sdk.c -- the plugin SDK (issue 6): an out-of-tree plugin builds
   against an installed lpdm and loads.

   1. `cmake --install <this build> --prefix <tmp>/prefix` (the build dir is
      LPDM_PLUGIN_DIR's parent) leaves the headers, liblpdm, the CMake
      package and the pkg-config file.
   2. examples/plugin-distance (the source dir is LPDM_TEST_DATA's
      grandparent) configures with CMAKE_PREFIX_PATH=<tmp>/prefix and builds
      minkowski.so through find_package(lpdm) and lpdm_add_plugin().
   3. LPDM_PLUGIN_PATH=<that build dir>: lpdm_plugin_load_default finds
      distance.minkowski beside the built-in plugins; its pairwise matrix
      matches a double-precision reference, its vjp a finite-difference
      check (lpdm_fd_distance_at), and a bad `p` is refused by its create().
      examples/plugin-distance/gradcheck.c, built beside it against the
      installed checker (lpdm/gradcheck.h), passes its vjp check.
   4. pkg-config with PKG_CONFIG_PATH=<tmp>/prefix/lib/pkgconfig gives the
      include and library flags and the plugindir variable; plain
      `cc -shared $(pkg-config --cflags --libs lpdm)` builds the same file,
      which loads the same way and gives the same matrix bit for bit.
   Skips (TAP "1..0 # SKIP") without cmake or cc on PATH; every temporary
   file lives under one mkdtemp directory, removed at the end. Takes a few
   seconds (one CMake configure of a C-only project). */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <glob.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lpdm/gradcheck.h"

/* Compiler flags for what this test builds against the install: a
   sanitizer build's liblpdm needs the sanitizer runtime in the executable. */
#ifndef LPDM_TEST_SDK_FLAGS
#define LPDM_TEST_SDK_FLAGS ""
#endif
#include "lpdm/lpdm.h"
#include "tap.h"

#define B_ 6
#define D_ 3

static char tmp[1100];

static int exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* 1 when `prog` is on PATH. */
static int have(const char *prog) {
  char cmd[256];
  snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", prog);
  return system(cmd) == 0;
}

/* dir of path, in place ("/a/b/c" -> "/a/b"). */
static void up(char *path) {
  char *s = strrchr(path, '/');
  if (s && s != path) *s = '\0';
}

/* Prints the last lines of a log as TAP diagnostics. */
static void show_log(const char *log) {
  FILE *f = fopen(log, "r");
  if (!f) return;
  char lines[20][512];
  int n = 0;
  while (fgets(lines[n % 20], sizeof lines[0], f)) n++;
  fclose(f);
  for (int i = n > 20 ? n - 20 : 0; i < n; i++) {
    char *l = lines[i % 20];
    l[strcspn(l, "\n")] = '\0';
    diag("  %s", l);
  }
}

/* Runs a shell command with its output in <tmp>/log; 1 on success. */
static int run(const char *what, const char *cmd) {
  char full[8192], log[PATH_MAX + 16];
  snprintf(log, sizeof log, "%s/log", tmp);
  if (snprintf(full, sizeof full, "(%s) >'%s' 2>&1", cmd, log) >= (int)sizeof full) {
    diag("%s: command too long", what);
    return 0;
  }
  int rc = system(full);
  if (rc != 0) {
    diag("%s failed (status %d): %s", what, rc, cmd);
    show_log(log);
  }
  return rc == 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  return remove(path);
}
static void rm_tree(const char *path) { nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* The file of the plugin kind in ctx, or "". */
static const char *origin_of(lpdm_ctx *ctx, const lpdm_plugin *p) {
  const char *o = lpdm_plugin_origin(ctx, p);
  return o ? o : "";
}

static void batch(float *X) {
  for (int i = 0; i < B_ * D_; i++) X[i] = (float)(sin(1.7 * i + 0.3) * 2.0 + 0.1 * i);
}

static double ref_dist(const float *a, const float *b, double p) {
  double s = 0;
  for (int k = 0; k < D_; k++) s += pow(fabs((double)a[k] - b[k]), p);
  return pow(s, 1 / p);
}

/* Loads the default plugins with LPDM_PLUGIN_PATH=dir into a new context,
   makes distance.minkowski with p and puts its matrix for batch() in D: one
   TAP test. Returns the context (caller frees), or NULL. */
static lpdm_ctx *load_and_run(const char *dir, const char *label, double p, float *D) {
  setenv("LPDM_PLUGIN_PATH", dir, 1);
  lpdm_ctx *ctx = lpdm_ctx_new();
  int rc = lpdm_plugin_load_default(ctx);
  unsetenv("LPDM_PLUGIN_PATH");
  const lpdm_plugin *k = rc ? NULL : lpdm_plugin_find(ctx, LPDM_KIND_DISTANCE, "minkowski");
  char want[PATH_MAX + 32];
  snprintf(want, sizeof want, "%s/minkowski.so", dir);
  lpdm_config cfg;
  lpdm_distance *d = NULL;
  float X[B_ * D_], work[LPDM_DIST_WORK(B_, D_)];
  batch(X);
  int good = k && strcmp(origin_of(ctx, k), want) == 0 &&
             lpdm_plugin_find(ctx, LPDM_KIND_DISTANCE, "euclidean") != NULL &&
             !lpdm_config_init(ctx, k, &cfg) && !lpdm_config_set_num(ctx, &cfg, k->name, "p", p) &&
             !lpdm_distance_new(ctx, (const lpdm_distance_kind *)k, &cfg, &d) &&
             !d->kind->pairwise(d, X, B_, D_, D, work, ctx);
  lpdm_distance_free(d);
  if (!ok(good, "%s: LPDM_PLUGIN_PATH adds distance.minkowski to the built-in plugins; pairwise with p = %g",
          label, p)) {
    diag("load_default: %d, message '%s', origin '%s'", rc, lpdm_ctx_message(ctx), k ? origin_of(ctx, k) : "-");
    lpdm_ctx_free(ctx);
    return NULL;
  }
  return ctx;
}

/* The checks of the CMake-built plugin on its matrix and gradient. */
static void check_distance(lpdm_ctx *ctx, const float *D, double p) {
  const lpdm_distance_kind *k =
      (const lpdm_distance_kind *)lpdm_plugin_find(ctx, LPDM_KIND_DISTANCE, "minkowski");
  float X[B_ * D_];
  batch(X);
  double worst = 0;
  int sym = 1;
  for (int i = 0; i < B_; i++)
    for (int j = 0; j < B_; j++) {
      if (D[i * B_ + j] != D[j * B_ + i] || (i == j && D[i * B_ + i] != 0)) sym = 0;
      double r = ref_dist(X + i * D_, X + j * D_, p);
      double e = fabs(D[i * B_ + j] - r) / fmax(1, r);
      if (e > worst) worst = e;
    }
  ok(sym && worst < 1e-6, "pairwise (p = %g): symmetric, zero diagonal, within %.1g of a double reference",
     p, worst);

  /* vjp against central differences of f(X) = sum_ij G_ij D_ij(X), by the
     checker of lpdm/gradcheck.h (every coordinate, h = 1e-2) */
  lpdm_config cfg;
  lpdm_distance *d = NULL;
  float G[B_ * B_];
  lpdm_config_init(ctx, &k->head, &cfg);
  lpdm_config_set_num(ctx, &cfg, k->head.name, "p", p);
  int rc = lpdm_distance_new(ctx, k, &cfg, &d);
  for (int i = 0; i < B_ * B_; i++) G[i] = (float)cos(0.9 * i);
  lpdm_fd_opts o = lpdm_fd_default();
  o.tol = 2e-3;
  o.kinks = 0;
  o.max_coords = 0;
  lpdm_fd_result r = {0};
  if (!rc) rc = lpdm_fd_distance_at(ctx, d, X, B_, D_, G, &o, NULL, &r);
  ok(!rc && r.pass, "vjp (p = %g) agrees with central differences (rel. error %.2g)", p, r.err);
  lpdm_distance_free(d);

  d = NULL;
  lpdm_config_set_num(ctx, &cfg, k->head.name, "p", 0.5);
  rc = lpdm_distance_new(ctx, k, &cfg, &d);
  ok(rc == LPDM_ERR_ARG && !d && strstr(lpdm_ctx_message(ctx), "p must be a finite number >= 1"),
     "p = 0.5 is refused by the plugin's create (%s)", lpdm_ctx_message(ctx));
  lpdm_distance_free(d);
}

/* "<prefix>/<libdir>/pkgconfig" of the install, found by its lpdm.pc. */
static int pc_dir(const char *prefix, char *out, size_t len) {
  char pat[PATH_MAX + 64];
  const char *cands[] = {"%s/lib/pkgconfig/lpdm.pc", "%s/lib64/pkgconfig/lpdm.pc", "%s/lib/*/pkgconfig/lpdm.pc"};
  for (size_t i = 0; i < sizeof cands / sizeof *cands; i++) {
    snprintf(pat, sizeof pat, cands[i], prefix);
    glob_t g;
    if (glob(pat, 0, NULL, &g) == 0 && g.gl_pathc > 0) {
      snprintf(out, len, "%s", g.gl_pathv[0]);
      globfree(&g);
      up(out);
      return 1;
    }
    globfree(&g);
  }
  return 0;
}

static int read_text(const char *path, char *buf, size_t len) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(buf, 1, len - 1, f);
  fclose(f);
  buf[n] = '\0';
  buf[strcspn(buf, "\n")] = '\0';
  return 1;
}

int main(void) {
  if (!have("cmake") || !have("cc")) {
    printf("1..0 # SKIP cmake and cc are needed on PATH to build a plugin against the installed SDK\n");
    return 0;
  }
  char build[1024], src[1024];
  if (strlen(LPDM_PLUGIN_DIR) >= sizeof build || strlen(LPDM_TEST_DATA) >= sizeof src) {
    printf("1..0 # SKIP the build or source path is longer than %d characters\n", (int)sizeof build - 1);
    return 0;
  }
  snprintf(build, sizeof build, "%s", LPDM_PLUGIN_DIR);
  up(build);
  snprintf(src, sizeof src, "%s", LPDM_TEST_DATA);
  up(src);
  up(src);
  const char *t = getenv("TMPDIR");
  if (t && strlen(t) > 1024) t = NULL;
  snprintf(tmp, sizeof tmp, "%s/lpdm-sdk-XXXXXX", t && *t ? t : "/tmp");
  if (strchr(build, '\'') || strchr(src, '\'') || strchr(tmp, '\'')) {
    printf("1..0 # SKIP a path holds a single quote\n");
    return 0;
  }
  if (!mkdtemp(tmp)) {
    printf("1..0 # SKIP cannot make a temporary directory under %s\n", t && *t ? t : "/tmp");
    return 0;
  }
  plan(15);
  char prefix[1200], ex[1200], cbuild[1200], pcb[1200], cmd[4 * PATH_MAX + 512];
  char path[2 * PATH_MAX];
  snprintf(prefix, sizeof prefix, "%s/prefix", tmp);
  snprintf(ex, sizeof ex, "%s/examples/plugin-distance", src);
  snprintf(cbuild, sizeof cbuild, "%s/cmake-build", tmp);
  snprintf(pcb, sizeof pcb, "%s/pc-build", tmp);

  /* 1. install */
  snprintf(cmd, sizeof cmd, "cmake --install '%s' --prefix '%s'", build, prefix);
  int inst = run("cmake --install", cmd);
  char pcdir[PATH_MAX], libdir[PATH_MAX];
  int has_pc = pc_dir(prefix, pcdir, sizeof pcdir); /* <prefix>/<libdir>/pkgconfig */
  snprintf(libdir, sizeof libdir, "%s", has_pc ? pcdir : prefix);
  up(libdir);
  const char *files[] = {"include/lpdm/lpdm.h", "include/lpdm/distance.h", "include/lpdm/gradcheck.h", "@/cmake/lpdm/lpdmConfig.cmake",
                         "@/cmake/lpdm/lpdmConfigVersion.cmake", "@/cmake/lpdm/lpdmTargets.cmake",
                         "@/cmake/lpdm/lpdmPlugin.cmake", "@/liblpdm.so"};
  int all = inst && has_pc;
  for (size_t i = 0; i < sizeof files / sizeof *files && all; i++) {
    if (files[i][0] == '@') snprintf(path, sizeof path, "%s%s", libdir, files[i] + 1);
    else snprintf(path, sizeof path, "%s/%s", prefix, files[i]);
    if (!exists(path)) {
      diag("missing %s", path);
      all = 0;
    }
  }
  ok(all, "cmake --install leaves the headers, the CMake package and lpdm.pc under the prefix");
  if (!inst) {
    for (int i = 1; i < 15; i++) skip("the install failed");
    rm_tree(tmp);
    return done_testing();
  }

  /* 2. the example through find_package(lpdm) */
  snprintf(cmd, sizeof cmd,
           "cmake -S '%s' -B '%s' -DCMAKE_PREFIX_PATH='%s' -DCMAKE_BUILD_TYPE=Release"
           " -DCMAKE_C_FLAGS='%s' -DCMAKE_EXE_LINKER_FLAGS='%s' && cmake --build '%s'",
           ex, cbuild, prefix, LPDM_TEST_SDK_FLAGS, LPDM_TEST_SDK_FLAGS, cbuild);
  snprintf(path, sizeof path, "%s/minkowski.so", cbuild);
  int built = ok(run("configure and build examples/plugin-distance", cmd) && exists(path),
                 "examples/plugin-distance builds with find_package(lpdm) + lpdm_add_plugin");

  /* its gradient check, built against the install (examples/plugin-distance/gradcheck.c) */
  snprintf(cmd, sizeof cmd, "'%s/minkowski_gradcheck' '%s/minkowski.so'", cbuild, cbuild);
  if (built) ok(run("minkowski_gradcheck", cmd), "the example's gradient check, built against the installed "
                                                  "lpdm/gradcheck.h and liblpdm, passes");
  else skip("the example did not build");

  /* 3. load it and use it */
  float D1[B_ * B_], D2[B_ * B_];
  lpdm_ctx *ctx = built ? load_and_run(cbuild, "CMake build", 3.0, D1) : NULL;
  if (ctx) {
    check_distance(ctx, D1, 3.0);
    float D3[B_ * B_];
    lpdm_ctx_free(ctx);
    ctx = load_and_run(cbuild, "CMake build", 1.0, D3);
    if (ctx) {
      float X[B_ * D_];
      batch(X);
      double e = 0;
      for (int i = 0; i < B_; i++)
        for (int j = 0; j < B_; j++) e = fmax(e, fabs(D3[i * B_ + j] - ref_dist(X + i * D_, X + j * D_, 1)));
      ok(e < 1e-5, "p = 1 gives the Manhattan distance (max error %.1g)", e);
      lpdm_ctx_free(ctx);
    } else {
      skip("no second context");
    }
  } else {
    for (int i = 0; i < (built ? 5 : 6); i++) skip("the CMake-built plugin did not load");
  }

  /* 4. pkg-config */
  if (!have("pkg-config") || !has_pc) {
    for (int i = 0; i < 5; i++) skip(has_pc ? "no pkg-config on PATH" : "no lpdm.pc installed");
  } else {
    char out[2048], real_prefix[PATH_MAX], want[PATH_MAX + 64];
    if (!realpath(prefix, real_prefix)) snprintf(real_prefix, sizeof real_prefix, "%s", prefix);
    snprintf(cmd, sizeof cmd, "PKG_CONFIG_PATH='%s' pkg-config --cflags --libs lpdm >'%s/flags'", pcdir, tmp);
    snprintf(path, sizeof path, "%s/flags", tmp);
    int flags_ok = run("pkg-config --cflags --libs lpdm", cmd) && read_text(path, out, sizeof out);
    /* "-I<prefix>/lib/pkgconfig/../../include": resolve the -I path */
    char inc[PATH_MAX] = "", real_inc[PATH_MAX] = "";
    const char *I = strstr(out, "-I");
    if (flags_ok && I) {
      snprintf(inc, sizeof inc, "%.*s", (int)strcspn(I + 2, " "), I + 2);
      if (!realpath(inc, real_inc)) real_inc[0] = '\0';
    }
    snprintf(want, sizeof want, "%s/include", real_prefix);
    ok(flags_ok && strcmp(real_inc, want) == 0 && strstr(out, "-llpdm") && strstr(out, "-L"),
       "pkg-config --cflags --libs lpdm: -I<prefix>/include -L... -llpdm (%s)", flags_ok ? out : "failed");

    snprintf(cmd, sizeof cmd, "PKG_CONFIG_PATH='%s' pkg-config --variable=plugindir lpdm >'%s/plugindir'", pcdir,
             tmp);
    char pd[PATH_MAX] = "", real_pd[PATH_MAX] = "", real_want[PATH_MAX] = "";
    snprintf(path, sizeof path, "%s/plugindir", tmp);
    if (run("pkg-config --variable=plugindir lpdm", cmd)) read_text(path, pd, sizeof pd);
    snprintf(want, sizeof want, "%s", pcdir);
    up(want); /* <prefix>/<libdir> */
    strncat(want, "/lpdm/plugins", sizeof want - strlen(want) - 1);
    if (!realpath(pd, real_pd)) real_pd[0] = '\0';
    if (!realpath(want, real_want)) real_want[0] = '\0';
    snprintf(path, sizeof path, "%s/euclidean.so", real_pd);
    ok(real_pd[0] && strcmp(real_pd, real_want) == 0 && exists(path),
       "pkg-config --variable=plugindir lpdm is the installed plugin directory (%s)", pd);

    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s' && cc -std=c11 -O2 -Wall -Werror -fPIC -shared -fvisibility=hidden -o '%s/minkowski.so' "
             "'%s/minkowski.c' $(cat '%s/flags')",
             pcb, pcb, ex, tmp);
    snprintf(path, sizeof path, "%s/minkowski.so", pcb);
    int cc_ok = ok(flags_ok && run("cc with pkg-config flags", cmd) && exists(path),
                   "cc -shared $(pkg-config --cflags --libs lpdm) builds examples/plugin-distance/minkowski.c");
    ctx = cc_ok ? load_and_run(pcb, "pkg-config build", 3.0, D2) : NULL;
    if (ctx) {
      ok(memcmp(D1, D2, sizeof D1) == 0, "the pkg-config build gives the CMake build's matrix bit for bit");
      lpdm_ctx_free(ctx);
    } else {
      for (int i = 0; i < (cc_ok ? 1 : 2); i++) skip("the pkg-config-built plugin did not load");
    }
  }
  rm_tree(tmp);
  ok(!exists(tmp), "the temporary directory is removed");
  return done_testing();
}
