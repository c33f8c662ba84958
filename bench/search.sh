#!/usr/bin/env bash
# Capacity search, ours against the seed's fixed-step loop, in the same run on the same model:
# `loadtest demo` (mmsim with W workers x S per request, noop users, mean-latency threshold T;
# truth W(T+1s)/S) once per strategy, one after the other. The fixed-step loop stops as the seed's
# does: once 30 minutes after its first alert have a slope under 0.2 users/s, so expect ~35 min.
# Usage: bench/search.sh            (STRATEGIES="adaptive fixed-step" WORKERS=4 SERVICE=10ms THRESHOLD=100ms)
set -euo pipefail
cd "$(dirname "$0")/.."
STRATEGIES=${STRATEGIES:-"adaptive fixed-step"}
WORKERS=${WORKERS:-4}
SERVICE=${SERVICE:-10ms}
THRESHOLD=${THRESHOLD:-100ms}
OUT=${OUT:-$(mktemp -d)}
go build -o "$OUT/loadtest" ./cmd/loadtest
printf '%-11s %8s %8s %8s %10s\n' strategy found truth error wall
for s in $STRATEGIES; do
  start=$(date +%s)
  "$OUT/loadtest" demo --strategy "$s" --workers "$WORKERS" --service-time "$SERVICE" --latency-threshold "$THRESHOLD" \
    --time-budget 60m --results "$OUT/$s" >"$OUT/$s.log" 2>&1 || { echo "$s failed:"; tail -5 "$OUT/$s.log"; continue; }
  wall=$(( $(date +%s) - start ))
  line=$(grep '^demo: found' "$OUT/$s.log")
  found=$(sed -E 's/^demo: found ([0-9]+) users.*/\1/' <<<"$line")
  truth=$(sed -E 's/.*the model says ([0-9]+) .*/\1/' <<<"$line")
  err=$(sed -E 's/.*\(([-+][0-9.]+%)\)$/\1/' <<<"$line")
  printf '%-11s %8s %8s %8s %9ss\n' "$s" "$found" "$truth" "$err" "$wall"
done
echo "logs and reports: $OUT"
