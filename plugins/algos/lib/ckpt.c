/* SPDX-License-Identifier: MIT */
/*
** lib/ckpt.c -- checkpoint helpers of the algorithm parts (lib/ckpt.h).
*/
#include "lib/ckpt.h"

#include <math.h>
#include <stdlib.h>

int ckpt_put(lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const ckpt_array *a, int n) {
  int rc = LPDM_OK;
  for (int i = 0; !rc && i < n; i++)
    rc = a[i].f32 ? lpdm_state_put_f32(st, ctx, prefix, a[i].what, a[i].p, a[i].n)
                  : lpdm_state_put_f64(st, ctx, prefix, a[i].what, a[i].p, (int)a[i].n);
  return rc;
}

int ckpt_get(const lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const ckpt_array *a, int n) {
  int rc = LPDM_OK;
  for (int i = 0; !rc && i < n; i++)
    rc = a[i].f32 ? lpdm_state_get_f32(st, ctx, prefix, a[i].what, a[i].p, a[i].n)
                  : lpdm_state_get_f64(st, ctx, prefix, a[i].what, a[i].p, (int)a[i].n);
  return rc;
}

int ckpt_put_ints(lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const char *what, const int *x, int n) {
  int64_t *t = malloc((size_t)(n ? n : 1) * sizeof *t);
  if (!t) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  for (int i = 0; i < n; i++) t[i] = x[i];
  int rc = lpdm_state_put_i64(st, ctx, prefix, what, t, n);
  free(t);
  return rc;
}

int ckpt_get_ints(const lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const char *what, int *x, int n, int64_t lo,
                  int64_t hi) {
  int64_t *t = malloc((size_t)(n ? n : 1) * sizeof *t);
  if (!t) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  int rc = lpdm_state_get_i64(st, ctx, prefix, what, t, n);
  for (int i = 0; !rc && i < n; i++)
    if (t[i] < lo || t[i] > hi)
      rc = lpdm_error(ctx, LPDM_ERR_IO, "checkpoint: %s.%s[%d] out of range (%lld, not in [%lld, %lld])", prefix, what,
                      i, (long long)t[i], (long long)lo, (long long)hi);
  if (!rc)
    for (int i = 0; i < n; i++) x[i] = (int)t[i];
  free(t);
  return rc;
}

int ckpt_nonneg(const double *x, int n) {
  for (int i = 0; i < n; i++)
    if (!(x[i] >= 0) || !isfinite(x[i])) return 0;
  return 1;
}
