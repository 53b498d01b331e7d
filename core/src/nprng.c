/* nprng.c -- NumPy's default generator, bit for bit:
**
**     np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))
**
** which is what Gymnasium puts in env.np_random on reset(seed=seed). The
** classic-control envs draw their start states from it, so reproducing it
** exactly lets an lpdm env start where the Gymnasium env with the same seed
** starts.
**
** Three stages, all written here from their published definitions:
**
** 1. SeedSequence (O'Neill's seed_seq alternative, as NumPy defines it).
**    The integer seed becomes 32-bit words, lowest first (0 -> one word 0;
**    a seed >= 2^32 -> two words). A pool of 4 words is filled with
**    hashmix(word) (hashmix(0) past the end of the words), where hashmix
**    xors in a running constant (starting at 0x43b0d7e5), multiplies that
**    constant by 0x931e8875, multiplies the value by the new constant and
**    xor-folds the high half down (v ^= v >> 16). Then every pool word is
**    mixed into every other: dst = mix(dst, hashmix(src)), with
**    mix(x, y) = fold(0xca01f9dd*x - 0x4973f715*y). All arithmetic is
**    mod 2^32.
**    generate_state(n) cycles through the pool: each output word is
**    fold((w ^ c) * c'), where c starts at 0x8b51f9dd and is multiplied by
**    0x58f38ded before use (c' is the new c).
**
** 2. PCG64 (PCG XSL RR 128/64). NumPy asks the SeedSequence for 4 uint64
**    words = 8 uint32 words (pairs, little end first). Words 0,1 form the
**    128-bit initstate (word 0 is the high half), words 2,3 the initseq.
**    Seeding: inc = 2*initseq + 1; state = 0; step; state += initstate;
**    step. A step is state = state * M + inc mod 2^128, with NumPy's
**    default multiplier M = 0x2360ed051fc65da44385df649fccf645. A draw
**    steps first, then outputs rotr64(hi ^ lo, state >> 122).
**
** 3. Generator. next_double = (u64 >> 11) * 2^-53, and
**    uniform(low, high) = low + (high - low) * next_double, with high - low
**    computed once in double, exactly as NumPy does.
**
** Checked against values drawn from NumPy 1.24 (tests/test_cartpole.c:
** Gymnasium's CartPole reset state is uniform(-0.05, 0.05, size=4)).
*/
#include "internal.h"

__extension__ typedef unsigned __int128 u128;

/* ------------------------------------------------------------ SeedSequence */

#define SS_POOL 4
#define SS_INIT_A 0x43b0d7e5u
#define SS_MULT_A 0x931e8875u
#define SS_INIT_B 0x8b51f9ddu
#define SS_MULT_B 0x58f38dedu
#define SS_MIX_L 0xca01f9ddu
#define SS_MIX_R 0x4973f715u

static uint32_t fold32(uint32_t v) { return v ^ (v >> 16); }

static uint32_t ss_hashmix(uint32_t v, uint32_t *hc) {
  v ^= *hc;
  *hc *= SS_MULT_A;
  v *= *hc;
  return fold32(v);
}

static uint32_t ss_mix(uint32_t x, uint32_t y) { return fold32(SS_MIX_L * x - SS_MIX_R * y); }

/* Fills pool[SS_POOL] from the seed's 32-bit words. */
static void ss_pool(uint64_t seed, uint32_t pool[SS_POOL]) {
  uint32_t words[2];
  int nw = 0;
  if (seed == 0) words[nw++] = 0;
  for (uint64_t s = seed; s > 0; s >>= 32) words[nw++] = (uint32_t)s;

  uint32_t hc = SS_INIT_A;
  for (int i = 0; i < SS_POOL; i++) pool[i] = ss_hashmix(i < nw ? words[i] : 0u, &hc);
  for (int src = 0; src < SS_POOL; src++)
    for (int dst = 0; dst < SS_POOL; dst++)
      if (src != dst) pool[dst] = ss_mix(pool[dst], ss_hashmix(pool[src], &hc));
  /* (NumPy mixes words beyond the pool size in a third pass; a 64-bit
     seed has at most two words, fewer than the pool, so there are none.) */
}

/* generate_state(n, uint32) */
static void ss_generate(const uint32_t pool[SS_POOL], uint32_t *out, int n) {
  uint32_t hc = SS_INIT_B;
  for (int i = 0; i < n; i++) {
    uint32_t v = pool[i % SS_POOL] ^ hc;
    hc *= SS_MULT_B;
    v *= hc;
    out[i] = fold32(v);
  }
}

/* ------------------------------------------------------------ PCG64 */

#define PCG_MULT ((((u128)0x2360ed051fc65da4ULL) << 64) | (u128)0x4385df649fccf645ULL)

static u128 join128(uint64_t hi, uint64_t lo) { return ((u128)hi << 64) | lo; }

static void load(const lpdm_nprng *r, u128 *state, u128 *inc) {
  *state = join128(r->state_hi, r->state_lo);
  *inc = join128(r->inc_hi, r->inc_lo);
}

static void store(lpdm_nprng *r, u128 state, u128 inc) {
  r->state_hi = (uint64_t)(state >> 64);
  r->state_lo = (uint64_t)state;
  r->inc_hi = (uint64_t)(inc >> 64);
  r->inc_lo = (uint64_t)inc;
}

void lpdm_nprng_seed(lpdm_nprng *r, uint64_t seed) {
  uint32_t pool[SS_POOL], w[8];
  uint64_t q[4];
  ss_pool(seed, pool);
  ss_generate(pool, w, 8);
  for (int i = 0; i < 4; i++) q[i] = (uint64_t)w[2 * i] | ((uint64_t)w[2 * i + 1] << 32);

  u128 initstate = join128(q[0], q[1]);
  u128 initseq = join128(q[2], q[3]);
  u128 inc = (initseq << 1) | 1u;
  u128 state = 0;
  state = state * PCG_MULT + inc;
  state += initstate;
  state = state * PCG_MULT + inc;
  store(r, state, inc);
}

uint64_t lpdm_nprng_u64(lpdm_nprng *r) {
  u128 state, inc;
  load(r, &state, &inc);
  state = state * PCG_MULT + inc;
  r->state_hi = (uint64_t)(state >> 64);
  r->state_lo = (uint64_t)state;
  uint64_t x = r->state_hi ^ r->state_lo;
  unsigned rot = (unsigned)(r->state_hi >> 58);
  return (x >> rot) | (x << ((64u - rot) & 63u));
}

/* ------------------------------------------------------------ Generator */

static double next_double(lpdm_nprng *r) {
  return (double)(lpdm_nprng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

double lpdm_nprng_uniform(lpdm_nprng *r, double low, double high) {
  double range = high - low;
  return low + range * next_double(r);
}
