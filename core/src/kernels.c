/* SPDX-License-Identifier: MIT */
/* kernels.c -- small vectorisable kernels shared by plugins.

   lpdm_k_tanh: tanh in float32 without libm, branch-free so the compiler
   vectorises it (and built for AVX2 and AVX-512 next to the baseline,
   chosen at load time). With a = min(|x|, 9) (tanh(9) rounds to 1) and
   y = -2a, one formula for the whole range:
     tanh(x) = sign(x) * t,   t = -m / (2 + m),   m = expm1(y),
     m = 2^k expm1(r) + (2^k - 1),  k = round(y / ln 2), r = y - k ln 2
   (r split in two parts), expm1(r) = r + r^2 q(r) with q the degree-5
   Taylor polynomial of (e^r - 1 - r) / r^2: for |x| < 0.17 k = 0 and m is
   expm1(r) itself, with no cancellation near 0. About 20 operations and
   one division per element (the earlier version computed a degree-10
   series and a degree-7 exp and chose: ~1.45x the time, best of many
   runs on a Zen 3). t is clamped to 1,
   the sign copied from x (tanh(-0) = -0), a NaN propagates.
   Measured against double tanh over every float in [-12, 12]: at most
   2.5 float32 ulp (tests/test_kernels.c checks <= 3 on a sweep).

   lpdm_k_mirror_upper: copies the upper triangle of an n x n row-major
   matrix onto the lower one; lpdm_k_transpose: At = A^T. Both go by 32 x 32
   tiles through a local buffer, so that memory is only ever read and
   written along rows: walking a column of a power-of-two-wide matrix puts
   every element in one L1 set (at n = 1024, 30x slower than a copy). */
#include <stdint.h>
#include <string.h>

#include "internal.h"
#include "lpdm/expm1r.h"


static inline float tanh1(float x) {
  float a = __builtin_fabsf(x);
  a = a > 9.0f ? 9.0f : a; /* a NaN stays NaN */
  const float y = -2.0f * a;
  float two_k; /* 2^k, k in [-26, 0] */
  const float em = lpdm_expm1_reduced(y, &two_k); /* expm1(r), y = k ln 2 + r */
  const float m = two_k * em + (two_k - 1.0f); /* expm1(y) = 2^k expm1(r) + 2^k - 1 */
  float t = -m / (2.0f + m);
  t = t > 1.0f ? 1.0f : t; /* a NaN stays NaN */
  return __builtin_copysignf(t, x);
}

/* tanh gets an AVX-512 clone of its own (16 lanes: 1.3-1.4x the AVX2 clone
   here). This file is built with -ffp-contract=off, so no clone fuses a
   multiply and an add: every clone computes the same IEEE operations per
   element and gives the same bits, whichever the CPU picks (the earlier
   formula was checked over all 2^32 inputs, AVX-512 against AVX2; this
   one, AVX2 against the baseline clone's code, over every float in
   [-12, 12], on a Zen 3 without AVX-512). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define LPDM_TANH_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LPDM_TANH_CLONES
#endif

LPDM_TANH_CLONES void lpdm_k_tanh(float *x, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] = tanh1(x[i]);
}

void lpdm_k_mirror_upper(float *A, int n) {
  enum { T = 32 };
  float buf[T][T];
  for (int ib = 0; ib < n; ib += T)
    for (int jb = 0; jb <= ib; jb += T) {
      const int ie = ib + T < n ? ib + T : n, je = jb + T < n ? jb + T : n;
      /* the upper tile's rows j (contiguous), then the lower tile's rows i */
      for (int j = jb; j < je; j++) memcpy(buf[j - jb], A + (size_t)j * n + ib, (size_t)(ie - ib) * sizeof(float));
      for (int i = ib; i < ie; i++) {
        float *row = A + (size_t)i * n;
        for (int j = jb; j < je && j < i; j++) row[j] = buf[j - jb][i - ib];
      }
    }
}

void lpdm_k_transpose(const float *A, float *At, int n) {
  enum { T = 32 };
  float buf[T][T];
  for (int ib = 0; ib < n; ib += T)
    for (int jb = 0; jb < n; jb += T) {
      const int ie = ib + T < n ? ib + T : n, je = jb + T < n ? jb + T : n;
      for (int i = ib; i < ie; i++) memcpy(buf[i - ib], A + (size_t)i * n + jb, (size_t)(je - jb) * sizeof(float));
      for (int j = jb; j < je; j++) {
        float *row = At + (size_t)j * n;
        for (int i = ib; i < ie; i++) row[i] = buf[i - ib][j - jb];
      }
    }
}
