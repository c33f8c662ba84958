package mmsim

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestServe_Shutdown runs Serve on real listeners, with a WebSocket open, and checks that
// cancelling the context closes the WebSocket, stops both listeners and leaves no goroutine.
func TestServe_Shutdown(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	cfg := DefaultConfig()
	cfg.LogSettings.EnableConsole = false
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	api, _ := net.Listen("tcp", "127.0.0.1:0")
	metrics, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, api, metrics) }()

	base := "http://" + api.Addr().String()
	c := signup(t, base, "erin")
	ws := c.ws("")
	if ev := ws.next(); ev.Event != "hello" {
		t.Fatalf("first event %q; want hello", ev.Event)
	}
	resp, err := http.Get("http://" + metrics.Addr().String() + "/metrics")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /metrics = %v, %v", resp, err)
	}
	resp.Body.Close()

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve = %v; want nil after cancellation", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return within 10s of cancellation")
	}
	rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer rcancel()
	for {
		if _, _, err := ws.c.Read(rctx); err != nil {
			break
		}
	}
	if rctx.Err() != nil {
		t.Error("the WebSocket was still open 5s after Serve returned; shutdown must close it")
	}
	if _, err := http.Get(base + "/api/v4/system/ping"); err == nil {
		t.Error("the API still answers after Serve returned")
	}
	http.DefaultClient.CloseIdleConnections()
}

// FuzzWebSocketAction feeds arbitrary client actions to the action handler: each gets a reply
// with its seq, and none panics.
func FuzzWebSocketAction(f *testing.F) {
	cfg := DefaultConfig()
	s, err := New(cfg, nil)
	if err != nil {
		f.Fatal(err)
	}
	u, _ := s.st.createUser("fuzzer", "fuzzer@example.com", "testPass123$", "")
	f.Add([]byte(`{"seq":1,"action":"user_typing","data":{"channel_id":"abc"}}`))
	f.Add([]byte(`{"seq":2,"action":"presence","data":{"team_id":5}}`))
	f.Add([]byte(`{"seq":3,"action":"get_statuses_by_ids","data":{"user_ids":["` + u.ID + `", 7]}}`))
	f.Add([]byte(`{"seq":4,"action":"x","data":[1]}`))
	f.Fuzz(func(t *testing.T, msg []byte) {
		var req wsRequest
		if json.Unmarshal(msg, &req) != nil || req.Action == "" {
			return // readLoop answers these before handleAction
		}
		rep := s.handleAction(u.ID, req)
		if rep.SeqReply != req.Seq || (rep.Status != "OK" && rep.Status != "FAIL") || (rep.Status == "FAIL" && rep.Error == nil) {
			t.Fatalf("handleAction(%s) = %+v", msg, rep)
		}
	})
}
