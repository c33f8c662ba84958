package coordinator

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/loadtest/loadtest/agent"
	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/coordinator/cluster"
	"github.com/loadtest/loadtest/coordinator/plan"
	"github.com/loadtest/loadtest/coordinator/search"
	"github.com/loadtest/loadtest/histogram"
	"github.com/loadtest/loadtest/internal/threshold"
	"github.com/loadtest/loadtest/internal/usermetrics"
)

// Report is the search's record: the answer, how it was found, and what was seen.
type Report struct {
	SupportedUsers int    `json:"SupportedUsers"`
	Bracket        [2]int `json:"Bracket"` // [last pass, first fail); [1] is 0 when nothing failed
	AtLeast        bool   `json:"AtLeast"` // no failure up to the answer: it is a lower bound
	AgentLimited   bool   `json:"AgentLimited"`
	// WithinNoise: a probe bounding the answer was still within noise of its threshold.
	WithinNoise bool `json:"WithinNoise,omitempty"`
	Knee        int  `json:"Knee"`
	// RateDriftPerMin is how much each user's request rate moved a minute during the search,
	// relative to its mean, from FitRate over the probes near the answer (0: not measured).
	RateDriftPerMin float64 `json:"RateDriftPerMin,omitempty"`
	Strategy        string  `json:"Strategy"`
	Reason          string  `json:"Reason"`
	Error           string  `json:"Error,omitempty"`
	// Outcome is how the search ended: "answered", "no-answer" (it ended without the
	// answer asked for: the workload broke, the budget ran out before the bracket narrowed,
	// the monitor or the agents failed; SupportedUsers is then what passed, a lower bound)
	// or "interrupted" (stopped by a signal or Stop, the same). Empty for a plan.
	Outcome Outcome `json:"Outcome,omitempty"`
	// WorkloadBroken says the users failed on their own side (see Probe.WorkloadBroken).
	WorkloadBroken bool `json:"WorkloadBroken,omitempty"`

	StartTime time.Time `json:"StartTime"`
	StopTime  time.Time `json:"StopTime"`

	Thresholds    []Query            `json:"Thresholds"`
	Config        Config             `json:"Config"`
	AgentConfig   agentconfig.Config `json:"AgentConfig"` // the admin password hidden
	TargetVersion string             `json:"TargetVersion,omitempty"`
	AgentVersion  agent.Version      `json:"AgentVersion"`
	// Extra holds what the caller knows that the search does not (the demo's model truth).
	Extra map[string]any `json:"Extra,omitempty"`

	Probes    []search.Probe        `json:"Probes"`
	Decisions []TimedDecision       `json:"Decisions"`
	Series    []Second              `json:"Series"` // one point a second
	Agents    []cluster.AgentHealth `json:"Agents"`
	// Errors is every failed request of the run by route, status and reason, most frequent
	// first (each with one whole error as an example).
	Errors []usermetrics.ErrorGroup `json:"Errors,omitempty"`

	// Plan is the plan run, when this is a plan's report (not a search's); Periods are its
	// periods as the writers got them.
	Plan    *plan.Plan    `json:"Plan,omitempty"`
	Periods []plan.Period `json:"Periods,omitempty"`
	// Totals is the plan's metrics over the whole run (every period merged); Checks are
	// its thresholds, checked on them.
	Totals      []histogram.Summary `json:"Totals,omitempty"`
	Checks      []threshold.Result  `json:"Checks,omitempty"`
	LatencyNote string              `json:"LatencyNote,omitempty"`

	// Keys are the per-second statistics of every route and action (see KeySeries).
	Keys []KeySeries `json:"Keys,omitempty"`

	lastAgents []cluster.AgentHealth
	keyIndex   map[string]int // Keys by key
}

// TimedDecision is a decision and when it was made.
type TimedDecision struct {
	Time time.Time `json:"time"`
	search.Decision
}

// Second is what the cluster did in one second.
type Second struct {
	Time        time.Time `json:"time"`
	Users       int       `json:"users"`
	Phase       string    `json:"phase"`
	Throughput  float64   `json:"throughput"` // requests/s
	MeanLatency float64   `json:"mean_s"`
	P50         float64   `json:"p50_s"`
	P99         float64   `json:"p99_s"`
	Utilization float64   `json:"utilization"` // the highest agent's
	// NoData: no agent closed a metrics interval in this second (the throughput and the
	// latencies are not measured, not zero; charts draw a gap).
	NoData bool `json:"no_data,omitempty"`
}

// KeySeries is one key's per-second statistics (a route's, an action's, a script's
// timing), in the seconds it had samples: Sec indexes Report.Series. Comparing runs
// resamples these seconds (package compare).
type KeySeries struct {
	Key    string    `json:"key"`
	Sec    []int     `json:"sec"`
	Count  []int64   `json:"count"`
	Errors []int64   `json:"errors"`
	P50    []float64 `json:"p50_ms"`
	P99    []float64 `json:"p99_ms"`
}

// addKeys appends one second's summaries to the key series.
func (r *Report) addKeys(sec int, sums []histogram.Summary) {
	if r.keyIndex == nil {
		r.keyIndex = map[string]int{}
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	for _, s := range sums {
		if s.Count == 0 {
			continue
		}
		i, ok := r.keyIndex[s.Key]
		if !ok {
			i = len(r.Keys)
			r.keyIndex[s.Key] = i
			r.Keys = append(r.Keys, KeySeries{Key: s.Key})
		}
		k := &r.Keys[i]
		k.Sec, k.Count, k.Errors = append(k.Sec, sec), append(k.Count, s.Count), append(k.Errors, s.Errors)
		k.P50, k.P99 = append(k.P50, ms(s.P50)), append(k.P99, ms(s.P99))
	}
}

func newReport(cfg Config, lt agentconfig.Config) Report {
	redacted := cfg
	redacted.ClusterConfig.Agents = slices.Clone(cfg.ClusterConfig.Agents)
	for i := range redacted.ClusterConfig.Agents {
		if redacted.ClusterConfig.Agents[i].Token != "" {
			redacted.ClusterConfig.Agents[i].Token = "(hidden)"
		}
	}
	return Report{Strategy: cfg.Search.Strategy, Thresholds: cfg.MonitorConfig.Queries, Config: redacted,
		AgentConfig: lt.Redacted(), AgentVersion: agent.BuildVersion(), Extra: map[string]any{}}
}

func (r *Report) setResult(d search.Decision) {
	r.SupportedUsers, r.Bracket, r.AtLeast = d.Result.SupportedUsers, d.Result.Bracket, d.Result.AtLeast
	r.AgentLimited, r.Knee, r.Reason = d.Result.AgentLimited, d.Result.Knee, d.Reason
	r.WithinNoise, r.WorkloadBroken = d.Result.WithinNoise, d.Result.WorkloadBroken
	r.Outcome = Answered
	if d.Result.NoAnswer {
		r.Outcome = NoAnswer
	}
}

// Outcome is how a search ended.
type Outcome string

// Outcomes; cmd/coordinator maps each to its exit code (README, "Exit codes").
const (
	Answered    Outcome = "answered"
	NoAnswer    Outcome = "no-answer"
	Interrupted Outcome = "interrupted"
)

func (r Report) clone() Report {
	r.Probes = slices.Clone(r.Probes)
	r.Decisions = slices.Clone(r.Decisions)
	r.Series = slices.Clone(r.Series)
	r.Agents = slices.Clone(r.Agents)
	r.Periods = slices.Clone(r.Periods)
	r.Errors = slices.Clone(r.Errors)
	r.Totals = slices.Clone(r.Totals)
	r.Checks = slices.Clone(r.Checks)
	r.Keys = slices.Clone(r.Keys) // each key's slices only grow past the copy's lengths
	r.keyIndex = nil
	return r
}

// Answer is the result line: "supported users: N", or "supported users: >= N".
func (r Report) Answer() string {
	if r.Plan != nil {
		var req, errs int64
		saturated := 0
		for _, p := range r.Periods {
			n, failed := requestsOf(p)
			req, errs = req+n, errs+failed
			if p.Saturated {
				saturated++
			}
		}
		s := fmt.Sprintf("plan %s: %d users, %d requests, %d errors", r.Plan.Name, r.Plan.Users, req, errs)
		switch {
		case saturated == 1:
			s += " (1 period with a saturated agent)"
		case saturated > 1:
			s += fmt.Sprintf(" (%d periods with a saturated agent)", saturated)
		}
		return s
	}
	known := "unknown"
	if r.SupportedUsers > 0 {
		known = fmt.Sprintf(">= %d", r.SupportedUsers)
	}
	switch r.Outcome {
	case Interrupted:
		return fmt.Sprintf("supported users: %s (interrupted)", known)
	case NoAnswer:
		why := "no answer"
		switch {
		case r.WorkloadBroken:
			why += ": the workload broke"
		case r.Error != "":
			why += ": the search failed"
		default:
			why += ": the time budget ran out"
		}
		return fmt.Sprintf("supported users: %s (%s)", known, why)
	}
	if r.AtLeast {
		return fmt.Sprintf("supported users: >= %d", r.SupportedUsers)
	}
	return fmt.Sprintf("supported users: %d", r.SupportedUsers)
}

// Write saves report.json and report.html in dir (created if needed).
func (r Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "report.html"))
	if err != nil {
		return err
	}
	if err := htmlTemplate.Execute(f, r.view()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// chart is one SVG line chart.
type chart struct {
	Title  string
	Lines  []line
	HLines []hline // thresholds
	Marks  []mark  // probe verdicts
	YMax   float64
	Unit   string
	// Above lists the thresholds too far above the data to draw without flattening it.
	Above  []string
	XTicks []xtick
}

type xtick struct {
	X     float64
	Label string
}

type line struct {
	Name, Color string
	Points      string // SVG polyline points
}

type hline struct {
	Name string
	Y    float64 // in chart coordinates
}

type mark struct {
	X, Y  float64
	Color string
	Title string
}

const chartW, chartH = 900.0, 220.0

type view struct {
	Report
	Answer  string
	Charts  []chart
	Elapsed string
	Drift   string // what the users' drifting demand means for the answer; "" when steady
}

func (r Report) view() view {
	v := view{Report: r, Answer: r.Answer(), Elapsed: r.StopTime.Sub(r.StartTime).Round(time.Second).String()}
	if math.Abs(r.RateDriftPerMin) >= DriftWorthNoting {
		v.Drift = fmt.Sprintf("each user's request rate moved %+.1f%% a minute during the search: the answer describes the target as the search ended", 100*r.RateDriftPerMin)
	}
	if len(r.Series) == 0 {
		return v
	}
	t0, t1 := r.Series[0].Time, r.Series[len(r.Series)-1].Time
	span := math.Max(1, t1.Sub(t0).Seconds())
	x := func(t time.Time) float64 { return 40 + (chartW-50)*t.Sub(t0).Seconds()/span }
	var ticks []xtick // elapsed time, about six labels
	step := niceStep(span / 6)
	for s := 0.0; s <= span; s += step {
		ticks = append(ticks, xtick{X: x(t0.Add(time.Duration(s * float64(time.Second)))), Label: (time.Duration(s) * time.Second).String()})
	}
	mk := func(title, unit string, get []func(Second) float64, names, colors []string, thresholds []hline) chart {
		ymax := 0.0
		for _, s := range r.Series {
			for _, g := range get {
				ymax = math.Max(ymax, g(s))
			}
		}
		data := ymax
		var above []string
		for _, h := range thresholds {
			if data > 0 && h.Y > 3*data { // drawing it would flatten the data to the axis
				above = append(above, h.Name)
				continue
			}
			ymax = math.Max(ymax, h.Y*1.1)
		}
		if ymax == 0 {
			ymax = 1
		}
		y := func(val float64) float64 { return chartH - 20 - (chartH-40)*val/ymax }
		c := chart{Title: title, YMax: ymax, Unit: unit, Above: above, XTicks: ticks}
		for i, g := range get {
			var pts strings.Builder
			for _, s := range r.Series {
				fmt.Fprintf(&pts, "%.1f,%.1f ", x(s.Time), y(g(s)))
			}
			c.Lines = append(c.Lines, line{Name: names[i], Color: colors[i], Points: pts.String()})
		}
		for _, h := range thresholds {
			if !slices.Contains(above, h.Name) {
				c.HLines = append(c.HLines, hline{Name: h.Name, Y: y(h.Y)})
			}
		}
		return c
	}
	users := mk("Active users", "users", []func(Second) float64{func(s Second) float64 { return float64(s.Users) }},
		[]string{"users"}, []string{"#2a6fdb"}, nil)
	// Probe verdicts on the users chart, at the end of each hold.
	holdEnds := []time.Time{}
	for i, s := range r.Series {
		if s.Phase == "hold" && (i+1 == len(r.Series) || r.Series[i+1].Phase != "hold") {
			holdEnds = append(holdEnds, s.Time)
		}
	}
	for i, p := range r.Probes {
		if i >= len(holdEnds) {
			break
		}
		color := map[search.Verdict]string{search.Pass: "#1a9641", search.Fail: "#d7191c", search.Invalid: "#999999"}[p.Verdict]
		users.Marks = append(users.Marks, mark{X: x(holdEnds[i]), Y: chartH - 20 - (chartH-40)*float64(p.Users)/users.YMax,
			Color: color, Title: fmt.Sprintf("%d users: %s (%s)", p.Users, p.Verdict, p.Reason)})
	}
	var th []hline
	for _, q := range r.Thresholds {
		if q.Alert && q.Legend == "seconds" {
			th = append(th, hline{Name: fmt.Sprintf("%s threshold %.3g s", q.Description, q.Threshold), Y: q.Threshold})
		}
	}
	lat := mk("Request latency (agents' HDR histograms)", "s",
		[]func(Second) float64{func(s Second) float64 { return s.MeanLatency }, func(s Second) float64 { return s.P50 }, func(s Second) float64 { return s.P99 }},
		[]string{"mean", "p50", "p99"}, []string{"#2a6fdb", "#1a9641", "#d7191c"}, th)
	thr := mk("Throughput", "req/s", []func(Second) float64{func(s Second) float64 { return s.Throughput }},
		[]string{"requests/s"}, []string{"#7b3294"}, nil)
	util := mk("Agent utilization (invalid above 0.8)", "", []func(Second) float64{func(s Second) float64 { return s.Utilization }},
		[]string{"highest agent"}, []string{"#e66101"}, []hline{{Name: "0.8", Y: 0.8}})
	v.Charts = []chart{users, lat, thr, util}
	return v
}

var htmlTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>loadtest report: {{.Answer}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:960px}
h1{font-size:22px;margin:0 0 4px} .answer{font-size:28px;font-weight:700;margin:8px 0}
table{border-collapse:collapse;margin:8px 0} td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:13px}
.pass{color:#1a9641}.fail{color:#d7191c}.invalid{color:#777} svg{background:#fafafa;border:1px solid #ddd;margin:4px 0 16px}
.err{color:#d7191c;font-weight:700}
</style></head><body>
{{if .Plan}}<h1>Load plan {{.Plan.Name}}</h1>
<div class="answer" id="answer">{{.Answer}}</div>
<p>{{.Plan.Users}} users &middot; ramp-up {{.Plan.RampUpSec}}s, sustain {{.Plan.SustainSec}}s, wind-down {{.Plan.WindDownSec}}s &middot; targets {{range .Plan.Targets}}<code>{{.}}</code> {{end}}&middot; {{len .Plan.Scripts}} scripts &middot; {{.Elapsed}}</p>
<p style="font-size:13px">{{.LatencyNote}}</p>
{{else}}<h1>How many users does the target support?</h1>
<div class="answer" id="answer">{{.Answer}}</div>
<p>Bracket: [{{index .Bracket 0}}, {{if index .Bracket 1}}{{index .Bracket 1}}{{else}}none failed{{end}}) &middot; knee ≈ {{.Knee}} users &middot; strategy {{.Strategy}} &middot; {{len .Probes}} probes in {{.Elapsed}}{{if .AgentLimited}} &middot; <b>limited by the agents: a lower bound</b>{{end}}{{if .WithinNoise}} &middot; <b>a probe bounding the answer was within noise of its threshold: another run may differ</b>{{end}}{{if .Drift}} &middot; <b id="drift">{{.Drift}}</b>{{end}}</p>
{{end}}<p>{{.Reason}}</p>
{{if .Error}}<p class="err">Error: {{.Error}}</p>{{end}}
{{range $k, $v := .Extra}}<p>{{$k}}: {{$v}}</p>{{end}}
{{range .Charts}}<h2 style="font-size:16px">{{.Title}}</h2>
<svg width="900" height="220" viewBox="0 0 900 220" role="img" aria-label="{{.Title}}">
<text x="4" y="14" font-size="11">{{printf "%.3g" .YMax}} {{.Unit}}</text><text x="4" y="204" font-size="11">0</text>
<line x1="40" y1="200" x2="890" y2="200" stroke="#999"/>
{{range .XTicks}}<line x1="{{.X}}" y1="200" x2="{{.X}}" y2="204" stroke="#999"/><text x="{{.X}}" y="215" font-size="10" text-anchor="middle" fill="#555">{{.Label}}</text>{{end}}
{{range .HLines}}<line x1="40" y1="{{.Y}}" x2="890" y2="{{.Y}}" stroke="#d7191c" stroke-dasharray="6 4"/><text x="886" y="{{.Y}}" dy="-3" font-size="11" fill="#d7191c" text-anchor="end">{{.Name}}</text>{{end}}
{{range .Lines}}<polyline fill="none" stroke="{{.Color}}" stroke-width="1.6" points="{{.Points}}"><title>{{.Name}}</title></polyline>{{end}}
{{range .Marks}}<circle cx="{{.X}}" cy="{{.Y}}" r="5" fill="{{.Color}}"><title>{{.Title}}</title></circle>{{end}}
</svg>
<div style="font-size:12px">{{range .Lines}}<span style="color:{{.Color}}">&#9632; {{.Name}}</span> {{end}}{{range .Above}} &middot; <span style="color:#d7191c">{{.}}: above the chart</span>{{end}} &middot; x: time since the start</div>
{{end}}
{{if .Checks}}<h2 style="font-size:16px">Thresholds</h2>
<table><tr><th>threshold</th><th>result</th><th>observed</th><th>note</th></tr>
{{range .Checks}}<tr><td><code>{{.Threshold}}</code></td><td class="{{if .Passed}}pass{{else}}fail{{end}}">{{if .Passed}}pass{{else}}FAIL{{end}}</td><td>{{.Observed}}</td><td>{{.Note}}</td></tr>{{end}}
</table>{{end}}
{{if .Plan}}<h2 style="font-size:16px">Periods</h2>
{{range .Periods}}<h3 style="font-size:14px" class="{{if .Saturated}}fail{{end}}">{{.Start.Format "15:04:05"}}&ndash;{{.End.Format "15:04:05"}} &middot; {{.Phase}} &middot; {{.Users}} users &middot; agent utilization {{printf "%.2f" .Utilization}}{{if .Saturated}} &middot; <span class="saturated">SATURATED: {{range .SaturatedAgents}}{{.}} {{end}}&mdash; these latencies may measure the generator, not the target</span>{{end}}</h3>
<table><tr><th>metric</th><th>count</th><th>errors</th><th>mean</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr>
{{range .Metrics}}<tr><td>{{.Key}}</td><td>{{.Count}}</td><td>{{.Errors}}</td><td>{{.Mean}}</td><td>{{.P50}}</td><td>{{.P90}}</td><td>{{.P99}}</td><td>{{.Max}}</td></tr>{{end}}
{{range $k, $v := .Counters}}<tr><td>counter {{$k}}</td><td colspan="7">{{$v}}</td></tr>{{end}}
</table>{{end}}
{{else}}<h2 style="font-size:16px">Probes</h2>
<table><tr><th>#</th><th>users</th><th>verdict</th><th>why</th><th>hold s</th><th>req/s</th><th>mean ms</th><th>agent util</th><th>population</th></tr>
{{range $i, $p := .Probes}}<tr><td>{{$i}}</td><td>{{$p.Users}}</td><td class="{{$p.Verdict}}">{{$p.Verdict}}{{if $p.WorkloadBroken}} (workload){{end}}</td><td>{{$p.Reason}}</td><td>{{printf "%.0f" $p.HoldSec}}</td><td>{{printf "%.0f" $p.Throughput}}</td><td>{{printf "%.1f" $p.MeanMs}}</td><td>{{printf "%.2f" $p.Utilization}}</td><td class="population">{{$p.Population}}</td></tr>{{end}}
</table>
<h2 style="font-size:16px">Decisions</h2>
<table><tr><th>time</th><th>phase</th><th>users</th><th>reason</th></tr>
{{range .Decisions}}<tr><td>{{.Time.Format "15:04:05"}}</td><td>{{.Phase}}</td><td>{{.Users}}</td><td>{{.Reason}}</td></tr>{{end}}
</table>
<h2 style="font-size:16px">Thresholds</h2>
<table><tr><th>query</th><th>PromQL</th><th>threshold</th><th>alert</th></tr>
{{range .Thresholds}}<tr><td>{{.Description}}</td><td><code>{{.Query}}</code></td><td>{{.Threshold}}</td><td>{{.Alert}}</td></tr>{{end}}
</table>{{end}}
<h2 style="font-size:16px">Agents</h2>
<table><tr><th>id</th><th>up</th><th>users</th><th>utilization</th><th>errors</th><th>problem</th></tr>
{{range .Agents}}<tr><td>{{.ID}}</td><td>{{.Up}}</td><td>{{.Users}}</td><td>{{printf "%.2f" .Utilization}}</td><td>{{.NumErrors}}</td><td>{{.Problem}}</td></tr>{{end}}
</table>
{{if .Errors}}<h2 style="font-size:16px">Failed requests</h2>
<table><tr><th>route</th><th>status</th><th>reason</th><th>count</th><th>example</th></tr>
{{range .Errors}}<tr><td>{{.Route}}</td><td>{{if .Status}}{{.Status}}{{else}}no response{{end}}</td><td>{{.Reason}}</td><td>{{.Count}}</td><td><code>{{.Example}}</code></td></tr>{{end}}
</table>{{end}}
<p style="font-size:12px;color:#777">Generated by loadtest {{.AgentVersion.Version}} {{.AgentVersion.Commit}} ({{.AgentVersion.GoVersion}}). The data is in report.json.</p>
</body></html>
`))

// niceStep rounds a step up to 1, 2 or 5 times a power of ten seconds (at least 1 s).
func niceStep(s float64) float64 {
	if s <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(s)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= s {
			return m * p
		}
	}
	return 10 * p
}
