package script

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/loadtest/loadtest/histogram"
	"github.com/loadtest/loadtest/internal/usermetrics"
	"github.com/loadtest/loadtest/mattermost"
)

// BenchmarkUser measures one request by a scripted user against the same request by Go code
// doing what a Go-coded user does (send, read the body, record the request in the same
// metrics), both against a local server: the difference is the script's overhead. See
// docs/benchmarks.md.
func BenchmarkUser(b *testing.B) {
	body := []byte(`{"id":"abc","name":"item","tags":["a","b"]}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 10}, Timeout: 30 * time.Second}

	b.Run("go", func(b *testing.B) {
		m := usermetrics.New(nil, histogram.NewRecorder())
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			start := time.Now()
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/items/1", nil)
			resp, err := client.Do(req)
			status := 0
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				status = resp.StatusCode
			}
			m.ObserveRequest(mattermost.Request{Method: "GET", Route: "item", Status: status, Duration: time.Since(start), Err: err})
		}
	})
	for _, tc := range []struct{ name, src string }{
		{"script", "def main():\n    for i in range(params['n']):\n        get('/items/1', name='item')\n"},
		{"script-json", "def main():\n    for i in range(params['n']):\n        r = get('/items/1', name='item')\n        if r.json()['name'] != 'item':\n            fail('bad')\n"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p, err := Compile(tc.name, tc.src)
			if err != nil {
				b.Fatal(err)
			}
			rt, err := NewRuntime(Options{Targets: []string{srv.URL}, HTTP: func() *http.Client { return client },
				Metrics: usermetrics.New(nil, histogram.NewRecorder()),
				Scripts: []Script{{Program: p, Share: 1, Params: map[string]any{"n": float64(b.N)}}}})
			if err != nil {
				b.Fatal(err)
			}
			defer rt.Close()
			u := rt.NewUser(1)
			s, err := u.newSession(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			if err := s.call(context.Background(), "main"); err != nil {
				b.Fatal(err)
			}
		})
	}
}
