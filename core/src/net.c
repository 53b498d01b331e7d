/* SPDX-License-Identifier: MIT */
/* net.c -- networks: a stack of layers, each with its own optimizer, and
   the two ways to train them.

   bp mode: lpdm_net_train_forward keeps each layer's output (act[i]) and a
   copy of the input (lpdm_net_train_forward_ref: a pointer to it);
   lpdm_net_backward walks back through them.

   local mode (lpdm_net_local_update): the batch flows forward once. For
   each trainable layer l with input X_l:
       Y   = layer(X_l)
       DX  = dist(X_l), DY = dist(Y)
       L, dDY = loss(DX, DY, g)
       dY  = vjp(Y, DY, dDY)
       grads = layer.backward(X_l, Y, dY)        (own parameters only)
       step the layer's optimizer
       Y   = layer(X_l) again ("post") or kept ("pre")
   then Y becomes the next layer's input and X_l is dropped: two ping-pong
   buffers of B x max width and the B x B matrices are all the working
   memory, whatever the depth. A black-box layer (no backward) is applied
   and not trained. Buffers grow to the largest batch seen and are reused:
   after the first update of a given size, nothing is allocated.

   When the distance has pairwise_upper/vjp_upper and the loss eval_upper
   (ABI 2.1: euclidean with stress or guided), the three middle steps work
   on the upper triangles of the symmetric matrices only: no mirror, no
   transpose, half the O(B^2) passes (docs/performance.md). Otherwise the
   whole matrices, as above.

   Large batches (lpdm_local_cfg): when the whole matrices would exceed the
   net's budget, or the net asks for it, and the distance and the loss both
   have the ABI 1.2 row callbacks, local_blocked() replaces the middle
   three steps by passes over blocks of rows:
       acc = 0
       for each of the loss's statistics passes, for each block [i0, i1):
           DXb = dist rows(X_l), DYb = dist rows(Y), loss rows -> acc
       dY = 0; for each block:
           DXb, DYb again, loss rows -> L, dDYb;  dY += vjp rows(DYb, dDYb)
   so that only blocks of rows exist (3 x block x B floats and the
   distance's work), and the order of every sum is fixed. With partners
   = k the blocks are block x k: each row's k random partners. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct buf {
  float *p;
  size_t cap;
} buf;

struct lpdm_net {
  int in_dim, depth, cap;
  lpdm_layer **layers;
  lpdm_optim **opt;
  unsigned char *lr_kept; /* per layer: the user's rate, algorithms keep it */
  int post;
  /* bp */
  int B_train;
  buf in_copy;
  const float *x_train; /* the input backward reads: in_copy.p, or the caller's (train_forward_ref) */
  buf *act;
  buf gA, gB;
  /* inference and local */
  buf yA, yB, DX, DY, dD, dY, work;
  buf dS; /* a signal update's own gradient */
  /* large batches: options, the partners' generator, partners and marks */
  lpdm_local_cfg local;
  lpdm_rng prng;
  int *ib;
  size_t icap;
};

static int grow(lpdm_ctx *ctx, buf *b, size_t n) { return lpdm__grow(ctx, &b->p, &b->cap, n); }
static void buf_free(buf *b) {
  free(b->p);
  b->p = NULL;
  b->cap = 0;
}

int lpdm_net_new(lpdm_ctx *ctx, int in_dim, lpdm_net **out) {
  *out = NULL;
  if (in_dim < 1) return lpdm_error(ctx, LPDM_ERR_ARG, "net: inputs must be >= 1, got %d", in_dim);
  lpdm_net *n = calloc(1, sizeof *n);
  if (!n) return lpdm_error(ctx, LPDM_ERR_MEM, "net: out of memory");
  n->in_dim = in_dim;
  n->post = 1;
  n->local = lpdm_local_default();
  lpdm_rng_seed(&n->prng, n->local.seed);
  *out = n;
  return LPDM_OK;
}

lpdm_local_cfg lpdm_local_default(void) {
  lpdm_local_cfg c = {0, 256, (size_t)1 << 30, 0, 0};
  return c;
}

int lpdm_net_set_local(lpdm_net *n, lpdm_ctx *ctx, const lpdm_local_cfg *cfg) {
  if (cfg->block < 1) return lpdm_error(ctx, LPDM_ERR_ARG, "net: local block must be >= 1 rows, got %d", cfg->block);
  if (cfg->budget < 1) return lpdm_error(ctx, LPDM_ERR_ARG, "net: local budget must be >= 1 byte, got 0");
  if (cfg->partners < 0)
    return lpdm_error(ctx, LPDM_ERR_ARG, "net: local partners must be >= 0 (0: every pair), got %d", cfg->partners);
  n->local = *cfg;
  n->local.blocked = cfg->blocked != 0;
  lpdm_rng_seed(&n->prng, cfg->seed);
  return LPDM_OK;
}

lpdm_local_cfg lpdm_net_local(const lpdm_net *n) { return n->local; }

lpdm_rng *lpdm__net_partner_rng(lpdm_net *n) { return &n->prng; }

void lpdm_net_free(lpdm_net *n) {
  if (!n) return;
  for (int i = 0; i < n->depth; i++) {
    lpdm_optim_free(n->opt[i]);
    n->layers[i]->kind->free(n->layers[i]);
    if (n->act) buf_free(&n->act[i]);
  }
  free(n->layers);
  free(n->opt);
  free(n->lr_kept);
  free(n->act);
  free(n->ib);
  buf *bs[] = {&n->in_copy, &n->gA, &n->gB, &n->yA, &n->yB, &n->DX, &n->DY, &n->dD, &n->dY, &n->work, &n->dS};
  for (size_t i = 0; i < sizeof bs / sizeof *bs; i++) buf_free(bs[i]);
  free(n);
}

int lpdm_net_in_dim(const lpdm_net *n) { return n->in_dim; }
int lpdm_net_out_dim(const lpdm_net *n) {
  return n->depth ? n->layers[n->depth - 1]->out_dim : n->in_dim;
}
int lpdm_net_depth(const lpdm_net *n) { return n->depth; }
lpdm_layer *lpdm_net_layer(lpdm_net *n, int i) { return i >= 0 && i < n->depth ? n->layers[i] : NULL; }
lpdm_optim *lpdm_net_optim(lpdm_net *n, int i) { return i >= 0 && i < n->depth ? n->opt[i] : NULL; }
void lpdm_net_set_propagate_post(lpdm_net *n, int post) { n->post = post != 0; }
void lpdm_net_keep_lr(lpdm_net *n, int i, int on) {
  for (int j = 0; j < n->depth; j++)
    if (i < 0 || i == j) n->lr_kept[j] = on != 0;
}
int lpdm_net_lr_kept(const lpdm_net *n, int i) { return i >= 0 && i < n->depth && n->lr_kept[i]; }

static int max_width(const lpdm_net *n) {
  int w = n->in_dim;
  for (int i = 0; i < n->depth; i++)
    if (n->layers[i]->out_dim > w) w = n->layers[i]->out_dim;
  return w;
}

int lpdm_net_add(lpdm_net *n, lpdm_ctx *ctx, const lpdm_layer_kind *k, const lpdm_config *cfg,
                 lpdm_rng *rng, const lpdm_optim_cfg *ocfg) {
  if (n->depth == n->cap) {
    int nc = n->cap ? 2 * n->cap : 4;
    lpdm_layer **nl = realloc(n->layers, (size_t)nc * sizeof *nl);
    if (!nl) return lpdm_error(ctx, LPDM_ERR_MEM, "net: out of memory");
    n->layers = nl;
    lpdm_optim **no = realloc(n->opt, (size_t)nc * sizeof *no);
    if (!no) return lpdm_error(ctx, LPDM_ERR_MEM, "net: out of memory");
    n->opt = no;
    unsigned char *nk = realloc(n->lr_kept, (size_t)nc);
    if (!nk) return lpdm_error(ctx, LPDM_ERR_MEM, "net: out of memory");
    memset(nk + n->cap, 0, (size_t)(nc - n->cap));
    n->lr_kept = nk;
    buf *na = realloc(n->act, (size_t)nc * sizeof *na);
    if (!na) return lpdm_error(ctx, LPDM_ERR_MEM, "net: out of memory");
    memset(na + n->cap, 0, (size_t)(nc - n->cap) * sizeof *na);
    n->act = na;
    n->cap = nc;
  }
  lpdm_config c;
  int rc;
  if (cfg) c = *cfg;
  else if ((rc = lpdm_config_init(ctx, &k->head, &c))) return rc;
  int in = lpdm_net_out_dim(n);
  lpdm_layer *l = NULL;
  rc = k->init(k, &c, in, rng, &l, ctx);
  if (c.bad.n) { /* a read of an undeclared key: the root cause, whatever init returned */
    if (!rc && l) k->free(l);
    return lpdm_ctx_prefix(ctx, lpdm__cfg_after(ctx, &c, &k->head, rc), "layer %d", n->depth + 1);
  }
  if (rc) return lpdm_ctx_prefix(ctx, rc, "layer %d (%s)", n->depth + 1, k->head.name);
  if (!l) return lpdm_error(ctx, LPDM_ERR, "layer %d (%s): init returned no layer", n->depth + 1, k->head.name);
  l->kind = k;
  l->cfg = c;
  if (l->in_dim != in || l->out_dim < 1) {
    int got = l->in_dim;
    k->free(l);
    return lpdm_error(ctx, LPDM_ERR_ARG, "layer %d (%s): widths do not chain (input %d, previous output %d)",
                      n->depth + 1, k->head.name, got, in);
  }
  lpdm_optim_cfg oc = ocfg ? *ocfg : lpdm_optim_default(LPDM_OPT_ADAM, 1e-3);
  lpdm_optim *o = NULL;
  rc = lpdm_optim_new(ctx, &oc, l->params, l->nparams, &o);
  if (rc) {
    k->free(l);
    return lpdm_ctx_prefix(ctx, rc, "layer %d (%s)", n->depth + 1, k->head.name);
  }
  n->layers[n->depth] = l;
  n->opt[n->depth] = o;
  n->depth++;
  return LPDM_OK;
}

int lpdm_net_set_optim(lpdm_net *n, lpdm_ctx *ctx, int i, const lpdm_optim_cfg *ocfg) {
  if (i < -1 || i >= n->depth)
    return lpdm_error(ctx, LPDM_ERR_ARG, "net: no layer %d (depth %d)", i + 1, n->depth);
  int lo = i < 0 ? 0 : i, hi = i < 0 ? n->depth : i + 1;
  for (int j = lo; j < hi; j++) {
    lpdm_optim *o = NULL;
    int rc = lpdm_optim_new(ctx, ocfg, n->layers[j]->params, n->layers[j]->nparams, &o);
    if (rc) return rc;
    lpdm_optim_free(n->opt[j]);
    n->opt[j] = o;
  }
  return LPDM_OK;
}

int lpdm_net_clone(lpdm_net *src, lpdm_ctx *ctx, lpdm_rng *rng, lpdm_net **out) {
  lpdm_net *n = NULL;
  int rc = lpdm_net_new(ctx, src->in_dim, &n);
  if (rc) return rc;
  n->post = src->post;
  n->local = src->local;
  lpdm_rng_seed(&n->prng, n->local.seed);
  for (int i = 0; i < src->depth; i++) {
    lpdm_layer *l = src->layers[i];
    if ((rc = lpdm_net_add(n, ctx, l->kind, &l->cfg, rng, lpdm_optim_config(src->opt[i])))) {
      lpdm_net_free(n);
      return rc;
    }
    n->lr_kept[i] = src->lr_kept[i];
  }
  *out = n;
  return LPDM_OK;
}

size_t lpdm_net_param_count(const lpdm_net *n) {
  size_t s = 0;
  for (int i = 0; i < n->depth; i++)
    for (int j = 0; j < n->layers[i]->nparams; j++) s += n->layers[i]->params[j].n;
  return s;
}

/* Which features a head sees (lpdm.h): bp keeps the activations, local lets
   the step (the algorithm's rule) train the net first, frozen only runs it. */
int lpdm_net_features(lpdm_net *n, lpdm_ctx *ctx, int mode, const lpdm_local_step *step, const float *X, int B,
                      float *scratch, const float **Y) {
  if (mode == LPDM_FEAT_BP) return lpdm_net_train_forward(n, ctx, X, B, Y);
  if (mode != LPDM_FEAT_LOCAL && mode != LPDM_FEAT_FROZEN)
    return lpdm_error(ctx, LPDM_ERR_ARG, "net: features mode must be bp, local or frozen, got %d", mode);
  if (n->depth == 0) {
    *Y = X;
    return LPDM_OK;
  }
  if (mode == LPDM_FEAT_LOCAL && step && step->update && B >= step->min_batch)
    return step->update(step->arg, n, ctx, X, B, Y);
  *Y = scratch;
  return lpdm_net_forward(n, ctx, X, B, scratch);
}

size_t lpdm_net_work_bytes(const lpdm_net *n) {
  size_t s = n->in_copy.cap + n->gA.cap + n->gB.cap + n->yA.cap + n->yB.cap + n->DX.cap + n->DY.cap +
             n->dD.cap + n->dY.cap + n->work.cap;
  for (int i = 0; i < n->depth; i++) s += n->act[i].cap;
  return s * sizeof(float) + n->icap * sizeof(int);
}

/* A step that overflowed leaves Inf or NaN in the weights: stop there. */
static int check_params(lpdm_ctx *ctx, const lpdm_layer *l) {
  for (int j = 0; j < l->nparams; j++) {
    int rc = lpdm_check_finite(ctx, l->params[j].w, l->params[j].n, l->params[j].name);
    if (rc) return rc;
  }
  return LPDM_OK;
}

static int layer_fail(lpdm_ctx *ctx, int rc, int i, const lpdm_layer *l, const char *what) {
  return lpdm_ctx_prefix(ctx, rc, "layer %d (%s) %s", i + 1, l->kind->head.name, what);
}

/* ------------------------------------------------------------ inference */

/* After the plugins' callbacks ran: a bad config read by any layer, the
   distance or the loss (plugin.h, lpdm_config) fails the call, naming the
   plugin and the key, whatever the call returned; else rc. */
static int cfg_after(const lpdm_net *n, lpdm_ctx *ctx, int rc, const lpdm_distance *dist, const lpdm_loss *loss) {
  for (int i = 0; i < n->depth; i++)
    if (n->layers[i]->cfg.bad.n)
      return lpdm_ctx_prefix(ctx, lpdm__cfg_after(ctx, &n->layers[i]->cfg, &n->layers[i]->kind->head, rc), "layer %d",
                             i + 1);
  if (dist && dist->cfg.bad.n) return lpdm__cfg_after(ctx, &dist->cfg, &dist->kind->head, rc);
  if (loss && loss->cfg.bad.n) return lpdm__cfg_after(ctx, &loss->cfg, &loss->kind->head, rc);
  return rc;
}

static int net_forward(lpdm_net *n, lpdm_ctx *ctx, const float *X, int B, float *Y) {
  if (B < 1) return lpdm_error(ctx, LPDM_ERR_ARG, "net: batch size must be >= 1, got %d", B);
  if (n->depth == 0) {
    memmove(Y, X, (size_t)B * n->in_dim * sizeof(float));
    return LPDM_OK;
  }
  size_t need = (size_t)B * max_width(n);
  int rc;
  if ((rc = grow(ctx, &n->yA, need)) || (rc = grow(ctx, &n->yB, need))) return rc;
  const float *cur = X;
  for (int i = 0; i < n->depth; i++) {
    float *out = i == n->depth - 1 ? Y : (cur == n->yA.p ? n->yB.p : n->yA.p);
    rc = n->layers[i]->kind->forward(n->layers[i], cur, B, out, ctx);
    if (rc) return layer_fail(ctx, rc, i, n->layers[i], "forward");
    cur = out;
  }
  return LPDM_OK;
}

int lpdm_net_forward(lpdm_net *n, lpdm_ctx *ctx, const float *X, int B, float *Y) {
  return cfg_after(n, ctx, net_forward(n, ctx, X, B, Y), NULL, NULL);
}

/* ------------------------------------------------------------ bp */

/* keep: 1 copies X (backward may come after the caller changed it), 0
   keeps the pointer (the caller promises X stays as it is until backward):
   the copy was 10% of PPO bp on CartPole, glibc's memcpy of the heads'
   B x 64 inputs being slow on the project's machine. */
static int net_train_forward(lpdm_net *n, lpdm_ctx *ctx, const float *X, int B, const float **Y, int keep) {
  if (B < 1) return lpdm_error(ctx, LPDM_ERR_ARG, "net: batch size must be >= 1, got %d", B);
  int rc;
  if (keep) {
    if ((rc = grow(ctx, &n->in_copy, (size_t)B * n->in_dim))) return rc;
    memcpy(n->in_copy.p, X, (size_t)B * n->in_dim * sizeof(float));
    X = n->in_copy.p;
  }
  n->x_train = X;
  n->B_train = B;
  const float *cur = X;
  for (int i = 0; i < n->depth; i++) {
    lpdm_layer *l = n->layers[i];
    if ((rc = grow(ctx, &n->act[i], (size_t)B * l->out_dim))) return rc;
    rc = l->kind->forward(l, cur, B, n->act[i].p, ctx);
    if (rc) return layer_fail(ctx, rc, i, l, "forward");
    cur = n->act[i].p;
  }
  *Y = cur;
  return LPDM_OK;
}

int lpdm_net_train_forward(lpdm_net *n, lpdm_ctx *ctx, const float *X, int B, const float **Y) {
  return cfg_after(n, ctx, net_train_forward(n, ctx, X, B, Y, 1), NULL, NULL);
}

int lpdm_net_train_forward_ref(lpdm_net *n, lpdm_ctx *ctx, const float *X, int B, const float **Y) {
  return cfg_after(n, ctx, net_train_forward(n, ctx, X, B, Y, 0), NULL, NULL);
}

static int net_backward(lpdm_net *n, lpdm_ctx *ctx, float *dOut, float *dX) {
  int B = n->B_train;
  if (B < 1) return lpdm_error(ctx, LPDM_ERR_ARG, "net: backward without train_forward");
  if (n->depth == 0) {
    if (dX) memmove(dX, dOut, (size_t)B * n->in_dim * sizeof(float));
    return LPDM_OK;
  }
  size_t need = (size_t)B * max_width(n);
  int rc;
  if ((rc = grow(ctx, &n->gA, need)) || (rc = grow(ctx, &n->gB, need))) return rc;
  float *g = dOut;
  for (int i = n->depth - 1; i >= 0; i--) {
    lpdm_layer *l = n->layers[i];
    if (!l->kind->backward) { /* a black box: straight through, if asked for and the widths agree */
      int st = lpdm_config_index(&l->cfg, "straight_through"); /* optional: not every black box declares it */
      if (st < 0 || l->cfg.keys[st].type != LPDM_T_BOOL || !l->cfg.v[st].num)
        return lpdm_error(ctx, LPDM_ERR_ARG,
                          "layer %d (%s) is a black box (no backward): backpropagation cannot pass it; "
                          "use mode=local, or set straight_through=true on it to pass the gradient unchanged",
                          i + 1, l->kind->head.name);
      if (l->in_dim != l->out_dim)
        return lpdm_error(ctx, LPDM_ERR_ARG,
                          "layer %d (%s): straight_through passes the gradient unchanged, which needs equal "
                          "input and output widths, but it maps %d to %d; use mode=local",
                          i + 1, l->kind->head.name, l->in_dim, l->out_dim);
      if (i == 0 && dX) memmove(dX, g, (size_t)B * l->in_dim * sizeof(float));
      continue; /* dX = dY: g stays where it is */
    }
    const float *in = i == 0 ? n->x_train : n->act[i - 1].p;
    float *gin = i == 0 ? dX : (g == n->gA.p ? n->gB.p : n->gA.p);
    rc = l->kind->backward(l, in, n->act[i].p, B, g, gin, ctx);
    if (rc) return layer_fail(ctx, rc, i, l, "backward");
    g = gin;
  }
  return LPDM_OK;
}

/* The layers that backpropagation cannot pass, all named at once (an
   algorithm's bp mode calls this when it is built, before any step): a
   black box without straight_through, or with it but other widths. */
int lpdm_net_check_backward(const lpdm_net *n, lpdm_ctx *ctx, const char *what) {
  char list[512] = "";
  size_t len = 0;
  int bad = 0;
  for (int i = 0; i < n->depth; i++) {
    const lpdm_layer *l = n->layers[i];
    if (l->kind->backward) continue;
    int st = lpdm_config_index(&l->cfg, "straight_through");
    int pass = st >= 0 && l->cfg.keys[st].type == LPDM_T_BOOL && l->cfg.v[st].num;
    if (pass && l->in_dim == l->out_dim) continue;
    int lb = lpdm_config_index(&l->cfg, "label");
    const char *label = lb >= 0 && l->cfg.keys[lb].type == LPDM_T_STRING ? l->cfg.v[lb].str : "";
    if (len < sizeof list - 1)
      len += (size_t)snprintf(list + len, sizeof list - len, "%slayer %d (%s%s%s%s%s)", bad ? ", " : "", i + 1,
                              lpdm_plugin_short(&l->kind->head), *label ? " '" : "", label, *label ? "'" : "",
                              pass ? ", straight_through but maps a width to another" : "");
    bad++;
  }
  if (!bad) return LPDM_OK;
  return lpdm_error(ctx, LPDM_ERR_ARG,
                    "%s: mode bp cannot backpropagate through %s black box%s (no backward): %s; use mode=local, or "
                    "set straight_through=true on %s to pass the gradient unchanged (it needs equal input and "
                    "output widths)",
                    what, bad == 1 ? "a" : "these", bad == 1 ? "" : "es", list, bad == 1 ? "it" : "each");
}

int lpdm_net_backward(lpdm_net *n, lpdm_ctx *ctx, float *dOut, float *dX) {
  return cfg_after(n, ctx, net_backward(n, ctx, dOut, dX), NULL, NULL);
}

void lpdm_net_zero_grad(lpdm_net *n) {
  for (int i = 0; i < n->depth; i++) lpdm_optim_zero(n->opt[i]);
}

int lpdm_net_step(lpdm_net *n, lpdm_ctx *ctx, float scale) {
  for (int i = 0; i < n->depth; i++) {
    if (!n->layers[i]->kind->backward) continue;
    int rc = lpdm_optim_step(n->opt[i], ctx, scale);
    if (rc) return layer_fail(ctx, rc, i, n->layers[i], "step");
    if ((rc = check_params(ctx, n->layers[i]))) return layer_fail(ctx, rc, i, n->layers[i], "weights after step");
  }
  return LPDM_OK;
}

size_t lpdm_net_grad_count(const lpdm_net *n) {
  size_t c = 0;
  for (int i = 0; i < n->depth; i++) c += lpdm_optim_grad_count(n->opt[i]);
  return c;
}

float *lpdm_net_grad_get(const lpdm_net *n, float *dst) {
  for (int i = 0; i < n->depth; i++) dst = lpdm_optim_grad_get(n->opt[i], dst);
  return dst;
}

const float *lpdm_net_grad_set(lpdm_net *n, const float *src) {
  for (int i = 0; i < n->depth; i++) src = lpdm_optim_grad_set(n->opt[i], src);
  return src;
}

double lpdm_net_grad_sq(const lpdm_net *n) {
  double s = 0;
  for (int i = 0; i < n->depth; i++) s += lpdm_optim_grad_sq(n->opt[i]);
  return s;
}

/* ------------------------------------------------------------ local */

/* After a layer's dY: its gradients, one optimizer step, the weights
   checked and, with post, its output again. */
static int local_step(lpdm_net *n, lpdm_ctx *ctx, int i, const float *cur, float *out, int B, int post) {
  lpdm_layer *l = n->layers[i];
  lpdm_optim_zero(n->opt[i]);
  int rc = l->kind->backward(l, cur, out, B, n->dY.p, NULL, ctx);
  if (rc) return layer_fail(ctx, rc, i, l, "backward");
  rc = lpdm_optim_step(n->opt[i], ctx, 1.0f);
  if (rc) return layer_fail(ctx, rc, i, l, "step");
  if ((rc = check_params(ctx, l))) return layer_fail(ctx, rc, i, l, "weights after its local step");
  if (post) {
    rc = l->kind->forward(l, cur, B, out, ctx);
    if (rc) return layer_fail(ctx, rc, i, l, "forward");
    rc = lpdm_check_finite(ctx, out, (size_t)B * l->out_dim, "output");
    if (rc) return layer_fail(ctx, rc, i, l, "after its local step");
  }
  return LPDM_OK;
}

static int dist_has_rows(const lpdm_distance *d) {
  const lpdm_distance_kind *k = d->kind;
  return lpdm_abi_has(&k->head, LPDM_ABI_MINOR_ROWS) && k->pairwise_rows && k->vjp_rows;
}

static int loss_has_rows(const lpdm_loss *l) {
  const lpdm_loss_kind *k = l->kind;
  return lpdm_abi_has(&k->head, LPDM_ABI_MINOR_ROWS) && k->eval_rows && k->row_passes >= 1 &&
         k->row_passes <= LPDM_LOSS_MAX_PASSES;
}

static int dist_has_upper(const lpdm_distance *d) {
  const lpdm_distance_kind *k = d->kind;
  return lpdm_abi_has(&k->head, LPDM_ABI_MINOR_UPPER) && k->pairwise_upper && k->vjp_upper;
}

static int loss_has_upper(const lpdm_loss *l) {
  return lpdm_abi_has(&l->kind->head, LPDM_ABI_MINOR_UPPER) && l->kind->eval_upper;
}

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

/* J (B x k): for each row i, k distinct partners j != i, uniform among the
   B - 1 others (Floyd's sampling; mark: B zeros, left zero), sorted.
   k >= B - 1 lists every other row. */
static void draw_partners(lpdm_rng *rng, int B, int k, int *J, int *mark) {
  for (int i = 0; i < B; i++) {
    int *Ji = J + (size_t)i * k;
    if (k >= B - 1) {
      for (int j = 0, t = 0; j < B; j++)
        if (j != i) Ji[t++] = j;
      continue;
    }
    int m = 0;
    for (int v = B - 1 - k; v < B - 1; v++) { /* a k-subset of 0..B-2 */
      int t = (int)lpdm_rng_below(rng, (uint64_t)v + 1);
      if (mark[t]) t = v;
      mark[t] = 1;
      Ji[m++] = t;
    }
    for (int t = 0; t < k; t++) {
      mark[Ji[t]] = 0;
      if (Ji[t] >= i) Ji[t]++; /* 0..B-2 onto the rows other than i */
    }
    qsort(Ji, (size_t)k, sizeof *Ji, cmp_int);
  }
}

/* The row-blocked local update (see the top of this file). */
static int local_blocked(lpdm_net *n, lpdm_ctx *ctx, const lpdm_distance *dist, const lpdm_loss *loss,
                         const float *X, int B, const float *g, const float **Y, double *losses) {
  const int W = max_width(n);
  const int k = n->local.partners <= 0 ? 0 : n->local.partners < B - 1 ? n->local.partners : B - 1;
  const int w = k ? k : B;
  const int nb = n->local.block < B ? n->local.block : B;
  const size_t blk = (size_t)nb * (size_t)w;
  int rc;
  if ((rc = grow(ctx, &n->yA, (size_t)B * W)) || (rc = grow(ctx, &n->yB, (size_t)B * W)) ||
      (rc = grow(ctx, &n->DX, blk)) || (rc = grow(ctx, &n->DY, blk)) || (rc = grow(ctx, &n->dD, blk)) ||
      (rc = grow(ctx, &n->dY, (size_t)B * W)) || (rc = grow(ctx, &n->work, LPDM_DIST_ROWS_WORK(B, W, nb))))
    return rc;
  if (k) {
    const size_t need = (size_t)B * k + (size_t)B;
    if (need > n->icap) {
      int *p = realloc(n->ib, need * sizeof *p);
      if (!p) return lpdm_error(ctx, LPDM_ERR_MEM, "local update: out of memory (%zu partner indices)", need);
      n->ib = p;
      n->icap = need;
    }
    memset(n->ib + (size_t)B * k, 0, (size_t)B * sizeof *n->ib);
  }
  const lpdm_distance_kind *dk = dist->kind;
  const lpdm_loss_kind *lk = loss->kind;
  const int P = lk->row_passes;
  const float *cur = X;
  int cur_dim = n->in_dim;
  for (int i = 0; i < n->depth; i++) {
    lpdm_layer *l = n->layers[i];
    float *out = cur == n->yA.p ? n->yB.p : n->yA.p;
    rc = l->kind->forward(l, cur, B, out, ctx);
    if (rc) return layer_fail(ctx, rc, i, l, "forward");
    if (!l->kind->backward) { /* black box: apply, do not train */
      if (losses) losses[i] = 0;
      cur = out;
      cur_dim = l->out_dim;
      continue;
    }
    if (k) draw_partners(&n->prng, B, k, n->ib, n->ib + (size_t)B * k);
    double acc[LPDM_LOSS_ACC], L = 0;
    memset(acc, 0, sizeof acc);
    lpdm_rows r = {0, 0, w, NULL, k ? (double)B * k : (double)B * (B - 1)};
    for (int pass = 0; pass <= P; pass++) {
      if (pass == P) memset(n->dY.p, 0, (size_t)B * l->out_dim * sizeof(float));
      for (int i0 = 0; i0 < B; i0 += nb) {
        r.i0 = i0;
        r.i1 = i0 + nb < B ? i0 + nb : B;
        r.J = k ? n->ib + (size_t)i0 * k : NULL;
        rc = dk->pairwise_rows(dist, cur, B, cur_dim, &r, n->DX.p, n->work.p, ctx);
        if (rc) return layer_fail(ctx, rc, i, l, "input distances");
        rc = dk->pairwise_rows(dist, out, B, l->out_dim, &r, n->DY.p, n->work.p, ctx);
        if (rc) return layer_fail(ctx, rc, i, l, "output distances");
        if (pass < P) {
          rc = lk->eval_rows(loss, pass, n->DX.p, n->DY.p, g, B, &r, acc, NULL, NULL, ctx);
          if (rc) return layer_fail(ctx, rc, i, l, "local loss");
          continue;
        }
        rc = lk->eval_rows(loss, pass, n->DX.p, n->DY.p, g, B, &r, acc, &L, n->dD.p, ctx);
        if (rc) return layer_fail(ctx, rc, i, l, "local loss");
        if (!isfinite(L))
          return lpdm_error(ctx, LPDM_ERR_NUM, "layer %d (%s): local loss is %g", i + 1, l->kind->head.name, L);
        rc = dk->vjp_rows(dist, out, B, l->out_dim, &r, n->DY.p, n->dD.p, n->dY.p, n->work.p, ctx);
        if (rc) return layer_fail(ctx, rc, i, l, "distance gradient");
      }
    }
    if (losses) losses[i] = L;
    if ((rc = local_step(n, ctx, i, cur, out, B, n->post))) return rc;
    cur = out;
    cur_dim = l->out_dim;
  }
  *Y = cur;
  return LPDM_OK;
}

static void fmt_bytes(char *out, size_t len, double b) {
  static const char *unit[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    u++;
  }
  snprintf(out, len, u ? "%.3g %s" : "%.0f %s", b, unit[u]);
}

/* Which path an update takes: the row-blocked one when asked for (blocked,
   partners) or when the whole matrices exceed the budget, and the distance
   and the loss both have it; else the whole-matrix one, unless the batch
   is over budget or partners were asked for (an error naming the plugin). */
static int choose_blocked(const lpdm_net *n, lpdm_ctx *ctx, const lpdm_distance *dist, const lpdm_loss *loss, int B,
                          int W, int *blocked) {
  const double full = (3.0 * B * (double)B + (double)LPDM_DIST_WORK(B, W)) * sizeof(float);
  const int over = full > (double)n->local.budget, rows_d = dist_has_rows(dist), rows_l = loss_has_rows(loss);
  *blocked = 0;
  if (!n->local.blocked && !n->local.partners && !over) return LPDM_OK;
  if (rows_d && rows_l) {
    *blocked = 1;
    return LPDM_OK;
  }
  if (!n->local.partners && !over) return LPDM_OK; /* asked for, not offered: the whole matrices fit */
  char who[200];
  snprintf(who, sizeof who, "%s%s%s %s no row-blocked path (%s%s%s, ABI 1.2)", rows_d ? "" : dist->kind->head.name,
           !rows_d && !rows_l ? " and " : "", rows_l ? "" : loss->kind->head.name, !rows_d && !rows_l ? "have" : "has",
           rows_d ? "" : "pairwise_rows/vjp_rows", !rows_d && !rows_l ? ", " : "", rows_l ? "" : "eval_rows");
  if (n->local.partners)
    return lpdm_error(ctx, LPDM_ERR_ARG, "local update: partners = %d needs the row callbacks, and %s", n->local.partners,
                      who);
  char need[32], have[32];
  fmt_bytes(need, sizeof need, full);
  fmt_bytes(have, sizeof have, (double)n->local.budget);
  return lpdm_error(ctx, LPDM_ERR_ARG,
                    "local update: a batch of %d needs %s of B x B matrices, over the net's budget of %s, and %s; "
                    "use smaller batches, raise the budget (lpdm_net_set_local), or a distance and a loss that have "
                    "one (distance.euclidean, distance.sqeuclidean, loss.stress, loss.guided)",
                    B, need, have, who);
}

/* The distance and loss callbacks of one local update: the upper
   triangles only when the distance and the loss both can. */
typedef struct match_fns {
  const lpdm_distance *dist;
  const lpdm_loss *loss;
  int (*pairwise)(const lpdm_distance *, const float *, int, int, float *, float *, lpdm_ctx *);
  int (*vjp)(const lpdm_distance *, const float *, int, int, const float *, const float *, float *, float *,
             lpdm_ctx *);
  int (*eval)(const lpdm_loss *, const float *, const float *, const float *, int, double *, float *, lpdm_ctx *);
} match_fns;

static match_fns match_pick(const lpdm_distance *dist, const lpdm_loss *loss) {
  const int up = dist_has_upper(dist) && loss_has_upper(loss);
  const lpdm_distance_kind *dk = dist->kind;
  match_fns f = {dist, loss, up ? dk->pairwise_upper : dk->pairwise, up ? dk->vjp_upper : dk->vjp,
                 up ? loss->kind->eval_upper : loss->kind->eval};
  return f;
}

/* Layer i's distance-matching gradient: DX = dist(cur) (unless have_dx),
   DY = dist(out), *L = loss(DX, DY, g), n->dY = dL/dout. */
static int layer_match(lpdm_net *n, lpdm_ctx *ctx, const match_fns *f, int i, const float *cur, int cur_dim,
                       const float *out, int B, const float *g, int have_dx, float *DX, float *DY, double *L) {
  const lpdm_layer *l = n->layers[i];
  int rc;
  if (!have_dx) {
    rc = f->pairwise(f->dist, cur, B, cur_dim, DX, n->work.p, ctx);
    if (rc) return layer_fail(ctx, rc, i, l, "input distances");
  }
  rc = f->pairwise(f->dist, out, B, l->out_dim, DY, n->work.p, ctx);
  if (rc) return layer_fail(ctx, rc, i, l, "output distances");
  rc = f->eval(f->loss, DX, DY, g, B, L, n->dD.p, ctx);
  if (rc) return layer_fail(ctx, rc, i, l, "local loss");
  if (!isfinite(*L))
    return lpdm_error(ctx, LPDM_ERR_NUM, "layer %d (%s): local loss is %g", i + 1, l->kind->head.name, *L);
  rc = f->vjp(f->dist, out, B, l->out_dim, DY, n->dD.p, n->dY.p, n->work.p, ctx);
  if (rc) return layer_fail(ctx, rc, i, l, "distance gradient");
  return LPDM_OK;
}

static int net_local_update(lpdm_net *n, lpdm_ctx *ctx, const lpdm_distance *dist,
                          const lpdm_loss *loss, const float *X, int B, const float *g,
                          const float **Y, double *losses) {
  if (B < 2) return lpdm_error(ctx, LPDM_ERR_ARG, "local update: batch size must be >= 2, got %d", B);
  if (!dist || !loss) return lpdm_error(ctx, LPDM_ERR_ARG, "local update: needs a distance and a loss");
  if (!loss->kind->eval)
    return lpdm_error(ctx, LPDM_ERR_ARG,
                      "local update: %s is a learning rule, not a distance-matching loss: it trains a trunk "
                      "inside an algorithm (algo.ppo, algo.reinforce, algo.dqn)",
                      loss->kind->head.name);
  if (loss->kind->uses_guidance && !g)
    return lpdm_error(ctx, LPDM_ERR_ARG, "local update: %s needs a guidance signal", loss->kind->head.name);
  if (n->depth == 0) {
    *Y = X;
    return LPDM_OK;
  }
  int W = max_width(n);
  size_t BB = (size_t)B * B;
  int rc, blocked;
  if ((rc = choose_blocked(n, ctx, dist, loss, B, W, &blocked))) return rc;
  if (blocked) return local_blocked(n, ctx, dist, loss, X, B, g, Y, losses);
  if ((rc = grow(ctx, &n->yA, (size_t)B * W)) || (rc = grow(ctx, &n->yB, (size_t)B * W)) ||
      (rc = grow(ctx, &n->DX, BB)) || (rc = grow(ctx, &n->DY, BB)) || (rc = grow(ctx, &n->dD, BB)) ||
      (rc = grow(ctx, &n->dY, (size_t)B * W)) || (rc = grow(ctx, &n->work, LPDM_DIST_WORK(B, W))))
    return rc;
  match_fns f = match_pick(dist, loss);
  const float *cur = X;
  int cur_dim = n->in_dim;
  float *DX = n->DX.p, *DY = n->DY.p;
  int have_dx = 0;
  for (int i = 0; i < n->depth; i++) {
    lpdm_layer *l = n->layers[i];
    float *out = cur == n->yA.p ? n->yB.p : n->yA.p;
    rc = l->kind->forward(l, cur, B, out, ctx);
    if (rc) return layer_fail(ctx, rc, i, l, "forward");
    if (!l->kind->backward) { /* black box: apply, do not train */
      have_dx = 0;
      if (losses) losses[i] = 0;
      cur = out;
      cur_dim = l->out_dim;
      continue;
    }
    double L = 0;
    if ((rc = layer_match(n, ctx, &f, i, cur, cur_dim, out, B, g, have_dx, DX, DY, &L))) return rc;
    if (losses) losses[i] = L;
    if ((rc = local_step(n, ctx, i, cur, out, B, n->post))) return rc;
    if (n->post) {
      have_dx = 0;
    } else { /* the output distances computed before the step serve as the next input's */
      float *t = DX;
      DX = DY;
      DY = t;
      have_dx = 1;
    }
    cur = out;
    cur_dim = l->out_dim;
  }
  *Y = cur;
  return LPDM_OK;
}

int lpdm_net_local_update(lpdm_net *n, lpdm_ctx *ctx, const lpdm_distance *dist,
                          const lpdm_loss *loss, const float *X, int B, const float *g,
                          const float **Y, double *losses) {
  return cfg_after(n, ctx, net_local_update(n, ctx, dist, loss, X, B, g, Y, losses), dist, loss);
}

/* ------------------------------------------------------------ signal updates */

/* lpdm_net_signal_update (lpdm.h): the loop of net_local_update with the
   caller's per-layer gradient in place of (or mixed with) distance
   matching. Each layer still steps on its own parameters only. */
static int net_signal_update(lpdm_net *n, lpdm_ctx *ctx, const lpdm_layer_signal *s, const float *X, int B,
                             const float **Y, double *losses) {
  if (B < 1) return lpdm_error(ctx, LPDM_ERR_ARG, "signal update: batch size must be >= 1, got %d", B);
  if (!s || !s->add) return lpdm_error(ctx, LPDM_ERR_ARG, "signal update: needs a signal (add)");
  const double m = s->match;
  if (!(m >= 0 && m <= 1)) return lpdm_error(ctx, LPDM_ERR_ARG, "signal update: match must be in [0, 1], got %g", m);
  if (m > 0) {
    if (!s->dist || !s->loss) return lpdm_error(ctx, LPDM_ERR_ARG, "signal update: match > 0 needs a distance and a loss");
    if (!s->loss->kind->eval)
      return lpdm_error(ctx, LPDM_ERR_ARG, "signal update: %s is not a distance-matching loss", s->loss->kind->head.name);
    if (B < 2) return lpdm_error(ctx, LPDM_ERR_ARG, "signal update: distance matching needs a batch >= 2, got %d", B);
    if (s->loss->kind->uses_guidance && !s->g)
      return lpdm_error(ctx, LPDM_ERR_ARG, "signal update: %s needs a guidance signal", s->loss->kind->head.name);
  }
  if (n->depth == 0) {
    *Y = X;
    return LPDM_OK;
  }
  const int W = max_width(n), post = s->post < 0 ? n->post : s->post != 0;
  const size_t BW = (size_t)B * W, BB = (size_t)B * B;
  int rc;
  if ((rc = grow(ctx, &n->yA, BW)) || (rc = grow(ctx, &n->yB, BW)) || (rc = grow(ctx, &n->dY, BW)))
    return rc;
  /* mixing needs the signal apart from matching's dY (dS); alone it is written into dY */
  if (m > 0 && m < 1 && (rc = grow(ctx, &n->dS, BW))) return rc;
  if (m > 0 && ((rc = grow(ctx, &n->DX, BB)) || (rc = grow(ctx, &n->DY, BB)) || (rc = grow(ctx, &n->dD, BB)) ||
                (rc = grow(ctx, &n->work, LPDM_DIST_WORK(B, W)))))
    return rc;
  match_fns f = {0};
  if (m > 0) f = match_pick(s->dist, s->loss);
  const float w = (float)(1.0 - m), mf = (float)m;
  const float *cur = X;
  int cur_dim = n->in_dim;
  for (int i = 0; i < n->depth; i++) {
    lpdm_layer *l = n->layers[i];
    float *out = cur == n->yA.p ? n->yB.p : n->yA.p;
    rc = l->kind->forward(l, cur, B, out, ctx);
    if (rc) return layer_fail(ctx, rc, i, l, "forward");
    if (losses) losses[i] = 0;
    if (l->kind->backward) { /* a black box is applied, not trained */
      const size_t k = (size_t)B * l->out_dim;
      double Lm = 0, Ls = 0;
      if (m > 0 && (rc = layer_match(n, ctx, &f, i, cur, cur_dim, out, B, s->g, 0, n->DX.p, n->DY.p, &Lm))) return rc;
      if (m < 1) {
        float *dS = m > 0 ? n->dS.p : n->dY.p;
        memset(dS, 0, k * sizeof(float));
        if ((rc = s->add(s->arg, n, i, cur, out, B, dS, &Ls, ctx))) return layer_fail(ctx, rc, i, l, "local signal");
        if (!isfinite(Ls))
          return lpdm_error(ctx, LPDM_ERR_NUM, "layer %d (%s): local signal's loss is %g", i + 1, l->kind->head.name, Ls);
        if (m > 0)
          for (size_t j = 0; j < k; j++) n->dY.p[j] = mf * n->dY.p[j] + w * dS[j];
      }
      if (losses) losses[i] = (1.0 - m) * Ls + m * Lm;
      if ((rc = local_step(n, ctx, i, cur, out, B, post))) return rc;
    }
    cur = out;
    cur_dim = l->out_dim;
  }
  *Y = cur;
  return LPDM_OK;
}

int lpdm_net_signal_update(lpdm_net *n, lpdm_ctx *ctx, const lpdm_layer_signal *s, const float *X, int B,
                           const float **Y, double *losses) {
  return cfg_after(n, ctx, net_signal_update(n, ctx, s, X, B, Y, losses), s ? s->dist : NULL, s ? s->loss : NULL);
}
