/* SPDX-License-Identifier: MIT */
/*
** lib/replay.c -- the replay buffer of lib/replay.h: a ring of transitions
** in flat float arrays, uniform sampling with replacement, checkpoints of
** the filled rows.
*/
#include "lib/replay.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct lpdm_replay {
  int64_t cap, pos, size;
  int od, ad, max_batch;
  float *obs, *next_obs, *act, *rew, *done;         /* cap rows    */
  float *b_obs, *b_next, *b_act, *b_rew, *b_done;   /* max_batch rows */
};

/* a * b + c with overflow checks (SIZE_MAX on overflow) */
static size_t mul_add(size_t a, size_t b, size_t c) {
  if (b && a > (SIZE_MAX - c) / b) return SIZE_MAX;
  return a * b + c;
}

size_t lpdm_replay_bytes(int64_t capacity, int obs_dim, int act_dim, int max_batch) {
  if (capacity < 0 || obs_dim < 0 || act_dim < 0 || max_batch < 0) return SIZE_MAX;
  size_t row = mul_add((size_t)obs_dim, 2, (size_t)act_dim + 3); /* floats per transition */
  size_t n = mul_add((size_t)capacity, row, 0);
  if (n == SIZE_MAX) return SIZE_MAX;
  n = mul_add((size_t)max_batch, row, n);
  return n == SIZE_MAX ? SIZE_MAX : mul_add(n, sizeof(float), sizeof(lpdm_replay));
}

void lpdm_replay_free(lpdm_replay *rb) {
  if (!rb) return;
  float *p[] = {rb->obs, rb->next_obs, rb->act, rb->rew, rb->done, rb->b_obs, rb->b_next, rb->b_act, rb->b_rew,
                rb->b_done};
  for (size_t i = 0; i < sizeof p / sizeof *p; i++) free(p[i]);
  free(rb);
}

static float *alloc_rows(int64_t rows, int width) {
  return malloc((size_t)rows * (size_t)width * sizeof(float));
}

int lpdm_replay_new(lpdm_ctx *ctx, int64_t capacity, int obs_dim, int act_dim, int max_batch, const char *key,
                    lpdm_replay **out) {
  *out = NULL;
  key = key ? key : "capacity";
  if (capacity < 1) return lpdm_error(ctx, LPDM_ERR_ARG, "%s must be at least 1, got %lld", key, (long long)capacity);
  if (obs_dim < 1 || act_dim < 1 || max_batch < 1)
    return lpdm_error(ctx, LPDM_ERR_ARG, "replay buffer: obs_dim, act_dim and the batch must be >= 1");
  size_t need = lpdm_replay_bytes(capacity, obs_dim, act_dim, max_batch);
  /* More than the machine's memory is refused before malloc is asked (an
     overcommitting malloc may say yes and fail later, on first touch). */
  long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
  double phys = pages > 0 && psize > 0 ? (double)pages * (double)psize : 0;
  if (need != SIZE_MAX && phys > 0 && (double)need > phys)
    return lpdm_error(ctx, LPDM_ERR_MEM,
                      "cannot allocate the replay buffer: %s=%lld transitions of %d observation values need %zu "
                      "bytes (%.1f MiB), more than this machine's %.1f MiB of memory; lower %s",
                      key, (long long)capacity, obs_dim, need, need / 1048576.0, phys / 1048576.0, key);
  lpdm_replay *rb = need == SIZE_MAX ? NULL : calloc(1, sizeof *rb);
  if (rb) {
    rb->cap = capacity;
    rb->od = obs_dim;
    rb->ad = act_dim;
    rb->max_batch = max_batch;
    rb->obs = alloc_rows(capacity, obs_dim);
    rb->next_obs = alloc_rows(capacity, obs_dim);
    rb->act = alloc_rows(capacity, act_dim);
    rb->rew = alloc_rows(capacity, 1);
    rb->done = alloc_rows(capacity, 1);
    rb->b_obs = alloc_rows(max_batch, obs_dim);
    rb->b_next = alloc_rows(max_batch, obs_dim);
    rb->b_act = alloc_rows(max_batch, act_dim);
    rb->b_rew = alloc_rows(max_batch, 1);
    rb->b_done = alloc_rows(max_batch, 1);
  }
  if (!rb || !rb->obs || !rb->next_obs || !rb->act || !rb->rew || !rb->done || !rb->b_obs || !rb->b_next ||
      !rb->b_act || !rb->b_rew || !rb->b_done) {
    lpdm_replay_free(rb);
    if (need == SIZE_MAX)
      return lpdm_error(ctx, LPDM_ERR_MEM,
                        "the replay buffer of %s=%lld transitions of %d observation values does not fit in memory "
                        "(its size overflows)",
                        key, (long long)capacity, obs_dim);
    return lpdm_error(ctx, LPDM_ERR_MEM,
                      "cannot allocate the replay buffer: %s=%lld transitions of %d observation values need %zu "
                      "bytes (%.1f MiB); lower %s",
                      key, (long long)capacity, obs_dim, need, need / 1048576.0, key);
  }
  *out = rb;
  return LPDM_OK;
}

int64_t lpdm_replay_size(const lpdm_replay *rb) { return rb->size; }
int64_t lpdm_replay_capacity(const lpdm_replay *rb) { return rb->cap; }

void lpdm_replay_add(lpdm_replay *rb, const float *obs, const float *next_obs, const float *action, double reward,
                     int done) {
  size_t i = (size_t)rb->pos;
  memcpy(rb->obs + i * rb->od, obs, (size_t)rb->od * sizeof(float));
  memcpy(rb->next_obs + i * rb->od, next_obs, (size_t)rb->od * sizeof(float));
  memcpy(rb->act + i * rb->ad, action, (size_t)rb->ad * sizeof(float));
  rb->rew[i] = (float)reward;
  rb->done[i] = done ? 1.0f : 0.0f;
  rb->pos = (rb->pos + 1) % rb->cap;
  if (rb->size < rb->cap) rb->size++;
}

int lpdm_replay_sample(lpdm_replay *rb, lpdm_ctx *ctx, lpdm_rng *rng, int B, lpdm_replay_batch *out) {
  if (rb->size == 0) return lpdm_error(ctx, LPDM_ERR_ARG, "replay buffer: sampling from an empty buffer");
  if (B < 1 || B > rb->max_batch)
    return lpdm_error(ctx, LPDM_ERR_ARG, "replay buffer: a batch of %d (1..%d)", B, rb->max_batch);
  const size_t od = (size_t)rb->od, ad = (size_t)rb->ad;
  for (int r = 0; r < B; r++) {
    size_t i = (size_t)lpdm_rng_below(rng, (uint64_t)rb->size);
    memcpy(rb->b_obs + r * od, rb->obs + i * od, od * sizeof(float));
    memcpy(rb->b_next + r * od, rb->next_obs + i * od, od * sizeof(float));
    memcpy(rb->b_act + r * ad, rb->act + i * ad, ad * sizeof(float));
    rb->b_rew[r] = rb->rew[i];
    rb->b_done[r] = rb->done[i];
  }
  *out = (lpdm_replay_batch){B, rb->b_obs, rb->b_next, rb->b_act, rb->b_rew, rb->b_done};
  return LPDM_OK;
}

/* ------------------------------------------------------------ checkpoints */

static const char *const field[5] = {"obs", "next_obs", "action", "reward", "done"};

static int width(const lpdm_replay *rb, int f) { return f < 2 ? rb->od : f == 2 ? rb->ad : 1; }
static float *column(const lpdm_replay *rb, int f) {
  float *p[5] = {rb->obs, rb->next_obs, rb->act, rb->rew, rb->done};
  return p[f];
}

int lpdm_replay_save(const lpdm_replay *rb, lpdm_ctx *ctx, lpdm_st *st, const char *prefix) {
  int64_t c[5] = {rb->cap, rb->pos, rb->size, rb->od, rb->ad};
  int rc = lpdm_state_put_i64(st, ctx, prefix, "counters", c, 5);
  for (int f = 0; f < 5 && !rc && rb->size > 0; f++) {
    char name[LPDM_ST_NAMELEN];
    int k = snprintf(name, sizeof name, "%s.%s", prefix, field[f]);
    if (k < 0 || k >= (int)sizeof name) return lpdm_error(ctx, LPDM_ERR_ARG, "replay: name too long ('%s')", prefix);
    int64_t shape[2] = {rb->size, width(rb, f)};
    rc = lpdm_st_add(st, ctx, name, LPDM_ST_F32, 2, shape, column(rb, f));
  }
  return rc;
}

int lpdm_replay_load(lpdm_replay *rb, lpdm_ctx *ctx, const lpdm_st *st, const char *prefix) {
  int64_t c[5];
  int rc = lpdm_state_get_i64(st, ctx, prefix, "counters", c, 5);
  if (rc) return rc;
  if (c[0] != rb->cap)
    return lpdm_error(ctx, LPDM_ERR_ARG,
                      "checkpoint: its replay buffer holds %lld transitions (buffer_size=%lld), this run's "
                      "buffer_size is %lld: resume with the same buffer size",
                      (long long)c[0], (long long)c[0], (long long)rb->cap);
  if (c[3] != rb->od || c[4] != rb->ad)
    return lpdm_error(ctx, LPDM_ERR_IO,
                      "checkpoint: its replay buffer stores %lld observation and %lld action values, this run's "
                      "%d and %d",
                      (long long)c[3], (long long)c[4], rb->od, rb->ad);
  if (c[2] < 0 || c[2] > rb->cap || c[1] < 0 || c[1] >= rb->cap || (c[2] < rb->cap && c[1] != c[2]))
    return lpdm_error(ctx, LPDM_ERR_IO, "checkpoint: '%s.counters' (position %lld, size %lld) out of range", prefix,
                      (long long)c[1], (long long)c[2]);
  /* check every tensor before copying any */
  const void *src[5] = {0};
  for (int f = 0; f < 5 && c[2] > 0; f++) {
    char name[LPDM_ST_NAMELEN];
    snprintf(name, sizeof name, "%s.%s", prefix, field[f]);
    int dt, nd;
    const int64_t *shape;
    size_t nb;
    src[f] = lpdm_st_get(st, name, &dt, &nd, &shape, &nb);
    if (!src[f]) return lpdm_error(ctx, LPDM_ERR_IO, "checkpoint: no tensor '%s'", name);
    if (dt != LPDM_ST_F32 || nd != 2 || shape[0] != c[2] || shape[1] != width(rb, f))
      return lpdm_error(ctx, LPDM_ERR_IO, "checkpoint: tensor '%s' is not F32[%lld, %d]", name, (long long)c[2],
                        width(rb, f));
    for (size_t i = 0; i < nb / sizeof(float); i++) {
      float x;
      memcpy(&x, (const char *)src[f] + i * sizeof x, sizeof x); /* the file's bytes need not be aligned */
      if (!isfinite(x)) return lpdm_error(ctx, LPDM_ERR_NUM, "checkpoint: tensor '%s' has a non-finite value", name);
    }
  }
  for (int f = 0; f < 5 && c[2] > 0; f++)
    memcpy(column(rb, f), src[f], (size_t)c[2] * (size_t)width(rb, f) * sizeof(float));
  rb->pos = c[1];
  rb->size = c[2];
  return LPDM_OK;
}
