package histogram

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

func TestRecorder_Summaries(t *testing.T) {
	r := NewRecorder()
	for i := 1; i <= 1000; i++ {
		r.Record("GET /users/{user_id}", time.Duration(i)*time.Millisecond, i%100 == 0)
	}
	r.Record("POST /posts", 90*time.Second, true) // clamped to 60 s
	sums := r.Snapshot().Summaries()
	if len(sums) != 2 || sums[0].Key != "GET /users/{user_id}" {
		t.Fatalf("Summaries = %+v", sums)
	}
	g := sums[0]
	within := func(got, want time.Duration) bool { return got >= want*999/1000 && got <= want*1001/1000 }
	if g.Count != 1000 || g.Errors != 10 || !within(g.P50, 500*time.Millisecond) || !within(g.P99, 990*time.Millisecond) || !within(g.Max, time.Second) {
		t.Errorf("summary %+v; want 1000 values, 10 errors, p50 500ms, p99 990ms, max 1s (±0.1%%)", g)
	}
	if p := sums[1]; p.Max < 59*time.Second || p.Max > 61*time.Second || p.Errors != 1 {
		t.Errorf("clamped summary %+v; want max 60s and 1 error", p)
	}
}

// TestSnapshot_MergeIsExact checks that merging agents' snapshots equals recording everything
// in one recorder, and that it survives JSON.
func TestSnapshot_MergeIsExact(t *testing.T) {
	all := NewRecorder()
	parts := []*Recorder{NewRecorder(), NewRecorder(), NewRecorder()}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 30000 {
		d := time.Duration(rng.ExpFloat64() * float64(20*time.Millisecond))
		key := []string{"a", "b", "c"}[i%3]
		failed := rng.IntN(50) == 0
		all.Record(key, d, failed)
		parts[rng.IntN(3)].Record(key, d, failed)
	}
	merged := Snapshot{}
	for _, p := range parts {
		b, err := json.Marshal(p.Snapshot())
		if err != nil {
			t.Fatal(err)
		}
		var back Snapshot
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		merged.Merge(back)
	}
	want := all.Snapshot()
	for k, w := range want {
		got := merged[k]
		if !got.Hist.Equals(w.Hist) || got.Errors != w.Errors {
			t.Errorf("key %s: merged %d values %d errors; want %d values %d errors, identical buckets",
				k, got.Hist.TotalCount(), got.Errors, w.Hist.TotalCount(), w.Errors)
		}
	}
}

func FuzzSnapshotDecode(f *testing.F) {
	r := NewRecorder()
	r.Record("k", time.Millisecond, false)
	good, _ := json.Marshal(r.Snapshot())
	f.Add(good)
	f.Add([]byte(`{"k":{"hist":null}}`))
	f.Add([]byte(`{"k":{"hist":{"LowestTrackableValue":1,"HighestTrackableValue":60000000,"SignificantFigures":3,"Counts":[1]}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Snapshot
		if json.Unmarshal(b, &s) == nil {
			s.Summaries() // a decoded snapshot must be usable
			Snapshot{}.Merge(s)
		}
	})
}
