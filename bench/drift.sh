#!/usr/bin/env bash
# How a steady population of simulative users' demand moves with their age: N users (175)
# run for MINUTES (12) against mmsim with the demo's capacity model (4 workers x 10 ms) on
# 127.0.0.1, and mmsim's per-route request counters are read every minute. It prints each
# route's requests per second per user, minute by minute, and the change from minutes 2-4
# to the last three.
# Usage: bench/drift.sh   (N=175 MINUTES=12 PORT=18300 by default; MINUTES >= 7)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-175}
MINUTES=${MINUTES:-12}
PORT=${PORT:-18300}
MPORT=$((PORT + 1))
BASE="http://127.0.0.1:$PORT"
go build -o bin/ ./cmd/mmsim ./cmd/loadtest
dir=$(mktemp -d)
echo "{\"ConnectionConfiguration\":{\"ServerURL\":\"$BASE\",\"WebSocketURL\":\"ws://127.0.0.1:$PORT\"},\"InstanceConfiguration\":{\"NumTeams\":2}}" > "$dir/cfg.json"
bin/mmsim --listen "127.0.0.1:$PORT" --metrics-listen "127.0.0.1:$MPORT" --workers 4 --service-time 10ms --log-level WARN >/dev/null 2>&1 &
mp=$!
trap 'kill $mp 2>/dev/null; wait $mp 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do curl -fs "$BASE/api/v4/system/ping" >/dev/null && break; sleep 0.1; done
bin/loadtest init --config "$dir/cfg.json" >/dev/null 2>&1
bin/loadtest --config "$dir/cfg.json" -n "$N" -d "$((MINUTES + 1))m" --type simulative >"$dir/lt.out" 2>&1 &
lp=$!
for i in $(seq 0 "$MINUTES"); do
  [ "$i" -gt 0 ] && sleep 60
  curl -fs "127.0.0.1:$MPORT/metrics" | awk -v m="$i" '
    /^mattermost_api_time_count\{/ { match($0, /handler="[^"]*"/); h = substr($0, RSTART + 9, RLENGTH - 10)
      match($0, /method="[^"]*"/); print m, substr($0, RSTART + 8, RLENGTH - 9) "_" h, $NF }
    /^mattermost_http_requests_total / { print m, "ALL", $2 }
    /^mattermost_websocket_event_total\{type="typing"/ { print m, "typing-events", $NF }'
done > "$dir/counts.txt"
kill -INT $lp 2>/dev/null || true
wait $lp 2>/dev/null || true
awk -v n="$N" -v last="$MINUTES" '
  { c[$1, $2] += $3; keys[$2] = 1 }
  END {
    for (k in keys) {
      line = sprintf("%-45s", k); early = 0; late = 0
      for (m = 1; m <= last; m++) {
        r = (c[m, k] - c[m - 1, k]) / 60 / n; line = line sprintf(" %6.3f", r)
        if (m >= 2 && m <= 4) early += r / 3
        if (m > last - 3) late += r / 3
      }
      change = early > 0 ? sprintf("%+.0f%%", 100 * (late / early - 1)) : "new"
      if (early > 0.01 || late > 0.01) printf "%s  | %.3f -> %.3f (%s)\n", line, early, late, change
    }
  }' "$dir/counts.txt" | sort -k1,1
