// Command mmsim runs the Mattermost-compatible test server: the REST v4 and WebSocket subset
// that simulated users call, Prometheus metrics under Mattermost's names on a separate port,
// and an optional capacity model (W workers × S service time) that gives load tests a known
// answer.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/loadtest/loadtest/internal/buildinfo"
	"github.com/loadtest/loadtest/internal/config"
	"github.com/loadtest/loadtest/internal/logging"
	"github.com/loadtest/loadtest/internal/mmsim"
)

// EnvPrefix starts the environment variables that override mmsim's config fields
// (MMSIM_CAPACITY_WORKERS=8; see config.Env).
const EnvPrefix = "MMSIM"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mmsim:", err)
		os.Exit(1)
	}
}

// run parses args and serves until ctx is done. It prints one line to stdout once both
// listeners are open, naming their addresses, so scripts and tests can wait for it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		cfgPath      string
		listen       string
		metrics      string
		workers      int
		serviceTime  time.Duration
		distribution string
		logLevel     string
	)
	cmd := &cobra.Command{
		Use:   "mmsim",
		Short: "A Mattermost-compatible test server with a configurable capacity model",
		Long: `mmsim serves the part of the Mattermost REST API v4 and WebSocket protocol that load-test
users call, keeps its data in memory, and exports Prometheus metrics under Mattermost's names.

With --workers W and --service-time S, every API request holds one of W workers for S, so the
server saturates at W/S requests per second and load tests have a known answer.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildinfo.Read().String(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := mmsim.DefaultConfig()
			if cfgPath != "" {
				if err := config.Load(cfgPath, &cfg); err != nil {
					return err
				}
			}
			if err := config.FromEnv(stderr, "mmsim", EnvPrefix, &cfg); err != nil {
				return err
			}
			f := cmd.Flags()
			if f.Changed("listen") {
				cfg.ListenAddress = listen
			}
			if f.Changed("metrics-listen") {
				cfg.MetricsListenAddress = metrics
			}
			if f.Changed("workers") {
				cfg.Capacity.Workers = workers
			}
			if f.Changed("service-time") {
				cfg.Capacity.ServiceTimeMs = float64(serviceTime) / float64(time.Millisecond)
			}
			if f.Changed("service-distribution") {
				cfg.Capacity.Distribution = distribution
			}
			if f.Changed("log-level") {
				cfg.LogSettings.ConsoleLevel = logLevel
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			log, closeLog, err := logging.New(cfg.LogSettings, stderr)
			if err != nil {
				return err
			}
			defer closeLog()
			srv, err := mmsim.New(cfg, log)
			if err != nil {
				return err
			}
			return serve(ctx, srv, cfg, stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfgPath, "config", "", "JSON config file (see config/mmsim.default.json); flags override it")
	f.StringVar(&listen, "listen", mmsim.DefaultListenAddress, "address of the REST API and WebSocket")
	f.StringVar(&metrics, "metrics-listen", mmsim.DefaultMetricsListenAddress, `address of /metrics; "" disables it`)
	f.IntVar(&workers, "workers", 0, "capacity model: concurrent requests in service (0 = unlimited)")
	f.DurationVar(&serviceTime, "service-time", 0, "capacity model: time each request holds a worker, e.g. 10ms")
	f.StringVar(&distribution, "service-distribution", "constant", `capacity model: "constant" or "exponential" service times`)
	f.StringVar(&logLevel, "log-level", "info", "overrides LogSettings.ConsoleLevel: debug, info, warn or error (any case)")
	cmd.SetVersionTemplate("{{.Name}} {{.Version}}\n")
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	return cmd.ExecuteContext(ctx)
}

func serve(ctx context.Context, srv *mmsim.Server, cfg mmsim.Config, stdout io.Writer) error {
	api, err := net.Listen("tcp", cfg.ListenAddress)
	if err != nil {
		return fmt.Errorf("ListenAddress %s: %w", cfg.ListenAddress, err)
	}
	var mln net.Listener
	metricsURL := "disabled"
	if cfg.MetricsListenAddress != "" {
		if mln, err = net.Listen("tcp", cfg.MetricsListenAddress); err != nil {
			_ = api.Close() // best effort: already returning an error
			return fmt.Errorf("MetricsListenAddress %s: %w", cfg.MetricsListenAddress, err)
		}
		metricsURL = "http://" + mln.Addr().String() + "/metrics"
	}
	model := "unlimited"
	if c := cfg.Capacity; c.Enabled() {
		model = fmt.Sprintf("%d workers × %gms %s (max %.0f req/s)", c.Workers, c.ServiceTimeMs, c.Distribution, c.MaxRate())
	}
	fmt.Fprintf(stdout, "mmsim: API on http://%s, metrics on %s, capacity %s\n", api.Addr(), metricsURL, model)
	err = srv.Serve(ctx, api, mln)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
