package gctune

import (
	"runtime/debug"
	"testing"
)

// TestApply: without GOGC the collector target becomes Percent; with it, the environment's
// value stays in force.
func TestApply(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	t.Setenv("GOGC", "")
	if got := Apply(); got != "" || debug.SetGCPercent(100) != 100 {
		t.Errorf("with GOGC set (empty) Apply = %q and changed the target; want it left alone", got)
	}
	t.Setenv("GOGC", "50")
	if got := Apply(); got != "50" {
		t.Errorf("with GOGC=50 Apply = %q; want 50", got)
	}
}

func TestApply_Default(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	if _, set := lookup("GOGC"); set {
		t.Skip("GOGC is set in this test's environment")
	}
	if got := Apply(); got != "200" || debug.SetGCPercent(100) != Percent {
		t.Errorf("without GOGC Apply = %q; want the target set to %d", got, Percent)
	}
}
