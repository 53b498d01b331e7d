/* SPDX-License-Identifier: MIT */
/*
** conv2d.c -- the 2-D convolution layer:  Y = act(conv(X, W) + b).
**
** A row of X is one sample of in_channels x height x width values, flattened
** channel-major and row-major inside a channel (X[c][y][x] at c*H*W + y*W + x,
** the layout of a PyTorch (C, H, W) tensor and of MinAtar's observation
** transposed to channels first). A row of Y is out_channels x H' x W' in the
** same layout, with
**     H' = (height + 2 padding - kernel) / stride + 1   (floor, as PyTorch)
**     W' = (width  + 2 padding - kernel) / stride + 1
** so the output width out_channels * H' * W' is known from the config at init.
** Padding is with zeros. W is stored as PyTorch's weight: out_channels rows of
** in_channels x kernel x kernel (O x CKK), b has out_channels entries.
**
** How: im2col + cblas_sgemm. The columns of a sample are the CKK x H'W'
** matrix of its receptive fields (with padding, the sample is first copied
** into a zero-bordered buffer, so that every field is a plain strided copy);
** a chunk of n samples has CKK x nH'W' columns side by side, and one GEMM
**     Z = W col   (O x CKK times CKK x nH'W')
** serves the whole chunk, whose O x H'W' blocks are then copied into the
** rows of Y (a one-sample chunk is written straight into Y). Chunks hold
** 64 KiB of columns (at least one sample): measured at MinAtar's shapes
** (bench/bench_conv.c), one GEMM per sample was as fast forward and ~10%
** slower backward; chunks of 1 MiB were 20-45% slower and the whole batch
** in one GEMM up to 1.8x slower at B = 256 (the columns fall out of cache).
** For large images (a sample's columns over 64 KiB) a chunk is one sample.
** Backward, per chunk:
**     dZ = dY * act'(Z)            (from Y, as dense: tanh 1 - Y^2, relu Y > 0;
**                                   gelu and silu from Z, see below)
**     dW += dZ col^T               db += sum over samples and positions of dZ
**     dcol = W^T dZ,  dX = col2im(dcol)   (only when dX is asked for)
** The column buffers grow to the largest batch seen and are reused.
** gelu and silu need the pre-activation Z = conv(X, W) + b in backward (one
** Y has two Z): forward writes Z into a buffer of the layer (B x outputs,
** grown to the largest batch, reused), Y = act(Z) from it, and backward
** reads it when its X, Y and B are those of the layer's last forward (bp
** mode, local mode's step), else recomputes it from X (as dense does).
**
** Config keys (defaults):
**   in_channels  = 1        C of the input (C x height x width = the input width)
**   height       = 0        H of the input (must be set)
**   width        = 0        W of the input (must be set)
**   out_channels = 16       O, the number of filters
**   kernel       = 3        square kernel size
**   stride       = 1
**   padding      = 0        zeros on each side
**   act          = "tanh"   "tanh", "relu", "identity", "sigmoid", "elu",
**                           "gelu", "silu", "leaky_relu" or "softplus" (as
**                           dense; PyTorch's definitions, lib/act.h)
**   alpha        = 1.0      elu: alpha (e^x - 1) for x <= 0 (> 0)
**   negative_slope = 0.01   leaky_relu: the slope for x <= 0 (>= 0)
**   bias         = true     learn one bias per output channel
**   init         = "torch"  "torch": W, b ~ U(-1/sqrt(CKK), 1/sqrt(CKK)) times
**                           gain (PyTorch's nn.Conv2d default); "orthogonal":
**                           W (O x CKK) with orthonormal rows or columns times
**                           gain, b = 0; "zeros": W = b = 0
**   gain         = 1.0      scale of the initial weights
**
** Lua:
**   local net = lpdm.net{ inputs = 4 * 10 * 10,
**     lpdm.layer("conv2d", { in_channels = 4, height = 10, width = 10,
**                            out_channels = 16, kernel = 3, padding = 1, act = "relu" }),
**     lpdm.layer("flatten"), lpdm.dense{ 128, act = "relu" } }
*/
#include <cblas.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "lib/act.h"
#include "lpdm/lpdm.h"

/* Bytes of im2col columns per GEMM (a chunk holds at least one sample). */
#ifndef CONV_COL_BYTES
#define CONV_COL_BYTES (1 << 16)
#endif

typedef struct conv {
  lpdm_layer base;
  int C, H, W, O, k, s, pad, Ho, Wo;
  int ckk, hw; /* C*k*k, Ho*Wo */
  act_fn act;
  int has_bias;
  act_z z; /* gelu, silu: the pre-activation of the last forward */
  float *Wt, *b, *gW, *gb;
  float *col, *tmp; /* ckk x chunk*hw columns, O x chunk*hw products */
  float *pad_in, *pad_grad; /* C x (H+2pad) x (W+2pad), with padding only */
  size_t col_cap, tmp_cap;
} conv;

static const lpdm_key keys[] = {
    {"in_channels", LPDM_T_INT, "1", "channels of the input"},
    {"height", LPDM_T_INT, "0", "height of the input (required)"},
    {"width", LPDM_T_INT, "0", "width of the input (required)"},
    {"out_channels", LPDM_T_INT, "16", "number of filters"},
    {"kernel", LPDM_T_INT, "3", "square kernel size"},
    {"stride", LPDM_T_INT, "1", "stride"},
    {"padding", LPDM_T_INT, "0", "zero padding on each side"},
    ACT_KEYS,
    {"bias", LPDM_T_BOOL, "true", "learn a bias per output channel"},
    {"init", LPDM_T_STRING, "torch", "initialisation: torch, orthogonal or zeros"},
    {"gain", LPDM_T_NUMBER, "1.0", "scale of the initial weights"},
    {NULL, 0, NULL, NULL}};

static void conv_free(lpdm_layer *l) {
  conv *c = (conv *)l;
  if (!c) return;
  free(c->Wt);
  free(c->b);
  free(c->gW);
  free(c->gb);
  free(c->col);
  free(c->tmp);
  free(c->pad_in);
  free(c->pad_grad);
  act_z_free(&c->z);
  free(c);
}

static int get_int(lpdm_ctx *ctx, const lpdm_config *cfg, const char *key, int lo, int hi, int *v) {
  double x = lpdm_cfg_num(cfg, key);
  if (!(x >= lo && x <= hi))
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s must be %d..%d, got %g", key, lo, hi, x);
  *v = (int)x;
  return LPDM_OK;
}

static int conv_init(const lpdm_layer_kind *kind, const lpdm_config *cfg, int in, lpdm_rng *rng,
                     lpdm_layer **out, lpdm_ctx *ctx) {
  const int big = 1 << 16;
  int C = 0, H, W, O = 0, k = 0, s = 0, pad = 0, rc;
  if ((rc = get_int(ctx, cfg, "in_channels", 1, big, &C)) || (rc = get_int(ctx, cfg, "out_channels", 1, big, &O)) ||
      (rc = get_int(ctx, cfg, "kernel", 1, big, &k)) || (rc = get_int(ctx, cfg, "stride", 1, big, &s)) ||
      (rc = get_int(ctx, cfg, "padding", 0, big, &pad)))
    return rc;
  H = lpdm_cfg_int(cfg, "height");
  W = lpdm_cfg_int(cfg, "width");
  if (H < 1 || W < 1 || H > big || W > big)
    return lpdm_error(ctx, LPDM_ERR_ARG,
                      "height and width must be set to the input's shape (1..%d), got height=%d width=%d "
                      "(the input has %d features)",
                      big, H, W, in);
  if ((double)C * H * W != (double)in)
    return lpdm_error(ctx, LPDM_ERR_ARG,
                      "the input has %d features but in_channels x height x width = %d x %d x %d = %.0f", in, C,
                      H, W, (double)C * H * W);
  if (k > H + 2 * pad || k > W + 2 * pad)
    return lpdm_error(ctx, LPDM_ERR_ARG, "kernel=%d is larger than the padded input (%d x %d with padding=%d)", k, H,
                      W, pad);
  int Ho = (H + 2 * pad - k) / s + 1, Wo = (W + 2 * pad - k) / s + 1;
  double outw = (double)O * Ho * Wo, nw = (double)O * C * k * k, np = (double)C * (H + 2 * pad) * (W + 2 * pad);
  if (outw > (1 << 28) || nw > (1 << 28) || np > (1 << 28))
    return lpdm_error(ctx, LPDM_ERR_ARG,
                      "too large: %.0f outputs, %.0f weights, %.0f padded inputs (at most 2^28 each)", outw, nw, np);
  const char *init = lpdm_cfg_str(cfg, "init");
  act_fn a;
  if ((rc = act_parse(cfg, &a, ctx))) return rc;
  if (strcmp(init, "torch") && strcmp(init, "orthogonal") && strcmp(init, "zeros"))
    return lpdm_error(ctx, LPDM_ERR_ARG, "unknown init '%s' (torch, orthogonal, zeros)", init);
  double gain = lpdm_cfg_num(cfg, "gain");

  conv *c = calloc(1, sizeof *c);
  if (!c) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  c->C = C, c->H = H, c->W = W, c->O = O, c->k = k, c->s = s, c->pad = pad, c->Ho = Ho, c->Wo = Wo;
  c->ckk = C * k * k;
  c->hw = Ho * Wo;
  c->act = a;
  c->has_bias = lpdm_cfg_bool(cfg, "bias");
  size_t n = (size_t)O * c->ckk;
  c->Wt = calloc(n, sizeof(float));
  c->gW = calloc(n, sizeof(float));
  c->b = calloc((size_t)O, sizeof(float));
  c->gb = calloc((size_t)O, sizeof(float));
  if (pad) {
    c->pad_in = calloc((size_t)np, sizeof(float));
    c->pad_grad = calloc((size_t)np, sizeof(float));
  }
  if (!c->Wt || !c->gW || !c->b || !c->gb || (pad && (!c->pad_in || !c->pad_grad))) {
    conv_free(&c->base);
    return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory (%d x %d weights)", O, c->ckk);
  }
  if (!strcmp(init, "torch")) {
    double bound = 1.0 / sqrt((double)c->ckk);
    for (size_t i = 0; i < n; i++) c->Wt[i] = (float)(gain * bound * (2 * lpdm_rng_uniform(rng) - 1));
    if (c->has_bias)
      for (int i = 0; i < O; i++) c->b[i] = (float)(gain * bound * (2 * lpdm_rng_uniform(rng) - 1));
  } else if (!strcmp(init, "orthogonal")) {
    if (lpdm_rng_orthogonal(rng, c->Wt, O, c->ckk)) {
      conv_free(&c->base);
      return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) c->Wt[i] *= (float)gain;
  }
  lpdm_layer *l = &c->base;
  l->kind = kind;
  l->in_dim = in;
  l->out_dim = O * c->hw;
  l->params[0] = (lpdm_param){"weight", c->Wt, c->gW, n, O, c->ckk};
  l->nparams = 1;
  if (c->has_bias) {
    l->params[1] = (lpdm_param){"bias", c->b, c->gb, (size_t)O, 1, O};
    l->nparams = 2;
  }
  *out = l;
  return LPDM_OK;
}

/* Samples per GEMM for a batch of B, and the buffers it needs. */
static int chunk_size(conv *c, int B, lpdm_ctx *ctx) {
  size_t per = (size_t)c->ckk * c->hw * sizeof(float);
  size_t n = CONV_COL_BYTES / per;
  if (n < 1) n = 1;
  if (n > (size_t)B) n = (size_t)B;
  size_t need_col = n * c->ckk * c->hw, need_tmp = n > 1 ? n * c->O * c->hw : 0;
  if (need_col > c->col_cap) {
    float *p = realloc(c->col, need_col * sizeof(float));
    if (!p) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory (%zu im2col floats)", need_col);
    c->col = p;
    c->col_cap = need_col;
  }
  if (need_tmp > c->tmp_cap) {
    float *p = realloc(c->tmp, need_tmp * sizeof(float));
    if (!p) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory (%zu floats)", need_tmp);
    c->tmp = p;
    c->tmp_cap = need_tmp;
  }
  return (int)n;
}

/* Writes the receptive fields of sample x (C x H x W) into the CKK x hw
   block of col starting at column 0, rows ld floats apart. With padding,
   the sample is first copied into the middle of pad_in, whose border of
   zeros is never written, so that every field is a plain strided copy. */
static void im2col(const conv *c, const float *x, float *col, size_t ld) {
  const int k = c->k, s = c->s, Ho = c->Ho, Wo = c->Wo, Hp = c->H + 2 * c->pad, Wp = c->W + 2 * c->pad;
  if (c->pad) {
    for (int ch = 0; ch < c->C; ch++)
      for (int y = 0; y < c->H; y++) {
        float *d = c->pad_in + ((size_t)ch * Hp + y + c->pad) * Wp + c->pad;
        const float *src = x + ((size_t)ch * c->H + y) * c->W;
        for (int t = 0; t < c->W; t++) d[t] = src[t];
      }
    x = c->pad_in;
  }
  for (int ch = 0; ch < c->C; ch++)
    for (int ki = 0; ki < k; ki++)
      for (int kj = 0; kj < k; kj++) {
        float *row = col + (size_t)((ch * k + ki) * k + kj) * ld;
        for (int oy = 0; oy < Ho; oy++) {
          float *r = row + (size_t)oy * Wo;
          const float *xs = x + ((size_t)ch * Hp + (size_t)oy * s + ki) * Wp + kj;
          if (s == 1)
            for (int ox = 0; ox < Wo; ox++) r[ox] = xs[ox];
          else
            for (int ox = 0; ox < Wo; ox++) r[ox] = xs[(size_t)ox * s];
        }
      }
}

/* Writes the sample's gradient dx (C x H x W) from the CKK x hw block of
   col (rows ld floats apart): the transpose of im2col, summing the fields
   that overlap (in pad_grad, then cropped, when there is padding). */
static void col2im(const conv *c, const float *col, size_t ld, float *dx) {
  const int k = c->k, s = c->s, Ho = c->Ho, Wo = c->Wo, Hp = c->H + 2 * c->pad, Wp = c->W + 2 * c->pad;
  float *acc = c->pad ? c->pad_grad : dx;
  memset(acc, 0, (size_t)c->C * Hp * Wp * sizeof(float));
  for (int ch = 0; ch < c->C; ch++)
    for (int ki = 0; ki < k; ki++)
      for (int kj = 0; kj < k; kj++) {
        const float *row = col + (size_t)((ch * k + ki) * k + kj) * ld;
        for (int oy = 0; oy < Ho; oy++) {
          const float *r = row + (size_t)oy * Wo;
          float *a = acc + ((size_t)ch * Hp + (size_t)oy * s + ki) * Wp + kj;
          if (s == 1)
            for (int ox = 0; ox < Wo; ox++) a[ox] += r[ox];
          else
            for (int ox = 0; ox < Wo; ox++) a[(size_t)ox * s] += r[ox];
        }
      }
  if (c->pad)
    for (int ch = 0; ch < c->C; ch++)
      for (int y = 0; y < c->H; y++)
        memcpy(dx + ((size_t)ch * c->H + y) * c->W, acc + ((size_t)ch * Hp + y + c->pad) * Wp + c->pad,
               (size_t)c->W * sizeof(float));
}

/* Y = conv(X, W) + b, the pre-activation */
static int preact(conv *c, const float *X, int B, float *Y, lpdm_ctx *ctx) {
  const lpdm_layer *l = &c->base;
  const int O = c->O, hw = c->hw, ckk = c->ckk, in = l->in_dim, outw = l->out_dim;
  int nb = chunk_size(c, B, ctx);
  if (nb < 0) return nb;
  for (int b0 = 0; b0 < B; b0 += nb) {
    int n = B - b0 < nb ? B - b0 : nb;
    size_t ld = (size_t)n * hw;
    for (int i = 0; i < n; i++) im2col(c, X + (size_t)(b0 + i) * in, c->col + (size_t)i * hw, ld);
    if (n == 1) /* one sample: the O x hw product is its row of Y */
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, O, hw, ckk, 1.0f, c->Wt, ckk, c->col, hw, 0.0f,
                  Y + (size_t)b0 * outw, hw);
    else {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, O, (int)ld, ckk, 1.0f, c->Wt, ckk, c->col, (int)ld,
                  0.0f, c->tmp, (int)ld);
      for (int i = 0; i < n; i++)
        for (int o = 0; o < O; o++)
          memcpy(Y + (size_t)(b0 + i) * outw + (size_t)o * hw, c->tmp + (size_t)o * ld + (size_t)i * hw,
                 (size_t)hw * sizeof(float));
    }
  }
  if (c->has_bias)
    for (int i = 0; i < B; i++)
      for (int o = 0; o < O; o++) {
        float *y = Y + (size_t)i * outw + (size_t)o * hw, bo = c->b[o];
        for (int p = 0; p < hw; p++) y[p] += bo;
      }
  return LPDM_OK;
}

static int conv_forward(lpdm_layer *l, const float *X, int B, float *Y, lpdm_ctx *ctx) {
  conv *c = (conv *)l;
  size_t n = (size_t)B * l->out_dim;
  int rc;
  if (act_keeps_z(&c->act)) { /* gelu, silu: Z kept for backward */
    act_z_mark(&c->z, NULL, NULL, 0);
    if ((rc = act_z_grow(&c->z, n, ctx)) || (rc = preact(c, X, B, c->z.p, ctx))) return rc;
    act_apply(&c->act, c->z.p, Y, n);
    act_z_mark(&c->z, X, Y, B);
    return LPDM_OK;
  }
  if ((rc = preact(c, X, B, Y, ctx))) return rc;
  if (c->act.kind == ACT_TANH) lpdm_k_tanh(Y, n);
  else if (c->act.kind == ACT_RELU)
    for (size_t i = 0; i < n; i++) Y[i] = Y[i] > 0 ? Y[i] : 0;
  else if (c->act.kind != ACT_IDENTITY) act_apply(&c->act, Y, Y, n);
  return LPDM_OK;
}

static int conv_backward(lpdm_layer *l, const float *X, const float *Y, int B, float *dY, float *dX,
                         lpdm_ctx *ctx) {
  conv *c = (conv *)l;
  const int O = c->O, hw = c->hw, ckk = c->ckk, in = l->in_dim, outw = l->out_dim;
  size_t n = (size_t)B * outw;
  if (c->act.kind == ACT_TANH)
    for (size_t i = 0; i < n; i++) dY[i] *= 1.0f - Y[i] * Y[i];
  else if (c->act.kind == ACT_RELU)
    for (size_t i = 0; i < n; i++) dY[i] = Y[i] > 0 ? dY[i] : 0.0f;
  else if (act_keeps_z(&c->act)) { /* gelu, silu */
    if (!act_z_fresh(&c->z, X, Y, B)) { /* not this Y's forward: Z again from X */
      int rc = act_z_grow(&c->z, n, ctx);
      if (!rc) rc = preact(c, X, B, c->z.p, ctx);
      if (rc) return rc;
      act_z_mark(&c->z, X, Y, B);
    }
    act_grad_z(&c->act, c->z.p, dY, n);
  } else if (c->act.kind != ACT_IDENTITY)
    act_grad_y(&c->act, Y, dY, n);
  if (c->has_bias)
    for (int i = 0; i < B; i++)
      for (int o = 0; o < O; o++) {
        const float *d = dY + (size_t)i * outw + (size_t)o * hw;
        float s = 0;
#pragma omp simd reduction(+ : s)
        for (int p = 0; p < hw; p++) s += d[p];
        c->gb[o] += s;
      }
  int nb = chunk_size(c, B, ctx);
  if (nb < 0) return nb;
  for (int b0 = 0; b0 < B; b0 += nb) {
    int m = B - b0 < nb ? B - b0 : nb;
    size_t ld = (size_t)m * hw;
    for (int i = 0; i < m; i++) im2col(c, X + (size_t)(b0 + i) * in, c->col + (size_t)i * hw, ld);
    const float *dz = dY + (size_t)b0 * outw; /* O x hw when m == 1 */
    if (m > 1) {
      for (int i = 0; i < m; i++)
        for (int o = 0; o < O; o++)
          memcpy(c->tmp + (size_t)o * ld + (size_t)i * hw, dY + (size_t)(b0 + i) * outw + (size_t)o * hw,
                 (size_t)hw * sizeof(float));
      dz = c->tmp;
    }
    /* dW (O x ckk) += dZ (O x ld) col^T (ld x ckk) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, O, ckk, (int)ld, 1.0f, dz, (int)ld, c->col, (int)ld, 1.0f,
                c->gW, ckk);
    if (dX) { /* dcol (ckk x ld) = W^T dZ, into the column buffer */
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ckk, (int)ld, O, 1.0f, c->Wt, ckk, dz, (int)ld, 0.0f,
                  c->col, (int)ld);
      for (int i = 0; i < m; i++) col2im(c, c->col + (size_t)i * hw, ld, dX + (size_t)(b0 + i) * in);
    }
  }
  return LPDM_OK;
}

static const lpdm_layer_kind conv_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_LAYER, "layer.conv2d",
                             "2-D convolution: act(conv(X, W) + b), im2col + GEMM", keys),
    .init = conv_init,
    .forward = conv_forward,
    .free = conv_free,
    .backward = conv_backward,
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_conv2d(void) { return &conv_kind.head; }
