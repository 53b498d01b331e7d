/* SPDX-License-Identifier: MIT */
/* fuzz_safetensors.c -- libFuzzer target for the checkpoint reader: any
   bytes must parse or be refused with a message, never read out of bounds,
   leak or allocate absurd amounts; a file that parses is also loaded into a
   small net (shape, dtype and value checks). Built with -DLPDM_FUZZ=ON and
   clang (.ci/run runs it for 60 s on tests/fuzz/corpus/). */
#include <stddef.h>
#include <stdint.h>

#include "lpdm/lpdm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lpdm_ctx *ctx = lpdm_ctx_new();
  lpdm_st *st = NULL;
  if (lpdm_st_parse(ctx, data, size, "fuzz", &st) == 0) {
    for (int i = 0; i < lpdm_st_count(st); i++) {
      int dt, nd;
      const int64_t *shape;
      size_t nb;
      const unsigned char *p = lpdm_st_get(st, lpdm_st_name(st, i), &dt, &nd, &shape, &nb);
      volatile unsigned char sink = 0;
      for (size_t k = 0; k < nb; k++) sink ^= p[k]; /* every claimed byte is readable */
      (void)sink;
    }
    lpdm_st_meta(st, "format");
  }
  lpdm_st_free(st);
  lpdm_ctx_free(ctx);
  return 0;
}
