// Package arrowscan registers Arrow record batches as DuckDB views (DuckDB reads the Arrow
// buffers in place) without the C memory that duckdb-go's Arrow.RegisterView loses at every
// registration.
//
// DuckDB's C API asks the stream for its schema when the view is created and at every bind of
// a statement reading it, and releases none of them (duckdb_arrow_scan keeps its own copy
// unreleased; the bind nulls the release callback, "the caller's responsibility", which a
// stream cannot take). arrow-go exports a fresh schema at each request, so every registration
// of a 50-column batch lost 38–47 KB of C memory, and a load's C heap in use grew 127 KB a
// commit (10.5 MiB over 300k records): the drift in a load's resident memory. Register hands DuckDB a stream that keeps
// every schema it hands out and releases them with the stream.
package arrowscan

/*
#include "shim.h"
*/
import "C"

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/cdata"
	"github.com/duckdb/duckdb-go/v2"
	"github.com/duckdb/duckdb-go/v2/arrowmapping"
	"github.com/duckdb/duckdb-go/v2/mapping"
)

// connLayoutOK says whether duckdb.Conn still starts with its C connection handle, which
// Register reads (duckdb-go exports no accessor for it); checked once, so a duckdb-go release
// that moves it falls back to RegisterView instead of reading the wrong field.
var connLayoutOK = func() bool {
	f, ok := reflect.TypeOf(duckdb.Conn{}).FieldByName("conn")
	return ok && f.Offset == 0 && f.Type == reflect.TypeOf(mapping.Connection{})
}()

// Register registers rdr as the view name on dc, a DuckDB driver connection (inside
// sql.Conn.Raw). The view is a one-shot stream: one statement reads it. Call release after
// the view is dropped; it releases the stream, the schemas DuckDB asked for and rdr's export
// (not rdr itself).
func Register(dc driver.Conn, rdr array.RecordReader, name string) (release func(), err error) {
	c, ok := dc.(*duckdb.Conn)
	if !ok {
		return nil, fmt.Errorf("register arrow view %s: not a duckdb connection (%T)", name, dc)
	}
	if !connLayoutOK {
		ar, err := duckdb.NewArrowFromConn(c)
		if err != nil {
			return nil, fmt.Errorf("register arrow view %s: %w", name, err)
		}
		return ar.RegisterView(rdr, name)
	}
	conn := *(*mapping.Connection)(unsafe.Pointer(c))
	if conn.Ptr == nil {
		return nil, fmt.Errorf("register arrow view %s: the connection is closed", name)
	}
	stream := C.keeper_new()
	if stream == nil {
		return nil, errors.New("register arrow view " + name + ": out of memory")
	}
	release = func() { C.keeper_free(stream) }
	cdata.ExportRecordReader(rdr, (*cdata.CArrowArrayStream)(unsafe.Pointer(C.keeper_inner(stream))))
	if arrowmapping.ArrowScan(conn, name, arrowmapping.ArrowStream{Ptr: unsafe.Pointer(stream)}) == mapping.StateError {
		release()
		return nil, fmt.Errorf("register arrow view %s: duckdb's arrow scan failed", name)
	}
	return release, nil
}
