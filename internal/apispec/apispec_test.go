package apispec

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
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

// TestChecker checks that both sides of the wire catch the same violations: a request with a
// body the reference does not allow, and a response of the wrong shape, while a good exchange
// passes and the WebSocket and non-API paths are not checked.
func TestChecker(t *testing.T) {
	sp, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v4/users/me":
			_, _ = io.WriteString(w, `{"id": 42}`) // id must be a string
		case "/api/v4/system/ping":
			_, _ = io.WriteString(w, `{"status": "OK"}`)
		default:
			_, _ = io.WriteString(w, `{}`)
		}
	})
	server := &Checker{Spec: sp}
	hs := httptest.NewServer(server.Handler(h))
	defer hs.Close()
	client := &Checker{Spec: sp}
	hc := &http.Client{Transport: client}
	send := func(method, path, body string) {
		req, _ := http.NewRequest(method, hs.URL+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := io.ReadAll(resp.Body); path == "/api/v4/users/me" && string(b) != `{"id": 42}` {
			t.Errorf("the server-side checker changed the body to %q", b)
		}
		resp.Body.Close()
	}
	send("GET", "/api/v4/system/ping", "")
	send("GET", "/", "")
	send("GET", "/api/v4/users/me", "")
	send("POST", "/api/v4/users/login", `{"login_id": 5}`) // login_id must be a string
	for side, c := range map[string]*Checker{"server": server, "client": client} {
		v := c.Violations()
		if len(v) != 2 || !strings.Contains(v[0], "GET /api/v4/users/{user_id}: response 200") || !strings.Contains(v[1], "POST /api/v4/users/login: request") {
			t.Errorf("%s side: violations %q; want the /users/me response and the login request", side, v)
		}
		if seen := c.Seen(); len(seen) != 3 || seen["GET /api/v4/system/ping"] != 1 {
			t.Errorf("%s side: seen %v; want the three API routes once each", side, seen)
		}
	}
}
