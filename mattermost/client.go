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
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
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
	// FastHTTP, if set, sends the REST calls instead of HTTPClient, for about half the CPU
	// per request; HTTPClient still dials the WebSocket. Share one among users as above.
	FastHTTP *FastHTTP
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

// withDefaults fills the zero fields of tc with their defaults.
func (tc TransportConfig) withDefaults() TransportConfig {
	tc.RequestTimeout = cmp.Or(max(tc.RequestTimeout, 0), 30*time.Second)
	tc.DialTimeout = cmp.Or(max(tc.DialTimeout, 0), 5*time.Second)
	tc.MaxIdleConns = cmp.Or(max(tc.MaxIdleConns, 0), 100)
	tc.MaxIdleConnsPerHost = cmp.Or(max(tc.MaxIdleConnsPerHost, 0), 128)
	tc.IdleConnTimeout = cmp.Or(max(tc.IdleConnTimeout, 0), 90*time.Second)
	return tc
}

// NewHTTPClient returns an *http.Client for load testing: keep-alive connections pooled per
// host, bounded dial and request times, no cookie jar (the session is the bearer token).
func NewHTTPClient(tc TransportConfig) *http.Client {
	tc = tc.withDefaults()
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: tc.DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          tc.MaxIdleConns,
		MaxIdleConnsPerHost:   tc.MaxIdleConnsPerHost,
		IdleConnTimeout:       tc.IdleConnTimeout,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: tr, Timeout: tc.RequestTimeout}
}

// Client talks to one Mattermost server as one user.
type Client struct {
	base *url.URL // server URL, without /api/v4
	hc   *http.Client
	fast *FastHTTP // nil: REST calls go through hc
	obs  Observer
	ua   string

	mu     sync.RWMutex
	token  string // guarded by mu
	auth   string // "Bearer " + token, or ""; guarded by mu
	userID string // guarded by mu
}

// New returns a client for the server at serverURL (e.g. "http://localhost:8065").
func New(serverURL string, opts Options) (*Client, error) {
	u, err := parseServerURL(serverURL)
	if err != nil {
		return nil, err
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = NewHTTPClient(TransportConfig{})
	}
	ua := opts.UserAgent
	if ua == "" {
		ua = "loadtest"
	}
	return &Client{base: u, hc: hc, fast: opts.FastHTTP, obs: opts.Observer, ua: ua}, nil
}

func parseServerURL(serverURL string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(serverURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("mattermost: server URL %q: must be http(s)://host[:port]", serverURL)
	}
	return u, nil
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
	c.token, c.userID, c.auth = token, userID, ""
	if token != "" {
		c.auth = "Bearer " + token
	}
}

// CloseIdleConnections closes the idle keep-alive connections of the client's transport, as
// when a simulated user with its own connection pool leaves.
func (c *Client) CloseIdleConnections() {
	c.hc.CloseIdleConnections()
	if c.fast != nil {
		c.fast.CloseIdleConnections()
	}
}

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

// ServerFault reports whether a failed call is the server's failure rather than the
// caller's: a 5xx, 408 (request timeout) or 429 (too many requests) answer, or no complete
// answer at all (a refused or reset connection, a timeout, a body cut short). A 4xx other
// than those says the request itself was wrong for this server (bad credentials, no team,
// no permission, an unknown route): the workload's fault, not the server's.
func ServerFault(err error) bool {
	if err == nil {
		return false
	}
	if s := StatusOf(err); s != 0 {
		return s >= 500 || s == http.StatusRequestTimeout || s == http.StatusTooManyRequests
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrConnectionClosed) || errors.Is(err, fasthttp.ErrDialTimeout)
}

// Reason names what went wrong with a failed request in a few words from a small set, for
// grouping failures and as a metric label: the server's error id when it sent one
// ("api.context.session_expired.app_error"), the status text when it did not ("Bad
// Gateway"), or what happened on the wire: "timeout", "connection refused", "connection
// reset", "connection closed", "host not found", "tls" or "transport error". An error id
// that is not a plain dotted name is "unnamed server error", so no server can grow the set.
func Reason(r Request) string {
	var e *Error
	switch {
	case r.Err == nil:
		return ""
	case r.Timeout:
		return "timeout"
	case errors.As(r.Err, &e):
		if e.ID != "" {
			if !plainID(e.ID) {
				return "unnamed server error"
			}
			return e.ID
		}
		if t := http.StatusText(e.StatusCode); t != "" {
			return t
		}
		return "unnamed server error"
	case r.Status != 0: // an answer without Mattermost's error body (a script's request, a proxy)
		if t := http.StatusText(r.Status); t != "" {
			return t
		}
		return "unnamed server error"
	case errors.Is(r.Err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(r.Err, syscall.ECONNRESET) || errors.Is(r.Err, syscall.EPIPE):
		return "connection reset"
	case errors.Is(r.Err, io.EOF) || errors.Is(r.Err, io.ErrUnexpectedEOF) || errors.Is(r.Err, fasthttp.ErrConnectionClosed):
		return "connection closed"
	}
	var dns *net.DNSError
	if errors.As(r.Err, &dns) {
		return "host not found"
	}
	var tlsErr *tls.RecordHeaderError
	var certErr *tls.CertificateVerificationError
	if errors.As(r.Err, &tlsErr) || errors.As(r.Err, &certErr) || strings.Contains(r.Err.Error(), "tls:") {
		return "tls"
	}
	return "transport error"
}

// plainID reports whether id looks like a Mattermost error id: at most 120 lower-case
// letters, digits, dots and underscores.
func plainID(id string) bool {
	if len(id) > 120 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// IsNotFound reports whether err is a 404 from the server.
func IsNotFound(err error) bool { return StatusOf(err) == http.StatusNotFound }

// call describes one request.
type call struct {
	method  string
	route   string     // template under /api/v4, for errors and the observer
	path    string     // concrete path under /api/v4
	query   url.Values // may be nil
	body    any        // JSON-encoded unless it is an io.Reader
	ctype   string     // content type of an io.Reader body
	header  http.Header
	out     any      // decoded from a 2xx JSON body, if not nil
	raw     bool     // do returns the 2xx body
	headers []string // response headers to return, by name
}

// discards says a 2xx body is read to the end and dropped, not kept: nothing decodes or
// returns it.
func (k call) discards() bool { return k.out == nil && !k.raw }

// do sends a call and returns the response's status, the headers the call asked for, and its
// body.
func (c *Client) do(ctx context.Context, k call) (reply, []byte, error) {
	start := time.Now()
	resp, body, err := c.send(ctx, k)
	r := Request{Method: k.method, Route: k.route, Duration: time.Since(start), Err: err, Status: resp.status}
	var ne net.Error
	r.Canceled = err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err())
	r.Timeout = !r.Canceled && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, fasthttp.ErrTimeout) || (errors.As(err, &ne) && ne.Timeout()))
	if c.obs != nil {
		c.obs(r)
	}
	return resp, body, err
}

// send builds the request's URL and body and sends it over FastHTTP or net/http.
func (c *Client) send(ctx context.Context, k call) (reply, []byte, error) {
	var body []byte
	ctype := k.ctype
	switch b := k.body.(type) {
	case nil:
	case io.Reader:
		var err error
		if body, err = io.ReadAll(b); err != nil {
			return reply{}, nil, fmt.Errorf("mattermost: %s %s: read body: %w", k.method, k.route, err)
		}
	default:
		js, err := json.Marshal(b)
		if err != nil {
			return reply{}, nil, fmt.Errorf("mattermost: %s %s: encode body: %w", k.method, k.route, err)
		}
		body, ctype = js, "application/json"
	}
	u := *c.base
	u.Path += k.path
	if k.route != "/" {
		u.Path = c.base.Path + "/api/v4" + k.path
	}
	if len(k.query) > 0 {
		u.RawQuery = k.query.Encode()
	}
	if c.fast != nil {
		return c.sendFast(ctx, k, &u, body, ctype)
	}
	return c.sendStd(ctx, k, &u, body, ctype)
}

// setHeaders sets the headers every call carries.
func (c *Client) setHeaders(set func(k, v string)) {
	set("User-Agent", c.ua)
	set("X-Requested-With", "XMLHttpRequest")
	c.mu.RLock()
	auth := c.auth
	c.mu.RUnlock()
	if auth != "" {
		set("Authorization", auth)
	}
}

// sendStd is send over net/http.
func (c *Client) sendStd(ctx context.Context, k call, u *url.URL, body []byte, ctype string) (reply, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, k.method, "", rd)
	if err != nil {
		return reply{}, nil, fmt.Errorf("mattermost: %s %s: %w", k.method, k.route, err)
	}
	req.URL, req.Host = u, u.Host // built by send: printing it for NewRequest to parse back costs 3 % of a noop call

	for key, vs := range k.header {
		req.Header[key] = vs
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	c.setHeaders(req.Header.Set)
	resp, err := c.hc.Do(req)
	if err != nil {
		return reply{}, nil, fmt.Errorf("mattermost: %s %s: %w", k.method, k.route, err)
	}
	defer resp.Body.Close()
	r := reply{status: resp.StatusCode}
	for _, h := range k.headers {
		r.headers = append(r.headers, resp.Header.Get(h))
	}
	if k.discards() && resp.StatusCode < 400 {
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return r, nil, fmt.Errorf("mattermost: %s %s: read body: %w", k.method, k.route, err)
		}
		return r, nil, nil
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return r, nil, fmt.Errorf("mattermost: %s %s: read body: %w", k.method, k.route, err)
	}
	return c.finish(k, r, data, false)
}

// finish turns a read response into the call's result: an *Error for a status of 400 or
// more, else the body decoded into k.out. borrowed says the body's buffer is reused after
// the call, so the body returned is a copy.
func (c *Client) finish(k call, r reply, body []byte, borrowed bool) (reply, []byte, error) {
	if r.status >= 400 {
		e := &Error{Method: k.method, Route: k.route}
		if json.Unmarshal(body, &e.AppError) != nil || e.ID == "" {
			e.AppError = AppError{Message: strings.TrimSpace(string(body))}
		}
		e.StatusCode = r.status
		return r, nil, e
	}
	if k.out != nil && r.status != http.StatusNotModified && len(body) > 0 {
		if err := decode(body, k.out); err != nil {
			return r, nil, fmt.Errorf("mattermost: %s %s: decode %d response: %w", k.method, k.route, r.status, err)
		}
	}
	if !k.raw {
		return r, nil, nil
	}
	if borrowed {
		body = bytes.Clone(body)
	}
	return r, body, nil
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
