package config

import (
	"strings"
	"testing"
	"time"
)

type envInner struct {
	URL     string
	Timeout int
	Ratio   float64
	On      bool
}

type envCfg struct {
	Conn   envInner
	Tagged string `json:"renamed"`
	List   []string
	Map    map[string]int
	Items  []envInner
	Hidden string `json:"-"`
	Wait   time.Duration
}

func TestEnv(t *testing.T) {
	c := envCfg{Conn: envInner{URL: "http://a", Timeout: 5}, List: []string{"x"}}
	applied, unknown, err := Env("LT", &c, []string{
		"PATH=/bin", "LT_CONN_URL=http://b:8065", "LT_CONN_TIMEOUT=30", "LT_CONN_RATIO=0.5", "LT_CONN_ON=true",
		"LT_RENAMED=yes", `LT_LIST=["p99<1s","error_rate<1%"]`, `LT_MAP={"a":1}`, `LT_ITEMS=[{"URL":"u"}]`,
		"LT_TOKEN=secret", "LT_WAIT=1.5s", "LT_CONN_URLL=http://x", "LT_PORT=8100",
	}, "LT_TOKEN")
	if err != nil {
		t.Fatal(err)
	}
	want := envCfg{Conn: envInner{URL: "http://b:8065", Timeout: 30, Ratio: 0.5, On: true}, Tagged: "yes",
		List: []string{"p99<1s", "error_rate<1%"}, Map: map[string]int{"a": 1}, Items: []envInner{{URL: "u"}}, Wait: 1500 * time.Millisecond}
	if c.Conn != want.Conn || c.Tagged != want.Tagged || strings.Join(c.List, ",") != strings.Join(want.List, ",") ||
		c.Map["a"] != 1 || len(c.Items) != 1 || c.Items[0].URL != "u" || c.Wait != want.Wait {
		t.Errorf("config %+v; want %+v", c, want)
	}
	if len(applied) != 9 || applied[0] != "LT_CONN_ON" {
		t.Errorf("applied %v; want the 9 field variables, sorted", applied)
	}
	if len(unknown) != 2 || unknown[0] != "environment variable LT_CONN_URLL names no config field (did you mean LT_CONN_URL, for Conn.URL?)" ||
		!strings.HasPrefix(unknown[1], "environment variable LT_PORT names no config field") {
		t.Errorf("unknown %q; want the misspelt one with the nearest field, and LT_PORT", unknown)
	}
}

func TestEnv_Errors(t *testing.T) {
	for env, want := range map[string]string{
		"LT_CONN_TIMEOUT=soon":  `Conn.Timeout: from LT_CONN_TIMEOUT: must be an integer, got "soon"`,
		"LT_CONN_ON=maybe":      `Conn.On: from LT_CONN_ON: must be true or false`,
		`LT_ITEMS=[{"Nope":1}]`: `Items: from LT_ITEMS: must be JSON for a list`,
	} {
		c := envCfg{}
		_, _, err := Env("LT", &c, []string{env})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want an error saying %q", env, err, want)
		}
	}
}
