package mmsim

import (
	"fmt"
	"testing"
)

func TestParseSearch(t *testing.T) {
	for _, tc := range []struct {
		terms string
		or    bool
		msg   string
		want  bool
	}{
		{"hello world", false, "well hello there world", true},
		{"hello world", false, "hello there", false},
		{"hello world", true, "hello there", true},
		{`"load test"`, false, "a load test ran", true},
		{`"load test"`, false, "test the load", false},
		{"load -slow", false, "a slow load", false},
		{"load -slow", false, "a fast load", true},
		{"from:@bob in:~town-square on:2026-01-01 x", false, "x marks", true},
		{"-only", false, "nothing here", true},
	} {
		q := parseSearch(tc.terms, tc.or)
		if got := q.match(tc.msg); got != tc.want {
			t.Errorf("parseSearch(%q, or=%v).match(%q) = %v; want %v (parsed %s)", tc.terms, tc.or, tc.msg, got, tc.want, fmt.Sprintf("%+v", q))
		}
	}
	q := parseSearch("from:@Bob in:~town-square", false)
	if q.from != "bob" || q.in != "town-square" {
		t.Errorf("filters parsed as from=%q in=%q; want bob, town-square", q.from, q.in)
	}
}
