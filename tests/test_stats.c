/* SPDX-License-Identifier: MIT */
/* test_stats.c -- core/src/stats.c against small cases computed by hand
   from the definitions of docs/statistics.md (the working is in the
   comments), the bootstrap's determinism and sanity, and the errors for
   bad input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lpdm/lpdm.h"
#include "tap.h"

#define TOL 1e-12
#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

static lpdm_ctx *ctx;

/* rc is the expected failure and the message contains want. */
static void fails(int rc, int code, const char *want, const char *name) {
  const char *m = lpdm_ctx_message(ctx);
  if (!ok(rc == code && strstr(m, want) != NULL, "%s", name))
    diag("rc %d (want %d), message \"%s\" (want \"%s\")", rc, code, m, want);
  lpdm_ctx_clear(ctx);
}

static void test_smooth(void) {
  /* w = 2: [1, (1+2)/2, (2+3)/2, (3+4)/2]; in place (out == x). */
  double x[] = {1, 2, 3, 4};
  ok(lpdm_stats_smooth(ctx, x, 4, 2, x) == LPDM_OK, "smooth: ok");
  is_near(x[0], 1, TOL, "smooth w=2 [0] = 1");
  is_near(x[1], 1.5, TOL, "smooth w=2 [1] = 1.5");
  is_near(x[3], 3.5, TOL, "smooth w=2 [3] = 3.5 (in place)");
}

static void test_run_small(void) {
  /* returns 0 0 3 6 at steps 5 10 20 30. n = 4 < 20, so the average is
     over all episodes so far: m = 0, 0, 1, 2.25.
     final: ceil(4/10) = 1 episode -> 6. auc: (0+0+3+6)/4 = 2.25.
     threshold 2: first m >= 2 is m[3] = 2.25 -> step 30; threshold 1:
     m[2] = 1 >= 1 -> step 20; threshold 3: never.
     m is non-decreasing: runmax = m, mean_drop 0, no collapse. */
  double st[] = {5, 10, 20, 30}, r[] = {0, 0, 3, 6}, m[4];
  lpdm_run_stats s;
  ok(lpdm_stats_run(ctx, st, r, 4, 2.0, &s, m) == LPDM_OK, "run small: ok");
  is_near(s.final, 6, TOL, "run small: final = 6 (last ceil(4/10) = 1 episode)");
  ok(s.final_n == 1, "run small: final_n = 1 (got %d)", s.final_n);
  is_near(s.auc, 2.25, TOL, "run small: auc = 2.25");
  ok(s.reached && s.steps_to_threshold == 30, "run small: threshold 2 reached at step 30");
  is_near(m[2], 1, TOL, "run small: smoothed[2] = 1");
  ok(s.mean_drop == 0 && s.collapses == 0, "run small: no drop, no collapse");
  lpdm_stats_run(ctx, st, r, 4, 1.0, &s, NULL);
  ok(s.reached && s.steps_to_threshold == 20, "run small: threshold 1 (>=, inclusive) reached at step 20");
  lpdm_stats_run(ctx, st, r, 4, 3.0, &s, NULL);
  ok(!s.reached && isnan(s.steps_to_threshold), "run small: threshold 3 never reached (NaN)");
  lpdm_stats_run(ctx, st, r, 4, NAN, &s, NULL);
  ok(!s.reached, "run small: no threshold (NaN) -> not reached");
}

static void test_run_window(void) {
  /* returns r_i = i, steps i, i = 0..24. m_i = i/2 for i < 20 (all so
     far), m_i = mean(i-19..i) = i - 9.5 for i >= 20. threshold 11:
     m_19 = 9.5, m_20 = 10.5, m_21 = 11.5 -> step 21 (a cumulative mean
     would give m_21 = 10.5: this checks the 20-episode window).
     final: ceil(25/10) = 3 episodes: (22+23+24)/3 = 23. auc: 12. */
  double st[25], r[25];
  for (int i = 0; i < 25; i++) st[i] = i, r[i] = i;
  lpdm_run_stats s;
  ok(lpdm_stats_run(ctx, st, r, 25, 11.0, &s, NULL) == LPDM_OK, "run window: ok");
  ok(s.reached && s.steps_to_threshold == 21, "run window: avg20 >= 11 first at step 21 (got %g)",
     s.steps_to_threshold);
  is_near(s.final, 23, TOL, "run window: final = mean of last 3 = 23");
  ok(s.final_n == 3, "run window: final_n = 3 (got %d)", s.final_n);
  is_near(s.auc, 12, TOL, "run window: auc = 12");
}

static void test_run_collapses(void) {
  /* 160 episodes, blocks of 40: 10, 0, 10, 0; steps 10 (i + 1).
     m: i 0..39 -> 10; i = 40+j (j 0..19) -> 10 (19-j)/20; 60..79 -> 0;
     80+j -> 10 (j+1)/20; 100..119 -> 10; 120+j -> 10 (19-j)/20; 140..159 -> 0.
     range R = 10 - 0, half 5; runmax = 10 from i = 0; d = 10 - m.
     Collapse 1 starts at the first d > 5 (m < 5: j = 10, i = 50), ends at
     the first d < 5 (m > 5: i = 80 + 10 = 90); collapse 2 starts at i = 130
     and never ends: 2 collapses.
     sum d: 40..59 sum (j+1)/2 = 105; 60..79: 200; 80..99 sum (19-j)/2 = 95;
     100..119: 0; 120..139: 105; 140..159: 200; total 705; mean 705/160.
     final: ceil(160/10) = 16 episodes, all 0. auc: 800/160 = 5.
     threshold 7.5: m_0 = 10 -> step 10. */
  double st[160], r[160];
  for (int i = 0; i < 160; i++) st[i] = 10.0 * (i + 1), r[i] = (i / 40) % 2 ? 0 : 10;
  lpdm_run_stats s;
  ok(lpdm_stats_run(ctx, st, r, 160, 7.5, &s, NULL) == LPDM_OK, "run collapses: ok");
  ok(s.collapses == 2, "run collapses: 2 collapses (got %d)", s.collapses);
  is_near(s.mean_drop, 705.0 / 160.0, TOL, "run collapses: mean_drop = 705/160");
  is_near(s.final, 0, TOL, "run collapses: final = 0");
  is_near(s.auc, 5, TOL, "run collapses: auc = 5");
  ok(s.steps_to_threshold == 10, "run collapses: threshold 7.5 at step 10");

  /* Rises 0 -> 10 (blocks of 40) then falls back to 0 and stays: m ends at
     0 = min, range 10; one collapse. A flat run: range 0, no collapse. */
  double r2[120];
  for (int i = 0; i < 120; i++) r2[i] = i >= 40 && i < 80 ? 10 : 0;
  lpdm_stats_run(ctx, st, r2, 120, NAN, &s, NULL);
  ok(s.collapses == 1, "run collapses: rise then fall -> 1 collapse (got %d)", s.collapses);
  for (int i = 0; i < 120; i++) r2[i] = 3;
  lpdm_stats_run(ctx, st, r2, 120, NAN, &s, NULL);
  ok(s.collapses == 0 && s.mean_drop == 0, "run collapses: flat run -> 0 collapses, mean_drop 0");
}

static void test_quantile_across(void) {
  /* [1,2,3,4]: h = 3 p; p = .25 -> h = .75: 1 + .75 = 1.75; p = .75 ->
     h = 2.25: 3 + .25 = 3.25. mean 2.5; sd: squares 2.25+.25+.25+2.25 = 5,
     / 3 -> sqrt(5/3). stuck_below 2.5: {1, 2} -> 0.5; stuck_below 1: strict
     <, none -> 0. */
  double x[] = {4, 1, 3, 2};
  lpdm_across_stats a;
  ok(lpdm_stats_across(ctx, x, 4, 2.5, &a) == LPDM_OK, "across: ok");
  ok(a.n == 4, "across: n = 4");
  is_near(a.mean, 2.5, TOL, "across [1,2,3,4]: mean 2.5");
  is_near(a.sd, sqrt(5.0 / 3.0), TOL, "across [1,2,3,4]: sd sqrt(5/3) (n - 1)");
  is_near(a.q25, 1.75, TOL, "across [1,2,3,4]: q25 1.75");
  is_near(a.q75, 3.25, TOL, "across [1,2,3,4]: q75 3.25");
  is_near(a.iqr, 1.5, TOL, "across [1,2,3,4]: iqr 1.5");
  is_near(a.iqm, 2.5, TOL, "across [1,2,3,4]: iqm 2.5");
  is_near(a.stuck, 0.5, TOL, "across: stuck below 2.5 = 0.5");
  lpdm_stats_across(ctx, x, 4, 1.0, &a);
  is_near(a.stuck, 0, TOL, "across: stuck below 1 = 0 (strict)");
  lpdm_stats_across(ctx, x, 4, NAN, &a);
  ok(isnan(a.stuck), "across: no stuck threshold -> NaN");
  /* One run: sd NaN, quartiles the value, iqr 0. */
  double one[] = {7};
  lpdm_stats_across(ctx, one, 1, NAN, &a);
  ok(isnan(a.sd) && a.q25 == 7 && a.q75 == 7 && a.iqr == 0 && a.iqm == 7 && a.mean == 7,
     "across [7]: sd NaN, q25 = q75 = iqm = 7, iqr 0");
  /* [0,1,2,3,4,10]: h = 5 p: q25 h = 1.25 -> 1.25; q75 h = 3.75 -> 3.75.
     [10, 20] p = .3: h = .3 -> 13. [3,1,2] p = .5 -> 2. p = 0, 1: min, max. */
  double six[] = {10, 0, 1, 2, 3, 4}, two[] = {20, 10}, three[] = {3, 1, 2}, q;
  lpdm_stats_across(ctx, six, 6, NAN, &a);
  is_near(a.q25, 1.25, TOL, "across n=6: q25 1.25");
  is_near(a.q75, 3.75, TOL, "across n=6: q75 3.75");
  lpdm_stats_quantile(ctx, two, 2, 0.3, &q);
  is_near(q, 13, TOL, "quantile [10,20] p=.3 = 13");
  lpdm_stats_quantile(ctx, three, 3, 0.5, &q);
  is_near(q, 2, TOL, "quantile [3,1,2] p=.5 = 2");
  lpdm_stats_quantile(ctx, six, 6, 1.0, &q);
  is_near(q, 10, TOL, "quantile p=1 = max");
  lpdm_stats_quantile(ctx, six, 6, 0.0, &q);
  is_near(q, 0, TOL, "quantile p=0 = min");
}

static void test_iqm(void) {
  /* Sorted value i holds [i, i+1); IQM = integral over [n/4, 3n/4) / (n/2).
     n=4 [1,2,3,4]: [1,3) -> (2 + 3)/2 = 2.5.
     n=5 [0,1,2,4,100]: [1.25, 3.75): weights .75 (1), 1 (2), .75 (4) over
       2.5: (.75 + 2 + 3)/2.5 = 2.3 (trim_mean(x, .25) would give 7/3).
     n=8 [0,0,1,2,3,5,50,100]: [2, 6) -> (1+2+3+5)/4 = 2.75.
     n=6 [0,1,2,3,4,100]: [1.5, 4.5): .5 (1), 1 (2), 1 (3), .5 (4) over 3:
       (.5 + 2 + 3 + 2)/3 = 2.5.
     n=3 [1,2,9]: [.75, 2.25): .25 (1), 1 (2), .25 (9) over 1.5: 4.5/1.5 = 3.
     n=2 [1,3]: [.5, 1.5): .5, .5 -> 2. n=1: the value. */
  double v;
  double x4[] = {4, 1, 3, 2}, x5[] = {100, 0, 4, 1, 2}, x8[] = {50, 0, 1, 100, 2, 3, 5, 0}, x6[] = {0, 1, 2, 3, 4, 100},
         x3[] = {9, 2, 1}, x2[] = {1, 3}, x1[] = {-4};
  lpdm_stats_iqm(ctx, x4, 4, &v);
  is_near(v, 2.5, TOL, "iqm n=4 = 2.5");
  lpdm_stats_iqm(ctx, x5, 5, &v);
  is_near(v, 2.3, TOL, "iqm n=5 = 2.3 (fractional weights)");
  lpdm_stats_iqm(ctx, x8, 8, &v);
  is_near(v, 2.75, TOL, "iqm n=8 = 2.75");
  lpdm_stats_iqm(ctx, x6, 6, &v);
  is_near(v, 2.5, TOL, "iqm n=6 = 2.5");
  lpdm_stats_iqm(ctx, x3, 3, &v);
  is_near(v, 3, TOL, "iqm n=3 = 3");
  lpdm_stats_iqm(ctx, x2, 2, &v);
  is_near(v, 2, TOL, "iqm n=2 = 2");
  lpdm_stats_iqm(ctx, x1, 1, &v);
  is_near(v, -4, TOL, "iqm n=1 = the value");
}

static void test_iqm_ci(void) {
  lpdm_boot_cfg c = lpdm_boot_default();
  ok(c.resamples == 2000 && c.level == 0.95 && c.seed == 0, "boot defaults: 2000, 0.95, seed 0");
  double e, lo, hi, e2, lo2, hi2;

  /* One task [0, 1]: a resample {a, b} has IQM (a + b)/2 (n = 2), i.e.
     0, .5, 1 with probabilities 1/4, 1/2, 1/4. B = 20000: the 2.5% and
     97.5% percentiles are 0 and 1; at level .4 the 30% and 70% ones are
     both .5 (P(0) = .25 < .3, P(<= .5) = .75 > .7). Point: .5. */
  double t01[] = {0, 1};
  const double *x[] = {t01};
  int n[] = {2};
  c.resamples = 20000;
  c.seed = 7;
  ok(lpdm_stats_iqm_ci(ctx, x, n, 1, &c, &e, &lo, &hi) == LPDM_OK, "iqm_ci [0,1]: ok");
  ok(e == 0.5 && lo == 0 && hi == 1, "iqm_ci [0,1] 95%%: 0.5 in [0, 1] (got %g [%g, %g])", e, lo, hi);
  c.level = 0.4;
  lpdm_stats_iqm_ci(ctx, x, n, 1, &c, &e, &lo, &hi);
  ok(lo == 0.5 && hi == 0.5, "iqm_ci [0,1] 40%%: [0.5, 0.5] (got [%g, %g])", lo, hi);

  /* Stratification: tasks [0, 0] and [10, 10]. Every stratified resample
     has two 0s and two 10s: IQM of [0,0,10,10] = (0 + 10)/2 = 5, so the
     interval is the point 5 (a pooled resample would vary). */
  double ta[] = {0, 0}, tb[] = {10, 10};
  const double *xs[] = {ta, tb};
  int ns[] = {2, 2};
  c = lpdm_boot_default();
  lpdm_stats_iqm_ci(ctx, xs, ns, 2, &c, &e, &lo, &hi);
  ok(e == 5 && lo == 5 && hi == 5, "iqm_ci stratified: [0,0] and [10,10] -> 5 in [5, 5] (got %g [%g, %g])", e, lo, hi);

  /* All equal: the interval is a point. */
  double eq[] = {3, 3, 3, 3, 3};
  const double *xe[] = {eq, eq};
  int ne[] = {5, 3};
  lpdm_stats_iqm_ci(ctx, xe, ne, 2, NULL, &e, &lo, &hi);
  ok(e == 3 && lo == 3 && hi == 3, "iqm_ci all equal: 3 in [3, 3]");

  /* Determinism, containment, shrinking with n: three tasks of normal
     scores (means 0, 1, 2), 5 runs each vs 80 runs each. */
  lpdm_rng r;
  lpdm_rng_seed(&r, 42);
  double big[3][80];
  for (int t = 0; t < 3; t++)
    for (int i = 0; i < 80; i++) big[t][i] = t + lpdm_rng_normal(&r);
  const double *xb[] = {big[0], big[1], big[2]};
  int n5[] = {5, 5, 5}, n80[] = {80, 80, 80};
  c = lpdm_boot_default();
  c.seed = 1;
  lpdm_stats_iqm_ci(ctx, xb, n5, 3, &c, &e, &lo, &hi);
  lpdm_stats_iqm_ci(ctx, xb, n5, 3, &c, &e2, &lo2, &hi2);
  ok(e == e2 && lo == lo2 && hi == hi2, "iqm_ci: same seed, same interval (bit for bit)");
  ok(lo <= e && e <= hi && lo < hi, "iqm_ci: n=5 interval [%g, %g] contains the estimate %g", lo, hi, e);
  c.seed = 2;
  lpdm_stats_iqm_ci(ctx, xb, n5, 3, &c, &e2, &lo2, &hi2);
  ok(e == e2 && (lo != lo2 || hi != hi2), "iqm_ci: another seed, same estimate, another interval");
  double w5 = hi - lo;
  c.level = 0.5;
  c.seed = 1;
  lpdm_stats_iqm_ci(ctx, xb, n5, 3, &c, &e2, &lo2, &hi2);
  ok(lo <= lo2 && hi2 <= hi, "iqm_ci: the 50%% interval lies inside the 95%% one");
  c.level = 0.95;
  lpdm_stats_iqm_ci(ctx, xb, n80, 3, &c, &e, &lo, &hi);
  ok(lo <= e && e <= hi, "iqm_ci: n=80 interval [%g, %g] contains the estimate %g", lo, hi, e);
  ok(hi - lo < 0.5 * w5, "iqm_ci: interval shrinks with n (width %g at n=80 vs %g at n=5)", hi - lo, w5);
}

static void test_prob_improvement(void) {
  double p, lo, hi, p2, lo2, hi2;
  /* x = [1,2], y = [1,3]: pairs (1,1) .5, (1,3) 0, (2,1) 1, (2,3) 0 ->
     1.5/4 = .375. Reverse: (1,1) .5, (1,2) 0, (3,1) 1, (3,2) 1 -> 2.5/4 =
     .625 = 1 - .375. */
  double x1[] = {1, 2}, y1[] = {1, 3};
  const double *X[] = {x1}, *Y[] = {y1};
  int nx[] = {2}, ny[] = {2};
  ok(lpdm_stats_prob_improvement(ctx, X, nx, Y, ny, 1, NULL, &p, NULL, NULL) == LPDM_OK, "pi: ok without CI");
  is_near(p, 0.375, TOL, "pi [1,2] vs [1,3] = 0.375 (ties count 1/2)");
  lpdm_stats_prob_improvement(ctx, Y, ny, X, nx, 1, NULL, &p, NULL, NULL);
  is_near(p, 0.625, TOL, "pi [1,3] vs [1,2] = 0.625 = 1 - 0.375");

  /* Two tasks, averaged: task 1 as above (.375); task 2 x = [1,2,3], y = [2]:
     (0 + .5 + 1)/3 = .5 -> (.375 + .5)/2 = .4375. */
  double x2[] = {1, 2, 3}, y2[] = {2};
  const double *X2[] = {x1, x2}, *Y2[] = {y1, y2};
  int nx2[] = {2, 3}, ny2[] = {2, 1};
  lpdm_stats_prob_improvement(ctx, X2, nx2, Y2, ny2, 2, NULL, &p, NULL, NULL);
  is_near(p, 0.4375, TOL, "pi over two tasks = (0.375 + 0.5)/2 = 0.4375");

  /* Dominance: every pair x > y in every resample -> 1 in [1, 1]. */
  double xd[] = {5, 6, 7}, yd[] = {1, 2};
  const double *XD[] = {xd}, *YD[] = {yd};
  int nxd[] = {3}, nyd[] = {2};
  lpdm_boot_cfg c = lpdm_boot_default();
  lpdm_stats_prob_improvement(ctx, XD, nxd, YD, nyd, 1, &c, &p, &lo, &hi);
  ok(p == 1 && lo == 1 && hi == 1, "pi dominance: 1 in [1, 1]");

  /* x = [1], y = [0, 2]: resampled y is {0,0}, {0,2}, {2,0}, {2,2} -> P =
     1, .5, .5, 0 with probabilities 1/4, 1/2, 1/4. Point .5; 95%: [0, 1];
     40%: [.5, .5]. */
  double xo[] = {1}, yo[] = {0, 2};
  const double *XO[] = {xo}, *YO[] = {yo};
  int nxo[] = {1}, nyo[] = {2};
  c.resamples = 20000;
  c.seed = 3;
  lpdm_stats_prob_improvement(ctx, XO, nxo, YO, nyo, 1, &c, &p, &lo, &hi);
  ok(p == 0.5 && lo == 0 && hi == 1, "pi [1] vs [0,2] 95%%: 0.5 in [0, 1] (got %g [%g, %g])", p, lo, hi);
  c.level = 0.4;
  lpdm_stats_prob_improvement(ctx, XO, nxo, YO, nyo, 1, &c, &p, &lo, &hi);
  ok(lo == 0.5 && hi == 0.5, "pi [1] vs [0,2] 40%%: [0.5, 0.5] (got [%g, %g])", lo, hi);

  /* Determinism and containment on normal scores (x shifted by .5). */
  lpdm_rng r;
  lpdm_rng_seed(&r, 9);
  double a[2][10], b[2][10];
  for (int t = 0; t < 2; t++)
    for (int i = 0; i < 10; i++) a[t][i] = 0.5 + lpdm_rng_normal(&r), b[t][i] = lpdm_rng_normal(&r);
  const double *A[] = {a[0], a[1]}, *B[] = {b[0], b[1]};
  int n10[] = {10, 10};
  c = lpdm_boot_default();
  c.seed = 5;
  lpdm_stats_prob_improvement(ctx, A, n10, B, n10, 2, &c, &p, &lo, &hi);
  lpdm_stats_prob_improvement(ctx, A, n10, B, n10, 2, &c, &p2, &lo2, &hi2);
  ok(p == p2 && lo == lo2 && hi == hi2, "pi: same seed, same interval");
  ok(lo <= p && p <= hi && lo < hi, "pi: [%g, %g] contains %g", lo, hi, p);
}

static void test_errors(void) {
  double st[] = {1, 2, 3}, bad[] = {1, NAN, 3}, down[] = {1, 3, 2}, x[] = {1, 2}, v;
  lpdm_run_stats s;
  lpdm_across_stats a;
  fails(lpdm_stats_run(ctx, st, st, 0, NAN, &s, NULL), LPDM_ERR_ARG, "returns is empty", "error: run with 0 episodes");
  fails(lpdm_stats_run(ctx, st, bad, 3, NAN, &s, NULL), LPDM_ERR_NUM, "returns[1] is nan",
        "error: run with a NaN return");
  fails(lpdm_stats_run(ctx, down, st, 3, NAN, &s, NULL), LPDM_ERR_ARG, "steps must be non-decreasing",
        "error: run with unsorted steps");
  fails(lpdm_stats_run(ctx, st, st, 3, INFINITY, &s, NULL), LPDM_ERR_ARG, "threshold", "error: run with threshold inf");
  fails(lpdm_stats_across(ctx, x, 0, NAN, &a), LPDM_ERR_ARG, "values is empty", "error: across empty");
  fails(lpdm_stats_iqm(ctx, bad, 3, &v), LPDM_ERR_NUM, "values[1]", "error: iqm with NaN");
  fails(lpdm_stats_quantile(ctx, x, 2, 1.5, &v), LPDM_ERR_ARG, "p must be in [0, 1]", "error: quantile p = 1.5");
  fails(lpdm_stats_smooth(ctx, x, 2, 0, x), LPDM_ERR_ARG, "window", "error: smooth window 0");
  const double *X[] = {x}, *E[] = {x};
  int n[] = {2}, n0[] = {0};
  double lo, hi;
  fails(lpdm_stats_iqm_ci(ctx, X, n, 0, NULL, &v, &lo, &hi), LPDM_ERR_ARG, "no task", "error: iqm_ci with 0 tasks");
  fails(lpdm_stats_iqm_ci(ctx, E, n0, 1, NULL, &v, &lo, &hi), LPDM_ERR_ARG, "task 0, is empty",
        "error: iqm_ci with an empty task");
  lpdm_boot_cfg c = lpdm_boot_default();
  c.level = 1;
  fails(lpdm_stats_iqm_ci(ctx, X, n, 1, &c, &v, &lo, &hi), LPDM_ERR_ARG, "level must be in (0, 1)", "error: level 1");
  c = lpdm_boot_default();
  c.resamples = 0;
  fails(lpdm_stats_prob_improvement(ctx, X, n, X, n, 1, &c, &v, &lo, &hi), LPDM_ERR_ARG, "resamples must be >= 1",
        "error: resamples 0");
  fails(lpdm_stats_prob_improvement(ctx, X, n, E, n0, 1, NULL, &v, NULL, NULL), LPDM_ERR_ARG, "y, task 0, is empty",
        "error: prob_improvement with an empty y task");
}

/* The aggregates of Agarwal et al. 2021 on two tasks: t1 = {0.5, 1.2, 0.8},
   t2 = {0, 1}. Pooled: mean 3.5 / 5 = 0.7; median of {0, .5, .8, 1, 1.2} =
   0.8; optimality gap to 1: (0.5 + 0 + 0.2 + 1 + 0) / 5 = 0.34; profile at
   0.7: t1 2/3 above, t2 1/2, averaged over tasks 7/12. */
static void test_aggregate(void) {
  const double t1[] = {0.5, 1.2, 0.8}, t2[] = {0, 1};
  const double *x[] = {t1, t2};
  const int n[] = {3, 2};
  const struct {
    int stat;
    double param, want;
    const char *name;
  } c[] = {{LPDM_AGG_MEAN, 0, 0.7, "mean"},
           {LPDM_AGG_MEDIAN, 0, 0.8, "median"},
           {LPDM_AGG_OPTIMALITY_GAP, 1, 0.34, "optimality gap (1)"},
           {LPDM_AGG_PROFILE, 0.7, 7.0 / 12, "profile at 0.7"},
           {LPDM_AGG_PROFILE, 1.2, 0, "profile at the maximum: none above"}};
  lpdm_boot_cfg cfg = lpdm_boot_default();
  cfg.resamples = 400;
  cfg.seed = 5;
  for (size_t k = 0; k < sizeof c / sizeof *c; k++) {
    double e = NAN, lo = NAN, hi = NAN;
    int rc = lpdm_stats_aggregate_ci(ctx, x, n, 2, c[k].stat, c[k].param, &cfg, &e, &lo, &hi);
    ok(fabs(e - c[k].want) < TOL, "aggregate: %s = %g (got %.17g)", c[k].name, c[k].want, e);
    ok(!rc && lo <= e + TOL && e <= hi + TOL, "aggregate: %s's interval [%g, %g] holds it", c[k].name, lo, hi);
  }
  double e1, lo1, hi1, e2, lo2, hi2;
  lpdm_stats_iqm_ci(ctx, x, n, 2, &cfg, &e1, &lo1, &hi1);
  lpdm_stats_aggregate_ci(ctx, x, n, 2, LPDM_AGG_IQM, 0, &cfg, &e2, &lo2, &hi2);
  ok(e1 == e2 && lo1 == lo2 && hi1 == hi2, "aggregate IQM is iqm_ci, bit for bit");
  const double same[] = {0.4, 0.4, 0.4};
  const double *xs[] = {same};
  const int ns[] = {3};
  lpdm_stats_aggregate_ci(ctx, xs, ns, 1, LPDM_AGG_OPTIMALITY_GAP, 1, &cfg, &e1, &lo1, &hi1);
  ok(fabs(e1 - 0.6) < TOL && lo1 == e1 && hi1 == e1, "equal scores: a point interval (gap 0.6)");
  ok(lpdm_stats_aggregate_ci(ctx, x, n, 2, 99, 0, &cfg, &e1, NULL, NULL) == LPDM_ERR_ARG &&
         strstr(lpdm_ctx_message(ctx), "unknown statistic"),
     "an unknown statistic is refused: %s", lpdm_ctx_message(ctx));
  ok(lpdm_stats_aggregate_ci(ctx, x, n, 2, LPDM_AGG_PROFILE, NAN, &cfg, &e1, NULL, NULL) == LPDM_ERR_ARG,
     "a NaN threshold is refused");
}

int main(void) {
  ctx = lpdm_ctx_new();
  test_smooth();
  test_run_small();
  test_run_window();
  test_run_collapses();
  test_quantile_across();
  test_iqm();
  test_iqm_ci();
  test_prob_improvement();
  test_aggregate();
  test_errors();
  lpdm_ctx_free(ctx);
  return done_testing();
}
