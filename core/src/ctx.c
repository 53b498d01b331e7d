/* SPDX-License-Identifier: MIT */
/* ctx.c -- contexts, error messages, checked configs. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

lpdm_ctx *lpdm_ctx_new(void) {
  lpdm_ctx *ctx = calloc(1, sizeof *ctx);
  return ctx;
}

void lpdm_ctx_free(lpdm_ctx *ctx) {
  if (!ctx) return;
  lpdm__registry_free(ctx);
  free(ctx);
}

const char *lpdm_ctx_message(const lpdm_ctx *ctx) { return ctx ? ctx->msg : ""; }
const char *lpdm_ctx_notes(const lpdm_ctx *ctx) { return ctx ? ctx->notes : ""; }

void lpdm_ctx_clear(lpdm_ctx *ctx) {
  if (!ctx) return;
  ctx->status = 0;
  ctx->msg[0] = '\0';
}

int lpdm_error(lpdm_ctx *ctx, int code, const char *fmt, ...) {
  if (!ctx) return code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ctx->msg, sizeof ctx->msg, fmt, ap);
  va_end(ap);
  ctx->status = code;
  return code;
}

int lpdm_ctx_prefix(lpdm_ctx *ctx, int code, const char *fmt, ...) {
  if (!ctx) return code;
  char pre[LPDM_MSGLEN];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(pre, sizeof pre - 2, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  size_t plen = strlen(pre);
  memcpy(pre + plen, ": ", 3);
  plen += 2;
  size_t old = strlen(ctx->msg);
  if (plen + old >= sizeof ctx->msg) old = sizeof ctx->msg - 1 - plen;
  memmove(ctx->msg + plen, ctx->msg, old);
  memcpy(ctx->msg, pre, plen);
  ctx->msg[plen + old] = '\0';
  ctx->status = code;
  return code;
}

int lpdm__ctx_name(lpdm_ctx *ctx, int code, const lpdm_plugin *head) {
  if (!ctx) return code;
  const char *s = lpdm_plugin_short(head);
  size_t n = strlen(s);
  if (n && !strncmp(ctx->msg, s, n) && ctx->msg[n] == ':' && ctx->msg[n + 1] == ' ')
    memmove(ctx->msg, ctx->msg + n + 2, strlen(ctx->msg + n + 2) + 1);
  return lpdm_ctx_prefix(ctx, code, "%s", head->name);
}

int lpdm__grow(lpdm_ctx *ctx, float **buf, size_t *cap, size_t n) {
  if (n <= *cap) return LPDM_OK;
  float *nb = realloc(*buf, n * sizeof(float));
  if (!nb) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory (%zu floats)", n);
  *buf = nb;
  *cap = n;
  return LPDM_OK;
}

/* x * 0 is 0 for a finite x and NaN for Inf or NaN: a branch-free sum the
   compiler vectorises; the slow loop only runs to name the culprit. */
LPDM_VECTORIZE static int all_finite(const float *x, size_t n) {
  float acc = 0;
#pragma omp simd reduction(+ : acc)
  for (size_t i = 0; i < n; i++) acc += x[i] * 0.0f;
  return acc == 0;
}

int lpdm_check_finite(lpdm_ctx *ctx, const float *x, size_t n, const char *what) {
  if (all_finite(x, n)) return LPDM_OK;
  for (size_t i = 0; i < n; i++)
    if (!isfinite(x[i]))
      return lpdm_error(ctx, LPDM_ERR_NUM, "%s: non-finite value %g at index %zu", what,
                        (double)x[i], i);
  return LPDM_OK;
}

/* ------------------------------------------------------------ config */

static const char *type_name(lpdm_type t) {
  switch (t) {
    case LPDM_T_NUMBER: return "a number";
    case LPDM_T_INT: return "an integer";
    case LPDM_T_BOOL: return "a boolean";
    case LPDM_T_STRING: return "a string";
  }
  return "?";
}

int lpdm_config_index(const lpdm_config *cfg, const char *key) {
  for (int i = 0; i < cfg->n; i++)
    if (strcmp(cfg->keys[i].name, key) == 0) return i;
  return -1;
}

static int fold(int c) { return c == '-' ? '_' : tolower(c); }

/* Optimal string alignment distance (insert, delete, substitute, swap two
   neighbours), cut off above 8; names longer than 63 bytes are too far. */
static int edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 63 || lb > 63) return 99;
  int d[64][64];
  for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
  for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
  for (size_t i = 1; i <= la; i++)
    for (size_t j = 1; j <= lb; j++) {
      int c = fold((unsigned char)a[i - 1]) != fold((unsigned char)b[j - 1]);
      int v = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
      if (d[i - 1][j - 1] + c < v) v = d[i - 1][j - 1] + c;
      if (i > 1 && j > 1 && fold((unsigned char)a[i - 1]) == fold((unsigned char)b[j - 2]) &&
          fold((unsigned char)a[i - 2]) == fold((unsigned char)b[j - 1]) && d[i - 2][j - 2] + 1 < v)
        v = d[i - 2][j - 2] + 1;
      d[i][j] = v;
    }
  return d[la][lb];
}

const char *lpdm__closest(const char *name, const char *const *cands, int n) {
  if (!name) return NULL;
  int limit = (int)strlen(name) / 3;
  if (limit < 1) limit = 1;
  if (limit > 3) limit = 3;
  const char *best = NULL;
  int bd = limit + 1;
  for (int i = 0; i < n; i++) {
    int d = edit_distance(name, cands[i]);
    if (d < bd) {
      bd = d;
      best = cands[i];
    }
  }
  return best;
}

static int unknown_key(lpdm_ctx *ctx, const lpdm_config *cfg, const char *what, const char *key) {
  char known[600] = "";
  size_t len = 0;
  const char *names[LPDM_MAX_KEYS];
  for (int i = 0; i < cfg->n; i++) names[i] = cfg->keys[i].name;
  for (int i = 0; i < cfg->n && len < sizeof known - 40; i++)
    len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "", cfg->keys[i].name);
  const char *near = lpdm__closest(key, names, cfg->n);
  return lpdm_error(ctx, LPDM_ERR_ARG, "%s: unknown config key '%s'%s%s%s (known: %s)", what, key,
                    near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "", cfg->n ? known : "none");
}

static int parse_into(lpdm_ctx *ctx, const lpdm_key *k, lpdm_value *v, const char *what,
                      const char *text) {
  memset(v, 0, sizeof *v);
  switch (k->type) {
    case LPDM_T_NUMBER:
    case LPDM_T_INT: {
      char *end;
      errno = 0;
      double d = strtod(text, &end);
      while (*end && isspace((unsigned char)*end)) end++;
      if (end == text || *end || errno == ERANGE)
        return lpdm_error(ctx, LPDM_ERR_ARG, "%s: key '%s' expects %s, got '%s'", what, k->name,
                          type_name(k->type), text);
      if (!isfinite(d))
        return lpdm_error(ctx, LPDM_ERR_ARG, "%s: key '%s' must be finite, got '%s'", what, k->name,
                          text);
      if (k->type == LPDM_T_INT && (d != floor(d) || fabs(d) > 9.0e15))
        return lpdm_error(ctx, LPDM_ERR_ARG, "%s: key '%s' expects an integer, got '%s'", what,
                          k->name, text);
      v->num = d;
      return LPDM_OK;
    }
    case LPDM_T_BOOL:
      if (!strcmp(text, "true") || !strcmp(text, "1") || !strcmp(text, "yes")) v->num = 1;
      else if (!strcmp(text, "false") || !strcmp(text, "0") || !strcmp(text, "no")) v->num = 0;
      else
        return lpdm_error(ctx, LPDM_ERR_ARG, "%s: key '%s' expects true or false, got '%s'", what,
                          k->name, text);
      return LPDM_OK;
    case LPDM_T_STRING:
      if (strlen(text) >= LPDM_STRLEN)
        return lpdm_error(ctx, LPDM_ERR_ARG, "%s: key '%s': string too long (max %d)", what,
                          k->name, LPDM_STRLEN - 1);
      strcpy(v->str, text);
      return LPDM_OK;
  }
  return lpdm_error(ctx, LPDM_ERR_ARG, "%s: key '%s' has an unknown type", what, k->name);
}

int lpdm_config_init(lpdm_ctx *ctx, const lpdm_plugin *p, lpdm_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->keys = p->keys;
  if (!p->keys) return LPDM_OK;
  int n = 0;
  while (p->keys[n].name) n++;
  if (n > LPDM_MAX_KEYS)
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: %d config keys (max %d)", p->name, n, LPDM_MAX_KEYS);
  cfg->n = n;
  for (int i = 0; i < n; i++) {
    const char *def = p->keys[i].def ? p->keys[i].def : "";
    if (p->keys[i].type != LPDM_T_STRING && !*def) def = "0";
    int rc = parse_into(ctx, &p->keys[i], &cfg->v[i], p->name, def);
    if (rc) return lpdm_ctx_prefix(ctx, rc, "default of %s", p->name);
  }
  return LPDM_OK;
}

int lpdm_config_set_text(lpdm_ctx *ctx, lpdm_config *cfg, const char *what, const char *key,
                         const char *text) {
  int i = lpdm_config_index(cfg, key);
  if (i < 0) return unknown_key(ctx, cfg, what, key);
  lpdm_value v;
  int rc = parse_into(ctx, &cfg->keys[i], &v, what, text);
  if (rc) return rc;
  cfg->v[i] = v;
  return LPDM_OK;
}

int lpdm_config_set_num(lpdm_ctx *ctx, lpdm_config *cfg, const char *what, const char *key,
                        double d) {
  int i = lpdm_config_index(cfg, key);
  if (i < 0) return unknown_key(ctx, cfg, what, key);
  const lpdm_key *k = &cfg->keys[i];
  if (k->type == LPDM_T_STRING || k->type == LPDM_T_BOOL)
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: key '%s' expects %s, got a number", what, key,
                      type_name(k->type));
  if (k->type == LPDM_T_INT && (d != floor(d) || fabs(d) > 9.0e15))
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: key '%s' expects an integer, got %g", what, key, d);
  if (!isfinite(d))
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: key '%s' must be finite, got %g", what, key, d);
  cfg->v[i].num = d;
  return LPDM_OK;
}

int lpdm_config_set_bool(lpdm_ctx *ctx, lpdm_config *cfg, const char *what, const char *key,
                         int b) {
  int i = lpdm_config_index(cfg, key);
  if (i < 0) return unknown_key(ctx, cfg, what, key);
  if (cfg->keys[i].type != LPDM_T_BOOL)
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: key '%s' expects %s, got a boolean", what, key,
                      type_name(cfg->keys[i].type));
  cfg->v[i].num = b ? 1 : 0;
  return LPDM_OK;
}

int lpdm_config_set_str(lpdm_ctx *ctx, lpdm_config *cfg, const char *what, const char *key,
                        const char *s) {
  int i = lpdm_config_index(cfg, key);
  if (i < 0) return unknown_key(ctx, cfg, what, key);
  if (cfg->keys[i].type != LPDM_T_STRING)
    return lpdm_config_set_text(ctx, cfg, what, key, s);
  return parse_into(ctx, &cfg->keys[i], &cfg->v[i], what, s);
}

void lpdm_config_format(const lpdm_config *cfg, char *buf, size_t len) {
  size_t o = 0;
  if (len) buf[0] = '\0';
  for (int i = 0; i < cfg->n && o < len; i++) {
    const lpdm_key *k = &cfg->keys[i];
    const char *sep = i ? ", " : "";
    if (k->type == LPDM_T_STRING)
      o += (size_t)snprintf(buf + o, len - o, "%s%s=%s", sep, k->name, cfg->v[i].str);
    else if (k->type == LPDM_T_BOOL)
      o += (size_t)snprintf(buf + o, len - o, "%s%s=%s", sep, k->name, cfg->v[i].num ? "true" : "false");
    else
      o += (size_t)snprintf(buf + o, len - o, "%s%s=%.17g", sep, k->name, cfg->v[i].num);
  }
}

/* Records a bad read in cfg->bad: the one write an accessor makes, through
   the const pointer it was handed (configs are never defined const; see
   lpdm_config in plugin.h). The first bad key is kept. */
static void cfg_bad(const lpdm_config *cfg, const char *key, int why) {
  lpdm_config_bad *b = (lpdm_config_bad *)&cfg->bad;
  if (b->n++ == 0) {
    b->why = why;
    snprintf(b->key, sizeof b->key, "%s", key ? key : "(null)");
  }
}

/* Index of a numeric key, or -1 after recording the bad read. */
static int cfg_numeric(const lpdm_config *cfg, const char *key) {
  int i = key ? lpdm_config_index(cfg, key) : -1;
  if (i < 0) cfg_bad(cfg, key, 1);
  else if (cfg->keys[i].type == LPDM_T_STRING) cfg_bad(cfg, key, 3), i = -1;
  return i;
}

double lpdm_cfg_num(const lpdm_config *cfg, const char *key) {
  int i = cfg_numeric(cfg, key);
  return i < 0 ? NAN : cfg->v[i].num;
}
int lpdm_cfg_int(const lpdm_config *cfg, const char *key) {
  int i = cfg_numeric(cfg, key);
  return i < 0 ? 0 : (int)cfg->v[i].num;
}
int lpdm_cfg_bool(const lpdm_config *cfg, const char *key) {
  int i = cfg_numeric(cfg, key);
  return i < 0 ? 0 : cfg->v[i].num != 0;
}
const char *lpdm_cfg_str(const lpdm_config *cfg, const char *key) {
  int i = key ? lpdm_config_index(cfg, key) : -1;
  if (i < 0) cfg_bad(cfg, key, 1);
  else if (cfg->keys[i].type != LPDM_T_STRING) cfg_bad(cfg, key, 2), i = -1;
  return i < 0 ? "" : cfg->v[i].str;
}

int lpdm_config_check(lpdm_ctx *ctx, const lpdm_config *cfg, const char *what) {
  if (!cfg || cfg->bad.n == 0) return LPDM_OK;
  const lpdm_config_bad *b = &cfg->bad;
  char more[48] = "";
  if (b->n > 1) snprintf(more, sizeof more, " (and %d more bad reads)", b->n - 1);
  if (b->why != 1) {
    int i = lpdm_config_index(cfg, b->key);
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: read config key '%s' as %s, but it declares it as %s%s", what, b->key,
                      b->why == 2 ? "a string" : "a number", i >= 0 ? type_name(cfg->keys[i].type) : "?", more);
  }
  char known[600] = "";
  size_t len = 0;
  for (int i = 0; i < cfg->n && len < sizeof known - 40; i++)
    len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "", cfg->keys[i].name);
  return lpdm_error(ctx, LPDM_ERR_ARG, "%s: read config key '%s', which it does not declare (declared: %s)%s", what,
                    b->key, cfg->n ? known : "none", more);
}

int lpdm__cfg_after(lpdm_ctx *ctx, const lpdm_config *cfg, const lpdm_plugin *head, int rc) {
  if (!cfg || cfg->bad.n == 0) return rc;
  return lpdm_config_check(ctx, cfg, head->name);
}

