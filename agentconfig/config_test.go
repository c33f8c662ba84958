package agentconfig

import (
	"strings"
	"testing"
)

// TestConfig_ValidateConnection checks that bad transport settings name the field, the value
// and what is allowed, and that an empty HTTPClient (a config from before the field) passes.
func TestConfig_ValidateConnection(t *testing.T) {
	c := DefaultConfig()
	c.ConnectionConfiguration.HTTPClient = ""
	if err := c.Validate(); err != nil {
		t.Fatalf("the defaults with no HTTPClient: %v", err)
	}
	c.ConnectionConfiguration.HTTPClient = "curl"
	c.ConnectionConfiguration.ConnectionPool = "host"
	err := c.Validate()
	for _, want := range []string{`ConnectionConfiguration.HTTPClient: must be "fasthttp" or "net/http", got "curl"`,
		`ConnectionConfiguration.ConnectionPool: must be "agent" or "user", got "host"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v; want it to mention %s", err, want)
		}
	}
}
