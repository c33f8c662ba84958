package basicrun

import (
	"testing"
	"time"
)

func TestRampUsers(t *testing.T) {
	for _, tc := range []struct {
		n       int
		rate    float64
		elapsed time.Duration
		want    int
	}{
		{10, 0, 0, 10},
		{10, 2, 0, 1},
		{10, 2, 499 * time.Millisecond, 1},
		{10, 2, 500 * time.Millisecond, 2},
		{10, 2, 4500 * time.Millisecond, 10},
		{10, 2, time.Hour, 10},
		{10, 0.5, 3 * time.Second, 2},
		{10, 1000, 10 * time.Millisecond, 10},
	} {
		if got := RampUsers(tc.n, tc.rate, tc.elapsed); got != tc.want {
			t.Errorf("RampUsers(%d, %v, %v) = %d; want %d", tc.n, tc.rate, tc.elapsed, got, tc.want)
		}
	}
}
