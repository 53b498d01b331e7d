/* SPDX-License-Identifier: MIT */
/* test_checkpoint.c -- safetensors files and network checkpoints (issue 8):
   a round trip restores weights and optimizer state bit for bit (the next
   training step is identical), the file is what the format says, and a
   matrix of broken and hostile files is refused with a message naming the
   file and the fault -- never a crash (run under ASan in CI) -- as is a
   checkpoint that does not fit the net. A full disk (a file-size limit)
   fails the write by name and leaves the previous file intact. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "fixture.h"
#include "lpdm/lpdm.h"
#include "tap.h"

static lpdm_ctx *ctx;
static char dir[] = "/tmp/lpdm_ckpt_XXXXXX";

static lpdm_net *make_net(uint64_t seed, int w2) {
  const lpdm_layer_kind *dk = (const lpdm_layer_kind *)lpdm_plugin_get(ctx, LPDM_KIND_LAYER, "dense");
  lpdm_net *n = NULL;
  lpdm_config c;
  lpdm_rng rng;
  lpdm_rng_seed(&rng, seed);
  if (!dk || lpdm_net_new(ctx, 3, &n) || lpdm_config_init(ctx, &dk->head, &c) ||
      lpdm_config_set_num(ctx, &c, "dense", "out", 5) || lpdm_net_add(n, ctx, dk, &c, &rng, NULL) ||
      lpdm_config_set_num(ctx, &c, "dense", "out", w2) || lpdm_net_add(n, ctx, dk, &c, &rng, NULL)) {
    diag("make_net: %s", lpdm_ctx_message(ctx));
    lpdm_net_free(n);
    return NULL;
  }
  return n;
}

/* One bp step of 0.5 |net(X)|^2 on a fixed batch. */
static int train_step(lpdm_net *n) {
  float X[8 * 3];
  for (int i = 0; i < 24; i++) X[i] = (float)sin(i * 0.7);
  const float *Y;
  float dY[8 * 8];
  int rc = lpdm_net_train_forward(n, ctx, X, 8, &Y);
  if (rc) return rc;
  int o = lpdm_net_out_dim(n);
  for (int i = 0; i < 8 * o; i++) dY[i] = Y[i];
  lpdm_net_zero_grad(n);
  return lpdm_net_backward(n, ctx, dY, NULL) || lpdm_net_step(n, ctx, 1.0f);
}

static int same_weights(lpdm_net *a, lpdm_net *b) {
  for (int i = 0; i < lpdm_net_depth(a); i++) {
    lpdm_layer *la = lpdm_net_layer(a, i), *lb = lpdm_net_layer(b, i);
    for (int j = 0; j < la->nparams; j++)
      if (memcmp(la->params[j].w, lb->params[j].w, la->params[j].n * sizeof(float))) return 0;
  }
  return 1;
}

static unsigned char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc((size_t)n + 1);
  *len = fread(b, 1, (size_t)n, f);
  fclose(f);
  return b;
}

/* A file built from a header text and n data bytes (zeros). */
static unsigned char *forge(const char *header, uint64_t claimed, size_t ndata, size_t *len) {
  size_t hl = strlen(header);
  *len = 8 + hl + ndata;
  unsigned char *b = calloc(1, *len);
  for (int k = 0; k < 8; k++) b[k] = (unsigned char)(claimed >> (8 * k));
  memcpy(b + 8, header, hl);
  return b;
}

static void refuse(const char *header, size_t ndata, const char *want, const char *label) {
  size_t len;
  unsigned char *b = forge(header, strlen(header), ndata, &len);
  lpdm_st *st = NULL;
  int rc = lpdm_st_parse(ctx, b, len, "bad.safetensors", &st);
  const char *m = lpdm_ctx_message(ctx);
  ok(rc != 0 && !st && strstr(m, "bad.safetensors") && strstr(m, want), "refused: %s (%s)", label, m);
  lpdm_st_free(st);
  free(b);
}

int main(void) {
  ctx = fx_ctx();
  if (!mkdtemp(dir)) {
    printf("Bail out! mkdtemp %s failed\n", dir);
    return 1;
  }
  char path[256], path2[256];
  snprintf(path, sizeof path, "%s/net.safetensors", dir);

  /* ---------------------------------------------------------- round trip */
  lpdm_net *a = make_net(1, 4), *b = make_net(2, 4);
  int good = a && b && !train_step(a) && !train_step(a) && !train_step(a);
  lpdm_st *st = NULL;
  good = good && !lpdm_st_new(ctx, &st) && !lpdm_st_set_meta(st, ctx, "format", "lpdm") &&
         !lpdm_net_save(a, ctx, st, "policy", 1) && !lpdm_st_write(st, ctx, path);
  lpdm_st_free(st);
  st = NULL;
  ok(good, "a trained net is saved with its optimizer state");
  good = good && !lpdm_st_read(ctx, path, &st) && !lpdm_net_load(b, ctx, st, "policy", 1);
  ok(good && same_weights(a, b), "loaded into a net of the same shape, the weights are equal bit for bit");
  ok(good && st && !strcmp(lpdm_st_meta(st, "format"), "lpdm") && lpdm_st_count(st) == 4 * 3 + 2,
     "metadata and 14 tensors (4 params x weight, m, v + 2 step counters)");
  good = good && !train_step(a) && !train_step(b);
  ok(good && same_weights(a, b), "the next Adam step is identical (moments and step count restored)");
  float X[3] = {0.3f, -1, 2}, ya[4], yb[4];
  ok(!lpdm_net_forward(a, ctx, X, 1, ya) && !lpdm_net_forward(b, ctx, X, 1, yb) && !memcmp(ya, yb, sizeof ya),
     "and the outputs are equal");
  int dtype, ndim;
  const int64_t *shape;
  size_t nb;
  ok(st && lpdm_st_get(st, "policy.0.weight", &dtype, &ndim, &shape, &nb) && dtype == LPDM_ST_F32 && ndim == 2 &&
         shape[0] == 3 && shape[1] == 5 && nb == 60 && lpdm_st_get(st, "policy.1.bias", NULL, NULL, NULL, NULL) &&
         lpdm_st_get(st, "policy.0.step", &dtype, &ndim, NULL, &nb) && dtype == LPDM_ST_I64 && ndim == 0 && nb == 8,
     "layout: policy.<layer>.<param> as F32 rows x cols (weight: in x out), policy.<layer>.step as I64");
  size_t flen = 0;
  unsigned char *file = slurp(path, &flen);
  uint64_t hl = 0;
  for (int k = 7; k >= 0; k--) hl = (hl << 8) | file[k];
  ok(file && flen > 8 && hl + 8 <= flen && (hl + 8) % 8 == 0 && file[8] == '{' && file[8 + hl - 1] != 0,
     "the file: 8-byte little-endian header length, JSON, data 8-aligned");
  snprintf(path2, sizeof path2, "%s/net.safetensors.tmp", dir);
  ok(access(path2, F_OK) != 0, "no temporary file is left behind");

  /* ---------------------------------------------------------- the net must fit */
  lpdm_net *c = make_net(3, 6);
  float w0 = lpdm_net_layer(c, 0)->params[0].w[0];
  int rc = st ? lpdm_net_load(c, ctx, st, "policy", 1) : -1;
  ok(rc != 0 && strstr(lpdm_ctx_message(ctx), "policy.1.weight") && strstr(lpdm_ctx_message(ctx), "5 x 4") &&
         strstr(lpdm_ctx_message(ctx), "5 x 6") && lpdm_net_layer(c, 0)->params[0].w[0] == w0,
     "a net of another width is refused naming the tensor and both shapes, and left unchanged (%s)",
     lpdm_ctx_message(ctx));
  rc = st ? lpdm_net_load(b, ctx, st, "value", 0) : -1;
  ok(rc != 0 && strstr(lpdm_ctx_message(ctx), "no tensor 'value.0.weight'"), "a missing tensor is named (%s)",
     lpdm_ctx_message(ctx));
  lpdm_net_free(c);
  lpdm_st_free(st);

  /* a NaN weight in the file */
  {
    lpdm_st *s2 = NULL;
    lpdm_net *n = make_net(4, 4);
    lpdm_net_layer(n, 1)->params[1].w[2] = NAN;
    good = !lpdm_st_new(ctx, &s2) && !lpdm_net_save(n, ctx, s2, "p", 0);
    lpdm_net *m = make_net(5, 4);
    rc = good ? lpdm_net_load(m, ctx, s2, "p", 0) : -1;
    ok(rc != 0 && strstr(lpdm_ctx_message(ctx), "p.1.bias") && strstr(lpdm_ctx_message(ctx), "non-finite") &&
           strstr(lpdm_ctx_message(ctx), "index 2"),
       "a non-finite weight is refused naming the tensor and index (%s)", lpdm_ctx_message(ctx));
    lpdm_net_free(n);
    lpdm_net_free(m);
    lpdm_st_free(s2);
  }

  /* ---------------------------------------------------------- hostile files */
  int crashfree = 1, refused = 0;
  for (size_t k = 0; file && k < flen; k++) { /* every truncation */
    lpdm_st *t = NULL;
    rc = lpdm_st_parse(ctx, file, k, "cut", &t);
    if (rc == 0) crashfree = 0;
    else refused++;
    lpdm_st_free(t);
  }
  ok(crashfree && refused == (int)flen, "every truncation of a valid file (%zu of them) is refused", flen);
  lpdm_rng rng;
  lpdm_rng_seed(&rng, 9);
  int parsed = 0, failed = 0;
  for (int it = 0; file && it < 3000; it++) { /* random byte mutations */
    unsigned char *m = malloc(flen);
    memcpy(m, file, flen);
    int nmut = 1 + (int)lpdm_rng_below(&rng, 4);
    for (int q = 0; q < nmut; q++) {
      size_t at = (size_t)lpdm_rng_below(&rng, it % 2 ? flen : hl + 8);
      m[at] = (unsigned char)lpdm_rng_below(&rng, 256);
    }
    lpdm_st *t = NULL;
    if (lpdm_st_parse(ctx, m, flen, "mutant", &t) == 0) parsed++;
    else failed++;
    lpdm_st_free(t);
    free(m);
  }
  ok(parsed + failed == 3000 && failed > 0, "3000 mutated files: each parsed or refused (%d refused), no crash", failed);

  size_t len;
  unsigned char *f1 = forge("{}", UINT64_C(1) << 62, 0, &len);
  lpdm_st *t = NULL;
  rc = lpdm_st_parse(ctx, f1, len, "huge.safetensors", &t);
  ok(rc != 0 && strstr(lpdm_ctx_message(ctx), "huge.safetensors: header length 4611686018427387904 does not fit"),
     "a header length beyond the file is refused before any allocation (%s)", lpdm_ctx_message(ctx));
  free(f1);
  rc = lpdm_st_parse(ctx, "abc", 3, "tiny.safetensors", &t);
  ok(rc != 0 && strstr(lpdm_ctx_message(ctx), "tiny.safetensors: not a safetensors file"), "a 3-byte file is refused");

  /* an empty tensor in a file with no data bytes (found by libFuzzer: an
     offset applied to the null data pointer) */
  const char *h0 = "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}";
  f1 = forge(h0, strlen(h0), 0, &len);
  rc = lpdm_st_parse(ctx, f1, len, "empty.safetensors", &t);
  size_t nb0 = 1;
  int nd0 = -1;
  const int64_t *sh0 = NULL;
  ok(rc == 0 && lpdm_st_get(t, "a", NULL, &nd0, &sh0, &nb0) != NULL && nb0 == 0 && nd0 == 1 && sh0[0] == 0,
     "a file of one empty tensor and no data parses, and its tensor is found with 0 bytes");
  lpdm_st_free(t);
  t = NULL;
  free(f1);
  refuse("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 8, "expected '}'", "a missing brace");
  refuse("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}x", 8, "trailing bytes", "trailing garbage");
  refuse("{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "unknown dtype", "an unknown dtype");
  refuse("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "non-negative integer", "a negative dimension");
  refuse("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8, "expected an integer", "a fractional dimension");
  refuse("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,80]}}", 8, "tensor 'a'", "offsets beyond the data");
  refuse("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "its shape needs 12", "a size that does not match the shape");
  refuse("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "end before they begin", "reversed offsets");
  refuse("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
         12, "overlap", "overlapping tensors");
  refuse("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
         16, "appears twice", "a duplicate name");
  refuse("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "too many dimensions", "nine dimensions");
  refuse("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}", 4, "overflow",
         "a shape whose size overflows");
  refuse("{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}", 4, "too large", "a 20-digit dimension");
  refuse("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4, "unknown or repeated field", "an unknown field");
  refuse("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "needs dtype, shape and data_offsets", "missing offsets");
  refuse("{\"a\\u0001\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "bad tensor name", "a control character in a name");
  refuse("{\"a\":{\"b\":{\"c\":1}}}", 0, "unknown or repeated field", "nesting beyond a tensor's fields");
  refuse("{\"__metadata__\":{\"k\":1}}", 0, "expected '\"'", "a metadata value that is not a string");
  refuse("[1,2]", 0, "expected '{'", "an array at the top");

  /* ---------------------------------------------------------- failing writes */
  lpdm_st *s3 = NULL;
  lpdm_net *big = make_net(6, 4);
  good = big && !lpdm_st_new(ctx, &s3) && !lpdm_net_save(big, ctx, s3, "policy", 1);
  size_t before_len = 0;
  unsigned char *before = slurp(path, &before_len);
  struct rlimit old, lim;
  getrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, SIG_IGN);
  lim = old;
  lim.rlim_cur = 64; /* "the disk is full" after 64 bytes */
  setrlimit(RLIMIT_FSIZE, &lim);
  rc = good ? lpdm_st_write(s3, ctx, path) : -1;
  setrlimit(RLIMIT_FSIZE, &old);
  size_t after_len = 0;
  unsigned char *after = slurp(path, &after_len);
  ok(rc != 0 && strstr(lpdm_ctx_message(ctx), "net.safetensors.tmp") && strstr(lpdm_ctx_message(ctx), "untouched") &&
         access(path2, F_OK) != 0 && before && after && before_len == after_len && !memcmp(before, after, before_len),
     "a write that fails (file-size limit, as a full disk) is named, removes its temporary file and leaves the "
     "previous checkpoint intact (%s)",
     lpdm_ctx_message(ctx));
  snprintf(path2, sizeof path2, "%s/no/such/dir/x.safetensors", dir);
  rc = s3 ? lpdm_st_write(s3, ctx, path2) : -1;
  ok(rc != 0 && strstr(lpdm_ctx_message(ctx), "no/such/dir/x.safetensors.tmp"), "an unwritable folder is named (%s)",
     lpdm_ctx_message(ctx));
  lpdm_st_free(s3);
  free(before);
  free(after);
  lpdm_net_free(big);

  free(file);
  lpdm_net_free(a);
  lpdm_net_free(b);
  unlink(path);
  rmdir(dir);
  lpdm_ctx_free(ctx);
  return done_testing();
}
