package usermetrics

import (
	"bytes"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/loadtest/loadtest/mattermost"
)

func failed(method, route string, status int, id string) mattermost.Request {
	if status == 0 {
		return mattermost.Request{Method: method, Route: route, Err: fmt.Errorf("dial 127.0.0.1:1: %w", syscall.ECONNREFUSED)}
	}
	return mattermost.Request{Method: method, Route: route, Status: status,
		Err: &mattermost.Error{Method: method, Route: route, AppError: mattermost.AppError{StatusCode: status, ID: id, Message: "m"}}}
}

// TestErrorGroups checks that failed requests are grouped by route, status and reason, with
// counts and an example, in the intervals the agent takes, merged across agents, and counted
// in /metrics with the reason as a label.
func TestErrorGroups(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, nil)
	for range 5 {
		m.ObserveRequest(failed("GET", "/users/me", 503, "api.server.busy"))
	}
	m.ObserveRequest(failed("GET", "/users/me", 401, "api.context.session_expired.app_error"))
	m.ObserveRequest(failed("POST", "/posts", 0, ""))
	m.ObserveRequest(failed("POST", "/posts", 0, ""))
	m.ObserveRequest(mattermost.Request{Method: "GET", Route: "/users/me", Status: 200})
	got := m.TakeErrors()
	want := []ErrorGroup{
		{Route: "GET /users/me", Status: 503, Reason: "api.server.busy", Count: 5},
		{Route: "POST /posts", Status: 0, Reason: "connection refused", Count: 2},
		{Route: "GET /users/me", Status: 401, Reason: "api.context.session_expired.app_error", Count: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("groups %+v; want %+v", got, want)
	}
	for i := range want {
		g := got[i]
		if g.Route != want[i].Route || g.Status != want[i].Status || g.Reason != want[i].Reason || g.Count != want[i].Count || g.Example == "" {
			t.Errorf("group %d = %+v; want %+v with an example", i, g, want[i])
		}
	}
	if len(m.TakeErrors()) != 0 {
		t.Error("a second TakeErrors returned groups; want them taken")
	}
	merged := MergeErrors(got[:1], []ErrorGroup{{Route: "GET /users/me", Status: 401, Reason: "api.context.session_expired.app_error", Count: 9},
		{Route: "GET /users/me", Status: 503, Reason: "api.server.busy", Count: 1}})
	if len(merged) != 2 || merged[0].Count != 9 || merged[1].Count != 6 {
		t.Errorf("merged %+v; want the 401s (9) first, then the 503s (5+1)", merged)
	}
	if v := testutil.ToFloat64(m.errors.WithLabelValues("/users/me", "GET", "503", "api.server.busy")); v != 5 {
		t.Errorf("loadtest_http_errors_total{reason=api.server.busy} = %v; want 5", v)
	}
	if v := testutil.ToFloat64(m.errors.WithLabelValues("/posts", "POST", "0", "connection refused")); v != 2 {
		t.Errorf("loadtest_http_errors_total{reason=connection refused} = %v; want 2", v)
	}
	var out bytes.Buffer
	PrintErrors(&out, MergeErrors(nil, want), 2)
	for _, s := range []string{"failed requests", "GET /users/me    503     api.server.busy     5", "POST /posts      -       connection refused  2",
		"... and 1 more groups"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("PrintErrors lacks %q:\n%s", s, out.String())
		}
	}
}

// TestErrorGroups_Bounded: a server that makes up a new error id for every request grows
// neither the groups of an interval nor the metric's reason label without bound.
func TestErrorGroups_Bounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, nil)
	for i := range 1000 {
		m.ObserveRequest(failed("GET", "/users/me", 500, fmt.Sprintf("app.err_%d", i)))
	}
	got := m.TakeErrors()
	var total int64
	for _, g := range got {
		total += g.Count
	}
	if len(got) > maxErrorGroups+1 || total != 1000 || got[0].Reason != "other errors" {
		t.Errorf("%d groups, %d requests, first %+v; want at most %d groups holding all 1000, the overflow first", len(got), total, got[0], maxErrorGroups+1)
	}
	if n := testutil.CollectAndCount(m.errors); n > maxReasons+1 {
		t.Errorf("loadtest_http_errors_total has %d series; want at most %d", n, maxReasons+1)
	}
}
