package agent

import (
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

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/loadtest/loadtest/internal/buildinfo"
)

// route is one path of the API and its handlers by method.
type route struct {
	path    string
	methods map[string]http.HandlerFunc
}

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
func (s *Server) Handler() http.Handler {
	routes := []route{
		{"/loadagent/create", map[string]http.HandlerFunc{http.MethodPost: s.handleCreate}},
		{"/loadagent/{$}", map[string]http.HandlerFunc{http.MethodGet: s.handleList}},
		{"/loadagent/{id}", map[string]http.HandlerFunc{http.MethodGet: s.handleStatus, http.MethodDelete: s.handleDestroy}},
		{"/loadagent/{id}/status", map[string]http.HandlerFunc{http.MethodGet: s.handleStatus}},
		{"/loadagent/{id}/run", map[string]http.HandlerFunc{http.MethodPost: s.handleRun}},
		{"/loadagent/{id}/stop", map[string]http.HandlerFunc{http.MethodPost: s.handleStop}},
		{"/loadagent/{id}/addusers", map[string]http.HandlerFunc{http.MethodPost: s.handleAdd}},
		{"/loadagent/{id}/removeusers", map[string]http.HandlerFunc{http.MethodPost: s.handleRemove}},
		{"/loadagent/{id}/setusers", map[string]http.HandlerFunc{http.MethodPost: s.handleSet}},
		{"/loadagent/{id}/metrics", map[string]http.HandlerFunc{http.MethodGet: s.handleMetrics}},
		{"/metrics", map[string]http.HandlerFunc{http.MethodGet: s.handlePrometheus}},
		{"/healthz", map[string]http.HandlerFunc{http.MethodGet: handleHealthz}},
		{"/version", map[string]http.HandlerFunc{http.MethodGet: handleVersion}},
	}
	mux := http.NewServeMux()
	for _, rt := range routes {
		allow := make([]string, 0, len(rt.methods)+1)
		for m := range rt.methods {
			allow = append(allow, m)
		}
		if rt.methods[http.MethodGet] != nil {
			rt.methods[http.MethodHead] = rt.methods[http.MethodGet]
			allow = append(allow, http.MethodHead)
		}
		slices.Sort(allow)
		allowed := strings.Join(allow, ", ")
		mux.HandleFunc(rt.path, func(w http.ResponseWriter, r *http.Request) {
			if h := rt.methods[r.Method]; h != nil {
				h(w, r)
				return
			}
			w.Header().Set("Allow", allowed)
			writeError(w, r.PathValue("id"), errorf(http.StatusMethodNotAllowed, "%s %s: method not allowed; allowed: %s", r.Method, r.URL.Path, allowed))
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, "", errorf(http.StatusNotFound, "%s %s: no such route; see docs/agent-api.md", r.Method, r.URL.Path))
	})
	return s.authorize(s.limitBody(mux))
}

// authorize checks the bearer token, if one is set, on every route but /healthz.
func (s *Server) authorize(next http.Handler) http.Handler {
	if s.opts.Token == "" {
		return next
	}
	want := []byte(s.opts.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The scheme is case-insensitive (RFC 7235, 2.1); the token is compared exactly.
		scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if r.URL.Path != "/healthz" && (!strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(got), want) != 1) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="loadtest agent"`)
			writeError(w, "", errorf(http.StatusUnauthorized, "missing or wrong bearer token (Authorization: Bearer ...)"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) limitBody(next http.Handler) http.Handler {
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
				return nil, errorf(http.StatusBadRequest, "query parameter %q: this call takes none", k)
			}
			return nil, errorf(http.StatusBadRequest, "query parameter %q: not known; allowed: %s", k, strings.Join(allowed, ", "))
		}
	}
	return q, nil
}

func parseQuery(raw string) (map[string]string, error) {
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "query %q: %v", raw, err)
	}
	out := make(map[string]string, len(vals))
	for k, v := range vals {
		if len(v) > 1 {
			return nil, errorf(http.StatusBadRequest, "query parameter %q: given %d times; give it once", k, len(v))
		}
		out[k] = v[0]
	}
	return out, nil
}

// amount parses the amount query parameter: an integer (not limited to 16 bits).
func amount(q map[string]string) (int, error) {
	v, ok := q["amount"]
	if !ok {
		return 0, errorf(http.StatusBadRequest, "amount: missing; give ?amount=N")
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errorf(http.StatusBadRequest, "amount %q: must be an integer", v)
	}
	return n, nil
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	q, err := query(r, "id")
	if err != nil {
		writeError(w, "", err)
		return
	}
	id, ok := q["id"]
	if !ok {
		writeError(w, "", errorf(http.StatusBadRequest, "id: missing; give ?id=ID"))
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, id, errorf(http.StatusRequestEntityTooLarge, "body: larger than %d bytes", tooBig.Limit))
			return
		}
		writeError(w, id, errorf(http.StatusBadRequest, "body: %v", err))
		return
	}
	if err := ValidID(id); err != nil {
		writeError(w, id, err)
		return
	}
	cfg, err := DecodeConfig(body)
	if err != nil {
		writeError(w, id, errorf(http.StatusBadRequest, "config: %v", err))
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
func (s *Server) op(w http.ResponseWriter, r *http.Request, params []string, f func(id string, q map[string]string) (Status, string, error)) {
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

func (s *Server) handleRun(w http.ResponseWriter, r *http.Request) {
	s.op(w, r, nil, func(id string, _ map[string]string) (Status, string, error) {
		st, err := s.Run(id)
		return st, "load-test agent started", err
	})
}

func (s *Server) handleStop(w http.ResponseWriter, r *http.Request) {
	s.op(w, r, nil, func(id string, _ map[string]string) (Status, string, error) {
		st, err := s.Stop(id)
		return st, "load-test agent stopped", err
	})
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	s.op(w, r, nil, func(id string, _ map[string]string) (Status, string, error) {
		st, err := s.Status(id)
		return st, "", err
	})
}

func (s *Server) handleDestroy(w http.ResponseWriter, r *http.Request) {
	s.op(w, r, nil, func(id string, _ map[string]string) (Status, string, error) {
		st, err := s.Destroy(id)
		return st, "load-test agent destroyed", err
	})
}

func (s *Server) handleAdd(w http.ResponseWriter, r *http.Request) {
	s.op(w, r, []string{"amount"}, func(id string, q map[string]string) (Status, string, error) {
		n, err := amount(q)
		if err != nil {
			return Status{}, "", err
		}
		st, err := s.AddUsers(id, n)
		return st, fmt.Sprintf("%d users added", n), err
	})
}

func (s *Server) handleRemove(w http.ResponseWriter, r *http.Request) {
	s.op(w, r, []string{"amount"}, func(id string, q map[string]string) (Status, string, error) {
		n, err := amount(q)
		if err != nil {
			return Status{}, "", err
		}
		before, err := s.Status(id)
		if err != nil {
			return Status{}, "", err
		}
		st, err := s.RemoveUsers(id, n)
		return st, fmt.Sprintf("%d users removed", max(0, before.ActiveUsers-st.ActiveUsers)), err
	})
}

// MaxSeq is the largest set-users sequence number accepted (2^53 - 1, exact in every JSON
// reader): a caller counts up from 1, and a wild one would refuse every later call of the
// run as stale.
const MaxSeq = 1<<53 - 1

func (s *Server) handleSet(w http.ResponseWriter, r *http.Request) {
	s.op(w, r, []string{"amount", "seq"}, func(id string, q map[string]string) (Status, string, error) {
		n, err := amount(q)
		if err != nil {
			return Status{}, "", err
		}
		var seq uint64
		if v, ok := q["seq"]; ok {
			if seq, err = strconv.ParseUint(v, 10, 64); err != nil || seq == 0 || seq > MaxSeq {
				return Status{}, "", errorf(http.StatusBadRequest, "seq %q: must be an integer from 1 to %d", v, uint64(MaxSeq))
			}
		}
		st, err := s.SetUsers(id, n, seq)
		return st, fmt.Sprintf("%d users active", st.ActiveUsers), err
	})
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	q, err := query(r, "since")
	if err != nil {
		writeError(w, id, err)
		return
	}
	var since uint64
	if v, ok := q["since"]; ok {
		if since, err = strconv.ParseUint(v, 10, 64); err != nil {
			writeError(w, id, errorf(http.StatusBadRequest, "since %q: must be an integer >= 0", v))
			return
		}
	}
	lt, err := s.get(id)
	if err != nil {
		writeError(w, id, err)
		return
	}
	p, err := lt.metrics(since)
	if err != nil {
		writeError(w, id, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	if _, err := query(r); err != nil {
		writeError(w, "", err)
		return
	}
	writeJSON(w, http.StatusOK, s.List())
}

func (s *Server) handlePrometheus(w http.ResponseWriter, r *http.Request) {
	promhttp.HandlerFor(s.gatherer(), promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}).ServeHTTP(w, r)
}

func handleHealthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// Version is the agent's build, as /version shows it.
type Version = buildinfo.Info

// BuildVersion reads the running binary's Version.
func BuildVersion() Version { return buildinfo.Read() }

func handleVersion(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, BuildVersion())
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // messages say "must be > 0", not "\u003e"
	_ = enc.Encode(v)        // the client may be gone; nothing to do about it
}

// writeError writes err with its status code (500 for an error that is not an *Error).
func writeError(w http.ResponseWriter, id string, err error) {
	e := &Error{Code: http.StatusInternalServerError, Message: err.Error()}
	errors.As(err, &e)
	writeJSON(w, e.Code, Response{ID: id, Error: e.Message})
}
