#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/study_cost.sh: what a study (scripts/paper.lua's sweep) would cost
# with another build, estimated from a finished study's own per-run times.
#
#   bench/study_cost.sh OLD_BUILD NEW_BUILD STUDY_DIR [FRACTION]   (FRACTION default 40)
#
# STUDY_DIR is a finished study's folder (its sweep.json and config file,
# e.g. docs/results/paper-full). For every (env, algo, variant) of its plan,
# seed 1 runs for 1/FRACTION of its budget with OLD_BUILD and then with
# NEW_BUILD (alternating, so a drift in the shared machine hits both), one
# BLAS thread and LPDM_THREADS=1 (as a sweep at --jobs=2 runs); the ratio
# new/old of the two wall times scales the study's measured per-run times
# of that group (sweep.json's "in X s" of each run). Prints one row per
# group and the totals: measured (old), estimated (new), single-core hours
# and at --jobs=2 (half, if the two jobs never wait on each other).
# Caveats, also printed: a short run's share of start-up (MuJoCo's model,
# Lua) is larger than a full run's, which pulls every ratio towards 1; a
# REINFORCE run's cost per step grows with its episodes' length (its local
# update is one episode's B x B pairs), which the first 1/FRACTION of a run
# does not show. NEW_BUILD's scripts/train.lua is the one beside it.
set -euo pipefail
old=${1:?old build dir}; new=${2:?new build dir}; study=${3:?study dir}; frac=${4:-40}
src=$(cd "$(dirname "$0")/.." && pwd)
oldsrc=$(cd "$old/.." && pwd); newsrc=$(cd "$new/.." && pwd)
cfg=$(ls "$study"/*.lua | head -1)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export OPENBLAS_NUM_THREADS=1 LPDM_THREADS=1
. "$src/bench/lib.sh"
bench_machine
echo "# $(date -u +%Y-%m-%dT%H:%MZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# study: $study ($cfg); runs of 1/$frac of each budget, seed 1, OPENBLAS_NUM_THREADS=1 LPDM_THREADS=1"
# the plan: one seed-1 command line per group (the sweep's own dry run)
"$new/lpdm" "$src/scripts/sweep.lua" "$cfg" --dry-run 2>/dev/null | grep "^todo" | grep "/s1 " >"$tmp/plan"
: >"$tmp/ratios"
while read -r _ rel rest; do
  eval "set -- $rest"
  shift 2 # the lpdm binary and train.lua of the dry run
  args=()
  for a in "$@"; do
    case $a in
      --steps=*) args+=("--steps=$(( ${a#--steps=} / frac ))") ;;
      --out=*) ;;
      *) args+=("$a") ;;
    esac
  done
  group=${rel#runs/}; group=${group%/s1}
  t() { # build srcdir -> wall seconds (a failed run is said and still timed)
    bench_wall "$tmp/log" "$1/lpdm" "$2/scripts/train.lua" "${args[@]}" --out="$tmp/run" | tr -d '\n' || true
    rm -rf "$tmp/run"
  }
  to=$(t "$old" "$oldsrc"); tn=$(t "$new" "$newsrc")
  echo "$group $to $tn" >>"$tmp/ratios"
done <"$tmp/plan"
# the study's per-run times by group, and the estimate
cat >"$tmp/est.lua" <<LUA
package.path = "$src/scripts/lib/?.lua;" .. package.path
local json = require("json")
local f = assert(io.open("$study/sweep.json")); local d = json.decode(f:read("a")); f:close()
local t, n = {}, {}
for _, r in ipairs(d.runs) do
  local x, u = (r.log_tail or ""):match("in ([%d.]+) (%a+) %(")
  if x then
    local s = tonumber(x) * ((u == "min" and 60) or (u == "h" and 3600) or 1)
    local g = r.env .. "/" .. r.algo .. "/" .. r.variant
    t[g] = (t[g] or 0) + s; n[g] = (n[g] or 0) + 1
  end
end
local rows, O, N, byenv = {}, 0, 0, {}
for line in io.lines("$tmp/ratios") do
  local g, to, tn = line:match("^(%S+) (%S+) (%S+)$")
  to, tn = tonumber(to), tonumber(tn)
  if t[g] then
    local ratio = tn / to
    rows[#rows + 1] = { g = g, old = t[g], new = t[g] * ratio, ratio = ratio, n = n[g] }
    O, N = O + t[g], N + t[g] * ratio
    local env = g:match("^[^/]+"); byenv[env] = (byenv[env] or 0) + t[g] * ratio
  end
end
table.sort(rows, function(a, b) return a.new > b.new end)
print(string.format("%-44s %5s %10s %10s %7s", "group (env/algo/variant)", "runs", "old h", "new h", "new/old"))
for _, r in ipairs(rows) do
  print(string.format("%-44s %5d %10.2f %10.2f %7.2f", r.g, r.n, r.old / 3600, r.new / 3600, r.ratio))
end
print(string.format("total: measured %.1f h single-core (%.1f h at --jobs=2); estimated %.1f h (%.1f h at --jobs=2), %.2fx",
  O / 3600, O / 7200, N / 3600, N / 7200, N / O))
local envs = {}
for e, s in pairs(byenv) do envs[#envs + 1] = { e = e, s = s } end
table.sort(envs, function(a, b) return a.s > b.s end)
local parts = {}
for _, e in ipairs(envs) do parts[#parts + 1] = string.format("%s %.1f h (%.0f%%)", e.e, e.s / 3600, 100 * e.s / N) end
print("estimated by env: " .. table.concat(parts, ", "))
print("# caveats: short runs weigh start-up more (ratios pulled towards 1); REINFORCE's later, longer episodes are not sampled")
LUA
"$new/lpdm" "$tmp/est.lua"
