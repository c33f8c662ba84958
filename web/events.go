package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/coordinator"
	"github.com/loadtest/loadtest/coordinator/plan"
)

// KeepAlive is how often an idle event stream gets a comment, so proxies keep it open.
const KeepAlive = 15 * time.Second

// handleEvents streams a live run as server-sent events: "observation" (one a tick, with
// its Seq as the event id: a reconnecting EventSource sends Last-Event-ID and misses
// nothing), "report" (the report without its series, whenever its probes, decisions,
// periods or state changed) and "end" once the run is done and everything was sent.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	run, err := s.get(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	since, err := sinceParam(r.URL.Query().Get("since"))
	if err == nil && r.Header.Get("Last-Event-ID") != "" {
		since, err = sinceParam(r.Header.Get("Last-Event-ID"))
	}
	if err != nil {
		writeError(w, err)
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	keep := time.NewTicker(KeepAlive)
	defer keep.Stop()
	var last reportMark
	for {
		run.mu.Lock()
		state, stateChanged, c := run.state, run.changed, run.c
		run.mu.Unlock()
		obs, changed := c.Observations(since)
		for _, o := range obs {
			if err := event(w, "observation", fmt.Sprint(o.Seq), o); err != nil {
				return
			}
			since = o.Seq
		}
		rep := c.Report()
		if m := markOf(rep, state); m != last {
			rep.Series = nil // the observations carry it
			if err := event(w, "report", "", struct {
				State  string             `json:"state"`
				Report coordinator.Report `json:"report"`
			}{state, rep}); err != nil {
				return
			}
			last = m
		}
		if state == StateDone {
			_ = event(w, "end", "", struct{}{})
			_ = rc.Flush()
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-changed:
		case <-stateChanged:
		case <-keep.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
		}
	}
}

// reportMark is what, when it changes, makes the stream send the report again.
type reportMark struct {
	state                      string
	probes, decisions, periods int
	supported, bracketLo       int
	outcome                    coordinator.Outcome
}

func markOf(r coordinator.Report, state string) reportMark {
	return reportMark{state: state, probes: len(r.Probes), decisions: len(r.Decisions), periods: len(r.Periods),
		supported: r.SupportedUsers, bracketLo: r.Bracket[0], outcome: r.Outcome}
}

// event writes one server-sent event.
func event(w http.ResponseWriter, name, id string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if id != "" {
		if _, err := fmt.Fprintf(w, "id: %s\n", id); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, b)
	return err
}

// Defaults are what the UI's form starts from: the coordinator's, the agent's and a plan's
// defaults, as in config/*.default.json.
func Defaults() map[string]any {
	return map[string]any{"config": coordinator.DefaultConfig(), "agent_config": agentconfig.DefaultConfig(), "plan": plan.DefaultPlan()}
}
