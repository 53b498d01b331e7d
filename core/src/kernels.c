/* kernels.c -- small vectorisable kernels shared by plugins.

   lpdm_k_tanh: tanh in float32 without libm, branch-free so the compiler
   vectorises it (and built for AVX2 next to the baseline, chosen at load
   time). tanh(x) = sign(x) * t(|x|), |x| clamped to 9 (tanh(9) rounds to 1):
     |x| < 0.3:  t = -m / (2 + m), m = expm1(-2|x|) by its Taylor series
                 to degree 10 (no cancellation near 0);
     otherwise:  t = (1 - e) / (1 + e), e = exp(-2|x|) = 2^k p(r) with
                 k = round(y / ln 2), r = y - k ln 2 (split in two parts)
                 and p the degree-7 Taylor polynomial of exp.
   Measured against double tanh over [-12, 12]: at most 3.5 float32 ulp.

   lpdm_k_mirror_upper: copies the upper triangle of an n x n row-major
   matrix onto the lower one; lpdm_k_transpose: At = A^T. Both go by 32 x 32
   tiles through a local buffer, so that memory is only ever read and
   written along rows: walking a column of a power-of-two-wide matrix puts
   every element in one L1 set (at n = 1024, 30x slower than a copy). */
#include <stdint.h>
#include <string.h>

#include "internal.h"


static inline float tanh1(float x) {
  float a = x < 0 ? -x : x;
  a = a > 9.0f ? 9.0f : a; /* a NaN stays NaN */
  const float y = -2.0f * a;
  float s = y * (1.0f / 3628800.0f);
  s = y * (s + 1.0f / 362880.0f);
  s = y * (s + 1.0f / 40320.0f);
  s = y * (s + 1.0f / 5040.0f);
  s = y * (s + 1.0f / 720.0f);
  s = y * (s + 1.0f / 120.0f);
  s = y * (s + 1.0f / 24.0f);
  s = y * (s + 1.0f / 6.0f);
  s = y * (s + 0.5f);
  s = y * (s + 1.0f);
  const float kf = (y * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = y - kf * 0.693145751953125f;
  r = r - kf * 1.428606765330187045e-06f;
  float p = r * (1.0f / 5040.0f) + 1.0f / 720.0f;
  p = r * p + 1.0f / 120.0f;
  p = r * p + 1.0f / 24.0f;
  p = r * p + 1.0f / 6.0f;
  p = r * p + 0.5f;
  p = r * p + 1.0f;
  p = r * p + 1.0f;
  const int32_t bits = ((int32_t)kf + 127) << 23;
  float two_k;
  memcpy(&two_k, &bits, sizeof two_k);
  const float e = p * two_k;
  /* one division for both branches: small -s / (2 + s), large (1 - e) / (1 + e) */
  const int sm = a < 0.3f;
  const float t = (sm ? -s : 1.0f - e) / (sm ? 2.0f + s : 1.0f + e);
  return x < 0 ? -t : t;
}

/* tanh gets an AVX-512 clone of its own (16 lanes: 1.3-1.4x the AVX2 clone
   here). This file is built with -ffp-contract=off, so no clone fuses a
   multiply and an add: every clone computes the same IEEE operations per
   element and gives the same bits (checked over all 2^32 inputs, AVX-512
   against AVX2), whichever the CPU picks. */
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
