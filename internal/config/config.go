// Package config loads the JSON configuration files of every binary in one way: the caller's
// value already holds the defaults, the file overrides them, unknown fields are errors, and
// validation names the field, the value and the rule it broke.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
)

// Validator is implemented by configuration types that can check themselves once loaded.
type Validator interface {
	Validate() error
}

// FileReader is implemented by configuration types that name other files (scripts, say),
// relative to the config file: Load calls ReadFiles with the file's folder before Validate.
type FileReader interface {
	ReadFiles(dir string) error
}

// Load reads the JSON file at path into dst and validates it. Field names match as
// encoding/json matches them: exactly, or else case-insensitively. dst must point to a value that
// already holds the defaults, so that fields the file leaves out keep them. A missing file, a
// syntax error, a field of the wrong type and an unknown field each produce an error that
// names the file and, where it can, the field and the line.
func Load(path string, dst any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := decode(data, dst, filepath.Dir(path)); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// LoadOptional is Load for the binaries' config flags: path if given, else def if that file
// exists, else nothing (dst keeps its defaults and is validated). It returns the file it
// read, or "".
func LoadOptional(path, def string, dst any) (string, error) {
	if path == "" {
		if _, err := os.Stat(def); errors.Is(err, fs.ErrNotExist) {
			if v, ok := dst.(Validator); ok {
				return "", v.Validate()
			}
			return "", nil
		}
		path = def
	}
	return path, Load(path, dst)
}

// Decode reads one JSON value from r into dst with the same rules as Load: unknown fields are
// rejected, type errors name the field, and dst is validated when it implements Validator.
func Decode(r io.Reader, dst any) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	return decode(data, dst, "")
}

// decode is Decode; when dir is set, files the config names are read from there.
func decode(data []byte, dst any, dir string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return describe(data, err, dst)
	}
	if dec.More() {
		return fmt.Errorf("unexpected data after the JSON value at %s", position(data, dec.InputOffset()))
	}
	if f, ok := dst.(FileReader); ok && dir != "" {
		if err := f.ReadFiles(dir); err != nil {
			return err
		}
	}
	if v, ok := dst.(Validator); ok {
		return v.Validate()
	}
	return nil
}

// describe turns encoding/json's errors into messages that name the field and position.
func describe(data []byte, err error, dst any) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("invalid JSON at %s: %v", position(data, syn.Offset), syn)
	case errors.As(err, &typ):
		return &FieldError{Field: typ.Field, Value: typ.Value, Rule: "must be " + typeName(typ.Type)}
	case errors.Is(err, io.EOF):
		return errors.New("empty input: expected a JSON object")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		var tree any
		if json.Unmarshal(data, &tree) == nil {
			if path, known, ok := findUnknown(tree, reflect.TypeOf(dst), name, ""); ok {
				msg := fmt.Sprintf("unknown field %q", path)
				if near := Nearest(name, known); near != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", near)
				}
				return errors.New(msg + " (the default config lists every field)")
			}
		}
		return fmt.Errorf("unknown field %q (check the spelling against the default config)", name)
	}
	return err
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}

// findUnknown finds the key name in the decoded JSON v that type t has no field for, and
// returns its path (Outer.Inner[2].Name) and the names t knows there.
func findUnknown(v any, t reflect.Type, name, path string) (string, []string, bool) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "", nil, false
	}
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch val := v.(type) {
	case map[string]any:
		switch t.Kind() {
		case reflect.Struct:
			fields := map[string]reflect.StructField{}
			var known []string
			for i := range t.NumField() {
				f := t.Field(i)
				n, ok := jsonName(f)
				if !ok {
					continue
				}
				fields[strings.ToLower(n)] = f
				known = append(known, n)
			}
			if _, ok := val[name]; ok {
				if _, has := fields[strings.ToLower(name)]; !has {
					return join(name), known, true
				}
			}
			for k, sub := range val {
				if f, ok := fields[strings.ToLower(k)]; ok {
					if p, kn, found := findUnknown(sub, f.Type, name, join(f.Name)); found {
						return p, kn, true
					}
				}
			}
		case reflect.Map:
			for k, sub := range val {
				if p, kn, found := findUnknown(sub, t.Elem(), name, join(k)); found {
					return p, kn, true
				}
			}
		}
	case []any:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, sub := range val {
				if p, kn, found := findUnknown(sub, t.Elem(), name, fmt.Sprintf("%s[%d]", path, i)); found {
					return p, kn, true
				}
			}
		}
	}
	return "", nil, false
}

// jsonName is the name encoding/json gives struct field f, and false for a field it skips
// (unexported, or tagged "-").
func jsonName(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	switch tag {
	case "-":
		return "", false
	case "":
		return f.Name, true
	}
	return tag, true
}

// Nearest returns the known name closest to name (by edit distance, ignoring case), or ""
// when none is close: within a third of its length, and at least 2 edits.
func Nearest(name string, known []string) string {
	best, bestD := "", max(2, len(name)/3)+1
	for _, k := range known {
		if d := distance(strings.ToLower(name), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// position renders a byte offset as "line L, column C".
func position(data []byte, off int64) string {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	line, col := 1, 1
	for _, b := range data[:off] {
		if b == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("line %d, column %d", line, col)
}

// FieldError says that one configuration field holds a value its rule does not allow.
type FieldError struct {
	Field string // dotted path, e.g. "UsersConfiguration.MaxActiveUsers"
	Value any    // the offending value, as decoded
	Rule  string // what is allowed, e.g. "must be > 0"
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s: %s, got %s", e.Field, e.Rule, render(e.Value))
}

func render(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case nil:
		return "nothing"
	}
	return fmt.Sprintf("%v", v)
}

// Checker collects FieldErrors so that Validate reports every bad field at once.
// The zero value is ready to use.
type Checker struct {
	errs []error
}

// Check records a FieldError when ok is false.
func (c *Checker) Check(ok bool, field string, value any, rule string) {
	if !ok {
		c.errs = append(c.errs, &FieldError{Field: field, Value: value, Rule: rule})
	}
}

// Add records err, prefixing every FieldError inside it with prefix (a parent field name).
func (c *Checker) Add(prefix string, err error) {
	if err == nil {
		return
	}
	for _, e := range unwrapAll(err) {
		var fe *FieldError
		if errors.As(e, &fe) && prefix != "" {
			cp := *fe
			cp.Field = prefix + "." + fe.Field
			e = &cp
		}
		c.errs = append(c.errs, e)
	}
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unwrapAll(e)...)
		}
		return out
	}
	return []error{err}
}

// Err returns nil when every check passed, or all failures joined.
func (c *Checker) Err() error {
	return errors.Join(c.errs...)
}

// OneOf reports whether v is one of allowed.
func OneOf[T comparable](v T, allowed ...T) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// HTTPURL says whether s is an absolute http or https URL with a host.
func HTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Host != "" && (strings.EqualFold(u.Scheme, "http") || strings.EqualFold(u.Scheme, "https"))
}
