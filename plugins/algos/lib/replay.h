/* SPDX-License-Identifier: MIT */
/*
** lib/replay.h -- a replay buffer for off-policy algorithms (DQN; later
** SAC, DDPG): a ring of the last `capacity` transitions
** (obs, action, reward, next_obs, done), sampled uniformly with replacement,
** as Stable-Baselines3's ReplayBuffer that CleanRL's dqn.py uses.
**
** Memory is taken once, when the run is built: lpdm_replay_new allocates
** every array up front (no allocation while stepping or sampling) and
** refuses, naming the bytes it needs, when it cannot. obs and next_obs are
** stored apart (SB3 without optimize_memory_usage), so the next observation
** of an episode's last step is the episode's own final observation, never
** the reset observation that follows it.
**
**   done     1 only when the episode *terminated*; a truncated step (a time
**            limit) stores 0, so its target still bootstraps from next_obs
**            (CleanRL's dqn.py: handle_timeout_termination=False with the
**            final observation as next_obs).
**   action   act_dim floats per transition (a Discrete action: its index).
**
** Checkpoints: lpdm_replay_save puts "<prefix>.counters" (I64: capacity,
** position, size, obs_dim, act_dim) and the filled rows of
** "<prefix>.obs", ".next_obs", ".action", ".reward", ".done" (F32);
** lpdm_replay_load refuses a buffer of another capacity or shape by name
** ("the checkpoint's replay buffer holds 10000 transitions, this run's
** buffer_size is 5000") and changes nothing unless everything fits.
**
**   lpdm_replay *rb;
**   if (lpdm_replay_new(ctx, 10000, obs_dim, 1, "buffer_size", &rb)) return ...;
**   lpdm_replay_add(rb, obs, next_obs, &action, reward, terminated);
**   lpdm_replay_sample(rb, &rng, 128, &batch);   // batch.obs: 128 x obs_dim, ...
**   lpdm_replay_free(rb);
*/
#ifndef LPDM_ALGOS_REPLAY_H
#define LPDM_ALGOS_REPLAY_H
#include <stddef.h>
#include <stdint.h>

#include "lpdm/lpdm.h"

typedef struct lpdm_replay lpdm_replay;

/* A sampled minibatch: row i of each array is transition i. Owned by the
   buffer that filled it (valid until the next sample or free). */
typedef struct lpdm_replay_batch {
  int B;
  const float *obs;      /* B x obs_dim */
  const float *next_obs; /* B x obs_dim */
  const float *action;   /* B x act_dim */
  const float *reward;   /* B           */
  const float *done;     /* B: 1 terminated, 0 otherwise */
} lpdm_replay_batch;

/* Bytes a buffer of capacity transitions and a sampling batch of
   max_batch rows takes (SIZE_MAX when that overflows). */
size_t lpdm_replay_bytes(int64_t capacity, int obs_dim, int act_dim, int max_batch);

/* A buffer of capacity >= 1 transitions, able to sample up to max_batch
   rows at once. key names the config key the capacity came from, for the
   message when it cannot be allocated. Caller frees with lpdm_replay_free. */
int lpdm_replay_new(lpdm_ctx *ctx, int64_t capacity, int obs_dim, int act_dim, int max_batch, const char *key,
                    lpdm_replay **out);
void lpdm_replay_free(lpdm_replay *rb); /* accepts NULL */

int64_t lpdm_replay_size(const lpdm_replay *rb);     /* transitions held now */
int64_t lpdm_replay_capacity(const lpdm_replay *rb); /* the most it holds    */

/* Appends one transition, overwriting the oldest when full. */
void lpdm_replay_add(lpdm_replay *rb, const float *obs, const float *next_obs, const float *action, double reward,
                     int done);

/* B (1..max_batch) transitions drawn uniformly with replacement from the
   ones held (lpdm_rng_below, one draw per row, in row order). An empty
   buffer or a B out of range is an error. */
int lpdm_replay_sample(lpdm_replay *rb, lpdm_ctx *ctx, lpdm_rng *rng, int B, lpdm_replay_batch *out);

/* Checkpoints (see above). */
int lpdm_replay_save(const lpdm_replay *rb, lpdm_ctx *ctx, lpdm_st *st, const char *prefix);
int lpdm_replay_load(lpdm_replay *rb, lpdm_ctx *ctx, const lpdm_st *st, const char *prefix);

#endif
