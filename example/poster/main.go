// Command poster is a worked example of a custom user behaviour built on the public packages:
// each user logs in (signing up the first time), joins the first open team, and posts a
// message to town-square every --every, until the run ends. The engine keeps --users of them
// running for --duration.
//
//	go run ./example/poster --server-url http://127.0.0.1:8065 --users 5 --duration 30s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/loadtest/loadtest/loadtest"
	"github.com/loadtest/loadtest/mattermost"
)

// poster is one user. Its Run goroutine owns all its state.
type poster struct {
	server string
	name   string
	every  time.Duration
	posted func() // counts a post
}

// Run implements loadtest.User: it returns when ctx ends (or, with an error, when the session
// cannot go on; the engine then starts the user again after a backoff).
func (p *poster) Run(ctx context.Context) error {
	c, err := mattermost.New(p.server, mattermost.Options{})
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	if _, err := c.Login(ctx, p.name, "testPass123$"); err != nil {
		if _, err := c.CreateUser(ctx, p.name, p.name+"@example.com", "testPass123$"); err != nil {
			return err
		}
		if _, err := c.Login(ctx, p.name, "testPass123$"); err != nil {
			return err
		}
	}
	teams, err := c.GetTeams(ctx, 0, 10)
	if err != nil {
		return err
	}
	if len(teams) == 0 {
		return errors.New("no team to join; create one, e.g. with `loadtest init`")
	}
	if _, err := c.AddTeamMember(ctx, teams[0].ID, c.UserID()); err != nil {
		return err
	}
	chans, err := c.GetChannelsForTeamForUser(ctx, teams[0].ID, false)
	if err != nil {
		return err
	}
	town := ""
	for _, ch := range chans {
		if ch.Name == "town-square" {
			town = ch.ID
		}
	}
	t := time.NewTicker(p.every)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := c.CreatePost(ctx, mattermost.NewPost{ChannelID: town, Message: fmt.Sprintf("message %d from %s", n, p.name)}); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			p.posted()
		}
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("poster", flag.ContinueOnError)
	server := fs.String("server-url", "http://127.0.0.1:8065", "the Mattermost server")
	users := fs.Int("users", 5, "users to run")
	duration := fs.Duration("duration", 30*time.Second, "how long they run")
	every := fs.Duration("every", 2*time.Second, "how often each user posts")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var posts atomic.Int64 // users post from their own goroutines
	count := func() { posts.Add(1) }
	newUser := func(id int) (loadtest.User, error) {
		return &poster{server: *server, name: fmt.Sprintf("poster-user%d", id), every: *every, posted: count}, nil
	}
	e, err := loadtest.New(loadtest.Options{InitialActiveUsers: *users, MaxActiveUsers: *users}, newUser, nil, nil)
	if err != nil {
		return err
	}
	if err := e.Run(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-time.After(*duration):
	}
	if err := e.Stop(); err != nil {
		return err
	}
	fmt.Fprintf(out, "%d users posted %d messages; %d sessions ended in error\n", *users, posts.Load(), e.Status().NumErrors)
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "poster:", err)
		os.Exit(1)
	}
}
