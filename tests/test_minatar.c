/* SPDX-License-Identifier: MIT */
/* test_minatar.c -- MinAtar/Breakout-v1 (plugins/envs/minatar_breakout.c):
   the registered name (with its '/'), the spaces, the observation's C x H x W
   layout, MinAtar's start states, each rule on a constructed state (walls,
   ceiling, paddle from above and at its edge, a miss, a brick, the strike
   rule, a new set of bricks, the paddle at the walls, the paddle moving
   before the ball), sticky actions (frequency, what is repeated, across
   resets), reset(seed) determinism, the time limit, a random policy's
   return beside MinAtar's published one, and what the host and set_state
   refuse.

   Rule checks use sticky_action_prob = 0 and set_state; the state layout is
   ball_x, ball_y, ball_dir, pos, last_x, last_y, strike, terminal,
   last_action, then the 100 brick cells (y*10 + x). Directions: 0 up-left,
   1 up-right, 2 down-right, 3 down-left (y grows downward). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fixture.h"
#include "lpdm/lpdm.h"
#include "tap.h"

#define N 10
#define CELLS 100
#define NOBS 400
#define NSTATE 109
#define ID "MinAtar/Breakout-v1"

enum { S_BX, S_BY, S_DIR, S_POS, S_LX, S_LY, S_STRIKE, S_TERM, S_LAST, S_BRICK };
enum { NOOP = 0, LEFT = 1, RIGHT = 2 };

static float cell(const float *obs, int c, int y, int x) { return obs[c * CELLS + y * N + x]; }

static int count(const float *obs, int c) {
  int n = 0;
  for (int i = 0; i < CELLS; i++) n += obs[c * CELLS + i] != 0.0f;
  return n;
}

/* A state: ball at (x, y) going dir, paddle at pos, trail on the ball,
   bricks in rows 1..3 when full, none otherwise. */
static void state_of(double *s, int x, int y, int dir, int pos, int full) {
  memset(s, 0, NSTATE * sizeof *s);
  s[S_BX] = x;
  s[S_BY] = y;
  s[S_DIR] = dir;
  s[S_POS] = pos;
  s[S_LX] = x;
  s[S_LY] = y;
  if (full)
    for (int yy = 1; yy <= 3; yy++)
      for (int xx = 0; xx < N; xx++) s[S_BRICK + yy * N + xx] = 1;
}

/* Sets s, takes one step with action a; the new state in s. */
static int step_from(lpdm_ctx *ctx, lpdm_env *env, double *s, int a, float *obs, double *r,
                     int *term) {
  double act = a;
  int trunc;
  if (lpdm_env_set_state(env, ctx, s) ||
      lpdm_env_step(env, ctx, &act, obs, r, term, &trunc) || lpdm_env_get_state(env, ctx, s)) {
    diag("%s", lpdm_ctx_message(ctx));
    return -1;
  }
  return 0;
}

static int ball_is(const double *s, int x, int y, int dir) {
  return s[S_BX] == x && s[S_BY] == y && s[S_DIR] == dir;
}

/* ------------------------------------------------------------ checks */

static void check_spaces(lpdm_env *env) {
  const lpdm_space *o = &env->obs_space, *a = &env->act_space;
  int bounds = o->low && o->high;
  for (int i = 0; bounds && i < NOBS; i++) bounds = o->low[i] == 0.0 && o->high[i] == 1.0;
  ok(o->type == LPDM_SPACE_BOX && o->dim == NOBS && bounds,
     "observation: Box(400) in [0, 1] (4 x 10 x 10)");
  ok(a->type == LPDM_SPACE_DISCRETE && a->n == 3 && a->dim == 1,
     "action: Discrete(3) (no-op, left, right)");
  ok(env->state_dim == NSTATE && env->max_episode_steps == 0,
     "state_dim 109, no time limit by default (as MinAtar)");
}

static void check_layout(lpdm_ctx *ctx, lpdm_env *env) {
  float obs[NOBS];
  double s[NSTATE];
  int binary = 1;
  if (lpdm_env_reset(env, ctx, 1, 5, obs) || lpdm_env_get_state(env, ctx, s)) {
    ok(0, "reset");
    return;
  }
  for (int i = 0; i < NOBS; i++) binary = binary && (obs[i] == 0.0f || obs[i] == 1.0f);
  int bx = (int)s[S_BX], by = (int)s[S_BY];
  ok(binary && count(obs, 0) == 1 && cell(obs, 0, 9, 4) == 1.0f,
     "channel 0 (paddle): one cell, row 9 column 4, at obs[0*100 + 9*10 + 4]");
  ok(count(obs, 1) == 1 && cell(obs, 1, by, bx) == 1.0f && by == 3,
     "channel 1 (ball): one cell at (row 3, column %d)", bx);
  ok(count(obs, 2) == 1 && cell(obs, 2, by, bx) == 1.0f, "channel 2 (trail): on the ball at reset");
  int rows = 1;
  for (int y = 0; y < N; y++)
    for (int x = 0; x < N; x++) rows = rows && cell(obs, 3, y, x) == (y >= 1 && y <= 3);
  ok(rows && count(obs, 3) == 30, "channel 3 (brick): rows 1..3 full, 30 bricks");

  /* An asymmetric state read back through the observation's indexing. */
  state_of(s, 7, 5, 1, 2, 0);
  s[S_LX] = 6;
  s[S_LY] = 6;
  s[S_BRICK + 2 * N + 8] = 1;
  lpdm_env_set_state(env, ctx, s);
  double a = NOOP, r;
  int term, trunc;
  /* after one no-op step the ball has gone up-right to (8, 4), its trail at (7, 5) */
  lpdm_env_step(env, ctx, &a, obs, &r, &term, &trunc);
  ok(cell(obs, 1, 4, 8) == 1.0f && cell(obs, 2, 5, 7) == 1.0f && cell(obs, 0, 9, 2) == 1.0f &&
         cell(obs, 3, 2, 8) == 1.0f && count(obs, 1) == 1 && count(obs, 3) == 1,
     "obs[c*100 + y*10 + x]: ball (y 4, x 8), trail (5, 7), paddle (9, 2), brick (2, 8)");
}

static void check_starts(lpdm_ctx *ctx, lpdm_env *env) {
  float obs[NOBS];
  double s[NSTATE];
  int left = 0, right = 0, good = 1;
  for (uint64_t seed = 0; seed < 2000; seed++) {
    if (lpdm_env_reset(env, ctx, 1, seed, obs) || lpdm_env_get_state(env, ctx, s)) return;
    if (ball_is(s, 0, 3, 2)) left++;
    else if (ball_is(s, 9, 3, 3)) right++;
    else good = 0;
    good = good && s[S_POS] == 4 && s[S_LX] == s[S_BX] && s[S_LY] == 3 && s[S_STRIKE] == 0 &&
           s[S_TERM] == 0;
  }
  ok(good, "2000 seeded resets: ball at (0, 3) down-right or (9, 3) down-left, paddle 4");
  ok(left > 900 && right > 900,
     "both starts drawn, each about half the time (%d / %d; binomial sd 22)", left, right);
}

static void check_rules(lpdm_ctx *ctx, lpdm_env *env) {
  float obs[NOBS];
  double s[NSTATE], r;
  int term;

  state_of(s, 0, 5, 3, 5, 1); /* down-left into the left wall */
  step_from(ctx, env, s, NOOP, obs, &r, &term);
  ok(ball_is(s, 0, 6, 2) && !term, "left wall: clamped to column 0, one row down, now down-right");
  state_of(s, 9, 5, 1, 5, 0); /* up-right into the right wall */
  step_from(ctx, env, s, NOOP, obs, &r, &term);
  ok(ball_is(s, 9, 4, 0), "right wall: clamped to column 9, one row up, now up-left");
  state_of(s, 5, 0, 0, 5, 0); /* up-left into the ceiling */
  step_from(ctx, env, s, NOOP, obs, &r, &term);
  ok(ball_is(s, 4, 0, 3), "ceiling: stays on row 0, one column left, now down-left");
  state_of(s, 0, 0, 0, 5, 0); /* the corner */
  step_from(ctx, env, s, NOOP, obs, &r, &term);
  ok(ball_is(s, 0, 0, 2), "top-left corner: both mirrors, now down-right");

  state_of(s, 4, 8, 2, 4, 1); /* the paddle right under the ball */
  step_from(ctx, env, s, NOOP, obs, &r, &term);
  ok(ball_is(s, 5, 8, 1) && !term && r == 0,
     "paddle under the ball: bounced up (row 8, one column on), now up-right");
  state_of(s, 3, 8, 2, 4, 1); /* the ball lands on the paddle from the side */
  step_from(ctx, env, s, NOOP, obs, &r, &term);
  ok(ball_is(s, 4, 8, 0) && !term, "ball landing on the paddle's cell: reversed, now up-left");
  state_of(s, 6, 8, 3, 5, 1);
  step_from(ctx, env, s, NOOP, obs, &r, &term);
  ok(ball_is(s, 5, 8, 1) && !term, "the same from the right: reversed, now up-right");
  state_of(s, 3, 8, 2, 5, 1); /* paddle moves first, then the ball lands on it */
  step_from(ctx, env, s, LEFT, obs, &r, &term);
  ok(s[S_POS] == 4 && ball_is(s, 4, 8, 0) && !term,
     "the paddle moves before the ball (left to 4, then the ball lands on it)");

  state_of(s, 3, 8, 2, 7, 1); /* a miss */
  step_from(ctx, env, s, NOOP, obs, &r, &term);
  ok(term && r == 0 && s[S_BY] == 9 && s[S_BX] == 4 && cell(obs, 1, 9, 4) == 1.0f,
     "the ball passing the paddle terminates (ball shown on row 9)");
  double r2;
  int term2;
  double before[NSTATE];
  memcpy(before, s, sizeof before);
  double a = RIGHT;
  int trunc;
  lpdm_env_step(env, ctx, &a, obs, &r2, &term2, &trunc);
  lpdm_env_get_state(env, ctx, s);
  ok(term2 && r2 == 0 && memcmp(before, s, S_LAST * sizeof *s) == 0,
     "stepping after termination: reward 0, terminated, state unchanged");

  state_of(s, 5, 4, 0, 5, 1); /* up-left into the brick at (4, 3) */
  step_from(ctx, env, s, NOOP, obs, &r, &term);
  ok(r == 1 && s[S_BRICK + 3 * N + 4] == 0 && cell(obs, 3, 3, 4) == 0.0f && count(obs, 3) == 29,
     "a brick hit gives +1 and removes that brick (29 left)");
  ok(ball_is(s, 4, 4, 3) && s[S_STRIKE] == 1,
     "after a brick: back on the row it came from, one column on, now down-left; strike set");
  step_from(ctx, env, s, NOOP, obs, &r, &term);
  ok(r == 0 && s[S_STRIKE] == 0 && ball_is(s, 3, 5, 3), "strike cleared by a step without a brick");

  state_of(s, 5, 4, 0, 5, 1); /* strike still set: MinAtar lets the ball into the brick */
  s[S_STRIKE] = 1;
  step_from(ctx, env, s, NOOP, obs, &r, &term);
  ok(r == 0 && ball_is(s, 4, 3, 0) && s[S_BRICK + 3 * N + 4] == 1 && s[S_STRIKE] == 1,
     "strike rule: right after a hit, the next brick is entered, not broken (MinAtar's rule)");

  state_of(s, 5, 4, 0, 5, 0); /* the last brick */
  s[S_BRICK + 3 * N + 4] = 1;
  step_from(ctx, env, s, NOOP, obs, &r, &term);
  ok(r == 1 && count(obs, 3) == 0, "the last brick: +1, the wall is empty");
  /* Follow the ball with the paddle until it comes down to row 8. */
  int steps = 0, refilled = -1;
  while (steps < 40 && refilled < 0) {
    int bx = (int)s[S_BX], want = bx + (s[S_DIR] == 2 ? 1 : s[S_DIR] == 3 ? -1 : 0);
    int act = s[S_POS] < want ? RIGHT : s[S_POS] > want ? LEFT : NOOP;
    int was8 = s[S_BY] == 8 && s[S_DIR] >= 2;
    if (step_from(ctx, env, s, act, obs, &r, &term) || term) break;
    steps++;
    if (count(obs, 3) > 0) refilled = was8;
  }
  int rows = 1;
  for (int y = 0; y < N; y++)
    for (int x = 0; x < N; x++) rows = rows && cell(obs, 3, y, x) == (y >= 1 && y <= 3);
  ok(refilled == 1 && rows,
     "cleared wall: a new set of 3 rows when the ball next reaches the paddle's row (%d steps)",
     steps);
  state_of(s, 4, 8, 2, 4, 0); /* empty wall and a miss: refilled all the same */
  s[S_POS] = 0;
  step_from(ctx, env, s, NOOP, obs, &r, &term);
  ok(term && count(obs, 3) == 30, "the refill happens even on the step the ball is missed");

  /* The paddle. */
  int moves = 1;
  for (int p = 0; p < N; p++) {
    int want[3] = {p, p > 0 ? p - 1 : 0, p < 9 ? p + 1 : 9};
    for (int a2 = 0; a2 < 3; a2++) {
      state_of(s, 5, 5, 0, p, 0);
      step_from(ctx, env, s, a2, obs, &r, &term);
      moves = moves && s[S_POS] == want[a2] && cell(obs, 0, 9, want[a2]) == 1.0f && count(obs, 0) == 1;
    }
  }
  ok(moves, "left/right move the paddle one column, no-op keeps it, the walls stop it (0, 9)");
}

/* Steps n times from a state with last_action = LEFT, paddle at 5, with the
   action RIGHT: a step that lands the paddle on 4 repeated the left. */
static double sticky_rate(lpdm_ctx *ctx, lpdm_env *env, int n, int *last_ok) {
  float obs[NOBS];
  double s[NSTATE], r;
  int term, repeats = 0;
  *last_ok = 1;
  for (int i = 0; i < n; i++) {
    state_of(s, 5, 5, 0, 5, 0);
    s[S_LAST] = LEFT;
    if (step_from(ctx, env, s, RIGHT, obs, &r, &term)) return -1;
    int rep = s[S_POS] == 4;
    repeats += rep;
    *last_ok = *last_ok && s[S_LAST] == (rep ? LEFT : RIGHT) && (rep || s[S_POS] == 6);
  }
  return (double)repeats / n;
}

static void check_sticky(lpdm_ctx *ctx, const lpdm_env_kind *k) {
  lpdm_env *env = fx_env(ctx, k, NULL);
  float obs[NOBS];
  int last_ok;
  if (!env) return;
  lpdm_env_reset(env, ctx, 1, 11, obs);
  const int n = 40000;
  double f = sticky_rate(ctx, env, n, &last_ok);
  /* binomial sd = sqrt(0.1 * 0.9 / 40000) = 0.0015; tolerance 5 sd */
  ok(fabs(f - 0.1) <= 0.0075, "sticky actions (default 0.1): previous action repeated in %.4f of %d "
     "steps (0.1 +- 0.0075, 5 sd)", f, n);
  ok(last_ok, "a repeated action becomes the new last action (MinAtar's last_action = a)");

  /* The sticky memory: kept by an unseeded reset, cleared by a seeded one. */
  double s[NSTATE];
  lpdm_env_reset(env, ctx, 1, 3, obs);
  lpdm_env_get_state(env, ctx, s);
  s[S_LAST] = RIGHT;
  lpdm_env_set_state(env, ctx, s);
  lpdm_env_reset(env, ctx, 0, 0, obs);
  lpdm_env_get_state(env, ctx, s);
  int kept = (int)s[S_LAST];
  lpdm_env_reset(env, ctx, 1, 3, obs);
  lpdm_env_get_state(env, ctx, s);
  ok(kept == RIGHT && s[S_LAST] == NOOP,
     "last action kept by reset() (as MinAtar), cleared to no-op by reset(seed)");
  lpdm_env_free(env);

  env = fx_env(ctx, k, "sticky_action_prob=0");
  if (env) {
    lpdm_env_reset(env, ctx, 1, 11, obs);
    f = sticky_rate(ctx, env, 2000, &last_ok);
    ok(f == 0.0, "sticky_action_prob = 0: never repeated");
  }
  lpdm_env_free(env);
  env = fx_env(ctx, k, "sticky_action_prob=1");
  if (env) {
    lpdm_env_reset(env, ctx, 1, 11, obs);
    f = sticky_rate(ctx, env, 2000, &last_ok);
    ok(f == 1.0, "sticky_action_prob = 1: always repeated");
  }
  lpdm_env_free(env);
}

/* Plays `steps` steps of a fixed action pattern from reset(seed), resetting
   (without a seed) at each termination; hashes observations and rewards. */
static uint64_t play(lpdm_ctx *ctx, lpdm_env *env, uint64_t seed, int steps, double *ret,
                     int *episodes) {
  float obs[NOBS];
  uint64_t h = 1469598103934665603ull;
  double r, a;
  int term, trunc;
  *ret = 0;
  *episodes = 0;
  lpdm_env_reset(env, ctx, 1, seed, obs);
  for (int t = 0; t < steps; t++) {
    a = (double)((t * 7 + t / 3) % 3);
    if (lpdm_env_step(env, ctx, &a, obs, &r, &term, &trunc)) return 0;
    *ret += r;
    for (int i = 0; i < NOBS; i++) h = (h ^ (uint64_t)(obs[i] != 0.0f) * (uint64_t)(i + 1)) * 1099511628211ull;
    h = (h ^ (uint64_t)r) * 1099511628211ull;
    if (term || trunc) {
      (*episodes)++;
      lpdm_env_reset(env, ctx, 0, 0, obs);
    }
  }
  return h;
}

static void check_determinism(lpdm_ctx *ctx, const lpdm_env_kind *k) {
  lpdm_env *e1 = fx_env(ctx, k, NULL), *e2 = fx_env(ctx, k, NULL);
  double r1, r2, r3;
  int n1, n2, n3;
  if (e1 && e2) {
    uint64_t h0 = play(ctx, e1, 42, 500, &r3, &n3); /* e1 was used before the seeded reset */
    uint64_t h1 = play(ctx, e1, 7, 5000, &r1, &n1);
    uint64_t h2 = play(ctx, e2, 7, 5000, &r2, &n2);
    ok(h1 == h2 && r1 == r2 && n1 == n2 && n1 > 10,
       "reset(seed) determinism: same seed, same actions, same observations and rewards over "
       "5000 steps and %d episodes (a used env and a new one)", n1);
    uint64_t h3 = play(ctx, e2, 8, 5000, &r3, &n3);
    ok(h3 != h1 && h0 != 0, "another seed gives another trajectory");
  }
  lpdm_env_free(e1);
  lpdm_env_free(e2);
}

/* A uniformly random policy over MinAtar's six actions (four of which do
   nothing in Breakout), as its examples/random_play.py: MinAtar's README
   reports an average return of 0.5 +- 0.023 (standard error) over 1000
   episodes. */
static void check_random_play(lpdm_ctx *ctx, lpdm_env *env) {
  float obs[NOBS];
  lpdm_rng rng;
  double r, a, total = 0, sq = 0, ret = 0;
  int term, trunc, eps = 0;
  long steps = 0;
  lpdm_rng_seed(&rng, 2024);
  lpdm_env_reset(env, ctx, 1, 1, obs);
  while (eps < 1000) {
    int six = (int)lpdm_rng_below(&rng, 6);
    a = six == 1 ? LEFT : six == 3 ? RIGHT : NOOP; /* MinAtar's action_map: n l u r d f */
    if (lpdm_env_step(env, ctx, &a, obs, &r, &term, &trunc)) break;
    ret += r;
    steps++;
    if (term) {
      total += ret;
      sq += ret * ret;
      ret = 0;
      eps++;
      lpdm_env_reset(env, ctx, 0, 0, obs);
    }
  }
  double mean = total / 1000, se = sqrt((sq / 1000 - mean * mean) / 999);
  ok(fabs(mean - 0.5) < 0.1,
     "random play (MinAtar's 6 actions), 1000 episodes: average return %.3f +- %.3f, "
     "MinAtar's README: 0.5 +- 0.023 (tolerance 0.1); %.1f steps per episode",
     mean, se, (double)steps / 1000);
}

static void check_time_limit(lpdm_ctx *ctx, const lpdm_env_kind *k) {
  lpdm_env *env = fx_env(ctx, k, "max_episode_steps=5");
  float obs[NOBS];
  double r, a = NOOP;
  int term, trunc, first = 0;
  if (!env) return;
  ok(env->max_episode_steps == 5, "max_episode_steps = 5 is reported to the host");
  lpdm_env_reset(env, ctx, 1, 1, obs); /* the ball needs 6 steps to reach row 9 */
  for (int t = 1; t <= 5 && !first; t++) {
    lpdm_env_step(env, ctx, &a, obs, &r, &term, &trunc);
    if (trunc) first = t;
  }
  ok(first == 5 && !term, "truncated at the 5th step after reset, not before");
  lpdm_env_free(env);
}

static void check_refusals(lpdm_ctx *ctx, const lpdm_env_kind *k, lpdm_env *env) {
  float obs[NOBS];
  double r;
  int term, trunc;
  const double bad[4] = {3, -1, 1.5, NAN};
  int refused = 1;
  lpdm_env_reset(env, ctx, 1, 1, obs);
  for (int i = 0; i < 4; i++) {
    lpdm_ctx_clear(ctx);
    int rc = lpdm_env_step(env, ctx, &bad[i], obs, &r, &term, &trunc);
    refused = refused && rc != LPDM_OK && strstr(lpdm_ctx_message(ctx), "MinAtar/Breakout-v1");
    if (i == 0) diag("%s", lpdm_ctx_message(ctx));
  }
  ok(refused, "actions 3, -1, 1.5, NaN refused by the host, naming the env");

  double s[NSTATE];
  state_of(s, 5, 5, 0, 5, 1);
  s[S_DIR] = 4;
  lpdm_ctx_clear(ctx);
  int r1 = lpdm_env_set_state(env, ctx, s);
  int named = strstr(lpdm_ctx_message(ctx), "ball_dir") != NULL;
  s[S_DIR] = 0;
  s[S_BRICK + 55] = 2;
  lpdm_ctx_clear(ctx);
  int r2 = lpdm_env_set_state(env, ctx, s);
  named = named && strstr(lpdm_ctx_message(ctx), "brick at row 5, column 5") != NULL;
  s[S_BRICK + 55] = 0;
  s[S_BX] = 10;
  int r3 = lpdm_env_set_state(env, ctx, s);
  ok(r1 != LPDM_OK && r2 != LPDM_OK && r3 != LPDM_OK && named,
     "set_state refuses a direction 4, a brick value 2, a column 10, naming the value");

  lpdm_config cfg;
  lpdm_env *e = NULL;
  lpdm_config_init(ctx, &k->head, &cfg);
  lpdm_config_set_num(ctx, &cfg, ID, "sticky_action_prob", 1.5);
  lpdm_ctx_clear(ctx);
  int rc = lpdm_env_new(ctx, k, &cfg, &e);
  ok(rc != LPDM_OK && e == NULL && strstr(lpdm_ctx_message(ctx), "sticky_action_prob"),
     "sticky_action_prob = 1.5 refused (%s)", lpdm_ctx_message(ctx));

  lpdm_env *fresh = fx_env(ctx, k, NULL);
  double a = NOOP;
  lpdm_ctx_clear(ctx);
  ok(fresh && lpdm_env_step(fresh, ctx, &a, obs, &r, &term, &trunc) != LPDM_OK,
     "step before reset is an error (%s)", lpdm_ctx_message(ctx));
  lpdm_env_free(fresh);
}

static void check_render(lpdm_ctx *ctx, lpdm_env *env) {
  char buf[1024];
  double s[NSTATE];
  state_of(s, 2, 6, 2, 7, 1);
  s[S_LX] = 1;
  s[S_LY] = 5;
  lpdm_env_set_state(env, ctx, s);
  int rc = env->kind->render(env, buf, sizeof buf);
  ok(rc == LPDM_OK && strstr(buf, "|##########|\n") && strstr(buf, "|.o........|\n") &&
         strstr(buf, "|..O.......|\n") && strstr(buf, "|.......=..|\n"),
     "render: the grid as text ('#' brick, 'O' ball, 'o' trail, '=' paddle)");
  char small[16];
  rc = env->kind->render(env, small, sizeof small);
  ok(rc == LPDM_OK && strlen(small) == sizeof small - 1, "render into a short buffer truncates");
}

int main(void) {
  lpdm_ctx *ctx = lpdm_ctx_new();
  plan(46);
  const lpdm_env_kind *k = (const lpdm_env_kind *)fx_plugin(ctx, LPDM_KIND_ENV, "minatar_breakout.so", ID);
  if (!ok(k != NULL && strcmp(k->head.name, "env." ID) == 0 && k->get_state && k->set_state &&
              k->render,
          "load minatar_breakout.so: env." ID " (found by its short name, '/' and all), with "
          "get_state, set_state, render")) {
    diag("%s", lpdm_ctx_message(ctx));
    lpdm_ctx_free(ctx);
    return done_testing();
  }
  ok(lpdm_plugin_get(ctx, LPDM_KIND_ENV, "env." ID) == &k->head, "found by its full name too");

  lpdm_env *env = fx_env(ctx, k, NULL);
  lpdm_env *det = fx_env(ctx, k, "sticky_action_prob=0");
  if (env && det) {
    check_spaces(env);
    check_layout(ctx, det);
    check_starts(ctx, env);
    check_rules(ctx, det);
    check_sticky(ctx, k);
    check_determinism(ctx, k);
    check_random_play(ctx, env);
    check_time_limit(ctx, k);
    check_refusals(ctx, k, env);
    check_render(ctx, det);
  }
  lpdm_env_free(env);
  lpdm_env_free(det);
  lpdm_ctx_free(ctx);
  return done_testing();
}
