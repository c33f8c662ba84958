package agentconfig

import (
	"fmt"
	"strings"

	"github.com/loadtest/loadtest/internal/config"
)

// SimpleConfig is the seed's simplecontroller.json: users cycle through Actions in order.
type SimpleConfig struct {
	Actions []SimpleAction
}

// SimpleAction is one step of the cycle. It runs on the cycles where cycle % RunPeriod == 0,
// and the user waits WaitAfterMs (times its think-time multiplier) after it.
type SimpleAction struct {
	ActionId    string //nolint:revive // the seed's field name
	RunPeriod   int
	WaitAfterMs int
}

// DefaultSimpleConfig is a short cycle over the common actions, the rarer ones on longer periods.
func DefaultSimpleConfig() SimpleConfig {
	return SimpleConfig{Actions: []SimpleAction{
		{"SwitchChannel", 1, 1000}, {"CreatePost", 1, 1000}, {"ScrollChannel", 5, 1000},
		{"AddReaction", 2, 1000}, {"ViewThread", 3, 1000}, {"ViewGlobalThreads", 4, 1000},
		{"SearchPosts", 10, 1000}, {"JoinChannel", 10, 1000}, {"CreateDirectChannel", 4, 1000},
		{"LogoutLogin", 20, 1000},
	}}
}

// Validate checks the action names, periods and waits.
func (c SimpleConfig) Validate() error {
	var ck config.Checker
	ck.Check(len(c.Actions) > 0, "Actions", len(c.Actions), "must list at least one action")
	known := DefaultActionWeights()
	for i, a := range c.Actions {
		f := fmt.Sprintf("Actions[%d]", i)
		_, ok := known[a.ActionId]
		ck.Check(ok, f+".ActionId", a.ActionId, "is not an action; known: "+strings.Join(SimulativeActions(), ", "))
		ck.Check(a.RunPeriod >= 1, f+".RunPeriod", a.RunPeriod, "must be >= 1")
		ck.Check(a.WaitAfterMs >= 0, f+".WaitAfterMs", a.WaitAfterMs, "must be >= 0")
	}
	return ck.Err()
}
