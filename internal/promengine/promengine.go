// Package promengine is the embedded Prometheus: it scrapes /metrics endpoints into an
// in-memory TSDB and evaluates PromQL over it, with Prometheus's own parser, storage and
// engine (github.com/prometheus/prometheus), so a query behaves exactly as it would on a
// Prometheus server.
package promengine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/tsdb"
)

// Target is an endpoint to scrape.
type Target struct {
	Job string // the job label
	URL string // the full URL of the metrics page, e.g. http://127.0.0.1:4000/metrics
	// Token, if set, is sent as a bearer token.
	Token string
	// Client, if set, scrapes this target (a joined agent's, over its connection).
	Client *http.Client
	// Gatherer, if set, is read in process instead of over HTTP: an agent or a target in the
	// same process needs no port. URL then only names the instance.
	Gatherer prometheus.Gatherer
}

// Options configure an Engine.
type Options struct {
	Interval time.Duration // how often each target is scraped; 0: 1s
	Timeout  time.Duration // per scrape; 0: the interval
	Log      *slog.Logger
}

// Engine scrapes targets and answers PromQL. Its methods are safe for concurrent use.
type Engine struct {
	opts Options
	log  *slog.Logger
	dir  string
	db   *tsdb.DB
	eng  *promql.Engine
	hc   *http.Client

	mu      sync.Mutex
	targets map[string]Target // guarded by mu, by URL
	health  map[string]error  // guarded by mu: the last scrape's error, by URL
	// series is what each target's last successful scrape stored (guarded by mu, by URL):
	// the series a later scrape lacks, or all of them when it fails, are marked stale.
	series map[string]map[uint64]labels.Labels
	wake   chan struct{} // a new target arrived
}

// New opens an empty in-memory TSDB (its write-ahead log is off; blocks live in a temporary
// directory Close removes).
func New(opts Options) (*Engine, error) {
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = opts.Interval
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	dir, err := os.MkdirTemp("", "loadtest-tsdb-")
	if err != nil {
		return nil, err
	}
	to := tsdb.DefaultOptions()
	to.WALSegmentSize = -1
	to.RetentionDuration = int64(6 * time.Hour / time.Millisecond)
	db, err := tsdb.Open(dir, nil, nil, to, nil)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("open the embedded TSDB: %w", err)
	}
	eng := promql.NewEngine(promql.EngineOpts{MaxSamples: 50_000_000, Timeout: time.Minute,
		LookbackDelta: 5 * time.Minute})
	return &Engine{opts: opts, log: opts.Log, dir: dir, db: db, eng: eng,
		hc:      &http.Client{Timeout: opts.Timeout},
		targets: map[string]Target{}, health: map[string]error{}, series: map[string]map[uint64]labels.Labels{},
		wake: make(chan struct{}, 1)}, nil
}

// AddTarget adds an endpoint to scrape (once per URL); Run picks it up.
func (e *Engine) AddTarget(t Target) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.targets[t.URL]; ok {
		return
	}
	e.targets[t.URL] = t
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Health returns every target's last scrape error (nil: it worked), by URL.
func (e *Engine) Health() map[string]error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return maps.Clone(e.health)
}

// Run scrapes every target each interval until ctx is done. Scrapes of one round run
// concurrently and share a timestamp.
func (e *Engine) Run(ctx context.Context) {
	t := time.NewTicker(e.opts.Interval)
	defer t.Stop()
	e.ScrapeOnce(ctx, time.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.wake:
			e.ScrapeOnce(ctx, time.Now())
		case now := <-t.C:
			e.ScrapeOnce(ctx, now)
		}
	}
}

// ScrapeOnce scrapes every target now and stores the samples at ts.
func (e *Engine) ScrapeOnce(ctx context.Context, ts time.Time) {
	e.mu.Lock()
	targets := make([]Target, 0, len(e.targets))
	for _, t := range e.targets {
		targets = append(targets, t)
	}
	e.mu.Unlock()
	var wg sync.WaitGroup
	for _, t := range targets {
		wg.Go(func() {
			err := e.scrape(ctx, t, ts)
			if err != nil && ctx.Err() == nil {
				e.log.Debug("scrape failed", "url", t.URL, "err", err)
			}
			e.mu.Lock()
			e.health[t.URL] = err
			e.mu.Unlock()
		})
	}
	wg.Wait()
}

// scrape stores one scrape of t at ts, with up, and marks stale the series of t's last
// scrape that this one lacks (all of them when it fails), as Prometheus does: a query then
// stops seeing a dead agent's last values at once, instead of for the 5-minute lookback.
func (e *Engine) scrape(ctx context.Context, t Target, ts time.Time) error {
	ms := ts.UnixMilli()
	up := 0.0
	seen := map[uint64]labels.Labels{}
	defer func() {
		app := e.db.Appender(context.Background())
		_, _ = app.Append(0, labels.FromStrings("__name__", "up", "job", t.Job, "instance", t.URL), ms, up)
		e.mu.Lock()
		last := e.series[t.URL]
		if up == 1 {
			e.series[t.URL] = seen
		} else {
			delete(e.series, t.URL)
		}
		e.mu.Unlock()
		for h, ls := range last {
			if _, ok := seen[h]; !ok || up == 0 {
				_, _ = app.Append(0, ls, ms, math.Float64frombits(value.StaleNaN))
			}
		}
		_ = app.Commit()
	}()
	b, err := e.fetch(ctx, t)
	if err != nil {
		return err
	}
	p := textparse.NewPromParser(b, labels.NewSymbolTable(), false)
	app := e.db.Appender(context.Background())
	var lset labels.Labels
	for {
		et, err := p.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			_ = app.Rollback()
			return fmt.Errorf("parse %s: %w", t.URL, err)
		}
		if et != textparse.EntrySeries {
			continue
		}
		_, _, v := p.Series()
		p.Labels(&lset)
		b := labels.NewBuilder(lset)
		b.Set("job", t.Job)
		b.Set("instance", t.URL)
		ls := b.Labels()
		if _, err := app.Append(0, ls, ms, v); err != nil {
			_ = app.Rollback()
			clear(seen)
			return fmt.Errorf("store %s: %w", lset, err)
		}
		seen[ls.Hash()] = ls
	}
	up = 1
	return app.Commit()
}

// fetch returns t's exposition, in the text format: gathered in process, or over HTTP.
func (e *Engine) fetch(ctx context.Context, t Target) ([]byte, error) {
	if t.Gatherer != nil {
		mfs, err := t.Gatherer.Gather()
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				return nil, err
			}
		}
		return buf.Bytes(), nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	if t.Token != "" {
		req.Header.Set("Authorization", "Bearer "+t.Token)
	}
	hc := e.hc
	if t.Client != nil {
		hc = t.Client
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", t.URL, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 64<<20))
}

// Errors of Query.
var (
	ErrEmpty = errors.New("the query returned no data")
	ErrNaN   = errors.New("the query returned NaN")
)

// Query evaluates q at ts and returns its single value. A query that returns no series, more
// than one, or NaN is an error: a monitor must never read "no data" as "healthy".
func (e *Engine) Query(ctx context.Context, q string, ts time.Time) (float64, error) {
	qry, err := e.eng.NewInstantQuery(ctx, e.db, nil, q, ts)
	if err != nil {
		return 0, err
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		return 0, res.Err
	}
	switch val := res.Value.(type) {
	case promql.Scalar:
		return One([]float64{val.V})
	case promql.Vector:
		vs := make([]float64, len(val))
		for i, s := range val {
			if s.H != nil {
				return 0, errors.New("the query returned a native histogram; want a number")
			}
			vs[i] = s.F
		}
		return One(vs)
	}
	return 0, fmt.Errorf("the query returned a %s; want an instant vector or a scalar", res.Value.Type())
}

// One is the rule every monitor query's result must meet, from this engine or a Prometheus
// server: exactly one value, and not NaN.
func One(vs []float64) (float64, error) {
	switch {
	case len(vs) == 0:
		return 0, ErrEmpty
	case len(vs) > 1:
		return 0, fmt.Errorf("the query returned %d series; a monitor query must return one (aggregate it with sum, max or avg)", len(vs))
	case math.IsNaN(vs[0]):
		return 0, ErrNaN
	}
	return vs[0], nil
}

// Close closes the TSDB and removes its directory.
func (e *Engine) Close() error {
	err := e.db.Close()
	e.hc.CloseIdleConnections()
	return errors.Join(err, os.RemoveAll(e.dir))
}
