/* test_fd_table.c -- one finite-difference gradient check for EVERY
   differentiable plugin the build registers, through the plugin ABI only.

   All plugins of LPDM_PLUGIN_DIR are loaded and enumerated with
   lpdm_plugin_count / lpdm_plugin_at. Each distance, each loss and each
   layer with a backward must have at least one entry in `table` below
   ({name, config text, input width, tolerance}); a registered one without
   an entry fails with "no FD entry for <name>: add one to
   tests/test_fd_table.c", so a new plugin cannot land without a check.
   Black-box layers (backward == NULL) are listed as skipped. An entry whose
   plugin is not built here is skipped (it waits for the plugin).

   The checks, central differences of a float32 forward summed in double:
     distance  f(X) = sum_ij W_ij D_ij(X), W random (not symmetric, non-zero
               diagonal), X random B x width (B = 6, N(0, 9) entries): vjp's
               dX vs FD on X (detach_scale=true must differ from FD);
     loss      L(DX, DY, g) for random Euclidean DX, DY of B = width points
               and random g: dDY_ij + dDY_ji vs FD moving DY_ij = DY_ji;
     layer     f = sum C .* layer(X), C random, X random B x width (B = 3):
               backward's dX and every parameter gradient (zeroed first;
               backward adds) vs FD; at most MAX_COORDS coordinates per
               tensor, drawn at random.
   Each entry draws its data from its own seeded stream. Step h = 1e-2.
   Piecewise-smooth plugins (manhattan, chebyshev, relu) have kinks: a
   coordinate whose FD at h and at h/2 disagree (by more than the
   tolerance) straddles one and is left out; at most 10% may be. A check
   passes when |fd - analytic| / max(|fd|, 1e-3) over the kept coordinates
   is below the entry's tolerance. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lpdm/lpdm.h"
#include "tap.h"

#define MAX_COORDS 200
#define H 1e-2

typedef struct fd_entry {
  const char *name;   /* registered name, "kind.x"                       */
  const char *config; /* "key=value key=value", "" for the defaults      */
  int width;          /* distance: features d; loss: batch B; layer: in_dim */
  double tol;         /* on the relative error of the whole gradient     */
} fd_entry;

static const fd_entry table[] = {
    /* distances: width = features per row (B = 6) */
    {"distance.euclidean", "", 5, 1e-2},
    {"distance.sqeuclidean", "", 5, 1e-2},
    {"distance.manhattan", "", 5, 1e-2},
    {"distance.chebyshev", "", 5, 1e-2},
    {"distance.cosine", "", 5, 1e-2},
    {"distance.mahalanobis", "", 5, 1e-2},
    {"distance.mahalanobis", "detach_scale=true", 5, 1e-2}, /* not the true gradient: see below */
    /* losses: width = batch size B */
    {"loss.stress", "", 8, 1e-2},
    {"loss.guided", "", 8, 1e-2},
    {"loss.kruskal", "", 8, 1e-2},
    {"loss.sammon", "", 8, 1e-2},
    {"loss.rank", "", 8, 1e-2},
    {"loss.rank", "pairs=3", 12, 1e-2},
    {"loss.kernel", "", 8, 1e-2},
    {"loss.kernel", "kind=sq alpha=0.3", 8, 1e-2},
    {"loss.kernel", "sigma=0.5 anchor=0.5", 8, 1e-2},
    {"loss.kernel", "normalize=false anchor=1 alpha=0", 8, 1e-2},
    /* layers: width = in_dim (B = 3) */
    {"layer.dense", "", 5, 1e-2},
    {"layer.dense", "out=7 norm=layer", 5, 1e-2},
    {"layer.flatten", "", 12, 1e-2},
    /* GUESS, for the lead to adjust to conv2d's final keys: a 2 x 5 x 5 input */
    {"layer.conv2d", "in_channels=2 height=5 width=5 out_channels=3 kernel=3 stride=1 padding=1", 50, 1e-2},
};
#define NTABLE ((int)(sizeof table / sizeof table[0]))

static lpdm_ctx *ctx;
static lpdm_rng rng;

static void fill(float *x, size_t n, double scale) {
  for (size_t i = 0; i < n; i++) x[i] = (float)(scale * lpdm_rng_normal(&rng));
}

static double dot(const float *a, const float *b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
  return s;
}

/* The config of p with an entry's settings. */
static int entry_config(const lpdm_plugin *p, const fd_entry *e, lpdm_config *cfg) {
  int rc = lpdm_config_init(ctx, p, cfg);
  char buf[256];
  snprintf(buf, sizeof buf, "%s", e->config);
  for (char *save = NULL, *tok = strtok_r(buf, " ", &save); tok && !rc; tok = strtok_r(NULL, " ", &save)) {
    char *eq = strchr(tok, '=');
    if (!eq) return lpdm_error(ctx, LPDM_ERR_ARG, "bad setting '%s' in the table entry of %s", tok, e->name);
    *eq = 0;
    rc = lpdm_config_set_text(ctx, cfg, e->name, tok, eq + 1);
  }
  return rc;
}

/* ---- the FD bookkeeping: one tensor's coordinates */

typedef struct fd_acc {
  double num, den;
  int kept, dropped;
} fd_acc;

/* f(+h) - f(-h) over 2h at h and h/2; a coordinate where they disagree
   straddles a kink and is dropped. */
static void fd_add(fd_acc *a, double fp, double fm, double fp2, double fm2, double analytic, double tol) {
  const double f1 = (fp - fm) / (2 * H), f2 = (fp2 - fm2) / H;
  if (fabs(f1 - f2) > tol * fmax(1.0, fabs(f1))) {
    a->dropped++;
    return;
  }
  a->kept++;
  a->num += (f1 - analytic) * (f1 - analytic);
  a->den += f1 * f1;
}

static void fd_report(const fd_acc *a, double tol, const char *fmt_name, const char *what) {
  const double e = sqrt(a->num) / fmax(sqrt(a->den), 1e-3);
  const int total = a->kept + a->dropped;
  if (!ok(e <= tol && a->dropped * 10 <= total && a->kept > 0,
          "%s: %s matches finite differences (rel err %.2g <= %.0e, %d of %d coordinates at a kink)", fmt_name, what, e,
          tol, a->dropped, total))
    diag("relative error %.3g over %d coordinates", e, a->kept);
}

/* The coordinates to check: all, or MAX_COORDS drawn at random. */
static size_t coord(size_t c, size_t n) { return n <= MAX_COORDS ? c : (size_t)lpdm_rng_below(&rng, n); }
static size_t ncoords(size_t n) { return n < MAX_COORDS ? n : MAX_COORDS; }

/* ---- distances */

static double dist_f(const lpdm_distance *dist, const float *X, int B, int d, const float *W, float *D, float *work) {
  dist->kind->pairwise(dist, X, B, d, D, work, ctx);
  return dot(W, D, (size_t)B * B);
}

static void check_distance(const lpdm_plugin *p, const fd_entry *e, const char *label) {
  const int B = 6, d = e->width;
  lpdm_config cfg;
  lpdm_distance *dist = NULL;
  if (entry_config(p, e, &cfg) || lpdm_distance_new(ctx, (const lpdm_distance_kind *)p, &cfg, &dist)) {
    ok(0, "%s: created (%s)", label, lpdm_ctx_message(ctx));
    return;
  }
  float *X = malloc(sizeof(float) * B * d), *D = malloc(sizeof(float) * B * B), *W = malloc(sizeof(float) * B * B);
  float *dX = malloc(sizeof(float) * B * d), *work = malloc(sizeof(float) * LPDM_DIST_WORK(B, d));
  fill(X, (size_t)B * d, 3.0); /* spread out: few coordinates near a kink */
  fill(W, (size_t)B * B, 1.0);
  int rc = dist->kind->pairwise(dist, X, B, d, D, work, ctx);
  if (!rc) rc = dist->kind->vjp(dist, X, B, d, D, W, dX, work, ctx);
  if (rc) {
    ok(0, "%s: pairwise and vjp run (%s)", label, lpdm_ctx_message(ctx));
  } else {
    fd_acc a = {0};
    const size_t n = (size_t)B * d;
    for (size_t c = 0; c < ncoords(n); c++) {
      const size_t i = coord(c, n);
      const float x0 = X[i];
      double f[4];
      const double hs[4] = {H, -H, H / 2, -H / 2};
      for (int s = 0; s < 4; s++) {
        X[i] = (float)(x0 + hs[s]);
        f[s] = dist_f(dist, X, B, d, W, D, work);
      }
      X[i] = x0;
      fd_add(&a, f[0], f[1], f[2], f[3], dX[i], e->tol);
    }
    /* detach_scale drops a term on purpose: it must NOT match */
    if (strstr(e->config, "detach_scale=true")) {
      const double err = sqrt(a.num) / fmax(sqrt(a.den), 1e-3);
      ok(err > e->tol,
         "%s: the detached vjp differs from finite differences (rel err %.2g: the batch scale is held constant)", label,
         err);
    } else {
      fd_report(&a, e->tol, label, "vjp dX");
    }
  }
  free(X);
  free(D);
  free(W);
  free(dX);
  free(work);
  lpdm_distance_free(dist);
}

/* ---- losses */

static void euclid(float *D, int B, int d) {
  double *x = malloc(sizeof(double) * B * d);
  for (int i = 0; i < B * d; i++) x[i] = lpdm_rng_normal(&rng);
  for (int i = 0; i < B; i++)
    for (int j = 0; j < B; j++) {
      double s = 0;
      for (int k = 0; k < d; k++) s += (x[i * d + k] - x[j * d + k]) * (x[i * d + k] - x[j * d + k]);
      D[i * B + j] = (float)sqrt(s);
    }
  free(x);
}

static void check_loss(const lpdm_plugin *p, const fd_entry *e, const char *label) {
  const int B = e->width;
  lpdm_config cfg;
  lpdm_loss *loss = NULL;
  if (entry_config(p, e, &cfg) || lpdm_loss_new(ctx, (const lpdm_loss_kind *)p, &cfg, &loss)) {
    ok(0, "%s: created (%s)", label, lpdm_ctx_message(ctx));
    return;
  }
  float *DX = malloc(sizeof(float) * B * B), *DY = malloc(sizeof(float) * B * B), *dD = malloc(sizeof(float) * B * B);
  float *tmp = malloc(sizeof(float) * B * B), *g = malloc(sizeof(float) * B);
  euclid(DX, B, 3);
  euclid(DY, B, 4);
  for (int i = 0; i < B; i++) g[i] = (float)(5 * lpdm_rng_uniform(&rng));
  double L;
  if (loss->kind->eval(loss, DX, DY, g, B, &L, dD, ctx)) {
    ok(0, "%s: eval runs (%s)", label, lpdm_ctx_message(ctx));
  } else {
    fd_acc a = {0};
    for (int i = 0; i < B; i++)
      for (int j = i + 1; j < B; j++) {
        const float y0 = DY[i * B + j];
        double f[4];
        const double hs[4] = {H, -H, H / 2, -H / 2};
        for (int s = 0; s < 4; s++) {
          DY[i * B + j] = DY[j * B + i] = (float)(y0 + hs[s]);
          loss->kind->eval(loss, DX, DY, g, B, &f[s], tmp, ctx);
        }
        DY[i * B + j] = DY[j * B + i] = y0;
        fd_add(&a, f[0], f[1], f[2], f[3], (double)dD[i * B + j] + dD[j * B + i], e->tol);
      }
    fd_report(&a, e->tol, label, "dL/dDY");
  }
  free(DX);
  free(DY);
  free(dD);
  free(tmp);
  free(g);
  lpdm_loss_free(loss);
}

/* ---- layers */

static double layer_f(lpdm_layer *l, const float *X, int B, const float *C, float *Y) {
  l->kind->forward(l, X, B, Y, ctx);
  return dot(C, Y, (size_t)B * l->out_dim);
}

/* FD over n floats at v (X or a parameter) against the analytic g. */
static void fd_tensor(lpdm_layer *l, const float *X, int B, const float *C, float *Y, float *v, const float *grad,
                      size_t n, double tol, const char *label, const char *what) {
  fd_acc a = {0};
  for (size_t c = 0; c < ncoords(n); c++) {
    const size_t i = coord(c, n);
    const float v0 = v[i];
    double f[4];
    const double hs[4] = {H, -H, H / 2, -H / 2};
    for (int s = 0; s < 4; s++) {
      v[i] = (float)(v0 + hs[s]);
      f[s] = layer_f(l, X, B, C, Y);
    }
    v[i] = v0;
    fd_add(&a, f[0], f[1], f[2], f[3], grad[i], tol);
  }
  fd_report(&a, tol, label, what);
}

static void check_layer(const lpdm_plugin *p, const fd_entry *e, const char *label) {
  const lpdm_layer_kind *k = (const lpdm_layer_kind *)p;
  const int B = 3, in = e->width;
  lpdm_config cfg;
  lpdm_layer *l = NULL;
  if (entry_config(p, e, &cfg) || k->init(k, &cfg, in, &rng, &l, ctx)) {
    ok(0, "%s: init with width %d (%s)", label, in, lpdm_ctx_message(ctx));
    return;
  }
  const int out = l->out_dim;
  float *X = malloc(sizeof(float) * B * in), *Y = malloc(sizeof(float) * B * out), *C = malloc(sizeof(float) * B * out);
  float *dY = malloc(sizeof(float) * B * out), *dX = malloc(sizeof(float) * B * in);
  fill(X, (size_t)B * in, 1.0);
  fill(C, (size_t)B * out, 1.0);
  for (int j = 0; j < l->nparams; j++) {
    /* a generic layer's initial biases may be 0; move every parameter off
       any special value so the check sees a general point */
    for (size_t i = 0; i < l->params[j].n; i++) l->params[j].w[i] += (float)(0.1 * lpdm_rng_normal(&rng));
    memset(l->params[j].g, 0, sizeof(float) * l->params[j].n);
  }
  memcpy(dY, C, sizeof(float) * B * out);
  int rc = k->forward(l, X, B, Y, ctx);
  if (!rc) rc = k->backward(l, X, Y, B, dY, dX, ctx);
  if (rc) {
    ok(0, "%s: forward and backward run (%s)", label, lpdm_ctx_message(ctx));
  } else {
    fd_tensor(l, X, B, C, Y, X, dX, (size_t)B * in, e->tol, label, "dX");
    for (int j = 0; j < l->nparams; j++) {
      char what[64];
      snprintf(what, sizeof what, "d/d%s", l->params[j].name ? l->params[j].name : "param");
      fd_tensor(l, X, B, C, Y, l->params[j].w, l->params[j].g, l->params[j].n, e->tol, label, what);
    }
  }
  free(X);
  free(Y);
  free(C);
  free(dY);
  free(dX);
  k->free(l);
}

/* ---- the enumeration */

static void run_entry(const lpdm_plugin *p, const fd_entry *e) {
  char label[256];
  snprintf(label, sizeof label, "%s%s%s (width %d)", e->name, e->config[0] ? " " : "", e->config, e->width);
  /* each entry draws from its own stream (FNV-1a of its label): adding a
     plugin or an entry changes no other entry's data */
  uint64_t h = 1469598103934665603ULL;
  for (const char *c = label; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ULL;
  lpdm_rng_seed(&rng, h);
  switch (p->kind) {
    case LPDM_KIND_DISTANCE: check_distance(p, e, label); break;
    case LPDM_KIND_LOSS: check_loss(p, e, label); break;
    default: check_layer(p, e, label); break;
  }
}

int main(void) {
  ctx = lpdm_ctx_new();
  lpdm_rng_seed(&rng, 2024);
  if (lpdm_plugin_load_dir(ctx, LPDM_PLUGIN_DIR)) {
    printf("Bail out! loading %s: %s\n", LPDM_PLUGIN_DIR, lpdm_ctx_message(ctx));
    return 1;
  }
  const int kinds[] = {LPDM_KIND_DISTANCE, LPDM_KIND_LOSS, LPDM_KIND_LAYER};
  int checked = 0;
  for (int t = 0; t < 3; t++)
    for (int i = 0; i < lpdm_plugin_count(ctx, kinds[t]); i++) {
      const lpdm_plugin *p = lpdm_plugin_at(ctx, kinds[t], i);
      if (p->kind == LPDM_KIND_LAYER && !((const lpdm_layer_kind *)p)->backward) {
        skip("%s is a black box (no backward): nothing to check", p->name);
        continue;
      }
      int n = 0;
      for (int e = 0; e < NTABLE; e++)
        if (!strcmp(table[e].name, p->name)) {
          run_entry(p, &table[e]);
          n++;
        }
      if (!n) ok(0, "no FD entry for %s: add one to tests/test_fd_table.c", p->name);
      checked += n > 0;
    }
  for (int e = 0; e < NTABLE; e++)
    if (!lpdm_plugin_find(ctx, 0, table[e].name)) skip("%s is not built here: its entry waits for it", table[e].name);
  diag("%d differentiable plugins checked", checked);
  lpdm_ctx_free(ctx);
  return done_testing();
}
