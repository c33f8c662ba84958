package mmsim

// apiRoutes is the table of every REST route mmsim serves. The contract test walks it and
// checks each entry against the OpenAPI reference, so adding a route here is all it takes.
func (s *Server) apiRoutes() []route {
	return []route{
		// Tier 0: bootstrap.
		{"POST", "/users/login", "login", false, s.login},
		{"POST", "/users/logout", "logout", true, s.logout},
		{"POST", "/users", "createUser", false, s.createUser},
		{"GET", "/users", "getUsers", true, s.getUsers},
		{"GET", "/users/{user_id}", "getUser", true, s.getUser},
		{"GET", "/config/client", "getClientConfig", false, s.getClientConfig},
		{"GET", "/config", "getConfig", true, s.getConfig},
		{"GET", "/system/ping", "getSystemPing", false, s.ping},
		{"GET", "/teams", "getAllTeams", true, s.getAllTeams},
		{"POST", "/teams", "createTeam", true, s.createTeam},
		{"GET", "/teams/{team_id}", "getTeam", true, s.getTeam},
		{"POST", "/teams/{team_id}/members", "addTeamMember", true, s.addTeamMember},
		{"GET", "/users/{user_id}/teams", "getTeamsForUser", true, ownList(s.st.teamsOf)},
		{"GET", "/users/{user_id}/teams/members", "getTeamMembersForUser", true, ownList(s.st.teamMembersOf)},

		// Tier 1: the hot path.
		{"POST", "/channels/members/{user_id}/view", "viewChannel", true, s.viewChannel},
		{"GET", "/users/{user_id}/channels/{channel_id}/posts/unread", "getPostsForChannelAroundLastUnread", true, s.getPostsAroundUnread},
		{"GET", "/channels/{channel_id}/posts", "getPostsForChannel", true, s.getPostsForChannel},
		{"GET", "/channels/{channel_id}/stats", "getChannelStats", true, s.getChannelStats},
		{"POST", "/users/status/ids", "getUserStatusesByIds", true, byList(true, s.st.statusesByIDs)},
		{"POST", "/users/ids", "getUsersByIds", true, s.getUsersByIDs},
		{"POST", "/users/usernames", "getUsersByNames", true, byList(false, s.st.usersByNames)},
		{"GET", "/users/{user_id}/image", "getProfileImage", true, s.getProfileImage},
		{"POST", "/files", "uploadFileStream", true, s.uploadFile},
		{"GET", "/files/{file_id}/thumbnail", "getFileThumbnail", true, s.getFileImage},
		{"GET", "/files/{file_id}/preview", "getFilePreview", true, s.getFileImage},
		{"POST", "/posts", "createPost", true, s.createPost},
		{"GET", "/posts/{post_id}", "getPost", true, s.getPost},
		{"PUT", "/posts/{post_id}/patch", "patchPost", true, s.patchPost},
		{"DELETE", "/posts/{post_id}", "deletePost", true, s.deletePost},
		{"GET", "/posts/{post_id}/thread", "getPostThread", true, s.getPostThread},
		{"GET", "/posts/{post_id}/reactions", "getReactions", true, s.getReactions},
		{"PUT", "/users/{user_id}/preferences", "updatePreferences", true, s.updatePreferences},
		{"GET", "/users/{user_id}/teams/{team_id}/channels", "getChannelsForTeamForUser", true, s.getChannelsForTeamForUser},
		{"GET", "/users/{user_id}/teams/{team_id}/channels/members", "getChannelMembersForTeamForUser", true, s.getChannelMembersForTeamForUser},
		{"GET", "/users/autocomplete", "autocompleteUsers", true, s.autocompleteUsers},
		{"POST", "/drafts", "upsertDraft", true, s.upsertDraft},
		{"GET", "/users/{user_id}/teams/{team_id}/drafts", "getDrafts", true, s.getDrafts},
		{"DELETE", "/users/{user_id}/channels/{channel_id}/drafts", "deleteDraft", true, s.deleteDraft},
		{"DELETE", "/users/{user_id}/channels/{channel_id}/drafts/{thread_id}", "deleteDraft", true, s.deleteDraft},
		{"GET", "/users/{user_id}/teams/{team_id}/threads", "getThreadsForUser", true, s.getThreadsForUser},
		{"GET", "/users/{user_id}/teams/{team_id}/threads/{thread_id}", "getThreadForUser", true, s.getThreadForUser},
		{"PUT", "/users/{user_id}/teams/{team_id}/threads/{thread_id}/read/{timestamp}", "updateReadStateThreadByUser", true, s.updateThreadRead},
		{"PUT", "/users/{user_id}/teams/{team_id}/threads/{thread_id}/following", "followThreadByUser", true, s.followThread},
		{"DELETE", "/users/{user_id}/teams/{team_id}/threads/{thread_id}/following", "unfollowThreadByUser", true, s.unfollowThread},
		{"PUT", "/users/{user_id}/teams/{team_id}/threads/read", "updateReadStateAllThreadsByUser", true, s.markAllThreadsRead},
		{"POST", "/reactions", "saveReaction", true, s.saveReaction},
		{"DELETE", "/users/{user_id}/posts/{post_id}/reactions/{emoji_name}", "deleteReaction", true, s.deleteReaction},

		// Tier 2: what a reload and the periodic tasks call.
		{"GET", "/users/{user_id}/preferences", "getPreferences", true, ownList(s.st.preferencesOf)},
		{"POST", "/roles/names", "getRolesByNames", true, s.getRolesByNames},
		{"GET", "/plugins/webapp", "getWebappPlugins", true, s.getWebappPlugins},
		{"GET", "/users/{user_id}/channels", "getChannelsForUser", true, s.getChannelsForUser},
		{"GET", "/users/{user_id}/channel_members", "getChannelMembersForUser", true, s.getChannelMembersForUser},
		{"GET", "/users/{user_id}/teams/unread", "getTeamsUnreadForUser", true, s.getTeamsUnread},
		{"GET", "/users/{user_id}/status", "getUserStatus", true, s.getUserStatus},
		{"PUT", "/users/{user_id}/status", "updateUserStatus", true, s.updateUserStatus},
		{"GET", "/users/{user_id}/channels/{channel_id}/unread", "getChannelUnread", true, s.getChannelUnread},
		{"GET", "/users/{user_id}/teams/{team_id}/channels/categories", "getCategoriesForTeamForUser", true, s.getCategories},
		{"POST", "/client_perf", "submitPerformanceReport", true, s.submitPerformanceReport},

		// Searches.
		{"POST", "/users/search", "searchUsers", true, s.searchUsers},
		{"POST", "/teams/{team_id}/posts/search", "searchPostsInTeam", true, s.searchPosts},
		{"POST", "/teams/{team_id}/channels/search", "searchChannelsForTeam", true, s.searchChannels},
		{"POST", "/channels/group/search", "searchGroupChannels", true, s.searchGroupChannels},

		// Tier 3: rarer user actions that create data and that init needs.
		{"POST", "/channels", "createChannel", true, s.createChannel},
		{"POST", "/channels/direct", "createDirectChannel", true, s.createDirectChannel},
		{"POST", "/channels/group", "createGroupChannel", true, s.createGroupChannel},
		{"GET", "/channels/{channel_id}", "getChannel", true, s.getChannel},
		{"GET", "/teams/{team_id}/channels", "getPublicChannelsForTeam", true, s.getPublicChannelsForTeam},
		{"GET", "/channels/{channel_id}/members/{user_id}", "getChannelMember", true, s.getChannelMember},
		{"POST", "/channels/{channel_id}/members", "addChannelMember", true, s.addChannelMember},
		{"DELETE", "/channels/{channel_id}/members/{user_id}", "removeChannelMember", true, s.removeChannelMember},
	}
}
