// Package populate is `loadtest init`: it fills an empty Mattermost instance with the teams,
// channels, users, posts and reactions of an InstanceConfiguration. Every object has a
// deterministic name and init creates only what is missing, so a second run changes nothing.
package populate

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/internal/controller"
	"github.com/loadtest/loadtest/mattermost"
)

// Options say what to create and where.
type Options struct {
	Instance      agentconfig.InstanceConfiguration
	Connection    agentconfig.ConnectionConfiguration
	AgentID       string // users are "{AgentID}-user{n}", as the agent names them
	Seed          uint64 // seeds the choices of authors, threads and emoji
	Out           io.Writer
	Log           *slog.Logger
	clientOptions mattermost.Options
}

// Result counts what exists after the run and what the run created.
type Result struct {
	Teams, Users, Channels, Posts, Reactions                                    int
	TeamsCreated, UsersCreated, ChannelsCreated, PostsCreated, ReactionsCreated int
}

type chanInfo struct {
	ch      mattermost.Channel
	members []int // user indexes (0-based)
}

type run struct {
	o       Options
	admin   *mattermost.Client
	teams   []mattermost.Team
	users   []mattermost.User
	clients map[int]*mattermost.Client // logged-in user clients, by index
	rng     *rand.Rand
	res     Result
}

// Run populates the instance and returns the counts.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Instance.NumUsers < 3 {
		return Result{}, fmt.Errorf("InstanceConfiguration.NumUsers must be >= 3 (group channels need three), got %d", o.Instance.NumUsers)
	}
	admin, err := mattermost.New(o.Connection.ServerURL, o.clientOptions)
	if err != nil {
		return Result{}, err
	}
	defer admin.CloseIdleConnections()
	if _, err := admin.Login(ctx, o.Connection.AdminEmail, o.Connection.AdminPassword); err != nil {
		return Result{}, fmt.Errorf("log in as ConnectionConfiguration.AdminEmail %s: %w", o.Connection.AdminEmail, err)
	}
	r := &run{o: o, admin: admin, clients: map[int]*mattermost.Client{}, rng: rand.New(rand.NewPCG(o.Seed, 0x10ad))}
	defer func() {
		for _, c := range r.clients {
			c.CloseIdleConnections()
		}
	}()
	steps := []struct {
		name string
		f    func(context.Context) error
	}{{"teams", r.ensureTeams}, {"users", r.ensureUsers}}
	for _, s := range steps {
		if err := s.f(ctx); err != nil {
			return r.res, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	chans, err := r.ensureChannels(ctx)
	if err != nil {
		return r.res, fmt.Errorf("channels: %w", err)
	}
	if err := r.ensurePosts(ctx, chans); err != nil {
		return r.res, fmt.Errorf("posts: %w", err)
	}
	return r.res, nil
}

func (r *run) progress(format string, args ...any) {
	fmt.Fprintf(r.o.Out, "init: "+format+"\n", args...)
}

func (r *run) teamName(i int) string { return fmt.Sprintf("team-%d", i+1) }

// ensureTeams creates team-1..team-N where missing.
func (r *run) ensureTeams(ctx context.Context) error {
	have := map[string]mattermost.Team{}
	for page := 0; ; page++ {
		ts, err := r.admin.GetTeams(ctx, page, 200)
		if err != nil {
			return err
		}
		for _, t := range ts {
			have[t.Name] = t
		}
		if len(ts) < 200 {
			break
		}
	}
	for i := range r.o.Instance.NumTeams {
		t, ok := have[r.teamName(i)]
		if !ok {
			var err error
			if t, err = r.admin.CreateTeam(ctx, r.teamName(i), fmt.Sprintf("Team %d", i+1), "O"); err != nil {
				return err
			}
			r.res.TeamsCreated++
		} else if _, err := r.admin.AddTeamMember(ctx, t.ID, r.admin.UserID()); err != nil {
			return err
		}
		r.teams = append(r.teams, t)
	}
	r.res.Teams = len(r.teams)
	r.progress("teams %d (%d created)", r.res.Teams, r.res.TeamsCreated)
	return nil
}

// ensureUsers creates the users where missing and puts every user in every team.
func (r *run) ensureUsers(ctx context.Context) error {
	names := make([]string, r.o.Instance.NumUsers)
	for i := range names {
		names[i] = fmt.Sprintf("%s-user%d", r.o.AgentID, i+1)
	}
	found := map[string]mattermost.User{}
	for start := 0; start < len(names); start += 1000 {
		us, err := r.admin.GetUsersByUsernames(ctx, names[start:min(len(names), start+1000)])
		if err != nil {
			return err
		}
		for _, u := range us {
			found[u.Username] = u
		}
	}
	r.users = make([]mattermost.User, len(names))
	for i, n := range names {
		u, ok := found[n]
		if !ok {
			var err error
			if u, err = r.admin.CreateUser(ctx, n, n+"@example.com", controller.Password); err != nil {
				return err
			}
			r.res.UsersCreated++
		}
		r.users[i] = u
	}
	for _, t := range r.teams {
		in, err := r.memberSet(ctx, mattermost.UsersQuery{InTeam: t.ID})
		if err != nil {
			return err
		}
		for _, u := range r.users {
			if !in[u.ID] {
				if _, err := r.admin.AddTeamMember(ctx, t.ID, u.ID); err != nil {
					return err
				}
			}
		}
	}
	r.res.Users = len(r.users)
	r.progress("users %d (%d created), each in all %d teams", r.res.Users, r.res.UsersCreated, len(r.teams))
	return nil
}

func (r *run) memberSet(ctx context.Context, q mattermost.UsersQuery) (map[string]bool, error) {
	in := map[string]bool{}
	q.PerPage = 200
	for q.Page = 0; ; q.Page++ {
		us, err := r.admin.GetUsers(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, u := range us {
			in[u.ID] = true
		}
		if len(us) < 200 {
			return in, nil
		}
	}
}

func share(total int, p float64) int { return int(math.Round(float64(total) * p)) }

// ensureChannels creates each team's public and private channels with their members, and the
// direct and group channels among users. It returns the channels posts go to.
func (r *run) ensureChannels(ctx context.Context) ([]chanInfo, error) {
	ic := r.o.Instance
	var out []chanInfo
	n := len(r.users)
	for ti, t := range r.teams {
		mine, err := r.admin.GetChannelsForTeamForUser(ctx, t.ID, false)
		if err != nil {
			return nil, err
		}
		have := map[string]mattermost.Channel{}
		for _, c := range mine {
			have[c.Name] = c
		}
		for _, kind := range []struct {
			prefix, typ string
			count       int
		}{{"public", "O", share(ic.NumChannels, ic.PercentPublicChannels)}, {"private", "P", share(ic.NumChannels, ic.PercentPrivateChannels)}} {
			for i := range kind.count {
				name := fmt.Sprintf("%s-%d", kind.prefix, i+1)
				c, ok := have[name]
				if !ok {
					if c, err = r.admin.CreateChannel(ctx, t.ID, name, fmt.Sprintf("%s %d", strings.ToUpper(kind.prefix[:1])+kind.prefix[1:], i+1), kind.typ); err != nil {
						return nil, err
					}
					r.res.ChannelsCreated++
				}
				var members []int
				for u := range n {
					// Everyone is in public channels; a third of the users, a different third
					// for each channel, in private ones.
					if kind.typ == "O" || (u+i+ti)%3 == 0 {
						members = append(members, u)
					}
				}
				in, err := r.memberSet(ctx, mattermost.UsersQuery{InChannel: c.ID})
				if err != nil {
					return nil, err
				}
				for _, u := range members {
					if !in[r.users[u].ID] {
						if _, err := r.admin.AddChannelMember(ctx, c.ID, r.users[u].ID); err != nil {
							return nil, err
						}
					}
				}
				out = append(out, chanInfo{ch: c, members: members})
			}
		}
	}
	total := ic.NumChannels * len(r.teams)
	dms, gms := share(total, ic.PercentDirectChannels), share(total, ic.PercentGroupChannels)
	for j := range dms {
		a, b := j%n, (j%n+1+j/n)%n
		c, err := r.client(ctx, a)
		if err != nil {
			return nil, err
		}
		if _, err := c.CreateDirectChannel(ctx, r.users[b].ID); err != nil {
			return nil, err
		}
	}
	for j := range gms {
		a := j % n
		c, err := r.client(ctx, a)
		if err != nil {
			return nil, err
		}
		others := []string{r.users[(a+1+j/n)%n].ID, r.users[(a+2+j/n)%n].ID}
		if _, err := c.CreateGroupChannel(ctx, others); err != nil {
			return nil, err
		}
	}
	r.res.Channels = len(out) + dms + gms
	r.progress("channels %d: %d public and private in each team (%d created), %d direct, %d group",
		r.res.Channels, len(out)/max(1, len(r.teams)), r.res.ChannelsCreated, dms, gms)
	return out, nil
}

// client returns a logged-in client for user index u.
func (r *run) client(ctx context.Context, u int) (*mattermost.Client, error) {
	if c, ok := r.clients[u]; ok {
		return c, nil
	}
	c, err := mattermost.New(r.o.Connection.ServerURL, r.o.clientOptions)
	if err != nil {
		return nil, err
	}
	if _, err := c.Login(ctx, r.users[u].Username, controller.Password); err != nil {
		return nil, fmt.Errorf("log in as %s: %w", r.users[u].Username, err)
	}
	r.clients[u] = c
	return c, nil
}

// ensurePosts adds posts (with replies, long threads and urgent ones) and reactions until the
// instance has NumPosts and NumReactions in the channels init made.
func (r *run) ensurePosts(ctx context.Context, chans []chanInfo) error {
	ic := r.o.Instance
	if len(chans) == 0 || (ic.NumPosts == 0 && ic.NumReactions == 0) {
		r.progress("posts 0, reactions 0 (none configured)")
		return nil
	}
	// What exists: every post and reaction in init's channels.
	roots := make([][]string, len(chans))
	posts := make([][]string, len(chans))
	for i, ci := range chans {
		q := mattermost.PostsQuery{PerPage: 200}
		for q.Page = 0; ; q.Page++ {
			l, err := r.admin.GetPostsForChannel(ctx, ci.ch.ID, q)
			if err != nil {
				return err
			}
			for _, id := range l.Order {
				p := l.Posts[id]
				r.res.Posts++
				posts[i] = append(posts[i], id)
				if p.RootID == "" {
					roots[i] = append(roots[i], id)
				}
				if p.Metadata != nil {
					r.res.Reactions += len(p.Metadata.Reactions)
				}
			}
			if len(l.Order) < 200 {
				break
			}
		}
	}
	for r.res.Posts < ic.NumPosts {
		i := r.rng.IntN(len(chans))
		ci := chans[i]
		author := ci.members[r.rng.IntN(len(ci.members))]
		c, err := r.client(ctx, author)
		if err != nil {
			return err
		}
		np := mattermost.NewPost{ChannelID: ci.ch.ID, Message: controller.Message(r.rng, 35)}
		if len(roots[i]) > 0 && r.rng.Float64() < ic.PercentReplies {
			np.RootID = roots[i][r.rng.IntN(len(roots[i]))]
			if r.rng.Float64() < ic.PercentRepliesInLongThreads {
				np.RootID = roots[i][0] // the channel's long thread
			}
		} else if r.rng.Float64() < ic.PercentUrgentPosts {
			np.Metadata = &struct {
				Priority map[string]any `json:"priority,omitempty"`
			}{Priority: map[string]any{"priority": "urgent"}}
		}
		p, err := c.CreatePost(ctx, np)
		if err != nil {
			return err
		}
		if p.RootID == "" {
			roots[i] = append(roots[i], p.ID)
		}
		posts[i] = append(posts[i], p.ID)
		r.res.Posts++
		r.res.PostsCreated++
		if r.res.PostsCreated%500 == 0 {
			r.progress("posts %d/%d", r.res.Posts, ic.NumPosts)
		}
	}
	// Reactions by members of the post's channel; a user reacts to a post with an emoji at
	// most once, so a draw that repeats one is skipped (bounded, in case the target cannot be
	// met with the posts there are).
	for tries := 0; r.res.Reactions < ic.NumReactions && tries < 20*ic.NumReactions; tries++ {
		i := r.rng.IntN(len(chans))
		if len(posts[i]) == 0 {
			continue
		}
		postID := posts[i][r.rng.IntN(len(posts[i]))]
		c, err := r.client(ctx, chans[i].members[r.rng.IntN(len(chans[i].members))])
		if err != nil {
			return err
		}
		before, err := c.GetReactions(ctx, postID)
		if err != nil {
			return err
		}
		e := controller.Emoji(r.rng)
		if hasReaction(before, c.UserID(), e) {
			continue
		}
		if _, err := c.SaveReaction(ctx, postID, e); err != nil {
			return err
		}
		r.res.Reactions++
		r.res.ReactionsCreated++
	}
	if r.res.Reactions < ic.NumReactions {
		r.o.Log.Warn("could not reach NumReactions with the posts there are", "reactions", r.res.Reactions, "want", ic.NumReactions)
	}
	r.progress("posts %d (%d created), reactions %d (%d created)", r.res.Posts, r.res.PostsCreated, r.res.Reactions, r.res.ReactionsCreated)
	return nil
}

func hasReaction(rs []mattermost.Reaction, userID, emoji string) bool {
	for _, x := range rs {
		if x.UserID == userID && x.EmojiName == emoji {
			return true
		}
	}
	return false
}
