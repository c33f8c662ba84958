package deploy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loadtest/loadtest/deploy/grafana"
	"github.com/loadtest/loadtest/internal/testtools"
)

// TestCluster runs `make cluster` (scripts/cluster.sh) as an operator would: mmsim with a
// capacity model, three agents joining the coordinator, and Debian's real Prometheus, which
// scrapes them all and which the coordinator asks. The search must land within 5 % of the
// model's 110 users (the script checks it), and then every query of every Grafana dashboard
// must return data from that Prometheus, as of the search's last seconds.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a distributed capacity search (about two minutes)")
	}
	testtools.Require(t, "prometheus", "prometheus")
	base := 20000 + 10*rand.IntN(1000)
	cmd := exec.Command("bash", filepath.Join("..", "scripts", "cluster.sh"))
	cmd.Env = append(cmd.Environ(), "KEEP=1", "BASE_PORT="+strconv.Itoa(base))
	var logs testtools.LockedBuffer
	cmd.Stderr = &logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		}
	}
	defer stop()
	var prom string
	var at time.Time
	lines := bufio.NewScanner(out)
	timeout := time.AfterFunc(6*time.Minute, stop)
	defer timeout.Stop()
	for lines.Scan() {
		l := lines.Text()
		t.Log(l)
		if m := regexp.MustCompile(`^cluster: prometheus (\S+)`).FindStringSubmatch(l); m != nil {
			prom = m[1]
		}
		if m := regexp.MustCompile(`^cluster: answer \d+ .* at (\d+)$`).FindStringSubmatch(l); m != nil {
			sec, _ := strconv.ParseInt(m[1], 10, 64)
			at = time.Unix(sec, 0)
		}
		if strings.HasPrefix(l, "cluster: done") {
			break
		}
	}
	if prom == "" || at.IsZero() {
		stop()
		t.Fatalf("the cluster did not answer:\n%s", logs.String())
	}
	// The coordinator has exited and the agents' load tests are gone: ask as of 5 s before.
	when := at.Add(-5 * time.Second)
	for _, d := range grafana.All() {
		for _, p := range d.Panels {
			for _, q := range p.Queries {
				if n, err := series(prom, grafana.Instant(q.Expr), when); err != nil || n == 0 {
					t.Errorf("dashboard %s, panel %q: %s: %d series, %v", d.UID, p.Title, q.Expr, n, err)
				}
			}
		}
	}
}

// series asks Prometheus at base for expr at ts and returns how many series it answered.
func series(base, expr string, ts time.Time) (int, error) {
	u := fmt.Sprintf("%s/api/v1/query?query=%s&time=%d", base, url.QueryEscape(expr), ts.Unix())
	resp, err := http.Get(u)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string
		Error  string
		Data   struct {
			Result []json.RawMessage
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, err
	}
	if r.Status != "success" {
		return 0, fmt.Errorf("%s: %s", r.Status, r.Error)
	}
	return len(r.Data.Result), nil
}
