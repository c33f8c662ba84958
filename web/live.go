package web

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/loadtest/loadtest/coordinator"
)

// liveHandler serves one coordinator as the one-shot commands always have beside the UI:
// GET /status (its Status), GET /report (the report so far), GET /observations?since=N
// (the ticks after Seq N) and GET /metrics (its Collector, for Prometheus and the
// dashboards).
func liveHandler(c *coordinator.Coordinator) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		st, _ := c.Status()
		writeJSON(w, http.StatusOK, st)
	})
	mux.HandleFunc("GET /report", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, c.Report()) })
	mux.HandleFunc("GET /observations", func(w http.ResponseWriter, r *http.Request) { serveObservations(w, r, c) })
	reg := prometheus.NewRegistry()
	reg.MustRegister(c.Collector())
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

// serveObservations answers ?since=N with c's observations after Seq N, as a JSON array.
func serveObservations(w http.ResponseWriter, r *http.Request, c *coordinator.Coordinator) {
	since, err := sinceParam(r.URL.Query().Get("since"))
	if err != nil {
		writeError(w, err)
		return
	}
	obs, _ := c.Observations(since)
	if obs == nil {
		obs = []coordinator.Observation{}
	}
	writeJSON(w, http.StatusOK, obs)
}
