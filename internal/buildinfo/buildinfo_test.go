package buildinfo

import "testing"

func TestString(t *testing.T) {
	for _, tc := range []struct {
		in   Info
		want string
	}{
		{Info{Version: "v1.2.3", Commit: "0123456789abcdef0123", BuildTime: "2026-12-05T17:00:00Z", Modified: true, GoVersion: "go1.26.8"},
			"v1.2.3 (commit 0123456789ab, 2026-12-05T17:00:00Z, modified) go1.26.8"},
		{Info{Version: "(devel)", GoVersion: "go1.26.8"}, "(devel) go1.26.8"},
		{Info{Commit: "abc", GoVersion: "go1.26.8"}, "(unknown) (commit abc) go1.26.8"},
	} {
		if got := tc.in.String(); got != tc.want {
			t.Errorf("%+v: %q; want %q", tc.in, got, tc.want)
		}
	}
	if Read().GoVersion == "" {
		t.Error("Read: no Go version; the test binary has build info")
	}
}
