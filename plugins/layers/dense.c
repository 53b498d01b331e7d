/*
** dense.c -- the fully connected layer:  Y = act(X W + b), or with
** norm = "layer"  Y = act(LN(X W + b)).
**
** X is B x in (row-major float32), W is in x out, b has out entries.
** The product runs through cblas_sgemm; the backward pass uses the layer's
** own output to form act'(Z) (tanh: 1 - Y^2, relu: Y > 0, identity: 1), so
** it needs no stored pre-activation:
**     dZ = dY * act'(Z)      dW += X^T dZ      db += sum_rows dZ
**     dX = dZ W^T
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
** norm = "none" (the default) runs exactly the code and arithmetic it ran
** before the option existed.
**
** Config keys (defaults):
**   out   = 64         output width
**   act   = "tanh"     "tanh", "relu" or "identity"
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
**                         lpdm.dense{ 64, norm = "layer" } }
*/
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lpdm/lpdm.h"

enum { ACT_TANH, ACT_RELU, ACT_IDENTITY };

typedef struct dense {
  lpdm_layer base;
  int act;
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
    {"act", LPDM_T_STRING, "tanh", "activation: tanh, relu or identity"},
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
  free(d);
}

static int dense_init(const lpdm_layer_kind *kind, const lpdm_config *cfg, int in, lpdm_rng *rng,
                      lpdm_layer **out, lpdm_ctx *ctx) {
  int q = lpdm_cfg_int(cfg, "out");
  const char *act = lpdm_cfg_str(cfg, "act"), *init = lpdm_cfg_str(cfg, "init");
  double gain = lpdm_cfg_num(cfg, "gain");
  if (q < 1 || q > (1 << 20)) return lpdm_error(ctx, LPDM_ERR_ARG, "out must be 1..1048576, got %d", q);
  int a;
  if (!strcmp(act, "tanh")) a = ACT_TANH;
  else if (!strcmp(act, "relu")) a = ACT_RELU;
  else if (!strcmp(act, "identity") || !strcmp(act, "linear")) a = ACT_IDENTITY;
  else return lpdm_error(ctx, LPDM_ERR_ARG, "unknown act '%s' (tanh, relu, identity)", act);
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

/* Z = X W + b into Y (B x q). */
/* Y = X W + b. The bias rows go in first and the GEMM adds onto them
   (beta = 1): the same sums as X W then + b (one addition of b to the
   finished dot product, which commutes), without OpenBLAS's pass that
   zeroes Y for beta = 0 and without a second pass for the bias. */
static void affine(const dense *d, const float *X, int B, float *Y) {
  const int p = d->base.in_dim, q = d->base.out_dim;
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

static int dense_forward(lpdm_layer *l, const float *X, int B, float *Y, lpdm_ctx *ctx) {
  dense *d = (dense *)l;
  const int q = l->out_dim;
  affine(d, X, B, Y);
  if (d->norm) {
    normalise(d, Y, B, NULL);
    for (int i = 0; i < B; i++) {
      float *y = Y + (size_t)i * q;
      for (int j = 0; j < q; j++) y[j] = y[j] * d->gain[j] + d->shift[j];
    }
  }
  size_t n = (size_t)B * q;
  if (d->act == ACT_TANH) lpdm_k_tanh(Y, n);
  else if (d->act == ACT_RELU)
    for (size_t i = 0; i < n; i++) Y[i] = Y[i] > 0 ? Y[i] : 0;
  return LPDM_OK;
}

static int dense_backward(lpdm_layer *l, const float *X, const float *Y, int B, float *dY,
                          float *dX, lpdm_ctx *ctx) {
  dense *d = (dense *)l;
  const int p = l->in_dim, q = l->out_dim;
  size_t n = (size_t)B * q;
  if (d->act == ACT_TANH)
    for (size_t i = 0; i < n; i++) dY[i] *= 1.0f - Y[i] * Y[i];
  else if (d->act == ACT_RELU)
    for (size_t i = 0; i < n; i++) dY[i] = Y[i] > 0 ? dY[i] : 0.0f;
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
  if (d->has_bias)
    for (int i = 0; i < B; i++) {
      const float *r = dY + (size_t)i * q;
      for (int j = 0; j < q; j++) d->gb[j] += r[j];
    }
  if (dX)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, p, q, 1.0f, dY, q, d->W, q, 0.0f, dX, p);
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
