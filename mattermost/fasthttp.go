package mattermost

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/valyala/fasthttp"
)

// FastHTTP sends a Client's REST calls with valyala/fasthttp instead of net/http. It spends
// about half the CPU per request (docs/benchmarks.md), because it reads and writes each
// connection on the calling goroutine and reuses its buffers, where net/http hands every
// request to two goroutines per connection. The WebSocket still dials through net/http.
//
// Unlike fasthttp's own Do, a call ends as soon as its context does: the connection it is
// using is interrupted and closed. Share one FastHTTP among many clients to pool connections
// per agent, or give each client its own for a pool per user.
//
// What it does not do that net/http does: HTTP/2, proxies from the environment, and
// interrupting a dial (bounded by DialTimeout instead).
type FastHTTP struct {
	hc      *fasthttp.HostClient
	timeout time.Duration
	scheme  string
}

// NewFastHTTP returns a fasthttp connection pool for the server at serverURL, tuned by tc:
// RequestTimeout bounds each call, DialTimeout each dial, and IdleConnTimeout how long an
// idle connection is kept. fasthttp has no cap on idle connections, so MaxIdleConns and
// MaxIdleConnsPerHost do not apply; it closes connections idle for IdleConnTimeout.
func NewFastHTTP(serverURL string, tc TransportConfig) (*FastHTTP, error) {
	u, err := parseServerURL(serverURL)
	if err != nil {
		return nil, err
	}
	tc = tc.withDefaults()
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
	}
	d := &net.Dialer{Timeout: tc.DialTimeout, KeepAlive: 30 * time.Second}
	hc := &fasthttp.HostClient{
		Addr:  addr,
		IsTLS: u.Scheme == "https",
		Dial: func(addr string) (net.Conn, error) {
			return d.Dial("tcp", addr)
		},
		MaxConns:                 1 << 20, // as net/http: no cap; the users are the limit
		MaxIdleConnDuration:      tc.IdleConnTimeout,
		ReadBufferSize:           16 << 10, // the largest response header it reads; buffers are pooled, not kept per connection
		NoDefaultUserAgentHeader: true,
		DisablePathNormalizing:   true, // send the path exactly as built
		Transport:                ctxTransport{},
	}
	return &FastHTTP{hc: hc, timeout: tc.RequestTimeout, scheme: u.Scheme}, nil
}

// CloseIdleConnections closes the pool's idle keep-alive connections.
func (f *FastHTTP) CloseIdleConnections() { f.hc.CloseIdleConnections() }

// ctxKey is the fasthttp.Request user value that carries a call's context to ctxTransport.
type ctxKey struct{}

// ctxTransport is fasthttp's transport with one addition: the call's context (a user value
// of the request) interrupts the connection in use when it ends, so a call to a server that
// hangs returns at once when its user leaves. HostClient.Do still does the retries.
type ctxTransport struct{}

// longAgo is a deadline in the past: setting it interrupts a blocked read or write.
var longAgo = time.Unix(1, 0)

func (ctxTransport) RoundTrip(hc *fasthttp.HostClient, req *fasthttp.Request, resp *fasthttp.Response) (retry bool, err error) {
	ctx, _ := req.UserValue(ctxKey{}).(context.Context)
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	deadline := time.Now().Add(req.GetTimeOut())
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	cc, err := hc.AcquireConn(time.Until(deadline), req.ConnectionClose())
	if err != nil {
		return false, err
	}
	conn := cc.Conn()
	if err := conn.SetDeadline(deadline); err != nil {
		hc.CloseConn(cc)
		return true, err
	}
	// Registered after the deadline above, so that a context ending from here on (or already
	// ended: AfterFunc then runs at once) wins over it.
	discard := false // the connection is closed, not put back in the pool
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(longAgo) })
	defer func() {
		if !stop() { // the context ended: the connection's deadline is spoiled, and it may be mid-response
			discard = true
		}
		if discard || err != nil {
			hc.CloseConn(cc)
		} else {
			hc.ReleaseConn(cc)
		}
		if err != nil && ctx.Err() != nil { // the context's end caused the error: say so, and do not retry
			retry = false
			if !errors.Is(err, ctx.Err()) {
				err = fmt.Errorf("%w: %v", ctx.Err(), err)
			}
		}
	}()

	resp.ParseNetConn(conn)
	bw := hc.AcquireWriter(conn)
	err = req.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	hc.ReleaseWriter(bw)
	if err != nil {
		return true, timeoutOr(err)
	}
	if req.Header.IsHead() {
		resp.SkipBody = true
	}
	br := hc.AcquireReader(conn)
	err = resp.ReadLimitBody(br, hc.MaxResponseBodySize)
	hc.ReleaseReader(br)
	if err != nil {
		return !errors.Is(err, fasthttp.ErrBodyTooLarge), timeoutOr(err)
	}
	discard = req.ConnectionClose() || resp.ConnectionClose()
	return false, nil
}

// timeoutOr returns fasthttp.ErrTimeout for a timeout, as fasthttp's own transport does.
func timeoutOr(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fasthttp.ErrTimeout
	}
	return err
}

// reply is what a call returns besides its body: the status and the headers it asked for.
type reply struct {
	status  int
	headers []string // the values of call.headers, in order
}

// sendFast is send over FastHTTP.
func (c *Client) sendFast(ctx context.Context, k call, u *url.URL, body []byte, ctype string) (reply, []byte, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetUserValue(ctxKey{}, ctx)
	req.SetTimeout(c.fast.timeout)
	req.Header.SetMethod(k.method)
	uri := req.URI()
	uri.DisablePathNormalizing = true
	uri.SetScheme(u.Scheme)
	uri.SetHost(u.Host)
	uri.SetPath(u.Path)
	uri.SetQueryString(u.RawQuery)
	for key, vs := range k.header {
		for _, v := range vs {
			req.Header.Add(key, v)
		}
	}
	if ctype != "" {
		req.Header.SetContentType(ctype)
	}
	req.Header.Set("Accept-Encoding", "gzip") // as net/http asks, and undoes
	c.setHeaders(func(k, v string) { req.Header.Set(k, v) })
	if body != nil {
		req.SetBodyRaw(body)
	}
	if err := c.fast.hc.Do(req, resp); err != nil {
		return reply{}, nil, fmt.Errorf("mattermost: %s %s: %w", k.method, k.route, err)
	}
	r := reply{status: resp.StatusCode()}
	for _, h := range k.headers {
		r.headers = append(r.headers, string(resp.Header.Peek(h)))
	}
	if k.discards() && r.status < 400 {
		return r, nil, nil
	}
	data, err := resp.BodyUncompressed()
	if err != nil {
		return r, nil, fmt.Errorf("mattermost: %s %s: read body: %w", k.method, k.route, err)
	}
	return c.finish(k, r, data, true)
}
