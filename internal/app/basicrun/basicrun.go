// Package basicrun is the plain `loadtest` command: N users against the target for a
// duration, live progress, and a summary per action and per route at the end.
package basicrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/histogram"
	"github.com/loadtest/loadtest/internal/controller"
	"github.com/loadtest/loadtest/internal/exitcode"
	"github.com/loadtest/loadtest/internal/threshold"
	"github.com/loadtest/loadtest/internal/usermetrics"
	"github.com/loadtest/loadtest/loadtest"
)

// Options configure a basic run.
type Options struct {
	Config        agentconfig.Config
	AgentID       string        // user names are "{AgentID}-user{n}"
	Users         int           // active users for the whole run
	Duration      time.Duration // how long the users run
	ProgressEvery time.Duration // how often a progress line is printed; 0: 2s
	SummaryPath   string        // if set, the summary is also written there as JSON
	// RampRate, if > 0, starts the users at this many a second (the first at once) instead
	// of all at once; the ramp is part of Duration.
	RampRate float64
	// ArrivalRate, if > 0, makes noop and simple users start this many actions a second in
	// all, whatever the latency: open pacing, each user's think time set to Users/ArrivalRate
	// seconds (for simple users, their cycle's waits scaled to that mean).
	ArrivalRate float64
	// Thresholds are checked over the whole run at its end; one that fails makes Run
	// return exitcode.ThresholdsFailed (after the summary is printed and written).
	Thresholds []threshold.Threshold
}

// Summary is the result of a run.
type Summary struct {
	Users       int           `json:"users"`
	Duration    time.Duration `json:"duration_ns"`
	Interrupted bool          `json:"interrupted"`
	Requests    int64         `json:"requests"`
	Errors      int64         `json:"errors"`
	UserErrors  int64         `json:"user_errors"`
	WSEvents    int64         `json:"websocket_events"`
	// SaturatedIntervals counts the progress intervals in which the agent's utilization was
	// above 0.8: latencies measured then may reflect the agent rather than the target.
	SaturatedIntervals int `json:"saturated_intervals"`
	// DroppedArrivals is the actions open pacing had due that the users, too far behind,
	// dropped (see UserControllerConfiguration.Pacing).
	DroppedArrivals int64               `json:"dropped_arrivals"`
	Actions         []histogram.Summary `json:"actions"`
	Routes          []histogram.Summary `json:"routes"`
	Other           []histogram.Summary `json:"other,omitempty"` // request phases and scripts' custom timings
	// FailedRequests is the failed requests by route, status and reason, most frequent first.
	FailedRequests []usermetrics.ErrorGroup `json:"failed_requests"`
	// Thresholds is each threshold's result; absent when none was given.
	Thresholds []threshold.Result `json:"thresholds,omitempty"`
}

// Run runs the users until the duration ends or ctx is done (Ctrl-C), then prints and returns
// the summary. Progress and the summary go to out.
func Run(ctx context.Context, o Options, out io.Writer, log *slog.Logger) (Summary, error) {
	if o.Users <= 0 {
		return Summary{}, exitcode.With(exitcode.BadInput, fmt.Errorf("users must be > 0, got %d", o.Users))
	}
	if o.Duration <= 0 {
		return Summary{}, exitcode.With(exitcode.BadInput, fmt.Errorf("duration must be > 0, got %v", o.Duration))
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 2 * time.Second
	}
	if o.RampRate < 0 || math.IsNaN(o.RampRate) || math.IsInf(o.RampRate, 0) {
		return Summary{}, exitcode.With(exitcode.BadInput, fmt.Errorf("--ramp-rate %v: must be >= 0 users a second (0: all at once)", o.RampRate))
	}
	pace, err := arrival(&o)
	if err != nil {
		return Summary{}, exitcode.With(exitcode.BadInput, err)
	}
	// Before any user starts, so a wrong URL or an empty instance is one clear error, not
	// thousands of failed logins.
	if err := controller.Preflight(ctx, o.Config, o.AgentID); err != nil {
		return Summary{}, exitcode.With(exitcode.NoAnswer, fmt.Errorf("preflight: %w; no users were started", err))
	}
	reg := prometheus.NewRegistry()
	m := usermetrics.New(reg, nil)
	env := controller.NewEnv(o.AgentID, o.Config, m, log)
	newUser, err := controller.Factory(env)
	if err != nil {
		return Summary{}, err
	}
	eng, err := loadtest.New(loadtest.Options{InitialActiveUsers: RampUsers(o.Users, o.RampRate, 0), MaxActiveUsers: o.Users}, newUser, log, reg)
	if err != nil {
		return Summary{}, err
	}
	fmt.Fprintf(out, "loadtest: %d %s users against %s for %v (Ctrl-C stops early)\n", o.Users,
		o.Config.UserControllerConfiguration.Type, o.Config.ConnectionConfiguration.ServerURL, o.Duration)
	if o.RampRate > 0 {
		full := time.Duration(float64(o.Users-1) / o.RampRate * float64(time.Second))
		note := ""
		if full > o.Duration {
			note = fmt.Sprintf("; longer than the run: it ends at about %d users", RampUsers(o.Users, o.RampRate, o.Duration))
		}
		fmt.Fprintf(out, "loadtest: ramp: %g users a second, all %d in %v%s\n", o.RampRate, o.Users, full.Round(100*time.Millisecond), note)
	}
	if pace != "" {
		fmt.Fprintln(out, "loadtest: "+pace)
	}
	start := time.Now()
	if err := eng.Run(ctx); err != nil {
		return Summary{}, err
	}
	done := time.NewTimer(o.Duration)
	defer done.Stop()
	tick := time.NewTicker(o.ProgressEvery)
	defer tick.Stop()
	var ramp <-chan time.Time // ticks while users are still to be added
	if RampUsers(o.Users, o.RampRate, 0) < o.Users {
		rt := time.NewTicker(rampTick(o.RampRate))
		defer rt.Stop()
		ramp = rt.C
	}
	interrupted := false
	saturated := 0 // progress intervals with the agent above SaturatedAbove
	m.SampleUtilization()
	last := time.Now()
loop:
	for {
		select {
		case <-ctx.Done():
			interrupted = true
			break loop
		case <-done.C:
			break loop
		case now := <-ramp:
			n := RampUsers(o.Users, o.RampRate, now.Sub(start))
			if _, err := eng.SetUsers(n); err != nil {
				return Summary{}, err
			}
			if n == o.Users {
				ramp = nil
			}
		case now := <-tick.C:
			util := m.SampleUtilization().Value()
			progress(out, now.Sub(start), eng.Status(), m.Window.Take(), now.Sub(last), util)
			if util > usermetrics.SaturatedAbove {
				saturated++
			}
			last = now
		}
	}
	fmt.Fprintln(out, "loadtest: stopping users...")
	if err := eng.Stop(); err != nil && !errors.Is(err, loadtest.ErrNotRunning) {
		return Summary{}, err
	}
	sum := summarize(m.Recorder.Snapshot(), o.Users, time.Since(start), interrupted, eng.Status().NumErrors)
	sum.WSEvents = m.EventsReceived()
	sum.SaturatedIntervals = saturated
	sum.FailedRequests = m.TakeErrors()
	sum.DroppedArrivals = m.DroppedArrivals()
	if len(o.Thresholds) > 0 {
		sum.Thresholds = threshold.Check(o.Thresholds, m.Recorder.Snapshot())
	}
	printSummary(out, sum)
	if o.SummaryPath != "" {
		b, _ := json.MarshalIndent(sum, "", "  ") // plain data always marshals
		if err := os.WriteFile(o.SummaryPath, append(b, '\n'), 0o644); err != nil {
			return sum, fmt.Errorf("write summary: %w", err)
		}
		fmt.Fprintf(out, "loadtest: summary written to %s\n", o.SummaryPath)
	}
	if !interrupted && !threshold.Passed(sum.Thresholds) {
		return sum, exitcode.Silent(exitcode.ThresholdsFailed)
	}
	return sum, nil
}

// RampUsers is how many users a ramp of rate users a second has started after elapsed: the
// first at once, then one every 1/rate seconds, up to n (a pure function). A rate of 0 starts
// all n at once.
func RampUsers(n int, rate float64, elapsed time.Duration) int {
	if rate <= 0 {
		return n
	}
	return int(min(float64(n), 1+math.Floor(rate*elapsed.Seconds()+1e-9)))
}

// rampTick is how often the ramp adds users: one user's interval, between 10 ms and 1 s.
func rampTick(rate float64) time.Duration {
	return min(time.Second, max(10*time.Millisecond, time.Duration(float64(time.Second)/rate)))
}

// arrival applies ArrivalRate to o's config (open pacing, the think-time multiplier that
// gives that rate over Users users) and says so; "" when there is none.
func arrival(o *Options) (string, error) {
	if o.ArrivalRate == 0 {
		return "", nil
	}
	uc := &o.Config.UserControllerConfiguration
	if o.ArrivalRate < 0 || math.IsNaN(o.ArrivalRate) || math.IsInf(o.ArrivalRate, 0) {
		return "", fmt.Errorf("--arrival-rate %v: must be > 0 actions a second", o.ArrivalRate)
	}
	if uc.Type != "noop" && uc.Type != "simple" {
		return "", fmt.Errorf("--arrival-rate is for noop and simple users, not %q: simulative users' rate follows their think times (RatesDistribution), scripts pace themselves (PaceMs)", uc.Type)
	}
	one := o.Config
	one.UserControllerConfiguration.RatesDistribution = nil
	one.UserControllerConfiguration.Pacing = "open"
	per := controller.ExpectedActionRate(one, 0) // one user's actions a second at multiplier 1
	if per <= 0 {
		return "", fmt.Errorf("--arrival-rate: the simple users' actions wait 0 ms (Simple.Actions[].WaitAfterMs): there is no think time to scale to a rate")
	}
	mult := float64(o.Users) * per / o.ArrivalRate
	uc.Pacing = "open"
	uc.RatesDistribution = []agentconfig.RateDistribution{{ThinkTimeMultiplier: mult, Percentage: 1}}
	every := time.Duration(float64(time.Second) / (per / mult))
	return fmt.Sprintf("arrival rate: %g actions a second over %d users, each due every %v (open pacing; users that fall behind drop arrivals and count them)",
		o.ArrivalRate, o.Users, every.Round(time.Microsecond)), nil
}

func progress(out io.Writer, elapsed time.Duration, st loadtest.Status, win histogram.Snapshot, span time.Duration, util float64) {
	warn := ""
	if util > usermetrics.SaturatedAbove {
		warn = "  WARNING: agent saturated; latencies may reflect the agent, not the target"
	}
	s, ok := win["requests"]
	if !ok || s.Hist.TotalCount() == 0 {
		fmt.Fprintf(out, "%7s  users %d  req/s 0  errors 0  util %.2f%s\n", elapsed.Round(time.Second), st.ActiveUsers, util, warn)
		return
	}
	rate := float64(s.Hist.TotalCount()) / span.Seconds()
	ms := func(v int64) string { return fmtDur(time.Duration(v) * time.Microsecond) }
	fmt.Fprintf(out, "%7s  users %d  req/s %.1f  errors %d  p50 %s  p99 %s  util %.2f%s\n", elapsed.Round(time.Second),
		st.ActiveUsers, rate, s.Errors, ms(s.Hist.ValueAtQuantile(50)), ms(s.Hist.ValueAtQuantile(99)), util, warn)
}

func summarize(snap histogram.Snapshot, users int, d time.Duration, interrupted bool, userErrs int64) Summary {
	sum := Summary{Users: users, Duration: d, Interrupted: interrupted, UserErrors: userErrs,
		Actions: []histogram.Summary{}, Routes: []histogram.Summary{}}
	for _, row := range snap.Summaries() {
		switch {
		case strings.HasPrefix(row.Key, usermetrics.ActionPrefix):
			row.Key = strings.TrimPrefix(row.Key, usermetrics.ActionPrefix)
			sum.Actions = append(sum.Actions, row)
		case strings.HasPrefix(row.Key, usermetrics.RoutePrefix):
			row.Key = strings.TrimPrefix(row.Key, usermetrics.RoutePrefix)
			sum.Routes = append(sum.Routes, row)
			sum.Requests += row.Count
			sum.Errors += row.Errors
		case row.Key != "requests":
			sum.Other = append(sum.Other, row)
		}
	}
	return sum
}

func printSummary(out io.Writer, s Summary) {
	state := "completed"
	if s.Interrupted {
		state = "interrupted"
	}
	fmt.Fprintf(out, "\nloadtest: %s after %v with %d users: %d requests, %d errors, %d user sessions ended in error, %d WebSocket events\n",
		state, s.Duration.Round(time.Millisecond), s.Users, s.Requests, s.Errors, s.UserErrors, s.WSEvents)
	if s.DroppedArrivals > 0 {
		fmt.Fprintf(out, "loadtest: WARNING: %d arrivals dropped: the users fell behind the arrival rate (the target is slower than the rate allows); add users (-n)\n", s.DroppedArrivals)
	}
	for _, part := range []struct {
		title string
		rows  []histogram.Summary
	}{{"action", s.Actions}, {"route", s.Routes}, {"timing", s.Other}} {
		if len(part.rows) == 0 {
			continue
		}
		fmt.Fprintln(out)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "%s\tcount\terrors\tskipped\tp50\tp90\tp99\tmax\t\n", part.title)
		for _, r := range part.rows {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t\n", r.Key, r.Count, r.Errors, r.Skipped, fmtDur(r.P50), fmtDur(r.P90), fmtDur(r.P99), fmtDur(r.Max))
		}
		_ = tw.Flush() // writes to out; an error there has nowhere better to go
	}
	usermetrics.PrintErrors(out, s.FailedRequests, 10)
	if len(s.Thresholds) > 0 {
		fmt.Fprintln(out)
		threshold.Print(out, s.Thresholds)
	}
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%dµs", d.Microseconds())
}
