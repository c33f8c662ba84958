#!/usr/bin/env bash
# An agent killed mid-search: mmsim with a capacity model (W workers x S per request; noop
# users with a 1 s think time and a mean-latency threshold T, so the truth is W(T+1s)/S,
# 440 by default), three agents (loadtest server), and the coordinator with the embedded
# engine. When probe KILL_AT starts, agent 2 gets SIGKILL; RESTART_AFTER seconds later it is
# started again on the same port. Prints the answer against the truth, the probes that
# were invalid because of the loss, and whether the agent was taken back; exit 1 if the
# answer is more than 3 % off. JOIN=1: the agents join the coordinator (loadtest server
# --join) instead of being listed, and the killed one joins again.
# Usage: bench/agent-kill.sh   (WORKERS=4 SERVICE=10ms KILL_AT=3 RESTART_AFTER=20 PORT=18600 JOIN=0)
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS=${WORKERS:-4}
SERVICE=${SERVICE:-10ms}
KILL_AT=${KILL_AT:-3}
RESTART_AFTER=${RESTART_AFTER:-20}
PORT=${PORT:-18600}
JOIN=${JOIN:-0}
go build -o bin/ ./cmd/mmsim ./cmd/loadtest ./cmd/coordinator
dir=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
bin/mmsim --listen "127.0.0.1:$PORT" --metrics-listen "127.0.0.1:$((PORT + 1))" --workers "$WORKERS" --service-time "$SERVICE" --log-level WARN >/dev/null 2>&1 &
pids+=($!)
agent() {
  if [ "$JOIN" = 1 ]; then
    bin/loadtest server --listen "" --join "ws://127.0.0.1:$((PORT + 20))/join" --join-id "a$1" --log-level warn >>"$dir/agent$1.log" 2>&1 &
  else
    bin/loadtest server --listen "127.0.0.1:$((PORT + 10 + $1))" --log-level warn >>"$dir/agent$1.log" 2>&1 &
  fi
  echo $!
}
for i in 1 2 3; do pids+=("$(agent $i)"); done
a2=${pids[2]}
for _ in $(seq 100); do curl -fs "127.0.0.1:$PORT/api/v4/system/ping" >/dev/null && { [ "$JOIN" = 1 ] || curl -fs "127.0.0.1:$((PORT + 13))/healthz" >/dev/null; } && break; sleep 0.1; done
echo "{\"ConnectionConfiguration\":{\"ServerURL\":\"http://127.0.0.1:$PORT\"},\"UserControllerConfiguration\":{\"Type\":\"noop\"},\"UsersConfiguration\":{\"MaxActiveUsers\":1000}}" >"$dir/config.json"
bin/loadtest init --config "$dir/config.json" >/dev/null 2>&1
cat >"$dir/coordinator.json" <<JSON
{"ClusterConfig": {"Agents": [{"Id": "a1", "ApiURL": "http://127.0.0.1:$((PORT + 11))"}, {"Id": "a2", "ApiURL": "http://127.0.0.1:$((PORT + 12))"},
  {"Id": "a3", "ApiURL": "http://127.0.0.1:$((PORT + 13))"}], "MaxActiveUsers": 1500},
 "MonitorConfig": {"ScrapeTargets": [{"Job": "mmsim", "URL": "http://127.0.0.1:$((PORT + 1))/metrics"}]},
 "Search": {"HoldSec": 10, "SettleSec": 3, "TimeBudgetSec": 1200},
 "LogSettings": {"EnableConsole": false}}
JSON
if [ "$JOIN" = 1 ]; then
  python3 - "$dir/coordinator.json" "127.0.0.1:$((PORT + 20))" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["ClusterConfig"]["Agents"] = []; c["ClusterConfig"]["MinJoinedAgents"] = 3
c["ClusterConfig"]["JoinListen"] = sys.argv[2]
json.dump(c, open(sys.argv[1], "w"))
PY
fi
start=$(date +%s)
bin/coordinator --config "$dir/coordinator.json" --agent-config "$dir/config.json" --results "$dir/results" --listen "" >"$dir/coord.out" 2>&1 &
cp=$!
until grep -q "probe $KILL_AT: [0-9]* users (" "$dir/coord.out" 2>/dev/null; do kill -0 $cp 2>/dev/null || break; sleep 0.2; done
sleep 2
kill -9 "$a2"
echo "$(date +%T) killed agent a2 at the start of probe $KILL_AT"
sleep "$RESTART_AFTER"
pids+=("$(agent 2)")
echo "$(date +%T) started agent a2 again"
code=0
wait $cp || code=$?
wall=$(( $(date +%s) - start ))
truth=$(awk -v w="$WORKERS" -v s="${SERVICE%ms}" 'BEGIN { printf "%d", w * 1.1 / (s / 1000) }')
grep -E "PASS|FAIL|INVALID|agent|supported users" "$dir/coord.out" | sed -e 's/^/  /' | cut -c1-220
found=$(sed -nE 's/^supported users: >?=? ?([0-9]+).*/\1/p' "$dir/coord.out")
report=$(sed -nE 's/.*report: (\S+report.json),.*/\1/p' "$dir/coord.out")
lost=$(python3 -c "import json,sys; r=json.load(open('$report')); print(sum(1 for p in r['Probes'] if 'agent' in p['reason'] and p['verdict']=='invalid'))" 2>/dev/null || echo "?")
back=$(python3 -c "import json; r=json.load(open('$report')); print(','.join(a['id']+('=up' if a['up'] else '=down') for a in r['Agents']))" 2>/dev/null || echo "?")
err=$(awk -v f="$found" -v t="$truth" 'BEGIN { printf "%+.1f", 100 * (f - t) / t }')
echo "found $found users against a truth of $truth ($err %) in ${wall}s, exit $code; $lost probes invalid from the loss; agents at the end: $back"
awk -v e="$err" 'BEGIN { exit (e < -3 || e > 3) }'
