package loadtest

import (
	"context"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// repeats folds messages that repeat: the first of each group is logged at once; the others
// of the group within Every of the last one logged are counted, and the next one logged after
// that says how many it stands for ("repeats": 41). When a thousand users fail the same way
// in the same second, that is one line, not a thousand. Flush logs what is still counted.
// It is safe for concurrent use.
type repeats struct {
	log   *slog.Logger
	level slog.Level
	every time.Duration

	mu     sync.Mutex
	groups map[string]*repeat // by group key
}

type repeat struct {
	msg     string
	args    []any     // the latest folded message's
	last    time.Time // when the group was last logged
	pending int       // folded since then
}

// newRepeats logs to log at level, each group at most once per every.
func newRepeats(log *slog.Logger, level slog.Level, every time.Duration) *repeats {
	return &repeats{log: log, level: level, every: every, groups: map[string]*repeat{}}
}

// Log logs msg with args, or counts it if its group was logged less than Every ago. The
// group is msg with key, where key is what tells the repeats apart (an error's text, say).
func (r *repeats) Log(ctx context.Context, key, msg string, args ...any) {
	now := time.Now()
	group := msg + "\x00" + key
	r.mu.Lock()
	g, ok := r.groups[group]
	if !ok {
		g = &repeat{msg: msg}
		r.groups[group] = g
	}
	if ok && now.Sub(g.last) < r.every {
		g.pending++
		g.args = args
		r.mu.Unlock()
		return
	}
	folded := g.pending
	g.pending, g.last, g.args = 0, now, nil
	r.mu.Unlock()
	if folded > 0 {
		args = append(args, "repeats", folded)
	}
	r.log.Log(ctx, r.level, msg, args...)
}

// Flush logs, for every group with repeats counted since it was last logged, the latest of
// them with their number.
func (r *repeats) Flush(ctx context.Context) {
	r.mu.Lock()
	var out []*repeat
	for _, g := range r.groups {
		if g.pending > 0 {
			out = append(out, &repeat{msg: g.msg, args: append(g.args, "repeats", g.pending)})
			g.pending = 0
		}
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b *repeat) int { return strings.Compare(a.msg, b.msg) })
	for _, g := range out {
		r.log.Log(ctx, r.level, g.msg, g.args...)
	}
}

var numbers = regexp.MustCompile(`\b[a-z0-9]{26}\b|[0-9]+`)

// shape returns s with its numbers and Mattermost ids (26 characters) replaced by "#": a
// group key under which "user 12 failed" and "user 7 failed" are the same failure.
func shape(s string) string { return numbers.ReplaceAllString(s, "#") }
