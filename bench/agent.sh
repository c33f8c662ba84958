#!/usr/bin/env bash
# Measures the agent: memory per idle connected user, and CPU per HTTP request as a ratio to
# wrk doing the same request in the same run. mmsim runs pinned to core 0 (no capacity
# model), restarted for each phase; the agent and wrk take turns on core 1. Everything is on
# 127.0.0.1 and bounded in time.
# Usage: bench/agent.sh   (needs wrk: apt-get install wrk; k6 is optional; SKIP_IDLE=1 measures CPU only;
#        ROUNDS=2 CPU rounds; WARMUP=5 seconds of unmeasured wrk load on the fresh server first)
# Each CPU round also runs bench/fasthttp-getme, the same request from valyala/fasthttp's client.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-18065}
IDLE_USERS=${IDLE_USERS:-2000}
RAMP_RATE=${RAMP_RATE:-50}
CPU_USERS=${CPU_USERS:-32}
DURATION=${DURATION:-10}
BASE="http://127.0.0.1:$PORT"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
# k6 is optional: K6=path, or k6 on PATH, or bin/k6 (GOBIN=$PWD/bin go install go.k6.io/k6@v1.8.1).
K6=${K6:-$(command -v k6 || { [ -x bin/k6 ] && echo bin/k6; } || true)}
[ -n "$K6" ] || echo "k6 not found: the k6 rounds are skipped (GOBIN=\$PWD/bin go install go.k6.io/k6@v1.8.1)"
go build -o bin/ ./cmd/mmsim ./cmd/loadtest
go build -o bin/agentbench ./bench/agent
go build -o bin/fasthttp-getme ./bench/fasthttp-getme # fasthttp alone, without the agent around it
cfg=$(mktemp --suffix=.json)
echo "{\"ConnectionConfiguration\":{\"ServerURL\":\"$BASE\"},\"InstanceConfiguration\":{\"NumUsers\":3,\"NumTeams\":1}}" > "$cfg"
pid=
stop_server() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; pid=; }
trap 'stop_server; rm -f "$cfg"' EXIT
start_server() {
  stop_server
  GOMAXPROCS=1 taskset -c 0 bin/mmsim --listen "127.0.0.1:$PORT" --metrics-listen "" --log-level WARN >/dev/null &
  pid=$!
  for _ in $(seq 50); do curl -fs "$BASE/api/v4/system/ping" >/dev/null && break; sleep 0.1; done
  bin/loadtest init --config "$cfg" >/dev/null 2>&1
}

if [ "${SKIP_IDLE:-}" = "" ]; then
echo "== memory per idle user ($IDLE_USERS users, each logged in with a WebSocket open)"
echo "-- added $RAMP_RATE a second, as the coordinator ramps (Search.RampRate)"
start_server
GOMAXPROCS=1 taskset -c 1 bin/agentbench -server-url "$BASE" -mode idle -users "$IDLE_USERS" -ramp-rate "$RAMP_RATE"
echo "-- half at once, then the other half (a burst of logins)"
start_server
GOMAXPROCS=1 taskset -c 1 bin/agentbench -server-url "$BASE" -mode idle -users "$IDLE_USERS"

fi

echo "== CPU per GET /api/v4/users/me: agent ($CPU_USERS noop users back to back) vs wrk ($CPU_USERS connections), ${DURATION}s each"
start_server
TOKEN=$(curl -fsi -XPOST "$BASE/api/v4/users/login" -d '{"login_id":"sysadmin","password":"Sys@dmin-sample1"}' | awk -F': ' 'tolower($1)=="token"{print $2}' | tr -d '\r')
# Warm the fresh server up first (not measured): a cold one (small heap, frequent GC) serves
# whoever runs first more slowly, and a slower server costs a client more wake-ups a request.
taskset -c 1 wrk -t1 -c"$CPU_USERS" -d"${WARMUP:-5}s" -H "Authorization: Bearer $TOKEN" "$BASE/api/v4/users/me" >/dev/null
for round in $(seq "${ROUNDS:-2}"); do
  # the agent as configured by default (HTTPClient fasthttp), then with HTTPClient net/http
  std=$(GOMAXPROCS=1 taskset -c 1 bin/agentbench -server-url "$BASE" -mode cpu -users "$CPU_USERS" -duration "${DURATION}s" -http-client net/http)
  echo "net/http $std"
  a=$(GOMAXPROCS=1 taskset -c 1 bin/agentbench -server-url "$BASE" -mode cpu -users "$CPU_USERS" -duration "${DURATION}s")
  echo "$a"
  out=$( { /usr/bin/time -f "wrk_cpu=%U+%S" taskset -c 1 wrk -t1 -c"$CPU_USERS" -d"${DURATION}s" -H "Authorization: Bearer $TOKEN" "$BASE/api/v4/users/me"; } 2>&1 )
  reqs=$(awk '/requests in/{print $1}' <<<"$out")
  cpu=$(grep -o 'wrk_cpu=[0-9.+]*' <<<"$out" | cut -d= -f2 | bc -l)
  agent_us=$(grep -o 'cpu_per_request=[0-9.]*' <<<"$a" | cut -d= -f2)
  std_us=$(grep -o 'cpu_per_request=[0-9.]*' <<<"$std" | cut -d= -f2)
  python3 -c "w=$cpu*1e6/$reqs; print(f'wrk   requests=$reqs rate={$reqs/$DURATION:.0f}/s wrk_cpu=${cpu}s cpu_per_request={w:.1f}us  => agent/wrk = {$agent_us/w:.2f}x (net/http: {$std_us/w:.2f}x)')"
  f=$(GOMAXPROCS=1 taskset -c 1 bin/fasthttp-getme -url "$BASE/api/v4/users/me" -token "$TOKEN" -d "${DURATION}s")
  fus=$(grep -o 'cpu_per_request=[0-9.]*' <<<"$f" | cut -d= -f2)
  python3 -c "w=$cpu*1e6/$reqs; print(f'$f  => agent/fasthttp = {$agent_us/$fus:.2f}x, fasthttp/wrk = {$fus/w:.2f}x')"
  if [ -n "$K6" ]; then # the same request from k6's 32 VUs, back to back, bodies discarded
    sum=$(mktemp --suffix=.json)
    out=$( { /usr/bin/time -f "k6_cpu=%U+%S" taskset -c 1 "$K6" run -q --no-usage-report --summary-export "$sum" \
      -e BASE="$BASE" -e TOKEN="$TOKEN" -e VUS="$CPU_USERS" -e DURATION="${DURATION}s" bench/k6-getme.js >/dev/null; } 2>&1 )
    cpu=$(grep -o 'k6_cpu=[0-9.+]*' <<<"$out" | cut -d= -f2 | bc -l)
    python3 - "$sum" "$cpu" "$agent_us" "$DURATION" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
n, cpu, agent, d = m["http_reqs"]["count"], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
k = cpu * 1e6 / n
print(f"k6    requests={n} rate={n/d:.0f}/s k6_cpu={cpu:.2f}s failed={m['http_req_failed']['passes']} cpu_per_request={k:.1f}us  => agent/k6 = {agent/k:.2f}x")
PY
    rm -f "$sum"
  fi
done
