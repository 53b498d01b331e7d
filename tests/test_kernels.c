/* test_kernels.c -- core/src/kernels.c's copies against the plain loops:
   lpdm_k_transpose and lpdm_k_mirror_upper (tiled through a local buffer)
   must give exactly the element-by-element result at sizes that are and
   are not multiples of the 32 x 32 tile, and leave what they must not
   touch alone (the upper triangle and diagonal, for the mirror). */
#include <stdlib.h>
#include <string.h>

#include "lpdm/lpdm.h"
#include "tap.h"

int main(void) {
  const int sizes[] = {1, 2, 31, 32, 33, 64, 65, 100, 1024};
  const int ns = (int)(sizeof sizes / sizeof *sizes);
  plan(2 * ns);
  lpdm_rng rng;
  lpdm_rng_seed(&rng, 7);
  for (int k = 0; k < ns; k++) {
    const int n = sizes[k];
    const size_t nn = (size_t)n * n;
    float *A = malloc(nn * sizeof *A), *At = malloc(nn * sizeof *At), *M = malloc(nn * sizeof *M);
    if (!A || !At || !M) {
      printf("Bail out! out of memory\n");
      return 1;
    }
    for (size_t i = 0; i < nn; i++) A[i] = (float)lpdm_rng_normal(&rng);
    lpdm_k_transpose(A, At, n);
    int bad = 0;
    for (int i = 0; i < n && !bad; i++)
      for (int j = 0; j < n; j++) bad |= At[(size_t)j * n + i] != A[(size_t)i * n + j];
    ok(!bad, "transpose, n = %d: At[j][i] == A[i][j] for every element", n);
    memcpy(M, A, nn * sizeof *M);
    lpdm_k_mirror_upper(M, n);
    bad = 0;
    for (int i = 0; i < n && !bad; i++)
      for (int j = 0; j < n; j++) bad |= M[(size_t)i * n + j] != (j < i ? A[(size_t)j * n + i] : A[(size_t)i * n + j]);
    ok(!bad, "mirror_upper, n = %d: the lower triangle is the upper one's mirror, the rest unchanged", n);
    free(A);
    free(At);
    free(M);
  }
  return done_testing();
}
