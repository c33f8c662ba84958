package mattermost

import "context"

// SearchUsers finds users by username, nickname or email prefix, within a team if teamID is set.
func (c *Client) SearchUsers(ctx context.Context, term, teamID string, limit int) ([]User, error) {
	var us []User
	body := map[string]any{"term": term, "limit": limit}
	if teamID != "" {
		body["team_id"] = teamID
	}
	err := c.json(ctx, "POST", "/users/search", "/users/search", nil, body, &us)
	return us, err
}

// PostSearchResult is a page of posts found by a search.
type PostSearchResult struct {
	PostList
	Matches map[string][]string `json:"matches"`
}

// SearchPosts searches a team's posts. terms may hold "phrases", -exclusions, from:user,
// in:channel and on:/before:/after: dates.
func (c *Client) SearchPosts(ctx context.Context, teamID, terms string, isOr bool, page, perPage int) (PostSearchResult, error) {
	var res PostSearchResult
	err := c.json(ctx, "POST", "/teams/{team_id}/posts/search", pathf("/teams/%s/posts/search", teamID), nil,
		map[string]any{"terms": terms, "is_or_search": isOr, "time_zone_offset": 0, "include_deleted_channels": false,
			"page": page, "per_page": perPage}, &res)
	return res, err
}

// SearchChannels finds a team's public channels by name.
func (c *Client) SearchChannels(ctx context.Context, teamID, term string) ([]Channel, error) {
	var cs []Channel
	err := c.json(ctx, "POST", "/teams/{team_id}/channels/search", pathf("/teams/%s/channels/search", teamID), nil,
		map[string]string{"term": term}, &cs)
	return cs, err
}

// SearchGroupChannels finds the caller's group channels by member names.
func (c *Client) SearchGroupChannels(ctx context.Context, term string) ([]Channel, error) {
	var cs []Channel
	err := c.json(ctx, "POST", "/channels/group/search", "/channels/group/search", nil, map[string]string{"term": term}, &cs)
	return cs, err
}
