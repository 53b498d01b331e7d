/* SPDX-License-Identifier: MIT */
/*
** lib/ckpt.h -- checkpoint helpers of the algorithm parts. Each part saves
** and loads its own state under its own names (vecenv_save, gauss_std_save,
** trunk_rule_save, lpdm_net_save); these helpers store the plain arrays an
** algorithm keeps itself, by one table that save and load share, so the two
** cannot drift apart:
**
**   ckpt_array a[] = {{"next_obs", s->next_obs.p, N * od, CKPT_F32}, ...};
**   rc = ckpt_put(st, ctx, "algo", a, n);    // "algo.next_obs", ...
**   rc = ckpt_get(st, ctx, "algo", a, n);
*/
#ifndef LPDM_ALGOS_CKPT_H
#define LPDM_ALGOS_CKPT_H
#include "lpdm/lpdm.h"

enum { CKPT_F64 = 0, CKPT_F32 = 1 };
typedef struct ckpt_array {
  const char *what; /* the tensor's name after the prefix */
  void *p;          /* double * (CKPT_F64) or float * (CKPT_F32) */
  size_t n;
  int f32;
} ckpt_array;
int ckpt_put(lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const ckpt_array *a, int n);
int ckpt_get(const lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const ckpt_array *a, int n);
/* Ints as an I64 tensor; get checks each is in [lo, hi] and names the tensor. */
int ckpt_put_ints(lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const char *what, const int *x, int n);
int ckpt_get_ints(const lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const char *what, int *x, int n, int64_t lo,
                  int64_t hi);
/* 1 when every x_i is finite and >= 0 (a variance, a count). */
int ckpt_nonneg(const double *x, int n);

#endif
