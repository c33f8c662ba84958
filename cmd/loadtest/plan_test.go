package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loadtest/loadtest/coordinator"
	"github.com/loadtest/loadtest/internal/exitcode"
	"github.com/loadtest/loadtest/internal/testtools"
)

// TestPlan_InProcessInterrupted runs `loadtest plan` on mmsim and interrupts it (as Ctrl-C
// does) in the sustain phase: the users stop, and the last period and the report are written.
func TestPlan_InProcessInterrupted(t *testing.T) {
	base := target(t)
	dir := t.TempDir()
	planDoc := map[string]any{"Name": "local", "Targets": []string{base}, "Users": 4, "RampUpSec": 1, "SustainSec": 60,
		"ReportEverySec": 60, "Scripts": []map[string]any{{"Name": "ping", "PaceMs": 100,
			"Source": "def main():\n    get('/api/v4/system/ping', name='ping')\n"}}}
	b, _ := json.Marshal(planDoc)
	path := filepath.Join(dir, "plan.json")
	_ = os.WriteFile(path, b, 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(3*time.Second, cancel)
	var out testtools.LockedBuffer
	start := time.Now()
	err := run(ctx, []string{"plan", path, "--results", dir}, &out, &out)
	if exitcode.Of(err) != exitcode.Interrupted {
		t.Fatalf("run: %v (exit %d); want exit %d, interrupted\n%s", err, exitcode.Of(err), exitcode.Interrupted, out.String())
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("an interrupted plan took %v to stop", d)
	}
	m := regexp.MustCompile(`metrics: (\S+metrics.csv), \S+; report: (\S+report.json)`).FindStringSubmatch(out.String())
	if m == nil || !strings.Contains(out.String(), "interrupted") {
		t.Fatalf("output:\n%s", out.String())
	}
	var r coordinator.Report
	b, _ = os.ReadFile(m[2])
	if err := json.Unmarshal(b, &r); err != nil || len(r.Periods) != 1 || !r.Periods[0].Final {
		t.Fatalf("report periods %+v, %v; want the one final period", r.Periods, err)
	}
	var pings int64
	for _, s := range r.Periods[0].Metrics {
		if s.Key == "route GET ping" {
			pings = s.Count
		}
	}
	// 4 users at 10/s for about 2s.
	if pings < 40 || pings > 140 {
		t.Errorf("%d pings recorded; want about 80", pings)
	}
	csv, _ := os.ReadFile(m[1])
	if !strings.Contains(string(csv), ",route GET ping,") {
		t.Errorf("the CSV lacks the period:\n%s", csv)
	}
}

// TestPlan_TargetDown: a plan whose target does not answer starts no user: one line, exit 3.
func TestPlan_TargetDown(t *testing.T) {
	dead := httptest.NewServer(nil)
	dead.Close()
	dir := t.TempDir()
	planDoc := map[string]any{"Name": "down", "Targets": []string{dead.URL}, "Users": 2, "RampUpSec": 1, "SustainSec": 5,
		"Scripts": []map[string]any{{"Name": "ping", "Source": "def main():\n    get('/')\n"}}}
	b, _ := json.Marshal(planDoc)
	path := filepath.Join(dir, "plan.json")
	_ = os.WriteFile(path, b, 0o644)
	var out testtools.LockedBuffer
	err := run(context.Background(), []string{"plan", path, "--results", dir}, &out, &out)
	if exitcode.Of(err) != exitcode.NoAnswer || !strings.Contains(err.Error(), "preflight: the plan's target "+dead.URL+" (Targets[0]) does not answer") {
		t.Fatalf("exit %d, %v; want 3 naming the target\n%s", exitcode.Of(err), err, out.String())
	}
	if strings.Contains(out.String(), "starting the load test") {
		t.Errorf("load was started:\n%s", out.String())
	}
}

// TestPlan_Thresholds runs a short plan with thresholds from the file and from --threshold:
// they are checked over the whole run, the report carries their results and the totals, and
// one failing makes the plan exit 99. A threshold that cannot be read is exit 2.
func TestPlan_Thresholds(t *testing.T) {
	base := target(t)
	dir := t.TempDir()
	planDoc := map[string]any{"Name": "ci", "Targets": []string{base}, "Users": 2, "RampUpSec": 0, "SustainSec": 2,
		"ReportEverySec": 1, "Thresholds": []string{"route GET ping error_rate<1%", "route GET ping count>=10"},
		"Scripts": []map[string]any{{"Name": "ping", "PaceMs": 100, "Source": "def main():\n    get('/api/v4/system/ping', name='ping')\n"}}}
	b, _ := json.Marshal(planDoc)
	path := filepath.Join(dir, "plan.json")
	_ = os.WriteFile(path, b, 0o644)
	var out testtools.LockedBuffer
	err := run(context.Background(), []string{"plan", path, "--results", dir, "--threshold", "route GET ping p99<1ms"}, &out, &out)
	if exitcode.Of(err) != exitcode.ThresholdsFailed && exitcode.Of(err) != exitcode.OK {
		t.Fatalf("run: %v (exit %d)\n%s", err, exitcode.Of(err), out.String())
	}
	m := regexp.MustCompile(`report: (\S+report.json)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("output:\n%s", out.String())
	}
	var r coordinator.Report
	b, _ = os.ReadFile(m[1])
	if err := json.Unmarshal(b, &r); err != nil || len(r.Checks) != 3 {
		t.Fatalf("report checks %+v, %v; want 3", r.Checks, err)
	}
	var pings int64
	for _, s := range r.Totals {
		if s.Key == "route GET ping" {
			pings = s.Count
		}
	}
	if !r.Checks[0].Passed || !r.Checks[1].Passed || r.Checks[1].Observed != strconv.FormatInt(pings, 10) || pings < 20 {
		t.Errorf("checks %+v over %d pings in the totals; want the error rate and the count (all the pings, about 40) passing", r.Checks, pings)
	}
	// p99<1ms of a local ping may hold or not; the exit code must agree with it.
	if want := map[bool]int{true: exitcode.OK, false: exitcode.ThresholdsFailed}[r.Checks[2].Passed]; exitcode.Of(err) != want {
		t.Errorf("exit %d with p99 check %+v; want %d", exitcode.Of(err), r.Checks[2], want)
	}
	html, _ := os.ReadFile(filepath.Join(filepath.Dir(m[1]), "report.html"))
	if !strings.Contains(string(html), "<code>route GET ping count&gt;=10</code>") {
		t.Errorf("report.html lacks the thresholds table")
	}

	// A count no run of 2 s reaches fails: exit 99, said in the output.
	out = testtools.LockedBuffer{}
	err = run(context.Background(), []string{"plan", path, "--results", dir, "--threshold", "route GET ping count>=100000"}, &out, &out)
	if exitcode.Of(err) != exitcode.ThresholdsFailed || !strings.Contains(out.String(), "threshold FAIL  route GET ping count>=100000") {
		t.Errorf("run: %v (exit %d); want 99 and the failing threshold\n%s", err, exitcode.Of(err), out.String())
	}
	err = run(context.Background(), []string{"plan", path, "--results", dir, "--threshold", "p99<soon"}, &out, &out)
	if exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), `--threshold[0]`) {
		t.Errorf("bad threshold: %v (exit %d); want 2 naming --threshold[0]", err, exitcode.Of(err))
	}
}
