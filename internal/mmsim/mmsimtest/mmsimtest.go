// Package mmsimtest starts mmsim for tests of other packages, the way httptest starts a server.
package mmsimtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/loadtest/loadtest/internal/mmsim"
	"github.com/loadtest/loadtest/mattermost"
)

// Server is a running mmsim.
type Server struct {
	*mmsim.Server
	URL    string
	Config mmsim.Config
}

// Start runs mmsim on a loopback port until the test ends. mutate, if not nil, changes the
// default config first.
func Start(tb testing.TB, mutate func(*mmsim.Config)) *Server {
	tb.Helper()
	cfg := mmsim.DefaultConfig()
	cfg.LogSettings.EnableConsole = false
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := mmsim.New(cfg, nil)
	if err != nil {
		tb.Fatalf("mmsim.New: %v", err)
	}
	hs := httptest.NewServer(s.Handler())
	tb.Cleanup(hs.Close)
	return &Server{Server: s, URL: hs.URL, Config: cfg}
}

// CreateTeam creates an open team as the admin, for users to join.
func CreateTeam(tb testing.TB, url string, cfg mmsim.Config, name string) mattermost.Team {
	tb.Helper()
	ctx := context.Background()
	c, err := mattermost.New(url, mattermost.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	defer c.CloseIdleConnections()
	if _, err := c.Login(ctx, cfg.Admin.Username, cfg.Admin.Password); err != nil {
		tb.Fatalf("admin login: %v", err)
	}
	t, err := c.CreateTeam(ctx, name, name, "O")
	if err != nil {
		tb.Fatalf("create team %s: %v", name, err)
	}
	return t
}

// WithFaults runs mmsim, with one open team, behind a proxy that first offers each request
// to fault: when fault answers it (and returns true), mmsim never sees the request. It
// returns the proxy's URL. Tests use it for a target that fails in a way they control.
func WithFaults(tb testing.TB, fault func(w http.ResponseWriter, r *http.Request) bool) string {
	tb.Helper()
	srv := Start(tb, nil)
	h := srv.Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !fault(w, r) {
			h.ServeHTTP(w, r)
		}
	}))
	tb.Cleanup(hs.Close)
	CreateTeam(tb, hs.URL, srv.Config, "team1")
	return hs.URL
}
