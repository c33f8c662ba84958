#!/usr/bin/env bash
# Measures mmsim's throughput with no capacity model: the server pinned to one core with
# GOMAXPROCS=1, wrk pinned to the other, both on 127.0.0.1. Each run is bounded to DURATION.
# Usage: bench/mmsim.sh  (needs wrk: apt-get install wrk; run `make build` first)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
PORT=${PORT:-18065}
BASE="http://127.0.0.1:$PORT"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
[ -x bin/mmsim ] || go build -o bin/ ./cmd/mmsim

GOMAXPROCS=1 taskset -c 0 bin/mmsim --listen "127.0.0.1:$PORT" --metrics-listen "" --log-level WARN >/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$lua"' EXIT
for _ in $(seq 50); do curl -fs "$BASE/api/v4/system/ping" >/dev/null && break; sleep 0.1; done

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
curl -fs -XPOST "$BASE/api/v4/users" -d '{"username":"bench","email":"bench@example.com","password":"testPass123$"}' >/dev/null
TOKEN=$(curl -fsi -XPOST "$BASE/api/v4/users/login" -d '{"login_id":"bench","password":"testPass123$"}' | awk -F': ' 'tolower($1)=="token"{print $2}' | tr -d '\r')
AUTH="Authorization: Bearer $TOKEN"
ME=$(curl -fs -H "$AUTH" "$BASE/api/v4/users/me" | json "['id']")
TEAM=$(curl -fs -H "$AUTH" -XPOST "$BASE/api/v4/teams" -d '{"name":"bench","display_name":"Bench","type":"O"}' | json "['id']")
CH=$(curl -fs -H "$AUTH" "$BASE/api/v4/users/me/teams/$TEAM/channels" | json "[0]['id']")
for i in $(seq 60); do
  curl -fs -H "$AUTH" -XPOST "$BASE/api/v4/posts" -d "{\"channel_id\":\"$CH\",\"message\":\"message $i with some words in it\"}" >/dev/null
done

lua=$(mktemp --suffix=.lua)
cat >"$lua" <<LUA
local paths = {
  "/api/v4/channels/$CH/posts?page=0&per_page=30",
  "/api/v4/users/me",
  "/api/v4/users/me/teams/$TEAM/channels",
  "/api/v4/users/me/teams/$TEAM/channels/members",
  "/api/v4/channels/$CH/stats?exclude_files_count=true",
  "/api/v4/users/$ME/image",
  "/api/v4/users/me/teams/unread?exclude_team=&include_collapsed_threads=true",
}
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], {["Authorization"] = "Bearer $TOKEN"})
end
LUA

run() {
  local name=$1; shift
  local out; out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$@")
  local rps; rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
  local p50; p50=$(awk '$1=="50%"{print $2}' <<<"$out")
  local p99; p99=$(awk '$1=="99%"{print $2}' <<<"$out")
  local non2xx; non2xx=$(awk '/Non-2xx/{print $NF}' <<<"$out")
  printf '| %s | %s | %s | %s | %s |\n' "$name" "$rps" "$p50" "$p99" "${non2xx:-0}"
}
echo "mmsim on 1 core (GOMAXPROCS=1, taskset -c 0); wrk -t1 -c$CONNS -d$DURATION on core 1"
echo "| workload | requests/s | p50 | p99 | non-2xx |"
echo "|---|---|---|---|---|"
run "GET /api/v4/users/me (authenticated)" -H "$AUTH" "$BASE/api/v4/users/me"
run "hot-path GET mix (7 routes)" -s "$lua" "$BASE"
run "GET / (root page, no auth)" "$BASE/"
