// Package mattermost is a client for the part of the Mattermost REST API v4 and WebSocket
// protocol that simulated users call. It is written for load testing: every request reports
// its route template (never a raw id), status, duration and error to an Observer, errors are
// typed (*Error carries the AppError id and status), and transport settings are the caller's.
//
// A Client holds one session. It is safe for concurrent use, but a simulated user normally
// owns its client alone.
package mattermost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Request is what the Client reports to its Observer after each HTTP request.
type Request struct {
	Method   string
	Route    string        // path template under /api/v4, e.g. "/channels/{channel_id}/posts"; "/" for the root page
	Status   int           // 0 when no response arrived
	Duration time.Duration // from sending the request to reading the whole body
	Err      error         // transport error or *Error
	Timeout  bool          // the request timed out
	Canceled bool          // the caller's context ended first (a user leaving), not a server failure
}

// Observer receives a Request after each call. It is called from the calling goroutine.
type Observer func(Request)

// Options configure a Client. The zero value is usable.
type Options struct {
	// HTTPClient sends the requests. Nil means a client built by NewHTTPClient with its
	// defaults. Share one among many users to pool connections per agent, or give each user
	// its own for a connection pool per user, as browsers have.
	HTTPClient *http.Client
	// Observer, if set, is told about every request.
	Observer Observer
	// UserAgent is sent with every request; empty means "loadtest".
	UserAgent string
}

// TransportConfig tunes the HTTP transport, as NewHTTPClient builds it.
type TransportConfig struct {
	RequestTimeout      time.Duration // whole request, including reading the body; default 30s
	DialTimeout         time.Duration // default 5s
	MaxIdleConns        int           // across all hosts; default 100
	MaxIdleConnsPerHost int           // default 128
	IdleConnTimeout     time.Duration // default 90s
}

// NewHTTPClient returns an *http.Client for load testing: keep-alive connections pooled per
// host, bounded dial and request times, no cookie jar (the session is the bearer token).
func NewHTTPClient(tc TransportConfig) *http.Client {
	def := func(d, v time.Duration) time.Duration {
		if v <= 0 {
			return d
		}
		return v
	}
	defi := func(d, v int) int {
		if v <= 0 {
			return d
		}
		return v
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: def(5*time.Second, tc.DialTimeout), KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          defi(100, tc.MaxIdleConns),
		MaxIdleConnsPerHost:   defi(128, tc.MaxIdleConnsPerHost),
		IdleConnTimeout:       def(90*time.Second, tc.IdleConnTimeout),
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: tr, Timeout: def(30*time.Second, tc.RequestTimeout)}
}

// Client talks to one Mattermost server as one user.
type Client struct {
	base *url.URL // server URL, without /api/v4
	hc   *http.Client
	obs  Observer
	ua   string

	mu     sync.RWMutex
	token  string // guarded by mu
	userID string // guarded by mu
}

// New returns a client for the server at serverURL (e.g. "http://localhost:8065").
func New(serverURL string, opts Options) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(serverURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("mattermost: server URL %q: must be http(s)://host[:port]", serverURL)
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = NewHTTPClient(TransportConfig{})
	}
	ua := opts.UserAgent
	if ua == "" {
		ua = "loadtest"
	}
	return &Client{base: u, hc: hc, obs: opts.Observer, ua: ua}, nil
}

// Token returns the session token, or "" before Login.
func (c *Client) Token() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.token
}

// UserID returns the logged-in user's id, or "" before Login.
func (c *Client) UserID() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.userID
}

// SetSession sets the token and user id, for a client that shares another's session.
func (c *Client) SetSession(token, userID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.token, c.userID = token, userID
}

// CloseIdleConnections closes the idle keep-alive connections of the client's transport, as
// when a simulated user with its own connection pool leaves.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// ServerURL returns the server's base URL.
func (c *Client) ServerURL() string { return c.base.String() }

// Error is a failed API call: the server answered with a status of 400 or more.
type Error struct {
	Method string
	Route  string
	AppError
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	return fmt.Sprintf("mattermost: %s %s: %d %s: %s", e.Method, e.Route, e.StatusCode, e.ID, msg)
}

// StatusOf returns the HTTP status of an *Error in err's chain, or 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.StatusCode
	}
	return 0
}

// IsNotFound reports whether err is a 404 from the server.
func IsNotFound(err error) bool { return StatusOf(err) == http.StatusNotFound }

// call describes one request.
type call struct {
	method string
	route  string     // template under /api/v4, for errors and the observer
	path   string     // concrete path under /api/v4
	query  url.Values // may be nil
	body   any        // JSON-encoded unless it is an io.Reader
	ctype  string     // content type of an io.Reader body
	header http.Header
	out    any  // decoded from a 2xx JSON body, if not nil
	drop   bool // a 2xx body is read to the end and dropped, not kept (do returns no body)
}

// do sends a call and returns the response (body read and closed) and its body.
func (c *Client) do(ctx context.Context, k call) (*http.Response, []byte, error) {
	start := time.Now()
	resp, body, err := c.send(ctx, k)
	r := Request{Method: k.method, Route: k.route, Duration: time.Since(start), Err: err}
	if resp != nil {
		r.Status = resp.StatusCode
	}
	var ne net.Error
	r.Canceled = err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err())
	r.Timeout = !r.Canceled && (errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()))
	if c.obs != nil {
		c.obs(r)
	}
	return resp, body, err
}

func (c *Client) send(ctx context.Context, k call) (*http.Response, []byte, error) {
	var rd io.Reader
	ctype := k.ctype
	switch b := k.body.(type) {
	case nil:
	case io.Reader:
		rd = b
	default:
		js, err := json.Marshal(b)
		if err != nil {
			return nil, nil, fmt.Errorf("mattermost: %s %s: encode body: %w", k.method, k.route, err)
		}
		rd, ctype = bytes.NewReader(js), "application/json"
	}
	u := *c.base
	u.Path += k.path
	if k.route != "/" {
		u.Path = c.base.Path + "/api/v4" + k.path
	}
	if len(k.query) > 0 {
		u.RawQuery = k.query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, k.method, "", rd)
	if err != nil {
		return nil, nil, fmt.Errorf("mattermost: %s %s: %w", k.method, k.route, err)
	}
	req.URL, req.Host = &u, u.Host // built above: printing it for NewRequest to parse back costs 3 % of a noop call

	for key, vs := range k.header {
		req.Header[key] = vs
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("User-Agent", c.ua)
	req.Header.Set("X-Requested-With", "XMLHttpRequest")
	if tok := c.Token(); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("mattermost: %s %s: %w", k.method, k.route, err)
	}
	defer resp.Body.Close()
	if k.drop && resp.StatusCode < 400 {
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return resp, nil, fmt.Errorf("mattermost: %s %s: read body: %w", k.method, k.route, err)
		}
		return resp, nil, nil
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp, nil, fmt.Errorf("mattermost: %s %s: read body: %w", k.method, k.route, err)
	}
	if resp.StatusCode >= 400 {
		e := &Error{Method: k.method, Route: k.route}
		if json.Unmarshal(body, &e.AppError) != nil || e.ID == "" {
			e.AppError = AppError{Message: strings.TrimSpace(string(body))}
		}
		e.StatusCode = resp.StatusCode
		return resp, body, e
	}
	if k.out != nil && resp.StatusCode != http.StatusNotModified && len(body) > 0 {
		if err := json.Unmarshal(body, k.out); err != nil {
			return resp, body, fmt.Errorf("mattermost: %s %s: decode %d response: %w", k.method, k.route, resp.StatusCode, err)
		}
	}
	return resp, body, nil
}

// json sends a call whose answer is JSON decoded into out.
func (c *Client) json(ctx context.Context, method, route, path string, query url.Values, body, out any) error {
	_, _, err := c.do(ctx, call{method: method, route: route, path: path, query: query, body: body, out: out})
	return err
}

// pathf builds a concrete path from a template, escaping each argument.
func pathf(format string, args ...string) string {
	esc := make([]any, len(args))
	for i, a := range args {
		esc[i] = url.PathEscape(a)
	}
	return fmt.Sprintf(format, esc...)
}
