package mattermost

// The types below carry Mattermost's JSON field names. The test server (internal/mmsim) serves
// the same types, so the client and the server cannot disagree on a field.

// User is a Mattermost user account.
type User struct {
	ID                 string            `json:"id"`
	CreateAt           int64             `json:"create_at"`
	UpdateAt           int64             `json:"update_at"`
	DeleteAt           int64             `json:"delete_at"`
	Username           string            `json:"username"`
	AuthService        string            `json:"auth_service"`
	Email              string            `json:"email"`
	EmailVerified      bool              `json:"email_verified"`
	Nickname           string            `json:"nickname"`
	FirstName          string            `json:"first_name"`
	LastName           string            `json:"last_name"`
	Position           string            `json:"position"`
	Roles              string            `json:"roles"`
	Locale             string            `json:"locale"`
	Props              map[string]string `json:"props"`
	NotifyProps        map[string]string `json:"notify_props"`
	Timezone           map[string]any    `json:"timezone"` // useAutomaticTimezone is a boolean, as the reference documents; the real server sends the string "true"
	LastPasswordUpdate int64             `json:"last_password_update"`
	LastPictureUpdate  int64             `json:"last_picture_update"`
}

// Team is a Mattermost team. Type is "O" (open) or "I" (invite only).
type Team struct {
	ID              string `json:"id"`
	CreateAt        int64  `json:"create_at"`
	UpdateAt        int64  `json:"update_at"`
	DeleteAt        int64  `json:"delete_at"`
	DisplayName     string `json:"display_name"`
	Name            string `json:"name"`
	Description     string `json:"description"`
	Email           string `json:"email"`
	Type            string `json:"type"`
	AllowedDomains  string `json:"allowed_domains"`
	InviteID        string `json:"invite_id"`
	AllowOpenInvite bool   `json:"allow_open_invite"`
}

// TeamMember is a user's membership of a team.
type TeamMember struct {
	TeamID        string `json:"team_id"`
	UserID        string `json:"user_id"`
	Roles         string `json:"roles"`
	DeleteAt      int64  `json:"delete_at"`
	SchemeUser    bool   `json:"scheme_user"`
	SchemeAdmin   bool   `json:"scheme_admin"`
	ExplicitRoles string `json:"explicit_roles"`
}

// Channel types, as Mattermost spells them.
const (
	ChannelOpen    = "O"
	ChannelPrivate = "P"
	ChannelDirect  = "D"
	ChannelGroup   = "G"
)

// Channel is a Mattermost channel. Direct and group channels have no team.
type Channel struct {
	ID                string `json:"id"`
	CreateAt          int64  `json:"create_at"`
	UpdateAt          int64  `json:"update_at"`
	DeleteAt          int64  `json:"delete_at"`
	TeamID            string `json:"team_id"`
	Type              string `json:"type"`
	DisplayName       string `json:"display_name"`
	Name              string `json:"name"`
	Header            string `json:"header"`
	Purpose           string `json:"purpose"`
	LastPostAt        int64  `json:"last_post_at"`
	LastRootPostAt    int64  `json:"last_root_post_at"`
	TotalMsgCount     int64  `json:"total_msg_count"`
	TotalMsgCountRoot int64  `json:"total_msg_count_root"`
	ExtraUpdateAt     int64  `json:"extra_update_at"`
	CreatorID         string `json:"creator_id"`
}

// ChannelMember is a user's membership of a channel, with what the user has read.
type ChannelMember struct {
	ChannelID        string            `json:"channel_id"`
	UserID           string            `json:"user_id"`
	Roles            string            `json:"roles"`
	LastViewedAt     int64             `json:"last_viewed_at"`
	MsgCount         int64             `json:"msg_count"`
	MentionCount     int64             `json:"mention_count"`
	MsgCountRoot     int64             `json:"msg_count_root"`
	MentionCountRoot int64             `json:"mention_count_root"`
	NotifyProps      map[string]string `json:"notify_props"`
	LastUpdateAt     int64             `json:"last_update_at"`
	SchemeUser       bool              `json:"scheme_user"`
	SchemeAdmin      bool              `json:"scheme_admin"`
	ExplicitRoles    string            `json:"explicit_roles"`
}

// Post is a message. RootID is set on replies.
type Post struct {
	ID            string         `json:"id"`
	CreateAt      int64          `json:"create_at"`
	UpdateAt      int64          `json:"update_at"`
	EditAt        int64          `json:"edit_at"`
	DeleteAt      int64          `json:"delete_at"`
	IsPinned      bool           `json:"is_pinned"`
	UserID        string         `json:"user_id"`
	ChannelID     string         `json:"channel_id"`
	RootID        string         `json:"root_id"`
	OriginalID    string         `json:"original_id"`
	Message       string         `json:"message"`
	Type          string         `json:"type"`
	Props         map[string]any `json:"props"`
	Hashtags      string         `json:"hashtags"`
	FileIDs       []string       `json:"file_ids"`
	PendingPostID string         `json:"pending_post_id"`
	ReplyCount    int64          `json:"reply_count"`
	LastReplyAt   int64          `json:"last_reply_at"`
	Metadata      *PostMetadata  `json:"metadata,omitempty"`
}

// PostMetadata carries what the server attaches to a post when it sends it.
type PostMetadata struct {
	Reactions []Reaction       `json:"reactions,omitempty"`
	Files     []FileInfo       `json:"files,omitempty"`
	Priority  map[string]any   `json:"priority,omitempty"`
	Embeds    []map[string]any `json:"embeds,omitempty"`
}

// PostList is a page of posts, ordered newest first in Order.
type PostList struct {
	Order      []string         `json:"order"`
	Posts      map[string]*Post `json:"posts"`
	NextPostID string           `json:"next_post_id"`
	PrevPostID string           `json:"prev_post_id"`
	HasNext    bool             `json:"has_next"`
}

// Reaction is an emoji reaction to a post.
type Reaction struct {
	UserID    string `json:"user_id"`
	PostID    string `json:"post_id"`
	EmojiName string `json:"emoji_name"`
	CreateAt  int64  `json:"create_at"`
}

// Preference is one user preference.
type Preference struct {
	UserID   string `json:"user_id"`
	Category string `json:"category"`
	Name     string `json:"name"`
	Value    string `json:"value"`
}

// Status is a user's presence.
type Status struct {
	UserID         string `json:"user_id"`
	Status         string `json:"status"`
	Manual         bool   `json:"manual"`
	LastActivityAt int64  `json:"last_activity_at"`
}

// FileInfo describes an uploaded file.
type FileInfo struct {
	ID              string `json:"id"`
	UserID          string `json:"user_id"`
	PostID          string `json:"post_id"`
	ChannelID       string `json:"channel_id"`
	CreateAt        int64  `json:"create_at"`
	UpdateAt        int64  `json:"update_at"`
	DeleteAt        int64  `json:"delete_at"`
	Name            string `json:"name"`
	Extension       string `json:"extension"`
	Size            int64  `json:"size"`
	MimeType        string `json:"mime_type"`
	Width           int    `json:"width"`
	Height          int    `json:"height"`
	HasPreviewImage bool   `json:"has_preview_image"`
}

// Draft is an unsent message kept by the server (synced drafts).
type Draft struct {
	CreateAt  int64          `json:"create_at"`
	UpdateAt  int64          `json:"update_at"`
	DeleteAt  int64          `json:"delete_at"`
	UserID    string         `json:"user_id"`
	ChannelID string         `json:"channel_id"`
	RootID    string         `json:"root_id"`
	Message   string         `json:"message"`
	Props     map[string]any `json:"props"`
	FileIDs   []string       `json:"file_ids"`
}

// UserThread is a thread as the collapsed-threads view shows it to one user.
type UserThread struct {
	ID             string  `json:"id"`
	ReplyCount     int64   `json:"reply_count"`
	LastReplyAt    int64   `json:"last_reply_at"`
	LastViewedAt   int64   `json:"last_viewed_at"`
	Participants   []*User `json:"participants"`
	Post           *Post   `json:"post"`
	UnreadReplies  int64   `json:"unread_replies"`
	UnreadMentions int64   `json:"unread_mentions"`
	IsFollowing    bool    `json:"is_following"`
}

// UserThreads is a page of a user's threads with totals.
type UserThreads struct {
	Total               int64        `json:"total"`
	TotalUnreadThreads  int64        `json:"total_unread_threads"`
	TotalUnreadMentions int64        `json:"total_unread_mentions"`
	TotalUnreadUrgent   int64        `json:"total_unread_urgent_mentions"`
	Threads             []UserThread `json:"threads"`
}

// SidebarCategory groups channels in a user's sidebar.
type SidebarCategory struct {
	ID          string   `json:"id"`
	UserID      string   `json:"user_id"`
	TeamID      string   `json:"team_id"`
	DisplayName string   `json:"display_name"`
	Type        string   `json:"type"`
	Sorting     string   `json:"sorting"`
	Muted       bool     `json:"muted"`
	Collapsed   bool     `json:"collapsed"`
	ChannelIDs  []string `json:"channel_ids"`
}

// OrderedSidebarCategories is a user's sidebar for one team.
type OrderedSidebarCategories struct {
	Categories []SidebarCategory `json:"categories"`
	Order      []string          `json:"order"`
}

// Role is a named set of permissions.
type Role struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	DisplayName   string   `json:"display_name"`
	Description   string   `json:"description"`
	Permissions   []string `json:"permissions"`
	SchemeManaged bool     `json:"scheme_managed"`
	BuiltIn       bool     `json:"built_in"`
}

// AppError is Mattermost's error body: every response with a status of 400 or more has one.
type AppError struct {
	ID            string `json:"id"`
	Message       string `json:"message"`
	DetailedError string `json:"detailed_error"`
	RequestID     string `json:"request_id"`
	StatusCode    int    `json:"status_code"`
	Where         string `json:"where,omitempty"`
}
