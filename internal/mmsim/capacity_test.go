package mmsim

import (
	"context"
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// closedLoop runs n clients against c for d of (fake) time, each sending a request, waiting
// for it, then thinking for z. It returns the mean response time and the throughput measured
// after a warm-up.
func closedLoop(c *capacity, n int, z, d, warmup time.Duration) (meanR time.Duration, rate float64) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var mu sync.Mutex
	var total time.Duration
	var count int
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// Stagger the starts over one cycle so the clients are not in lockstep.
			time.Sleep(time.Duration(i) * (z + c.svc) / time.Duration(n))
			for ctx.Err() == nil {
				t0 := time.Now()
				if _, err := c.serve(ctx, func() {}); err != nil {
					return
				}
				if t0.Sub(start) >= warmup {
					mu.Lock()
					total += time.Since(t0)
					count++
					mu.Unlock()
				}
				select {
				case <-time.After(z):
				case <-ctx.Done():
				}
			}
		})
	}
	wg.Wait()
	return total / time.Duration(count), float64(count) / (d - warmup).Seconds()
}

// TestCapacity_ClosedLoop checks the model against the operational laws: below the knee
// N* = W·(S+Z)/S a request takes S; above it, throughput is W/S and the response time is
// N·S/W − Z. It runs in fake time, so the numbers are exact up to the warm-up's edge.
func TestCapacity_ClosedLoop(t *testing.T) {
	const (
		w = 4
		s = 20 * time.Millisecond
		z = 100 * time.Millisecond
	)
	knee := w * (s + z) / s // 24 clients
	for _, tc := range []struct {
		name     string
		clients  int
		wantR    time.Duration
		wantRate float64
	}{
		{"well below the knee", int(knee) / 3, s, float64(knee/3) / (s + z).Seconds()},
		{"at twice the knee", 2 * int(knee), 2*time.Duration(knee)*s/w - z, w / s.Seconds()},
		{"at four times the knee", 4 * int(knee), 4*time.Duration(knee)*s/w - z, w / s.Seconds()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newCapacity(CapacityConfig{Workers: w, ServiceTimeMs: float64(s / time.Millisecond), Distribution: "constant"})
				r, rate := closedLoop(c, tc.clients, z, 60*time.Second, 10*time.Second)
				if rel(r.Seconds(), tc.wantR.Seconds()) > 0.03 {
					t.Errorf("N=%d: mean response time %v; want %v ±3%%", tc.clients, r, tc.wantR)
				}
				if rel(rate, tc.wantRate) > 0.03 {
					t.Errorf("N=%d: throughput %.1f/s; want %.1f/s ±3%%", tc.clients, rate, tc.wantRate)
				}
				// Utilization law: the workers are busy X·S/W of the time.
				util := time.Duration(c.busyNs.Load()).Seconds() / 60 / w
				if want := min(1, tc.wantRate*s.Seconds()/w); math.Abs(util-want) > 0.03 {
					t.Errorf("N=%d: utilization from busy seconds %.3f; want %.3f ±0.03", tc.clients, util, want)
				}
			})
		})
	}
}

// TestCapacity_Exponential checks that exponential service keeps the mean and the maximum
// rate W/S (the M/M/W queue at saturation).
func TestCapacity_Exponential(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCapacity(CapacityConfig{Workers: 2, ServiceTimeMs: 10, Distribution: "exponential"})
		_, rate := closedLoop(c, 40, 0, 200*time.Second, 10*time.Second)
		if want := 200.0; rel(rate, want) > 0.05 {
			t.Errorf("saturated throughput %.1f/s; want %.1f/s ±5%%", rate, want)
		}
	})
}

// TestCapacity_ClientGivesUp checks that a request whose client leaves while queued frees
// its place and reports the context error.
func TestCapacity_ClientGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCapacity(CapacityConfig{Workers: 1, ServiceTimeMs: 1000, Distribution: "constant"})
		var wg sync.WaitGroup
		defer wg.Wait()
		wg.Go(func() { _, _ = c.serve(context.Background(), func() {}) }) // holds the only worker
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		ran := false
		if _, err := c.serve(ctx, func() { ran = true }); err == nil || ran {
			t.Fatalf("serve with an expiring context = %v, ran %v; want an error and no run", err, ran)
		}
		if q := c.waiting.Load(); q != 0 {
			t.Errorf("waiting = %d after the client left; want 0", q)
		}
	})
}

func rel(got, want float64) float64 { return math.Abs(got-want) / want }

// TestCapacity_HTTP checks that the model sits in front of the REST handlers: with one
// worker of 30 ms, four concurrent pings take at least 120 ms in all, and each one's
// mattermost_api_time includes its wait.
func TestCapacity_HTTP(t *testing.T) {
	s, base := newTestServer(t, func(c *Config) { c.Capacity = CapacityConfig{Workers: 1, ServiceTimeMs: 30, Distribution: "constant"} }, nil)
	start := time.Now()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { newClient(t, base).must("GET", "/api/v4/system/ping", nil, 200, nil) })
	}
	wg.Wait()
	if el := time.Since(start); el < 120*time.Millisecond {
		t.Errorf("4 requests through 1 worker of 30ms took %v; the model allows no less than 120ms", el)
	}
	m := gather(t, s, "mattermost_api_time")
	// Arriving together, the four would wait 0+30+60+90 ms and be served 4×30 ms: 0.3 s in
	// all. They arrive a few ms apart, and each later arrival waits that much less (the
	// worker's schedule does not move), so the sum can fall just short of 0.3 s. Without the
	// waits it would be 0.12 s; 0.24 s tells the two apart with room for slow arrivals.
	if m["count"] != 4 || m["sum"] < 0.24 {
		t.Errorf("mattermost_api_time count %v sum %v; want 4 requests summing >= 0.24s (their waits included)", m["count"], m["sum"])
	}
}
