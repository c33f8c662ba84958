// Package histogram records latencies in HDR histograms, one per key (an action name or a
// route template), and produces snapshots that merge across agents without loss.
package histogram

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// The range and precision every histogram shares, so any two merge exactly: 1 µs to 60 s,
// 3 significant digits.
const (
	lowest      = 1          // µs
	highest     = 60_000_000 // µs
	significant = 3
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(lowest, highest, significant) }

// New returns an empty histogram with the range and precision every histogram here shares.
func New() *hdrhistogram.Histogram { return newHist() }

// pool recycles histograms that Release gives back: each is ~130 KB of counts, and an
// agent that takes a snapshot every second would otherwise allocate one per key per second.
var pool = sync.Pool{New: func() any { return newHist() }}

func getHist() *hdrhistogram.Histogram { return pool.Get().(*hdrhistogram.Histogram) }

// Release gives the histograms of a snapshot from Take back for reuse. The snapshot must
// not be used afterwards.
func (s Snapshot) Release() {
	for k, v := range s {
		if v.Hist != nil {
			v.Hist.Reset()
			pool.Put(v.Hist)
		}
		delete(s, k)
	}
}

// Recorder keeps a histogram and an error count per key. It is safe for concurrent use.
type Recorder struct {
	mu sync.Mutex
	s  map[string]*series // guarded by mu
}

type series struct {
	h       *hdrhistogram.Histogram
	errors  int64
	skipped int64
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{s: map[string]*series{}} }

// Record adds one observation of d under key; failed counts it as an error too. Durations
// beyond 60 s are recorded as 60 s.
func (r *Recorder) Record(key string, d time.Duration, failed bool) {
	us := min(max(d.Microseconds(), lowest), highest)
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.seriesLocked(key)
	_ = s.h.RecordValue(us) // in range by construction
	if failed {
		s.errors++
	}
}

// Skip counts one event under key that was not measured (an action with nothing to act on).
func (r *Recorder) Skip(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seriesLocked(key).skipped++
}

// seriesLocked returns key's series, creating it; the caller holds mu.
func (r *Recorder) seriesLocked(key string) *series {
	s := r.s[key]
	if s == nil {
		s = &series{h: getHist()}
		r.s[key] = s
	}
	return s
}

// Snapshot returns a copy of everything recorded so far.
func (r *Recorder) Snapshot() Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := Snapshot{}
	for k, s := range r.s {
		out[k] = Series{Hist: hdrhistogram.Import(s.h.Export()), Errors: s.errors, Skipped: s.skipped}
	}
	return out
}

// Take returns everything recorded since the last Take (or since the start) and starts
// afresh: the recorder of a sliding window, such as live progress.
func (r *Recorder) Take() Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := Snapshot{}
	for k, s := range r.s {
		out[k] = Series{Hist: s.h, Errors: s.errors, Skipped: s.skipped}
	}
	r.s = map[string]*series{}
	return out
}

// Series is one key's histogram and error count.
type Series struct {
	Hist    *hdrhistogram.Histogram
	Errors  int64
	Skipped int64 // events counted but not measured
}

// Snapshot maps keys to their series. Merge combines snapshots from several recorders.
type Snapshot map[string]Series

// Merge adds other into s, key by key, exactly.
func (s Snapshot) Merge(other Snapshot) {
	for k, o := range other {
		cur, ok := s[k]
		if !ok {
			cur = Series{Hist: newHist()}
		}
		cur.Hist.Merge(o.Hist)
		cur.Errors += o.Errors
		cur.Skipped += o.Skipped
		s[k] = cur
	}
}

// Merged is every series whose key starts with prefix ("route ": all requests) merged into
// one, and false when there is none.
func (s Snapshot) Merged(prefix string) (Series, bool) {
	all := Snapshot{}
	for k, v := range s {
		if strings.HasPrefix(k, prefix) {
			all.Merge(Snapshot{"all": v})
		}
	}
	v, ok := all["all"]
	return v, ok
}

// Summary is a row of a report: one key's count, errors and percentiles.
type Summary struct {
	Key     string        `json:"key"`
	Count   int64         `json:"count"`
	Errors  int64         `json:"errors"`
	Skipped int64         `json:"skipped"`
	Mean    time.Duration `json:"mean_ns"`
	Min     time.Duration `json:"min_ns"`
	P50     time.Duration `json:"p50_ns"`
	P90     time.Duration `json:"p90_ns"`
	P99     time.Duration `json:"p99_ns"`
	Max     time.Duration `json:"max_ns"`
}

// Summaries returns one Summary per key, sorted by key.
func (s Snapshot) Summaries() []Summary {
	out := make([]Summary, 0, len(s))
	for k, v := range s {
		us := func(x int64) time.Duration { return time.Duration(x) * time.Microsecond }
		out = append(out, Summary{Key: k, Count: v.Hist.TotalCount(), Errors: v.Errors, Skipped: v.Skipped,
			Mean: time.Duration(v.Hist.Mean() * float64(time.Microsecond)), Min: us(v.Hist.Min()),
			P50: us(v.Hist.ValueAtQuantile(50)), P90: us(v.Hist.ValueAtQuantile(90)),
			P99: us(v.Hist.ValueAtQuantile(99)), Max: us(v.Hist.Max())})
	}
	slices.SortFunc(out, func(a, b Summary) int {
		if a.Key < b.Key {
			return -1
		}
		if a.Key > b.Key {
			return 1
		}
		return 0
	})
	return out
}

// Sparse is a snapshot in its compact form: per key, the non-zero buckets as index, count
// pairs (the index is into the counts of an HdrHistogram of 1 µs to 60 s at 3 significant
// digits, the settings every histogram here shares), so a second of a few hundred requests
// is a few hundred bytes. Agents keep their intervals so, send them as JSON in this shape,
// and hand them to an in-process coordinator as they are: Snapshot turns it back.
type Sparse map[string]SparseSeries

// SparseSeries is one key of a Sparse snapshot.
type SparseSeries struct {
	Buckets []int64 `json:"buckets"`
	Errors  int64   `json:"errors"`
	Skipped int64   `json:"skipped"`
}

// numCounts is the length of the counts array of every histogram here.
var numCounts = len(newHist().Export().Counts)

// Sparse returns the snapshot in its compact form, losslessly.
func (s Snapshot) Sparse() Sparse {
	m := make(Sparse, len(s))
	for k, v := range s {
		w := SparseSeries{Errors: v.Errors, Skipped: v.Skipped, Buckets: []int64{}}
		if v.Hist != nil {
			for i, c := range v.Hist.Export().Counts {
				if c != 0 {
					w.Buckets = append(w.Buckets, int64(i), c)
				}
			}
		}
		m[k] = w
	}
	return m
}

// Snapshot rebuilds the histograms, checking every bucket index and count (a Sparse may
// come from another process).
func (m Sparse) Snapshot() (Snapshot, error) {
	out := make(Snapshot, len(m))
	for k, w := range m {
		if w.Errors < 0 || w.Skipped < 0 {
			return nil, fmt.Errorf("histogram %q: negative count (errors %d, skipped %d)", k, w.Errors, w.Skipped)
		}
		if len(w.Buckets)%2 != 0 {
			return nil, fmt.Errorf("histogram %q: buckets has %d numbers; want index, count pairs", k, len(w.Buckets))
		}
		snap := newHist().Export()
		last, total := int64(-1), int64(0)
		for i := 0; i < len(w.Buckets); i += 2 {
			idx, c := w.Buckets[i], w.Buckets[i+1]
			switch {
			case idx <= last || idx >= int64(numCounts):
				return nil, fmt.Errorf("histogram %q: bucket index %d out of order or outside [0, %d)", k, idx, numCounts)
			case c <= 0 || total+c < total:
				return nil, fmt.Errorf("histogram %q: bucket %d count %d must be > 0 (and the total must fit in 64 bits)", k, idx, c)
			}
			snap.Counts[idx] = c
			last, total = idx, total+c
		}
		out[k] = Series{Hist: hdrhistogram.Import(snap), Errors: w.Errors, Skipped: w.Skipped}
	}
	return out, nil
}

// MarshalJSON encodes the snapshot losslessly and sparsely (as Sparse), so agents can send
// it to a coordinator.
func (s Snapshot) MarshalJSON() ([]byte, error) { return json.Marshal(s.Sparse()) }

// UnmarshalJSON decodes a snapshot, checking every bucket index and count.
func (s *Snapshot) UnmarshalJSON(b []byte) error {
	var m Sparse
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	out, err := m.Snapshot()
	if err != nil {
		return err
	}
	*s = out
	return nil
}
