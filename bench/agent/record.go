//go:build !windows

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// Recorded is one simulated user's session as the server saw it, for bench/k6-replay.js:
// its login, then every REST request it sent with its time from the login.
type Recorded struct {
	Login    map[string]string `json:"login"` // the login request's body: login_id and password
	Requests []RecordedRequest `json:"requests"`
}

// RecordedRequest is one request of a recorded session.
type RecordedRequest struct {
	AtMs   int64  `json:"at_ms"`
	Method string `json:"method"`
	Path   string `json:"path"` // with its query
	Body   string `json:"body,omitempty"`
	Type   string `json:"type,omitempty"` // the body's content type
}

// recorder is a reverse proxy to the server that keeps every request of every session,
// keyed by the session's token; a login's response names its token.
type recorder struct {
	mu       sync.Mutex
	logins   map[string]map[string]string // token -> login body
	started  map[string]time.Time         // token -> login time
	sessions map[string][]RecordedRequest // token -> requests after the login
}

// record runs n simulative users for d through a recording proxy, then writes the longest
// session of one user (its login and requests) to out as JSON.
func record(server string, n, rate int, d time.Duration, out string) error {
	target, err := url.Parse(server)
	if err != nil {
		return err
	}
	rec := &recorder{logins: map[string]map[string]string{}, started: map[string]time.Time{}, sessions: map[string][]RecordedRequest{}}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = rec.response
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: rec.wrap(proxy), ReadHeaderTimeout: 10 * time.Second}
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.Serve(ln) })
	defer func() { _ = srv.Shutdown(context.Background()); wg.Wait() }()

	e, _, _, err := startSimulative("rec", "http://"+ln.Addr().String(), n)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := addUsers(e, n, rate); err != nil {
		return err
	}
	time.Sleep(time.Until(start.Add(d)))
	_ = e.Stop()

	rec.mu.Lock()
	defer rec.mu.Unlock()
	best := ""
	for tok, rs := range rec.sessions {
		if rec.logins[tok] != nil && (best == "" || len(rs) > len(rec.sessions[best])) {
			best = tok
		}
	}
	if best == "" {
		return fmt.Errorf("no session was recorded")
	}
	r := Recorded{Login: rec.logins[best], Requests: rec.sessions[best]}
	b, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return err
	}
	last := r.Requests[len(r.Requests)-1].AtMs
	fmt.Printf("record: %d users for %v; the longest session: %d requests over %.0f s, written to %s\n",
		n, d, len(r.Requests), float64(last)/1000, out)
	return os.WriteFile(out, b, 0o644)
}

// wrap records each request of a session before it goes to the server.
func (rec *recorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		// REST only (k6 replays no WebSocket), and not the logout, which would end the
		// replaying session's token.
		if tok != "" && r.Header.Get("Upgrade") == "" && r.URL.Path != "/api/v4/users/logout" {
			var body []byte
			if r.Body != nil {
				body, _ = io.ReadAll(r.Body)
				r.Body = io.NopCloser(bytes.NewReader(body))
			}
			rec.mu.Lock()
			if t, ok := rec.started[tok]; ok {
				rec.sessions[tok] = append(rec.sessions[tok], RecordedRequest{AtMs: time.Since(t).Milliseconds(),
					Method: r.Method, Path: r.URL.RequestURI(), Body: string(body), Type: r.Header.Get("Content-Type")})
			}
			rec.mu.Unlock()
		}
		if r.URL.Path == "/api/v4/users/login" && r.Body != nil {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			r = r.WithContext(context.WithValue(r.Context(), loginKey{}, body))
		}
		next.ServeHTTP(w, r)
	})
}

type loginKey struct{}

// response notes a login's token, which starts its session.
func (rec *recorder) response(resp *http.Response) error {
	body, _ := resp.Request.Context().Value(loginKey{}).([]byte)
	tok := resp.Header.Get("Token")
	if body == nil || tok == "" || resp.StatusCode != http.StatusOK {
		return nil
	}
	var login map[string]string
	if json.Unmarshal(body, &login) != nil {
		return nil
	}
	rec.mu.Lock()
	rec.logins[tok], rec.started[tok] = login, time.Now()
	rec.mu.Unlock()
	return nil
}
