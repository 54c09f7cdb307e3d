package queries

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/mcasload/mcasload/output"
	"github.com/mcasload/mcasload/tenant"
)

// TenantColumn is the column an answer over several tenants starts with.
const TenantColumn = "tenant"

// UseTenants makes the session run each investigation (and Domains) once per tenant of tenants,
// over a view of base (the reader's activities view, warehouse.ActivitiesView) narrowed to that
// tenant, and put a tenant column first in the answer when there are several. Every view the
// session reads (events, its history, the tenant's own domains) is then one tenant's, so an
// investigation never pairs two tenants' rows and each tenant's rows are exactly what it returns
// on a warehouse holding that tenant alone. With one tenant (or none) investigations run as
// before, without the column. Ad-hoc SQL (Session.SQL) always sees every selected tenant, with
// its tenant column.
func (s *Session) UseTenants(base string, tenants []string) error {
	for _, t := range tenants {
		if !tenant.Valid(t) {
			return fmt.Errorf("use tenants: %q: %w", t, tenant.ErrBadLabel)
		}
	}
	s.base, s.tenants = base, tenants
	return nil
}

// perTenant runs run once per tenant of the session (see UseTenants) and gathers the answers,
// each row under its tenant, with one meta for all (mergeMeta).
func (s *Session) perTenant(ctx context.Context, run func(context.Context) (*Result, error)) (*Result, error) {
	if len(s.tenants) < 2 {
		return run(ctx)
	}
	// The temporary view shadows the reader's activities for every view the session created
	// over it, which name it unqualified; dropping it uncovers the reader's again.
	defer s.conn.ExecContext(context.WithoutCancel(ctx), `DROP VIEW IF EXISTS temp.main.activities`)
	if s.stream {
		defer s.conn.ExecContext(context.WithoutCancel(ctx), `DROP VIEW IF EXISTS temp.main.cloud_app_events`)
	}
	defer func() { s.current = "" }()
	out := &Result{}
	var metas []output.Meta
	for _, t := range s.tenants {
		if err := s.narrowTenant(ctx, t); err != nil {
			out.Release()
			return nil, err
		}
		s.current = t
		res, err := run(ctx)
		if err != nil {
			out.Release()
			return nil, fmt.Errorf("tenant %s: %w", t, err)
		}
		err = out.gather(res, t)
		metas = append(metas, res.Meta)
		res.Release()
		if err != nil {
			out.Release()
			return nil, fmt.Errorf("tenant %s: %w", t, err)
		}
	}
	out.Meta = mergeMeta(metas, s.tenants)
	return out, nil
}

// narrowTenant shadows the reader's activities (and its stream, when it holds one) with views
// of tenant t's rows.
func (s *Session) narrowTenant(ctx context.Context, t string) error {
	q := fmt.Sprintf(`CREATE OR REPLACE TEMP VIEW activities AS SELECT * FROM %s WHERE tenant = '%s'`, s.base, t)
	if _, err := s.conn.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("narrow activities to tenant %s: %w", t, err)
	}
	if !s.stream {
		return nil
	}
	// The stream's view sits beside the activities' (warehouse.ActivitiesView's schema).
	base := strings.TrimSuffix(s.base, "activities") + "cloud_app_events"
	q = fmt.Sprintf(`CREATE OR REPLACE TEMP VIEW cloud_app_events AS SELECT * FROM %s WHERE tenant = '%s'`, base, t)
	if _, err := s.conn.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("narrow the stream to tenant %s: %w", t, err)
	}
	return nil
}

// gather appends res's records to r, each with label as its first column.
func (r *Result) gather(res *Result, label string) error {
	sch := withTenantField(res.schema)
	if r.schema == nil {
		r.schema = sch
	} else if !r.schema.Equal(sch) {
		return fmt.Errorf("gather answers: the columns differ between tenants: %s and %s", sch, r.schema)
	}
	for _, rec := range res.records {
		b := array.NewStringBuilder(memory.DefaultAllocator)
		b.Reserve(int(rec.NumRows()))
		for range rec.NumRows() {
			b.Append(label)
		}
		col := b.NewArray()
		b.Release()
		r.records = append(r.records, array.NewRecordBatch(sch, append([]arrow.Array{col}, rec.Columns()...), rec.NumRows()))
		col.Release()
	}
	return nil
}

// withTenantField is sch with a tenant column first (sch's own tenant column, if any, is renamed
// to keep the names unique).
func withTenantField(sch *arrow.Schema) *arrow.Schema {
	fields := []arrow.Field{{Name: TenantColumn, Type: arrow.BinaryTypes.String}}
	for _, f := range sch.Fields() {
		if strings.EqualFold(f.Name, TenantColumn) {
			f.Name = "result_" + f.Name
		}
		fields = append(fields, f)
	}
	md := sch.Metadata()
	return arrow.NewSchema(fields, &md)
}

// mergeMeta is the meta of an answer over several tenants: what was asked and read (the same for
// each), the tenants, provisional when any tenant's answer is, each tenant's notes under its
// name, the history of the tenant that holds the least, and every suppression counted.
func mergeMeta(metas []output.Meta, labels []string) output.Meta {
	m := metas[0]
	m.Tenants = labels
	m.Notes = nil
	m.Suppressed = nil
	for i, t := range metas {
		m.Provisional = m.Provisional || t.Provisional
		for _, n := range t.Notes {
			m.Notes = append(m.Notes, "tenant "+labels[i]+": "+n)
		}
		if t.History != nil && (m.History == nil || t.History.AvailableDays < m.History.AvailableDays) {
			m.History = t.History
		}
		m.Suppressed = addSuppressed(m.Suppressed, t.Suppressed)
	}
	m.Severities, m.Portal = nil, nil
	for _, t := range metas {
		for level, n := range t.Severities {
			if m.Severities == nil {
				m.Severities = map[string]int{}
			}
			m.Severities[level] += n
		}
	}
	// One portal for all tenants is said as it is; different ones per tenant, each under its label.
	if metas[0].Portal != nil {
		p := &output.Portal{Tenants: map[string]output.Portal{}}
		same := true
		for i, t := range metas {
			if t.Portal != nil {
				p.Tenants[labels[i]] = *t.Portal
				same = same && t.Portal.Links == metas[0].Portal.Links && t.Portal.Note == metas[0].Portal.Note
			}
		}
		if same {
			p = &output.Portal{Links: metas[0].Portal.Links, Note: metas[0].Portal.Note}
		}
		m.Portal = p
	}
	return m
}

// addSuppressed adds b's counts to a's, entry by entry.
func addSuppressed(a, b *output.Suppressed) *output.Suppressed {
	if b == nil {
		return a
	}
	if a == nil {
		c := *b
		c.ByEntry = append([]output.SuppressedBy(nil), b.ByEntry...)
		return &c
	}
	a.Rows += b.Rows
	for _, e := range b.ByEntry {
		found := false
		for i := range a.ByEntry {
			if x := &a.ByEntry[i]; x.Scope == e.Scope && x.Kind == e.Kind && x.Value == e.Value {
				x.Rows += e.Rows
				found = true
			}
		}
		if !found {
			a.ByEntry = append(a.ByEntry, e)
		}
	}
	return a
}
