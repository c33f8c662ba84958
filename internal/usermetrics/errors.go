package usermetrics

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/loadtest/loadtest/mattermost"
)

// ErrorGroup is the failed requests that share a route, a status and a reason.
type ErrorGroup struct {
	Route  string `json:"route"`  // "GET /users/me"
	Status int    `json:"status"` // 0: no response came
	Reason string `json:"reason"` // mattermost.Reason: the server's error id, or what happened on the wire
	Count  int64  `json:"count"`
	// Example is one of the errors, whole, for the detail the reason leaves out (an
	// address, the server's message).
	Example string `json:"example,omitempty"`
}

// maxErrorGroups bounds the groups kept per interval; failures beyond fall in one "other
// errors" group.
const maxErrorGroups = 100

type errorKey struct {
	route  string
	status int
	reason string
}

// errorGroups counts failed requests by group until taken. Safe for concurrent use.
type errorGroups struct {
	mu     sync.Mutex
	groups map[errorKey]*ErrorGroup
}

func (g *errorGroups) add(route string, r mattermost.Request) {
	k := errorKey{route, r.Status, mattermost.Reason(r)}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.groups == nil {
		g.groups = map[errorKey]*ErrorGroup{}
	}
	e, ok := g.groups[k]
	if !ok {
		if len(g.groups) >= maxErrorGroups {
			k = errorKey{"(any)", 0, "other errors"}
			e = g.groups[k]
		}
		if e == nil {
			e = &ErrorGroup{Route: k.route, Status: k.status, Reason: k.reason, Example: example(r)}
			g.groups[k] = e
		}
	}
	e.Count++
}

// example is err's text, cut to a line.
func example(r mattermost.Request) string {
	s := r.Err.Error()
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return strings.ReplaceAll(s, "\n", " ")
}

// TakeErrors returns the failed requests since the last call, grouped, most frequent first.
func (m *Metrics) TakeErrors() []ErrorGroup {
	m.errorGroups.mu.Lock()
	groups := m.errorGroups.groups
	m.errorGroups.groups = nil
	m.errorGroups.mu.Unlock()
	out := make([]ErrorGroup, 0, len(groups))
	for _, e := range groups {
		out = append(out, *e)
	}
	SortErrors(out)
	return out
}

// MergeErrors adds the groups of b into a (as one group where route, status and reason
// agree), most frequent first.
func MergeErrors(a, b []ErrorGroup) []ErrorGroup {
	for _, e := range b {
		i := slices.IndexFunc(a, func(x ErrorGroup) bool {
			return x.Route == e.Route && x.Status == e.Status && x.Reason == e.Reason
		})
		if i < 0 {
			a = append(a, e)
			continue
		}
		a[i].Count += e.Count
	}
	SortErrors(a)
	return a
}

// SortErrors orders groups by count, most first, then by route, status and reason.
func SortErrors(groups []ErrorGroup) {
	slices.SortFunc(groups, func(a, b ErrorGroup) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Route, b.Route),
			cmp.Compare(a.Status, b.Status), strings.Compare(a.Reason, b.Reason))
	})
}

// maxReasons bounds the reason label's values in a process: a server's error ids are a
// catalogue of a few hundred at most, and a run meets a handful, but the label stays small
// even against a server that makes up new ones.
const maxReasons = 64

// reason is mattermost.Reason(r), or "other" once maxReasons distinct ones were seen.
func (m *Metrics) reason(r mattermost.Request) string {
	s := mattermost.Reason(r)
	m.reasons.mu.Lock()
	defer m.reasons.mu.Unlock()
	if m.reasons.seen == nil {
		m.reasons.seen = map[string]bool{}
	}
	if !m.reasons.seen[s] {
		if len(m.reasons.seen) >= maxReasons {
			return "other"
		}
		m.reasons.seen[s] = true
	}
	return s
}

// PrintErrors prints the first n groups of failed requests as a table, and how many groups
// were left out; nothing when there are none.
func PrintErrors(out io.Writer, groups []ErrorGroup, n int) {
	if len(groups) == 0 {
		return
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "failed requests\tstatus\treason\tcount\texample\n")
	for _, g := range groups[:min(n, len(groups))] {
		status := "-"
		if g.Status != 0 {
			status = strconv.Itoa(g.Status)
		}
		ex := g.Example
		if r := []rune(ex); len(r) > 100 {
			ex = string(r[:100]) + "…"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", g.Route, status, g.Reason, g.Count, ex)
	}
	_ = tw.Flush() // as above
	if len(groups) > n {
		fmt.Fprintf(out, "... and %d more groups (all of them in the JSON summary or report)\n", len(groups)-n)
	}
}
