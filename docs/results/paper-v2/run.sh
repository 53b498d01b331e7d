#!/bin/bash
# SPDX-License-Identifier: MIT
# The second edition's runs (issue 26, docs/results/paper-v2/protocol.md), part
# by part, from frozen installs. Resumable: run it again and every tune or sweep
# continues where it stopped (scripts/tune.lua and scripts/sweep.lua resume).
#   FROZEN=/work/frozen26 FROZEN2=/work/frozen26b OUT=/work/runs26 BASE=/work/id_base23.txt \
#     setsid nohup docs/results/paper-v2/run.sh >> OUT/run.out 2>&1 < /dev/null &
# FROZEN: a worktree of the protocol's commit, built Release in FROZEN/build
#   (the tunes). FROZEN2: the second install (REINFORCE's ablation options),
#   which gives the same bytes (the parts a, b and c). Both must give BASE,
#   bench/identity.sh's hashes of lpdm 0.2.0.
# After each tune, make_sweeps.lua writes the sweep files of the parts it
# unlocks into OUT/sweeps from OUT/reports (copies of the tunes' tune.json).
# Order: the tunes that gate the main table, then (a), (b) and (c), with
# DQN's tune just before DQN's part. Each finished step appends a line to
# OUT/status.
set -u
FROZEN=${FROZEN:?a frozen install}; FROZEN2=${FROZEN2:?the second frozen install}
OUT=${OUT:?an output directory}; BASE=${BASE:?identity hashes of 0.2.0}
mkdir -p "$OUT/reports" "$OUT/sweeps"
log() { echo "$(date -u +%FT%TZ) $*" >> "$OUT/status"; }

identity() { # install tag
  if [ ! -f "$OUT/identity-$2.done" ]; then
    (cd "$1" && bench/identity.sh build "$OUT/identity-$2" . > "$OUT/identity-$2.txt" 2> "$OUT/identity-$2.err")
    diff "$BASE" "$OUT/identity-$2.txt" > "$OUT/identity-$2.diff"
    echo $? > "$OUT/identity-$2.done"
  fi
  if [ "$(cat "$OUT/identity-$2.done")" != 0 ]; then log "identity of $1 differs: stop"; exit 1; fi
}

tune() { # name
  (cd "$FROZEN" && build/lpdm scripts/tune.lua "docs/results/paper-v2/tune/$1.lua" --out="$OUT/tune/$1" --jobs=2 \
    >> "$OUT/tune_$1.log" 2>&1)
  local rc=$?
  log "tune $1 exit $rc"
  if [ $rc = 0 ]; then
    cp "$OUT/tune/$1/tune.json" "$OUT/reports/$1.json"
    (cd "$FROZEN2" && build/lpdm docs/results/paper-v2/make_sweeps.lua --reports="$OUT/reports" --out="$OUT/sweeps" \
      >> "$OUT/make_sweeps.log" 2>&1)
  fi
}

part() { # name: its sweep file must exist
  if [ ! -f "$OUT/sweeps/$1.lua" ]; then log "part $1 skipped: no sweep file (its tune has not finished)"; return; fi
  (cd "$FROZEN2" && build/lpdm scripts/sweep.lua "$OUT/sweeps/$1.lua" --out="$OUT/$1" --jobs=2 >> "$OUT/sweep_$1.log" 2>&1)
  log "part $1 exit $?"
}

identity "$FROZEN" 1
identity "$FROZEN2" 2
for t in ppo_classic reinforce_classic ppo_mujoco; do tune $t; done
part a_classic
part a_mujoco
part b_reinforce
tune dqn_classic
part b_dqn
for p in c_classic c_reinforce c_mujoco c_depth; do part $p; done
log "run.sh done"
