package simulator

import (
	"fmt"
	"html"
	"io"
	"log"
	"net/http"
)

// writeHTML answers with an HTML page shaped like the portal's error pages: clients that expect
// JSON everywhere must cope with these.
func writeHTML(w http.ResponseWriter, status int, title string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Microsoft Defender for Cloud Apps</title>
<script>window.__ADALLOM_CONSTS = {"simulator": true};</script></head>
<body><div class="error-page"><h1>%d</h1><h2>%s</h2></div></body></html>
`, status, html.EscapeString(title))
}

// discardLog silences net/http's own error log: aborted responses are deliberate here.
func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }
