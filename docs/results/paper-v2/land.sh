#!/bin/bash
# SPDX-License-Identifier: MIT
# Lands what run.sh has made so far into docs/results/paper-v2 (a partial
# report while the study goes on, the whole one at its end):
#   docs/results/paper-v2/land.sh OUT        (from a checkout's top folder)
# - each finished tune's report and tune.json -> tune/reports/<tune>.{md,json}
# - each part's sweep.json, report.md and plots (a part still running: from
#   its runs done so far, sweep.lua --report-only), and per run its summary.json
#   and eval.json (not the curves: they stay in OUT) -> <part>/
# - report.lua --runs=OUT: scores.json, bounds.json, tables.md, summary.md,
#   plots/*_profile.png; summary.md also replaces README.md's table between
#   the markers <!-- paper-v2:summary:begin --> and <!-- paper-v2:summary:end -->
# The sweep files are made again from the landed tune reports; they must
# equal the ones run.sh ran (OUT/sweeps), or this stops.
set -euo pipefail
OUT=${1:?run.sh\'s output folder}
HERE=docs/results/paper-v2
[ -f "$HERE/protocol.md" ] || { echo "land.sh: run it from a checkout's top folder" >&2; exit 1; }
for t in ppo_classic reinforce_classic ppo_mujoco dqn_classic; do
  if [ -f "$OUT/reports/$t.json" ]; then
    cp "$OUT/tune/$t/report.md" "$HERE/tune/reports/$t.md"
    cp "$OUT/reports/$t.json" "$HERE/tune/reports/$t.json"
  fi
done
build/lpdm "$HERE/make_sweeps.lua" > /dev/null
for f in "$OUT"/sweeps/*.lua; do
  [ -e "$f" ] || continue
  cmp -s "$f" "$HERE/sweeps/$(basename "$f")" ||
    { echo "land.sh: $f differs from $HERE/sweeps/$(basename "$f"): the runs used other settings" >&2; exit 1; }
done
for d in "$OUT"/[abc]_*/; do
  p=$(basename "$d")
  [ -f "$d/sweep.json" ] || continue
  if grep -q '"finished": null' "$d/sweep.json"; then # still running: its runs so far
    build/lpdm scripts/sweep.lua "$OUT/sweeps/$p.lua" --out="$d" --report-only > /dev/null
  fi
  mkdir -p "$HERE/$p"
  # a resume that found nothing to run rewrites sweep.json (already_done, ran: false, its own start and end):
  # the landed record of the runs keeps its first form then
  if ! { [ -f "$HERE/$p/sweep.json" ] && grep -q '"to_run": 0,' "$d/sweep.json" &&
         ! grep -q '"finished": null' "$d/sweep.json" && ! grep -q '"finished": null' "$HERE/$p/sweep.json"; }; then
    cp "$d/sweep.json" "$HERE/$p/"
    [ -f "$d/report.md" ] && cp "$d/report.md" "$HERE/$p/"
  fi
  [ -d "$d/plots" ] && { rm -rf "$HERE/$p/plots"; cp -r "$d/plots" "$HERE/$p/"; }
  (cd "$d" && find runs -name summary.json -o -name eval.json) | while read -r f; do
    mkdir -p "$HERE/$p/$(dirname "$f")"
    cp "$d/$f" "$HERE/$p/$f"
  done
done
build/lpdm "$HERE/report.lua" --runs="$OUT"
# README's summary table is report.lua's summary.md, between two markers
if grep -q '<!-- paper-v2:summary:begin -->' README.md; then
  awk -v f="$HERE/summary.md" '
    /<!-- paper-v2:summary:begin -->/ { print; while ((getline l < f) > 0) print l; skip = 1; next }
    /<!-- paper-v2:summary:end -->/ { skip = 0 }
    !skip' README.md > README.md.tmp && mv README.md.tmp README.md
fi
