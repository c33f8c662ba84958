package api

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/loadtest/loadtest/agent"
)

// TestStatusCodes: every kind of agent error has one status code, the client reads each
// code back as the same kind, a wrapped error keeps its code, and any other error is a 500.
func TestStatusCodes(t *testing.T) {
	want := map[error]int{agent.ErrBadRequest: 400, agent.ErrTooLarge: 413, agent.ErrUnauthorized: 401,
		agent.ErrNotFound: 404, agent.ErrNotAllowed: 405, agent.ErrConflict: 409}
	for kind, code := range want {
		err := fmt.Errorf("creating lt1: %w", agent.Errorf(kind, "boom"))
		if got := StatusCode(err); got != code {
			t.Errorf("%v: status %d; want %d", kind, got, code)
		}
		back := &agent.Error{Kind: kindOf(code), Message: "boom"}
		if !errors.Is(back, kind) {
			t.Errorf("%d read back as %v; want %v", code, back.Kind, kind)
		}
	}
	if !errors.Is(agent.Errorf(agent.ErrTooLarge, "x"), agent.ErrBadRequest) {
		t.Error("a body too large is not a bad request")
	}
	if got := StatusCode(errors.New("disk full")); got != http.StatusInternalServerError {
		t.Errorf("an internal error: status %d; want 500", got)
	}
	if k := kindOf(http.StatusBadGateway); k != nil {
		t.Errorf("502 read as %v; want no kind", k)
	}
}
