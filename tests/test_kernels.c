/* SPDX-License-Identifier: MIT */
/* test_kernels.c -- core/src/kernels.c's copies against the plain loops:
   lpdm_k_transpose and lpdm_k_mirror_upper (tiled through a local buffer)
   must give exactly the element-by-element result at sizes that are and
   are not multiples of the 32 x 32 tile, and leave what they must not
   touch alone (the upper triangle and diagonal, for the mirror).
   lpdm_k_tanh against double tanh: at most 3 float32 ulp over a sweep of
   [-12, 12] (every 61st float bit pattern, both signs), |tanh| <= 1, odd
   symmetry bit for bit, tanh(+-0) = +-0, NaN in NaN out, +-Inf to +-1. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lpdm/lpdm.h"
#include "tap.h"

/* |got - ref| in units of the float32 ulp at ref's magnitude */
static double ulps(float got, double ref) {
  const float r = fabsf((float)ref);
  const float u = r == 0 ? 1.4e-45f : nextafterf(r, INFINITY) - r;
  return fabs((double)got - ref) / u;
}

static void check_tanh(void) {
  enum { N = 4096 };
  static float x[N], y[N], yn[N];
  double worst = 0;
  float at = 0;
  int over = 0, asym = 0;
  uint32_t u = 0;
  for (int more = 1; more;) {
    int n = 0;
    for (; n < N; n++, u += 61) {
      float f;
      memcpy(&f, &u, sizeof f);
      if (!(f <= 12.0f)) {
        more = 0;
        break;
      }
      x[n] = f;
    }
    memcpy(y, x, sizeof y);
    for (int i = 0; i < n; i++) yn[i] = -x[i];
    lpdm_k_tanh(y, (size_t)n);
    lpdm_k_tanh(yn, (size_t)n);
    for (int i = 0; i < n; i++) {
      const double e = ulps(y[i], tanh((double)x[i]));
      if (e > worst) worst = e, at = x[i];
      over |= fabsf(y[i]) > 1.0f;
      asym |= yn[i] != -y[i] || signbit(yn[i]) == signbit(y[i]);
    }
  }
  ok(worst <= 3.0, "tanh: at most 3 ulp from double tanh over [-12, 12] (worst %.3f at %.9g)", worst, at);
  ok(!over, "tanh: |tanh(x)| <= 1");
  ok(!asym, "tanh: tanh(-x) == -tanh(x), sign bits included");
  float s[6] = {0.0f, -0.0f, NAN, INFINITY, -INFINITY, 1e30f};
  lpdm_k_tanh(s, 6);
  ok(s[0] == 0 && !signbit(s[0]) && s[1] == 0 && signbit(s[1]), "tanh(+0) = +0, tanh(-0) = -0");
  ok(isnan(s[2]), "tanh(NaN) is NaN");
  ok(s[3] == 1.0f && s[4] == -1.0f && s[5] == 1.0f, "tanh(+-Inf) = +-1, tanh(1e30) = 1");
}

int main(void) {
  const int sizes[] = {1, 2, 31, 32, 33, 64, 65, 100, 1024};
  const int ns = (int)(sizeof sizes / sizeof *sizes);
  plan(2 * ns + 6);
  check_tanh();
  lpdm_rng rng;
  lpdm_rng_seed(&rng, 7);
  for (int k = 0; k < ns; k++) {
    const int n = sizes[k];
    const size_t nn = (size_t)n * n;
    float *A = malloc(nn * sizeof *A), *At = malloc(nn * sizeof *At), *M = malloc(nn * sizeof *M);
    if (!A || !At || !M) {
      printf("Bail out! out of memory\n");
      return 1;
    }
    for (size_t i = 0; i < nn; i++) A[i] = (float)lpdm_rng_normal(&rng);
    lpdm_k_transpose(A, At, n);
    int bad = 0;
    for (int i = 0; i < n && !bad; i++)
      for (int j = 0; j < n; j++) bad |= At[(size_t)j * n + i] != A[(size_t)i * n + j];
    ok(!bad, "transpose, n = %d: At[j][i] == A[i][j] for every element", n);
    memcpy(M, A, nn * sizeof *M);
    lpdm_k_mirror_upper(M, n);
    bad = 0;
    for (int i = 0; i < n && !bad; i++)
      for (int j = 0; j < n; j++) bad |= M[(size_t)i * n + j] != (j < i ? A[(size_t)j * n + i] : A[(size_t)i * n + j]);
    ok(!bad, "mirror_upper, n = %d: the lower triangle is the upper one's mirror, the rest unchanged", n);
    free(A);
    free(At);
    free(M);
  }
  return done_testing();
}
