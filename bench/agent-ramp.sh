#!/usr/bin/env bash
# The most simulative users one agent sustains while its utilization stays <= 0.8, judged as
# the coordinator judges an agent (the highest of its per-second samples over a hold).
# mmsim (no capacity model) runs pinned to core 0, the agent to core 1, both GOMAXPROCS=1, on
# 127.0.0.1. Users are added STEP at a time, RATE a second; each step waits for its users to
# start, settles SETTLE, then samples WINDOW. It stops at the first step above 0.8, or USERS.
# Usage: bench/agent-ramp.sh   (about 1 minute per step; USERS=3000 STEP=250 RATE=50 by default;
# CPUPROFILE=/tmp/ramp.pprof profiles each step's window to /tmp/ramp.pprof.N). The last line is
# "sustained N simulative users on one core".
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-18065}
USERS=${USERS:-3000}
STEP=${STEP:-250}
RATE=${RATE:-50}
SETTLE=${SETTLE:-10s}
WINDOW=${WINDOW:-30s}
BASE="http://127.0.0.1:$PORT"
go build -o bin/ ./cmd/mmsim ./cmd/loadtest
go build -o bin/agentbench ./bench/agent
cfg=$(mktemp --suffix=.json)
# The instance the users work in: the default teams and channels, 100 users, 2,000 posts.
echo "{\"ConnectionConfiguration\":{\"ServerURL\":\"$BASE\"},\"InstanceConfiguration\":{\"NumUsers\":100,\"NumPosts\":2000,\"NumReactions\":200}}" > "$cfg"
GOMAXPROCS=1 taskset -c 0 bin/mmsim --listen "127.0.0.1:$PORT" --metrics-listen "" --log-level WARN >/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$cfg"' EXIT
for _ in $(seq 50); do curl -fs "$BASE/api/v4/system/ping" >/dev/null && break; sleep 0.1; done
bin/loadtest init --config "$cfg" >/dev/null 2>&1
GOMAXPROCS=1 taskset -c 1 bin/agentbench -server-url "$BASE" -mode ramp -users "$USERS" -step "$STEP" \
  -ramp-rate "$RATE" -settle "$SETTLE" -window "$WINDOW" ${CPUPROFILE:+-cpuprofile "$CPUPROFILE"}
