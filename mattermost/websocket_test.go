package mattermost_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/loadtest/loadtest/internal/testtools"
	"github.com/loadtest/loadtest/mattermost"
)

// loggedIn returns a client logged in as a new user of the server at base, in team, in
// town-square, with the town-square channel id.
func loggedIn(t *testing.T, base, name, teamID string) *mattermost.Client {
	t.Helper()
	ctx := context.Background()
	c, err := mattermost.New(base, mattermost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	must[mattermost.User](t, "CreateUser")(c.CreateUser(ctx, name, name+"@example.com", "testPass123$"))
	must[mattermost.User](t, "Login")(c.Login(ctx, name, "testPass123$"))
	if teamID != "" {
		must[mattermost.TeamMember](t, "AddTeamMember")(c.AddTeamMember(ctx, teamID, c.UserID()))
	}
	return c
}

func nextEvent(t *testing.T, ws *mattermost.WebSocket, name string) *mattermost.Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ev, closed := take(ws, time.Until(deadline))
		switch {
		case closed:
			t.Fatalf("events closed while waiting for %s", name)
		case ev == nil:
			t.Fatalf("no %s event within 5s", name)
		case ev.Event == name:
			return ev
		}
	}
}

// take returns the next event within d (nil if none came); closed says Run has returned and
// no event is left.
func take(ws *mattermost.WebSocket, d time.Duration) (ev *mattermost.Event, closed bool) {
	timeout := time.After(d)
	for {
		if ev := ws.Next(); ev != nil {
			return ev, false
		}
		select {
		case _, ok := <-ws.Ready():
			if !ok {
				if ev := ws.Next(); ev != nil {
					return ev, false
				}
				return nil, true
			}
		case <-timeout:
			return nil, false
		}
	}
}

// twoUsers logs alice in on mmsim at base, who makes team1, and bob, in it, with bob's WebSocket
// running under ctx and bob's channels. done stops the WebSocket and waits for it.
func twoUsers(t *testing.T, base string, o mattermost.WebSocketOptions) (ctx context.Context, alice, bob *mattermost.Client, chans []mattermost.Channel, ws *mattermost.WebSocket, done func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	alice = loggedIn(t, base, "alice", "")
	team := must[mattermost.Team](t, "CreateTeam")(alice.CreateTeam(ctx, "team1", "T", "O"))
	bob = loggedIn(t, base, "bob", team.ID)
	chans = must[[]mattermost.Channel](t, "channels")(bob.GetChannelsForTeamForUser(ctx, team.ID, false))
	ws = bob.NewWebSocket(o)
	var wg sync.WaitGroup
	wg.Go(func() { _ = ws.Run(ctx) })
	return ctx, alice, bob, chans, ws, func() {
		cancel()
		wg.Wait()
		alice.CloseIdleConnections()
		bob.CloseIdleConnections()
	}
}

// TestWebSocket_EventsActionsResume runs the client's WebSocket against mmsim: hello,
// events from another user, a typing action and its reply, and a reconnect that resumes and
// replays what was posted while it was away.
func TestWebSocket_EventsActionsResume(t *testing.T) {
	base := startServer(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx, alice, _, chans, ws, done := twoUsers(t, base, mattermost.WebSocketOptions{ReconnectDelay: 10 * time.Millisecond})
	defer done()
	town := chans[len(chans)-1]
	if town.Name != "town-square" {
		town = chans[0]
	}
	hello := nextEvent(t, ws, "hello")
	connID := hello.Data.ConnectionID
	if len(connID) != 26 {
		t.Fatalf("hello data %v; want a 26-character connection_id", hello.Data)
	}
	must[mattermost.Post](t, "post")(alice.CreatePost(ctx, mattermost.NewPost{ChannelID: town.ID, Message: "one"}))
	nextEvent(t, ws, "posted")
	if err := ws.UserTyping(ctx, town.ID, ""); err != nil {
		t.Fatalf("UserTyping: %v", err)
	}
	if _, err := ws.Send(ctx, "no_such_action", nil); err == nil {
		t.Error("an unknown action succeeded; want the server's FAIL as an error")
	}

	// Drop the connection and post three times. Whether the posts land while it is down (and
	// are replayed) or after it is back, they must arrive in order, with no seq gap, on the
	// same, resumed connection.
	ws.Reconnect()
	for i := range 3 {
		must[mattermost.Post](t, "post")(alice.CreatePost(ctx, mattermost.NewPost{ChannelID: town.ID, Message: fmt.Sprint("missed ", i)}))
	}
	var got []string
	resumedHello := false
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < 3 || !resumedHello {
		ev, _ := take(ws, time.Until(deadline))
		if ev == nil {
			t.Fatalf("after reconnect got posts %q, resumed hello %v; want 3 posts and a hello for %s", got, resumedHello, connID)
		}
		switch ev.Event {
		case "hello":
			resumedHello = ev.Data.ConnectionID == connID
		case "posted":
			var p mattermost.Post
			if err := json.Unmarshal([]byte(ev.Data.Post), &p); err != nil {
				t.Fatal(err)
			}
			got = append(got, p.Message)
		}
	}
	if fmt.Sprint(got) != "[missed 0 missed 1 missed 2]" {
		t.Errorf("posts after reconnect %q; want them in order", got)
	}
	if st := ws.Stats(); st.Resumed != 1 || st.Fresh != 0 || st.Gaps != 0 || st.Connects != 2 {
		t.Errorf("stats %+v; want 2 connections, the second resumed, no gaps", st)
	}
}

// TestWebSocket_OwnersReady: with WebSocketOptions.Ready the WebSocket sends its tokens on
// the owner's channel, which the owner may poke too; when Run returns it sends a last token
// and Closed says so, and the channel stays open (the owner's to reuse).
func TestWebSocket_OwnersReady(t *testing.T) {
	base := startServer(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	wake := make(chan struct{}, 1)
	wake <- struct{}{} // the owner's own token first: the WebSocket's sends must not block on it
	ctx, alice, _, chans, ws, done := twoUsers(t, base, mattermost.WebSocketOptions{Ready: wake})
	if ws.Ready() != wake {
		t.Fatal("Ready is not the owner's channel")
	}
	nextEvent(t, ws, "hello")
	must[mattermost.Post](t, "post")(alice.CreatePost(ctx, mattermost.NewPost{ChannelID: chans[0].ID, Message: "one"}))
	nextEvent(t, ws, "posted")
	if ws.Closed() {
		t.Fatal("Closed while Run runs")
	}
	for len(wake) > 0 { // drop tokens already sent
		<-wake
	}
	done()
	select {
	case _, ok := <-wake:
		if !ok {
			t.Fatal("the owner's channel was closed")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no token on the owner's channel when Run returned")
	}
	if !ws.Closed() {
		t.Error("Closed = false after Run returned")
	}
}

// TestWebSocket_GapReconnects serves a stream with a hole in seq and checks the client
// reconnects asking for the missing event.
func TestWebSocket_GapReconnects(t *testing.T) {
	var mu sync.Mutex
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		queries = append(queries, r.URL.RawQuery)
		n := len(queries)
		mu.Unlock()
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		send := func(ev string, seq int) {
			_ = c.Write(r.Context(), websocket.MessageText, fmt.Appendf(nil, `{"event":%q,"data":{"connection_id":"c1"},"broadcast":{},"seq":%d}`, ev, seq))
		}
		if n == 1 {
			send("hello", 0)
			send("posted", 1)
			send("posted", 3) // seq 2 is missing
		} else {
			send("posted", 2)
			send("posted", 3)
			send("hello", 4)
		}
		_, _, _ = c.Read(r.Context())
	}))
	defer srv.Close()
	c, _ := mattermost.New(srv.URL, mattermost.Options{})
	c.SetSession("tok", "u1")
	ws := c.NewWebSocket(mattermost.WebSocketOptions{ReconnectDelay: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = ws.Run(ctx) })
	var seqs []int64
	for len(seqs) < 5 {
		ev, _ := take(ws, 5*time.Second)
		if ev == nil {
			t.Fatalf("got seqs %v; want 0..4", seqs)
		}
		seqs = append(seqs, ev.Seq)
	}
	cancel()
	wg.Wait()
	if fmt.Sprint(seqs) != "[0 1 2 3 4]" {
		t.Errorf("delivered seqs %v; want [0 1 2 3 4], with the gap filled", seqs)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(queries) < 2 || queries[1] != "connection_id=c1&sequence_number=2" {
		t.Errorf("reconnect queries %q; want the second to resume c1 at 2", queries)
	}
	if st := ws.Stats(); st.Gaps != 1 {
		t.Errorf("stats %+v; want 1 gap", st)
	}
}

// TestWebSocket_Decoding serves what the one-pass decoder must still read: an event whose
// data is not an object (delivered without data, its seq counted), an event with nested data,
// a reply whose data goes to its caller as it came, and a message that is not JSON (ignored).
func TestWebSocket_Decoding(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for _, m := range []string{
			`{"event":"hello","data":{"connection_id":"c1"},"broadcast":{},"seq":0}`,
			`{"event":"odd","data":"not an object","broadcast":{"channel_id":"ch1"},"seq":1}`,
			`not json`,
			`{"event":"posted","data":{"post":"{}","n":2,"nested":{"a":[1,2]},"user_id":"u3"},"broadcast":{"omit_users":{"u2":true}},"seq":2}`,
		} {
			_ = c.Write(r.Context(), websocket.MessageText, []byte(m))
		}
		_, b, err := c.Read(r.Context()) // the client's action
		if err != nil {
			return
		}
		var action struct{ Seq int64 }
		_ = json.Unmarshal(b, &action)
		_ = c.Write(r.Context(), websocket.MessageText,
			fmt.Appendf(nil, `{"status":"OK","seq_reply":%d,"data":{"statuses":{"u1":"online"}}}`, action.Seq))
		_, _, _ = c.Read(r.Context())
	}))
	defer srv.Close()
	c, _ := mattermost.New(srv.URL, mattermost.Options{})
	c.SetSession("tok", "u1")
	ws := c.NewWebSocket(mattermost.WebSocketOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = ws.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	var got []string
	for len(got) < 3 {
		ev, _ := take(ws, 5*time.Second)
		if ev == nil {
			t.Fatalf("got %q; want three events", got)
		}
		d := ev.Data
		got = append(got, fmt.Sprintf("%s seq=%d data={%s %s %s %s %s} broadcast=%v/%v", ev.Event, ev.Seq, d.ConnectionID, d.Post, d.UserID, d.ParentID, d.Status, ev.Broadcast.ChannelID, ev.Broadcast.OmitUsers))
	}
	want := []string{
		"hello seq=0 data={c1    } broadcast=/map[]",
		"odd seq=1 data={    } broadcast=ch1/map[]",
		"posted seq=2 data={ {} u3  } broadcast=/map[u2:true]",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	rep, err := ws.Send(ctx, "get_statuses", nil)
	if err != nil || rep.Status != "OK" || string(rep.Data) != `{"statuses":{"u1":"online"}}` {
		t.Errorf("reply %+v (data %s), %v; want OK with the data as sent", rep, rep.Data, err)
	}
	if st := ws.Stats(); st.Gaps != 0 || st.Events != 3 {
		t.Errorf("stats %+v; want 3 events and no gap", st)
	}
}

// TestWebSocket_DropsAreCounted fills the event buffer and checks the overflow is counted.
func TestWebSocket_DropsAreCounted(t *testing.T) {
	base := startServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	alice := loggedIn(t, base, "alice", "")
	team := must[mattermost.Team](t, "CreateTeam")(alice.CreateTeam(ctx, "team1", "T", "O"))
	chans := must[[]mattermost.Channel](t, "channels")(alice.GetChannelsForTeamForUser(ctx, team.ID, false))
	var dropped sync.WaitGroup
	dropped.Add(3)
	ws := alice.NewWebSocket(mattermost.WebSocketOptions{EventBuffer: 2, OnDrop: func(mattermost.Event) { dropped.Done() }})
	var wg sync.WaitGroup
	wg.Go(func() { _ = ws.Run(ctx) })
	testtools.Eventually(t, 10*time.Second, "the WebSocket to connect", ws.Connected)
	// hello and status_change fill the buffer; three posts overflow it.
	for range 3 {
		must[mattermost.Post](t, "post")(alice.CreatePost(ctx, mattermost.NewPost{ChannelID: chans[0].ID, Message: "x"}))
	}
	dropped.Wait()
	if st := ws.Stats(); st.Dropped != 3 || st.Events != 2 {
		t.Errorf("stats %+v; want 2 delivered and 3 dropped", st)
	}
	cancel()
	wg.Wait()
}

func TestWebSocketOptions_Backoff(t *testing.T) {
	o := mattermost.WebSocketOptions{ReconnectDelay: 3 * time.Second, MaxFastRetries: 7, MaxReconnectDelay: 5 * time.Minute,
		ReconnectJitter: 2 * time.Second}
	for _, tc := range []struct {
		failures int
		r        float64
		want     time.Duration
	}{{1, 0, 3 * time.Second}, {7, 0, 3 * time.Second}, {8, 0, 192 * time.Second}, {9, 0, 243 * time.Second},
		{10, 0, 5 * time.Minute}, {100, 0, 5 * time.Minute}, {1, 0.5, 4 * time.Second}, {100, 0.75, 5*time.Minute + 1500*time.Millisecond}} {
		if got := o.Backoff().Delay(tc.failures, tc.r); got != tc.want {
			t.Errorf("Backoff().Delay(%d, %v) = %v; want %v", tc.failures, tc.r, got, tc.want)
		}
	}
}

// TestWebSocket_Actions drives every client action the official clients send through our
// client against mmsim, with the real server's reply and error shapes: ping's pong, the
// statuses, active status (seen by another user's statuses), typing, acks, and the
// invalid-parameter, bad-sequence and unknown-action errors.
func TestWebSocket_Actions(t *testing.T) {
	base := startServer(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx, alice, bob, chans, ws, done := twoUsers(t, base, mattermost.WebSocketOptions{})
	defer done()
	nextEvent(t, ws, "hello")

	before := time.Now().UnixMilli()
	pong, err := ws.Ping(ctx)
	if err != nil || pong.Text != "pong" || pong.Version == "" || pong.ServerTime < before || pong.ServerTime > time.Now().UnixMilli() {
		t.Errorf("Ping = %+v, %v; want pong with the version and the server's time", pong, err)
	}
	all, err := ws.GetStatuses(ctx)
	if err != nil || all[bob.UserID()] != "online" || len(all) < 2 {
		t.Errorf("GetStatuses = %v, %v; want every user, bob online (his WebSocket is open)", all, err)
	}
	if err := ws.UpdateActiveStatus(ctx, false, false); err != nil {
		t.Errorf("UpdateActiveStatus(idle): %v", err)
	}
	if st, err := ws.GetStatusesByIDs(ctx, []string{bob.UserID(), alice.UserID()}); err != nil || st[bob.UserID()] != "away" || len(st) != 2 {
		t.Errorf("after going idle: statuses %v, %v; want bob away", st, err)
	}
	if err := ws.UpdateActiveStatus(ctx, true, false); err != nil {
		t.Errorf("UpdateActiveStatus(active): %v", err)
	}
	if st, err := ws.GetStatusesByIDs(ctx, []string{bob.UserID()}); err != nil || st[bob.UserID()] != "online" {
		t.Errorf("after coming back: statuses %v, %v; want bob online", st, err)
	}
	if err := ws.UserTyping(ctx, chans[0].ID, ""); err != nil {
		t.Errorf("UserTyping in his channel: %v", err)
	}
	if err := ws.PostedNotifyAck(ctx, "abcdefghijklmnopqrstuvwxyz", "successful", ""); err != nil {
		t.Errorf("PostedNotifyAck: %v", err)
	}
	for _, tc := range []struct {
		action string
		data   any
		status int
		id     string
		msg    string
	}{
		{"get_statuses_by_ids", map[string]any{"user_ids": []string{}}, 400, "api.websocket_handler.invalid_param.app_error", "Invalid user_ids parameter."},
		{"get_statuses_by_ids", nil, 400, "api.websocket_handler.invalid_param.app_error", "Invalid user_ids parameter."},
		{"user_typing", map[string]any{"channel_id": "nope"}, 400, "api.websocket_handler.invalid_param.app_error", "Invalid channel_id parameter."},
		{"user_typing", map[string]any{"channel_id": "abcdefghijklmnopqrstuvwxyz"}, 400, "api.websocket_handler.invalid_param.app_error", "Invalid channel_id parameter."},
		{"user_update_active_status", map[string]any{"user_is_active": "yes"}, 400, "api.websocket_handler.invalid_param.app_error", "Invalid user_is_active parameter."},
		{"no_such_action", nil, 500, "api.web_socket_router.bad_action.app_error", `unknown action "no_such_action"`},
	} {
		_, err := ws.Send(ctx, tc.action, tc.data)
		var e *mattermost.Error
		if !errors.As(err, &e) || e.StatusCode != tc.status || e.ID != tc.id || e.Message != tc.msg || e.Where == "" {
			t.Errorf("%s %v: %v; want a %d %s saying %q", tc.action, tc.data, err, tc.status, tc.id, tc.msg)
		}
	}
}
