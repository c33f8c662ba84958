package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadtest/loadtest/coordinator"
	"github.com/loadtest/loadtest/internal/exitcode"
)

// writeRun writes a search's report whose route takes about ms milliseconds in each of 30
// hold seconds at 100 users, into dir/name.
func writeRun(t *testing.T, dir, name string, ms float64) string {
	t.Helper()
	r := coordinator.Report{SupportedUsers: 100, Bracket: [2]int{100, 104}, Outcome: coordinator.Answered, StartTime: time.Unix(1700000000, 0)}
	k := coordinator.KeySeries{Key: "route GET /users/me"}
	for i := range 30 {
		r.Series = append(r.Series, coordinator.Second{Users: 100, Phase: "hold"})
		v := ms * (1 + 0.1*float64(i%5-2)/2)
		k.Sec, k.Count, k.Errors, k.P50, k.P99 = append(k.Sec, i), append(k.Count, 50), append(k.Errors, 0), append(k.P50, v/2), append(k.P99, v)
	}
	r.Keys = []coordinator.KeySeries{k}
	path := filepath.Join(dir, name)
	if err := r.Write(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestReportCompare: two runs' folders compared as markdown (a slower route marked
// significant) and as an HTML file; bad input exits 2 naming the argument.
func TestReportCompare(t *testing.T) {
	dir := t.TempDir()
	a, b := writeRun(t, dir, "search-a", 10), writeRun(t, dir, "search-b", 20)
	var out strings.Builder
	if err := run(context.Background(), []string{"report", "compare", a, filepath.Join(b, "report.json")}, &out, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"## loadtest: search-a (A) vs search-b (B)", "| supported users [bracket) | 100 [100, 104) | 100 [100, 104) | +0 users",
		"| route GET /users/me | 1500 / 1500 |", "**significant**"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, out.String())
		}
	}
	html := filepath.Join(dir, "c.html")
	if err := run(context.Background(), []string{"report", "compare", "--format", "html", "-o", html, a, b}, &out, &out); err != nil {
		t.Fatal(err)
	}
	if page, _ := os.ReadFile(html); !strings.Contains(string(page), `<b class="sig">`) {
		t.Errorf("the HTML page:\n%s", page)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"report", "compare", a, filepath.Join(dir, "nope")}, "B " + filepath.Join(dir, "nope") + ": open"},
		{[]string{"report", "compare", "--format", "pdf", a, b}, `--format "pdf": must be md or html`},
		{[]string{"report", "compare", a}, "accepts 2 arg(s), received 1"},
	} {
		err := run(context.Background(), tc.args, &out, &out)
		if exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v (exit %d); want exit 2 with %q", tc.args, err, exitcode.Of(err), tc.want)
		}
	}
}

// TestDemo_BadUI: a bad --ui address exits 2 naming it, before the demo starts anything.
func TestDemo_BadUI(t *testing.T) {
	var out strings.Builder
	err := run(context.Background(), []string{"demo", "--ui=bad:addr:x"}, &out, &out)
	if exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), `--ui "bad:addr:x": must be host:port`) || out.Len() > 0 {
		t.Fatalf("%v (exit %d), output %q; want exit 2 naming --ui and nothing started", err, exitcode.Of(err), out.String())
	}
}
