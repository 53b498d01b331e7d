/* SPDX-License-Identifier: MIT */
/* test_mujoco.c -- physics parity of every MuJoCo env's model against the
   reference traces in tests/data/mujoco/<model>.trace.csv (MuJoCo 2.2.2
   driving Gymnasium's own model files; the format is described in the
   reference data's README):

     # model=hopper.xml nq=6 nv=6 nu=3 timestep=0.002 frame_skip=4 mujoco=2.2.2
     episode,t,ctrl0..,qpos0..,qvel0..

   Each episode starts at a t=0 row (mj_resetData, qpos/qvel set, mj_forward;
   the row holds qpos/qvel as drawn, before that mj_forward normalised a free
   joint's quaternion in place) and every later row is one env step (ctrl
   set, mj_step x frame_skip, mj_rnePostConstraint) with that row's ctrl,
   which is drawn from 1.2 x the ctrlrange (out of range on purpose: MuJoCo
   clamps it). Here the env is driven the same way: set_state(t=0 row) --
   which is exactly that episode start, see plugins/envs/mujoco/lib/mj_env.h
   -- then step(ctrl) for each row, without ever setting the state again,
   comparing qpos/qvel (get_state) at every row.
   So the test checks the model file (same bodies, masses, joints, options,
   timestep as Gymnasium's), the frame_skip and the step sequence at once.

   Pass: every value within 1e-9 of max(|want|, 1e-3), relatively (the
   issue's bar); the largest errors and the count of bit-identical rows are
   printed. An env whose plugin is not built is a TAP TODO; without MuJoCo
   the whole program is skipped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lpdm/lpdm.h"
#include "tap.h"

#define TOL 1e-9
#define FLOOR 1e-3

typedef struct {
  const char *id, *trace, *plugin;
} mj_case;

static const mj_case cases[] = {
    {"InvertedPendulum-v5", "inverted_pendulum", "inverted_pendulum"},
    {"InvertedDoublePendulum-v5", "inverted_double_pendulum", "inverted_double_pendulum"},
    {"Reacher-v5", "reacher", "reacher"},
    {"Swimmer-v5", "swimmer", "swimmer"},
    {"Hopper-v5", "hopper", "hopper"},
    {"HalfCheetah-v5", "half_cheetah", "half_cheetah"},
    {"Walker2d-v5", "walker2d_v5", "walker2d"},
    {"Ant-v5", "ant", "ant"},
    {"Humanoid-v5", "humanoid", "humanoid"},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))
#define LINES_PER_CASE 3

typedef struct {
  int nq, nv, nu, frame_skip, nrows;
  double timestep;
  int *episode, *t;
  double *ctrl, *qpos, *qvel;
} trace;

static void trace_free(trace *tr) {
  free(tr->episode);
  free(tr->t);
  free(tr->ctrl);
  free(tr->qpos);
  free(tr->qvel);
  memset(tr, 0, sizeof *tr);
}

/* Reads one trace; 0 or -1 with a reason in err. */
static int trace_load(const char *path, trace *tr, char *err, size_t errlen) {
  memset(tr, 0, sizeof *tr);
  FILE *fp = fopen(path, "r");
  if (!fp) {
    snprintf(err, errlen, "cannot open %s", path);
    return -1;
  }
  char *line = NULL;
  size_t cap = 0;
  int rc = 0, have_meta = 0, have_header = 0, rowcap = 0;
  while (getline(&line, &cap, fp) > 0) {
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0] == '#') {
      const char *p;
      if ((p = strstr(line, "nq="))) tr->nq = atoi(p + 3);
      if ((p = strstr(line, "nv="))) tr->nv = atoi(p + 3);
      if ((p = strstr(line, "nu="))) tr->nu = atoi(p + 3);
      if ((p = strstr(line, "timestep="))) tr->timestep = strtod(p + 9, NULL);
      if ((p = strstr(line, "frame_skip="))) tr->frame_skip = atoi(p + 11);
      have_meta = tr->nq > 0 && tr->nv > 0 && tr->nu > 0 && tr->frame_skip > 0;
      continue;
    }
    if (!have_header) {
      have_header = 1;
      continue;
    }
    if (!have_meta) {
      snprintf(err, errlen, "%s: no '# ... nq= nv= nu= frame_skip=' line", path);
      rc = -1;
      break;
    }
    if (tr->nrows == rowcap) {
      rowcap = rowcap ? 2 * rowcap : 512;
      int *e = realloc(tr->episode, (size_t)rowcap * sizeof *e);
      if (e) tr->episode = e;
      int *t = realloc(tr->t, (size_t)rowcap * sizeof *t);
      if (t) tr->t = t;
      double *c = realloc(tr->ctrl, (size_t)rowcap * tr->nu * sizeof *c);
      if (c) tr->ctrl = c;
      double *q = realloc(tr->qpos, (size_t)rowcap * tr->nq * sizeof *q);
      if (q) tr->qpos = q;
      double *v = realloc(tr->qvel, (size_t)rowcap * tr->nv * sizeof *v);
      if (v) tr->qvel = v;
      if (!e || !t || !c || !q || !v) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
        break;
      }
    }
    int r = tr->nrows, k = 0, want = 2 + tr->nu + tr->nq + tr->nv;
    char *save = NULL;
    for (char *f = strtok_r(line, ",", &save); f; f = strtok_r(NULL, ",", &save), k++) {
      double x = strtod(f, NULL);
      if (k == 0) tr->episode[r] = atoi(f);
      else if (k == 1) tr->t[r] = atoi(f);
      else if (k < 2 + tr->nu) tr->ctrl[(size_t)r * tr->nu + (k - 2)] = x;
      else if (k < 2 + tr->nu + tr->nq) tr->qpos[(size_t)r * tr->nq + (k - 2 - tr->nu)] = x;
      else if (k < want) tr->qvel[(size_t)r * tr->nv + (k - 2 - tr->nu - tr->nq)] = x;
    }
    if (k != want) {
      snprintf(err, errlen, "%s: row %d has %d fields, want %d", path, r + 1, k, want);
      rc = -1;
      break;
    }
    tr->nrows++;
  }
  free(line);
  fclose(fp);
  if (rc) trace_free(tr);
  return rc;
}

static void check_case(lpdm_ctx *ctx, const mj_case *c) {
  char path[512], err[1024];
  trace tr;
  snprintf(path, sizeof path, "%s/mujoco/%s.trace.csv", LPDM_TEST_DATA, c->trace);
  int rc = trace_load(path, &tr, err, sizeof err);
  if (!ok(rc == 0 && tr.nrows > 0, "%s: read %s.trace.csv (%d rows; nq=%d nv=%d nu=%d "
          "timestep=%g frame_skip=%d)", c->id, c->trace, rc ? 0 : tr.nrows, tr.nq, tr.nv, tr.nu,
          tr.timestep, tr.frame_skip)) {
    diag("%s", err);
    ok(0, "%s: env fits the trace", c->id);
    ok(0, "%s: qpos/qvel of every row", c->id);
    return;
  }
  const lpdm_env_kind *k = (const lpdm_env_kind *)lpdm_plugin_find(ctx, LPDM_KIND_ENV, c->id);
  if (!k) {
    for (int i = 0; i < 2; i++) {
      tap_n++;
      printf("not ok %d - %s: %s # TODO plugin missing\n", tap_n, c->id,
             i ? "qpos/qvel of every row" : "env fits the trace");
    }
    trace_free(&tr);
    return;
  }
  lpdm_env *env = NULL;
  lpdm_config cfg;
  int fs = -1;
  if (lpdm_config_init(ctx, &k->head, &cfg) == LPDM_OK) fs = lpdm_cfg_int(&cfg, "frame_skip");
  if (lpdm_env_new(ctx, k, NULL, &env)) {
    diag("%s: %s", c->id, lpdm_ctx_message(ctx));
    ok(0, "%s: env fits the trace", c->id);
    ok(0, "%s: qpos/qvel of every row", c->id);
    trace_free(&tr);
    return;
  }
  const int nq = tr.nq, nv = tr.nv, ns = nq + nv;
  int fits = env->state_dim == ns && env->act_space.dim == tr.nu && fs == tr.frame_skip;
  if (!ok(fits, "%s: env fits the trace (state_dim %d = nq+nv %d, nu %d = %d, frame_skip %d = %d)",
          c->id, env->state_dim, ns, env->act_space.dim, tr.nu, fs, tr.frame_skip)) {
    ok(0, "%s: qpos/qvel of every row", c->id);
    lpdm_env_free(env);
    trace_free(&tr);
    return;
  }

  double *st = malloc((size_t)ns * sizeof *st);
  float *obs = malloc((size_t)env->obs_space.dim * sizeof *obs);
  double max_abs = 0, max_rel = 0;
  int exact = 0, steps = 0, errors = 0, bad = 0, first_bad_ep = -1, first_bad_t = -1;
  for (int i = 0; i < tr.nrows; i++) {
    if (tr.t[i] == 0) {
      memcpy(st, tr.qpos + (size_t)i * nq, (size_t)nq * sizeof *st);
      memcpy(st + nq, tr.qvel + (size_t)i * nv, (size_t)nv * sizeof *st);
      if (lpdm_env_reset(env, ctx, 1, 0, obs) || lpdm_env_set_state(env, ctx, st)) {
        if (errors++ < 3) diag("%s ep %d: %s", c->id, tr.episode[i], lpdm_ctx_message(ctx));
      }
      continue;
    }
    double reward;
    int term, trunc;
    if (lpdm_env_step(env, ctx, tr.ctrl + (size_t)i * tr.nu, obs, &reward, &term, &trunc) ||
        lpdm_env_get_state(env, ctx, st)) {
      if (errors++ < 3)
        diag("%s ep %d t %d: %s", c->id, tr.episode[i], tr.t[i], lpdm_ctx_message(ctx));
      continue;
    }
    steps++;
    int same = 1;
    double rel_row = 0;
    for (int j = 0; j < ns; j++) {
      double want = j < nq ? tr.qpos[(size_t)i * nq + j] : tr.qvel[(size_t)i * nv + (j - nq)];
      double a = fabs(st[j] - want);
      double rel = a / fmax(fabs(want), FLOOR);
      if (isnan(st[j])) a = rel = INFINITY;
      same &= st[j] == want;
      max_abs = fmax(max_abs, a);
      rel_row = fmax(rel_row, rel);
    }
    max_rel = fmax(max_rel, rel_row);
    exact += same;
    if (!(rel_row <= TOL) && bad++ == 0) {
      first_bad_ep = tr.episode[i];
      first_bad_t = tr.t[i];
    }
  }
  ok(errors == 0 && bad == 0 && steps > 0,
     "%s: qpos/qvel of all %d steps within %g relative (max rel %.3g, max abs %.3g; %d of %d "
     "rows bit-identical)",
     c->id, steps, TOL, max_rel, max_abs, exact, steps);
  if (bad) diag("%s: %d rows off, the first at episode %d t %d", c->id, bad, first_bad_ep,
                first_bad_t);
  free(st);
  free(obs);
  lpdm_env_free(env);
  trace_free(&tr);
}

int main(void) {
  char probe[512];
  snprintf(probe, sizeof probe, "%s/inverted_pendulum.so", LPDM_PLUGIN_DIR);
  if (access(probe, F_OK) != 0) {
    printf("1..0 # SKIP no MuJoCo (no %s)\n", probe);
    return 0;
  }
  lpdm_ctx *ctx = lpdm_ctx_new();
  plan(1 + NCASES * LINES_PER_CASE);
  int rc = lpdm_plugin_load_dir(ctx, LPDM_PLUGIN_DIR);
  if (!ok(rc == LPDM_OK, "load the plugins in %s", LPDM_PLUGIN_DIR))
    diag("%s", lpdm_ctx_message(ctx));
  for (int i = 0; i < NCASES; i++) check_case(ctx, &cases[i]);
  lpdm_ctx_free(ctx);
  return done_testing();
}
