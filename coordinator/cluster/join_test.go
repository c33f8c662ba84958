package cluster

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loadtest/loadtest/agent"
	"github.com/loadtest/loadtest/agent/api"
	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/internal/testtools"
	"github.com/loadtest/loadtest/loadtest"
)

// TestJoiner_TokenAndTunnel: an agent with the wrong token is refused; one with the right
// token joins, and the coordinator drives it over the connection (its own token checks pass).
func TestJoiner_TokenAndTunnel(t *testing.T) {
	j := NewJoiner("s3cret", nil)
	hs := httptest.NewServer(j.Handler())
	defer hs.Close()
	defer j.Close()
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + api.JoinPath

	join := func(token string) (func(), *testtools.LockedBuffer) {
		srv := agent.NewServer(agent.ServerOptions{})
		ctx, cancel := context.WithCancel(context.Background())
		var logs testtools.LockedBuffer
		var wg sync.WaitGroup
		wg.Go(func() {
			_ = api.Join(ctx, api.Handler(srv, api.HandlerOptions{Token: "s3cret"}), api.JoinOptions{URL: url, ID: "jx", Token: token, Backoff: 20 * time.Millisecond,
				Log: slog.New(slog.NewTextHandler(&logs, nil))})
		})
		return func() { cancel(); wg.Wait(); _ = srv.Shutdown(context.Background()) }, &logs
	}
	stop, logs := join("wrong")
	// Refused twice (the agent says so each time it dials again): it never joined between.
	testtools.Eventually(t, 10*time.Second, "the agent to be refused twice", func() bool {
		return strings.Count(logs.String(), "connection to the coordinator lost") >= 2
	})
	if n := len(j.Snapshot()); n != 0 {
		t.Fatalf("an agent with the wrong token joined (%d)", n)
	}
	stop()

	stop, _ = join("s3cret")
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := j.Wait(ctx, 1); err != nil {
		t.Fatal(err)
	}
	a := j.Snapshot()["jx"].Agent
	if _, err := a.Status(ctx); !errors.Is(err, agent.ErrNotFound) {
		t.Fatalf("Status before Create = %v, want ErrNotFound (the call went through)", err)
	}
	cfg := agentconfig.DefaultConfig()
	cfg.UserControllerConfiguration.Type = "noop"
	if err := a.Create(ctx, cfg); err != nil {
		t.Fatalf("Create over the tunnel: %v", err)
	}
	st, err := a.Run(ctx)
	if err != nil || st.State != loadtest.Running {
		t.Fatalf("Run over the tunnel: %+v, %v", st, err)
	}
	if err := a.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
}
