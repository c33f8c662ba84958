package populate

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/internal/apispec"
	"github.com/loadtest/loadtest/internal/mmsim/mmsimtest"
	"github.com/loadtest/loadtest/mattermost"
)

// TestRun_Idempotent populates mmsim, checks what exists through the API, and runs again to
// check that the second run creates nothing. All traffic is checked against the reference.
func TestRun_Idempotent(t *testing.T) {
	srv := mmsimtest.Start(t, nil)
	sp, err := apispec.Load()
	if err != nil {
		t.Fatal(err)
	}
	ck := &apispec.Checker{Spec: sp}
	cfg := agentconfig.DefaultConfig()
	cfg.ConnectionConfiguration.ServerURL = srv.URL
	ic := &cfg.InstanceConfiguration
	ic.NumUsers, ic.NumTeams, ic.NumChannels = 9, 2, 8
	ic.PercentPublicChannels, ic.PercentPrivateChannels, ic.PercentDirectChannels, ic.PercentGroupChannels = 0.5, 0.25, 0.125, 0.125
	ic.NumPosts, ic.NumReactions, ic.PercentReplies = 80, 30, 0.3
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	opts := Options{Instance: cfg.InstanceConfiguration, Connection: cfg.ConnectionConfiguration, AgentID: "lt0", Seed: 7,
		clientOptions: mattermost.Options{HTTPClient: &http.Client{Transport: ck}}}
	var out bytes.Buffer
	opts.Out = &out
	ctx := context.Background()
	first, err := Run(ctx, opts)
	if err != nil {
		t.Fatalf("first run: %v\n%s", err, out.String())
	}
	want := Result{Teams: 2, Users: 9, Channels: 2*(4+2) + 2 + 2, Posts: 80, Reactions: 30,
		TeamsCreated: 2, UsersCreated: 9, ChannelsCreated: 12, PostsCreated: 80, ReactionsCreated: 30}
	if first != want {
		t.Errorf("first run = %+v\nwant %+v", first, want)
	}
	for _, p := range []string{"init: teams 2", "init: users 9", "init: channels 16", "init: posts 80"} {
		if !strings.Contains(out.String(), p) {
			t.Errorf("progress lacks %q:\n%s", p, out.String())
		}
	}

	// Look at the result as a user would: lt0-user1 is in both teams, in all public channels.
	c, _ := mattermost.New(srv.URL, mattermost.Options{HTTPClient: &http.Client{Transport: ck}})
	if _, err := c.Login(ctx, "lt0-user1", "testPass123$"); err != nil {
		t.Fatal(err)
	}
	teams, _ := c.GetTeamsForUser(ctx)
	if len(teams) != 2 {
		t.Fatalf("lt0-user1 is in %d teams; want 2", len(teams))
	}
	chans, _ := c.GetChannelsForTeamForUser(ctx, teams[0].ID, false)
	kinds := map[string]int{}
	for _, ch := range chans {
		kinds[ch.Type]++
	}
	// 4 public, plus town-square and off-topic.
	if kinds["O"] != 6 {
		t.Errorf("lt0-user1's open channels in team-1 = %d; want 6 (4 public, town-square, off-topic)", kinds["O"])
	}

	opts.Out = &bytes.Buffer{}
	second, err := Run(ctx, opts)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	again := want
	again.TeamsCreated, again.UsersCreated, again.ChannelsCreated, again.PostsCreated, again.ReactionsCreated = 0, 0, 0, 0, 0
	if second != again {
		t.Errorf("second run = %+v\nwant %+v (nothing created)", second, again)
	}
	for _, v := range ck.Violations() {
		t.Error(v)
	}
}

func TestRun_BadInput(t *testing.T) {
	srv := mmsimtest.Start(t, nil)
	cfg := agentconfig.DefaultConfig()
	cfg.ConnectionConfiguration.ServerURL = srv.URL
	cfg.ConnectionConfiguration.AdminPassword = "wrong"
	_, err := Run(context.Background(), Options{Instance: cfg.InstanceConfiguration, Connection: cfg.ConnectionConfiguration, AgentID: "lt0"})
	if err == nil || !strings.Contains(err.Error(), "ConnectionConfiguration.AdminEmail") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("Run with a bad admin password = %v; want an error naming AdminEmail and not showing the password", err)
	}
	cfg.InstanceConfiguration.NumUsers = 2
	if _, err := Run(context.Background(), Options{Instance: cfg.InstanceConfiguration, Connection: cfg.ConnectionConfiguration}); err == nil || !strings.Contains(err.Error(), "NumUsers") {
		t.Errorf("Run with 2 users = %v; want an error naming NumUsers", err)
	}
}
