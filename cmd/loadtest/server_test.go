package main

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loadtest/loadtest/agent/api"
	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/internal/exposure"
	"github.com/loadtest/loadtest/internal/mmsim/mmsimtest"
	"github.com/loadtest/loadtest/internal/testtools"
)

// TestServer_Run runs `loadtest server` through run(): a client drives a load test of noop
// users against mmsim, then cancelling the context (what SIGTERM does) stops it cleanly with
// every user logged out.
func TestServer_Run(t *testing.T) {
	mm := mmsimtest.Start(t, nil)
	mmsimtest.CreateTeam(t, mm.URL, mm.Config, "team1")
	base := mm.Sessions()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr testtools.LockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"server", "--listen", "127.0.0.1:0", "--token", "tok"}, &stdout, &stderr)
	}()
	addr := waitForMatch(t, &stdout, regexp.MustCompile(`agent API on (http://\S+) \(bearer token required\)`))
	c, err := api.NewClient(addr, api.ClientOptions{Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := agentconfig.DefaultConfig()
	cfg.ConnectionConfiguration.ServerURL = mm.URL
	cfg.UserControllerConfiguration.Type = "noop"
	cfg.UsersConfiguration.InitialActiveUsers = 4
	if _, err := c.Create(ctx, "lt1", cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run(ctx, "lt1"); err != nil {
		t.Fatal(err)
	}
	testtools.Eventually(t, 10*time.Second, "4 user sessions on the target", func() bool { return mm.Sessions() == base+4 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the agent did not stop")
	}
	if n := mm.Sessions() - base; n != 0 {
		t.Fatalf("%d users did not log out", n)
	}
	if !strings.Contains(stdout.String(), "agent stopped") {
		t.Fatalf("stdout: %s", stdout.String())
	}
}

func waitForMatch(t *testing.T, b *testtools.LockedBuffer, re *regexp.Regexp) string {
	t.Helper()
	var m []string
	testtools.Eventually(t, 10*time.Second, "a line matching "+re.String(), func() bool {
		m = re.FindStringSubmatch(b.String())
		return m != nil
	})
	return m[1]
}

// TestServer_Exposure checks that an agent reachable from the network needs a token, or an
// explicit flag.
func TestServer_Exposure(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  string
		err  string
	}{
		{[]string{"--listen", "0.0.0.0:0"}, "", "reaches beyond loopback and no token is set"},
		{[]string{"--listen", ":0"}, "", "reaches beyond loopback"},
		{[]string{"--listen", "4000"}, "", "must be host:port"},
		{[]string{"--listen", "127.0.0.1:0", "--log-level", "loud"}, "", "--log-level"},
		{[]string{"--listen", "", "--join", "http://coord:9696/join"}, "", `--join "http://coord:9696/join": must be a ws:// or wss:// URL`},
		{[]string{"--listen", "", "--join", "ws://127.0.0.1:1/join", "--join-id", "Bad ID"}, "", `--join-id: id "Bad ID"`},
		{[]string{"--listen", "0.0.0.0:0", "--token", " "}, "", `--token (or $LOADTEST_AGENT_TOKEN): must not be blank or start or end with spaces, got " "`},
		{[]string{"--listen", "0.0.0.0:0"}, " s3cret", `must not be blank or start or end with spaces, got " s3cret"`},
	} {
		t.Setenv(TokenEnv, tc.env)
		var out, errb testtools.LockedBuffer
		err := run(context.Background(), append([]string{"server"}, tc.args...), &out, &errb)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%v: %v; want an error saying %q", tc.args, err, tc.err)
		}
	}
	for _, tc := range []struct {
		listen, token string
		insecure      bool
	}{
		{"0.0.0.0:4000", "t", false}, {"0.0.0.0:4000", "", true}, {"127.0.0.1:4000", "", false},
		{"localhost:4000", "", false}, {"[::1]:4000", "", false},
	} {
		if err := exposure.Check(tc.listen, tc.token, tc.insecure, TokenEnv, "127.0.0.1:4000"); err != nil {
			t.Errorf("%+v: %v; want it allowed", tc, err)
		}
	}
}

// TestSeedCurlSequence runs scripts/seed-curl.sh: seed 001's curl commands against the real
// binaries (on free ports, so it cannot clash with anything running).
func TestSeedCurlSequence(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed (make test installs it): %v", tool, err)
		}
	}
	cmd := exec.Command("bash", "../../scripts/seed-curl.sh")
	cmd.Env = append(os.Environ(), "AGENT_PORT="+freePort(t), "MMSIM_PORT="+freePort(t))
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil || !strings.Contains(string(out), "seed-curl: PASS") {
		if errors.As(err, &exit) {
			t.Fatalf("seed-curl.sh exited %d:\n%s", exit.ExitCode(), out)
		}
		t.Fatalf("seed-curl.sh: %v\n%s", err, out)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// TestSignals runs scripts/signals.sh: SIGTERM and SIGINT to the built coordinator, plain
// run, plan and agent, each checked for its exit code, its report or summary, and users
// stopped.
func TestSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	cmd := exec.Command("bash", "../../scripts/signals.sh")
	cmd.Env = append(os.Environ(), "AGENT_PORT="+freePort(t), "MMSIM_PORT="+freePort(t))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "signals: PASS") {
		t.Fatalf("signals.sh: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
