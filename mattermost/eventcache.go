package mattermost

import (
	"bytes"
	"strconv"
	"sync"
)

// EventCache shares the decoding of events among the WebSockets of an agent. Mattermost
// sends a broadcast (a post, someone typing) to every member of a channel as the same bytes
// up to the event's seq, its last field, which is each connection's own; so an agent whose
// users share channels decodes each broadcast once, not once per member. A message that
// does not end in its seq, or a hello (its connection id is its own), is decoded alone.
// Safe for concurrent use; the zero value is not: use NewEventCache.
type EventCache struct {
	mu  sync.Mutex
	m   map[string]*Event // guarded by mu: the message up to ,"seq": -> its event, Seq unset
	max int
}

// NewEventCache returns a cache of up to max events (0: 1,024); when full it starts over.
// A broadcast is read by its receivers within milliseconds of each other, so a small cache
// catches nearly all of them.
func NewEventCache(max int) *EventCache {
	if max <= 0 {
		max = 1024
	}
	return &EventCache{m: make(map[string]*Event), max: max}
}

var seqField = []byte(`,"seq":`)

// split returns the message up to its seq field and the seq, or ok false when the message
// does not end with `,"seq":N}`.
func split(b []byte) (prefix []byte, seq int64, ok bool) {
	b = bytes.TrimRight(b, " \t\r\n")
	if len(b) == 0 || b[len(b)-1] != '}' {
		return nil, 0, false
	}
	i := bytes.LastIndex(b, seqField)
	if i < 0 {
		return nil, 0, false
	}
	seq, err := strconv.ParseInt(string(bytes.TrimSpace(b[i+len(seqField):len(b)-1])), 10, 64)
	if err != nil {
		return nil, 0, false
	}
	return b[:i], seq, true
}

// get returns the event of a message decoded earlier, with its own seq.
func (c *EventCache) get(prefix []byte, seq int64) (Event, bool) {
	c.mu.Lock()
	ev, ok := c.m[string(prefix)] // no copy of the key for a lookup
	c.mu.Unlock()
	if !ok {
		return Event{}, false
	}
	out := *ev // Data's strings are shared, and never written
	out.Seq = seq
	return out, true
}

// put keeps a decoded event under its message's prefix.
func (c *EventCache) put(prefix []byte, ev Event) {
	if ev.Event == "hello" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	ev.Seq = 0
	c.m[string(prefix)] = &ev
}
