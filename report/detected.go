package report

import (
	"context"
	"fmt"
	"time"
)

// Detected is one finding mcasload detect stored (issue 20), for the report's triage section:
// the findings whose evidence falls in the window, highest severity first, then those new since
// the previous report, each with its portal links.
type Detected struct {
	ID, Severity, Title, Status, Bucket string
	About                               string // the key's entities, redacted when asked
	FirstSeen, LastSeen                 string
	Links                               []Token
	New                                 bool // detected after the previous report was made
	Pruned                              bool
}

// detected reads the findings table (the warehouse's findings view) for the window. A warehouse
// where detect never ran has none, and the section says so.
func (b *builder) detected(ctx context.Context, r *Report) error {
	prev := "TIMESTAMPTZ '0001-01-01 00:00:00+00'"
	if p := b.opts.Previous; p != nil {
		if t, err := time.Parse(time.RFC3339, p.Generated); err == nil {
			prev = sqlTime(t)
		}
	}
	q := fmt.Sprintf(`SELECT id, severity, coalesce(title, investigation), status, bucket,
	  concat_ws(', ', nullif(entity_user, ''), nullif(entity_ip, ''), nullif(entity_app, ''), nullif(entity_object, '')),
	  strftime(first_seen, '%%Y-%%m-%%d %%H:%%M'), strftime(last_seen, '%%Y-%%m-%%d %%H:%%M'), coalesce(portal_urls, []::VARCHAR[]),
	  evidence_ids, detected_at > %s AS new, evidence_pruned
	FROM findings WHERE last_seen >= %s AND first_seen < %s
	ORDER BY CASE severity WHEN 'high' THEN 4 WHEN 'medium' THEN 3 WHEN 'low' THEN 2 ELSE 1 END DESC, new DESC, last_seen DESC, id`,
		prev, sqlTime(b.opts.Since), sqlTime(b.opts.Until))
	t, err := b.query(ctx, q)
	if err != nil {
		// A source without the findings view (a reader of an older mcasload) has none to show.
		r.DetectedNote = "the findings of mcasload detect could not be read: " + err.Error()
		return nil
	}
	for _, row := range t.rows {
		d := Detected{ID: row[0].text, Severity: row[1].text, Title: row[2].text, Status: row[3].text, Bucket: row[4].text,
			About: b.show(row[5].text), FirstSeen: row[6].text, LastSeen: row[7].text, New: row[10].text == "true", Pruned: row[11].text == "true"}
		for i, link := range row[8].list {
			if i >= maxEvidence || i >= len(row[9].list) {
				break
			}
			d.Links = append(d.Links, Token{Text: b.show(row[9].list[i]), Link: link})
		}
		r.Detected = append(r.Detected, d)
	}
	r.DetectedNote = "no finding of mcasload detect has evidence in this window"
	if len(r.Detected) > 0 {
		r.DetectedNote = fmt.Sprintf("%d %s of mcasload detect with evidence in this window, highest severity first", len(r.Detected), plural(len(r.Detected), "finding", "findings"))
		if b.opts.Previous != nil {
			r.DetectedNote += ", then new since the previous report"
		}
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
