// Package delivery gets a finding to its receivers, at least once, in a form each receiver can
// deduplicate: NDJSON on stdout or in a file, an HTTPS webhook (plain JSON signed with
// HMAC-SHA256, a Microsoft Teams Workflows Adaptive Card or a Slack message), or syslog (RFC 5424
// over TCP or TLS, CEF or JSON). A Sink reports, per finding, whether the receiver accepted it;
// the caller (the findings outbox of `mcasload detect`) marks a finding delivered only then, and
// offers it again on the next run otherwise, with the same finding id.
//
// The package knows nothing of the warehouse: it takes Finding values and gives back Results.
// The wire format, the sink grammar and the payload shapes are documented in docs/detect.md,
// "Delivery".
package delivery
