package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/loadtest/loadtest/coordinator"
	"github.com/loadtest/loadtest/coordinator/compare"
	"github.com/loadtest/loadtest/internal/exitcode"
)

// reportCommand is `loadtest report`: commands on the reports runs write.
func reportCommand(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "report", Short: "Work with the reports that searches and plans write (report.json)"}
	var format, output string
	cmp := &cobra.Command{
		Use:   "compare A B",
		Short: "Compare two runs: the answers with their brackets, and each route's p50, p99 and errors with the change and its 95% interval",
		Long: `report compare puts two runs side by side (A and B are report.json files or the folders
that hold them): the answers with their brackets, and each route's and action's p50, p99
and error rate over the comparable seconds (a search's holds at its answer, a plan's
sustain), with the change B - A and its 95 % bootstrap interval over the per-second
intervals; a change whose interval excludes 0 is marked significant. Markdown (for a pull
request) or HTML.`,
		Args: cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			if format != "md" && format != "html" {
				return exitcode.With(exitcode.BadInput, fmt.Errorf("--format %q: must be md or html", format))
			}
			var reps [2]coordinator.Report
			for i, a := range args {
				r, err := readReport(a)
				if err != nil {
					return exitcode.With(exitcode.BadInput, fmt.Errorf("%s %s: %w", [2]string{"A", "B"}[i], a, err))
				}
				reps[i] = r
			}
			c := compare.Compare(runName(args[0]), reps[0], runName(args[1]), reps[1])
			out := stdout
			if output != "" {
				f, err := os.Create(output)
				if err != nil {
					return exitcode.With(exitcode.BadInput, fmt.Errorf("-o %s: %w", output, err))
				}
				defer f.Close()
				out = f
			}
			if format == "html" {
				return c.HTML(out)
			}
			return c.Markdown(out)
		},
	}
	cmp.Flags().StringVar(&format, "format", "md", "md (markdown, for a pull request) or html")
	cmp.Flags().StringVarP(&output, "output", "o", "", "write here instead of the standard output")
	cmd.AddCommand(cmp)
	return cmd
}

// readReport reads a report.json, or the one in a run's folder.
func readReport(path string) (coordinator.Report, error) {
	var r coordinator.Report
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, "report.json")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("not a report: %w", err)
	}
	if r.StartTime.IsZero() && len(r.Series) == 0 {
		return r, errors.New("not a report: it has no start time and no series (want the report.json a search or a plan writes)")
	}
	return r, nil
}

// runName names a run by its folder.
func runName(path string) string {
	path = strings.TrimSuffix(filepath.Clean(path), string(filepath.Separator)+"report.json")
	return filepath.Base(path)
}
