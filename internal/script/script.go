// Package script runs scripted users: small Starlark programs (go.starlark.net) that may
// call only the builtins this package gives them (HTTP, WebSocket, delay, timings, counters,
// random helpers, JSON). A script defines main(); each user runs it on a thread of its own.
// The language has no I/O, no imports and no recursion; a busy loop is stopped by a step
// budget between builtin calls, and a runaway allocation by a heap watchdog. docs/scripts.md
// documents every builtin.
package script

import (
	"errors"
	"fmt"
	"strings"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// fileOptions are the dialect scripts are written in: while loops (a user may loop for
// ever), top-level control flow and reassignment, sets; no recursion.
var fileOptions = &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true}

// Program is a compiled script, safe to share among users.
type Program struct {
	Name string
	prog *starlark.Program
}

// Error is a script's error: its name, the line and column, and the message.
type Error struct {
	Script    string
	Line, Col int32 // 0 when unknown
	Msg       string
	Backtrace string // for runtime errors: the Starlark call stack
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("script %s: %s", e.Script, e.Msg)
	}
	return fmt.Sprintf("script %s: line %d col %d: %s", e.Script, e.Line, e.Col, e.Msg)
}

// Compile parses and resolves src. Names not defined by the script or the builtins, load
// statements, and a missing main() are errors here, before any user runs.
func Compile(name, src string) (*Program, error) {
	if strings.TrimSpace(name) == "" {
		return nil, errors.New("script: a script needs a Name")
	}
	if strings.TrimSpace(src) == "" {
		return nil, &Error{Script: name, Msg: "the source is empty"}
	}
	f, prog, err := starlark.SourceProgramOptions(fileOptions, name, src, isBuiltin)
	if err != nil {
		return nil, compileError(name, err)
	}
	var main *syntax.DefStmt
	for _, s := range f.Stmts {
		switch s := s.(type) {
		case *syntax.LoadStmt:
			pos, _ := s.Span()
			return nil, &Error{Script: name, Line: pos.Line, Col: pos.Col, Msg: "load is not allowed: a script has only the builtins (see docs/scripts.md)"}
		case *syntax.DefStmt:
			if s.Name.Name == "main" {
				main = s
			}
		}
	}
	if main == nil {
		return nil, &Error{Script: name, Msg: "no main(): a script defines def main(), which each user runs"}
	}
	for _, p := range main.Params {
		if _, ok := p.(*syntax.BinaryExpr); !ok { // a parameter with a default is a BinaryExpr (name=value)
			pos, _ := p.Span()
			return nil, &Error{Script: name, Line: pos.Line, Col: pos.Col, Msg: "main() must take no arguments (use params and user_id)"}
		}
	}
	return &Program{Name: name, prog: prog}, nil
}

// compileError turns a scanner or resolver error into an *Error with the first position.
func compileError(name string, err error) error {
	var se syntax.Error
	if errors.As(err, &se) {
		return &Error{Script: name, Line: se.Pos.Line, Col: se.Pos.Col, Msg: se.Msg}
	}
	var el resolve.ErrorList
	if errors.As(err, &el) && len(el) > 0 {
		msg := el[0].Msg
		if len(el) > 1 {
			msg += fmt.Sprintf(" (and %d more errors)", len(el)-1)
		}
		return &Error{Script: name, Line: el[0].Pos.Line, Col: el[0].Pos.Col, Msg: msg}
	}
	return &Error{Script: name, Msg: err.Error()}
}

// runtimeError turns an error from the interpreter into an *Error at the innermost line of
// the script, with the backtrace.
func runtimeError(name string, err error, budget uint64) error {
	var ee *starlark.EvalError
	if !errors.As(err, &ee) {
		return &Error{Script: name, Msg: err.Error()}
	}
	e := &Error{Script: name, Msg: ee.Msg, Backtrace: ee.Backtrace()}
	if strings.HasSuffix(ee.Msg, "cancelled: too many steps") {
		e.Msg = fmt.Sprintf("stopped after %d steps without calling a builtin (a busy loop? the limit is Script.MaxStepsBetweenCalls)", budget)
	}
	for i := len(ee.CallStack) - 1; i >= 0; i-- {
		if fr := ee.CallStack[i]; fr.Pos.Filename() == name {
			e.Line, e.Col = fr.Pos.Line, fr.Pos.Col
			break
		}
	}
	return e
}
