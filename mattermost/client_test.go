package mattermost_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loadtest/loadtest/internal/apispec"
	"github.com/loadtest/loadtest/internal/mmsim"
	"github.com/loadtest/loadtest/internal/mmsim/mmsimtest"
	"github.com/loadtest/loadtest/mattermost"
)

// startServer runs mmsim and returns its URL.
func startServer(t *testing.T) string {
	t.Helper()
	return mmsimtest.Start(t, nil).URL
}

// engines are the client's two HTTP stacks. Tests that send requests run on both.
var engines = []string{"net/http", "fasthttp"}

// newClient returns a client of the server at base that sends its REST calls with engine.
func newClient(t *testing.T, engine, base string, opts mattermost.Options) *mattermost.Client {
	t.Helper()
	if engine == "fasthttp" && opts.FastHTTP == nil {
		fh, err := mattermost.NewFastHTTP(base, mattermost.TransportConfig{})
		if err != nil {
			t.Fatal(err)
		}
		opts.FastHTTP = fh
	}
	c, err := mattermost.New(base, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// tour is a server whose traffic apispec checks, for clients of one engine: net/http
// clients are checked on their side of the wire (their transport), fasthttp clients on the
// server's (its handler), so both are held to the reference by the same checks.
type tour struct {
	engine, base string
	server       *apispec.Checker // checks the fasthttp clients' traffic
	checkers     []*apispec.Checker
}

func newTour(t *testing.T, engine string) *tour {
	t.Helper()
	sp, err := apispec.Load()
	if err != nil {
		t.Fatal(err)
	}
	cfg := mmsim.DefaultConfig()
	cfg.LogSettings.EnableConsole = false
	s, err := mmsim.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &tour{engine: engine, server: &apispec.Checker{Spec: sp}}
	h := s.Handler()
	if engine == "fasthttp" {
		h = tr.server.Handler(h)
		tr.checkers = append(tr.checkers, tr.server)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	tr.base = hs.URL
	return tr
}

// client returns a new client of the tour's server.
func (tr *tour) client(t *testing.T, obs mattermost.Observer) *mattermost.Client {
	t.Helper()
	if tr.engine == "fasthttp" {
		return newClient(t, tr.engine, tr.base, mattermost.Options{Observer: obs})
	}
	ck := &apispec.Checker{Spec: tr.server.Spec}
	tr.checkers = append(tr.checkers, ck)
	return newClient(t, tr.engine, tr.base, mattermost.Options{HTTPClient: &http.Client{Transport: ck}, Observer: obs})
}

// checked returns the number of requests checked by route, after reporting every violation.
func (tr *tour) checked(t *testing.T) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for _, c := range tr.checkers {
		for _, v := range c.Violations() {
			t.Error(v)
		}
		for k, n := range c.Seen() {
			seen[k] += n
		}
	}
	return seen
}

func must[T any](t *testing.T, what string) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

func ok(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestClient_Contract calls every method of the client against mmsim and checks each request
// and response against the API reference, and that the observer saw route templates only.
func TestClient_Contract(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) { testContract(t, engine) })
	}
}

func testContract(t *testing.T, engine string) {
	tr := newTour(t, engine)
	ctx := context.Background()
	var mu sync.Mutex
	routes := map[string]bool{}
	obs := func(r mattermost.Request) {
		mu.Lock()
		defer mu.Unlock()
		routes[r.Method+" "+r.Route] = true
	}
	a, b, cl := tr.client(t, obs), tr.client(t, obs), tr.client(t, obs)

	version, assets, err := a.RootPage(ctx)
	if err != nil || !strings.HasPrefix(version, "10.8.0") || len(assets) != 2 {
		t.Fatalf("RootPage = %q, %v, %v; want the version and 2 assets", version, assets, err)
	}
	for _, as := range assets {
		ok(t, "GetAsset", a.GetAsset(ctx, as))
	}
	ok(t, "Ping", a.Ping(ctx))
	for _, x := range []struct {
		c    *mattermost.Client
		name string
	}{{a, "alice"}, {b, "bob"}, {cl, "carol"}} {
		must[mattermost.User](t, "CreateUser")(x.c.CreateUser(ctx, x.name, x.name+"@example.com", "testPass123$"))
		must[mattermost.User](t, "Login")(x.c.Login(ctx, x.name, "testPass123$"))
	}
	me := must[mattermost.User](t, "GetMe")(a.GetMe(ctx))
	if me.Username != "alice" || me.ID != a.UserID() {
		t.Fatalf("GetMe = %+v; want alice %s", me, a.UserID())
	}
	ok(t, "CheckMe", a.CheckMe(ctx))
	cfg := must[map[string]string](t, "GetClientConfig")(a.GetClientConfig(ctx))
	if cfg["Version"] == "" {
		t.Errorf("client config has no Version: %v", cfg)
	}
	team := must[mattermost.Team](t, "CreateTeam")(a.CreateTeam(ctx, "team1", "Team 1", "O"))
	must[[]mattermost.Team](t, "GetTeams")(b.GetTeams(ctx, 0, 100))
	must[mattermost.TeamMember](t, "AddTeamMember")(b.AddTeamMember(ctx, team.ID, b.UserID()))
	must[mattermost.TeamMember](t, "AddTeamMember")(cl.AddTeamMember(ctx, team.ID, cl.UserID()))
	must[[]mattermost.Team](t, "GetTeamsForUser")(b.GetTeamsForUser(ctx))
	must[[]mattermost.TeamMember](t, "GetTeamMembersForUser")(b.GetTeamMembersForUser(ctx))
	must[[]map[string]any](t, "GetTeamsUnread")(b.GetTeamsUnread(ctx, ""))
	chans := must[[]mattermost.Channel](t, "GetChannelsForTeamForUser")(b.GetChannelsForTeamForUser(ctx, team.ID, true))
	i := slices.IndexFunc(chans, func(c mattermost.Channel) bool { return c.Name == "town-square" })
	if i < 0 {
		t.Fatalf("no town-square among %v", chans)
	}
	town := chans[i]
	must[[]mattermost.ChannelMember](t, "GetChannelMembersForTeamForUser")(b.GetChannelMembersForTeamForUser(ctx, team.ID))
	must[[]mattermost.Channel](t, "GetChannelsForUser")(b.GetChannelsForUser(ctx))
	must[[]mattermost.ChannelMember](t, "GetChannelMembersForUser")(b.GetChannelMembersForUser(ctx, 0, 100))
	must[mattermost.OrderedSidebarCategories](t, "GetCategories")(b.GetCategories(ctx, team.ID))
	must[[]mattermost.Channel](t, "GetPublicChannelsForTeam")(b.GetPublicChannelsForTeam(ctx, team.ID, 0, 60))
	must[mattermost.Channel](t, "GetChannel")(b.GetChannel(ctx, town.ID))
	priv := must[mattermost.Channel](t, "CreateChannel")(a.CreateChannel(ctx, team.ID, "secret", "Secret", "P"))
	must[mattermost.ChannelMember](t, "AddChannelMember")(a.AddChannelMember(ctx, priv.ID, b.UserID()))
	must[mattermost.ChannelMember](t, "GetChannelMember")(b.GetChannelMember(ctx, priv.ID, b.UserID()))
	ok(t, "LeaveChannel", b.LeaveChannel(ctx, priv.ID))
	dm := must[mattermost.Channel](t, "CreateDirectChannel")(a.CreateDirectChannel(ctx, b.UserID()))
	must[mattermost.Channel](t, "CreateGroupChannel")(a.CreateGroupChannel(ctx, []string{b.UserID(), cl.UserID()}))
	ok(t, "ViewChannel", a.ViewChannel(ctx, dm.ID, town.ID))
	if n := must[int](t, "GetChannelStats")(a.GetChannelStats(ctx, town.ID, true)); n != 3 {
		t.Errorf("town-square has %d members; want 3", n)
	}
	must[map[string]any](t, "GetChannelUnread")(a.GetChannelUnread(ctx, town.ID))

	users := must[[]mattermost.User](t, "GetUsers")(a.GetUsers(ctx, mattermost.UsersQuery{PerPage: 100, InChannel: town.ID}))
	if len(users) != 3 {
		t.Errorf("GetUsers in town-square = %d users; want 3", len(users))
	}
	must[[]mattermost.User](t, "GetUsersByIDs")(a.GetUsersByIDs(ctx, []string{b.UserID()}, 0))
	must[[]mattermost.User](t, "GetUsersByUsernames")(a.GetUsersByUsernames(ctx, []string{"bob"}))
	must[[]mattermost.Status](t, "GetStatusesByIDs")(a.GetStatusesByIDs(ctx, []string{b.UserID()}))
	ok(t, "LoadUsersByIDs", a.LoadUsersByIDs(ctx, []string{b.UserID()}, 0))
	ok(t, "LoadStatusesByIDs", a.LoadStatusesByIDs(ctx, []string{b.UserID()}))
	must[mattermost.Status](t, "GetUserStatus")(a.GetUserStatus(ctx, b.UserID()))
	must[mattermost.Status](t, "UpdateStatus")(a.UpdateStatus(ctx, "away"))
	img, err := a.GetProfileImage(ctx, b.UserID(), "")
	if err != nil || img.ETag == "" || img.NotModified || !img.HasMaxAge || img.MaxAge != 24*time.Hour {
		t.Fatalf("GetProfileImage = %+v, %v; want an ETag and a day's max-age", img, err)
	}
	if img, err := a.GetProfileImage(ctx, b.UserID(), img.ETag); err != nil || !img.NotModified || img.HasMaxAge {
		t.Errorf("GetProfileImage with its ETag = %+v, %v; want a 304 without Cache-Control, as Mattermost answers", img, err)
	}
	in, _, err := a.AutocompleteUsers(ctx, team.ID, town.ID, "b", 10)
	if err != nil || len(in) != 1 {
		t.Errorf("AutocompleteUsers(b) = %v, %v; want bob", in, err)
	}
	ok(t, "UpdatePreferences", a.UpdatePreferences(ctx, []mattermost.Preference{{Category: "display_settings", Name: "use_military_time", Value: "true"}}))
	must[[]mattermost.Preference](t, "GetPreferences")(a.GetPreferences(ctx))
	must[[]mattermost.Role](t, "GetRolesByNames")(a.GetRolesByNames(ctx, mattermost.RolesOf(me.Roles)))
	ok(t, "GetWebappPlugins", a.GetWebappPlugins(ctx))
	ok(t, "SubmitClientPerf", a.SubmitClientPerf(ctx, map[string]any{"version": "0.1.0"}))

	file := must[mattermost.FileInfo](t, "UploadFile")(a.UploadFile(ctx, town.ID, `a "pic".png`, "image/png", []byte("\x89PNG")))
	ok(t, "GetFileThumbnail", a.GetFileThumbnail(ctx, file.ID))
	ok(t, "GetFilePreview", a.GetFilePreview(ctx, file.ID))
	root := must[mattermost.Post](t, "CreatePost")(a.CreatePost(ctx, mattermost.NewPost{ChannelID: town.ID, Message: "hello", FileIDs: []string{file.ID}}))
	must[mattermost.Post](t, "CreatePost reply")(b.CreatePost(ctx, mattermost.NewPost{ChannelID: town.ID, RootID: root.ID, Message: "hi @alice"}))
	must[mattermost.Post](t, "GetPost")(a.GetPost(ctx, root.ID))
	must[mattermost.Post](t, "PatchPost")(a.PatchPost(ctx, root.ID, "edited"))
	list := must[mattermost.PostList](t, "GetPostsForChannel")(a.GetPostsForChannel(ctx, town.ID, mattermost.PostsQuery{PerPage: 30}))
	if len(list.Order) != 2 {
		t.Errorf("GetPostsForChannel = %d posts; want 2", len(list.Order))
	}
	must[mattermost.PostList](t, "GetPostsForChannel since")(a.GetPostsForChannel(ctx, town.ID, mattermost.PostsQuery{Since: 1}))
	must[mattermost.PostList](t, "GetPostsForChannel before")(a.GetPostsForChannel(ctx, town.ID, mattermost.PostsQuery{Before: root.ID, PerPage: 30, CollapsedThreads: true}))
	must[mattermost.PostList](t, "GetPostsAroundLastUnread")(cl.GetPostsAroundLastUnread(ctx, town.ID, 30, 30, false))
	must[mattermost.PostList](t, "GetPostThread")(a.GetPostThread(ctx, root.ID, 60, true))
	if res := must[mattermost.PostSearchResult](t, "SearchPosts")(a.SearchPosts(ctx, team.ID, `"edited" from:alice`, false, 0, 20)); len(res.Order) != 1 {
		t.Errorf("SearchPosts found %v; want the edited root", res.Order)
	}
	if us := must[[]mattermost.User](t, "SearchUsers")(a.SearchUsers(ctx, "car", team.ID, 10)); len(us) != 1 {
		t.Errorf("SearchUsers(car) = %d users; want carol", len(us))
	}
	must[[]mattermost.Channel](t, "SearchChannels")(a.SearchChannels(ctx, team.ID, "town"))
	must[[]mattermost.Channel](t, "SearchGroupChannels")(a.SearchGroupChannels(ctx, "bob"))
	must[mattermost.Reaction](t, "SaveReaction")(b.SaveReaction(ctx, root.ID, "smile"))
	must[[]mattermost.Reaction](t, "GetReactions")(a.GetReactions(ctx, root.ID))
	ok(t, "DeleteReaction", b.DeleteReaction(ctx, root.ID, "smile"))
	threads := must[mattermost.UserThreads](t, "GetUserThreads")(a.GetUserThreads(ctx, team.ID, mattermost.ThreadsQuery{PerPage: 25}))
	if threads.Total != 1 {
		t.Errorf("GetUserThreads total = %d; want 1", threads.Total)
	}
	must[mattermost.UserThreads](t, "GetUserThreads totals")(a.GetUserThreads(ctx, team.ID, mattermost.ThreadsQuery{TotalsOnly: true, Unread: true}))
	ok(t, "UpdateThreadRead", a.UpdateThreadRead(ctx, team.ID, root.ID, root.CreateAt))
	ok(t, "SetThreadFollowing", a.SetThreadFollowing(ctx, team.ID, root.ID, false))
	ok(t, "SetThreadFollowing", a.SetThreadFollowing(ctx, team.ID, root.ID, true))
	ok(t, "UpsertDraft", a.UpsertDraft(ctx, town.ID, "", "draft"))
	ok(t, "UpsertDraft", a.UpsertDraft(ctx, town.ID, root.ID, "reply draft"))
	if ds := must[[]mattermost.Draft](t, "GetDrafts")(a.GetDrafts(ctx, team.ID)); len(ds) != 2 {
		t.Errorf("GetDrafts = %d; want 2", len(ds))
	}
	ok(t, "DeleteDraft", a.DeleteDraft(ctx, town.ID, root.ID))
	ok(t, "DeleteDraft", a.DeleteDraft(ctx, town.ID, ""))
	ok(t, "DeletePost", a.DeletePost(ctx, root.ID))

	admin := tr.client(t, obs)
	must[mattermost.User](t, "admin Login")(admin.Login(ctx, "sysadmin", mmsim.DefaultConfig().Admin.Password))
	must[map[string]any](t, "GetConfig")(admin.GetConfig(ctx))

	ok(t, "Logout", cl.Logout(ctx))
	if _, err := cl.GetMe(ctx); mattermost.StatusOf(err) != 401 {
		t.Errorf("GetMe after Logout = %v; want a 401 *Error", err)
	}
	var appErr *mattermost.Error // CheckMe drops 2xx bodies only: an error's body is still read
	if err := cl.CheckMe(ctx); !errors.As(err, &appErr) || appErr.StatusCode != 401 || appErr.ID == "" {
		t.Errorf("CheckMe after Logout = %v; want a 401 *Error with its AppError id", err)
	}

	seen := tr.checked(t)
	mu.Lock()
	defer mu.Unlock()
	for r := range routes {
		if strings.Count(r, "/") > 1 && strings.ContainsAny(strings.Split(r, " ")[1], "0123456789") && !strings.Contains(r, "{") {
			t.Errorf("observer saw route %q, which looks like a raw path, not a template", r)
		}
	}
	t.Logf("the tour covered %d routes; apispec checked %d", len(routes), len(seen))
	if len(routes) < 60 {
		t.Errorf("the tour covered %d routes; the client has over 60 methods", len(routes))
	}
	if len(seen) < len(routes)-10 { // the root page, static assets and the undocumented routes are not checked
		t.Errorf("apispec checked %d routes of the %d the tour covered", len(seen), len(routes))
	}
}

// TestClient_Errors checks that failures become typed errors that name the call.
func TestClient_Errors(t *testing.T) {
	base := startServer(t)
	ctx := context.Background()
	var seen []mattermost.Request
	c, err := mattermost.New(base, mattermost.Options{Observer: func(r mattermost.Request) { seen = append(seen, r) }})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Login(ctx, "nobody", "wrong")
	var e *mattermost.Error
	if !errors.As(err, &e) || e.StatusCode != 401 || e.ID == "" || e.Route != "/users/login" {
		t.Fatalf("Login with bad credentials = %v; want *Error 401 with an id for /users/login", err)
	}
	if len(seen) != 1 || seen[0].Status != 401 || seen[0].Err == nil {
		t.Errorf("observer saw %+v; want one 401 request with its error", seen)
	}
	if _, err := c.GetChannel(ctx, strings.Repeat("a", 26)); mattermost.StatusOf(err) != 401 {
		t.Errorf("GetChannel without a session = %v; want 401", err)
	}
	if _, err := mattermost.New("localhost:8065", mattermost.Options{}); err == nil || !strings.Contains(err.Error(), "http(s)://") {
		t.Errorf("New with no scheme = %v; want an error naming the form", err)
	}
	dead, _ := mattermost.New("http://127.0.0.1:1", mattermost.Options{})
	if err := dead.Ping(ctx); err == nil || mattermost.StatusOf(err) != 0 || !strings.Contains(err.Error(), "/system/ping") {
		t.Errorf("Ping to a closed port = %v; want a transport error naming the route", err)
	}
}

// TestClient_Canceled checks that a request abandoned by its caller is reported as canceled,
// not as a timeout or a server error: before it is sent, and while the server hangs, where
// the call must end when its context does, and the client must still work after.
func TestClient_Canceled(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			arrived, release := make(chan struct{}, 1), make(chan struct{})
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/api/v4/system/ping" {
					arrived <- struct{}{}
					select {
					case <-release:
					case <-r.Context().Done():
					}
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"id": "me"}`))
			}))
			defer hs.Close()
			defer close(release)
			var mu sync.Mutex
			var got []mattermost.Request
			c := newClient(t, engine, hs.URL, mattermost.Options{Observer: func(r mattermost.Request) {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, r)
			}})

			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := c.Ping(ctx); err == nil {
				t.Fatal("Ping with a cancelled context succeeded")
			}
			ctx, cancel = context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- c.Ping(ctx) }()
			<-arrived
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Ping cancelled in flight = %v; want context.Canceled in the chain", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Ping to a hanging server did not end when its context was cancelled")
			}
			if _, err := c.GetMe(context.Background()); err != nil {
				t.Errorf("GetMe after a cancelled call = %v; want the client to work", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) != 3 {
				t.Fatalf("observed %d requests; want 3", len(got))
			}
			for i, r := range got[:2] {
				if !r.Canceled || r.Timeout || r.Status != 0 {
					t.Errorf("request %d observed as %+v; want canceled", i, r)
				}
			}
			if got[2].Canceled || got[2].Status != 200 {
				t.Errorf("GetMe observed as %+v; want a 200", got[2])
			}
		})
	}
}

// TestClient_Timeout checks that RequestTimeout ends a call to a server that hangs, and that
// the call is reported as a timeout.
func TestClient_Timeout(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			release := make(chan struct{})
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}))
			defer hs.Close()
			defer close(release)
			tc := mattermost.TransportConfig{RequestTimeout: 200 * time.Millisecond}
			var opts mattermost.Options
			if engine == "fasthttp" {
				opts.FastHTTP, _ = mattermost.NewFastHTTP(hs.URL, tc)
			} else {
				opts.HTTPClient = mattermost.NewHTTPClient(tc)
			}
			var got []mattermost.Request
			opts.Observer = func(r mattermost.Request) { got = append(got, r) }
			c := newClient(t, engine, hs.URL, opts)
			err := c.Ping(context.Background())
			if err == nil || !strings.Contains(err.Error(), "/system/ping") {
				t.Errorf("Ping to a hanging server = %v; want an error naming the route", err)
			}
			if len(got) != 1 || !got[0].Timeout || got[0].Canceled {
				t.Errorf("observed %+v; want one timed-out request", got)
			}
		})
	}
}

func TestCacheMaxAge(t *testing.T) {
	for _, c := range []struct {
		header string
		want   time.Duration
	}{
		{"max-age=86400, private", 24 * time.Hour},
		{"private, max-age=300", 5 * time.Minute},
		{"Max-Age=\"60\"", time.Minute},
		{"public", 0},
		{"", 0},
		{"max-age=86400, no-cache", 0},
		{"no-store, max-age=60", 0},
		{"max-age=-5", 0},
		{"max-age=soon", 0},
		{"max-age=99999999999999999", time.Duration(1<<63-1) / time.Second * time.Second},
	} {
		if got := mattermost.CacheMaxAge(c.header); got != c.want {
			t.Errorf("CacheMaxAge(%q) = %v; want %v", c.header, got, c.want)
		}
	}
}
