package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/loadtest/loadtest/agent"
	"github.com/loadtest/loadtest/internal/backoff"
)

// Joining a coordinator: instead of the coordinator dialling each agent, an agent dials the
// coordinator's join endpoint (ws://host:9696/join) and the coordinator calls the agent's
// HTTP API over that WebSocket. Fleets that scale by themselves (autoscaling groups,
// Kubernetes replicas) then need no agent list. Each frame is one JSON message: the
// coordinator sends tunnelRequests, the agent answers each with a tunnelResponse of the same
// ID, concurrently.

// JoinPath is the coordinator's join endpoint.
const JoinPath = "/join"

// JoinPort is the port seed 003 uses for joining.
const JoinPort = 9696

// Hello is the agent's first message on a join connection.
type Hello struct {
	ID      string        `json:"id"` // the load test id the coordinator uses on this agent
	Version agent.Version `json:"version"`
}

type tunnelRequest struct {
	ID     uint64      `json:"id"`
	Method string      `json:"method"`
	Path   string      `json:"path"` // with the query
	Header http.Header `json:"header,omitempty"`
	Body   []byte      `json:"body,omitempty"`
}

type tunnelResponse struct {
	ID     uint64      `json:"id"`
	Status int         `json:"status"`
	Header http.Header `json:"header,omitempty"`
	Body   []byte      `json:"body,omitempty"`
}

// NewJoinID returns a random load test id for a joining agent ("j" and 8 hex digits).
func NewJoinID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b) // never fails
	return "j" + hex.EncodeToString(b)
}

// JoinOptions configure Join.
type JoinOptions struct {
	URL   string // the coordinator's join endpoint, ws(s)://host:9696/join
	ID    string // this agent's load test id (NewJoinID if empty)
	Token string // sent as a bearer token to the coordinator
	Log   *slog.Logger
	// Backoff is the first wait before dialling again after a failure; it doubles to 30 s,
	// with up to half again at random so agents cut off together do not dial in step.
	Backoff time.Duration
}

// Join keeps this agent joined to a coordinator until ctx ends: it dials, serves the API
// calls that come over the connection with h (Handler), and dials again (with backoff) when
// the connection is lost. It returns ctx's error.
func Join(ctx context.Context, h http.Handler, o JoinOptions) error {
	if o.ID == "" {
		o.ID = NewJoinID()
	}
	if err := agent.ValidID(o.ID); err != nil {
		return err
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	retry := backoff.New(backoff.Policy{Initial: o.Backoff, Max: 30 * time.Second, Jitter: 0.5})
	for ctx.Err() == nil {
		start := time.Now()
		err := serveJoin(ctx, o, h)
		if ctx.Err() != nil {
			break
		}
		if time.Since(start) > time.Minute {
			retry.Reset() // it was up a while: not a dial loop
		}
		wait := retry.Next()
		o.Log.Warn("join: connection to the coordinator lost; dialling again", "url", o.URL, "err", err, "backoff", wait.Round(time.Millisecond))
		_ = backoff.Sleep(ctx, wait) // ctx's end is the loop's condition
	}
	return ctx.Err()
}

// serveJoin serves one join connection until it fails or ctx ends.
func serveJoin(ctx context.Context, o JoinOptions, h http.Handler) error {
	hdr := http.Header{}
	if o.Token != "" {
		hdr.Set("Authorization", "Bearer "+o.Token)
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	c, resp, err := websocket.Dial(dctx, o.URL, &websocket.DialOptions{HTTPHeader: hdr})
	cancel()
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusUnauthorized {
			return fmt.Errorf("the coordinator refused the token: %w", err)
		}
		return err
	}
	defer c.CloseNow()
	c.SetReadLimit(64 << 20)
	hello, _ := json.Marshal(Hello{ID: o.ID, Version: agent.BuildVersion()})
	if err := c.Write(ctx, websocket.MessageText, hello); err != nil {
		return err
	}
	o.Log.Info("join: joined the coordinator", "url", o.URL, "id", o.ID)
	var wg sync.WaitGroup
	defer wg.Wait()
	var wmu sync.Mutex
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return err
		}
		var req tunnelRequest
		if err := json.Unmarshal(b, &req); err != nil {
			return fmt.Errorf("join: a frame that is not a request: %w", err)
		}
		wg.Go(func() {
			resp := serveTunnel(ctx, h, req)
			out, _ := json.Marshal(resp)
			wmu.Lock()
			defer wmu.Unlock()
			_ = c.Write(ctx, websocket.MessageText, out) // a failed write ends the Read loop too
		})
	}
}

// serveTunnel runs one API call through the agent's handler.
func serveTunnel(ctx context.Context, h http.Handler, tr tunnelRequest) tunnelResponse {
	r, err := http.NewRequestWithContext(ctx, tr.Method, "http://joined"+tr.Path, bytes.NewReader(tr.Body))
	if err != nil {
		return tunnelResponse{ID: tr.ID, Status: http.StatusBadRequest, Body: []byte(err.Error())}
	}
	r.Header = tr.Header
	if r.Header == nil {
		r.Header = http.Header{}
	}
	w := &bufferWriter{header: http.Header{}, status: http.StatusOK}
	h.ServeHTTP(w, r)
	return tunnelResponse{ID: tr.ID, Status: w.status, Header: w.header, Body: w.body.Bytes()}
}

type bufferWriter struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (w *bufferWriter) Header() http.Header { return w.header }
func (w *bufferWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
}
func (w *bufferWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.body.Write(b)
}

// Tunnel is the coordinator's end of a join connection: an http.RoundTripper that sends
// requests to the agent over it. Close ends it; Done is closed when the connection is gone.
type Tunnel struct {
	Hello Hello
	c     *websocket.Conn
	wmu   sync.Mutex
	mu    sync.Mutex
	next  uint64
	wait  map[uint64]chan tunnelResponse // guarded by mu
	ended bool                           // guarded by mu: the reader has stopped
	done  chan struct{}
}

// AcceptTunnel reads the agent's hello on c and starts reading responses; the caller owns
// the Tunnel and must Close it. The reading goroutine ends when the connection does.
func AcceptTunnel(ctx context.Context, c *websocket.Conn) (*Tunnel, error) {
	c.SetReadLimit(256 << 20)
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, b, err := c.Read(hctx)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("join: no hello: %w", err)
	}
	var h Hello
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("join: a hello that is not JSON: %w", err)
	}
	if err := agent.ValidID(h.ID); err != nil {
		return nil, err
	}
	t := &Tunnel{Hello: h, c: c, wait: map[uint64]chan tunnelResponse{}, done: make(chan struct{})}
	go t.read()
	return t, nil
}

func (t *Tunnel) read() {
	var err error // why the connection ended
	defer func() {
		t.mu.Lock()
		t.ended = true
		for id, ch := range t.wait {
			close(ch)
			delete(t.wait, id)
		}
		t.mu.Unlock()
		close(t.done)
	}()
	for {
		var b []byte
		_, b, err = t.c.Read(context.Background())
		if err != nil {
			return
		}
		var resp tunnelResponse
		if err = json.Unmarshal(b, &resp); err != nil {
			_ = t.c.Close(websocket.StatusProtocolError, "not a response")
			return
		}
		t.mu.Lock()
		ch := t.wait[resp.ID]
		delete(t.wait, resp.ID)
		t.mu.Unlock()
		if ch != nil {
			ch <- resp
		}
	}
}

// Done is closed when the connection has ended.
func (t *Tunnel) Done() <-chan struct{} { return t.done }

// Close closes the connection and waits for the reader.
func (t *Tunnel) Close() error {
	err := t.c.Close(websocket.StatusNormalClosure, "")
	<-t.done
	return err
}

// ErrTunnelClosed is returned for calls on a join connection that has ended.
var ErrTunnelClosed = errors.New("agent: the joined agent's connection is closed")

// RoundTrip implements http.RoundTripper over the connection.
func (t *Tunnel) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
	}
	ch := make(chan tunnelResponse, 1)
	t.mu.Lock()
	if t.ended {
		t.mu.Unlock()
		return nil, ErrTunnelClosed
	}
	t.next++
	id := t.next
	t.wait[id] = ch
	t.mu.Unlock()
	forget := func() {
		t.mu.Lock()
		delete(t.wait, id)
		t.mu.Unlock()
	}
	out, _ := json.Marshal(tunnelRequest{ID: id, Method: req.Method, Path: req.URL.RequestURI(), Header: req.Header, Body: body})
	t.wmu.Lock()
	err := t.c.Write(req.Context(), websocket.MessageText, out)
	t.wmu.Unlock()
	if err != nil {
		forget()
		return nil, fmt.Errorf("%w: %v", ErrTunnelClosed, err)
	}
	select {
	case resp, ok := <-ch:
		if !ok {
			return nil, ErrTunnelClosed
		}
		h := resp.Header
		if h == nil {
			h = http.Header{}
		}
		return &http.Response{StatusCode: resp.Status, Status: fmt.Sprintf("%d %s", resp.Status, http.StatusText(resp.Status)),
			Header: h, Body: io.NopCloser(bytes.NewReader(resp.Body)), ContentLength: int64(len(resp.Body)),
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Request: req}, nil
	case <-req.Context().Done():
		forget()
		return nil, req.Context().Err()
	}
}

// JoinedURL is the base URL a joined agent's Client uses; the Tunnel ignores the host.
func JoinedURL(id string) string { return "http://" + strings.ToLower(id) + ".joined" }
