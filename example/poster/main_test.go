package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/loadtest/loadtest/internal/mmsim/mmsimtest"
)

// TestRun runs the example against mmsim: 3 users posting every 200 ms for about 1.1 s.
func TestRun(t *testing.T) {
	srv := mmsimtest.Start(t, nil)
	mmsimtest.CreateTeam(t, srv.URL, srv.Config, "team1")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--server-url", srv.URL, "--users", "3", "--duration", "1100ms", "--every", "200ms"}, &out); err != nil {
		t.Fatal(err)
	}
	var users, posts, errs int
	if _, err := fmtSscanf(out.String(), &users, &posts, &errs); err != nil || users != 3 || posts < 9 || errs != 0 {
		t.Errorf("output %q; want 3 users, at least 9 posts, no errors", out.String())
	}
}

func fmtSscanf(s string, users, posts, errs *int) (int, error) {
	return fmt.Sscanf(strings.TrimSpace(s), "%d users posted %d messages; %d sessions ended in error", users, posts, errs)
}
