package controller

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/internal/backoff"
	"github.com/loadtest/loadtest/internal/usermetrics"
	"github.com/loadtest/loadtest/mattermost"
)

// periodicEvery is how often a simulative user polls statuses and reports client metrics.
const periodicEvery = 60 * time.Second

// periodicPhase is when a user's minute timer first fires after its login: a uniform draw
// in (0, periodicEvery]. Users are added together (a ramp adds a probe's users within
// seconds), and a timer started at the login would make all of them poll in the same second
// of every minute, a burst no real population of webapps sends.
func periodicPhase(rng *rand.Rand) time.Duration {
	return time.Duration(rng.Int64N(int64(periodicEvery))) + 1
}

// Profiles of the users an event names (a post's author, who is typing) are fetched as the
// webapp fetches them: the unknown ids wait in a batch that its own timer flushes every
// profileBatchEvery, or at once when profileBatchMax are waiting. Users woken by one event
// then ask for the author at their own moments in the next 10 s, in one request for
// several authors, instead of all in the same millisecond, one request each.
const (
	profileBatchEvery = 10 * time.Second
	profileBatchMax   = 50
)

// Simulative is the realistic user: it logs in as the webapp does, reloads, then picks
// actions by weight with think times between them, and reacts to WebSocket events. Its Run
// goroutine owns all the fields below; the WebSocket reader hands events over a channel.
type Simulative struct {
	env    *Env
	id     int
	cfg    agentconfig.SimulativeConfig
	picker Picker
	simple []agentconfig.SimpleAction // set for the simple controller: a fixed cycle instead of weights
	cycle  int                        // simple: the current cycle
	pos    int                        // simple: index of the last action run
	mult   float64
	rng    *rand.Rand

	c      *mattermost.Client
	ws     *mattermost.WebSocket
	wsStop context.CancelFunc
	wsWG   sync.WaitGroup
	wake   chan struct{} // Run's one wake-up: its WebSocket's events, its timer, ctx

	teamID   string
	chans    map[ref]channel // the team's channels the user is in, plus direct and group ones
	current  ref             // the channel in view; the zero ref before the first
	posts    postStore       // the posts the user saw
	people   people          // the users it knows of
	images   imageCache      // its browser's cache of profile pictures, which a reload keeps
	threads  []ref           // thread ids from the last threads view
	pending  []string        // unknown users an event named, to fetch at the next batch
	typing   bool            // EnableUserTypingMessages
	maxNotif int             // MaxNotificationsPerChannel
}

type action func(*Simulative, context.Context) error

// simulativeActions maps action names (the keys of agentconfig.DefaultActionWeights) to code.
var simulativeActions = map[string]action{
	"SwitchChannel": (*Simulative).switchChannel, "ScrollChannel": (*Simulative).scrollChannel,
	"DeleteDraft": (*Simulative).deleteDraft, "UnreadCheck": (*Simulative).unreadCheck,
	"CreatePost": (*Simulative).createPost, "OpenDirectOrGroupChannel": (*Simulative).openDirectOrGroup,
	"ViewGlobalThreads": (*Simulative).viewGlobalThreads, "UpsertDraft": (*Simulative).upsertDraft,
	"UpdateThreadRead": (*Simulative).updateThreadRead, "ClickPermalink": (*Simulative).clickPermalink,
	"ViewThread": (*Simulative).viewThread, "ReconnectWebSocket": (*Simulative).reconnectWebSocket,
	"AddReaction": (*Simulative).addReaction, "EditPost": (*Simulative).editPost, "GetDrafts": (*Simulative).getDrafts,
	"SearchUsers": (*Simulative).searchUsers, "ClickUserProfile": (*Simulative).clickUserProfile,
	"SearchPosts": (*Simulative).searchPosts, "SearchGroupChannels": (*Simulative).searchGroupChannels,
	"SearchChannels": (*Simulative).searchChannels, "CreateDirectChannel": (*Simulative).createDirectChannel,
	"UnfollowThread": func(s *Simulative, ctx context.Context) error { return s.setFollowing(ctx, false) },
	"FollowThread":   func(s *Simulative, ctx context.Context) error { return s.setFollowing(ctx, true) },
	"JoinChannel":    (*Simulative).joinChannel, "DeletePost": (*Simulative).deletePost,
	"CreateGroupChannel": (*Simulative).createGroupChannel,
	"FullReload":         func(s *Simulative, ctx context.Context) error { return s.reload(ctx, true) },
	"LogoutLogin":        (*Simulative).logoutLogin,
	"CreatePrivateChannel": func(s *Simulative, ctx context.Context) error {
		return s.createChannel(ctx, "P")
	},
	"CreatePublicChannel": func(s *Simulative, ctx context.Context) error { return s.createChannel(ctx, "O") },
	"MarkAllThreadsInTeamAsRead": func(s *Simulative, ctx context.Context) error {
		return s.c.MarkAllThreadsRead(ctx, s.teamID)
	},
}

func newSimulative(e *Env, picker Picker, id int) *Simulative {
	return &Simulative{env: e, id: id, cfg: e.Config.UserControllerConfiguration.Simulative, picker: picker,
		mult: e.Multiplier(id), rng: rand.New(rand.NewPCG(uint64(id), uint64(time.Now().UnixNano()))),
		chans: map[ref]channel{}, wake: make(chan struct{}, 1)}
}

// inView returns the id of the channel in view, or "" before the first.
func (s *Simulative) inView() string {
	if s.current == (ref{}) {
		return ""
	}
	return s.current.Value()
}

// addChannel remembers a channel the user is in.
func (s *Simulative) addChannel(c mattermost.Channel) {
	k := intern(c.ID)
	ch := storeChannel(c)
	ch.viewedAt = s.chans[k].viewedAt
	s.chans[k] = ch
}

// Run implements loadtest.User.
func (s *Simulative) Run(ctx context.Context) error {
	c, err := s.env.NewClient()
	if err != nil {
		return err
	}
	s.c = c
	if s.env.PoolPerUser() {
		defer c.CloseIdleConnections()
	}
	started := s.env.Metrics.Starting()
	err = s.start(ctx)
	started()
	if err != nil {
		s.stopWS()
		return err
	}
	defer logout(ctx, c)
	defer s.stopWS()

	// The user waits on one channel, s.wake, for everything: its WebSocket's events (the
	// WebSocket sends its tokens there), its one timer (armed for the earliest of the next
	// action, the minute timer and the profile batch) and ctx. A select over five channels
	// per wake-up was a sixth of the agent's CPU when every post woke thousands of users.
	poke := func() {
		select {
		case s.wake <- struct{}{}:
		default: // a token is already waiting
		}
	}
	defer context.AfterFunc(ctx, poke)()
	timer := time.AfterFunc(time.Hour, poke)
	defer timer.Stop()
	now := time.Now()
	periodicAt := now.Add(periodicPhase(s.rng))
	profilesAt := now.Add(time.Duration(s.rng.Int64N(int64(profileBatchEvery))) + 1) // a phase of its own, as periodic's
	fails := 0
	s.pos = -1
	name, wait := s.next()
	var planned time.Time // when the last action was due
	open := s.env.OpenPacing()
	for {
		now := time.Now()
		if fails > 0 {
			// After failures in a row the think time doubles for each, up to 32 times: the
			// one backoff rule, with no jitter of its own, as the think time is random
			// already; from the failure's end, whatever the pacing.
			planned = now.Add(backoff.Policy{Initial: wait, Max: 32 * wait}.Delay(fails+1, 0))
		} else {
			var dropped int
			planned, dropped = NextDue(open, planned, now, wait)
			if dropped > 0 {
				s.env.Metrics.DropArrivals(dropped)
			}
		}
		// freeAt is when the last event or periodic handler returned: the time they spent
		// waiting on the server is the target's, not schedule lag of the agent's.
		freeAt := time.Time{}
		for {
			if ctx.Err() != nil {
				return nil
			}
			if ws := s.ws; ws != nil {
				handled := false
				for ev := ws.Next(); ev != nil; ev = ws.Next() {
					s.env.Metrics.EventReceived()
					s.onEvent(ctx, *ev)
					handled = true
				}
				if ws.Closed() {
					// The WebSocket gave up, which it does only when the session is rejected:
					// end this session so the engine logs the user in again.
					return errors.New("websocket closed: the server rejected the session")
				}
				if handled {
					freeAt = time.Now()
				}
			}
			now := time.Now()
			if !now.Before(periodicAt) {
				s.periodic(ctx)
				freeAt = time.Now()
				periodicAt = freeAt.Add(periodicEvery)
			}
			if !now.Before(profilesAt) {
				s.flushProfiles(ctx)
				freeAt = time.Now()
				profilesAt = freeAt.Add(profileBatchEvery)
			}
			now = time.Now() // the handlers above may have taken a while
			if !now.Before(planned) {
				break
			}
			timer.Reset(earliest(planned, periodicAt, profilesAt).Sub(now))
			<-s.wake
		}
		s.env.Metrics.ObserveLag(time.Since(later(planned, freeAt)))
		start := time.Now()
		err := simulativeActions[name](s, ctx)
		if ctx.Err() != nil {
			return nil
		}
		s.env.Metrics.ObserveAction(name, time.Since(start), err)
		switch {
		case mattermost.StatusOf(err) == http.StatusUnauthorized:
			return err // the session is gone: the engine logs the user in again
		case err != nil && !errors.Is(err, usermetrics.ErrSkipped):
			fails++
			s.env.Log.Debug("action failed", "user", s.id, "action", name, "err", err)
		default:
			fails = 0
		}
		name, wait = s.next()
	}
}

// next returns the next action and the wait before it: for simulative users an action drawn
// by weight after a think time, for simple users the next step of the cycle after the wait
// the previous step asked for.
func (s *Simulative) next() (string, time.Duration) {
	if s.simple == nil {
		return s.picker.Pick(s.rng.Float64()), ThinkTime(s.cfg, s.mult, s.rng.Float64())
	}
	wait := time.Duration(0)
	if s.pos >= 0 {
		wait = time.Duration(float64(s.simple[s.pos].WaitAfterMs)*s.mult) * time.Millisecond
	}
	s.pos, s.cycle = SimpleNext(s.simple, s.cycle, s.pos)
	return s.simple[s.pos].ActionId, wait
}

// start is the webapp's start-up: root page and assets, login (or sign-up), client config,
// teams, the WebSocket, joining a team, a reload, and a first channel.
func (s *Simulative) start(ctx context.Context) error {
	if err := s.loadRoot(ctx); err != nil {
		return err
	}
	if _, err := LoginOrSignUp(ctx, s.c, s.env.Username(s.id)); err != nil {
		return err
	}
	cfg, err := s.c.GetClientConfig(ctx)
	if err != nil {
		return err
	}
	s.typing = cfg["EnableUserTypingMessages"] == "true"
	s.maxNotif, _ = strconv.Atoi(cfg["MaxNotificationsPerChannel"])
	if _, err := s.c.GetTeams(ctx, 0, 100); err != nil {
		return err
	}
	s.startWS(ctx)
	var users []mattermost.User
	if s.teamID, users, err = JoinTeam(ctx, s.c, s.env.Username(s.id)); err != nil {
		return err
	}
	s.learn(users)
	if err := s.reload(ctx, false); err != nil {
		return err
	}
	for id, ch := range s.chans {
		if ch.name.Value() == "town-square" {
			return s.viewChannel(ctx, id.Value())
		}
	}
	return s.switchChannel(ctx)
}

func (s *Simulative) loadRoot(ctx context.Context) error {
	_, assets, err := s.c.RootPage(ctx)
	if err != nil {
		return err
	}
	for _, a := range assets {
		if err := s.c.GetAsset(ctx, a); err != nil {
			return err
		}
	}
	return nil
}

func (s *Simulative) startWS(ctx context.Context) {
	wctx, stop := context.WithCancel(ctx)
	s.ws = s.c.NewWebSocket(s.env.Metrics.WebSocketOptions(mattermost.WebSocketOptions{Events: s.env.events, Ready: s.wake}))
	s.wsStop = stop
	ws := s.ws
	s.wsWG.Go(func() { _ = ws.Run(wctx) }) // ends with wctx; failures show in its stats and metrics
}

func (s *Simulative) stopWS() {
	if s.wsStop != nil {
		s.wsStop()
		s.wsWG.Wait()
		s.ws, s.wsStop = nil, nil
	}
}

// reload is what the webapp fetches when it (re)loads; full also reconnects the WebSocket and
// reloads the page.
func (s *Simulative) reload(ctx context.Context, full bool) error {
	if full {
		s.stopWS()
		s.clearStore()
		if err := s.loadRoot(ctx); err != nil {
			return err
		}
		s.startWS(ctx)
		users, err := s.c.GetUsers(ctx, mattermost.UsersQuery{PerPage: 100})
		if err != nil {
			return err
		}
		s.learn(users)
	}
	steps := []func() error{
		func() error { _, err := s.c.GetPreferences(ctx); return err },
		func() error {
			me, err := s.c.GetMe(ctx)
			if err == nil {
				_, err = s.c.GetRolesByNames(ctx, append(mattermost.RolesOf(me.Roles), "team_user", "channel_user"))
			}
			return err
		},
		func() error { return s.c.GetWebappPlugins(ctx) },
		func() error { _, err := s.c.GetTeamsForUser(ctx); return err },
		func() error { _, err := s.c.GetTeamMembersForUser(ctx); return err },
		func() error { return s.refreshChannels(ctx) },
		func() error { _, err := s.c.GetChannelsForUser(ctx); return err },
		func() error { _, err := s.c.GetChannelMembersForUser(ctx, 0, 200); return err },
		func() error { _, err := s.c.GetTeamsUnread(ctx, s.teamID); return err },
		func() error { _, err := s.c.GetUserStatus(ctx, s.c.UserID()); return err },
		func() error { _, err := s.c.GetCategories(ctx, s.teamID); return err },
		func() error {
			_, err := s.c.GetUserThreads(ctx, s.teamID, mattermost.ThreadsQuery{TotalsOnly: true})
			return err
		},
	}
	for _, f := range steps {
		if err := f(); err != nil {
			return err
		}
	}
	if cur := s.inView(); cur != "" {
		if _, err := s.c.GetChannelStats(ctx, cur, true); err != nil {
			return err
		}
		if _, err := s.c.GetChannelUnread(ctx, cur); err != nil {
			return err
		}
	}
	return nil
}

func (s *Simulative) refreshChannels(ctx context.Context) error {
	chans, err := s.c.GetChannelsForTeamForUser(ctx, s.teamID, true)
	if err != nil {
		return err
	}
	old := s.chans
	s.chans = make(map[ref]channel, len(chans))
	for _, c := range chans {
		k := intern(c.ID)
		ch := storeChannel(c)
		ch.viewedAt = old[k].viewedAt
		s.chans[k] = ch
	}
	_, err = s.c.GetChannelMembersForTeamForUser(ctx, s.teamID)
	return err
}

// periodic is the webapp's minute timer: statuses of visible authors and a perf report.
func (s *Simulative) periodic(ctx context.Context) {
	var ids []string
	for i, p := range s.people.all {
		if p.profile {
			ids = append(ids, s.people.ids[i].Value())
			if len(ids) == 100 {
				break
			}
		}
	}
	if len(ids) > 0 {
		_ = s.c.LoadStatusesByIDs(ctx, ids) // counted by the observer; nothing to do on failure
	}
	_ = s.c.SubmitClientPerf(ctx, map[string]any{"version": "0.1.0", "client_id": s.env.Username(s.id),
		"counters": []any{}, "histograms": []any{}}) // as above
}

// onEvent updates the user's state from an event and fetches what the webapp would. A
// post is decoded only when the user keeps it: when it is in the channel in view, new
// somewhere the user did not know it was, or deleted.
func (s *Simulative) onEvent(ctx context.Context, ev mattermost.Event) {
	switch ev.Event {
	case "posted", "post_edited", "post_deleted":
		ch := intern(ev.Broadcast.ChannelID)
		_, in := s.chans[ch]
		if ch != s.current && in && ev.Event != "post_deleted" {
			return
		}
		p, err := ev.Data.DecodePost()
		if err != nil {
			return
		}
		if !in && ev.Event == "posted" {
			// A channel the user did not know it was in (a new DM, say): fetch the membership.
			if _, err := s.c.GetChannelMember(ctx, p.ChannelID, s.c.UserID()); err == nil {
				if c, err := s.c.GetChannel(ctx, p.ChannelID); err == nil {
					s.addChannel(c)
				}
			}
		}
		switch {
		case ev.Event == "post_deleted":
			s.posts.remove(intern(p.ID)) // in any channel, as the webapp's store does
			s.threads = slices.DeleteFunc(s.threads, func(t ref) bool { return t.Value() == p.ID })
		case p.ChannelID == s.inView():
			s.posts.add(storePost(p))
			s.wantProfile(ctx, p.UserID)
		}
	case "typing":
		if uid := ev.Data.UserID; uid != "" {
			s.wantProfile(ctx, uid)
		}
	}
}

// keepPosts remembers the posts a response carried (newest first, as Mattermost orders a
// page): the newest maxStoredPosts of them, added oldest first, so that the store, which
// forgets what it stored first, keeps the newest of a long page rather than its oldest.
// A page of at least maxStoredPosts is all the store will keep, so the store is emptied
// first: then no post of the page is looked up (each is newer than the one before).
func (s *Simulative) keepPosts(ps []*mattermost.Post) {
	n := min(len(ps), maxStoredPosts)
	if n == maxStoredPosts {
		s.posts.clear()
	}
	for i := n - 1; i >= 0; i-- {
		s.posts.add(storePost(*ps[i]))
	}
}

// listPosts returns a page's posts in its order, newest first.
func listPosts(l mattermost.PostList) []*mattermost.Post {
	out := make([]*mattermost.Post, 0, len(l.Order))
	for _, id := range l.Order {
		if p := l.Posts[id]; p != nil {
			out = append(out, p)
		}
	}
	return out
}

// fetchUsers loads the profiles of ids and keeps them as known. The user keeps only the
// ids, which it has, so the profiles are not decoded.
func (s *Simulative) fetchUsers(ctx context.Context, ids []string) error {
	if err := s.c.LoadUsersByIDs(ctx, ids, 0); err != nil {
		return err
	}
	for _, id := range ids {
		s.people.at(id).profile = true
	}
	return nil
}

// wantProfile puts an unknown user in the next batch of profiles to fetch; a full batch is
// fetched at once.
func (s *Simulative) wantProfile(ctx context.Context, id string) {
	if s.people.knows(id) || slices.Contains(s.pending, id) {
		return
	}
	s.pending = append(s.pending, id)
	if len(s.pending) >= profileBatchMax {
		s.flushProfiles(ctx)
	}
}

// flushProfiles fetches the batch of profiles events asked for, if any. A failure is
// counted by the observer; the ids stay unknown, so the next event asks again.
func (s *Simulative) flushProfiles(ctx context.Context) {
	if len(s.pending) == 0 {
		return
	}
	ids := s.pending
	s.pending = nil
	var unknown []string
	for _, id := range ids {
		if !s.people.knows(id) { // learnt meanwhile from another response
			unknown = append(unknown, id)
		}
	}
	if len(unknown) > 0 {
		_ = s.fetchUsers(ctx, unknown)
	}
}

// learn keeps the profiles of users a response carried, as the webapp's store (and the
// reference's) keeps every user any call returned: an event from one of them needs no fetch.
func (s *Simulative) learn(users []mattermost.User) {
	for _, u := range users {
		s.people.at(u.ID).profile = true
	}
}

// clearStore forgets what the user had loaded, as a page reload empties the webapp's store.
// The channels and the current one are kept: the reload that follows fetches the channels
// again, and the page reloads at the same channel.
func (s *Simulative) clearStore() {
	for k, c := range s.chans {
		c.viewedAt = 0
		s.chans[k] = c
	}
	s.posts.clear()
	s.people.clear()
	s.threads, s.pending = nil, nil
}

// renderedPosts is how many posts of a view the webapp puts on the page at first, newest
// first: its post list is virtualized and slices a channel's posts to 50
// (MAXIMUM_POSTS_FOR_SLICING), so the browser asks only for the pictures of their authors.
const renderedPosts = 50

// fetchPostsInfo fetches what a channel view needs besides the posts (ps, newest first, as
// Mattermost orders a post list): unknown authors and their statuses, profile pictures,
// mentioned users, and image thumbnails. The pictures are those of the authors of every
// post with ProfileImages "revalidate", as mattermost-load-test-ng asks; in a browser, of
// the renderedPosts newest, unless its cache has them.
func (s *Simulative) fetchPostsInfo(ctx context.Context, ps []*mattermost.Post) error {
	browser := s.cfg.ProfileImages != agentconfig.ProfileImagesRevalidate
	var unknown, noStatus, authors []string
	var shown []int // indexes in authors of those whose pictures are shown
	var mentioned []string
	var thumbs []string // file ids of the images the posts show
	for i, p := range ps {
		if p.Metadata != nil {
			for _, f := range p.Metadata.Files {
				if f.HasPreviewImage {
					thumbs = append(thumbs, f.ID)
				}
			}
		}
		a := slices.Index(authors, p.UserID)
		if a < 0 {
			a = len(authors)
			authors = append(authors, p.UserID)
			who := s.people.get(p.UserID)
			if who == nil || !who.profile {
				unknown = append(unknown, p.UserID)
			}
			if who == nil || !who.status {
				noStatus = append(noStatus, p.UserID)
			}
		}
		if (!browser || i < renderedPosts) && !slices.Contains(shown, a) {
			shown = append(shown, a)
		}
		if strings.IndexByte(p.Message, '@') < 0 {
			continue // most posts mention no one
		}
		for _, w := range strings.Fields(p.Message) {
			if len(w) < 2 || w[0] != '@' {
				continue
			}
			if name := strings.TrimRight(w[1:], ".,:;!?"); name != "" && !slices.Contains(mentioned, name) {
				mentioned = append(mentioned, strings.Clone(name)) // not a piece of the message
			}
		}
	}
	// Nothing below reads the page: the collector may free it while the requests run (at
	// 5,000 users of the small shape, pages waiting on their pictures were a third of the heap).
	if len(noStatus) > 0 {
		if err := s.c.LoadStatusesByIDs(ctx, noStatus); err != nil {
			return err
		}
		for _, id := range noStatus {
			s.people.at(id).status = true
		}
	}
	if len(unknown) > 0 {
		if err := s.fetchUsers(ctx, unknown); err != nil {
			return err
		}
	}
	now := uint32(time.Now().Unix())
	for _, a := range shown {
		id := authors[a]
		var key uint32
		if browser {
			if key = imageKey(id); s.images.fresh(key, now) {
				continue // shown from the browser's cache
			}
		}
		who := s.people.at(id)
		sent := ""
		if who.hasETag {
			sent = strconv.FormatInt(who.etag, 10)
		}
		img, err := s.c.GetProfileImage(ctx, id, sent)
		if err != nil {
			return err
		}
		if browser {
			s.images.answered(key, now, img)
		}
		if img.ETag == "" {
			who.hasETag = who.hasETag && img.NotModified // a 304 keeps the cached picture
			continue
		}
		n, err := strconv.ParseInt(img.ETag, 10, 64)
		if err != nil {
			return fmt.Errorf("profile image ETag %q of %s is not an integer", img.ETag, id)
		}
		who.etag, who.hasETag = n, true
	}
	if len(mentioned) > 0 {
		us, err := s.c.GetUsersByUsernames(ctx, mentioned)
		if err != nil {
			return err
		}
		s.learn(us)
	}
	for _, id := range thumbs {
		if err := s.c.GetFileThumbnail(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// earliest is the earliest of times.
func earliest(t time.Time, ts ...time.Time) time.Time {
	for _, u := range ts {
		if u.Before(t) {
			t = u
		}
	}
	return t
}

// later is the later of two times.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
