package mattermost

import (
	"context"
	"net/url"
	"strconv"
)

// GetTeams lists teams.
func (c *Client) GetTeams(ctx context.Context, page, perPage int) ([]Team, error) {
	var ts []Team
	err := c.json(ctx, "GET", "/teams", "/teams", pageQuery(page, perPage), nil, &ts)
	return ts, err
}

// CreateTeam creates a team; typ is "O" (open) or "I" (invite only).
func (c *Client) CreateTeam(ctx context.Context, name, displayName, typ string) (Team, error) {
	var t Team
	err := c.json(ctx, "POST", "/teams", "/teams", nil,
		map[string]string{"name": name, "display_name": displayName, "type": typ}, &t)
	return t, err
}

// GetTeamsForUser lists the caller's teams.
func (c *Client) GetTeamsForUser(ctx context.Context) ([]Team, error) {
	var ts []Team
	err := c.json(ctx, "GET", "/users/{user_id}/teams", pathf("/users/%s/teams", c.me()), nil, nil, &ts)
	return ts, err
}

// GetTeamMembersForUser lists the caller's team memberships.
func (c *Client) GetTeamMembersForUser(ctx context.Context) ([]TeamMember, error) {
	var ms []TeamMember
	err := c.json(ctx, "GET", "/users/{user_id}/teams/members", pathf("/users/%s/teams/members", c.me()), nil, nil, &ms)
	return ms, err
}

// AddTeamMember adds a user to a team (themselves, or anyone for an admin).
func (c *Client) AddTeamMember(ctx context.Context, teamID, userID string) (TeamMember, error) {
	var m TeamMember
	err := c.json(ctx, "POST", "/teams/{team_id}/members", pathf("/teams/%s/members", teamID), nil,
		map[string]string{"team_id": teamID, "user_id": userID}, &m)
	return m, err
}

// GetTeamsUnread returns the caller's unread counts per team, leaving out excludeTeam.
func (c *Client) GetTeamsUnread(ctx context.Context, excludeTeam string) ([]map[string]any, error) {
	var out []map[string]any
	q := url.Values{"exclude_team": {excludeTeam}, "include_collapsed_threads": {"true"}}
	err := c.json(ctx, "GET", "/users/{user_id}/teams/unread", pathf("/users/%s/teams/unread", c.me()), q, nil, &out)
	return out, err
}

// GetChannelsForTeamForUser lists the caller's channels in a team, with direct and group ones.
func (c *Client) GetChannelsForTeamForUser(ctx context.Context, teamID string, includeDeleted bool) ([]Channel, error) {
	var cs []Channel
	q := url.Values{"include_deleted": {strconv.FormatBool(includeDeleted)}}
	err := c.json(ctx, "GET", "/users/{user_id}/teams/{team_id}/channels", pathf("/users/%s/teams/%s/channels", c.me(), teamID), q, nil, &cs)
	return cs, err
}

// GetChannelMembersForTeamForUser lists the caller's channel memberships in a team.
func (c *Client) GetChannelMembersForTeamForUser(ctx context.Context, teamID string) ([]ChannelMember, error) {
	var ms []ChannelMember
	err := c.json(ctx, "GET", "/users/{user_id}/teams/{team_id}/channels/members", pathf("/users/%s/teams/%s/channels/members", c.me(), teamID), nil, nil, &ms)
	return ms, err
}

// GetChannelsForUser lists all the caller's channels.
func (c *Client) GetChannelsForUser(ctx context.Context) ([]Channel, error) {
	var cs []Channel
	err := c.json(ctx, "GET", "/users/{user_id}/channels", pathf("/users/%s/channels", c.me()), url.Values{"last_delete_at": {"0"}}, nil, &cs)
	return cs, err
}

// GetChannelMembersForUser pages through all the caller's channel memberships.
func (c *Client) GetChannelMembersForUser(ctx context.Context, page, perPage int) ([]ChannelMember, error) {
	var ms []ChannelMember
	err := c.json(ctx, "GET", "/users/{user_id}/channel_members", pathf("/users/%s/channel_members", c.me()), pageQuery(page, perPage), nil, &ms)
	return ms, err
}

// GetCategories returns the caller's sidebar categories in a team.
func (c *Client) GetCategories(ctx context.Context, teamID string) (OrderedSidebarCategories, error) {
	var o OrderedSidebarCategories
	err := c.json(ctx, "GET", "/users/{user_id}/teams/{team_id}/channels/categories", pathf("/users/%s/teams/%s/channels/categories", c.me(), teamID), nil, nil, &o)
	return o, err
}

// GetChannel returns a channel.
func (c *Client) GetChannel(ctx context.Context, id string) (Channel, error) {
	var ch Channel
	err := c.json(ctx, "GET", "/channels/{channel_id}", pathf("/channels/%s", id), nil, nil, &ch)
	return ch, err
}

// GetPublicChannelsForTeam pages through a team's public channels.
func (c *Client) GetPublicChannelsForTeam(ctx context.Context, teamID string, page, perPage int) ([]Channel, error) {
	var cs []Channel
	err := c.json(ctx, "GET", "/teams/{team_id}/channels", pathf("/teams/%s/channels", teamID), pageQuery(page, perPage), nil, &cs)
	return cs, err
}

// CreateChannel creates an open ("O") or private ("P") channel in a team.
func (c *Client) CreateChannel(ctx context.Context, teamID, name, displayName, typ string) (Channel, error) {
	var ch Channel
	err := c.json(ctx, "POST", "/channels", "/channels", nil,
		map[string]string{"team_id": teamID, "name": name, "display_name": displayName, "type": typ}, &ch)
	return ch, err
}

// CreateDirectChannel returns the direct channel between the caller and other.
func (c *Client) CreateDirectChannel(ctx context.Context, other string) (Channel, error) {
	var ch Channel
	err := c.json(ctx, "POST", "/channels/direct", "/channels/direct", nil, []string{c.UserID(), other}, &ch)
	return ch, err
}

// CreateGroupChannel returns the group channel of the caller and others (2 to 7 of them).
func (c *Client) CreateGroupChannel(ctx context.Context, others []string) (Channel, error) {
	var ch Channel
	err := c.json(ctx, "POST", "/channels/group", "/channels/group", nil, others, &ch)
	return ch, err
}

// GetChannelMember returns a user's membership of a channel.
func (c *Client) GetChannelMember(ctx context.Context, channelID, userID string) (ChannelMember, error) {
	var m ChannelMember
	err := c.json(ctx, "GET", "/channels/{channel_id}/members/{user_id}", pathf("/channels/%s/members/%s", channelID, userID), nil, nil, &m)
	return m, err
}

// AddChannelMember adds a user (the caller, to join) to a channel.
func (c *Client) AddChannelMember(ctx context.Context, channelID, userID string) (ChannelMember, error) {
	var m ChannelMember
	err := c.json(ctx, "POST", "/channels/{channel_id}/members", pathf("/channels/%s/members", channelID), nil,
		map[string]string{"user_id": userID}, &m)
	return m, err
}

// LeaveChannel removes the caller from a channel.
func (c *Client) LeaveChannel(ctx context.Context, channelID string) error {
	return c.json(ctx, "DELETE", "/channels/{channel_id}/members/{user_id}", pathf("/channels/%s/members/%s", channelID, c.me()), nil, nil, nil)
}

// ViewChannel marks channelID read (and prevChannelID, if set), as switching channels does.
func (c *Client) ViewChannel(ctx context.Context, channelID, prevChannelID string) error {
	return c.json(ctx, "POST", "/channels/members/{user_id}/view", pathf("/channels/members/%s/view", c.me()), nil,
		map[string]any{"channel_id": channelID, "prev_channel_id": prevChannelID, "collapsed_threads_supported": true}, nil)
}

// GetChannelStats returns a channel's member count.
func (c *Client) GetChannelStats(ctx context.Context, channelID string, excludeFilesCount bool) (int, error) {
	var st struct {
		MemberCount int `json:"member_count"`
	}
	q := url.Values{"exclude_files_count": {strconv.FormatBool(excludeFilesCount)}}
	err := c.json(ctx, "GET", "/channels/{channel_id}/stats", pathf("/channels/%s/stats", channelID), q, nil, &st)
	return st.MemberCount, err
}

// GetChannelUnread returns the caller's unread counts in a channel.
func (c *Client) GetChannelUnread(ctx context.Context, channelID string) (map[string]any, error) {
	var m map[string]any
	err := c.json(ctx, "GET", "/users/{user_id}/channels/{channel_id}/unread", pathf("/users/%s/channels/%s/unread", c.me(), channelID), nil, nil, &m)
	return m, err
}
