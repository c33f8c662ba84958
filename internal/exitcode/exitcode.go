// Package exitcode is the one table of the binaries' exit codes (README, "Exit codes"), and
// an error that carries its code from run() to main().
package exitcode

import (
	"errors"
	"fmt"
	"io"
)

// The exit codes. A script or CI job tells them apart; each binary documents which it uses.
const (
	OK = 0
	// Failed: a runtime error that is neither bad input nor a finding (a report that could
	// not be written, a listener that could not open).
	Failed = 1
	// BadInput: a bad flag, config file, plan or script. Nothing ran.
	BadInput = 2
	// NoAnswer: the capacity search ended without the answer asked for: a preflight check
	// failed (before any load), the workload broke, the monitor or every agent failed, or
	// the time budget ran out before the bracket narrowed. What it knew is printed and
	// written to the report.
	NoAnswer = 3
	// ThresholdsFailed: the run completed but did not meet what it was asked to: a
	// threshold of loadtest or loadtest plan failed ("p99<500ms"), or the capacity search's
	// answer is below coordinator --expect-users. The same code as k6's.
	ThresholdsFailed = 99
	// Interrupted: SIGINT or SIGTERM (or Ctrl-C). The users were stopped and the report or
	// summary written; an answer is not one (128 + SIGINT, as shells report it).
	Interrupted = 130
)

// Error is an error with the exit code it should end the process with.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// With gives err the exit code (nil stays nil).
func With(code int, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Err: err}
}

// Silent is an exit code with nothing more to say: what happened was already printed.
func Silent(code int) error { return &Error{Code: code, Err: errSilent} }

var errSilent = errors.New("")

// Of returns the exit code for err: 0 for nil, an Error's code, else Failed.
func Of(err error) int {
	var e *Error
	switch {
	case err == nil:
		return OK
	case errors.As(err, &e):
		return e.Code
	}
	return Failed
}

// Exit prints err (unless silent) after prefix to w, and returns its exit code.
func Exit(w io.Writer, prefix string, err error) int {
	if err != nil && !errors.Is(err, errSilent) {
		fmt.Fprintln(w, prefix+":", err)
	}
	return Of(err)
}
