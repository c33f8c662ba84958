package script

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strings"
	"time"

	starjson "go.starlark.net/lib/json"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/loadtest/loadtest/internal/usermetrics"
	"github.com/loadtest/loadtest/mattermost"
)

// Keys under which request phases and custom timings are recorded.
const (
	PhasePrefix  = "phase "  // "phase connect", "phase headers", "phase body"
	TimingPrefix = "timing " // "timing checkout"
)

// Builtins lists the names a script may use besides the language's own.
var Builtins = []string{"get", "post", "put", "patch", "delete", "ws_connect", "ws_send", "ws_receive", "ws_close",
	"delay", "start_timing", "stop_timing", "inc_counter", "random_int", "random_float", "random_choice",
	"random_string", "uuid", "time_ms", "json", "params", "user_id", "agent_id", "target"}

func isBuiltin(name string) bool {
	return slices.Contains(Builtins, name)
}

// builtins returns the functions shared by every session (params and the rest are added per
// session).
func builtins() starlark.StringDict {
	d := starlark.StringDict{"json": starjson.Module}
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		d[strings.ToLower(m)] = starlark.NewBuiltin(strings.ToLower(m), httpBuiltin(m))
	}
	for name, f := range map[string]func(*session, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error){
		"ws_connect": wsConnect, "ws_send": wsSend, "ws_receive": wsReceive, "ws_close": wsClose,
		"delay": delay, "start_timing": startTiming, "stop_timing": stopTiming, "inc_counter": incCounter,
		"random_int": randomInt, "random_float": randomFloat, "random_choice": randomChoice,
		"random_string": randomString, "uuid": newUUID, "time_ms": timeMs,
	} {
		d[name] = starlark.NewBuiltin(name, func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
			s := sessionOf(t)
			if s == nil {
				return nil, fmt.Errorf("%s: not available here", b.Name())
			}
			return f(s, b, args, kw)
		})
	}
	return d
}

// httpBuiltin is get, post, put, patch or delete.
func httpBuiltin(method string) func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		s := sessionOf(t)
		if s == nil {
			return nil, fmt.Errorf("%s: not available here", b.Name())
		}
		var (
			rawURL, name    string
			headers, params *starlark.Dict
			body, jsonV     starlark.Value
			timeoutMs       int
			expect          *starlark.List
		)
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "url", &rawURL, "headers?", &headers, "body?", &body,
			"json?", &jsonV, "params?", &params, "name?", &name, "timeout_ms?", &timeoutMs, "expect?", &expect); err != nil {
			return nil, err
		}
		var expected []int
		if expect != nil {
			for i := range expect.Len() {
				code, err := starlark.AsInt32(expect.Index(i))
				if err != nil || code < 100 || code > 599 {
					return nil, fmt.Errorf("%s: expect must list HTTP statuses (100-599), got %s", b.Name(), expect.Index(i))
				}
				expected = append(expected, code)
			}
		}
		u, err := s.resolve(rawURL, params)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		var payload []byte
		contentType := ""
		switch {
		case jsonV != nil && jsonV != starlark.None:
			if body != nil && body != starlark.None {
				return nil, fmt.Errorf("%s: give body or json, not both", b.Name())
			}
			enc, err := starlark.Call(t, starjson.Module.Members["encode"], starlark.Tuple{jsonV}, nil)
			if err != nil {
				return nil, fmt.Errorf("%s: json: %w", b.Name(), err)
			}
			payload, contentType = []byte(string(enc.(starlark.String))), "application/json"
		case body != nil && body != starlark.None:
			switch v := body.(type) {
			case starlark.String:
				payload = []byte(string(v))
			case starlark.Bytes:
				payload = []byte(string(v))
			default:
				return nil, fmt.Errorf("%s: body must be a string or bytes, got %s", b.Name(), body.Type())
			}
		}
		hdr := http.Header{}
		if contentType != "" {
			hdr.Set("Content-Type", contentType)
		}
		if err := copyHeaders(hdr, headers); err != nil {
			return nil, fmt.Errorf("%s: headers: %w", b.Name(), err)
		}
		if timeoutMs < 0 {
			return nil, fmt.Errorf("%s: timeout_ms must be >= 0, got %d", b.Name(), timeoutMs)
		}
		if name == "" {
			name = Template(u.Path)
		}
		defer s.enter()()
		return s.do(method, u, hdr, payload, s.u.rt.routeName(name), time.Duration(timeoutMs)*time.Millisecond, expected), nil
	}
}

// resolve makes rawURL absolute against the user's target and adds params to its query.
func (s *session) resolve(rawURL string, params *starlark.Dict) (*url.URL, error) {
	if !strings.Contains(rawURL, "://") {
		target := ""
		if n := len(s.u.rt.opts.Targets); n > 0 {
			target = s.u.rt.opts.Targets[(s.u.id-1)%n]
		}
		if target == "" {
			return nil, fmt.Errorf("url %q is relative and the plan has no target", rawURL)
		}
		rawURL = strings.TrimRight(target, "/") + "/" + strings.TrimLeft(rawURL, "/")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "http", "https", "ws", "wss":
	default:
		return nil, fmt.Errorf("url %q: the scheme must be http(s) or ws(s)", rawURL)
	}
	if params != nil {
		q := u.Query()
		for _, kv := range params.Items() {
			k, ok := starlark.AsString(kv[0])
			if !ok {
				return nil, fmt.Errorf("params: keys must be strings, got %s", kv[0].Type())
			}
			q.Add(k, str(kv[1]))
		}
		u.RawQuery = q.Encode()
	}
	return u, nil
}

func copyHeaders(dst http.Header, headers *starlark.Dict) error {
	if headers == nil {
		return nil
	}
	for _, kv := range headers.Items() {
		k, ok := starlark.AsString(kv[0])
		if !ok {
			return fmt.Errorf("keys must be strings, got %s", kv[0].Type())
		}
		dst.Set(k, str(kv[1]))
	}
	return nil
}

// str is v as a string: a string's own text, else its Starlark representation.
func str(v starlark.Value) string {
	if s, ok := starlark.AsString(v); ok {
		return s
	}
	return v.String()
}

// do sends one request and records it: the request under its name, and its phases.
// A status in expected counts as a success, and any other as an error; with none, statuses
// below 400 are successes.
func (s *session) do(method string, u *url.URL, hdr http.Header, payload []byte, name string, timeout time.Duration, expected []int) starlark.Value {
	rt := s.u.rt
	ctx, cancel := s.requestContext(timeout)
	defer cancel()
	var connStart, connDone, firstByte time.Time
	trace := &httptrace.ClientTrace{
		GetConn: func(string) { connStart = time.Now() },
		GotConn: func(i httptrace.GotConnInfo) {
			if !i.Reused {
				connDone = time.Now()
			}
		},
		GotFirstResponseByte: func() { firstByte = time.Now() },
	}
	var body io.Reader
	if payload != nil {
		body = strings.NewReader(string(payload))
	}
	start := time.Now()
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), method, u.String(), body)
	status, respBody, respHdr := 0, []byte(nil), http.Header{}
	if err == nil {
		req.Header = hdr
		var resp *http.Response
		resp, err = s.client.Do(req)
		if err == nil {
			status, respHdr = resp.StatusCode, resp.Header
			respBody, err = io.ReadAll(io.LimitReader(resp.Body, rt.opts.MaxResponseBytes+1))
			resp.Body.Close()
			if err == nil && int64(len(respBody)) > rt.opts.MaxResponseBytes {
				respBody = respBody[:rt.opts.MaxResponseBytes]
				err = fmt.Errorf("response body over Script.MaxResponseBytes (%d)", rt.opts.MaxResponseBytes)
			}
		}
	}
	end := time.Now()
	rec := mattermost.Request{Method: method, Route: name, Status: status, Duration: end.Sub(start), Err: err}
	ok := err == nil && status >= 200 && status < 400
	if err == nil && expected != nil {
		ok = slices.Contains(expected, status)
	}
	if err == nil && !ok {
		rec.Err = fmt.Errorf("HTTP %d", status)
	}
	if err != nil {
		rec.Canceled = s.ctx.Err() != nil && errors.Is(err, context.Canceled)
		var ne interface{ Timeout() bool }
		rec.Timeout = errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
	}
	m := rt.opts.Metrics
	m.ObserveRequest(rec)
	if !rec.Canceled {
		if !connDone.IsZero() && !connStart.IsZero() {
			m.Recorder.Record(PhasePrefix+"connect", connDone.Sub(connStart), false)
		}
		if !firstByte.IsZero() {
			m.Recorder.Record(PhasePrefix+"headers", firstByte.Sub(start), false)
			m.Recorder.Record(PhasePrefix+"body", end.Sub(firstByte), err != nil)
		}
	}
	return newResponse(status, ok, respBody, respHdr, err, end.Sub(start))
}

// requestContext is a request's context: a leaving user's request may finish, for up to
// Grace after the user's context ends (wind-down lets in-flight requests finish).
func (s *session) requestContext(timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(s.ctx))
	if timeout > 0 {
		var c2 context.CancelFunc
		ctx, c2 = context.WithTimeout(ctx, timeout)
		prev := cancel
		cancel = func() { c2(); prev() }
	}
	grace := s.u.rt.opts.Grace
	stop := context.AfterFunc(s.ctx, func() {
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-t.C:
			cancel()
		case <-ctx.Done():
		}
	})
	return ctx, func() {
		stop()
		cancel()
	}
}

// newResponse is what get and the others return.
func newResponse(status int, ok bool, body []byte, hdr http.Header, err error, d time.Duration) starlark.Value {
	h := starlark.NewDict(len(hdr))
	for k, v := range hdr {
		_ = h.SetKey(starlark.String(strings.ToLower(k)), starlark.String(strings.Join(v, ", ")))
	}
	h.Freeze()
	var errV starlark.Value = starlark.None
	if err != nil {
		errV = starlark.String(err.Error())
	}
	text := starlark.String(body)
	decode := starlark.NewBuiltin("json", func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
		if err := starlark.UnpackArgs(b.Name(), args, kw); err != nil {
			return nil, err
		}
		return starlark.Call(t, starjson.Module.Members["decode"], starlark.Tuple{text}, nil)
	})
	return starlarkstruct.FromStringDict(starlark.String("response"), starlark.StringDict{
		"status": starlark.MakeInt(status), "ok": starlark.Bool(ok),
		"body": text, "headers": h, "error": errV, "json": decode,
		"duration_ms": starlark.Float(float64(d) / float64(time.Millisecond)),
	})
}

// Template turns a URL path into a route name: segments that are numbers, that hold a digit
// and are 8 or more characters long, or that are 20 or more characters long (ids, tokens,
// UUIDs) become {id}; "v4" stays. It keeps label values a small set.
func Template(path string) string {
	if path == "" {
		return "/"
	}
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if p != "" && (isDigits(p) || len(p) >= 20 || len(p) >= 8 && strings.ContainsAny(p, "0123456789")) {
			parts[i] = "{id}"
		}
	}
	return strings.Join(parts, "/")
}

func isDigits(s string) bool { return strings.Trim(s, "0123456789") == "" }

// delay(ms, jitter=0.0) sleeps ms milliseconds, varied by ±jitter of itself.
func delay(s *session, b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
	var ms, jitter starlark.Value = nil, starlark.Float(0)
	if err := starlark.UnpackArgs(b.Name(), args, kw, "ms", &ms, "jitter?", &jitter); err != nil {
		return nil, err
	}
	msF, ok1 := starlark.AsFloat(ms)
	j, ok2 := starlark.AsFloat(jitter)
	switch {
	case !ok1 || msF < 0:
		return nil, fmt.Errorf("delay: ms must be a number >= 0, got %s", ms)
	case !ok2 || j < 0 || j > 1:
		return nil, fmt.Errorf("delay: jitter must be a number in [0, 1], got %s", jitter)
	}
	if j > 0 {
		msF *= 1 + j*(2*s.rng.Float64()-1)
	}
	defer s.enter()()
	t := time.NewTimer(time.Duration(msF * float64(time.Millisecond)))
	defer t.Stop()
	select {
	case <-s.ctx.Done():
		return nil, s.ctx.Err()
	case <-t.C:
		return starlark.None, nil
	}
}

func startTiming(s *session, b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
	var name string
	if err := starlark.UnpackArgs(b.Name(), args, kw, "name", &name); err != nil {
		return nil, err
	}
	if len(s.timings) >= 100 {
		return nil, fmt.Errorf("start_timing: more than 100 timings open; stop_timing the others")
	}
	s.timings[name] = time.Now()
	return starlark.None, nil
}

// stop_timing(name) records the time since start_timing(name) and returns it in ms.
func stopTiming(s *session, b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
	var name string
	var failed bool
	if err := starlark.UnpackArgs(b.Name(), args, kw, "name", &name, "failed?", &failed); err != nil {
		return nil, err
	}
	start, ok := s.timings[name]
	if !ok {
		return nil, fmt.Errorf("stop_timing: %q was not started (start_timing(%q) first)", name, name)
	}
	delete(s.timings, name)
	d := time.Since(start)
	s.u.rt.opts.Metrics.Recorder.Record(TimingPrefix+s.u.rt.routeName(name), d, failed)
	return starlark.Float(float64(d) / float64(time.Millisecond)), nil
}

func incCounter(s *session, b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
	var name string
	n := 1
	if err := starlark.UnpackArgs(b.Name(), args, kw, "name", &name, "n?", &n); err != nil {
		return nil, err
	}
	if !s.u.rt.opts.Metrics.AddCounter(name, int64(n)) {
		return nil, fmt.Errorf("inc_counter: %q would be counter number %d; at most %d names (name counters from a small set)",
			name, usermetrics.MaxCounterNames+1, usermetrics.MaxCounterNames)
	}
	return starlark.None, nil
}

func timeMs(_ *session, b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kw); err != nil {
		return nil, err
	}
	return starlark.Float(float64(time.Now().UnixMicro()) / 1000), nil
}
