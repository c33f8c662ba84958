// Package monitor answers the coordinator's PromQL queries: a Prometheus server over its API,
// or the embedded engine scraping the agents and the target itself. AlignWindow fits a
// query's ranges to a hold, and a query with no data, several series or NaN is an error,
// never a healthy value.
package monitor

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/loadtest/loadtest/internal/promengine"
)

// Querier evaluates a PromQL query at a time and returns its single value. A query with no
// data, several series or NaN is an error: it is never read as healthy.
type Querier interface {
	Query(ctx context.Context, q string, ts time.Time) (float64, error)
}

// promQuerier queries a Prometheus server over its HTTP API.
type promQuerier struct{ api v1.API }

// NewPrometheusQuerier returns a Querier of the Prometheus server at url.
func NewPrometheusQuerier(url string) (Querier, error) {
	c, err := api.NewClient(api.Config{Address: url})
	if err != nil {
		return nil, fmt.Errorf("MonitorConfig.PrometheusURL %q: %w", url, err)
	}
	return promQuerier{api: v1.NewAPI(c)}, nil
}

func (p promQuerier) Query(ctx context.Context, q string, ts time.Time) (float64, error) {
	val, _, _, err := p.api.Query(ctx, q, ts)
	if err != nil {
		return 0, err
	}
	switch val := val.(type) {
	case *model.Scalar:
		return promengine.One([]float64{float64(val.Value)})
	case model.Vector:
		vs := make([]float64, len(val))
		for i, s := range val {
			vs[i] = float64(s.Value)
		}
		return promengine.One(vs)
	}
	return 0, fmt.Errorf("the query returned a %s; want an instant vector or a scalar", val.Type())
}

// evaluate runs every query at ts, with its ranges set to window when window > 0. It
// returns the values, or the first error naming its query.
func Evaluate(ctx context.Context, q Querier, qs []Query, ts time.Time, window time.Duration) ([]float64, error) {
	out := make([]float64, len(qs))
	for i, query := range qs {
		expr := query.Query
		if window > 0 {
			var err error
			if expr, err = AlignWindow(expr, window); err != nil {
				return nil, fmt.Errorf("MonitorConfig.Queries[%d] (%s): %w", i, query.Description, err)
			}
		}
		v, err := QueryWithin(ctx, q, expr, ts)
		if err != nil {
			return nil, fmt.Errorf("MonitorConfig.Queries[%d] (%s): %s at %s: %w", i, query.Description, expr, ts.Format(time.RFC3339Nano), err)
		}
		out[i] = v
	}
	return out, nil
}

// QueryTimeout bounds every query: a monitor that hangs is a failed query, never a search
// that waits for ever.
const QueryTimeout = 30 * time.Second

// queryWithin evaluates expr at ts within QueryTimeout.
func QueryWithin(ctx context.Context, q Querier, expr string, ts time.Time) (float64, error) {
	qctx, cancel := context.WithTimeout(ctx, QueryTimeout)
	defer cancel()
	return q.Query(qctx, expr, ts)
}

// Query is a PromQL expression watched during the search (monitor.Query: MonitorConfig.Queries).
type Query struct {
	Description string
	Legend      string
	Query       string
	Threshold   float64
	// MinIntervalSec: the fixed-step loop ignores the query until this long after the start.
	MinIntervalSec int
	Alert          bool // whether reaching Threshold fails a probe
}

// AlignWindow rewrites every range in a PromQL query ([1m], subquery ranges) to d, so the
// query looks at one probe's hold and nothing before it.
func AlignWindow(q string, d time.Duration) (string, error) {
	expr, err := parser.ParseExpr(q)
	if err != nil {
		return "", err
	}
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.MatrixSelector:
			n.Range = d
		case *parser.SubqueryExpr:
			n.Range = d
		}
		return nil
	})
	return expr.String(), nil
}

// LivenessQuery is what the preflight asks the monitor: any working PromQL engine answers 1.
const LivenessQuery = "vector(1)"

// Embedded is the embedded Prometheus engine answering the queries from what it scrapes
// itself, every interval, until Stop.
type Embedded struct {
	*promengine.Engine
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// StartEmbedded starts the embedded engine scraping targets (more may be added with
// AddTarget while it runs: agents that join).
func StartEmbedded(interval time.Duration, log *slog.Logger, targets []promengine.Target) (*Embedded, error) {
	eng, err := promengine.New(promengine.Options{Interval: interval, Log: log})
	if err != nil {
		return nil, err
	}
	for _, t := range targets {
		eng.AddTarget(t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Embedded{Engine: eng, cancel: cancel}
	e.wg.Go(func() { eng.Run(ctx) })
	return e, nil
}

// Stop ends the scrapes, waits for them, and closes the engine's storage.
func (e *Embedded) Stop() {
	e.cancel()
	e.wg.Wait()
	if err := e.Engine.Close(); err != nil {
		slog.Debug("close the embedded engine", "err", err)
	}
}
