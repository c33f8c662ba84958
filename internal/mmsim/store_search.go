package mmsim

import (
	"slices"
	"strings"
)

// searchUsers returns users whose username, nickname or email starts with term, optionally
// limited to a team and a channel (or to those not in a channel).
func (s *store) searchUsers(term, teamID, inChannel, notInChannel string, limit int) []User {
	s.mu.RLock()
	defer s.mu.RUnlock()
	term = strings.ToLower(strings.TrimPrefix(term, "@"))
	out := []User{}
	for _, id := range s.userOrder {
		u := s.users[id]
		if !strings.HasPrefix(u.Username, term) && !strings.HasPrefix(strings.ToLower(u.Nickname), term) && !strings.HasPrefix(u.Email, term) {
			continue
		}
		if (teamID != "" && s.teamMembers[teamID][id] == nil) || (inChannel != "" && s.channelMembers[inChannel][id] == nil) ||
			(notInChannel != "" && s.channelMembers[notInChannel][id] != nil) {
			continue
		}
		out = append(out, copyUser(u))
		if len(out) == limit {
			break
		}
	}
	return out
}

// searchQuery is a parsed post search: words, "quoted phrases", -excluded words, and the
// from:username and in:channel-name filters.
type searchQuery struct {
	words, excluded []string
	from, in        string
	or              bool
}

func parseSearch(terms string, or bool) searchQuery {
	q := searchQuery{or: or}
	for len(terms) > 0 {
		terms = strings.TrimLeft(terms, " ")
		if terms == "" {
			break
		}
		var tok string
		if terms[0] == '"' {
			end := strings.IndexByte(terms[1:], '"')
			if end < 0 {
				tok, terms = terms[1:], ""
			} else {
				tok, terms = terms[1:1+end], terms[2+end:]
			}
			q.words = append(q.words, strings.ToLower(tok))
			continue
		}
		tok, terms, _ = strings.Cut(terms, " ")
		low := strings.ToLower(tok)
		switch {
		case strings.HasPrefix(low, "from:"):
			q.from = strings.TrimPrefix(strings.TrimPrefix(low, "from:"), "@")
		case strings.HasPrefix(low, "in:"):
			q.in = strings.TrimPrefix(strings.TrimPrefix(low, "in:"), "~")
		case strings.HasPrefix(low, "on:"), strings.HasPrefix(low, "before:"), strings.HasPrefix(low, "after:"):
			// Date filters are accepted; mmsim's posts are all recent, so they match.
		case strings.HasPrefix(low, "-") && len(low) > 1:
			q.excluded = append(q.excluded, low[1:])
		default:
			q.words = append(q.words, low)
		}
	}
	return q
}

func (q searchQuery) match(msg string) bool {
	msg = strings.ToLower(msg)
	for _, x := range q.excluded {
		if strings.Contains(msg, x) {
			return false
		}
	}
	if len(q.words) == 0 {
		return true
	}
	for _, w := range q.words {
		if strings.Contains(msg, w) == q.or {
			return q.or
		}
	}
	return !q.or
}

// searchPosts searches the posts of the channels userID belongs to in teamID (and its direct
// and group channels), newest first.
func (s *store) searchPosts(userID, teamID string, q searchQuery, page, perPage int) (PostList, map[string][]string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var hits []*Post
	for chID := range s.userChannels[userID] {
		c := s.channels[chID]
		if (c.TeamID != teamID && c.TeamID != "") || (q.in != "" && c.Name != q.in) {
			continue
		}
		for _, id := range s.channelPosts[chID] {
			p := s.posts[id]
			if p.DeleteAt != 0 || (q.from != "" && s.users[p.UserID].Username != q.from) || !q.match(p.Message) {
				continue
			}
			hits = append(hits, p)
		}
	}
	slices.SortFunc(hits, func(a, b *Post) int { return int(b.CreateAt - a.CreateAt) })
	list := newPostList()
	matches := map[string][]string{}
	for _, p := range pageOf(hits, page, perPage) {
		s.addTo(&list, p)
		matches[p.ID] = append([]string{}, q.words...)
	}
	return list, matches
}

// searchChannels returns a team's open channels whose name or display name contains term.
func (s *store) searchChannels(teamID, term string) []Channel {
	s.mu.RLock()
	defer s.mu.RUnlock()
	term = strings.ToLower(term)
	out := []Channel{}
	for _, id := range sortedKeys(s.channels) {
		c := s.channels[id]
		if c.TeamID == teamID && c.Type == ChannelOpen && c.DeleteAt == 0 &&
			(strings.Contains(c.Name, term) || strings.Contains(strings.ToLower(c.DisplayName), term)) {
			out = append(out, *c)
		}
	}
	return out
}

// searchGroupChannels returns the user's group channels whose members' names contain term.
func (s *store) searchGroupChannels(userID, term string) []Channel {
	s.mu.RLock()
	defer s.mu.RUnlock()
	term = strings.ToLower(term)
	out := []Channel{}
	for _, id := range sortedKeys(s.userChannels[userID]) {
		c := s.channels[id]
		if c.Type == ChannelGroup && strings.Contains(strings.ToLower(c.DisplayName), term) {
			out = append(out, *c)
		}
	}
	return out
}
