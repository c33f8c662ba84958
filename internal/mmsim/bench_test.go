package mmsim

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// benchServer returns a handler with one logged-in user, a team and 60 posts in town-square.
func benchServer(b *testing.B) (http.Handler, string, Team, string) {
	b.Helper()
	cfg := DefaultConfig()
	cfg.LogSettings.EnableConsole = false
	s, err := New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	u, _ := s.st.createUser("bench", "bench@example.com", "testPass123$", "")
	_, tok, _ := s.st.login("bench", "testPass123$")
	team, _ := s.st.createTeam("bench", "", "O", u.ID)
	ch := s.st.channelsOf(u.ID, team.ID, false)[0]
	for range 60 {
		if _, _, err := s.st.createPost(u.ID, postInput{ChannelID: ch.ID, Message: "a message with a few words"}); err != nil {
			b.Fatal(err)
		}
	}
	return s.Handler(), tok, team, ch.ID
}

func benchGET(b *testing.B, path string) {
	h, tok, _, _ := benchServer(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		for pb.Next() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("GET %s = %d", path, rec.Code)
			}
		}
	})
}

// BenchmarkGetMe is the handler cost of the simplest authenticated GET, without the network.
func BenchmarkGetMe(b *testing.B) { benchGET(b, "/api/v4/users/me") }

// BenchmarkGetChannelPosts is the cost of the hottest read: a page of 30 posts.
func BenchmarkGetChannelPosts(b *testing.B) {
	h, tok, _, ch := benchServer(b)
	path := "/api/v4/channels/" + ch + "/posts?page=0&per_page=30"
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("GET %s = %d", path, rec.Code)
		}
	}
}
