// Package deploy holds the ways to run the system beyond one process (containers, compose,
// Kubernetes, Terraform, systemd, Grafana dashboards; docs/deploy.md), and, for their tests,
// Commands: every command line of our binaries those files contain, so that each binary's
// tests can check it parses with the binary's own flags.
package deploy

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// Command is one invocation of a binary found in a deployment file.
type Command struct {
	Source string   // the file, and where in it
	Binary string   // "loadtest", "coordinator" or "mmsim"
	Args   []string // after the binary's name
}

// Binaries are the programs whose command lines Commands looks for.
var Binaries = []string{"loadtest", "coordinator", "mmsim"}

// Commands returns every command line of Binaries in the deployment files under root (the
// deploy folder): Kubernetes containers, compose services, systemd ExecStart lines, and the
// shell scripts (Terraform's user data). Arguments of the form ${...} or $VAR are kept as
// they are; a test substitutes a plausible value before parsing.
func Commands(root string) ([]Command, error) {
	var out []Command
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var found []Command
		switch {
		case strings.Contains(string(filepath.Separator)+path, string(filepath.Separator)+"k8s"+string(filepath.Separator)) && strings.HasSuffix(path, ".yaml"):
			found, err = k8sCommands(path, b)
		case strings.HasSuffix(path, "compose.yaml"):
			found, err = composeCommands(path, b)
		case strings.HasSuffix(path, ".service"), strings.HasSuffix(path, ".sh"), strings.HasSuffix(path, ".tftpl"):
			found = lineCommands(path, b)
		}
		out = append(out, found...)
		return err
	})
	return out, err
}

// binary is the name of one of Binaries that path runs, or "".
func binary(path string) string {
	base := filepath.Base(strings.Trim(path, `"'`))
	for _, b := range Binaries {
		if base == b {
			return b
		}
	}
	return ""
}

// Docs splits a YAML file into its documents.
func Docs(b []byte) [][]byte {
	var out [][]byte
	for _, d := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
		if strings.TrimSpace(stripComments(d)) != "" {
			out = append(out, []byte(d))
		}
	}
	return out
}

func stripComments(s string) string {
	return regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(s, "")
}

// PodSpec is the pod template of a Deployment or a Job document, or nil for other kinds.
func PodSpec(doc []byte) (*corev1.PodSpec, error) {
	var meta struct{ Kind string }
	if err := yaml.Unmarshal(doc, &meta); err != nil {
		return nil, err
	}
	switch meta.Kind {
	case "Deployment":
		var d appsv1.Deployment
		if err := yaml.UnmarshalStrict(doc, &d); err != nil {
			return nil, err
		}
		return &d.Spec.Template.Spec, nil
	case "Job":
		var j batchv1.Job
		if err := yaml.UnmarshalStrict(doc, &j); err != nil {
			return nil, err
		}
		return &j.Spec.Template.Spec, nil
	}
	return nil, nil
}

func k8sCommands(path string, b []byte) ([]Command, error) {
	var out []Command
	for i, doc := range Docs(b) {
		spec, err := PodSpec(doc)
		if err != nil {
			return nil, fmt.Errorf("%s, document %d: %w", path, i+1, err)
		}
		if spec == nil {
			continue
		}
		for _, c := range spec.Containers {
			if len(c.Command) == 0 {
				continue
			}
			if bin := binary(c.Command[0]); bin != "" {
				out = append(out, Command{Source: fmt.Sprintf("%s, container %s", path, c.Name), Binary: bin,
					Args: append(append([]string{}, c.Command[1:]...), c.Args...)})
			}
		}
	}
	return out, nil
}

func composeCommands(path string, b []byte) ([]Command, error) {
	var f struct {
		Services map[string]struct {
			Entrypoint []string `json:"entrypoint"`
			Command    []string `json:"command"`
		} `json:"services"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []Command
	for name, s := range f.Services {
		argv := append(append([]string{}, s.Entrypoint...), s.Command...)
		if len(argv) == 0 {
			continue
		}
		if bin := binary(argv[0]); bin != "" {
			out = append(out, Command{Source: fmt.Sprintf("%s, service %s", path, name), Binary: bin, Args: argv[1:]})
		}
	}
	return out, nil
}

// lineCommands finds the lines of a unit or a script that run one of Binaries (with "\"
// continuations joined), split as a shell splits plain words and quotes.
func lineCommands(path string, b []byte) []Command {
	var out []Command
	sc := bufio.NewScanner(bytes.NewReader(b))
	n, joined := 0, ""
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if strings.HasSuffix(line, `\`) {
			joined += strings.TrimSuffix(line, `\`) + " "
			continue
		}
		line, joined = joined+line, ""
		line = strings.TrimPrefix(line, "ExecStart=")
		words := splitWords(line)
		for i, w := range words {
			if bin := binary(w); bin != "" && (i == 0 || words[i-1] == "exec" || strings.HasSuffix(words[i-1], "=")) {
				args := words[i+1:]
				for j, a := range args { // a redirection or a pipe ends the command
					if strings.ContainsAny(a[:1], "><|&;") || a == "2>&1" {
						args = args[:j]
						break
					}
				}
				out = append(out, Command{Source: fmt.Sprintf("%s:%d", path, n), Binary: bin, Args: args})
				break
			}
		}
	}
	return out
}

// splitWords splits a shell line into words, honouring single and double quotes.
func splitWords(s string) []string {
	var out []string
	var cur strings.Builder
	quote, in := rune(0), false
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

// Resolve replaces ${...} and $VAR in args with plausible values, so they can be parsed: a
// URL where the flag wants one, a number where it wants one.
func Resolve(args []string) []string {
	re := regexp.MustCompile(`\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*`)
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = re.ReplaceAllStringFunc(a, func(v string) string {
			l := strings.ToLower(v)
			switch {
			case strings.Contains(l, "port") || strings.Contains(l, "count") || strings.Contains(l, "users"):
				return "4000"
			case strings.Contains(l, "url"):
				return "http://host.example"
			}
			return "host.example"
		})
	}
	return out
}

// CheckCommands is each binary's TestDeployCommands: every command line of binary in the
// deployment files under root must parse with parse, the binary's own run() given the
// arguments (with ${...} resolved) and then --help, so that it stops once they parsed. An
// unknown or malformed flag then fails in the binary's tests, not on a cluster.
func CheckCommands(tb testing.TB, root, binary string, parse func(args []string) error) {
	tb.Helper()
	cmds, err := Commands(root)
	if err != nil {
		tb.Fatal(err)
	}
	for _, c := range cmds {
		if c.Binary != binary {
			continue
		}
		if err := parse(append(Resolve(c.Args), "--help")); err != nil {
			tb.Errorf("%s: %s %q: %v", c.Source, binary, c.Args, err)
		}
	}
}
