/* SPDX-License-Identifier: MIT */
/*
** mj_numpy.c -- NumPy's and Python's float64 arithmetic where Gymnasium's
** MuJoCo rewards depend on it to the last bit (see mj_env.h).
**
**   mjx_np_sum    np.sum: pairwise summation in NumPy's order
**   mjx_np_sumsq  np.sum(np.square(a))
**   mjx_pow2      x**2 on a Python float: libm's pow(x, 2)
*/
#include "mj_env.h"

/* NumPy's order: blocks of at most 128 summed with eight running partial
   sums (i mod 8), combined as ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)), the
   tail added last; fewer than 8 values are added left to right; longer
   arrays split in two halves (the first a multiple of 8 long). */
double mjx_np_sum(const double *a, int n) {
  if (n < 8) {
    double s = 0.0;
    for (int i = 0; i < n; i++) s += a[i];
    return s;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; j++) r[j] = a[j];
    int i;
    for (i = 8; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; j++) r[j] += a[i + j];
    double s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) s += a[i];
    return s;
  }
  int n2 = n / 2;
  n2 -= n2 % 8;
  return mjx_np_sum(a, n2) + mjx_np_sum(a + n2, n - n2);
}

double mjx_np_sumsq(const double *a, int n, double *sq) {
  for (int i = 0; i < n; i++) sq[i] = a[i] * a[i];
  return mjx_np_sum(sq, n);
}

/* For an x*x near a rounding tie pow(x, 2) can differ from x*x in the last
   bit (see plugins/envs/pendulum.c). The volatile keeps GCC from folding
   it into x*x. */
double mjx_pow2(double x) {
  volatile double two = 2.0;
  return pow(x, two);
}
