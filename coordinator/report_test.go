package coordinator

import (
	"context"
	"encoding/json"
	"image"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/coordinator/plan"
	"github.com/loadtest/loadtest/coordinator/plan/plantest"
	"github.com/loadtest/loadtest/coordinator/search"
	"github.com/loadtest/loadtest/internal/testtools"
)

// sampleReport is a search's report as a run writes it: 20, 40, 80 users pass, 160 fails,
// 110 passes, 115 fails; one point a second with latency that turns up past 110 users.
func sampleReport() Report {
	cfg := DefaultConfig()
	r := newReport(cfg, agentconfig.DefaultConfig())
	t0 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	r.StartTime = t0
	steps := []struct {
		users   int
		verdict search.Verdict
	}{{20, search.Pass}, {40, search.Pass}, {80, search.Pass}, {160, search.Fail}, {110, search.Pass}, {115, search.Fail}}
	now := t0
	for _, st := range steps {
		mean := 0.02 + math.Max(0, float64(st.users-100)/100)
		for i := range 20 {
			phase := "hold"
			if i < 5 {
				phase = "settle"
			}
			r.Series = append(r.Series, Second{Time: now, Users: st.users, Phase: phase, Throughput: math.Min(float64(st.users), 100),
				MeanLatency: mean, P50: mean * 0.8, P99: mean * 3, Utilization: 0.05})
			now = now.Add(time.Second)
		}
		r.Probes = append(r.Probes, search.Probe{Users: st.users, Verdict: st.verdict, Reason: string(st.verdict), Values: []float64{mean},
			Throughput: math.Min(float64(st.users), 100), MeanLatency: mean})
		r.Decisions = append(r.Decisions, TimedDecision{Time: now, Decision: search.Decision{Users: st.users, Phase: "bracket", Reason: "test"}})
	}
	r.StopTime = now
	r.setResult(search.Decision{Done: true, Reason: "bracket [110, 115) is within 5%", Result: search.Result{SupportedUsers: 110, Bracket: [2]int{110, 115}, Knee: 100}})
	return r
}

// TestReport_Write: report.json holds what the search saw and reads back the same; the HTML
// carries the answer, a chart per series and a row per probe.
func TestReport_Write(t *testing.T) {
	r := sampleReport()
	r.RateDriftPerMin = -0.012
	dir := filepath.Join(t.TempDir(), "results")
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.RateDriftPerMin != -0.012 {
		t.Errorf("report.json: RateDriftPerMin %v; want -0.012", back.RateDriftPerMin)
	}
	if back.SupportedUsers != 110 || back.Bracket != [2]int{110, 115} || len(back.Probes) != 6 || len(back.Series) != 120 || len(back.Thresholds) != 4 {
		t.Fatalf("report.json: %d users, bracket %v, %d probes, %d seconds", back.SupportedUsers, back.Bracket, len(back.Probes), len(back.Series))
	}
	html, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(html), "LT.chart(el"); n != 4 || !strings.Contains(string(html), "uPlot") {
		t.Errorf("%d charts; want 4 (users, latency, throughput, utilization), drawn by the inlined uPlot", n)
	}
	// The charts' data: a mark per probe at its hold's end, and a gap (not a zero) for a
	// second no agent measured.
	r.Series[30].NoData = true
	d := r.view().Data
	marks := 0
	for i := range d.T {
		if d.Pass[i] != nil || d.Fail[i] != nil || d.Invalid[i] != nil {
			marks++
		}
	}
	if marks != 6 {
		t.Errorf("%d probe marks; want 6", marks)
	}
	if d.Throughput[30] != nil || d.P99[30] != nil || d.Users[30] != r.Series[30].Users || d.Throughput[31] == nil {
		t.Errorf("a second with no data: throughput %v, p99 %v; want gaps (nil), and the users still drawn", d.Throughput[30], d.P99[30])
	}
	for _, want := range []string{"supported users: 110", `class="fail"`, "Average client request duration threshold 0.1 s",
		"each user&#39;s request rate moved -1.2% a minute during the search"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if strings.Contains(string(html), "fitted") {
		t.Errorf("report.html speaks of a fitted answer; the search did not fit one")
	}

	// An answer fitted near the noise floor says so, with its interval, in both files.
	r.Estimate, r.Fitted, r.WithinNoise = &search.Estimate{Users: 112.4, Err: 2.6, Probes: 5, Drift: true}, true, true
	fitted := filepath.Join(t.TempDir(), "fitted")
	if err := r.Write(fitted); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(filepath.Join(fitted, "report.json"))
	if err := json.Unmarshal(b, &back); err != nil || !back.Fitted || back.Estimate == nil || *back.Estimate != *r.Estimate {
		t.Errorf("report.json: fitted %v, estimate %+v (%v); want %+v", back.Fitted, back.Estimate, err, *r.Estimate)
	}
	html, _ = os.ReadFile(filepath.Join(fitted, "report.html"))
	if want := "the answer is the crossing fitted to the 5 probes near it, 112 ± 3 users at 95%, read at the last probe's time"; !strings.Contains(string(html), want) {
		t.Errorf("report.html lacks %q", want)
	}
}

// TestReport_RendersInChromium renders report.html in headless Chromium and checks the
// screenshot: the charts' lines, the verdict marks and the threshold are painted.
func TestReport_RendersInChromium(t *testing.T) {
	chromium := testtools.Require(t, "chromium", "chromium")
	dir := t.TempDir()
	r := sampleReport()
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "report.png")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append(append([]string(nil), testtools.ChromiumFlags...), "--user-data-dir="+filepath.Join(dir, "profile"),
		"--window-size=1000,1500", "--screenshot="+shot, "file://"+filepath.Join(dir, "report.html"))
	if out, err := exec.CommandContext(ctx, chromium, args...).CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 1000 || b.Dy() != 1500 {
		t.Fatalf("screenshot %v; want 1000x1500", b)
	}
	if os.Getenv("LOADTEST_KEEP_SCREENSHOT") != "" {
		b, _ := os.ReadFile(shot)
		_ = os.WriteFile(os.Getenv("LOADTEST_KEEP_SCREENSHOT"), b, 0o644)
	}
	for _, c := range []struct {
		what    string
		r, g, b uint8
		min     int
	}{
		{"the users and mean-latency lines (#2a6fdb)", 0x2a, 0x6f, 0xdb, 400},
		{"the pass marks and p50 line (#1a9641)", 0x1a, 0x96, 0x41, 200},
		{"the fail marks, p99 line and thresholds (#d7191c)", 0xd7, 0x19, 0x1c, 200},
		{"the throughput line (#7b3294)", 0x7b, 0x32, 0x94, 100},
	} {
		if n := countNear(img, c.r, c.g, c.b); n < c.min {
			t.Errorf("%s: %d pixels painted; want >= %d", c.what, n, c.min)
		}
	}
}

// countNear counts the pixels within a small distance of a colour (antialiasing blends edges).
func countNear(img image.Image, r, g, b uint8) int {
	n := 0
	bd := img.Bounds()
	for y := bd.Min.Y; y < bd.Max.Y; y++ {
		for x := bd.Min.X; x < bd.Max.X; x++ {
			pr, pg, pb, _ := img.At(x, y).RGBA()
			d := math.Abs(float64(pr>>8)-float64(r)) + math.Abs(float64(pg>>8)-float64(g)) + math.Abs(float64(pb>>8)-float64(b))
			if d < 40 {
				n++
			}
		}
	}
	return n
}

// TestReport_WritePlan: a plan's report answers with the plan's totals, says which latency
// is which, and marks a period with a saturated agent.
func TestReport_WritePlan(t *testing.T) {
	r := sampleReport()
	r.Probes, r.Decisions = nil, nil
	r.Plan = &plan.Plan{Name: "checkout", Users: 7, SustainSec: 60, Targets: []string{"http://127.0.0.1:1"}}
	r.LatencyNote = LatencyNote
	quiet := plantest.Period()
	quiet.Saturated, quiet.SaturatedAgents = false, nil
	r.Periods = []plan.Period{quiet, plantest.Period()}
	dir := t.TempDir()
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	html := string(b)
	for _, want := range []string{"Load plan checkout", "plan checkout: 7 users, 20 requests, 2 errors (1 period with a saturated agent)",
		"SATURATED: a1", "intended start", "route GET /x", "counter logins"} {
		if !strings.Contains(html, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if strings.Contains(html, "<h2 style=\"font-size:16px\">Probes</h2>") {
		t.Error("a plan's report shows the search's probes table")
	}
}
