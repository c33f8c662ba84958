package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/loadtest/loadtest/coordinator/plan"
	"github.com/loadtest/loadtest/internal/app/planrun"
	"github.com/loadtest/loadtest/internal/exitcode"
	"github.com/loadtest/loadtest/internal/logging"
)

func planCommand(stdout, stderr io.Writer) *cobra.Command {
	var (
		results, level string
		thresholds     []string
	)
	cmd := &cobra.Command{
		Use:   "plan plan.json",
		Short: "Run a load plan of scripted users in this process",
		Long: `plan runs a load plan on this machine, with no agents to set up: the plan's scripted users
(Starlark; docs/scripts.md) ramp up, are held, and wind down as the plan says, and each
period's metrics go to metrics.csv and metrics.jsonl (and the plan's other writers) in a
plan-<name>-<time> folder under --results, with report.json and report.html. Ctrl-C stops
the users, writes the last period and the report. To spread the users over several
machines, run "loadtest server" on each and "coordinator --plan plan.json".`,
		Args:          cobra.ExactArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := plan.ReadPlan(args[0])
			if err == nil {
				err = p.FromEnv(stderr)
			}
			if err != nil {
				return exitcode.With(exitcode.BadInput, err)
			}
			if err := p.AddThresholds(thresholds); err != nil {
				return exitcode.With(exitcode.BadInput, err)
			}
			ls := logging.DefaultSettings()
			ls.ConsoleLevel, ls.EnableFile = level, false
			log, closeLog, err := logging.New(ls, stderr)
			if err != nil {
				return err
			}
			defer closeLog()
			_, _, err = planrun.Run(cmd.Context(), planrun.Options{Plan: p, Local: true, Results: results, Log: log}, stdout)
			return err
		},
	}
	cmd.Flags().StringVar(&results, "results", "results", "the report goes to a plan-<name>-<time> folder here")
	cmd.Flags().StringVar(&level, "log-level", "warn", "console log level: debug, info, warn or error (any case)")
	cmd.Flags().StringArrayVar(&thresholds, "threshold", nil, `a pass/fail criterion over the whole run, added to the plan's Thresholds; repeat it for more: "p99<500ms", "error_rate<1%", "route GET /users/me p95<200ms"; one that fails exits 99`)
	return cmd
}
