#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/identity.sh: run a fixed set of short training configs and print one
# sha256 per file they write (progress.csv, updates.csv). Run it with two
# builds and diff the outputs to show that a restructuring changed no bit:
#   bench/identity.sh OLD_BUILD_DIR /tmp/old > old.txt
#   bench/identity.sh build /tmp/new > new.txt && diff old.txt new.txt
# Each build runs its own scripts/train.lua (the one beside the build dir's
# source is not assumed: pass the checkout as $3 if it is not the build's parent).
set -euo pipefail
build=${1:?build dir}; out=${2:?output dir}; src=${3:-$(cd "$build/.." && pwd)}
lpdm="$build/lpdm"; train="$src/scripts/train.lua"
rm -rf "$out"; mkdir -p "$out"
run() { # name flags...
  local name=$1; shift
  OPENBLAS_NUM_THREADS=1 "$lpdm" "$train" --quiet --out="$out/$name" "$@" >"$out/$name.log" 2>&1 \
    || { echo "$name: FAILED"; cat "$out/$name.log" >&2; return 0; }
}
run rf_bp      --algo=reinforce --mode=bp    --env=CartPole-v1 --seed=1 --steps=60000
run rf_guided  --algo=reinforce --mode=local --loss=guided --env=CartPole-v1 --seed=2 --steps=60000
run rf_stress  --algo=reinforce --mode=local --loss=stress --env=CartPole-v1 --seed=3 --steps=60000
run rf_base    --algo=reinforce --mode=local --env=Pendulum-v1 --baseline=true --episodes-per-update=4 --seed=1 --steps=40000
run ppo_bp_t2  --algo=ppo --mode=bp    --env=CartPole-v1 --threads=2 --seed=1 --steps=60000
run ppo_loc_t2 --algo=ppo --mode=local --env=CartPole-v1 --threads=2 --seed=1 --steps=60000
run ppo_loc_t1 --algo=ppo --mode=local --env=CartPole-v1 --seed=4 --steps=60000
run ppo_str    --algo=ppo --mode=local --loss=stress --env=Acrobot-v1 --seed=1 --steps=30000
run ppo_gd     --algo=ppo --mode=local --loss=guided --env=CartPole-v1 --seed=5 --steps=30000
run ppo_hop    --algo=ppo --mode=local --env=Hopper-v5 --seed=1 --steps=20480
run ppo_hop_bp --algo=ppo --mode=bp --env=Hopper-v5 --seed=2 --steps=20480
run ppo_pend   --algo=ppo --mode=local --env=Pendulum-v1 --norm-obs=true --norm-reward=true --seed=1 --steps=30000
# checkpoint resumes: killed (SIGKILL, LPDM_TEST_KILL_AFTER) after update 6
# with a checkpoint every 4 updates, then resumed with the same flags
resume() { # name flags...
  local name=$1; shift
  LPDM_TEST_KILL_AFTER=6 OPENBLAS_NUM_THREADS=1 "$lpdm" "$train" --quiet --out="$out/$name" \
    --checkpoint-every=4 "$@" >/dev/null 2>&1 || true
  OPENBLAS_NUM_THREADS=1 "$lpdm" "$train" --quiet --resume="$out/$name" --checkpoint-every=4 "$@" \
    >"$out/$name.log" 2>&1 || { echo "$name: FAILED"; cat "$out/$name.log" >&2; }
}
resume ppo_ck --algo=ppo --mode=local --env=CartPole-v1 --seed=6 --steps=16384
resume rf_ck  --algo=reinforce --mode=local --env=CartPole-v1 --seed=7 --steps=8000
# updates.csv without its wall_time and sps columns (timings)
cd "$out" && for f in */progress.csv */updates.csv; do
  [ -f "$f" ] || continue
  case $f in
    */updates.csv) h=$(awk -F, 'NR==1{for(i=1;i<=NF;i++) if($i=="wall_time"||$i=="sps") w[i]=1} {s=""; for(i=1;i<=NF;i++) if(!(i in w)) s=s (s==""?"":",") $i; print s}' "$f" | sha256sum | cut -c1-16) ;;
    *) h=$(sha256sum < "$f" | cut -c1-16) ;;
  esac
  echo "$h  $f"
done
