package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
		users, phase, done := UsersAt(p, tc.at)
		if users != tc.users || phase != tc.phase || done != (tc.phase == "done") {
			t.Errorf("at %v: %d users in %s (done %v); want %d in %s", tc.at, users, phase, done, tc.users, tc.phase)
		}
	}
	// RampSteps 0: a step a second; no ramp: the users at once.
	smooth := &Plan{Users: 10, RampUpSec: 5, SustainSec: 1}
	if u, _, _ := UsersAt(smooth, 2500*time.Millisecond); u != 6 {
		t.Errorf("a step a second: %d users at 2.5s of a 5s ramp to 10, want 6", u)
	}
	if u, ph, _ := UsersAt(&Plan{Users: 7, SustainSec: 3}, 0); u != 7 || ph != "sustain" {
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
		{`{"Targets": ["http://h"], "Scripts": [{"File": "ok.star"}], "Users": 5, "MaxUsers": 4, "SustainSec": 1}`, "MaxUsers: must be 0 (twice Users) or in [Users, 10000000], got 4"},
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
	// Each of 2 agents takes half of MaxUsers, by default twice the plan's 3 users.
	if lt := p.AgentConfig(2); lt.UsersConfiguration.MaxActiveUsers != 3 || lt.UserControllerConfiguration.Type != "script" || lt.Validate() != nil {
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
				if u, _, _ := UsersAt(&p, total*time.Duration(i)/500); u < 0 || u > p.Users {
					t.Fatalf("PlanUsers out of range: %d of %d", u, p.Users)
				}
			}
		}
	})
}
