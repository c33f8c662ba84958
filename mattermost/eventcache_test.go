package mattermost

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/coder/websocket"
)

// TestEventCache: WebSockets sharing a cache deliver a broadcast with each one's own seq and
// the same data as a decode of their own; what does not end in its seq, hellos and replies
// are decoded alone and never served from the cache; a full cache starts over.
func TestEventCache(t *testing.T) {
	cache := NewEventCache(4)
	a, b := (&Client{}).NewWebSocket(WebSocketOptions{Events: cache}), (&Client{}).NewWebSocket(WebSocketOptions{Events: cache})
	alone := (&Client{}).NewWebSocket(WebSocketOptions{})
	posted := strings.TrimSuffix(string(postedEvent), `,"seq":1}`)
	for i, w := range []*WebSocket{a, b, alone} {
		w.nextSeq = int64(5 + i)
		if w.handle(fmt.Appendf(nil, `%s,"seq":%d}`, posted, 5+i)) {
			t.Fatalf("websocket %d saw a gap", i)
		}
	}
	if len(cache.m) != 1 {
		t.Fatalf("%d events cached; want the one broadcast", len(cache.m))
	}
	evA, evB, evAlone := a.Next(), b.Next(), alone.Next()
	if evA == nil || evB == nil || evAlone == nil {
		t.Fatal("an event was not delivered")
	}
	if evA.Seq != 5 || evB.Seq != 6 || evAlone.Seq != 7 {
		t.Errorf("seqs %d %d %d; want each connection's own, 5 6 7", evA.Seq, evB.Seq, evAlone.Seq)
	}
	// The members share one decode of the post: the same maps, not equal copies.
	pa, errA := evA.Data.DecodePost()
	pb, errB := evB.Data.DecodePost()
	pAlone, errAlone := evAlone.Data.DecodePost()
	if errA != nil || errB != nil || errAlone != nil || pa.ID == "" || pa.Message != pAlone.Message || pb.ID != pa.ID {
		t.Fatalf("posts %+v, %+v, %+v (%v %v %v); want the same post", pa, pb, pAlone, errA, errB, errAlone)
	}
	if reflect.ValueOf(pa.Props).Pointer() != reflect.ValueOf(pb.Props).Pointer() || reflect.ValueOf(pa.Props).Pointer() == reflect.ValueOf(pAlone.Props).Pointer() {
		t.Errorf("the cached post was decoded for each member, or the uncached one shared: props at %#x, %#x, %#x",
			reflect.ValueOf(pa.Props).Pointer(), reflect.ValueOf(pb.Props).Pointer(), reflect.ValueOf(pAlone.Props).Pointer())
	}
	evA.Data.post, evB.Data.post, evAlone.Data.post = nil, nil, nil // compared above
	evB.Seq, evAlone.Seq = evA.Seq, evA.Seq
	if fmt.Sprintf("%+v", *evA) != fmt.Sprintf("%+v", *evB) || fmt.Sprintf("%+v", *evA) != fmt.Sprintf("%+v", *evAlone) || evA.Data.Post == "" {
		t.Errorf("cached %+v\nuncached %+v\nwant the same event, with its post", *evB, *evAlone)
	}

	// Not cached: a hello (its connection id is its own), a message whose seq is not last,
	// a reply.
	for _, m := range []string{
		`{"event":"hello","data":{"connection_id":"c1"},"broadcast":{},"seq":6}`,
		`{"event":"typing","seq":7,"data":{"user_id":"u1","seq":7}}`,
		`{"status":"OK","seq_reply":3,"data":{"x":1,"seq":8}}`,
	} {
		a.handle([]byte(m))
	}
	if len(cache.m) != 1 {
		t.Errorf("%d events cached after a hello, a misplaced seq and a reply; want still 1", len(cache.m))
	}
	if ev := a.Next(); ev == nil || ev.Event != "hello" || ev.Data.ConnectionID != "c1" {
		t.Errorf("the hello came as %+v", ev)
	}
	if ev := a.Next(); ev == nil || ev.Event != "typing" || ev.Seq != 7 || ev.Data.UserID != "u1" {
		t.Errorf("the typing event with its seq first came as %+v", ev)
	}
	for i := range 5 { // past max: the cache starts over
		a.handle(fmt.Appendf(nil, `{"event":"typing","data":{"user_id":"u%d"},"broadcast":{},"seq":%d}`, i, 8+i))
	}
	if len(cache.m) > 4 {
		t.Errorf("%d events cached; want at most 4", len(cache.m))
	}
}

// TestReadMessage: messages of any size up to the read limit are read whole into pooled
// buffers (a buffer put back and taken again holds the next message, not the last one's
// tail), and a message over the limit is an error.
func TestReadMessage(t *testing.T) {
	sizes := []int{10, 4 << 10, 5000, 100 << 10} // the last is over the limit
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for i, n := range sizes {
			if err := c.Write(r.Context(), websocket.MessageText, bytes.Repeat([]byte{byte('a' + i)}, n)); err != nil {
				return
			}
		}
		_, _, _ = c.Read(r.Context()) // until the client goes
	}))
	defer srv.Close()
	ctx := context.Background()
	conn, _, err := websocket.Dial(ctx, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(64 << 10)
	for i, n := range sizes[:3] {
		b, err := readMessage(conn)
		if err != nil {
			t.Fatalf("message %d of %d bytes: %v", i, n, err)
		}
		if !bytes.Equal(b.Bytes(), bytes.Repeat([]byte{byte('a' + i)}, n)) {
			t.Fatalf("message %d of %d bytes: %d bytes read, not the message", i, n, b.Len())
		}
		putReadBuf(b)
	}
	if b, err := readMessage(conn); err == nil {
		t.Fatalf("a message of 100 KB over a 64 KB limit was read (%d bytes); want an error", b.Len())
	}
}
