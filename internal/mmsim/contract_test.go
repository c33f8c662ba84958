package mmsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/loadtest/loadtest/internal/apispec"
)

func spec(tb testing.TB) *apispec.Spec {
	tb.Helper()
	sp, err := apispec.Load()
	if err != nil {
		tb.Fatal(err)
	}
	return sp
}

var wildcard = regexp.MustCompile(`\{[^}]*\}`)

// TestContract_RoutesDocumented checks every route of the table against the reference. The
// apispec.Undocumented list must be exact: an undocumented route missing from it fails, and
// so does an entry for a route the reference documents or mmsim does not serve.
func TestContract_RoutesDocumented(t *testing.T) {
	sp := spec(t)
	s, err := New(DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, rt := range s.routes {
		key := rt.method + " " + rt.pattern
		served[key] = true
		documented := sp.Documented(rt.method, rt.pattern)
		_, excused := apispec.Undocumented[key]
		switch {
		case !documented && !excused:
			t.Errorf("%s (%s) is not in the API reference; add it there or to apispec.Undocumented with a reason", key, rt.name)
		case documented && excused:
			t.Errorf("%s is documented; remove it from apispec.Undocumented", key)
		}
	}
	for key := range apispec.Undocumented {
		if !served[key] {
			t.Errorf("apispec.Undocumented lists %s, which mmsim does not serve", key)
		}
	}
}

// contract checks, in the server, each request mmsim accepts and each response it sends
// against the reference, and records which routes of the table were exercised.
type contract struct {
	sp *apispec.Spec

	mu         sync.Mutex
	violations []string
	ok         map[string]int // "METHOD /pattern" -> successful, validated calls
}

func (c *contract) wrap(s *Server, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := s.mux.Handler(r)
		method, path, _ := strings.Cut(pattern, " ")
		if !strings.HasPrefix(path, "/api/v4/") || path == "/api/v4/" || path == "/api/v4/websocket" {
			next.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())

		var errs []error
		if rec.Code < 400 {
			errs = append(errs, c.sp.CheckRequest(r, body))
		}
		errs = append(errs, c.sp.CheckResponse(r, body, rec.Code, rec.Header(), rec.Body.Bytes()))
		c.mu.Lock()
		defer c.mu.Unlock()
		failed := false
		for _, err := range errs {
			if err != nil && !errors.Is(err, apispec.ErrUndocumented) {
				c.violations = append(c.violations, err.Error())
				failed = true
			}
		}
		if rec.Code < 400 && !failed {
			c.ok[method+" "+strings.TrimPrefix(path, "/api/v4")]++
		}
	})
}

// TestContract_Tour calls every route with valid input, plus some with invalid input, and
// checks every request and response against the reference.
func TestContract_Tour(t *testing.T) {
	c := &contract{sp: spec(t), ok: map[string]int{}}
	s, base := newTestServer(t, nil, c.wrap)
	tour(t, base)

	for _, v := range c.violations {
		t.Error(v)
	}
	for _, rt := range s.routes {
		if key := rt.method + " " + rt.pattern; c.ok[key] == 0 {
			t.Errorf("the tour never called %s (%s) successfully", key, rt.name)
		}
	}
}

// tour exercises every route of mmsim once or more, as clients would.
func tour(t *testing.T, base string) {
	f := newFixture(t, base)
	a, b := f.alice, f.bob
	carol := signup(t, base, "carol")
	carol.must("POST", "/api/v4/teams/"+f.team.ID+"/members", map[string]string{"team_id": f.team.ID, "user_id": carol.user.ID}, 201, nil)
	tm := "/api/v4/users/me/teams/" + f.team.ID

	a.must("GET", "/api/v4/config/client?format=old", nil, 200, nil)
	a.must("GET", "/api/v4/system/ping", nil, 200, nil)
	a.must("GET", "/api/v4/config", nil, 403, nil)
	admin := newClient(t, base)
	admin.login("sysadmin")
	admin.must("GET", "/api/v4/config", nil, 200, nil)
	admin.must("POST", "/api/v4/teams/"+f.team.ID+"/members", map[string]string{"team_id": f.team.ID, "user_id": signup(t, base, "dave").user.ID}, 201, nil)
	a.must("GET", "/api/v4/users?page=0&per_page=100", nil, 200, nil)
	a.must("GET", "/api/v4/users?in_channel="+f.town.ID+"&page=0&per_page=8", nil, 200, nil)
	a.must("GET", "/api/v4/users/me", nil, 200, nil)
	a.must("GET", "/api/v4/teams/"+f.team.ID, nil, 200, nil)
	a.must("GET", "/api/v4/users/me/teams", nil, 200, nil)
	a.must("GET", "/api/v4/users/me/teams/members", nil, 200, nil)
	a.must("GET", "/api/v4/users/me/teams/unread?exclude_team="+f.team.ID+"&include_collapsed_threads=true", nil, 200, nil)
	a.must("GET", tm+"/channels/members", nil, 200, nil)
	a.must("GET", tm+"/channels/categories", nil, 200, nil)
	a.must("GET", "/api/v4/users/me/channels?last_delete_at=0", nil, 200, nil)
	a.must("GET", "/api/v4/users/me/channel_members?page=0&per_page=100", nil, 200, nil)
	a.must("GET", "/api/v4/users/me/preferences", nil, 200, nil)
	a.must("PUT", "/api/v4/users/me/preferences", []Preference{{UserID: a.user.ID, Category: "display_settings", Name: "use_military_time", Value: "true"}}, 200, nil)
	a.must("POST", "/api/v4/roles/names", []string{"system_user", "team_user", "channel_user"}, 200, nil)
	a.must("GET", "/api/v4/plugins/webapp", nil, 200, nil)
	a.must("GET", "/api/v4/users/me/status", nil, 200, nil)
	a.must("PUT", "/api/v4/users/me/status", map[string]string{"user_id": a.user.ID, "status": "away"}, 200, nil)
	a.must("POST", "/api/v4/users/status/ids", []string{a.user.ID, b.user.ID}, 200, nil)
	a.must("POST", "/api/v4/users/ids?since=0", []string{b.user.ID}, 200, nil)
	a.must("POST", "/api/v4/users/usernames", []string{"bob", "carol"}, 200, nil)
	a.must("GET", "/api/v4/users/autocomplete?in_team="+f.team.ID+"&in_channel="+f.town.ID+"&name=b&limit=100", nil, 200, nil)
	a.must("GET", "/api/v4/users/"+b.user.ID+"/image", nil, 200, nil)
	a.must("POST", "/api/v4/client_perf", map[string]any{"version": "0.1.0", "counters": []any{}, "histograms": []any{}}, 200, nil)

	// Channels.
	var priv Channel
	a.must("POST", "/api/v4/channels", map[string]string{"team_id": f.team.ID, "name": "secret", "display_name": "Secret", "type": "P"}, 201, &priv)
	a.must("GET", "/api/v4/channels/"+priv.ID, nil, 200, nil)
	a.must("POST", "/api/v4/channels/"+priv.ID+"/members", map[string]string{"user_id": b.user.ID}, 201, nil)
	a.must("GET", "/api/v4/channels/"+priv.ID+"/members/"+b.user.ID, nil, 200, nil)
	b.must("DELETE", "/api/v4/channels/"+priv.ID+"/members/me", nil, 200, nil)
	a.must("GET", "/api/v4/teams/"+f.team.ID+"/channels?page=0&per_page=60", nil, 200, nil)
	var dm, gm Channel
	a.must("POST", "/api/v4/channels/direct", []string{a.user.ID, b.user.ID}, 201, &dm)
	a.must("POST", "/api/v4/channels/group", []string{b.user.ID, carol.user.ID}, 201, &gm)
	b.must("POST", "/api/v4/channels/direct", []string{b.user.ID, a.user.ID}, 201, nil) // exists: still 201
	a.must("GET", "/api/v4/channels/"+dm.ID+"/stats?exclude_files_count=true", nil, 200, nil)
	a.must("POST", "/api/v4/channels/members/me/view", map[string]string{"channel_id": dm.ID, "prev_channel_id": f.town.ID}, 200, nil)
	a.must("GET", "/api/v4/users/me/channels/"+dm.ID+"/unread", nil, 200, nil)

	// Files and posts.
	fileID := upload(t, a, f.town.ID)
	a.must("GET", "/api/v4/files/"+fileID+"/thumbnail", nil, 200, nil)
	a.must("GET", "/api/v4/files/"+fileID+"/preview", nil, 200, nil)
	var root Post
	a.must("POST", "/api/v4/posts", map[string]any{"channel_id": f.town.ID, "message": "root with a file", "file_ids": []string{fileID}}, 201, &root)
	b.must("POST", "/api/v4/posts", map[string]any{"channel_id": f.town.ID, "root_id": root.ID, "message": "a reply @alice"}, 201, nil)
	a.must("GET", "/api/v4/posts/"+root.ID, nil, 200, nil)
	a.must("PUT", "/api/v4/posts/"+root.ID+"/patch", map[string]string{"message": "edited"}, 200, nil)
	a.must("GET", "/api/v4/posts/"+root.ID+"/thread?perPage=60&direction=down&collapsedThreads=true", nil, 200, nil)
	a.must("GET", "/api/v4/channels/"+f.town.ID+"/posts?page=0&per_page=30", nil, 200, nil)
	a.must("GET", "/api/v4/channels/"+f.town.ID+"/posts?since=1&collapsedThreads=false", nil, 200, nil)
	a.must("GET", "/api/v4/channels/"+f.town.ID+"/posts?before="+root.ID+"&page=0&per_page=30", nil, 200, nil)
	b.must("GET", "/api/v4/users/me/channels/"+f.town.ID+"/posts/unread?limit_before=30&limit_after=30&collapsedThreads=false", nil, 200, nil)
	b.must("POST", "/api/v4/reactions", map[string]string{"user_id": b.user.ID, "post_id": root.ID, "emoji_name": "+1"}, 200, nil)
	a.must("GET", "/api/v4/posts/"+root.ID+"/reactions", nil, 200, nil)
	b.must("DELETE", "/api/v4/users/me/posts/"+root.ID+"/reactions/+1", nil, 200, nil)

	// Searches.
	var found PostListWithMatches
	a.must("POST", "/api/v4/teams/"+f.team.ID+"/posts/search", map[string]any{"terms": "edited from:alice -nothing", "is_or_search": false, "page": 0, "per_page": 20}, 200, &found)
	if len(found.Order) != 1 || found.Order[0] != root.ID {
		t.Errorf("post search for the edited root found %v; want [%s]", found.Order, root.ID)
	}
	var us []User
	a.must("POST", "/api/v4/users/search", map[string]any{"term": "bo", "team_id": f.team.ID}, 200, &us)
	if len(us) != 1 || us[0].Username != "bob" {
		t.Errorf("user search bo = %v; want bob", us)
	}
	a.must("POST", "/api/v4/teams/"+f.team.ID+"/channels/search", map[string]string{"term": "town"}, 200, nil)
	a.must("POST", "/api/v4/channels/group/search", map[string]string{"term": "carol"}, 200, nil)

	// Collapsed threads.
	a.must("GET", tm+"/threads?per_page=25&threadsOnly=true", nil, 200, nil)
	a.must("GET", tm+"/threads?totalsOnly=true&threadsOnly=false", nil, 200, nil)
	a.must("GET", tm+"/threads/"+root.ID, nil, 200, nil)
	a.must("PUT", tm+"/threads/"+root.ID+"/read/1", nil, 200, nil)
	a.must("PUT", tm+"/threads/"+root.ID+"/following", nil, 200, nil)
	a.must("DELETE", tm+"/threads/"+root.ID+"/following", nil, 200, nil)
	a.must("PUT", tm+"/threads/read", nil, 200, nil)

	// Drafts.
	a.must("POST", "/api/v4/drafts", map[string]string{"channel_id": f.town.ID, "message": "half-written"}, 201, nil)
	a.must("POST", "/api/v4/drafts", map[string]string{"channel_id": f.town.ID, "root_id": root.ID, "message": "reply draft"}, 201, nil)
	var drafts []Draft
	a.must("GET", tm+"/drafts", nil, 200, &drafts)
	if len(drafts) != 2 {
		t.Errorf("drafts = %d; want 2", len(drafts))
	}
	a.must("DELETE", "/api/v4/users/me/channels/"+f.town.ID+"/drafts/"+root.ID, nil, 200, nil)
	a.must("DELETE", "/api/v4/users/me/channels/"+f.town.ID+"/drafts", nil, 200, nil)

	a.must("DELETE", "/api/v4/posts/"+root.ID, nil, 200, nil)

	// Errors are AppErrors with documented statuses.
	anon := newClient(t, base)
	anon.must("GET", "/api/v4/users/me", nil, 401, nil)
	a.must("GET", "/api/v4/channels/"+strings.Repeat("a", 26), nil, 404, nil)
	a.must("POST", "/api/v4/posts", "{not json", 400, nil)

	carol.must("POST", "/api/v4/users/logout", nil, 200, nil)
	carol.must("GET", "/api/v4/users/me", nil, 401, nil)
}

// PostListWithMatches is a post search's answer.
type PostListWithMatches struct {
	PostList
	Matches map[string][]string `json:"matches"`
}

// upload posts a small PNG to POST /files and returns its id.
func upload(t *testing.T, c *client, channelID string) string {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("channel_id", channelID)
	h := make(map[string][]string)
	h["Content-Disposition"] = []string{`form-data; name="files"; filename="pic.png"`}
	h["Content-Type"] = []string{"image/png"}
	part, _ := mw.CreatePart(h)
	_, _ = part.Write(profileImage)
	_ = mw.Close()
	req, _ := http.NewRequest("POST", c.base+"/api/v4/files", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		FileInfos []FileInfo `json:"file_infos"`
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 201 || json.Unmarshal(b, &out) != nil || len(out.FileInfos) != 1 {
		t.Fatalf("POST /files = %d %s", resp.StatusCode, b)
	}
	return out.FileInfos[0].ID
}
