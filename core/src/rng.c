/* SPDX-License-Identifier: MIT */
/* rng.c -- lpdm's training RNG: xoshiro256** (Blackman & Vigna), seeded
   through splitmix64. The whole state is four words plus a cached normal,
   so it can be saved and restored exactly. */
#include <math.h>
#include <stdlib.h>

#include "internal.h"

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void lpdm_rng_seed(lpdm_rng *r, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
  r->has_spare = 0;
  r->spare = 0;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t lpdm_rng_u64(lpdm_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double lpdm_rng_uniform(lpdm_rng *r) { return (double)(lpdm_rng_u64(r) >> 11) * 0x1.0p-53; }

double lpdm_rng_normal(lpdm_rng *r) {
  /* Marsaglia's polar method; the second value is kept for the next call. */
  if (r->has_spare) {
    r->has_spare = 0;
    return r->spare;
  }
  double u, v, s;
  do {
    u = 2.0 * lpdm_rng_uniform(r) - 1.0;
    v = 2.0 * lpdm_rng_uniform(r) - 1.0;
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  double m = sqrt(-2.0 * log(s) / s);
  r->spare = v * m;
  r->has_spare = 1;
  return u * m;
}

uint64_t lpdm_rng_below(lpdm_rng *r, uint64_t n) {
  if (n <= 1) return 0;
  /* Lemire's nearly-divisionless method. */
  unsigned __int128 m = (unsigned __int128)lpdm_rng_u64(r) * n;
  uint64_t lo = (uint64_t)m;
  if (lo < n) {
    uint64_t t = (0 - n) % n;
    while (lo < t) {
      m = (unsigned __int128)lpdm_rng_u64(r) * n;
      lo = (uint64_t)m;
    }
  }
  return (uint64_t)(m >> 64);
}

/* Modified Gram-Schmidt of normal draws, in double precision: the rows
   (rows <= cols) or the columns of A orthonormal. */
int lpdm_rng_orthogonal(lpdm_rng *rng, float *A, int rows, int cols) {
  int by_rows = rows <= cols;
  int nv = by_rows ? rows : cols, len = by_rows ? cols : rows;
  double *V = malloc((size_t)nv * len * sizeof *V);
  if (!V) return LPDM_ERR_MEM;
  for (int k = 0; k < nv; k++) {
    for (;;) {
      double *v = V + (size_t)k * len;
      for (int t = 0; t < len; t++) v[t] = lpdm_rng_normal(rng);
      for (int pass = 0; pass < 2; pass++)
        for (int j = 0; j < k; j++) {
          const double *u = V + (size_t)j * len;
          double dot = 0;
          for (int t = 0; t < len; t++) dot += u[t] * v[t];
          for (int t = 0; t < len; t++) v[t] -= dot * u[t];
        }
      double nrm = 0;
      for (int t = 0; t < len; t++) nrm += v[t] * v[t];
      nrm = sqrt(nrm);
      if (nrm < 1e-6) continue; /* a degenerate draw: try again */
      for (int t = 0; t < len; t++) v[t] /= nrm;
      break;
    }
  }
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++)
      A[(size_t)r * cols + c] = (float)(by_rows ? V[(size_t)r * len + c] : V[(size_t)c * len + r]);
  free(V);
  return LPDM_OK;
}
