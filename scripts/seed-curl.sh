#!/usr/bin/env bash
# Runs seed 001's agent walkthrough verbatim: mmsim as the target, `loadtest server` as the
# agent, then the README's curl commands, checking each answer.
#
#   scripts/seed-curl.sh                 # ports 8065 (mmsim) and 4000 (agent), as in the seed
#   AGENT_PORT=4100 MMSIM_PORT=8100 scripts/seed-curl.sh
#
# It builds both binaries, works in a temporary directory, and stops everything it started.
set -euo pipefail

AGENT_PORT=${AGENT_PORT:-4000}
MMSIM_PORT=${MMSIM_PORT:-8065}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "seed-curl: FAIL: $*" >&2; exit 1; }

(cd "$root" && go build -o "$work/bin/loadtest" ./cmd/loadtest && go build -o "$work/bin/mmsim" ./cmd/mmsim)
"$work/bin/mmsim" --listen "127.0.0.1:$MMSIM_PORT" --metrics-listen 127.0.0.1:0 >"$work/mmsim.log" 2>&1 &
pids+=($!)
"$work/bin/loadtest" server --listen "127.0.0.1:$AGENT_PORT" >"$work/agent.log" 2>&1 &
agent_pid=$!
pids+=($agent_pid)
for _ in $(seq 100); do
	curl -sf "http://localhost:$AGENT_PORT/healthz" >/dev/null && curl -sf "http://localhost:$MMSIM_PORT/api/v4/system/ping" >/dev/null && break
	sleep 0.1
done

cd "$work"
mkdir config
# The seed: "Copy the config.default.json file to config.json and populate the fields".
sed "s#http://localhost:8065#http://localhost:$MMSIM_PORT#" "$root/config/config.default.json" >config/config.json
"$work/bin/loadtest" init >init.log 2>&1 || { cat init.log; fail "loadtest init"; }

expect() { # expect NAME OUTPUT PATTERN
	echo "$2" | grep -q "$3" || fail "$1: got $2; want it to match $3"
	echo "seed-curl: ok: $1"
}

# The seed's commands, verbatim but for the port.
out=$(curl -d @config/config.json http://localhost:$AGENT_PORT/loadagent/create?id=lt1 -s)
expect create "$out" '"message":"load-test agent created"'
out=$(curl -X POST http://localhost:$AGENT_PORT/loadagent/lt1/run -s)
expect run "$out" '"State":"running"'
out=$(curl -X POST http://localhost:$AGENT_PORT/loadagent/lt1/addusers?amount=100 -s)
expect addusers "$out" '"ActiveUsers":100,'
sleep 3
out=$(curl -X POST http://localhost:$AGENT_PORT/loadagent/lt1/removeusers?amount=10 -s)
expect removeusers "$out" '"ActiveUsers":90,'
out=$(curl -X POST http://localhost:$AGENT_PORT/loadagent/lt1/stop -s)
expect stop "$out" '"State":"stopped"'
expect "no user errors" "$out" '"NumErrors":0,'
# And a wrong call gets a real status code.
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST http://localhost:$AGENT_PORT/loadagent/lt1/stop)
expect "stop twice is 409" "$code" '^409$'

# SIGTERM ends the agent cleanly.
kill -TERM "$agent_pid"
wait "$agent_pid" || fail "the agent exited with $? on SIGTERM"
grep -q "agent stopped" agent.log || { cat agent.log; fail "no clean stop in the agent's log"; }
echo "seed-curl: ok: SIGTERM"
echo "seed-curl: PASS"
