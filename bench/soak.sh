#!/usr/bin/env bash
# A soak of a load plan: mmsim on 127.0.0.1, one agent (loadtest server), and the
# coordinator running examples/scripts' three scripts (REST, browse-and-post, WebSocket chat)
# with USERS users for MINUTES minutes. Every SAMPLE seconds it reads the agent's own
# /metrics (heap in use, goroutines, open file descriptors, resident memory) and prints one
# line; at the end it compares the first tenth of the samples at full users with the last tenth.
# Usage: bench/soak.sh   (USERS=100 MINUTES=60 SAMPLE=60 PORT=18400 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${USERS:-100}
MINUTES=${MINUTES:-60}
SAMPLE=${SAMPLE:-60}
PORT=${PORT:-18400}
MPORT=$((PORT + 1))
APORT=$((PORT + 2))
BASE="http://127.0.0.1:$PORT"
go build -o bin/ ./cmd/mmsim ./cmd/loadtest ./cmd/coordinator
dir=$(mktemp -d)
cp examples/scripts/*.star "$dir/"
sed -e "s#http://localhost:8065#$BASE#" -e "s#\"Users\": 40#\"Users\": $USERS#" \
  -e "s#\"SustainSec\": 60#\"SustainSec\": $((MINUTES * 60))#" \
  -e 's#"Writers": {"PrometheusListen": "127.0.0.1:9097"}#"Writers": {}#' examples/scripts/plan.json > "$dir/plan.json"
echo "{\"ClusterConfig\":{\"Agents\":[{\"Id\":\"soak\",\"ApiURL\":\"http://127.0.0.1:$APORT\"}],\"MaxActiveUsers\":$USERS}}" > "$dir/coordinator.json"
echo "{\"ConnectionConfiguration\":{\"ServerURL\":\"$BASE\"}}" > "$dir/cfg.json"
bin/mmsim --listen "127.0.0.1:$PORT" --metrics-listen "127.0.0.1:$MPORT" --log-level WARN >/dev/null 2>&1 &
mp=$!
bin/loadtest server --listen "127.0.0.1:$APORT" --log-level warn >"$dir/agent.out" 2>&1 &
ap=$!
trap 'kill $ap $mp 2>/dev/null; wait $ap $mp 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do curl -fs "$BASE/api/v4/system/ping" >/dev/null && curl -fs "127.0.0.1:$APORT/healthz" >/dev/null && break; sleep 0.1; done
bin/loadtest init --config "$dir/cfg.json" >/dev/null 2>&1
bin/coordinator --config "$dir/coordinator.json" --plan "$dir/plan.json" --results "$dir/results" --listen "" >"$dir/coord.out" 2>&1 &
cp=$!
echo "minute heap_inuse_MB goroutines open_fds rss_MB users"
end=$((SECONDS + MINUTES * 60 + 40))
while kill -0 $cp 2>/dev/null && [ $SECONDS -lt $end ]; do
  sleep "$SAMPLE"
  curl -fs "127.0.0.1:$APORT/metrics" | awk -v t=$SECONDS '
    $1 == "go_memstats_heap_inuse_bytes" { heap = $2 / 1048576 }
    $1 == "go_goroutines" { g = $2 }
    $1 == "process_open_fds" { fds = $2 }
    $1 == "process_resident_memory_bytes" { rss = $2 / 1048576 }
    /^loadtest_users_running/ { u += $2 }
    END { printf "%6.1f %8.1f %8d %8d %8.1f %5d\n", t / 60, heap, g, fds, rss, u }' || true
done | tee "$dir/samples.txt"
wait $cp || echo "coordinator exited with $?"
tail -3 "$dir/coord.out"
awk -v users="$USERS" 'NR > 1 && $6 == users { n++; row[n] = $0 } END {
  k = int(n / 10); if (k < 1) k = 1
  for (i = 1; i <= k; i++) { split(row[i], a); h1 += a[2]; g1 += a[3]; f1 += a[4]; r1 += a[5] }
  for (i = n - k + 1; i <= n; i++) { split(row[i], a); h2 += a[2]; g2 += a[3]; f2 += a[4]; r2 += a[5] }
  printf "first %d samples -> last %d: heap %.1f -> %.1f MB, goroutines %.0f -> %.0f, fds %.0f -> %.0f, rss %.1f -> %.1f MB\n",
    k, k, h1 / k, h2 / k, g1 / k, g2 / k, f1 / k, f2 / k, r1 / k, r2 / k }' "$dir/samples.txt"
