// Package planrun runs a load plan from the command line, for both `coordinator --plan` (on
// the agents in the plan or the coordinator config) and `loadtest plan` (on an agent in the
// same process): it opens the writers' default files in the results folder, prints the
// periods as they come, stops on ctx (Ctrl-C) with the last period written, and writes
// report.json and report.html.
package planrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/loadtest/loadtest/agent"
	"github.com/loadtest/loadtest/coordinator"
	"github.com/loadtest/loadtest/coordinator/cluster"
	"github.com/loadtest/loadtest/coordinator/plan"
	"github.com/loadtest/loadtest/coordinator/plan/writer"
	"github.com/loadtest/loadtest/internal/exitcode"
	"github.com/loadtest/loadtest/internal/threshold"
	"github.com/loadtest/loadtest/internal/usermetrics"
)

// Options say what to run and where the results go.
type Options struct {
	Plan    *plan.Plan
	Config  *coordinator.Config // the coordinator config (agents, log settings); nil: defaults
	Local   bool                // run the users in this process instead of on agents
	Results string              // the report goes to a plan-<name>-<time> folder here
	Log     *slog.Logger
	Joiner  *cluster.Joiner // agents that join, besides the configured ones
	// Watch, if set, is given the plan's coordinator and its folder before it runs (a live
	// view: web.ServeRun); the done it returns is called once the report is written.
	Watch func(c *coordinator.Coordinator, dir string) (done func(), err error)
	// Dir, if set, is the report's folder instead of plan-<name>-<time> under Results.
	Dir string
	// Started, if set, is given the plan's coordinator before it runs (a live view's).
	Started func(*coordinator.Coordinator)
}

// Run runs the plan and returns its report, which it has written to the folder it names.
func Run(ctx context.Context, o Options, out io.Writer) (coordinator.Report, string, error) {
	p := *o.Plan
	dir := o.Dir
	if dir == "" {
		dir = filepath.Join(o.Results, "plan-"+p.Name+"-"+time.Now().Format("20060102-150405"))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return coordinator.Report{}, "", exitcode.With(exitcode.NoAnswer, fmt.Errorf("preflight: the results folder: %w", err))
	}
	if err := reachable(ctx, p.Targets); err != nil {
		return coordinator.Report{}, "", exitcode.With(exitcode.NoAnswer, err)
	}
	if p.Writers.CSV == "" {
		p.Writers.CSV = filepath.Join(dir, "metrics.csv")
	}
	if p.Writers.JSONLines == "" {
		p.Writers.JSONLines = filepath.Join(dir, "metrics.jsonl")
	}
	writers, err := writer.Open(ctx, p.Writers, p.Name)
	if err != nil {
		return coordinator.Report{}, "", exitcode.With(exitcode.BadInput, err)
	}
	defer func() {
		for _, w := range writers {
			if err := w.Close(); err != nil {
				o.Log.Warn("close a writer", "err", err)
			}
		}
	}()
	for _, w := range writers {
		if pw, ok := w.(interface{ Addr() string }); ok {
			fmt.Fprintf(out, "plan: Prometheus exposition on http://%s/metrics\n", pw.Addr())
		}
	}
	opts := coordinator.Options{Log: o.Log, Progress: out, Joiner: o.Joiner, Writers: writers}
	if o.Config != nil {
		opts.MinAgents = o.Config.ClusterConfig.MinJoinedAgents
	}
	if o.Local {
		srv := agent.NewServer(agent.ServerOptions{Log: o.Log})
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx) // the load test is destroyed already; this only waits
		}()
		opts.Agents = []cluster.Agent{srv.LoadTest("local")}
		p.Agents = nil
	}
	c, err := coordinator.NewPlan(o.Config, &p, opts)
	if err != nil {
		return coordinator.Report{}, "", exitcode.With(exitcode.BadInput, err)
	}
	if o.Started != nil {
		o.Started(c)
	}
	if o.Watch != nil {
		done, err := o.Watch(c, dir)
		if err != nil {
			return coordinator.Report{}, "", err
		}
		defer done()
	}
	say := context.AfterFunc(ctx, func() {
		fmt.Fprintln(out, "plan: interrupted; stopping the users and writing the last period and the report")
	})
	defer say()
	if err := c.Run(ctx); err != nil {
		return coordinator.Report{}, "", err
	}
	rep := c.Report()
	if err := rep.Write(dir); err != nil {
		return rep, dir, err
	}
	fmt.Fprintf(out, "plan: metrics: %s, %s; report: %s, %s\n", p.Writers.CSV, p.Writers.JSONLines,
		filepath.Join(dir, "report.json"), filepath.Join(dir, "report.html"))
	if rep.Error != "" {
		return rep, dir, errors.New(rep.Error)
	}
	usermetrics.PrintErrors(out, rep.Errors, 10)
	threshold.Print(out, rep.Checks)
	fmt.Fprintln(out, rep.Answer())
	switch {
	case ctx.Err() != nil:
		return rep, dir, exitcode.Silent(exitcode.Interrupted)
	case !threshold.Passed(rep.Checks):
		return rep, dir, exitcode.Silent(exitcode.ThresholdsFailed)
	}
	return rep, dir, nil
}

// reachable checks, before any load, that every target of the plan answers HTTP at all (any
// status will do: the scripts decide what they call).
func reachable(ctx context.Context, targets []string) error {
	hc := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer hc.CloseIdleConnections()
	for i, t := range targets {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, t, nil)
		if err != nil {
			return fmt.Errorf("preflight: Targets[%d] %q: %w", i, t, err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return fmt.Errorf("preflight: the plan's target %s (Targets[%d]) does not answer: %w; no users were started", t, i, err)
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
	}
	return nil
}
