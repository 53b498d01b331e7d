#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/local_vs_bp.sh: whole-process wall time of scripts/train.lua, local
# mode beside bp mode, measured side by side in one run (issue 22's figure),
# and, when a CleanRL reference is laid out, CleanRL's ppo.py beside lpdm's
# PPO bp on CartPole-v1.
#
#   bench/local_vs_bp.sh [BUILD_DIR] [RUNS]      (defaults: build, 3)
#   CLEANRL_REF=DIR bench/local_vs_bp.sh ...     (DIR from ../shared/tools/cleanrl-ref's setup-ref.sh)
#
# For each pair (PPO on CartPole-v1 200k steps, HalfCheetah-v5 100k, Hopper-v5
# 100k; REINFORCE guided on CartPole-v1 300k) it runs local and bp in turn,
# L B L B ... (RUNS of each, after one unpaired warm-up run of each), so a
# drift in the shared machine's speed hits both alike, and prints the median
# wall time of each and the median of the pairwise local/bp ratios.
# Seed 1, default flags otherwise (so PPO's threads = auto: 2 on a machine
# with 2 CPUs), --quiet, OPENBLAS_NUM_THREADS=1 (one BLAS thread, what the
# lpdm binary sets anyway). THREADS=1 in the environment runs PPO on one
# thread instead (--threads=1). With CLEANRL_REF, a last pair times
# CleanRL's ppo.py (CartPole-v1, 200,000 steps, seed 1, Debian's
# python3-torch) against lpdm's PPO bp the same way, and prints
# CleanRL/lpdm. The first lines name the machine. Wall time is read with
# `date +%s.%N` around each process. The full default set takes about 4-5
# minutes on the project's 2-core machine (plus ~1.5 min per CleanRL run).
set -euo pipefail
build=${1:-build}; runs=${2:-3}
src=$(cd "$(dirname "$0")/.." && pwd)
lpdm="$build/lpdm"; train="$src/scripts/train.lua"
[ -x "$lpdm" ] || { echo "no $lpdm: build first" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export OPENBLAS_NUM_THREADS=1

. "$src/bench/lib.sh"
bench_machine
thr=()
[ "${THREADS:-}" = 1 ] && thr=(--threads=1)
echo "# $(date -u +%Y-%m-%dT%H:%MZ), load $(cut -d' ' -f1-3 /proc/loadavg), OPENBLAS_NUM_THREADS=1, PPO threads: ${THREADS:-auto (the default)}"
echo "# seed 1, default flags, --quiet; $runs runs of each, alternating local/bp; medians"

cleanrl() { # CleanRL's ppo.py on CartPole-v1, 200k steps, seed 1
  cd "$CLEANRL_REF/cleanrl" && PYTHONPATH="$CLEANRL_REF/gymnasium:$CLEANRL_REF/stub:." /usr/bin/python3 ppo_ref.py \
    --seed 1 --total-timesteps 200000
}
one() { # prints the wall seconds of one run: flags... (or: cleanrl)
  if [ "$1" = cleanrl ]; then
    (bench_wall "$tmp/log" cleanrl) || exit 1
    return
  fi
  case " $* " in *" --algo=ppo "*) set -- "$@" "${thr[@]}" ;; esac
  bench_wall "$tmp/log" "$lpdm" "$train" --quiet --seed=1 --out="$tmp/run" "$@" || exit 1
  rm -rf "$tmp/run"
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '%-36s %10s %10s %12s\n' "run" "local s" "bp s" "local/bp"
pair() { # label "local flags" "bp flags"
  local label=$1 l b i lf bf
  read -ra lf <<<"$2"; read -ra bf <<<"$3"
  : >"$tmp/l"; : >"$tmp/b"; : >"$tmp/r"
  { one "${lf[@]}"; one "${bf[@]}"; } >/dev/null # warm-up (page cache, MuJoCo model load)
  for ((i = 0; i < runs; i++)); do
    l=$(one "${lf[@]}"); b=$(one "${bf[@]}")
    echo "$l" >>"$tmp/l"; echo "$b" >>"$tmp/b"
    awk -v l="$l" -v b="$b" 'BEGIN { printf "%.4f\n", l / b }' >>"$tmp/r"
  done
  printf '%-36s %10s %10s %11.2fx\n' "$label" "$(median <"$tmp/l")" "$(median <"$tmp/b")" "$(median <"$tmp/r")"
}

pair "PPO CartPole-v1 200k" \
  "--algo=ppo --mode=local --env=CartPole-v1 --steps=200000" \
  "--algo=ppo --mode=bp --env=CartPole-v1 --steps=200000"
pair "PPO HalfCheetah-v5 100k" \
  "--algo=ppo --mode=local --env=HalfCheetah-v5 --steps=100000" \
  "--algo=ppo --mode=bp --env=HalfCheetah-v5 --steps=100000"
pair "PPO Hopper-v5 100k" \
  "--algo=ppo --mode=local --env=Hopper-v5 --steps=100000" \
  "--algo=ppo --mode=bp --env=Hopper-v5 --steps=100000"
pair "REINFORCE CartPole-v1 300k (guided)" \
  "--algo=reinforce --mode=local --loss=guided --env=CartPole-v1 --steps=300000" \
  "--algo=reinforce --mode=bp --env=CartPole-v1 --steps=300000"
if [ -n "${CLEANRL_REF:-}" ]; then
  printf '%-36s %10s %10s %12s\n' "" "CleanRL s" "lpdm bp s" "CleanRL/lpdm"
  pair "PPO CartPole-v1 200k, CleanRL vs bp" "cleanrl" "--algo=ppo --mode=bp --env=CartPole-v1 --steps=200000"
fi
