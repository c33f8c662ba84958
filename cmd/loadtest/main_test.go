package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/internal/app/basicrun"
	"github.com/loadtest/loadtest/internal/config"
	"github.com/loadtest/loadtest/internal/exitcode"
	"github.com/loadtest/loadtest/internal/mmsim/mmsimtest"
	"github.com/loadtest/loadtest/internal/testtools"
)

// target starts mmsim with one open team and returns its URL.
func target(t *testing.T) string {
	t.Helper()
	srv := mmsimtest.Start(t, nil)
	mmsimtest.CreateTeam(t, srv.URL, srv.Config, "team1")
	return srv.URL
}

func readSummary(t *testing.T, path string) basicrun.Summary {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s basicrun.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRun_Noop runs the basic command with noop users against mmsim and checks the summary:
// every user logged in (signing up first), called GET /users/me about once a second, and
// nothing else failed.
func TestRun_Noop(t *testing.T) {
	base := target(t)
	sumPath := filepath.Join(t.TempDir(), "summary.json")
	var out testtools.LockedBuffer
	err := run(context.Background(), []string{"--server-url", base, "-n", "5", "-d", "3500ms", "--summary", sumPath, "--type", "noop"}, &out, &out)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	s := readSummary(t, sumPath)
	if s.Interrupted || s.Users != 5 || len(s.Actions) != 1 || s.Actions[0].Key != "GetMe" {
		t.Fatalf("summary %+v; want 5 users and the GetMe action", s)
	}
	if n := s.Actions[0].Count; n < 10 || n > 20 || s.Actions[0].Errors != 0 {
		t.Errorf("GetMe ran %d times with %d errors; want about 3 per user (10-20) and none failed", n, s.Actions[0].Errors)
	}
	for _, r := range s.Routes {
		wantErrs := int64(0)
		if r.Key == "POST /users/login" {
			wantErrs = 4 // each new user's first login fails, then it signs up; user 1 was signed up by the preflight
		}
		if r.Errors != wantErrs {
			t.Errorf("route %s: %d errors; want %d", r.Key, r.Errors, wantErrs)
		}
	}
	for _, want := range []string{"users 5", "req/s", "GetMe", "GET /users/{user_id}", "completed after"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestRun_Interrupt cancels the run (as Ctrl-C does) and checks the summary still appears.
func TestRun_Interrupt(t *testing.T) {
	base := target(t)
	sumPath := filepath.Join(t.TempDir(), "summary.json")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(1500*time.Millisecond, cancel)
	var out testtools.LockedBuffer
	start := time.Now()
	if err := run(ctx, []string{"--server-url", base, "-n", "3", "-d", "1m", "--summary", sumPath}, &out, &out); exitcode.Of(err) != exitcode.Interrupted {
		t.Fatalf("run: %v (exit %d); want exit %d, interrupted", err, exitcode.Of(err), exitcode.Interrupted)
	}
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("an interrupted run took %v to stop", el)
	}
	if s := readSummary(t, sumPath); !s.Interrupted || s.Requests == 0 {
		t.Errorf("summary %+v; want an interrupted run with requests", s)
	}
	if !strings.Contains(out.String(), "interrupted after") {
		t.Errorf("output lacks the interrupted summary:\n%s", out.String())
	}
}

func TestRun_BadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	_ = os.WriteFile(bad, []byte(`{"UsersConfiguration": {"MaxActiveUsers": 0}}`), 0o600)
	typo := filepath.Join(dir, "typo.json")
	_ = os.WriteFile(typo, []byte(`{"ConnectionConfiguration": {"ServerUrl2": "x"}}`), 0o600)
	script := filepath.Join(dir, "script.json")
	_ = os.WriteFile(script, []byte(`{"UserControllerConfiguration": {"Type": "script", "Script": {"Scripts": [
		{"Name": "broken", "Source": "def main():\n    get('/')\n    x = \n"}]}}}`), 0o600)
	missing := filepath.Join(dir, "missing.json")
	_ = os.WriteFile(missing, []byte(`{"UserControllerConfiguration": {"Type": "script", "Script": {"Scripts": [
		{"Name": "gone", "File": "gone.star"}]}}}`), 0o600)
	rates := filepath.Join(dir, "rates.json")
	_ = os.WriteFile(rates, []byte(`{"UserControllerConfiguration": {"Type": "noop", "RatesDistribution": [{"Rate": 1, "Percentage": 0.5}]}}`), 0o600)
	empty := mmsimtest.Start(t, nil).URL // no teams: `loadtest init` was not run
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--server-url", empty, "--type", "noop", "-n", "1", "-d", "1s"}, "preflight: user lt0-user1 cannot join a team on " + empty + ": no open team to join; run `loadtest init` first; no users were started"},
		{[]string{"--config", bad}, "UsersConfiguration.MaxActiveUsers: must be > 0, got 0"},
		{[]string{"demo", "--type", "simulative", "--precision", "2"}, "--precision 2: must be 0 (the coordinator's 2%) or between 0 and 1"},
		{[]string{"--config", typo}, `unknown field "ConnectionConfiguration.ServerUrl2" (did you mean "ServerURL"?)`},
		{[]string{"--config", rates}, "percentages must add up to 1, got 0.5"},
		{[]string{"--config", script}, "UserControllerConfiguration.Script.Scripts[0].Source: script broken: line 3 col 9: got newline, want primary expression"},
		{[]string{"--config", missing}, "UserControllerConfiguration.Script.Scripts[0].File: must be a readable file"},
		{[]string{"--server-url", "localhost:8065"}, "ConnectionConfiguration.ServerURL: must be an http(s):// URL"},
		{[]string{"--server-url", "http://127.0.0.1:1"}, "does not answer GET /api/v4/system/ping"},
		{[]string{"--type", "robot"}, `UserControllerConfiguration.Type: must be "simulative", "simple", "noop" or "script", got "robot"`},
		{[]string{"-n", "0", "--server-url", "http://127.0.0.1:1"}, "users must be > 0"},
		{[]string{"-d", "soon"}, `invalid argument "soon"`},
		{[]string{"--log-level", "loud"}, `LogSettings.ConsoleLevel: must be one of DEBUG, INFO, WARN, ERROR, got "loud"`},
	} {
		err := run(context.Background(), tc.args, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q) = %v; want an error mentioning %q", tc.args, err, tc.want)
		}
		want := exitcode.BadInput
		if strings.Contains(tc.want, "does not answer") || strings.Contains(tc.want, "preflight") {
			want = exitcode.NoAnswer // a preflight check: the input was fine, the target is not
		}
		if got := exitcode.Of(err); got != want {
			t.Errorf("run(%q): exit code %d; want %d", tc.args, got, want)
		}
	}
}

// TestDefaultConfigFile keeps config/config.default.json equal to agentconfig.DefaultConfig. It
// loads the file into a zero Config, so a field the file leaves out is caught.
func TestDefaultConfigFile(t *testing.T) {
	var got agentconfig.Config
	if err := config.Load(filepath.Join("..", "..", "config", "config.default.json"), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(agentconfig.DefaultConfig(), got); diff != "" {
		t.Errorf("config/config.default.json differs from agentconfig.DefaultConfig (-code +file):\n%s", diff)
	}
	testtools.DefaultFile(t, filepath.Join("..", "..", "config", "config.default.json"), agentconfig.DefaultConfig())
}

// TestRun_ExampleScripts runs the shipped example scripts (examples/scripts/config.json)
// against mmsim, as a user would: all three kinds of users run, without errors.
func TestRun_ExampleScripts(t *testing.T) {
	base := target(t)
	sumPath := filepath.Join(t.TempDir(), "summary.json")
	var out testtools.LockedBuffer
	err := run(context.Background(), []string{"--config", "../../examples/scripts/config.json", "--server-url", base,
		"-n", "8", "-d", "4500ms", "--summary", sumPath}, &out, &out)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	s := readSummary(t, sumPath)
	if s.UserErrors != 0 || s.Errors != 0 {
		t.Errorf("%d user errors, %d request errors; want none:\n%s", s.UserErrors, s.Errors, out.String())
	}
	got := map[string]int64{}
	for _, r := range append(append(s.Routes, s.Other...), s.Actions...) {
		got[r.Key] = r.Count
	}
	for _, key := range []string{"POST create", "DELETE delete", "GET channel posts", "WS websocket", "POST send",
		"timing crud", "timing open channel", "timing delivery", "phase headers", "script rest-api", "script rest-api (intended)"} {
		if got[key] == 0 {
			t.Errorf("nothing recorded under %q; recorded: %v", key, got)
		}
	}
}

// TestRun_HostileScriptsLeaveTheAgentRunning: users running a busy loop and a runaway
// allocation are stopped with errors again and again, while the well-behaved users beside
// them keep working and the run ends normally.
func TestRun_HostileScriptsLeaveTheAgentRunning(t *testing.T) {
	base := target(t)
	cfg := agentconfig.DefaultConfig()
	cfg.UserControllerConfiguration.Type = "script"
	cfg.UserControllerConfiguration.Script = agentconfig.ScriptConfig{MemoryLimitMB: 400, Scripts: []agentconfig.ScriptSpec{
		{Name: "spin", Source: "def main():\n    while True:\n        pass\n"},
		{Name: "hog", Source: "def main():\n    l = []\n    while True:\n        l.append('x' * 50000000)\n"},
		{Name: "good", Source: "def main():\n    while True:\n        get('/api/v4/system/ping', name='ping')\n        delay(20)\n"},
	}}
	cfgPath, sumPath := writeConfig(t, cfg)
	var out testtools.LockedBuffer
	if err := run(context.Background(), []string{"--config", cfgPath, "--server-url", base, "-n", "6", "-d", "3s", "--summary", sumPath}, &out, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	s := readSummary(t, sumPath)
	if s.UserErrors < 4 {
		t.Errorf("%d user sessions ended in error; want the 4 hostile users stopped", s.UserErrors)
	}
	var pings int64
	for _, r := range s.Routes {
		if r.Key == "GET ping" {
			pings = r.Count
		}
	}
	// About 280 on an idle machine without -race; a stalled agent would make none after the
	// hostile users started.
	if pings < 40 {
		t.Errorf("the 2 good users made %d requests in 3s; want them working throughout", pings)
	}
	t.Logf("good users: %d requests; hostile sessions stopped: %d", pings, s.UserErrors)
}

// TestVersion: --version prints the build and exits 0.
func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--version"}, &out, &out); err != nil || !strings.HasPrefix(out.String(), "loadtest ") || !strings.Contains(out.String(), "go1.") {
		t.Fatalf("--version: %v, %q", err, out.String())
	}
}
