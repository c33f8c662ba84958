#!/usr/bin/env bash
# Fixed-load sweep: simulative users held SUSTAIN seconds at each count given, with a load plan
# ("UserType": "simulative") against mmsim (WORKERS x SERVICE); prints the mean latency of all
# requests over the periods after the ramp. It checks a capacity search's answer against the
# target itself when no formula is trusted (bursty users), with a 95 % interval from the
# periods' means (ReportEverySec 20 s: SUSTAIN=180 gives 9 of them).
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
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
n = total = 0
means = []  # each period's mean: batch means for the standard error
for p in rows[1:-1]:  # after the first period (the ramp), before the last (the end)
    pn = pt = 0
    for m in p["metrics"]:
        if m["key"].startswith("route "):
            pn += m["count"]; pt += m["mean_ns"] * m["count"]
    if pn:
        means.append(pt / pn / 1e6)
    n += pn; total += pt
k = len(means)
t = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228][k - 2] if 2 <= k <= 11 else 1.96
half = 0.0
if k >= 2:
    mu = sum(means) / k
    half = t * math.sqrt(sum((x - mu) ** 2 for x in means) / (k - 1) / k)
print("users %s: %d requests in %d sustain periods, mean %.1f ms (±%.1f at 95%%, batch means of the periods)" % (sys.argv[2], n, k, total / n / 1e6 if n else 0, half))
PY
done
echo "logs and reports: $work"
