package coordinator

import (
	"testing"
	"testing/synctest"

	"github.com/loadtest/loadtest/coordinator/search/searchtest"
)

// TestCoordinator_Observations watches a search the way a live view does: it reads the
// observations after the last Seq it saw, waits on the channel, and reads again. It must
// see every tick once, in order, with no gap; the status and the agents in each; the
// queries' values once a probe was judged; and a closed channel after the end.
func TestCoordinator_Observations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &searchtest.Model{Xmax: 400, Z: 1, S: 0.01}
		c, _ := setup(t, nil, func(n int) (float64, error) { return m.Latency(n), nil })
		if obs, _ := c.Observations(0); len(obs) != 0 {
			t.Fatalf("%d observations before Run", len(obs))
		}
		wait := startSearch(t, c)
		var seen []Observation
		for {
			obs, changed := c.Observations(len(seen))
			seen = append(seen, obs...)
			if st, _ := c.Status(); st.State == Done {
				if obs, _ := c.Observations(len(seen)); len(obs) != 0 {
					t.Fatalf("%d observations after the end was seen", len(obs))
				}
				break
			}
			<-changed
		}
		wait()
		r := c.Report()
		if len(seen) != len(r.Series) || len(seen) < 10 {
			t.Fatalf("saw %d observations; the report has %d seconds", len(seen), len(r.Series))
		}
		valued := 0
		for i, o := range seen {
			if o.Seq != i+1 {
				t.Fatalf("observation %d has Seq %d", i, o.Seq)
			}
			if o.Second != r.Series[i] {
				t.Fatalf("observation %d: %+v; the report's second: %+v", i, o.Second, r.Series[i])
			}
			if o.Status.ActiveUsers != o.Users || o.Status.Phase != o.Phase || len(o.Agents) != 2 {
				t.Fatalf("observation %d: status %+v, %d agents; want its own users and phase, 2 agents", i, o.Status, len(o.Agents))
			}
			if o.Values != nil {
				valued++
				if len(o.Values) != len(c.cfg.MonitorConfig.Queries) {
					t.Fatalf("observation %d: values %v", i, o.Values)
				}
			}
		}
		if valued == 0 || seen[0].Values != nil {
			t.Fatalf("%d observations carry query values (the first: %v); want values after the first probe only", valued, seen[0].Values)
		}
		last := r.Probes[len(r.Probes)-1]
		if got := seen[len(seen)-1].Values; len(got) != len(last.Values) || got[0] != last.Values[0] {
			t.Fatalf("last observation's values %v; the last probe's %v", got, last.Values)
		}
		_, changed := c.Observations(len(seen))
		select {
		case <-changed:
			t.Fatal("the channel closed with nothing new after the end")
		default:
		}
	})
}
