/* SPDX-License-Identifier: MIT */
/* test_blocked.c -- local mode's row-blocked path for large batches (ABI 1.1
   pairwise_rows / vjp_rows / eval_rows; docs/performance.md, "Large
   batches"), and its sampled-partners estimate.

   1. Distances: rows from pairwise_rows (blocks of 8 of B = 37, not a
      divisor) against pairwise; vjp_rows accumulated block by block against
      vjp and against finite differences of f(X) = sum W_it D_it (central, at
      h and h/2, float32 forward summed in double, as test_fd_table.c); the
      same with listed partners.
   2. Losses: eval_rows in blocks against eval (L to relative 1e-5, dL/dDY
      to 1e-5 of its largest entry) and against finite differences moving
      DY_ij = DY_ji.
   3. The host: one local update of a 2-layer dense net, B = 300 and 700,
      blocks of 64 (a non-divisor) and 100 (a divisor), guided and stress,
      euclidean and sqeuclidean, post and pre: the blocked update gives the
      whole-matrix update's loss (relative 1e-5), gradients (1e-4 of the
      largest entry) and updated weights (1e-6 absolute; Adam's first step
      is lr * g / (|g| + eps), about +-lr whatever g's rounding, so the
      weights agree far closer than the gradients), and repeats bit for bit
      run to run. Its working memory stays O(block x B + B x width).
   4. A distance or loss without the row callbacks (an in-tree one, or
      euclidean's descriptor with them set to NULL):
      blocked = 1 falls back to the whole matrices, bit for bit; a batch over
      the budget is refused naming the plugin; so is partners > 0.
   5. Partners: k >= B - 1 is the exact loss; with normalize = false the
      mean of the estimate over many draws is the exact loss and gradient
      (unbiased: within 4.5 standard errors); with normalize = true it is a
      ratio estimate whose bias shrinks as k grows (consistent). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "lpdm/lpdm.h"
#include "tap.h"

#define H 1e-2

static lpdm_ctx *ctx;
static lpdm_rng rng;

static void fill(float *x, size_t n, double scale) {
  for (size_t i = 0; i < n; i++) x[i] = (float)(scale * lpdm_rng_normal(&rng));
}

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) {
    printf("Bail out! out of memory\n");
    exit(1);
  }
  return p;
}

static const lpdm_distance_kind *dkind(const char *name) {
  return (const lpdm_distance_kind *)lpdm_plugin_get(ctx, LPDM_KIND_DISTANCE, name);
}
static const lpdm_loss_kind *lkind(const char *name) {
  return (const lpdm_loss_kind *)lpdm_plugin_get(ctx, LPDM_KIND_LOSS, name);
}

/* A loss with up to two settings (key, value as text). */
static lpdm_loss *make_loss(const char *name, const char *k1, const char *v1, const char *k2, const char *v2) {
  const lpdm_loss_kind *k = lkind(name);
  lpdm_config cfg;
  lpdm_loss *l = NULL;
  if (!k || lpdm_config_init(ctx, &k->head, &cfg)) return NULL;
  if (k1 && lpdm_config_set_text(ctx, &cfg, name, k1, v1)) return NULL;
  if (k2 && lpdm_config_set_text(ctx, &cfg, name, k2, v2)) return NULL;
  if (lpdm_loss_new(ctx, k, &cfg, &l)) return NULL;
  return l;
}

/* Random partners (k distinct, never i) for the distance and loss checks. */
static void partners(int B, int k, int *J) {
  for (int i = 0; i < B; i++)
    for (int t = 0; t < k; t++) {
      int j, dup;
      do {
        j = (int)lpdm_rng_below(&rng, (uint64_t)B);
        dup = j == i;
        for (int u = 0; u < t && !dup; u++) dup = J[i * k + u] == j;
      } while (dup);
      J[i * k + t] = j;
    }
}

/* ---- 1. distances */

/* Every block of rows of X into D ((B x w), rows in order). */
static int rows_all(const lpdm_distance *dist, const float *X, int B, int d, int nb, const int *J, int w, float *D,
                    float *work) {
  for (int i0 = 0; i0 < B; i0 += nb) {
    lpdm_rows r = {i0, i0 + nb < B ? i0 + nb : B, w, J ? J + (size_t)i0 * w : NULL, 0};
    int rc = dist->kind->pairwise_rows(dist, X, B, d, &r, D + (size_t)i0 * w, work, ctx);
    if (rc) return rc;
  }
  return LPDM_OK;
}

static int vjp_all(const lpdm_distance *dist, const float *X, int B, int d, int nb, const int *J, int w,
                   const float *D, const float *dD, float *dX, float *work) {
  memset(dX, 0, sizeof(float) * B * d);
  for (int i0 = 0; i0 < B; i0 += nb) {
    lpdm_rows r = {i0, i0 + nb < B ? i0 + nb : B, w, J ? J + (size_t)i0 * w : NULL, 0};
    int rc = dist->kind->vjp_rows(dist, X, B, d, &r, D + (size_t)i0 * w, dD + (size_t)i0 * w, dX, work, ctx);
    if (rc) return rc;
  }
  return LPDM_OK;
}

static double maxabs(const float *x, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
  return m;
}
static double maxdiff(const float *a, const float *b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
  return m;
}

/* f(X) = sum_t W_t D_t over the rows; central differences at h and h/2. */
static void check_distance(const char *name) {
  const int B = 37, d = 5, nb = 8, k = 4;
  const lpdm_distance_kind *kd = dkind(name);
  lpdm_distance *dist = NULL;
  if (!kd || lpdm_distance_new(ctx, kd, NULL, &dist)) {
    ok(0, "%s: created (%s)", name, lpdm_ctx_message(ctx));
    return;
  }
  if (!lpdm_abi_has(&kd->head, LPDM_ABI_MINOR_ROWS) || !kd->pairwise_rows || !kd->vjp_rows) {
    ok(0, "%s has pairwise_rows and vjp_rows", name);
    lpdm_distance_free(dist);
    return;
  }
  float *X = xmalloc(sizeof(float) * B * d), *D = xmalloc(sizeof(float) * B * B), *Dr = xmalloc(sizeof(float) * B * B);
  float *W = xmalloc(sizeof(float) * B * B), *dX = xmalloc(sizeof(float) * B * d), *dXr = xmalloc(sizeof(float) * B * d);
  float *work = xmalloc(sizeof(float) * LPDM_DIST_WORK(B, d));
  int *J = xmalloc(sizeof(int) * B * k);
  fill(X, (size_t)B * d, 3.0);
  fill(W, (size_t)B * B, 1.0);
  partners(B, k, J);
  int rc = kd->pairwise(dist, X, B, d, D, work, ctx);
  if (!rc) rc = kd->vjp(dist, X, B, d, D, W, dX, work, ctx);
  if (!rc) rc = rows_all(dist, X, B, d, nb, NULL, B, Dr, work);
  if (!rc) rc = vjp_all(dist, X, B, d, nb, NULL, B, Dr, W, dXr, work);
  if (rc) {
    ok(0, "%s: the full and row callbacks run (%s)", name, lpdm_ctx_message(ctx));
  } else {
    double e = maxdiff(D, Dr, (size_t)B * B) / maxabs(D, (size_t)B * B);
    ok(e <= 1e-5, "%s: pairwise_rows in blocks of %d of B = %d gives pairwise's rows (max diff %.2g of max |D|)", name,
       nb, B, e);
    e = maxdiff(dX, dXr, (size_t)B * d) / maxabs(dX, (size_t)B * d);
    ok(e <= 1e-5, "%s: vjp_rows summed over the blocks gives vjp's dX (max diff %.2g of max |dX|)", name, e);
    /* FD of f on whole rows and on partners */
    for (int mode = 0; mode < 2; mode++) {
      const int w = mode ? k : B;
      const int *JJ = mode ? J : NULL;
      if ((rc = rows_all(dist, X, B, d, nb, JJ, w, Dr, work)) ||
          (rc = vjp_all(dist, X, B, d, nb, JJ, w, Dr, W, dXr, work)))
        break;
      double num = 0, den = 0;
      for (int c = 0; c < B * d; c++) {
        const float x0 = X[c];
        const double hs[4] = {H, -H, H / 2, -H / 2};
        double f[4];
        for (int s = 0; s < 4; s++) {
          X[c] = (float)(x0 + hs[s]);
          rows_all(dist, X, B, d, nb, JJ, w, Dr, work);
          f[s] = 0;
          for (int t = 0; t < B * w; t++) f[s] += (double)W[t] * Dr[t];
        }
        X[c] = x0;
        const double f1 = (f[0] - f[1]) / (2 * H);
        num += (f1 - dXr[c]) * (f1 - dXr[c]);
        den += f1 * f1;
      }
      e = sqrt(num) / fmax(sqrt(den), 1e-3);
      ok(e <= 1e-2, "%s: vjp_rows (%s) matches finite differences (rel err %.2g <= 1e-2)", name,
         mode ? "4 listed partners per row" : "whole rows", e);
    }
    if (rc) ok(0, "%s: the row callbacks run (%s)", name, lpdm_ctx_message(ctx));
    /* partners' entries are the pairs' distances */
    rows_all(dist, X, B, d, nb, J, k, Dr, work);
    double m = 0;
    for (int i = 0; i < B; i++)
      for (int t = 0; t < k; t++) m = fmax(m, fabs((double)Dr[i * k + t] - D[i * B + J[i * k + t]]));
    ok(m <= 1e-5 * maxabs(D, (size_t)B * B), "%s: listed partners' entries are D_ij (max diff %.2g)", name, m);
  }
  free(X);
  free(D);
  free(Dr);
  free(W);
  free(dX);
  free(dXr);
  free(work);
  free(J);
  lpdm_distance_free(dist);
}

/* ---- 2. losses */

static void euclid(float *D, int B, int d) {
  double *x = xmalloc(sizeof(double) * B * d);
  for (int i = 0; i < B * d; i++) x[i] = lpdm_rng_normal(&rng);
  for (int i = 0; i < B; i++)
    for (int j = 0; j < B; j++) {
      double s = 0;
      for (int c = 0; c < d; c++) s += (x[i * d + c] - x[j * d + c]) * (x[i * d + c] - x[j * d + c]);
      D[i * B + j] = (float)sqrt(s);
    }
  free(x);
}

/* The blocked protocol as the host runs it, on whole matrices split in
   blocks of nb rows (or, with J, the listed partners' entries). */
static int loss_rows(const lpdm_loss *loss, const float *DX, const float *DY, const float *g, int B, int nb,
                     const int *J, int w, double *L, float *dD) {
  double acc[LPDM_LOSS_ACC] = {0};
  const int P = loss->kind->row_passes;
  for (int pass = 0; pass <= P; pass++)
    for (int i0 = 0; i0 < B; i0 += nb) {
      lpdm_rows r = {i0, i0 + nb < B ? i0 + nb : B, w, J ? J + (size_t)i0 * w : NULL,
                     J ? (double)B * w : (double)B * (B - 1)};
      const size_t o = (size_t)i0 * w;
      int rc = loss->kind->eval_rows(loss, pass, DX + o, DY + o, g, B, &r, acc, pass == P ? L : NULL,
                                     pass == P ? dD + o : NULL, ctx);
      if (rc) return rc;
    }
  return LPDM_OK;
}

static void check_loss(const char *label, lpdm_loss *loss) {
  const int B = 9, nb = 4;
  if (!loss) {
    ok(0, "%s: created (%s)", label, lpdm_ctx_message(ctx));
    return;
  }
  if (!lpdm_abi_has(&loss->kind->head, LPDM_ABI_MINOR_ROWS) || !loss->kind->eval_rows || loss->kind->row_passes < 1) {
    ok(0, "%s has eval_rows", label);
    lpdm_loss_free(loss);
    return;
  }
  float *DX = xmalloc(sizeof(float) * B * B), *DY = xmalloc(sizeof(float) * B * B);
  float *dD = xmalloc(sizeof(float) * B * B), *dR = xmalloc(sizeof(float) * B * B), *tmp = xmalloc(sizeof(float) * B * B);
  float g[9];
  euclid(DX, B, 3);
  euclid(DY, B, 4);
  for (int i = 0; i < B; i++) g[i] = (float)(5 * lpdm_rng_uniform(&rng));
  double L = 0, Lr = 0;
  int rc = loss->kind->eval(loss, DX, DY, g, B, &L, dD, ctx);
  if (!rc) rc = loss_rows(loss, DX, DY, g, B, nb, NULL, B, &Lr, dR);
  if (rc) {
    ok(0, "%s: eval and eval_rows run (%s)", label, lpdm_ctx_message(ctx));
  } else {
    ok(fabs(Lr - L) <= 1e-5 * fabs(L), "%s: eval_rows in blocks of %d of B = %d gives eval's loss (%.9g vs %.9g)",
       label, nb, B, Lr, L);
    double e = maxdiff(dD, dR, (size_t)B * B) / maxabs(dD, (size_t)B * B);
    ok(e <= 1e-5, "%s: and eval's dL/dDY (max diff %.2g of its largest entry)", label, e);
    if (strstr(label, "kernel")) /* its eval and eval_rows share the row kernels and the order of the sums */
      ok(Lr == L && !memcmp(dD, dR, sizeof(float) * B * B), "%s: eval_rows gives eval's loss and dL/dDY bit for bit",
         label);
    double num = 0, den = 0;
    for (int i = 0; i < B; i++)
      for (int j = i + 1; j < B; j++) {
        const float y0 = DY[i * B + j];
        double f[2];
        const double hs[2] = {H, -H};
        for (int s = 0; s < 2; s++) {
          DY[i * B + j] = DY[j * B + i] = (float)(y0 + hs[s]);
          loss_rows(loss, DX, DY, g, B, nb, NULL, B, &f[s], tmp);
        }
        DY[i * B + j] = DY[j * B + i] = y0;
        const double fd = (f[0] - f[1]) / (2 * H), an = (double)dR[i * B + j] + dR[j * B + i];
        num += (fd - an) * (fd - an);
        den += fd * fd;
      }
    e = sqrt(num) / fmax(sqrt(den), 1e-3);
    ok(e <= 1e-2, "%s: eval_rows' dL/dDY matches finite differences (rel err %.2g <= 1e-2)", label, e);
    /* every other row listed as a partner: the exact loss */
    int *J = xmalloc(sizeof(int) * B * (B - 1));
    float *Xp = xmalloc(sizeof(float) * B * (B - 1)), *Yp = xmalloc(sizeof(float) * B * (B - 1));
    for (int i = 0; i < B; i++)
      for (int j = 0, t = 0; j < B; j++)
        if (j != i) {
          J[i * (B - 1) + t] = j;
          Xp[i * (B - 1) + t] = DX[i * B + j];
          Yp[i * (B - 1) + t++] = DY[i * B + j];
        }
    double Lp = 0;
    rc = loss_rows(loss, Xp, Yp, g, B, nb, J, B - 1, &Lp, tmp);
    ok(!rc && fabs(Lp - L) <= 1e-5 * fabs(L), "%s: every other row as a partner gives the exact loss (%.9g vs %.9g)",
       label, Lp, L);
    free(J);
    free(Xp);
    free(Yp);
  }
  free(DX);
  free(DY);
  free(dD);
  free(dR);
  free(tmp);
  lpdm_loss_free(loss);
}

/* ---- 3. the host */

static lpdm_net *make_net(int in, const int *outs, int nl, uint64_t seed, const lpdm_optim_cfg *oc) {
  const lpdm_layer_kind *dense = (const lpdm_layer_kind *)lpdm_plugin_get(ctx, LPDM_KIND_LAYER, "dense");
  lpdm_net *net = NULL;
  lpdm_rng r;
  lpdm_rng_seed(&r, seed);
  if (!dense || lpdm_net_new(ctx, in, &net)) return NULL;
  for (int i = 0; i < nl; i++) {
    lpdm_config cfg;
    if (lpdm_config_init(ctx, &dense->head, &cfg) || lpdm_config_set_num(ctx, &cfg, "layer.dense", "out", outs[i]) ||
        lpdm_net_add(net, ctx, dense, &cfg, &r, oc)) {
      lpdm_net_free(net);
      return NULL;
    }
  }
  return net;
}

static int set_local(lpdm_net *net, int blocked, int block, size_t budget, int partners_, uint64_t seed) {
  lpdm_local_cfg c = lpdm_local_default();
  c.blocked = blocked;
  c.block = block;
  if (budget) c.budget = budget;
  c.partners = partners_;
  c.seed = seed;
  return lpdm_net_set_local(net, ctx, &c);
}

/* Largest |a - b| over every parameter (grad = 1: over the gradients),
   and the largest |a| for scale. */
static double net_diff(lpdm_net *a, lpdm_net *b, int grad, double *scale) {
  double m = 0, s = 0;
  for (int i = 0; i < lpdm_net_depth(a); i++) {
    lpdm_layer *la = lpdm_net_layer(a, i), *lb = lpdm_net_layer(b, i);
    for (int j = 0; j < la->nparams; j++) {
      const float *x = grad ? la->params[j].g : la->params[j].w, *y = grad ? lb->params[j].g : lb->params[j].w;
      m = fmax(m, maxdiff(x, y, la->params[j].n));
      s = fmax(s, maxabs(x, la->params[j].n));
    }
  }
  if (scale) *scale = s;
  return m;
}

static int net_same_bits(lpdm_net *a, lpdm_net *b) {
  for (int i = 0; i < lpdm_net_depth(a); i++) {
    lpdm_layer *la = lpdm_net_layer(a, i), *lb = lpdm_net_layer(b, i);
    for (int j = 0; j < la->nparams; j++)
      if (memcmp(la->params[j].w, lb->params[j].w, sizeof(float) * la->params[j].n)) return 0;
  }
  return 1;
}

static void check_host(int B, int nb, const char *dname, const char *lname, int post) {
  const int in = 12, outs[2] = {32, 24};
  char label[160];
  snprintf(label, sizeof label, "B = %d, blocks of %d, %s, %s, %s", B, nb, dname, lname, post ? "post" : "pre");
  float *X = xmalloc(sizeof(float) * B * in), *g = xmalloc(sizeof(float) * B);
  fill(X, (size_t)B * in, 1.0);
  for (int i = 0; i < B; i++) g[i] = (float)(10 * lpdm_rng_uniform(&rng));
  lpdm_optim_cfg oc = lpdm_optim_default(LPDM_OPT_ADAM, 1e-3);
  lpdm_net *full = make_net(in, outs, 2, 7, &oc), *blk = make_net(in, outs, 2, 7, &oc), *blk2 = make_net(in, outs, 2, 7, &oc);
  lpdm_distance *dist = NULL;
  lpdm_loss *loss = make_loss(lname, NULL, NULL, NULL, NULL);
  if (!full || !blk || !blk2 || !loss || lpdm_distance_new(ctx, dkind(dname), NULL, &dist) ||
      set_local(blk, 1, nb, 0, 0, 0) || set_local(blk2, 1, nb, 0, 0, 0)) {
    ok(0, "%s: set up (%s)", label, lpdm_ctx_message(ctx));
  } else {
    lpdm_net_set_propagate_post(full, post);
    lpdm_net_set_propagate_post(blk, post);
    lpdm_net_set_propagate_post(blk2, post);
    double Lf[2], Lb[2], Lb2[2];
    const float *Yf, *Yb, *Yb2;
    int rc = lpdm_net_local_update(full, ctx, dist, loss, X, B, g, &Yf, Lf);
    if (!rc) rc = lpdm_net_local_update(blk, ctx, dist, loss, X, B, g, &Yb, Lb);
    if (!rc) rc = lpdm_net_local_update(blk2, ctx, dist, loss, X, B, g, &Yb2, Lb2);
    if (rc) {
      ok(0, "%s: updates run (%s)", label, lpdm_ctx_message(ctx));
    } else {
      double e = fmax(fabs(Lb[0] - Lf[0]) / Lf[0], fabs(Lb[1] - Lf[1]) / Lf[1]);
      ok(e <= 1e-5, "%s: the layers' losses are the whole-matrix ones (rel diff %.2g <= 1e-5; %.6g, %.6g)", label, e,
         Lf[0], Lf[1]);
      double sg, sw;
      double eg = net_diff(full, blk, 1, &sg), ew = net_diff(full, blk, 0, &sw);
      ok(eg <= 1e-4 * sg, "%s: gradients agree (max diff %.2g of max |g| %.2g, <= 1e-4)", label, eg / sg, sg);
      ok(ew <= 1e-6, "%s: updated weights agree (max diff %.2g <= 1e-6, weights up to %.2g)", label, ew, sw);
      ok(net_same_bits(blk, blk2) && Lb[0] == Lb2[0] && Lb[1] == Lb2[1] &&
             !memcmp(Yb, Yb2, sizeof(float) * B * outs[1]),
         "%s: a second blocked run repeats the first bit for bit", label);
      /* yA, yB, dY: B x 32; three blocks and the distance's work: 4 x block x B + 4 B + B x 32 */
      size_t wb = lpdm_net_work_bytes(blk), bound = sizeof(float) * ((size_t)5 * nb * B + (size_t)8 * B * 32),
             wf = lpdm_net_work_bytes(full);
      ok(wb <= bound && wb < wf,
         "%s: blocked working memory %zu bytes is O(block x B + B x width) (<= %zu; whole matrices: %zu)", label, wb,
         bound, wf);
    }
  }
  lpdm_net_free(full);
  lpdm_net_free(blk);
  lpdm_net_free(blk2);
  lpdm_distance_free(dist);
  lpdm_loss_free(loss);
  free(X);
  free(g);
}

/* ---- 4. plugins without the row callbacks */

static lpdm_distance_kind old_euclid; /* euclidean built without the row callbacks (as under ABI 1.1) */

static void check_fallback(void) {
  const int B = 64, in = 6, outs[1] = {8};
  float *X = xmalloc(sizeof(float) * B * in), *g = xmalloc(sizeof(float) * B);
  fill(X, (size_t)B * in, 1.0);
  for (int i = 0; i < B; i++) g[i] = (float)lpdm_rng_uniform(&rng);
  lpdm_optim_cfg oc = lpdm_optim_default(LPDM_OPT_ADAM, 1e-3);
  old_euclid = *dkind("euclidean");
  old_euclid.pairwise_rows = NULL; /* ABI 2.0 has no minor without the fields: leave them out */
  old_euclid.vjp_rows = NULL;
  old_euclid.head.name = "distance.euclid11";
  if (lpdm_plugin_register(ctx, &old_euclid.head, "test_blocked.c")) {
    ok(0, "a distance without row callbacks registers (%s)", lpdm_ctx_message(ctx));
    return;
  }
  static const struct {
    const char *dist, *loss, *named;
  } cases[] = {{"euclidean", "kruskal", "loss.kruskal"},
               {"manhattan", "stress", "distance.manhattan"},
               {"euclid11", "guided", "distance.euclid11"},
               {"manhattan", "sammon", "distance.manhattan and loss.sammon"}};
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    lpdm_distance *dist = NULL;
    lpdm_loss *loss = make_loss(cases[c].loss, NULL, NULL, NULL, NULL);
    lpdm_net *a = make_net(in, outs, 1, 3, &oc), *b = make_net(in, outs, 1, 3, &oc);
    if (!loss || !a || !b || lpdm_distance_new(ctx, dkind(cases[c].dist), NULL, &dist)) {
      ok(0, "%s/%s: set up (%s)", cases[c].dist, cases[c].loss, lpdm_ctx_message(ctx));
      continue;
    }
    double La, Lb;
    const float *Y;
    set_local(b, 1, 16, 0, 0, 0);
    int rc = lpdm_net_local_update(a, ctx, dist, loss, X, B, g, &Y, &La);
    if (!rc) rc = lpdm_net_local_update(b, ctx, dist, loss, X, B, g, &Y, &Lb);
    ok(!rc && La == Lb && net_same_bits(a, b),
       "%s + %s, blocked = 1: no row path, so the whole matrices, bit for bit (%s)", cases[c].dist, cases[c].loss,
       rc ? lpdm_ctx_message(ctx) : "same loss and weights");
    set_local(b, 0, 16, 4096, 0, 0); /* B = 64 needs 64 KiB: over budget */
    rc = lpdm_net_local_update(b, ctx, dist, loss, X, B, g, &Y, &Lb);
    const char *msg = lpdm_ctx_message(ctx);
    ok(rc == LPDM_ERR_ARG && strstr(msg, cases[c].named) && strstr(msg, "budget"),
       "%s + %s over budget: refused, naming %s", cases[c].dist, cases[c].loss, cases[c].named);
    diag("%s", msg);
    set_local(b, 0, 16, 0, 3, 0);
    rc = lpdm_net_local_update(b, ctx, dist, loss, X, B, g, &Y, &Lb);
    ok(rc == LPDM_ERR_ARG && strstr(lpdm_ctx_message(ctx), cases[c].named) && strstr(lpdm_ctx_message(ctx), "partners"),
       "%s + %s with partners = 3: refused, naming %s", cases[c].dist, cases[c].loss, cases[c].named);
    lpdm_net_free(a);
    lpdm_net_free(b);
    lpdm_distance_free(dist);
    lpdm_loss_free(loss);
  }
  /* over budget with both callbacks: the blocked path, the same as asking for it */
  {
    lpdm_distance *dist = NULL;
    lpdm_loss *loss = make_loss("guided", NULL, NULL, NULL, NULL);
    lpdm_net *a = make_net(in, outs, 1, 3, &oc), *b = make_net(in, outs, 1, 3, &oc);
    lpdm_distance_new(ctx, dkind("euclidean"), NULL, &dist);
    double La = 0, Lb = 1;
    const float *Y;
    set_local(a, 1, 16, 0, 0, 0);
    set_local(b, 0, 16, 4096, 0, 0);
    int rc = lpdm_net_local_update(a, ctx, dist, loss, X, B, g, &Y, &La);
    if (!rc) rc = lpdm_net_local_update(b, ctx, dist, loss, X, B, g, &Y, &Lb);
    ok(!rc && La == Lb && net_same_bits(a, b), "euclidean + guided over budget: blocked by itself, bit for bit as blocked = 1");
    lpdm_local_cfg bad = lpdm_local_default();
    bad.block = 0;
    ok(lpdm_net_set_local(a, ctx, &bad) == LPDM_ERR_ARG && lpdm_net_local(a).block == 16,
       "block = 0 is refused and changes nothing (%s)", lpdm_ctx_message(ctx));
    lpdm_net_free(a);
    lpdm_net_free(b);
    lpdm_distance_free(dist);
    lpdm_loss_free(loss);
  }
  free(X);
  free(g);
}

/* ---- 5. partners: an estimate */

/* Mean of the loss and of the gradient over draws against the exact ones. */
static void check_partners(const char *label, lpdm_loss *loss, int B, int k, int draws, int unbiased,
                           double *bias_out) {
  const int in = 3, outs[1] = {4};
  float *X = xmalloc(sizeof(float) * B * in), *g = xmalloc(sizeof(float) * B);
  lpdm_rng_seed(&rng, 99);
  fill(X, (size_t)B * in, 1.0);
  for (int i = 0; i < B; i++) g[i] = (float)(3 * lpdm_rng_uniform(&rng));
  lpdm_optim_cfg oc = lpdm_optim_default(LPDM_OPT_SGD, 0.0); /* lr 0: the weights stay, each draw sees them */
  lpdm_net *ex = make_net(in, outs, 1, 5, &oc), *est = make_net(in, outs, 1, 5, &oc);
  lpdm_distance *dist = NULL;
  if (!loss || !ex || !est || lpdm_distance_new(ctx, dkind("euclidean"), NULL, &dist) ||
      set_local(est, 0, 4, 0, k, 12345)) {
    ok(0, "%s: set up (%s)", label, lpdm_ctx_message(ctx));
    lpdm_net_free(ex);
    lpdm_net_free(est);
    lpdm_distance_free(dist);
    lpdm_loss_free(loss);
    free(X);
    free(g);
    return;
  }
  const float *Y;
  double L0;
  lpdm_layer *le = lpdm_net_layer(ex, 0), *ls = lpdm_net_layer(est, 0);
  const size_t n = le->params[0].n;
  double *G0 = xmalloc(sizeof(double) * n), *gs = calloc(n, sizeof(double)), *gss = calloc(n, sizeof(double));
  int rc = lpdm_net_local_update(ex, ctx, dist, loss, X, B, g, &Y, &L0);
  for (size_t c = 0; c < n; c++) G0[c] = le->params[0].g[c];
  double ls1 = 0, ls2 = 0;
  for (int t = 0; t < draws && !rc; t++) {
    double L;
    rc = lpdm_net_local_update(est, ctx, dist, loss, X, B, g, &Y, &L);
    ls1 += L;
    ls2 += L * L;
    for (size_t c = 0; c < n; c++) {
      const double v = ls->params[0].g[c];
      gs[c] += v;
      gss[c] += v * v;
    }
  }
  if (rc) {
    ok(0, "%s: updates run (%s)", label, lpdm_ctx_message(ctx));
  } else {
    const double mL = ls1 / draws, seL = sqrt(fmax(ls2 / draws - mL * mL, 0) / draws);
    double zmax = 0, num = 0, den = 0;
    for (size_t c = 0; c < n; c++) {
      const double m = gs[c] / draws, se = sqrt(fmax(gss[c] / draws - m * m, 0) / draws);
      zmax = fmax(zmax, fabs(m - G0[c]) / fmax(se, 1e-12));
      num += (m - G0[c]) * (m - G0[c]);
      den += G0[c] * G0[c];
    }
    const double zL = fabs(mL - L0) / fmax(seL, 1e-12), eg = sqrt(num / den), eL = fabs(mL - L0) / L0;
    diag("%s, B = %d, k = %d, %d draws: mean loss %.6g vs exact %.6g (rel %.2g, %.1f SE); mean gradient rel err %.3g, "
         "worst coordinate %.1f SE",
         label, B, k, draws, mL, L0, eL, zL, eg, zmax);
    if (unbiased) {
      ok(zL <= 4.5 && zmax <= 4.5,
         "%s, k = %d: unbiased, the mean over %d draws is the exact loss and gradient within 4.5 SE (%.1f, %.1f)", label,
         k, draws, zL, zmax);
    } else {
      ok(eL <= 0.1 && eg <= 0.1,
         "%s, k = %d: the mean over %d draws is within 10%% of the exact loss and gradient (%.2g, %.2g)", label, k, draws,
         eL, eg);
    }
    if (bias_out) *bias_out = eL + eg;
  }
  lpdm_net_free(ex);
  lpdm_net_free(est);
  lpdm_distance_free(dist);
  lpdm_loss_free(loss);
  free(X);
  free(g);
  free(G0);
  free(gs);
  free(gss);
}

static void check_partners_exact_and_repeat(void) {
  const int B = 40, in = 5, outs[1] = {6};
  float *X = xmalloc(sizeof(float) * B * in), *g = xmalloc(sizeof(float) * B);
  fill(X, (size_t)B * in, 1.0);
  for (int i = 0; i < B; i++) g[i] = (float)lpdm_rng_uniform(&rng);
  lpdm_optim_cfg oc = lpdm_optim_default(LPDM_OPT_ADAM, 1e-3);
  lpdm_net *a = make_net(in, outs, 1, 3, &oc), *b = make_net(in, outs, 1, 3, &oc);
  lpdm_net *c = make_net(in, outs, 1, 3, &oc), *d = make_net(in, outs, 1, 3, &oc);
  lpdm_distance *dist = NULL;
  lpdm_loss *loss = make_loss("guided", NULL, NULL, NULL, NULL);
  lpdm_distance_new(ctx, dkind("euclidean"), NULL, &dist);
  set_local(b, 0, 7, 0, B + 5, 0); /* k >= B - 1: every pair */
  set_local(c, 0, 7, 0, 5, 42);
  set_local(d, 0, 7, 0, 5, 42);
  double La, Lb, Lc, Ld;
  const float *Y;
  int rc = lpdm_net_local_update(a, ctx, dist, loss, X, B, g, &Y, &La);
  if (!rc) rc = lpdm_net_local_update(b, ctx, dist, loss, X, B, g, &Y, &Lb);
  double sw, ew = rc ? 1 : net_diff(a, b, 0, &sw);
  ok(!rc && fabs(La - Lb) <= 1e-5 * La && ew <= 1e-6,
     "partners = B + 5 (every pair): the exact update (loss %.9g vs %.9g, weights within %.2g)", Lb, La, ew);
  for (int t = 0; t < 3 && !rc; t++) {
    rc = lpdm_net_local_update(c, ctx, dist, loss, X, B, g, &Y, &Lc);
    if (!rc) rc = lpdm_net_local_update(d, ctx, dist, loss, X, B, g, &Y, &Ld);
  }
  ok(!rc && Lc == Ld && net_same_bits(c, d), "partners = 5, the same seed: the same draws, bit for bit");
  /* the partners' generator travels with the net in a checkpoint: c saved,
     stepped; d loaded from c's file, stepped: the same draws */
  lpdm_st *st = NULL;
  rc = rc ? rc : lpdm_st_new(ctx, &st);
  if (!rc) rc = lpdm_net_save(c, ctx, st, "n", 1);
  if (!rc) rc = lpdm_net_local_update(c, ctx, dist, loss, X, B, g, &Y, &Lc);
  if (!rc) rc = lpdm_net_local_update(d, ctx, dist, loss, X, B, g, &Y, &Ld); /* d moves on: other draws */
  if (!rc) rc = lpdm_net_load(d, ctx, st, "n", 1);
  if (!rc) rc = lpdm_net_local_update(d, ctx, dist, loss, X, B, g, &Y, &Ld);
  ok(!rc && lpdm_st_get(st, "n.partner_rng", NULL, NULL, NULL, NULL) && Lc == Ld && net_same_bits(c, d),
     "partners: the generator is saved as n.partner_rng, and a loaded net draws what the saved one did (%s)",
     rc ? lpdm_ctx_message(ctx) : "");
  lpdm_st_free(st);
  lpdm_net_free(a);
  lpdm_net_free(b);
  lpdm_net_free(c);
  lpdm_net_free(d);
  lpdm_distance_free(dist);
  lpdm_loss_free(loss);
  free(X);
  free(g);
}

int main(void) {
  ctx = fx_ctx();
  lpdm_rng_seed(&rng, 2025);
  check_distance("euclidean");
  check_distance("sqeuclidean");

  check_loss("loss.stress", make_loss("stress", NULL, NULL, NULL, NULL));
  check_loss("loss.stress normalize=false", make_loss("stress", "normalize", "false", NULL, NULL));
  check_loss("loss.guided", make_loss("guided", NULL, NULL, NULL, NULL));
  check_loss("loss.guided alpha=0.3", make_loss("guided", "alpha", "0.3", NULL, NULL));
  check_loss("loss.guided alpha=1 normalize=false", make_loss("guided", "alpha", "1", "normalize", "false"));
  check_loss("loss.kernel anchor=1", make_loss("kernel", "anchor", "1", NULL, NULL));
  check_loss("loss.kernel alpha=0.3 sigma=0.5", make_loss("kernel", "alpha", "0.3", "sigma", "0.5"));
  check_loss("loss.kernel kind=sq normalize=false", make_loss("kernel", "kind", "sq", "normalize", "false"));

  check_host(300, 64, "euclidean", "guided", 1);
  check_host(700, 64, "euclidean", "guided", 1);
  check_host(300, 100, "euclidean", "guided", 1);
  check_host(700, 100, "euclidean", "stress", 0);
  check_host(300, 64, "sqeuclidean", "stress", 1);
  check_host(700, 64, "sqeuclidean", "guided", 0);
  check_host(300, 64, "euclidean", "kernel", 1);

  check_fallback();

  check_partners_exact_and_repeat();
  check_partners("guided normalize=false", make_loss("guided", "normalize", "false", NULL, NULL), 10, 3, 20000, 1, NULL);
  check_partners("stress normalize=false", make_loss("stress", "normalize", "false", NULL, NULL), 10, 2, 20000, 1, NULL);
  double b2 = 0, b6 = 0;
  check_partners("guided", make_loss("guided", NULL, NULL, NULL, NULL), 10, 2, 20000, 0, &b2);
  check_partners("guided", make_loss("guided", NULL, NULL, NULL, NULL), 10, 6, 20000, 0, &b6);
  ok(b6 < b2, "guided (normalised): the estimate's bias shrinks from k = 2 to k = 6 (%.3g -> %.3g): consistent", b2, b6);

  lpdm_ctx_free(ctx);
  return done_testing();
}
