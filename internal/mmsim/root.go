package mmsim

import (
	"net/http"
)

// rootPage stands in for the webapp's index.html: clients read X-Version-Id from it and fetch
// the assets it links, as a browser would.
const rootPage = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>mmsim</title>
<link rel="stylesheet" href="/static/main.css">
<script src="/static/main.js" defer></script>
</head><body><div id="root">mmsim: a Mattermost-compatible test server</div></body></html>
`

var staticFiles = map[string]struct{ contentType, body string }{
	"main.css": {"text/css; charset=utf-8", "body{font-family:sans-serif}\n"},
	"main.js":  {"text/javascript; charset=utf-8", "console.log('mmsim');\n"},
}

func (s *Server) serveRoot(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("X-Version-Id", s.versionID())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache, max-age=31556926, public")
	_, _ = w.Write([]byte(rootPage)) // the client may have gone
}

func (s *Server) serveStatic(w http.ResponseWriter, r *http.Request) {
	f, ok := staticFiles[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("Cache-Control", "max-age=31556926, public")
	_, _ = w.Write([]byte(f.body)) // the client may have gone
}
