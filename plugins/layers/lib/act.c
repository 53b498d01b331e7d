/* SPDX-License-Identifier: MIT */
/* act.c -- the activations of layer.dense and layer.conv2d beyond tanh,
   relu and identity: definitions, derivatives and why each is computed as
   it is are in act.h.

   Every function is one pass over a float array, built for AVX2 next to
   the baseline (LPDM_VECTORIZE; no clone fuses a multiply-add, so the
   clones give the same bits). e^x, expm1, log1p and the normal CDF are
   computed here, branch-free (below), so that every loop vectorises (with
   the build's -fno-trapping-math, which lets GCC turn the selects into
   blends): libm's expf and erfcf do not without -ffast-math. Measured
   with bench/bench_dense --act=NAME (a dense 64 -> 64 at B = 128, one
   BLAS thread, a shared machine): with libm, sigmoid's forward took 3x
   tanh's, gelu's 2.7x (its backward 4x) and softplus's 8x; here sigmoid,
   elu and leaky_relu cost what tanh does, silu, gelu and softplus about
   1.5x forward and 1.2-1.6x backward.

   Derivatives from Y, and their precision (float32):
     sigmoid  Y (1 - Y): as PyTorch. Beyond x ~ 17 Y rounds to 1 and the
              derivative to 0 (true value < 4e-8); on the left it is
              relatively exact.
     elu      Y + alpha for Y <= 0 (= alpha e^x): in the left tail Y is
              -alpha + alpha e^x rounded to float, so the derivative has an
              absolute error below ulp(alpha) (6e-8 alpha), and is 0 once
              e^x < 6e-8 (x < -16.6). X would give it relatively exact, but
              X is the previous layer's buffer and the error is below what
              a float32 weight update resolves, so Y is used, as PyTorch's
              elu backward does with its result.
     leaky    exact: Y > 0 exactly when x > 0 (slope >= 0).
     softplus 1 - e^-Y = -expm1(-Y) is sigmoid(x) exactly (e^Y = 1 + e^x),
              relatively accurate at both ends (Y ~ e^x on the left,
              expm1 of a small Y); 1 above the threshold, where Y = x. */
#include "lib/act.h"
#include "lpdm/expm1r.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int act_parse(const lpdm_config *cfg, act_fn *a, lpdm_ctx *ctx) {
  static const char *const names[] = {"tanh", "relu", "identity", "sigmoid", "elu", "gelu", "silu", "leaky_relu",
                                      "softplus"};
  const char *s = lpdm_cfg_str(cfg, "act");
  int k = -1;
  for (int i = 0; i < (int)(sizeof names / sizeof *names); i++)
    if (!strcmp(s, names[i])) k = i;
  if (!strcmp(s, "linear")) k = ACT_IDENTITY;
  if (k < 0) return lpdm_error(ctx, LPDM_ERR_ARG, "unknown act '%s' (%s)", s, ACT_NAMES);
  const double alpha = lpdm_cfg_num(cfg, "alpha"), slope = lpdm_cfg_num(cfg, "negative_slope");
  if (!(alpha > 0 && alpha < 1e30))
    return lpdm_error(ctx, LPDM_ERR_ARG, "alpha (elu) must be > 0 and finite, got %g", alpha);
  if (!(slope >= 0 && slope < 1e30))
    return lpdm_error(ctx, LPDM_ERR_ARG, "negative_slope (leaky_relu) must be >= 0 and finite, got %g", slope);
  if (alpha != 1.0 && k != ACT_ELU)
    return lpdm_error(ctx, LPDM_ERR_ARG, "alpha = %g is elu's parameter, but act is '%s'", alpha, s);
  if (slope != 0.01 && k != ACT_LEAKY_RELU)
    return lpdm_error(ctx, LPDM_ERR_ARG, "negative_slope = %g is leaky_relu's parameter, but act is '%s'", slope, s);
  a->kind = k;
  a->alpha = (float)alpha;
  a->slope = (float)slope;
  return LPDM_OK;
}

int act_keeps_z(const act_fn *a) { return a->kind == ACT_GELU || a->kind == ACT_SILU; }

enum { SOFTPLUS_THRESHOLD = 20 };
#define SQRT1_2F 0.70710678118654752f
#define INV_SQRT_2PI_F 0.39894228040143268f

/* ---- float32 kernels without libm, branch-free so that the loops below
   vectorise (lpdm/expm1r.h, which lpdm_k_tanh also uses). With
   k = round(x / ln 2) and r = x - k ln 2 (ln 2 in two parts, k ln2_hi
   exact), |r| <= ln 2 / 2 and
     expm1(r) = r + r^2 q(r),  q the degree-5 Taylor polynomial of
                (e^r - 1 - r) / r^2 (truncation < 2e-8 relative),
     e^x      = 2^k (1 + expm1(r)),
     expm1(x) = 2^k expm1(r) + (2^k - 1)  (no cancellation near 0: k = 0).
   x is clamped to [-87, 88] first, so that 2^k is a normal float (k in
   [-126, 127]): e^x is then at least 1.6e-38 and at most 1.7e38 instead
   of 0 or inf beyond, which changes no activation by more than 1e-36.
   A NaN stays NaN. log1p(u) for u in [0, 1] (softplus) is
   2 atanh(s) = 2 s (1 + s^2/3 + s^4/5 + ... + s^14/15), s = u / (2 + u)
   <= 1/3 (truncation < 2e-9 relative). Measured against double
   (tests/test_acts.c sweeps [-40, 40]): within a few float32 ulp. */
/* expm1(r) for |r| <= ln 2 / 2; *two_k = 2^k for x = k ln 2 + r
   (lpdm/expm1r.h, after the clamp to [-87, 88]) */
static inline float reduce(float x, float *two_k) {
  float a = x > 88.0f ? 88.0f : x;
  a = a < -87.0f ? -87.0f : a; /* a NaN stays NaN */
  return lpdm_expm1_reduced(a, two_k);
}

static inline float exp_f(float x) { /* 0 below -87 */
  float t;
  const float em = reduce(x, &t);
  const float e = t * (1.0f + em);
  return x < -87.0f ? 0.0f : e;
}

static inline float expm1_f(float x) {
  float t;
  const float em = reduce(x, &t);
  return t * em + (t - 1.0f);
}

static inline float log1p_f(float u) { /* 0 <= u <= 1 */
  const float s = u / (2.0f + u), z = s * s;
  float p = z * (1.0f / 15.0f) + 1.0f / 13.0f;
  p = z * p + 1.0f / 11.0f;
  p = z * p + 1.0f / 9.0f;
  p = z * p + 1.0f / 7.0f;
  p = z * p + 1.0f / 5.0f;
  p = z * p + 1.0f / 3.0f;
  return 2.0f * s + 2.0f * s * (z * p);
}

/* Phi(x) = 0.5 erfc(-x / sqrt 2), the standard normal CDF. With
   u = |x| / sqrt 2, t = 1 / (1 + 3/8 min(u, 10)):
     h = 0.5 erfc(u) = 0.5 t G(t - 0.60526) e^(-u^2),
     Phi(x) = h for x < 0, 1 - h for x >= 0,
   G (degree 10) a Chebyshev fit (mpmath's chebyfit, 30 digits) of
   e^(u^2) erfc(u) / t over u in [0, 10] (max error 4.5e-10, relative
   2.2e-9): one formula for the whole range, and the left tail relatively
   exact (no 1 - erf). u^2 is 0.5 x^2 (one rounding). Past u = 10 (|x| >
   14.1) e^(-u^2) is 0 in float, and so is h. *pdf receives the density
   phi(x) = e^(-x^2 / 2) / sqrt(2 pi), from the same exponential. */
static inline float phi_cdf(float x, float *pdf) {
  const float ax = x < 0 ? -x : x, u = ax * SQRT1_2F, z = 0.5f * (x * x);
  const float t = 1.0f / (1.0f + 0.375f * (u < 10.0f ? u : 10.0f)), w = t - 6.052631579e-01f;
  float g = w * -3.204813495e-02f - 3.926489998e-03f;
  g = w * g + 7.377496428e-02f;
  g = w * g + 1.202908819e-02f;
  g = w * g - 1.553543160e-01f;
  g = w * g - 1.056450590e-01f;
  g = w * g + 3.038740119e-01f;
  g = w * g + 7.915935389e-01f;
  g = w * g + 9.839578046e-01f;
  g = w * g + 8.080629209e-01f;
  g = w * g + 4.731867519e-01f;
  const float e = exp_f(-z), h = 0.5f * (t * g) * e;
  *pdf = INV_SQRT_2PI_F * e;
  return x < 0 ? h : 1.0f - h;
}

/* ---- the passes. Z == Y allowed: element i is read before it is written. */
LPDM_VECTORIZE static void sigmoid_fwd(const float *Z, float *Y, size_t n) {
  for (size_t i = 0; i < n; i++) Y[i] = 1.0f / (1.0f + exp_f(-Z[i]));
}

LPDM_VECTORIZE static void elu_fwd(float alpha, const float *Z, float *Y, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const float x = Z[i], e = alpha * expm1_f(x < 0 ? x : 0.0f);
    Y[i] = x > 0 ? x : e;
  }
}

LPDM_VECTORIZE static void gelu_fwd(const float *Z, float *Y, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const float x = Z[i];
    float pdf;
    Y[i] = x * phi_cdf(x, &pdf);
  }
}

LPDM_VECTORIZE static void silu_fwd(const float *Z, float *Y, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const float x = Z[i];
    Y[i] = x / (1.0f + exp_f(-x));
  }
}

LPDM_VECTORIZE static void leaky_fwd(float slope, const float *Z, float *Y, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const float x = Z[i];
    Y[i] = x > 0 ? x : slope * x;
  }
}

/* max(x, 0) + log1p(e^-|x|): log(1 + e^x) without overflow or cancellation */
LPDM_VECTORIZE static void softplus_fwd(const float *Z, float *Y, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const float x = Z[i], ax = x < 0 ? -x : x;
    const float v = (x > 0 ? x : 0.0f) + log1p_f(exp_f(-ax));
    Y[i] = x > SOFTPLUS_THRESHOLD ? x : v;
  }
}

void act_apply(const act_fn *a, const float *Z, float *Y, size_t n) {
  switch (a->kind) {
    case ACT_SIGMOID: sigmoid_fwd(Z, Y, n); break;
    case ACT_ELU: elu_fwd(a->alpha, Z, Y, n); break;
    case ACT_GELU: gelu_fwd(Z, Y, n); break;
    case ACT_SILU: silu_fwd(Z, Y, n); break;
    case ACT_LEAKY_RELU: leaky_fwd(a->slope, Z, Y, n); break;
    case ACT_SOFTPLUS: softplus_fwd(Z, Y, n); break;
    default: break;
  }
}

LPDM_VECTORIZE static void grad_y(int kind, float alpha, float slope, const float *Y, float *dY, size_t n) {
  switch (kind) {
    case ACT_SIGMOID:
      for (size_t i = 0; i < n; i++) dY[i] *= Y[i] * (1.0f - Y[i]);
      break;
    case ACT_ELU:
      for (size_t i = 0; i < n; i++) dY[i] *= Y[i] > 0 ? 1.0f : Y[i] + alpha;
      break;
    case ACT_LEAKY_RELU:
      for (size_t i = 0; i < n; i++) dY[i] *= Y[i] > 0 ? 1.0f : slope;
      break;
    case ACT_SOFTPLUS: /* Y >= 0 */
      for (size_t i = 0; i < n; i++) {
        const float d = -expm1_f(-Y[i]);
        dY[i] *= Y[i] > SOFTPLUS_THRESHOLD ? 1.0f : d;
      }
      break;
    default:
      break;
  }
}

void act_grad_y(const act_fn *a, const float *Y, float *dY, size_t n) { grad_y(a->kind, a->alpha, a->slope, Y, dY, n); }

LPDM_VECTORIZE static void gelu_grad(const float *Z, float *dY, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const float x = Z[i];
    float pdf;
    const float cdf = phi_cdf(x, &pdf);
    dY[i] *= cdf + x * pdf;
  }
}

LPDM_VECTORIZE static void silu_grad(const float *Z, float *dY, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const float x = Z[i], s = 1.0f / (1.0f + exp_f(-x));
    dY[i] *= s * (1.0f + x * (1.0f - s));
  }
}

void act_grad_z(const act_fn *a, const float *Z, float *dY, size_t n) {
  if (a->kind == ACT_GELU) gelu_grad(Z, dY, n);
  else if (a->kind == ACT_SILU) silu_grad(Z, dY, n);
}

int act_z_grow(act_z *z, size_t n, lpdm_ctx *ctx) {
  if (n <= z->cap) return LPDM_OK;
  float *p = realloc(z->p, n * sizeof(float));
  if (!p) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory (%zu pre-activation floats)", n);
  z->p = p;
  z->cap = n;
  z->x = z->y = NULL; /* realloc may have moved it: nothing is marked */
  z->B = 0;
  return LPDM_OK;
}

void act_z_mark(act_z *z, const float *X, const float *Y, int B) {
  z->x = X;
  z->y = Y;
  z->B = B;
}

int act_z_fresh(const act_z *z, const float *X, const float *Y, int B) {
  return z->B == B && z->x == X && z->y == Y && B > 0;
}

void act_z_free(act_z *z) {
  free(z->p);
  memset(z, 0, sizeof *z);
}
