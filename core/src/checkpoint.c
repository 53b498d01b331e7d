/* SPDX-License-Identifier: MIT */
/* checkpoint.c -- a network's parameters and optimizer state as
   safetensors tensors (the format: safetensors.c; the layout:
   docs/checkpoints.md). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static int tname(lpdm_ctx *ctx, char *buf, const char *prefix, int layer, const char *param, const char *suffix) {
  int n = snprintf(buf, LPDM_ST_NAMELEN, "%s.%d.%s%s", prefix, layer, param, suffix);
  if (n < 0 || n >= LPDM_ST_NAMELEN) return lpdm_error(ctx, LPDM_ERR_ARG, "checkpoint: tensor name too long (prefix '%s')", prefix);
  return LPDM_OK;
}

/* "<prefix>.<layer>": where a layer's own state goes. */
static int lname(lpdm_ctx *ctx, char *buf, const char *prefix, int layer) {
  int n = snprintf(buf, LPDM_ST_NAMELEN, "%s.%d", prefix, layer);
  if (n < 0 || n >= LPDM_ST_NAMELEN) return lpdm_error(ctx, LPDM_ERR_ARG, "checkpoint: tensor name too long (prefix '%s')", prefix);
  return LPDM_OK;
}

static int has_state(const lpdm_layer *l) {
  return lpdm_abi_has(&l->kind->head, LPDM_ABI_MINOR_LAYER_SAVE) && l->kind->save && l->kind->load;
}

/* Loads the layers' own state (after every parameter has been checked);
   if one refuses, the layers loaded before it get their old state back
   from a copy taken first, so a failed load changes nothing. */
static int load_layer_states(lpdm_net *net, lpdm_ctx *ctx, const lpdm_st *st, const char *prefix) {
  char name[LPDM_ST_NAMELEN];
  lpdm_st *bak = NULL;
  int rc = LPDM_OK, i;
  const int depth = lpdm_net_depth(net);
  for (i = 0; i < depth && !rc; i++) {
    lpdm_layer *l = lpdm_net_layer(net, i);
    if (!has_state(l)) continue;
    if ((rc = lname(ctx, name, prefix, i))) break;
    if (!bak && (rc = lpdm_st_new(ctx, &bak))) break;
    if ((rc = l->kind->save(l, bak, name, ctx))) break;
    if ((rc = l->kind->load(l, st, name, ctx))) {
      rc = lpdm_ctx_prefix(ctx, rc, "layer %d (%s)", i + 1, l->kind->head.name);
      break;
    }
  }
  if (rc && bak) { /* the state of layers 0..i-1 back from their copies; the first message stays */
    char msg[512];
    snprintf(msg, sizeof msg, "%s", lpdm_ctx_message(ctx));
    for (int j = 0; j < i; j++) {
      lpdm_layer *l = lpdm_net_layer(net, j);
      if (has_state(l) && !lname(ctx, name, prefix, j)) l->kind->load(l, bak, name, ctx);
    }
    lpdm_error(ctx, rc, "%s", msg);
  }
  lpdm_st_free(bak);
  return rc;
}

static void param_shape(const lpdm_param *p, int *ndim, int64_t *shape) {
  if ((size_t)p->rows * (size_t)p->cols == p->n && p->rows > 0) {
    *ndim = 2;
    shape[0] = p->rows;
    shape[1] = p->cols;
  } else {
    *ndim = 1;
    shape[0] = (int64_t)p->n;
  }
}

int lpdm_net_save(lpdm_net *net, lpdm_ctx *ctx, lpdm_st *st, const char *prefix, int optim) {
  char name[LPDM_ST_NAMELEN];
  int rc;
  for (int i = 0; i < lpdm_net_depth(net); i++) {
    lpdm_layer *l = lpdm_net_layer(net, i);
    for (int j = 0; j < l->nparams; j++) {
      const lpdm_param *p = &l->params[j];
      int ndim;
      int64_t shape[2];
      param_shape(p, &ndim, shape);
      if ((rc = tname(ctx, name, prefix, i, p->name, "")) ||
          (rc = lpdm_st_add(st, ctx, name, LPDM_ST_F32, ndim, shape, p->w)))
        return rc;
      if (optim) {
        float *m, *v;
        long long *t;
        lpdm__optim_state(lpdm_net_optim(net, i), j, &m, &v, &t);
        if ((rc = tname(ctx, name, prefix, i, p->name, ".m")) ||
            (rc = lpdm_st_add(st, ctx, name, LPDM_ST_F32, ndim, shape, m)) ||
            (rc = tname(ctx, name, prefix, i, p->name, ".v")) ||
            (rc = lpdm_st_add(st, ctx, name, LPDM_ST_F32, ndim, shape, v)))
          return rc;
      }
    }
    if (optim && l->nparams > 0) {
      float *m, *v;
      long long *t;
      lpdm__optim_state(lpdm_net_optim(net, i), 0, &m, &v, &t);
      int64_t step = *t;
      if ((rc = tname(ctx, name, prefix, i, "step", "")) || (rc = lpdm_st_add(st, ctx, name, LPDM_ST_I64, 0, NULL, &step)))
        return rc;
    }
    if (has_state(l)) {
      if ((rc = lname(ctx, name, prefix, i))) return rc;
      if ((rc = l->kind->save(l, st, name, ctx))) return lpdm_ctx_prefix(ctx, rc, "layer %d (%s)", i + 1, l->kind->head.name);
    }
  }
  /* sampled local pairs: their generator is the net's state */
  if (lpdm_net_local(net).partners > 0) return lpdm_state_put_rng(st, ctx, prefix, "partner_rng", lpdm__net_partner_rng(net));
  return LPDM_OK;
}

/* The F32 tensor `name` with exactly the param's shape, finite; NULL with
   a message otherwise. */
static const float *fetch(lpdm_ctx *ctx, const lpdm_st *st, const char *name, const lpdm_param *p, int *rc) {
  int dtype, ndim, want_nd;
  const int64_t *shape;
  int64_t want[2];
  size_t nb;
  param_shape(p, &want_nd, want);
  const float *x = lpdm_st_get(st, name, &dtype, &ndim, &shape, &nb);
  if (!x) {
    *rc = lpdm_error(ctx, LPDM_ERR_IO, "checkpoint: no tensor '%s'", name);
    return NULL;
  }
  if (dtype != LPDM_ST_F32) {
    *rc = lpdm_error(ctx, LPDM_ERR_IO, "checkpoint: tensor '%s' is %s, expected F32", name, lpdm_st_dtype_name(dtype));
    return NULL;
  }
  int same = ndim == want_nd;
  for (int d = 0; same && d < ndim; d++) same = shape[d] == want[d];
  if (!same) {
    char got[96] = "", exp[48];
    for (int d = 0; d < ndim && d < 4; d++) {
      size_t k = strlen(got);
      snprintf(got + k, sizeof got - k, d ? " x %lld" : "%lld", (long long)shape[d]);
    }
    if (want_nd == 2) snprintf(exp, sizeof exp, "%lld x %lld", (long long)want[0], (long long)want[1]);
    else snprintf(exp, sizeof exp, "%lld", (long long)want[0]);
    *rc = lpdm_error(ctx, LPDM_ERR_IO, "checkpoint: tensor '%s' has shape %s, the net needs %s", name,
                     ndim ? got : "(scalar)", exp);
    return NULL;
  }
  /* the bytes may not be 4-aligned: check values through memcpy */
  for (size_t k = 0; k < p->n; k++) {
    float f;
    memcpy(&f, (const char *)x + 4 * k, 4);
    if (!isfinite(f)) {
      *rc = lpdm_error(ctx, LPDM_ERR_NUM, "checkpoint: tensor '%s' has a non-finite value at index %zu", name, k);
      return NULL;
    }
  }
  return x;
}

int lpdm_net_load(lpdm_net *net, lpdm_ctx *ctx, const lpdm_st *st, const char *prefix, int optim) {
  char name[LPDM_ST_NAMELEN];
  int rc = LPDM_OK;
  /* check everything first, change nothing until it all fits */
  lpdm_rng prng;
  const int partners = lpdm_net_local(net).partners > 0;
  if (partners && (rc = lpdm_state_get_rng(st, ctx, prefix, "partner_rng", &prng))) return rc;
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1 && (rc = load_layer_states(net, ctx, st, prefix))) return rc;
    for (int i = 0; i < lpdm_net_depth(net); i++) {
      lpdm_layer *l = lpdm_net_layer(net, i);
      for (int j = 0; j < l->nparams; j++) {
        const lpdm_param *p = &l->params[j];
        const float *w, *m = NULL, *v = NULL;
        if ((rc = tname(ctx, name, prefix, i, p->name, ""))) return rc;
        if (!(w = fetch(ctx, st, name, p, &rc))) return lpdm_ctx_prefix(ctx, rc, "layer %d (%s)", i + 1, l->kind->head.name);
        if (optim) {
          if ((rc = tname(ctx, name, prefix, i, p->name, ".m"))) return rc;
          if (!(m = fetch(ctx, st, name, p, &rc))) return rc;
          if ((rc = tname(ctx, name, prefix, i, p->name, ".v"))) return rc;
          if (!(v = fetch(ctx, st, name, p, &rc))) return rc;
        }
        if (pass == 1) {
          memcpy(p->w, w, p->n * sizeof(float));
          if (optim) {
            float *om, *ov;
            long long *t;
            lpdm__optim_state(lpdm_net_optim(net, i), j, &om, &ov, &t);
            memcpy(om, m, p->n * sizeof(float));
            memcpy(ov, v, p->n * sizeof(float));
          }
        }
      }
      if (optim && l->nparams > 0) {
        int dtype, ndim;
        size_t nb;
        if ((rc = tname(ctx, name, prefix, i, "step", ""))) return rc;
        const void *x = lpdm_st_get(st, name, &dtype, &ndim, NULL, &nb);
        int64_t step;
        if (!x || dtype != LPDM_ST_I64 || ndim != 0 || nb != 8)
          return lpdm_error(ctx, LPDM_ERR_IO, "checkpoint: tensor '%s' missing or not an I64 scalar", name);
        memcpy(&step, x, 8);
        if (step < 0) return lpdm_error(ctx, LPDM_ERR_IO, "checkpoint: tensor '%s' is negative", name);
        if (pass == 1) {
          float *om, *ov;
          long long *t;
          lpdm__optim_state(lpdm_net_optim(net, i), 0, &om, &ov, &t);
          *t = step;
        }
      }
    }
  }
  if (partners) *lpdm__net_partner_rng(net) = prng;
  return LPDM_OK;
}

/* ------------------------------------------------------------ run state */

int lpdm_env_save(const lpdm_env *env, lpdm_ctx *ctx, lpdm_st *st, const char *prefix) {
  const lpdm_env_kind *k = env->kind;
  if (!lpdm_abi_has(&k->head, LPDM_ABI_MINOR_ENV_SAVE) || !k->save)
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s cannot be checkpointed (it has no save/load)", k->head.name);
  return k->save(env, st, prefix, ctx);
}

int lpdm_env_load(lpdm_env *env, lpdm_ctx *ctx, const lpdm_st *st, const char *prefix) {
  const lpdm_env_kind *k = env->kind;
  if (!lpdm_abi_has(&k->head, LPDM_ABI_MINOR_ENV_SAVE) || !k->load)
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s cannot be checkpointed (it has no save/load)", k->head.name);
  return k->load(env, st, prefix, ctx);
}

int lpdm_algo_save(lpdm_algo *a, lpdm_ctx *ctx, lpdm_st *st) {
  const lpdm_algo_kind *k = a->kind;
  if (!lpdm_abi_has(&k->head, LPDM_ABI_MINOR_ALGO_SAVE) || !k->save)
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s cannot be checkpointed (it has no save/load)", k->head.name);
  return k->save(a, st, ctx);
}

int lpdm_algo_load(lpdm_algo *a, lpdm_ctx *ctx, const lpdm_st *st) {
  const lpdm_algo_kind *k = a->kind;
  if (!lpdm_abi_has(&k->head, LPDM_ABI_MINOR_ALGO_SAVE) || !k->load)
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s cannot be checkpointed (it has no save/load)", k->head.name);
  return k->load(a, st, ctx);
}

static int put(lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const char *what, int dtype, const void *x, int64_t n) {
  char name[LPDM_ST_NAMELEN];
  int k = snprintf(name, sizeof name, "%s.%s", prefix, what);
  if (k < 0 || k >= (int)sizeof name) return lpdm_error(ctx, LPDM_ERR_ARG, "state: name too long ('%s')", prefix);
  return lpdm_st_add(st, ctx, name, dtype, 1, &n, x);
}

static int get(const lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const char *what, int dtype, void *x, int64_t n) {
  char name[LPDM_ST_NAMELEN];
  snprintf(name, sizeof name, "%s.%s", prefix, what);
  int dt, nd;
  const int64_t *shape;
  size_t nb;
  const void *p = lpdm_st_get(st, name, &dt, &nd, &shape, &nb);
  if (!p) return lpdm_error(ctx, LPDM_ERR_IO, "checkpoint: no tensor '%s'", name);
  if (dt != dtype || nd != 1 || shape[0] != n)
    return lpdm_error(ctx, LPDM_ERR_IO, "checkpoint: tensor '%s' is %s[%lld], expected %s[%lld]", name,
                      lpdm_st_dtype_name(dt), nd == 1 ? (long long)shape[0] : -1LL, lpdm_st_dtype_name(dtype),
                      (long long)n);
  memcpy(x, p, nb);
  if (dtype == LPDM_ST_F64)
    for (int64_t i = 0; i < n; i++)
      if (!isfinite(((double *)x)[i])) return lpdm_error(ctx, LPDM_ERR_NUM, "checkpoint: tensor '%s' has a non-finite value", name);
  if (dtype == LPDM_ST_F32)
    for (int64_t i = 0; i < n; i++)
      if (!isfinite(((float *)x)[i])) return lpdm_error(ctx, LPDM_ERR_NUM, "checkpoint: tensor '%s' has a non-finite value", name);
  return LPDM_OK;
}

int lpdm_state_put_f64(lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const char *what, const double *x, int n) {
  return put(st, ctx, prefix, what, LPDM_ST_F64, x, n);
}
int lpdm_state_get_f64(const lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const char *what, double *x, int n) {
  return get(st, ctx, prefix, what, LPDM_ST_F64, x, n);
}
int lpdm_state_put_i64(lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const char *what, const int64_t *x, int n) {
  return put(st, ctx, prefix, what, LPDM_ST_I64, x, n);
}
int lpdm_state_get_i64(const lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const char *what, int64_t *x, int n) {
  return get(st, ctx, prefix, what, LPDM_ST_I64, x, n);
}
int lpdm_state_put_f32(lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const char *what, const float *x, size_t n) {
  return put(st, ctx, prefix, what, LPDM_ST_F32, x, (int64_t)n);
}
int lpdm_state_get_f32(const lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const char *what, float *x, size_t n) {
  return get(st, ctx, prefix, what, LPDM_ST_F32, x, (int64_t)n);
}

int lpdm_state_put_rng(lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const char *what, const lpdm_rng *r) {
  uint64_t w[6] = {r->s[0], r->s[1], r->s[2], r->s[3], (uint64_t)r->has_spare, 0};
  memcpy(&w[5], &r->spare, 8);
  return put(st, ctx, prefix, what, LPDM_ST_U64, w, 6);
}

int lpdm_state_get_rng(const lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const char *what, lpdm_rng *r) {
  uint64_t w[6];
  int rc = get(st, ctx, prefix, what, LPDM_ST_U64, w, 6);
  if (rc) return rc;
  if (!(w[0] | w[1] | w[2] | w[3]) || w[4] > 1)
    return lpdm_error(ctx, LPDM_ERR_IO, "checkpoint: tensor '%s.%s' is not a generator state", prefix, what);
  for (int i = 0; i < 4; i++) r->s[i] = w[i];
  r->has_spare = (int)w[4];
  memcpy(&r->spare, &w[5], 8);
  if (!isfinite(r->spare)) return lpdm_error(ctx, LPDM_ERR_IO, "checkpoint: tensor '%s.%s' is not a generator state", prefix, what);
  return LPDM_OK;
}

int lpdm_state_put_nprng(lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const char *what, const lpdm_nprng *r) {
  uint64_t w[4] = {r->state_hi, r->state_lo, r->inc_hi, r->inc_lo};
  return put(st, ctx, prefix, what, LPDM_ST_U64, w, 4);
}

int lpdm_state_get_nprng(const lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const char *what, lpdm_nprng *r) {
  uint64_t w[4];
  int rc = get(st, ctx, prefix, what, LPDM_ST_U64, w, 4);
  if (rc) return rc;
  if (!(w[3] & 1)) return lpdm_error(ctx, LPDM_ERR_IO, "checkpoint: tensor '%s.%s' is not a PCG64 state (even increment)", prefix, what);
  r->state_hi = w[0];
  r->state_lo = w[1];
  r->inc_hi = w[2];
  r->inc_lo = w[3];
  return LPDM_OK;
}

int lpdm_state_put_env(lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const double *x, int nx, const int64_t *c,
                       int nc, const lpdm_nprng *rng) {
  int rc = lpdm_state_put_f64(st, ctx, prefix, "state", x, nx);
  if (!rc) rc = lpdm_state_put_i64(st, ctx, prefix, "counters", c, nc);
  if (!rc) rc = lpdm_state_put_nprng(st, ctx, prefix, "rng", rng);
  return rc;
}

int lpdm_state_get_env(const lpdm_st *st, lpdm_ctx *ctx, const char *prefix, double *x, int nx, int64_t *c, int nc,
                       lpdm_nprng *rng) {
  double xs[64];
  int64_t cs[64];
  lpdm_nprng r;
  if (nx > 64 || nc > 64) return lpdm_error(ctx, LPDM_ERR_ARG, "state: at most 64 values and 64 counters");
  int rc = lpdm_state_get_f64(st, ctx, prefix, "state", xs, nx);
  if (!rc) rc = lpdm_state_get_i64(st, ctx, prefix, "counters", cs, nc);
  if (!rc) rc = lpdm_state_get_nprng(st, ctx, prefix, "rng", &r);
  if (rc) return rc;
  for (int i = 0; i < nc; i++)
    if (cs[i] < 0 || cs[i] > INT32_MAX)
      return lpdm_error(ctx, LPDM_ERR_IO, "checkpoint: %s.counters[%d] = %lld is out of range", prefix, i, (long long)cs[i]);
  memcpy(x, xs, (size_t)nx * sizeof *x);
  memcpy(c, cs, (size_t)nc * sizeof *c);
  *rng = r;
  return LPDM_OK;
}
