package coordinator

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/loadtest/loadtest/agent"
	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/histogram"
	"github.com/loadtest/loadtest/internal/config"
)

func TestPlanUsers(t *testing.T) {
	p := &Plan{Users: 100, RampUpSec: 10, RampSteps: 4, SustainSec: 20, WindDownSec: 8}
	for _, tc := range []struct {
		at    time.Duration
		users int
		phase string
	}{
		{0, 25, "ramp-up"}, {2400 * time.Millisecond, 25, "ramp-up"}, {2500 * time.Millisecond, 50, "ramp-up"},
		{7600 * time.Millisecond, 100, "ramp-up"}, {10 * time.Second, 100, "sustain"}, {29 * time.Second, 100, "sustain"},
		{30 * time.Second, 75, "wind-down"}, {32 * time.Second, 50, "wind-down"}, {37 * time.Second, 0, "wind-down"},
		{38 * time.Second, 0, "done"},
	} {
		users, phase, done := PlanUsers(p, tc.at)
		if users != tc.users || phase != tc.phase || done != (tc.phase == "done") {
			t.Errorf("at %v: %d users in %s (done %v); want %d in %s", tc.at, users, phase, done, tc.users, tc.phase)
		}
	}
	// RampSteps 0: a step a second; no ramp: the users at once.
	smooth := &Plan{Users: 10, RampUpSec: 5, SustainSec: 1}
	if u, _, _ := PlanUsers(smooth, 2500*time.Millisecond); u != 6 {
		t.Errorf("a step a second: %d users at 2.5s of a 5s ramp to 10, want 6", u)
	}
	if u, ph, _ := PlanUsers(&Plan{Users: 7, SustainSec: 3}, 0); u != 7 || ph != "sustain" {
		t.Errorf("no ramp: %d users in %s at 0, want 7 in sustain", u, ph)
	}
}

func writePlan(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	_ = os.WriteFile(filepath.Join(dir, "ok.star"), []byte("def main():\n    get('/')\n"), 0o644)
	p := filepath.Join(dir, "plan.json")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadPlan_Errors(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"Targets": ["http://h"], "Scripts": [{"File": "ok.star"}], "Users": 0, "SustainSec": 1}`, "Users: must be in [1, 10000000], got 0"},
		{`{"Targets": ["h:80"], "Scripts": [{"File": "ok.star"}], "Users": 1, "SustainSec": 1}`, `Targets[0]: must be an http(s):// or ws(s):// URL, got "h:80"`},
		{`{"Targets": ["http://h"], "Scripts": [{"File": "nope.star"}], "Users": 1, "SustainSec": 1}`, `Scripts[0].File: must be a readable file`},
		{`{"Targets": ["http://h"], "Scripts": [{"Name": "x", "Source": "def main(:\n"}], "Users": 1, "SustainSec": 1}`, `Scripts[0].Source: script x: line 1 col 11`},
		{`{"Targets": ["http://h"], "Scripts": [], "Users": 1, "SustainSec": 1}`, "Scripts: must list at least one script"},
		{`{"Targets": ["http://h"], "UserType": "robots", "Users": 1, "SustainSec": 1}`, `UserType: must be "script", "simulative", "simple" or "noop", got "robots"`},
		{`{"Targets": ["http://h"], "Scripts": [{"File": "ok.star"}], "Users": 1, "SustainSec": 1, "Ramp": 3}`, `unknown field "Ramp"`},
		{`{"Targets": ["http://h"], "Scripts": [{"File": "ok.star"}], "Users": 1, "SustainSec": 1,
		  "Writers": {"CloudWatch": {"Namespace": "AWS/EC2"}}}`, `Writers.CloudWatch.Namespace: must be set, and not start with "AWS/"`},
		{`{"Targets": ["http://h"], "Scripts": [{"File": "ok.star"}], "Users": "many"}`, "Users"},
	} {
		_, err := ReadPlan(writePlan(t, tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadPlan(%s) = %v; want %q", tc.body, err, tc.want)
		}
	}
	p, err := ReadPlan(writePlan(t, `{"Targets": ["http://h"], "Scripts": [{"File": "ok.star"}], "Users": 3, "SustainSec": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	if s := p.Scripts[0]; s.Name != "ok" || !strings.Contains(s.Source, "def main") {
		t.Errorf("the script file was not read into the plan: %+v", s)
	}
	p.UserType = "noop"
	if lt := p.AgentConfig(2); lt.UserControllerConfiguration.Type != "noop" || lt.Validate() != nil || p.Validate() != nil {
		t.Errorf("a plan of noop users: %+v (%v)", lt.UserControllerConfiguration, lt.Validate())
	}
	p.UserType = ""
	if lt := p.AgentConfig(2); lt.UsersConfiguration.MaxActiveUsers != 2 || lt.UserControllerConfiguration.Type != "script" || lt.Validate() != nil {
		t.Errorf("agent config: %+v (%v)", lt.UsersConfiguration, lt.Validate())
	}
}

func FuzzPlanDecode(f *testing.F) {
	f.Add(`{"Targets": ["http://h"], "Scripts": [{"Name": "a", "Source": "def main():\n  pass\n"}], "Users": 3, "SustainSec": 1}`)
	f.Add(`{"Users": -1, "RampSteps": 1e99}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, body string) {
		p := DefaultPlan()
		err := config.Decode(strings.NewReader(body), &p)
		if err == nil && (p.Users <= 0 || len(p.Scripts) == 0 || len(p.Targets) == 0) {
			t.Fatalf("an invalid plan was accepted: %+v", p)
		}
		if err == nil {
			total := p.Duration() + time.Second
			for i := range 500 {
				if u, _, _ := PlanUsers(&p, total*time.Duration(i)/500); u < 0 || u > p.Users {
					t.Fatalf("PlanUsers out of range: %d of %d", u, p.Users)
				}
			}
		}
	})
}

func samplePeriod() Period {
	h := histogram.NewRecorder()
	for i := range 10 {
		h.Record("route GET /x", time.Duration(i+1)*time.Millisecond, i == 9)
	}
	return Period{Start: time.Unix(1700000000, 0), End: time.Unix(1700000060, 0), Phase: "sustain", Users: 7,
		Metrics: h.Snapshot().Summaries(), Counters: map[string]int64{"logins": 3}, Utilization: 0.9, Saturated: true, SaturatedAgents: []string{"a1"}}
}

// TestCloudWatchWriter sends a period through the AWS SDK to a local endpoint that checks
// the PutMetricData request: protocol, SigV4 signature with the environment's credentials
// and region, namespace and data.
func TestCloudWatchWriter(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_REGION", "eu-west-3")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	var mu sync.Mutex
	var got []cbor.Map
	var problems []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if !strings.HasSuffix(r.URL.Path, "/service/GraniteServiceVersion20100801/operation/PutMetricData") {
			problems = append(problems, "path "+r.URL.Path)
		}
		if a := r.Header.Get("Authorization"); !strings.Contains(a, "Credential=AKIDTEST/") || !strings.Contains(a, "/eu-west-3/monitoring/aws4_request") {
			problems = append(problems, "authorization "+a)
		}
		v, err := cbor.Decode(body)
		if m, ok := v.(cbor.Map); err == nil && ok {
			got = append(got, m)
		} else {
			problems = append(problems, "body not CBOR")
		}
		w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
		w.Header().Set("Content-Type", "application/cbor")
		_, _ = w.Write(cbor.Encode(cbor.Map{}))
	}))
	defer srv.Close()
	w, err := newCloudWatchWriter(context.Background(), CloudWatchWriter{Namespace: "LoadTest", Endpoint: srv.URL,
		Dimensions: map[string]string{"Env": "staging"}}, "e2e")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(context.Background(), samplePeriod()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 || len(got) != 1 {
		t.Fatalf("problems %v, %d requests", problems, len(got))
	}
	if ns, _ := got[0]["Namespace"].(cbor.String); ns != "LoadTest" {
		t.Errorf("Namespace = %v", got[0]["Namespace"])
	}
	data, _ := got[0]["MetricData"].(cbor.List)
	names := map[string]cbor.Map{}
	for _, d := range data {
		m := d.(cbor.Map)
		names[string(m["MetricName"].(cbor.String))] = m
	}
	for _, want := range []string{"route GET /x", "route GET /x errors", "counter logins", "users", "agent utilization"} {
		if names[want] == nil {
			t.Errorf("no datum %q in %v", want, names)
		}
	}
	if st, _ := names["route GET /x"]["StatisticValues"].(cbor.Map); st == nil {
		t.Errorf("route GET /x has no statistic set: %v", names["route GET /x"])
	} else if n, _ := cbor.AsFloat64(st["SampleCount"]); n != 10 {
		t.Errorf("SampleCount = %v, want 10", st["SampleCount"])
	}
	if dims, _ := names["users"]["Dimensions"].(cbor.List); len(dims) != 2 {
		t.Errorf("dimensions %v, want Plan and Env", names["users"]["Dimensions"])
	}
}

func TestPromWriter(t *testing.T) {
	w, err := newPromWriter("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	p := samplePeriod()
	_ = w.Write(context.Background(), p)
	_ = w.Write(context.Background(), p)
	resp, err := http.Get("http://" + w.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`loadtest_plan_observations_total{metric="route GET /x"} 20`, `loadtest_plan_errors_total{metric="route GET /x"} 2`,
		`loadtest_plan_counter_total{name="logins"} 6`, `loadtest_plan_users 7`, `loadtest_plan_latency_seconds{metric="route GET /x",quantile="0.5"} 0.005`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("exposition lacks %q:\n%s", want, b)
		}
	}
}

func TestJSONLinesWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.jsonl")
	w, err := newJSONLinesWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	_ = w.Write(context.Background(), samplePeriod())
	_ = w.Write(context.Background(), samplePeriod())
	_ = w.Close()
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2", len(lines))
	}
	var p Period
	if err := json.Unmarshal([]byte(lines[1]), &p); err != nil || p.Users != 7 || !p.Saturated || p.Metrics[0].Count != 10 {
		t.Errorf("line 2 = %+v, %v", p, err)
	}
}

// TestPeriod_MarksSaturatedAgents: a period in which an agent passed MaxAgentUtilization is
// marked, naming the agent.
func TestPeriod_MarksSaturatedAgents(t *testing.T) {
	c := &Coordinator{plan: &Plan{MaxAgentUtilization: 0.8}}
	w := window{utilization: 0.93, agentUtil: map[string]float64{"a1": 0.93, "a2": 0.4, "a3": 0.81}}
	p := c.period(w, time.Now(), time.Now(), "sustain", false)
	if !p.Saturated || strings.Join(p.SaturatedAgents, ",") != "a1,a3" || p.Utilization != 0.93 {
		t.Errorf("period %+v; want saturated by a1 and a3", p)
	}
	w.agentUtil = map[string]float64{"a1": 0.8}
	if p := c.period(w, time.Now(), time.Now(), "sustain", false); p.Saturated {
		t.Errorf("0.8 is not above 0.8: %+v", p)
	}
}

// TestNewPlan_HidesSecrets: a plan's report never holds its scripts' secret params.
func TestNewPlan_HidesSecrets(t *testing.T) {
	p := DefaultPlan()
	p.Targets, p.Users, p.SustainSec = []string{"http://127.0.0.1:1"}, 2, 1
	p.Scripts = []agentconfig.ScriptSpec{{Name: "s", Source: "def main():\n    get('/')\n",
		Params: map[string]any{"password": "hunter2", "api_key": "k-123", "user": "bob"}}}
	c, err := NewPlan(nil, &p, Options{Agents: []Agent{agent.NewServer(agent.ServerOptions{}).LoadTest("a")}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(c.Report())
	if bytes.Contains(b, []byte("hunter2")) || bytes.Contains(b, []byte("k-123")) || !bytes.Contains(b, []byte("bob")) {
		t.Errorf("the report shows a secret, or hides too much: %s", b)
	}
	if p.Scripts[0].Params["password"] != "hunter2" {
		t.Error("redacting the report changed the plan the agents get")
	}
}
