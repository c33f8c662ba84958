package mmsim

import "github.com/loadtest/loadtest/mattermost"

// mmsim serves the client package's model types, so the two cannot disagree on a field.
// Values handed out by the store are copies: it never shares a pointer it may later change.
type (
	User                     = mattermost.User
	Team                     = mattermost.Team
	TeamMember               = mattermost.TeamMember
	Channel                  = mattermost.Channel
	ChannelMember            = mattermost.ChannelMember
	Post                     = mattermost.Post
	PostMetadata             = mattermost.PostMetadata
	PostList                 = mattermost.PostList
	Reaction                 = mattermost.Reaction
	Preference               = mattermost.Preference
	Status                   = mattermost.Status
	FileInfo                 = mattermost.FileInfo
	Draft                    = mattermost.Draft
	UserThread               = mattermost.UserThread
	UserThreads              = mattermost.UserThreads
	SidebarCategory          = mattermost.SidebarCategory
	OrderedSidebarCategories = mattermost.OrderedSidebarCategories
	Role                     = mattermost.Role
)

// Channel types, as Mattermost spells them.
const (
	ChannelOpen    = mattermost.ChannelOpen
	ChannelPrivate = mattermost.ChannelPrivate
	ChannelDirect  = mattermost.ChannelDirect
	ChannelGroup   = mattermost.ChannelGroup
)
