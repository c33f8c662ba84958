# Sourced by bench/agent-ramp.sh and bench/agent-warm.sh: builds the binaries, starts mmsim
# (no capacity model) pinned to core 0 with GOMAXPROCS=1 on 127.0.0.1:$PORT, and creates
# the instance the simulated users work in. USERS must be set.
#
# The instance (SHAPE):
# - small (default): 2 teams of 10 channels, 100 seeded users, 2,000 posts. Every simulated
#   user joins one of the 2 teams, so a team's town-square has half of them as members, and
#   the events each user receives grow with the number of users.
# - large: a team per TEAM_SIZE (250) users of USERS, 50 channels per team (10 public, 5
#   private, the rest direct and group), 500 seeded users, 20,000 posts. A simulated user
#   joins one team and its town-square and off-topic (about TEAM_SIZE members each at USERS),
#   and opens direct and group channels: the events each user receives stop growing with
#   the users, as in a deployment whose teams do not grow with it.
PORT=${PORT:-18065}
BASE="http://127.0.0.1:$PORT"
SHAPE=${SHAPE:-small}
TEAM_SIZE=${TEAM_SIZE:-250}
case "$SHAPE" in
small) instance='"NumUsers":100,"NumTeams":2,"NumChannels":10,"NumPosts":2000,"NumReactions":200' ;;
large) instance="\"NumUsers\":500,\"NumTeams\":$(((USERS + TEAM_SIZE - 1) / TEAM_SIZE)),\"NumChannels\":50,\"NumPosts\":20000,\"NumReactions\":2000" ;;
*) echo "SHAPE must be small or large, got $SHAPE" >&2; exit 2 ;;
esac
go build -o bin/ ./cmd/mmsim ./cmd/loadtest
go build -o bin/agentbench ./bench/agent
cfg=$(mktemp --suffix=.json)
echo "{\"ConnectionConfiguration\":{\"ServerURL\":\"$BASE\"},\"InstanceConfiguration\":{$instance}}" > "$cfg"
GOMAXPROCS=1 taskset -c 0 bin/mmsim --listen "127.0.0.1:$PORT" --metrics-listen "" --log-level WARN >/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$cfg"' EXIT
for _ in $(seq 50); do curl -fs "$BASE/api/v4/system/ping" >/dev/null && break; sleep 0.1; done
bin/loadtest init --config "$cfg" >/dev/null 2>&1
echo "shape=$SHAPE: {$instance}"
