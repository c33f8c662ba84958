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
	"time"

	"github.com/spf13/cobra"

	"github.com/loadtest/loadtest/internal/exitcode"
	"github.com/loadtest/loadtest/internal/exposure"
	"github.com/loadtest/loadtest/internal/logging"
	"github.com/loadtest/loadtest/web"
)

// ServeTokenEnv is the environment variable `coordinator serve` reads its token from.
const ServeTokenEnv = "COORDINATOR_TOKEN"

// DefaultServeListen is where `coordinator serve` listens unless told otherwise.
const DefaultServeListen = "127.0.0.1:8000"

// serveCommand is `coordinator serve`: the web UI and its JSON API, until SIGINT or SIGTERM
// (running runs are stopped and their reports written first).
func serveCommand(stdout, stderr io.Writer, started *bool) *cobra.Command {
	var listen, token, results, level, joinListen string
	var insecure bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the web UI and its API: start, watch, stop and compare searches and plans",
		Long: `coordinator serve runs a long-lived coordinator with a web UI (http://127.0.0.1:8000 by
default) and the JSON API behind it (docs/web.md): create, start, stop, list and delete
capacity searches and plans, watch them live (server-sent events), read past runs from
--results, and compare two runs. With --token (or $COORDINATOR_TOKEN) every call needs
"Authorization: Bearer TOKEN", or a browser opens the UI once with ?token=TOKEN. It refuses
to listen beyond loopback without a token unless --insecure-no-token says that is intended.
SIGINT or SIGTERM stops the running runs, writes their reports, and exits.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			*started = true
			if !cmd.Flags().Changed("token") {
				token = os.Getenv(ServeTokenEnv)
			}
			if token != strings.TrimSpace(token) {
				return exitcode.With(exitcode.BadInput, fmt.Errorf("--token (or $%s): must not be blank or start or end with spaces", ServeTokenEnv))
			}
			if err := exposure.Check(listen, token, insecure, ServeTokenEnv, DefaultServeListen); err != nil {
				return exitcode.With(exitcode.BadInput, err)
			}
			if err := writable(results); err != nil {
				return exitcode.With(exitcode.NoAnswer, err)
			}
			settings := logging.DefaultSettings()
			if level != "" {
				settings.ConsoleLevel = level
			}
			log, closeLog, err := logging.New(settings, stderr)
			if err != nil {
				return exitcode.With(exitcode.BadInput, err)
			}
			defer closeLog()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return exitcode.With(exitcode.BadInput, fmt.Errorf("--listen %s: %w", listen, err))
			}
			joiner, joinAddr, stopJoin, err := startJoiner(joinListen, stdout)
			if err != nil {
				return exitcode.With(exitcode.BadInput, err)
			}
			defer stopJoin()
			srv := web.NewServer(web.Options{Results: results, Token: token, Log: log, Joiner: joiner, JoinAddr: joinAddr})
			hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
			errc := make(chan error, 1)
			go func() { errc <- hs.Serve(ln) }()
			auth := "no token"
			if token != "" {
				auth = "token required"
			}
			fmt.Fprintf(stdout, "coordinator: web UI on http://%s/ (%s); results in %s\n", ln.Addr(), auth, results)
			select {
			case <-cmd.Context().Done():
				fmt.Fprintln(stdout, "coordinator: stopping the running runs and writing their reports")
			case err := <-errc:
				srv.Close()
				return err
			}
			srv.Close() // the streams see their runs end
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			_ = hs.Close()
			<-errc
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", DefaultServeListen, "where the UI and the API listen")
	f.StringVar(&token, "token", "", "bearer token every call must carry (default $"+ServeTokenEnv+")")
	f.BoolVar(&insecure, "insecure-no-token", false, "listen beyond loopback without a token (only on a private network)")
	f.StringVar(&results, "results", "results", "each run's folder goes here, and past runs are read from here")
	f.StringVar(&joinListen, "join-listen", "", `accept agents that join ("loadtest server --join ws://HOST:9696/join") here, e.g. :9696; a run whose config sets ClusterConfig.JoinListen takes them`)
	f.StringVar(&level, "log-level", "", "console log level: debug, info, warn or error (any case)")
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	return cmd
}
