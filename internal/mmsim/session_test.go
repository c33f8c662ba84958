package mmsim

import (
	"encoding/json"
	"fmt"
	"testing"
)

// fixture is two users in one team, alice and bob, with the team's town-square channel.
type fixture struct {
	alice, bob *client
	team       Team
	town       Channel
}

func newFixture(t *testing.T, base string) fixture {
	t.Helper()
	f := fixture{alice: signup(t, base, "alice"), bob: signup(t, base, "bob")}
	f.alice.must("POST", "/api/v4/teams", map[string]string{"name": "team1", "display_name": "Team 1", "type": "O"}, 201, &f.team)
	var teams []Team
	f.bob.must("GET", "/api/v4/teams?page=0&per_page=100", nil, 200, &teams)
	if len(teams) != 1 || teams[0].ID != f.team.ID {
		t.Fatalf("GET /teams = %+v; want the one team %s", teams, f.team.ID)
	}
	f.bob.must("POST", "/api/v4/teams/"+f.team.ID+"/members", map[string]string{"team_id": f.team.ID, "user_id": f.bob.user.ID}, 201, nil)
	var chans []Channel
	f.bob.must("GET", "/api/v4/users/me/teams/"+f.team.ID+"/channels?include_deleted=true", nil, 200, &chans)
	names := map[string]Channel{}
	for _, c := range chans {
		names[c.Name] = c
	}
	if _, ok := names["off-topic"]; !ok || len(chans) != 2 {
		t.Fatalf("bob's channels = %v; want town-square and off-topic", chans)
	}
	f.town = names["town-square"]
	return f
}

// TestScriptedSession is the session the README documents: sign up, log in, join a team,
// list channels, post, react, and receive each event on a WebSocket with gap-free seq.
func TestScriptedSession(t *testing.T) {
	_, base := newTestServer(t, nil, nil)
	f := newFixture(t, base)

	bobWS := f.bob.ws("")
	hello := bobWS.next()
	if hello.Event != "hello" || *hello.Seq != 0 || hello.Data["connection_id"] == "" {
		t.Fatalf("first event = %+v; want hello with seq 0 and a connection_id", hello)
	}
	aliceWS := f.alice.ws("")
	aliceSeq := int64(0)
	aliceWS.waitFor("hello", &aliceSeq)
	bobSeq := int64(1)
	if ev := bobWS.waitFor("status_change", &bobSeq); ev.Data["status"] != "online" {
		t.Fatalf("status_change = %v; want online", ev.Data)
	}

	// alice posts; both receive "posted" with the post as a JSON string.
	var post Post
	f.alice.must("POST", "/api/v4/posts", map[string]string{"channel_id": f.town.ID, "message": "hello @bob"}, 201, &post)
	ev := bobWS.waitFor("posted", &bobSeq)
	var got Post
	if err := json.Unmarshal([]byte(ev.Data["post"].(string)), &got); err != nil || got.ID != post.ID || got.Message != "hello @bob" {
		t.Fatalf("posted event post = %v (%v); want post %s", ev.Data["post"], err, post.ID)
	}
	if ev.Broadcast["channel_id"] != f.town.ID {
		t.Errorf("posted broadcast = %v; want channel %s", ev.Broadcast, f.town.ID)
	}
	aliceWS.waitFor("posted", &aliceSeq)

	// The mention shows as unread for bob until he views the channel.
	var unread map[string]any
	f.bob.must("GET", "/api/v4/users/me/channels/"+f.town.ID+"/unread", nil, 200, &unread)
	if unread["mention_count"] != 1.0 || unread["msg_count"] != 1.0 {
		t.Errorf("bob's unread = %v; want 1 message, 1 mention", unread)
	}
	f.bob.must("POST", "/api/v4/channels/members/me/view", map[string]string{"channel_id": f.town.ID}, 200, nil)
	bobWS.waitFor("channel_viewed", &bobSeq)
	f.bob.must("GET", "/api/v4/users/me/channels/"+f.town.ID+"/unread", nil, 200, &unread)
	if unread["mention_count"] != 0.0 || unread["msg_count"] != 0.0 {
		t.Errorf("bob's unread after view = %v; want 0, 0", unread)
	}

	// bob reacts and replies; alice sees both.
	f.bob.must("POST", "/api/v4/reactions", map[string]string{"user_id": f.bob.user.ID, "post_id": post.ID, "emoji_name": "smile"}, 200, nil)
	ev = aliceWS.waitFor("reaction_added", &aliceSeq)
	if r := ev.Data["reaction"].(string); !json.Valid([]byte(r)) {
		t.Fatalf("reaction_added data = %v", ev.Data)
	}
	var reply Post
	f.bob.must("POST", "/api/v4/posts", map[string]string{"channel_id": f.town.ID, "root_id": post.ID, "message": "hi"}, 201, &reply)
	aliceWS.waitFor("posted", &aliceSeq)
	var thread PostList
	f.alice.must("GET", "/api/v4/posts/"+post.ID+"/thread", nil, 200, &thread)
	if len(thread.Order) != 2 || thread.Posts[post.ID].ReplyCount != 1 || len(thread.Posts[post.ID].Metadata.Reactions) != 1 {
		t.Errorf("thread = %+v; want root with 1 reply and 1 reaction", thread)
	}

	// Typing goes to the other members, not back to the typist, who gets an OK reply.
	bobWS.send(1, "user_typing", map[string]string{"channel_id": f.town.ID})
	if rep := bobWS.waitReply(1, &bobSeq); rep.Status != "OK" {
		t.Fatalf("reply to user_typing = %+v; want OK for seq 1", rep)
	}
	if ev := aliceWS.waitFor("typing", &aliceSeq); ev.Data["user_id"] != f.bob.user.ID {
		t.Errorf("typing data = %v; want user_id bob", ev.Data)
	}

	// Edits, deletes and un-reactions reach the channel.
	f.alice.must("PUT", "/api/v4/posts/"+post.ID+"/patch", map[string]string{"message": "edited"}, 200, nil)
	bobWS.waitFor("post_edited", &bobSeq)
	f.bob.must("DELETE", "/api/v4/users/me/posts/"+post.ID+"/reactions/smile", nil, 200, nil)
	bobWS.waitFor("reaction_removed", &bobSeq)
	f.bob.must("DELETE", "/api/v4/posts/"+reply.ID, nil, 200, nil)
	if ev := aliceWS.waitFor("post_deleted", &aliceSeq); ev.Broadcast["channel_id"] != f.town.ID {
		t.Errorf("post_deleted broadcast = %v", ev.Broadcast)
	}
}

// TestWebSocket_Resume checks that a reconnect with connection_id and sequence_number
// replays what was missed, and that one the server cannot resume starts afresh.
func TestWebSocket_Resume(t *testing.T) {
	_, base := newTestServer(t, nil, nil)
	f := newFixture(t, base)
	ws := f.bob.ws("")
	hello := ws.next()
	connID := hello.Data["connection_id"].(string)
	seq := int64(1)
	ws.waitFor("status_change", &seq)
	ws.c.CloseNow()

	// Three posts while bob is away.
	for i := range 3 {
		f.alice.must("POST", "/api/v4/posts", map[string]string{"channel_id": f.town.ID, "message": fmt.Sprint("missed ", i)}, 201, nil)
	}
	ws = f.bob.ws(fmt.Sprintf("?connection_id=%s&sequence_number=%d", connID, seq))
	for i := range 3 {
		ev := ws.next()
		if ev.Event != "posted" || *ev.Seq != seq {
			t.Fatalf("replayed event %d = %s seq %d; want posted seq %d", i, ev.Event, *ev.Seq, seq)
		}
		seq++
	}
	if ev := ws.next(); ev.Event != "hello" || ev.Data["connection_id"] != connID || *ev.Seq != seq {
		t.Fatalf("after replay got %s %v seq %d; want hello for %s seq %d", ev.Event, ev.Data, *ev.Seq, connID, seq)
	}
	seq++
	// And the stream goes on without a gap.
	f.alice.must("POST", "/api/v4/posts", map[string]string{"channel_id": f.town.ID, "message": "live"}, 201, nil)
	ws.waitFor("posted", &seq)

	// A sequence number in the future, or an unknown connection, gets a fresh connection.
	for _, q := range []string{
		fmt.Sprintf("?connection_id=%s&sequence_number=%d", connID, seq+100),
		"?connection_id=unknownconnectionid0000000&sequence_number=0",
	} {
		ws2 := f.bob.ws(q)
		ev := ws2.next()
		if ev.Event != "hello" || *ev.Seq != 0 || ev.Data["connection_id"] == connID {
			t.Errorf("connect %s: first event %s seq %d conn %v; want a fresh hello", q, ev.Event, *ev.Seq, ev.Data["connection_id"])
		}
	}
}

// TestWebSocket_ReplayWindow checks that a client that missed more than the replay buffer
// holds is not resumed with a gap but given a fresh connection.
func TestWebSocket_ReplayWindow(t *testing.T) {
	_, base := newTestServer(t, func(c *Config) { c.WebSocket.ReplayBufferSize = 4 }, nil)
	f := newFixture(t, base)
	ws := f.bob.ws("")
	connID := ws.next().Data["connection_id"].(string)
	seq := int64(1)
	ws.waitFor("status_change", &seq)
	ws.c.CloseNow()
	for range 6 {
		f.alice.must("POST", "/api/v4/posts", map[string]string{"channel_id": f.town.ID, "message": "x"}, 201, nil)
	}
	ws = f.bob.ws(fmt.Sprintf("?connection_id=%s&sequence_number=%d", connID, seq))
	if ev := ws.next(); ev.Event != "hello" || *ev.Seq != 0 || ev.Data["connection_id"] == connID {
		t.Fatalf("first event %s seq %d; want a fresh hello with a new connection id", ev.Event, *ev.Seq)
	}
}

// TestWebSocket_Challenge authenticates after connecting, as the documented challenge does.
func TestWebSocket_Challenge(t *testing.T) {
	_, base := newTestServer(t, nil, nil)
	c := signup(t, base, "carol")
	anon := newClient(t, base)
	ws := anon.ws("")
	ws.send(1, "authentication_challenge", map[string]string{"token": c.token})
	if rep := ws.next(); rep.Status != "OK" || rep.SeqReply != 1 {
		t.Fatalf("challenge reply = %+v; want OK seq_reply 1", rep)
	}
	if ev := ws.next(); ev.Event != "hello" || ev.Broadcast["user_id"] != c.user.ID {
		t.Fatalf("after challenge got %+v; want hello for %s", ev, c.user.ID)
	}
	// An unknown action gets a FAIL reply, and the connection lives on.
	ws.send(2, "no_such_action", nil)
	seq := int64(1)
	if rep := ws.waitReply(2, &seq); rep.Status != "FAIL" || len(rep.Error) == 0 {
		t.Fatalf("reply to unknown action = %+v; want FAIL with an error", rep)
	}

	bad := newClient(t, base).ws("")
	bad.send(1, "authentication_challenge", map[string]string{"token": "wrong"})
	if rep := bad.next(); rep.Status != "FAIL" {
		t.Fatalf("bad challenge reply = %+v; want FAIL", rep)
	}
}
