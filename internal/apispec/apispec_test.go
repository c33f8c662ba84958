package apispec

import (
	"bytes"
	"os"
	"testing"
)

// TestEmbeddedMatchesShared fails if the embedded reference differs from the one in shared/,
// so the copy cannot drift. CI always has shared/ beside the project; a clone elsewhere
// skips this check and tests against the copy.
func TestEmbeddedMatchesShared(t *testing.T) {
	path, err := FindShared()
	if err != nil {
		t.Skip("no shared/ beside the project: testing against the embedded copy")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, Embedded) {
		t.Errorf("internal/apispec/openapi-v4.yaml differs from %s; copy it again", path)
	}
}

func TestLoad(t *testing.T) {
	sp, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if !sp.Documented("POST", "/users/login") || sp.Documented("POST", "/no/such/route") {
		t.Error("Documented does not tell documented routes from others")
	}
	if key, ok := sp.Route("GET", "/api/v4/channels/abc/posts"); !ok || key != "/api/v4/channels/{channel_id}/posts" {
		t.Errorf("Route = %q, %v", key, ok)
	}
	if key, ok := sp.Route("POST", "/api/v4/drafts"); !ok || key != "/api/v4/drafts" {
		t.Errorf("Route of an Undocumented entry = %q, %v", key, ok)
	}
}
