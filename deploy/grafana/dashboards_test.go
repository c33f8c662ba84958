package grafana

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/loadtest/loadtest/internal/testtools"
)

// TestDashboards keeps dashboards/*.json equal to the code (LOADTEST_UPDATE_DEFAULTS=1
// rewrites them), checks that each file reads back as a Grafana dashboard with every panel's
// queries, and that every query is PromQL once Grafana's $__rate_interval is set.
func TestDashboards(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	for _, d := range All() {
		built, err := d.Build()
		if err != nil {
			t.Fatalf("%s: %v", d.UID, err)
		}
		path := filepath.Join("dashboards", d.UID+".json")
		testtools.DefaultFile(t, path, built)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		//lint:ignore SA1019 the files are the v1 schema (see Build)
		var back dashboard.Dashboard
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s does not read back as a dashboard: %v", path, err)
		}
		if got := len(back.Panels); got != len(d.Panels) {
			t.Errorf("%s: %d panels; want %d", path, got, len(d.Panels))
		}
		for _, p := range d.Panels {
			for _, q := range p.Queries {
				if _, err := parser.ParseExpr(Instant(q.Expr)); err != nil {
					t.Errorf("%s, %q: %q is not PromQL: %v", d.UID, p.Title, q.Expr, err)
				}
				if !strings.Contains(string(b), mustJSON(q.Expr)) {
					t.Errorf("%s lacks the query %s", path, q.Expr)
				}
			}
		}
	}
}

func mustJSON(s string) string {
	b, _ := json.Marshal(s)
	return strings.Trim(string(b), `"`)
}
