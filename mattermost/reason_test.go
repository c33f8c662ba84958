package mattermost_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loadtest/loadtest/mattermost"
)

func TestReason(t *testing.T) {
	appErr := func(status int, id string) error {
		return &mattermost.Error{Method: "GET", Route: "/users/me", AppError: mattermost.AppError{StatusCode: status, ID: id}}
	}
	for _, tc := range []struct {
		r    mattermost.Request
		want string
	}{
		{mattermost.Request{}, ""},
		{mattermost.Request{Err: appErr(401, "api.context.session_expired.app_error"), Status: 401}, "api.context.session_expired.app_error"},
		{mattermost.Request{Err: appErr(502, ""), Status: 502}, "Bad Gateway"},
		{mattermost.Request{Err: appErr(599, ""), Status: 599}, "unnamed server error"},
		{mattermost.Request{Err: appErr(500, "<script>"+strings.Repeat("x", 200)), Status: 500}, "unnamed server error"},
		{mattermost.Request{Err: context.DeadlineExceeded, Timeout: true}, "timeout"},
		{mattermost.Request{Err: fmt.Errorf("dial: %w", syscall.ECONNREFUSED)}, "connection refused"},
		{mattermost.Request{Err: fmt.Errorf("read: %w", syscall.ECONNRESET)}, "connection reset"},
		{mattermost.Request{Err: fmt.Errorf("body: %w", io.ErrUnexpectedEOF)}, "connection closed"},
		{mattermost.Request{Err: &net.DNSError{Err: "no such host", Name: "nowhere.invalid"}}, "host not found"},
		{mattermost.Request{Err: fmt.Errorf("tls: first record does not look like a TLS handshake")}, "tls"},
		{mattermost.Request{Err: fmt.Errorf("something odd 42")}, "transport error"},
		{mattermost.Request{Err: fmt.Errorf("HTTP 404"), Status: 404}, "Not Found"}, // a script's request: no error body
	} {
		if got := mattermost.Reason(tc.r); got != tc.want {
			t.Errorf("Reason(%v) = %q; want %q", tc.r.Err, got, tc.want)
		}
	}
}

// TestReason_RealFailures gets the reasons from real failures on both HTTP clients: a closed
// port, a server that hangs up, an error body with an id, a timeout.
func TestReason_RealFailures(t *testing.T) {
	hangup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		c, _, _ := w.(http.Hijacker).Hijack()
		c.Close()
	}))
	defer hangup.Close()
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v4/users/me" {
			w.WriteHeader(503)
			_, _ = w.Write([]byte(`{"id":"api.server.busy.app_error","message":"busy","status_code":503}`))
			return
		}
		time.Sleep(300 * time.Millisecond)
	}))
	defer busy.Close()
	// The closed port is taken last: a port freed before the servers above listened could
	// be handed to one of them (once, the hang-up server got it: "connection closed").
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	for _, fast := range []bool{false, true} {
		get := func(base string, timeout time.Duration) string {
			var got mattermost.Request
			tc := mattermost.TransportConfig{RequestTimeout: timeout}
			o := mattermost.Options{Observer: func(r mattermost.Request) { got = r }, HTTPClient: mattermost.NewHTTPClient(tc)}
			if fast {
				f, err := mattermost.NewFastHTTP(base, tc)
				if err != nil {
					t.Fatal(err)
				}
				o.FastHTTP = f
			}
			c, err := mattermost.New(base, o)
			if err != nil {
				t.Fatal(err)
			}
			c.SetSession("tok", "u1")
			if base == busy.URL && timeout < time.Second {
				_, _ = c.GetTeamsForUser(context.Background())
			} else {
				_ = c.CheckMe(context.Background())
			}
			return mattermost.Reason(got)
		}
		for _, tc := range []struct {
			base    string
			timeout time.Duration
			want    string
		}{
			{closed, 5 * time.Second, "connection refused"},
			{hangup.URL, 5 * time.Second, "connection closed"},
			{busy.URL, 5 * time.Second, "api.server.busy.app_error"},
			{busy.URL, 50 * time.Millisecond, "timeout"},
		} {
			if got := get(tc.base, tc.timeout); got != tc.want {
				t.Errorf("fasthttp %v, %s (timeout %v): reason %q; want %q", fast, tc.base, tc.timeout, got, tc.want)
			}
		}
	}
}
