package mattermost

import (
	"context"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

func (c *Client) me() string {
	if id := c.UserID(); id != "" {
		return id
	}
	return "me"
}

// RootPage fetches the server's root page, as a browser loads the webapp. It returns the
// server version from X-Version-Id and the stylesheet and script paths the page links.
func (c *Client) RootPage(ctx context.Context) (version string, assets []string, err error) {
	resp, body, err := c.do(ctx, call{method: "GET", route: "/", path: "/", headers: []string{"X-Version-Id"}, raw: true})
	if err != nil {
		return "", nil, err
	}
	for _, m := range assetRE.FindAllSubmatch(body, -1) {
		assets = append(assets, string(m[1]))
	}
	return resp.headers[0], assets, nil
}

var assetRE = regexp.MustCompile(`(?:<link[^>]+href|<script[^>]+src)="(/[^"]+)"`)

// GetAsset fetches a static asset the root page links (a path such as /static/main.js).
func (c *Client) GetAsset(ctx context.Context, path string) error {
	_, _, err := c.do(ctx, call{method: "GET", route: "/", path: path})
	return err
}

// Ping calls GET /system/ping.
func (c *Client) Ping(ctx context.Context) error {
	return c.json(ctx, "GET", "/system/ping", "/system/ping", nil, nil, nil)
}

// Login opens a session with a username or email and a password; the client keeps the token.
func (c *Client) Login(ctx context.Context, loginID, password string) (User, error) {
	var u User
	resp, _, err := c.do(ctx, call{method: "POST", route: "/users/login", path: "/users/login",
		body: map[string]string{"login_id": loginID, "password": password}, out: &u, headers: []string{"Token"}})
	if err != nil {
		return User{}, err
	}
	c.SetSession(resp.headers[0], u.ID)
	return u, nil
}

// Logout ends the session; the client forgets the token even if the call fails.
func (c *Client) Logout(ctx context.Context) error {
	err := c.json(ctx, "POST", "/users/logout", "/users/logout", nil, nil, nil)
	c.SetSession("", "")
	return err
}

// CreateUser signs a user up (the server must allow open sign-up).
func (c *Client) CreateUser(ctx context.Context, username, email, password string) (User, error) {
	var u User
	err := c.json(ctx, "POST", "/users", "/users", nil,
		map[string]string{"username": username, "email": email, "password": password}, &u)
	return u, err
}

// GetMe returns the logged-in user.
func (c *Client) GetMe(ctx context.Context) (User, error) {
	return c.GetUser(ctx, "me")
}

// CheckMe sends GET /users/me and checks its status, but reads the user only to drop it:
// the noop baseline's request, which costs the client about what it costs wrk (decoding the
// user would double the client's CPU per request beside the socket calls).
func (c *Client) CheckMe(ctx context.Context) error {
	_, _, err := c.do(ctx, call{method: "GET", route: "/users/{user_id}", path: "/users/me"})
	return err
}

// GetUser returns a user by id ("me" for the caller).
func (c *Client) GetUser(ctx context.Context, id string) (User, error) {
	var u User
	err := c.json(ctx, "GET", "/users/{user_id}", pathf("/users/%s", id), nil, nil, &u)
	return u, err
}

// UsersQuery filters and pages GET /users.
type UsersQuery struct {
	Page, PerPage                   int
	InTeam, InChannel, NotInChannel string
}

// GetUsers lists users.
func (c *Client) GetUsers(ctx context.Context, q UsersQuery) ([]User, error) {
	v := pageQuery(q.Page, q.PerPage)
	for k, val := range map[string]string{"in_team": q.InTeam, "in_channel": q.InChannel, "not_in_channel": q.NotInChannel} {
		if val != "" {
			v.Set(k, val)
		}
	}
	var us []User
	err := c.json(ctx, "GET", "/users", "/users", v, nil, &us)
	return us, err
}

func pageQuery(page, perPage int) url.Values {
	if perPage <= 0 {
		perPage = 60
	}
	return url.Values{"page": {strconv.Itoa(page)}, "per_page": {strconv.Itoa(perPage)}}
}

// GetUsersByIDs returns the users among ids; since > 0 returns only those updated after it.
func (c *Client) GetUsersByIDs(ctx context.Context, ids []string, since int64) ([]User, error) {
	var us []User
	err := c.usersByIDs(ctx, ids, since, &us)
	return us, err
}

// LoadUsersByIDs sends GetUsersByIDs's request and reads the answer to the end without
// decoding it: for a simulated user that keeps only the ids it asked for. Decoding the
// profiles was a tenth of a simulative agent's CPU (docs/benchmarks.md).
func (c *Client) LoadUsersByIDs(ctx context.Context, ids []string, since int64) error {
	return c.usersByIDs(ctx, ids, since, nil)
}

func (c *Client) usersByIDs(ctx context.Context, ids []string, since int64, out any) error {
	var q url.Values
	if since > 0 {
		q = url.Values{"since": {strconv.FormatInt(since, 10)}}
	}
	return c.json(ctx, "POST", "/users/ids", "/users/ids", q, ids, out)
}

// GetUsersByUsernames returns the users with the given usernames.
func (c *Client) GetUsersByUsernames(ctx context.Context, names []string) ([]User, error) {
	var us []User
	err := c.json(ctx, "POST", "/users/usernames", "/users/usernames", nil, names, &us)
	return us, err
}

// GetStatusesByIDs returns the statuses of the given users.
func (c *Client) GetStatusesByIDs(ctx context.Context, ids []string) ([]Status, error) {
	var ss []Status
	err := c.json(ctx, "POST", "/users/status/ids", "/users/status/ids", nil, ids, &ss)
	return ss, err
}

// LoadStatusesByIDs sends GetStatusesByIDs's request and reads the answer to the end
// without decoding it, for a simulated user that only notes it asked.
func (c *Client) LoadStatusesByIDs(ctx context.Context, ids []string) error {
	return c.json(ctx, "POST", "/users/status/ids", "/users/status/ids", nil, ids, nil)
}

// GetUserStatus returns one user's status.
func (c *Client) GetUserStatus(ctx context.Context, id string) (Status, error) {
	var s Status
	err := c.json(ctx, "GET", "/users/{user_id}/status", pathf("/users/%s/status", id), nil, nil, &s)
	return s, err
}

// UpdateStatus sets the caller's status: online, away, dnd or offline.
func (c *Client) UpdateStatus(ctx context.Context, status string) (Status, error) {
	var s Status
	err := c.json(ctx, "PUT", "/users/{user_id}/status", pathf("/users/%s/status", c.me()), nil,
		map[string]string{"user_id": c.UserID(), "status": status}, &s)
	return s, err
}

// ProfileImage is what the answer to a profile picture request says of the picture.
type ProfileImage struct {
	ETag        string        // its version (Mattermost's is the user's last_picture_update, an integer)
	NotModified bool          // the server answered 304: the version sent is current
	MaxAge      time.Duration // how long Cache-Control lets a browser reuse it without asking; 0: not at all
	HasMaxAge   bool          // the answer carried Cache-Control (a 304 may not; the stored one then stands)
}

// GetProfileImage fetches a user's picture. With etag set it is sent as If-None-Match.
func (c *Client) GetProfileImage(ctx context.Context, userID, etag string) (ProfileImage, error) {
	h := http.Header{}
	if etag != "" {
		h.Set("If-None-Match", etag)
	}
	resp, _, err := c.do(ctx, call{method: "GET", route: "/users/{user_id}/image", path: pathf("/users/%s/image", userID), header: h,
		headers: []string{"ETag", "Cache-Control"}})
	if err != nil {
		return ProfileImage{}, err
	}
	img := ProfileImage{ETag: resp.headers[0], NotModified: resp.status == http.StatusNotModified}
	if cc := resp.headers[1]; cc != "" {
		img.MaxAge, img.HasMaxAge = CacheMaxAge(cc), true
	}
	return img, nil
}

// CacheMaxAge is how long a browser may reuse a response with this Cache-Control header
// without asking the server again (RFC 9111): its max-age, or 0 with no-store, no-cache,
// no max-age or a malformed one.
func CacheMaxAge(cacheControl string) time.Duration {
	var age time.Duration
	for d := range strings.SplitSeq(cacheControl, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
		switch strings.ToLower(name) {
		case "no-store", "no-cache":
			return 0
		case "max-age":
			n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64)
			if err != nil || n < 0 {
				return 0
			}
			age = time.Duration(min(n, int64(math.MaxInt64/time.Second))) * time.Second
		}
	}
	return age
}

// AutocompleteUsers returns users whose name starts with name: in the channel, and in the
// team but not the channel.
func (c *Client) AutocompleteUsers(ctx context.Context, teamID, channelID, name string, limit int) (in, out []User, err error) {
	q := url.Values{"name": {name}, "limit": {strconv.Itoa(limit)}}
	if teamID != "" {
		q.Set("in_team", teamID)
	}
	if channelID != "" {
		q.Set("in_channel", channelID)
	}
	var res struct {
		Users        []User `json:"users"`
		OutOfChannel []User `json:"out_of_channel"`
	}
	err = c.json(ctx, "GET", "/users/autocomplete", "/users/autocomplete", q, nil, &res)
	return res.Users, res.OutOfChannel, err
}

// GetPreferences returns the caller's preferences.
func (c *Client) GetPreferences(ctx context.Context) ([]Preference, error) {
	var ps []Preference
	err := c.json(ctx, "GET", "/users/{user_id}/preferences", pathf("/users/%s/preferences", c.me()), nil, nil, &ps)
	return ps, err
}

// UpdatePreferences saves preferences of the caller; their UserID is filled in.
func (c *Client) UpdatePreferences(ctx context.Context, prefs []Preference) error {
	for i := range prefs {
		prefs[i].UserID = c.UserID()
	}
	return c.json(ctx, "PUT", "/users/{user_id}/preferences", pathf("/users/%s/preferences", c.me()), nil, prefs, nil)
}

// GetClientConfig returns the client configuration (the "old" format: a map of strings).
func (c *Client) GetClientConfig(ctx context.Context) (map[string]string, error) {
	var m map[string]string
	err := c.json(ctx, "GET", "/config/client", "/config/client", url.Values{"format": {"old"}}, nil, &m)
	return m, err
}

// GetConfig returns the server configuration; system admins only.
func (c *Client) GetConfig(ctx context.Context) (map[string]any, error) {
	var m map[string]any
	err := c.json(ctx, "GET", "/config", "/config", nil, nil, &m)
	return m, err
}

// GetRolesByNames returns the named roles.
func (c *Client) GetRolesByNames(ctx context.Context, names []string) ([]Role, error) {
	var rs []Role
	err := c.json(ctx, "POST", "/roles/names", "/roles/names", nil, names, &rs)
	return rs, err
}

// RolesOf splits a roles string ("system_user system_admin") into names.
func RolesOf(roles string) []string { return strings.Fields(roles) }

// GetWebappPlugins lists the webapp plugins.
func (c *Client) GetWebappPlugins(ctx context.Context) error {
	return c.json(ctx, "GET", "/plugins/webapp", "/plugins/webapp", nil, nil, nil)
}

// SubmitClientPerf posts a client performance report, as the webapp does every minute.
func (c *Client) SubmitClientPerf(ctx context.Context, report map[string]any) error {
	return c.json(ctx, "POST", "/client_perf", "/client_perf", nil, report, nil)
}
