package script

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/coder/websocket"
	starjson "go.starlark.net/lib/json"
	"go.starlark.net/starlark"

	"github.com/loadtest/loadtest/mattermost"
)

var wsOptionsZero = mattermost.WebSocketOptions{}

type wsHooks struct{ connect, disconnect, drop func() }

// wsBuffer is how many received messages a connection keeps for ws_receive. The reader never
// stops reading (a real client does not stop reading its socket while its code is busy, and a
// server may close a connection that does): when the buffer is full the oldest message is
// dropped and counted (loadtest_websocket_events_dropped_total).
const wsBuffer = 1024

// wsConn is an open WebSocket. A reader goroutine, which the session waits for on close,
// passes messages to ws_receive.
type wsConn struct {
	id     int64
	c      *websocket.Conn
	msgs   chan wsMsg
	done   chan struct{} // closed when the reader ends; err is set before
	err    error
	cancel context.CancelFunc
	hooks  wsHooks
}

type wsMsg struct {
	binary bool
	data   []byte
}

// wsValue is the script's handle on a connection.
type wsValue struct{ id int64 }

func (v wsValue) String() string        { return fmt.Sprintf("<ws_conn %d>", v.id) }
func (v wsValue) Type() string          { return "ws_conn" }
func (v wsValue) Freeze()               {}
func (v wsValue) Truth() starlark.Bool  { return true }
func (v wsValue) Hash() (uint32, error) { return uint32(v.id), nil }

// ws_connect(url, headers=None, name=None, timeout_ms=0) opens a WebSocket and returns it.
func wsConnect(s *session, b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
	var rawURL, name string
	var headers *starlark.Dict
	var timeoutMs int
	if err := starlark.UnpackArgs(b.Name(), args, kw, "url", &rawURL, "headers?", &headers, "name?", &name, "timeout_ms?", &timeoutMs); err != nil {
		return nil, err
	}
	u, err := s.resolve(rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("ws_connect: %w", err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	}
	hdr := http.Header{}
	if err := copyHeaders(hdr, headers); err != nil {
		return nil, fmt.Errorf("ws_connect: headers: %w", err)
	}
	if len(s.conns) >= 16 {
		return nil, fmt.Errorf("ws_connect: a user may hold at most 16 connections; ws_close the others")
	}
	if name == "" {
		name = Template(u.Path)
	}
	rt := s.u.rt
	defer s.enter()()
	ctx, cancel := s.requestContext(time.Duration(timeoutMs) * time.Millisecond)
	start := time.Now()
	c, resp, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{HTTPHeader: hdr, HTTPClient: s.client})
	cancel()
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	rec := mattermost.Request{Method: "WS", Route: rt.routeName(name), Status: status, Duration: time.Since(start), Err: err,
		Canceled: err != nil && s.ctx.Err() != nil}
	rt.opts.Metrics.ObserveRequest(rec)
	if err != nil {
		return nil, fmt.Errorf("ws_connect %s: %w", u.Redacted(), err)
	}
	c.SetReadLimit(rt.opts.MaxResponseBytes)
	rctx, rcancel := context.WithCancel(context.WithoutCancel(s.ctx))
	s.nextWS++
	w := &wsConn{id: s.nextWS, c: c, msgs: make(chan wsMsg, wsBuffer), done: make(chan struct{}), cancel: rcancel, hooks: rt.hooks}
	s.conns[w.id] = w
	w.hooks.connect()
	go w.read(rctx) // its owner is the session: close waits for it
	return wsValue{id: w.id}, nil
}

func (w *wsConn) read(ctx context.Context) {
	defer close(w.done)
	for {
		typ, data, err := w.c.Read(ctx)
		if err != nil {
			w.err = err
			return
		}
		m := wsMsg{binary: typ == websocket.MessageBinary, data: data}
		for sent := false; !sent; {
			select {
			case w.msgs <- m:
				sent = true
			default:
				select {
				case <-w.msgs: // full: drop the oldest
					w.hooks.drop()
				default:
				}
			}
		}
	}
}

// closeNow closes the connection at once and waits for its reader.
func (w *wsConn) closeNow() {
	w.cancel()
	_ = w.c.CloseNow()
	<-w.done
	w.hooks.disconnect()
}

func (s *session) conn(b *starlark.Builtin, v starlark.Value) (*wsConn, error) {
	h, ok := v.(wsValue)
	if !ok {
		return nil, fmt.Errorf("%s: want a connection from ws_connect, got %s", b.Name(), v.Type())
	}
	w := s.conns[h.id]
	if w == nil {
		return nil, fmt.Errorf("%s: connection %d is closed", b.Name(), h.id)
	}
	return w, nil
}

// ws_send(conn, data) sends a string as a text message, bytes as a binary one, and any
// other value as JSON text.
func wsSend(s *session, b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
	var cv, data starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kw, "conn", &cv, "data", &data); err != nil {
		return nil, err
	}
	w, err := s.conn(b, cv)
	if err != nil {
		return nil, err
	}
	typ, payload := websocket.MessageText, []byte(nil)
	switch d := data.(type) {
	case starlark.String:
		payload = []byte(string(d))
	case starlark.Bytes:
		typ, payload = websocket.MessageBinary, []byte(string(d))
	default:
		enc, err := starlark.Call(s.thread, starjson.Module.Members["encode"], starlark.Tuple{data}, nil)
		if err != nil {
			return nil, fmt.Errorf("ws_send: %w", err)
		}
		payload = []byte(string(enc.(starlark.String)))
	}
	defer s.enter()()
	ctx, cancel := s.requestContext(0)
	defer cancel()
	if err := w.c.Write(ctx, typ, payload); err != nil {
		return nil, fmt.Errorf("ws_send: %w", err)
	}
	return starlark.None, nil
}

// ws_receive(conn, timeout_ms=1000) returns the next message (a string for text, bytes for
// binary), or None when none came in time. It fails when the connection is closed.
func wsReceive(s *session, b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
	var cv starlark.Value
	timeoutMs := 1000
	if err := starlark.UnpackArgs(b.Name(), args, kw, "conn", &cv, "timeout_ms?", &timeoutMs); err != nil {
		return nil, err
	}
	if timeoutMs < 0 {
		return nil, fmt.Errorf("ws_receive: timeout_ms must be >= 0, got %d", timeoutMs)
	}
	w, err := s.conn(b, cv)
	if err != nil {
		return nil, err
	}
	defer s.enter()()
	t := time.NewTimer(time.Duration(timeoutMs) * time.Millisecond)
	defer t.Stop()
	select {
	case m := <-w.msgs:
		return message(m), nil
	case <-w.done:
		select { // messages read before the close still count
		case m := <-w.msgs:
			return message(m), nil
		default:
		}
		return nil, fmt.Errorf("ws_receive: the connection is closed: %w", closeReason(w.err))
	case <-t.C:
		return starlark.None, nil
	case <-s.ctx.Done():
		return nil, s.ctx.Err()
	}
}

func message(m wsMsg) starlark.Value {
	if m.binary {
		return starlark.Bytes(m.data)
	}
	return starlark.String(m.data)
}

func closeReason(err error) error {
	if err == nil {
		return errors.New("closed")
	}
	return err
}

// ws_close(conn) closes the connection (with a normal close handshake, at most 5 s).
func wsClose(s *session, b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
	var cv starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kw, "conn", &cv); err != nil {
		return nil, err
	}
	w, err := s.conn(b, cv)
	if err != nil {
		return nil, err
	}
	defer s.enter()()
	delete(s.conns, w.id)
	_ = w.c.Close(websocket.StatusNormalClosure, "")
	w.closeNow()
	return starlark.None, nil
}
