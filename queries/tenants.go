package queries

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/mcasload/mcasload/tenant"
)

// TenantColumn is the column an answer over several tenants starts with.
const TenantColumn = "tenant"

// UseTenants makes the session run each investigation once per tenant of tenants, over a view
// of base (the reader's activities view, warehouse.ActivitiesView) narrowed to that tenant, and
// put a tenant column first in the answer when there are several. The investigation's SQL
// therefore never sees two tenants' rows at once: a user, an IP or a mailbox pivot stays inside
// its tenant, and each tenant's rows are exactly what the investigation returns on a warehouse
// holding that tenant alone. With one tenant (or none) investigations run as before, without
// the column. Ad-hoc SQL (Session.SQL) always sees every selected tenant, with its tenant column.
func (s *Session) UseTenants(base string, tenants []string) error {
	for _, t := range tenants {
		if !tenant.Valid(t) {
			return fmt.Errorf("use tenants: %q: %w", t, tenant.ErrBadLabel)
		}
	}
	s.base, s.tenants = base, tenants
	return nil
}

// perTenant runs run once per tenant of the session (see UseTenants) and gathers the answers.
func (s *Session) perTenant(ctx context.Context, run func(context.Context) (array.RecordReader, error)) (array.RecordReader, error) {
	if len(s.tenants) < 2 {
		return run(ctx)
	}
	// The temporary view shadows the reader's activities for every view the session created
	// over it (classified, impersonations, …), which name it unqualified; dropping it uncovers
	// the reader's again.
	defer s.conn.ExecContext(context.WithoutCancel(ctx), `DROP VIEW IF EXISTS temp.main.activities`)
	var out []arrow.RecordBatch
	release := func() {
		for _, r := range out {
			r.Release()
		}
	}
	var sch *arrow.Schema
	for _, t := range s.tenants {
		q := fmt.Sprintf(`CREATE OR REPLACE TEMP VIEW activities AS SELECT * FROM %s WHERE tenant = '%s'`, s.base, t)
		if _, err := s.conn.ExecContext(ctx, q); err != nil {
			release()
			return nil, fmt.Errorf("narrow activities to tenant %s: %w", t, err)
		}
		rdr, err := run(ctx)
		if err != nil {
			release()
			return nil, fmt.Errorf("tenant %s: %w", t, err)
		}
		if sch == nil {
			sch = withTenantField(rdr.Schema())
		}
		err = s.gather(rdr, t, sch, &out)
		rdr.Release()
		if err != nil {
			release()
			return nil, fmt.Errorf("tenant %s: %w", t, err)
		}
	}
	rdr, err := array.NewRecordReader(sch, out)
	release() // the reader holds its own references
	return rdr, err
}

// gather appends rdr's records to out, each with label as its first column.
func (s *Session) gather(rdr array.RecordReader, label string, sch *arrow.Schema, out *[]arrow.RecordBatch) error {
	for rdr.Next() {
		rec := rdr.RecordBatch()
		if !withTenantField(rec.Schema()).Equal(sch) {
			return fmt.Errorf("gather answers: the columns differ between tenants: %s and %s", rec.Schema(), sch)
		}
		b := array.NewStringBuilder(memory.DefaultAllocator)
		b.Reserve(int(rec.NumRows()))
		for range rec.NumRows() {
			b.Append(label)
		}
		col := b.NewArray()
		b.Release()
		cols := append([]arrow.Array{col}, rec.Columns()...)
		*out = append(*out, array.NewRecordBatch(sch, cols, rec.NumRows()))
		col.Release()
	}
	return rdr.Err()
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
