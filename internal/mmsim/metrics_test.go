package mmsim

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// gather sums the histogram or counter named name over all its label sets.
func gather(t *testing.T, s *Server, name string) map[string]float64 {
	t.Helper()
	mfs, err := s.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			switch {
			case m.Histogram != nil:
				out["count"] += float64(m.Histogram.GetSampleCount())
				out["sum"] += m.Histogram.GetSampleSum()
			case m.Counter != nil:
				out["value"] += m.Counter.GetValue()
			case m.Gauge != nil:
				out["value"] += m.Gauge.GetValue()
			}
		}
	}
	return out
}

// TestMetrics_Exposition scrapes /metrics as Prometheus would and checks Mattermost's names,
// the handler labels (route names, never raw ids) and the WebSocket gauge.
func TestMetrics_Exposition(t *testing.T) {
	s, base := newTestServer(t, nil, nil)
	f := newFixture(t, base)
	ws := f.bob.ws("")
	ws.next()
	f.alice.must("GET", "/api/v4/channels/"+f.town.ID+"/posts?page=0&per_page=30", nil, 200, nil)
	newClient(t, base).must("GET", "/api/v4/users/me", nil, 401, nil)

	rec := httptest.NewRecorder()
	s.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("exposition does not parse: %v", err)
	}
	for _, name := range []string{"mattermost_api_time", "mattermost_http_requests_total", "mattermost_http_errors_total",
		"mattermost_http_websockets_total", "process_cpu_seconds_total", "go_goroutines"} {
		if mfs[name] == nil {
			t.Errorf("metric %s missing", name)
		}
	}
	seen := map[string]bool{}
	for _, m := range mfs["mattermost_api_time"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		seen[labels["handler"]+" "+labels["status_code"]] = true
		if isID(labels["handler"]) || strings.Contains(labels["handler"], "/") {
			t.Errorf("handler label %q is not a route name", labels["handler"])
		}
	}
	for _, want := range []string{"getPostsForChannel 200", "getUser 401", "login 200", "createUser 201"} {
		if !seen[want] {
			t.Errorf("no mattermost_api_time series for %s; have %v", want, seen)
		}
	}
	if v := gather(t, s, "mattermost_http_websockets_total")["value"]; v != 1 {
		t.Errorf("mattermost_http_websockets_total = %v; want 1", v)
	}
	if v := gather(t, s, "mattermost_http_errors_total")["value"]; v < 1 {
		t.Errorf("mattermost_http_errors_total = %v; want >= 1", v)
	}
}
