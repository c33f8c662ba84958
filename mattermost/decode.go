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

// DecodePost reads the post a "posted", "post_edited" or "post_deleted" event carries.
func (d EventData) DecodePost() (Post, error) {
	var p Post
	err := decode([]byte(d.Post), &p)
	return p, err
}
