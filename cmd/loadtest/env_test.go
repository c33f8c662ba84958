package main

import (
	"context"
	"strings"
	"testing"

	"github.com/loadtest/loadtest/internal/exitcode"
	"github.com/loadtest/loadtest/internal/testtools"
)

// TestRun_Environment sets config fields from environment variables, as a container or a CI
// job does: the run uses them and says so; a misspelt variable is warned of with the nearest
// field, and a bad value is exit 2, named.
func TestRun_Environment(t *testing.T) {
	base := target(t)
	t.Setenv("LOADTEST_CONNECTIONCONFIGURATION_SERVERURL", base)
	t.Setenv("LOADTEST_USERCONTROLLERCONFIGURATION_TYPE", "noop")
	t.Setenv("LOADTEST_THRESHOLDS", `["action GetMe error_rate<1%"]`)
	var out testtools.LockedBuffer
	if err := run(context.Background(), []string{"-n", "2", "-d", "1500ms"}, &out, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{"from the environment: LOADTEST_CONNECTIONCONFIGURATION_SERVERURL, LOADTEST_THRESHOLDS, LOADTEST_USERCONTROLLERCONFIGURATION_TYPE",
		"2 noop users against " + base, "threshold PASS  action GetMe error_rate<1%"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// Flags still win over the environment.
	out = testtools.LockedBuffer{}
	err := run(context.Background(), []string{"-n", "1", "-d", "1s", "--server-url", "http://127.0.0.1:1"}, &out, &out)
	if exitcode.Of(err) != exitcode.NoAnswer || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("--server-url over the environment: %v; want the flag's URL tried", err)
	}

	// A misspelt variable is warned of, with the field it may mean, and the run goes on.
	t.Setenv("LOADTEST_CONNECTIONCONFIGURATION_SERVERUR", "http://127.0.0.1:1")
	t.Setenv("LOADTEST_THRESHOLDS", "[]")
	out = testtools.LockedBuffer{}
	if err := run(context.Background(), []string{"-n", "1", "-d", "1s"}, &out, &out); err != nil {
		t.Errorf("run with a misspelt variable: %v", err)
	}
	if want := "loadtest: warning: environment variable LOADTEST_CONNECTIONCONFIGURATION_SERVERUR names no config field (did you mean LOADTEST_CONNECTIONCONFIGURATION_SERVERURL, for ConnectionConfiguration.ServerURL?); ignored"; !strings.Contains(out.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, out.String())
	}
	// A value the field cannot take is bad input: exit 2, named, before anything runs.
	t.Setenv("LOADTEST_USERSCONFIGURATION_MAXACTIVEUSERS", "many")
	err = run(context.Background(), []string{"-n", "1", "-d", "1s"}, &out, &out)
	want := `UsersConfiguration.MaxActiveUsers: from LOADTEST_USERSCONFIGURATION_MAXACTIVEUSERS: must be an integer, got "many"`
	if exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), want) {
		t.Errorf("run = %v (exit %d); want exit 2 saying %q", err, exitcode.Of(err), want)
	}
}
