package mmsim

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// capacity enforces the closed-form model: at most Workers requests are in service at once,
// and each holds its worker for a service time (constant, or exponential with that mean).
// Requests beyond Workers wait in FIFO-ish order on a channel. With N closed-loop clients of
// think time Z, throughput is min(N/(S+Z), W/S) and, past saturation, the mean response time
// is N·S/W − Z: the operational laws give the demos and tests a known answer.
type capacity struct {
	workers chan struct{} // a token per worker in service
	svc     time.Duration
	exp     bool
	waiting atomic.Int64 // requests waiting for a worker
	busy    atomic.Int64 // workers in service
}

func newCapacity(c CapacityConfig) *capacity {
	if !c.Enabled() {
		return nil
	}
	return &capacity{workers: make(chan struct{}, c.Workers), svc: c.ServiceTime(), exp: c.Distribution == "exponential"}
}

// serve waits for a worker, holds it for one service time, runs fn, and releases it. It
// returns how long the request waited for a worker, or ctx's error if the client gave up.
func (c *capacity) serve(ctx context.Context, fn func()) (time.Duration, error) {
	start := time.Now()
	c.waiting.Add(1)
	select {
	case c.workers <- struct{}{}:
		c.waiting.Add(-1)
	case <-ctx.Done():
		c.waiting.Add(-1)
		return time.Since(start), ctx.Err()
	}
	wait := time.Since(start)
	c.busy.Add(1)
	defer func() {
		c.busy.Add(-1)
		<-c.workers
	}()
	d := c.svc
	if c.exp {
		d = time.Duration(rand.ExpFloat64() * float64(c.svc))
	}
	t := time.NewTimer(d)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
		return wait, ctx.Err()
	}
	fn()
	return wait, nil
}
