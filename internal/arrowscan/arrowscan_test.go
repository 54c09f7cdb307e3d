package arrowscan

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/duckdb/duckdb-go/v2"

	"github.com/mcasload/mcasload/internal/cmalloc"
)

// wideBatch is a batch of rows rows and cols string columns plus an int64 one, as wide as an
// activity's.
func wideBatch(mem memory.Allocator, cols, rows int) (*arrow.Schema, arrow.RecordBatch) {
	fields := []arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64}}
	for i := range cols {
		fields = append(fields, arrow.Field{Name: fmt.Sprintf("col_%d", i), Type: arrow.BinaryTypes.String, Nullable: true})
	}
	sch := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(mem, sch)
	defer b.Release()
	for r := range rows {
		b.Field(0).(*array.Int64Builder).Append(int64(r))
		for i := range cols {
			b.Field(i + 1).(*array.StringBuilder).Append(fmt.Sprintf("v%d-%d", i, r))
		}
	}
	return sch, b.NewRecordBatch()
}

type registerFunc func(dc driver.Conn, rdr array.RecordReader, name string) (func(), error)

func duckdbRegisterView(dc driver.Conn, rdr array.RecordReader, name string) (func(), error) {
	ar, err := duckdb.NewArrowFromConn(dc)
	if err != nil {
		return nil, err
	}
	return ar.RegisterView(rdr, name)
}

// readOnce registers rec as the view v, reads it once (sum of n and of the strings' lengths),
// drops the view and releases the stream, as the warehouse's commits do.
func readOnce(t testing.TB, conn *sql.Conn, register registerFunc, sch *arrow.Schema, rec arrow.RecordBatch) (sum, chars int64) {
	t.Helper()
	ctx := context.Background()
	rdr, err := array.NewRecordReader(sch, []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	var release func()
	if err := conn.Raw(func(dc any) error {
		release, err = register(dc.(driver.Conn), rdr, "v")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// Every column: DuckDB's C API hands the stream's batches to its scan as they come, so a
	// statement that skips a column reads the wrong ones (the warehouse's views hold exactly
	// the columns their statement reads).
	lengths := make([]string, 0, sch.NumFields()-1)
	for _, f := range sch.Fields()[1:] {
		lengths = append(lengths, "length("+f.Name+")")
	}
	if err := conn.QueryRowContext(ctx, `SELECT sum(n), sum(`+strings.Join(lengths, " + ")+`) FROM memory.main.v`).Scan(&sum, &chars); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, `DROP VIEW memory.main.v`); err != nil {
		t.Fatal(err)
	}
	release()
	return sum, chars
}

func openConn(t testing.TB) *sql.Conn {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestRegisterReadsTheRows: DuckDB reads every row of the batch through the view, and every
// Arrow buffer goes back to the allocator with the release.
func TestRegisterReadsTheRows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	conn := openConn(t)
	sch, rec := wideBatch(mem, 50, 1000)
	defer rec.Release()
	for range 3 { // a view is read once; each statement registers the rows again
		sum, chars := readOnce(t, conn, Register, sch, rec)
		var wantChars int64
		for r := range 1000 {
			for i := range 50 {
				wantChars += int64(len(fmt.Sprintf("v%d-%d", i, r)))
			}
		}
		if sum != 999*1000/2 || chars != wantChars {
			t.Fatalf("read sum %d, %d chars; want %d, %d", sum, chars, 999*1000/2, wantChars)
		}
	}
}

// TestRegisterKeepsNoCMemory: registrations, reads and releases leave the C heap as they found
// it (but for DuckDB's caches, a few hundred KB whatever the count), where duckdb-go's
// RegisterView loses the schemas DuckDB asked for, tens of KB each time for 51 columns. When
// the second half fails, DuckDB releases them itself now and Register's keeper can go.
func TestRegisterKeepsNoCMemory(t *testing.T) {
	if cmalloc.InUse() < 0 {
		t.Skip("needs glibc's mallinfo2")
	}
	const rounds = 200
	growth := func(register registerFunc) int64 {
		conn := openConn(t)
		sch, rec := wideBatch(memory.DefaultAllocator, 50, 10)
		defer rec.Release()
		for range 50 { // DuckDB's caches and the allocator's first arenas
			readOnce(t, conn, register, sch, rec)
		}
		before := cmalloc.InUse()
		for range rounds {
			readOnce(t, conn, register, sch, rec)
		}
		return cmalloc.InUse() - before
	}
	if g := growth(Register); g > 3<<19 {
		t.Errorf("Register: the C heap grew %d bytes over %d registrations (%d each); want no growth", g, rounds, g/rounds)
	}
	if g := growth(duckdbRegisterView); g < 4<<20 {
		t.Errorf("duckdb-go's RegisterView: the C heap grew %d bytes over %d registrations (%d each), not the tens of KB "+
			"each it lost; if DuckDB releases the schemas now, Register's keeper is no longer needed", g, rounds, g/rounds)
	}
}

// TestRegisterFallsBack: where duckdb-go's connection no longer starts with its C handle,
// Register uses RegisterView and still reads every row.
func TestRegisterFallsBack(t *testing.T) {
	if !connLayoutOK {
		t.Fatal("duckdb.Conn no longer starts with its C connection: Register falls back to RegisterView, which loses C memory at every registration (see the package doc)")
	}
	connLayoutOK = false
	defer func() { connLayoutOK = true }()
	conn := openConn(t)
	sch, rec := wideBatch(memory.DefaultAllocator, 50, 100)
	defer rec.Release()
	if sum, _ := readOnce(t, conn, Register, sch, rec); sum != 99*100/2 {
		t.Fatalf("read sum %d; want %d", sum, 99*100/2)
	}
}
