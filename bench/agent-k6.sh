#!/usr/bin/env bash
# CPU per request of simulative users against k6 sending the same requests, in the same run:
# 1. one simulative user's REST requests are recorded (bench/agent -mode record: USERS users
#    for RECORD through a recording proxy; the longest session is kept);
# 2. the agent runs USERS simulative users (bench/agent -mode ramp with one step) and prints
#    its CPU per request, WebSocket events included;
# 3. k6 runs USERS VUs, each logging in as the recorded user and replaying its requests at
#    their recorded times (bench/k6-replay.js), twice, for SHORT and LONG seconds: the
#    difference of CPU over the difference of requests is k6's CPU per request, without
#    its start-up (compiling the script for each VU).
# mmsim runs pinned to core 0, the agent and k6 take turns on core 1, all on 127.0.0.1.
# Usage: bench/agent-k6.sh   (USERS=500 RECORD=3m SHAPE=small; needs k6: K6=path, k6 on PATH,
# or bin/k6 from GOBIN=$PWD/bin go install go.k6.io/k6@v1.8.1)
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${USERS:-500}
RECORD=${RECORD:-3m}
SHORT=${SHORT:-15}
LONG=${LONG:-75}
K6=${K6:-$(command -v k6 || { [ -x bin/k6 ] && echo bin/k6; } || true)}
[ -n "$K6" ] || { echo "k6 not found (GOBIN=\$PWD/bin go install go.k6.io/k6@v1.8.1)" >&2; exit 1; }
. bench/simulative-target.sh
rec=$(mktemp --suffix=.json)
sum=$(mktemp --suffix=.json)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$cfg" "$rec" "$sum"' EXIT
GOMAXPROCS=1 taskset -c 1 bin/agentbench -server-url "$BASE" -mode record -users "$USERS" -ramp-rate 50 -duration "$RECORD" -out "$rec"
a=$(GOMAXPROCS=1 taskset -c 1 bin/agentbench -server-url "$BASE" -mode ramp -users "$USERS" -step "$USERS" -ramp-rate 50 | grep '^ramp users=')
echo "agent $a"
k6run() { # k6run SECONDS: prints "cpu_seconds requests failed"
  local out cpu
  out=$( { /usr/bin/time -f "k6_cpu=%U+%S" taskset -c 1 "$K6" run -q --no-usage-report --summary-export "$sum" \
    -e BASE="$BASE" -e RECORDED="$rec" -e VUS="$USERS" -e DURATION="${1}s" bench/k6-replay.js >/dev/null; } 2>&1 )
  cpu=$(grep -o 'k6_cpu=[0-9.+]*' <<<"$out" | cut -d= -f2 | bc -l)
  python3 -c "import json; m=json.load(open('$sum'))['metrics']; print($cpu, m['http_reqs']['count'], m['http_req_failed']['passes'])"
}
read -r c1 n1 f1 < <(k6run "$SHORT")
read -r c2 n2 f2 < <(k6run "$LONG")
agent_us=$(grep -o 'cpu_per_req=[0-9.]*' <<<"$a" | cut -d= -f2)
python3 - "$c1" "$n1" "$c2" "$n2" "$f2" "$agent_us" "$SHORT" "$LONG" <<'PY'
import sys
c1, n1, c2, n2, f2, agent, short, long = map(float, sys.argv[1:])
k = (c2 - c1) * 1e6 / (n2 - n1)
print(f"k6    requests={n2:.0f} in {long:.0f}s ({(n2-n1)/(long-short):.0f}/s) failed={f2/n2:.1%} cpu={c2:.2f}s cpu_per_req={k:.0f}us (marginal: {short:.0f}s and {long:.0f}s runs)")
print(f"agent/k6 CPU per request = {agent/k:.2f}x")
PY
