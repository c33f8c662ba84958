package mmsim

import (
	"github.com/loadtest/loadtest/mattermost"

	"encoding/json"
	"errors"
	"net/http"
)

// AppError is Mattermost's error body. Every response with a status of 400 or more carries one.
type AppError = mattermost.AppError

// apiError is a handler-level failure with its status code.
type apiError struct {
	status int
	id     string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badParam(name, msg string) error {
	return &apiError{status: http.StatusBadRequest, id: "api.context.invalid_url_param.app_error",
		msg: "invalid " + name + " parameter: " + msg}
}

func badBody(msg string) error {
	return &apiError{status: http.StatusBadRequest, id: "api.context.invalid_body_param.app_error", msg: msg}
}

func forbidden(msg string) error {
	return &apiError{status: http.StatusForbidden, id: "api.context.permissions.app_error", msg: msg}
}

// statusOf maps an error to its HTTP status and AppError id. It is the only place that does.
func statusOf(err error) (int, string) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.status, ae.id
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, "api.context.request_body_too_large.app_error"
	}
	id := "app.internal.app_error"
	var se *storeError
	if errors.As(err, &se) {
		id = se.id
	}
	switch {
	case errors.Is(err, errNotFound):
		return http.StatusNotFound, id
	case errors.Is(err, errConflict), errors.Is(err, errInvalid):
		// Mattermost answers duplicates (username taken, team exists) with 400, not 409.
		return http.StatusBadRequest, id
	case errors.Is(err, errForbidden):
		return http.StatusForbidden, id
	case errors.Is(err, errUnauthorized):
		return http.StatusUnauthorized, id
	}
	return http.StatusInternalServerError, id
}

// writeError writes err as an AppError with the status statusOf gives it.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, id := statusOf(err)
	msg := err.Error()
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		msg = "request body is larger than the limit of " + itoa(mbe.Limit) + " bytes"
	}
	writeJSON(w, status, AppError{ID: id, Message: msg, RequestID: w.Header().Get("X-Request-Id"),
		StatusCode: status, Where: r.URL.Path})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client may have gone; nothing to do about it
}
