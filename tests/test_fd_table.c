/* SPDX-License-Identifier: MIT */
/* test_fd_table.c -- one finite-difference gradient check for EVERY
   differentiable plugin the build registers, through the plugin ABI only.

   All plugins of LPDM_PLUGIN_DIR are loaded and enumerated with
   lpdm_plugin_count / lpdm_plugin_at. Each distance, each loss and each
   layer with a backward must have at least one entry in `table` below
   ({name, config text, input width, tolerance}); a registered one without
   an entry fails with "no FD entry for <name>: add one to
   tests/test_fd_table.c", so a new plugin cannot land without a check.
   Black-box layers (backward == NULL) are listed as skipped, and so are
   losses that name a learning rule (ABI 2.3; tests/test_rules.c checks
   the rules' gradients). An entry whose
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
   The checks are liblpdm's lpdm_fd_distance / lpdm_fd_loss / lpdm_fd_layer
   (lpdm/gradcheck.h, through tests/gradcheck.h). Piecewise-smooth plugins (manhattan, chebyshev, relu, leaky_relu) have kinks: a
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
#include "gradcheck.h"

#define MAX_COORDS 200

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
    /* the activations besides tanh (tests/test_acts.c checks them in the tails too) */
    {"layer.dense", "out=6 act=sigmoid", 5, 1e-2},
    {"layer.dense", "out=6 act=elu", 5, 1e-2},
    {"layer.dense", "out=6 act=gelu", 5, 1e-2},
    {"layer.dense", "out=6 act=silu", 5, 1e-2},
    {"layer.dense", "out=6 act=leaky_relu", 5, 1e-2},
    {"layer.dense", "out=6 act=softplus", 5, 1e-2},
    {"layer.dense", "out=6 act=gelu norm=layer", 5, 1e-2},
    {"layer.flatten", "", 12, 1e-2},
    /* GUESS, for the lead to adjust to conv2d's final keys: a 2 x 5 x 5 input */
    {"layer.conv2d", "in_channels=2 height=5 width=5 out_channels=3 kernel=3 stride=1 padding=1", 50, 1e-2},
    {"layer.conv2d", "in_channels=2 height=5 width=5 out_channels=3 kernel=3 stride=1 padding=1 act=sigmoid", 50, 1e-2},
    {"layer.conv2d", "in_channels=2 height=5 width=5 out_channels=3 kernel=3 stride=1 padding=1 act=elu", 50, 1e-2},
    {"layer.conv2d", "in_channels=2 height=5 width=5 out_channels=3 kernel=3 stride=1 padding=1 act=gelu", 50, 1e-2},
    {"layer.conv2d", "in_channels=2 height=5 width=5 out_channels=3 kernel=3 stride=1 padding=1 act=silu", 50, 1e-2},
    /* leaky_relu: few outputs per weight (stride 2), so that few weights move one across the kink by h */
    {"layer.conv2d", "in_channels=2 height=5 width=5 out_channels=3 kernel=3 stride=2 padding=0 act=leaky_relu", 50, 1e-2},
    {"layer.conv2d", "in_channels=2 height=5 width=5 out_channels=3 kernel=3 stride=1 padding=1 act=softplus", 50, 1e-2},
};
#define NTABLE ((int)(sizeof table / sizeof table[0]))

static lpdm_ctx *ctx;
static lpdm_rng rng;

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

/* lpdm_fd_default with the entry's tolerance: h = 1e-2, kinks left out,
   at most MAX_COORDS coordinates per tensor. */
static lpdm_fd_opts entry_opts(const fd_entry *e, double scale) {
  lpdm_fd_opts o = lpdm_fd_default();
  o.tol = e->tol;
  o.max_coords = MAX_COORDS;
  o.scale = scale;
  return o;
}

static void check_distance(const lpdm_plugin *p, const fd_entry *e, const char *label) {
  lpdm_config cfg;
  lpdm_distance *dist = NULL;
  if (entry_config(p, e, &cfg) || lpdm_distance_new(ctx, (const lpdm_distance_kind *)p, &cfg, &dist)) {
    ok(0, "%s: created (%s)", label, lpdm_ctx_message(ctx));
    return;
  }
  const lpdm_fd_opts o = entry_opts(e, 3.0); /* spread out: few coordinates near a kink */
  lpdm_fd_result r;
  if (lpdm_fd_distance(ctx, dist, 6, e->width, &o, &rng, &r)) {
    ok(0, "%s: pairwise and vjp run (%s)", label, lpdm_ctx_message(ctx));
  } else if (strstr(e->config, "detach_scale=true")) { /* drops a term on purpose: must NOT match */
    ok(r.err > e->tol,
       "%s: the detached vjp differs from finite differences (rel err %.2g: the batch scale is held constant)", label,
       r.err);
  } else {
    gc_ok(&r, e->tol, label, "vjp dX");
  }
  lpdm_distance_free(dist);
}

static void check_loss(const lpdm_plugin *p, const fd_entry *e, const char *label) {
  lpdm_config cfg;
  lpdm_loss *loss = NULL;
  if (entry_config(p, e, &cfg) || lpdm_loss_new(ctx, (const lpdm_loss_kind *)p, &cfg, &loss)) {
    ok(0, "%s: created (%s)", label, lpdm_ctx_message(ctx));
    return;
  }
  const lpdm_fd_opts o = entry_opts(e, 1.0);
  lpdm_fd_result r;
  if (lpdm_fd_loss(ctx, loss, e->width, &o, &rng, &r)) ok(0, "%s: eval runs (%s)", label, lpdm_ctx_message(ctx));
  else gc_ok(&r, e->tol, label, "dL/dDY");
  lpdm_loss_free(loss);
}

static void check_layer(const lpdm_plugin *p, const fd_entry *e, const char *label) {
  const lpdm_layer_kind *k = (const lpdm_layer_kind *)p;
  lpdm_config cfg;
  lpdm_layer *l = NULL;
  if (entry_config(p, e, &cfg) || k->init(k, &cfg, e->width, &rng, &l, ctx)) {
    ok(0, "%s: init with width %d (%s)", label, e->width, lpdm_ctx_message(ctx));
    return;
  }
  const lpdm_fd_opts o = entry_opts(e, 1.0);
  lpdm_fd_layer_result r;
  if (lpdm_fd_layer(ctx, l, 3, &o, &rng, &r)) {
    ok(0, "%s: forward and backward run (%s)", label, lpdm_ctx_message(ctx));
  } else {
    gc_ok(&r.dX, e->tol, label, "dX");
    for (int j = 0; j < l->nparams; j++) {
      char what[64];
      snprintf(what, sizeof what, "d/d%s", l->params[j].name ? l->params[j].name : "param");
      gc_ok(&r.param[j], e->tol, label, what);
    }
  }
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
      if (p->kind == LPDM_KIND_LOSS && ((const lpdm_loss_kind *)p)->rule) { /* no eval: a learning rule */
        skip("%s names the learning rule '%s': tests/test_rules.c checks its gradients", p->name,
             ((const lpdm_loss_kind *)p)->rule);
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
