package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/loadtest/loadtest/internal/testtools"
)

// tracker records which user ids are running.
type tracker struct {
	mu      sync.Mutex
	running map[int]int
	starts  map[int]int
}

func newTracker() *tracker { return &tracker{running: map[int]int{}, starts: map[int]int{}} }

// user returns a NewUserFunc whose users run until cancelled, or return fail(id) if not nil.
func (tr *tracker) user(fail func(id, start int) error) NewUserFunc {
	return func(id int) (User, error) {
		return UserFunc(func(ctx context.Context) error {
			tr.mu.Lock()
			tr.running[id]++
			tr.starts[id]++
			n := tr.starts[id]
			tr.mu.Unlock()
			defer func() {
				tr.mu.Lock()
				tr.running[id]--
				tr.mu.Unlock()
			}()
			if fail != nil {
				if err := fail(id, n); err != nil {
					return err
				}
			}
			<-ctx.Done()
			return nil
		}), nil
	}
}

func (tr *tracker) ids() []int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var ids []int
	for id, n := range tr.running {
		if n > 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

func TestEngine_Lifecycle(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		tr := newTracker()
		e, err := New(Options{InitialActiveUsers: 3, MaxActiveUsers: 10}, tr.user(nil), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.AddUsers(1); !errors.Is(err, ErrNotRunning) {
			t.Errorf("AddUsers before Run = %v; want ErrNotRunning", err)
		}
		if err := e.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := e.Run(context.Background()); !errors.Is(err, ErrAlreadyRunning) {
			t.Errorf("second Run = %v; want ErrAlreadyRunning", err)
		}
		synctest.Wait()
		if got := tr.ids(); !slices.Equal(got, []int{1, 2, 3}) {
			t.Fatalf("running after Run = %v; want [1 2 3]", got)
		}
		mustN := func(n int, err error) int {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			return n
		}
		if n := mustN(e.AddUsers(4)); n != 7 {
			t.Errorf("AddUsers(4) = %d; want 7", n)
		}
		if n := mustN(e.RemoveUsers(2)); n != 5 || !slices.Equal(tr.ids(), []int{1, 2, 3, 4, 5}) {
			t.Errorf("RemoveUsers(2) = %d, running %v; want 5 users, ids 1..5 (LIFO removal)", n, tr.ids())
		}
		if n := mustN(e.SetUsers(8)); n != 8 || len(tr.ids()) != 8 {
			t.Errorf("SetUsers(8) = %d, running %v", n, tr.ids())
		}
		before := e.Status()
		if n := mustN(e.SetUsers(8)); n != 8 || e.Status() != before {
			t.Errorf("repeated SetUsers(8) = %d, status %+v; want no change from %+v", n, e.Status(), before)
		}
		if _, err := e.AddUsers(3); err == nil {
			t.Error("AddUsers past MaxActiveUsers succeeded")
		} else if le := (*LimitError)(nil); !errors.As(err, &le) || le.Requested != 11 || le.Max != 10 {
			t.Errorf("AddUsers past the limit = %v; want LimitError{11, 10}", err)
		}
		for _, bad := range []func() (int, error){func() (int, error) { return e.AddUsers(0) }, func() (int, error) { return e.RemoveUsers(-1) }, func() (int, error) { return e.SetUsers(-5) }} {
			if _, err := bad(); !errors.Is(err, ErrInvalidAmount) {
				t.Errorf("bad amount = %v; want ErrInvalidAmount", err)
			}
		}
		if n := mustN(e.RemoveUsers(100)); n != 0 {
			t.Errorf("RemoveUsers(100) = %d; want 0 (all removed)", n)
		}
		mustN(e.AddUsers(2))
		st := e.Status()
		if st.State != Running || st.ActiveUsers != 2 || st.NumUsersAdded != 12 || st.NumUsersRemoved != 10 {
			t.Errorf("Status = %+v; want running, 2 active, 12 added, 10 removed", st)
		}
		if err := e.Stop(); err != nil {
			t.Fatal(err)
		}
		if got := tr.ids(); len(got) != 0 {
			t.Errorf("still running after Stop: %v", got)
		}
		if err := e.Stop(); !errors.Is(err, ErrNotRunning) {
			t.Errorf("second Stop = %v; want ErrNotRunning", err)
		}
		if err := e.Run(context.Background()); err != nil {
			t.Errorf("Run after Stop = %v; want a fresh run", err)
		}
		if err := e.Stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestEngine_Restart checks that a user whose session fails or panics is counted and
// restarted with a doubling backoff, so the count holds.
func TestEngine_Restart(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		tr := newTracker()
		var mu sync.Mutex
		var startTimes []time.Duration
		t0 := time.Now()
		fail := func(id, start int) error {
			mu.Lock()
			startTimes = append(startTimes, time.Since(t0))
			mu.Unlock()
			switch start {
			case 1:
				return errors.New("login failed")
			case 2:
				panic("boom")
			case 3:
				return errors.New("again")
			}
			return nil
		}
		e, _ := New(Options{InitialActiveUsers: 1, MaxActiveUsers: 1, RestartBackoff: time.Second, RestartJitter: -1}, tr.user(fail), nil, nil)
		if err := e.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		st := e.Status()
		if st.NumErrors != 3 || st.NumUsersStopped != 3 || len(tr.ids()) != 1 {
			t.Errorf("Status = %+v, running %v; want 3 errors (one a panic) and the user running", st, tr.ids())
		}
		want := []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second}
		if !slices.Equal(startTimes, want) {
			t.Errorf("starts at %v; want %v (backoff 1s, 2s, 4s)", startTimes, want)
		}
		if err := e.Stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestEngine_RestartOutOfStep checks what an outage does: 200 users whose sessions all fail at
// the same moment come back spread over the jitter window, not in step, and the log says so
// in one line per kind of failure with the count, not one line per user.
func TestEngine_RestartOutOfStep(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var restarts []time.Duration
		t0 := time.Now()
		fail := func(id, start int) error {
			if start == 1 {
				return fmt.Errorf("login user %d: connection refused", id)
			}
			mu.Lock()
			restarts = append(restarts, time.Since(t0))
			mu.Unlock()
			return nil
		}
		var logs testtools.LockedBuffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		const n = 200
		e, _ := New(Options{InitialActiveUsers: n, MaxActiveUsers: n, RestartBackoff: 2 * time.Second}, newTracker().user(fail), log, nil)
		if err := e.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		mu.Lock()
		got := slices.Clone(restarts)
		mu.Unlock()
		slices.Sort(got)
		if len(got) != n {
			t.Fatalf("%d users restarted; want %d", len(got), n)
		}
		if got[0] < 2*time.Second || got[n-1] >= 3*time.Second {
			t.Errorf("restarts from %v to %v; want within [2s, 3s): the backoff and up to half again", got[0], got[n-1])
		}
		if distinct := len(slices.Compact(got)); distinct < n*9/10 {
			t.Errorf("%d users restarted at %d distinct moments; want them spread", n, distinct)
		}
		if err := e.Stop(); err != nil {
			t.Fatal(err)
		}
		out := logs.String()
		if c := strings.Count(out, "user session ended with an error"); c != 2 {
			t.Errorf("%d warnings for one kind of failure; want 2 (the first, then the rest with their count):\n%s", c, out)
		}
		if !strings.Contains(out, "repeats=199") {
			t.Errorf("the log does not count the 199 repeats:\n%s", out)
		}
	})
}

// TestEngine_Concurrent hammers one engine from many goroutines; the final count must equal
// the arithmetic, and -race must stay quiet.
func TestEngine_Concurrent(t *testing.T) {
	defer goleak.VerifyNone(t)
	tr := newTracker()
	e, _ := New(Options{InitialActiveUsers: 500, MaxActiveUsers: 2000}, tr.user(nil), nil, nil)
	if err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			for range 10 {
				if _, err := e.AddUsers(3); err != nil {
					t.Error(err)
				}
				if _, err := e.RemoveUsers(1); err != nil {
					t.Error(err)
				}
				_ = e.Status()
			}
		})
	}
	wg.Wait()
	if got, want := e.Status().ActiveUsers, 500+50*10*2; got != want {
		t.Errorf("ActiveUsers = %d; want %d", got, want)
	}
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := tr.ids(); len(got) != 0 {
		t.Errorf("%d users still running after Stop", len(got))
	}
}

func TestState_JSON(t *testing.T) {
	b, err := json.Marshal(Status{State: Running})
	if err != nil || !json.Valid(b) || !strings.Contains(string(b), `"State":"running"`) {
		t.Fatalf("Marshal = %s, %v; want State as a string", b, err)
	}
	var s State
	if err := json.Unmarshal([]byte(`"stopping"`), &s); err != nil || s != Stopping {
		t.Errorf("Unmarshal stopping = %v, %v", s, err)
	}
	if err := json.Unmarshal([]byte(`"flying"`), &s); !errors.Is(err, ErrInvalidState) {
		t.Errorf("Unmarshal flying = %v; want ErrInvalidState", err)
	}
	if _, err := json.Marshal(State(9)); !errors.Is(err, ErrInvalidState) {
		t.Errorf("Marshal State(9) = %v; want ErrInvalidState", err)
	}
}
