package usermetrics

import (
	"fmt"
	"testing"
)

func TestCounters_TakeAndCap(t *testing.T) {
	m := New(nil, nil)
	if c := m.TakeCounters(); c != nil {
		t.Fatalf("nothing added, got %v", c)
	}
	m.AddCounter("a", 2)
	m.AddCounter("a", 3)
	m.AddCounter("b", 1)
	if c := m.TakeCounters(); len(c) != 2 || c["a"] != 5 || c["b"] != 1 {
		t.Fatalf("TakeCounters = %v, want a 5, b 1", c)
	}
	if c := m.TakeCounters(); c != nil {
		t.Fatalf("a second Take = %v, want nothing new", c)
	}
	for i := 2; i < MaxCounterNames; i++ {
		if !m.AddCounter(fmt.Sprint(i), 1) {
			t.Fatalf("counter %d refused below the cap", i)
		}
	}
	if m.AddCounter("one too many", 1) {
		t.Error("counter number MaxCounterNames+1 was accepted")
	}
	if !m.AddCounter("a", 1) {
		t.Error("a known counter was refused at the cap")
	}
}
