/* SPDX-License-Identifier: MIT */
/*
** lpdm/expm1r.h -- the range-reduced expm1 that lpdm's float32 kernels
** build on (tanh in core/src/kernels.c; sigmoid, elu, silu, gelu and
** softplus in plugins/layers/lib/act.c): header-only and branch-free, so
** that a loop calling it vectorises (no libm call).
**
**   float two_k;
**   float em = lpdm_expm1_reduced(x, &two_k);   // x in [-87, 88]: clamp first
**   e^x      = two_k * (1 + em)
**   expm1(x) = two_k * em + (two_k - 1)        // no cancellation near 0 (k = 0)
**
** With k = round(x / ln 2) (it lands in the low mantissa bits of
** sh = x / ln 2 + 1.5 * 2^23) and r = x - k ln 2 (ln 2 in two parts, so
** k ln2_hi is exact), |r| <= ln 2 / 2 and expm1(r) = r + r^2 q(r), q the
** degree-5 Taylor polynomial of (e^r - 1 - r) / r^2 (truncation below 2e-8
** relative). 2^k comes from the exponent bits: k must keep 2^k a normal
** float, which the range [-87, 88] does. A NaN stays NaN.
*/
#ifndef LPDM_EXPM1R_H
#define LPDM_EXPM1R_H
#include <stdint.h>
#include <string.h>

static inline float lpdm_expm1_reduced(float x, float *two_k) {
  const float sh = x * 1.44269504088896341f + 12582912.0f;
  const float kf = sh - 12582912.0f;
  float r = x - kf * 0.693145751953125f;
  r = r - kf * 1.428606765330187045e-06f;
  float q = r * (1.0f / 5040.0f) + 1.0f / 720.0f;
  q = r * q + 1.0f / 120.0f;
  q = r * q + 1.0f / 24.0f;
  q = r * q + 1.0f / 6.0f;
  q = r * q + 0.5f;
  uint32_t ub;
  memcpy(&ub, &sh, sizeof ub);
  const uint32_t bits = (ub - 0x4B400000u + 127u) << 23; /* 2^k */
  memcpy(two_k, &bits, sizeof *two_k);
  return r + (r * r) * q;
}

#endif
