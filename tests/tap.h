/* SPDX-License-Identifier: MIT */
/* tap.h -- a tiny TAP producer for lpdm's C tests (libuv-style plain TAP).
   plan(n); ok(cond, fmt, ...); is_near(a, b, tol, name); done_testing(). */
#ifndef LPDM_TAP_H
#define LPDM_TAP_H
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

static int tap_n, tap_fail, tap_planned;

static inline void plan(int n) {
  tap_planned = n;
  printf("1..%d\n", n);
  fflush(stdout);
}

static inline int ok(int cond, const char *fmt, ...) {
  va_list ap;
  tap_n++;
  printf("%s %d - ", cond ? "ok" : "not ok", tap_n);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  fflush(stdout);
  if (!cond) tap_fail++;
  return cond;
}

/* A test that cannot run here: "ok N # SKIP reason" (TAP: not a failure). */
static inline void skip(const char *fmt, ...) {
  va_list ap;
  tap_n++;
  printf("ok %d # SKIP ", tap_n);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  fflush(stdout);
}

static inline void diag(const char *fmt, ...) {
  va_list ap;
  printf("# ");
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  fflush(stdout);
}

/* Relative-or-absolute closeness. */
static inline int is_near(double got, double want, double tol, const char *name) {
  double err = fabs(got - want) / fmax(1.0, fabs(want));
  int good = err <= tol && !isnan(got);
  if (!ok(good, "%s", name)) diag("got %.17g want %.17g (rel err %.3g > %.3g)", got, want, err, tol);
  return good;
}

/* Call at the end of main: returns the exit status. */
static inline int done_testing(void) {
  if (!tap_planned) printf("1..%d\n", tap_n);
  else if (tap_planned != tap_n) {
    printf("# planned %d tests but ran %d\n", tap_planned, tap_n);
    return 1;
  }
  return tap_fail ? 1 : 0;
}
#endif
