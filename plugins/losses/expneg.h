/* SPDX-License-Identifier: MIT */
/*
** expneg.h -- exp(-a) for a >= 0 in float32, written so that the compiler
** vectorises a loop that calls it (no libm call, no branch): shared by the
** loss plugins that need an exponential per pair (loss.rank's logistic,
** loss.kernel's Gaussian kernel).
**
** Method: x = -a clamped to [-87, 0] (so exp(-a) for a > 87 is exp(-87),
** about 1.6e-38, not 0); n = round(x / ln 2); r = x - n ln 2 with ln 2 in
** two parts (Cody and Waite), |r| <= ln 2 / 2; exp(r) by its degree-6
** Taylor polynomial (relative error below 3e-7 on that range); 2^n from the
** exponent bits. exp_neg(0) is exactly 1. Include it after <math.h>.
*/
#ifndef LPDM_LOSS_EXPNEG_H
#define LPDM_LOSS_EXPNEG_H
#include <math.h>
#include <stdint.h>

static inline float lpdm_exp_neg(float a) {
  const float x = a < 87.0f ? -a : -87.0f;
  const float n = floorf(x * 1.44269504f + 0.5f);
  float r = x - n * 0.693145752f;
  r = r - n * 1.42860677e-6f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  union {
    int32_t i;
    float f;
  } u;
  u.i = ((int32_t)n + 127) << 23;
  return p * u.f;
}
#endif
