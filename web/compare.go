package web

import (
	"fmt"
	"net/http"

	"github.com/loadtest/loadtest/coordinator/compare"
)

// handleCompare compares two runs (live or past): JSON, or format=md (markdown for a pull
// request) or format=html (the page report compare writes).
func (s *Server) handleCompare(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ida, idb := q.Get("a"), q.Get("b")
	if ida == "" || idb == "" {
		writeError(w, fmt.Errorf("%w: a and b: give two run ids (?a=ID&b=ID)", ErrInvalid))
		return
	}
	a, err := s.Report(ida)
	if err != nil {
		writeError(w, err)
		return
	}
	b, err := s.Report(idb)
	if err != nil {
		writeError(w, err)
		return
	}
	c := compare.Compare(ida, a, idb, b)
	switch f := q.Get("format"); f {
	case "", "json":
		writeJSON(w, http.StatusOK, c)
	case "md":
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		_ = c.Markdown(w)
	case "html":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = c.HTML(w)
	default:
		writeError(w, fmt.Errorf("%w: format %q: must be json, md or html", ErrInvalid, f))
	}
}
