package writer

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

	"github.com/aws/smithy-go/encoding/cbor"
	"github.com/loadtest/loadtest/coordinator/plan"
	"github.com/loadtest/loadtest/coordinator/plan/plantest"
)

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
	w, err := newCloudWatchWriter(context.Background(), plan.CloudWatchWriter{Namespace: "LoadTest", Endpoint: srv.URL,
		Dimensions: map[string]string{"Env": "staging"}}, "e2e")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(context.Background(), plantest.Period()); err != nil {
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
	p := plantest.Period()
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
	_ = w.Write(context.Background(), plantest.Period())
	_ = w.Write(context.Background(), plantest.Period())
	_ = w.Close()
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2", len(lines))
	}
	var p plan.Period
	if err := json.Unmarshal([]byte(lines[1]), &p); err != nil || p.Users != 7 || !p.Saturated || p.Metrics[0].Count != 10 {
		t.Errorf("line 2 = %+v, %v", p, err)
	}
}
