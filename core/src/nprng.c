/* SPDX-License-Identifier: MIT */
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
**
** 4. Generator.standard_normal: NumPy's 256-layer ziggurat for float64.
**    One u64 draw r: idx = r & 0xff; r >>= 8; sign = r & 1;
**    rabs = (r >> 1) & (2^52 - 1); x = rabs * w[idx], negated when sign.
**    If rabs < k[idx] (99.3% of draws) x is the answer. Otherwise, for
**    idx 0 (the tail beyond R = 3.6541528853610088) draw pairs
**    xx = -log1p(-u1) / R, yy = -log1p(-u2) until 2 yy > xx^2 and return
**    R + xx, negated when bit 8 of rabs is set; for idx > 0 accept x when
**    (f[idx-1] - f[idx]) * u + f[idx] < exp(-x^2 / 2), else start over.
**    The tables k, w, f are NumPy's own values (numpy/random/src/
**    distributions/ziggurat_constants.h; NumPy is BSD-3-Clause, Copyright
**    (c) 2005-2023 NumPy Developers): the layers of a ziggurat are defined
**    by R and the layer area, but regenerating them from those two numbers
**    in double, long double or 60-digit arithmetic gives values a few ulps
**    away from NumPy's, and every w[] ulp changes the draws' last bits.
**    They were read out of NumPy 1.24's compiled module and are written
**    here as exact hexadecimal floats. Checked against 10^6 draws of NumPy
**    1.24 (tests/test_mujoco_envs.c keeps a few of them).
*/
#include <math.h>

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

/* ------------------------------------------------------------ standard_normal */

/* NumPy's ziggurat tables (see the header): k = ki_double, w = wi_double,
   f = fi_double. */
static const uint64_t zig_k[256] = {
    0xEF33D8025EF6AULL, 0x0000000000000ULL, 0xC08BE98FBC6A8ULL, 0xDA354FABD8142ULL,
    0xE51F67EC1EEEAULL, 0xEB255E9D3F77EULL, 0xEEF4B817ECAB9ULL, 0xF19470AFA44AAULL,
    0xF37ED61FFCB18ULL, 0xF4F469561255CULL, 0xF61A5E41BA396ULL, 0xF707A755396A4ULL,
    0xF7CB2EC28449AULL, 0xF86F10C6357D3ULL, 0xF8FA6578325DEULL, 0xF9724C74DD0DAULL,
    0xF9DA907DBF509ULL, 0xFA360F581FA74ULL, 0xFA86FDE5B4BF8ULL, 0xFACF160D354DCULL,
    0xFB0FB6718B90FULL, 0xFB49F8D5374C6ULL, 0xFB7EC2366FE77ULL, 0xFBAECE9A1E50EULL,
    0xFBDAB9D040BEDULL, 0xFC03060FF6C57ULL, 0xFC2821037A248ULL, 0xFC4A67AE25BD1ULL,
    0xFC6A2977AEE31ULL, 0xFC87AA92896A4ULL, 0xFCA325E4BDE85ULL, 0xFCBCCE902231AULL,
    0xFCD4D12F839C4ULL, 0xFCEB54D8FEC99ULL, 0xFD007BF1DC930ULL, 0xFD1464DD6C4E6ULL,
    0xFD272A8E2F450ULL, 0xFD38E4FF0C91EULL, 0xFD49A9990B478ULL, 0xFD598B8920F53ULL,
    0xFD689C08E99ECULL, 0xFD76EA9C8E832ULL, 0xFD848547B08E8ULL, 0xFD9178BAD2C8CULL,
    0xFD9DD07A7ADD2ULL, 0xFDA9970105E8CULL, 0xFDB4D5DC02E20ULL, 0xFDBF95C5BFCD0ULL,
    0xFDC9DEBB99A7DULL, 0xFDD3B8118729DULL, 0xFDDD288342F90ULL, 0xFDE6364369F64ULL,
    0xFDEEE708D514EULL, 0xFDF7401A6B42EULL, 0xFDFF46599ED40ULL, 0xFE06FE4BC24F2ULL,
    0xFE0E6C225A258ULL, 0xFE1593C28B84CULL, 0xFE1C78CBC3F99ULL, 0xFE231E9DB1CAAULL,
    0xFE29885DA1B91ULL, 0xFE2FB8FB54186ULL, 0xFE35B33558D4AULL, 0xFE3B799D0002AULL,
    0xFE410E99EAD7FULL, 0xFE46746D47734ULL, 0xFE4BAD34C095CULL, 0xFE50BAED29524ULL,
    0xFE559F74EBC78ULL, 0xFE5A5C8E41212ULL, 0xFE5EF3E138689ULL, 0xFE6366FD91078ULL,
    0xFE67B75C6D578ULL, 0xFE6BE661E11AAULL, 0xFE6FF55E5F4F2ULL, 0xFE73E5900A702ULL,
    0xFE77B823E9E39ULL, 0xFE7B6E37070A2ULL, 0xFE7F08D774243ULL, 0xFE8289053F08CULL,
    0xFE85EFB35173AULL, 0xFE893DC840864ULL, 0xFE8C741F0CEBCULL, 0xFE8F9387D4EF6ULL,
    0xFE929CC879B1DULL, 0xFE95909D388EAULL, 0xFE986FB939AA2ULL, 0xFE9B3AC714866ULL,
    0xFE9DF2694B6D5ULL, 0xFEA0973ABE67CULL, 0xFEA329CF166A4ULL, 0xFEA5AAB32952CULL,
    0xFEA81A6D5741AULL, 0xFEAA797DE1CF0ULL, 0xFEACC85F3D920ULL, 0xFEAF07865E63CULL,
    0xFEB13762FEC13ULL, 0xFEB3585FE2A4AULL, 0xFEB56AE3162B4ULL, 0xFEB76F4E284FAULL,
    0xFEB965FE62014ULL, 0xFEBB4F4CF9D7CULL, 0xFEBD2B8F449D0ULL, 0xFEBEFB16E2E3EULL,
    0xFEC0BE31EBDE8ULL, 0xFEC2752B15A15ULL, 0xFEC42049DAFD3ULL, 0xFEC5BFD29F196ULL,
    0xFEC75406CEEF4ULL, 0xFEC8DD2500CB4ULL, 0xFECA5B6911F12ULL, 0xFECBCF0C427FEULL,
    0xFECD38454FB15ULL, 0xFECE97488C8B3ULL, 0xFECFEC47F91B7ULL, 0xFED1377358528ULL,
    0xFED278F844903ULL, 0xFED3B10242F4CULL, 0xFED4DFBAD586EULL, 0xFED605498C3DDULL,
    0xFED721D414FE8ULL, 0xFED8357E4A982ULL, 0xFED9406A42CC8ULL, 0xFEDA42B85B704ULL,
    0xFEDB3C8746AB4ULL, 0xFEDC2DF416652ULL, 0xFEDD171A46E52ULL, 0xFEDDF813C8AD3ULL,
    0xFEDED0F909980ULL, 0xFEDFA1E0FD414ULL, 0xFEE06AE124BC4ULL, 0xFEE12C0D95A06ULL,
    0xFEE1E579006E0ULL, 0xFEE29734B6524ULL, 0xFEE34150AE4BCULL, 0xFEE3E3DB89B3CULL,
    0xFEE47EE2982F4ULL, 0xFEE51271DB086ULL, 0xFEE59E9407F41ULL, 0xFEE623528B42EULL,
    0xFEE6A0B5897F1ULL, 0xFEE716C3E077AULL, 0xFEE7858327B82ULL, 0xFEE7ECF7B06BAULL,
    0xFEE84D2484AB2ULL, 0xFEE8A60B66343ULL, 0xFEE8F7ACCC851ULL, 0xFEE94207E25DAULL,
    0xFEE9851A829EAULL, 0xFEE9C0E13485CULL, 0xFEE9F557273F4ULL, 0xFEEA22762CCAEULL,
    0xFEEA4836B42ACULL, 0xFEEA668FC2D71ULL, 0xFEEA7D76ED6FAULL, 0xFEEA8CE04FA0AULL,
    0xFEEA94BE8333BULL, 0xFEEA950296410ULL, 0xFEEA8D9C0075EULL, 0xFEEA7E7897654ULL,
    0xFEEA678481D24ULL, 0xFEEA48AA29E83ULL, 0xFEEA21D22E4DAULL, 0xFEE9F2E352024ULL,
    0xFEE9BBC26AF2EULL, 0xFEE97C524F2E4ULL, 0xFEE93473C0A3AULL, 0xFEE8E40557516ULL,
    0xFEE88AE369C7AULL, 0xFEE828E7F3DFDULL, 0xFEE7BDEA7B888ULL, 0xFEE749BFF37FFULL,
    0xFEE6CC3A9BD5EULL, 0xFEE64529E007EULL, 0xFEE5B45A32888ULL, 0xFEE51994E57B6ULL,
    0xFEE474A0006CFULL, 0xFEE3C53E12C50ULL, 0xFEE30B2E02AD8ULL, 0xFEE2462AD8205ULL,
    0xFEE175EB83C5AULL, 0xFEE09A22A1447ULL, 0xFEDFB27E349CCULL, 0xFEDEBEA76216CULL,
    0xFEDDBE422047EULL, 0xFEDCB0ECE39D3ULL, 0xFEDB964042CF4ULL, 0xFEDA6DCE938C9ULL,
    0xFED937237E98DULL, 0xFED7F1C38A836ULL, 0xFED69D2B9C02BULL, 0xFED538D06AE00ULL,
    0xFED3C41DEA422ULL, 0xFED23E76A2FD8ULL, 0xFED0A732FE644ULL, 0xFECEFDA07FE34ULL,
    0xFECD4100EB7B8ULL, 0xFECB708956EB4ULL, 0xFEC98B61230C1ULL, 0xFEC790A0DA978ULL,
    0xFEC57F50F31FEULL, 0xFEC356686C962ULL, 0xFEC114CB4B335ULL, 0xFEBEB948E6FD0ULL,
    0xFEBC429A0B692ULL, 0xFEB9AF5EE0CDCULL, 0xFEB6FE1C98542ULL, 0xFEB42D3AD1F9EULL,
    0xFEB13B00B2D4BULL, 0xFEAE2591A02E9ULL, 0xFEAAEAE992257ULL, 0xFEA788D8EE326ULL,
    0xFEA3FCFFD73E5ULL, 0xFEA044C8DD9F6ULL, 0xFE9C5D62F563BULL, 0xFE9843BA947A4ULL,
    0xFE93F471D4728ULL, 0xFE8F6BD76C5D6ULL, 0xFE8AA5DC4E8E6ULL, 0xFE859E07AB1EAULL,
    0xFE804F690A940ULL, 0xFE7AB488233C0ULL, 0xFE74C751F6AA5ULL, 0xFE6E8102AA202ULL,
    0xFE67DA0B6ABD8ULL, 0xFE60C9F38307EULL, 0xFE5947338F742ULL, 0xFE51470977280ULL,
    0xFE48BD436F458ULL, 0xFE3F9BFFD1E37ULL, 0xFE35D35EEB19CULL, 0xFE2B5122FE4FEULL,
    0xFE20003995557ULL, 0xFE13C82788314ULL, 0xFE068C4EE67B0ULL, 0xFDF82B02B71AAULL,
    0xFDE87C57EFEAAULL, 0xFDD7509C63BFDULL, 0xFDC46E529BF13ULL, 0xFDAF8F82E0282ULL,
    0xFD985E1B2BA75ULL, 0xFD7E6EF48CF04ULL, 0xFD613ADBD650BULL, 0xFD40149E2F012ULL,
    0xFD1A1A7B4C7ACULL, 0xFCEE204761F9EULL, 0xFCBA8D85E11B2ULL, 0xFC7D26ECD2D22ULL,
    0xFC32B2F1E22EDULL, 0xFBD6581C0B83AULL, 0xFB606C4005434ULL, 0xFAC40582A2874ULL,
    0xF9E971E014598ULL, 0xF89FA48A41DFCULL, 0xF66C5F7F0302CULL, 0xF1A5A4B331C4AULL};

static const double zig_w[256] = {
    0x1.f493b7815d979p-51, 0x1.b8d0be3fdf6c6p-55, 0x1.250af3c2c5bb4p-54,
    0x1.57cb938443b61p-54, 0x1.801fce82fa70cp-54, 0x1.a230c2e4cd0bcp-54,
    0x1.c004d2f3861f7p-54, 0x1.dac2f5a747274p-54, 0x1.f32482d4cd5c3p-54,
    0x1.04d32278ebbadp-53, 0x1.0f5053b025d43p-53, 0x1.192a697413677p-53,
    0x1.227a28f7a1af5p-53, 0x1.2b52e3863d880p-53, 0x1.33c3fc05791f5p-53,
    0x1.3bd9ec1a2b12fp-53, 0x1.439ef8dff9b55p-53, 0x1.4b1bb363dfea7p-53,
    0x1.52575621ad374p-53, 0x1.59580a707ce96p-53, 0x1.60231cfd97eeap-53,
    0x1.66bd261a37c3dp-53, 0x1.6d2a292000570p-53, 0x1.736dad346f8a6p-53,
    0x1.798ad10b32a77p-53, 0x1.7f845ad46f543p-53, 0x1.855cc53430a77p-53,
    0x1.8b1649e7b769ap-53, 0x1.90b2ea94ecf98p-53, 0x1.96347822c1eeap-53,
    0x1.9b9c98e38c546p-53, 0x1.a0eccdca4a72cp-53, 0x1.a62676d77cd59p-53,
    0x1.ab4ad6e101630p-53, 0x1.b05b16d136c9cp-53, 0x1.b558487427a29p-53,
    0x1.ba4368e529f3ap-53, 0x1.bf1d62abf8232p-53, 0x1.c3e70f9594ef3p-53,
    0x1.c8a13a5323b61p-53, 0x1.cd4c9fe72268bp-53, 0x1.d1e9f0e80b748p-53,
    0x1.d679d29e41f10p-53, 0x1.dafce0023b8c3p-53, 0x1.df73aa9f17653p-53,
    0x1.e3debb5d2edfep-53, 0x1.e83e9337a6f00p-53, 0x1.ec93abdf982cep-53,
    0x1.f0de784f06226p-53, 0x1.f51f654d8f688p-53, 0x1.f956d9e87d7aep-53,
    0x1.fd8537dfa2eacp-53, 0x1.00d56e04234ecp-52, 0x1.02e40f5398f9ap-52,
    0x1.04eea9e16a5fcp-52, 0x1.06f565b72a010p-52, 0x1.08f869071f40bp-52,
    0x1.0af7d84bc6113p-52, 0x1.0cf3d664bcc7fp-52, 0x1.0eec84b16086bp-52,
    0x1.10e20329515eep-52, 0x1.12d4707310fbep-52, 0x1.14c3e9f8e9141p-52,
    0x1.16b08bfc4201ep-52, 0x1.189a71a78da34p-52, 0x1.1a81b51ee6d88p-52,
    0x1.1c666f8f82acbp-52, 0x1.1e48b93e0d42ep-52, 0x1.2028a9940a09fp-52,
    0x1.2206572c4c6e9p-52, 0x1.23e1d7de9c31fp-52, 0x1.25bb40ca96bfbp-52,
    0x1.2792a661dd37fp-52, 0x1.29681c719d71bp-52, 0x1.2b3bb62b82edap-52,
    0x1.2d0d862e1b853p-52, 0x1.2edd9e8cba98ep-52, 0x1.30ac10d6e48d7p-52,
    0x1.3278ee1f4b930p-52, 0x1.3444470265ea1p-52, 0x1.360e2baca52d5p-52,
    0x1.37d6abe05586ap-52, 0x1.399dd6fb2b264p-52, 0x1.3b63bbfb83d03p-52,
    0x1.3d28698561de0p-52, 0x1.3eebede725a83p-52, 0x1.40ae571e09e74p-52,
    0x1.426fb2da6745dp-52, 0x1.44300e83c30a4p-52, 0x1.45ef773cac75dp-52,
    0x1.47adf9e66c336p-52, 0x1.496ba32488f2fp-52, 0x1.4b287f602415dp-52,
    0x1.4ce49acb311dcp-52, 0x1.4ea001638a605p-52, 0x1.505abef5e5562p-52,
    0x1.5214df20a8b5ap-52, 0x1.53ce6d56a664fp-52, 0x1.558774e1bb2c8p-52,
    0x1.574000e555f78p-52, 0x1.58f81c60e8514p-52, 0x1.5aafd23241b59p-52,
    0x1.5c672d17d733dp-52, 0x1.5e1e37b2f8cd3p-52, 0x1.5fd4fc89f5e38p-52,
    0x1.618b860a31fc3p-52, 0x1.6341de8a2b0a2p-52, 0x1.64f8104b7260bp-52,
    0x1.66ae257c99672p-52, 0x1.6864283b13137p-52, 0x1.6a1a22950b2b1p-52,
    0x1.6bd01e8b343bbp-52, 0x1.6d8626128d352p-52, 0x1.6f3c43161f854p-52,
    0x1.70f27f78b68ebp-52, 0x1.72a8e516914c6p-52, 0x1.745f7dc70eedcp-52,
    0x1.7616535e5731fp-52, 0x1.77cd6faeff449p-52, 0x1.7984dc8babd93p-52,
    0x1.7b3ca3c8b1409p-52, 0x1.7cf4cf3db22fbp-52, 0x1.7ead68c73dee7p-52,
    0x1.80667a486ea1fp-52, 0x1.82200dac88676p-52, 0x1.83da2ce899f15p-52,
    0x1.8594e1fd1f5bdp-52, 0x1.875036f7a7ec5p-52, 0x1.890c35f47f72dp-52,
    0x1.8ac8e9205c043p-52, 0x1.8c865aba10c9cp-52, 0x1.8e44951446a27p-52,
    0x1.9003a2973b58fp-52, 0x1.91c38dc288347p-52, 0x1.9384612ef0afcp-52,
    0x1.954627903a28ap-52, 0x1.9708ebb70d5eep-52, 0x1.98ccb892e2a31p-52,
    0x1.9a919933f99bfp-52, 0x1.9c5798cd5d92cp-52, 0x1.9e1ec2b6f7411p-52,
    0x1.9fe7226fad24ap-52, 0x1.a1b0c39f93692p-52, 0x1.a37bb21a2c85bp-52,
    0x1.a547f9e0bbb88p-52, 0x1.a715a724aa9a4p-52, 0x1.a8e4c64a0313dp-52,
    0x1.aab563e9ff108p-52, 0x1.ac878cd5af5cep-52, 0x1.ae5b4e18bb336p-52,
    0x1.b030b4fc3a11ap-52, 0x1.b207cf09a985bp-52, 0x1.b3e0aa0e00c00p-52,
    0x1.b5bb541ce3d03p-52, 0x1.b797db93f8927p-52, 0x1.b9764f1e5f73cp-52,
    0x1.bb56bdb85256ep-52, 0x1.bd3936b2ec0a2p-52, 0x1.bf1dc9b81ae83p-52,
    0x1.c10486cec16a0p-52, 0x1.c2ed7e5f07a2dp-52, 0x1.c4d8c136e0d1cp-52,
    0x1.c6c6608ec8705p-52, 0x1.c8b66e0eba617p-52, 0x1.caa8fbd36a2abp-52,
    0x1.cc9e1c73bd690p-52, 0x1.ce95e3068e037p-52, 0x1.d0906328b8f6ep-52,
    0x1.d28db1037ef20p-52, 0x1.d48de1533c647p-52, 0x1.d691096e7f123p-52,
    0x1.d8973f4d7fba5p-52, 0x1.daa0999206e70p-52, 0x1.dcad2f8fc490ep-52,
    0x1.debd195522e37p-52, 0x1.e0d06fb49d21cp-52, 0x1.e2e74c4ea46f6p-52,
    0x1.e501c99c1d188p-52, 0x1.e72002f97fe25p-52, 0x1.e94214b2abf0ap-52,
    0x1.eb681c0f76f08p-52, 0x1.ed9237610a73ap-52, 0x1.efc086101eca9p-52,
    0x1.f1f328ac25321p-52, 0x1.f42a40fb74d6dp-52, 0x1.f665f20c90168p-52,
    0x1.f8a6604899782p-52, 0x1.faebb187122bfp-52, 0x1.fd360d22fe785p-52,
    0x1.ff859c118f60bp-52, 0x1.00ed447d3a075p-51, 0x1.021a8028fc947p-51,
    0x1.034a983a902abp-51, 0x1.047da4e3ef5c7p-51, 0x1.05b3bf6adb37ep-51,
    0x1.06ed023a72668p-51, 0x1.082988f632e17p-51, 0x1.0969708e8a254p-51,
    0x1.0aacd7571c0c4p-51, 0x1.0bf3dd1eed448p-51, 0x1.0d3ea34aa3d30p-51,
    0x1.0e8d4cf116593p-51, 0x1.0fdffefa69fb6p-51, 0x1.1136e04207041p-51,
    0x1.129219bbb5d35p-51, 0x1.13f1d69c4096dp-51, 0x1.1556448602e3bp-51,
    0x1.16bf93b9deef3p-51, 0x1.182df74d21261p-51, 0x1.19a1a564eebacp-51,
    0x1.1b1ad777f2f8ep-51, 0x1.1c99ca971a694p-51, 0x1.1e1ebfbe4ae39p-51,
    0x1.1fa9fc2e2d901p-51, 0x1.213bc9d04cc81p-51, 0x1.22d477a6fd3eep-51,
    0x1.24745a4ac9c24p-51, 0x1.261bcc77658e0p-51, 0x1.27cb2faa8592ep-51,
    0x1.2982ecd770e78p-51, 0x1.2b437532a0a52p-51, 0x1.2d0d43196db97p-51,
    0x1.2ee0db1a978f5p-51, 0x1.30becd256aeeep-51, 0x1.32a7b5e68a4a3p-51,
    0x1.349c405ae12a3p-51, 0x1.369d27a33a840p-51, 0x1.38ab39256410ap-51,
    0x1.3ac7570ae88fap-51, 0x1.3cf27b31704a6p-51, 0x1.3f2dbaa60f475p-51,
    0x1.417a49cb9e5dap-51, 0x1.43d9815545e94p-51, 0x1.464ce44a73a15p-51,
    0x1.48d62759c43bcp-51, 0x1.4b7739d6b5a27p-51, 0x1.4e3250dcd8902p-51,
    0x1.5109f53e9ac41p-51, 0x1.54011523a7e42p-51, 0x1.571b1a94ae41bp-51,
    0x1.5a5c08b718dd9p-51, 0x1.5dc8a243ad0fep-51, 0x1.61669cf861e4cp-51,
    0x1.653ce7b006aeap-51, 0x1.69540be9fe5c3p-51, 0x1.6db6b8d09e232p-51,
    0x1.72728f05f7a34p-51, 0x1.7799556090673p-51, 0x1.7d42df4d6ce8cp-51,
    0x1.839030529f234p-51, 0x1.8ab0fbfaa7c14p-51, 0x1.92ee0946f4496p-51,
    0x1.9cbee014057abp-51, 0x1.a8fdc7894775ap-51, 0x1.b981f3878fdb1p-51,
    0x1.d3bb48209ad33p-51};

static const double zig_f[256] = {
    0x1.0000000000000p+0, 0x1.f446ac979f087p-1, 0x1.eb7545b6ca915p-1,
    0x1.e3f11e027f077p-1, 0x1.dd36fa704de95p-1, 0x1.d70920657bcf2p-1,
    0x1.d144978a119dcp-1, 0x1.cbd33a8a72debp-1, 0x1.c6a5ecea9787fp-1,
    0x1.c1b1cd9eebaeap-1, 0x1.bceeb4ee1dc82p-1, 0x1.b85653a8ff552p-1,
    0x1.b3e3a8234dd10p-1, 0x1.af92a3f6ce8a2p-1, 0x1.ab5fef17a2504p-1,
    0x1.a748bd550c9e1p-1, 0x1.a34aafdf5af0fp-1, 0x1.9f63bee651fd8p-1,
    0x1.9b9228d240681p-1, 0x1.97d4657617ac1p-1, 0x1.94291c21b7a47p-1,
    0x1.908f1bd31714fp-1, 0x1.8d0554fe60aa8p-1, 0x1.898ad48badf02p-1,
    0x1.861ebfc37bcacp-1, 0x1.82c050f56cf6ep-1, 0x1.7f6ed4b20e2cbp-1,
    0x1.7c29a779c6858p-1, 0x1.78f033ca0b0d5p-1, 0x1.75c1f0770d856p-1,
    0x1.729e5f43f6d12p-1, 0x1.6f850baea7aeep-1, 0x1.6c7589e635a89p-1,
    0x1.696f75e513b2ap-1, 0x1.667272a92e323p-1, 0x1.637e298550c18p-1,
    0x1.6092498802665p-1, 0x1.5dae86f4aff6ap-1, 0x1.5ad29acc85c89p-1,
    0x1.57fe4264c8d8fp-1, 0x1.55313f08d9e46p-1, 0x1.526b55a656cd5p-1,
    0x1.4fac4e820b667p-1, 0x1.4cf3f4f494ec0p-1, 0x1.4a42172dc5278p-1,
    0x1.479685fdf5012p-1, 0x1.44f114a493679p-1, 0x1.425198a355fe3p-1,
    0x1.3fb7e99585b82p-1, 0x1.3d23e10af31a3p-1, 0x1.3a955a662cd0ep-1,
    0x1.380c32bda00d5p-1, 0x1.358848bf550e9p-1, 0x1.33097c9703a35p-1,
    0x1.308fafd6438efp-1, 0x1.2e1ac55ea3beep-1, 0x1.2baaa14d7954ap-1,
    0x1.293f28e93cd15p-1, 0x1.26d84290504edp-1, 0x1.2475d5a90db84p-1,
    0x1.2217ca92ff7f2p-1, 0x1.1fbe0a9929620p-1, 0x1.1d687fe549969p-1,
    0x1.1b171573fd111p-1, 0x1.18c9b709b3c50p-1, 0x1.16805128639dap-1,
    0x1.143ad105ea99cp-1, 0x1.11f9248311f38p-1, 0x1.0fbb3a2325913p-1,
    0x1.0d810104142a0p-1, 0x1.0b4a68d70d9aep-1, 0x1.091761d995d81p-1,
    0x1.06e7dccf03c36p-1, 0x1.04bbcafa63f2ep-1, 0x1.02931e18b822ap-1,
    0x1.006dc85b8cac4p-1, 0x1.fc9778c7bbda1p-2, 0x1.f859da7a900cap-2,
    0x1.f4229cb2f7af3p-2, 0x1.eff1a717e8f95p-2, 0x1.ebc6e20bd1f54p-2,
    0x1.e7a236a4ec3c5p-2, 0x1.e3838ea5f9b85p-2, 0x1.df6ad47763a09p-2,
    0x1.db57f320b56b1p-2, 0x1.d74ad6426de33p-2, 0x1.d3436a1021080p-2,
    0x1.cf419b4ae5b6dp-2, 0x1.cb45573c0a848p-2, 0x1.c74e8bb00d7c7p-2,
    0x1.c35d26f1d2cb8p-2, 0x1.bf7117c616a17p-2, 0x1.bb8a4d6716d91p-2,
    0x1.b7a8b7807131bp-2, 0x1.b3cc462b331cap-2, 0x1.aff4e9ea18552p-2,
    0x1.ac2293a5f5a9ep-2, 0x1.a85534aa4d880p-2, 0x1.a48cbea20c04dp-2,
    0x1.a0c923946843ep-2, 0x1.9d0a55e1e93dfp-2, 0x1.995048418c0c6p-2,
    0x1.959aedbe09f93p-2, 0x1.91ea39b33cb17p-2, 0x1.8e3e1fcb9f115p-2,
    0x1.8a9693fde9188p-2, 0x1.86f38a8ac5ab6p-2, 0x1.8354f7faa0dd9p-2,
    0x1.7fbad11b8d911p-2, 0x1.7c250aff414b0p-2, 0x1.78939af9252ebp-2,
    0x1.7506769c7b1edp-2, 0x1.717d93ba9614cp-2, 0x1.6df8e86124caap-2,
    0x1.6a786ad88de21p-2, 0x1.66fc11a25cbe2p-2, 0x1.6383d377be515p-2,
    0x1.600fa7480d2c8p-2, 0x1.5c9f84376c244p-2, 0x1.5933619d6eebep-2,
    0x1.55cb3703d0100p-2, 0x1.5266fc2533bedp-2, 0x1.4f06a8ebf6d92p-2,
    0x1.4baa357109ca2p-2, 0x1.485199fad6ad4p-2, 0x1.44fccefc324fep-2,
    0x1.41abcd1357a19p-2, 0x1.3e5e8d08ed2dbp-2, 0x1.3b1507cf143aep-2,
    0x1.37cf368081379p-2, 0x1.348d125f9d19ep-2, 0x1.314e94d5af62fp-2,
    0x1.2e13b77210766p-2, 0x1.2adc73e963fddp-2, 0x1.27a8c414db11ep-2,
    0x1.2478a1f17de89p-2, 0x1.214c079f7cc9ep-2, 0x1.1e22ef6188116p-2,
    0x1.1afd539c2f050p-2, 0x1.17db2ed5454e8p-2, 0x1.14bc7bb34ee67p-2,
    0x1.11a134fcf2423p-2, 0x1.0e895598709c4p-2, 0x1.0b74d88b242dap-2,
    0x1.0863b8f904336p-2, 0x1.0555f2242e9d9p-2, 0x1.024b7f6c7747ep-2,
    0x1.fe88b89df93c5p-3, 0x1.f88108cb83235p-3, 0x1.f27fe6ce998d2p-3,
    0x1.ec854a4c99c44p-3, 0x1.e6912b2283cddp-3, 0x1.e0a3816457184p-3,
    0x1.dabc455c7900ap-3, 0x1.d4db6f8b2514fp-3, 0x1.cf00f8a5e6fccp-3,
    0x1.c92cd9971df53p-3, 0x1.c35f0b7d89d47p-3, 0x1.bd9787abe18a1p-3,
    0x1.b7d647a8731aap-3, 0x1.b21b452ccd13ap-3, 0x1.ac667a2571807p-3,
    0x1.a6b7e0b19267ep-3, 0x1.a10f7322d7e3dp-3, 0x1.9b6d2bfd2fe5ap-3,
    0x1.95d105f6a7c27p-3, 0x1.903afbf74fa69p-3, 0x1.8aab09192815bp-3,
    0x1.852128a819a38p-3, 0x1.7f9d5621f7175p-3, 0x1.7a1f8d368a323p-3,
    0x1.74a7c9c7ab5a6p-3, 0x1.6f3607e964716p-3, 0x1.69ca43e21f25cp-3,
    0x1.64647a2adf19cp-3, 0x1.5f04a76f883f9p-3, 0x1.59aac88f31d6cp-3,
    0x1.5456da9c86835p-3, 0x1.4f08dade31fc1p-3, 0x1.49c0c6cf5ce2dp-3,
    0x1.447e9c20375d5p-3, 0x1.3f4258b6931aep-3, 0x1.3a0bfaae8d7eep-3,
    0x1.34db805b4ab88p-3, 0x1.2fb0e847c2a65p-3, 0x1.2a8c3137a071ap-3,
    0x1.256d5a2835eb7p-3, 0x1.2054625183c34p-3, 0x1.1b41492757d42p-3,
    0x1.16340e5a82d63p-3, 0x1.112cb1da26eb9p-3, 0x1.0c2b33d5209bap-3,
    0x1.072f94bb8bf85p-3, 0x1.0239d54067d2ap-3, 0x1.fa93ecb6b222cp-4,
    0x1.f0bff29520e1cp-4, 0x1.e6f7bf29aa54bp-4, 0x1.dd3b56176e88fp-4,
    0x1.d38abb9bd91e5p-4, 0x1.c9e5f493b740ap-4, 0x1.c04d0680b1015p-4,
    0x1.b6bff78f2e233p-4, 0x1.ad3ece9caf633p-4, 0x1.a3c9933ea6286p-4,
    0x1.9a604dc9d5b19p-4, 0x1.9103075a4a0abp-4, 0x1.87b1c9dbf2852p-4,
    0x1.7e6ca013eefd6p-4, 0x1.753395aaa1176p-4, 0x1.6c06b73694a4cp-4,
    0x1.62e6124854d18p-4, 0x1.59d1b577466a4p-4, 0x1.50c9b06fa2baep-4,
    0x1.47ce1401b2213p-4, 0x1.3edef23269a86p-4, 0x1.35fc5e4d93e70p-4,
    0x1.2d266cf9b3111p-4, 0x1.245d344dd0d91p-4, 0x1.1ba0cbe97897dp-4,
    0x1.12f14d0f2179dp-4, 0x1.0a4ed2c159625p-4, 0x1.01b979e30e497p-4,
    0x1.f262c2b6c6e35p-5, 0x1.e16d547b25181p-5, 0x1.d092efeadf162p-5,
    0x1.bfd3e0f282a2cp-5, 0x1.af30790385f70p-5, 0x1.9ea90f9295563p-5,
    0x1.8e3e02a68b5abp-5, 0x1.7defb77af271ep-5, 0x1.6dbe9b398d064p-5,
    0x1.5dab23cf2add4p-5, 0x1.4db5d0e11275dp-5, 0x1.3ddf2ce98eecbp-5,
    0x1.2e27ce83df497p-5, 0x1.1e9059f1f6abcp-5, 0x1.0f1982e968011p-5,
    0x1.ff881d718a5c4p-6, 0x1.e121adb828c75p-6, 0x1.c301983cd091ap-6,
    0x1.a529f4e22ebf8p-6, 0x1.879d1b600c10ap-6, 0x1.6a5daf40bbf82p-6,
    0x1.4d6eaf2fbb064p-6, 0x1.30d388dab5e13p-6, 0x1.1490334603012p-6,
    0x1.f152a4f72dd49p-7, 0x1.ba48d274f8facp-7, 0x1.841040d8da478p-7,
    0x1.4eb96421acfe0p-7, 0x1.1a59229952f92p-7, 0x1.ce160f8ec6837p-8,
    0x1.69ea8d90cb85dp-8, 0x1.08a1f03b0b1fdp-8, 0x1.55f9f43c1b067p-9,
    0x1.4a605b6b9f70fp-10};

#define ZIG_R 3.6541528853610087963519472518
#define ZIG_INV_R 0.27366123732975827203338247596

double lpdm_nprng_standard_normal(lpdm_nprng *r) {
  for (;;) {
    uint64_t u = lpdm_nprng_u64(r);
    int idx = (int)(u & 0xff);
    u >>= 8;
    int sign = (int)(u & 1);
    uint64_t rabs = (u >> 1) & 0x000fffffffffffffULL;
    double x = (double)rabs * zig_w[idx];
    if (sign) x = -x;
    if (rabs < zig_k[idx]) return x;
    if (idx == 0) {
      for (;;) {
        double xx = -ZIG_INV_R * log1p(-next_double(r));
        double yy = -log1p(-next_double(r));
        if (yy + yy > xx * xx) return ((rabs >> 8) & 1) ? -(ZIG_R + xx) : ZIG_R + xx;
      }
    }
    if ((zig_f[idx - 1] - zig_f[idx]) * next_double(r) + zig_f[idx] < exp(-0.5 * x * x)) return x;
  }
}
