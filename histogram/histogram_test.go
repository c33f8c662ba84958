package histogram

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
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
	f.Add([]byte(`{"k":{"buckets":null}}`))
	f.Add([]byte(`{"k":{"buckets":[5,1,4,1]}}`))
	f.Add([]byte(`{"k":{"buckets":[1,9223372036854775807,2,1]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Snapshot
		if json.Unmarshal(b, &s) == nil {
			s.Summaries() // a decoded snapshot must be usable
			Snapshot{}.Merge(s)
		}
	})
}

func TestSnapshot_DecodeRejects(t *testing.T) {
	for in, want := range map[string]string{
		`{"k":{"buckets":[1]}}`:                         "index, count pairs",
		`{"k":{"buckets":[5,1,4,1]}}`:                   "out of order",
		`{"k":{"buckets":[99999999,1]}}`:                "outside",
		`{"k":{"buckets":[3,0]}}`:                       "must be > 0",
		`{"k":{"buckets":[],"errors":-1}}`:              "negative",
		`{"k":{"buckets":[1,9223372036854775807,2,1]}}`: "64 bits",
	} {
		var s Snapshot
		err := json.Unmarshal([]byte(in), &s)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v; want one that says %q", in, err, want)
		}
	}
}

// TestSnapshot_WireIsSparse checks that a small snapshot encodes small: agents send one
// every second.
func TestSnapshot_WireIsSparse(t *testing.T) {
	r := NewRecorder()
	for i := range 100 {
		r.Record("route GET /users/me", time.Duration(i+1)*time.Millisecond, false)
	}
	b, err := json.Marshal(r.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 2000 {
		t.Errorf("100 values encode to %d bytes; want a sparse encoding under 2000", len(b))
	}
}

// TestRelease checks that a released snapshot's histograms come back empty.
func TestRelease(t *testing.T) {
	r := NewRecorder()
	r.Record("a", time.Second, true)
	s := r.Take()
	s.Release()
	if len(s) != 0 {
		t.Fatalf("released snapshot still has %d keys", len(s))
	}
	r.Record("b", time.Millisecond, false)
	got := r.Take()
	if n := got["b"].Hist.TotalCount(); n != 1 || got["b"].Errors != 0 {
		t.Fatalf("after reuse: %d values, %d errors; want 1, 0", n, got["b"].Errors)
	}
}
