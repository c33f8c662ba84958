package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loadtest/loadtest/agent"
	"github.com/loadtest/loadtest/agent/api"
	"github.com/loadtest/loadtest/coordinator"
	"github.com/loadtest/loadtest/coordinator/cluster"
	"github.com/loadtest/loadtest/internal/mmsim"
	"github.com/loadtest/loadtest/internal/mmsim/mmsimtest"
	"github.com/loadtest/loadtest/web"
)

// target starts mmsim (with a capacity model when workers > 0) with an open team, and an
// agent; it returns their URLs.
func target(t *testing.T, workers int) (mmURL, agentURL string) {
	t.Helper()
	mm := mmsimtest.Start(t, func(c *mmsim.Config) {
		if workers > 0 {
			c.Capacity = mmsim.CapacityConfig{Workers: workers, ServiceTimeMs: 20, Distribution: "constant"}
		}
	})
	mmsimtest.CreateTeam(t, mm.URL, mm.Config, "team1")
	srv := agent.NewServer(agent.ServerOptions{})
	hs := httptest.NewServer(api.Handler(srv, api.HandlerOptions{}))
	t.Cleanup(func() { hs.Close(); _ = srv.Shutdown(context.Background()) })
	return mm.URL, hs.URL
}

// searchRequest is a search of noop users against mmURL on one agent: up to maxUsers, with
// the mean latency's threshold at 100 ms.
func searchRequest(mmURL, agentURL string, maxUsers int) map[string]any {
	q := coordinator.DefaultQueries()[0]
	q.Threshold = 0.1
	return map[string]any{
		"kind": "search", "name": "noop search", "start": true,
		"config": map[string]any{
			"ClusterConfig": map[string]any{"Agents": []map[string]any{{"Id": "lt0", "ApiURL": agentURL}}, "MaxActiveUsers": maxUsers},
			"MonitorConfig": map[string]any{"Queries": []coordinator.Query{q}},
			"Search":        map[string]any{"HoldSec": 4, "SettleSec": 1, "RampRate": 100, "Precision": 0.05, "TimeBudgetSec": 600},
		},
		"agent_config": map[string]any{
			"ConnectionConfiguration":     map[string]any{"ServerURL": mmURL},
			"UserControllerConfiguration": map[string]any{"Type": "noop"},
			"UsersConfiguration":          map[string]any{"MaxActiveUsers": maxUsers},
		},
	}
}

// call sends a JSON request and decodes the JSON answer into out (if not nil); it returns
// the status code and the body.
func call(t *testing.T, method, url string, body any, out any, header ...string) (int, string) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = strings.NewReader(string(b))
	}
	resp := send(t, context.Background(), method, url, r, header...)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, url, err, b)
		}
	}
	if resp.StatusCode >= 400 {
		var e struct{ Error string }
		if err := json.Unmarshal(b, &e); err != nil || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: %d answered with %s, not a JSON error: %s", method, url, resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
		return resp.StatusCode, e.Error
	}
	return resp.StatusCode, string(b)
}

// send sends a request with the header's name, value pairs.
func send(t *testing.T, ctx context.Context, method, url string, body io.Reader, header ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, method, url, body)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

type sse struct{ name, id, data string }

// events reads a run's event stream until "end" (or the deadline).
func events(t *testing.T, url string, header ...string) []sse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	resp := send(t, ctx, http.MethodGet, url, nil, header...)
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, ct)
	}
	var out []sse
	var cur sse
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.name != "" {
				out = append(out, cur)
				if cur.name == "end" {
					return out
				}
			}
			cur = sse{}
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "id: "):
			cur.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			cur.data = strings.TrimPrefix(line, "data: ")
		}
	}
	t.Fatalf("the stream ended without an end event (%d events): %v", len(out), sc.Err())
	return nil
}

// TestAPI runs a search through the API as the UI does: created and started in one call,
// watched over the event stream (every tick once, in order, then the report, then the
// end), read back as a summary, its files and a comparison; then the calls its state
// forbids, bad requests naming their field, the past run in a new server, and delete.
func TestAPI(t *testing.T) {
	mmURL, agentURL := target(t, 0)
	results := t.TempDir()
	s := web.NewServer(web.Options{Results: results})
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() { hs.Close(); s.Close() })

	var sum web.Summary
	if code, body := call(t, "POST", hs.URL+"/api/runs", searchRequest(mmURL, agentURL, 10), &sum); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	if sum.State != web.StateRunning || !sum.Live || !strings.HasPrefix(sum.ID, "search-") {
		t.Fatalf("created: %+v", sum)
	}
	base := hs.URL + "/api/runs/" + sum.ID
	if code, body := call(t, "DELETE", base, nil, nil); code != http.StatusConflict || !strings.Contains(body, "is running; stop it first") {
		t.Errorf("delete while running: %d %s", code, body)
	}
	if code, body := call(t, "POST", base+"/users?amount=5", nil, nil); code != http.StatusConflict || !strings.Contains(body, "is a search") {
		t.Errorf("users of a search: %d %s", code, body)
	}
	evs := events(t, base+"/events")
	seq, reports := 0, 0
	for _, e := range evs {
		switch e.name {
		case "observation":
			var o coordinator.Observation
			if err := json.Unmarshal([]byte(e.data), &o); err != nil {
				t.Fatal(err)
			}
			if o.Seq != seq+1 || e.id != fmt.Sprint(o.Seq) {
				t.Fatalf("observation %d (id %s) after %d", o.Seq, e.id, seq)
			}
			seq = o.Seq
		case "report":
			reports++
		}
	}
	if seq < 5 || reports < 2 || evs[len(evs)-1].name != "end" {
		t.Fatalf("%d observations, %d reports, last %q", seq, reports, evs[len(evs)-1].name)
	}
	// A reconnecting client (Last-Event-ID) gets only what it had not seen.
	again := events(t, base+"/events", "Last-Event-ID", fmt.Sprint(seq-2))
	if again[0].name != "observation" || again[0].id != fmt.Sprint(seq-1) {
		t.Errorf("resumed after %d: first event %s %s", seq-2, again[0].name, again[0].id)
	}
	call(t, "GET", base, nil, &sum)
	var rep coordinator.Report
	call(t, "GET", base+"/report", nil, &rep)
	if sum.State != web.StateDone || sum.Outcome != coordinator.Answered || sum.SupportedUsers != 10 || rep.SupportedUsers != 10 ||
		strings.Join(sum.Files, ",") != "report.json,report.html" {
		t.Fatalf("done: %+v, report's answer %d", sum, rep.SupportedUsers)
	}
	if i := slices.IndexFunc(rep.Keys, func(k coordinator.KeySeries) bool { return k.Key == "route GET /users/{user_id}" }); i < 0 ||
		len(rep.Keys[i].Sec) < 4 || rep.Keys[i].P99[0] <= 0 {
		t.Errorf("the report's per-second keys: %+v", rep.Keys)
	}
	var onDisk coordinator.Report
	call(t, "GET", base+"/files/report.json", nil, &onDisk)
	if onDisk.SupportedUsers != 10 || len(onDisk.Series) != seq {
		t.Errorf("report.json: %d users, %d seconds; the stream had %d", onDisk.SupportedUsers, len(onDisk.Series), seq)
	}
	if code, _ := call(t, "GET", base+"/files/..%2f..%2fetc%2fpasswd", nil, nil); code != http.StatusNotFound {
		t.Errorf("a file outside the list: %d", code)
	}
	var cmp struct {
		Keys []struct{ Key string } `json:"keys"`
	}
	call(t, "GET", hs.URL+"/api/compare?a="+sum.ID+"&b="+sum.ID, nil, &cmp)
	if len(cmp.Keys) == 0 {
		t.Errorf("comparing a run with itself: no keys")
	}
	_, md := call(t, "GET", hs.URL+"/api/compare?format=md&a="+sum.ID+"&b="+sum.ID, nil, nil)
	if !strings.Contains(md, "| supported users [bracket) | ≥ 10 [10, ∞) | ≥ 10 [10, ∞) |") {
		t.Errorf("markdown:\n%s", md)
	}

	for _, tc := range []struct {
		method, path string
		body         any
		code         int
		want         string
	}{
		{"POST", "/api/runs/" + sum.ID + "/stop", nil, 409, "is done; only a running run stops"},
		{"POST", "/api/runs/" + sum.ID + "/start", nil, 409, "only a created run starts"},
		{"POST", "/api/runs/nope/stop", nil, 404, `run "nope"`},
		{"GET", "/api/runs/nope", nil, 404, `run "nope"`},
		{"POST", "/api/runs", map[string]any{"kind": "searc"}, 400, `kind "searc": must be "search" or "plan"`},
		{"POST", "/api/runs", map[string]any{"kind": "search", "config": map[string]any{"ClusterConfig": map[string]any{"MaxActiveUser": 3}}}, 400,
			`config: unknown field "ClusterConfig.MaxActiveUser" (did you mean "MaxActiveUsers"?)`},
		{"POST", "/api/runs", map[string]any{"kind": "search", "agent_config": map[string]any{"UsersConfiguration": map[string]any{"MaxActiveUsers": -1}}}, 400,
			"agent_config: UsersConfiguration.MaxActiveUsers"},
		{"POST", "/api/runs", map[string]any{"kind": "plan"}, 400, "plan: missing"},
		{"POST", "/api/runs", map[string]any{"kind": "plan", "plan": map[string]any{"Users": 2}}, 400, "plan: Targets: must list at least one base URL"},
		{"POST", "/api/runs", map[string]any{"kind": "search", "bogus": 1}, 400, `unknown field "bogus"`},
		{"POST", "/api/runs/" + sum.ID + "/users?amount=x", nil, 400, `amount "x": must be an integer`},
		{"GET", "/api/runs/" + sum.ID + "/observations?since=-1", nil, 400, `since "-1"`},
		{"GET", "/api/compare?a=" + sum.ID, nil, 400, "a and b: give two run ids"},
		{"GET", "/api/nothing", nil, 404, "no such API call"},
	} {
		code, body := call(t, tc.method, hs.URL+tc.path, tc.body, nil)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s: %d %s; want %d with %q", tc.method, tc.path, code, body, tc.code, tc.want)
		}
	}
	if code, body := call(t, "POST", hs.URL+"/api/runs?validate=1", searchRequest(mmURL, agentURL, 10), nil); code != 200 || !strings.Contains(body, `"valid":true`) {
		t.Errorf("validate: %d %s", code, body)
	}
	var all []web.Summary
	call(t, "GET", hs.URL+"/api/runs", nil, &all)
	if len(all) != 1 {
		t.Errorf("validate created a run: %+v", all)
	}

	// A new server over the same folder lists the run as a past one, with its report.
	s2 := web.NewServer(web.Options{Results: results})
	hs2 := httptest.NewServer(s2.Handler())
	defer hs2.Close()
	call(t, "GET", hs2.URL+"/api/runs", nil, &all)
	if len(all) != 1 || all[0].ID != sum.ID || all[0].State != web.StateFinished || all[0].Live || all[0].SupportedUsers != 10 {
		t.Fatalf("past runs: %+v", all)
	}
	if code, _ := call(t, "DELETE", hs2.URL+"/api/runs/"+sum.ID, nil, nil); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	if _, err := os.Stat(filepath.Join(results, sum.ID)); !os.IsNotExist(err) {
		t.Errorf("the run's folder is still there: %v", err)
	}
	if code, _ := call(t, "GET", hs2.URL+"/api/runs/"+sum.ID, nil, nil); code != http.StatusNotFound {
		t.Errorf("after delete: %d", code)
	}
}

// TestAPI_Stop stops a running search: its report is written, says it was interrupted, and
// the stream ends.
func TestAPI_Stop(t *testing.T) {
	mmURL, agentURL := target(t, 0)
	s := web.NewServer(web.Options{Results: t.TempDir()})
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() { hs.Close(); s.Close() })
	var sum web.Summary
	call(t, "POST", hs.URL+"/api/runs", searchRequest(mmURL, agentURL, 1000), &sum)
	base := hs.URL + "/api/runs/" + sum.ID
	deadline := time.Now().Add(30 * time.Second)
	for {
		var obs []coordinator.Observation
		call(t, "GET", base+"/observations?since=0", nil, &obs)
		if len(obs) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no observations in 30 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// A second run on the same agent would undo the first's users: refused while it runs.
	if code, body := call(t, "POST", hs.URL+"/api/runs", searchRequest(mmURL, agentURL, 10), nil); code != http.StatusConflict ||
		!strings.Contains(body, "agent lt0 at "+agentURL+" is driven by run "+sum.ID+", which is running") {
		t.Errorf("a second run on the same agent: %d %s", code, body)
	}
	var all []web.Summary
	if call(t, "GET", hs.URL+"/api/runs", nil, &all); len(all) != 1 {
		t.Errorf("the refused run was kept: %+v", all)
	}
	if code, body := call(t, "POST", base+"/stop", nil, &sum); code != 200 || sum.State != web.StateDone || sum.Outcome != coordinator.Interrupted {
		t.Fatalf("stop: %d %s", code, body)
	}
	if evs := events(t, base+"/events"); evs[len(evs)-1].name != "end" {
		t.Errorf("the stream of a stopped run: %v", evs[len(evs)-1])
	}
}

// TestAPI_Token: with a token every call needs it, as a bearer token or as the cookie a
// visit with ?token= sets; a wrong one is refused with 401 and JSON.
func TestAPI_Token(t *testing.T) {
	s := web.NewServer(web.Options{Results: t.TempDir(), Token: "s3cret"})
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() { hs.Close(); s.Close() })
	if code, body := call(t, "GET", hs.URL+"/api/runs", nil, nil); code != 401 || !strings.Contains(body, "missing or wrong token") {
		t.Errorf("no token: %d %s", code, body)
	}
	if code, _ := call(t, "GET", hs.URL+"/api/runs", nil, nil, "Authorization", "Bearer nope"); code != 401 {
		t.Errorf("wrong token: %d", code)
	}
	if code, _ := call(t, "GET", hs.URL+"/api/runs", nil, nil, "Authorization", "Bearer s3cret"); code != 200 {
		t.Errorf("bearer token: %d", code)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(hs.URL + "/?token=s3cret")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookies := resp.Cookies()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" || len(cookies) != 1 || !cookies[0].HttpOnly {
		t.Fatalf("?token=: %d to %q, cookies %v", resp.StatusCode, resp.Header.Get("Location"), cookies)
	}
	if code, _ := call(t, "GET", hs.URL+"/api/runs", nil, nil, "Cookie", cookies[0].Name+"="+cookies[0].Value); code != 200 {
		t.Errorf("the cookie: %d", code)
	}
}

// TestAPI_JoinedAgents: with a joiner (serve --join-listen), a run whose config sets
// ClusterConfig.JoinListen takes the agents that joined, and lists them; without one, such
// a config is refused naming the field.
func TestAPI_JoinedAgents(t *testing.T) {
	mmURL, _ := target(t, 0)
	j := cluster.NewJoiner("", nil)
	js := httptest.NewServer(j.Handler())
	t.Cleanup(func() { j.Close(); js.Close() })
	joinURL := "ws" + strings.TrimPrefix(js.URL, "http") + api.JoinPath
	srv := agent.NewServer(agent.ServerOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = api.Join(ctx, api.Handler(srv, api.HandlerOptions{}), api.JoinOptions{URL: joinURL, ID: "jtest"})
	}()
	t.Cleanup(func() { cancel(); <-done; _ = srv.Shutdown(context.Background()) })
	if err := j.Wait(ctx, 1); err != nil {
		t.Fatal(err)
	}

	s := web.NewServer(web.Options{Results: t.TempDir(), Joiner: j, JoinAddr: joinURL})
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() { hs.Close(); s.Close() })
	var agents struct {
		Join   string   `json:"join"`
		Joined []string `json:"joined"`
	}
	call(t, "GET", hs.URL+"/api/agents", nil, &agents)
	if agents.Join != joinURL || len(agents.Joined) != 1 || agents.Joined[0] != "jtest" {
		t.Fatalf("agents: %+v", agents)
	}
	req := searchRequest(mmURL, "http://127.0.0.1:1", 10)
	cc := req["config"].(map[string]any)["ClusterConfig"].(map[string]any)
	cc["Agents"], cc["JoinListen"] = []any{}, "yes"
	var sum web.Summary
	if code, body := call(t, "POST", hs.URL+"/api/runs", req, &sum); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	events(t, hs.URL+"/api/runs/"+sum.ID+"/events")
	var rep coordinator.Report
	call(t, "GET", hs.URL+"/api/runs/"+sum.ID+"/report", nil, &rep)
	if rep.SupportedUsers != 10 || len(rep.Agents) != 1 || rep.Agents[0].ID != "jtest" {
		t.Fatalf("a search on the joined agent: %d users, agents %+v, error %q", rep.SupportedUsers, rep.Agents, rep.Error)
	}

	plain := web.NewServer(web.Options{Results: t.TempDir()})
	ph := httptest.NewServer(plain.Handler())
	defer ph.Close()
	if code, body := call(t, "POST", ph.URL+"/api/runs", req, nil); code != 400 || !strings.Contains(body, `ClusterConfig.JoinListen "yes": this coordinator accepts no joining agents (start it with --join-listen)`) {
		t.Errorf("joined agents without a joiner: %d %s", code, body)
	}
}
