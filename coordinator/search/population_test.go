package search

import (
	"strings"
	"testing"

	"github.com/loadtest/loadtest/internal/usermetrics"
)

// TestUserProblem: the share that makes a probe invalid, and what the reason says.
func TestUserProblem(t *testing.T) {
	for _, tc := range []struct {
		h    usermetrics.Health
		want string
	}{
		{usermetrics.Health{Actions: 1000, ActionFaults: 20}, ""}, // 2 %: at the limit
		{usermetrics.Health{Actions: 1000, ActionFaults: 21, LastFault: "GET /x: 400"}, "21 of 1000 user actions and sessions (2%) failed on the users' side (more than 2%, Search.MaxUserFailureShare); last: GET /x: 400"},
		{usermetrics.Health{SessionsEnded: 30, SessionFaults: 30, LastFault: "no open team to join; run `loadtest init` first"}, "30 of 30 user actions and sessions (100%)"},
		{usermetrics.Health{SessionsEnded: 30}, ""}, // restarts that were the target's
		{usermetrics.Health{Broken: 3, LastFault: "403"}, "3 of 100 users (3%) were waiting to restart after failing on their own side"},
		{usermetrics.Health{Broken: 2}, ""},
	} {
		got := UserProblem(tc.h, 100, 0.02)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%+v: %q; want %q", tc.h, got, tc.want)
		}
	}
}

// TestRateNote: a per-user rate under half or over twice the configured one is warned about.
func TestRateNote(t *testing.T) {
	for _, tc := range []struct {
		got, want float64
		warn      bool
	}{{0.154, 0.98, true}, {0.6, 1, false}, {1.9, 1, false}, {2.1, 1, true}, {0.1, 0, false}} {
		if note := RateNote(tc.got, tc.want); (note != "") != tc.warn {
			t.Errorf("RateNote(%v, %v) = %q; warn %v", tc.got, tc.want, note, tc.warn)
		}
	}
}
