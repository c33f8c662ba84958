#!/usr/bin/env bash
# Fixed-load sweep: simulative users held SUSTAIN seconds at each count given, with a load plan
# ("UserType": "simulative") against mmsim (WORKERS x SERVICE); prints the mean latency of all
# requests over the periods after the ramp. It checks a capacity search's answer against the
# target itself when no formula is trusted (bursty users).
# Usage: bench/sweep.sh 140 150 160 180     (WORKERS=4 SERVICE=10ms SUSTAIN=60 PORT=18265)
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS=${WORKERS:-4}
SERVICE=${SERVICE:-10ms}
SUSTAIN=${SUSTAIN:-60}
PORT=${PORT:-18265}
work=$(mktemp -d)
go build -o "$work/" ./cmd/loadtest ./cmd/mmsim
"$work/mmsim" --listen "127.0.0.1:$PORT" --metrics-listen "" --workers "$WORKERS" --service-time "$SERVICE" --log-level WARN >"$work/mmsim.log" 2>&1 &
mm=$!
trap 'kill $mm 2>/dev/null || true' EXIT
sleep 1
"$work/loadtest" init --server-url "http://127.0.0.1:$PORT" --agent-id local >/dev/null 2>&1
for n in "$@"; do
  cat >"$work/plan-$n.json" <<JSON
{"Name": "s$n", "UserType": "simulative", "Targets": ["http://127.0.0.1:$PORT"], "Users": $n,
 "RampUpSec": 10, "RampSteps": 10, "SustainSec": $SUSTAIN, "WindDownSec": 0, "ReportEverySec": 20}
JSON
  (cd "$work" && ./loadtest plan "plan-$n.json" --results results >"plan-$n.log" 2>&1)
  python3 - "$(ls -d "$work"/results/plan-s"$n"-* | tail -1)/metrics.jsonl" "$n" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
n = total = 0
for p in rows[1:-1]:  # after the first period (the ramp), before the last (the end)
    for m in p["metrics"]:
        if m["key"].startswith("route "):
            n += m["count"]; total += m["mean_ns"] * m["count"]
print("users %s: %d requests in the sustain periods, mean %.1f ms" % (sys.argv[2], n, total / n / 1e6 if n else 0))
PY
done
echo "logs and reports: $work"
