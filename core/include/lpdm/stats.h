/* SPDX-License-Identifier: MIT */
/*
** stats.h -- statistics for comparing RL variants over seeds (stats.c).
**
** Plugin-free: plain functions over double arrays. Every statistic is
** defined exactly in docs/statistics.md; the short forms are here.
**
**   per run    lpdm_stats_run: from one run's episode log (global steps,
**              non-decreasing, and episode returns, in order): the final
**              return (mean of the last ceil(n/10) returns), the area
**              under the curve (mean return over the episodes), the first
**              global step where the trailing 20-episode average reaches a
**              threshold, the mean drop of that average below its running
**              maximum, and the number of collapses.
**   across     lpdm_stats_across: mean, sample sd (n - 1; NaN for one
**              run), quartiles by linear interpolation (NumPy's default),
**              IQR, IQM and the fraction of runs below a "stuck" threshold.
**   IQM        lpdm_stats_iqm: the mean of the middle 50% with fractional
**              weights for the boundary elements (Agarwal et al. 2021).
**   bootstrap  lpdm_stats_iqm_ci, lpdm_stats_prob_improvement: stratified
**              (runs resampled within each task) percentile intervals from
**              lpdm's xoshiro generator seeded by the caller.
**
** Every function that takes input returns LPDM_OK or a negative
** LPDM_ERR_* with a message in ctx naming the bad argument (empty input,
** NaN or Inf, unsorted steps, a bad option). Inputs are borrowed and never
** modified; outputs are caller-owned.
*/
#ifndef LPDM_STATS_H
#define LPDM_STATS_H

#include <stdint.h>

#include "plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LPDM_STATS_WINDOW 20 /* episodes in the moving average */

typedef struct lpdm_run_stats {
  int n;                     /* episodes                                         */
  double final;              /* mean return of the last ceil(n / 10) episodes     */
  double auc;                /* mean return over all n episodes                    */
  int reached;               /* 1: the average reached the threshold              */
  double steps_to_threshold; /* the global step where it first did; NaN otherwise */
  double mean_drop;          /* mean over episodes of runmax(avg) - avg            */
  int collapses;             /* separate drops of more than half avg's range      */
  int final_n;               /* episodes in final's window: ceil(n / 10)          */
} lpdm_run_stats;

/* One run's statistics. steps (non-decreasing) and returns hold n >= 1
   finite values each. threshold NaN: not asked (reached = 0).
   smoothed (may be NULL) receives the n values of the moving average. */
int lpdm_stats_run(lpdm_ctx *ctx, const double *steps, const double *returns, int n, double threshold,
                   lpdm_run_stats *out, double *smoothed);

/* The trailing moving average: out[i] = mean of x[max(0, i - w + 1) .. i]
   (w >= 1; out may be x). */
int lpdm_stats_smooth(lpdm_ctx *ctx, const double *x, int n, int w, double *out);

typedef struct lpdm_across_stats {
  int n;
  double mean;
  double sd;       /* sample (n - 1); NaN when n == 1           */
  double q25, q75; /* linear interpolation (NumPy "linear")     */
  double iqr;      /* q75 - q25                                  */
  double iqm;      /* lpdm_stats_iqm                             */
  double stuck;    /* fraction with x < stuck_below; NaN if asked with NaN */
} lpdm_across_stats;

/* Statistics of one variant's n >= 1 final returns (one per run). */
int lpdm_stats_across(lpdm_ctx *ctx, const double *x, int n, double stuck_below, lpdm_across_stats *out);

/* The p-quantile (0 <= p <= 1) of n >= 1 values, linear interpolation
   between order statistics: h = (n - 1) p, x(floor h) + (h - floor h)
   (x(floor h + 1) - x(floor h)). */
int lpdm_stats_quantile(lpdm_ctx *ctx, const double *x, int n, double p, double *out);

/* The interquartile mean of n >= 1 values: sorted value i (0-based) holds
   the mass [i, i + 1); the IQM is the mean over [n/4, 3n/4) of that
   step function, so boundary values count with fractional weight. */
int lpdm_stats_iqm(lpdm_ctx *ctx, const double *x, int n, double *out);

typedef struct lpdm_boot_cfg {
  int resamples; /* B >= 1 (default 2000)                  */
  double level;  /* in (0, 1) (default 0.95)               */
  uint64_t seed; /* lpdm_rng seed (default 0)              */
} lpdm_boot_cfg;
lpdm_boot_cfg lpdm_boot_default(void);

/* Aggregate IQM over tasks (all tasks' runs pooled) and its stratified
   bootstrap percentile interval. x[t] holds n[t] >= 1 scores of task t,
   tasks >= 1. cfg NULL: defaults. */
int lpdm_stats_iqm_ci(lpdm_ctx *ctx, const double *const *x, const int *n, int tasks, const lpdm_boot_cfg *cfg,
                      double *est, double *lo, double *hi);

/* An aggregate over tasks and its stratified bootstrap percentile interval
   (Agarwal et al. 2021's interval estimates). x[t] holds n[t] >= 1 scores of
   task t (normalised by the caller when tasks differ in scale). stat:
     LPDM_AGG_IQM              IQM of all tasks' scores pooled (lpdm_stats_iqm_ci)
     LPDM_AGG_MEAN             mean of the pooled scores
     LPDM_AGG_MEDIAN           median of the pooled scores
     LPDM_AGG_OPTIMALITY_GAP   mean of max(param - x, 0): how far below the
                               target param (1: the best score) runs stay
     LPDM_AGG_PROFILE          the performance profile at tau = param: per task
                               the fraction of its scores > tau, averaged over
                               tasks (each task weighs the same)
   lo and hi may be NULL (no bootstrap). The same seed draws the same
   resamples for every stat and param, so a profile's bands over taus come
   from one set of resamples. */
enum { LPDM_AGG_IQM = 1, LPDM_AGG_MEAN, LPDM_AGG_MEDIAN, LPDM_AGG_OPTIMALITY_GAP, LPDM_AGG_PROFILE };
int lpdm_stats_aggregate_ci(lpdm_ctx *ctx, const double *const *x, const int *n, int tasks, int stat, double param,
                            const lpdm_boot_cfg *cfg, double *est, double *lo, double *hi);

/* Probability of improvement P(X > Y): per task the Mann-Whitney mean of
   [x_i > y_j] + 0.5 [x_i == y_j] over all pairs, averaged over tasks; with
   a stratified bootstrap interval (x and y resampled independently within
   each task). lo and hi may be NULL (no bootstrap; cfg unused). */
int lpdm_stats_prob_improvement(lpdm_ctx *ctx, const double *const *x, const int *nx, const double *const *y,
                                const int *ny, int tasks, const lpdm_boot_cfg *cfg, double *p, double *lo, double *hi);

#ifdef __cplusplus
}
#endif
#endif
