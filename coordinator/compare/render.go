package compare

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
)

// answerText is a side's answer with its bracket.
func answerText(r Run) string {
	if r.Kind == "plan" {
		return "(a plan)"
	}
	hi := "∞"
	if r.Bracket[1] > 0 {
		hi = fmt.Sprint(r.Bracket[1])
	}
	at := ""
	if r.AtLeast {
		at = "≥ "
	}
	return fmt.Sprintf("%s%d [%d, %s)", at, r.Supported, r.Bracket[0], hi)
}

// AnswerChange says how the answers differ, and whether the brackets allow it.
func (c Comparison) AnswerChange() string {
	if c.A.Kind == "plan" || c.B.Kind == "plan" {
		return ""
	}
	pct := ""
	if c.A.Supported > 0 {
		pct = fmt.Sprintf(" (%+.1f %%)", 100*c.Answer.Change/float64(c.A.Supported))
	}
	why := "the brackets do not overlap: a real change"
	switch {
	case c.A.AtLeast || c.B.AtLeast:
		why = "a lower bound on one side (nothing failed up to its users): the difference is at least what the bound allows, not measured"
	case c.BracketsOverlap:
		why = "the brackets overlap: within the search's precision"
	}
	return fmt.Sprintf("%+d users%s; %s", int(c.Answer.Change), pct, why)
}

// cell is a delta's change with its interval and verdict.
func cell(d Delta, unit string) string {
	if !d.Measured {
		return fmt.Sprintf("%+.3g%s (too few seconds)", d.Change, unit)
	}
	verdict := "noise"
	if d.Significant {
		verdict = "**significant**"
	}
	return fmt.Sprintf("%+.3g%s [%+.3g, %+.3g] %s", d.Change, unit, d.Interval[0], d.Interval[1], verdict)
}

func num(v float64) string {
	if v == 0 || math.Abs(v) >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// Markdown writes the comparison as a markdown table, for a pull request.
func (c Comparison) Markdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## loadtest: %s (A) vs %s (B)\n\n", c.A.Name, c.B.Name)
	b.WriteString("| | A | B | change |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| supported users [bracket) | %s | %s | %s |\n", answerText(c.A), answerText(c.B), c.AnswerChange())
	fmt.Fprintf(&b, "| outcome | %s | %s | |\n", c.A.Outcome, c.B.Outcome)
	fmt.Fprintf(&b, "| compared over | %s (%d s) | %s (%d s) | |\n\n", c.A.Window, c.A.Seconds, c.B.Window, c.B.Seconds)
	if len(c.Keys) > 0 {
		b.WriteString("Per route and action: p50 and p99 are the count-weighted means over the seconds, in ms; the change is B − A with its 95 % bootstrap interval over the per-second intervals.\n\n")
		b.WriteString("| key | requests A / B | p50 A | p50 B | p50 change | p99 A | p99 B | p99 change | errors A | errors B | error change |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, k := range c.Keys {
			fmt.Fprintf(&b, "| %s | %d / %d | %s | %s | %s | %s | %s | %s | %s %% | %s %% | %s |\n", k.Key, k.CountA, k.CountB,
				num(k.P50.A), num(k.P50.B), cell(k.P50, " ms"), num(k.P99.A), num(k.P99.B), cell(k.P99, " ms"),
				num(k.ErrorPct.A), num(k.ErrorPct.B), cell(k.ErrorPct, " pp"))
		}
	}
	for _, n := range c.Notes {
		fmt.Fprintf(&b, "\nNote: %s\n", n)
	}
	if len(c.OnlyA) > 0 {
		fmt.Fprintf(&b, "\nOnly in A: %s\n", strings.Join(c.OnlyA, ", "))
	}
	if len(c.OnlyB) > 0 {
		fmt.Fprintf(&b, "\nOnly in B: %s\n", strings.Join(c.OnlyB, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

var htmlTemplate = template.Must(template.New("compare").Funcs(template.FuncMap{
	"answer": answerText, "num": num,
	"cell": func(d Delta, unit string) template.HTML {
		s := template.HTMLEscapeString(strings.ReplaceAll(cell(d, unit), "**", ""))
		if d.Significant {
			return template.HTML(`<b class="sig">` + s + `</b>`)
		}
		return template.HTML(s)
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>loadtest: {{.A.Name}} vs {{.B.Name}}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-variant-numeric:tabular-nums}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}td:first-child,th:first-child{text-align:left}
th{background:#f3f3f3}.sig{color:#b00}.note{color:#555;max-width:60em}
@media (max-width:900px){table{display:block;overflow-x:auto}}
</style></head><body>
<h1>{{.A.Name}} (A) vs {{.B.Name}} (B)</h1>
<table><tr><th></th><th>A</th><th>B</th><th>change</th></tr>
<tr><td>supported users [bracket)</td><td>{{answer .A}}</td><td>{{answer .B}}</td><td>{{.AnswerChange}}</td></tr>
<tr><td>outcome</td><td>{{.A.Outcome}}</td><td>{{.B.Outcome}}</td><td></td></tr>
<tr><td>compared over</td><td>{{.A.Window}} ({{.A.Seconds}} s)</td><td>{{.B.Window}} ({{.B.Seconds}} s)</td><td></td></tr>
</table>
{{if .Keys}}<p class="note">Per route and action: p50 and p99 are the count-weighted means over the seconds, in ms; the change is B − A with its 95 % bootstrap interval over the per-second intervals. A change whose interval excludes 0 is marked in red.</p>
<table><tr><th>key</th><th>requests A / B</th><th>p50 A</th><th>p50 B</th><th>p50 change</th><th>p99 A</th><th>p99 B</th><th>p99 change</th><th>errors A %</th><th>errors B %</th><th>error change</th></tr>
{{range .Keys}}<tr><td>{{.Key}}</td><td>{{.CountA}} / {{.CountB}}</td><td>{{num .P50.A}}</td><td>{{num .P50.B}}</td><td>{{cell .P50 " ms"}}</td><td>{{num .P99.A}}</td><td>{{num .P99.B}}</td><td>{{cell .P99 " ms"}}</td><td>{{num .ErrorPct.A}}</td><td>{{num .ErrorPct.B}}</td><td>{{cell .ErrorPct " pp"}}</td></tr>
{{end}}</table>{{end}}
{{range .Notes}}<p>Note: {{.}}</p>{{end}}
{{if .OnlyA}}<p>Only in A: {{range .OnlyA}}{{.}} {{end}}</p>{{end}}
{{if .OnlyB}}<p>Only in B: {{range .OnlyB}}{{.}} {{end}}</p>{{end}}
</body></html>
`))

// HTML writes the comparison as a self-contained page.
func (c Comparison) HTML(w io.Writer) error { return htmlTemplate.Execute(w, c) }
