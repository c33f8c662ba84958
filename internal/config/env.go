package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Env overrides fields of dst (a pointer to a config struct) from environment variables, one
// rule for every field of every binary: PREFIX_ and the field's path in the file, upper-case,
// with "_" between the parts. LOADTEST_CONNECTIONCONFIGURATION_SERVERURL sets
// ConnectionConfiguration.ServerURL, as MM_SERVICESETTINGS_SITEURL sets Mattermost's
// ServiceSettings.SiteURL. A string, number or boolean is written plainly; a list, map or
// object is JSON (LOADTEST_THRESHOLDS='["p99<500ms"]').
//
// environ is os.Environ(). A value the field cannot take is an error. A variable with the
// prefix that names no field (other than OtherVariables) is not: a shell may hold others
// (a script's MMSIM_PORT), so it is returned in unknown, with the nearest field named, for
// the binary to warn of. applied lists the variables used, sorted, for the binary to say so.
func Env(prefix string, dst any, environ []string, ignore ...string) (applied, unknown []string, err error) {
	ignore = append(ignore, OtherVariables...)
	fields := map[string]envField{}
	collect(reflect.ValueOf(dst).Elem(), prefix, "", fields)
	var errs []error
	for _, kv := range environ {
		name, val, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, prefix+"_") || slices.Contains(ignore, name) {
			continue
		}
		f, ok := fields[name]
		if !ok {
			msg := fmt.Sprintf("environment variable %s names no config field", name)
			if near := Nearest(name, envNames(fields)); near != "" {
				msg += fmt.Sprintf(" (did you mean %s, for %s?)", near, fields[near].path)
			}
			unknown = append(unknown, msg)
			continue
		}
		if err := setFromEnv(f.v, val); err != nil {
			errs = append(errs, &FieldError{Field: f.path, Value: val, Rule: "from " + name + ": " + err.Error()})
			continue
		}
		applied = append(applied, name)
	}
	slices.Sort(applied)
	slices.Sort(unknown)
	if len(errs) > 0 {
		return nil, unknown, errors.Join(errs...)
	}
	return applied, unknown, nil
}

// OtherVariables are the environment variables of the binaries (and their tests) that are
// not config fields, though they share a prefix.
var OtherVariables = []string{"LOADTEST_AGENT_TOKEN", "LOADTEST_UPDATE_DEFAULTS", "LOADTEST_KEEP_SCREENSHOT"}

type envField struct {
	path string // as in the file: "ConnectionConfiguration.ServerURL"
	v    reflect.Value
}

// collect maps the environment name of every field under v (a struct) to the field.
func collect(v reflect.Value, env, path string, out map[string]envField) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		name, ok := jsonName(sf)
		if !ok {
			continue
		}
		p := name
		if path != "" {
			p = path + "." + name
		}
		e := env + "_" + strings.ToUpper(name)
		fv := v.Field(i)
		if sf.Anonymous && fv.Kind() == reflect.Struct {
			collect(fv, env, path, out)
			continue
		}
		if fv.Kind() == reflect.Struct && !implementsUnmarshaler(fv) {
			collect(fv, e, p, out)
			continue
		}
		out[e] = envField{path: p, v: fv}
	}
}

func implementsUnmarshaler(v reflect.Value) bool {
	_, ok := v.Addr().Interface().(json.Unmarshaler)
	return ok
}

func envNames(fields map[string]envField) []string {
	out := make([]string, 0, len(fields))
	for k := range fields {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// setFromEnv sets v from the text of an environment variable.
func setFromEnv(v reflect.Value, s string) error {
	if v.Type() == reflect.TypeFor[time.Duration]() {
		if d, err := time.ParseDuration(s); err == nil {
			v.SetInt(int64(d))
			return nil
		}
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("must be true or false")
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("must be an integer")
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(s, 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("must be a whole number >= 0")
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(s, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("must be a number")
		}
		v.SetFloat(f)
	default: // lists, maps, objects, pointers: JSON, with the file's rules
		n := reflect.New(v.Type())
		dec := json.NewDecoder(bytes.NewReader([]byte(s)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(n.Interface()); err != nil {
			return fmt.Errorf("must be JSON for %s: %v", typeName(v.Type()), err)
		}
		v.Set(n.Elem())
	}
	return nil
}

// FromEnv is Env on the process's environment, for a binary: it says on w which variables it
// applied ("loadtest: from the environment: LOADTEST_...") and warns of those it ignored.
func FromEnv(w io.Writer, who, prefix string, dst any) error {
	applied, unknown, err := Env(prefix, dst, os.Environ())
	for _, u := range unknown {
		fmt.Fprintf(w, "%s: warning: %s; ignored\n", who, u)
	}
	if len(applied) > 0 {
		fmt.Fprintf(w, "%s: from the environment: %s\n", who, strings.Join(applied, ", "))
	}
	return err
}
