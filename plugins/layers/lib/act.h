/* SPDX-License-Identifier: MIT */
/*
** lib/act.h -- the activations of layer.dense and layer.conv2d (a private
** static library of the layer plugins, plugins/layers/lib; not ABI).
**
** tanh, relu and identity stay inside each layer, on their own code paths
** (their bytes are those of every run so far); this file holds the
** others, with PyTorch's default definitions:
**   sigmoid     1 / (1 + e^-x)
**   elu         x (x > 0), alpha (e^x - 1) (x <= 0); key alpha (1.0, > 0)
**   gelu        x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), the exact erf form
**               (nn.GELU's default, approximate='none'); Phi is computed
**               as 0.5 erfc(-x / sqrt 2) (act.c), the same function
**               without the cancellation of 1 + erf in the left tail
**   silu        x sigmoid(x) (also called swish)
**   leaky_relu  x (x > 0), negative_slope x (x <= 0); key negative_slope
**               (0.01, >= 0)
**   softplus    log(1 + e^x), and x when x > 20 (nn.Softplus's threshold),
**               as max(x, 0) + log1p(e^-|x|)
** Each is a vectorised float32 loop (e^x, expm1, log1p and Phi of act.c's
** own), within 4 float32 ulp of the definition times its condition number
** (tests/test_acts.c).
**
** BACKWARD. dZ = dY * act'(Z). sigmoid, elu, leaky_relu and softplus are
** strictly increasing (leaky_relu with slope 0 is relu: Y > 0 still tells
** the side), so act'(Z) is a function of Y (act_grad_y):
**   sigmoid     Y (1 - Y)
**   elu         1 (Y > 0), Y + alpha (Y <= 0: alpha e^x = Y + alpha)
**   leaky_relu  1 (Y > 0), negative_slope (Y <= 0)
**   softplus    1 - e^-Y = -expm1(-Y) (Y > 20: 1)
** gelu and silu are not monotone (one Y has two X): their derivative needs
** the pre-activation Z (act_grad_z), which the layer keeps (act_z below):
**   gelu        Phi(x) + x phi(x),  phi(x) = e^(-x^2/2) / sqrt(2 pi)
**   silu        s (1 + x (1 - s)),  s = sigmoid(x)
** At x = 0 elu and leaky_relu take the left derivative (alpha, the
** slope), as PyTorch does.
**
** Usage in a layer:
**   static const lpdm_key keys[] = { ..., ACT_KEYS, ... };   // act, alpha, negative_slope
**   act_fn a;  if ((rc = act_parse(cfg, &a, ctx))) return rc;
**   forward:   Z = X W + b into Y (or into z->p when act_keeps_z(&a)), then
**              act_apply(&a, Z, Y, n) for a.kind >= ACT_SIGMOID
**   backward:  act_grad_y(&a, Y, dY, n), or act_grad_z(&a, z->p, dY, n)
*/
#ifndef LPDM_LAYERS_ACT_H
#define LPDM_LAYERS_ACT_H
#include <stddef.h>

#include "lpdm/lpdm.h"

/* The first three are computed by the layers themselves. */
enum { ACT_TANH, ACT_RELU, ACT_IDENTITY, ACT_SIGMOID, ACT_ELU, ACT_GELU, ACT_SILU, ACT_LEAKY_RELU, ACT_SOFTPLUS };

#define ACT_NAMES "tanh, relu, identity, sigmoid, elu, gelu, silu, leaky_relu or softplus"

/* The three config keys of an activation, for a layer's key list. */
#define ACT_KEYS                                                                                     \
  {"act", LPDM_T_STRING, "tanh", "activation: " ACT_NAMES},                                          \
      {"alpha", LPDM_T_NUMBER, "1.0", "act = elu: alpha (e^x - 1) for x <= 0 (> 0)"},                \
      {"negative_slope", LPDM_T_NUMBER, "0.01", "act = leaky_relu: the slope for x <= 0 (>= 0)"}

typedef struct act_fn {
  int kind;    /* ACT_* */
  float alpha; /* elu */
  float slope; /* leaky_relu */
} act_fn;

/* Reads act, alpha and negative_slope. An unknown name, alpha <= 0, a
   negative slope, or alpha / negative_slope set for another act is an
   LPDM_ERR_ARG naming the key. */
int act_parse(const lpdm_config *cfg, act_fn *a, lpdm_ctx *ctx);

/* 1 for gelu and silu: backward needs the pre-activation. */
int act_keeps_z(const act_fn *a);

/* Y = act(Z), n elements, for kind >= ACT_SIGMOID (Z == Y allowed). */
void act_apply(const act_fn *a, const float *Z, float *Y, size_t n);
/* dY *= act'(Z) from Y = act(Z): sigmoid, elu, leaky_relu, softplus. */
void act_grad_y(const act_fn *a, const float *Y, float *dY, size_t n);
/* dY *= act'(Z) from Z: gelu, silu. */
void act_grad_z(const act_fn *a, const float *Z, float *dY, size_t n);

/* The pre-activation a layer keeps for gelu and silu: forward writes Z of
   its call into p and marks it with the call's X, Y and B; backward uses
   it when its X, Y and B are the marked ones (the usual case: the forward
   that made Y was this layer's last), and otherwise recomputes Z from X
   (act_z_fresh says which). p grows to the largest batch and is reused. */
typedef struct act_z {
  float *p;
  size_t cap;
  const float *x, *y;
  int B;
} act_z;

/* Makes p hold n floats; LPDM_ERR_MEM on failure. */
int act_z_grow(act_z *z, size_t n, lpdm_ctx *ctx);
/* After forward wrote Z into p: marks it as the Z of (X, Y, B). */
void act_z_mark(act_z *z, const float *X, const float *Y, int B);
/* 1 when p holds the Z of (X, Y, B). */
int act_z_fresh(const act_z *z, const float *X, const float *Y, int B);
void act_z_free(act_z *z);

#endif
