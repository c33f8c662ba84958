package coordinator

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

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
func evaluate(ctx context.Context, q Querier, qs []Query, ts time.Time, window time.Duration) ([]float64, error) {
	out := make([]float64, len(qs))
	for i, query := range qs {
		expr := query.Query
		if window > 0 {
			var err error
			if expr, err = AlignWindow(expr, window); err != nil {
				return nil, fmt.Errorf("MonitorConfig.Queries[%d] (%s): %w", i, query.Description, err)
			}
		}
		v, err := queryWithin(ctx, q, expr, ts)
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
func queryWithin(ctx context.Context, q Querier, expr string, ts time.Time) (float64, error) {
	qctx, cancel := context.WithTimeout(ctx, QueryTimeout)
	defer cancel()
	return q.Query(qctx, expr, ts)
}
