/* SPDX-License-Identifier: MIT */
/*
** figures.c -- the named figures of one algorithm iteration (lpdm_figures,
** algo.h / lpdm.h): a growable list of (copied name, value) pairs in the
** order they were first set. The host makes one, clears it before each
** iterate and reads it after; an algorithm only sets. Growing doubles the
** arrays, so a run that reports the same names every iteration allocates
** nothing after its first.
**
**   lpdm_figures *f = lpdm_figures_new();
**   lpdm_figures_setf(f, 0.25, "actor_local_loss_%d", 12);
**   for (int i = 0; i < lpdm_figures_count(f); i++)
**     printf("%s=%g\n", lpdm_figures_name(f, i), lpdm_figures_value(f, i));
**   lpdm_figures_free(f);
*/
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lpdm/lpdm.h"

struct lpdm_figures {
  int n, cap;
  char **name; /* owned copies; kept across clears and reused */
  size_t *len; /* capacity of each name */
  double *value;
};

lpdm_figures *lpdm_figures_new(void) { return calloc(1, sizeof(lpdm_figures)); }

void lpdm_figures_free(lpdm_figures *f) {
  if (!f) return;
  for (int i = 0; i < f->cap; i++) free(f->name[i]);
  free(f->name);
  free(f->len);
  free(f->value);
  free(f);
}

void lpdm_figures_clear(lpdm_figures *f) {
  if (f) f->n = 0;
}

int lpdm_figures_set(lpdm_figures *f, const char *name, double v) {
  if (!f || !name || !*name) return LPDM_ERR_ARG;
  for (int i = 0; i < f->n; i++)
    if (strcmp(f->name[i], name) == 0) {
      f->value[i] = v;
      return LPDM_OK;
    }
  if (f->n == f->cap) {
    int nc = f->cap ? 2 * f->cap : 32;
    char **nn = realloc(f->name, (size_t)nc * sizeof *nn);
    if (!nn) return LPDM_ERR_MEM;
    f->name = nn;
    size_t *nl = realloc(f->len, (size_t)nc * sizeof *nl);
    if (!nl) return LPDM_ERR_MEM;
    f->len = nl;
    double *nv = realloc(f->value, (size_t)nc * sizeof *nv);
    if (!nv) return LPDM_ERR_MEM;
    f->value = nv;
    for (int i = f->cap; i < nc; i++) f->name[i] = NULL, f->len[i] = 0;
    f->cap = nc;
  }
  const size_t need = strlen(name) + 1;
  if (f->len[f->n] < need) {
    char *p = realloc(f->name[f->n], need);
    if (!p) return LPDM_ERR_MEM;
    f->name[f->n] = p;
    f->len[f->n] = need;
  }
  memcpy(f->name[f->n], name, need);
  f->value[f->n++] = v;
  return LPDM_OK;
}

int lpdm_figures_setf(lpdm_figures *f, double v, const char *fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (k < 0 || (size_t)k >= sizeof buf) return LPDM_ERR_ARG; /* a name of 256+ characters is a bug */
  return lpdm_figures_set(f, buf, v);
}

int lpdm_figures_count(const lpdm_figures *f) { return f ? f->n : 0; }

const char *lpdm_figures_name(const lpdm_figures *f, int i) { return f && i >= 0 && i < f->n ? f->name[i] : NULL; }

double lpdm_figures_value(const lpdm_figures *f, int i) { return f && i >= 0 && i < f->n ? f->value[i] : NAN; }

int lpdm_figures_get(const lpdm_figures *f, const char *name, double *v) {
  for (int i = 0; f && name && i < f->n; i++)
    if (strcmp(f->name[i], name) == 0) {
      *v = f->value[i];
      return 1;
    }
  return 0;
}
