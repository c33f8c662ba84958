package coordinator

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves the coordinator's live view: GET /status (Status as JSON), GET /report
// (Report so far), GET /observations?since=N (the ticks after Seq N, as a JSON array) and
// GET /metrics (Collector, for Prometheus and the dashboards).
func (c *Coordinator) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		st, _ := c.Status()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
	})
	mux.HandleFunc("GET /report", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(c.Report())
	})
	mux.HandleFunc("GET /observations", func(w http.ResponseWriter, r *http.Request) {
		since := 0
		if v := r.URL.Query().Get("since"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				http.Error(w, fmt.Sprintf("since %q: must be an integer >= 0 (the last Seq seen)", v), http.StatusBadRequest)
				return
			}
			since = n
		}
		obs, _ := c.Observations(since)
		if obs == nil {
			obs = []Observation{}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(obs)
	})
	reg := prometheus.NewRegistry()
	reg.MustRegister(c.Collector())
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

// ServeStatus serves c.Handler on addr (host:port; port 0 picks one) until stop is called,
// which closes the server and waits for it. It returns the address it listens on.
func ServeStatus(addr string, c *Coordinator) (net.Addr, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	hs := &http.Server{Handler: c.Handler(), ReadHeaderTimeout: 10 * time.Second}
	var wg sync.WaitGroup
	wg.Go(func() { _ = hs.Serve(ln) }) // ends with Close
	return ln.Addr(), func() { _ = hs.Close(); wg.Wait() }, nil
}
