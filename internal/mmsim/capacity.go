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
	workers chan *worker // the idle workers; a request takes one and gives it back
	svc     time.Duration
	exp     bool
	waiting atomic.Int64 // requests waiting for a worker
	busy    atomic.Int64 // workers in service
	busyNs  atomic.Int64 // service given, summed over requests: its rate over W is the utilization
}

// worker keeps the ideal time at which it finished its last request. A request starts at the
// later of its arrival and that time, and ends one service time after, whatever the wake-up
// latency of the timers: late wake-ups add jitter to one response but never lose capacity,
// so a saturated model completes exactly Workers/S requests a second.
type worker struct {
	freeAt time.Time
}

func newCapacity(c CapacityConfig) *capacity {
	if !c.Enabled() {
		return nil
	}
	cp := &capacity{workers: make(chan *worker, c.Workers), svc: c.ServiceTime(), exp: c.Distribution == "exponential"}
	for range c.Workers {
		cp.workers <- &worker{}
	}
	return cp
}

// serve waits for a worker, holds it for one service time, runs fn, and releases it. It
// returns how long the request waited for a worker, or ctx's error if the client gave up.
func (c *capacity) serve(ctx context.Context, fn func()) (time.Duration, error) {
	start := time.Now()
	c.waiting.Add(1)
	var w *worker
	select {
	case w = <-c.workers:
		c.waiting.Add(-1)
	case <-ctx.Done():
		c.waiting.Add(-1)
		return time.Since(start), ctx.Err()
	}
	wait := time.Since(start)
	c.busy.Add(1)
	defer func() {
		c.busy.Add(-1)
		c.workers <- w
	}()
	d := c.svc
	if c.exp {
		d = time.Duration(rand.ExpFloat64() * float64(c.svc))
	}
	begin := start
	if w.freeAt.After(begin) {
		begin = w.freeAt
	}
	w.freeAt = begin.Add(d)
	t := time.NewTimer(time.Until(w.freeAt))
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
		now := time.Now()
		c.busyNs.Add(int64(max(0, now.Sub(begin)))) // the part of its service it held
		w.freeAt = now                              // the abandoned request stops holding the worker
		return wait, ctx.Err()
	}
	c.busyNs.Add(int64(d))
	fn()
	return wait, nil
}
