/* SPDX-License-Identifier: MIT */
/* parity.h -- step-by-step parity of an lpdm env against a reference trace
   (tests/data/<Id>.csv, written by Gymnasium; the format is described in
   the reference data's README):

     # a comment line
     episode,t,policy,seed,a0..,obs0..,reward,terminated,truncated,state0..

   A t=0 row is reset(seed=seed): obs is what reset returned, and action,
   reward and flags are empty. Every row carries the env's raw state after
   it. The numbers of a*, obs* and state* columns differ per env; the
   header names them.

   parity_check() goes row by row: reset(seed) at each t=0 row (obs
   bit-exact, state exact -- this checks the start-state draws through
   lpdm_nprng); before each later row, set_state(previous row's state) and
   step with the row's action (a Discrete env gets the integer, a Box env
   the row's a* values, which may lie outside the bounds on purpose), then
   compare obs to within one float32 ulp, state and reward to 1e-12
   relative to max(|want|, 1e-3), terminated/truncated exactly. Why the
   floor: NumPy's float64 sin/cos differ from glibc's by an ulp for most
   arguments, and a value that is a near-cancelling sum inherits that ulp
   as ~1e-16 absolute, which would be a large "relative" error near zero.
   The plain relative figure is reported as a diagnostic. Then a free
   replay: from each reset, the episode's first 20 actions without
   set_state, to 1e-6 (the same one-ulp differences, amplified by the
   dynamics).

   parity_report() turns the result into PARITY_TAP_LINES TAP lines;
   parity_todo() emits the same lines as TAP TODOs (for an env whose
   plugin has not landed yet: "not ok N - ... # TODO plugin missing"
   does not fail the run). This header includes tap.h. */
#ifndef LPDM_PARITY_H
#define LPDM_PARITY_H

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lpdm/lpdm.h"
#include "tap.h"

#define PARITY_MAX_COLS 512
#define PARITY_REPLAY_STEPS 20
#define PARITY_REPLAY_TOL 1e-6
#define PARITY_STEP_TOL 1e-12
#define PARITY_FLOOR 1e-3
/* TAP lines parity_report() and parity_todo() emit. */
#define PARITY_TAP_LINES 7

/* ------------------------------------------------------------ the trace */

/* One trace, column-major by kind: row i's obs are obs[i*nobs .. +nobs). */
typedef struct parity_trace {
  int nrows, na, nobs, nstate;
  int *episode, *t;
  uint64_t *seed;
  double *a;      /* nrows x na (undefined on t=0 rows) */
  float *obs;     /* nrows x nobs */
  double *reward; /* 0 on t=0 rows */
  int *term, *trunc;
  double *state;  /* nrows x nstate */
} parity_trace;

static inline void parity_trace_free(parity_trace *tr) {
  if (!tr) return;
  free(tr->episode);
  free(tr->t);
  free(tr->seed);
  free(tr->a);
  free(tr->obs);
  free(tr->reward);
  free(tr->term);
  free(tr->trunc);
  free(tr->state);
  memset(tr, 0, sizeof *tr);
}

/* Splits line at commas in place; empty fields stay empty strings. */
static inline int parity_split(char *line, char **f, int max) {
  int n = 0;
  char *p = line;
  while (n < max) {
    f[n++] = p;
    char *c = strchr(p, ',');
    if (!c) break;
    *c = '\0';
    p = c + 1;
  }
  return n;
}

/* "obs12" with prefix "obs" -> 12; -1 if name is not prefix + digits. */
static inline int parity_col_index(const char *name, const char *prefix) {
  size_t n = strlen(prefix);
  if (strncmp(name, prefix, n) != 0 || name[n] == '\0') return -1;
  int v = 0;
  for (const char *p = name + n; *p; p++) {
    if (*p < '0' || *p > '9' || v > 100000) return -1;
    v = v * 10 + (*p - '0');
  }
  return v;
}

enum { PC_SKIP, PC_EPISODE, PC_T, PC_SEED, PC_A, PC_OBS, PC_REWARD, PC_TERM, PC_TRUNC, PC_STATE };

static inline int parity_grow(parity_trace *tr, int cap) {
#define PARITY_GROW(p, n)                                        \
  do {                                                           \
    void *q = realloc((p), (size_t)(n) * sizeof *(p));           \
    if (!q) return -1;                                           \
    (p) = q;                                                     \
  } while (0)
  PARITY_GROW(tr->episode, cap);
  PARITY_GROW(tr->t, cap);
  PARITY_GROW(tr->seed, cap);
  PARITY_GROW(tr->a, (size_t)cap * (tr->na ? tr->na : 1));
  PARITY_GROW(tr->obs, (size_t)cap * tr->nobs);
  PARITY_GROW(tr->reward, cap);
  PARITY_GROW(tr->term, cap);
  PARITY_GROW(tr->trunc, cap);
  PARITY_GROW(tr->state, (size_t)cap * tr->nstate);
#undef PARITY_GROW
  return 0;
}

/* Reads path into tr. Returns 0, or -1 with a reason in err. */
static inline int parity_trace_load(const char *path, parity_trace *tr, char *err, size_t errlen) {
  memset(tr, 0, sizeof *tr);
  FILE *fp = fopen(path, "r");
  if (!fp) {
    snprintf(err, errlen, "cannot open %s", path);
    return -1;
  }
  char *line = NULL, *f[PARITY_MAX_COLS];
  size_t linecap = 0;
  int kind[PARITY_MAX_COLS], idx[PARITY_MAX_COLS], ncols = 0, cap = 0, lineno = 0, rc = 0;
  while (getline(&line, &linecap, fp) > 0) {
    lineno++;
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0] == '#' || line[0] == '\0') continue;
    int n = parity_split(line, f, PARITY_MAX_COLS);
    if (!ncols) { /* the header */
      ncols = n;
      for (int j = 0; j < n; j++) {
        int k = PC_SKIP, i = 0;
        if (!strcmp(f[j], "episode")) k = PC_EPISODE;
        else if (!strcmp(f[j], "t")) k = PC_T;
        else if (!strcmp(f[j], "seed")) k = PC_SEED;
        else if (!strcmp(f[j], "reward")) k = PC_REWARD;
        else if (!strcmp(f[j], "terminated")) k = PC_TERM;
        else if (!strcmp(f[j], "truncated")) k = PC_TRUNC;
        else if ((i = parity_col_index(f[j], "obs")) >= 0) k = PC_OBS;
        else if ((i = parity_col_index(f[j], "state")) >= 0) k = PC_STATE;
        else if ((i = parity_col_index(f[j], "a")) >= 0) k = PC_A;
        else i = 0;
        kind[j] = k;
        idx[j] = i;
        if (k == PC_A && i + 1 > tr->na) tr->na = i + 1;
        if (k == PC_OBS && i + 1 > tr->nobs) tr->nobs = i + 1;
        if (k == PC_STATE && i + 1 > tr->nstate) tr->nstate = i + 1;
      }
      if (!tr->nobs || !tr->nstate) {
        snprintf(err, errlen, "%s:%d: header names no obs* or no state* column", path, lineno);
        rc = -1;
        break;
      }
      continue;
    }
    if (n != ncols) {
      snprintf(err, errlen, "%s:%d: %d fields, the header has %d", path, lineno, n, ncols);
      rc = -1;
      break;
    }
    if (tr->nrows == cap) {
      cap = cap ? 2 * cap : 1024;
      if (parity_grow(tr, cap)) {
        snprintf(err, errlen, "out of memory reading %s", path);
        rc = -1;
        break;
      }
    }
    int r = tr->nrows++;
    tr->reward[r] = 0;
    tr->term[r] = tr->trunc[r] = 0;
    for (int j = 0; j < n; j++) {
      const char *v = f[j];
      switch (kind[j]) {
        case PC_EPISODE: tr->episode[r] = atoi(v); break;
        case PC_T: tr->t[r] = atoi(v); break;
        case PC_SEED: tr->seed[r] = strtoull(v, NULL, 10); break;
        case PC_A: tr->a[(size_t)r * tr->na + idx[j]] = *v ? strtod(v, NULL) : NAN; break;
        case PC_OBS: tr->obs[(size_t)r * tr->nobs + idx[j]] = (float)strtod(v, NULL); break;
        case PC_REWARD: tr->reward[r] = *v ? strtod(v, NULL) : 0; break;
        case PC_TERM: tr->term[r] = *v ? atoi(v) : 0; break;
        case PC_TRUNC: tr->trunc[r] = *v ? atoi(v) : 0; break;
        case PC_STATE: tr->state[(size_t)r * tr->nstate + idx[j]] = strtod(v, NULL); break;
        default: break;
      }
    }
  }
  free(line);
  fclose(fp);
  if (!rc && !ncols) {
    snprintf(err, errlen, "%s: no header", path);
    rc = -1;
  }
  if (rc) parity_trace_free(tr);
  return rc;
}

/* ------------------------------------------------------------ helpers */

/* Distance in float32 ulps (+0 and -0 are the same point). */
static inline int64_t parity_ulps(float a, float b) {
  int32_t ia, ib;
  memcpy(&ia, &a, sizeof ia);
  memcpy(&ib, &b, sizeof ib);
  int64_t oa = ia < 0 ? -(int64_t)(ia & 0x7fffffff) : ia;
  int64_t ob = ib < 0 ? -(int64_t)(ib & 0x7fffffff) : ib;
  return oa > ob ? oa - ob : ob - oa;
}

/* |got - want| relative to max(|want|, floor). */
static inline double parity_relerr(double got, double want, double floor_) {
  if (isnan(got) || isnan(want)) return INFINITY;
  return fabs(got - want) / fmax(fabs(want), floor_);
}

/* "v0 v1 ..." with %.17g (or %.9g for float32) into buf. */
static inline const char *parity_fmt(char *buf, size_t len, const double *d, const float *f, int n) {
  size_t at = 0;
  buf[0] = '\0';
  for (int i = 0; i < n && at + 1 < len; i++) {
    int w = d ? snprintf(buf + at, len - at, i ? " %.17g" : "%.17g", d[i])
              : snprintf(buf + at, len - at, i ? " %.9g" : "%.9g", (double)f[i]);
    if (w < 0) break;
    at += (size_t)w;
  }
  return buf;
}

/* ------------------------------------------------------------ the check */

typedef struct parity_result {
  int setup_ok;           /* env and trace fit together (dims, callbacks) */
  int nreset, nstep, errors;
  int reset_obs_bad, reset_state_bad;
  int obs_bad, state_bad, reward_bad, flags_bad;
  int nterm, ntrunc, exact_state;
  int64_t max_ulp;
  double max_state_err, max_pure_rel, max_reward_err;
  int replay_episodes, replay_steps, replay_bad;
  double replay_max_err;
} parity_result;

/* Checks that env can be driven from tr; reasons go to diag. */
static inline int parity_fits(const lpdm_env *env, const parity_trace *tr, const char *id) {
  int good = 1;
  if (!env->kind->get_state || !env->kind->set_state) {
    diag("%s: no get_state/set_state", id);
    good = 0;
  }
  if (env->obs_space.dim != tr->nobs) {
    diag("%s: obs dim %d, the trace has %d obs columns", id, env->obs_space.dim, tr->nobs);
    good = 0;
  }
  if (env->state_dim != tr->nstate) {
    diag("%s: state_dim %d, the trace has %d state columns", id, env->state_dim, tr->nstate);
    good = 0;
  }
  int adim = env->act_space.type == LPDM_SPACE_DISCRETE ? 1 : env->act_space.dim;
  if (adim != tr->na) {
    diag("%s: action dim %d, the trace has %d action columns", id, adim, tr->na);
    good = 0;
  }
  return good;
}

/* Reset-and-step parity over every row, then the free replay. Diagnoses
   the first three mismatches of each kind. */
static inline void parity_check(lpdm_ctx *ctx, lpdm_env *env, const parity_trace *tr,
                                const char *id, parity_result *res) {
  memset(res, 0, sizeof *res);
  res->setup_ok = parity_fits(env, tr, id);
  if (!res->setup_ok) return;
  const int no = tr->nobs, ns = tr->nstate, na = tr->na;
  float *obs = malloc((size_t)no * sizeof *obs);
  double *st = malloc((size_t)ns * sizeof *st);
  char b1[2048], b2[2048];
  if (!obs || !st) {
    free(obs);
    free(st);
    res->errors++;
    diag("%s: out of memory", id);
    return;
  }

  for (int i = 0; i < tr->nrows; i++) {
    const float *wobs = tr->obs + (size_t)i * no;
    const double *wst = tr->state + (size_t)i * ns;
    if (tr->t[i] == 0) {
      res->nreset++;
      if (lpdm_env_reset(env, ctx, 1, tr->seed[i], obs) || env->kind->get_state(env, st)) {
        if (res->errors++ < 3)
          diag("%s: reset(seed=%" PRIu64 "): %s", id, tr->seed[i], lpdm_ctx_message(ctx));
        continue;
      }
      if (memcmp(obs, wobs, (size_t)no * sizeof *obs) != 0 && res->reset_obs_bad++ < 3)
        diag("%s ep %d reset obs: got %s want %s", id, tr->episode[i],
             parity_fmt(b1, sizeof b1, NULL, obs, no), parity_fmt(b2, sizeof b2, NULL, wobs, no));
      int same = 1;
      for (int j = 0; j < ns; j++) same &= st[j] == wst[j];
      if (!same && res->reset_state_bad++ < 3)
        diag("%s ep %d reset state: got %s want %s", id, tr->episode[i],
             parity_fmt(b1, sizeof b1, st, NULL, ns), parity_fmt(b2, sizeof b2, wst, NULL, ns));
      continue;
    }
    if (i == 0 || tr->episode[i - 1] != tr->episode[i] || tr->t[i - 1] != tr->t[i] - 1) {
      if (res->errors++ < 3) diag("%s: row %d out of order", id, i);
      continue;
    }
    res->nstep++;
    double reward;
    int term, trunc;
    if (lpdm_env_set_state(env, ctx, tr->state + (size_t)(i - 1) * ns) ||
        lpdm_env_step(env, ctx, tr->a + (size_t)i * na, obs, &reward, &term, &trunc) ||
        env->kind->get_state(env, st)) {
      if (res->errors++ < 3)
        diag("%s ep %d t %d: %s", id, tr->episode[i], tr->t[i], lpdm_ctx_message(ctx));
      continue;
    }

    int64_t u = 0;
    for (int j = 0; j < no; j++) {
      int64_t d = parity_ulps(obs[j], wobs[j]);
      if (d > u) u = d;
    }
    if (u > res->max_ulp) res->max_ulp = u;
    if (u > 1 && res->obs_bad++ < 3)
      diag("%s ep %d t %d obs off by %" PRId64 " ulp: got %s want %s", id, tr->episode[i],
           tr->t[i], u, parity_fmt(b1, sizeof b1, NULL, obs, no),
           parity_fmt(b2, sizeof b2, NULL, wobs, no));

    double e = 0;
    int exact = 1;
    for (int j = 0; j < ns; j++) {
      e = fmax(e, parity_relerr(st[j], wst[j], PARITY_FLOOR));
      res->max_pure_rel = fmax(res->max_pure_rel, parity_relerr(st[j], wst[j], 1e-300));
      exact &= st[j] == wst[j];
    }
    res->max_state_err = fmax(res->max_state_err, e);
    res->exact_state += exact;
    if (!(e <= PARITY_STEP_TOL) && res->state_bad++ < 3)
      diag("%s ep %d t %d state rel err %.3g: got %s want %s", id, tr->episode[i], tr->t[i], e,
           parity_fmt(b1, sizeof b1, st, NULL, ns), parity_fmt(b2, sizeof b2, wst, NULL, ns));

    double re = parity_relerr(reward, tr->reward[i], PARITY_FLOOR);
    res->max_reward_err = fmax(res->max_reward_err, re);
    if (!(re <= PARITY_STEP_TOL) && res->reward_bad++ < 3)
      diag("%s ep %d t %d reward got %.17g want %.17g", id, tr->episode[i], tr->t[i], reward,
           tr->reward[i]);
    if ((term != tr->term[i] || trunc != tr->trunc[i]) && res->flags_bad++ < 3)
      diag("%s ep %d t %d terminated/truncated got %d/%d want %d/%d", id, tr->episode[i],
           tr->t[i], term, trunc, tr->term[i], tr->trunc[i]);
    res->nterm += tr->term[i];
    res->ntrunc += tr->trunc[i];
  }

  /* Free replay: from each reset, the first steps without set_state. */
  for (int i = 0; i < tr->nrows; i++) {
    if (tr->t[i] != 0) continue;
    if (lpdm_env_reset(env, ctx, 1, tr->seed[i], obs)) {
      res->errors++;
      continue;
    }
    res->replay_episodes++;
    for (int k = 1; k <= PARITY_REPLAY_STEPS && i + k < tr->nrows && tr->t[i + k] == k; k++) {
      const int r = i + k;
      double reward;
      int term, trunc;
      if (lpdm_env_step(env, ctx, tr->a + (size_t)r * na, obs, &reward, &term, &trunc) ||
          env->kind->get_state(env, st)) {
        res->errors++;
        break;
      }
      res->replay_steps++;
      double e = 0;
      for (int j = 0; j < ns; j++)
        e = fmax(e, parity_relerr(st[j], tr->state[(size_t)r * ns + j], PARITY_FLOOR));
      res->replay_max_err = fmax(res->replay_max_err, e);
      if ((!(e <= PARITY_REPLAY_TOL) || term != tr->term[r]) && res->replay_bad++ < 3)
        diag("%s free replay ep %d t %d: state rel err %.3g, terminated %d want %d", id,
             tr->episode[r], tr->t[r], e, term, tr->term[r]);
    }
  }
  free(obs);
  free(st);
}

/* ------------------------------------------------------------ TAP */

/* One TAP line; with todo set, a TAP TODO that does not fail the run. */
static inline int parity_line(const char *todo, int cond, const char *fmt, ...) LPDM_PRINTF(3, 4);
static inline int parity_line(const char *todo, int cond, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (!todo) return ok(cond, "%s", buf);
  tap_n++;
  printf("not ok %d - %s # TODO %s\n", tap_n, buf, todo);
  fflush(stdout);
  return 0;
}

/* The PARITY_TAP_LINES lines of one env; todo non-NULL makes them TODOs. */
static inline void parity_lines(const char *id, const parity_result *r, const char *todo) {
  static const parity_result none;
  if (!r) r = &none;
  int ready = !todo && r->setup_ok;
  parity_line(todo, ready && r->errors == 0 && r->nreset > 0,
              "%s: env fits the trace and every reset/set_state/step succeeded", id);
  parity_line(todo, ready && r->nreset > 0 && r->reset_obs_bad == 0 && r->reset_state_bad == 0,
              "%s: reset obs bit-exact and state exact at all %d t=0 rows", id, r->nreset);
  parity_line(todo, ready && r->nstep > 0 && r->obs_bad == 0,
              "%s: step obs within 1 float32 ulp at all %d step rows (max %" PRId64 " ulp)", id,
              r->nstep, r->max_ulp);
  parity_line(todo, ready && r->nstep > 0 && r->state_bad == 0,
              "%s: step state within %g of max(|want|, %g) at all %d rows (max %.3g; %d rows "
              "bit-exact)",
              id, PARITY_STEP_TOL, PARITY_FLOOR, r->nstep, r->max_state_err, r->exact_state);
  if (ready)
    diag("%s: largest plain relative state error %.3g (NumPy's sin/cos vs glibc's, near zero)", id,
         r->max_pure_rel);
  parity_line(todo, ready && r->nstep > 0 && r->reward_bad == 0,
              "%s: step reward within %g at all %d rows (max %.3g)", id, PARITY_STEP_TOL, r->nstep,
              r->max_reward_err);
  parity_line(todo, ready && r->nstep > 0 && r->flags_bad == 0,
              "%s: terminated/truncated exact at all %d rows (trace: %d terminations, %d "
              "truncations)",
              id, r->nstep, r->nterm, r->ntrunc);
  parity_line(todo, ready && r->replay_episodes == r->nreset && r->replay_steps > 0 &&
                        r->replay_bad == 0,
              "%s: free replay of the first %d steps of %d episodes (%d steps) within %g (max "
              "%.3g)",
              id, PARITY_REPLAY_STEPS, r->replay_episodes, r->replay_steps, PARITY_REPLAY_TOL,
              r->replay_max_err);
}

static inline void parity_report(const char *id, const parity_result *r) {
  parity_lines(id, r, NULL);
}

static inline void parity_todo(const char *id, const char *reason) {
  parity_lines(id, NULL, reason);
}

#endif
