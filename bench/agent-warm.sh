#!/usr/bin/env bash
# Memory per warm simulative user: USERS users (default think times and weights) are active
# for DURATION, then the agent's heap and stacks are measured with all of them and again
# after half have left; the difference over the leavers is a warm user's cost, without what
# the agent shares among users. mmsim runs pinned to core 0, the agent to core 1, both
# GOMAXPROCS=1, on 127.0.0.1.
# Usage: bench/agent-warm.sh   (USERS=1000 DURATION=10m RATE=50 SHAPE=small by default; SHAPE=large
# for a team per 250 users, see bench/simulative-target.sh; MEMPROFILE=/tmp/warm.heap writes
# the warm agent's heap to /tmp/warm.heap.USERS).
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${USERS:-1000}
DURATION=${DURATION:-10m}
RATE=${RATE:-50}
. bench/simulative-target.sh
GOMAXPROCS=1 taskset -c 1 bin/agentbench -server-url "$BASE" -mode warm -users "$USERS" -ramp-rate "$RATE" \
  -duration "$DURATION" ${MEMPROFILE:+-memprofile "$MEMPROFILE"}
