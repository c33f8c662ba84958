#!/usr/bin/env bash
# The most simulative users one agent sustains while its utilization stays <= 0.8, judged as
# the coordinator judges an agent: at most 5 % of its per-second samples over a hold above 0.8.
# mmsim (no capacity model) runs pinned to core 0, the agent to core 1, both GOMAXPROCS=1, on
# 127.0.0.1. Users are added STEP at a time, RATE a second; each step waits for its users to
# start, settles SETTLE, then samples WINDOW. It stops at the first step not sustained, or USERS.
# Usage: bench/agent-ramp.sh   (about 1 minute per step; USERS=3000 STEP=250 RATE=50 SHAPE=small
# by default, SHAPE=large for a team per 250 users (bench/simulative-target.sh); CPUPROFILE=/tmp/ramp.pprof profiles each step's window to /tmp/ramp.pprof.N, and
# MEMPROFILE=/tmp/ramp.heap writes each step's heap to /tmp/ramp.heap.N; PROFILE_IMAGES=revalidate
# asks for every author's picture at every view, as mattermost-load-test-ng). The last line is
# "sustained N simulative users on one core".
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${USERS:-3000}
STEP=${STEP:-250}
RATE=${RATE:-50}
SETTLE=${SETTLE:-10s}
WINDOW=${WINDOW:-30s}
. bench/simulative-target.sh # mmsim on core 0 and the instance (SHAPE=small or large: see there)
env ${AGENT_GOGC:+GOGC=$AGENT_GOGC} GOMAXPROCS=1 taskset -c 1 bin/agentbench -server-url "$BASE" -mode ramp -users "$USERS" -step "$STEP" \
  -ramp-rate "$RATE" -settle "$SETTLE" -window "$WINDOW" ${CPUPROFILE:+-cpuprofile "$CPUPROFILE"} ${MEMPROFILE:+-memprofile "$MEMPROFILE"} \
  ${PROFILE_IMAGES:+-profile-images "$PROFILE_IMAGES"}
