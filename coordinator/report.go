package coordinator

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/loadtest/loadtest/agent"
	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/coordinator/cluster"
	"github.com/loadtest/loadtest/coordinator/plan"
	"github.com/loadtest/loadtest/coordinator/search"
	"github.com/loadtest/loadtest/histogram"
	"github.com/loadtest/loadtest/internal/charts"
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
	// Estimate is the threshold's crossing fitted to the probes near the answer, and Fitted
	// says SupportedUsers is that crossing (search.Result).
	Estimate *search.Estimate `json:"Estimate,omitempty"`
	Fitted   bool             `json:"Fitted,omitempty"`
	Knee     int              `json:"Knee"`
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
	r.Estimate, r.Fitted = d.Result.Estimate, d.Result.Fitted
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

// chartData is what report.html's charts draw (with internal/charts, the UI's renderer):
// one point a second; a nil value is a second no agent measured, drawn as a gap.
type chartData struct {
	T          []float64     `json:"t"` // unix seconds
	Users      []int         `json:"users"`
	Mean       []*float64    `json:"mean"`
	P50        []*float64    `json:"p50"`
	P99        []*float64    `json:"p99"`
	Throughput []*float64    `json:"throughput"`
	Util       []*float64    `json:"util"`
	Pass       []*int        `json:"pass"` // probe verdicts at their holds' ends
	Fail       []*int        `json:"fail"`
	Invalid    []*int        `json:"invalid"`
	Thresholds []chartThresh `json:"thresholds"` // latency thresholds drawn, in seconds
	Above      []string      `json:"above"`      // thresholds too far above the data to draw
}

type chartThresh struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

type view struct {
	Report
	Answer      string
	Elapsed     string
	Drift       string // what the users' drifting demand means for the answer; "" when steady
	Data        chartData
	ChartScript template.JS
	ChartStyle  template.CSS
}

func (r Report) view() view {
	v := view{Report: r, Answer: r.Answer(), Elapsed: r.StopTime.Sub(r.StartTime).Round(time.Second).String(),
		ChartScript: charts.Script(), ChartStyle: charts.Style()}
	if math.Abs(r.RateDriftPerMin) >= DriftWorthNoting {
		v.Drift = fmt.Sprintf("each user's request rate moved %+.1f%% a minute during the search: the answer describes the target as the search ended", 100*r.RateDriftPerMin)
	}
	d := &v.Data
	maxLat := 0.0
	measured := func(s Second, x float64) *float64 {
		if s.NoData {
			return nil
		}
		return &x
	}
	for _, s := range r.Series {
		d.T = append(d.T, float64(s.Time.UnixMilli())/1000)
		d.Users = append(d.Users, s.Users)
		d.Mean, d.P50, d.P99 = append(d.Mean, measured(s, s.MeanLatency)), append(d.P50, measured(s, s.P50)), append(d.P99, measured(s, s.P99))
		d.Throughput, d.Util = append(d.Throughput, measured(s, s.Throughput)), append(d.Util, measured(s, s.Utilization))
		d.Pass, d.Fail, d.Invalid = append(d.Pass, nil), append(d.Fail, nil), append(d.Invalid, nil)
		if !s.NoData {
			maxLat = max(maxLat, s.MeanLatency, s.P50, s.P99)
		}
	}
	// Probe verdicts on the users chart, at the end of each hold.
	var holdEnds []int
	for i, s := range r.Series {
		if s.Phase == "hold" && (i+1 == len(r.Series) || r.Series[i+1].Phase != "hold") {
			holdEnds = append(holdEnds, i)
		}
	}
	for i, p := range r.Probes {
		if i >= len(holdEnds) {
			break
		}
		u := p.Users
		switch p.Verdict {
		case search.Pass:
			d.Pass[holdEnds[i]] = &u
		case search.Fail:
			d.Fail[holdEnds[i]] = &u
		default:
			d.Invalid[holdEnds[i]] = &u
		}
	}
	for _, q := range r.Thresholds {
		if !q.Alert || q.Legend != "seconds" {
			continue
		}
		name := fmt.Sprintf("%s threshold %.3g s", q.Description, q.Threshold)
		if maxLat > 0 && q.Threshold > 3*maxLat { // drawing it would flatten the data to the axis
			d.Above = append(d.Above, name)
			continue
		}
		d.Thresholds = append(d.Thresholds, chartThresh{Name: name, Value: q.Threshold})
	}
	return v
}

var htmlTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>loadtest report: {{.Answer}}</title>
<style>{{.ChartStyle}}</style>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:960px}
.chart{background:#fafafa;border:1px solid #ddd;margin:4px 0 16px;padding:4px}.chart h3{font-size:15px;margin:4px}
.u-legend td,.u-legend th{border:0;padding:0 4px;background:none}
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
<p>Bracket: [{{index .Bracket 0}}, {{if index .Bracket 1}}{{index .Bracket 1}}{{else}}none failed{{end}}) &middot; knee ≈ {{.Knee}} users &middot; strategy {{.Strategy}} &middot; {{len .Probes}} probes in {{.Elapsed}}{{if .AgentLimited}} &middot; <b>limited by the agents: a lower bound</b>{{end}}{{if .Fitted}} &middot; <b id="fitted">the probes bounding the answer were within noise of the threshold: the answer is the crossing fitted to the {{.Estimate.Probes}} probes near it, {{printf "%.0f" .Estimate.Users}} ± {{printf "%.0f" .Estimate.Err}} users at 95%{{if .Estimate.Drift}}, read at the last probe's time (the margin drifted with time){{end}}</b>{{else if .WithinNoise}} &middot; <b>a probe bounding the answer was within noise of its threshold: another run may differ</b>{{end}}{{if .Drift}} &middot; <b id="drift">{{.Drift}}</b>{{end}}</p>
{{end}}<p>{{.Reason}}</p>
{{if .Error}}<p class="err">Error: {{.Error}}</p>{{end}}
{{range $k, $v := .Extra}}<p>{{$k}}: {{$v}}</p>{{end}}
{{if .Data.T}}<div id="charts"></div>
{{if .Data.Above}}<p style="font-size:12px">Above the latency chart: {{range .Data.Above}}<span style="color:#d7191c">{{.}}</span> {{end}}</p>{{end}}
<script>{{.ChartScript}}</script>
<script>
(function () {
  var d = {{.Data}};
  var el = document.getElementById("charts");
  var t = d.t, n = t.length;
  var flat = function (v) { var a = []; for (var i = 0; i < n; i++) a.push(v); return a; };
  LT.chart(el, { title: "Active users and the probes' verdicts", yLabel: "users",
    series: [{ label: "users", stroke: "#2a6fdb" }, { label: "pass", stroke: "#1a9641", points: true },
      { label: "fail", stroke: "#d7191c", points: true }, { label: "invalid", stroke: "#999999", points: true }] })
    .update([t, d.users, d.pass, d.fail, d.invalid]);
  var lat = [{ label: "mean", stroke: "#2a6fdb" }, { label: "p50", stroke: "#1a9641" }, { label: "p99", stroke: "#d7191c" }];
  var latData = [t, d.mean, d.p50, d.p99];
  (d.thresholds || []).forEach(function (th) { lat.push({ label: th.name, stroke: "#d7191c", dash: [6, 4] }); latData.push(flat(th.value)); });
  LT.chart(el, { title: "Request latency, s (agents' HDR histograms)", yLabel: "s", series: lat }).update(latData);
  LT.chart(el, { title: "Throughput", yLabel: "req/s", series: [{ label: "requests/s", stroke: "#7b3294" }] }).update([t, d.throughput]);
  LT.chart(el, { title: "Agent utilization (invalid above 0.8)", series: [{ label: "highest agent", stroke: "#e66101" }, { label: "0.8", stroke: "#d7191c", dash: [6, 4] }] })
    .update([t, d.util, flat(0.8)]);
})();
</script>
<p style="font-size:12px">x: time of day; a gap is a second no agent measured.</p>{{end}}
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
