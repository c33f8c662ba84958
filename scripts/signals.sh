#!/usr/bin/env bash
# SIGTERM and SIGINT to every binary, as an operator or a container runtime sends them,
# against mmsim: the coordinator during a search (SIGTERM), the plain run (SIGINT), a plan
# (SIGTERM) and the agent (SIGTERM). Each must stop its users, write its report or summary,
# and exit with the documented code (130 interrupted; 0 for the agent, a server told to
# stop). TestSignals runs it on free ports.
#
#   MMSIM_PORT=18700 AGENT_PORT=18710 scripts/signals.sh
set -euo pipefail

MMSIM_PORT=${MMSIM_PORT:-18700}
AGENT_PORT=${AGENT_PORT:-18710}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "signals: FAIL: $*" >&2; exit 1; }
# waitfor FILE PATTERN SECONDS: until the file has a line matching the pattern.
waitfor() {
	for _ in $(seq $(($3 * 10))); do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	fail "no line matching '$2' in $1 after $3 s: $(tail -5 "$1")"
}

(cd "$root" && go build -o "$work/bin/" ./cmd/mmsim ./cmd/loadtest ./cmd/coordinator)
bin=$work/bin
"$bin/mmsim" --listen "127.0.0.1:$MMSIM_PORT" --metrics-listen 127.0.0.1:0 --log-level WARN >"$work/mmsim.log" 2>&1 &
pids+=($!)
"$bin/loadtest" server --listen "127.0.0.1:$AGENT_PORT" --log-level warn >"$work/agent.log" 2>&1 &
agent=$!
pids+=($agent)
for _ in $(seq 100); do
	curl -sf "http://127.0.0.1:$AGENT_PORT/healthz" >/dev/null && curl -sf "http://127.0.0.1:$MMSIM_PORT/api/v4/system/ping" >/dev/null && break
	sleep 0.1
done
cd "$work"
cat >config.json <<JSON
{"ConnectionConfiguration": {"ServerURL": "http://127.0.0.1:$MMSIM_PORT"}, "UserControllerConfiguration": {"Type": "noop"},
 "UsersConfiguration": {"MaxActiveUsers": 200}, "LogSettings": {"EnableConsole": false}}
JSON
"$bin/loadtest" init --config config.json >init.log 2>&1 || { cat init.log; fail "loadtest init"; }

# 1. The coordinator, SIGTERM during its second probe.
cat >coordinator.json <<JSON
{"ClusterConfig": {"Agents": [{"Id": "lt0", "ApiURL": "http://127.0.0.1:$AGENT_PORT"}], "MaxActiveUsers": 200},
 "Search": {"StartUsers": 10, "HoldSec": 4, "SettleSec": 1}, "LogSettings": {"EnableConsole": false}}
JSON
"$bin/coordinator" --config coordinator.json --agent-config config.json --results results --listen "" >coord.out 2>&1 &
c=$!
pids+=($c)
waitfor coord.out "probe 2: [0-9]+ users \(" 60
sleep 1
kill -TERM $c
code=0; wait $c || code=$?
[ "$code" = 130 ] || fail "coordinator exited $code after SIGTERM; want 130: $(tail -5 coord.out)"
tail -1 coord.out | grep -qE '^supported users: >= 10 \(interrupted\)$' || fail "coordinator's last line: $(tail -1 coord.out)"
report=$(sed -nE 's/.*report: (\S+report.json),.*/\1/p' coord.out)
grep -q '"Outcome": *"interrupted"' "$report" || fail "report $report lacks Outcome interrupted"
[ "$(curl -sf "http://127.0.0.1:$AGENT_PORT/loadagent/")" = "{}" ] || fail "load tests left on the agent: $(curl -s "http://127.0.0.1:$AGENT_PORT/loadagent/")"
echo "coordinator: SIGTERM in probe 2 -> exit 130, '$(tail -1 coord.out)', report written, agent emptied"

# 2. The plain run, SIGINT (Ctrl-C) after 3 s.
"$bin/loadtest" --config config.json -n 5 -d 1m --summary summary.json >run.out 2>&1 &
r=$!
pids+=($r)
waitfor run.out "users 5" 20
sleep 1
kill -INT $r
code=0; wait $r || code=$?
[ "$code" = 130 ] || fail "loadtest exited $code after SIGINT; want 130: $(tail -5 run.out)"
grep -q '"interrupted": *true' summary.json || fail "summary not written as interrupted: $(head -c 300 summary.json)"
grep -q "interrupted after" run.out || fail "no interrupted summary printed"
echo "loadtest: SIGINT -> exit 130, summary written"

# 3. A plan, SIGTERM in its sustain.
cat >plan.json <<JSON
{"Name": "sig", "Targets": ["http://127.0.0.1:$MMSIM_PORT"], "Users": 4, "RampUpSec": 1, "SustainSec": 60, "ReportEverySec": 60,
 "Scripts": [{"Name": "ping", "PaceMs": 200, "Source": "def main():\n    get('/api/v4/system/ping', name='ping')\n"}]}
JSON
"$bin/loadtest" plan plan.json --results results >plan.out 2>&1 &
p=$!
pids+=($p)
waitfor plan.out "sustain" 20
sleep 2
kill -TERM $p
code=0; wait $p || code=$?
[ "$code" = 130 ] || fail "loadtest plan exited $code after SIGTERM; want 130: $(tail -5 plan.out)"
preport=$(sed -nE 's/.*report: (\S+report.json),.*/\1/p' plan.out)
grep -q '"final": *true' "$preport" || fail "plan report $preport lacks its final period"
echo "loadtest plan: SIGTERM -> exit 130, last period and report written"

# 4. The agent, SIGTERM with a load test running: its users log out, it exits 0.
curl -sf -X POST "http://127.0.0.1:$AGENT_PORT/loadagent/create?id=sig" -d @config.json >/dev/null || fail "create"
curl -sf -X POST "http://127.0.0.1:$AGENT_PORT/loadagent/sig/run" >/dev/null || fail "run"
curl -sf -X POST "http://127.0.0.1:$AGENT_PORT/loadagent/sig/addusers?amount=5" >/dev/null || fail "addusers"
sleep 2
kill -TERM $agent
code=0; wait $agent || code=$?
[ "$code" = 0 ] || fail "the agent exited $code after SIGTERM; want 0: $(tail -5 agent.log)"
echo "loadtest server: SIGTERM with 5 users -> exit 0"
echo "signals: PASS"
