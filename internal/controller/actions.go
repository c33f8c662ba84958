package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/loadtest/loadtest/internal/usermetrics"
	"github.com/loadtest/loadtest/mattermost"
)

// The actions of the simulative user, as the reference's request sequences describe them
// (shared/reference/mattermost-load-test-ng.md §5.4). Each returns usermetrics.ErrSkipped
// when there is nothing to act on.

var errSkipped = usermetrics.ErrSkipped

func nowMs() int64 { return time.Now().UnixMilli() }

// pickChannel returns a random channel the user is in that keep accepts, or "".
func (s *Simulative) pickChannel(keep func(ref, channel) bool) string {
	var ids []ref
	for id, c := range s.chans {
		if keep(id, c) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return ""
	}
	return ids[s.rng.IntN(len(ids))].Value() // a uniform draw from the slice, whatever its order
}

// viewChannel opens a channel as the webapp does.
func (s *Simulative) viewChannel(ctx context.Context, ch string) error {
	prev := s.inView()
	if prev != "" && prev != ch {
		if err := s.c.ViewChannel(ctx, prev, ""); err != nil { // the webapp marks the old one read first
			return err
		}
	}
	k := intern(ch)
	var list mattermost.PostList
	var err error
	if since := s.chans[k].viewedAt; since != 0 {
		list, err = s.c.GetPostsForChannel(ctx, ch, mattermost.PostsQuery{Since: since})
	} else {
		list, err = s.c.GetPostsAroundLastUnread(ctx, ch, 30, 30, false)
	}
	if err != nil {
		return err
	}
	ps := listPosts(list)
	s.keepPosts(ps)
	if err := s.fetchPostsInfo(ctx, ps); err != nil {
		return err
	}
	if _, err := s.c.GetChannelStats(ctx, ch, s.rng.IntN(100) != 0); err != nil {
		return err
	}
	if c := s.chans[k]; c.typ == mattermost.ChannelDirect || c.typ == mattermost.ChannelGroup {
		cat, name := "group_channel_show", ch
		if c.typ == mattermost.ChannelDirect {
			cat, name = "direct_channel_show", strings.Replace(strings.Replace(c.name.Value(), s.c.UserID(), "", 1), "__", "", 1)
		}
		if err := s.c.UpdatePreferences(ctx, []mattermost.Preference{{Category: cat, Name: name, Value: "true"},
			{Category: "channel_open_time", Name: ch, Value: fmt.Sprint(nowMs())}}); err != nil {
			return err
		}
	}
	if err := s.c.ViewChannel(ctx, ch, prev); err != nil {
		return err
	}
	if c, ok := s.chans[k]; ok {
		c.viewedAt = nowMs()
		s.chans[k] = c
	}
	s.current = k
	if s.ws != nil && s.ws.Connected() {
		_ = s.ws.Presence(ctx, ch) // a closed socket is the WebSocket's business, counted there
	}
	return nil
}

func (s *Simulative) switchChannel(ctx context.Context) error {
	ch := s.pickChannel(func(id ref, c channel) bool { return c.team() && id != s.current && !c.deleted })
	if ch == "" {
		return errSkipped
	}
	return s.viewChannel(ctx, ch)
}

// scrollChannel loads 1-5 older pages of the current channel, pausing between them.
func (s *Simulative) scrollChannel(ctx context.Context) error {
	cur := s.inView()
	if cur == "" {
		return errSkipped
	}
	for page := range 1 + s.rng.IntN(5) {
		if page > 0 {
			t := time.NewTimer(ThinkTime(s.cfg, s.mult, s.rng.Float64()) / 4)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		q := mattermost.PostsQuery{PerPage: 30}
		if p, ok := s.posts.oldest(s.current); ok {
			q.Before = p.id.Value()
		}
		list, err := s.c.GetPostsForChannel(ctx, cur, q)
		if err != nil {
			return err
		}
		ps := listPosts(list)
		if len(ps) == 0 {
			return nil // the top of the channel
		}
		s.keepPosts(ps)
		if err := s.fetchPostsInfo(ctx, ps); err != nil {
			return err
		}
	}
	return nil
}

func (s *Simulative) deleteDraft(ctx context.Context) error {
	if s.inView() == "" {
		return errSkipped
	}
	return s.c.DeleteDraft(ctx, s.inView(), "")
}

func (s *Simulative) upsertDraft(ctx context.Context) error {
	if s.inView() == "" {
		return errSkipped
	}
	return s.c.UpsertDraft(ctx, s.inView(), "", Message(s.rng, 10))
}

func (s *Simulative) getDrafts(ctx context.Context) error {
	_, err := s.c.GetDrafts(ctx, s.teamID)
	return err
}

// unreadCheck is what refocusing the tab fetches.
func (s *Simulative) unreadCheck(ctx context.Context) error {
	if err := s.refreshChannels(ctx); err != nil {
		return err
	}
	if s.inView() == "" {
		return nil
	}
	return s.c.ViewChannel(ctx, s.inView(), "")
}

// createPost types and sends a post in the current channel: sometimes a reply, a mention
// (typed with autocomplete), a link, files, or urgent.
func (s *Simulative) createPost(ctx context.Context) error {
	ch := s.inView()
	if ch == "" {
		return errSkipped
	}
	if s.typing && s.ws != nil && s.ws.Connected() {
		if n, err := s.c.GetChannelStats(ctx, ch, true); err == nil && n < s.maxNotif {
			_ = s.ws.UserTyping(ctx, ch, "") // a closed socket is counted by the WebSocket
		}
	}
	np := mattermost.NewPost{ChannelID: ch}
	avg := 35
	if s.rng.Float64() < s.cfg.PercentReplies {
		if root, ok := s.posts.pick(func(p storedPost) bool { return p.channel == s.current && !p.reply }, s.rng.IntN); ok {
			np.RootID, avg = root.id.Value(), 24
		}
	}
	var parts []string
	if s.rng.Float64() < s.cfg.PercentMentions {
		name, err := s.typeMention(ctx, ch)
		if err != nil {
			return err
		}
		if name != "" {
			parts = append(parts, "@"+name)
		}
	}
	if s.rng.Float64() < s.cfg.PercentLinks {
		parts = append(parts, "https://example.com/docs/"+Emoji(s.rng))
	}
	np.Message = strings.Join(append(parts, Message(s.rng, avg)), " ")
	if np.RootID == "" && s.rng.Float64() < s.cfg.PercentUrgentPosts {
		np.Metadata = &struct {
			Priority map[string]any `json:"priority,omitempty"`
		}{Priority: map[string]any{"priority": "urgent"}}
	}
	if s.rng.Float64() < s.cfg.PercentFiles {
		for range 1 + s.rng.IntN(3) {
			f, err := s.c.UploadFile(ctx, ch, "image.png", "image/png", pngBytes)
			if err != nil {
				return err
			}
			np.FileIDs = append(np.FileIDs, f.ID)
		}
	}
	p, err := s.c.CreatePost(ctx, np)
	var e *mattermost.Error
	if np.RootID != "" && errors.As(err, &e) && e.ID == "api.post.create_post.root_id.app_error" {
		// The root was deleted since the user saw it.
		s.posts.remove(intern(np.RootID))
		return errSkipped
	}
	if err != nil {
		return err
	}
	s.posts.add(storePost(p))
	return nil
}

// pngBytes is a minimal PNG signature: servers sniff, mmsim only counts bytes.
var pngBytes = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")

// typeMention types @ and the first letters of a channel member's name, asking the
// autocomplete at each keystroke, as the webapp does; it returns the name picked.
func (s *Simulative) typeMention(ctx context.Context, ch string) (string, error) {
	users, err := s.c.GetUsers(ctx, mattermost.UsersQuery{InChannel: ch, PerPage: 20})
	if err != nil || len(users) == 0 {
		return "", err
	}
	s.learn(users)
	name := users[s.rng.IntN(len(users))].Username
	for i := 1; i <= min(len(name), 4); i++ {
		in, out, err := s.c.AutocompleteUsers(ctx, s.teamID, ch, name[:i], 25)
		if err != nil {
			return "", err
		}
		s.learn(in)
		s.learn(out)
	}
	return name, nil
}

func (s *Simulative) openDirectOrGroup(ctx context.Context) error {
	ch := s.pickChannel(func(id ref, c channel) bool { return !c.team() && id != s.current })
	if ch == "" {
		return s.createDirectChannel(ctx)
	}
	return s.viewChannel(ctx, ch)
}

func (s *Simulative) viewGlobalThreads(ctx context.Context) error {
	all, err := s.c.GetUserThreads(ctx, s.teamID, mattermost.ThreadsQuery{PerPage: 25})
	if err != nil {
		return err
	}
	s.threads = s.threads[:0]
	for _, t := range all.Threads[:min(len(all.Threads), maxStoredThreads)] {
		s.threads = append(s.threads, intern(t.ID))
	}
	_, err = s.c.GetUserThreads(ctx, s.teamID, mattermost.ThreadsQuery{PerPage: 25, Unread: true})
	return err
}

// thread returns a thread id the user knows, looking at its threads first if needed.
func (s *Simulative) thread(ctx context.Context) (string, error) {
	if len(s.threads) == 0 {
		if err := s.viewGlobalThreads(ctx); err != nil {
			return "", err
		}
	}
	if len(s.threads) == 0 {
		return "", errSkipped
	}
	return s.threads[s.rng.IntN(len(s.threads))].Value(), nil
}

func (s *Simulative) updateThreadRead(ctx context.Context) error {
	id, err := s.thread(ctx)
	if err != nil {
		return err
	}
	return s.threadGone(id, s.c.UpdateThreadRead(ctx, s.teamID, id, nowMs()))
}

func (s *Simulative) setFollowing(ctx context.Context, follow bool) error {
	id, err := s.thread(ctx)
	if err != nil {
		return err
	}
	return s.threadGone(id, s.c.SetThreadFollowing(ctx, s.teamID, id, follow))
}

// threadGone forgets a thread whose root was deleted (404) and skips the action.
func (s *Simulative) threadGone(id string, err error) error {
	if mattermost.IsNotFound(err) {
		s.threads = slices.DeleteFunc(s.threads, func(t ref) bool { return t.Value() == id })
		return errSkipped
	}
	return err
}

// knownPost returns a random remembered post that keep accepts.
func (s *Simulative) knownPost(keep func(storedPost) bool) (storedPost, bool) {
	return s.posts.pick(keep, s.rng.IntN)
}

// gone handles an error on a remembered post: a 404 means someone deleted it since, so the
// user forgets it and the action counts as skipped, as a webapp would have removed it.
func (s *Simulative) gone(p storedPost, err error) error {
	if mattermost.IsNotFound(err) {
		s.posts.remove(p.id)
		return errSkipped
	}
	return err
}

func (s *Simulative) clickPermalink(ctx context.Context) error {
	p, ok := s.knownPost(func(storedPost) bool { return true })
	if !ok {
		return errSkipped
	}
	if _, err := s.c.GetPostThread(ctx, p.id.Value(), 0, false); err != nil {
		return s.gone(p, err)
	}
	if _, err := s.c.GetChannel(ctx, p.channel.Value()); err != nil {
		return err
	}
	_, err := s.c.GetChannelMember(ctx, p.channel.Value(), s.c.UserID())
	return err
}

func (s *Simulative) viewThread(ctx context.Context) error {
	p, ok := s.knownPost(func(p storedPost) bool { return !p.reply && p.channel == s.current })
	if !ok {
		return errSkipped
	}
	list, err := s.c.GetPostThread(ctx, p.id.Value(), 60, true)
	if err != nil {
		return s.gone(p, err)
	}
	return s.fetchPostsInfo(ctx, listPosts(list))
}

// reconnectWebSocket drops the connection and resyncs as the webapp does after one.
func (s *Simulative) reconnectWebSocket(ctx context.Context) error {
	if s.ws != nil {
		s.ws.Reconnect()
	}
	if err := s.refreshChannels(ctx); err != nil {
		return err
	}
	if cur := s.inView(); cur != "" {
		if _, err := s.c.GetPostsForChannel(ctx, cur, mattermost.PostsQuery{Since: s.chans[s.current].viewedAt}); err != nil {
			return err
		}
	}
	if err := s.c.LoadStatusesByIDs(ctx, []string{s.c.UserID()}); err != nil {
		return err
	}
	if _, err := s.c.GetTeamsUnread(ctx, s.teamID); err != nil {
		return err
	}
	if err := s.c.GetWebappPlugins(ctx); err != nil {
		return err
	}
	return s.c.LoadUsersByIDs(ctx, []string{s.c.UserID()}, nowMs()-60000)
}

func (s *Simulative) addReaction(ctx context.Context) error {
	p, ok := s.knownPost(func(p storedPost) bool { return p.channel == s.current })
	if !ok {
		return errSkipped
	}
	_, err := s.c.SaveReaction(ctx, p.id.Value(), Emoji(s.rng))
	return s.gone(p, err)
}

func (s *Simulative) ownPost() (storedPost, bool) {
	me := intern(s.c.UserID())
	return s.knownPost(func(p storedPost) bool { return p.user == me && !p.deleted })
}

func (s *Simulative) editPost(ctx context.Context) error {
	p, ok := s.ownPost()
	if !ok {
		return errSkipped
	}
	// The user keeps no message text: the edit types a new one.
	np, err := s.c.PatchPost(ctx, p.id.Value(), Message(s.rng, 35)+" (edited)")
	if err != nil {
		return s.gone(p, err)
	}
	s.posts.add(storePost(np))
	return nil
}

func (s *Simulative) deletePost(ctx context.Context) error {
	p, ok := s.ownPost()
	if !ok {
		return errSkipped
	}
	if err := s.c.DeletePost(ctx, p.id.Value()); err != nil {
		return s.gone(p, err)
	}
	s.posts.remove(p.id)
	return nil
}

// searchUsers types a name prefix, searching at each keystroke.
func (s *Simulative) searchUsers(ctx context.Context) error {
	term := s.env.AgentID
	for i := 1; i <= min(len(term), 3); i++ {
		us, err := s.c.SearchUsers(ctx, term[:i], s.teamID, 100)
		if err != nil {
			return err
		}
		s.learn(us)
	}
	return nil
}

func (s *Simulative) clickUserProfile(ctx context.Context) error {
	p, ok := s.knownPost(func(p storedPost) bool { return p.channel == s.current })
	if !ok {
		return errSkipped
	}
	author := p.user.Value()
	u, err := s.c.GetUser(ctx, author)
	if err != nil {
		return err
	}
	s.learn([]mattermost.User{u})
	if _, err := s.c.GetUserStatus(ctx, author); err != nil {
		return err
	}
	_, err = s.c.GetChannelMember(ctx, p.channel.Value(), author)
	if mattermost.IsNotFound(err) {
		return nil // the author has left the channel
	}
	return err
}

func (s *Simulative) searchPosts(ctx context.Context) error {
	terms := words[s.rng.IntN(len(words))]
	switch s.rng.IntN(4) {
	case 0:
		terms += " from:" + s.env.Username(1+s.rng.IntN(max(1, s.id)))
	case 1:
		if c, ok := s.chans[s.current]; ok {
			terms += " in:" + c.name.Value()
		}
	case 2:
		terms = `"` + terms + " " + words[s.rng.IntN(len(words))] + `"`
	}
	_, err := s.c.SearchPosts(ctx, s.teamID, terms, false, 0, 20)
	return err
}

func (s *Simulative) searchGroupChannels(ctx context.Context) error {
	_, err := s.c.SearchGroupChannels(ctx, s.env.AgentID)
	return err
}

func (s *Simulative) searchChannels(ctx context.Context) error {
	w := words[s.rng.IntN(len(words))]
	_, err := s.c.SearchChannels(ctx, s.teamID, w[:min(len(w), 3)])
	return err
}

// teamUsers returns up to 100 other users of the team.
func (s *Simulative) teamUsers(ctx context.Context) ([]mattermost.User, error) {
	us, err := s.c.GetUsers(ctx, mattermost.UsersQuery{InTeam: s.teamID, PerPage: 100})
	if err != nil {
		return nil, err
	}
	s.learn(us)
	return slices.DeleteFunc(us, func(u mattermost.User) bool { return u.ID == s.c.UserID() }), nil
}

func (s *Simulative) createDirectChannel(ctx context.Context) error {
	us, err := s.teamUsers(ctx)
	if err != nil {
		return err
	}
	if len(us) == 0 {
		return errSkipped
	}
	c, err := s.c.CreateDirectChannel(ctx, us[s.rng.IntN(len(us))].ID)
	if err != nil {
		return err
	}
	s.addChannel(c)
	if err := s.viewChannel(ctx, c.ID); err != nil {
		return err
	}
	return s.createPost(ctx)
}

func (s *Simulative) createGroupChannel(ctx context.Context) error {
	us, err := s.teamUsers(ctx)
	if err != nil {
		return err
	}
	if len(us) < 2 {
		return errSkipped
	}
	i := s.rng.IntN(len(us))
	j := (i + 1 + s.rng.IntN(len(us)-1)) % len(us)
	c, err := s.c.CreateGroupChannel(ctx, []string{us[i].ID, us[j].ID})
	if err != nil {
		return err
	}
	s.addChannel(c)
	return s.viewChannel(ctx, c.ID)
}

func (s *Simulative) joinChannel(ctx context.Context) error {
	pub, err := s.c.GetPublicChannelsForTeam(ctx, s.teamID, 0, 100)
	if err != nil {
		return err
	}
	pub = slices.DeleteFunc(pub, func(c mattermost.Channel) bool { _, in := s.chans[intern(c.ID)]; return in })
	if len(pub) == 0 {
		return errSkipped
	}
	c := pub[s.rng.IntN(len(pub))]
	if _, err := s.c.AddChannelMember(ctx, c.ID, s.c.UserID()); err != nil {
		return err
	}
	s.addChannel(c)
	return s.viewChannel(ctx, c.ID)
}

func (s *Simulative) createChannel(ctx context.Context, typ string) error {
	name := fmt.Sprintf("%s-%d-%x", strings.ToLower(s.env.Username(s.id)), nowMs()%1e6, s.rng.Uint32()%0xffff)
	c, err := s.c.CreateChannel(ctx, s.teamID, name, name, typ)
	if err != nil {
		return err
	}
	s.addChannel(c)
	return s.viewChannel(ctx, c.ID)
}

// logoutLogin ends the session and starts a new one, with a new WebSocket.
func (s *Simulative) logoutLogin(ctx context.Context) error {
	s.stopWS()
	defer s.startWS(ctx) // whatever happens, the user keeps an event connection
	if err := s.c.Logout(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	_, err := s.c.Login(ctx, s.env.Username(s.id), Password)
	return err
}
