// Package histogram records latencies in HDR histograms, one per key (an action name or a
// route template), and produces snapshots that merge across agents without loss.
package histogram

import (
	"encoding/json"
	"fmt"
	"slices"
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
		s = &series{h: newHist()}
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

// Summary is a row of a report: one key's count, errors and percentiles.
type Summary struct {
	Key     string        `json:"key"`
	Count   int64         `json:"count"`
	Errors  int64         `json:"errors"`
	Skipped int64         `json:"skipped"`
	Mean    time.Duration `json:"mean_ns"`
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
			Mean: time.Duration(v.Hist.Mean() * float64(time.Microsecond)),
			P50:  us(v.Hist.ValueAtQuantile(50)), P90: us(v.Hist.ValueAtQuantile(90)),
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

// wire is a series as JSON: the HDR snapshot (bucket counts) and the error count.
type wire struct {
	Hist    *hdrhistogram.Snapshot `json:"hist"`
	Errors  int64                  `json:"errors"`
	Skipped int64                  `json:"skipped"`
}

// MarshalJSON encodes the snapshot losslessly, so agents can send it to a coordinator.
func (s Snapshot) MarshalJSON() ([]byte, error) {
	m := make(map[string]wire, len(s))
	for k, v := range s {
		m[k] = wire{Hist: v.Hist.Export(), Errors: v.Errors, Skipped: v.Skipped}
	}
	return json.Marshal(m)
}

// UnmarshalJSON decodes a snapshot, checking that every histogram has the shared settings.
func (s *Snapshot) UnmarshalJSON(b []byte) error {
	var m map[string]wire
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	out := make(Snapshot, len(m))
	for k, w := range m {
		h := w.Hist
		if h == nil || h.LowestTrackableValue != lowest || h.HighestTrackableValue != highest || h.SignificantFigures != significant {
			return fmt.Errorf("histogram %q: settings differ from 1µs-60s at 3 digits; cannot merge exactly", k)
		}
		want := len(newHist().Export().Counts)
		if len(h.Counts) != want {
			return fmt.Errorf("histogram %q: %d counts; want %d", k, len(h.Counts), want)
		}
		if w.Errors < 0 || w.Skipped < 0 {
			return fmt.Errorf("histogram %q: negative count (errors %d, skipped %d)", k, w.Errors, w.Skipped)
		}
		out[k] = Series{Hist: hdrhistogram.Import(h), Errors: w.Errors, Skipped: w.Skipped}
	}
	*s = out
	return nil
}
