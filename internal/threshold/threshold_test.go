package threshold

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/loadtest/loadtest/histogram"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want Threshold
	}{
		{"p99<500ms", Threshold{Stat: "p", Quantile: 99, Op: "<", Limit: 500_000}},
		{"p(95) <= 1.5s", Threshold{Stat: "p", Quantile: 95, Op: "<=", Limit: 1_500_000}},
		{"p99.9<250", Threshold{Stat: "p", Quantile: 99.9, Op: "<", Limit: 250_000}},
		{"error_rate<1%", Threshold{Stat: "error_rate", Op: "<", Limit: 0.01}},
		{"error_rate<=0.05", Threshold{Stat: "error_rate", Op: "<=", Limit: 0.05}},
		{"route GET /users/me p95<200ms", Threshold{Series: "route GET /users/me", Stat: "p", Quantile: 95, Op: "<", Limit: 200_000}},
		{"action GetMe errors<1", Threshold{Series: "action GetMe", Stat: "errors", Op: "<", Limit: 1}},
		{"count>=100", Threshold{Stat: "count", Op: ">=", Limit: 100}},
		{"  mean < 20ms ", Threshold{Stat: "mean", Op: "<", Limit: 20_000}},
	} {
		got, err := Parse(tc.expr)
		tc.want.Expr = strings.TrimSpace(tc.expr)
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tc.expr, got, err, tc.want)
		}
	}
}

func TestParse_Errors(t *testing.T) {
	for expr, want := range map[string]string{
		"p99":                 "want [SERIES ]STAT OP VALUE",
		"latency<5ms":         "want [SERIES ]STAT OP VALUE",
		"p0<5ms":              "percentile 0 is not in (0, 100]",
		"p101<5ms":            "percentile 101 is not in (0, 100]",
		"p99<fast":            `value "fast": want a duration such as 300ms`,
		"error_rate<150%":     `value "150%": want a share such as 1% or 0.01`,
		"error_rate<2":        `value "2": want a share`,
		"errors<-1":           `value "-1": want a count`,
		"p99<-5ms":            `value "-5ms": want a duration`,
		"route GET /x p99=5s": "want [SERIES ]STAT OP VALUE",
	} {
		_, err := Parse(expr)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), expr) {
			t.Errorf("Parse(%q) = %v; want an error naming it and saying %q", expr, err, want)
		}
	}
	_, err := ParseAll("Thresholds", []string{"p99<1s", "p99", "error_rate<1%", "max<x"})
	if err == nil || !strings.Contains(err.Error(), "Thresholds[1]") || !strings.Contains(err.Error(), "Thresholds[3]") ||
		strings.Contains(err.Error(), "Thresholds[0]") {
		t.Errorf("ParseAll = %v; want the fields Thresholds[1] and [3] named, and only them", err)
	}
}

// run is a snapshot of 100 requests to GET /a (1..100 ms, 3 failed) and 10 to GET /b (1 s).
func run() histogram.Snapshot {
	r := histogram.NewRecorder()
	for i := 1; i <= 100; i++ {
		r.Record("route GET /a", time.Duration(i)*time.Millisecond, i <= 3)
	}
	for range 10 {
		r.Record("route GET /b", time.Second, false)
	}
	r.Record("action GetMe", 5*time.Millisecond, false)
	return r.Snapshot()
}

func TestCheck(t *testing.T) {
	snap := run()
	for _, tc := range []struct {
		expr     string
		pass     bool
		observed string
	}{
		{"route GET /a p99<100ms", true, "99.0ms"},
		{"route GET /a p99<99ms", false, "99.0ms"},
		{"route GET /a p50<=51ms", true, "50.0ms"},
		{"route GET /a error_rate<5%", true, "3%"},
		{"route GET /a error_rate<3%", false, "3%"},
		{"route GET /a errors<=3", true, "3"},
		{"error_rate<3%", true, "2.73%"}, // all requests: 3 of 110
		{"p99<500ms", false, "1.00s"},    // all requests: the 10 slow ones are the top 9 %
		{"p90<500ms", true, "99.0ms"},    // ... but not the top 10 %
		{"count>=110", true, "110"},
		{"max<1s", false, "1.00s"},
		{"action GetMe p99<10ms", true, "5.0ms"},
	} {
		th, err := Parse(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		r := Check([]Threshold{th}, snap)[0]
		if r.Passed != tc.pass || r.Observed != tc.observed {
			t.Errorf("%s: passed %v, observed %s; want %v, %s", tc.expr, r.Passed, r.Observed, tc.pass, tc.observed)
		}
	}
}

// TestCheck_NoData: a threshold on a series the run never recorded fails, and says which
// series there were, so a misspelt route cannot pass unnoticed.
func TestCheck_NoData(t *testing.T) {
	snap := run()
	ts, _ := ParseAll("t", []string{"route GET /aa p99<1s", "route POST /nothing/here p99<1s"})
	rs := Check(ts, snap)
	if rs[0].Passed || !strings.Contains(rs[0].Note, `did you mean "route GET /a"?`) {
		t.Errorf("misspelt route: %+v; want a failure suggesting route GET /a", rs[0])
	}
	if rs[1].Passed || !strings.Contains(rs[1].Note, "the run has action GetMe, route GET /a, route GET /b") {
		t.Errorf("unknown route: %+v; want a failure listing the series", rs[1])
	}
	ts, _ = ParseAll("t", []string{"p99<1s", "errors<1"})
	rs = Check(ts, histogram.Snapshot{})
	if rs[0].Passed || rs[0].Observed != "no data" || !rs[1].Passed {
		t.Errorf("a run without requests: %+v; want p99 failing with no data, errors<1 passing", rs)
	}
	if Passed(rs) {
		t.Error("Passed = true with a failure")
	}
	var out bytes.Buffer
	Print(&out, rs)
	if !strings.Contains(out.String(), "threshold FAIL  p99<1s (observed no data; nothing was recorded under any route)") ||
		!strings.Contains(out.String(), "threshold PASS  errors<1 (observed 0)") || !strings.Contains(out.String(), "thresholds: 1 of 2 failed") {
		t.Errorf("Print:\n%s", out.String())
	}
}
