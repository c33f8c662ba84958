package search

import (
	"fmt"
	"strings"

	"github.com/loadtest/loadtest/internal/usermetrics"
)

// A probe measures the target only if its population was there and working. These rules
// (docs/design.md, "What makes a probe count") are pure functions of what the agents
// counted over the hold.

// UserProblem says why the users of a probe did not form the workload it meant to measure,
// or "" when they did: more than maxShare of their actions and sessions failed on the
// users' own side (usermetrics.WorkloadFault: a 4xx other than 408 and 429, no team to
// join, a script's error). Such a probe is invalid, not failed: the target did not cause
// it. Failures that are the target's (5xx, 408, 429, timeouts, refused connections) keep
// counting against the target through the queries, and users still starting or
// restarting are shown on the probe but decide nothing by themselves, since an
// overloaded target makes logins slow too.
//
// Users that failed on their own side wait to restart (with a backoff of up to 30 s) and
// make no requests meanwhile, so a hold can see few failures and still miss many users:
// the users waiting after such a failure (h.Broken, the most at any second of the hold)
// count as failed too, as a share of the probe's users.
func UserProblem(h usermetrics.Health, users int, maxShare float64) string {
	share := h.FaultShare()
	missing := 0.0
	if users > 0 {
		missing = float64(h.Broken) / float64(users)
	}
	var why string
	switch {
	case h.Faults() > 0 && share > maxShare:
		why = fmt.Sprintf("the workload, not the target, is failing: %d of %d user actions and sessions (%.0f%%) failed on the users' side (more than %.0f%%, Search.MaxUserFailureShare)",
			h.Faults(), h.Actions+h.SessionsEnded, 100*share, 100*maxShare)
	case missing > maxShare:
		why = fmt.Sprintf("the workload, not the target, is failing: %d of %d users (%.0f%%) were waiting to restart after failing on their own side (more than %.0f%%, Search.MaxUserFailureShare)",
			h.Broken, users, 100*missing, 100*maxShare)
	default:
		return ""
	}
	if h.LastFault != "" {
		why += "; last: " + h.LastFault
	}
	return why
}

// RateNote warns when the users' measured action rate per user is far (under half, or over
// twice) from what their configured behaviour makes (expected; 0: unknown), and is ""
// otherwise: users that wait in backoff, restart, or skip their actions measure a lighter
// workload than the one asked for.
func RateNote(perUser, expected float64) string {
	if expected <= 0 || (perUser >= expected/2 && perUser <= 2*expected) {
		return ""
	}
	return fmt.Sprintf("each user made %.3g actions/s where the configured behaviour makes about %.3g/s: the users are not doing what they were configured to (see the errors and restarts)", perUser, expected)
}

// PopulationNote says what a probe's users did besides their steady work, if anything.
func PopulationNote(p Probe) string {
	var parts []string
	if p.NotStarted > 0 {
		parts = append(parts, fmt.Sprintf("%d users still starting when the hold began", p.NotStarted))
	}
	if p.Restarts > 0 {
		parts = append(parts, fmt.Sprintf("%d sessions restarted", p.Restarts))
	}
	if p.UserFaults > 0 && !p.WorkloadBroken {
		parts = append(parts, fmt.Sprintf("%d user-side failures (%.1f%%)", p.UserFaults, 100*p.FaultShare))
	}
	if p.RateNote != "" {
		parts = append(parts, "warning: "+p.RateNote)
	}
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, "; ")
}
