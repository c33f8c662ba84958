// Package backoff is the one rule every retry loop follows: the engine restarting a user, the
// WebSocket reconnecting, an agent dialling its coordinator again. Waits grow with the
// failures in a row and carry random jitter, so that clients which failed together (every
// user, when the target had an outage) come back spread out instead of in step.
package backoff

import (
	"context"
	"math"
	"math/rand/v2"
	"time"
)

// Growth is how the wait grows with the failures in a row.
type Growth int

const (
	// Exponential doubles the wait on each failure: Initial, 2×Initial, 4×Initial, ...
	Exponential Growth = iota
	// Quadratic waits Initial × failures² once past Steady: Mattermost's webapp rule for its
	// WebSocket.
	Quadratic
)

// Policy is a backoff rule. The zero Growth is Exponential.
type Policy struct {
	Initial time.Duration // the first wait
	Max     time.Duration // no wait (before jitter) is longer; 0: no limit
	Growth  Growth
	// Steady is how many failures in a row wait just Initial before the wait grows (the
	// webapp retries its WebSocket 7 times at its minimum delay).
	Steady int
	// Jitter adds a uniformly random share of the wait to it: 0.5 makes a wait of 2 s one of
	// 2 to 3 s. JitterRange adds up to that much more, whatever the wait (the webapp adds
	// up to 2 s to every reconnect).
	Jitter      float64
	JitterRange time.Duration
}

// Delay is the wait after failures failures in a row (1-based), with r in [0, 1) choosing
// the jitter: a pure function, for the loops and their tests. r = 0 gives the wait without
// jitter.
func (p Policy) Delay(failures int, r float64) time.Duration {
	base := p.Initial
	if failures > p.Steady {
		switch p.Growth {
		case Quadratic:
			f := float64(failures)
			base = scale(p.Initial, f*f)
		default:
			base = scale(p.Initial, math.Exp2(float64(failures-1-p.Steady)))
		}
	}
	if p.Max > 0 && base > p.Max {
		base = p.Max
	}
	return base + time.Duration(r*(float64(base)*p.Jitter+float64(p.JitterRange)))
}

// scale multiplies d by f without overflowing.
func scale(d time.Duration, f float64) time.Duration {
	v := float64(d) * f
	if v >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(v)
}

// Backoff counts the failures in a row of one retry loop and draws its waits. It belongs to
// the loop's goroutine (it is not safe for concurrent use).
type Backoff struct {
	Policy
	failures int
}

// New returns a Backoff with no failures yet.
func New(p Policy) *Backoff { return &Backoff{Policy: p} }

// Next counts a failure and returns the wait before the next try, with jitter.
func (b *Backoff) Next() time.Duration {
	b.failures++
	return b.Delay(b.failures, rand.Float64())
}

// Reset forgets the failures: the loop succeeded, or ran long enough not to be a crash loop.
func (b *Backoff) Reset() { b.failures = 0 }

// Failures is the number of failures in a row so far.
func (b *Backoff) Failures() int { return b.failures }

// Sleep waits d, or until ctx is done; it returns ctx's error in that case, else nil.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
