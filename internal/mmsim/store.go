package mmsim

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Store errors. The HTTP layer maps them to status codes in one place (apperror.go).
var (
	errNotFound     = errors.New("not found")
	errConflict     = errors.New("already exists")
	errInvalid      = errors.New("invalid")
	errForbidden    = errors.New("forbidden")
	errUnauthorized = errors.New("unauthorized")
)

// storeError carries an AppError id and a message along with one of the sentinels above.
type storeError struct {
	kind error
	id   string // Mattermost-style i18n id, e.g. "app.user.save.username_exists.app_error"
	msg  string
}

func (e *storeError) Error() string { return e.msg }
func (e *storeError) Unwrap() error { return e.kind }

func fail(kind error, id, format string, args ...any) error {
	return &storeError{kind: kind, id: id, msg: fmt.Sprintf(format, args...)}
}

// store holds every object in memory. One RWMutex guards all maps and every object they point
// to; methods return copies, so callers may encode them without the lock.
type store struct {
	mu     sync.RWMutex
	lastTS int64 // last timestamp handed out by now(); strictly increasing

	users       map[string]*User
	userOrder   []string // ids in creation order, for stable paging
	byUsername  map[string]string
	byEmail     map[string]string
	passwords   map[string]string // user id -> password
	sessions    map[string]string // token -> user id
	statuses    map[string]*Status
	preferences map[string]map[string]Preference // user id -> category/name -> pref

	teams       map[string]*Team
	teamOrder   []string
	teamsByName map[string]string
	teamMembers map[string]map[string]*TeamMember // team id -> user id
	userTeams   map[string]map[string]*TeamMember // user id -> team id

	channels       map[string]*Channel
	channelsByName map[string]string                    // team id + "/" + name -> channel id
	channelMembers map[string]map[string]*ChannelMember // channel id -> user id
	userChannels   map[string]map[string]*ChannelMember // user id -> channel id

	posts        map[string]*Post
	channelPosts map[string][]string // channel id -> post ids, oldest first
	replies      map[string][]string // root id -> reply ids, oldest first
	reactions    map[string][]Reaction
	threadMember map[string]map[string]*threadMembership // user id -> root id
	drafts       map[string]map[string]*Draft            // user id -> channel id + "/" + root id
	files        map[string]*FileInfo
}

type threadMembership struct {
	following    bool
	lastViewedAt int64
}

func newStore() *store {
	return &store{
		users:          map[string]*User{},
		byUsername:     map[string]string{},
		byEmail:        map[string]string{},
		passwords:      map[string]string{},
		sessions:       map[string]string{},
		statuses:       map[string]*Status{},
		preferences:    map[string]map[string]Preference{},
		teams:          map[string]*Team{},
		teamsByName:    map[string]string{},
		teamMembers:    map[string]map[string]*TeamMember{},
		userTeams:      map[string]map[string]*TeamMember{},
		channels:       map[string]*Channel{},
		channelsByName: map[string]string{},
		channelMembers: map[string]map[string]*ChannelMember{},
		userChannels:   map[string]map[string]*ChannelMember{},
		posts:          map[string]*Post{},
		channelPosts:   map[string][]string{},
		replies:        map[string][]string{},
		reactions:      map[string][]Reaction{},
		threadMember:   map[string]map[string]*threadMembership{},
		drafts:         map[string]map[string]*Draft{},
		files:          map[string]*FileInfo{},
	}
}

// now returns the current time in milliseconds, strictly greater than any earlier value it
// returned, so that "since" and "before" queries have a total order. Callers hold mu.
func (s *store) now() int64 {
	t := time.Now().UnixMilli()
	if t <= s.lastTS {
		t = s.lastTS + 1
	}
	s.lastTS = t
	return t
}

// ---- users and sessions ----

func copyUser(u *User) User {
	c := *u
	c.Props = cloneMap(u.Props)
	c.NotifyProps = cloneMap(u.NotifyProps)
	c.Timezone = cloneMap(u.Timezone)
	return c
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return map[K]V{}
	}
	c := make(map[K]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func validUsername(s string) bool {
	if len(s) < 3 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return c0(s) >= 'a' && c0(s) <= 'z'
}

func c0(s string) byte { return s[0] }

// createUser registers a user (open sign-up). Usernames and emails are unique.
func (s *store) createUser(username, email, password, roles string) (User, error) {
	username = strings.ToLower(username)
	email = strings.ToLower(email)
	switch {
	case !validUsername(username):
		return User{}, fail(errInvalid, "model.user.is_valid.username.app_error",
			"invalid username %q: 3-64 characters, starting with a letter, of a-z 0-9 . - _", username)
	case !strings.Contains(email, "@") || len(email) > 128:
		return User{}, fail(errInvalid, "model.user.is_valid.email.app_error", "invalid email %q", email)
	case len(password) < 5 || len(password) > 72:
		return User{}, fail(errInvalid, "model.user.is_valid.pwd.app_error", "password must be 5-72 characters")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byUsername[username]; ok {
		return User{}, fail(errConflict, "app.user.save.username_exists.app_error", "an account with username %q already exists", username)
	}
	if _, ok := s.byEmail[email]; ok {
		return User{}, fail(errConflict, "app.user.save.email_exists.app_error", "an account with email %q already exists", email)
	}
	t := s.now()
	if roles == "" {
		roles = "system_user"
	}
	u := &User{
		ID: newID(), CreateAt: t, UpdateAt: t, Username: username, Email: email,
		Roles: roles, Locale: "en", LastPasswordUpdate: t, LastPictureUpdate: t,
		Props:       map[string]string{},
		NotifyProps: map[string]string{"desktop": "mention", "email": "true", "push": "mention", "channel": "true"},
		Timezone:    map[string]any{"useAutomaticTimezone": true, "automaticTimezone": "", "manualTimezone": ""},
	}
	s.users[u.ID] = u
	s.userOrder = append(s.userOrder, u.ID)
	s.byUsername[username] = u.ID
	s.byEmail[email] = u.ID
	s.passwords[u.ID] = password
	s.statuses[u.ID] = &Status{UserID: u.ID, Status: "offline"}
	return copyUser(u), nil
}

// login checks credentials (login id is a username or an email) and opens a session.
func (s *store) login(loginID, password string) (User, string, error) {
	loginID = strings.ToLower(loginID)
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.byUsername[loginID]
	if !ok {
		id, ok = s.byEmail[loginID]
	}
	if !ok || s.passwords[id] != password {
		return User{}, "", fail(errUnauthorized, "api.user.login.invalid_credentials_email_username",
			"enter a valid email or username and/or password")
	}
	tok := newToken()
	s.sessions[tok] = id
	return copyUser(s.users[id]), tok, nil
}

func (s *store) logout(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, token)
}

// isAdmin reports whether the user has the system_admin role.
func (s *store) isAdmin(userID string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.users[userID]
	return u != nil && slices.Contains(strings.Fields(u.Roles), "system_admin")
}

// session returns the user id of a token.
func (s *store) session(token string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.sessions[token]
	return id, ok
}

func (s *store) user(id string) (User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.users[id]
	if !ok {
		return User{}, fail(errNotFound, "app.user.missing_account.const", "user %q not found", id)
	}
	return copyUser(u), nil
}

// userFilter narrows GET /users.
type userFilter struct {
	inTeam, inChannel, notInChannel string
}

func (s *store) listUsers(f userFilter, page, perPage int) []User {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var ids []string
	if f.inChannel != "" {
		ids = sortedKeys(s.channelMembers[f.inChannel])
	} else if f.inTeam != "" {
		ids = sortedKeys(s.teamMembers[f.inTeam])
	} else {
		ids = s.userOrder
	}
	out := []User{}
	skip := page * perPage
	for _, id := range ids {
		if f.inTeam != "" && f.inChannel != "" && s.teamMembers[f.inTeam][id] == nil {
			continue
		}
		if f.notInChannel != "" && s.channelMembers[f.notInChannel][id] != nil {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		out = append(out, copyUser(s.users[id]))
		if len(out) == perPage {
			break
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// usersByIDs returns the users that exist among ids; with since > 0, only those updated after it.
func (s *store) usersByIDs(ids []string, since int64) []User {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []User{}
	for _, id := range ids {
		if u, ok := s.users[id]; ok && u.UpdateAt > since {
			out = append(out, copyUser(u))
		}
	}
	return out
}

func (s *store) usersByNames(names []string) []User {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []User{}
	for _, n := range names {
		if id, ok := s.byUsername[strings.ToLower(n)]; ok {
			out = append(out, copyUser(s.users[id]))
		}
	}
	return out
}

// autocomplete returns users whose username starts with prefix: those in channelID (or teamID)
// first, then team members outside the channel.
func (s *store) autocomplete(teamID, channelID, prefix string, limit int) (in, out []User) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	prefix = strings.ToLower(strings.TrimPrefix(prefix, "@"))
	in, out = []User{}, []User{}
	for _, id := range s.userOrder {
		u := s.users[id]
		if !strings.HasPrefix(u.Username, prefix) {
			continue
		}
		if teamID != "" && s.teamMembers[teamID][id] == nil {
			continue
		}
		switch {
		case channelID == "" || s.channelMembers[channelID][id] != nil:
			if len(in) < limit {
				in = append(in, copyUser(u))
			}
		case len(out) < limit:
			out = append(out, copyUser(u))
		}
		if len(in) >= limit && len(out) >= limit {
			break
		}
	}
	return in, out
}

func (s *store) statusesByIDs(ids []string) []Status {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []Status{}
	for _, id := range ids {
		if st, ok := s.statuses[id]; ok {
			out = append(out, *st)
		}
	}
	return out
}

// allStatuses returns every user's status.
func (s *store) allStatuses() []Status {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Status, 0, len(s.statuses))
	for _, st := range s.statuses {
		out = append(out, *st)
	}
	return out
}

// setActive is the WebSocket's user_update_active_status: an active user is online, an
// inactive one away, except that a status the user set by hand (manual) is changed only by
// another manual change, and an offline user stays offline when it goes inactive.
func (s *store) setActive(userID string, active, manual bool) (Status, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.statuses[userID]
	if !ok || (st.Manual && !manual) {
		return Status{}, false
	}
	want := "online"
	if !active {
		if st.Status == "offline" {
			return Status{}, false
		}
		want = "away"
	}
	changed := st.Status != want
	st.Status, st.Manual, st.LastActivityAt = want, manual, s.now()
	return *st, changed
}

// setStatus sets a user's presence and reports whether it changed.
func (s *store) setStatus(userID, status string, manual bool) (Status, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.statuses[userID]
	if !ok {
		return Status{}, false, fail(errNotFound, "app.user.missing_account.const", "user %q not found", userID)
	}
	changed := st.Status != status
	st.Status, st.Manual, st.LastActivityAt = status, manual, s.now()
	return *st, changed, nil
}

func (s *store) preferencesOf(userID string) []Preference {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []Preference{}
	for _, k := range sortedKeys(s.preferences[userID]) {
		out = append(out, s.preferences[userID][k])
	}
	return out
}

func (s *store) savePreferences(userID string, prefs []Preference) error {
	for i, p := range prefs {
		if p.UserID != userID {
			return fail(errForbidden, "api.preference.update_preferences.set.app_error",
				"preference %d belongs to user %q, not to the caller", i, p.UserID)
		}
		if p.Category == "" || len(p.Category) > 32 || p.Name == "" {
			return fail(errInvalid, "model.preference.is_valid.category.app_error",
				"preference %d: category (1-32 characters) and name are required", i)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.preferences[userID]
	if m == nil {
		m = map[string]Preference{}
		s.preferences[userID] = m
	}
	for _, p := range prefs {
		m[p.Category+"/"+p.Name] = p
	}
	return nil
}

// ---- teams ----

func (s *store) createTeam(name, displayName, typ, creatorID string) (Team, error) {
	name = strings.ToLower(name)
	if !validUsername(name) {
		return Team{}, fail(errInvalid, "model.team.is_valid.url.app_error", "invalid team name %q", name)
	}
	if typ == "" {
		typ = "O"
	}
	if typ != "O" && typ != "I" {
		return Team{}, fail(errInvalid, "model.team.is_valid.type.app_error", `team type must be "O" or "I", got %q`, typ)
	}
	if displayName == "" {
		displayName = name
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.teamsByName[name]; ok {
		return Team{}, fail(errConflict, "app.team.save.existing.app_error", "a team named %q already exists", name)
	}
	t := s.now()
	tm := &Team{ID: newID(), CreateAt: t, UpdateAt: t, Name: name, DisplayName: displayName,
		Type: typ, AllowOpenInvite: typ == "O", InviteID: newID()}
	s.teams[tm.ID] = tm
	s.teamOrder = append(s.teamOrder, tm.ID)
	s.teamsByName[name] = tm.ID
	s.teamMembers[tm.ID] = map[string]*TeamMember{}
	// Every team starts with the two default channels, as in Mattermost.
	for _, d := range [][2]string{{"town-square", "Town Square"}, {"off-topic", "Off-Topic"}} {
		s.insertChannel(&Channel{TeamID: tm.ID, Type: ChannelOpen, Name: d[0], DisplayName: d[1], CreatorID: creatorID})
	}
	if creatorID != "" {
		s.joinTeamLocked(tm.ID, creatorID, "team_user team_admin")
	}
	return *tm, nil
}

func (s *store) listTeams(page, perPage int) []Team {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []Team{}
	for _, id := range pageOf(s.teamOrder, page, perPage) {
		out = append(out, *s.teams[id])
	}
	return out
}

func pageOf[T any](xs []T, page, perPage int) []T {
	start := page * perPage
	if start >= len(xs) || start < 0 {
		return nil
	}
	return xs[start:min(len(xs), start+perPage)]
}

func (s *store) team(id string) (Team, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.teams[id]
	if !ok {
		return Team{}, fail(errNotFound, "app.team.get.find.app_error", "team %q not found", id)
	}
	return *t, nil
}

// joinTeam adds userID to the team and to its default channels. Joining twice is not an error.
func (s *store) joinTeam(teamID, userID string) (TeamMember, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.teams[teamID] == nil {
		return TeamMember{}, fail(errNotFound, "app.team.get.find.app_error", "team %q not found", teamID)
	}
	if s.users[userID] == nil {
		return TeamMember{}, fail(errNotFound, "app.user.missing_account.const", "user %q not found", userID)
	}
	return *s.joinTeamLocked(teamID, userID, "team_user"), nil
}

func (s *store) joinTeamLocked(teamID, userID, roles string) *TeamMember {
	if m := s.teamMembers[teamID][userID]; m != nil {
		return m
	}
	m := &TeamMember{TeamID: teamID, UserID: userID, Roles: roles, SchemeUser: true}
	s.teamMembers[teamID][userID] = m
	if s.userTeams[userID] == nil {
		s.userTeams[userID] = map[string]*TeamMember{}
	}
	s.userTeams[userID][teamID] = m
	for _, name := range []string{"town-square", "off-topic"} {
		if id, ok := s.channelsByName[teamID+"/"+name]; ok {
			s.joinChannelLocked(id, userID)
		}
	}
	return m
}

func (s *store) teamMembersOf(userID string) []TeamMember {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []TeamMember{}
	for _, k := range sortedKeys(s.userTeams[userID]) {
		out = append(out, *s.userTeams[userID][k])
	}
	return out
}

func (s *store) teamsOf(userID string) []Team {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []Team{}
	for _, k := range sortedKeys(s.userTeams[userID]) {
		out = append(out, *s.teams[k])
	}
	return out
}

func (s *store) isTeamMember(teamID, userID string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.teamMembers[teamID][userID] != nil
}

// ---- channels ----

// insertChannel stores a new channel; the caller holds mu and has checked the name is free.
func (s *store) insertChannel(c *Channel) *Channel {
	t := s.now()
	c.ID, c.CreateAt, c.UpdateAt = newID(), t, t
	s.channels[c.ID] = c
	s.channelsByName[c.TeamID+"/"+c.Name] = c.ID
	s.channelMembers[c.ID] = map[string]*ChannelMember{}
	return c
}

func (s *store) createChannel(teamID, name, displayName, typ, creatorID string) (Channel, error) {
	name = strings.ToLower(name)
	switch {
	case !validUsername(name) && !isID(name):
		return Channel{}, fail(errInvalid, "model.channel.is_valid.name.app_error", "invalid channel name %q", name)
	case typ != ChannelOpen && typ != ChannelPrivate:
		return Channel{}, fail(errInvalid, "model.channel.is_valid.type.app_error", `channel type must be "O" or "P", got %q`, typ)
	}
	if displayName == "" {
		displayName = name
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.teams[teamID] == nil {
		return Channel{}, fail(errNotFound, "app.team.get.find.app_error", "team %q not found", teamID)
	}
	if s.teamMembers[teamID][creatorID] == nil {
		return Channel{}, fail(errForbidden, "api.context.permissions.app_error", "you are not a member of team %q", teamID)
	}
	if _, ok := s.channelsByName[teamID+"/"+name]; ok {
		return Channel{}, fail(errConflict, "store.sql_channel.save_channel.exists.app_error", "a channel named %q already exists in this team", name)
	}
	c := s.insertChannel(&Channel{TeamID: teamID, Type: typ, Name: name, DisplayName: displayName, CreatorID: creatorID})
	s.joinChannelLocked(c.ID, creatorID)
	return *c, nil
}

// directChannel returns the direct channel between two users, creating it if needed.
func (s *store) directChannel(a, b string) (Channel, bool, error) {
	ids := []string{a, b}
	slices.Sort(ids)
	return s.privateGroup(ChannelDirect, ids, ids[0]+"__"+ids[1])
}

// groupChannel returns the group channel of 3 to 8 users, creating it if needed.
func (s *store) groupChannel(ids []string) (Channel, bool, error) {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) < 3 || len(ids) > 8 {
		return Channel{}, false, fail(errInvalid, "api.channel.create_group.bad_size.app_error",
			"a group channel needs 3 to 8 distinct users, got %d", len(ids))
	}
	// Mattermost names a group channel by the SHA-1 of its members' sorted ids, so every set
	// of members has its own (a prefix of the ids, as here before, made two groups that
	// share their two smallest ids one channel, and a member of the second not a member).
	sum := sha1.Sum([]byte(strings.Join(ids, "")))
	return s.privateGroup(ChannelGroup, ids, hex.EncodeToString(sum[:]))
}

func (s *store) privateGroup(typ string, ids []string, name string) (Channel, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if s.users[id] == nil {
			return Channel{}, false, fail(errInvalid, "api.channel.create_direct_channel.invalid_user.app_error", "user %q not found", id)
		}
	}
	if id, ok := s.channelsByName["/"+name]; ok {
		return *s.channels[id], false, nil
	}
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = s.users[id].Username
	}
	c := s.insertChannel(&Channel{Type: typ, Name: name, DisplayName: strings.Join(names, ", "), CreatorID: ids[0]})
	for _, id := range ids {
		s.joinChannelLocked(c.ID, id)
	}
	return *c, true, nil
}

func (s *store) channel(id string) (Channel, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.channels[id]
	if !ok {
		return Channel{}, fail(errNotFound, "app.channel.get.existing.app_error", "channel %q not found", id)
	}
	return *c, nil
}

func (s *store) joinChannel(channelID, userID string) (ChannelMember, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.channels[channelID]
	if c == nil {
		return ChannelMember{}, fail(errNotFound, "app.channel.get.existing.app_error", "channel %q not found", channelID)
	}
	if s.users[userID] == nil {
		return ChannelMember{}, fail(errNotFound, "app.user.missing_account.const", "user %q not found", userID)
	}
	if c.Type == ChannelDirect || c.Type == ChannelGroup {
		return ChannelMember{}, fail(errInvalid, "api.channel.add_user.to.channel.failed.deleted.app_error", "members of direct and group channels cannot change")
	}
	if s.teamMembers[c.TeamID][userID] == nil {
		return ChannelMember{}, fail(errForbidden, "api.channel.add_user.to.channel.failed.app_error", "user %q is not a member of the channel's team", userID)
	}
	return *s.joinChannelLocked(channelID, userID), nil
}

func (s *store) joinChannelLocked(channelID, userID string) *ChannelMember {
	if m := s.channelMembers[channelID][userID]; m != nil {
		return m
	}
	c := s.channels[channelID]
	t := s.now()
	m := &ChannelMember{ChannelID: channelID, UserID: userID, Roles: "channel_user", SchemeUser: true,
		LastViewedAt: t, LastUpdateAt: t, MsgCount: c.TotalMsgCount, MsgCountRoot: c.TotalMsgCountRoot,
		NotifyProps: map[string]string{"desktop": "default", "email": "default", "mark_unread": "all", "push": "default"}}
	s.channelMembers[channelID][userID] = m
	if s.userChannels[userID] == nil {
		s.userChannels[userID] = map[string]*ChannelMember{}
	}
	s.userChannels[userID][channelID] = m
	return m
}

func (s *store) leaveChannel(channelID, userID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.channels[channelID]
	if c == nil {
		return fail(errNotFound, "app.channel.get.existing.app_error", "channel %q not found", channelID)
	}
	if s.channelMembers[channelID][userID] == nil {
		return fail(errNotFound, "app.channel.get_member.missing.app_error", "user %q is not a member of channel %q", userID, channelID)
	}
	if c.Type == ChannelDirect || c.Type == ChannelGroup || c.Name == "town-square" {
		return fail(errInvalid, "api.channel.remove.default.app_error", "cannot leave channel %q", c.Name)
	}
	delete(s.channelMembers[channelID], userID)
	delete(s.userChannels[userID], channelID)
	return nil
}

func copyMember(m *ChannelMember) ChannelMember {
	c := *m
	c.NotifyProps = cloneMap(m.NotifyProps)
	return c
}

func (s *store) channelMember(channelID, userID string) (ChannelMember, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m := s.channelMembers[channelID][userID]
	if m == nil {
		return ChannelMember{}, fail(errNotFound, "app.channel.get_member.missing.app_error", "user %q is not a member of channel %q", userID, channelID)
	}
	return copyMember(m), nil
}

func (s *store) isChannelMember(channelID, userID string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.channelMembers[channelID][userID] != nil
}

// channelMemberIDs returns the ids of the members of a channel, for broadcasts.
func (s *store) channelMemberIDs(channelID string) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := make([]string, 0, len(s.channelMembers[channelID]))
	for id := range s.channelMembers[channelID] {
		ids = append(ids, id)
	}
	return ids
}

// channelsOf returns the user's channels: those of teamID plus direct and group channels, or
// all of them when teamID is empty.
func (s *store) channelsOf(userID, teamID string, includeDeleted bool) []Channel {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []Channel{}
	for _, id := range sortedKeys(s.userChannels[userID]) {
		c := s.channels[id]
		if teamID != "" && c.TeamID != teamID && c.TeamID != "" {
			continue
		}
		if c.DeleteAt != 0 && !includeDeleted {
			continue
		}
		out = append(out, *c)
	}
	return out
}

func (s *store) channelMembersOf(userID, teamID string) []ChannelMember {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []ChannelMember{}
	for _, id := range sortedKeys(s.userChannels[userID]) {
		c := s.channels[id]
		if teamID != "" && c.TeamID != teamID && c.TeamID != "" {
			continue
		}
		out = append(out, copyMember(s.userChannels[userID][id]))
	}
	return out
}

func (s *store) teamChannels(teamID string, page, perPage int) []Channel {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var ids []string
	for id, c := range s.channels {
		if c.TeamID == teamID && c.Type == ChannelOpen && c.DeleteAt == 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	out := []Channel{}
	for _, id := range pageOf(ids, page, perPage) {
		out = append(out, *s.channels[id])
	}
	return out
}

func (s *store) memberCount(channelID string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.channelMembers[channelID])
}

// viewChannel marks channelID read for userID and returns the new last-viewed time.
func (s *store) viewChannel(userID, channelID string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.channelMembers[channelID][userID]
	if m == nil {
		return 0, fail(errNotFound, "app.channel.get_member.missing.app_error", "user %q is not a member of channel %q", userID, channelID)
	}
	c := s.channels[channelID]
	t := s.now()
	m.LastViewedAt, m.LastUpdateAt = t, t
	m.MsgCount, m.MsgCountRoot, m.MentionCount, m.MentionCountRoot = c.TotalMsgCount, c.TotalMsgCountRoot, 0, 0
	return t, nil
}

// teamUnreads reports a user's unread counts per team, leaving out excludeTeam.
func (s *store) teamUnreads(userID, excludeTeam string) []map[string]any {
	s.mu.RLock()
	defer s.mu.RUnlock()
	byTeam := map[string][2]int64{}
	for tid := range s.userTeams[userID] {
		if tid != excludeTeam {
			byTeam[tid] = [2]int64{}
		}
	}
	for cid, m := range s.userChannels[userID] {
		c := s.channels[cid]
		if _, ok := byTeam[c.TeamID]; !ok {
			continue // a direct or group channel, or the excluded team
		}
		v := byTeam[c.TeamID]
		v[0] += c.TotalMsgCount - m.MsgCount
		v[1] += m.MentionCount
		byTeam[c.TeamID] = v
	}
	out := []map[string]any{}
	for _, tid := range sortedKeys(byTeam) {
		v := byTeam[tid]
		out = append(out, map[string]any{"team_id": tid, "msg_count": v[0], "mention_count": v[1],
			"msg_count_root": v[0], "mention_count_root": v[1], "thread_count": 0, "thread_mention_count": 0})
	}
	return out
}

func (s *store) channelUnread(userID, channelID string) (map[string]any, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m := s.channelMembers[channelID][userID]
	if m == nil {
		return nil, fail(errNotFound, "app.channel.get_member.missing.app_error", "user %q is not a member of channel %q", userID, channelID)
	}
	c := s.channels[channelID]
	return map[string]any{"team_id": c.TeamID, "channel_id": channelID,
		"msg_count": c.TotalMsgCount - m.MsgCount, "mention_count": m.MentionCount,
		"msg_count_root": c.TotalMsgCountRoot - m.MsgCountRoot, "mention_count_root": m.MentionCountRoot}, nil
}

// sessionCount returns how many sessions are open.
func (s *store) sessionCount() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.sessions)
}
