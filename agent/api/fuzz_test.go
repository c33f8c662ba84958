package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/loadtest/loadtest/agent"
	"github.com/loadtest/loadtest/agent/api"
)

// check serves one request and fails on a 5xx, a panic, or a 4xx without a JSON message.
func check(t *testing.T, h http.Handler, method, target, body string) int {
	t.Helper()
	req := httptest.NewRequest(method, "http://agent/", strings.NewReader(body))
	req.URL.RawQuery = ""
	if p, q, ok := strings.Cut(target, "?"); ok {
		req.URL.Path, req.URL.RawQuery = p, q
	} else {
		req.URL.Path = p
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	code := w.Code
	if code >= 500 {
		t.Fatalf("%s %s %q: %d %s", method, target, body, code, w.Body)
	}
	if code >= 400 {
		var r api.Response
		if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil || r.Error == "" {
			t.Fatalf("%s %s %q: %d without a JSON error message: %s", method, target, body, code, w.Body)
		}
	}
	return code
}

// FuzzCreate feeds the create call arbitrary ids and bodies: every rejected one gets a 4xx
// with a message, an accepted one is a config that validates.
func FuzzCreate(f *testing.F) {
	f.Add("lt1", `{"UsersConfiguration":{"MaxActiveUsers":5}}`)
	f.Add("lt1", `{"LoadTestConfig":{"UsersConfiguration":{"InitialActiveUsers":2,"MaxActiveUsers":5}}}`)
	f.Add("Bad Id", `{}`)
	f.Add("x", `{"ConnectionConfiguration":{"ServerURL":"ftp://x"}}`)
	f.Add("x", `{"UserControllerConfiguration":{"Type":"simple","Simple":{"Actions":[]}}}`)
	f.Add("x", `[1,2`)
	f.Add("x&id=y", `null`)
	srv := agent.NewServer(agent.ServerOptions{NewUser: blockingUsers})
	defer srv.Shutdown(context.Background())
	h := api.Handler(srv, api.HandlerOptions{MaxBodyBytes: 64 << 10})
	f.Fuzz(func(t *testing.T, id, body string) {
		code := check(t, h, "POST", "/loadagent/create?id="+id, body)
		if code == http.StatusCreated {
			if _, err := srv.Destroy(strings.SplitN(id, "&", 2)[0]); err != nil {
				// the query may have named the id differently; find it
				for k := range srv.List() {
					_, _ = srv.Destroy(k)
				}
			}
		} else if code != 400 && code != 409 && code != 413 {
			t.Fatalf("create %q: %d; want 201, 400, 409 or 413", id, code)
		}
	})
}

// FuzzCalls feeds arbitrary methods, paths and query strings to an agent with a running load
// test.
func FuzzCalls(f *testing.F) {
	for _, s := range []string{"/loadagent/lt1/addusers?amount=3", "/loadagent/lt1/removeusers?amount=99999999999999999999",
		"/loadagent/lt1/setusers?amount=2&seq=1", "/loadagent/lt1/metrics?since=0", "/loadagent/lt1/status",
		"/loadagent/lt1/setusers?amount=%zz", "/loadagent/%2e%2e/run", "/loadagent/", "/metrics"} {
		f.Add("POST", s)
		f.Add("GET", s)
	}
	srv := agent.NewServer(agent.ServerOptions{NewUser: blockingUsers})
	defer srv.Shutdown(context.Background())
	if err := srv.Create("lt1", noopConfig("http://127.0.0.1:1", 1, 10)); err != nil {
		f.Fatal(err)
	}
	if _, err := srv.Run("lt1"); err != nil {
		f.Fatal(err)
	}
	h := api.Handler(srv, api.HandlerOptions{})
	f.Fuzz(func(t *testing.T, method, target string) {
		switch method {
		case "GET", "POST", "PUT", "DELETE", "HEAD", "PATCH":
		default:
			return // net/http rejects other methods before a handler sees them
		}
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\t#") {
			return
		}
		if method == "DELETE" || strings.HasSuffix(strings.SplitN(target, "?", 2)[0], "/stop") {
			return // keep lt1 running, so the other calls reach it
		}
		check(t, h, method, target, "")
	})
}
