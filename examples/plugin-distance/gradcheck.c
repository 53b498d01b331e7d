/* SPDX-License-Identifier: MIT */
/* gradcheck.c -- checks distance.minkowski's vjp by finite differences with
   the checker the SDK installs (lpdm/gradcheck.h, in liblpdm), as a test of
   an out-of-tree plugin would:

       ./minkowski_gradcheck build/minkowski.so

   For p = 1.5 and p = 3 it draws a batch of 8 points in 4 dimensions and
   compares the plugin's vjp with central differences of sum_ij W_ij D_ij(X)
   (lpdm_fd_distance), prints one line each, and exits 1 when one fails. */
#include <stdio.h>

#include <lpdm/gradcheck.h>

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "./minkowski.so";
  lpdm_ctx *ctx = lpdm_ctx_new();
  if (!ctx) return 2;
  const lpdm_plugin *k = NULL;
  if (lpdm_plugin_load(ctx, path) || !(k = lpdm_plugin_get(ctx, LPDM_KIND_DISTANCE, "minkowski"))) {
    fprintf(stderr, "%s\n", lpdm_ctx_message(ctx));
    lpdm_ctx_free(ctx);
    return 2;
  }
  const double ps[] = {1.5, 3.0};
  int failed = 0;
  for (int i = 0; i < 2; i++) {
    lpdm_config cfg;
    lpdm_distance *d = NULL;
    lpdm_fd_result r = {0};
    lpdm_fd_opts o = lpdm_fd_default(); /* h = 1e-2, tol = 1e-2, kinks left out */
    lpdm_rng rng;
    lpdm_rng_seed(&rng, 1);
    int rc = lpdm_config_init(ctx, k, &cfg);
    if (!rc) rc = lpdm_config_set_num(ctx, &cfg, k->name, "p", ps[i]);
    if (!rc) rc = lpdm_distance_new(ctx, (const lpdm_distance_kind *)k, &cfg, &d);
    if (!rc) rc = lpdm_fd_distance(ctx, d, 8, 4, &o, &rng, &r);
    if (rc) printf("not ok: p = %g: %s\n", ps[i], lpdm_ctx_message(ctx));
    else
      printf("%s: p = %g: vjp vs finite differences, rel err %.2g (tol %.0e) over %d coordinates\n",
             r.pass ? "ok" : "not ok", ps[i], r.err, o.tol, r.kept);
    failed |= rc != 0 || !r.pass;
    lpdm_distance_free(d);
  }
  lpdm_ctx_free(ctx);
  return failed;
}
