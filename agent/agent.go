// Package agent is the load-test agent's domain: the load tests one process runs (several,
// by id), their status and their per-second metrics intervals, and the errors its
// operations fail with, by kind (ErrBadRequest, ErrNotFound, ErrConflict...). It knows
// nothing of HTTP: package api serves it over HTTP, maps its errors to status codes in one
// table, and holds the client and the join tunnel.
//
// The same operations are available in process (Server.LoadTest returns a Local) and over
// HTTP (api.Client.LoadTest returns a Remote); both have the method set the coordinator's
// cluster.Agent interface declares, and both return the same *Error kinds, so a caller
// cannot tell them apart.
package agent

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/loadtest/loadtest/histogram"
	"github.com/loadtest/loadtest/internal/buildinfo"
	"github.com/loadtest/loadtest/internal/usermetrics"
	"github.com/loadtest/loadtest/loadtest"
)

// Status is one load test's status, with the seed's field names.
type Status struct {
	State           loadtest.State // "stopped", "running" or "stopping"
	StartTime       time.Time      // when it last started running; zero before
	ActiveUsers     int            // users that should be running now
	NumUsers        int            // the same as ActiveUsers: the name mattermost-load-test-ng's clients read
	NumUsersAdded   int64          // users added since the run started, including the initial ones
	NumUsersRemoved int64          // users removed since the run started
	NumUsersStopped int64          // user sessions that ended on their own (and were restarted)
	NumErrors       int64          // user sessions that ended with an error
	MaxActiveUsers  int            // UsersConfiguration.MaxActiveUsers: no change may go past it
	UsersSeq        uint64         // the sequence number of the last SetUsers applied; 0: none yet
	Utilization     float64        // the agent's utilization (0..1) over the last second; > 0.8 is saturated
	CPU, Lag        float64        // its two parts: the CPU share and the p99 schedule lag over 200 ms (0..1 each)
	MetricsCursor   uint64         // the newest complete metrics interval (see MetricsPage)
	UsersStarting   int            // users in their start-up sequence (login, team, first loads) now
}

// Interval is what one load test recorded in one interval (a second, normally): the
// histograms per route template ("route GET /users/me") and action ("action CreatePost"),
// exactly mergeable with other agents' (see package histogram).
type Interval struct {
	Seq         uint64             `json:"seq"` // 1, 2, 3, ... with no gaps
	Start       time.Time          `json:"start"`
	End         time.Time          `json:"end"`
	ActiveUsers int                `json:"active_users"` // at the end of the interval
	Utilization float64            `json:"utilization"`  // the agent's, over the interval: the larger of CPU and Lag
	CPU         float64            `json:"cpu"`          // the CPU share of the cores Go may use (0..1)
	Lag         float64            `json:"lag"`          // the users' p99 schedule lag as a share of 200 ms (0..1)
	Histograms  histogram.Snapshot `json:"histograms"`
	// Counters are what users added to each named counter in the interval (scripts'
	// inc_counter); absent when nothing was.
	Counters map[string]int64 `json:"counters,omitempty"`
	// Users is how the users fared in the interval: actions and sessions, and the failures
	// that were the workload's, not the target's (see usermetrics.Health).
	Users usermetrics.Health `json:"users"`
	// Errors is the interval's failed requests by route, status and reason, most frequent
	// first; absent when none failed.
	Errors []usermetrics.ErrorGroup `json:"errors,omitempty"`
}

// MetricsPage answers "what was recorded after interval Since": the intervals Since+1 up to
// Cursor, oldest first. Pass Cursor as Since next time. An agent keeps the last few minutes
// of intervals; Missed counts the ones after Since it no longer had, so a caller knows when
// its merge is not complete.
type MetricsPage struct {
	ID        string     `json:"id"`
	Since     uint64     `json:"since"`
	Cursor    uint64     `json:"cursor"`
	Missed    uint64     `json:"missed"`
	Intervals []Interval `json:"intervals"`
}

// Errors that every failed call wraps: errors.Is(err, agent.ErrNotFound) works the same for
// a Local and a Remote. The HTTP API maps each to its status code in one table (package
// api), and its client maps the codes back.
var (
	ErrBadRequest   = errors.New("bad request")       // a bad id, amount, config or body
	ErrTooLarge     = errors.New("request too large") // a body over the limit; also an ErrBadRequest
	ErrUnauthorized = errors.New("unauthorized")      // no or wrong bearer token
	ErrNotFound     = errors.New("not found")         // no load test with that id, no such route
	ErrNotAllowed   = errors.New("method not allowed")
	ErrConflict     = errors.New("conflict") // the id exists, the state forbids the call, or a stale sequence number
)

// Error is a failed call: its kind (one of the Err values above; nil: an internal failure)
// and the message.
type Error struct {
	Kind    error
	Message string
}

func (e *Error) Error() string { return e.Message }

// Is makes errors.Is(err, ErrNotFound) and the others true for the matching kind; an
// ErrTooLarge is an ErrBadRequest too.
func (e *Error) Is(target error) bool {
	return target != nil && (target == e.Kind || target == ErrBadRequest && e.Kind == ErrTooLarge)
}

// Errorf returns an *Error of kind with the formatted message.
func Errorf(kind error, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// idPattern: the id prefixes user names ("{id}-user{n}"), and Mattermost user names are at
// most 22 lower-case letters, digits, '.', '-' or '_', starting with a letter; ten
// characters leave room for "-user" and a six-digit number.
var idPattern = regexp.MustCompile(`^[a-z][a-z0-9._-]{0,9}$`)

// ValidID reports why id cannot name a load test, or nil.
func ValidID(id string) error {
	if !idPattern.MatchString(id) {
		return Errorf(ErrBadRequest, "id %q: must be 1 to 10 lower-case letters, digits, '.', '-' or '_', starting with a letter (users are named {id}-user{n})", id)
	}
	return nil
}

// Version is the agent's build, as /version shows it.
type Version = buildinfo.Info

// BuildVersion reads the running binary's Version.
func BuildVersion() Version { return buildinfo.Read() }
