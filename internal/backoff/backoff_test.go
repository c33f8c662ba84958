package backoff

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

func TestPolicy_Delay(t *testing.T) {
	exp := Policy{Initial: time.Second, Max: 30 * time.Second, Jitter: 0.5}
	web := Policy{Initial: 3 * time.Second, Max: 5 * time.Minute, Growth: Quadratic, Steady: 7, JitterRange: 2 * time.Second}
	for _, tc := range []struct {
		name     string
		p        Policy
		failures int
		r        float64
		want     time.Duration
	}{
		{"exponential first", exp, 1, 0, time.Second},
		{"exponential doubles", exp, 2, 0, 2 * time.Second},
		{"exponential third", exp, 3, 0, 4 * time.Second},
		{"exponential capped", exp, 6, 0, 30 * time.Second},
		{"exponential far past the cap", exp, 5000, 0, 30 * time.Second},
		{"jitter is a share of the wait", exp, 3, 0.5, 5 * time.Second},
		{"jitter at the cap", exp, 9, 0.999, 30*time.Second + 14985*time.Millisecond},
		{"webapp fast retry", web, 1, 0, 3 * time.Second},
		{"webapp last fast retry", web, 7, 0, 3 * time.Second},
		{"webapp grows as failures²", web, 8, 0, 192 * time.Second},
		{"webapp ninth", web, 9, 0, 243 * time.Second},
		{"webapp capped", web, 10, 0, 5 * time.Minute},
		{"webapp adds up to 2s", web, 1, 0.5, 4 * time.Second},
		{"webapp adds up to 2s at the cap", web, 100, 0.5, 5*time.Minute + time.Second},
	} {
		if got := tc.p.Delay(tc.failures, tc.r); got != tc.want {
			t.Errorf("%s: Delay(%d, %v) = %v; want %v", tc.name, tc.failures, tc.r, got, tc.want)
		}
	}
}

// TestBackoff_Spreads checks that many loops failing together draw different waits within
// the policy's bounds, and that Reset starts over.
func TestBackoff_Spreads(t *testing.T) {
	p := Policy{Initial: time.Second, Max: 30 * time.Second, Jitter: 0.5}
	seen := map[time.Duration]bool{}
	for range 100 {
		b := New(p)
		b.Next()
		d := b.Next()
		if d < 2*time.Second || d >= 3*time.Second {
			t.Fatalf("second wait %v; want in [2s, 3s)", d)
		}
		seen[d] = true
		b.Reset()
		if d := b.Next(); d < time.Second || d >= 1500*time.Millisecond || b.Failures() != 1 {
			t.Fatalf("after Reset: wait %v, failures %d; want in [1s, 1.5s) and 1", d, b.Failures())
		}
	}
	if len(seen) < 90 {
		t.Errorf("100 loops drew %d distinct waits; want them spread", len(seen))
	}
}

func TestSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if err := Sleep(context.Background(), 3*time.Second); err != nil || time.Since(start) != 3*time.Second {
			t.Errorf("Sleep = %v after %v; want nil after 3s", err, time.Since(start))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := Sleep(ctx, time.Hour); err != context.DeadlineExceeded || time.Since(start) != 4*time.Second {
			t.Errorf("Sleep = %v at %v; want the deadline at 4s", err, time.Since(start))
		}
	})
}
