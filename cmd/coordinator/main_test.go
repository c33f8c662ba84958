package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/loadtest/loadtest/agent"
	"github.com/loadtest/loadtest/agent/api"
	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/coordinator"
	"github.com/loadtest/loadtest/internal/config"
	"github.com/loadtest/loadtest/internal/exitcode"
	"github.com/loadtest/loadtest/internal/mmsim/mmsimtest"
	"github.com/loadtest/loadtest/internal/testtools"
)

// writeJSON writes v as JSON to dir/name and returns the path.
func writeJSON(t *testing.T, dir, name string, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// runNoop runs the coordinator command with cfg (results in dir) over agents of noop users
// against the target at url, as many as cfg allows, and returns its output; it fails the test
// if run fails.
func runNoop(t *testing.T, dir string, cfg coordinator.Config, url string, args ...string) string {
	t.Helper()
	cfg.LogSettings.EnableConsole = false
	lt := agentconfig.DefaultConfig()
	lt.ConnectionConfiguration.ServerURL = url
	lt.UserControllerConfiguration.Type = "noop"
	lt.UsersConfiguration.MaxActiveUsers = cfg.ClusterConfig.MaxActiveUsers
	var out, errb strings.Builder
	err := run(context.Background(), append([]string{"--config", writeJSON(t, dir, "coordinator.json", cfg), "--agent-config", writeJSON(t, dir, "config.json", lt),
		"--results", dir, "--listen", "127.0.0.1:0"}, args...), &out, &errb)
	if err != nil {
		t.Fatalf("run: %v\n%s\n%s", err, out.String(), errb.String())
	}
	return out.String()
}

// readReport reads the report.json whose path run printed.
func readReport(t *testing.T, out string) coordinator.Report {
	t.Helper()
	m := regexp.MustCompile(`report: (\S+report.json)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no report path in:\n%s", out)
	}
	b, err := os.ReadFile(m[1])
	if err != nil {
		t.Fatal(err)
	}
	var r coordinator.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", m[1], err)
	}
	return r
}

// TestDefaultConfigFile keeps config/coordinator.default.json equal to the code's defaults.
func TestDefaultConfigFile(t *testing.T) {
	var got coordinator.Config
	if err := config.Load(filepath.Join("..", "..", "config", "coordinator.default.json"), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(coordinator.DefaultConfig(), got); diff != "" {
		t.Errorf("config/coordinator.default.json differs from coordinator.DefaultConfig (-code +file):\n%s", diff)
	}
	testtools.DefaultFile(t, filepath.Join("..", "..", "config", "coordinator.default.json"), coordinator.DefaultConfig())
}

// TestRun drives a real agent (its HTTP API) with noop users against mmsim, through run():
// a target that never degrades up to MaxActiveUsers gives "supported users: >= 20" and a
// report, with the embedded engine scraping the agent.
func TestRun(t *testing.T) {
	mm := mmsimtest.Start(t, nil)
	mmsimtest.CreateTeam(t, mm.URL, mm.Config, "team1")
	srv := agent.NewServer(agent.ServerOptions{})
	hs := httptest.NewServer(api.Handler(srv, api.HandlerOptions{}))
	defer hs.Close()
	defer srv.Shutdown(context.Background())
	dir := t.TempDir()
	cfg := coordinator.DefaultConfig()
	cfg.ClusterConfig.Agents = []coordinator.AgentConfig{{Id: "lt0", ApiURL: hs.URL}}
	cfg.ClusterConfig.MaxActiveUsers = 20
	cfg.Search.HoldSec, cfg.Search.SettleSec = 3, 2
	out := runNoop(t, dir, cfg, mm.URL, "--expect-users", "20")
	if !strings.HasSuffix(out, "expected users PASS: 20 supported, 20 expected\nsupported users: >= 20\n") {
		t.Fatalf("output:\n%s", out)
	}
	if r := readReport(t, out); !r.AtLeast || r.SupportedUsers != 20 || len(r.Probes) != 1 || r.Probes[0].Throughput < 10 {
		t.Fatalf("report: %+v", r)
	}
}

// TestExpectUsers: the verdict on --expect-users, and the checks on it before anything runs.
func TestExpectUsers(t *testing.T) {
	for _, tc := range []struct {
		rep    coordinator.Report
		expect int
		code   int
		line   string
	}{
		{coordinator.Report{Outcome: coordinator.Answered, SupportedUsers: 120}, 100, exitcode.OK, "expected users PASS: 120 supported, 100 expected"},
		{coordinator.Report{Outcome: coordinator.Answered, SupportedUsers: 80}, 100, exitcode.ThresholdsFailed, "expected users FAIL: 80 supported, 100 expected\n"},
		{coordinator.Report{Outcome: coordinator.Answered, SupportedUsers: 80, AtLeast: true, AgentLimited: true}, 100, exitcode.ThresholdsFailed,
			"FAIL: 80 supported, 100 expected (the agents saturated first"},
		{coordinator.Report{Outcome: coordinator.NoAnswer, SupportedUsers: 80}, 100, exitcode.OK, ""}, // exit 3 comes from the outcome
		{coordinator.Report{Outcome: coordinator.Answered, SupportedUsers: 80}, 0, exitcode.OK, ""},
	} {
		var out strings.Builder
		err := expectErr(&out, tc.rep, tc.expect)
		if exitcode.Of(err) != tc.code || tc.line == "" && out.Len() > 0 || !strings.Contains(out.String(), tc.line) {
			t.Errorf("expectErr(%+v, %d) = exit %d, %q; want exit %d, %q", tc.rep, tc.expect, exitcode.Of(err), out.String(), tc.code, tc.line)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--expect-users", "5000"}, "--expect-users 5000 is above ClusterConfig.MaxActiveUsers 1000"},
		{[]string{"--expect-users", "-1"}, "--expect-users -1: must be >= 0"},
		{[]string{"--threshold", "p99<1s"}, "--threshold is for a plan (--plan)"},
		{[]string{"--plan", "p.json", "--expect-users", "10"}, "--expect-users is for a capacity search"},
	} {
		var out strings.Builder
		err := run(context.Background(), append(tc.args, "--results", t.TempDir()), &out, &out)
		if exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q) = %v (exit %d); want exit 2 saying %q", tc.args, err, exitcode.Of(err), tc.want)
		}
	}
}

// TestRun_BadConfig names the field.
func TestRun_BadConfig(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(p, []byte(`{"NumUsersInc": 0, "Search": {"Strategy": "guess"}}`), 0o644)
	var out, errb strings.Builder
	err := run(context.Background(), []string{"--config", p}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "NumUsersInc") || !strings.Contains(err.Error(), "Search.Strategy") {
		t.Fatalf("err %v", err)
	}
}

// TestVersion: --version prints the build and exits 0.
func TestVersion(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), []string{"--version"}, &out, &out); err != nil || !strings.HasPrefix(out.String(), "coordinator ") || !strings.Contains(out.String(), "go1.") {
		t.Fatalf("--version: %v, %q", err, out.String())
	}
}

// TestRun_UnknownField names an unknown field with its path, through lists, and the nearest
// known name.
func TestRun_UnknownField(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(p, []byte(`{"ClusterConfig": {"Agents": [{"Id": "a"}, {"Id": "b", "ApiUrl2": "http://x"}]}}`), 0o644)
	var out, errb strings.Builder
	err := run(context.Background(), []string{"--config", p}, &out, &errb)
	if want := `unknown field "ClusterConfig.Agents[1].ApiUrl2" (did you mean "ApiURL"?)`; err == nil || !strings.Contains(err.Error(), want) || exitcode.Of(err) != exitcode.BadInput {
		t.Fatalf("err %v (exit %d); want exit 2 saying %s", err, exitcode.Of(err), want)
	}
}

// TestRun_LogLevel: --log-level overrides LogSettings.ConsoleLevel and is validated with it.
func TestRun_LogLevel(t *testing.T) {
	var out, errb strings.Builder
	err := run(context.Background(), []string{"--log-level", "loud"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), `LogSettings.ConsoleLevel`) || !strings.Contains(err.Error(), `"loud"`) || exitcode.Of(err) != exitcode.BadInput {
		t.Fatalf("err %v (exit %d); want exit 2 naming LogSettings.ConsoleLevel", err, exitcode.Of(err))
	}
}
