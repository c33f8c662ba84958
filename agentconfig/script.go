package agentconfig

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/loadtest/loadtest/internal/config"
	"github.com/loadtest/loadtest/internal/script"
)

// ScriptConfig configures scripted users (UserControllerConfiguration.Type "script"): each
// user runs one of Scripts, a Starlark program (docs/scripts.md).
type ScriptConfig struct {
	// Targets are the base URLs relative URLs in scripts resolve against; user n uses
	// Targets[(n-1) % len(Targets)], and sees it as target. Empty: ConnectionConfiguration.ServerURL.
	Targets []string
	Scripts []ScriptSpec
	// MaxStepsBetweenCalls is how many Starlark steps a user may take between two calls of
	// HTTP, WebSocket or delay builtins before it is stopped as a busy loop (default 1000000).
	MaxStepsBetweenCalls uint64
	// MaxResponseBytes caps a response body or WebSocket message a script reads (default 10 MiB).
	MaxResponseBytes int64
	// MemoryLimitMB: while the agent's heap is above it, users that are computing (not
	// waiting on the network) are stopped with an error (default 1024).
	MemoryLimitMB int
}

// ScriptSpec is one script and the users that run it.
type ScriptSpec struct {
	Name   string         // names the script in errors and metrics
	Source string         // the program; or
	File   string         // a file to read it from, relative to the config or plan file (read before the config is sent to agents)
	Params map[string]any // the users' params dict
	Share  float64        // the share of users that run it (relative to the others'; default 1)
	// PaceMs, if > 0, calls main() once per PaceMs in the same session (an open model), and
	// records each iteration from its actual and from its intended start ("(intended)"), as
	// wrk2 does, so a slow target cannot hide latency by slowing the users down
	// (coordinated omission). 0: main() runs once per session.
	PaceMs int
}

// ReadFiles reads every script's File (relative to dir) into its Source, so the config can
// be sent to agents that do not have the files. config.Load calls it.
func (c *Config) ReadFiles(dir string) error {
	return ReadScriptFiles(c.UserControllerConfiguration.Script.Scripts, dir, "UserControllerConfiguration.Script.Scripts")
}

// ReadScriptFiles reads each script's File (relative to dir) into its Source; errors name
// the field as field[i].File.
func ReadScriptFiles(scripts []ScriptSpec, dir, field string) error {
	var errs []error
	for i := range scripts {
		s := &scripts[i]
		if s.File == "" {
			continue
		}
		f := fmt.Sprintf("%s[%d].File", field, i)
		if s.Source != "" {
			errs = append(errs, &config.FieldError{Field: f, Value: s.File, Rule: "give Source or File, not both"})
			continue
		}
		path := s.File
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, &config.FieldError{Field: f, Value: s.File, Rule: "must be a readable file: " + err.Error()})
			continue
		}
		s.Source = string(b)
		if s.Name == "" {
			s.Name = strings.TrimSuffix(filepath.Base(s.File), filepath.Ext(s.File))
		}
	}
	return errors.Join(errs...)
}

// Validate checks the scripts, compiling each: a script that does not parse is refused here,
// before any user runs.
func (c ScriptConfig) Validate() error {
	var ck config.Checker
	for i, t := range c.Targets {
		ck.Check(validURL(t, "http", "https", "ws", "wss"), fmt.Sprintf("Targets[%d]", i), t, "must be an http(s):// or ws(s):// URL")
	}
	ck.Check(len(c.Scripts) > 0, "Scripts", len(c.Scripts), "must list at least one script")
	names := map[string]bool{}
	for i, s := range c.Scripts {
		f := fmt.Sprintf("Scripts[%d]", i)
		ck.Check(s.Name != "", f+".Name", s.Name, "must be set")
		ck.Check(!names[s.Name], f+".Name", s.Name, "must be unique")
		names[s.Name] = true
		ck.Check(s.Share >= 0, f+".Share", s.Share, "must be >= 0 (0 means 1)")
		ck.Check(s.PaceMs >= 0, f+".PaceMs", s.PaceMs, "must be >= 0")
		if s.Source == "" && s.File != "" {
			ck.Check(false, f+".File", s.File, "was not read (the coordinator and loadtest read it; an agent cannot)")
			continue
		}
		if s.Name != "" {
			if _, err := script.Compile(s.Name, s.Source); err != nil {
				ck.Check(false, f+".Source", s.Name, err.Error())
			}
		}
	}
	ck.Check(c.MemoryLimitMB >= 0, "MemoryLimitMB", c.MemoryLimitMB, "must be >= 0 (0: 1024)")
	ck.Check(c.MaxResponseBytes >= 0, "MaxResponseBytes", c.MaxResponseBytes, "must be >= 0 (0: 10 MiB)")
	return ck.Err()
}
