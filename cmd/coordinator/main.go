// Command coordinator drives load-test agents to find how many users the target supports
// (seed 002). It reads config/coordinator.json and the agent config config/config.json,
// prints progress and a final line "supported users: N", serves its status over HTTP while
// it runs, and writes report.json and report.html to a results folder.
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/loadtest/loadtest/agent/api"
	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/coordinator"
	"github.com/loadtest/loadtest/coordinator/cluster"
	"github.com/loadtest/loadtest/coordinator/plan"
	"github.com/loadtest/loadtest/internal/app/planrun"
	"github.com/loadtest/loadtest/internal/app/searchrun"
	"github.com/loadtest/loadtest/internal/buildinfo"
	"github.com/loadtest/loadtest/internal/config"
	"github.com/loadtest/loadtest/internal/exitcode"
	"github.com/loadtest/loadtest/internal/logging"
	"github.com/loadtest/loadtest/internal/usermetrics"
	"github.com/loadtest/loadtest/web"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(exitcode.Exit(os.Stderr, "coordinator", run(ctx, os.Args[1:], os.Stdout, os.Stderr)))
}

// readOr reads path, or def if it exists, over the defaults in dst, and names what it used.
func readOr(path, def string, dst any) (string, error) {
	used, err := config.LoadOptional(path, def, dst)
	return cmp.Or(used, "defaults"), err
}

// EnvPrefix and AgentEnvPrefix start the environment variables that override the fields of
// the coordinator config (COORDINATOR_SEARCH_STRATEGY) and of the agent config it sends
// (LOADTEST_CONNECTIONCONFIGURATION_SERVERURL); see config.Env.
const (
	EnvPrefix      = "COORDINATOR"
	AgentEnvPrefix = "LOADTEST"
)

// run is the command; its error carries the exit code (internal/exitcode): bad input 2,
// no answer 3 (preflight included), interrupted 130.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		cfgPath, ltPath, results, listen, strategy, planPath, joinListen, level string
		thresholds                                                              []string
		expectUsers                                                             int
	)
	started := false // RunE began: an error before it is a usage error
	cmd := &cobra.Command{
		Use:   "coordinator",
		Short: "Find how many users the target supports, driving load-test agents",
		Long: `coordinator drives the agents in ClusterConfig.Agents (each running "loadtest server") with
the agent config, watching MonitorConfig.Queries (PromQL; on MonitorConfig.PrometheusURL, or
on the embedded engine, which scrapes the agents and MonitorConfig.ScrapeTargets), and
searches for the most users the target supports (Search.Strategy: "adaptive" by default, or
"fixed-step", mattermost-load-test-ng's loop). It prints progress, then "supported users: N", serves its
status on --listen while it runs (the live view in a browser, and GET /status, /report,
/observations and /metrics), and writes report.json and report.html under --results. Ctrl-C stops the search and still writes the report.

With --plan plan.json it runs a load plan instead: scripted users (Starlark; see
docs/scripts.md) held at a fixed count through ramp-up, sustain and wind-down, split evenly
over the agents, with each period's merged metrics written to CSV, JSON lines and, if the plan
says so, Prometheus exposition and CloudWatch.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildinfo.Read().String(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			started = true
			cfg := coordinator.DefaultConfig()
			used, err := readOr(cfgPath, "config/coordinator.json", &cfg)
			if err == nil {
				err = config.FromEnv(stderr, "coordinator", EnvPrefix, &cfg)
			}
			if err != nil {
				return exitcode.With(exitcode.BadInput, err)
			}
			if cmd.Flags().Changed("strategy") {
				cfg.Search.Strategy = strategy
			}
			if cmd.Flags().Changed("log-level") {
				cfg.LogSettings.ConsoleLevel = level
			}
			if cmd.Flags().Changed("join-listen") {
				cfg.ClusterConfig.JoinListen = joinListen
				if used == "defaults" { // not the default agent on localhost:4000: only those that join
					cfg.ClusterConfig.Agents = nil
				}
			}
			if err := cfg.Validate(); err != nil {
				return exitcode.With(exitcode.BadInput, err)
			}
			if err := checkExpect(cmd.Flags(), expectUsers, planPath, len(thresholds), cfg.ClusterConfig.MaxActiveUsers); err != nil {
				return exitcode.With(exitcode.BadInput, err)
			}
			if err := writable(results); err != nil {
				return exitcode.With(exitcode.NoAnswer, err)
			}
			joiner, _, stopJoin, err := startJoiner(cfg.ClusterConfig.JoinListen, stdout)
			if err != nil {
				return err
			}
			defer stopJoin()
			if planPath != "" {
				return runPlan(cmd.Context(), planPath, thresholds, &cfg, joiner, results, listen, stdout, stderr)
			}
			lt := agentconfig.DefaultConfig()
			ltUsed, err := readOr(ltPath, "config/config.json", &lt)
			if err == nil {
				err = config.FromEnv(stderr, "coordinator", AgentEnvPrefix, &lt)
			}
			if err == nil {
				err = lt.Validate()
			}
			if err != nil {
				return exitcode.With(exitcode.BadInput, err)
			}
			fmt.Fprintf(stdout, "coordinator: config %s, agent config %s\n", used, ltUsed)
			log, closeLog, err := logging.New(cfg.LogSettings, stderr)
			if err != nil {
				return err
			}
			defer closeLog()
			c, err := searchrun.New(&cfg, lt, searchrun.Options{Log: log, Progress: stdout, Joiner: joiner, MinAgents: cfg.ClusterConfig.MinJoinedAgents})
			if err != nil {
				return exitcode.With(exitcode.BadInput, err)
			}
			dir := filepath.Join(results, "coordinator-"+time.Now().Format("20060102-150405"))
			if listen != "" {
				link, done, stop, err := web.ServeRun(listen, c, web.KindSearch, "search", results, dir)
				if err != nil {
					return fmt.Errorf("--listen %s: %w", listen, err)
				}
				defer stop()
				defer done()
				u, _ := url.Parse(link)
				fmt.Fprintf(stdout, "coordinator: status on http://%s/status; live view on %s\n", u.Host, link)
			}
			say := context.AfterFunc(cmd.Context(), func() { fmt.Fprintln(stdout, "coordinator: interrupted; stopping and writing the report") })
			defer say()
			rep, err := searchrun.Finish(cmd.Context(), c, dir, stdout)
			if err != nil {
				return err
			}
			if rep.Error != "" {
				fmt.Fprintln(stderr, "coordinator:", rep.Error)
			}
			usermetrics.PrintErrors(stdout, rep.Errors, 5)
			verdict := expectErr(stdout, rep, expectUsers)
			fmt.Fprintln(stdout, rep.Answer())
			if err := outcomeErr(rep.Outcome); err != nil {
				return err
			}
			return verdict
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return exitcode.With(exitcode.BadInput, err) })
	f := cmd.Flags()
	f.StringVar(&cfgPath, "config", "", "coordinator config (default config/coordinator.json if it exists)")
	f.StringVar(&ltPath, "agent-config", "", "agent config sent to every agent (default config/config.json if it exists)")
	f.StringVar(&results, "results", "results", "the report goes to a coordinator-<time> folder here")
	f.StringVar(&listen, "listen", "127.0.0.1:4010", `serve the live view (a web page) and GET /status, /report, /observations and /metrics here while running ("" to not)`)
	f.StringVar(&strategy, "strategy", "", `overrides Search.Strategy: "adaptive" or "fixed-step"`)
	f.StringVar(&joinListen, "join-listen", "", `accept agents that join ("loadtest server --join ws://HOST:9696/join") on this address, e.g. :9696 (overrides ClusterConfig.JoinListen)`)
	f.StringVar(&level, "log-level", "", "overrides LogSettings.ConsoleLevel: debug, info, warn or error (any case)")
	f.IntVar(&expectUsers, "expect-users", 0, "the users the target must support: a search that finds fewer exits 99 (for CI); 0: no expectation")
	f.StringArrayVar(&thresholds, "threshold", nil, `with --plan: a pass/fail criterion over the whole run, added to the plan's Thresholds; repeat it for more: "p99<500ms", "error_rate<1%"; one that fails exits 99`)
	f.StringVar(&planPath, "plan", "", "run this load plan (plan.json: scripts, users, ramp-up, sustain, wind-down) instead of a search")
	cmd.AddCommand(serveCommand(stdout, stderr, &started))
	cmd.SetVersionTemplate("{{.Name}} {{.Version}}\n")
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	err := cmd.ExecuteContext(ctx)
	if err != nil && !started {
		return exitcode.With(exitcode.BadInput, err)
	}
	return err
}

// checkExpect checks --expect-users and --threshold against the mode and the config, before
// anything runs.
func checkExpect(f *pflag.FlagSet, expect int, plan string, thresholds, maxUsers int) error {
	switch {
	case f.Changed("expect-users") && plan != "":
		return errors.New("--expect-users is for a capacity search; a plan's criteria are --threshold (or its Thresholds)")
	case thresholds > 0 && plan == "":
		return errors.New("--threshold is for a plan (--plan); a search's criteria are MonitorConfig.Queries, and --expect-users the users it must find")
	case expect < 0:
		return fmt.Errorf("--expect-users %d: must be >= 0 (0: no expectation)", expect)
	case expect > maxUsers:
		return fmt.Errorf("--expect-users %d is above ClusterConfig.MaxActiveUsers %d: the search could never confirm it; raise MaxActiveUsers", expect, maxUsers)
	}
	return nil
}

// expectErr is the verdict on --expect-users for a search that answered: nothing when it
// found at least that many users (or none was expected), else exit 99 with a line saying so.
func expectErr(out io.Writer, rep coordinator.Report, expect int) error {
	if expect <= 0 || rep.Outcome != coordinator.Answered {
		return nil // no answer: its own exit code says so
	}
	if rep.SupportedUsers >= expect {
		fmt.Fprintf(out, "expected users PASS: %d supported, %d expected\n", rep.SupportedUsers, expect)
		return nil
	}
	why := ""
	if rep.AgentLimited {
		why = " (the agents saturated first: the target may support more; add agents)"
	}
	fmt.Fprintf(out, "expected users FAIL: %d supported, %d expected%s\n", rep.SupportedUsers, expect, why)
	return exitcode.Silent(exitcode.ThresholdsFailed)
}

// outcomeErr is the exit of a search that ended as o: nothing for an answer; the answer
// line already said the rest.
func outcomeErr(o coordinator.Outcome) error {
	switch o {
	case coordinator.Answered:
		return nil
	case coordinator.Interrupted:
		return exitcode.Silent(exitcode.Interrupted)
	}
	return exitcode.Silent(exitcode.NoAnswer)
}

// writable checks, before any load, that the results folder can take the report.
func writable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("preflight: the results folder (--results) %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".preflight-")
	if err != nil {
		return fmt.Errorf("preflight: the results folder (--results) %s is not writable: %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// runPlan runs a plan on the agents (the plan's, else the config's).
func runPlan(ctx context.Context, path string, thresholds []string, cfg *coordinator.Config, joiner *cluster.Joiner, results, listen string, stdout, stderr io.Writer) error {
	p, err := plan.ReadPlan(path)
	if err == nil {
		err = p.FromEnv(stderr)
	}
	if err != nil {
		return exitcode.With(exitcode.BadInput, err)
	}
	if err := p.AddThresholds(thresholds); err != nil {
		return exitcode.With(exitcode.BadInput, err)
	}
	log, closeLog, err := logging.New(cfg.LogSettings, stderr)
	if err != nil {
		return err
	}
	defer closeLog()
	fmt.Fprintf(stdout, "coordinator: plan %s\n", path)
	_, _, err = planrun.Run(ctx, planrun.Options{Plan: p, Config: cfg, Results: results, Log: log, Joiner: joiner, Watch: watchPlan(listen, results, stdout)}, stdout)
	return err
}

// watchPlan serves a plan's live view on listen ("": none), as planrun.Options.Watch.
func watchPlan(listen, results string, out io.Writer) func(*coordinator.Coordinator, string) (func(), error) {
	if listen == "" {
		return nil
	}
	return func(c *coordinator.Coordinator, dir string) (func(), error) {
		link, done, stop, err := web.ServeRun(listen, c, web.KindPlan, "plan", results, dir)
		if err != nil {
			return nil, fmt.Errorf("--listen %s: %w", listen, err)
		}
		u, _ := url.Parse(link)
		fmt.Fprintf(out, "plan: status on http://%s/status; live view on %s\n", u.Host, link)
		return func() { done(); stop() }, nil
	}
}

// startJoiner accepts agents that join on addr ("" for none), with the token agents use
// ($LOADTEST_AGENT_TOKEN).
func startJoiner(addr string, stdout io.Writer) (*cluster.Joiner, string, func(), error) {
	if addr == "" {
		return nil, "", func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", nil, fmt.Errorf("ClusterConfig.JoinListen (--join-listen) %s: %w", addr, err)
	}
	j := cluster.NewJoiner(os.Getenv("LOADTEST_AGENT_TOKEN"), nil)
	hs := &http.Server{Handler: j.Handler(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hs.Serve(ln)
	}()
	url := fmt.Sprintf("ws://%s%s", ln.Addr(), api.JoinPath)
	fmt.Fprintf(stdout, "coordinator: agents may join at %s\n", url)
	return j, url, func() {
		j.Close()
		_ = hs.Close()
		<-done
	}, nil
}
