package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type inner struct {
	Level string
}

type sample struct {
	Name   string
	Count  int
	Ratio  float64
	Inner  inner
	Values []int
}

func (s *sample) Validate() error {
	var c Checker
	c.Check(s.Count > 0, "Count", s.Count, "must be > 0")
	c.Check(OneOf(s.Inner.Level, "low", "high"), "Inner.Level", s.Inner.Level, `must be "low" or "high"`)
	return c.Err()
}

func defaults() sample { return sample{Name: "default", Count: 3, Inner: inner{Level: "low"}} }

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    sample
		wantErr []string // substrings the error must contain; nil means no error
	}{
		{name: "defaults kept", in: `{"Ratio": 0.5}`, want: sample{Name: "default", Count: 3, Ratio: 0.5, Inner: inner{Level: "low"}}},
		{name: "nested override", in: `{"Inner": {"Level": "high"}}`, want: sample{Name: "default", Count: 3, Inner: inner{Level: "high"}}},
		{name: "unknown field", in: `{"Nmae": "x"}`, wantErr: []string{`unknown field "Nmae" (did you mean "Name"?)`}},
		{name: "unknown nested field", in: `{"Inner": {"Lvl": "x"}}`, wantErr: []string{`unknown field "Inner.Lvl" (did you mean "Level"?)`}},
		{name: "unknown field with no near name", in: `{"Inner": {"Colour": "x"}}`, wantErr: []string{`unknown field "Inner.Colour" (the default config lists every field)`}},
		{name: "wrong type", in: `{"Count": "three"}`, wantErr: []string{"Count", "whole number", "string"}},
		{name: "wrong nested type", in: `{"Inner": {"Level": 4}}`, wantErr: []string{"Inner.Level", "must be a string"}},
		{name: "syntax error with line", in: "{\n  \"Count\": 3,\n  oops\n}", wantErr: []string{"line 3"}},
		{name: "trailing data", in: `{} {}`, wantErr: []string{"unexpected data"}},
		{name: "empty", in: ``, wantErr: []string{"empty"}},
		{name: "validation names every bad field", in: `{"Count": 0, "Inner": {"Level": "mid"}}`,
			wantErr: []string{"Count: must be > 0, got 0", `Inner.Level: must be "low" or "high", got "mid"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := defaults()
			err := Decode(strings.NewReader(tc.in), &got)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Decode(%q) = %v; want no error", tc.in, err)
				}
				if got.Name != tc.want.Name || got.Count != tc.want.Count || got.Ratio != tc.want.Ratio || got.Inner != tc.want.Inner {
					t.Errorf("Decode(%q) = %+v; want %+v", tc.in, got, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Decode(%q) = nil; want an error mentioning %q", tc.in, tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Decode(%q) = %q; want it to mention %q", tc.in, err, w)
				}
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.json")
	if err := os.WriteFile(path, []byte(`{"Count": -1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := defaults()
	err := Load(path, &s)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "Count") {
		t.Errorf("Load = %v; want an error naming the file and the field", err)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "Count" || fe.Value != -1 {
		t.Errorf("Load error %v does not unwrap to FieldError{Count, -1}", err)
	}
	if err := Load(filepath.Join(dir, "missing.json"), &s); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("Load(missing) = %v; want an error naming the file", err)
	}
}

func TestChecker_AddPrefixes(t *testing.T) {
	var inner Checker
	inner.Check(false, "Level", "x", "must be set")
	var outer Checker
	outer.Add("LogSettings", inner.Err())
	var fe *FieldError
	if err := outer.Err(); !errors.As(err, &fe) || fe.Field != "LogSettings.Level" {
		t.Errorf("Add prefixed error = %v; want field LogSettings.Level", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(`{"Count": 1}`)
	f.Add(`{"Inner": {"Level": "high"}, "Values": [1,2]}`)
	f.Add(`[`)
	f.Fuzz(func(t *testing.T, in string) {
		s := defaults()
		_ = Decode(strings.NewReader(in), &s) // must not panic
	})
}

// TestLoadOptional: the flag's file first, else the default path if it exists, else the
// defaults (validated).
func TestLoadOptional(t *testing.T) {
	dir := t.TempDir()
	def := filepath.Join(dir, "def.json")
	given := filepath.Join(dir, "given.json")
	os.WriteFile(given, []byte(`{"Name":"given"}`), 0o644)
	var v struct{ Name string }
	if used, err := LoadOptional("", def, &v); err != nil || used != "" || v.Name != "" {
		t.Fatalf("no files: %q %v %+v", used, err, v)
	}
	os.WriteFile(def, []byte(`{"Name":"def"}`), 0o644)
	if used, err := LoadOptional("", def, &v); err != nil || used != def || v.Name != "def" {
		t.Fatalf("default file: %q %v %+v", used, err, v)
	}
	if used, err := LoadOptional(given, def, &v); err != nil || used != given || v.Name != "given" {
		t.Fatalf("given file: %q %v %+v", used, err, v)
	}
	if _, err := LoadOptional(filepath.Join(dir, "missing.json"), def, &v); err == nil {
		t.Fatal("a missing file named by the flag is not an error")
	}
}
