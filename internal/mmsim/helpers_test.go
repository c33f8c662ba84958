package mmsim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// newTestServer starts mmsim on httptest with cfg (zero value: defaults) and returns it with
// its base URL. wrap, if not nil, wraps the API handler (the contract checker uses it).
func newTestServer(tb testing.TB, mutate func(*Config), wrap func(*Server, http.Handler) http.Handler) (*Server, string) {
	tb.Helper()
	cfg := DefaultConfig()
	cfg.LogSettings.EnableConsole = false
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg, nil)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	var h http.Handler = s.Handler()
	if wrap != nil {
		h = wrap(s, h)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.runCtx = ctx
	hs := httptest.NewServer(h)
	tb.Cleanup(func() {
		cancel()
		hs.Close()
	})
	return s, hs.URL
}

// client is a minimal Mattermost REST client for tests.
type client struct {
	tb    testing.TB
	base  string
	token string
	user  User
}

func newClient(tb testing.TB, base string) *client { return &client{tb: tb, base: base} }

// call sends a request and returns the status and body.
func (c *client) call(method, path string, body any, hdr ...string) (int, []byte, http.Header) {
	c.tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			c.tb.Fatalf("marshal: %v", err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.tb.Fatalf("NewRequest: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.tb.Fatalf("%s %s: read: %v", method, path, err)
	}
	return resp.StatusCode, b, resp.Header
}

// must sends a request, checks the status and decodes the body into out (if not nil).
func (c *client) must(method, path string, body any, want int, out any) {
	c.tb.Helper()
	status, b, _ := c.call(method, path, body)
	if status != want {
		c.tb.Fatalf("%s %s = %d %s; want %d", method, path, status, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.tb.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// signup registers and logs in a user named name.
func signup(tb testing.TB, base, name string) *client {
	tb.Helper()
	c := newClient(tb, base)
	c.must("POST", "/api/v4/users", map[string]string{"username": name, "email": name + "@example.com", "password": "testPass123$"}, 201, nil)
	c.login(name)
	return c
}

func (c *client) login(name string) {
	c.tb.Helper()
	pw := "testPass123$"
	if name == "sysadmin" {
		pw = DefaultConfig().Admin.Password
	}
	status, b, h := c.call("POST", "/api/v4/users/login", map[string]string{"login_id": name, "password": pw})
	if status != 200 || h.Get("Token") == "" {
		c.tb.Fatalf("login %s = %d %s, token %q", name, status, b, h.Get("Token"))
	}
	c.token = h.Get("Token")
	if err := json.Unmarshal(b, &c.user); err != nil {
		c.tb.Fatalf("login: %v", err)
	}
}

// wsEvent is an event as a client decodes it.
type wsEvent struct {
	Event     string          `json:"event"`
	Data      map[string]any  `json:"data"`
	Broadcast map[string]any  `json:"broadcast"`
	Seq       *int64          `json:"seq"`
	Status    string          `json:"status"`
	SeqReply  int64           `json:"seq_reply"`
	Error     json.RawMessage `json:"error"`
}

// wsConn is a test WebSocket connection.
type wsConn struct {
	tb testing.TB
	c  *websocket.Conn
}

func (c *client) ws(query string) *wsConn {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hdr := http.Header{}
	if c.token != "" {
		hdr.Set("Authorization", "Bearer "+c.token)
	}
	url := "ws" + strings.TrimPrefix(c.base, "http") + "/api/v4/websocket" + query
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		c.tb.Fatalf("dial %s: %v", url, err)
	}
	c.tb.Cleanup(func() { conn.CloseNow() })
	return &wsConn{tb: c.tb, c: conn}
}

// next reads the next message, failing after a timeout.
func (w *wsConn) next() wsEvent {
	w.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := w.c.Read(ctx)
	if err != nil {
		w.tb.Fatalf("websocket read: %v", err)
	}
	var ev wsEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		w.tb.Fatalf("websocket message %s: %v", b, err)
	}
	return ev
}

// waitFor reads events until one named name arrives, checking seq continuity on the way.
func (w *wsConn) waitFor(name string, expect *int64) wsEvent {
	w.tb.Helper()
	for {
		ev := w.next()
		if ev.Seq != nil && expect != nil {
			if *ev.Seq != *expect {
				w.tb.Fatalf("event %s has seq %d; want %d", ev.Event, *ev.Seq, *expect)
			}
			*expect++
		}
		if ev.Event == name {
			return ev
		}
	}
}

func (w *wsConn) send(seq int64, action string, data any) {
	w.tb.Helper()
	b, _ := json.Marshal(map[string]any{"seq": seq, "action": action, "data": data})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.c.Write(ctx, websocket.MessageText, b); err != nil {
		w.tb.Fatalf("websocket write: %v", err)
	}
}

// waitReply reads until the reply to the client action seq, checking event seq continuity.
func (w *wsConn) waitReply(seq int64, expect *int64) wsEvent {
	w.tb.Helper()
	for {
		ev := w.next()
		if ev.Seq != nil {
			if *ev.Seq != *expect {
				w.tb.Fatalf("event %s has seq %d; want %d", ev.Event, *ev.Seq, *expect)
			}
			*expect++
			continue
		}
		if ev.SeqReply != seq {
			w.tb.Fatalf("reply %+v; want the reply to seq %d", ev, seq)
		}
		return ev
	}
}
