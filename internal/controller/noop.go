package controller

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/loadtest/loadtest/internal/backoff"
	"github.com/loadtest/loadtest/mattermost"
)

// NoopPeriod is a noop user's think time between GET /users/me calls, before its multiplier.
const NoopPeriod = time.Second

// Noop is the baseline user: it logs in (signing up if needed), joins a team, holds a
// WebSocket, and then calls GET /users/me, waiting NoopPeriod × its multiplier after each
// response (a closed loop with a fixed think time, so capacity follows the operational laws).
// Each call is the action "GetMe". After a failed call it waits twice as long, doubling up
// to 32 periods, with up to half again at random (the one rule of internal/backoff). A period under a microsecond (a multiplier of 1e-9) means back to back, as wrk's
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
//
// Its frame stays small: the login is in connect, which returns before the loop, and the
// loop is in steady. A parked user's frames then take under a quarter of 8 KB, so the
// runtime halves its stack to 4 KB; an idle agent's memory is mostly stacks and buffers
// (docs/benchmarks.md).
func (u *Noop) Run(ctx context.Context) error {
	started := u.env.Metrics.Starting()
	defer started() // at the latest; the steady loop is reached after calling it
	// The login runs on a goroutine of its own, which the user waits for: its deep calls
	// (HTTP, JSON) grow that goroutine's stack, not the user's, and the stack goes back to
	// the runtime when it ends. The user's stays at 4 KB for as long as it is connected.
	var s *noopSession
	var err error
	var login sync.WaitGroup
	login.Go(func() {
		defer func() { // the engine recovers the user's goroutine, not this one
			if r := recover(); r != nil {
				err = fmt.Errorf("controller: noop user %d: login panicked: %v", u.id, r)
			}
		}()
		s, err = u.connect(ctx)
	})
	login.Wait()
	if err != nil {
		return err
	}
	defer s.close(ctx)
	started()
	return u.steady(ctx, s.c, s.ws)
}

// noopSession is what a logged-in noop user holds: its client and its WebSocket, whose
// goroutine ends with stop.
type noopSession struct {
	c         *mattermost.Client
	ws        *mattermost.WebSocket
	stop      context.CancelFunc
	wg        sync.WaitGroup
	closeIdle bool // the client has its own connection pool
}

// connect logs the user in (signing up if needed), joins its team and opens its WebSocket.
// On error it leaves nothing behind.
func (u *Noop) connect(ctx context.Context) (_ *noopSession, err error) {
	c, err := u.env.NewClient()
	if err != nil {
		return nil, err
	}
	s := &noopSession{c: c, closeIdle: u.env.PoolPerUser()}
	defer func() {
		if err != nil {
			s.close(ctx)
		}
	}()
	name := u.env.Username(u.id)
	if _, err := LoginOrSignUp(ctx, c, name); err != nil {
		return nil, err
	}
	if _, _, err := JoinTeam(ctx, c, name); err != nil {
		return nil, err
	}
	s.ws = c.NewWebSocket(u.env.Metrics.WebSocketOptions(mattermost.WebSocketOptions{Events: u.env.events}))
	wsCtx, stop := context.WithCancel(ctx)
	s.stop = stop
	s.wg.Go(func() { _ = s.ws.Run(wsCtx) }) // it ends with wsCtx; its errors are counted in its stats
	return s, nil
}

// close stops the WebSocket and waits for it, logs out (if logged in) and closes the
// client's own idle connections.
func (s *noopSession) close(ctx context.Context) {
	if s.stop != nil {
		s.stop()
		s.wg.Wait()
	}
	logout(ctx, s.c)
	if s.closeIdle {
		s.c.CloseIdleConnections()
	}
}

// steady is the user's loop once it is logged in and connected. Its work is in calls it
// returns from (getMe, drain), so that what stays on the stack while it waits is small.
func (u *Noop) steady(ctx context.Context, c *mattermost.Client, ws *mattermost.WebSocket) error {
	l := &noopLoop{period: time.Duration(float64(NoopPeriod) * u.env.Multiplier(u.id)), open: u.env.OpenPacing()}
	l.next = time.Now().Add(l.period)
	t := time.NewTimer(l.period)
	defer t.Stop()
	ready := ws.Ready()
	due := t.C // the timer's channel, or an always-ready one when calls go back to back
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-ready:
			u.drain(ws)
			if !ok {
				ready = nil
			}
		case <-due:
			wait, err := u.getMe(ctx, c, l)
			if err != nil || ctx.Err() != nil {
				return err
			}
			if wait < time.Microsecond {
				due = now
			} else {
				t.Reset(wait)
				due = t.C
			}
		}
	}
}

// noopLoop is the steady loop's state: the period, when the next call was due, and the
// failures in a row.
type noopLoop struct {
	period time.Duration
	next   time.Time
	fails  int
	open   bool // open pacing: the next call is due a period after the last was due
}

// drain counts the WebSocket events waiting.
func (u *Noop) drain(ws *mattermost.WebSocket) {
	for ws.Next() != nil {
		u.env.Metrics.EventReceived()
	}
}

// getMe makes one call and returns the think time before the next one. Its error ends the
// session (a 401: the engine logs the user in again); other errors back off.
func (u *Noop) getMe(ctx context.Context, c *mattermost.Client, l *noopLoop) (time.Duration, error) {
	u.env.Metrics.ObserveLag(time.Since(l.next))
	start := time.Now()
	err := c.CheckMe(ctx)
	if ctx.Err() != nil {
		return 0, nil
	}
	u.env.Metrics.ObserveAction("GetMe", time.Since(start), err)
	if mattermost.StatusOf(err) == http.StatusUnauthorized {
		return 0, err
	}
	now := time.Now()
	if err != nil {
		l.fails++
		l.next = now.Add(backoff.Policy{Initial: 2 * l.period, Max: 32 * l.period, Jitter: 0.5}.Delay(l.fails, rand.Float64()))
		return l.next.Sub(now), nil
	}
	l.fails = 0
	// Closed pacing: the think time starts when the response arrives, so a user makes one
	// request per (latency + period), and N users against a server that completes X
	// requests/s see a mean latency of N/X - period once it saturates. Open pacing: a
	// period after the last call was due, whatever the latency.
	next, dropped := NextDue(l.open, l.next, now, l.period)
	if dropped > 0 {
		u.env.Metrics.DropArrivals(dropped)
	}
	l.next = next
	return next.Sub(now), nil
}
