package script

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/loadtest/loadtest/histogram"
	"github.com/loadtest/loadtest/internal/testtools"
	"github.com/loadtest/loadtest/internal/usermetrics"
)

func TestCompile_Errors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"syntax", "def main():\n  get(\"/\"\n", "script syntax: line 3 col 1: got outdent"},
		{"undefined", "def main():\n    open('/etc/passwd')\n", "script undefined: line 2 col 5: undefined: open"},
		{"load", "load('x.star', 'y')\ndef main():\n    pass\n", "script load: line 1 col 1: load is not allowed"},
		{"nomain", "def run():\n    pass\n", "script nomain: no main()"},
		{"args", "def main(x):\n    pass\n", "script args: line 1 col 10: main() must take no arguments"},
		{"empty", "  \n", "script empty: the source is empty"},
		{"recursion", "def main():\n    main()\n", ""}, // compiles; refused when it runs
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.name, tc.src)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Compile: %v", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("Compile error = %v, want prefix %q", err, tc.want)
			}
			var se *Error
			if !errors.As(err, &se) || se.Script != tc.name {
				t.Errorf("error %v is not an *Error naming the script", err)
			}
		})
	}
}

// server is a test target on 127.0.0.1: it echoes requests as JSON, sleeps on /slow, and
// echoes WebSocket messages on /ws.
func server(t *testing.T) (*httptest.Server, *atomic.Int64) {
	s, hits, _ := serverPaths(t)
	return s, hits
}

// serverPaths is server, and a function that counts the distinct /echo paths requested.
func serverPaths(t *testing.T) (*httptest.Server, *atomic.Int64, func() int) {
	var hits atomic.Int64
	var paths sync.Map
	mux := http.NewServeMux()
	mux.HandleFunc("/echo/{rest...}", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		paths.Store(r.URL.Path, true)
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Seen", r.Header.Get("X-Token"))
		if c, err := r.Cookie("session"); err == nil {
			w.Header().Set("X-Cookie", c.Value)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery,
			"body": string(b), "type": r.Header.Get("Content-Type")})
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "s3cret", Path: "/"})
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		time.Sleep(30 * time.Millisecond)
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		http.Error(w, "no", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/flood", func(w http.ResponseWriter, r *http.Request) { // 3000 messages, then echo
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for i := range 3000 {
			if err := c.Write(r.Context(), websocket.MessageText, []byte(fmt.Sprintf("m%d", i))); err != nil {
				return
			}
		}
		for {
			typ, b, err := c.Read(r.Context())
			if err != nil || c.Write(r.Context(), typ, append([]byte("echo:"), b...)) != nil {
				return
			}
		}
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, b, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, append([]byte("echo:"), b...)); err != nil {
				return
			}
		}
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s, &hits, func() int {
		n := 0
		paths.Range(func(any, any) bool { n++; return true })
		return n
	}
}

type fixture struct {
	rt  *Runtime
	m   *usermetrics.Metrics
	rec *histogram.Recorder
}

func newRuntime(t *testing.T, target string, o Options, srcs ...string) fixture {
	t.Helper()
	rec := histogram.NewRecorder()
	m := usermetrics.New(nil, rec)
	for i, src := range srcs {
		p, err := Compile(fmt.Sprintf("s%d", i), src)
		if err != nil {
			t.Fatal(err)
		}
		o.Scripts = append(o.Scripts, Script{Program: p, Share: 1, Params: map[string]any{"greeting": "hi", "n": 3.0}})
	}
	o.Targets, o.Metrics, o.AgentID = []string{target}, m, "a1"
	rt, err := NewRuntime(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	return fixture{rt: rt, m: m, rec: rec}
}

// runFor runs user id until d has passed and returns what Run returned.
func runFor(t *testing.T, rt *Runtime, id int, d time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return rt.NewUser(id).Run(ctx)
}

func summary(rec *histogram.Recorder, key string) histogram.Summary {
	for _, s := range rec.Snapshot().Summaries() {
		if s.Key == key {
			return s
		}
	}
	return histogram.Summary{}
}

func TestUser_HTTPBuiltins(t *testing.T) {
	srv, _ := server(t)
	got := make(chan string, 1)
	f := newRuntime(t, srv.URL, Options{}, `
def main():
    r = post("/echo/items/12345", json={"a": [1, 2]}, headers={"X-Token": "t"}, params={"q": "x y"})
    d = r.json()
    login = get("/login")
    again = get(target + "/echo/check", name="check")
    bad = get("/fail")
    start_timing("flow")
    inc_counter("flows")
    inc_counter("items", n=2)
    ms = stop_timing("flow")
    fail("RESULT %s|%s|%s|%s|%s|%s|%s|%d|%s|%d|%s|%s|%s" % (r.status, r.ok, d["method"], d["path"], d["query"],
        json.decode(d["body"])["a"][1], d["type"], len(r.headers["x-seen"]), again.headers["x-cookie"], bad.status,
        bad.ok, bad.error, params["greeting"] + str(params["n"] + user_id)))
`)
	err := runFor(t, f.rt, 4, 5*time.Second)
	var se *Error
	if !errors.As(err, &se) {
		t.Fatalf("Run = %v, want the script's fail()", err)
	}
	got <- se.Msg
	want := "fail: RESULT 200|True|POST|/echo/items/12345|q=x+y|2|application/json|1|s3cret|503|False|None|hi7"
	if msg := <-got; msg != want {
		t.Errorf("script saw\n %s\nwant\n %s", msg, want)
	}
	if se.Line != 12 {
		t.Errorf("the error is at line %d, want 12 (the fail call)", se.Line)
	}
	for key, want := range map[string]int64{
		"route POST /echo/items/{id}": 1, "route GET /login": 1, "route GET check": 1, "route GET /fail": 1,
		"timing flow": 1, "phase headers": 4, "phase body": 4, "phase connect": 1,
	} {
		if s := summary(f.rec, key); s.Count != want {
			t.Errorf("%s: %d recorded, want %d", key, s.Count, want)
		}
	}
	if s := summary(f.rec, "route GET /fail"); s.Errors != 1 {
		t.Errorf("the 503 was not counted as an error: %+v", s)
	}
	if c := f.m.TakeCounters(); c["flows"] != 1 || c["items"] != 2 {
		t.Errorf("counters = %v, want flows 1, items 2", c)
	}
}

func TestUser_ReturningScriptIsReplaced(t *testing.T) {
	srv, hits, distinct := serverPaths(t)
	f := newRuntime(t, srv.URL, Options{}, `
session = uuid()
def main():
    get("/echo/" + session, name="once")
`)
	if err := runFor(t, f.rt, 1, 300*time.Millisecond); err != nil {
		t.Fatalf("Run = %v; a script that returns is run again in a fresh session", err)
	}
	if n := hits.Load(); n < 5 {
		t.Errorf("main ran %d times in 300ms, want it replaced again and again", n)
	}
	if n, d := hits.Load(), distinct(); int64(d) != n {
		t.Errorf("%d runs of main came from %d sessions; each run should be a fresh session", n, d)
	}
}

func TestUser_IdleScriptIsAnError(t *testing.T) {
	f := newRuntime(t, "http://127.0.0.1:1", Options{}, "def main():\n    inc_counter('x')\n")
	if err := runFor(t, f.rt, 1, 5*time.Second); !errors.Is(err, ErrIdle) {
		t.Fatalf("Run = %v, want ErrIdle (restarting it at once would spin)", err)
	}
}

func TestUser_HostileScripts(t *testing.T) {
	srv, _ := server(t)
	for _, tc := range []struct{ name, src, want string }{
		{"busy loop", "def main():\n    x = 0\n    while True:\n        x += 1\n", "line 4 col 9: stopped after 100000 steps without calling a builtin"},
		{"huge repeat", "def main():\n    get('/echo/x')\n    s = 'a' * (1 << 40)\n", "line 3 col 13: repeat count 1099511627776 too large"},
		{"growing list", "def main():\n    l = []\n    get('/echo/x')\n    for i in range(1000000000):\n        l.append('x' * 4000000)\n",
			"memory limit"},
		{"recursion", "def f():\n    f()\ndef main():\n    f()\n", "called recursively"},
		{"division", "def main():\n    get('/echo/x')\n    return 1 // 0\n", "line 3 col 14: floored division by zero"},
		{"bad argument", "def main():\n    delay(-5)\n", "delay: ms must be a number >= 0"},
		{"bad url", "def main():\n    get('file:///etc/passwd')\n", "the scheme must be http(s) or ws(s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newRuntime(t, srv.URL, Options{MaxSteps: 100_000, MemoryLimit: 300 << 20}, tc.src)
			start := time.Now()
			err := runFor(t, f.rt, 1, 20*time.Second)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run = %v, want an error with %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "script s0: ") {
				t.Errorf("the error does not name the script: %v", err)
			}
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("stopping it took %v", d)
			}
		})
	}
	// The process lives on, and a well-behaved script still runs.
	f := newRuntime(t, srv.URL, Options{}, "def main():\n    get('/echo/ok')\n    delay(5)\n")
	if err := runFor(t, f.rt, 1, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
}

func TestUser_WebSocket(t *testing.T) {
	srv, _ := server(t)
	f := newRuntime(t, srv.URL, Options{}, `
def main():
    c = ws_connect("/ws", name="chat")
    ws_send(c, "hello")
    ws_send(c, {"k": 1})
    ws_send(c, b"\x01")
    a = ws_receive(c, timeout_ms=2000)
    b = ws_receive(c, timeout_ms=2000)
    d = ws_receive(c, timeout_ms=2000)
    none = ws_receive(c, timeout_ms=20)
    ws_close(c)
    fail("%s|%s|%r|%s" % (a, b, d, none))
`)
	err := runFor(t, f.rt, 1, 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), `fail: echo:hello|echo:{"k":1}|b"echo:\x01"|None`) {
		t.Fatalf("Run = %v", err)
	}
	if s := summary(f.rec, "route WS chat"); s.Count != 1 || s.Errors != 0 {
		t.Errorf("the connect was not recorded: %+v", s)
	}
}

// TestUser_WebSocketKeepsReading: a script busy elsewhere does not stall its connection; the
// newest 1024 messages wait for it, older ones are dropped, and the connection stays open.
func TestUser_WebSocketKeepsReading(t *testing.T) {
	srv, _ := server(t)
	f := newRuntime(t, srv.URL, Options{}, `
def main():
    c = ws_connect("/flood")
    delay(500)
    first = ws_receive(c, timeout_ms=1000)
    n = 1
    for _ in range(5000):
        if ws_receive(c, timeout_ms=100) == None:
            break
        n += 1
    ws_send(c, "still there?")
    fail("%s|%d|%s" % (first, n, ws_receive(c, timeout_ms=2000)))
`)
	err := runFor(t, f.rt, 1, 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "fail: m1976|1024|echo:still there?") {
		t.Fatalf("Run = %v; want the newest 1024 of 3000 messages (m1976 first) and an open connection", err)
	}
}

func TestUser_LeavesPromptlyAndLetsRequestsFinish(t *testing.T) {
	srv, hits := server(t)
	f := newRuntime(t, srv.URL, Options{}, "def main():\n    while True:\n        get('/slow')\n        delay(60000)\n")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var err error
	wg.Go(func() { err = f.rt.NewUser(1).Run(ctx) })
	// The handler counts the request as it starts its 30 ms: the user leaves during it.
	testtools.Eventually(t, 10*time.Second, "the request to reach the server", func() bool { return hits.Load() == 1 })
	cancel()
	wg.Wait()
	if err != nil {
		t.Fatalf("Run = %v, want nil on leaving", err)
	}
	if s := summary(f.rec, "route GET /slow"); s.Count != 1 || s.Errors != 0 {
		t.Errorf("the in-flight request was not let finish: %+v", s)
	}
}

func TestUser_PacedRecordsIntendedStart(t *testing.T) {
	srv, _ := server(t)
	rec := histogram.NewRecorder()
	m := usermetrics.New(nil, rec)
	p, err := Compile("paced", "def main():\n    get('/slow')\n")
	if err != nil {
		t.Fatal(err)
	}
	rt, err := NewRuntime(Options{Targets: []string{srv.URL}, Metrics: m,
		Scripts: []Script{{Program: p, Share: 1, Pace: 10 * time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if err := runFor(t, rt, 1, 400*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	actual := summary(rec, "action script paced")
	intended := summary(rec, "action script paced (intended)")
	if actual.Count < 5 || intended.Count != actual.Count {
		t.Fatalf("iterations: actual %d, intended %d", actual.Count, intended.Count)
	}
	// Each 30ms iteration overruns its 10ms pace, so the schedule falls further behind each
	// time: the corrected latency grows, the actual stays near 30ms.
	if intended.Max < 2*actual.Max {
		t.Errorf("max latency from the intended start %v is not well above the actual %v", intended.Max, actual.Max)
	}
}

func TestScriptFor_HoldsShares(t *testing.T) {
	p, _ := Compile("a", "def main():\n    pass\n")
	rt, err := NewRuntime(Options{Scripts: []Script{{Program: p, Share: 1}, {Program: p, Share: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	for _, n := range []int{8, 100, 1000} {
		first := 0
		for id := 1; id <= n; id++ {
			if rt.ScriptFor(id) == 0 {
				first++
			}
		}
		if d := float64(first) - float64(n)/4; d < -1.5 || d > 1.5 {
			t.Errorf("of users 1..%d, %d run the first script; want %.1f ± 1.5", n, first, float64(n)/4)
		}
	}
}

func TestTemplate(t *testing.T) {
	for in, want := range map[string]string{
		"":                                "/",
		"/api/v4/users/me":                "/api/v4/users/me",
		"/items/12345/x":                  "/items/{id}/x",
		"/c/abcdefghijklmnopqrstuvwxyz/p": "/c/{id}/p",
		"/orders/2f1c9b1e-aaaa/lines/7":   "/orders/{id}/lines/{id}",
		"/static/app.js":                  "/static/app.js",
	} {
		if got := Template(in); got != want {
			t.Errorf("Template(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{"def main():\n    pass\n", "def main(:\n", "load('a','b')", "x = [1] * 10\ndef main():\n  get('/')\n",
		"def main(a=1):\n    while True:\n        delay(1)\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Compile("fuzz", src)
		if err == nil && p == nil {
			t.Fatal("nil program without an error")
		}
		var se *Error
		if err != nil && !errors.As(err, &se) {
			t.Fatalf("error %v is not an *Error", err)
		}
	})
}
