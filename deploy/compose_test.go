package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/coordinator"
	"github.com/loadtest/loadtest/internal/config"
	"github.com/loadtest/loadtest/internal/testtools"
)

// TestCompose checks the compose deployment without a container engine (none runs here):
// the services and profiles an operator expects, every file a service mounts exists, the
// configs load as the binaries load them, Prometheus's config passes promtool, and Grafana
// is provisioned with the datasource the dashboards name. Each binary's TestDeployCommands
// parses the services' command lines.
func TestCompose(t *testing.T) {
	dir := "compose"
	var f struct {
		Services map[string]struct {
			Profiles []string
			Image    string
			Volumes  []string
			Deploy   struct{ Replicas int }
		}
		Configs map[string]struct{ Content string }
	}
	if err := yaml.Unmarshal(read(t, filepath.Join(dir, "compose.yaml")), &f); err != nil {
		t.Fatal(err)
	}
	for name, profile := range map[string]string{"mmsim": "mmsim", "mattermost": "mattermost", "postgres": "mattermost",
		"init": "", "coordinator": "", "agent": "", "prometheus": "", "grafana": ""} {
		s, ok := f.Services[name]
		if !ok {
			t.Errorf("no service %s", name)
			continue
		}
		if profile != "" && !slices.Contains(s.Profiles, profile) || profile == "" && len(s.Profiles) > 0 {
			t.Errorf("service %s has profiles %v; want %q", name, s.Profiles, profile)
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(filepath.Join(dir, src)); err != nil && src != "./results" {
					t.Errorf("service %s mounts %s: %v", name, src, err)
				}
			}
		}
	}
	if r := f.Services["agent"].Deploy.Replicas; r < 2 {
		t.Errorf("agent replicas %d; want several", r)
	}
	c := coordinator.DefaultConfig()
	if err := config.Load(filepath.Join(dir, "coordinator.json"), &c); err != nil {
		t.Error(err)
	}
	if c.MonitorConfig.PrometheusURL != "http://prometheus:9090" || c.ClusterConfig.MinJoinedAgents != f.Services["agent"].Deploy.Replicas {
		t.Errorf("coordinator config: Prometheus %q, waits for %d agents; want the compose Prometheus and the %d agents",
			c.MonitorConfig.PrometheusURL, c.ClusterConfig.MinJoinedAgents, f.Services["agent"].Deploy.Replicas)
	}
	lt := agentconfig.DefaultConfig()
	if err := config.Load(filepath.Join(dir, "config.json"), &lt); err != nil {
		t.Error(err)
	}

	// promtool checks the file the credentials come from: give it one.
	promtool := testtools.Require(t, "promtool", "prometheus")
	tmp := t.TempDir()
	token := filepath.Join(tmp, "agent-token")
	_ = os.WriteFile(token, []byte("secret"), 0o600)
	prom := strings.ReplaceAll(string(read(t, filepath.Join(dir, "prometheus.yml"))), "/etc/prometheus/agent-token", token)
	_ = os.WriteFile(filepath.Join(tmp, "prometheus.yml"), []byte(prom), 0o644)
	if out, err := exec.Command(promtool, "check", "config", filepath.Join(tmp, "prometheus.yml")).CombinedOutput(); err != nil {
		t.Errorf("promtool check config: %v\n%s", err, out)
	}
	if _, ok := f.Configs["agent-token"]; !ok {
		t.Error("no agent-token config for Prometheus to present to the agents")
	}

	var ds struct {
		Datasources []struct{ UID, Type, URL string }
	}
	if err := yaml.Unmarshal(read(t, filepath.Join("grafana", "provisioning", "datasources", "prometheus.yaml")), &ds); err != nil ||
		len(ds.Datasources) != 1 || ds.Datasources[0].UID != "loadtest-prometheus" || ds.Datasources[0].Type != "prometheus" {
		t.Errorf("Grafana datasources %+v, %v; want the one the dashboards name", ds, err)
	}
}
