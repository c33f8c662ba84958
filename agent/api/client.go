package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/loadtest/loadtest/agent"
	"github.com/loadtest/loadtest/agentconfig"
)

// ClientOptions configure a Client.
type ClientOptions struct {
	HTTPClient *http.Client // nil: one with a 30 s timeout
	Token      string       // the agent's bearer token, if it has one
}

// Client calls one agent's HTTP API. Failed calls return an *Error that matches ErrNotFound,
// ErrConflict, ErrBadRequest or ErrUnauthorized with errors.Is; transport failures are
// returned as they are.
type Client struct {
	base  string
	hc    *http.Client
	token string
}

// NewClient returns a client of the agent at baseURL (for example http://10.0.0.5:4000).
func NewClient(baseURL string, opts ClientOptions) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("agent URL %q: must be an http(s):// URL", baseURL)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), hc: opts.HTTPClient, token: opts.Token}, nil
}

// URL returns the agent's base URL.
func (c *Client) URL() string { return c.base }

// do sends a request and decodes a 2xx body into out; any other status becomes an *Error.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body []byte, out any) error {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read response: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var r Response
		if json.Unmarshal(b, &r) != nil || r.Error == "" {
			r.Error = fmt.Sprintf("%s %s: %s: %.200s", method, path, resp.Status, b)
		}
		return &agent.Error{Kind: kindOf(resp.StatusCode), Message: r.Error}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", method, path, err)
	}
	return nil
}

// call is do for the calls that answer a Response with a status.
func (c *Client) call(ctx context.Context, method, path string, q url.Values, body []byte) (agent.Status, error) {
	var r Response
	if err := c.do(ctx, method, path, q, body, &r); err != nil {
		return agent.Status{}, err
	}
	if r.Status == nil {
		return agent.Status{}, fmt.Errorf("%s %s: the response has no status", method, path)
	}
	return *r.Status, nil
}

func ltPath(id, op string) string {
	p := "/loadagent/" + url.PathEscape(id)
	if op != "" {
		p += "/" + op
	}
	return p
}

// Create creates load test id with cfg (sent whole, admin password included: use https or a
// private network between coordinator and agents).
func (c *Client) Create(ctx context.Context, id string, cfg agentconfig.Config) (agent.Status, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return agent.Status{}, err
	}
	return c.call(ctx, http.MethodPost, "/loadagent/create", url.Values{"id": {id}}, b)
}

// Run starts load test id.
func (c *Client) Run(ctx context.Context, id string) (agent.Status, error) {
	return c.call(ctx, http.MethodPost, ltPath(id, "run"), nil, nil)
}

// Stop stops load test id's users.
func (c *Client) Stop(ctx context.Context, id string) (agent.Status, error) {
	return c.call(ctx, http.MethodPost, ltPath(id, "stop"), nil, nil)
}

// AddUsers starts n more users.
func (c *Client) AddUsers(ctx context.Context, id string, n int) (agent.Status, error) {
	return c.call(ctx, http.MethodPost, ltPath(id, "addusers"), url.Values{"amount": {strconv.Itoa(n)}}, nil)
}

// RemoveUsers stops the n newest users.
func (c *Client) RemoveUsers(ctx context.Context, id string, n int) (agent.Status, error) {
	return c.call(ctx, http.MethodPost, ltPath(id, "removeusers"), url.Values{"amount": {strconv.Itoa(n)}}, nil)
}

// SetUsers makes n users active; seq > 0 orders the calls (see Server.SetUsers).
func (c *Client) SetUsers(ctx context.Context, id string, n int, seq uint64) (agent.Status, error) {
	q := url.Values{"amount": {strconv.Itoa(n)}}
	if seq > 0 {
		q.Set("seq", strconv.FormatUint(seq, 10))
	}
	return c.call(ctx, http.MethodPost, ltPath(id, "setusers"), q, nil)
}

// Status returns load test id's status.
func (c *Client) Status(ctx context.Context, id string) (agent.Status, error) {
	return c.call(ctx, http.MethodGet, ltPath(id, "status"), nil, nil)
}

// Destroy stops and removes load test id, returning its final status.
func (c *Client) Destroy(ctx context.Context, id string) (agent.Status, error) {
	return c.call(ctx, http.MethodDelete, ltPath(id, ""), nil, nil)
}

// Metrics returns what load test id recorded after interval since.
func (c *Client) Metrics(ctx context.Context, id string, since uint64) (agent.MetricsPage, error) {
	var p agent.MetricsPage
	err := c.do(ctx, http.MethodGet, ltPath(id, "metrics"), url.Values{"since": {strconv.FormatUint(since, 10)}}, nil, &p)
	return p, err
}

// List returns every load test's status on the agent, by id.
func (c *Client) List(ctx context.Context) (map[string]agent.Status, error) {
	var m map[string]agent.Status
	err := c.do(ctx, http.MethodGet, "/loadagent/", nil, nil, &m)
	return m, err
}

// Health returns nil if the agent answers GET /healthz.
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/healthz", nil, nil, nil)
}

// Version returns the agent's build.
func (c *Client) Version(ctx context.Context) (agent.Version, error) {
	var v agent.Version
	err := c.do(ctx, http.MethodGet, "/version", nil, nil, &v)
	return v, err
}

// Remote is load test id on a remote agent, with the coordinator's Agent method set.
type Remote struct {
	c  *Client
	id string
}

// LoadTest returns a handle on load test id on this agent.
func (c *Client) LoadTest(id string) *Remote { return &Remote{c: c, id: id} }

// ID returns the load test's id.
func (r *Remote) ID() string { return r.id }

// Version returns the agent's build.
func (r *Remote) Version(ctx context.Context) (agent.Version, error) { return r.c.Version(ctx) }

// Create creates the load test with cfg.
func (r *Remote) Create(ctx context.Context, cfg agentconfig.Config) error {
	_, err := r.c.Create(ctx, r.id, cfg)
	return err
}

// Run starts it.
func (r *Remote) Run(ctx context.Context) (agent.Status, error) { return r.c.Run(ctx, r.id) }

// SetUsers makes n users active.
func (r *Remote) SetUsers(ctx context.Context, n int, seq uint64) (agent.Status, error) {
	return r.c.SetUsers(ctx, r.id, n, seq)
}

// Status returns its status.
func (r *Remote) Status(ctx context.Context) (agent.Status, error) { return r.c.Status(ctx, r.id) }

// Metrics returns what it recorded after interval since.
func (r *Remote) Metrics(ctx context.Context, since uint64) (agent.MetricsPage, error) {
	return r.c.Metrics(ctx, r.id, since)
}

// Stop stops its users.
func (r *Remote) Stop(ctx context.Context) (agent.Status, error) { return r.c.Stop(ctx, r.id) }

// Destroy stops and removes it.
func (r *Remote) Destroy(ctx context.Context) error {
	_, err := r.c.Destroy(ctx, r.id)
	return err
}
