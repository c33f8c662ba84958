// Package charts is the one chart renderer of the web UI and of report.html: uPlot
// (vendor/, MIT, pinned) under a small wrapper (chart.js) that draws a null value as a
// gap, never a zero. The UI serves these files; report.html inlines them, so it stays one
// self-contained file.
package charts

import (
	"embed"
	"html/template"
)

// FS holds chart.js and vendor/ (uPlot's script, stylesheet, licence and provenance).
//
//go:embed chart.js vendor
var FS embed.FS

func read(name string) string {
	b, err := FS.ReadFile(name)
	if err != nil {
		panic(err) // embedded at build time: cannot be missing
	}
	return string(b)
}

// Script is uPlot and the wrapper, to inline in a page's <script>.
func Script() template.JS {
	return template.JS(read("vendor/uPlot.iife.min.js") + "\n" + read("chart.js"))
}

// Style is uPlot's stylesheet, to inline in a page's <style>.
func Style() template.CSS { return template.CSS(read("vendor/uPlot.min.css")) }
