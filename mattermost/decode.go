package mattermost

import (
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// decodeOptions read a server's JSON as encoding/json would in everything Mattermost sends,
// tolerating duplicate names and invalid UTF-8 as it does. Names match exactly, as
// Mattermost spells them.
var decodeOptions = json.JoinOptions(jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))

// decode reads JSON into v with the JSON v2 implementation (the one Go ships as
// encoding/json/v2 behind GOEXPERIMENT=jsonv2): one pass instead of encoding/json's two,
// about half the CPU per event or response and a third of the allocations, which is most
// of what a simulative agent does (BenchmarkHandle; docs/benchmarks.md).
func decode(b []byte, v any) error { return json.Unmarshal(b, v, decodeOptions) }

// DecodePost reads the post a "posted", "post_edited" or "post_deleted" event carries. The
// copies of an event that one WebSocket read, or that an EventCache handed to the members
// of a channel, decode it once and share the result: the Post's maps and slices are
// shared too, and are read, never written.
func (d EventData) DecodePost() (Post, error) {
	if d.post == nil {
		var p Post
		err := decode([]byte(d.Post), &p)
		return p, err
	}
	d.post.once.Do(func() { d.post.err = decode([]byte(d.Post), &d.post.p) })
	return d.post.p, d.post.err
}
