package mmsim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// checkAppError fails unless body is an AppError for status with a message.
func checkAppError(t *testing.T, what string, status int, body []byte) AppError {
	t.Helper()
	var ae AppError
	if err := json.Unmarshal(body, &ae); err != nil {
		t.Fatalf("%s: body %q is not an AppError: %v", what, body, err)
	}
	if ae.StatusCode != status || ae.ID == "" || ae.Message == "" || ae.RequestID == "" {
		t.Errorf("%s: AppError %+v; want status_code %d with id, message and request_id", what, ae, status)
	}
	return ae
}

func TestBadInput(t *testing.T) {
	_, base := newTestServer(t, func(c *Config) { c.MaxBodyBytes = 4096 }, nil)
	f := newFixture(t, base)
	unknown := strings.Repeat("x", 26)
	for _, tc := range []struct {
		name   string
		c      *client
		method string
		path   string
		body   any
		hdr    []string
		want   int
		msgHas string
	}{
		{"malformed JSON", f.alice, "POST", "/api/v4/posts", "{\"channel_id\": ", nil, 400, "not valid JSON"},
		{"wrong field type", f.alice, "POST", "/api/v4/posts", `{"channel_id": 5}`, nil, 400, "channel_id"},
		{"empty body", f.alice, "POST", "/api/v4/users/status/ids", "", nil, 400, "empty"},
		{"post without message", f.alice, "POST", "/api/v4/posts", map[string]string{"channel_id": f.town.ID}, nil, 400, "message"},
		{"unknown channel", f.alice, "GET", "/api/v4/channels/" + unknown, nil, nil, 404, unknown},
		{"malformed id", f.alice, "GET", "/api/v4/channels/abc/posts", nil, nil, 400, "channel_id"},
		{"bad page", f.alice, "GET", "/api/v4/users?page=-1", nil, nil, 400, "page"},
		{"bad per_page", f.alice, "GET", "/api/v4/users?per_page=lots", nil, nil, 400, "per_page"},
		{"bad boolean", f.alice, "GET", "/api/v4/users/me/teams/" + f.team.ID + "/channels?include_deleted=maybe", nil, nil, 400, "include_deleted"},
		{"missing auth", newClient(t, base), "GET", "/api/v4/users/me", nil, nil, 401, "session"},
		{"bad token", &client{tb: t, base: base, token: "nope"}, "GET", "/api/v4/teams", nil, nil, 401, "session"},
		{"bad login", newClient(t, base), "POST", "/api/v4/users/login", map[string]string{"login_id": "alice", "password": "wrong"}, nil, 401, "password"},
		{"duplicate username", newClient(t, base), "POST", "/api/v4/users", map[string]string{"username": "alice", "email": "other@example.com", "password": "testPass123$"}, nil, 400, "already exists"},
		{"invalid username", newClient(t, base), "POST", "/api/v4/users", map[string]string{"username": "A B", "email": "x@example.com", "password": "testPass123$"}, nil, 400, "username"},
		{"oversized body", f.alice, "POST", "/api/v4/posts", `{"channel_id":"` + f.town.ID + `","message":"` + strings.Repeat("a", 5000) + `"}`, nil, 413, "4096 bytes"},
		{"someone else's data", f.alice, "GET", "/api/v4/users/" + f.bob.user.ID + "/preferences", nil, nil, 403, "your own"},
		{"not a channel member", f.alice, "POST", "/api/v4/posts", map[string]string{"channel_id": unknown, "message": "x"}, nil, 404, unknown},
		{"unknown route", f.alice, "GET", "/api/v4/no/such/route", nil, nil, 404, "no route"},
		{"wrong method", f.alice, "DELETE", "/api/v4/users/login", nil, nil, 405, "allowed"},
		{"too many ids", f.alice, "POST", "/api/v4/users/ids", make([]string, 1001), nil, 400, "1000"},
		{"bad thread timestamp", f.alice, "PUT", "/api/v4/users/me/teams/" + f.team.ID + "/threads/" + unknown + "/read/soon", nil, nil, 400, "timestamp"},
		{"upload without multipart", f.alice, "POST", "/api/v4/files", "x", nil, 400, "multipart"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := tc.c.call(tc.method, tc.path, tc.body, tc.hdr...)
			if status != tc.want {
				t.Fatalf("%s %s = %d %s; want %d", tc.method, tc.path, status, body, tc.want)
			}
			ae := checkAppError(t, tc.name, tc.want, body)
			if !strings.Contains(ae.Message, tc.msgHas) {
				t.Errorf("message %q does not mention %q", ae.Message, tc.msgHas)
			}
		})
	}
	// A WebSocket upgrade with a bad token is refused before the upgrade.
	req, _ := http.NewRequest("GET", base+"/api/v4/websocket", nil)
	req.Header.Set("Authorization", "Bearer nope")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("websocket with a bad token = %d; want 401", resp.StatusCode)
	}
}

// FuzzAPI sends arbitrary path values, queries and bodies to every route. No input may
// crash the server or cause a 5xx, and every error is an AppError with its status.
func FuzzAPI(f *testing.F) {
	cfg := DefaultConfig()
	cfg.LogSettings.EnableConsole = false
	s, err := New(cfg, nil)
	if err != nil {
		f.Fatal(err)
	}
	u, _ := s.st.createUser("fuzzer", "fuzzer@example.com", "testPass123$", "")
	_, tok, _ := s.st.login("fuzzer", "testPass123$")
	team, _ := s.st.createTeam("fuzzteam", "", "O", u.ID)
	h := s.Handler()
	routes := s.routes

	f.Add(uint8(0), team.ID, "page=0", []byte(`{"login_id":"fuzzer","password":"testPass123$"}`))
	f.Add(uint8(14), "me", "", []byte(`{"channel_id":"`+team.ID+`"}`))
	f.Add(uint8(25), "", "", []byte(`{"channel_id":"`+team.ID+`","message":"hi"}`))
	f.Add(uint8(33), team.ID, "include_deleted=true", []byte(`null`))
	f.Add(uint8(45), "me", "since=abc", []byte(`[{"user_id":1}]`))
	f.Fuzz(func(t *testing.T, idx uint8, param, query string, body []byte) {
		rt := routes[int(idx)%len(routes)]
		path := "/api/v4" + wildcard.ReplaceAllLiteralString(rt.pattern, param)
		req, err := http.NewRequest(rt.method, "http://mmsim"+path, strings.NewReader(string(body)))
		if err != nil {
			return // not a request a client could send
		}
		req.URL.RawQuery = query
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s?%s with %q = %d %s", rt.method, path, query, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var ae AppError
			if err := json.Unmarshal(rec.Body.Bytes(), &ae); err != nil || ae.StatusCode != rec.Code || ae.Message == "" {
				t.Fatalf("%s %s = %d with body %q; want an AppError", rt.method, path, rec.Code, rec.Body)
			}
		}
	})
}
