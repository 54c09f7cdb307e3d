package export

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/mcasload/mcasload/output"
)

// NullDay is the folder of rows without a day, as Hive and Spark name it.
const NullDay = "__HIVE_DEFAULT_PARTITION__"

// maxOpenDays bounds the day files open at once (each Parquet file buffers a row group); rows
// of a day whose file was closed go to a new part file in the same folder.
const maxOpenDays = 8

type dayFile struct {
	f    *os.File
	s    sink
	used int64
}

type partitioner struct {
	stage   string
	schema  *arrow.Schema // of the files
	dayCol  int
	dropDay bool
	opts    Options
	open    map[string]*dayFile
	parts   map[string]int // part files started per day
	files   []string
	tick    int64
}

func writePartitioned(ctx context.Context, out string, rdr array.RecordReader, opts Options) (Result, error) {
	in := output.NormalizeSchema(rdr.Schema())
	names := FieldNames(in)
	p := &partitioner{opts: opts, open: map[string]*dayFile{}, parts: map[string]int{}}
	switch i := indexOf(names, "day"); {
	case i >= 0 && in.Field(i).Type.ID() == arrow.DATE32:
		p.dayCol, p.dropDay, p.schema = i, true, dropField(in, i)
	case indexOf(names, "ts") >= 0 && in.Field(indexOf(names, "ts")).Type.ID() == arrow.TIMESTAMP:
		p.dayCol, p.schema = indexOf(names, "ts"), in
	default:
		return Result{}, fmt.Errorf("%w: the result needs a day (date) or ts (timestamp) column; it has %v", ErrNoDay, names)
	}
	stage, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return Result{}, err
	}
	p.stage = stage
	fail := func(err error) (Result, error) {
		p.abort()
		os.RemoveAll(stage)
		return Result{}, err
	}
	for rdr.Next() {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		rec := output.Normalize(rdr.RecordBatch())
		err := p.write(rec)
		rec.Release()
		if err != nil {
			return fail(err)
		}
	}
	if err := rdr.Err(); err != nil {
		return fail(err)
	}
	for day := range p.open {
		if err := p.closeDay(day); err != nil {
			return fail(err)
		}
	}
	days := make([]string, 0, len(p.parts))
	for d := range p.parts {
		days = append(days, d)
		if err := syncDir(filepath.Join(stage, "day="+d)); err != nil {
			return fail(err)
		}
	}
	slices.Sort(days)
	slices.Sort(p.files)
	if err := syncDir(stage); err != nil {
		return fail(err)
	}
	if err := os.Chmod(stage, 0o700); err != nil {
		return fail(err)
	}
	if err := replaceDir(stage, out); err != nil {
		return fail(err)
	}
	return Result{Rows: opts.Rows.Load(), Files: p.files, Days: days}, nil
}

// replaceDir renames stage to out; an existing out (Force was checked before) is moved aside
// first and removed once the new folder is in place.
func replaceDir(stage, out string) error {
	var old string
	if _, err := os.Lstat(out); err == nil {
		old = stage + ".old"
		if err := os.Rename(out, old); err != nil {
			return err
		}
	}
	if err := os.Rename(stage, out); err != nil {
		if old != "" {
			os.Rename(old, out)
		}
		return err
	}
	if err := syncDir(filepath.Dir(out)); err != nil {
		return err
	}
	if old != "" {
		return os.RemoveAll(old)
	}
	return nil
}

// dayOf is the UTC day of row i of col.
func dayOf(col arrow.Array, i int) string {
	if col.IsNull(i) {
		return NullDay
	}
	switch a := col.(type) {
	case *array.Date32:
		return a.Value(i).ToTime().Format(time.DateOnly)
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return a.Value(i).ToTime(unit).UTC().Format(time.DateOnly)
	}
	return NullDay
}

// write splits rec into runs of rows of the same day and hands each run to its day's file.
func (p *partitioner) write(rec arrow.RecordBatch) error {
	col := rec.Column(p.dayCol)
	n := int(rec.NumRows())
	for start := 0; start < n; {
		day := dayOf(col, start)
		end := start + 1
		for end < n && dayOf(col, end) == day {
			end++
		}
		run := rec.NewSlice(int64(start), int64(end))
		if p.dropDay {
			d := dropColumn(p.schema, run, p.dayCol)
			run.Release()
			run = d
		}
		err := p.writeRun(day, run)
		run.Release()
		if err != nil {
			return err
		}
		p.opts.Rows.Add(int64(end - start))
		start = end
	}
	return nil
}

func (p *partitioner) writeRun(day string, run arrow.RecordBatch) error {
	p.tick++
	df := p.open[day]
	if df == nil {
		if len(p.open) >= maxOpenDays {
			if err := p.closeDay(p.leastRecent()); err != nil {
				return err
			}
		}
		dir := filepath.Join(p.stage, "day="+day)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		name := filepath.Join("day="+day, fmt.Sprintf("part-%05d%s", p.parts[day], p.opts.Format.Ext()))
		p.parts[day]++
		f, err := os.OpenFile(filepath.Join(p.stage, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		s, err := newSink(f, p.schema, p.opts)
		if err != nil {
			f.Close()
			return err
		}
		p.files = append(p.files, name)
		df = &dayFile{f: f, s: s}
		p.open[day] = df
	}
	df.used = p.tick
	return df.s.write(run)
}

func (p *partitioner) leastRecent() string {
	best, bestUsed := "", int64(-1)
	for d, df := range p.open {
		if bestUsed < 0 || df.used < bestUsed {
			best, bestUsed = d, df.used
		}
	}
	return best
}

func (p *partitioner) closeDay(day string) error {
	df := p.open[day]
	delete(p.open, day)
	err := df.s.close()
	if err == nil {
		err = df.f.Sync()
	}
	if cerr := df.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write day %s: %w", day, err)
	}
	return nil
}

func (p *partitioner) abort() {
	for day, df := range p.open {
		df.s.abort()
		df.f.Close()
		delete(p.open, day)
	}
}
