// Package apispec checks HTTP traffic against the official Mattermost API v4 reference
// (../shared/mattermost-api/openapi-v4.yaml beside the project). Tests of the test server and
// of the client use it, so both are held to the same document and the same list of known
// differences.
package apispec

import (
	"bytes"
	"context"
	_ "embed" // the reference's copy
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// Undocumented lists the routes (method and path under /api/v4, wildcards in braces) that the
// June 2023 reference lacks though the real server serves them, with the reason.
var Undocumented = map[string]string{
	"POST /drafts": "synced drafts (server 7.7+) are missing from the 2023 reference",
	"GET /users/{user_id}/teams/{team_id}/drafts":                      "synced drafts",
	"DELETE /users/{user_id}/channels/{channel_id}/drafts":             "synced drafts",
	"DELETE /users/{user_id}/channels/{channel_id}/drafts/{thread_id}": "synced drafts",
	"POST /client_perf": "client performance reports (server 9.x) are missing from the 2023 reference",
}

// Deviation is a place where the real server, and so the test server, differs from the
// reference. Documented is the status whose schema a response is checked against instead of
// the one sent; 0 skips the body check.
type Deviation struct {
	Documented int
	Why        string
}

// Deviations lists the known differences by route.
var Deviations = map[string]Deviation{
	"POST /users/login":                                        {201, "the reference documents 201; the server sends 200"},
	"POST /users/logout":                                       {201, "the reference documents 201; the server sends 200"},
	"POST /reactions":                                          {201, "the reference documents 201; the server sends 200"},
	"GET /files/{file_id}/thumbnail":                           {0, "the reference documents no success response; the body is an image"},
	"GET /files/{file_id}/preview":                             {0, "the reference documents no success response; the body is an image"},
	"POST /teams/{team_id}/channels/search":                    {201, "the reference documents 201; the server sends 200"},
	"GET /users/{user_id}/teams/{team_id}/channels/categories": {0, "the reference documents an array; the server and its clients use one OrderedSidebarCategories object"},
}

// ErrUndocumented is returned for a request that matches an entry of Undocumented: it was not
// checked, and may not be.
var ErrUndocumented = errors.New("apispec: route is on the Undocumented list")

// Spec is the loaded reference with a path matcher.
type Spec struct {
	doc   *openapi3.T
	paths []template
	extra []template // Undocumented, for matching only
}

type template struct {
	key  string // path as written in the reference, with /api/v4
	segs []string
	item *openapi3.PathItem
}

// Embedded is a copy of shared/mattermost-api/openapi-v4.yaml, so the tests run in a clone
// that has no shared/ beside it. TestEmbeddedMatchesShared keeps it identical to the original.
//
//go:embed openapi-v4.yaml
var Embedded []byte

var load = sync.OnceValues(func() (*Spec, error) {
	// The reference fails whole-document validation (KnownUsers is an array without items; see
	// its README), so it is loaded without it and checked operation by operation.
	var doc *openapi3.T
	var err error
	if p := os.Getenv("MM_OPENAPI_SPEC"); p != "" {
		doc, err = openapi3.NewLoader().LoadFromFile(p)
	} else {
		doc, err = openapi3.NewLoader().LoadFromData(Embedded)
	}
	if err != nil {
		return nil, fmt.Errorf("apispec: load the API reference: %w", err)
	}
	s := &Spec{doc: doc}
	for k, item := range doc.Paths.Map() {
		s.paths = append(s.paths, template{key: k, segs: strings.Split(k, "/"), item: item})
	}
	for k := range Undocumented {
		_, p, _ := strings.Cut(k, " ")
		s.extra = append(s.extra, template{key: "/api/v4" + p, segs: strings.Split("/api/v4"+p, "/")})
	}
	return s, nil
})

// Load returns the reference, loaded once per process: the embedded copy, or the file
// MM_OPENAPI_SPEC names.
func Load() (*Spec, error) { return load() }

// FindShared looks for shared/mattermost-api/openapi-v4.yaml beside the working directory or
// any parent of it.
func FindShared() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		for _, c := range []string{filepath.Join(dir, "shared"), filepath.Join(dir, "..", "shared")} {
			p := filepath.Join(c, "mattermost-api", "openapi-v4.yaml")
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("apispec: shared/mattermost-api/openapi-v4.yaml not found beside the project or any parent; set MM_OPENAPI_SPEC")
		}
		dir = parent
	}
}

// match finds the template that matches path, preferring more literal segments.
func match(ts []template, path string) (template, map[string]string, bool) {
	segs := strings.Split(path, "/")
	best, bestLit, found := template{}, -1, false
	for _, t := range ts {
		if len(t.segs) != len(segs) {
			continue
		}
		lit, ok := 0, true
		for i, s := range t.segs {
			switch {
			case strings.HasPrefix(s, "{"):
				ok = segs[i] != ""
			case s == segs[i]:
				lit++
			default:
				ok = false
			}
			if !ok {
				break
			}
		}
		if ok && lit > bestLit {
			best, bestLit, found = t, lit, true
		}
	}
	if !found {
		return template{}, nil, false
	}
	params := map[string]string{}
	for i, s := range best.segs {
		if strings.HasPrefix(s, "{") {
			params[strings.Trim(s, "{}")] = segs[i]
		}
	}
	return best, params, true
}

// normalize turns a path template into a form that ignores wildcard names.
func normalize(method, p string) string {
	var b strings.Builder
	b.WriteString(method + " ")
	in := false
	for _, r := range p {
		switch {
		case r == '{':
			in = true
			b.WriteString("{}")
		case r == '}':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func lookup[V any](m map[string]V, method, apiPath string) (V, bool) {
	want := normalize(method, strings.TrimPrefix(apiPath, "/api/v4"))
	for k, v := range m {
		m, p, _ := strings.Cut(k, " ")
		if normalize(m, p) == want {
			return v, true
		}
	}
	var zero V
	return zero, false
}

// Documented reports whether method and template (a path under /api/v4, wildcard names
// free) are an operation of the reference.
func (s *Spec) Documented(method, tmpl string) bool {
	want := normalize(method, "/api/v4"+tmpl)
	for _, t := range s.paths {
		if normalize(method, t.key) == want {
			return t.item.GetOperation(method) != nil
		}
	}
	return false
}

// Route returns the reference's template for a concrete request path, e.g.
// "/api/v4/channels/{channel_id}/posts" for "/api/v4/channels/abc/posts".
func (s *Spec) Route(method, path string) (string, bool) {
	t, _, ok := match(s.paths, path)
	if ok && t.item.GetOperation(method) != nil {
		return t.key, true
	}
	if t, _, ok := match(s.extra, path); ok {
		if _, listed := lookup(Undocumented, method, t.key); listed {
			return t.key, true
		}
	}
	return "", false
}

func (s *Spec) input(r *http.Request, body []byte) (*openapi3filter.RequestValidationInput, string, error) {
	t, params, ok := match(s.paths, r.URL.Path)
	var op *openapi3.Operation
	if ok {
		op = t.item.GetOperation(r.Method)
	}
	if op == nil {
		if et, _, ok := match(s.extra, r.URL.Path); ok {
			if _, listed := lookup(Undocumented, r.Method, et.key); listed {
				return nil, et.key, ErrUndocumented
			}
		}
		return nil, "", fmt.Errorf("apispec: %s %s is not in the reference", r.Method, r.URL.Path)
	}
	req := r.Clone(context.Background())
	req.Body = io.NopCloser(bytes.NewReader(body))
	return &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params,
		Route:   &routers.Route{Spec: s.doc, Path: t.key, PathItem: t.item, Method: r.Method, Operation: op},
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}, t.key, nil
}

// CheckRequest validates a request (its body given separately, as it may have been read)
// against the reference. It returns ErrUndocumented for a route on the Undocumented list.
func (s *Spec) CheckRequest(r *http.Request, body []byte) error {
	in, key, err := s.input(r, body)
	if err != nil {
		return err
	}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		return fmt.Errorf("%s %s: request: %w", r.Method, key, err)
	}
	return nil
}

// CheckResponse validates a response to r against the reference, applying Deviations. It
// returns ErrUndocumented for a route on the Undocumented list.
func (s *Spec) CheckResponse(r *http.Request, body []byte, status int, hdr http.Header, respBody []byte) error {
	in, key, err := s.input(r, body)
	if err != nil {
		return err
	}
	if status == http.StatusNotModified {
		return nil // the reference does not model conditional GETs
	}
	if d, ok := lookup(Deviations, r.Method, key); ok && status < 400 {
		if d.Documented != 0 && in.Route.Operation.Responses.Status(status) != nil {
			return fmt.Errorf("%s %s: deviation is stale: the reference documents %d now", r.Method, key, status)
		}
		if status = d.Documented; status == 0 {
			return nil
		}
	}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: status, Header: hdr,
		Body:    io.NopCloser(bytes.NewReader(respBody)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
	if err != nil {
		return fmt.Errorf("%s %s: response %d: %w", r.Method, key, status, err)
	}
	return nil
}

// Checker is an http.RoundTripper that checks every request it sends and every response it
// receives against the reference, and keeps what failed. Use it in tests of a client.
type Checker struct {
	Spec *Spec
	Next http.RoundTripper // nil: http.DefaultTransport

	mu         sync.Mutex
	violations []string
	seen       map[string]int // "METHOD /api/v4/template" -> requests checked
}

// RoundTrip implements http.RoundTripper.
func (c *Checker) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return nil, err
		}
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	next := c.Next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(r)
	if err != nil || !strings.HasPrefix(r.URL.Path, "/api/v4/") || r.URL.Path == "/api/v4/websocket" {
		return resp, err
	}
	respBody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	c.check(r, body, resp.StatusCode, resp.Header, respBody)
	return resp, nil
}

// Handler checks, as RoundTrip does, every request next serves and its response: the
// server's side of the wire, for clients that do not send through net/http.
func (c *Checker) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/v4/") || r.URL.Path == "/api/v4/websocket" {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r.Clone(r.Context()))
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		c.check(r, body, rec.Code, rec.Header(), rec.Body.Bytes())
	})
}

// check validates one exchange and keeps what failed.
func (c *Checker) check(r *http.Request, body []byte, status int, hdr http.Header, respBody []byte) {
	var problems []error
	if status < 400 {
		problems = append(problems, c.Spec.CheckRequest(r, body))
	}
	problems = append(problems, c.Spec.CheckResponse(r, body, status, hdr, respBody))
	key, _ := c.Spec.Route(r.Method, r.URL.Path)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]int{}
	}
	c.seen[r.Method+" "+key]++
	for _, p := range problems {
		if p != nil && !errors.Is(p, ErrUndocumented) {
			c.violations = append(c.violations, p.Error())
		}
	}
}

// Violations returns what failed so far.
func (c *Checker) Violations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.violations...)
}

// Seen returns how many requests were checked per "METHOD /api/v4/template".
func (c *Checker) Seen() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.seen))
	for k, v := range c.seen {
		out[k] = v
	}
	return out
}
