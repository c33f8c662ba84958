package main

import (
	"fmt"
	"io"
	"net"

	"github.com/spf13/cobra"

	"github.com/loadtest/loadtest/internal/app/demo"
	"github.com/loadtest/loadtest/internal/exitcode"
)

func demoCommand(stdout io.Writer) *cobra.Command {
	o := demo.DefaultOptions()
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Find the supported users of a built-in target of known capacity, in one process",
		Long: `demo starts, in this process on 127.0.0.1: mmsim (the Mattermost-compatible test server)
with a capacity model of --workers workers x --service-time per request, an agent running
noop users (one GET /users/me, then a 1 s think time), the embedded Prometheus engine, and
the coordinator's adaptive search on the seed's client-side queries, with the mean-latency
threshold set to --latency-threshold (or, with --utilization U, the target workers' utilization
as the criterion instead of the latency).

It prints progress, the supported users it finds and the number the model implies
(W x (T + 1 s) / S; with --utilization, the N where N x λ(N) = U x W/S, with the request
rate per user λ(N) measured at the probes near the answer), and writes report.json and
report.html under --results. With --ui it serves the search's live view (the web UI of
"coordinator serve") on 127.0.0.1:8000 while it runs.

With --type simulative, unless the flags say otherwise, the target is ten times larger
(--workers 40), the criterion is the workers' utilization (--utilization 0.3), the users
are spread over 20 teams (--teams 20) in channels that already hold 2,000 posts, up to
--max-users 6000, and the search ends within 3 % (--precision 0.03): their requests come
in bursts, and a larger target measures them finer in the same hold.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.UI != "" { // checked before the demo starts anything
				if _, _, err := net.SplitHostPort(o.UI); err != nil {
					return exitcode.With(exitcode.BadInput, fmt.Errorf("--ui %q: must be host:port (for example %s): %v", o.UI, demo.DefaultUI, err))
				}
			}
			o.ForSimulative(cmd.Flags().Changed)
			if err := o.Validate(); err != nil {
				return exitcode.With(exitcode.BadInput, err)
			}
			_, err := demo.Run(cmd.Context(), o, stdout)
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Workers, "workers", o.Workers, "capacity model: requests the target serves at once")
	f.DurationVar(&o.ServiceTime, "service-time", o.ServiceTime, "capacity model: time each request takes")
	f.DurationVar(&o.Threshold, "latency-threshold", o.Threshold, "mean client latency a probe may reach")
	f.DurationVar(&o.Threshold, "threshold", o.Threshold, "")
	_ = f.MarkDeprecated("threshold", "use --latency-threshold (--threshold is a pass/fail criterion in the other commands)")
	f.Float64Var(&o.Utilization, "utilization", o.Utilization, "if not 0, the criterion instead of --latency-threshold: the target workers' utilization a probe may reach (0 < U < 1; the model's answer is then where N x λ(N) = U x W/S, λ the measured request rate per user)")
	f.IntVar(&o.MaxUsers, "max-users", o.MaxUsers, "the most users the search may try")
	f.DurationVar(&o.Hold, "hold", o.Hold, "how long each probe measures")
	f.IntVar(&o.Teams, "teams", o.Teams, fmt.Sprintf("simulative users: how many teams they are spread over (default %d; 0: mattermost-load-test-ng's 2); each team's town square is a herd", demo.SimulativeTeams))
	f.DurationVar(&o.MaxHold, "max-hold", o.MaxHold, "a probe whose value is within noise of the threshold measures longer, up to this (0: 4 x --hold, 8 x for simulative users on fewer than 40 workers; = --hold: never)")
	f.DurationVar(&o.Settle, "settle", o.Settle, "wait after a ramp before measuring")
	f.IntVar(&o.RampRate, "ramp-rate", o.RampRate, "users added per second at most")
	f.DurationVar(&o.TimeBudget, "time-budget", o.TimeBudget, "the search ends with its best bracket after this (0: 15m, 30m for simulative users)")
	f.StringVar(&o.Strategy, "strategy", o.Strategy, `"adaptive" or "fixed-step" (mattermost-load-test-ng's loop)`)
	f.StringVar(&o.Users, "users", o.Users, "")
	_ = f.MarkDeprecated("users", "use --type (--users is a count in the other commands)")
	f.StringVar(&o.Users, "type", o.Users, `the user type: "noop" (one GET /users/me, then 1 s), "script" (the same as a Starlark script: a capacity search with scripted users) or "simulative" (Mattermost users; the answer the model implies then comes from their measured request rate)`)
	f.Float64Var(&o.Precision, "precision", o.Precision, "the search ends when the bracket is narrower than this share of its lower end (0: 2%; 3% for simulative users)")
	f.StringVar(&o.ResultsDir, "results", o.ResultsDir, "the report goes to a demo-<time> folder here")
	f.StringVar(&o.UI, "ui", "", "serve the live view in a browser while the demo runs, on this address (--ui alone: "+demo.DefaultUI+")")
	f.Lookup("ui").NoOptDefVal = demo.DefaultUI
	return cmd
}
