#!/usr/bin/env bash
# The distributed system as plain processes on this machine (`make cluster`): mmsim with a
# capacity model, three agents that join the coordinator, the coordinator, and a real
# Prometheus (Debian's `prometheus`, not the embedded engine) scraping the target, the agents
# and the coordinator, which the coordinator asks. The search must land on the model's answer:
# 2 workers x 20 ms serve 100 requests/s, noop users make one request per (1 s + latency), so
# a 100 ms mean-latency threshold holds up to 2 x 1.1 / 0.02 = 110 users.
#
# It prints "cluster: answer N (the model says 110) at UNIX_TIME" and, with KEEP=1, keeps
# Prometheus up ("cluster: prometheus URL") until it gets SIGTERM, for a look at the data
# (TestCluster checks every Grafana panel's query there). Ports: BASE_PORT .. BASE_PORT+9.
#
#   scripts/cluster.sh                 # or: make cluster
#   BASE_PORT=19000 KEEP=1 scripts/cluster.sh
set -euo pipefail

BASE=${BASE_PORT:-18800}
MMSIM=$BASE; MMSIM_METRICS=$((BASE + 1)); JOIN=$((BASE + 2)); STATUS=$((BASE + 3)); PROM=$((BASE + 4))
AGENTS=($((BASE + 5)) $((BASE + 6)) $((BASE + 7)))
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	sleep 0.5
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 0' TERM INT
fail() { echo "cluster: FAIL: $*" >&2; for f in "$work"/*.log; do echo "== $f" >&2; tail -20 "$f" >&2; done; exit 1; }
up() { for _ in $(seq 300); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; fail "$1 does not answer"; }
command -v prometheus >/dev/null || fail "prometheus is not installed (apt-get install prometheus; make deps does it)"

(cd "$root" && go build -o "$work/bin/" ./cmd/mmsim ./cmd/loadtest ./cmd/coordinator)
bin=$work/bin
cd "$work"

"$bin/mmsim" --listen "127.0.0.1:$MMSIM" --metrics-listen "127.0.0.1:$MMSIM_METRICS" --workers 2 --service-time 20ms \
	--log-level warn >mmsim.log 2>&1 &
pids+=($!)
up "http://127.0.0.1:$MMSIM/api/v4/system/ping"

cat >prometheus.yml <<YAML
global: {scrape_interval: 1s, scrape_timeout: 900ms}
scrape_configs:
  - job_name: mattermost
    static_configs: [{targets: ['127.0.0.1:$MMSIM_METRICS']}]
  - job_name: agents
    static_configs: [{targets: ['127.0.0.1:${AGENTS[0]}', '127.0.0.1:${AGENTS[1]}', '127.0.0.1:${AGENTS[2]}']}]
  - job_name: coordinator
    static_configs: [{targets: ['127.0.0.1:$STATUS']}]
YAML
prometheus --config.file=prometheus.yml --storage.tsdb.path=data --web.listen-address="127.0.0.1:$PROM" --log.level=warn >prometheus.log 2>&1 &
pids+=($!)
up "http://127.0.0.1:$PROM/-/ready"
echo "cluster: prometheus http://127.0.0.1:$PROM"

cat >config.json <<JSON
{"ConnectionConfiguration": {"ServerURL": "http://127.0.0.1:$MMSIM"}, "UserControllerConfiguration": {"Type": "noop"},
 "UsersConfiguration": {"MaxActiveUsers": 400}, "LogSettings": {"EnableConsole": false}}
JSON
"$bin/loadtest" init --config config.json >init.log 2>&1 || fail "loadtest init"
cat >coordinator.json <<JSON
{"ClusterConfig": {"Agents": [], "MaxActiveUsers": 400, "JoinListen": "127.0.0.1:$JOIN", "MinJoinedAgents": 3},
 "MonitorConfig": {"PrometheusURL": "http://127.0.0.1:$PROM", "QueryFailureTimeoutSec": 20},
 "Search": {"StartUsers": 20, "HoldSec": 4, "SettleSec": 2, "RampRate": 25},
 "LogSettings": {"EnableConsole": false}}
JSON
"$bin/coordinator" --config coordinator.json --agent-config config.json --results results --listen "127.0.0.1:$STATUS" \
	>coordinator.log 2>&1 &
coord=$!
pids+=($coord)
for i in 0 1 2; do
	"$bin/loadtest" server --listen "127.0.0.1:${AGENTS[$i]}" --join "ws://127.0.0.1:$JOIN/join" --log-level warn >"agent$i.log" 2>&1 &
	pids+=($!)
done
code=0; wait $coord || code=$?
[ "$code" = 0 ] || fail "the coordinator exited $code"
answer=$(sed -n 's/^supported users: \([0-9]*\)$/\1/p' coordinator.log)
[ -n "$answer" ] || fail "no answer: $(tail -3 coordinator.log)"
joined=$(grep -c "joined" coordinator.log || true)
echo "cluster: $joined agent joins; $(grep -c '^[0-9:]* probe' coordinator.log) probes; report $(sed -n 's/.*report: \(\S*report.json\).*/\1/p' coordinator.log)"
echo "cluster: answer $answer (the model says 110) at $(date +%s)"
if [ "$answer" -lt 104 ] || [ "$answer" -gt 116 ]; then fail "answer $answer is not within 5 % of 110"; fi
if [ "${KEEP:-0}" = 1 ]; then
	echo "cluster: done; Prometheus stays up until SIGTERM"
	while :; do sleep 1; done
fi
