// Package buildinfo says which build a binary is, from what the Go toolchain stamped into it
// (debug.ReadBuildInfo): the module version, the commit and its time, and whether the tree
// had uncommitted changes. Every binary's --version and the agent's /version read it.
package buildinfo

import (
	"fmt"
	"runtime/debug"
)

// Info is a binary's build.
type Info struct {
	Version   string `json:"version"` // the module version, or "(devel)"
	Commit    string `json:"commit"`
	BuildTime string `json:"build_time"`
	Modified  bool   `json:"modified"`
	GoVersion string `json:"go_version"`
}

// Read returns the running binary's build.
func Read() Info {
	var v Info
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.Version, v.GoVersion = bi.Main.Version, bi.GoVersion
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.time":
			v.BuildTime = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// String is the line --version prints: "v1.2.3 (commit 0123456789ab, 2026-12-05T17:00:00Z,
// modified) go1.26.8".
func (v Info) String() string {
	s := v.Version
	if s == "" {
		s = "(unknown)"
	}
	var detail string
	if v.Commit != "" {
		detail = "commit " + v.Commit[:min(12, len(v.Commit))]
		if v.BuildTime != "" {
			detail += ", " + v.BuildTime
		}
		if v.Modified {
			detail += ", modified"
		}
		s += " (" + detail + ")"
	}
	return fmt.Sprintf("%s %s", s, v.GoVersion)
}
