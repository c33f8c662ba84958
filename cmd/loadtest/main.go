// Command loadtest runs simulated Mattermost users against a server. Without a subcommand it
// runs a basic load test: N users for a duration, with live progress and a summary at the end.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/internal/app/basicrun"
	"github.com/loadtest/loadtest/internal/buildinfo"
	"github.com/loadtest/loadtest/internal/config"
	"github.com/loadtest/loadtest/internal/exitcode"
	"github.com/loadtest/loadtest/internal/gctune"
	"github.com/loadtest/loadtest/internal/logging"
	"github.com/loadtest/loadtest/internal/threshold"
)

// DefaultConfigPath is read when --config is not given, if it exists (seed 001: users copy
// config/config.default.json there).
const DefaultConfigPath = "config/config.json"

func main() {
	gctune.Apply() // the agent's collector target, unless GOGC is set
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(exitcode.Exit(os.Stderr, "loadtest", run(ctx, os.Args[1:], os.Stdout, os.Stderr)))
}

// loadConfig reads path, or DefaultConfigPath when path is empty and that file exists, over
// the defaults. It says which file it used.
func loadConfig(path string, stderr io.Writer) (agentconfig.Config, error) {
	cfg := agentconfig.DefaultConfig()
	used, err := config.LoadOptional(path, DefaultConfigPath, &cfg)
	if err != nil {
		return cfg, err
	}
	if used != "" {
		fmt.Fprintf(stderr, "loadtest: using %s\n", used)
	}
	return cfg, config.FromEnv(stderr, "loadtest", EnvPrefix, &cfg)
}

// EnvPrefix starts the environment variables that override the agent config's fields
// (LOADTEST_CONNECTIONCONFIGURATION_SERVERURL; see config.Env).
const EnvPrefix = "LOADTEST"

// setup loads the config (see loadConfig), applies the overrides, validates it, and builds
// the logger. The close function is never nil.
func setup(path string, stderr io.Writer, override func(*agentconfig.Config)) (agentconfig.Config, *slog.Logger, func() error, error) {
	cfg, err := loadConfig(path, stderr)
	if err != nil {
		return cfg, nil, nil, exitcode.With(exitcode.BadInput, err)
	}
	override(&cfg)
	if err := cfg.Validate(); err != nil {
		return cfg, nil, nil, exitcode.With(exitcode.BadInput, err)
	}
	log, closeLog, err := logging.New(cfg.LogSettings, stderr)
	return cfg, log, closeLog, exitcode.With(exitcode.BadInput, err)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		cfgPath, serverURL, agentID, summary, typ, level string
		users                                            int
		duration                                         time.Duration
		rampRate, arrivalRate                            float64
		thresholds                                       []string
		started                                          bool // a command's Run began: later errors are not usage errors
	)
	root := &cobra.Command{
		Use:   "loadtest",
		Short: "Simulate Mattermost users against a server",
		Long: `loadtest runs simulated Mattermost users against a server.

Without a subcommand it runs a basic load test: --users users for --duration (60s by
default), started all at once or at --ramp-rate a second, printing progress every 2
seconds and a summary per action, per route and per kind of failure at the end. Ctrl-C
stops it early and still prints the summary. --threshold criteria (k6's, e.g. "p99<500ms",
"error_rate<1%") make it exit 99 when one fails, for CI.

The configuration is --config, else config/config.json if it exists, else the defaults
(config/config.default.json shows them all). Flags override the file.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildinfo.Read().String(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			cfg, log, closeLog, err := setup(cfgPath, stderr, func(c *agentconfig.Config) {
				if f.Changed("server-url") {
					c.ConnectionConfiguration.ServerURL = serverURL
				}
				if f.Changed("type") {
					c.UserControllerConfiguration.Type = typ
				}
				if f.Changed("log-level") {
					c.LogSettings.ConsoleLevel = level
				}
			})
			if err != nil {
				return err
			}
			defer closeLog()
			if !f.Changed("users") && cfg.UsersConfiguration.InitialActiveUsers > 0 {
				users = cfg.UsersConfiguration.InitialActiveUsers
			}
			flagged, err := threshold.ParseAll("--threshold", thresholds)
			if err != nil {
				return exitcode.With(exitcode.BadInput, err)
			}
			ts, _ := threshold.ParseAll("Thresholds", cfg.Thresholds) // Validate parsed them
			sum, err := basicrun.Run(cmd.Context(), basicrun.Options{Config: cfg, AgentID: agentID, Users: users,
				Duration: duration, SummaryPath: summary, RampRate: rampRate, ArrivalRate: arrivalRate,
				Thresholds: append(ts, flagged...)}, stdout, log)
			if err == nil && sum.Interrupted {
				return exitcode.Silent(exitcode.Interrupted)
			}
			return err
		},
	}
	root.PersistentPreRun = func(*cobra.Command, []string) { started = true }
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return exitcode.With(exitcode.BadInput, err) })
	f := root.Flags()
	f.StringVar(&cfgPath, "config", "", "agent config file (default config/config.json if it exists)")
	f.StringVar(&serverURL, "server-url", "", "overrides ConnectionConfiguration.ServerURL")
	f.StringVar(&typ, "type", "", "overrides UserControllerConfiguration.Type")
	f.IntVarP(&users, "users", "n", 10, "active users (UsersConfiguration.InitialActiveUsers instead, when it is set and -n is not)")
	f.StringVar(&level, "log-level", "", "overrides LogSettings.ConsoleLevel: debug, info, warn or error (any case)")
	f.DurationVarP(&duration, "duration", "d", 60*time.Second, "how long the users run")
	f.StringVar(&agentID, "agent-id", "lt0", `user names are "{agent-id}-user{n}"`)
	f.StringVar(&summary, "summary", "", "also write the summary as JSON to this file")
	f.Float64Var(&rampRate, "ramp-rate", 0, "start the users at this many a second (the first at once) instead of all at once; the ramp is part of --duration")
	f.Float64Var(&arrivalRate, "arrival-rate", 0, "noop and simple users: start this many actions a second in all, whatever the latency (open pacing; the users are the pool that sends them)")
	f.StringArrayVar(&thresholds, "threshold", nil, `a pass/fail criterion over the whole run, added to the config's Thresholds; repeat it for more: "p99<500ms", "error_rate<1%", "route GET /users/me p95<200ms", "action GetMe error_rate<0.1%"; one that fails exits 99`)
	root.AddCommand(initCommand(stderr), serverCommand(stdout, stderr), demoCommand(stdout), planCommand(stdout, stderr), reportCommand(stdout))
	root.SetVersionTemplate("{{.Name}} {{.Version}}\n")
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err != nil && !started { // cobra's own: an unknown command or flag, wrong arguments
		return exitcode.With(exitcode.BadInput, err)
	}
	return err
}
