package main

import (
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/internal/app/populate"
)

func initCommand(stderr io.Writer) *cobra.Command {
	var cfgPath, serverURL, agentID string
	var seed uint64
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Populate an empty instance with teams, channels, users, posts and reactions",
		Long: `init creates what InstanceConfiguration describes, logged in as
ConnectionConfiguration.AdminEmail: NumTeams teams (team-1...), NumUsers users named as the
agent names them ({agent-id}-user{n}) in every team, per team NumChannels x the public and
private shares (public-1..., private-1..., everyone in public ones, a third of the users in
each private one), NumChannels x NumTeams x the direct and group shares of direct and group
channels, then posts (with replies, long threads and urgent posts) and reactions until there
are NumPosts and NumReactions. It creates only what is missing: a second run changes nothing.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, closeLog, err := setup(cfgPath, stderr, func(c *agentconfig.Config) {
				if cmd.Flags().Changed("server-url") {
					c.ConnectionConfiguration.ServerURL = serverURL
				}
			})
			if err != nil {
				return err
			}
			defer closeLog()
			start := time.Now()
			res, err := populate.Run(cmd.Context(), populate.Options{Instance: cfg.InstanceConfiguration,
				Connection: cfg.ConnectionConfiguration, AgentID: agentID, Seed: seed, Out: cmd.OutOrStdout(), Log: log})
			if err != nil {
				return err
			}
			cmd.Printf("init: done in %v: %d teams, %d users, %d channels, %d posts, %d reactions (created %d, %d, %d, %d, %d)\n",
				time.Since(start).Round(time.Millisecond), res.Teams, res.Users, res.Channels, res.Posts, res.Reactions,
				res.TeamsCreated, res.UsersCreated, res.ChannelsCreated, res.PostsCreated, res.ReactionsCreated)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfgPath, "config", "", "agent config file (default config/config.json if it exists)")
	f.StringVar(&serverURL, "server-url", "", "overrides ConnectionConfiguration.ServerURL")
	f.StringVar(&agentID, "agent-id", "lt0", `users are "{agent-id}-user{n}"; use the id the agents will run with`)
	f.Uint64Var(&seed, "seed", 1, "seeds the choice of authors, threads and emoji")
	return cmd
}
