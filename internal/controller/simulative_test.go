package controller

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/internal/mmsim/mmsimtest"
	"github.com/loadtest/loadtest/internal/usermetrics"
	"github.com/loadtest/loadtest/mattermost"
)

// served counts the requests mmsim answered for a handler (mattermost_api_time{handler}).
func served(t *testing.T, reg *prometheus.Registry, handler string) uint64 {
	t.Helper()
	return servedWith(t, reg, handler, "")
}

// servedWith counts the requests mmsim answered for a handler with a status code ("": any).
func servedWith(t *testing.T, reg *prometheus.Registry, handler, status string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, mf := range mfs {
		if mf.GetName() != "mattermost_api_time" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var h, code string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "handler":
					h = l.GetValue()
				case "status_code":
					code = l.GetValue()
				}
			}
			if h == handler && (status == "" || code == status) {
				n += m.GetHistogram().GetSampleCount()
			}
		}
	}
	return n
}

// teamServer starts mmsim with a team, and returns it and a function that signs a user up
// (or logs it in) and returns its id.
func teamServer(t *testing.T) (*mmsimtest.Server, func(name string) string) {
	t.Helper()
	srv := mmsimtest.Start(t, nil)
	mmsimtest.CreateTeam(t, srv.URL, srv.Config, "team1")
	return srv, func(name string) string {
		t.Helper()
		c, err := mattermost.New(srv.URL, mattermost.Options{})
		if err != nil {
			t.Fatal(err)
		}
		u, err := LoginOrSignUp(context.Background(), c, name)
		if err != nil {
			t.Fatal(err)
		}
		return u.ID
	}
}

// startedUser is a simulative user of the default config against url, started as the
// webapp starts (its WebSocket stops with the test); the test calls its methods itself.
func startedUser(t *testing.T, url string) *Simulative {
	t.Helper()
	cfg := agentconfig.DefaultConfig()
	cfg.ConnectionConfiguration.ServerURL = url
	env := NewEnv("lt1", cfg, usermetrics.New(nil, nil), nil)
	s := newSimulative(env, NewPicker(cfg.UserControllerConfiguration.Simulative.ActionWeights), 1)
	c, err := env.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	s.c = c
	if err := s.start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stopWS)
	return s
}

// TestSimulative_Store: a simulative user keeps every profile a response carried, as the
// webapp's store does, so a typing event from a user it has listed costs no request; events
// from strangers wait for the user's next profile batch, which fetches them in one request;
// a full reload empties the store and lists users again.
func TestSimulative_Store(t *testing.T) {
	srv, signUp := teamServer(t)
	ctx := context.Background()
	listed := signUp("peer-a")
	s := startedUser(t, srv.URL)
	knows := func(id string) bool { return s.people.knows(id) }
	if !knows(listed) {
		t.Fatalf("peer-a, on the first page of users listed when joining the team, is not in the store")
	}
	stranger := signUp("peer-b") // signed up after the user listed the others
	typing := func(uid string) mattermost.Event {
		return mattermost.Event{Event: "typing", Data: mattermost.EventData{UserID: uid}}
	}
	before := served(t, srv.Registry(), "getUsersByIds")
	s.onEvent(ctx, typing(listed))
	if got := served(t, srv.Registry(), "getUsersByIds") - before; got != 0 {
		t.Errorf("typing from a listed user fetched profiles %d times; want 0", got)
	}
	other := signUp("peer-c")
	s.onEvent(ctx, typing(stranger))
	s.onEvent(ctx, typing(stranger))
	s.onEvent(ctx, typing(other))
	if got := served(t, srv.Registry(), "getUsersByIds") - before; got != 0 {
		t.Errorf("events fetched profiles %d times before the batch; want 0", got)
	}
	s.flushProfiles(ctx)
	s.flushProfiles(ctx) // nothing waits: no request
	if got := served(t, srv.Registry(), "getUsersByIds") - before; got != 1 || !knows(stranger) || !knows(other) {
		t.Errorf("the batch of two strangers (one typing twice) fetched profiles %d times; want once, for both", got)
	}
	for i := range profileBatchMax { // a full batch goes at once
		s.wantProfile(ctx, fmt.Sprintf("nobody%02d", i))
	}
	if got := served(t, srv.Registry(), "getUsersByIds") - before; got != 2 || len(s.pending) != 0 {
		t.Errorf("a full batch of %d: %d requests in all, %d still waiting; want it fetched at once", profileBatchMax, got, len(s.pending))
	}
	lists := served(t, srv.Registry(), "getUsers")
	p := s.people.at(listed)
	p.status, p.etag, p.hasETag = true, 1, true
	if err := s.reload(ctx, true); err != nil {
		t.Fatal(err)
	}
	if served(t, srv.Registry(), "getUsers") != lists+1 {
		t.Errorf("a full reload listed users %d times; want once", served(t, srv.Registry(), "getUsers")-lists)
	}
	if p := s.people.get(listed); !knows(stranger) || p == nil || !p.profile || p.status || p.hasETag {
		t.Errorf("after a full reload: %+v known, listed %+v; want the listed users known and the rest forgotten",
			s.people.all, p)
	}
}

// TestSimulative_ProfileImages: with ProfileImages "browser" a user's browser shows an author's picture from
// its cache for as long as the server's Cache-Control allows, across page reloads; a stale
// picture is asked for with its ETag, and the 304 makes it fresh again; only the authors
// of the posts the webapp renders (the newest 50) are shown. With "revalidate" (the
// default) every view asks for every author, as mattermost-load-test-ng does.
func TestSimulative_ProfileImages(t *testing.T) {
	srv, signUp := teamServer(t)
	ctx := context.Background()
	a, b := signUp("author-a"), signUp("author-b")
	s := startedUser(t, srv.URL)
	s.cfg.ProfileImages = agentconfig.ProfileImagesBrowser
	posts := []*mattermost.Post{{ID: "p1", UserID: a, Message: "one"}, {ID: "p2", UserID: b, Message: "two"}, {ID: "p3", UserID: a, Message: "three"}}
	view := func(what string, want200, want304 uint64) {
		t.Helper()
		ok0, nm0 := servedWith(t, srv.Registry(), "getProfileImage", "200"), servedWith(t, srv.Registry(), "getProfileImage", "304")
		if err := s.fetchPostsInfo(ctx, posts); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		ok, nm := servedWith(t, srv.Registry(), "getProfileImage", "200")-ok0, servedWith(t, srv.Registry(), "getProfileImage", "304")-nm0
		if ok != want200 || nm != want304 {
			t.Errorf("%s: %d pictures sent and %d not modified; want %d and %d", what, ok, nm, want200, want304)
		}
	}
	view("the first view of two authors", 2, 0)
	view("the second view", 0, 0)
	i, found := s.images.find(imageKey(a))
	if !found {
		t.Fatalf("author-a's picture is not in the cache: %+v", s.images.all)
	}
	s.images.all[i].until = 0 // a day has passed for author-a's picture
	view("a view with author-a's picture stale", 0, 1)
	view("the view after the 304", 0, 0)
	if err := s.reload(ctx, true); err != nil {
		t.Fatal(err)
	}
	view("the first view after a full reload", 0, 0)
	c3 := signUp("author-c")
	posts = nil // newest first: author-c's post is the 51st newest, off the page
	for i := range renderedPosts {
		posts = append(posts, &mattermost.Post{ID: fmt.Sprintf("q%d", i), UserID: []string{a, b}[i%2]})
	}
	posts = append(posts, &mattermost.Post{ID: "old", UserID: c3})
	view("a view whose 51st newest post is author-c's", 0, 0)
	s.cfg.ProfileImages = agentconfig.ProfileImagesRevalidate
	view("revalidating, after the reload forgot the ETags", 3, 0)
	view("revalidating again", 0, 3)
}

// TestImageCache_Bounds: the cache stays sorted and within maxCachedImages, forgetting the
// picture that goes stale first; an answer that forbids caching removes the picture.
func TestImageCache_Bounds(t *testing.T) {
	var c imageCache
	day := mattermost.ProfileImage{MaxAge: 24 * time.Hour, HasMaxAge: true}
	for k := range uint32(maxCachedImages) {
		c.answered(k*7919%100003, 1000+k, day) // keys out of order, checked one a second
	}
	c.answered(1, 5000, day) // checked last; key 0 was checked first, so goes stale first
	if len(c.all) != maxCachedImages {
		t.Fatalf("%d pictures cached; want the bound %d", len(c.all), maxCachedImages)
	}
	if !slices.IsSortedFunc(c.all, func(x, y cachedImage) int { return cmp.Compare(x.key, y.key) }) {
		t.Fatalf("the cache is not sorted by key")
	}
	if _, ok := c.find(0); ok {
		t.Errorf("key 0, checked longest ago, is still cached past the bound")
	}
	if !c.fresh(1, 5000+86399) || c.fresh(1, 5000+86400) {
		t.Errorf("key 1 stored at 5000 for a day: fresh at +86399 %v, at +86400 %v; want true, false",
			c.fresh(1, 5000+86399), c.fresh(1, 5000+86400))
	}
	c.answered(1, 6000, mattermost.ProfileImage{HasMaxAge: true}) // no-store
	if _, ok := c.find(1); ok || len(c.all) != maxCachedImages-1 {
		t.Errorf("a picture answered with no-store stays cached (%d cached)", len(c.all))
	}
	c.answered(2, 6000, mattermost.ProfileImage{NotModified: true}) // a 304 for a picture not cached
	if _, ok := c.find(2); ok {
		t.Errorf("a 304 without Cache-Control cached a picture that was not cached")
	}
}

// TestSimulative_Mentions: a view asks for the users its posts @mention, once per view and
// each name once (trailing punctuation is not part of a name); posts without one cost no
// request.
func TestSimulative_Mentions(t *testing.T) {
	srv, signUp := teamServer(t)
	a := signUp("author-a")
	s := startedUser(t, srv.URL)
	ctx := context.Background()
	view := func(posts []*mattermost.Post) uint64 {
		t.Helper()
		before := served(t, srv.Registry(), "getUsersByNames")
		if err := s.fetchPostsInfo(ctx, posts); err != nil {
			t.Fatal(err)
		}
		return served(t, srv.Registry(), "getUsersByNames") - before
	}
	if n := view([]*mattermost.Post{{ID: "p1", UserID: a, Message: "no one here, mail me at a@b"}}); n != 0 {
		t.Errorf("a view without mentions asked for users by name %d times; want 0", n)
	}
	if n := view([]*mattermost.Post{{ID: "p2", UserID: a, Message: "hi @author-a."}, {ID: "p3", UserID: a, Message: "@author-a, @nobody! @"}}); n != 1 {
		t.Errorf("a view with mentions asked for users by name %d times; want once", n)
	}
}

// TestSimulative_Thumbnails: a view asks for the thumbnail of every image its posts show,
// and of nothing else they carry.
func TestSimulative_Thumbnails(t *testing.T) {
	srv, signUp := teamServer(t)
	a := signUp("author-a")
	s := startedUser(t, srv.URL)
	ctx := context.Background()
	ch := s.inView()
	img, err := s.c.UploadFile(ctx, ch, "a.png", "image/png", pngBytes)
	if err != nil {
		t.Fatal(err)
	}
	if !img.HasPreviewImage {
		t.Fatalf("mmsim gave an uploaded PNG no preview: %+v", img)
	}
	txt := mattermost.FileInfo{ID: "not-an-image", Name: "a.txt"}
	before := served(t, srv.Registry(), "getFileThumbnail")
	posts := []*mattermost.Post{{ID: "p1", UserID: a, Metadata: &mattermost.PostMetadata{Files: []mattermost.FileInfo{img, txt}}},
		{ID: "p2", UserID: a}, {ID: "p3", UserID: a, Metadata: &mattermost.PostMetadata{Files: []mattermost.FileInfo{img}}}}
	if err := s.fetchPostsInfo(ctx, posts); err != nil {
		t.Fatal(err)
	}
	if n := served(t, srv.Registry(), "getFileThumbnail") - before; n != 2 {
		t.Errorf("%d thumbnails asked for; want 2, one for each image shown", n)
	}
}
