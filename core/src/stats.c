/* SPDX-License-Identifier: MIT */
/* stats.c -- statistics for comparing RL variants over seeds.

   Per-run statistics from an episode log (final return, area under the
   curve, steps to a threshold of the 20-episode moving average, mean drop
   below the running maximum, collapses), statistics across runs (mean, sd,
   quartiles, IQR, stuck fraction), the interquartile mean with a stratified
   bootstrap interval and the probability of improvement (Agarwal et al.,
   "Deep Reinforcement Learning at the Edge of the Statistical Precipice",
   NeurIPS 2021). Definitions, edge cases and examples: docs/statistics.md.

   No plugin, no allocation that outlives a call: the bootstrap's buffers
   are malloc'd and freed within it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---------------------------------------------------------------- checks */

static int check_vec(lpdm_ctx *ctx, const char *fn, const char *name, const double *x, int n) {
  if (n < 1) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: %s is empty (need at least one value)", fn, name);
  if (!x) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: %s is NULL", fn, name);
  for (int i = 0; i < n; i++)
    if (!isfinite(x[i])) return lpdm_error(ctx, LPDM_ERR_NUM, "%s: %s[%d] is %g (must be finite)", fn, name, i, x[i]);
  return LPDM_OK;
}

static int check_tasks(lpdm_ctx *ctx, const char *fn, const char *name, const double *const *x, const int *n,
                       int tasks) {
  if (tasks < 1) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: %s has no task (need at least one)", fn, name);
  if (!x || !n) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: %s is NULL", fn, name);
  for (int t = 0; t < tasks; t++) {
    if (n[t] < 1)
      return lpdm_error(ctx, LPDM_ERR_ARG, "%s: %s, task %d, is empty (need at least one run)", fn, name, t);
    if (!x[t]) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: %s, task %d, is NULL", fn, name, t);
    for (int i = 0; i < n[t]; i++)
      if (!isfinite(x[t][i]))
        return lpdm_error(ctx, LPDM_ERR_NUM, "%s: %s, task %d, value %d is %g (must be finite)", fn, name, t, i,
                          x[t][i]);
  }
  return LPDM_OK;
}

static int check_cfg(lpdm_ctx *ctx, const char *fn, const lpdm_boot_cfg *c) {
  if (c->resamples < 1) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: resamples must be >= 1, got %d", fn, c->resamples);
  if (!(c->level > 0 && c->level < 1))
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: level must be in (0, 1), got %g", fn, c->level);
  return LPDM_OK;
}

static int cmp_dbl(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* ---------------------------------------------------------------- sorted-array kernels */

/* Linear interpolation between order statistics of sorted s[0..n-1]. */
static double quantile_sorted(const double *s, int n, double p) {
  double h = (double)(n - 1) * p;
  int lo = (int)floor(h);
  if (lo >= n - 1) return s[n - 1];
  if (lo < 0) return s[0];
  return s[lo] + (h - (double)lo) * (s[lo + 1] - s[lo]);
}

/* Mean over [n/4, 3n/4) of the step function i -> s[i] on [i, i + 1). */
static double iqm_sorted(const double *s, int n) {
  double a = 0.25 * n, b = 0.75 * n, sum = 0;
  int i0 = (int)floor(a), i1 = (int)ceil(b);
  if (i1 > n) i1 = n;
  for (int i = i0; i < i1; i++) {
    double w = fmin((double)i + 1, b) - fmax((double)i, a);
    if (w > 0) sum += w * s[i];
  }
  return sum / (b - a);
}

/* Mann-Whitney mean over pairs of [x > y] + 0.5 [x == y]. */
static double mw(const double *x, int nx, const double *y, int ny) {
  double s = 0;
  for (int i = 0; i < nx; i++)
    for (int j = 0; j < ny; j++) s += x[i] > y[j] ? 1.0 : x[i] == y[j] ? 0.5 : 0.0;
  return s / ((double)nx * (double)ny);
}

/* ---------------------------------------------------------------- per run */

int lpdm_stats_smooth(lpdm_ctx *ctx, const double *x, int n, int w, double *out) {
  int rc = check_vec(ctx, "stats.smooth", "x", x, n);
  if (rc) return rc;
  if (w < 1) return lpdm_error(ctx, LPDM_ERR_ARG, "stats.smooth: window must be >= 1, got %d", w);
  if (!out) return lpdm_error(ctx, LPDM_ERR_ARG, "stats.smooth: out is NULL");
  /* Each mean is summed afresh from a ring of the last w inputs (w is
     small): no drift from a running sum, and out may alias x. */
  double ring[LPDM_STATS_WINDOW];
  double *r = w <= LPDM_STATS_WINDOW ? ring : malloc((size_t)w * sizeof *r);
  if (!r) return lpdm_error(ctx, LPDM_ERR_MEM, "stats.smooth: out of memory (window %d)", w);
  for (int i = 0; i < n; i++) {
    r[i % w] = x[i];
    int k = i + 1 < w ? i + 1 : w;
    double s = 0;
    for (int j = 0; j < k; j++) s += r[j];
    out[i] = s / k;
  }
  if (r != ring) free(r);
  return LPDM_OK;
}

int lpdm_stats_run(lpdm_ctx *ctx, const double *steps, const double *returns, int n, double threshold,
                   lpdm_run_stats *out, double *smoothed) {
  const char *fn = "stats.run";
  int rc = check_vec(ctx, fn, "returns", returns, n);
  if (!rc) rc = check_vec(ctx, fn, "steps", steps, n);
  if (rc) return rc;
  if (!out) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: out is NULL", fn);
  for (int i = 1; i < n; i++)
    if (steps[i] < steps[i - 1])
      return lpdm_error(ctx, LPDM_ERR_ARG,
                        "%s: steps must be non-decreasing, but steps[%d] = %.17g < steps[%d] = %.17g", fn, i, steps[i],
                        i - 1, steps[i - 1]);
  if (isinf(threshold))
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: threshold is %g (finite or NaN for none)", fn, threshold);
  double *m = smoothed ? smoothed : malloc((size_t)n * sizeof *m);
  if (!m) return lpdm_error(ctx, LPDM_ERR_MEM, "%s: out of memory (%d episodes)", fn, n);
  lpdm_stats_smooth(ctx, returns, n, LPDM_STATS_WINDOW, m);

  memset(out, 0, sizeof *out);
  out->n = n;
  int k = (n + 9) / 10; /* ceil(n / 10) >= 1 */
  double s = 0;
  for (int i = n - k; i < n; i++) s += returns[i];
  out->final = s / k;
  out->final_n = k;
  s = 0;
  for (int i = 0; i < n; i++) s += returns[i];
  out->auc = s / n;

  out->steps_to_threshold = NAN;
  if (!isnan(threshold))
    for (int i = 0; i < n; i++)
      if (m[i] >= threshold) {
        out->reached = 1;
        out->steps_to_threshold = steps[i];
        break;
      }

  double lo = m[0], hi = m[0];
  for (int i = 1; i < n; i++) lo = fmin(lo, m[i]), hi = fmax(hi, m[i]);
  double half = 0.5 * (hi - lo), runmax = -INFINITY, drop = 0;
  int in = 0;
  for (int i = 0; i < n; i++) {
    runmax = fmax(runmax, m[i]);
    double d = runmax - m[i];
    drop += d;
    if (!in && d > half)
      in = 1, out->collapses++;
    else if (in && d < half)
      in = 0;
  }
  out->mean_drop = drop / n;
  if (m != smoothed) free(m);
  return LPDM_OK;
}

/* ---------------------------------------------------------------- across runs */

static double *sorted_copy(lpdm_ctx *ctx, const char *fn, const double *x, int n) {
  double *s = malloc((size_t)n * sizeof *s);
  if (!s) {
    lpdm_error(ctx, LPDM_ERR_MEM, "%s: out of memory (%d values)", fn, n);
    return NULL;
  }
  memcpy(s, x, (size_t)n * sizeof *s);
  qsort(s, (size_t)n, sizeof *s, cmp_dbl);
  return s;
}

int lpdm_stats_quantile(lpdm_ctx *ctx, const double *x, int n, double p, double *out) {
  int rc = check_vec(ctx, "stats.quantile", "x", x, n);
  if (rc) return rc;
  if (!(p >= 0 && p <= 1)) return lpdm_error(ctx, LPDM_ERR_ARG, "stats.quantile: p must be in [0, 1], got %g", p);
  double *s = sorted_copy(ctx, "stats.quantile", x, n);
  if (!s) return LPDM_ERR_MEM;
  *out = quantile_sorted(s, n, p);
  free(s);
  return LPDM_OK;
}

int lpdm_stats_iqm(lpdm_ctx *ctx, const double *x, int n, double *out) {
  int rc = check_vec(ctx, "stats.iqm", "values", x, n);
  if (rc) return rc;
  double *s = sorted_copy(ctx, "stats.iqm", x, n);
  if (!s) return LPDM_ERR_MEM;
  *out = iqm_sorted(s, n);
  free(s);
  return LPDM_OK;
}

int lpdm_stats_across(lpdm_ctx *ctx, const double *x, int n, double stuck_below, lpdm_across_stats *out) {
  const char *fn = "stats.across";
  int rc = check_vec(ctx, fn, "values", x, n);
  if (rc) return rc;
  if (isinf(stuck_below))
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: stuck_below is %g (finite or NaN for none)", fn, stuck_below);
  double *s = sorted_copy(ctx, fn, x, n);
  if (!s) return LPDM_ERR_MEM;
  out->n = n;
  double sum = 0;
  for (int i = 0; i < n; i++) sum += x[i];
  out->mean = sum / n;
  double ss = 0;
  for (int i = 0; i < n; i++) ss += (x[i] - out->mean) * (x[i] - out->mean);
  out->sd = n > 1 ? sqrt(ss / (n - 1)) : NAN;
  out->q25 = quantile_sorted(s, n, 0.25);
  out->q75 = quantile_sorted(s, n, 0.75);
  out->iqr = out->q75 - out->q25;
  out->iqm = iqm_sorted(s, n);
  if (isnan(stuck_below))
    out->stuck = NAN;
  else {
    int k = 0;
    for (int i = 0; i < n; i++) k += x[i] < stuck_below;
    out->stuck = (double)k / n;
  }
  free(s);
  return LPDM_OK;
}

/* ---------------------------------------------------------------- bootstrap */

lpdm_boot_cfg lpdm_boot_default(void) {
  lpdm_boot_cfg c = {2000, 0.95, 0};
  return c;
}

/* Percentile interval of the B bootstrap statistics (sorted in place). */
static void percentile_ci(double *stat, int B, double level, double *lo, double *hi) {
  qsort(stat, (size_t)B, sizeof *stat, cmp_dbl);
  double a = 0.5 * (1 - level);
  *lo = quantile_sorted(stat, B, a);
  *hi = quantile_sorted(stat, B, 1 - a);
}

/* One aggregate of n sorted scores grouped into tasks (see stats.h). */
static double aggregate(int stat, double param, double *pool, size_t N, const int *n, int tasks) {
  double s = 0;
  switch (stat) {
  case LPDM_AGG_IQM:
    qsort(pool, N, sizeof *pool, cmp_dbl);
    return iqm_sorted(pool, (int)N);
  case LPDM_AGG_MEDIAN:
    qsort(pool, N, sizeof *pool, cmp_dbl);
    return quantile_sorted(pool, (int)N, 0.5);
  case LPDM_AGG_MEAN:
    for (size_t k = 0; k < N; k++) s += pool[k];
    return s / (double)N;
  case LPDM_AGG_OPTIMALITY_GAP:
    for (size_t k = 0; k < N; k++) s += pool[k] < param ? param - pool[k] : 0;
    return s / (double)N;
  default: { /* LPDM_AGG_PROFILE: per task the fraction above param, averaged over tasks */
    size_t k = 0;
    for (int t = 0; t < tasks; t++) {
      int above = 0;
      for (int i = 0; i < n[t]; i++, k++) above += pool[k] > param;
      s += (double)above / n[t];
    }
    return s / tasks;
  }
  }
}

/* lpdm_stats_aggregate_ci, its messages naming fn (iqm_ci has its own name). */
static int aggregate_ci(lpdm_ctx *ctx, const char *fn, const double *const *x, const int *n, int tasks, int stat,
                        double param, const lpdm_boot_cfg *cfg, double *est, double *lo, double *hi) {
  lpdm_boot_cfg c = cfg ? *cfg : lpdm_boot_default();
  int rc = check_tasks(ctx, fn, "scores", x, n, tasks);
  if (!rc && lo && hi) rc = check_cfg(ctx, fn, &c);
  if (rc) return rc;
  if (stat < LPDM_AGG_IQM || stat > LPDM_AGG_PROFILE)
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: unknown statistic %d", fn, stat);
  if (!isfinite(param)) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: the threshold must be finite, got %g", fn, param);
  size_t N = 0;
  for (int t = 0; t < tasks; t++) N += (size_t)n[t];
  if (N > (size_t)INT32_MAX) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: too many scores (%zu)", fn, N);
  const int B = lo && hi ? c.resamples : 0;
  double *pool = malloc(N * sizeof *pool), *stat_b = malloc((size_t)(B ? B : 1) * sizeof *stat_b);
  if (!pool || !stat_b) {
    free(pool);
    free(stat_b);
    return lpdm_error(ctx, LPDM_ERR_MEM, "%s: out of memory (%zu scores, %d resamples)", fn, N, B);
  }
  /* pool holds the scores task by task (in task order: the profile reads
     them so; the other statistics sort them) */
  size_t k = 0;
  for (int t = 0; t < tasks; t++)
    for (int i = 0; i < n[t]; i++) pool[k++] = x[t][i];
  *est = aggregate(stat, param, pool, N, n, tasks);
  lpdm_rng r;
  lpdm_rng_seed(&r, c.seed);
  for (int b = 0; b < B; b++) {
    k = 0;
    for (int t = 0; t < tasks; t++)
      for (int i = 0; i < n[t]; i++) pool[k++] = x[t][lpdm_rng_below(&r, (uint64_t)n[t])];
    stat_b[b] = aggregate(stat, param, pool, N, n, tasks);
  }
  if (B) percentile_ci(stat_b, B, c.level, lo, hi);
  free(pool);
  free(stat_b);
  return LPDM_OK;
}

int lpdm_stats_aggregate_ci(lpdm_ctx *ctx, const double *const *x, const int *n, int tasks, int stat, double param,
                            const lpdm_boot_cfg *cfg, double *est, double *lo, double *hi) {
  return aggregate_ci(ctx, "stats.aggregate", x, n, tasks, stat, param, cfg, est, lo, hi);
}

int lpdm_stats_iqm_ci(lpdm_ctx *ctx, const double *const *x, const int *n, int tasks, const lpdm_boot_cfg *cfg,
                      double *est, double *lo, double *hi) {
  return aggregate_ci(ctx, "stats.iqm_ci", x, n, tasks, LPDM_AGG_IQM, 0, cfg, est, lo, hi);
}

int lpdm_stats_prob_improvement(lpdm_ctx *ctx, const double *const *x, const int *nx, const double *const *y,
                                const int *ny, int tasks, const lpdm_boot_cfg *cfg, double *p, double *lo, double *hi) {
  const char *fn = "stats.prob_improvement";
  lpdm_boot_cfg c = cfg ? *cfg : lpdm_boot_default();
  int rc = check_tasks(ctx, fn, "x", x, nx, tasks);
  if (!rc) rc = check_tasks(ctx, fn, "y", y, ny, tasks);
  if (!rc && lo && hi) rc = check_cfg(ctx, fn, &c);
  if (rc) return rc;
  double s = 0;
  for (int t = 0; t < tasks; t++) s += mw(x[t], nx[t], y[t], ny[t]);
  *p = s / tasks;
  if (!lo || !hi) return LPDM_OK;
  int mx = 1;
  for (int t = 0; t < tasks; t++) mx = nx[t] > mx ? nx[t] : mx, mx = ny[t] > mx ? ny[t] : mx;
  double *bx = malloc(2 * (size_t)mx * sizeof *bx), *stat = malloc((size_t)c.resamples * sizeof *stat);
  if (!bx || !stat) {
    free(bx);
    free(stat);
    return lpdm_error(ctx, LPDM_ERR_MEM, "%s: out of memory (%d runs, %d resamples)", fn, mx, c.resamples);
  }
  double *by = bx + mx;
  lpdm_rng r;
  lpdm_rng_seed(&r, c.seed);
  for (int b = 0; b < c.resamples; b++) {
    s = 0;
    for (int t = 0; t < tasks; t++) {
      for (int i = 0; i < nx[t]; i++) bx[i] = x[t][lpdm_rng_below(&r, (uint64_t)nx[t])];
      for (int j = 0; j < ny[t]; j++) by[j] = y[t][lpdm_rng_below(&r, (uint64_t)ny[t])];
      s += mw(bx, nx[t], by, ny[t]);
    }
    stat[b] = s / tasks;
  }
  percentile_ci(stat, c.resamples, c.level, lo, hi);
  free(bx);
  free(stat);
  return LPDM_OK;
}
