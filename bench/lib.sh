# SPDX-License-Identifier: MIT
# bench/lib.sh: helpers of the shell benchmarks (local_vs_bp.sh,
# study_cost.sh), sourced, not run.
#
#   bench_machine          prints "# machine: CPU (family, model; SIMD), N cores online, kernel"
#   bench_wall LOG CMD...  runs CMD with its output in LOG, prints its wall
#                          seconds (read with date +%s.%N around it), and
#                          returns CMD's status; on a failure it says so on
#                          stderr with LOG's text

bench_machine() {
  local cpu fam mod simd
  cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
  fam=$(lscpu | sed -n 's/^CPU family: *//p' | head -1); mod=$(lscpu | sed -n 's/^Model: *//p' | head -1)
  if grep -q avx512f /proc/cpuinfo; then simd=AVX-512; elif grep -q avx2 /proc/cpuinfo; then simd=AVX2; else simd="no AVX2"; fi
  echo "# machine: ${cpu:-unknown CPU} (family ${fam:-?}, model ${mod:-?}; $simd), $(nproc) cores online, $(uname -sr)"
}

bench_wall() {
  local log=$1 t0 t1 rc=0
  shift
  t0=$(date +%s.%N)
  "$@" >"$log" 2>&1 || rc=$?
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
  if [ "$rc" != 0 ]; then echo "FAILED: $*" >&2; cat "$log" >&2; fi
  return "$rc"
}
