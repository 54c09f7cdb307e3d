package detect

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mcasload/mcasload/delivery"
	"github.com/mcasload/mcasload/internal/failpoint"
	"github.com/mcasload/mcasload/warehouse"
)

// The statuses of a finding (delivery's names).
const (
	StatusNew          = string(delivery.StatusNew)
	StatusNotified     = string(delivery.StatusNotified)
	StatusAcknowledged = string(delivery.StatusAcknowledged)
	StatusSuppressed   = string(delivery.StatusSuppressed)
	StatusResolved     = string(delivery.StatusResolved)
)

// Merge matches the candidates with the stored findings by id (the key's hash) and returns the
// rows that change: a new key becomes a finding owed notification 1; a known one extends its
// span and evidence, and is owed a further notification only when its severity rose above the
// one last delivered or it was resolved and came back. A suppressed finding is never owed one.
// added counts the new findings. A finding keeps the first keep evidence ids by time.
func Merge(stored []warehouse.FindingRow, cands []Candidate, now time.Time, keep int) (changed []warehouse.FindingRow, added int) {
	byID := make(map[string]*warehouse.FindingRow, len(stored))
	for i := range stored {
		byID[stored[i].ID] = &stored[i]
	}
	now = now.UTC()
	for _, c := range cands {
		id := c.Key.ID()
		old, ok := byID[id]
		if !ok {
			changed = append(changed, fresh(c, id, now, keep))
			added++
			continue
		}
		if f, ok := again(*old, c, now, keep); ok {
			changed = append(changed, f)
		}
	}
	return changed, added
}

// fresh is the new finding of candidate c.
func fresh(c Candidate, id string, now time.Time, keep int) warehouse.FindingRow {
	ids, urls := unionEvidence(nil, nil, c.EvidenceIDs, c.PortalURLs, keep)
	return warehouse.FindingRow{
		Tenant: c.Key.Tenant, ID: id, Investigation: c.Key.Investigation,
		User: c.Key.Entities.User, IP: c.Key.Entities.IP, App: c.Key.Entities.App, Object: c.Key.Entities.Object,
		Bucket: c.Key.Bucket, Title: c.Title, Severity: string(c.Severity), Techniques: c.Techniques,
		FirstSeen: c.FirstSeen.UTC(), LastSeen: c.LastSeen.UTC(), EvidenceIDs: ids, PortalURLs: urls,
		PortalNote: c.PortalNote, Row: string(c.Row), Status: StatusNew, DetectedAt: now, UpdatedAt: now,
		Notification: 1, Reason: string(delivery.ReasonNew), AcceptedSinks: []string{},
	}
}

// again is a stored finding seen again in c, and whether anything changed.
func again(f warehouse.FindingRow, c Candidate, now time.Time, keep int) (warehouse.FindingRow, bool) {
	before := fmt.Sprint(f)
	if c.FirstSeen.Before(f.FirstSeen) {
		f.FirstSeen = c.FirstSeen.UTC()
	}
	if c.LastSeen.After(f.LastSeen) {
		f.LastSeen = c.LastSeen.UTC()
	}
	f.EvidenceIDs, f.PortalURLs = unionEvidence(f.EvidenceIDs, f.PortalURLs, c.EvidenceIDs, c.PortalURLs, keep)
	rose := delivery.Severity(c.Severity).Rank() > delivery.Severity(f.Severity).Rank()
	if rose {
		f.Severity, f.Row = string(c.Severity), string(c.Row)
	}
	owed := f.Notification > f.Delivered
	switch {
	case f.Status == StatusSuppressed:
	case f.Status == StatusResolved:
		f.Status, f.StatusReason, f.StatusBy = StatusNew, "", ""
		f.Row = string(c.Row)
		if !owed {
			f.Notification++
		}
		f.Reason, f.PreviousSeverity = string(delivery.ReasonCameBack), ""
	case rose && f.Delivered > 0 && delivery.Severity(f.Severity).Rank() > delivery.Severity(f.DeliveredSeverity).Rank():
		if !owed {
			f.Notification++
			f.AcceptedSinks = []string{}
		}
		f.Reason, f.PreviousSeverity = string(delivery.ReasonSeverityRose), f.DeliveredSeverity
	}
	if fmt.Sprint(f) == before {
		return f, false
	}
	f.UpdatedAt = now
	return f, true
}

// Finding is a stored finding as it goes on the wire.
func Finding(f *warehouse.FindingRow) delivery.Finding {
	out := delivery.Finding{
		ID: f.ID, Notification: f.Notification,
		Key: delivery.Key{Tenant: f.Tenant, Investigation: f.Investigation, Bucket: f.Bucket,
			Entities: delivery.Entities{User: f.User, IP: f.IP, App: f.App, Object: f.Object}},
		Title: f.Title, Severity: delivery.Severity(f.Severity), Techniques: f.Techniques,
		FirstSeen: f.FirstSeen, LastSeen: f.LastSeen, EvidenceIDs: f.EvidenceIDs, EvidencePruned: f.EvidencePruned,
		PortalURLs: f.PortalURLs, PortalNote: f.PortalNote, Status: delivery.Status(f.Status), Reason: delivery.Reason(f.Reason),
	}
	if f.Reason == string(delivery.ReasonSeverityRose) {
		out.PreviousSeverity = delivery.Severity(f.PreviousSeverity)
	}
	if f.Row != "" {
		out.Row = []byte(f.Row)
	}
	return out
}

// Outcome is what one delivery round did.
type Outcome struct {
	Delivered int     // findings every sink accepted in this round
	Failed    int     // findings some sink did not accept: kept for the next run
	Errors    []error // one per failed finding and sink, saying why and what to do
}

// Store is where Deliver records delivery state: the warehouse writer.
type Store interface {
	SaveFindings(ctx context.Context, tenant string, rows []warehouse.FindingRow, watermark *warehouse.DetectMark) error
}

// Deliver offers every finding that is owed a notification to each sink that has not accepted
// it yet, and records which sinks accepted; a finding every sink accepted is delivered (its
// notification, severity and time recorded, new becomes notified). The record is written after
// the sending: a run that dies in between sends the same notification again next time, with
// the same id, and loses none.
func Deliver(ctx context.Context, store Store, d *delivery.Dispatcher, tenant string, rows []warehouse.FindingRow, now time.Time) (Outcome, error) {
	var out Outcome
	var pending []*warehouse.FindingRow
	for i := range rows {
		if rows[i].Pending() {
			pending = append(pending, &rows[i])
		}
	}
	if len(pending) == 0 {
		return out, nil
	}
	failed := map[string]bool{}
	for _, s := range d.Sinks() {
		var todo []*warehouse.FindingRow
		var wire []delivery.Finding
		for _, f := range pending {
			if !slices.Contains(f.AcceptedSinks, s.ID()) {
				todo = append(todo, f)
				wire = append(wire, Finding(f))
			}
		}
		if len(todo) == 0 {
			continue
		}
		errs := s.Deliver(ctx, wire)
		for j, f := range todo {
			var err error
			if j < len(errs) {
				err = errs[j]
			} else {
				err = errors.New("the sink gave no answer for this finding (a bug): it is kept for the next run")
			}
			if err != nil {
				failed[f.ID] = true
				out.Errors = append(out.Errors, fmt.Errorf("finding %s (%s) to %s: %w", f.ID, f.Investigation, s, err))
				continue
			}
			f.AcceptedSinks = append(f.AcceptedSinks, s.ID())
		}
	}
	failpoint.Hit("detect-after-send")
	now = now.UTC()
	var record []warehouse.FindingRow
	for _, f := range pending {
		if failed[f.ID] {
			out.Failed++
		} else {
			out.Delivered++
			f.Delivered, f.DeliveredSeverity, f.AcceptedSinks, f.NotifiedAt = f.Notification, f.Severity, []string{}, now
			if f.Status == StatusNew {
				f.Status = StatusNotified
			}
		}
		f.UpdatedAt = now
		record = append(record, *f)
	}
	// Recorded even after a signal: what the sinks accepted must not be sent again.
	if err := store.SaveFindings(context.WithoutCancel(ctx), tenant, record, nil); err != nil {
		return out, fmt.Errorf("record delivery: %w", err)
	}
	return out, nil
}

// MarkPruned flags the findings whose evidence activities (and stream rows) are all gone from
// the warehouse (a prune removed their days) with evidence_pruned, and returns those that changed. Only findings
// that began before the warehouse's first activity are looked up.
func MarkPruned(ctx context.Context, conn *sql.Conn, stored []warehouse.FindingRow, now time.Time) ([]warehouse.FindingRow, error) {
	var first sql.NullTime
	if err := conn.QueryRowContext(ctx, `SELECT min(ts) FROM activities`).Scan(&first); err != nil {
		return nil, fmt.Errorf("read the first activity: %w", err)
	}
	var changed []warehouse.FindingRow
	for _, f := range stored {
		if f.EvidencePruned || len(f.EvidenceIDs) == 0 || (first.Valid && !f.FirstSeen.Before(first.Time)) {
			continue
		}
		held, err := newIDs(ctx, conn, f.EvidenceIDs, warehouse.DetectMark{})
		if err != nil {
			return nil, err
		}
		if len(held) == 0 {
			f.EvidencePruned, f.UpdatedAt = true, now.UTC()
			changed = append(changed, f)
		}
	}
	return changed, nil
}
