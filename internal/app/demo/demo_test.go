package demo

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadtest/loadtest/coordinator"
	"github.com/loadtest/loadtest/coordinator/search"
)

// TestDemo runs the whole demo, small: mmsim at 100 requests/s (2 workers x 20 ms), noop
// users, a 100 ms mean-latency threshold. The model says 2 x 1.1 / 0.02 = 110 users; the
// search must land within 5 % (short holds are noisier than the default), the report must be
// complete, and the HTML must carry the answer.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a capacity search (about a minute)")
	}
	for _, users := range []string{"noop", "script"} {
		t.Run(users, func(t *testing.T) { testDemo(t, users) })
	}
}

// TestDemo_Utilization runs the demo, small, with the workers' utilization as the criterion
// (from mmsim's busy seconds): 0.5 of 100 requests/s is 50 requests/s, so about 51 noop users
// (each sends one request per 1 s + its latency). The answer must be within 5 % of the
// model's, which comes from the request rate measured at the answer, and the latency
// queries must be gone.
func TestDemo_Utilization(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a capacity search (about a minute)")
	}
	res, out := runSmall(t, func(o *Options) { o.Utilization = 0.5 })
	r := res.Report
	if res.Truth < 49 || res.Truth > 53 {
		t.Fatalf("truth %.1f; want about 51 (0.5 x 100 requests/s over a rate just under 1/s)\n%s", res.Truth, out.String())
	}
	if e := math.Abs(float64(r.SupportedUsers)-res.Truth) / res.Truth; e > 0.05 || r.AtLeast {
		t.Fatalf("found %d users, the model says %.1f (%.1f%% off):\n%s", r.SupportedUsers, res.Truth, 100*e, out.String())
	}
	var names []string
	for _, th := range r.Thresholds {
		names = append(names, th.Description)
	}
	if len(names) == 0 || names[0] != "Workers' utilization" || strings.Contains(strings.Join(names, ","), "duration") {
		t.Fatalf("thresholds %v; want the utilization first and no latency query", names)
	}
}

// runSmall runs the demo on a small target, mmsim at 100 requests/s (2 workers x 20 ms), with
// short probes, after mutate; it fails the test if the demo fails, and returns its output.
func runSmall(t *testing.T, mutate func(*Options)) (Result, *strings.Builder) {
	t.Helper()
	o := DefaultOptions()
	o.Workers, o.ServiceTime, o.MaxUsers = 2, 20*time.Millisecond, 500
	// Logins cost several requests each: at 25 users/s they stay below the 100 requests/s
	// the target serves, and 2 s of settling drains them before each hold.
	o.Hold, o.Settle, o.RampRate, o.StartUsers = 3*time.Second, 2*time.Second, 25, 20
	o.ResultsDir = t.TempDir()
	mutate(&o)
	var out strings.Builder
	res, err := Run(context.Background(), o, &out)
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	return res, &out
}

// testDemo searches with noop users, or with the scripted users that do the same: both must
// find the model's answer.
func testDemo(t *testing.T, users string) {
	res, out := runSmall(t, func(o *Options) { o.Users = users })
	r := res.Report
	if res.Truth != 110 {
		t.Fatalf("truth %v; want 110", res.Truth)
	}
	if e := math.Abs(float64(r.SupportedUsers)-res.Truth) / res.Truth; e > 0.05 || r.AtLeast {
		t.Fatalf("found %d users, the model says %.0f (%.1f%% off):\n%s", r.SupportedUsers, res.Truth, 100*e, out.String())
	}
	if !strings.Contains(out.String(), "supported users: ") || !strings.Contains(out.String(), "the model says 110") {
		t.Fatalf("output:\n%s", out.String())
	}
	b, err := os.ReadFile(filepath.Join(res.ReportDir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back coordinator.Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.SupportedUsers != r.SupportedUsers || len(back.Probes) < 4 || len(back.Series) < 10 || len(back.Decisions) != len(back.Probes)+1 ||
		back.Bracket[0] != r.SupportedUsers || back.Bracket[1] <= back.Bracket[0] || len(back.Thresholds) == 0 || back.Extra["model_supported_users"] != 110.0 {
		t.Fatalf("report.json incomplete: %d probes, %d seconds, %d decisions, bracket %v, extra %v",
			len(back.Probes), len(back.Series), len(back.Decisions), back.Bracket, back.Extra)
	}
	if strings.Contains(string(b), "Sys@dmin") || strings.Contains(string(b), "testPass123") {
		t.Fatal("the report holds a password")
	}
	html, err := os.ReadFile(filepath.Join(res.ReportDir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{r.Answer(), "LT.chart(el", "uPlot", "Probes"} { // the charts: the UI's renderer, inlined
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
}

// TestDemo_BadFlags: each bad flag is named before anything starts.
func TestDemo_BadFlags(t *testing.T) {
	for _, tc := range []struct {
		mutate func(*Options)
		says   string
	}{
		{func(o *Options) { o.Workers = 0 }, "--workers 0"},
		{func(o *Options) { o.ServiceTime = 0 }, "--service-time"},
		{func(o *Options) { o.Threshold = -time.Second }, "--latency-threshold"},
		{func(o *Options) { o.Strategy = "guess" }, `--strategy "guess"`},
		{func(o *Options) { o.Users = "bots" }, `--type "bots"`},
		{func(o *Options) { o.Hold = time.Second }, "--hold 1s"},
		{func(o *Options) { o.MaxUsers = 0 }, "--max-users 0"},
		{func(o *Options) { o.Utilization = 1.5 }, "--utilization 1.5: must be 0 (the --latency-threshold decides) or between 0 and 1"},
		{func(o *Options) { o.Utilization = -0.1 }, "--utilization -0.1"},
		{func(o *Options) { o.Users, o.Teams = "simulative", 101 }, "--teams 101: must be 0 (mattermost-load-test-ng's 2) to 100"},
		{func(o *Options) { o.Teams = 5 }, `--teams 5: only simulative users work in teams (--type "noop")`},
		{func(o *Options) { o.MaxHold = 5 * time.Second }, "--max-hold 5s: must be 0 (4 x --hold; 8 x for simulative users) or >= --hold (10s)"},
		{func(o *Options) { o.TimeBudget = -time.Minute }, "--time-budget -1m0s: must be 0 (15m; 30m for simulative users) or > 0"},
		{func(o *Options) { o.Precision = 1 }, "--precision 1: must be 0 (the coordinator's 2%) or between 0 and 1"},
	} {
		o := DefaultOptions()
		tc.mutate(&o)
		var out strings.Builder
		if _, err := Run(context.Background(), o, &out); err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("err %v; want one naming %s", err, tc.says)
		}
		if out.Len() != 0 {
			t.Errorf("%s: it started before rejecting the flag: %s", tc.says, out.String())
		}
	}
}

// TestForSimulative: simulative users get the larger target, teams, utilization criterion,
// user cap and precision unless a flag set them; a latency threshold given keeps the
// latency criterion; other user types are left alone.
func TestForSimulative(t *testing.T) {
	none := func(string) bool { return false }
	o := DefaultOptions()
	o.Users = "simulative"
	o.ForSimulative(none)
	if o.Workers != SimulativeWorkers || o.Teams != SimulativeTeams || o.Utilization != SimulativeUtilization ||
		o.MaxUsers != SimulativeMaxUsers || o.Precision != SimulativePrecision {
		t.Errorf("defaults %+v; want the simulative target", o)
	}
	o = DefaultOptions()
	o.Users, o.Workers, o.Threshold = "simulative", 8, 50*time.Millisecond
	o.ForSimulative(func(f string) bool { return f == "workers" || f == "latency-threshold" })
	if o.Workers != 8 || o.Utilization != 0 || o.Teams != SimulativeTeams {
		t.Errorf("with --workers 8 --latency-threshold 50ms: %+v; want those kept, the latency criterion, 20 teams", o)
	}
	o = DefaultOptions()
	o.ForSimulative(none)
	if o != DefaultOptions() {
		t.Errorf("noop users changed: %+v", o)
	}
}

// TestLimits: simulative users, whose throughput is noisier, get twice the hold and budget
// when they are not set; set values are kept.
func TestLimits(t *testing.T) {
	for _, tc := range []struct {
		users            string
		maxHold, budget  time.Duration
		wantHold, wantBu time.Duration
	}{
		{"noop", 0, 0, 40 * time.Second, 15 * time.Minute},
		{"script", 0, 0, 40 * time.Second, 15 * time.Minute},
		{"simulative", 0, 0, 80 * time.Second, 30 * time.Minute}, // on the noop target
		{"simulative-target", 0, 0, 40 * time.Second, 30 * time.Minute},
		{"simulative", 30 * time.Second, 5 * time.Minute, 30 * time.Second, 5 * time.Minute},
	} {
		o := DefaultOptions()
		o.Users, o.MaxHold, o.TimeBudget = tc.users, tc.maxHold, tc.budget
		if tc.users == "simulative-target" {
			o.Users, o.Workers = "simulative", SimulativeWorkers
		}
		if h, b := o.Limits(); h != tc.wantHold || b != tc.wantBu {
			t.Errorf("%s users, --max-hold %v, --time-budget %v: %v and %v; want %v and %v", tc.users, tc.maxHold, tc.budget, h, b, tc.wantHold, tc.wantBu)
		}
	}
}

// TestTruthMeasured: λ and R0 come from the passing probes only, weighted by their requests.
func TestTruthMeasured(t *testing.T) {
	o := DefaultOptions() // 400 requests/s, T = 100 ms
	probes := []search.Probe{
		{Users: 100, Verdict: search.Pass, Throughput: 10, MeanLatency: 0.010},
		{Users: 300, Verdict: search.Pass, Throughput: 30, MeanLatency: 0.030},
		{Users: 600, Verdict: search.Fail, Throughput: 40, MeanLatency: 2},
		{Users: 800, Verdict: search.Invalid, Throughput: 1, MeanLatency: 9},
	}
	truth, lambda, r0 := o.TruthMeasured(probes)
	// λ = 40/400 = 0.1 /s, R0 = (10x0.01 + 30x0.03)/40 = 0.025 s: 400 x (0.1 + 10 - 0.025) = 4030.
	if math.Abs(lambda-0.1) > 1e-9 || math.Abs(r0-0.025) > 1e-9 || math.Abs(truth-4030) > 1e-6 {
		t.Fatalf("truth %v, λ %v, R0 %v; want 4030, 0.1, 0.025", truth, lambda, r0)
	}
	if truth, _, _ := o.TruthMeasured(probes[2:]); truth != 0 {
		t.Fatalf("no pass: truth %v; want 0", truth)
	}
}

// TestTruthUtilization: the answer is where N·λ(N) reaches U·W/S, with λ(N) the line
// through the valid probes within 25 % of the supported users, weighted by their holds.
func TestTruthUtilization(t *testing.T) {
	o := DefaultOptions() // W/S = 400 requests/s
	o.Utilization = 0.25  // 100 requests/s
	// λ(N) = 0.3 + 0.001·N: 0.48 at 180 users, 0.5 at 200, 0.52 at 220, so N·λ(N) = 100 at
	// N = 200. The rate at the supported users (180) taken as constant would say 208.
	line := func(n int) float64 { return float64(n) * (0.3 + 0.001*float64(n)) }
	probes := []search.Probe{
		{Users: 100, Verdict: search.Pass, Throughput: 5, HoldSec: 10}, // more than 25 % off: ignored
		{Users: 180, Verdict: search.Pass, Throughput: line(180), HoldSec: 10},
		{Users: 200, Verdict: search.Fail, Throughput: line(200), HoldSec: 40},
		{Users: 220, Verdict: search.Fail, Throughput: line(220), HoldSec: 20},
		{Users: 190, Verdict: search.Invalid, Throughput: 900, HoldSec: 10}, // the agents' limit: ignored
	}
	truth, lambda := o.TruthUtilization(probes, 180)
	if math.Abs(truth-200) > 1e-6 || math.Abs(lambda-0.5) > 1e-9 {
		t.Fatalf("truth %v, λ %v; want 200, 0.5 (the line's crossing)", truth, lambda)
	}
	// One user count has no line: the pooled rate, (190 + 210) / 800 per user.
	same := []search.Probe{
		{Users: 400, Verdict: search.Pass, Throughput: 190, HoldSec: 10},
		{Users: 400, Verdict: search.Fail, Throughput: 210, HoldSec: 10},
	}
	if truth, lambda := o.TruthUtilization(same, 400); math.Abs(lambda-0.5) > 1e-9 || math.Abs(truth-200) > 1e-6 {
		t.Fatalf("one user count: truth %v, λ %v; want 200, 0.5 (pooled)", truth, lambda)
	}
	// A line that falls so fast it never reaches the target: the pooled rate again.
	falling := []search.Probe{
		{Users: 100, Verdict: search.Pass, Throughput: 100 * 0.5, HoldSec: 10},
		{Users: 120, Verdict: search.Pass, Throughput: 120 * 0.1, HoldSec: 10},
	}
	if truth, lambda := o.TruthUtilization(falling, 110); math.Abs(lambda-62.0/220) > 1e-9 || math.Abs(truth-100/lambda) > 1e-6 {
		t.Fatalf("falling rate: truth %v, λ %v; want the pooled %v", truth, lambda, 62.0/220)
	}
	if truth, _ := o.TruthUtilization(probes, 400); truth != 0 {
		t.Fatalf("no probe near the answer: truth %v; want 0", truth)
	}
}

// TestTruthUtilization_Drift: the users' rate falls while the search runs, λ(N, t) = 0.36 +
// 0.001·N − 0.0001·t (t in seconds). At the last three probes (t = 500, 600, 700; 600 on
// average) it is the line of TestTruthUtilization, which crosses at 200 users; the same
// probes without their times mix early and late rates, and the plain line in N says
// otherwise.
func TestTruthUtilization_Drift(t *testing.T) {
	o := DefaultOptions()
	o.Utilization = 0.25 // 100 requests/s
	rate := func(n int, at float64) float64 { return 0.36 + 0.001*float64(n) - 0.0001*at }
	var probes []search.Probe
	for i, n := range []int{220, 180, 200, 190, 205, 195, 200} {
		at := float64(i+1) * 100
		probes = append(probes, search.Probe{Users: n, Verdict: search.Pass,
			Throughput: float64(n) * rate(n, at), HoldSec: 40, At: at})
	}
	probes = append(probes, search.Probe{Users: 199, Verdict: search.Invalid, Throughput: 900, HoldSec: 40, At: 750}) // ignored
	truth, lambda := o.TruthUtilization(probes, 200)
	if math.Abs(truth-200) > 1e-6 || math.Abs(lambda-0.5) > 1e-9 {
		t.Fatalf("truth %v, λ %v; want 200, 0.5 (the crossing of the rate at the last probes)", truth, lambda)
	}
	for i := range probes {
		probes[i].At = 0
	}
	if untimed, _ := o.TruthUtilization(probes, 200); math.Abs(untimed-200) < 2 {
		t.Fatalf("without times the truth is %v; the test's drift should move it off 200", untimed)
	}
	// Times with one user count leave the slope unknown: the plain fit's fallback, pooled.
	flat := []search.Probe{}
	for i := range 5 {
		at := float64(i+1) * 100
		flat = append(flat, search.Probe{Users: 200, Verdict: search.Pass, Throughput: 200 * rate(200, at), HoldSec: 10, At: at})
	}
	if truth, _ := o.TruthUtilization(flat, 200); math.IsNaN(truth) || truth <= 0 {
		t.Fatalf("one user count with times: truth %v; want the pooled answer", truth)
	}
}

// TestDemo_Interrupted: a demo stopped mid-search says it has no answer and what passed,
// and does not score that lower bound against the model as if it were the answer.
func TestDemo_Interrupted(t *testing.T) {
	o := DefaultOptions()
	o.Workers, o.ServiceTime, o.MaxUsers = 2, 20*time.Millisecond, 500
	o.Hold, o.Settle, o.RampRate, o.StartUsers = 3*time.Second, 2*time.Second, 25, 20
	o.ResultsDir = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background()) // as the CLI does on SIGINT
	defer cancel()
	time.AfterFunc(12*time.Second, cancel)
	var out strings.Builder
	res, err := Run(ctx, o, &out)
	if err != nil && res.Report.Outcome == "" {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	s := out.String()
	if !strings.Contains(s, "demo: interrupted; ") || !strings.Contains(s, "demo: no answer (interrupted): ") || strings.Contains(s, "demo: found") ||
		!strings.Contains(s, "supported users: >= ") || strings.Contains(s, "%)\n") {
		t.Errorf("output of an interrupted demo:\n%s\nwant \"no answer (interrupted)\", a lower bound, and no error against the model", s)
	}
}
