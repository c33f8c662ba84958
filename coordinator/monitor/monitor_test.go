package monitor

import (
	"strings"
	"testing"
	"time"
)

func TestAlignWindow(t *testing.T) {
	got, err := AlignWindow(`histogram_quantile(0.99, sum(rate(x_bucket[1m])) by (le)) + max_over_time(y[5m:10s])`, 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got, "1m") || strings.Contains(got, "5m") || strings.Count(got, "15s") != 2 {
		t.Fatalf("aligned: %s", got)
	}
}
