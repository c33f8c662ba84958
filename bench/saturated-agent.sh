#!/usr/bin/env bash
# A saturated load generator must give invalid probes, not a lower answer. mmsim (core 0) has
# room for W(T+1s)/S noop users; the agent runs with GOMAXPROCS=1 on core 1 beside HOGS busy
# loops, so it gets a fraction of a core and starts lagging well before the target's limit.
# The coordinator searches twice: with the validity check (MaxAgentUtilization 0.8, ours) and
# without it (1.0, what a tool that does not watch its generators concludes).
# Usage: bench/saturated-agent.sh      (WORKERS=8 SERVICE=2ms HOGS=2 BUDGET=900 seconds per search; needs taskset, jq, curl)
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS=${WORKERS:-8}
SERVICE=${SERVICE:-2ms}
HOGS=${HOGS:-2}
BUDGET=${BUDGET:-900}
MMSIM_PORT=${MMSIM_PORT:-18165}
AGENT_PORT=${AGENT_PORT:-14100}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
go build -o "$work/" ./cmd/loadtest ./cmd/mmsim ./cmd/coordinator

taskset -c 0 "$work/mmsim" --listen "127.0.0.1:$MMSIM_PORT" --metrics-listen "" --workers "$WORKERS" --service-time "$SERVICE" \
  --log-level WARN >"$work/mmsim.log" 2>&1 &
pids+=($!)
GOMAXPROCS=1 taskset -c 1 "$work/loadtest" server --listen "127.0.0.1:$AGENT_PORT" --log-level WARN >"$work/agent.log" 2>&1 &
pids+=($!)
for _ in $(seq "$HOGS"); do taskset -c 1 bash -c 'while :; do :; done' & pids+=($!); done
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$AGENT_PORT/healthz" >/dev/null && curl -sf "http://127.0.0.1:$MMSIM_PORT/api/v4/system/ping" >/dev/null && break
  sleep 0.1
done

jq --arg url "http://127.0.0.1:$MMSIM_PORT" '.ConnectionConfiguration.ServerURL=$url | .ConnectionConfiguration.WebSocketURL=($url|sub("^http";"ws"))
  | .UserControllerConfiguration.Type="noop" | .UsersConfiguration.MaxActiveUsers=8000
  | .ConnectionConfiguration.MaxIdleConns=8000 | .ConnectionConfiguration.MaxIdleConnsPerHost=8000 | .LogSettings.EnableConsole=false' \
  config/config.default.json >"$work/config.json"
(cd "$work" && ./loadtest init --config config.json --agent-id lt0 >/dev/null 2>&1) || true
ms=${SERVICE%ms}
truth=$(echo "$WORKERS * 1.1 / ($ms / 1000)" | bc -l | xargs printf '%.0f')
echo "mmsim: $WORKERS workers x $SERVICE: the model supports $truth noop users at a 100 ms mean latency"
for util in 0.8 1; do
  jq --arg url "http://127.0.0.1:$AGENT_PORT" --argjson u "$util" --argjson b "$BUDGET" '.ClusterConfig.Agents=[{"Id":"lt0","ApiURL":$url}]
    | .ClusterConfig.MaxActiveUsers=8000 | .Search.MaxAgentUtilization=$u | .Search.HoldSec=10 | .Search.SettleSec=3
    | .Search.RampRate=200 | .Search.StartUsers=500 | .Search.TimeBudgetSec=$b | .LogSettings.EnableConsole=false' \
    config/coordinator.default.json >"$work/coordinator-$util.json"
  start=$(date +%s)
  "$work/coordinator" --config "$work/coordinator-$util.json" --agent-config "$work/config.json" --results "$work/results-$util" \
    --listen 127.0.0.1:0 >"$work/coordinator-$util.log" 2>&1 || true
  report=$(ls "$work"/results-"$util"/*/report.json)
  printf 'MaxAgentUtilization %-4s %s | agent-limited %s | probes: %s | %ss\n' "$util" "$(tail -1 "$work/coordinator-$util.log")" \
    "$(jq .AgentLimited "$report")" "$(jq -r '[.Probes[] | "\(.users):\(.verdict)"] | join(" ")' "$report")" $(( $(date +%s) - start ))
done
echo "logs: $work"
