/* SPDX-License-Identifier: MIT */
/* test_losses.c -- the local losses loss.kruskal, loss.sammon, loss.rank and loss.kernel.

   * Values on a 3-sample case worked out by hand (below, in the comments
     of hand_cases), to 1e-6 relative.
   * dL/dDY against central differences (h = 1e-2 on a float32 DY, the
     pair DY_ij = DY_ji moved together and compared with dDY_ij + dDY_ji;
     L as the plugin returns it, rows summed in float, added in double):
     the relative error of the whole gradient, |fd - dDY| / max(|fd|,
     1e-3), below FD_TOL = 1e-3, for B = 10 and 17, with and without
     normalisation and guidance; the diagonal of dDY is exactly 0.
   * With normalize = true the loss is blind to the scale of DY.
   * Guidance: alpha = 0 never reads g; g == NULL is alpha = 0; alpha = 1
     makes |g_i - g_j| the target (DY proportional to it fits perfectly).
   * Degenerate inputs (DY all zero, DX all zero, equal g, B = 2) give a
     finite loss and gradient, with the values the plugins document.
   * Bad config values are refused, naming the plugin and the key. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "lpdm/lpdm.h"
#include "tap.h"
#include "gradcheck.h"

#define HAND_TOL 1e-6
#define FD_TOL 1e-3

static lpdm_ctx *ctx;
static lpdm_rng rng;

/* A loss of kind `name` with settings "key=value key=value" (NULL: none). */
static lpdm_loss *make(const char *name, const char *settings) {
  const lpdm_loss_kind *k = (const lpdm_loss_kind *)lpdm_plugin_find(ctx, LPDM_KIND_LOSS, name);
  if (!k) return NULL;
  lpdm_config cfg;
  if (fx_config(ctx, &k->head, settings, &cfg)) return NULL;
  lpdm_loss *l = NULL;
  if (lpdm_loss_new(ctx, k, &cfg, &l)) return NULL;
  return l;
}

static int eval(const lpdm_loss *l, const float *DX, const float *DY, const float *g, int B, double *L, float *dD) {
  return l->kind->eval(l, DX, DY, g, B, L, dD, ctx);
}

static double sp(double z) { return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z)); } /* log(1 + e^z) */

/* Euclidean distances of B random points in d dimensions. */
static void random_dist(float *D, int B, int d) {
  double x[64 * 8];
  for (int i = 0; i < B * d; i++) x[i] = lpdm_rng_normal(&rng);
  for (int i = 0; i < B; i++)
    for (int j = 0; j < B; j++) {
      double s = 0;
      for (int k = 0; k < d; k++) s += (x[i * d + k] - x[j * d + k]) * (x[i * d + k] - x[j * d + k]);
      D[i * B + j] = (float)sqrt(s);
    }
}

static int finite_all(const float *x, int n) {
  for (int i = 0; i < n; i++)
    if (!isfinite(x[i])) return 0;
  return 1;
}

/* ---- values by hand. B = 3, pairs (01, 02, 12):
     DX = (1, 2, 3), DY = (2, 3, 4), g = (0, 1, 3) so |g_i - g_j| = (1, 3, 2).
   Sums over both triangles (each pair twice). */
static void hand_cases(void) {
  const float DX[9] = {0, 1, 2, 1, 0, 3, 2, 3, 0}, DY[9] = {0, 2, 3, 2, 0, 4, 3, 4, 0};
  const float DY2[9] = {0, 3, 2, 3, 0, 4, 2, 4, 0}, g[3] = {0, 1, 3};
  const struct {
    const char *loss, *cfg;
    int misordered;
    double want;
    const char *why;
  } c[] = {
      /* T = DX, R = DY - T = (1, 1, 1): sqrt(6 / 58) */
      {"kruskal", "normalize=false alpha=0", 0, 0.32163376045133846, "sqrt(6/58)"},
      /* mX = 2, T = (.5, 1, 1.5), b = (1 + 3 + 6) / 3.5 = 20/7, R = (4, 1, -2)/7,
         sum R^2 = 2 * 21/49 = 6/7: sqrt((6/7) / 58) = sqrt(3/203) */
      {"kruskal", "alpha=0 eps=0", 0, 0.12156613477096616, "sqrt(3/203)"},
      /* T = (DX + G)/2 = (1, 2.5, 2.5), R = (1, .5, 1.5), sum R^2 = 7: sqrt(7/58) */
      {"kruskal", "normalize=false alpha=0.5", 0, 0.3474041668898256, "sqrt(7/58)"},
      /* sum T = 12, sum R^2/T = 2 (1 + 1/2 + 1/3) = 11/3: 11/36 */
      {"sammon", "normalize=false alpha=0 eps=0 delta=1e-12", 0, 11.0 / 36, "11/36"},
      /* mY = 3: Y = (2/3, 1, 4/3); T = (.5, 1, 1.5); R = (1/6, 0, -1/6);
         sum R^2/T = 2 (1/18 + 1/54) = 4/27; sum T = 6: 2/81 */
      {"sammon", "alpha=0 eps=0 delta=1e-12", 0, 2.0 / 81, "2/81"},
      /* T = (1, 2.5, 2.5), R = (1, .5, 1.5): sum R^2/T = 2 (1 + .1 + .9) = 4; sum T = 12: 1/3 */
      {"sammon", "normalize=false alpha=0.5 delta=1e-12", 0, 1.0 / 3, "1/3"},
      /* each anchor: one pair of partners (twice); z = Y_near - Y_far:
         row 0: 2 - 3, row 1: 2 - 4, row 2: 3 - 4 */
      {"rank", "normalize=false alpha=0 tau=1 pairs=0", 0, (2 * sp(-1) + sp(-2)) / 3, "(2 sp(-1) + sp(-2))/3"},
      /* row 2's partners tie in T = (1, 2.5, 2.5): left out */
      {"rank", "normalize=false alpha=0.5 tau=1 pairs=0", 0, (sp(-1) + sp(-2)) / 2, "(sp(-1) + sp(-2))/2"},
      /* DY2 = (3, 2, 4) puts row 0's partners in the wrong order: z = 3 - 2 */
      {"rank", "normalize=false alpha=0 tau=1 pairs=0", 1, (sp(1) + sp(-1) + sp(-2)) / 3,
       "(sp(1) + sp(-1) + sp(-2))/3"},
      /* Y = DY/3, tau = 0.5: z = (-2/3, -4/3, -2/3) */
      {"rank", "alpha=0 eps=0 tau=0.5 pairs=0", 0, (2 * sp(-2.0 / 3) + sp(-4.0 / 3)) / 3, "(2 sp(-2/3) + sp(-4/3))/3"},
  };
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    lpdm_loss *l = make(c[i].loss, c[i].cfg);
    float dD[9];
    double L = -1;
    int rc = l ? eval(l, DX, c[i].misordered ? DY2 : DY, g, 3, &L, dD) : -1;
    if (!ok(rc == 0 && fabs(L - c[i].want) <= HAND_TOL * fabs(c[i].want), "loss.%s %s%s: L = %s", c[i].loss, c[i].cfg,
            c[i].misordered ? " (misordered DY)" : "", c[i].why))
      diag("got %.10g want %.10g (%s)", L, c[i].want, lpdm_ctx_message(ctx));
    lpdm_loss_free(l);
  }
}

/* ---- dL/dDY against central differences */
static void check_fd(const char *name, const char *settings, int B, float h) {
  lpdm_loss *l = make(name, settings);
  if (!ok(l != NULL, "loss.%s %s: created", name, settings)) {
    diag("%s", lpdm_ctx_message(ctx));
    return;
  }
  const int BB = B * B;
  float *DX = malloc(sizeof(float) * BB), *DY = malloc(sizeof(float) * BB), *dD = malloc(sizeof(float) * BB);
  float *tmp = malloc(sizeof(float) * BB), g[64];
  random_dist(DX, B, 3);
  random_dist(DY, B, 5);
  for (int i = 0; i < B; i++) g[i] = (float)(10 * lpdm_rng_uniform(&rng));
  double L;
  int rc = eval(l, DX, DY, g, B, &L, dD);
  int diag0 = 1;
  for (int i = 0; i < B; i++)
    if (dD[i * B + i] != 0.0f) diag0 = 0;
  lpdm_fd_opts o = gc_opts(FD_TOL);
  o.h = h;
  lpdm_fd_result r;
  if (!rc) rc = lpdm_fd_loss_at(ctx, l, DX, DY, g, B, &o, &rng, &r);
  const double e = rc ? NAN : r.err;
  ok(rc == 0 && diag0 && r.pass && isfinite(L),
     "loss.%s %s B=%d: dL/dDY matches finite differences (rel err %.2g <= %.0e, L = %.4g)", name, settings, B, e,
     FD_TOL, L);
  /* scale: with normalisation the loss is blind to the scale of DY */
  if (!strstr(settings, "normalize=false")) {
    double L3;
    for (int i = 0; i < BB; i++) tmp[i] = 3.0f * DY[i];
    eval(l, DX, tmp, g, B, &L3, dD);
    ok(fabs(L3 - L) <= 1e-5 * fmax(1, L), "loss.%s %s: blind to the scale of DY (%.8g vs %.8g)", name, settings, L3, L);
  }
  free(DX);
  free(DY);
  free(dD);
  free(tmp);
  lpdm_loss_free(l);
}

/* ---- guidance */
static void check_guidance(const char *name) {
  enum { B = 9 };
  float DX[B * B], DY[B * B], G[B * B], dD[B * B], g1[B], g2[B];
  random_dist(DX, B, 3);
  random_dist(DY, B, 4);
  for (int i = 0; i < B; i++) {
    g1[i] = (float)(5 * lpdm_rng_uniform(&rng));
    g2[i] = (float)(5 * lpdm_rng_uniform(&rng));
  }
  for (int i = 0; i < B; i++)
    for (int j = 0; j < B; j++) G[i * B + j] = 2.5f * fabsf(g1[i] - g1[j]);
  double a, b, c;
  lpdm_loss *l0 = make(name, "alpha=0"), *lh = make(name, "alpha=0.5"), *l1 = make(name, "alpha=1 pairs=0");
  if (!l1) l1 = make(name, "alpha=1"); /* kruskal, sammon: no pairs key */
  eval(l0, DX, DY, g1, B, &a, dD);
  eval(l0, DX, DY, g2, B, &b, dD);
  eval(l0, DX, DY, NULL, B, &c, dD);
  ok(a == b && a == c, "loss.%s alpha=0: g is not read (%.8g, %.8g, g == NULL %.8g)", name, a, b, c);
  eval(lh, DX, DY, NULL, B, &b, dD);
  ok(a == b, "loss.%s alpha=0.5: g == NULL is alpha = 0 (%.8g vs %.8g)", name, b, a);
  eval(lh, DX, DY, g1, B, &b, dD);
  eval(lh, DX, DY, g2, B, &c, dD);
  ok(b != c && b != a, "loss.%s alpha=0.5: the guidance moves the target (%.6g, %.6g; unguided %.6g)", name, b, c, a);
  /* alpha = 1: T = |g_i - g_j| / mG; DY proportional to it fits, DX does not */
  double Lg, Lx;
  eval(l1, DX, G, g1, B, &Lg, dD);
  eval(l1, DX, DX, g1, B, &Lx, dD);
  if (!strcmp(name, "rank")) /* orders, not sizes: every triplet agrees, a logistic cost remains */
    ok(Lg < Lx, "loss.rank alpha=1: DY ordered as |g_i - g_j| (%.4g) beats DY = DX (%.4g)", Lg, Lx);
  else
    ok(Lg < 1e-3 && Lx > 0.05, "loss.%s alpha=1: DY = c |g_i - g_j| gives L ~ 0 (%.2g), DY = DX does not (%.3g)", name,
       Lg, Lx);
  lpdm_loss_free(l0);
  lpdm_loss_free(lh);
  lpdm_loss_free(l1);
}

/* ---- degenerate inputs */
static void check_degenerate(const char *name) {
  enum { B = 6 };
  float DX[B * B], DY[B * B], Z[B * B] = {0}, dD[B * B], g[B], ge[B];
  random_dist(DX, B, 3);
  random_dist(DY, B, 3);
  for (int i = 0; i < B; i++) {
    g[i] = (float)i;
    ge[i] = 2.0f;
  }
  const char *cfgs[] = {"alpha=0", "alpha=0.5", "normalize=false alpha=0.5"};
  for (int c = 0; c < 3; c++) {
    lpdm_loss *l = make(name, cfgs[c]);
    double L[4];
    int rc = eval(l, DX, Z, g, B, &L[0], dD);
    int good = rc == 0 && isfinite(L[0]) && finite_all(dD, B * B);
    if (!strcmp(name, "kruskal")) good = good && L[0] == 1.0 && dD[1] == 0.0f;
    rc |= eval(l, Z, DY, g, B, &L[1], dD);
    good = good && rc == 0 && isfinite(L[1]) && finite_all(dD, B * B);
    rc |= eval(l, DX, DY, ge, B, &L[2], dD);
    good = good && rc == 0 && isfinite(L[2]) && finite_all(dD, B * B);
    const float X2[4] = {0, DX[1], DX[1], 0}, Y2[4] = {0, DY[1], DY[1], 0};
    rc |= eval(l, X2, Y2, g, 2, &L[3], dD);
    good = good && rc == 0 && isfinite(L[3]) && finite_all(dD, 4);
    if (!strcmp(name, "rank")) good = good && L[3] == 0.0;
    ok(good, "loss.%s %s: DY = 0 (L=%.3g), DX = 0 (L=%.3g), equal g (L=%.3g), B = 2 (L=%.3g): finite", name, cfgs[c],
       L[0], L[1], L[2], L[3]);
    lpdm_loss_free(l);
  }
  /* kruskal: a perfect fit is L = 0 with a zero gradient */
  if (!strcmp(name, "kruskal")) {
    lpdm_loss *l = make(name, "alpha=0");
    float D2[B * B];
    for (int i = 0; i < B * B; i++) D2[i] = 2 * DX[i];
    double L;
    eval(l, DX, D2, g, B, &L, dD);
    double m = 0;
    for (int i = 0; i < B * B; i++) m = fmax(m, fabs(dD[i]));
    ok(L < 1e-3 && finite_all(dD, B * B) && m < 1, "loss.kruskal: DY = 2 DX fits (L = %.2g, max |dDY| = %.2g)", L, m);
    lpdm_loss_free(l);
  }
}

static void check_config(const char *name, const char *settings, const char *key) {
  lpdm_loss *l = make(name, settings);
  const char *msg = lpdm_ctx_message(ctx);
  char full[64];
  snprintf(full, sizeof full, "loss.%s", name);
  ok(!l && strstr(msg, full) && strstr(msg, key), "loss.%s %s: refused by name (%s)", name, settings, msg);
  lpdm_loss_free(l);
}

int main(void) {
  ctx = fx_ctx_only((const char *const[]){"kruskal.so", "sammon.so", "rank.so", "kernel.so", NULL});
  lpdm_rng_seed(&rng, 11);
  const char *names[] = {"kruskal", "sammon", "rank", "kernel"};
  for (int i = 0; i < 4; i++) {
    const lpdm_loss_kind *k = (const lpdm_loss_kind *)lpdm_plugin_find(ctx, LPDM_KIND_LOSS, names[i]);
    ok(k && k->uses_guidance == 1, "loss.%s: uses_guidance = 1 (alpha may be > 0)", names[i]);
  }
  hand_cases();
  const char *common[] = {"alpha=0", "normalize=false alpha=0", "alpha=0.5", "normalize=false alpha=0.5", "alpha=1"};
  for (int i = 0; i < 2; i++)
    for (int c = 0; c < 5; c++) check_fd(names[i], common[c], 10, 1e-2f);
  check_fd("sammon", "alpha=0.3 delta=0.1", 17, 1e-2f);
  check_fd("kruskal", "alpha=0.3", 17, 1e-2f);
  const char *rank[] = {"alpha=0 pairs=0",        "alpha=0.5",
                        "alpha=0.5 pairs=0",      "normalize=false alpha=0.5 tau=0.5",
                        "alpha=1 pairs=3 seed=5", "alpha=0.2 tau=0.02"};
  for (int c = 0; c < 6; c++) check_fd("rank", rank[c], 10, 1e-2f);
  check_fd("rank", "alpha=0.5 pairs=4", 17, 1e-2f);
  /* loss.kernel (issue 7): the Gaussian and squared kernels of DX, with and without the scale anchor */
  const char *kern[] = {"alpha=0", "alpha=0.5", "kind=sq alpha=0.5", "normalize=false alpha=0.5 sigma=2",
                        "normalize=false kind=sq alpha=0 anchor=0.3", "alpha=1"};
  for (int c = 0; c < 6; c++) check_fd("kernel", kern[c], 10, 1e-2f);
  for (int i = 0; i < 3; i++) {
    check_guidance(names[i]);
    check_degenerate(names[i]);
  }
  check_config("kruskal", "alpha=2", "alpha");
  check_config("sammon", "alpha=-0.1", "alpha");
  check_config("sammon", "delta=0", "delta");
  check_config("rank", "tau=0", "tau");
  check_config("rank", "pairs=-1", "pairs");
  check_config("kruskal", "eps=-1", "eps");
  check_config("kernel", "kind=cube", "kind");
  check_config("kernel", "sigma=0", "sigma");
  check_config("kernel", "anchor=-1", "anchor");
  lpdm_ctx_free(ctx);
  return done_testing();
}
