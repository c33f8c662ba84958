package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loadtest/loadtest/agent"
	"github.com/loadtest/loadtest/agent/api"
	"github.com/loadtest/loadtest/coordinator"
	"github.com/loadtest/loadtest/coordinator/plan"
	"github.com/loadtest/loadtest/internal/mmsim/mmsimtest"
)

// metricsSpy sits in front of an agent's API and adds up every metrics page the coordinator
// reads from it: what each agent measured, to hold the coordinator's merge against.
type metricsSpy struct {
	mu       sync.Mutex
	counts   map[string]int64 // by histogram key
	counters map[string]int64
	maxUsers int
}

func (s *metricsSpy) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if strings.HasSuffix(r.URL.Path, "/metrics") && rec.Code == http.StatusOK && r.URL.Path != "/metrics" {
			var page agent.MetricsPage
			if err := json.Unmarshal(rec.Body.Bytes(), &page); err == nil {
				s.mu.Lock()
				for _, iv := range page.Intervals {
					for k, v := range iv.Histograms {
						s.counts[k] += v.Hist.TotalCount()
					}
					for k, n := range iv.Counters {
						s.counters[k] += n
					}
					s.maxUsers = max(s.maxUsers, iv.ActiveUsers)
				}
				s.mu.Unlock()
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// TestRun_Plan runs a plan through `coordinator --plan` on two real agents (their HTTP APIs)
// against mmsim: a script whose main returns (its users are replaced) and one that loops.
// The users follow the plan within one ramp step, each agent gets half, the merged metrics
// equal the sum of the agents' exactly and the requests mmsim served, and the CSV has one row
// per metric per period.
func TestRun_Plan(t *testing.T) {
	mm := mmsimtest.Start(t, nil)
	var spies []*metricsSpy
	var agents []coordinator.AgentConfig
	for i := range 2 {
		srv := agent.NewServer(agent.ServerOptions{})
		spy := &metricsSpy{counts: map[string]int64{}, counters: map[string]int64{}}
		hs := httptest.NewServer(spy.wrap(api.Handler(srv, api.HandlerOptions{})))
		t.Cleanup(func() { hs.Close(); _ = srv.Shutdown(context.Background()) })
		spies = append(spies, spy)
		agents = append(agents, coordinator.AgentConfig{Id: fmt.Sprintf("a%d", i), ApiURL: hs.URL})
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "returner.star"), []byte(`
def main():
    get("/api/v4/system/ping", name="ping")
    delay(100)
    inc_counter("returned")
`), 0o644); err != nil {
		t.Fatal(err)
	}
	planDoc := map[string]any{
		"Name": "e2e", "Targets": []string{mm.URL}, "Agents": agents,
		"Scripts": []map[string]any{
			{"File": "returner.star", "Share": 1},
			{"Name": "looper", "Share": 1, "Source": "def main():\n    while True:\n        get('/api/v4/system/ping', name='ping loop')\n        delay(50, 0.2)\n"},
		},
		"Users": 8, "RampUpSec": 4, "RampSteps": 4, "SustainSec": 5, "WindDownSec": 4, "ReportEverySec": 3,
	}
	b, _ := json.Marshal(planDoc)
	planPath := filepath.Join(dir, "plan.json")
	if err := os.WriteFile(planPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	if err := run(context.Background(), []string{"--plan", planPath, "--results", dir, "--listen", ""}, &out, &errb); err != nil {
		t.Fatalf("run: %v\n%s\n%s", err, out.String(), errb.String())
	}
	m := regexp.MustCompile(`metrics: (\S+metrics.csv), `).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no metrics path in the output:\n%s", out.String())
	}
	r := readReport(t, out.String())

	// The users at each second follow the plan, within one ramp step (2 users).
	start := r.Decisions[0].Time
	p := &plan.Plan{Users: 8, RampUpSec: 4, RampSteps: 4, SustainSec: 5, WindDownSec: 4}
	sustained := 0
	for _, s := range r.Series {
		want, phase, _ := plan.UsersAt(p, s.Time.Sub(start))
		if d := s.Users - want; d < -2 || d > 2 {
			t.Errorf("at %v (%s) %d users, the plan says %d", s.Time.Sub(start).Round(time.Millisecond), phase, s.Users, want)
		}
		if phase == "sustain" && s.Users == 8 {
			sustained++
		}
	}
	if sustained < 3 {
		t.Errorf("only %d seconds at 8 users in the sustain phase", sustained)
	}

	// Merged = the sum of the agents' measurements, exactly; and = what mmsim served.
	merged, counters := map[string]int64{}, map[string]int64{}
	for _, per := range r.Periods {
		for _, s := range per.Metrics {
			merged[s.Key] += s.Count
		}
		for k, n := range per.Counters {
			counters[k] += n
		}
	}
	sum := map[string]int64{}
	for i, spy := range spies {
		for k, n := range spy.counts {
			sum[k] += n
		}
		if spy.maxUsers != 4 {
			t.Errorf("agent %d ran at most %d users; the plan's 8 split evenly is 4", i, spy.maxUsers)
		}
		if spy.counts["route GET ping"] == 0 {
			t.Errorf("agent %d served no returning users", i)
		}
	}
	for k, n := range sum {
		if merged[k] != n {
			t.Errorf("%s: merged %d, the agents' sum %d", k, merged[k], n)
		}
	}
	if len(merged) != len(sum) {
		t.Errorf("merged keys %v, the agents' %v", merged, sum)
	}
	served := gatherCounter(t, mm, "mattermost_http_requests_total")
	got := merged["route GET ping"] + merged["route GET ping loop"]
	if float64(got) != served {
		t.Errorf("the agents recorded %d requests; mmsim served %v", got, served)
	}
	t.Logf("merged %d requests = the agents' %d + %d = mmsim's %v", got,
		spies[0].counts["route GET ping"]+spies[0].counts["route GET ping loop"],
		spies[1].counts["route GET ping"]+spies[1].counts["route GET ping loop"], served)
	// The returning script's users were replaced again and again, and every main ran once.
	iterations := merged["action script returner"]
	if iterations < 40 || counters["returned"] != iterations {
		t.Errorf("returner: %d iterations, counter %d; want many (each ~100ms), equal", iterations, counters["returned"])
	}

	// The CSV has one row per metric per period.
	f, err := os.Open(m[1])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	perPeriod := map[string]int{}
	for _, row := range rows[1:] {
		key := row[0] + "|" + row[3]
		if seen[key] {
			t.Errorf("metric %q twice in period %s", row[3], row[0])
		}
		seen[key] = true
		perPeriod[row[0]]++
	}
	if len(perPeriod) != len(r.Periods) || len(r.Periods) < 4 {
		t.Fatalf("%d periods in the CSV, %d in the report; want the same, at least 4 (13s in 3s periods)", len(perPeriod), len(r.Periods))
	}
	for _, per := range r.Periods {
		want := len(per.Metrics) + len(per.Counters) + 2 // + users, utilization
		if got := perPeriod[per.Start.UTC().Format(time.RFC3339)]; got != want {
			t.Errorf("period %v: %d CSV rows, want %d", per.Start, got, want)
		}
	}
}

func gatherCounter(t *testing.T, mm *mmsimtest.Server, name string) float64 {
	t.Helper()
	mfs, err := mm.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			total := 0.0
			for _, m := range mf.GetMetric() {
				total += m.GetCounter().GetValue()
			}
			return total
		}
	}
	t.Fatalf("mmsim has no %s", name)
	return 0
}
