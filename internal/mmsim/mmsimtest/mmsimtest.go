// Package mmsimtest starts mmsim for tests of other packages, the way httptest starts a server.
package mmsimtest

import (
	"context"
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
