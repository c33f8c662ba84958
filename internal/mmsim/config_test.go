package mmsim

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/loadtest/loadtest/internal/config"
	"github.com/loadtest/loadtest/internal/testtools"
)

// TestDefaultConfigFile keeps config/mmsim.default.json equal to DefaultConfig, so the file
// users copy documents the real defaults.
func TestDefaultConfigFile(t *testing.T) {
	var got Config // zero: every field must come from the file
	if err := config.Load(filepath.Join("..", "..", "config", "mmsim.default.json"), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(DefaultConfig(), got); diff != "" {
		t.Errorf("config/mmsim.default.json differs from DefaultConfig (-code +file):\n%s", diff)
	}
	testtools.DefaultFile(t, filepath.Join("..", "..", "config", "mmsim.default.json"), DefaultConfig())
}

func TestConfig_Validate(t *testing.T) {
	c := DefaultConfig()
	c.MaxBodyBytes = 0
	c.Capacity = CapacityConfig{Workers: 3, ServiceTimeMs: 0, Distribution: "gaussian"}
	c.WebSocket.SendQueueSize = 0
	err := c.Validate()
	for _, want := range []string{"MaxBodyBytes: must be > 0, got 0", "Capacity.ServiceTimeMs: must be > 0 when Workers is set",
		`Capacity.Distribution: must be "constant" or "exponential", got "gaussian"`, "WebSocket.SendQueueSize"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v; want it to mention %q", err, want)
		}
	}
	if got := (CapacityConfig{Workers: 4, ServiceTimeMs: 20}).MaxRate(); got != 200 {
		t.Errorf("MaxRate = %v; want 200", got)
	}
}
