package queries

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/mcasload/mcasload/schema"
)

// setupEvents creates the normalized events views (events.sql) over the connection's activities
// and cloud_app_events. A connection without cloud_app_events (a bare activities table, a
// Parquet copy of the activities alone) gets an empty one, so every investigation reads the
// same views; when it holds no stream rows, all_events is the activities alone and costs what it
// did before the stream joined it.
func (s *Session) setupEvents(ctx context.Context) error {
	var n int
	err := s.conn.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT table_name FROM duckdb_tables() UNION ALL SELECT view_name FROM duckdb_views())
		WHERE table_name = 'cloud_app_events'`).Scan(&n)
	if err != nil {
		return fmt.Errorf("look for the stream's table: %w", err)
	}
	if n == 0 {
		if _, err := s.conn.ExecContext(ctx, emptyStreamView()); err != nil {
			return fmt.Errorf("create an empty stream view: %w", err)
		}
	}
	if _, err := s.conn.ExecContext(ctx, eventsSQL); err != nil {
		return fmt.Errorf("create events views: %w", err)
	}
	if _, err := s.conn.ExecContext(ctx, `CREATE OR REPLACE TEMP VIEW event_firsts AS `+liveFirsts); err != nil {
		return fmt.Errorf("create events views: %w", err)
	}
	var f int
	if err := s.conn.QueryRowContext(ctx, `SELECT count(DISTINCT table_name) FROM (SELECT database_name, table_name FROM duckdb_tables()
		UNION ALL SELECT database_name, view_name FROM duckdb_views())
		WHERE table_name IN ('activity_firsts', 'activity_firsts_days') AND database_name IN (current_database(), 'temp')`).Scan(&f); err != nil {
		return fmt.Errorf("look for the first times: %w", err)
	}
	s.firsts = f == 2
	if n > 0 {
		if err := s.conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM cloud_app_events)`).Scan(&s.stream); err != nil {
			return fmt.Errorf("look for stream rows: %w", err)
		}
	}
	if !s.stream {
		if _, err := s.conn.ExecContext(ctx, `CREATE OR REPLACE TEMP VIEW all_events AS SELECT * FROM activity_events`); err != nil {
			return fmt.Errorf("create events views: %w", err)
		}
	}
	return nil
}

// emptyStreamView is a cloud_app_events view with the table's columns and no rows.
func emptyStreamView() string {
	cols := make([]string, len(schema.CloudAppEventsColumns))
	for i, c := range schema.CloudAppEventsColumns {
		cols[i] = "NULL::" + schema.SQLType(c.Type) + " AS " + c.Name
	}
	return "CREATE OR REPLACE TEMP VIEW cloud_app_events AS SELECT " + strings.Join(cols, ", ") + " WHERE false"
}

// sourcesFilter is the condition that keeps the rows of the sources inv supports ("" for all).
func sourcesFilter(inv *Investigation) string {
	if len(inv.Sources) == 0 || len(inv.Sources) == len(Sources) {
		return ""
	}
	// A header's source names are the events view's source values.
	names := slices.Clone(inv.Sources)
	for i, n := range names {
		names[i] = "'" + n + "'"
	}
	return "source IN (" + strings.Join(names, ", ") + ")"
}

// sourcesNote says what an investigation left out of the rows it read, when it matters: the
// warehouse holds stream rows and the investigation reads the activities alone.
func (s *Session) sourcesNote(inv *Investigation) string {
	if !s.stream || slices.Contains(inv.Sources, "stream") {
		return ""
	}
	return "read the activities API's rows only: " + inv.Name + " needs fields the stream does not carry (sources: " +
		strings.Join(inv.Sources, ", ") + "); the stream's rows are left out"
}
