package api_test

import (
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/loadtest/loadtest/agent"
	"github.com/loadtest/loadtest/agent/api"
	"github.com/loadtest/loadtest/loadtest"
)

// endless is a body of n bytes that it makes up as it is read, so a 50 MB body costs the
// test no memory.
type endless struct{ left int64 }

func (e *endless) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), e.left))
	for i := range n {
		p[i] = ' '
	}
	e.left -= int64(n)
	return n, nil
}

// TestAPI_Hostile: 200 callers adding, removing and setting users at once leave the count
// the arithmetic says, and hostile requests (50 MB and deeply nested bodies, huge or
// malformed amounts, ids with path characters) get a 4xx with a JSON error while the agent
// stays up and its load test untouched.
func TestAPI_Hostile(t *testing.T) {
	srv := agent.NewServer(agent.ServerOptions{NewUser: blockingUsers}) // the default 1 MiB body limit
	c := start(t, srv, "")
	ctx := context.Background()
	if _, err := c.Create(ctx, "lt1", noopConfig("http://127.0.0.1:1", 1000, 10000)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run(ctx, "lt1"); err != nil {
		t.Fatal(err)
	}
	var net atomic.Int64
	var wg sync.WaitGroup
	for g := range 200 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 11))
			for range 5 {
				n := 1 + rng.IntN(3)
				var err error
				switch rng.IntN(3) {
				case 0:
					_, err = c.AddUsers(ctx, "lt1", n)
					net.Add(int64(n))
				case 1: // at most 200 x 5 x 3 removed: never below the 1000 initial users
					_, err = c.RemoveUsers(ctx, "lt1", n)
					net.Add(-int64(n))
				default:
					_, err = c.Status(ctx, "lt1")
				}
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	st, err := c.Status(ctx, "lt1")
	want(t, st, err, loadtest.Running, int(1000+net.Load()))
	users := st.ActiveUsers

	deep := strings.Repeat(`{"a":`, 100000) + "1" + strings.Repeat("}", 100000)
	for _, tc := range []struct {
		method, path string
		body         io.Reader
		code         int
		says         string
	}{
		{"POST", "/loadagent/create?id=big", &endless{left: 50 << 20}, 413, "larger than 1048576 bytes"},
		{"POST", "/loadagent/create?id=deep", strings.NewReader(deep), 400, ""},
		{"POST", "/loadagent/create?id=arr", strings.NewReader(strings.Repeat("[", 200000)), 400, ""},
		{"POST", "/loadagent/lt1/addusers?amount=99999999999999999999999", nil, 400, "must be an integer"},
		{"POST", "/loadagent/lt1/addusers?amount=1e9", nil, 400, "must be an integer"},
		{"POST", "/loadagent/lt1/addusers?amount=0x10", nil, 400, "must be an integer"},
		{"POST", "/loadagent/lt1/addusers?amount=2147483648", nil, 400, "UsersConfiguration.MaxActiveUsers is 10000"},
		{"POST", "/loadagent/lt1/setusers?amount=%20", nil, 400, "must be an integer"},
		{"POST", "/loadagent/create?id=..%2F..%2Fetc", nil, 400, "must be 1 to 10 lower-case"},
		{"POST", "/loadagent/create?id=a%00b", nil, 400, "must be 1 to 10 lower-case"},
		{"POST", "/loadagent/..%2Flt1/run", nil, 404, ""},
		{"POST", "/loadagent/lt1%2F..%2Flt1/stop", nil, 404, ""},
		{"GET", "/loadagent/" + strings.Repeat("x", 5000) + "/status", nil, 404, ""},
	} {
		req, _ := http.NewRequest(tc.method, c.URL()+tc.path, tc.body)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("%s %.60s: %v", tc.method, tc.path, err)
			continue
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		var r api.Response
		if resp.StatusCode != tc.code || json.Unmarshal(b, &r) != nil || r.Error == "" || !strings.Contains(r.Error, tc.says) {
			t.Errorf("%s %.60s: %d %.200s; want %d with a JSON error saying %q", tc.method, tc.path, resp.StatusCode, b, tc.code, tc.says)
		}
	}
	if err := c.Health(ctx); err != nil {
		t.Fatalf("the agent is not up after the hostile requests: %v", err)
	}
	st, err = c.Status(ctx, "lt1")
	want(t, st, err, loadtest.Running, users)
	if list, _ := c.List(ctx); len(list) != 1 {
		t.Errorf("load tests %v; want lt1 alone", list)
	}
}
