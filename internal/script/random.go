package script

import (
	"encoding/json"
	"fmt"
	"math"

	"go.starlark.net/starlark"
)

// random_int(lo, hi) returns an int in [lo, hi].
func randomInt(s *session, b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
	var lo, hi int64
	if err := starlark.UnpackArgs(b.Name(), args, kw, "lo", &lo, "hi", &hi); err != nil {
		return nil, err
	}
	if hi < lo || hi-lo == math.MaxInt64 {
		return nil, fmt.Errorf("random_int: need lo <= hi (and a span below 2^63), got %d, %d", lo, hi)
	}
	return starlark.MakeInt64(lo + s.rng.Int64N(hi-lo+1)), nil
}

// random_float(lo=0.0, hi=1.0) returns a float in [lo, hi).
func randomFloat(s *session, b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
	lo, hi := 0.0, 1.0
	if err := starlark.UnpackArgs(b.Name(), args, kw, "lo?", &lo, "hi?", &hi); err != nil {
		return nil, err
	}
	if !(hi >= lo) {
		return nil, fmt.Errorf("random_float: need lo <= hi, got %g, %g", lo, hi)
	}
	return starlark.Float(lo + (hi-lo)*s.rng.Float64()), nil
}

// random_choice(seq) returns one element of a non-empty list, tuple or string.
func randomChoice(s *session, b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
	var seq starlark.Indexable
	if err := starlark.UnpackArgs(b.Name(), args, kw, "seq", &seq); err != nil {
		return nil, err
	}
	if seq.Len() == 0 {
		return nil, fmt.Errorf("random_choice: the sequence is empty")
	}
	return seq.Index(s.rng.IntN(seq.Len())), nil
}

const alphanumeric = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// random_string(n, alphabet=letters and digits) returns n random characters of alphabet.
func randomString(s *session, b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
	var n int
	alphabet := alphanumeric
	if err := starlark.UnpackArgs(b.Name(), args, kw, "n", &n, "alphabet?", &alphabet); err != nil {
		return nil, err
	}
	if n < 0 || n > 1<<20 {
		return nil, fmt.Errorf("random_string: n must be in [0, 1048576], got %d", n)
	}
	runes := []rune(alphabet)
	if len(runes) == 0 {
		return nil, fmt.Errorf("random_string: the alphabet is empty")
	}
	out := make([]rune, n)
	for i := range out {
		out[i] = runes[s.rng.IntN(len(runes))]
	}
	return starlark.String(string(out)), nil
}

// uuid() returns a random (version 4) UUID.
func newUUID(s *session, b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kw); err != nil {
		return nil, err
	}
	var u [16]byte
	for i := 0; i < 16; i += 8 {
		v := s.rng.Uint64()
		for j := range 8 {
			u[i+j] = byte(v >> (8 * j))
		}
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return starlark.String(fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])), nil
}

// toStarlark converts a JSON-shaped Go value (a script's Params) to Starlark.
func toStarlark(v any) (starlark.Value, error) {
	switch v := v.(type) {
	case nil:
		return starlark.None, nil
	case bool:
		return starlark.Bool(v), nil
	case string:
		return starlark.String(v), nil
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return starlark.MakeInt64(int64(v)), nil
		}
		return starlark.Float(v), nil
	case int:
		return starlark.MakeInt(v), nil
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return starlark.MakeInt64(i), nil
		}
		f, err := v.Float64()
		return starlark.Float(f), err
	case []any:
		l := make([]starlark.Value, len(v))
		for i, e := range v {
			x, err := toStarlark(e)
			if err != nil {
				return nil, err
			}
			l[i] = x
		}
		return starlark.NewList(l), nil
	case map[string]any:
		d := starlark.NewDict(len(v))
		for k, e := range v {
			x, err := toStarlark(e)
			if err != nil {
				return nil, err
			}
			_ = d.SetKey(starlark.String(k), x)
		}
		return d, nil
	default:
		return nil, fmt.Errorf("unsupported value %v (%T)", v, v)
	}
}
