#!/bin/bash
# SPDX-License-Identifier: MIT
# The second edition's runs (issue 26, docs/results/paper-v2/protocol.md), part
# by part, from a frozen install. Resumable: run it again and every tune or sweep
# continues where it stopped (scripts/tune.lua and scripts/sweep.lua resume).
#   FROZEN=/work/frozen26 OUT=/work/runs26 BASE=/work/id_base23.txt \
#     setsid nohup docs/results/paper-v2/run.sh > OUT/run.out 2>&1 < /dev/null &
# FROZEN: a worktree of the protocol's commit, built Release in FROZEN/build.
# BASE: bench/identity.sh's hashes of lpdm 0.2.0; the install must give them.
# Each finished part appends a line to OUT/status.
set -u
FROZEN=${FROZEN:?a frozen install}; OUT=${OUT:?an output directory}; BASE=${BASE:?identity hashes of 0.2.0}
mkdir -p "$OUT"
cd "$FROZEN" || exit 1
if [ ! -f "$OUT/identity.done" ]; then
  bench/identity.sh build "$OUT/identity" . > "$OUT/identity.txt" 2> "$OUT/identity.err"
  diff "$BASE" "$OUT/identity.txt" > "$OUT/identity.diff"
  echo $? > "$OUT/identity.done"
fi
if [ "$(cat "$OUT/identity.done")" != 0 ]; then echo "identity differs: stop" >> "$OUT/status"; exit 1; fi
for t in ppo_classic reinforce_classic dqn_classic ppo_mujoco; do
  build/lpdm scripts/tune.lua "docs/results/paper-v2/tune/$t.lua" --out="$OUT/tune/$t" --jobs=2 > "$OUT/tune_$t.log" 2>&1
  echo "$(date -u +%FT%TZ) tune $t exit $?" >> "$OUT/status"
done
