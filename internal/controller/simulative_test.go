package controller

import (
	"context"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/internal/mmsim/mmsimtest"
	"github.com/loadtest/loadtest/internal/usermetrics"
	"github.com/loadtest/loadtest/mattermost"
)

// served counts the requests mmsim answered for a handler (mattermost_api_time{handler}).
func served(t *testing.T, reg *prometheus.Registry, handler string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, mf := range mfs {
		if mf.GetName() != "mattermost_api_time" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "handler" && l.GetValue() == handler {
					n += m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return n
}

// TestSimulative_Store: a simulative user keeps every profile a response carried, as the
// webapp's store does, so a typing event from a user it has listed costs no request; events
// from strangers wait for the user's next profile batch, which fetches them in one request;
// a full reload empties the store and lists users again.
func TestSimulative_Store(t *testing.T) {
	srv := mmsimtest.Start(t, nil)
	mmsimtest.CreateTeam(t, srv.URL, srv.Config, "team1")
	ctx := context.Background()
	signUp := func(name string) string {
		c, err := mattermost.New(srv.URL, mattermost.Options{})
		if err != nil {
			t.Fatal(err)
		}
		u, err := LoginOrSignUp(ctx, c, name)
		if err != nil {
			t.Fatal(err)
		}
		return u.ID
	}
	listed := signUp("peer-a")
	cfg := agentconfig.DefaultConfig()
	cfg.ConnectionConfiguration.ServerURL = srv.URL
	env := NewEnv("lt1", cfg, usermetrics.New(nil, nil), nil)
	s := newSimulative(env, NewPicker(cfg.UserControllerConfiguration.Simulative.ActionWeights), 1)
	c, err := env.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	s.c = c
	if err := s.start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.stopWS()
	knows := func(id string) bool { return s.people.knows(intern(id)) }
	if !knows(listed) {
		t.Fatalf("peer-a, on the first page of users listed when joining the team, is not in the store")
	}
	stranger := signUp("peer-b") // signed up after the user listed the others
	typing := func(uid string) mattermost.Event {
		return mattermost.Event{Event: "typing", Data: mattermost.EventData{UserID: uid}}
	}
	before := served(t, srv.Registry(), "getUsersByIds")
	s.onEvent(ctx, typing(listed))
	if got := served(t, srv.Registry(), "getUsersByIds") - before; got != 0 {
		t.Errorf("typing from a listed user fetched profiles %d times; want 0", got)
	}
	other := signUp("peer-c")
	s.onEvent(ctx, typing(stranger))
	s.onEvent(ctx, typing(stranger))
	s.onEvent(ctx, typing(other))
	if got := served(t, srv.Registry(), "getUsersByIds") - before; got != 0 {
		t.Errorf("events fetched profiles %d times before the batch; want 0", got)
	}
	s.flushProfiles(ctx)
	s.flushProfiles(ctx) // nothing waits: no request
	if got := served(t, srv.Registry(), "getUsersByIds") - before; got != 1 || !knows(stranger) || !knows(other) {
		t.Errorf("the batch of two strangers (one typing twice) fetched profiles %d times; want once, for both", got)
	}
	for i := range profileBatchMax { // a full batch goes at once
		s.wantProfile(ctx, fmt.Sprintf("nobody%02d", i))
	}
	if got := served(t, srv.Registry(), "getUsersByIds") - before; got != 2 || len(s.pending) != 0 {
		t.Errorf("a full batch of %d: %d requests in all, %d still waiting; want it fetched at once", profileBatchMax, got, len(s.pending))
	}
	lists := served(t, srv.Registry(), "getUsers")
	p := s.people.at(intern(listed))
	p.status, p.etag, p.hasETag = true, 1, true
	if err := s.reload(ctx, true); err != nil {
		t.Fatal(err)
	}
	if served(t, srv.Registry(), "getUsers") != lists+1 {
		t.Errorf("a full reload listed users %d times; want once", served(t, srv.Registry(), "getUsers")-lists)
	}
	if p := s.people.get(intern(listed)); !knows(stranger) || p == nil || !p.profile || p.status || p.hasETag {
		t.Errorf("after a full reload: %+v known, listed %+v; want the listed users known and the rest forgotten",
			s.people.all, p)
	}
}
