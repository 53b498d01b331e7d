/* SPDX-License-Identifier: MIT */
/* act.c -- the activations of layer.dense and layer.conv2d beyond tanh,
   relu and identity: definitions, derivatives and why each is computed as
   it is are in act.h.

   Every function is one pass over a float array. The arithmetic ones
   (leaky_relu, the derivatives from Y of sigmoid and elu) vectorise; the
   others call libm's float functions (expf, expm1f, log1pf, erfcf) once or
   twice per element, which GCC does not vectorise without -ffast-math: a
   branch-free float32 kernel for them, as lpdm_k_tanh is for tanh, is left
   for when they are measured to matter.

   Derivatives from Y, and their precision (float32):
     sigmoid  Y (1 - Y): as PyTorch. Beyond |x| ~ 17 Y rounds to 0 or 1
              and the derivative to 0 (true value < 4e-8).
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

#include <math.h>
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

/* Z == Y allowed: element i is read before it is written. */
void act_apply(const act_fn *a, const float *Z, float *Y, size_t n) {
  const float alpha = a->alpha, slope = a->slope;
  switch (a->kind) {
    case ACT_SIGMOID:
      for (size_t i = 0; i < n; i++) Y[i] = 1.0f / (1.0f + expf(-Z[i]));
      break;
    case ACT_ELU:
      for (size_t i = 0; i < n; i++) {
        const float x = Z[i];
        Y[i] = x > 0 ? x : alpha * expm1f(x);
      }
      break;
    case ACT_GELU:
      for (size_t i = 0; i < n; i++) {
        const float x = Z[i];
        Y[i] = 0.5f * x * erfcf(-x * SQRT1_2F);
      }
      break;
    case ACT_SILU: /* x / (1 + e^-x): e^-x = inf for x < -88 gives -0 */
      for (size_t i = 0; i < n; i++) {
        const float x = Z[i];
        Y[i] = x / (1.0f + expf(-x));
      }
      break;
    case ACT_LEAKY_RELU:
      for (size_t i = 0; i < n; i++) {
        const float x = Z[i];
        Y[i] = x > 0 ? x : slope * x;
      }
      break;
    case ACT_SOFTPLUS: /* e^x <= e^20 below the threshold: no overflow */
      for (size_t i = 0; i < n; i++) {
        const float x = Z[i];
        Y[i] = x > SOFTPLUS_THRESHOLD ? x : log1pf(expf(x));
      }
      break;
    default:
      break;
  }
}

void act_grad_y(const act_fn *a, const float *Y, float *dY, size_t n) {
  const float alpha = a->alpha, slope = a->slope;
  switch (a->kind) {
    case ACT_SIGMOID:
      for (size_t i = 0; i < n; i++) dY[i] *= Y[i] * (1.0f - Y[i]);
      break;
    case ACT_ELU:
      for (size_t i = 0; i < n; i++) dY[i] *= Y[i] > 0 ? 1.0f : Y[i] + alpha;
      break;
    case ACT_LEAKY_RELU:
      for (size_t i = 0; i < n; i++) dY[i] *= Y[i] > 0 ? 1.0f : slope;
      break;
    case ACT_SOFTPLUS:
      for (size_t i = 0; i < n; i++) dY[i] *= Y[i] > SOFTPLUS_THRESHOLD ? 1.0f : -expm1f(-Y[i]);
      break;
    default:
      break;
  }
}

void act_grad_z(const act_fn *a, const float *Z, float *dY, size_t n) {
  if (a->kind == ACT_GELU)
    for (size_t i = 0; i < n; i++) {
      const float x = Z[i];
      dY[i] *= 0.5f * erfcf(-x * SQRT1_2F) + x * (INV_SQRT_2PI_F * expf(-0.5f * x * x));
    }
  else if (a->kind == ACT_SILU)
    for (size_t i = 0; i < n; i++) {
      const float x = Z[i], s = 1.0f / (1.0f + expf(-x));
      dY[i] *= s * (1.0f + x * (1.0f - s));
    }
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
