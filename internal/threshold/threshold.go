// Package threshold is the pass/fail verdict of a run for CI, as k6's thresholds are: each
// threshold is a statistic of one series (or of all requests) compared with a limit, such as
// "p99<500ms", "error_rate<1%" or "route GET /users/me p95<=200ms". A run whose thresholds
// do not all hold exits with exitcode.ThresholdsFailed.
package threshold

import (
	"fmt"
	"io"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loadtest/loadtest/histogram"
	"github.com/loadtest/loadtest/internal/config"
)

// Syntax is the grammar, for help texts and errors.
const Syntax = `[SERIES ]STAT OP VALUE: STAT is p50, p99, p99.9 (or p(99)), mean, max, error_rate, errors or count; ` +
	`OP is <, <=, > or >=; VALUE is a duration (300ms, 1.5s; a bare number is milliseconds) for latencies, ` +
	`a share (1% or 0.01) for error_rate, a number for errors and count; SERIES is a key of the summary ` +
	`("route GET /users/me", "action GetMe", "timing login"), and all requests when left out`

// Threshold is one parsed threshold.
type Threshold struct {
	Expr     string  // as written
	Series   string  // "" for all requests
	Stat     string  // "p", "mean", "max", "error_rate", "errors", "count"
	Quantile float64 // for "p": 0 < q <= 100
	Op       string
	Limit    float64 // µs for latencies, a share for error_rate, a number otherwise
}

var grammar = regexp.MustCompile(`^\s*(?:(.*\S)\s+)?(p\(?([0-9]+(?:\.[0-9]+)?)\)?|mean|max|error_rate|errors|count)\s*(<=|>=|<|>)\s*(\S+)\s*$`)

// Parse reads one threshold; its error names the expression, the part that is wrong and
// what is allowed.
func Parse(expr string) (Threshold, error) {
	t, rule := parse(expr)
	if rule != "" {
		return Threshold{}, fmt.Errorf("threshold %q: %s", expr, rule)
	}
	return t, nil
}

// ParseAll parses the thresholds of a config field (field[i] in errors): every one that
// is wrong is a *config.FieldError, all of them joined.
func ParseAll(field string, exprs []string) ([]Threshold, error) {
	var ck config.Checker
	out := make([]Threshold, 0, len(exprs))
	for i, e := range exprs {
		t, rule := parse(e)
		ck.Check(rule == "", fmt.Sprintf("%s[%d]", field, i), e, rule)
		out = append(out, t)
	}
	if err := ck.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// parse returns the threshold, or the rule expr breaks.
func parse(expr string) (Threshold, string) {
	m := grammar.FindStringSubmatch(expr)
	if m == nil {
		return Threshold{}, "want " + Syntax
	}
	t := Threshold{Expr: strings.TrimSpace(expr), Series: m[1], Stat: m[2], Op: m[4]}
	if m[3] != "" {
		t.Stat = "p"
		q, _ := strconv.ParseFloat(m[3], 64) // the grammar took digits
		if q <= 0 || q > 100 {
			return Threshold{}, fmt.Sprintf("percentile %s is not in (0, 100]", m[3])
		}
		t.Quantile = q
	}
	v, err := limit(t.Stat, m[5])
	if err != nil {
		return Threshold{}, fmt.Sprintf("value %q: %v", m[5], err)
	}
	t.Limit = v
	return t, ""
}

func limit(stat, s string) (float64, error) {
	switch stat {
	case "error_rate":
		if p, ok := strings.CutSuffix(s, "%"); ok {
			v, err := strconv.ParseFloat(p, 64)
			if err != nil || v < 0 || v > 100 {
				return 0, fmt.Errorf("want a share such as 1%% or 0.01")
			}
			return v / 100, nil
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v < 0 || v > 1 {
			return 0, fmt.Errorf("want a share such as 1%% or 0.01")
		}
		return v, nil
	case "errors", "count":
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v < 0 || math.IsInf(v, 0) {
			return 0, fmt.Errorf("want a count such as 0 or 100")
		}
		return v, nil
	}
	if v, err := strconv.ParseFloat(s, 64); err == nil && v >= 0 && !math.IsInf(v, 0) {
		return v * 1000, nil // milliseconds, as k6 takes them
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("want a duration such as 300ms or 1.5s (a bare number is milliseconds)")
	}
	return float64(d) / float64(time.Microsecond), nil
}

// Result is a threshold checked against a run.
type Result struct {
	Threshold string `json:"threshold"`
	Passed    bool   `json:"passed"`
	// Observed is the statistic as measured ("412ms", "0.8%", "17"); Note says why there
	// was nothing to measure, when there was not.
	Observed string `json:"observed"`
	Note     string `json:"note,omitempty"`
}

// Check evaluates each threshold on snap, the run's histograms (keys as the recorder has
// them: "route GET /x", "action Y", ...). A threshold whose series recorded nothing fails,
// and its note names the series there were: a misspelt route must not pass in silence.
func Check(ts []Threshold, snap histogram.Snapshot) []Result {
	out := make([]Result, 0, len(ts))
	for _, t := range ts {
		out = append(out, check(t, snap))
	}
	return out
}

// Passed reports whether every result passed.
func Passed(rs []Result) bool {
	return !slices.ContainsFunc(rs, func(r Result) bool { return !r.Passed })
}

func check(t Threshold, snap histogram.Snapshot) Result {
	r := Result{Threshold: t.Expr}
	s, ok := series(t.Series, snap)
	if !ok || s.Hist.TotalCount()+s.Skipped == 0 && t.Stat != "count" && t.Stat != "errors" {
		r.Observed = "no data"
		r.Note = "nothing was recorded under " + name(t.Series)
		if !ok {
			keys := slices.Sorted(maps.Keys(snap))
			if near := config.Nearest(t.Series, keys); near != "" {
				r.Note += fmt.Sprintf(" (did you mean %q?)", near)
			} else if len(keys) > 0 {
				r.Note += "; the run has " + strings.Join(keys, ", ")
			}
		}
		return r
	}
	var v float64
	switch t.Stat {
	case "p":
		v = float64(s.Hist.ValueAtQuantile(t.Quantile))
		r.Observed = fmtMicros(v)
	case "mean":
		v = s.Hist.Mean()
		r.Observed = fmtMicros(v)
	case "max":
		v = float64(s.Hist.Max())
		r.Observed = fmtMicros(v)
	case "error_rate":
		if n := s.Hist.TotalCount(); n > 0 {
			v = float64(s.Errors) / float64(n)
		}
		r.Observed = strconv.FormatFloat(100*v, 'g', 3, 64) + "%"
	case "errors":
		v = float64(s.Errors)
		r.Observed = strconv.FormatInt(s.Errors, 10)
	case "count":
		v = float64(s.Hist.TotalCount())
		r.Observed = strconv.FormatInt(s.Hist.TotalCount(), 10)
	}
	switch t.Op {
	case "<":
		r.Passed = v < t.Limit
	case "<=":
		r.Passed = v <= t.Limit
	case ">":
		r.Passed = v > t.Limit
	case ">=":
		r.Passed = v >= t.Limit
	}
	return r
}

// series is the named series of snap, or all requests merged for "".
func series(key string, snap histogram.Snapshot) (histogram.Series, bool) {
	if key != "" {
		s, ok := snap[key]
		return s, ok
	}
	if s, ok := snap.Merged("route "); ok {
		return s, true
	}
	return histogram.Series{Hist: histogram.New()}, true // no request at all: count and errors are 0
}

func name(series string) string {
	if series == "" {
		return "any route"
	}
	return fmt.Sprintf("%q", series)
}

func fmtMicros(us float64) string {
	d := time.Duration(us * float64(time.Microsecond))
	switch {
	case d >= time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + "s"
	case d >= time.Millisecond:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + "ms"
	}
	return strconv.FormatInt(d.Microseconds(), 10) + "µs"
}

// Print writes one line per result ("PASS p99<500ms (observed 412.0ms)") and a verdict
// line; nothing when there are none.
func Print(out io.Writer, rs []Result) {
	if len(rs) == 0 {
		return
	}
	failed := 0
	for _, r := range rs {
		mark := "PASS"
		if !r.Passed {
			mark, failed = "FAIL", failed+1
		}
		note := ""
		if r.Note != "" {
			note = "; " + r.Note
		}
		fmt.Fprintf(out, "threshold %s  %s (observed %s%s)\n", mark, r.Threshold, r.Observed, note)
	}
	if failed > 0 {
		fmt.Fprintf(out, "thresholds: %d of %d failed\n", failed, len(rs))
	}
}
