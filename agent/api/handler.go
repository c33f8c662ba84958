// Package api is the agent's HTTP transport: Handler serves an agent.Server (seed 001's
// /loadagent/... routes and more, docs/agent-api.md) with its errors mapped to status codes
// once (StatusCode), Client and Remote call it, and Join and Tunnel carry it over a
// WebSocket to a coordinator that agents join.
package api

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"slices"
	"strconv"
	"strings"

	"github.com/loadtest/loadtest/agent"
	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/internal/config"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// HandlerOptions configure the agent's HTTP API.
type HandlerOptions struct {
	// Token, if set, is the bearer token every request but GET /healthz must carry.
	Token string
	// MaxBodyBytes limits request bodies; 0: 1 MiB.
	MaxBodyBytes int64
}

// handler serves a Server's operations over HTTP.
type handler struct {
	*agent.Server
	opts HandlerOptions
}

// otherMethods are the methods a route that does not take them answers with 405.
var otherMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions, http.MethodTrace}

// Handler returns the agent's HTTP API:
//
//	POST   /loadagent/create?id=ID            body: the agent config (or {"LoadTestConfig": ...})
//	POST   /loadagent/{id}/run
//	POST   /loadagent/{id}/addusers?amount=N
//	POST   /loadagent/{id}/removeusers?amount=N
//	POST   /loadagent/{id}/setusers?amount=N[&seq=K]
//	POST   /loadagent/{id}/stop
//	GET    /loadagent/{id}/status, GET /loadagent/{id}
//	GET    /loadagent/{id}/metrics?since=K
//	DELETE /loadagent/{id}
//	GET    /loadagent/                        every load test's status
//	GET    /metrics, /healthz, /version
//
// See docs/agent-api.md.
func Handler(srv *agent.Server, o HandlerOptions) http.Handler {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	s := &handler{Server: srv, opts: o}
	mux := http.NewServeMux()
	allowed := map[string][]string{} // path -> methods, for the 405s
	handle := func(method, path string, h http.HandlerFunc) {
		mux.HandleFunc(method+" "+path, h)
		allowed[path] = append(allowed[path], method)
		if method == http.MethodGet { // a GET pattern serves HEAD too
			allowed[path] = append(allowed[path], http.MethodHead)
		}
	}
	handle(http.MethodPost, "/loadagent/create", s.handleCreate)
	handle(http.MethodGet, "/loadagent/{$}", s.handleList)
	handle(http.MethodGet, "/loadagent/{id}", s.handleStatus)
	handle(http.MethodDelete, "/loadagent/{id}", s.handleDestroy)
	handle(http.MethodGet, "/loadagent/{id}/status", s.handleStatus)
	handle(http.MethodPost, "/loadagent/{id}/run", s.handleRun)
	handle(http.MethodPost, "/loadagent/{id}/stop", s.handleStop)
	handle(http.MethodPost, "/loadagent/{id}/addusers", s.handleAdd)
	handle(http.MethodPost, "/loadagent/{id}/removeusers", s.handleRemove)
	handle(http.MethodPost, "/loadagent/{id}/setusers", s.handleSet)
	handle(http.MethodGet, "/loadagent/{id}/metrics", s.handleMetrics)
	handle(http.MethodGet, "/metrics", s.handlePrometheus)
	handle(http.MethodGet, "/healthz", handleHealthz)
	handle(http.MethodGet, "/version", handleVersion)
	// Every other method on these paths gets a JSON 405 naming the allowed ones (the mux's
	// own 405 is plain text). The methods are listed, not left open: a path without a
	// method would be as specific as GET /loadagent/{id} for GET /loadagent/create.
	for path, methods := range allowed {
		slices.Sort(methods)
		allow := strings.Join(methods, ", ")
		for _, m := range otherMethods {
			if !slices.Contains(methods, m) {
				mux.HandleFunc(m+" "+path, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Allow", allow)
					writeError(w, r.PathValue("id"), agent.Errorf(agent.ErrNotAllowed, "%s %s: method not allowed; allowed: %s", r.Method, r.URL.Path, allow))
				})
			}
		}
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, "", agent.Errorf(agent.ErrNotFound, "%s %s: no such route; see docs/agent-api.md", r.Method, r.URL.Path))
	})
	return s.authorize(s.limitBody(mux))
}

// authorize checks the bearer token, if one is set, on every route but /healthz.
func (s *handler) authorize(next http.Handler) http.Handler {
	if s.opts.Token == "" {
		return next
	}
	want := []byte(s.opts.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The scheme is case-insensitive (RFC 7235, 2.1); the token is compared exactly.
		scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if r.URL.Path != "/healthz" && (!strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(got), want) != 1) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="loadtest agent"`)
			writeError(w, "", agent.Errorf(agent.ErrUnauthorized, "missing or wrong bearer token (Authorization: Bearer ...)"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *handler) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// query returns the request's query parameters, or an error naming one it does not take.
func query(r *http.Request, allowed ...string) (map[string]string, error) {
	q, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, err
	}
	for k := range q {
		if !slices.Contains(allowed, k) {
			if len(allowed) == 0 {
				return nil, agent.Errorf(agent.ErrBadRequest, "query parameter %q: this call takes none", k)
			}
			return nil, agent.Errorf(agent.ErrBadRequest, "query parameter %q: not known; allowed: %s", k, strings.Join(allowed, ", "))
		}
	}
	return q, nil
}

func parseQuery(raw string) (map[string]string, error) {
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return nil, agent.Errorf(agent.ErrBadRequest, "query %q: %v", raw, err)
	}
	out := make(map[string]string, len(vals))
	for k, v := range vals {
		if len(v) > 1 {
			return nil, agent.Errorf(agent.ErrBadRequest, "query parameter %q: given %d times; give it once", k, len(v))
		}
		out[k] = v[0]
	}
	return out, nil
}

// amount parses the amount query parameter: an integer (not limited to 16 bits).
func amount(q map[string]string) (int, error) {
	v, ok := q["amount"]
	if !ok {
		return 0, agent.Errorf(agent.ErrBadRequest, "amount: missing; give ?amount=N")
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, agent.Errorf(agent.ErrBadRequest, "amount %q: must be an integer", v)
	}
	return n, nil
}

func (s *handler) handleCreate(w http.ResponseWriter, r *http.Request) {
	q, err := query(r, "id")
	if err != nil {
		writeError(w, "", err)
		return
	}
	id, ok := q["id"]
	if !ok {
		writeError(w, "", agent.Errorf(agent.ErrBadRequest, "id: missing; give ?id=ID"))
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, id, agent.Errorf(agent.ErrTooLarge, "body: larger than %d bytes", tooBig.Limit))
			return
		}
		writeError(w, id, agent.Errorf(agent.ErrBadRequest, "body: %v", err))
		return
	}
	if err := agent.ValidID(id); err != nil {
		writeError(w, id, err)
		return
	}
	cfg, err := DecodeConfig(body)
	if err != nil {
		writeError(w, id, agent.Errorf(agent.ErrBadRequest, "config: %v", err))
		return
	}
	if err := s.Create(id, cfg); err != nil {
		writeError(w, id, err)
		return
	}
	st, _ := s.Status(id)
	writeJSON(w, http.StatusCreated, Response{ID: id, Message: "load-test agent created", Status: &st})
}

// op serves a call on one load test that takes the given query parameters.
func (s *handler) op(w http.ResponseWriter, r *http.Request, params []string, f func(id string, q map[string]string) (agent.Status, string, error)) {
	id := r.PathValue("id")
	q, err := query(r, params...)
	if err != nil {
		writeError(w, id, err)
		return
	}
	st, msg, err := f(id, q)
	if err != nil {
		writeError(w, id, err)
		return
	}
	writeJSON(w, http.StatusOK, Response{ID: id, Message: msg, Status: &st})
}

func (s *handler) handleRun(w http.ResponseWriter, r *http.Request) {
	s.op(w, r, nil, func(id string, _ map[string]string) (agent.Status, string, error) {
		st, err := s.Run(id)
		return st, "load-test agent started", err
	})
}

func (s *handler) handleStop(w http.ResponseWriter, r *http.Request) {
	s.op(w, r, nil, func(id string, _ map[string]string) (agent.Status, string, error) {
		st, err := s.Stop(id)
		return st, "load-test agent stopped", err
	})
}

func (s *handler) handleStatus(w http.ResponseWriter, r *http.Request) {
	s.op(w, r, nil, func(id string, _ map[string]string) (agent.Status, string, error) {
		st, err := s.Status(id)
		return st, "", err
	})
}

func (s *handler) handleDestroy(w http.ResponseWriter, r *http.Request) {
	s.op(w, r, nil, func(id string, _ map[string]string) (agent.Status, string, error) {
		st, err := s.Destroy(id)
		return st, "load-test agent destroyed", err
	})
}

func (s *handler) handleAdd(w http.ResponseWriter, r *http.Request) {
	s.op(w, r, []string{"amount"}, func(id string, q map[string]string) (agent.Status, string, error) {
		n, err := amount(q)
		if err != nil {
			return agent.Status{}, "", err
		}
		st, err := s.AddUsers(id, n)
		return st, fmt.Sprintf("%d users added", n), err
	})
}

func (s *handler) handleRemove(w http.ResponseWriter, r *http.Request) {
	s.op(w, r, []string{"amount"}, func(id string, q map[string]string) (agent.Status, string, error) {
		n, err := amount(q)
		if err != nil {
			return agent.Status{}, "", err
		}
		before, err := s.Status(id)
		if err != nil {
			return agent.Status{}, "", err
		}
		st, err := s.RemoveUsers(id, n)
		return st, fmt.Sprintf("%d users removed", max(0, before.ActiveUsers-st.ActiveUsers)), err
	})
}

// MaxSeq is the largest set-users sequence number accepted (2^53 - 1, exact in every JSON
// reader): a caller counts up from 1, and a wild one would refuse every later call of the
// run as stale.
const MaxSeq = 1<<53 - 1

func (s *handler) handleSet(w http.ResponseWriter, r *http.Request) {
	s.op(w, r, []string{"amount", "seq"}, func(id string, q map[string]string) (agent.Status, string, error) {
		n, err := amount(q)
		if err != nil {
			return agent.Status{}, "", err
		}
		var seq uint64
		if v, ok := q["seq"]; ok {
			if seq, err = strconv.ParseUint(v, 10, 64); err != nil || seq == 0 || seq > MaxSeq {
				return agent.Status{}, "", agent.Errorf(agent.ErrBadRequest, "seq %q: must be an integer from 1 to %d", v, uint64(MaxSeq))
			}
		}
		st, err := s.SetUsers(id, n, seq)
		return st, fmt.Sprintf("%d users active", st.ActiveUsers), err
	})
}

func (s *handler) handleMetrics(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	q, err := query(r, "since")
	if err != nil {
		writeError(w, id, err)
		return
	}
	var since uint64
	if v, ok := q["since"]; ok {
		if since, err = strconv.ParseUint(v, 10, 64); err != nil {
			writeError(w, id, agent.Errorf(agent.ErrBadRequest, "since %q: must be an integer >= 0", v))
			return
		}
	}
	p, err := s.SparseMetrics(id, since)
	if err != nil {
		writeError(w, id, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *handler) handleList(w http.ResponseWriter, r *http.Request) {
	if _, err := query(r); err != nil {
		writeError(w, "", err)
		return
	}
	writeJSON(w, http.StatusOK, s.List())
}

func (s *handler) handlePrometheus(w http.ResponseWriter, r *http.Request) {
	promhttp.HandlerFor(s.Gatherer(), promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}).ServeHTTP(w, r)
}

func handleHealthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func handleVersion(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, agent.BuildVersion())
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // messages say "must be > 0", not "\u003e"
	_ = enc.Encode(v)        // the client may be gone; nothing to do about it
}

// statusCodes is the one table from the agent's errors to HTTP status codes; the first
// kind the error is decides. The client reads it backwards.
var statusCodes = []struct {
	kind error
	code int
}{
	{agent.ErrTooLarge, http.StatusRequestEntityTooLarge},
	{agent.ErrBadRequest, http.StatusBadRequest},
	{agent.ErrUnauthorized, http.StatusUnauthorized},
	{agent.ErrNotFound, http.StatusNotFound},
	{agent.ErrNotAllowed, http.StatusMethodNotAllowed},
	{agent.ErrConflict, http.StatusConflict},
}

// StatusCode is the HTTP status code of err: its kind's, or 500 for any other error.
func StatusCode(err error) int {
	for _, sc := range statusCodes {
		if errors.Is(err, sc.kind) {
			return sc.code
		}
	}
	return http.StatusInternalServerError
}

// kindOf is the agent error kind a status code means (nil: none, a 5xx or an unknown code).
func kindOf(code int) error {
	for _, sc := range statusCodes {
		if sc.code == code {
			return sc.kind
		}
	}
	return nil
}

// writeError writes err with its status code.
func writeError(w http.ResponseWriter, id string, err error) {
	writeJSON(w, StatusCode(err), Response{ID: id, Error: err.Error()})
}

// Response is the body of every /loadagent response: the load test's id, what happened, its
// status, or (with a 4xx or 5xx status code, never with 200) what went wrong.
type Response struct {
	ID      string        `json:"id,omitempty"`
	Message string        `json:"message,omitempty"`
	Status  *agent.Status `json:"status,omitempty"`
	Error   string        `json:"error,omitempty"`
}

// DecodeConfig reads an agent config as create takes it: the config itself (seed 001's
// `curl -d @config/config.json`), or wrapped as {"LoadTestConfig": {...}} as today's
// mattermost-load-test-ng sends it. Fields not given keep their defaults; an empty body is
// the default config. Every error names the field.
func DecodeConfig(body []byte) (agentconfig.Config, error) {
	cfg := agentconfig.DefaultConfig()
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return cfg, cfg.Validate()
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) == nil {
		for k, v := range top {
			if strings.EqualFold(k, "LoadTestConfig") {
				for other := range top {
					if !strings.EqualFold(other, "LoadTestConfig") {
						return cfg, fmt.Errorf("%s: not supported beside LoadTestConfig; controller settings go in LoadTestConfig.UserControllerConfiguration", other)
					}
				}
				body = v
			}
		}
	}
	if err := config.Decode(bytes.NewReader(body), &cfg); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// DefaultListen is where `loadtest server` listens unless told otherwise (seed 001's port,
// on loopback).
const DefaultListen = "127.0.0.1:4000"
