package controller

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/loadtest/loadtest/mattermost"
)

// NoopPeriod is a noop user's think time between GET /users/me calls, before its multiplier.
const NoopPeriod = time.Second

// Noop is the baseline user: it logs in (signing up if needed), joins a team, holds a
// WebSocket, and then calls GET /users/me, waiting NoopPeriod × its multiplier after each
// response (a closed loop with a fixed think time, so capacity follows the operational laws).
// Each call is the action "GetMe". After a failed call it waits twice as long, up to 32
// periods. A period under a microsecond (a multiplier of 1e-9) means back to back, as wrk's
// connections send: no timer is armed between calls.
type Noop struct {
	env *Env
	id  int
}

// now is always ready: a select on it goes on at once (ctx and events are still seen).
var now = func() <-chan time.Time {
	c := make(chan time.Time)
	close(c)
	return c
}()

// Run implements loadtest.User.
func (u *Noop) Run(ctx context.Context) error {
	started := u.env.Metrics.Starting()
	defer started() // at the latest; the steady loop below calls it first
	c, err := u.env.NewClient()
	if err != nil {
		return err
	}
	if u.env.http == nil {
		defer c.CloseIdleConnections()
	}
	name := u.env.Username(u.id)
	if _, err := LoginOrSignUp(ctx, c, name); err != nil {
		return err
	}
	defer logout(ctx, c)
	if _, err := JoinTeam(ctx, c, name); err != nil {
		return err
	}

	ws := c.NewWebSocket(u.env.Metrics.WebSocketOptions(mattermost.WebSocketOptions{}))
	wsCtx, stopWS := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = ws.Run(wsCtx) }) // it ends with wsCtx; its errors are counted in its stats
	defer wg.Wait()
	defer stopWS()

	started()
	period := time.Duration(float64(NoopPeriod) * u.env.Multiplier(u.id))
	ready := ws.Ready()
	next := time.Now().Add(period)
	t := time.NewTimer(period)
	defer t.Stop()
	due := t.C // the timer's channel, or an always-ready one when calls go back to back
	fails := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-ready:
			for ws.Next() != nil {
				u.env.Metrics.EventReceived()
			}
			if !ok {
				ready = nil
			}
		case <-due:
			u.env.Metrics.ObserveLag(time.Since(next))
			start := time.Now()
			err := c.CheckMe(ctx)
			if ctx.Err() != nil {
				return nil
			}
			u.env.Metrics.ObserveAction("GetMe", time.Since(start), err)
			if mattermost.StatusOf(err) == http.StatusUnauthorized {
				return err // the session is gone: the engine logs the user in again
			}
			wait := period
			if err != nil {
				fails++
				wait = period * time.Duration(1<<min(fails, 5))
			} else {
				fails = 0
			}
			// A closed loop: the think time starts when the response arrives, so a user
			// makes one request per (latency + period), and N users against a server that
			// completes X requests/s see a mean latency of N/X - period once it saturates.
			next = time.Now().Add(wait)
			if wait < time.Microsecond {
				due = now
			} else {
				t.Reset(wait)
				due = t.C
			}
		}
	}
}
