package mattermost

import (
	"fmt"
	"testing"
)

// postedEvent is a "posted" event as mmsim and Mattermost send it: the post is a JSON string.
var postedEvent = []byte(`{"event":"posted","data":{"channel_display_name":"Town Square","channel_name":"town-square","channel_type":"O","mentions":"[\"abcdefghijklmnopqrstuvwxyz\"]","post":"{\"id\":\"abcdefghijklmnopqrstuvwxyz\",\"create_at\":1700000000000,\"update_at\":1700000000000,\"delete_at\":0,\"user_id\":\"abcdefghijklmnopqrstuvwxyz\",\"channel_id\":\"abcdefghijklmnopqrstuvwxyz\",\"root_id\":\"\",\"message\":\"hello there, this is a message of some length\",\"type\":\"\",\"props\":{},\"hashtags\":\"\"}","sender_name":"@user1","set_online":true,"team_id":"abcdefghijklmnopqrstuvwxyz"},"broadcast":{"omit_users":null,"user_id":"","channel_id":"abcdefghijklmnopqrstuvwxyz","team_id":""},"seq":1}`)

// BenchmarkHandle measures what the reader pays per event: decoding and queueing it, on the
// reader's goroutine (direct) or beside it (aside, as Run does), and with an EventCache that
// another member's WebSocket has filled (cached).
func BenchmarkHandle(b *testing.B) {
	for _, bc := range []struct {
		name   string
		handle func(*WebSocket, []byte) bool
		cache  bool
	}{{"direct", (*WebSocket).handle, false}, {"aside", (*WebSocket).handleAside, false}, {"cached", (*WebSocket).handle, true}} {
		b.Run(bc.name, func(b *testing.B) {
			var opts WebSocketOptions
			if bc.cache {
				opts.Events = NewEventCache(0)
			}
			w := (&Client{}).NewWebSocket(opts)
			b.ReportAllocs()
			for b.Loop() {
				w.nextSeq = 1
				if bc.handle(w, postedEvent) || w.Next() == nil {
					b.Fatal("the event was not delivered")
				}
			}
		})
	}
}

// BenchmarkMemberPost measures what a member pays for a broadcast post it reads: the event
// and its post decoded for it alone, or taken from an EventCache that another member's
// WebSocket filled and whose post another member already read (EventData.DecodePost).
func BenchmarkMemberPost(b *testing.B) {
	for _, shared := range []bool{false, true} {
		b.Run(map[bool]string{false: "alone", true: "shared"}[shared], func(b *testing.B) {
			var opts WebSocketOptions
			if shared {
				opts.Events = NewEventCache(0)
			}
			w := (&Client{}).NewWebSocket(opts)
			b.ReportAllocs()
			for b.Loop() {
				w.nextSeq = 1
				if w.handle(postedEvent) {
					b.Fatal("a gap")
				}
				ev := w.Next()
				if ev == nil {
					b.Fatal("the event was not delivered")
				}
				if p, err := ev.Data.DecodePost(); err != nil || p.ID == "" {
					b.Fatalf("post %+v: %v", p, err)
				}
			}
		})
	}
}

// TestDeliver_Order: events come out of Next in the order they were delivered, whether
// they waited inline (the first) or in the queue behind it, and a full buffer drops.
func TestDeliver_Order(t *testing.T) {
	w := (&Client{}).NewWebSocket(WebSocketOptions{EventBuffer: 3})
	var got []int64
	next := func() {
		if ev := w.Next(); ev != nil {
			got = append(got, ev.Seq)
		}
	}
	for _, step := range []int64{1, 2, 0, 3, 0, 0, 4, 5, 6, 7, 0, 0, 0, 0} { // >0: deliver that seq; 0: Next
		if step == 0 {
			next()
			continue
		}
		ok := w.deliver(&Event{Event: "posted", Seq: step})
		if ok != (step != 7) {
			t.Errorf("deliver(%d) = %v; want false only for 7, past the buffer of 3", step, ok)
		}
	}
	if fmt.Sprint(got) != "[1 2 3 4 5 6]" {
		t.Errorf("Next gave seqs %v; want [1 2 3 4 5 6]", got)
	}
}
