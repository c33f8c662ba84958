package web

import (
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/loadtest/loadtest/coordinator"
	"github.com/loadtest/loadtest/internal/charts"
)

//go:embed ui
var uiFiles embed.FS

// MaxRequestBytes bounds a request's body (a run's configs and scripts).
const MaxRequestBytes = 4 << 20

// Handler serves the API and the UI:
//
//	GET    /                                   the UI
//	GET    /api/runs                           every run, live and past, newest first
//	POST   /api/runs                           create a run (Request); 201 with its Summary
//	GET    /api/runs/{id}                      its Summary
//	POST   /api/runs/{id}/start                start a created run
//	POST   /api/runs/{id}/stop                 stop a running run (its report is written)
//	POST   /api/runs/{id}/users?amount=N       a running plan's users
//	DELETE /api/runs/{id}                      remove a run that is not running, and its folder
//	GET    /api/runs/{id}/report               its report (so far, for a live run)
//	GET    /api/runs/{id}/observations?since=N the ticks after Seq N (live runs)
//	GET    /api/runs/{id}/events               the same as server-sent events, then the report's changes
//	GET    /api/runs/{id}/progress             its progress lines
//	GET    /api/runs/{id}/files/{name}         report.json, report.html, metrics.csv, metrics.jsonl
//	GET    /api/compare?a=ID&b=ID[&format=md]  two runs side by side (JSON, or markdown)
//	GET    /api/defaults                       the default configs and plan the form starts from
//	GET    /api/agents                         the join address and the agents joined now
//
// Errors are JSON ({"error": "..."}) with their status code: 400 a bad request (naming the
// field), 401 no or a wrong token, 404 no such run, 409 the run's state forbids the call.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	ui, _ := fs.Sub(uiFiles, "ui")
	static := http.FileServerFS(ui)
	mux.Handle("GET /", static)
	chartFiles := http.FileServerFS(charts.FS) // the renderer report.html inlines too
	mux.Handle("GET /vendor/", chartFiles)
	mux.Handle("GET /chart.js", chartFiles)
	mux.HandleFunc("GET /api/runs", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, s.List()) })
	mux.HandleFunc("POST /api/runs", s.handleCreate)
	mux.HandleFunc("GET /api/runs/{id}", func(w http.ResponseWriter, r *http.Request) {
		sum, err := s.Summary(r.PathValue("id"))
		reply(w, http.StatusOK, sum, err)
	})
	mux.HandleFunc("POST /api/runs/{id}/start", func(w http.ResponseWriter, r *http.Request) {
		s.afterOp(w, r.PathValue("id"), s.Start(r.PathValue("id")))
	})
	mux.HandleFunc("POST /api/runs/{id}/stop", func(w http.ResponseWriter, r *http.Request) {
		s.afterOp(w, r.PathValue("id"), s.Stop(r.PathValue("id")))
	})
	mux.HandleFunc("POST /api/runs/{id}/users", func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query().Get("amount")
		n, err := strconv.Atoi(v)
		if err != nil {
			writeError(w, fmt.Errorf("%w: amount %q: must be an integer (the users to run)", ErrInvalid, v))
			return
		}
		s.afterOp(w, r.PathValue("id"), s.SetUsers(r.PathValue("id"), n))
	})
	mux.HandleFunc("DELETE /api/runs/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := s.Delete(r.PathValue("id")); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /api/runs/{id}/report", func(w http.ResponseWriter, r *http.Request) {
		rep, err := s.Report(r.PathValue("id"))
		reply(w, http.StatusOK, rep, err)
	})
	mux.HandleFunc("GET /api/runs/{id}/observations", func(w http.ResponseWriter, r *http.Request) {
		run, err := s.get(r.PathValue("id"))
		if err != nil {
			writeError(w, err)
			return
		}
		serveObservations(w, r, run.coordinator())
	})
	mux.HandleFunc("GET /api/runs/{id}/events", s.handleEvents)
	mux.HandleFunc("GET /api/runs/{id}/progress", func(w http.ResponseWriter, r *http.Request) {
		run, err := s.get(r.PathValue("id"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, run.log.Lines())
	})
	mux.HandleFunc("GET /api/runs/{id}/files/{name}", func(w http.ResponseWriter, r *http.Request) {
		id, name := r.PathValue("id"), r.PathValue("name")
		if !idPattern.MatchString(id) || !slices.Contains(servedFiles, name) {
			writeError(w, fmt.Errorf("%w: %s/%s (a run folder's files are %s)", ErrNotFound, id, name, strings.Join(servedFiles, ", ")))
			return
		}
		if _, err := s.Summary(id); err != nil {
			writeError(w, err)
			return
		}
		http.ServeFile(w, r, filepath.Join(s.dir(id), name))
	})
	mux.HandleFunc("GET /api/compare", s.handleCompare)
	mux.HandleFunc("GET /api/agents", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"join": s.opts.JoinAddr, "joined": s.JoinedAgents()})
	})
	mux.HandleFunc("GET /api/defaults", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, Defaults()) })
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		mux.HandleFunc(m+" /api/", func(w http.ResponseWriter, r *http.Request) {
			writeError(w, fmt.Errorf("%w: %s %s: no such API call (see docs/web.md)", ErrNotFound, r.Method, r.URL.Path))
		})
	}
	var h http.Handler = mux
	h = s.authorize(h)
	return http.MaxBytesHandler(h, MaxRequestBytes)
}

// afterOp answers an operation on a run with its summary, or its error.
func (s *Server) afterOp(w http.ResponseWriter, id string, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	sum, err := s.Summary(id)
	reply(w, http.StatusOK, sum, err)
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{fmt.Sprintf("body: larger than %d bytes", tooBig.Limit)})
			return
		}
		writeError(w, fmt.Errorf("%w: body: %v", ErrInvalid, err))
		return
	}
	var req Request
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, fmt.Errorf("%w: body: %v (want {\"kind\": \"search\" or \"plan\", \"config\", \"agent_config\", \"plan\", \"name\", \"start\"})", ErrInvalid, err))
		return
	}
	if r.URL.Query().Get("validate") == "1" { // the form's checks as you type: nothing is created
		if err := s.Check(req); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"valid": true})
		return
	}
	run, err := s.Create(req)
	if err != nil {
		writeError(w, err)
		return
	}
	sum, err := s.Summary(run.ID)
	reply(w, http.StatusCreated, sum, err)
}

// sinceParam reads a since= parameter: the last Seq seen (0: none).
func sinceParam(v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: since %q: must be an integer >= 0 (the last Seq seen)", ErrInvalid, v)
	}
	return n, nil
}

// TokenCookie holds the bearer token in a browser, set by visiting the UI with ?token=.
const TokenCookie = "loadtest_token"

// authorize requires the token, if one is set, on every call: as a bearer token, or the
// cookie a visit with ?token= sets (a browser cannot send a header on its own).
func (s *Server) authorize(next http.Handler) http.Handler {
	if s.opts.Token == "" {
		return next
	}
	want := []byte(s.opts.Token)
	ok := func(got string) bool { return subtle.ConstantTimeCompare([]byte(got), want) == 1 }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if t := r.URL.Query().Get("token"); t != "" && ok(t) {
			http.SetCookie(w, &http.Cookie{Name: TokenCookie, Value: t, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
				Expires: time.Now().Add(30 * 24 * time.Hour)})
			q := r.URL.Query()
			q.Del("token")
			u := *r.URL
			u.RawQuery = q.Encode()
			http.Redirect(w, r, u.String(), http.StatusSeeOther)
			return
		}
		scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if strings.EqualFold(scheme, "Bearer") && ok(got) {
			next.ServeHTTP(w, r)
			return
		}
		if c, err := r.Cookie(TokenCookie); err == nil && ok(c.Value) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="loadtest coordinator"`)
		writeJSON(w, http.StatusUnauthorized, errorBody{"missing or wrong token: send Authorization: Bearer TOKEN, or open the UI once with ?token=TOKEN"})
	})
}

type errorBody struct {
	Error string `json:"error"`
}

// statusOf is the one table from the server's errors to status codes.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrConflict):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

func writeError(w http.ResponseWriter, err error) {
	msg := err.Error()
	for _, k := range []error{ErrInvalid} { // a bad request names its field; the rest keep their kind
		msg = strings.TrimPrefix(msg, k.Error()+": ")
	}
	writeJSON(w, statusOf(err), errorBody{msg})
}

func reply(w http.ResponseWriter, code int, v any, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, code, v)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// ServeRun serves the live view of one coordinator that runs in this process (the one-shot
// `coordinator`, `coordinator --plan`, `loadtest demo --ui`) on addr: the UI, read-only,
// with the run's page, beside GET /status, /report, /observations and /metrics (liveHandler).
// It returns the run's UI link, a done to call once the report is written to dir, and
// stop, which closes the server.
func ServeRun(addr string, c *coordinator.Coordinator, kind, name, results, dir string) (link string, done, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, nil, err
	}
	s := NewServer(Options{Results: results, ReadOnly: true})
	id, done := s.Watch(c, kind, name, dir)
	mux := http.NewServeMux()
	ch := liveHandler(c)
	for _, p := range []string{"/status", "/report", "/observations", "/metrics"} {
		mux.Handle(p, ch)
	}
	mux.Handle("/", s.Handler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	var wg sync.WaitGroup
	wg.Go(func() { _ = hs.Serve(ln) })
	return fmt.Sprintf("http://%s/#/run/%s", ln.Addr(), id), done, func() { s.Close(); _ = hs.Close(); wg.Wait() }, nil
}
