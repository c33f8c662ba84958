package mattermost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/loadtest/loadtest/internal/backoff"
)

// Event is a server-to-client WebSocket event.
type Event struct {
	Event     string    `json:"event"`
	Data      EventData `json:"data"`
	Broadcast Broadcast `json:"broadcast"`
	Seq       int64     `json:"seq"`
}

// EventData is the part of an event's data that simulated users read; the rest is skipped
// as the event is read. Decoding every event's whole data into a map was a fifth of a
// simulative agent's CPU, for fields no user looked at (docs/benchmarks.md).
type EventData struct {
	ConnectionID string `json:"connection_id"` // hello
	Post         string `json:"post"`          // posted, post_edited, post_deleted: the post, as JSON
	UserID       string `json:"user_id"`       // typing, status_change, and others about one user
	ParentID     string `json:"parent_id"`     // typing: the thread's root, if in a thread
	Status       string `json:"status"`        // status_change

	// post decodes Post once for every copy of the event: the EventCache hands the same
	// broadcast to every member on the agent, and each member that reads the post would
	// otherwise decode it again (DecodePost).
	post *sharedPost
}

type sharedPost struct {
	once sync.Once
	p    Post
	err  error
}

// Broadcast says who an event was sent to.
type Broadcast struct {
	OmitUsers map[string]bool `json:"omit_users"`
	UserID    string          `json:"user_id"`
	ChannelID string          `json:"channel_id"`
	TeamID    string          `json:"team_id"`
}

// Reply answers a client action.
type Reply struct {
	Status   string          `json:"status"`
	SeqReply int64           `json:"seq_reply"`
	Data     json.RawMessage `json:"data"`
	Error    *AppError       `json:"error"`
}

// WebSocketOptions tune a WebSocket. The zero value gives the webapp's behaviour.
type WebSocketOptions struct {
	// EventBuffer is how many events may wait for the owner before new ones are dropped (and
	// counted). Default 256. The queue grows with the events waiting and is released when
	// drained, so an idle user's costs nothing.
	EventBuffer int
	// ReconnectDelay is the wait before a reconnect; after MaxFastRetries failures in a row it
	// grows as ReconnectDelay × failures², up to MaxReconnectDelay. Defaults 3s, 7, 5 min: the
	// webapp's values. Up to ReconnectJitter more is added to each wait at random, so users
	// cut off together do not come back in step: default 2 s, the webapp's; negative: none.
	ReconnectDelay    time.Duration
	MaxFastRetries    int
	MaxReconnectDelay time.Duration
	ReconnectJitter   time.Duration
	// OnConnect and OnDisconnect, if set, are called as connections open and close (for a
	// connection gauge). OnDrop is called for each event dropped because the buffer was full.
	OnConnect, OnDisconnect func()
	OnDrop                  func(Event)
	// Events, if set, shares the decoding of broadcasts with the agent's other WebSockets
	// (see EventCache).
	Events *EventCache
	// Ready, if set, is the channel Ready returns: a buffered channel of the owner's, which
	// the owner may also send its own wake-ups on, to wait on one channel for its events and
	// its timers. The WebSocket's sends never block, and it does not close it: when Run has
	// returned it sends a last token and Closed reports true.
	Ready chan struct{}
}

// WebSocketStats counts what happened on a WebSocket.
type WebSocketStats struct {
	Connects   int64 // connections opened
	Resumed    int64 // reconnects the server resumed (same connection_id)
	Fresh      int64 // reconnects that got a new connection (events may have been missed)
	Gaps       int64 // seq gaps detected, each followed by a reconnect
	Events     int64 // events delivered to the owner
	Dropped    int64 // events dropped because the owner's buffer was full
	Failures   int64 // failed connection attempts
	LastConnID string
}

// ErrNotConnected is returned by Send while no connection is open.
var ErrNotConnected = errors.New("mattermost: websocket is not connected")

// WebSocket is a user's event connection. Run owns it; other methods may be called from any
// goroutine.
type WebSocket struct {
	c    *Client
	opts WebSocketOptions

	qmu      sync.Mutex
	first    Event         // guarded by qmu: the oldest event waiting, if hasFirst, held inline so that the usual lone event costs no allocation
	hasFirst bool          // guarded by qmu
	queue    []*Event      // guarded by qmu: the events waiting after first, oldest first
	cur      Event         // the event Next returned last: the owner's
	ready    chan struct{} // holds a token while events wait; closed when Run returns
	closed   bool          // guarded by qmu

	mu       sync.Mutex
	conn     *websocket.Conn // guarded by mu; nil while disconnected
	connID   string          // guarded by mu
	nextSeq  int64           // guarded by mu: the seq the next event must carry
	helloed  bool            // guarded by mu: the current connection has sent hello
	pending  map[int64]chan Reply
	lastSeq  int64              // client action seq, guarded by mu
	kickConn context.CancelFunc // guarded by mu: ends the current connection's read

	connects, resumed, fresh, gaps, events, dropped, failures atomic.Int64
}

// NewWebSocket prepares a WebSocket for the client's session. It connects when Run is called.
func (c *Client) NewWebSocket(opts WebSocketOptions) *WebSocket {
	if opts.EventBuffer <= 0 {
		opts.EventBuffer = 256
	}
	if opts.ReconnectDelay <= 0 {
		opts.ReconnectDelay = 3 * time.Second
	}
	if opts.MaxFastRetries <= 0 {
		opts.MaxFastRetries = 7
	}
	if opts.MaxReconnectDelay <= 0 {
		opts.MaxReconnectDelay = 5 * time.Minute
	}
	if opts.ReconnectJitter == 0 {
		opts.ReconnectJitter = 2 * time.Second
	}
	ready := opts.Ready
	if ready == nil {
		ready = make(chan struct{}, 1)
	}
	return &WebSocket{c: c, opts: opts, ready: ready, pending: map[int64]chan Reply{}}
}

// Ready receives a token when events are waiting, and is closed when Run has returned
// (unless it is WebSocketOptions.Ready: see there). The owner then takes them with Next:
//
//	case _, ok := <-ws.Ready():
//		for ev := ws.Next(); ev != nil; ev = ws.Next() { ... }
//		if !ok { /* Run has returned */ }
func (w *WebSocket) Ready() <-chan struct{} { return w.ready }

// Closed reports whether Run has returned; events still queued remain for Next.
func (w *WebSocket) Closed() bool {
	w.qmu.Lock()
	defer w.qmu.Unlock()
	return w.closed
}

// Next returns the oldest waiting event (in seq order), or nil when none is waiting. The
// event is the owner's until its next call to Next, which reuses it.
func (w *WebSocket) Next() *Event {
	w.qmu.Lock()
	defer w.qmu.Unlock()
	switch {
	case w.hasFirst:
		w.cur, w.first, w.hasFirst = w.first, Event{}, false
	case len(w.queue) > 0:
		w.cur = *w.queue[0]
		w.queue[0] = nil
		w.queue = w.queue[1:]
		if len(w.queue) == 0 {
			w.queue = nil // release the array: an idle user keeps no buffer
		}
	default:
		return nil
	}
	return &w.cur
}

// deliver queues a copy of an event for the owner; it reports false when EventBuffer
// events are already waiting.
func (w *WebSocket) deliver(ev *Event) bool {
	w.qmu.Lock()
	n := len(w.queue)
	if w.hasFirst {
		n++
	}
	switch {
	case n >= w.opts.EventBuffer:
		w.qmu.Unlock()
		return false
	case n == 0:
		w.first, w.hasFirst = *ev, true
	default:
		c := new(Event)
		*c = *ev
		w.queue = append(w.queue, c)
	}
	w.qmu.Unlock()
	select {
	case w.ready <- struct{}{}:
	default: // a token is already waiting
	}
	return true
}

// closeEvents closes Ready, or sends a last token on the owner's; events still queued
// remain for Next.
func (w *WebSocket) closeEvents() {
	w.qmu.Lock()
	defer w.qmu.Unlock()
	if w.closed {
		return
	}
	w.closed = true
	if w.opts.Ready == nil {
		close(w.ready)
		return
	}
	select {
	case w.ready <- struct{}{}:
	default: // a token is already waiting
	}
}

// Stats returns the counters.
func (w *WebSocket) Stats() WebSocketStats {
	w.mu.Lock()
	id := w.connID
	w.mu.Unlock()
	return WebSocketStats{Connects: w.connects.Load(), Resumed: w.resumed.Load(), Fresh: w.fresh.Load(),
		Gaps: w.gaps.Load(), Events: w.events.Load(), Dropped: w.dropped.Load(), Failures: w.failures.Load(), LastConnID: id}
}

// Backoff is the rule Run follows between reconnects (the webapp's, see ReconnectDelay).
func (o WebSocketOptions) Backoff() backoff.Policy {
	return backoff.Policy{Initial: o.ReconnectDelay, Max: o.MaxReconnectDelay, Growth: backoff.Quadratic,
		Steady: o.MaxFastRetries, JitterRange: max(0, o.ReconnectJitter)}
}

// Run connects and keeps the connection up, resuming after a drop or a seq gap, until ctx is
// done. It returns ctx's error, or an error that reconnecting cannot fix (401).
func (w *WebSocket) Run(ctx context.Context) error {
	defer w.closeEvents()
	retry := backoff.New(w.opts.Backoff())
	for {
		err := w.session(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if StatusOf(err) == http.StatusUnauthorized {
			return err
		}
		if err == nil { // a session that was up and dropped: resume at once
			retry.Reset()
			continue
		}
		// the dial or handshake failed: back off
		w.failures.Add(1)
		if err := backoff.Sleep(ctx, retry.Next()); err != nil {
			return err
		}
	}
}

// Reconnect drops the current connection; Run reconnects at once and resumes.
func (w *WebSocket) Reconnect() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.kickConn != nil {
		w.kickConn()
	}
}

// session runs one connection: dial (resuming if it can), then read until it ends. It returns
// nil when a connection was made and later ended, or the dial error.
func (w *WebSocket) session(ctx context.Context) error {
	u := *w.c.base
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	u.Path = w.c.base.Path + "/api/v4/websocket"
	w.mu.Lock()
	if w.connID != "" {
		u.RawQuery = "connection_id=" + w.connID + "&sequence_number=" + strconv.FormatInt(w.nextSeq, 10)
	}
	w.mu.Unlock()
	hdr := http.Header{"Authorization": {"Bearer " + w.c.Token()}, "User-Agent": {w.c.ua}}
	// The dial (an HTTP round trip) runs on a goroutine of its own: its deep calls grow that
	// goroutine's stack, which goes back to the runtime when it ends, so this one, which
	// then parks in Read for the connection's life, keeps a 4 KB stack (docs/benchmarks.md).
	var conn *websocket.Conn
	var resp *http.Response
	var err error
	var dial sync.WaitGroup
	dial.Go(func() {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		conn, resp, err = websocket.Dial(dctx, u.String(), &websocket.DialOptions{HTTPClient: w.c.hc, HTTPHeader: hdr})
	})
	dial.Wait()
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusUnauthorized {
			return &Error{Method: "GET", Route: "/websocket", AppError: AppError{StatusCode: 401, Message: "session rejected"}}
		}
		return fmt.Errorf("mattermost: websocket dial: %w", err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)
	// Reads take no context: ctx's end, or a kick, closes the connection and so ends the
	// read. A cancellable context would cost every Read a registration and its parent a map
	// of children for the connection's life (about 0.4 KB per idle user).
	stop := context.AfterFunc(ctx, func() { _ = conn.CloseNow() })
	defer stop()
	w.mu.Lock()
	w.conn, w.helloed, w.kickConn = conn, false, func() { _ = conn.CloseNow() }
	w.mu.Unlock()
	w.connects.Add(1)
	if w.opts.OnConnect != nil {
		w.opts.OnConnect()
	}
	defer func() {
		w.mu.Lock()
		w.conn, w.kickConn = nil, nil
		for seq, ch := range w.pending {
			close(ch) // Send sees the connection ended
			delete(w.pending, seq)
		}
		w.mu.Unlock()
		if w.opts.OnDisconnect != nil {
			w.opts.OnDisconnect()
		}
	}()

	for {
		b, err := readMessage(conn)
		if err != nil {
			return nil
		}
		gap, hit := w.cached(b.Bytes())
		if !hit {
			gap = w.handleAside(b.Bytes())
		}
		putReadBuf(b) // nothing handled keeps b: decoding copies what it keeps
		if gap {
			conn.Close(websocket.StatusNormalClosure, "seq gap")
			return nil
		}
	}
}

// readBufs are the buffers messages are read into while they are handled. coder/websocket's
// own Read reads each message with io.ReadAll, allocating and growing a fresh buffer for
// every message (3 % of an agent's CPU at 5,000 simulative users, docs/benchmarks.md); a
// pool keeps a few buffers for the agent rather than one for each idle connection.
var readBufs = sync.Pool{New: func() any { return bytes.NewBuffer(make([]byte, 0, 4<<10)) }}

// putReadBuf puts a buffer back in readBufs, unless a rare large message grew it past 64 KB.
func putReadBuf(b *bytes.Buffer) {
	if b.Cap() <= 64<<10 {
		readBufs.Put(b)
	}
}

// readMessage waits for the next message and reads it into a buffer from readBufs; the
// caller puts the buffer back. The connection's read limit still bounds the message.
func readMessage(conn *websocket.Conn) (*bytes.Buffer, error) {
	_, r, err := conn.Reader(context.Background())
	if err != nil {
		return nil, err
	}
	b := readBufs.Get().(*bytes.Buffer)
	b.Reset()
	if _, err := b.ReadFrom(r); err != nil {
		putReadBuf(b)
		return nil, err
	}
	return b, nil
}

// handleAside runs decodeMessage on a goroutine of its own and waits for it. Decoding grows a stack
// to 8 KB, and the reader's, parked in Read for the connection's life, would keep that size
// for good (the runtime halves a stack only when under a quarter of it is in use, and the
// parked frames take more). Aside, the reader stays at 4 KB: 4 KB less per idle user, for
// about 2 µs per message (BenchmarkHandle; docs/benchmarks.md). A broadcast another member
// decoded before (cached) is handled where it was read: that takes no deep stack.
func (w *WebSocket) handleAside(b []byte) (gap bool) {
	var wg sync.WaitGroup
	wg.Go(func() { gap = w.decodeMessage(b) })
	wg.Wait()
	return gap
}

// messageFields are the fields of a WebSocket message: an event's, or a reply's.
type messageFields struct {
	Event
	Status   string    `json:"status"`
	SeqReply *int64    `json:"seq_reply"`
	RawSeq   *int64    `json:"seq"`
	Error    *AppError `json:"error"`
}

// cached processes a message the agent's EventCache has decoded for another member
// (hit), and reports a seq gap as handle does; without a hit it does nothing.
func (w *WebSocket) cached(b []byte) (gap, hit bool) {
	if w.opts.Events == nil {
		return false, false
	}
	prefix, seq, ok := split(b)
	if !ok {
		return false, false
	}
	ev, hit := w.opts.Events.get(prefix, seq)
	if !hit {
		return false, false
	}
	return w.sequence(ev), true
}

// handle processes one message; it reports a seq gap, after which the caller reconnects.
func (w *WebSocket) handle(b []byte) (gap bool) {
	if gap, hit := w.cached(b); hit {
		return gap
	}
	return w.decodeMessage(b)
}

// decodeMessage processes a message the EventCache does not have: it decodes it, and keeps a
// broadcast in the cache for the other members.
func (w *WebSocket) decodeMessage(b []byte) (gap bool) {
	var prefix []byte
	var seq int64
	if w.opts.Events != nil {
		prefix, seq, _ = split(b)
	}
	var m messageFields
	// One pass decodes an event and the fields of its data users read. Data that is not an
	// object is read again without its data: the event goes on without it.
	if err := decode(b, &m); err != nil {
		m = messageFields{}
		var noData struct {
			messageFields
			Data json.RawMessage `json:"data"`
		}
		if json.Unmarshal(b, &noData) != nil {
			return false // not ours to judge; the server sent something we cannot read
		}
		m = noData.messageFields
	}
	if m.Event.Event == "" && m.SeqReply != nil {
		w.mu.Lock()
		ch := w.pending[*m.SeqReply]
		delete(w.pending, *m.SeqReply)
		w.mu.Unlock()
		if ch != nil {
			var raw struct { // a reply's data goes to its caller as it came: read it again
				Data json.RawMessage `json:"data"`
			}
			_ = json.Unmarshal(b, &raw)
			ch <- Reply{Status: m.Status, SeqReply: *m.SeqReply, Data: raw.Data, Error: m.Error}
		}
		return false
	}
	if m.RawSeq == nil {
		return false
	}
	ev := m.Event
	if ev.Data.Post != "" {
		ev.Data.post = &sharedPost{}
	}
	ev.Seq = *m.RawSeq                                                                           // the outer "seq" field wins over Event's
	if prefix != nil && ev.Seq == seq && m.Status == "" && m.Error == nil && m.SeqReply == nil { // the last field was the seq
		w.opts.Events.put(prefix, ev)
	}
	return w.sequence(ev)
}

// sequence checks an event's seq (a hello starts or resumes the count), then hands it to
// the owner; it reports a gap.
func (w *WebSocket) sequence(ev Event) (gap bool) {
	w.mu.Lock()
	if ev.Event == "hello" {
		id := ev.Data.ConnectionID
		switch {
		case w.connID == "":
		case id == w.connID:
			w.resumed.Add(1)
		default:
			w.fresh.Add(1) // a new connection: whatever was missed is gone
		}
		if id != w.connID {
			w.nextSeq = ev.Seq
		}
		w.connID, w.helloed = id, true
	}
	if ev.Seq != w.nextSeq {
		w.mu.Unlock()
		w.gaps.Add(1)
		return true
	}
	w.nextSeq++
	w.mu.Unlock()
	if w.deliver(&ev) {
		w.events.Add(1)
	} else {
		w.dropped.Add(1)
		if w.opts.OnDrop != nil {
			w.opts.OnDrop(ev)
		}
	}
	return false
}

// Send sends a client action and waits for its reply.
func (w *WebSocket) Send(ctx context.Context, action string, data any) (Reply, error) {
	w.mu.Lock()
	conn := w.conn
	if conn == nil {
		w.mu.Unlock()
		return Reply{}, ErrNotConnected
	}
	w.lastSeq++
	seq := w.lastSeq
	ch := make(chan Reply, 1)
	w.pending[seq] = ch
	w.mu.Unlock()
	b, err := json.Marshal(map[string]any{"seq": seq, "action": action, "data": data})
	if err == nil {
		err = conn.Write(ctx, websocket.MessageText, b)
	}
	if err != nil {
		w.mu.Lock()
		delete(w.pending, seq)
		w.mu.Unlock()
		return Reply{}, fmt.Errorf("mattermost: websocket %s: %w", action, err)
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return Reply{}, fmt.Errorf("mattermost: websocket %s: %w", action, ErrNotConnected)
		}
		if r.Status != "OK" {
			if r.Error != nil { // typed, as a REST call's: StatusOf and ServerFault read it
				return r, &Error{Method: "websocket", Route: action, AppError: *r.Error}
			}
			return r, fmt.Errorf("mattermost: websocket %s: FAIL", action)
		}
		return r, nil
	case <-ctx.Done():
		w.mu.Lock()
		delete(w.pending, seq)
		w.mu.Unlock()
		return Reply{}, ctx.Err()
	}
}

// UserTyping tells the channel's members the caller is typing (in a thread, with parentID).
func (w *WebSocket) UserTyping(ctx context.Context, channelID, parentID string) error {
	_, err := w.Send(ctx, "user_typing", map[string]string{"channel_id": channelID, "parent_id": parentID})
	return err
}

// Presence tells the server which channel the user is looking at.
func (w *WebSocket) Presence(ctx context.Context, channelID string) error {
	_, err := w.Send(ctx, "presence", map[string]string{"channel_id": channelID})
	return err
}

// PingReply is the server's answer to the ping action.
type PingReply struct {
	Text       string `json:"text"` // "pong"
	Version    string `json:"version"`
	ServerTime int64  `json:"server_time"` // ms since the epoch
	NodeID     string `json:"node_id"`
}

// Ping sends the ping action, as the webapp does to check its connection.
func (w *WebSocket) Ping(ctx context.Context) (PingReply, error) {
	var out PingReply
	return out, w.call(ctx, "ping", nil, &out)
}

// GetStatuses returns every user's status (online, away, dnd, offline) by id.
func (w *WebSocket) GetStatuses(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	return out, w.call(ctx, "get_statuses", nil, &out)
}

// GetStatusesByIDs returns the statuses of the users with these ids, by id.
func (w *WebSocket) GetStatusesByIDs(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	return out, w.call(ctx, "get_statuses_by_ids", map[string]any{"user_ids": ids}, &out)
}

// UpdateActiveStatus tells the server whether the user is active (online) or idle (away);
// manual says the user chose it.
func (w *WebSocket) UpdateActiveStatus(ctx context.Context, active, manual bool) error {
	return w.call(ctx, "user_update_active_status", map[string]bool{"user_is_active": active, "manual": manual}, nil)
}

// PostedNotifyAck acknowledges a posted event's notification, as the mobile and desktop
// apps do (result: "successful", "not_sent", "error"; reason: why not).
func (w *WebSocket) PostedNotifyAck(ctx context.Context, postID, result, reason string) error {
	return w.call(ctx, "posted_notify_ack", map[string]string{"post_id": postID, "result": result, "reason": reason}, nil)
}

// call sends an action and decodes its reply's data into out (if not nil).
func (w *WebSocket) call(ctx context.Context, action string, data, out any) error {
	r, err := w.Send(ctx, action, data)
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(r.Data, out); err != nil {
		return fmt.Errorf("mattermost: websocket %s: decode the reply's data: %w", action, err)
	}
	return nil
}

// Connected reports whether a connection is open and has said hello.
func (w *WebSocket) Connected() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.conn != nil && w.helloed
}
