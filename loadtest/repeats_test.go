package loadtest

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"
)

func TestShape(t *testing.T) {
	for in, want := range map[string]string{
		"login user 12: dial tcp 127.0.0.1:8065: connection refused": "login user #: dial tcp #.#.#.#:#: connection refused",
		"GET /users/8xk3n1yq7jbzdpw4e5nhqm1u6a: 404":                 "GET /users/#: #",
		"no team": "no team",
	} {
		if got := shape(in); got != want {
			t.Errorf("shape(%q) = %q; want %q", in, got, want)
		}
	}
}

// TestRepeats checks the folding: the first of a group at once, the rest within Every
// counted, the next after Every with the count, Flush for what is left, groups apart.
func TestRepeats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		r := newRepeats(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: dropTime})), slog.LevelWarn, 10*time.Second)
		ctx := context.Background()
		for i := range 5 {
			r.Log(ctx, "refused", "failed", "n", i)
		}
		r.Log(ctx, "reset", "failed", "n", 100)
		time.Sleep(11 * time.Second)
		r.Log(ctx, "refused", "failed", "n", 5)
		r.Log(ctx, "refused", "failed", "n", 6)
		r.Flush(ctx)
		r.Flush(ctx)
		want := "level=WARN msg=failed n=0\nlevel=WARN msg=failed n=100\nlevel=WARN msg=failed n=5 repeats=4\nlevel=WARN msg=failed n=6 repeats=1\n"
		if buf.String() != want {
			t.Errorf("logged\n%s\nwant\n%s", buf.String(), want)
		}
	})
}

func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
