package mmsim_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadtest/loadtest/internal/mmsim/mmsimtest"
	"github.com/loadtest/loadtest/internal/testtools"
	"github.com/loadtest/loadtest/mattermost"
)

// TestOfficialJSClient drives mmsim's WebSocket with Mattermost's own JavaScript client
// (@mattermost/client, installed from npm into scripts/jsclient by `make deps`), the way the
// webapp speaks it: the authentication challenge, hello, ping, statuses, active status,
// typing, presence, acks, and the server's error shapes for bad parameters.
func TestOfficialJSClient(t *testing.T) {
	node := testtools.Require(t, "node", "nodejs")
	dir := filepath.Join("..", "..", "scripts", "jsclient")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@mattermost", "client")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the official client is not installed: `make deps` runs npm ci in %s (%v)", dir, err)
		}
		t.Skipf("the official client is not installed (make deps, or npm ci in %s)", dir)
	}
	srv := mmsimtest.Start(t, nil)
	team := mmsimtest.CreateTeam(t, srv.URL, srv.Config, "team1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := mattermost.New(srv.URL, mattermost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	if _, err := c.CreateUser(ctx, "carol", "carol@example.com", "testPass123$"); err != nil {
		t.Fatal(err)
	}
	me, err := c.Login(ctx, "carol", "testPass123$")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddTeamMember(ctx, team.ID, me.ID); err != nil {
		t.Fatal(err)
	}
	chans, err := c.GetChannelsForTeamForUser(ctx, team.ID, false)
	if err != nil || len(chans) == 0 {
		t.Fatalf("channels: %v, %v", chans, err)
	}
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/api/v4/websocket"
	cmd := exec.CommandContext(ctx, node, "official-ws.js", wsURL, c.Token(), chans[0].ID, me.ID)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node official-ws.js: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	type appError struct {
		ID         string `json:"id"`
		Message    string `json:"message"`
		StatusCode int    `json:"status_code"`
	}
	type line struct {
		Action string `json:"action"`
		Reply  struct {
			Status   string          `json:"status"`
			SeqReply int64           `json:"seq_reply"`
			Data     json.RawMessage `json:"data"`
			Error    *appError       `json:"error"`
		} `json:"reply"`
		Done   bool     `json:"done"`
		Events []string `json:"events"`
	}
	var replies []line
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		js, ok := strings.CutPrefix(sc.Text(), "RESULT ")
		if !ok {
			continue // the client's own console logging
		}
		var l line
		if err := json.Unmarshal([]byte(js), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		replies = append(replies, l)
	}
	if len(replies) != 13 || !replies[12].Done || len(replies[12].Events) == 0 || replies[12].Events[0] != "hello" {
		t.Fatalf("%d lines; want 12 replies and done after hello:\n%s", len(replies), out)
	}
	wantOK := func(i int, action, data string) {
		t.Helper()
		r := replies[i]
		if r.Action != action || r.Reply.Status != "OK" || r.Reply.SeqReply == 0 || !strings.Contains(string(r.Reply.Data), data) {
			t.Errorf("reply %d to %s: %+v, data %s; want OK with %s", i, action, r.Reply, r.Reply.Data, data)
		}
	}
	wantOK(0, "ping", `"text":"pong"`)
	wantOK(1, "get_statuses", `"`+me.ID+`":"online"`)
	wantOK(2, "get_statuses_by_ids", `"`+me.ID+`":"online"`)
	wantOK(3, "user_update_active_status", "")
	wantOK(4, "get_statuses_by_ids", `"`+me.ID+`":"away"`)
	wantOK(5, "user_update_active_status", "")
	wantOK(6, "user_typing", "")
	wantOK(7, "presence", "")
	wantOK(8, "presence", "")
	for i, want := range map[int]string{9: "Invalid channel_id parameter.", 10: "Invalid user_ids parameter."} {
		r := replies[i]
		if r.Reply.Status != "FAIL" || r.Reply.Error == nil || r.Reply.Error.ID != "api.websocket_handler.invalid_param.app_error" ||
			r.Reply.Error.Message != want || r.Reply.Error.StatusCode != 400 {
			t.Errorf("reply %d to %s: %+v; want FAIL, invalid_param, %q", i, r.Action, r.Reply, want)
		}
	}
	wantOK(11, "posted_notify_ack", "")
}
