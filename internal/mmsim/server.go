package mmsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server is a Mattermost-compatible test server: the REST v4 and WebSocket subset that
// simulated users call, an in-memory store, Mattermost-named Prometheus metrics, and an
// optional capacity model. Create it with New; it is safe for concurrent use.
type Server struct {
	cfg    Config
	log    *slog.Logger
	st     *store
	hub    *hub
	cap    *capacity
	m      *metrics
	reg    *prometheus.Registry
	mux    *http.ServeMux
	routes []route

	runCtxMu sync.Mutex
	runCtx   context.Context // cancelled when Serve returns; ends WebSocket connections
}

// route is one REST endpoint: its method, Go 1.22 pattern, Mattermost handler name (the
// "handler" label of mattermost_api_time), and whether it needs a session.
type route struct {
	method  string
	pattern string // path under /api/v4, with {name} wildcards named as in the OpenAPI file
	name    string
	auth    bool
	h       handlerFunc
}

// handlerFunc serves one authenticated (or not) request; me is the caller's user id, or "".
// Returning an error makes the server write it as an AppError.
type handlerFunc func(w http.ResponseWriter, r *http.Request, me string) error

// New builds a server from cfg. It validates cfg and starts no goroutines. log may be nil.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: log, st: newStore(), cap: newCapacity(cfg.Capacity),
		reg: prometheus.NewRegistry(), mux: http.NewServeMux(), runCtx: context.Background()}
	if a := cfg.Admin; a.Username != "" {
		if _, err := s.st.createUser(a.Username, a.Email, a.Password, "system_user system_admin"); err != nil {
			return nil, fmt.Errorf("mmsim: create the admin account: %w", err)
		}
	}
	s.m = newMetrics(s.reg, s.cap, cfg.Capacity.Workers)
	s.hub = newHub(cfg.WebSocket, s.m, log)
	s.routes = s.apiRoutes()
	for _, rt := range s.routes {
		s.mux.Handle(rt.method+" /api/v4"+rt.pattern, s.wrap(rt))
	}
	s.mux.HandleFunc("GET /api/v4/websocket", s.serveWebSocket)
	s.mux.HandleFunc("GET /{$}", s.serveRoot)
	s.mux.HandleFunc("GET /static/{file}", s.serveStatic)
	s.mux.HandleFunc("/api/v4/", s.notFound)
	return s, nil
}

// Handler returns the REST API and WebSocket handler.
func (s *Server) Handler() http.Handler { return s.mux }

// MetricsHandler returns the Prometheus exposition handler.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg})
}

// Registry returns the registry the server's metrics are in, for tests and embedding.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// Run listens on the configured addresses and serves until ctx is done, then shuts down.
func (s *Server) Run(ctx context.Context) error {
	api, err := net.Listen("tcp", s.cfg.ListenAddress)
	if err != nil {
		return fmt.Errorf("mmsim: listen on ListenAddress %s: %w", s.cfg.ListenAddress, err)
	}
	var mln net.Listener
	if s.cfg.MetricsListenAddress != "" {
		mln, err = net.Listen("tcp", s.cfg.MetricsListenAddress)
		if err != nil {
			_ = api.Close() // best effort: already returning an error
			return fmt.Errorf("mmsim: listen on MetricsListenAddress %s: %w", s.cfg.MetricsListenAddress, err)
		}
	}
	return s.Serve(ctx, api, mln)
}

// Serve serves the API on api and, if metrics is not nil, the metrics on it, until ctx is done.
// It closes the listeners and waits for its goroutines before it returns.
func (s *Server) Serve(ctx context.Context, api, metrics net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.runCtxMu.Lock()
	s.runCtx = ctx
	s.runCtxMu.Unlock()

	servers := []*http.Server{{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}}
	lns := []net.Listener{api}
	if metrics != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", s.MetricsHandler())
		servers = append(servers, &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second})
		lns = append(lns, metrics)
	}
	errc := make(chan error, len(servers)+1)
	var wg sync.WaitGroup
	for i, srv := range servers {
		wg.Go(func() {
			if err := srv.Serve(lns[i]); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		})
	}
	wg.Go(func() { s.hub.janitor(ctx) })
	s.log.Info("mmsim serving", "api", api.Addr().String(), "metrics", addrOf(metrics),
		"capacity_workers", s.cfg.Capacity.Workers, "service_time_ms", s.cfg.Capacity.ServiceTimeMs)

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel() // ends WebSocket handlers and the janitor
	shutCtx, done := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer done()
	for _, srv := range servers {
		if e := srv.Shutdown(shutCtx); e != nil && err == nil {
			err = e
		}
	}
	wg.Wait()
	return err
}

func addrOf(l net.Listener) string {
	if l == nil {
		return ""
	}
	return l.Addr().String()
}

func (s *Server) baseCtx() context.Context {
	s.runCtxMu.Lock()
	defer s.runCtxMu.Unlock()
	return s.runCtx
}

// statusWriter records the status code a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// wrap applies, in order: request id and metrics, the capacity model, authentication, and the
// body-size limit; then it runs the route's handler and writes any error it returns.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		sw.Header().Set("X-Request-Id", newID())
		sw.Header().Set("X-Version-Id", s.versionID())
		serve := func() {
			me := ""
			if rt.auth {
				var ok bool
				if me, ok = s.authenticate(r); !ok {
					writeError(sw, r, &apiError{status: http.StatusUnauthorized, id: "api.context.session_expired.app_error",
						msg: "invalid or expired session, please login again"})
					return
				}
			}
			limit := s.cfg.MaxBodyBytes
			if rt.name == "uploadFileStream" {
				limit = s.cfg.MaxFileBytes
			}
			r.Body = http.MaxBytesReader(sw, r.Body, limit)
			if err := rt.h(sw, r, me); err != nil {
				writeError(sw, r, err)
			}
		}
		if s.cap != nil {
			wait, err := s.cap.serve(r.Context(), serve)
			s.m.capacityWait.Observe(wait.Seconds())
			if err != nil {
				// The client gave up while queued; record it as nginx does.
				sw.status = 499
			}
		} else {
			serve()
		}
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		s.m.requests.Inc()
		if sw.status >= 400 {
			s.m.errors.Inc()
		}
		s.m.apiTime.WithLabelValues(rt.name, r.Method, strconv.Itoa(sw.status)).Observe(time.Since(start).Seconds())
	})
}

// authenticate returns the user id of the request's session: "Authorization: Bearer <token>"
// (any case, "Token" accepted too) or the MMAUTHTOKEN cookie.
func (s *Server) authenticate(r *http.Request) (string, bool) {
	tok := tokenOf(r)
	if tok == "" {
		return "", false
	}
	return s.st.session(tok)
}

func tokenOf(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if ok && (strings.EqualFold(scheme, "bearer") || strings.EqualFold(scheme, "token")) {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	if c, err := r.Cookie("MMAUTHTOKEN"); err == nil {
		return c.Value
	}
	return ""
}

func (s *Server) versionID() string {
	return s.cfg.ServerVersion + ".0.mmsim.false"
}

// notFound answers requests no route matches: 405 with Allow when the path exists under
// another method, else 404. Both are AppErrors.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Request-Id", newID())
	var allow []string
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "/api/v4/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, r, &apiError{status: http.StatusMethodNotAllowed, id: "api.context.405.app_error",
			msg: r.Method + " is not allowed on " + r.URL.Path + "; allowed: " + strings.Join(allow, ", ")})
		return
	}
	writeError(w, r, &apiError{status: http.StatusNotFound, id: "api.context.404.app_error",
		msg: "no route for " + r.Method + " " + r.URL.Path + " on this server"})
}

// Sessions returns how many login sessions are open (logins less logouts), for tests that
// check users log out.
func (s *Server) Sessions() int { return s.st.sessionCount() }
