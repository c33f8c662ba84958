package mmsim

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
)

func (s *Server) getAllTeams(w http.ResponseWriter, r *http.Request, _ string) error {
	page, perPage, err := paging(r, 60, 200)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.st.listTeams(page, perPage))
	return nil
}

func (s *Server) createTeam(w http.ResponseWriter, r *http.Request, me string) error {
	var body struct {
		Name        string `json:"name"`
		DisplayName string `json:"display_name"`
		Type        string `json:"type"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	t, err := s.st.createTeam(body.Name, body.DisplayName, body.Type, me)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, t)
	return nil
}

func (s *Server) getTeam(w http.ResponseWriter, r *http.Request, _ string) error {
	id, err := idParam(r, "team_id")
	if err != nil {
		return err
	}
	t, err := s.st.team(id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

// addTeamMember lets a user join an open team (self-join), as regular users may; a system
// admin may add anyone to any team.
func (s *Server) addTeamMember(w http.ResponseWriter, r *http.Request, me string) error {
	teamID, err := idParam(r, "team_id")
	if err != nil {
		return err
	}
	var body struct {
		TeamID string `json:"team_id"`
		UserID string `json:"user_id"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if body.TeamID != teamID {
		return badBody("team_id in the body must match the team in the URL")
	}
	admin := s.st.isAdmin(me)
	if body.UserID != me && !admin {
		return forbidden("you may only add yourself to a team")
	}
	t, err := s.st.team(teamID)
	if err != nil {
		return err
	}
	if !t.AllowOpenInvite && !admin {
		return forbidden("team " + strconv.Quote(t.Name) + " is invite only")
	}
	m, err := s.st.joinTeam(teamID, body.UserID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, m)
	return nil
}

func (s *Server) getTeamsUnread(w http.ResponseWriter, r *http.Request, me string) error {
	id, err := selfParam(r, me)
	if err != nil {
		return err
	}
	exclude := r.URL.Query().Get("exclude_team")
	if exclude != "" && !isID(exclude) {
		return badParam("exclude_team", strconv.Quote(exclude)+" is not a 26-character id")
	}
	if _, err := boolQuery(r, "include_collapsed_threads"); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.st.teamUnreads(id, exclude))
	return nil
}

// memberTeam reads {team_id} and requires the caller to be a member of that team.
func (s *Server) memberTeam(r *http.Request, me string) (string, error) {
	teamID, err := idParam(r, "team_id")
	if err != nil {
		return "", err
	}
	if !s.st.isTeamMember(teamID, me) {
		return "", forbidden("you are not a member of team " + teamID)
	}
	return teamID, nil
}

// teamOfUser reads {user_id} (the caller) and {team_id}, and checks the membership.
func (s *Server) teamOfUser(r *http.Request, me string) (string, error) {
	if _, err := selfParam(r, me); err != nil {
		return "", err
	}
	teamID, err := idParam(r, "team_id")
	if err != nil {
		return "", err
	}
	if !s.st.isTeamMember(teamID, me) {
		if _, err := s.st.team(teamID); err != nil {
			return "", err
		}
		return "", forbidden("you are not a member of team " + teamID)
	}
	return teamID, nil
}

func (s *Server) getChannelsForTeamForUser(w http.ResponseWriter, r *http.Request, me string) error {
	teamID, err := s.teamOfUser(r, me)
	if err != nil {
		return err
	}
	inclDeleted, err := boolQuery(r, "include_deleted")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.st.channelsOf(me, teamID, inclDeleted))
	return nil
}

func (s *Server) getChannelMembersForTeamForUser(w http.ResponseWriter, r *http.Request, me string) error {
	teamID, err := s.teamOfUser(r, me)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.st.channelMembersOf(me, teamID))
	return nil
}

func (s *Server) getChannelsForUser(w http.ResponseWriter, r *http.Request, me string) error {
	if _, err := selfParam(r, me); err != nil {
		return err
	}
	if _, err := int64Query(r, "last_delete_at"); err != nil {
		return err
	}
	inclDeleted, err := boolQuery(r, "include_deleted")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.st.channelsOf(me, "", inclDeleted))
	return nil
}

func (s *Server) getChannelMembersForUser(w http.ResponseWriter, r *http.Request, me string) error {
	if _, err := selfParam(r, me); err != nil {
		return err
	}
	page, perPage, err := paging(r, 60, 200)
	if err != nil {
		return err
	}
	all := s.st.channelMembersOf(me, "")
	out := pageOf(all, page, perPage)
	if out == nil {
		out = []ChannelMember{}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getChannel(w http.ResponseWriter, r *http.Request, me string) error {
	c, err := s.visibleChannel(r, me)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

// visibleChannel reads {channel_id} and returns it if the caller may see it: a member, or
// a member of the team of an open channel.
func (s *Server) visibleChannel(r *http.Request, me string) (Channel, error) {
	id, err := idParam(r, "channel_id")
	if err != nil {
		return Channel{}, err
	}
	c, err := s.st.channel(id)
	if err != nil {
		return Channel{}, err
	}
	if !s.st.isChannelMember(id, me) && !(c.Type == ChannelOpen && s.st.isTeamMember(c.TeamID, me)) {
		return Channel{}, forbidden("you may not read channel " + id)
	}
	return c, nil
}

func (s *Server) getChannelStats(w http.ResponseWriter, r *http.Request, me string) error {
	c, err := s.visibleChannel(r, me)
	if err != nil {
		return err
	}
	if _, err := boolQuery(r, "exclude_files_count"); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"channel_id": c.ID, "member_count": s.st.memberCount(c.ID),
		"guest_count": 0, "pinnedpost_count": 0, "files_count": 0})
	return nil
}

func (s *Server) getPublicChannelsForTeam(w http.ResponseWriter, r *http.Request, me string) error {
	teamID, err := s.memberTeam(r, me)
	if err != nil {
		return err
	}
	page, perPage, err := paging(r, 60, 200)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.st.teamChannels(teamID, page, perPage))
	return nil
}

func (s *Server) createChannel(w http.ResponseWriter, r *http.Request, me string) error {
	var body struct {
		TeamID      string `json:"team_id"`
		Name        string `json:"name"`
		DisplayName string `json:"display_name"`
		Type        string `json:"type"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if !isID(body.TeamID) {
		return badBody("team_id " + strconv.Quote(body.TeamID) + " is not a 26-character id")
	}
	c, err := s.st.createChannel(body.TeamID, body.Name, body.DisplayName, body.Type, me)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (s *Server) createDirectChannel(w http.ResponseWriter, r *http.Request, me string) error {
	ids, err := readIDs(r, true)
	if err != nil {
		return err
	}
	if len(ids) != 2 {
		return badBody("a direct channel needs exactly 2 user ids, got " + strconv.Itoa(len(ids)))
	}
	if ids[0] != me && ids[1] != me {
		return forbidden("you may only open direct channels that include yourself")
	}
	// The server answers 201 whether or not the channel existed, as the reference documents.
	c, _, err := s.st.directChannel(ids[0], ids[1])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (s *Server) createGroupChannel(w http.ResponseWriter, r *http.Request, me string) error {
	ids, err := readIDs(r, true)
	if err != nil {
		return err
	}
	ids = append(ids, me) // Mattermost adds the caller
	c, _, err := s.st.groupChannel(ids)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (s *Server) getChannelMember(w http.ResponseWriter, r *http.Request, me string) error {
	c, err := s.visibleChannel(r, me)
	if err != nil {
		return err
	}
	uid, err := userParam(r, me)
	if err != nil {
		return err
	}
	m, err := s.st.channelMember(c.ID, uid)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

func (s *Server) addChannelMember(w http.ResponseWriter, r *http.Request, me string) error {
	c, err := s.visibleChannel(r, me)
	if err != nil {
		return err
	}
	var body struct {
		UserID string `json:"user_id"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if body.UserID != me && !s.st.isChannelMember(c.ID, me) {
		return forbidden("only members of channel " + c.ID + " may add others to it")
	}
	m, err := s.st.joinChannel(c.ID, body.UserID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, m)
	return nil
}

func (s *Server) removeChannelMember(w http.ResponseWriter, r *http.Request, me string) error {
	chID, err := idParam(r, "channel_id")
	if err != nil {
		return err
	}
	uid, err := selfParam(r, me)
	if err != nil {
		return err
	}
	if err := s.st.leaveChannel(chID, uid); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, statusOK)
	return nil
}

func (s *Server) viewChannel(w http.ResponseWriter, r *http.Request, me string) error {
	if _, err := selfParam(r, me); err != nil {
		return err
	}
	var body struct {
		ChannelID     string `json:"channel_id"`
		PrevChannelID string `json:"prev_channel_id"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	times := map[string]int64{}
	for _, id := range []string{body.ChannelID, body.PrevChannelID} {
		if id == "" {
			continue
		}
		if !isID(id) {
			return badBody("channel id " + strconv.Quote(id) + " is not a 26-character id")
		}
		t, err := s.st.viewChannel(me, id)
		if err != nil {
			return err
		}
		times[id] = t
		s.hub.send(event{name: "channel_viewed", data: map[string]any{"channel_id": id}, userID: me}, []string{me}, "")
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "OK", "last_viewed_at_times": times})
	return nil
}

func (s *Server) getChannelUnread(w http.ResponseWriter, r *http.Request, me string) error {
	if _, err := selfParam(r, me); err != nil {
		return err
	}
	chID, err := idParam(r, "channel_id")
	if err != nil {
		return err
	}
	u, err := s.st.channelUnread(me, chID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

// getCategories returns the default sidebar: favorites, channels, direct messages.
func (s *Server) getCategories(w http.ResponseWriter, r *http.Request, me string) error {
	teamID, err := s.teamOfUser(r, me)
	if err != nil {
		return err
	}
	var chans, dms []string
	for _, c := range s.st.channelsOf(me, teamID, false) {
		if c.TeamID == "" {
			dms = append(dms, c.ID)
		} else {
			chans = append(chans, c.ID)
		}
	}
	mk := func(typ, name string, ids []string) SidebarCategory {
		if ids == nil {
			ids = []string{}
		}
		return SidebarCategory{ID: typ + "_" + me + "_" + teamID, UserID: me, TeamID: teamID, Type: typ,
			DisplayName: name, Sorting: "", ChannelIDs: ids}
	}
	cats := []SidebarCategory{mk("favorites", "Favorites", nil), mk("channels", "Channels", chans), mk("direct_messages", "Direct Messages", dms)}
	order := make([]string, len(cats))
	for i, c := range cats {
		order[i] = c.ID
	}
	writeJSON(w, http.StatusOK, OrderedSidebarCategories{Categories: cats, Order: order})
	return nil
}

// clientConfig is the subset of GET /config/client that clients and load-test users read.
func (s *Server) clientConfig() map[string]string {
	return map[string]string{
		"Version":                            s.cfg.ServerVersion,
		"BuildNumber":                        "mmsim",
		"SiteName":                           "mmsim",
		"SiteURL":                            "",
		"EnableOpenServer":                   "true",
		"EnableSignUpWithEmail":              "true",
		"EnableUserCreation":                 "true",
		"CollapsedThreads":                   "default_off",
		"AllowSyncedDrafts":                  "true",
		"ScheduledPosts":                     "false",
		"EnableUserTypingMessages":           "true",
		"MaxNotificationsPerChannel":         "1000",
		"UniqueEmojiReactionLimitPerPost":    "50",
		"MaxPostSize":                        strconv.Itoa(MaxMessageRunes),
		"ExperimentalEnablePostMetadata":     "true",
		"FeatureFlagGraphQL":                 "false",
		"FeatureFlagWebSocketEventScope":     "true",
		"FeatureFlagChannelBookmarks":        "false",
		"FeatureFlagCustomProfileAttributes": "false",
	}
}

// getConfig serves the server configuration to system admins, as an admin's reload reads it.
func (s *Server) getConfig(w http.ResponseWriter, _ *http.Request, me string) error {
	if !s.st.isAdmin(me) {
		return forbidden("only system admins may read the server configuration")
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"ServiceSettings": map[string]any{"SiteURL": "", "ListenAddress": s.cfg.ListenAddress,
			"CollapsedThreads": "default_off", "EnableDeveloper": false},
		"TeamSettings": map[string]any{"SiteName": "mmsim", "EnableUserCreation": true,
			"EnableOpenServer": true, "MaxUsersPerTeam": 1000000},
		"FileSettings": map[string]any{"MaxFileSize": s.cfg.MaxFileBytes},
	})
	return nil
}

func (s *Server) getClientConfig(w http.ResponseWriter, r *http.Request, _ string) error {
	if f := r.URL.Query().Get("format"); f != "" && f != "old" {
		return badParam("format", `only "old" is supported, got `+strconv.Quote(f))
	}
	cfg := s.clientConfig()
	b, _ := json.Marshal(cfg) // a map of strings always marshals
	sum := sha256.Sum256(b)
	etagJSON(w, r, hex.EncodeToString(sum[:8]), cfg)
	return nil
}

func (s *Server) ping(w http.ResponseWriter, _ *http.Request, _ string) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "OK", "ActiveSearchBackend": "database"})
	return nil
}

func (s *Server) getRolesByNames(w http.ResponseWriter, r *http.Request, _ string) error {
	names, err := readIDs(r, false)
	if err != nil {
		return err
	}
	out := []Role{}
	for _, n := range names {
		if perms, ok := builtinRoles[n]; ok {
			out = append(out, Role{ID: stableID("role/" + n), Name: n, DisplayName: n,
				Permissions: perms, SchemeManaged: true, BuiltIn: true})
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

var builtinRoles = map[string][]string{
	"system_user":   {"create_team", "list_public_teams", "join_public_teams", "create_direct_channel", "create_group_channel", "view_members"},
	"system_admin":  {"manage_system", "manage_team", "manage_public_channel_members"},
	"team_user":     {"create_public_channel", "create_private_channel", "list_team_channels", "join_public_channels", "read_public_channel", "view_team"},
	"team_admin":    {"manage_team", "remove_user_from_team", "manage_team_roles"},
	"channel_user":  {"read_channel", "add_reaction", "remove_reaction", "create_post", "edit_post", "delete_post", "use_channel_mentions"},
	"channel_admin": {"manage_channel_roles", "manage_public_channel_members", "manage_private_channel_members"},
}

func (s *Server) getWebappPlugins(w http.ResponseWriter, _ *http.Request, _ string) error {
	writeJSON(w, http.StatusOK, []any{})
	return nil
}

// submitPerformanceReport accepts the client-side metrics the webapp posts every minute.
func (s *Server) submitPerformanceReport(w http.ResponseWriter, r *http.Request, _ string) error {
	var body map[string]any
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, statusOK)
	return nil
}
