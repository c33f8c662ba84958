package mmsim

import (
	"math"
	"slices"
	"strings"
)

var inf = math.Inf(1)

// MaxMessageRunes is the longest post message accepted, as in Mattermost.
const MaxMessageRunes = 16383

// postInput is what a client may set when it creates a post.
type postInput struct {
	ChannelID     string
	RootID        string
	Message       string
	FileIDs       []string
	Props         map[string]any
	Priority      map[string]any
	PendingPostID string
}

// createPost stores a post and returns it with the ids of the channel's members (the
// recipients of the "posted" event).
func (s *store) createPost(userID string, in postInput) (Post, []string, error) {
	if err := checkMessage(in.Message); err != nil {
		return Post{}, nil, err
	}
	if len(in.FileIDs) > 10 {
		return Post{}, nil, fail(errInvalid, "model.post.is_valid.file_ids.app_error", "a post may carry at most 10 files, got %d", len(in.FileIDs))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.channels[in.ChannelID]
	if c == nil {
		return Post{}, nil, fail(errNotFound, "app.channel.get.existing.app_error", "channel %q not found", in.ChannelID)
	}
	if s.channelMembers[c.ID][userID] == nil {
		return Post{}, nil, fail(errForbidden, "api.context.permissions.app_error", "you are not a member of channel %q", c.ID)
	}
	if c.DeleteAt != 0 {
		return Post{}, nil, fail(errInvalid, "api.post.create_post.can_not_post_to_deleted.error", "channel %q is archived", c.ID)
	}
	var root *Post
	if in.RootID != "" {
		root = s.posts[in.RootID]
		if root == nil || root.ChannelID != c.ID || root.RootID != "" || root.DeleteAt != 0 {
			return Post{}, nil, fail(errInvalid, "api.post.create_post.root_id.app_error", "root_id %q is not a root post of this channel", in.RootID)
		}
	}
	for _, fid := range in.FileIDs {
		if f := s.files[fid]; f == nil || f.UserID != userID || f.PostID != "" {
			return Post{}, nil, fail(errInvalid, "api.post.create_post.file_ids.app_error", "file %q is unknown or already attached", fid)
		}
	}
	t := s.now()
	p := &Post{ID: newID(), CreateAt: t, UpdateAt: t, UserID: userID, ChannelID: c.ID, RootID: in.RootID,
		Message: in.Message, Props: cloneMap(in.Props), FileIDs: slices.Clone(in.FileIDs),
		PendingPostID: in.PendingPostID}
	if p.FileIDs == nil {
		p.FileIDs = []string{}
	}
	if len(in.Priority) > 0 {
		p.Metadata = &PostMetadata{Priority: cloneMap(in.Priority)}
	}
	for _, fid := range p.FileIDs {
		s.files[fid].PostID = p.ID
	}
	s.posts[p.ID] = p
	s.channelPosts[c.ID] = append(s.channelPosts[c.ID], p.ID)
	c.LastPostAt, c.TotalMsgCount = t, c.TotalMsgCount+1
	if root == nil {
		c.LastRootPostAt, c.TotalMsgCountRoot = t, c.TotalMsgCountRoot+1
	} else {
		s.replies[root.ID] = append(s.replies[root.ID], p.ID)
		root.ReplyCount++
		root.LastReplyAt, root.UpdateAt = t, t
		s.follow(root.UserID, root.ID, 0)
	}
	threadID := p.ID
	if root != nil {
		threadID = root.ID
	}
	s.follow(userID, threadID, t)
	// The author has read their own post.
	if m := s.channelMembers[c.ID][userID]; m != nil {
		m.LastViewedAt, m.MsgCount, m.MsgCountRoot = t, c.TotalMsgCount, c.TotalMsgCountRoot
	}
	s.countMentions(c.ID, userID, in.Message)
	members := make([]string, 0, len(s.channelMembers[c.ID]))
	for id := range s.channelMembers[c.ID] {
		members = append(members, id)
	}
	return s.copyPost(p), members, nil
}

// follow makes userID follow a thread; viewedAt > 0 also marks it read up to then.
func (s *store) follow(userID, rootID string, viewedAt int64) {
	m := s.threadMember[userID]
	if m == nil {
		m = map[string]*threadMembership{}
		s.threadMember[userID] = m
	}
	tm := m[rootID]
	if tm == nil {
		tm = &threadMembership{}
		m[rootID] = tm
	}
	tm.following = true
	if viewedAt > tm.lastViewedAt {
		tm.lastViewedAt = viewedAt
	}
}

// countMentions raises the mention count of channel members named with @username.
func (s *store) countMentions(channelID, authorID, msg string) {
	for _, w := range strings.Fields(msg) {
		if !strings.HasPrefix(w, "@") {
			continue
		}
		name := strings.ToLower(strings.TrimRight(w[1:], ".,:;!?"))
		if id, ok := s.byUsername[name]; ok && id != authorID {
			if m := s.channelMembers[channelID][id]; m != nil {
				m.MentionCount++
				m.MentionCountRoot++
			}
		}
	}
}

// copyPost returns a copy of p with its reactions and files attached as metadata.
func (s *store) copyPost(p *Post) Post {
	c := *p
	c.Props = cloneMap(p.Props)
	c.FileIDs = slices.Clone(p.FileIDs)
	if c.FileIDs == nil {
		c.FileIDs = []string{}
	}
	rs := s.reactions[p.ID]
	var md PostMetadata
	if p.Metadata != nil {
		md.Priority = cloneMap(p.Metadata.Priority)
	}
	md.Reactions = slices.Clone(rs)
	for _, fid := range p.FileIDs {
		if f := s.files[fid]; f != nil {
			md.Files = append(md.Files, *f)
		}
	}
	if len(md.Reactions) > 0 || len(md.Files) > 0 || len(md.Priority) > 0 {
		c.Metadata = &md
	} else {
		c.Metadata = &PostMetadata{}
	}
	return c
}

func (s *store) post(id string) (Post, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.posts[id]
	if !ok || p.DeleteAt != 0 {
		return Post{}, fail(errNotFound, "app.post.get.app_error", "post %q not found", id)
	}
	return s.copyPost(p), nil
}

func checkMessage(msg string) error {
	if n := len([]rune(msg)); n > MaxMessageRunes {
		return fail(errInvalid, "model.post.is_valid.msg.app_error", "message has %d characters; at most %d are allowed", n, MaxMessageRunes)
	}
	return nil
}

// authoredLocked returns a live post that userID wrote, for an action (verb) only its author
// may take. The caller holds mu.
func (s *store) authoredLocked(userID, postID, verb string) (*Post, error) {
	p := s.posts[postID]
	if p == nil || p.DeleteAt != 0 {
		return nil, fail(errNotFound, "app.post.get.app_error", "post %q not found", postID)
	}
	if p.UserID != userID {
		return nil, fail(errForbidden, "api.context.permissions.app_error", "only the author may %s post %q", verb, postID)
	}
	return p, nil
}

// patchPost changes a post's message; only its author may.
func (s *store) patchPost(userID, postID string, message *string, props map[string]any) (Post, []string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.authoredLocked(userID, postID, "edit")
	if err != nil {
		return Post{}, nil, err
	}
	t := s.now()
	if message != nil {
		if err := checkMessage(*message); err != nil {
			return Post{}, nil, err
		}
		p.Message = *message
	}
	if props != nil {
		p.Props = cloneMap(props)
	}
	p.EditAt, p.UpdateAt = t, t
	return s.copyPost(p), s.memberIDsLocked(p.ChannelID), nil
}

func (s *store) deletePost(userID, postID string) (Post, []string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.authoredLocked(userID, postID, "delete")
	if err != nil {
		return Post{}, nil, err
	}
	t := s.now()
	p.DeleteAt, p.UpdateAt = t, t
	if p.RootID != "" {
		if root := s.posts[p.RootID]; root != nil && root.ReplyCount > 0 {
			root.ReplyCount--
		}
	}
	return s.copyPost(p), s.memberIDsLocked(p.ChannelID), nil
}

func (s *store) memberIDsLocked(channelID string) []string {
	ids := make([]string, 0, len(s.channelMembers[channelID]))
	for id := range s.channelMembers[channelID] {
		ids = append(ids, id)
	}
	return ids
}

// postQuery selects a page of a channel's posts, as GET /channels/{id}/posts does.
type postQuery struct {
	since         int64  // posts created or changed after this time (ms); overrides paging
	before, after string // post ids bounding the page
	page, perPage int
	rootsOnly     bool // collapsed threads: leave replies out
}

// channelPosts returns a PostList of a channel. userID must be a member.
func (s *store) channelPostsPage(userID, channelID string, q postQuery) (PostList, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.channels[channelID] == nil {
		return PostList{}, fail(errNotFound, "app.channel.get.existing.app_error", "channel %q not found", channelID)
	}
	if s.channelMembers[channelID][userID] == nil && s.channels[channelID].Type != ChannelOpen {
		return PostList{}, fail(errForbidden, "api.context.permissions.app_error", "you are not a member of channel %q", channelID)
	}
	ids := s.channelPosts[channelID]
	keep := func(p *Post) bool { return p.DeleteAt == 0 && (!q.rootsOnly || p.RootID == "") }
	list := newPostList()
	if q.since > 0 {
		// Newest first, down to the first post older than since; include edits of those.
		for i := len(ids) - 1; i >= 0; i-- {
			p := s.posts[ids[i]]
			if p.UpdateAt <= q.since && p.CreateAt <= q.since {
				break
			}
			if !q.rootsOnly || p.RootID == "" {
				s.addTo(&list, p)
			}
		}
		return list, nil
	}
	// hi is one past the newest candidate; lo the oldest candidate.
	lo, hi := 0, len(ids)
	if q.before != "" {
		i := slices.Index(ids, q.before)
		if i < 0 {
			return PostList{}, fail(errNotFound, "app.post.get.app_error", "post %q not found in this channel", q.before)
		}
		hi = i
	}
	if q.after != "" {
		i := slices.Index(ids, q.after)
		if i < 0 {
			return PostList{}, fail(errNotFound, "app.post.get.app_error", "post %q not found in this channel", q.after)
		}
		lo = i + 1
	}
	skip := q.page * q.perPage
	var picked []*Post
	if q.after != "" && q.before == "" {
		// Oldest first from after, then reported newest first.
		for i := lo; i < hi && len(picked) < q.perPage; i++ {
			if p := s.posts[ids[i]]; keep(p) {
				if skip > 0 {
					skip--
					continue
				}
				picked = append(picked, p)
			}
		}
		slices.Reverse(picked)
	} else {
		for i := hi - 1; i >= lo && len(picked) < q.perPage; i-- {
			if p := s.posts[ids[i]]; keep(p) {
				if skip > 0 {
					skip--
					continue
				}
				picked = append(picked, p)
			}
		}
	}
	for _, p := range picked {
		s.addTo(&list, p)
	}
	if len(picked) > 0 {
		list.PrevPostID = s.neighbour(ids, picked[len(picked)-1].ID, -1, keep)
		list.NextPostID = s.neighbour(ids, picked[0].ID, +1, keep)
		list.HasNext = list.NextPostID != ""
	}
	return list, nil
}

// neighbour is the id of the nearest kept post before (dir -1) or after (+1) id.
func (s *store) neighbour(ids []string, id string, dir int, keep func(*Post) bool) string {
	i := slices.Index(ids, id)
	for i += dir; i >= 0 && i < len(ids); i += dir {
		if p := s.posts[ids[i]]; keep(p) {
			return p.ID
		}
	}
	return ""
}

func newPostList() PostList {
	return PostList{Order: []string{}, Posts: map[string]*Post{}}
}

// addTo appends p to the list (Order newest first, as callers add them).
func (s *store) addTo(l *PostList, p *Post) {
	c := s.copyPost(p)
	l.Order = append(l.Order, c.ID)
	l.Posts[c.ID] = &c
}

// postsAroundUnread returns up to before posts at or before the user's last view and up to
// after posts following it.
func (s *store) postsAroundUnread(userID, channelID string, before, after int, rootsOnly bool) (PostList, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m := s.channelMembers[channelID][userID]
	if m == nil {
		return PostList{}, fail(errForbidden, "api.context.permissions.app_error", "you are not a member of channel %q", channelID)
	}
	ids := s.channelPosts[channelID]
	var kept []*Post
	for _, id := range ids {
		if p := s.posts[id]; p.DeleteAt == 0 && (!rootsOnly || p.RootID == "") {
			kept = append(kept, p)
		}
	}
	first := len(kept) // index of the first unread post
	for i, p := range kept {
		if p.CreateAt > m.LastViewedAt {
			first = i
			break
		}
	}
	lo, hi := max(0, first-before), min(len(kept), first+after)
	list := newPostList()
	for i := hi - 1; i >= lo; i-- {
		s.addTo(&list, kept[i])
	}
	if lo > 0 {
		list.PrevPostID = kept[lo-1].ID
	}
	if hi < len(kept) {
		list.NextPostID, list.HasNext = kept[hi].ID, true
	}
	return list, nil
}

// thread returns a root post and its replies, newest first, perPage at most (0 = all).
func (s *store) thread(userID, postID string, perPage int, fromCreateAt int64, asc bool) (PostList, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.posts[postID]
	if p == nil || p.DeleteAt != 0 {
		return PostList{}, fail(errNotFound, "app.post.get.app_error", "post %q not found", postID)
	}
	if p.RootID != "" {
		p = s.posts[p.RootID]
	}
	c := s.channels[p.ChannelID]
	if s.channelMembers[c.ID][userID] == nil && c.Type != ChannelOpen {
		return PostList{}, fail(errForbidden, "api.context.permissions.app_error", "you are not a member of channel %q", c.ID)
	}
	var rs []*Post
	for _, id := range s.replies[p.ID] {
		r := s.posts[id]
		if r.DeleteAt == 0 && (fromCreateAt == 0 || (asc && r.CreateAt > fromCreateAt) || (!asc && r.CreateAt < fromCreateAt)) {
			rs = append(rs, r)
		}
	}
	hasNext := false
	if perPage > 0 && len(rs) > perPage {
		if asc {
			rs = rs[:perPage]
		} else {
			rs = rs[len(rs)-perPage:]
		}
		hasNext = true
	}
	list := newPostList()
	for i := len(rs) - 1; i >= 0; i-- {
		s.addTo(&list, rs[i])
	}
	s.addTo(&list, p)
	list.HasNext = hasNext
	return list, nil
}

// addReaction records an emoji reaction and returns it with the channel's member ids.
func (s *store) addReaction(userID, postID, emoji string) (Reaction, string, []string, error) {
	if emoji == "" || len(emoji) > 64 || strings.ContainsAny(emoji, " :") {
		return Reaction{}, "", nil, fail(errInvalid, "model.reaction.is_valid.emoji_name.app_error", "invalid emoji_name %q", emoji)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.posts[postID]
	if p == nil || p.DeleteAt != 0 {
		return Reaction{}, "", nil, fail(errNotFound, "app.post.get.app_error", "post %q not found", postID)
	}
	if s.channelMembers[p.ChannelID][userID] == nil {
		return Reaction{}, "", nil, fail(errForbidden, "api.context.permissions.app_error", "you are not a member of channel %q", p.ChannelID)
	}
	for _, r := range s.reactions[postID] {
		if r.UserID == userID && r.EmojiName == emoji {
			return r, p.ChannelID, nil, nil // idempotent, no new event
		}
	}
	r := Reaction{UserID: userID, PostID: postID, EmojiName: emoji, CreateAt: s.now()}
	s.reactions[postID] = append(s.reactions[postID], r)
	p.UpdateAt = r.CreateAt
	return r, p.ChannelID, s.memberIDsLocked(p.ChannelID), nil
}

func (s *store) removeReaction(userID, postID, emoji string) (Reaction, string, []string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.posts[postID]
	if p == nil {
		return Reaction{}, "", nil, fail(errNotFound, "app.post.get.app_error", "post %q not found", postID)
	}
	rs := s.reactions[postID]
	for i, r := range rs {
		if r.UserID == userID && r.EmojiName == emoji {
			s.reactions[postID] = slices.Delete(slices.Clone(rs), i, i+1)
			p.UpdateAt = s.now()
			return r, p.ChannelID, s.memberIDsLocked(p.ChannelID), nil
		}
	}
	return Reaction{}, "", nil, fail(errNotFound, "app.reaction.get_for_post.app_error", "no %q reaction of this user on post %q", emoji, postID)
}

func (s *store) reactionsOf(postID string) []Reaction {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]Reaction{}, s.reactions[postID]...)
}

// userThreads lists the threads userID follows in teamID (and in direct/group channels).
func (s *store) userThreads(userID, teamID string, unreadOnly, totalsOnly bool, before string, perPage int) UserThreads {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var all []UserThread
	var res UserThreads
	for rootID, tm := range s.threadMember[userID] {
		if !tm.following {
			continue
		}
		root := s.posts[rootID]
		if root == nil || root.DeleteAt != 0 || root.ReplyCount == 0 {
			continue
		}
		if c := s.channels[root.ChannelID]; c.TeamID != teamID && c.TeamID != "" {
			continue
		}
		ut := s.userThreadLocked(userID, root, tm)
		res.Total++
		if ut.UnreadReplies > 0 {
			res.TotalUnreadThreads++
		}
		res.TotalUnreadMentions += ut.UnreadMentions
		if unreadOnly && ut.UnreadReplies == 0 {
			continue
		}
		all = append(all, ut)
	}
	res.Threads = []UserThread{}
	if totalsOnly {
		return res
	}
	slices.SortFunc(all, func(a, b UserThread) int {
		if a.LastReplyAt != b.LastReplyAt {
			return int(b.LastReplyAt - a.LastReplyAt)
		}
		return strings.Compare(a.ID, b.ID)
	})
	if before != "" {
		if i := slices.IndexFunc(all, func(t UserThread) bool { return t.ID == before }); i >= 0 {
			all = all[i+1:]
		}
	}
	if len(all) > perPage {
		all = all[:perPage]
	}
	res.Threads = append(res.Threads, all...)
	return res
}

func (s *store) userThreadLocked(userID string, root *Post, tm *threadMembership) UserThread {
	rp := s.copyPost(root)
	ut := UserThread{ID: root.ID, ReplyCount: root.ReplyCount, LastReplyAt: root.LastReplyAt,
		LastViewedAt: tm.lastViewedAt, Post: &rp, IsFollowing: tm.following, Participants: []*User{}}
	seen := map[string]bool{}
	for _, id := range s.replies[root.ID] {
		r := s.posts[id]
		if r.DeleteAt != 0 {
			continue
		}
		if r.CreateAt > tm.lastViewedAt && r.UserID != userID {
			ut.UnreadReplies++
		}
		if !seen[r.UserID] {
			seen[r.UserID] = true
			u := copyUser(s.users[r.UserID])
			ut.Participants = append(ut.Participants, &u)
		}
	}
	return ut
}

func (s *store) userThread(userID, rootID string) (UserThread, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	root := s.posts[rootID]
	if root == nil || root.RootID != "" {
		return UserThread{}, fail(errNotFound, "app.post.get.app_error", "thread %q not found", rootID)
	}
	tm := s.threadMember[userID][rootID]
	if tm == nil {
		tm = &threadMembership{}
	}
	return s.userThreadLocked(userID, root, tm), nil
}

// markThreadRead sets the user's last view of a thread.
func (s *store) markThreadRead(userID, rootID string, ts int64) (UserThread, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	root := s.posts[rootID]
	if root == nil || root.RootID != "" {
		return UserThread{}, fail(errNotFound, "app.post.get.app_error", "thread %q not found", rootID)
	}
	if s.channelMembers[root.ChannelID][userID] == nil {
		return UserThread{}, fail(errForbidden, "api.context.permissions.app_error", "you are not a member of channel %q", root.ChannelID)
	}
	s.follow(userID, rootID, 0)
	tm := s.threadMember[userID][rootID]
	tm.lastViewedAt = ts
	return s.userThreadLocked(userID, root, tm), nil
}

func (s *store) setFollowing(userID, rootID string, following bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	root := s.posts[rootID]
	if root == nil || root.RootID != "" {
		return fail(errNotFound, "app.post.get.app_error", "thread %q not found", rootID)
	}
	s.follow(userID, rootID, 0)
	s.threadMember[userID][rootID].following = following
	return nil
}

// markAllThreadsRead marks every followed thread of the team read.
func (s *store) markAllThreadsRead(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.now()
	for _, tm := range s.threadMember[userID] {
		tm.lastViewedAt = t
	}
}

// ---- drafts ----

func (s *store) upsertDraft(userID string, d Draft) (Draft, error) {
	if d.ChannelID == "" {
		return Draft{}, fail(errInvalid, "model.draft.is_valid.channel_id.app_error", "channel_id is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.channelMembers[d.ChannelID][userID] == nil {
		return Draft{}, fail(errForbidden, "api.context.permissions.app_error", "you are not a member of channel %q", d.ChannelID)
	}
	m := s.drafts[userID]
	if m == nil {
		m = map[string]*Draft{}
		s.drafts[userID] = m
	}
	key := d.ChannelID + "/" + d.RootID
	t := s.now()
	d.UserID, d.UpdateAt = userID, t
	if old := m[key]; old != nil {
		d.CreateAt = old.CreateAt
	} else {
		d.CreateAt = t
	}
	if d.FileIDs == nil {
		d.FileIDs = []string{}
	}
	d.Props = cloneMap(d.Props)
	m[key] = &d
	return d, nil
}

func (s *store) draftsOf(userID, teamID string) []Draft {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []Draft{}
	for _, k := range sortedKeys(s.drafts[userID]) {
		d := s.drafts[userID][k]
		if c := s.channels[d.ChannelID]; c != nil && (c.TeamID == teamID || c.TeamID == "") {
			out = append(out, *d)
		}
	}
	return out
}

func (s *store) deleteDraft(userID, channelID, rootID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := channelID + "/" + rootID
	_, ok := s.drafts[userID][key]
	delete(s.drafts[userID], key)
	return ok
}

// ---- files ----

func (s *store) addFile(userID, channelID, name string, size int64, mime string, w, h int) (FileInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.channelMembers[channelID][userID] == nil {
		return FileInfo{}, fail(errForbidden, "api.context.permissions.app_error", "you are not a member of channel %q", channelID)
	}
	t := s.now()
	ext := ""
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		ext = strings.ToLower(name[i+1:])
	}
	f := &FileInfo{ID: newID(), UserID: userID, ChannelID: channelID, CreateAt: t, UpdateAt: t, Name: name,
		Extension: ext, Size: size, MimeType: mime, Width: w, Height: h, HasPreviewImage: w > 0}
	s.files[f.ID] = f
	return *f, nil
}

// file returns a file's info if userID may see it (uploader, or member of its post's channel).
func (s *store) file(userID, id string) (FileInfo, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	f := s.files[id]
	if f == nil || (f.UserID != userID && s.channelMembers[f.ChannelID][userID] == nil) {
		return FileInfo{}, fail(errNotFound, "app.file_info.get.app_error", "file %q not found", id)
	}
	return *f, nil
}

// postsChangedAt is the last time any post of the channel was edited, deleted or reacted to.
func (s *store) postsChangedAt(channelID string) int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var t int64
	ids := s.channelPosts[channelID]
	// The newest posts are the likeliest to change; a full scan would make the ETag check as
	// expensive as the answer. Look at the last page's worth.
	for i := len(ids) - 1; i >= 0 && i >= len(ids)-200; i-- {
		t = max(t, s.posts[ids[i]].UpdateAt)
	}
	return t
}
