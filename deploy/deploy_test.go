package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"

	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/coordinator"
	"github.com/loadtest/loadtest/internal/config"
)

// TestKubernetes decodes every manifest of deploy/k8s strictly into the Kubernetes API's
// own types (an unknown or misplaced field fails), checks that the kustomization names only
// files that exist, that its configs load as the binaries load them, and what an operator
// relies on: every container non-root with requests, the token from the Secret, the agents
// spread over nodes and joining the coordinator's Service.
func TestKubernetes(t *testing.T) {
	dir := "k8s"
	var k struct {
		Resources          []string
		ConfigMapGenerator []struct {
			Name  string
			Files []string
		} `json:"configMapGenerator"`
	}
	kb := read(t, filepath.Join(dir, "kustomization.yaml"))
	if err := yaml.Unmarshal(kb, &k); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, r := range k.Resources {
		for i, doc := range Docs(read(t, filepath.Join(dir, r))) {
			var meta struct{ Kind string }
			if err := yaml.Unmarshal(doc, &meta); err != nil {
				t.Fatalf("%s, document %d: %v", r, i+1, err)
			}
			kinds[meta.Kind]++
			var err error
			switch meta.Kind {
			case "Namespace":
				err = yaml.UnmarshalStrict(doc, &corev1.Namespace{})
			case "Secret":
				err = yaml.UnmarshalStrict(doc, &corev1.Secret{})
			case "Service":
				err = yaml.UnmarshalStrict(doc, &corev1.Service{})
			case "PersistentVolumeClaim":
				err = yaml.UnmarshalStrict(doc, &corev1.PersistentVolumeClaim{})
			case "Deployment":
				var d appsv1.Deployment
				if err = yaml.UnmarshalStrict(doc, &d); err == nil {
					checkAgents(t, d)
				}
			case "Job":
				err = yaml.UnmarshalStrict(doc, &batchv1.Job{})
			default:
				t.Errorf("%s: kind %q is not checked here", r, meta.Kind)
			}
			if err != nil {
				t.Errorf("%s, %s: %v", r, meta.Kind, err)
			}
			if spec, _ := PodSpec(doc); spec != nil {
				checkPod(t, r, spec)
			}
		}
	}
	for _, want := range []string{"Namespace", "Secret", "Service", "PersistentVolumeClaim", "Deployment", "Job"} {
		if kinds[want] == 0 {
			t.Errorf("no %s among %v", want, kinds)
		}
	}
	for _, g := range k.ConfigMapGenerator {
		for _, f := range g.Files {
			path := filepath.Join(dir, f)
			var err error
			switch f {
			case "coordinator.json":
				c := coordinator.DefaultConfig()
				err = config.Load(path, &c)
				if err == nil && (len(c.ClusterConfig.Agents) != 0 || c.ClusterConfig.MinJoinedAgents < 1) {
					t.Errorf("%s: agents %v, MinJoinedAgents %d; want none listed and some to wait for", path, c.ClusterConfig.Agents, c.ClusterConfig.MinJoinedAgents)
				}
			case "config.json":
				c := agentconfig.DefaultConfig()
				err = config.Load(path, &c)
			default:
				t.Errorf("%s: not a config this test knows", path)
			}
			if err != nil {
				t.Error(err)
			}
		}
	}
}

func checkPod(t *testing.T, src string, spec *corev1.PodSpec) {
	t.Helper()
	if sc := spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("%s: the pod may run as root", src)
	}
	for _, c := range spec.Containers {
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s, %s: want CPU and memory requests and a memory limit, got %v", src, c.Name, c.Resources)
		}
		token := slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool {
			return e.Name == "LOADTEST_AGENT_TOKEN" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil
		})
		if !token {
			t.Errorf("%s, %s: LOADTEST_AGENT_TOKEN does not come from the Secret", src, c.Name)
		}
	}
}

func checkAgents(t *testing.T, d appsv1.Deployment) {
	t.Helper()
	spec := d.Spec.Template.Spec
	if a := spec.Affinity; a == nil || a.PodAntiAffinity == nil || len(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
		t.Errorf("%s: no anti-affinity between agents", d.Name)
	}
	args := strings.Join(spec.Containers[0].Args, " ")
	if !strings.Contains(args, "--join=ws://coordinator:9696/join") {
		t.Errorf("%s: the agents do not join the coordinator's Service: %s", d.Name, args)
	}
}

// TestCommands finds the command lines in every kind of deployment file; each binary's own
// tests parse them with its flags (cmd/*: TestDeployCommands).
func TestCommands(t *testing.T) {
	cmds, err := Commands(".")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range cmds {
		seen[c.Binary] = true
		for _, kind := range []string{"k8s", "compose", "systemd", "terraform"} {
			if strings.Contains(c.Source, kind+string(filepath.Separator)) {
				seen[kind] = true
			}
		}
	}
	for _, want := range []string{"loadtest", "coordinator", "mmsim", "k8s", "compose", "systemd", "terraform"} {
		if !seen[want] {
			t.Errorf("no command for %s among %v", want, cmds)
		}
	}
	got := splitWords(`exec /usr/local/bin/loadtest server --listen ":4000" --join 'ws://a b' 2>&1`)
	if want := []string{"exec", "/usr/local/bin/loadtest", "server", "--listen", ":4000", "--join", "ws://a b", "2>&1"}; !slices.Equal(got, want) {
		t.Errorf("splitWords = %q; want %q", got, want)
	}
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
