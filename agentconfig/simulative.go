package agentconfig

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/loadtest/loadtest/internal/config"
)

// SimulativeConfig tunes the simulative users (the seed's simulcontroller.json, plus the
// action weights, which the seed hard-codes).
type SimulativeConfig struct {
	MinIdleTimeMs         int     // shortest think time between actions
	AvgIdleTimeMs         int     // mean think time
	ThinkTimeDistribution string  // "uniform" on [Min, 2·Avg−Min), or "exponential" with mean Avg, floored at Min
	PercentReplies        float64 // share of posts that reply in a thread
	PercentUrgentPosts    float64 // share of root posts marked urgent
	PercentMentions       float64 // share of posts that @mention someone (typed with autocomplete)
	PercentLinks          float64 // share of posts with a link
	PercentFiles          float64 // share of posts with 1-3 image files
	// ProfileImages is how a channel view gets its authors' pictures. "revalidate" (the
	// default) asks the server for every author of every post at every view, with the
	// picture's ETag, as mattermost-load-test-ng does (its deployments answer those from a
	// proxy cache in front of the server). "browser" shows the pictures of the 50 posts the
	// webapp renders, from the user's browser cache while the server's Cache-Control allows
	// (Mattermost's: a day): fewer requests, but a user's demand then falls as its cache
	// fills, over its first many minutes, which a capacity search measures as a moving target.
	ProfileImages string
	// ActionWeights are relative frequencies (CreatePost = 1), from the reference's table of
	// production rates. An action left out, or at 0, never runs.
	ActionWeights map[string]float64
}

// The values of SimulativeConfig.ProfileImages.
const (
	ProfileImagesBrowser    = "browser"
	ProfileImagesRevalidate = "revalidate"
)

// DefaultActionWeights are the reference's weights for the actions the simulative users have.
func DefaultActionWeights() map[string]float64 {
	return map[string]float64{
		"SwitchChannel": 6.5219, "ScrollChannel": 1.9873, "DeleteDraft": 1.41, "UnreadCheck": 1.0,
		"CreatePost": 1.0, "OpenDirectOrGroupChannel": 0.9843, "ViewGlobalThreads": 0.6023, "UpsertDraft": 0.504,
		"UpdateThreadRead": 0.3236, "ClickPermalink": 0.3, "ViewThread": 0.2841, "ReconnectWebSocket": 0.144,
		"AddReaction": 0.1306, "EditPost": 0.04, "GetDrafts": 0.037, "SearchUsers": 0.032,
		"ClickUserProfile": 0.03, "SearchPosts": 0.0218, "SearchGroupChannels": 0.0204, "SearchChannels": 0.015,
		"CreateDirectChannel": 0.0055, "UnfollowThread": 0.005, "JoinChannel": 0.0049, "DeletePost": 0.0049,
		"CreateGroupChannel": 0.0029, "FullReload": 0.0008, "LogoutLogin": 0.0006, "FollowThread": 0.0005,
		"CreatePrivateChannel": 0.0002, "CreatePublicChannel": 0.0001, "MarkAllThreadsInTeamAsRead": 0.0001,
	}
}

// SimulativeActions lists the action names the simulative users know, sorted.
func SimulativeActions() []string {
	names := make([]string, 0, 32)
	for n := range DefaultActionWeights() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// DefaultSimulativeConfig returns the seed's think times and percentages with the default weights.
func DefaultSimulativeConfig() SimulativeConfig {
	return SimulativeConfig{MinIdleTimeMs: 1000, AvgIdleTimeMs: 20000, ThinkTimeDistribution: "uniform",
		PercentReplies: 0.18, PercentUrgentPosts: 0.001, PercentMentions: 0.1, PercentLinks: 0.1, PercentFiles: 0.02,
		ProfileImages: ProfileImagesRevalidate, ActionWeights: DefaultActionWeights()}
}

// Validate checks the think times, shares and weights.
func (c SimulativeConfig) Validate() error {
	var ck config.Checker
	ck.Check(c.MinIdleTimeMs >= 0, "MinIdleTimeMs", c.MinIdleTimeMs, "must be >= 0")
	ck.Check(c.AvgIdleTimeMs > c.MinIdleTimeMs, "AvgIdleTimeMs", c.AvgIdleTimeMs, fmt.Sprintf("must be > MinIdleTimeMs (%d)", c.MinIdleTimeMs))
	ck.Check(config.OneOf(c.ThinkTimeDistribution, "uniform", "exponential"), "ThinkTimeDistribution", c.ThinkTimeDistribution, `must be "uniform" or "exponential"`)
	ck.Check(config.OneOf(c.ProfileImages, ProfileImagesBrowser, ProfileImagesRevalidate), "ProfileImages", c.ProfileImages,
		`must be "browser" or "revalidate"`)
	for name, p := range map[string]float64{"PercentReplies": c.PercentReplies, "PercentUrgentPosts": c.PercentUrgentPosts,
		"PercentMentions": c.PercentMentions, "PercentLinks": c.PercentLinks, "PercentFiles": c.PercentFiles} {
		ck.Check(p >= 0 && p <= 1, name, p, "must be in [0, 1]")
	}
	known := DefaultActionWeights()
	total := 0.0
	for _, name := range slices.Sorted(mapKeys(c.ActionWeights)) {
		w := c.ActionWeights[name]
		_, ok := known[name]
		ck.Check(ok, "ActionWeights."+name, w, "is not an action; known: "+strings.Join(SimulativeActions(), ", "))
		ck.Check(w >= 0, "ActionWeights."+name, w, "must be >= 0")
		total += w
	}
	ck.Check(total > 0, "ActionWeights", total, "must give some action a weight > 0")
	return ck.Err()
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
