package mmsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// decodeJSON reads the request body into v. Malformed JSON is a 400 that says where it broke;
// a body over the limit is a 413.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			return err
		case errors.Is(err, io.EOF):
			return badBody("request body is empty; a JSON value is required")
		case errors.Is(err, io.ErrUnexpectedEOF):
			return badBody("request body is not valid JSON: it ends in the middle of a value")
		case errors.As(err, &syn):
			return badBody(fmt.Sprintf("request body is not valid JSON at byte %d: %v", syn.Offset, syn))
		case errors.As(err, &typ):
			field := typ.Field
			if field == "" {
				field = "(body)"
			}
			return badBody(fmt.Sprintf("request body field %s: got JSON %s, want %s", field, typ.Value, typ.Type))
		}
		return badBody("request body could not be read: " + err.Error())
	}
	return nil
}

// intQuery reads an integer query parameter in [lo, hi], or def when it is absent.
func intQuery(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo {
		return 0, badParam(name, fmt.Sprintf("%q is not a whole number >= %d", v, lo))
	}
	return min(n, hi), nil
}

func int64Query(r *http.Request, name string) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, badParam(name, fmt.Sprintf("%q is not a timestamp in milliseconds", v))
	}
	return n, nil
}

func boolQuery(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badParam(name, fmt.Sprintf("%q is not true or false", v))
	}
	return b, nil
}

// paging reads page (>= 0) and per_page (1..maxPer, default def).
func paging(r *http.Request, def, maxPer int) (page, perPage int, err error) {
	if page, err = intQuery(r, "page", 0, 0, 1<<30); err != nil {
		return 0, 0, err
	}
	if perPage, err = intQuery(r, "per_page", def, 1, maxPer); err != nil {
		return 0, 0, err
	}
	return page, perPage, nil
}

// idParam reads a path id and checks its format.
func idParam(r *http.Request, name string) (string, error) {
	v := r.PathValue(name)
	if !isID(v) {
		return "", badParam(name, fmt.Sprintf("%q is not a 26-character id", v))
	}
	return v, nil
}

// userParam reads {user_id}, resolving "me" to the caller.
func userParam(r *http.Request, me string) (string, error) {
	if v := r.PathValue("user_id"); v == "me" {
		return me, nil
	}
	return idParam(r, "user_id")
}

// selfParam reads {user_id} and requires it to be the caller: these routes act on the
// caller's own data, as a regular (non-admin) Mattermost session may.
func selfParam(r *http.Request, me string) (string, error) {
	id, err := userParam(r, me)
	if err != nil {
		return "", err
	}
	if id != me {
		return "", forbidden("you may only access your own data at " + r.URL.Path)
	}
	return id, nil
}

// etagJSON writes v with an ETag and answers 304 when the client already has it.
func etagJSON(w http.ResponseWriter, r *http.Request, etag string, v any) {
	w.Header().Set("ETag", etag)
	if match := r.Header.Get("If-None-Match"); match != "" && match == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

var statusOK = map[string]string{"status": "OK"}
