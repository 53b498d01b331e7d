/* SPDX-License-Identifier: MIT */
/*
** dense.c -- the fully connected layer:  Y = act(X W + b), or with
** norm = "layer"  Y = act(LN(X W + b)).
**
** X is B x in (row-major float32), W is in x out, b has out entries.
** Forward: for small layers (out >= 16 and in * out <= 16384, which holds
** for the default 64-wide nets) X W + b comes from the layer's own
** register-tiled kernel mm() (no packing, no bias copies, 4x OpenBLAS's
** speed at B = 1 and about equal at B = 128 on a Zen 3), otherwise from
** cblas_sgemm onto copied bias rows; then the activation in one pass
** (lpdm_k_tanh for tanh, lib/act.c for the others). The choice depends on
** the shape only, so a row's output has the same bits whatever B is. The backward products (dW, dX)
** run through cblas_sgemm, where OpenBLAS was faster at these shapes. The
** backward pass uses the layer's own output to form act'(Z) (tanh:
** 1 - Y^2, relu: Y > 0, identity: 1; sigmoid, elu, leaky_relu and
** softplus also from Y, lib/act.h), so it needs no stored pre-activation:
**     dZ = dY * act'(Z)      dW += X^T dZ      db += sum_rows dZ
**     dX = dZ W^T
** except for gelu and silu, whose derivative needs Z (one Y has two X):
** with them forward writes Z = X W + b (or U, with layer norm) into a
** buffer of the layer (grown to the largest batch, reused) and Y = act(Z)
** from it, and backward reads it back when its X, Y and B are those of the
** layer's last forward (in bp mode and in local mode's step, always); else
** it recomputes Z from X first. Z is not state: checkpoints do not hold it.
**
** Layer normalisation (norm = "layer", Ba, Kiros & Hinton 2016, as PyTorch's
** nn.LayerNorm over the features): with Z = X W + b and, per row,
**     mu = mean_j Z_j,  var = mean_j (Z_j - mu)^2 (biased),
**     rstd = 1 / sqrt(var + eps),  Zh = (Z - mu) rstd,
**     U = gain * Zh + shift,       Y = act(U)
** gain (init 1) and shift (init 0) are learned per feature (params
** "norm_gain", "norm_shift"). Backward recomputes Zh and rstd from X (no
** state is kept between forward and backward):
**     dU = dY * act'(U)            dgain += sum_rows dU * Zh
**     dshift += sum_rows dU        dZh = dU * gain
**     dZ = rstd (dZh - mean_j dZh - Zh mean_j(dZh * Zh))
** then dW, db, dX from dZ as above. The row statistics are summed in double.
** norm = "none" (the default) runs none of the layer-norm code.
**
** Config keys (defaults):
**   out   = 64         output width
**   act   = "tanh"     "tanh", "relu", "identity" ("linear"), "sigmoid",
**                      "elu", "gelu", "silu", "leaky_relu" or "softplus",
**                      as PyTorch's defaults (lib/act.h): gelu is the exact
**                      x Phi(x) (nn.GELU(approximate='none')), softplus
**                      is x above 20
**   alpha = 1.0        elu: alpha (e^x - 1) for x <= 0 (> 0)
**   negative_slope = 0.01  leaky_relu: the slope for x <= 0 (>= 0)
**   bias  = true       learn a bias
**   init  = "torch"    "torch": W, b ~ U(-1/sqrt(in), 1/sqrt(in)) times gain
**                      (PyTorch's nn.Linear default); "orthogonal": W with
**                      orthonormal rows or columns times gain, b = 0;
**                      "zeros": W = b = 0
**   gain  = 1.0        scale of the initial weights
**   norm  = "none"     "none" or "layer" (layer normalisation before act)
**   eps   = 1e-5       layer norm: added to the variance (> 0)
**
** Lua:
**   local net = lpdm.net{ inputs = 4, lpdm.dense{ 64, act = "tanh" },
**                         lpdm.dense{ 64, act = "relu", init = "orthogonal",
**                                     gain = math.sqrt(2) },
**                         lpdm.dense{ 64, norm = "layer" },
**                         lpdm.dense{ 64, act = "elu", alpha = 0.5 } }
*/
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/act.h"
#include "lpdm/lpdm.h"

typedef struct dense {
  lpdm_layer base;
  act_fn act;
  act_z z; /* gelu, silu: the pre-activation of the last forward */
  int has_bias;
  float *W, *b, *gW, *gb;
  /* norm = "layer" */
  int norm;
  double eps;
  float *gain, *shift, *ggain, *gshift;
  float *zh, *rstd; /* backward's recomputed Zh (B x out) and 1/sigma (B) */
  size_t zh_cap, rstd_cap;
} dense;

static const lpdm_key keys[] = {
    {"out", LPDM_T_INT, "64", "output width"},
    ACT_KEYS,
    {"bias", LPDM_T_BOOL, "true", "learn a bias"},
    {"init", LPDM_T_STRING, "torch", "initialisation: torch, orthogonal or zeros"},
    {"gain", LPDM_T_NUMBER, "1.0", "scale of the initial weights"},
    {"norm", LPDM_T_STRING, "none", "normalisation of X W + b before act: none or layer"},
    {"eps", LPDM_T_NUMBER, "1e-5", "layer norm: added to the variance"},
    {NULL, 0, NULL, NULL}};

static void dense_free(lpdm_layer *l) {
  dense *d = (dense *)l;
  if (!d) return;
  free(d->W);
  free(d->b);
  free(d->gW);
  free(d->gb);
  free(d->gain);
  free(d->shift);
  free(d->ggain);
  free(d->gshift);
  free(d->zh);
  free(d->rstd);
  act_z_free(&d->z);
  free(d);
}

static int dense_init(const lpdm_layer_kind *kind, const lpdm_config *cfg, int in, lpdm_rng *rng,
                      lpdm_layer **out, lpdm_ctx *ctx) {
  int q = lpdm_cfg_int(cfg, "out");
  const char *init = lpdm_cfg_str(cfg, "init");
  double gain = lpdm_cfg_num(cfg, "gain");
  if (q < 1 || q > (1 << 20)) return lpdm_error(ctx, LPDM_ERR_ARG, "out must be 1..1048576, got %d", q);
  act_fn a;
  int rc = act_parse(cfg, &a, ctx);
  if (rc) return rc;
  if (strcmp(init, "torch") && strcmp(init, "orthogonal") && strcmp(init, "zeros"))
    return lpdm_error(ctx, LPDM_ERR_ARG, "unknown init '%s' (torch, orthogonal, zeros)", init);
  const char *norm = lpdm_cfg_str(cfg, "norm");
  int ln;
  if (!strcmp(norm, "none")) ln = 0;
  else if (!strcmp(norm, "layer")) ln = 1;
  else return lpdm_error(ctx, LPDM_ERR_ARG, "unknown norm '%s' (none, layer)", norm);
  double eps = lpdm_cfg_num(cfg, "eps");
  if (ln && !(eps > 0 && isfinite(eps))) return lpdm_error(ctx, LPDM_ERR_ARG, "eps must be > 0, got %g", eps);
  dense *d = calloc(1, sizeof *d);
  if (!d) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  size_t nw = (size_t)in * q;
  d->W = calloc(nw, sizeof(float));
  d->gW = calloc(nw, sizeof(float));
  d->b = calloc((size_t)q, sizeof(float));
  d->gb = calloc((size_t)q, sizeof(float));
  if (!d->W || !d->gW || !d->b || !d->gb) {
    dense_free(&d->base);
    return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory (%d x %d weights)", in, q);
  }
  d->act = a;
  d->has_bias = lpdm_cfg_bool(cfg, "bias");
  d->norm = ln;
  d->eps = eps;
  if (ln) {
    d->gain = malloc((size_t)q * sizeof(float));
    d->shift = calloc((size_t)q, sizeof(float));
    d->ggain = calloc((size_t)q, sizeof(float));
    d->gshift = calloc((size_t)q, sizeof(float));
    if (!d->gain || !d->shift || !d->ggain || !d->gshift) {
      dense_free(&d->base);
      return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
    }
    for (int i = 0; i < q; i++) d->gain[i] = 1.0f;
  }
  if (!strcmp(init, "torch")) {
    double bound = 1.0 / sqrt((double)in);
    for (size_t i = 0; i < nw; i++) d->W[i] = (float)(gain * bound * (2 * lpdm_rng_uniform(rng) - 1));
    if (d->has_bias)
      for (int i = 0; i < q; i++) d->b[i] = (float)(gain * bound * (2 * lpdm_rng_uniform(rng) - 1));
  } else if (!strcmp(init, "orthogonal")) {
    if (lpdm_rng_orthogonal(rng, d->W, in, q)) {
      dense_free(&d->base);
      return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
    }
    for (size_t i = 0; i < nw; i++) d->W[i] *= (float)gain;
  }
  lpdm_layer *l = &d->base;
  l->kind = kind;
  l->in_dim = in;
  l->out_dim = q;
  l->params[0] = (lpdm_param){"weight", d->W, d->gW, nw, in, q};
  l->nparams = 1;
  if (d->has_bias) {
    l->params[1] = (lpdm_param){"bias", d->b, d->gb, (size_t)q, 1, q};
    l->nparams = 2;
  }
  if (ln) {
    l->params[l->nparams++] = (lpdm_param){"norm_gain", d->gain, d->ggain, (size_t)q, 1, q};
    l->params[l->nparams++] = (lpdm_param){"norm_shift", d->shift, d->gshift, (size_t)q, 1, q};
  }
  *out = l;
  return LPDM_OK;
}

/* ---- the products. Small layers (the default 64-wide nets) go through
   mm() below, larger ones through cblas_sgemm (packing and cache blocking
   pay off there). Which one runs depends on the layer's shape only, never
   on the batch size B, so a row's output does not depend on how many rows
   are in the call (the rollout's one-to-four-row forwards and the update's
   minibatches give a sample the same bits). */
enum { OWN_MAX = 16384 }; /* in * out up to this (64 KiB of weights): mm() */

static int own_gemm(int p, int q) { return q >= 16 && (long)p * q <= OWN_MAX; }

#if defined(__GNUC__)
typedef float v8 __attribute__((vector_size(32)));
#define V8_LOAD(v, ptr) memcpy(&(v), (ptr), sizeof(v8))
#define V8_STORE(ptr, v) memcpy((ptr), &(v), sizeof(v8))
#endif

/* Y (B x q) = X W + bias (bias may be NULL): X is B x p, W is p x q, both
   row-major. Every element is s = 0, s = s + X[i][t] W[t][j] for t = 0, 1,
   .., p - 1 in order, then s + bias[j]. The same operations run in every
   path: 6-row (and, for a last block of 3 or 4 rows, such as PPO's
   four-env rollout, 4-row) x 16-column register tiles (8-float vectors,
   GCC/clang vector extensions, lowered to AVX2 or SSE2 by the clones),
   1-row x 32-column tiles for a last block of one or two rows (and for
   B = 1: the REINFORCE rollout), scalar loops for the columns past a multiple of 16.
   So a row's result does not depend on B, on the tile it falls in or on
   the clone (no clone fuses a multiply-add: ISO C mode, -ffp-contract=off). */
#if defined(__GNUC__)
/* one row x: y[j0 .. j0 + 16 n) for n = 1 or 2 16-column blocks */
static inline __attribute__((always_inline)) void row_tile(int p, int q, const float *x, const float *W, const float *bias, float *y, int j0, int n) {
  v8 c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0}, b0, b1, b2, b3;
  const float *w = W + j0;
  if (n == 2)
    for (int t = 0; t < p; t++, w += q) {
      V8_LOAD(b0, w);
      V8_LOAD(b1, w + 8);
      V8_LOAD(b2, w + 16);
      V8_LOAD(b3, w + 24);
      c0 += x[t] * b0;
      c1 += x[t] * b1;
      c2 += x[t] * b2;
      c3 += x[t] * b3;
    }
  else
    for (int t = 0; t < p; t++, w += q) {
      V8_LOAD(b0, w);
      V8_LOAD(b1, w + 8);
      c0 += x[t] * b0;
      c1 += x[t] * b1;
    }
  const v8 c[4] = {c0, c1, c2, c3};
  for (int k = 0; k < 2 * n; k++) {
    v8 e = {0}, o;
    if (bias) V8_LOAD(e, bias + j0 + 8 * k);
    o = c[k] + e;
    V8_STORE(y + j0 + 8 * k, o);
  }
}
/* rows x[0 .. nr) (nr = 4 or 6, a constant where it is inlined): the
   16 columns from j0 of their first R rows of Y */
static inline __attribute__((always_inline)) void rows_tile(int nr, int R, int p, int q, const float *const *x, const float *W, const float *bias,
                             float *Y, int j0) {
  v8 c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0}, c30 = {0}, c31 = {0}, c40 = {0},
     c41 = {0}, c50 = {0}, c51 = {0}, b0, b1;
  const float *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3], *x4 = x[4], *x5 = x[5];
  const float *w = W + j0;
  for (int t = 0; t < p; t++, w += q) {
    V8_LOAD(b0, w);
    V8_LOAD(b1, w + 8);
    c00 += x0[t] * b0;
    c01 += x0[t] * b1;
    c10 += x1[t] * b0;
    c11 += x1[t] * b1;
    c20 += x2[t] * b0;
    c21 += x2[t] * b1;
    c30 += x3[t] * b0;
    c31 += x3[t] * b1;
    if (nr == 6) {
      c40 += x4[t] * b0;
      c41 += x4[t] * b1;
      c50 += x5[t] * b0;
      c51 += x5[t] * b1;
    }
  }
  v8 e0 = {0}, e1 = {0};
  if (bias) V8_LOAD(e0, bias + j0), V8_LOAD(e1, bias + j0 + 8);
  float *y = Y + j0;
  const v8 out[6][2] = {{c00 + e0, c01 + e1}, {c10 + e0, c11 + e1}, {c20 + e0, c21 + e1},
                        {c30 + e0, c31 + e1}, {c40 + e0, c41 + e1}, {c50 + e0, c51 + e1}};
  for (int r = 0; r < R; r++, y += q) {
    V8_STORE(y, out[r][0]);
    V8_STORE(y + 8, out[r][1]);
  }
}
#endif

LPDM_VECTORIZE static void mm(int B, int p, int q, const float *X, const float *W, const float *bias, float *Y) {
  enum { RB = 6 };
  const int q16 = q / 16 * 16;
  for (int i0 = 0; i0 < B; i0 += RB) {
    const int R = B - i0 < RB ? B - i0 : RB;
#if defined(__GNUC__)
    if (R <= 2) /* one row at a time */
      for (int r = 0; r < R; r++) {
        const float *x = X + (size_t)(i0 + r) * p;
        float *y = Y + (size_t)(i0 + r) * q;
        int j0 = 0;
        for (; j0 + 32 <= q16; j0 += 32) row_tile(p, q, x, W, bias, y, j0, 2);
        if (j0 < q16) row_tile(p, q, x, W, bias, y, j0, 1);
      }
    else {
      /* 3 or 4 rows: a 4-row tile, 5 or 6: a 6-row one; a short block
         repeats its first row (computed, not stored) */
      const float *x[RB];
      for (int r = 0; r < RB; r++) x[r] = X + (size_t)(i0 + (r < R ? r : 0)) * p;
      for (int j0 = 0; j0 < q16; j0 += 16)
        if (R <= 4) rows_tile(4, R, p, q, x, W, bias, Y + (size_t)i0 * q, j0);
        else rows_tile(6, R, p, q, x, W, bias, Y + (size_t)i0 * q, j0);
    }
    const int jt = q16;
#else
    const int jt = 0;
#endif
    for (int j0 = jt; j0 < q; j0++)
      for (int r = 0; r < R; r++) {
        const float *xr = X + (size_t)(i0 + r) * p;
        float s = 0.0f;
        for (int t = 0; t < p; t++) s += xr[t] * W[(size_t)t * q + j0];
        Y[(size_t)(i0 + r) * q + j0] = s + (bias ? bias[j0] : 0.0f);
      }
  }
}

/* Y = X W + b (B x q). mm() for small layers; else the bias rows go in
   first and the GEMM adds onto them (beta = 1): the same sums as X W then
   + b, without OpenBLAS's pass that zeroes Y for beta = 0. */
static void affine(const dense *d, const float *X, int B, float *Y) {
  const int p = d->base.in_dim, q = d->base.out_dim;
  if (own_gemm(p, q)) {
    mm(B, p, q, X, d->W, d->has_bias ? d->b : NULL, Y);
    return;
  }
  float beta = 0.0f;
  if (d->has_bias) {
    for (int i = 0; i < B; i++) memcpy(Y + (size_t)i * q, d->b, (size_t)q * sizeof(float));
    beta = 1.0f;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, q, p, 1.0f, X, p, d->W, q, beta, Y, q);
}

/* Normalises each row of Z (B x q) in place to Zh, storing 1/sigma per row
   in rstd when it is not NULL. */
static void normalise(const dense *d, float *Z, int B, float *rstd) {
  const int q = d->base.out_dim;
  for (int i = 0; i < B; i++) {
    float *z = Z + (size_t)i * q;
    double mu = 0, var = 0;
    for (int j = 0; j < q; j++) mu += z[j];
    mu /= q;
    for (int j = 0; j < q; j++) var += (z[j] - mu) * (z[j] - mu);
    var /= q;
    double r = 1.0 / sqrt(var + d->eps);
    for (int j = 0; j < q; j++) z[j] = (float)((z[j] - mu) * r);
    if (rstd) rstd[i] = (float)r;
  }
}

/* Z = X W + b, or U = gain LN(X W + b) + shift: the pre-activation */
static void preact(const dense *d, const float *X, int B, float *Z) {
  const int q = d->base.out_dim;
  affine(d, X, B, Z);
  if (d->norm) {
    normalise(d, Z, B, NULL);
    for (int i = 0; i < B; i++) {
      float *z = Z + (size_t)i * q;
      for (int j = 0; j < q; j++) z[j] = z[j] * d->gain[j] + d->shift[j];
    }
  }
}

static int dense_forward(lpdm_layer *l, const float *X, int B, float *Y, lpdm_ctx *ctx) {
  dense *d = (dense *)l;
  const int q = l->out_dim;
  size_t n = (size_t)B * q;
  if (act_keeps_z(&d->act)) { /* gelu, silu: Z kept for backward */
    act_z_mark(&d->z, NULL, NULL, 0);
    int rc = act_z_grow(&d->z, n, ctx);
    if (rc) return rc;
    preact(d, X, B, d->z.p);
    act_apply(&d->act, d->z.p, Y, n);
    act_z_mark(&d->z, X, Y, B);
    return LPDM_OK;
  }
  preact(d, X, B, Y);
  if (d->act.kind == ACT_TANH) lpdm_k_tanh(Y, n);
  else if (d->act.kind == ACT_RELU)
    for (size_t i = 0; i < n; i++) Y[i] = Y[i] > 0 ? Y[i] : 0;
  else if (d->act.kind != ACT_IDENTITY) act_apply(&d->act, Y, Y, n);
  return LPDM_OK;
}

/* dY *= act'(Z), from the output Y */
LPDM_VECTORIZE static void act_grad(int act, const float *Y, float *dY, size_t n) {
  if (act == ACT_TANH)
    for (size_t i = 0; i < n; i++) dY[i] *= 1.0f - Y[i] * Y[i];
  else if (act == ACT_RELU)
    for (size_t i = 0; i < n; i++) dY[i] = Y[i] > 0 ? dY[i] : 0.0f;
}

/* g[j] += sum_i D[i][j], row by row */
LPDM_VECTORIZE static void add_col_sums(const float *D, int B, int q, float *g) {
  for (int i = 0; i < B; i++) {
    const float *r = D + (size_t)i * q;
    for (int j = 0; j < q; j++) g[j] += r[j];
  }
}

static int dense_backward(lpdm_layer *l, const float *X, const float *Y, int B, float *dY,
                          float *dX, lpdm_ctx *ctx) {
  dense *d = (dense *)l;
  const int p = l->in_dim, q = l->out_dim;
  size_t n = (size_t)B * q;
  if (d->act.kind <= ACT_IDENTITY) act_grad(d->act.kind, Y, dY, n); /* tanh, relu, identity */
  else if (!act_keeps_z(&d->act)) act_grad_y(&d->act, Y, dY, n);
  else { /* gelu, silu */
    if (!act_z_fresh(&d->z, X, Y, B)) { /* not this Y's forward: Z again from X */
      int rc = act_z_grow(&d->z, n, ctx);
      if (rc) return rc;
      preact(d, X, B, d->z.p);
      act_z_mark(&d->z, X, Y, B);
    }
    act_grad_z(&d->act, d->z.p, dY, n);
  }
  if (d->norm) { /* dY holds dU: on to dZ, in place */
    if (n > d->zh_cap) {
      float *z = realloc(d->zh, n * sizeof(float));
      if (!z) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory (%zu floats)", n);
      d->zh = z;
      d->zh_cap = n;
    }
    if ((size_t)B > d->rstd_cap) {
      float *r = realloc(d->rstd, (size_t)B * sizeof(float));
      if (!r) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory (%d floats)", B);
      d->rstd = r;
      d->rstd_cap = (size_t)B;
    }
    affine(d, X, B, d->zh);
    normalise(d, d->zh, B, d->rstd);
    for (int i = 0; i < B; i++) {
      float *du = dY + (size_t)i * q;
      const float *zh = d->zh + (size_t)i * q;
      double m1 = 0, m2 = 0;
      for (int j = 0; j < q; j++) {
        d->ggain[j] += du[j] * zh[j];
        d->gshift[j] += du[j];
        double dzh = (double)du[j] * d->gain[j];
        m1 += dzh;
        m2 += dzh * zh[j];
      }
      m1 /= q;
      m2 /= q;
      const double r = d->rstd[i];
      for (int j = 0; j < q; j++) du[j] = (float)(r * ((double)du[j] * d->gain[j] - m1 - zh[j] * m2));
    }
  }
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, p, q, B, 1.0f, X, p, dY, q, 1.0f, d->gW, q);
  if (d->has_bias) add_col_sums(dY, B, q, d->gb);
  if (dX) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, p, q, 1.0f, dY, q, d->W, q, 0.0f, dX, p);
  return LPDM_OK;
}

static const lpdm_layer_kind dense_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_LAYER, "layer.dense", "fully connected: act(X W + b)", keys),
    .init = dense_init,
    .forward = dense_forward,
    .free = dense_free,
    .backward = dense_backward,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_dense(void) { return &dense_kind.head; }
