package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/loadtest/loadtest/agent"
	"github.com/loadtest/loadtest/agent/api"
	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/internal/exitcode"
	"github.com/loadtest/loadtest/internal/exposure"
	"github.com/loadtest/loadtest/internal/logging"
)

// TokenEnv is the environment variable `loadtest server` reads its bearer token from.
const TokenEnv = "LOADTEST_AGENT_TOKEN"

func serverCommand(stdout, stderr io.Writer) *cobra.Command {
	var (
		listen, token, logLevel string
		joinURL, joinID         string
		insecure                bool
		maxBody                 int64
		grace                   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run a load-test agent: the HTTP API coordinators drive (port 4000)",
		Long: `server runs a load-test agent: an HTTP API on --listen (127.0.0.1:4000 by default) with
mattermost-load-test-ng's routes (POST /loadagent/create?id=ID with the agent config as the body, then
/loadagent/ID/run, addusers, removeusers, stop, status, DELETE /loadagent/ID), plus
/loadagent/ID/setusers (idempotent, ordered by ?seq=), /loadagent/ID/metrics (HDR
snapshots since a cursor), /metrics (Prometheus), /healthz and /version. See
docs/agent-api.md.

With --token (or $LOADTEST_AGENT_TOKEN) every call but /healthz needs the header
"Authorization: Bearer TOKEN". The agent refuses to listen beyond loopback without a
token unless --insecure-no-token says that is intended.

With --join ws://COORDINATOR:9696/join the agent also dials a coordinator and serves its
API to it over that WebSocket (the coordinator needs no agent list: fleets that scale by
themselves just start agents), dialling again with backoff if the connection is lost. The
token is sent to the coordinator too. --listen "" then serves no local port.

SIGINT or SIGTERM stops every load test (users log out, metrics are flushed), then exits.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("token") {
				token = os.Getenv(TokenEnv)
			}
			if token != strings.TrimSpace(token) { // " " is no token: refused, not taken as one
				return exitcode.With(exitcode.BadInput, fmt.Errorf("--token (or $%s): must not be blank or start or end with spaces, got %q", TokenEnv, token))
			}
			if listen != "" || joinURL == "" {
				if err := exposure.Check(listen, token, insecure, TokenEnv, api.DefaultListen); err != nil {
					return err
				}
			}
			if joinURL != "" && !strings.HasPrefix(joinURL, "ws://") && !strings.HasPrefix(joinURL, "wss://") {
				return fmt.Errorf("--join %q: must be a ws:// or wss:// URL, e.g. ws://coordinator:%d%s", joinURL, api.JoinPort, api.JoinPath)
			}
			if joinID == "" {
				joinID = api.NewJoinID()
			} else if err := agent.ValidID(joinID); err != nil {
				return fmt.Errorf("--join-id: %w", err)
			}
			ls := agentconfig.DefaultConfig().LogSettings
			ls.ConsoleLevel = logLevel
			if err := ls.Validate(); err != nil {
				return fmt.Errorf("--log-level: %w", err)
			}
			log, closeLog, err := logging.New(ls, stderr)
			if err != nil {
				return err
			}
			defer closeLog()
			srv := agent.NewServer(agent.ServerOptions{Log: log})
			h := api.Handler(srv, api.HandlerOptions{Token: token, MaxBodyBytes: maxBody})
			// A request's body must arrive within ReadTimeout: a slow one cannot hold a
			// connection (the API's bodies are configs of a few KB).
			hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}
			errc := make(chan error, 1)
			if listen != "" {
				ln, err := net.Listen("tcp", listen)
				if err != nil {
					return fmt.Errorf("--listen %s: %w", listen, err)
				}
				go func() { errc <- hs.Serve(ln) }()
				auth := "no token"
				if token != "" {
					auth = "bearer token required"
				}
				fmt.Fprintf(stdout, "loadtest: agent API on http://%s (%s)\n", ln.Addr(), auth)
			} else {
				errc <- http.ErrServerClosed
			}
			var joinWG sync.WaitGroup
			joinCtx, stopJoin := context.WithCancel(cmd.Context())
			defer joinWG.Wait()
			defer stopJoin()
			if joinURL != "" {
				fmt.Fprintf(stdout, "loadtest: joining the coordinator at %s as %s\n", joinURL, joinID)
				joinWG.Go(func() { _ = api.Join(joinCtx, h, api.JoinOptions{URL: joinURL, ID: joinID, Token: token, Log: log}) })
			}
			if listen != "" {
				select {
				case err := <-errc:
					return err
				case <-cmd.Context().Done():
				}
			} else {
				<-cmd.Context().Done()
			}
			fmt.Fprintln(stdout, "loadtest: stopping: load tests end, users log out...")
			ctx, cancel := context.WithTimeout(context.Background(), grace)
			defer cancel()
			err = errors.Join(srv.Shutdown(ctx), hs.Shutdown(ctx))
			if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			fmt.Fprintln(stdout, "loadtest: agent stopped")
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", api.DefaultListen, "address of the agent API")
	f.StringVar(&token, "token", "", "bearer token callers must send (default $"+TokenEnv+")")
	f.BoolVar(&insecure, "insecure-no-token", false, "listen beyond loopback without a token (only on a private network)")
	f.Int64Var(&maxBody, "max-body-bytes", 1<<20, "largest request body accepted")
	f.DurationVar(&grace, "shutdown-timeout", 30*time.Second, "how long users get to log out on SIGTERM")
	f.StringVar(&logLevel, "log-level", "info", "console log level: debug, info, warn or error (any case)")
	f.StringVar(&joinURL, "join", "", "also join the coordinator at this ws:// URL (its --join-listen, port 9696)")
	f.StringVar(&joinID, "join-id", "", "this agent's load test id when joining (default: j and 8 random hex digits)")
	return cmd
}
