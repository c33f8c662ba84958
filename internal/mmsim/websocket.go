package mmsim

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// The WebSocket protocol, as Mattermost speaks it:
//
//   - A client authenticates with its session token in the Authorization header (or the
//     MMAUTHTOKEN cookie) or, after connecting, with an "authentication_challenge" action.
//   - The server's first event is "hello", whose data carries connection_id. Every event has a
//     seq: 0 for hello on a new connection, then 1, 2, ... with no gaps.
//   - A client that reconnects with ?connection_id=C&sequence_number=N resumes connection C if
//     the server still holds the events from N on (it keeps the last ReplayBufferSize events of
//     a connection for DeadConnectionTTLSec after it closes). The server then sends the missed
//     events with their original seq, followed by a hello with the same connection_id. If it
//     cannot, the client gets a new connection: a hello with a new connection_id and seq 0.
//   - Client actions are {"seq": n, "action": a, "data": {...}}; the server answers each with
//     {"status": "OK"|"FAIL", "seq_reply": n, ...}. Replies carry no seq of their own.

// event is a server-to-client WebSocket event before it is numbered.
type event struct {
	name      string
	data      map[string]any
	userID    string // broadcast.user_id: set when the event is for one user
	channelID string // broadcast.channel_id
	teamID    string // broadcast.team_id
	omit      string // broadcast.omit_users: a user the event is not sent to
}

// prefix encodes the event up to its seq: `{"event":...,"seq":`.
func (e event) prefix() []byte {
	var omit map[string]bool
	if e.omit != "" {
		omit = map[string]bool{e.omit: true}
	}
	b, _ := json.Marshal(struct {
		Event     string         `json:"event"`
		Data      map[string]any `json:"data"`
		Broadcast map[string]any `json:"broadcast"`
	}{e.name, e.data, map[string]any{"omit_users": omit, "user_id": e.userID, "channel_id": e.channelID, "team_id": e.teamID}})
	// Replace the closing brace with the seq field's opening.
	return append(b[:len(b)-1], `,"seq":`...)
}

func numbered(prefix []byte, seq int64) []byte {
	out := make([]byte, 0, len(prefix)+12)
	out = append(out, prefix...)
	out = strconv.AppendInt(out, seq, 10)
	return append(out, '}')
}

// session is a connection id's state. It outlives the TCP connection so the client can resume.
// All fields are guarded by hub.mu.
type session struct {
	id     string
	userID string
	next   int64    // seq of the next event
	ring   [][]byte // the last events sent, oldest first; ring[i] has seq next-len(ring)+i
	out    chan []byte
	kick   chan struct{} // closed to end the live connection
	deadAt time.Time     // when the last connection closed; zero while one is live
}

// hub routes events to the live and resumable sessions of each user.
type hub struct {
	cfg WebSocketConfig
	m   *metrics
	log *slog.Logger

	mu       sync.Mutex
	sessions map[string]*session
	byUser   map[string]map[*session]struct{}
}

func newHub(cfg WebSocketConfig, m *metrics, log *slog.Logger) *hub {
	return &hub{cfg: cfg, m: m, log: log, sessions: map[string]*session{}, byUser: map[string]map[*session]struct{}{}}
}

// send numbers ev for every session of every user in userIDs (but omit) and queues it. A live
// connection whose queue is full is closed; its events stay in the replay ring.
func (h *hub) send(ev event, userIDs []string, omit string) {
	if omit != "" {
		ev.omit = omit
	}
	pre := ev.prefix()
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, uid := range userIDs {
		if uid == omit {
			continue
		}
		for sess := range h.byUser[uid] {
			h.push(sess, numbered(pre, sess.next))
			n++
		}
	}
	if n > 0 {
		h.m.wsEvents.WithLabelValues(ev.name).Add(float64(n))
	}
}

// push appends a numbered frame to the session's ring and queues it. Callers hold mu.
func (h *hub) push(sess *session, frame []byte) {
	sess.next++
	if h.cfg.ReplayBufferSize > 0 {
		if len(sess.ring) == h.cfg.ReplayBufferSize {
			sess.ring = append(sess.ring[:0:0], sess.ring[1:]...)
		}
		sess.ring = append(sess.ring, frame)
	}
	if sess.out == nil {
		return
	}
	select {
	case sess.out <- frame:
	default:
		h.m.wsSlowDropped.Inc()
		h.log.Warn("websocket send queue full; closing the connection", "user_id", sess.userID, "connection_id", sess.id)
		h.detachLocked(sess)
	}
}

// attach binds a new TCP connection of userID to a session: the one named by connID if it can
// be resumed from seq, else a fresh one. It returns the session and its outgoing queue,
// already holding the replayed events and the hello.
func (h *hub) attach(userID, connID string, seq int64, hasSeq bool, version string) (*session, chan []byte, chan struct{}, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	sess, resumed := h.sessions[connID], false
	if sess != nil && sess.userID == userID && hasSeq && seq <= sess.next && seq >= sess.next-int64(len(sess.ring)) {
		resumed = true
		if sess.out != nil {
			close(sess.kick) // a newer connection takes the session over
		}
	} else {
		sess = &session{id: newID(), userID: userID}
		h.sessions[sess.id] = sess
		if h.byUser[userID] == nil {
			h.byUser[userID] = map[*session]struct{}{}
		}
		h.byUser[userID][sess] = struct{}{}
	}
	size := max(h.cfg.SendQueueSize, len(sess.ring)+2)
	sess.out, sess.kick, sess.deadAt = make(chan []byte, size), make(chan struct{}), time.Time{}
	if resumed {
		first := sess.next - int64(len(sess.ring))
		for _, f := range sess.ring[seq-first:] {
			sess.out <- f
		}
	}
	hello := event{name: "hello", userID: userID, data: map[string]any{
		"server_version": version, "connection_id": sess.id, "server_hostname": "mmsim"}}
	h.push(sess, numbered(hello.prefix(), sess.next))
	h.m.wsEvents.WithLabelValues("hello").Inc()
	return sess, sess.out, sess.kick, resumed
}

// detach marks the session's connection closed if out is still its queue.
func (h *hub) detach(sess *session, out chan []byte) (lastOfUser bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if sess.out == out {
		h.detachLocked(sess)
	}
	for s := range h.byUser[sess.userID] {
		if s.out != nil {
			return false
		}
	}
	return true
}

func (h *hub) detachLocked(sess *session) {
	close(sess.kick)
	sess.out, sess.deadAt = nil, time.Now()
	if h.cfg.DeadConnectionTTLSec == 0 {
		h.forgetLocked(sess)
	}
}

func (h *hub) forgetLocked(sess *session) {
	delete(h.sessions, sess.id)
	delete(h.byUser[sess.userID], sess)
	if len(h.byUser[sess.userID]) == 0 {
		delete(h.byUser, sess.userID)
	}
}

// janitor forgets sessions that have been closed longer than DeadConnectionTTLSec.
func (h *hub) janitor(ctx context.Context) {
	ttl := time.Duration(h.cfg.DeadConnectionTTLSec) * time.Second
	t := time.NewTicker(max(time.Second, ttl/4))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			h.mu.Lock()
			for _, sess := range h.sessions {
				if sess.out == nil && now.Sub(sess.deadAt) > ttl {
					h.forgetLocked(sess)
				}
			}
			h.mu.Unlock()
		}
	}
}

// wsRequest is a client action.
type wsRequest struct {
	Seq    int64           `json:"seq"`
	Action string          `json:"action"`
	Data   json.RawMessage `json:"data"`
}

type wsReply struct {
	Status   string    `json:"status"`
	SeqReply int64     `json:"seq_reply"`
	Data     any       `json:"data,omitempty"`
	Error    *AppError `json:"error,omitempty"`
}

const (
	wsReadLimit     = 64 << 10
	wsAuthTimeout   = 10 * time.Second
	wsWriteTimeout  = 10 * time.Second
	wsPingInterval  = 30 * time.Second
	wsChallengeName = "authentication_challenge"
)

// serveWebSocket upgrades GET /api/v4/websocket and runs the connection until either side
// closes it or the server stops. It owns the connection's writer goroutine and waits for it.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	uid, authed := s.authenticate(r)
	if !authed && tokenOf(r) != "" {
		w.Header().Set("X-Request-Id", newID())
		writeError(w, r, &apiError{status: http.StatusUnauthorized, id: "api.web_socket.connect.upgrade.app_error",
			msg: "invalid or expired session token"})
		return
	}
	q := r.URL.Query()
	connID := q.Get("connection_id")
	seq, seqErr := strconv.ParseInt(q.Get("sequence_number"), 10, 64)
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept has written the HTTP error
	}
	defer c.CloseNow()
	c.SetReadLimit(wsReadLimit)

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.baseCtx(), cancel) // server shutdown ends the connection
	defer stop()

	if !authed {
		if uid, err = s.challenge(ctx, c); err != nil {
			c.Close(websocket.StatusPolicyViolation, err.Error())
			return
		}
	}
	sess, out, kick, resumed := s.hub.attach(uid, connID, seq, connID != "" && seqErr == nil, s.versionID())
	origin := originOf(r)
	s.m.websockets.WithLabelValues(origin).Inc()
	defer s.m.websockets.WithLabelValues(origin).Dec()
	s.log.Debug("websocket connected", "user_id", uid, "connection_id", sess.id, "resumed", resumed)
	if st, changed, err := s.st.setStatus(uid, "online", false); err == nil && changed {
		s.broadcastStatus(st)
	}

	var wg sync.WaitGroup
	wg.Go(func() {
		defer cancel()
		s.writeLoop(ctx, c, out, kick)
	})
	s.readLoop(ctx, c, uid)
	cancel()
	wg.Wait()
	if last := s.hub.detach(sess, out); last {
		// No connection of the user is left to tell, so the change is not broadcast (and not
		// queued for replay: a resuming client should not hear it was offline).
		_, _, _ = s.st.setStatus(uid, "offline", false) // the user exists: it has a session
	}
	c.Close(websocket.StatusNormalClosure, "")
}

func originOf(r *http.Request) string {
	ua := r.Header.Get("User-Agent")
	switch {
	case strings.Contains(ua, "Mobile"):
		return "mobile"
	case strings.Contains(ua, "Electron"):
		return "desktop"
	}
	return "web"
}

// challenge waits for an authentication_challenge action and checks its token.
func (s *Server) challenge(ctx context.Context, c *websocket.Conn) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, wsAuthTimeout)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		return "", errors.New("no authentication_challenge received")
	}
	var req wsRequest
	var data struct {
		Token string `json:"token"`
	}
	if json.Unmarshal(b, &req) != nil || req.Action != wsChallengeName || json.Unmarshal(req.Data, &data) != nil {
		return "", errors.New("the first message must be an authentication_challenge")
	}
	uid, ok := s.st.session(data.Token)
	if !ok {
		s.reply(ctx, c, wsReply{Status: "FAIL", SeqReply: req.Seq, Error: &AppError{
			ID: "api.web_socket_router.not_authenticated.app_error", Message: "invalid or expired session token", StatusCode: 401}})
		return "", errors.New("invalid session token")
	}
	s.reply(ctx, c, wsReply{Status: "OK", SeqReply: req.Seq})
	return uid, nil
}

func (s *Server) writeLoop(ctx context.Context, c *websocket.Conn, out <-chan []byte, kick <-chan struct{}) {
	ping := time.NewTicker(wsPingInterval)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
			return
		case f := <-out:
			wctx, done := context.WithTimeout(ctx, wsWriteTimeout)
			err := c.Write(wctx, websocket.MessageText, f)
			done()
			if err != nil {
				return
			}
		case <-ping.C:
			pctx, done := context.WithTimeout(ctx, wsWriteTimeout)
			err := c.Ping(pctx)
			done()
			if err != nil {
				return
			}
		}
	}
}

func (s *Server) reply(ctx context.Context, c *websocket.Conn, rep wsReply) {
	b, _ := json.Marshal(rep) // plain types always marshal
	wctx, done := context.WithTimeout(ctx, wsWriteTimeout)
	defer done()
	_ = c.Write(wctx, websocket.MessageText, b) // a failed write ends the read loop too
}

// readLoop answers client actions until the connection ends.
func (s *Server) readLoop(ctx context.Context, c *websocket.Conn, uid string) {
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return
		}
		var req wsRequest
		if err := json.Unmarshal(b, &req); err != nil {
			s.reply(ctx, c, wsReply{Status: "FAIL", SeqReply: req.Seq, Error: &AppError{Where: "ServeWebSocket",
				ID: "api.web_socket_router.bad_message.app_error", Message: "a message must be JSON with seq, action and data", StatusCode: 400}})
			continue
		}
		if req.Action == "" {
			s.reply(ctx, c, wsReply{Status: "FAIL", SeqReply: req.Seq, Error: &AppError{Where: "ServeWebSocket",
				ID: "api.web_socket_router.no_action.app_error", Message: "No websocket action.", StatusCode: 400}})
			continue
		}
		s.reply(ctx, c, s.handleAction(uid, req))
	}
}

// handleAction answers one client action as Mattermost's WebSocket router and its wsapi
// handlers do: a seq of 1 or more is required, an unknown action is a 500
// (api.web_socket_router.bad_action), and a bad parameter a 400 whose id is
// api.websocket_handler.invalid_param and whose message names the parameter.
func (s *Server) handleAction(uid string, req wsRequest) wsReply {
	ok := wsReply{Status: "OK", SeqReply: req.Seq}
	fail := func(status int, id, where, msg string) wsReply {
		return wsReply{Status: "FAIL", SeqReply: req.Seq, Error: &AppError{ID: id, Message: msg, StatusCode: status, Where: where}}
	}
	invalid := func(name string) wsReply { // wsapi's NewInvalidWebSocketParamError
		return fail(http.StatusBadRequest, "api.websocket_handler.invalid_param.app_error", "websocket: "+req.Action,
			"Invalid "+name+" parameter.")
	}
	if req.Seq <= 0 {
		return fail(http.StatusBadRequest, "api.web_socket_router.bad_seq.app_error", "ServeWebSocket",
			"Invalid sequence for WebSocket message: seq must be 1 or more.")
	}
	var data map[string]any
	if len(req.Data) > 0 && string(req.Data) != "null" && json.Unmarshal(req.Data, &data) != nil {
		return fail(http.StatusBadRequest, "api.web_socket_router.bad_message.app_error", "ServeWebSocket", "data must be a JSON object")
	}
	str := func(k string) string { v, _ := data[k].(string); return v }
	switch req.Action {
	case "ping":
		ok.Data = map[string]any{"text": "pong", "version": s.versionID(), "server_time": time.Now().UnixMilli(), "node_id": ""}
		return ok
	case "user_typing":
		ch := str("channel_id")
		if !isID(ch) || !s.st.isChannelMember(ch, uid) { // the server says the same when the user may not post there
			return invalid("channel_id")
		}
		s.hub.send(event{name: "typing", channelID: ch, data: map[string]any{"parent_id": str("parent_id"), "user_id": uid}},
			s.st.channelMemberIDs(ch), uid)
		return ok
	case "user_update_active_status":
		active, isBool := data["user_is_active"].(bool)
		if !isBool {
			return invalid("user_is_active")
		}
		manual, _ := data["manual"].(bool)
		if st, changed := s.st.setActive(uid, active, manual); changed {
			s.broadcastStatus(st)
		}
		return ok
	case "presence":
		for _, k := range []string{"channel_id", "team_id", "thread_channel_id"} {
			if v := str(k); v != "" && !isID(v) {
				return invalid(k)
			}
		}
		return ok
	case "get_statuses":
		out := map[string]string{}
		for _, st := range s.st.allStatuses() {
			out[st.UserID] = st.Status
		}
		ok.Data = out
		return ok
	case "get_statuses_by_ids":
		raw, _ := data["user_ids"].([]any)
		ids := make([]string, 0, len(raw))
		for _, v := range raw {
			if id, _ := v.(string); id != "" {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			return invalid("user_ids")
		}
		out := map[string]string{}
		for _, st := range s.st.statusesByIDs(ids) {
			out[st.UserID] = st.Status
		}
		ok.Data = out
		return ok
	case "posted_notify_ack", wsChallengeName:
		return ok
	}
	return fail(http.StatusInternalServerError, "api.web_socket_router.bad_action.app_error", "ServeWebSocket",
		"unknown action "+strconv.Quote(req.Action))
}

// broadcastStatus tells a user's own connections about a change of their status, as
// Mattermost does; other users poll statuses with POST /users/status/ids.
func (s *Server) broadcastStatus(st Status) {
	s.hub.send(event{name: "status_change", userID: st.UserID, data: map[string]any{"status": st.Status, "user_id": st.UserID}},
		[]string{st.UserID}, "")
}
