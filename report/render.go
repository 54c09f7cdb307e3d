package report

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"regexp"
)

//go:embed assets/report.html.tmpl assets/report.css assets/report.js
var assets embed.FS

var page = template.Must(template.ParseFS(assets, "assets/report.html.tmpl"))

// pageData is the template's view of a Report plus the embedded style and script.
type pageData struct {
	*Report
	CSS template.CSS
	JS  template.JS
}

// schemeRE finds URL schemes in the page's text so they can be defanged: the report must not
// point a browser anywhere, and a security report should not hold live links to what it found.
var schemeRE = regexp.MustCompile(`(?i)\b(h)tt(ps?)(:|&#58;|%3a)`)

// portalRE finds the defanged scheme of an evidence link (template "cell").
var portalRE = regexp.MustCompile(`(<a class="portal" href=")hxx(ps?):`)

// Render writes the report as one self-contained HTML page.
func (r *Report) Render(w io.Writer) error {
	css, err := assets.ReadFile("assets/report.css")
	if err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	js, err := assets.ReadFile("assets/report.js")
	if err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	var buf bytes.Buffer
	// The CSS and the script are ours, embedded in the binary; nothing from the data is.
	if err := page.Execute(&buf, pageData{Report: r, CSS: template.CSS(css), JS: template.JS(js)}); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	out := schemeRE.ReplaceAll(buf.Bytes(), []byte("${1}xx${2}${3}"))
	// The evidence links are ours (the portal template and URL-escaped ids) and lead into the
	// tenant's own portal: they stay live. Data cannot forge the anchor, html/template escapes
	// every "<" it brings.
	out = portalRE.ReplaceAll(out, []byte(`${1}htt${2}:`))
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
