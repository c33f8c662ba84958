package cluster

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/loadtest/loadtest/agent/api"
)

// Joiner accepts agents that join the coordinator over a WebSocket (`loadtest server --join
// ws://coordinator:9696/join`) and hands them to its loop, which takes each into the next
// step. It tracks their liveness: an agent whose connection ends is marked down, and taken
// back when it joins again. Serve Handler on the join address; Close ends every connection.
type Joiner struct {
	token string
	log   *slog.Logger

	mu      sync.Mutex
	agents  map[string]*joined // guarded by mu: live connections by load test id
	gen     uint64             // guarded by mu: bumped on every join
	changed chan struct{}      // guarded by mu: closed and replaced on every change
	closed  bool               // guarded by mu
	wg      sync.WaitGroup     // the handlers holding connections
}

type joined struct {
	tunnel *api.Tunnel
	client *http.Client
	gen    uint64
}

// NewJoiner returns a Joiner; a non-empty token is required of joining agents (and sent on
// the calls to them). log may be nil.
func NewJoiner(token string, log *slog.Logger) *Joiner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Joiner{token: token, log: log, agents: map[string]*joined{}, changed: make(chan struct{})}
}

// Handler serves GET /join.
func (j *Joiner) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.JoinPath, j.serve)
	return mux
}

func (j *Joiner) serve(w http.ResponseWriter, r *http.Request) {
	if j.token != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+j.token)) != 1 {
		http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept wrote the error
	}
	t, err := api.AcceptTunnel(r.Context(), c)
	if err != nil {
		j.log.Warn("join: refused an agent", "remote", r.RemoteAddr, "err", err)
		_ = c.Close(websocket.StatusPolicyViolation, err.Error())
		return
	}
	id := t.Hello.ID
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		_ = t.Close()
		return
	}
	j.wg.Add(1)
	defer j.wg.Done()
	old := j.agents[id]
	j.gen++
	me := &joined{tunnel: t, client: &http.Client{Transport: t, Timeout: 30 * time.Second}, gen: j.gen}
	j.agents[id] = me
	j.signalLocked()
	j.mu.Unlock()
	if old != nil {
		_ = old.tunnel.Close() // the agent dialled again: its old connection is dead or about to be
	}
	j.log.Info("join: an agent joined", "id", id, "remote", r.RemoteAddr, "version", t.Hello.Version.Version)
	<-t.Done()
	j.mu.Lock()
	if j.agents[id] == me {
		delete(j.agents, id)
		j.signalLocked()
	}
	j.mu.Unlock()
	j.log.Warn("join: an agent's connection ended", "id", id)
}

func (j *Joiner) signalLocked() {
	close(j.changed)
	j.changed = make(chan struct{})
}

// Joined is one live joined agent as the run's loop sees it.
type Joined struct {
	Agent  Agent
	Client *http.Client // for its /metrics, through the tunnel
	Gen    uint64       // which connection: it changes when the agent joins again
}

// Snapshot returns the live joined agents by id.
func (j *Joiner) Snapshot() map[string]Joined {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make(map[string]Joined, len(j.agents))
	for id, a := range j.agents {
		c, _ := api.NewClient(api.JoinedURL(id), api.ClientOptions{HTTPClient: a.client, Token: j.token}) // a fixed, valid URL
		out[id] = Joined{Agent: c.LoadTest(id), Client: a.client, Gen: a.gen}
	}
	return out
}

// Wait blocks until at least n agents are joined, or ctx ends.
func (j *Joiner) Wait(ctx context.Context, n int) error {
	for {
		j.mu.Lock()
		have, ch := len(j.agents), j.changed
		j.mu.Unlock()
		if have >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// Close ends every join connection and waits for their handlers.
func (j *Joiner) Close() {
	j.mu.Lock()
	j.closed = true
	var ts []*api.Tunnel
	for _, a := range j.agents {
		ts = append(ts, a.tunnel)
	}
	j.mu.Unlock()
	for _, t := range ts {
		_ = t.Close()
	}
	j.wg.Wait()
}
