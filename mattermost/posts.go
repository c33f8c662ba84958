package mattermost

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/textproto"
	"net/url"
	"strconv"
)

// NewPost is what CreatePost sends.
type NewPost struct {
	ChannelID string         `json:"channel_id"`
	RootID    string         `json:"root_id,omitempty"`
	Message   string         `json:"message"`
	FileIDs   []string       `json:"file_ids,omitempty"`
	Props     map[string]any `json:"props,omitempty"`
	Metadata  *struct {
		Priority map[string]any `json:"priority,omitempty"`
	} `json:"metadata,omitempty"`
	PendingPostID string `json:"pending_post_id,omitempty"`
}

// CreatePost posts a message.
func (c *Client) CreatePost(ctx context.Context, p NewPost) (Post, error) {
	var out Post
	err := c.json(ctx, "POST", "/posts", "/posts", nil, p, &out)
	return out, err
}

// GetPost returns a post.
func (c *Client) GetPost(ctx context.Context, id string) (Post, error) {
	var p Post
	err := c.json(ctx, "GET", "/posts/{post_id}", pathf("/posts/%s", id), nil, nil, &p)
	return p, err
}

// PatchPost changes a post's message.
func (c *Client) PatchPost(ctx context.Context, id, message string) (Post, error) {
	var p Post
	err := c.json(ctx, "PUT", "/posts/{post_id}/patch", pathf("/posts/%s/patch", id), nil, map[string]string{"message": message}, &p)
	return p, err
}

// DeletePost deletes a post.
func (c *Client) DeletePost(ctx context.Context, id string) error {
	return c.json(ctx, "DELETE", "/posts/{post_id}", pathf("/posts/%s", id), nil, nil, nil)
}

// PostsQuery selects a page of GET /channels/{id}/posts: Since (ms) for changes after a
// time, or Before/After a post id with Page and PerPage.
type PostsQuery struct {
	Since            int64
	Before, After    string
	Page, PerPage    int
	CollapsedThreads bool
}

// GetPostsForChannel returns a page of a channel's posts.
func (c *Client) GetPostsForChannel(ctx context.Context, channelID string, q PostsQuery) (PostList, error) {
	v := url.Values{"collapsedThreads": {strconv.FormatBool(q.CollapsedThreads)}}
	if q.Since > 0 {
		v.Set("since", strconv.FormatInt(q.Since, 10))
	} else {
		for k, val := range pageQuery(q.Page, q.PerPage) {
			v[k] = val
		}
		if q.Before != "" {
			v.Set("before", q.Before)
		}
		if q.After != "" {
			v.Set("after", q.After)
		}
	}
	var l PostList
	err := c.json(ctx, "GET", "/channels/{channel_id}/posts", pathf("/channels/%s/posts", channelID), v, nil, &l)
	return l, err
}

// GetPostsAroundLastUnread returns the posts around the caller's last view of a channel.
func (c *Client) GetPostsAroundLastUnread(ctx context.Context, channelID string, before, after int, collapsed bool) (PostList, error) {
	v := url.Values{"limit_before": {strconv.Itoa(before)}, "limit_after": {strconv.Itoa(after)},
		"collapsedThreads": {strconv.FormatBool(collapsed)}}
	var l PostList
	err := c.json(ctx, "GET", "/users/{user_id}/channels/{channel_id}/posts/unread",
		pathf("/users/%s/channels/%s/posts/unread", c.me(), channelID), v, nil, &l)
	return l, err
}

// GetPostThread returns a thread: the root and up to perPage replies (0: all).
func (c *Client) GetPostThread(ctx context.Context, postID string, perPage int, collapsed bool) (PostList, error) {
	v := url.Values{"collapsedThreads": {strconv.FormatBool(collapsed)}, "direction": {"down"}}
	if perPage > 0 {
		v.Set("perPage", strconv.Itoa(perPage))
	}
	var l PostList
	err := c.json(ctx, "GET", "/posts/{post_id}/thread", pathf("/posts/%s/thread", postID), v, nil, &l)
	return l, err
}

// SaveReaction reacts to a post with an emoji.
func (c *Client) SaveReaction(ctx context.Context, postID, emoji string) (Reaction, error) {
	var r Reaction
	err := c.json(ctx, "POST", "/reactions", "/reactions", nil,
		Reaction{UserID: c.UserID(), PostID: postID, EmojiName: emoji}, &r)
	return r, err
}

// DeleteReaction removes the caller's reaction.
func (c *Client) DeleteReaction(ctx context.Context, postID, emoji string) error {
	return c.json(ctx, "DELETE", "/users/{user_id}/posts/{post_id}/reactions/{emoji_name}",
		pathf("/users/%s/posts/%s/reactions/%s", c.me(), postID, emoji), nil, nil, nil)
}

// GetReactions returns a post's reactions.
func (c *Client) GetReactions(ctx context.Context, postID string) ([]Reaction, error) {
	var rs []Reaction
	err := c.json(ctx, "GET", "/posts/{post_id}/reactions", pathf("/posts/%s/reactions", postID), nil, nil, &rs)
	return rs, err
}

// ThreadsQuery pages the caller's followed threads.
type ThreadsQuery struct {
	PerPage    int
	Before     string // thread id
	Unread     bool
	TotalsOnly bool
}

// GetUserThreads lists the caller's threads in a team.
func (c *Client) GetUserThreads(ctx context.Context, teamID string, q ThreadsQuery) (UserThreads, error) {
	v := url.Values{"threadsOnly": {strconv.FormatBool(!q.TotalsOnly)}, "totalsOnly": {strconv.FormatBool(q.TotalsOnly)}}
	if q.PerPage > 0 {
		v.Set("per_page", strconv.Itoa(q.PerPage))
	}
	if q.Before != "" {
		v.Set("before", q.Before)
	}
	if q.Unread {
		v.Set("unread", "true")
	}
	var t UserThreads
	err := c.json(ctx, "GET", "/users/{user_id}/teams/{team_id}/threads", pathf("/users/%s/teams/%s/threads", c.me(), teamID), v, nil, &t)
	return t, err
}

// UpdateThreadRead marks a thread read up to ts (ms).
func (c *Client) UpdateThreadRead(ctx context.Context, teamID, threadID string, ts int64) error {
	return c.json(ctx, "PUT", "/users/{user_id}/teams/{team_id}/threads/{thread_id}/read/{timestamp}",
		pathf("/users/%s/teams/%s/threads/%s/read/%s", c.me(), teamID, threadID, strconv.FormatInt(ts, 10)), nil, nil, nil)
}

// SetThreadFollowing follows or unfollows a thread.
func (c *Client) SetThreadFollowing(ctx context.Context, teamID, threadID string, follow bool) error {
	method := "PUT"
	if !follow {
		method = "DELETE"
	}
	return c.json(ctx, method, "/users/{user_id}/teams/{team_id}/threads/{thread_id}/following",
		pathf("/users/%s/teams/%s/threads/%s/following", c.me(), teamID, threadID), nil, nil, nil)
}

// MarkAllThreadsRead marks every thread of the caller in a team read.
func (c *Client) MarkAllThreadsRead(ctx context.Context, teamID string) error {
	return c.json(ctx, "PUT", "/users/{user_id}/teams/{team_id}/threads/read",
		pathf("/users/%s/teams/%s/threads/read", c.me(), teamID), nil, nil, nil)
}

// UpsertDraft saves a draft of a message in a channel (and thread, with rootID).
func (c *Client) UpsertDraft(ctx context.Context, channelID, rootID, message string) error {
	return c.json(ctx, "POST", "/drafts", "/drafts", nil,
		map[string]string{"user_id": c.UserID(), "channel_id": channelID, "root_id": rootID, "message": message}, nil)
}

// GetDrafts lists the caller's drafts in a team.
func (c *Client) GetDrafts(ctx context.Context, teamID string) ([]Draft, error) {
	var ds []Draft
	err := c.json(ctx, "GET", "/users/{user_id}/teams/{team_id}/drafts", pathf("/users/%s/teams/%s/drafts", c.me(), teamID), nil, nil, &ds)
	return ds, err
}

// DeleteDraft deletes the caller's draft in a channel (or thread, with rootID).
func (c *Client) DeleteDraft(ctx context.Context, channelID, rootID string) error {
	if rootID == "" {
		return c.json(ctx, "DELETE", "/users/{user_id}/channels/{channel_id}/drafts",
			pathf("/users/%s/channels/%s/drafts", c.me(), channelID), nil, nil, nil)
	}
	return c.json(ctx, "DELETE", "/users/{user_id}/channels/{channel_id}/drafts/{thread_id}",
		pathf("/users/%s/channels/%s/drafts/%s", c.me(), channelID, rootID), nil, nil, nil)
}

// UploadFile uploads one file to a channel and returns its info.
func (c *Client) UploadFile(ctx context.Context, channelID, name, contentType string, data []byte) (FileInfo, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if err := mw.WriteField("channel_id", channelID); err != nil {
		return FileInfo{}, err
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="files"; filename="`+escapeQuotes(name)+`"`)
	h.Set("Content-Type", contentType)
	part, err := mw.CreatePart(h)
	if err != nil {
		return FileInfo{}, err
	}
	if _, err := part.Write(data); err != nil {
		return FileInfo{}, err
	}
	if err := mw.Close(); err != nil {
		return FileInfo{}, err
	}
	var res struct {
		FileInfos []FileInfo `json:"file_infos"`
	}
	_, _, err = c.do(ctx, call{method: "POST", route: "/files", path: "/files", body: &buf, ctype: mw.FormDataContentType(), out: &res})
	if err != nil {
		return FileInfo{}, err
	}
	if len(res.FileInfos) != 1 {
		return FileInfo{}, &Error{Method: "POST", Route: "/files", AppError: AppError{Message: "expected one file_info in the response"}}
	}
	return res.FileInfos[0], nil
}

func escapeQuotes(s string) string {
	b := make([]byte, 0, len(s))
	for i := range len(s) {
		if s[i] == '"' || s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return string(b)
}

// GetFileThumbnail fetches a file's thumbnail.
func (c *Client) GetFileThumbnail(ctx context.Context, fileID string) error {
	return c.json(ctx, "GET", "/files/{file_id}/thumbnail", pathf("/files/%s/thumbnail", fileID), nil, nil, nil)
}

// GetFilePreview fetches a file's preview.
func (c *Client) GetFilePreview(ctx context.Context, fileID string) error {
	return c.json(ctx, "GET", "/files/{file_id}/preview", pathf("/files/%s/preview", fileID), nil, nil, nil)
}
