package loader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/schema"
	"github.com/mcasload/mcasload/streaming"
	"github.com/mcasload/mcasload/warehouse"
)

// StreamOptions configure LoadStream.
type StreamOptions struct {
	// Tenant is the label the rows are stored under ("" for the writer's).
	Tenant string
	// Since and Until bound a backfill by the hour a blob's path names (see streaming.Window);
	// both zero means an incremental run: every hour from the newest committed one minus
	// Overlap.
	Since, Until time.Time
	// Overlap is how far before the newest committed hour an incremental run lists again
	// (0: streaming.DefaultOverlap).
	Overlap time.Duration
	// Read tunes how blobs are read (lines per batch, longest line).
	Read streaming.ReadOptions
	// BatchRows and BatchBytes cut a commit (0: DefaultBatchRows, DefaultBatchBytes); a commit
	// may carry the lines of several blobs, each with its cursor.
	BatchRows  int
	BatchBytes int64
	Clock      clock.Clock  // default the wall clock
	Logger     *slog.Logger // default slog.Default()
	// Progress, when set, is called after every commit with the summary so far.
	Progress func(Summary)
	// Reread names blobs to read from their start whatever their committed cursor says: the way
	// on after a *streaming.ResumeError someone looked into (the key keeps rows already stored
	// single).
	Reread []string
}

// StreamStore is what LoadStream reads: *streaming.Store.
type StreamStore interface {
	List(ctx context.Context, w streaming.Window) ([]streaming.Blob, error)
	Resume(ctx context.Context, b streaming.Blob, cur streaming.Cursor, opts streaming.ReadOptions) (*streaming.Tail, error)
	Container() string
	Endpoint() string
}

// StreamWriter is where LoadStream commits, and where it reads its cursors: *warehouse.Writer.
type StreamWriter interface {
	Committer
	TenantState(ctx context.Context, label, key string) (string, bool, error)
	Tenant() string
}

// ErrBlobsNotLoaded is wrapped when some blobs of a stream run could not be read on from their
// cursors (*streaming.ResumeError each): the other blobs were loaded.
var ErrBlobsNotLoaded = errors.New("some blobs no longer continue what was loaded from them")

// StreamError lists the blobs a run left alone because they no longer continue what was loaded
// from them; it unwraps to ErrBlobsNotLoaded and to each *streaming.ResumeError.
type StreamError struct{ Blobs []error }

func (e *StreamError) Error() string {
	msgs := make([]string, len(e.Blobs))
	for i, b := range e.Blobs {
		msgs[i] = b.Error()
	}
	return fmt.Sprintf("load stream: %d %s: %s", len(e.Blobs), ErrBlobsNotLoaded, strings.Join(msgs, "; "))
}

func (e *StreamError) Unwrap() []error { return append([]error{ErrBlobsNotLoaded}, e.Blobs...) }

// CursorKey is the state key of a blob's cursor: per account, container and blob, in the tenant
// the rows are stored under.
func CursorKey(endpoint, container, blob string) string {
	return "stream.cursor:" + streamPrefix(endpoint, container) + "/" + blob
}

// HourKey is the state key of the newest hour (as its blob's path names it) a run committed
// lines of, where the next incremental run starts (minus the overlap).
func HourKey(endpoint, container string) string {
	return "stream.hour:" + streamPrefix(endpoint, container)
}

func streamPrefix(endpoint, container string) string {
	return strings.ToLower(strings.TrimSuffix(endpoint, "/")) + "/" + container
}

// LoadStream loads the new complete lines of the Streaming API's CloudAppEvents export into the
// warehouse's cloud_app_events table: it lists the blobs of the window (incremental by default),
// resumes each from its committed cursor, converts its lines and commits the rows with the
// cursors of the lines they came from in one transaction, so a kill at any instant loses and
// doubles nothing. A blob that no longer continues its cursor (recreated, shrunk, rewritten) is
// left alone and reported in a *StreamError after the others are loaded. When ctx ends it commits
// what was read and returns the summary with Stopped and ctx's error.
func LoadStream(ctx context.Context, w StreamWriter, st StreamStore, opts StreamOptions) (*Summary, error) {
	r := newStreamRun(w, st, opts)
	err := r.run(ctx)
	r.sum.finish(r.opts.Clock.Now())
	switch {
	case err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()):
		r.sum.Stopped = true
	case err != nil:
		r.sum.Error = err.Error()
	}
	return &r.sum, err
}

// streamRun is one LoadStream: its options, converter, summary and the commit being gathered.
type streamRun struct {
	w    StreamWriter
	st   StreamStore
	opts StreamOptions
	conv *schema.CloudAppEventsConverter
	sum  Summary
	// The commit being gathered: rows, rejects and the state after them.
	records  []arrow.RecordBatch
	rejected []schema.Rejected
	state    map[string]string
	rows     int
	bytes    int64
	// hour is the newest hour committed or gathered; hourKey its state key.
	hour    time.Time
	hourKey string
	broken  []error
}

func newStreamRun(w StreamWriter, st StreamStore, opts StreamOptions) *streamRun {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Overlap <= 0 {
		opts.Overlap = streaming.DefaultOverlap
	}
	if opts.BatchRows <= 0 {
		opts.BatchRows = DefaultBatchRows
	}
	if opts.BatchBytes <= 0 {
		opts.BatchBytes = DefaultBatchBytes
	}
	if opts.Tenant == "" {
		opts.Tenant = w.Tenant()
	}
	return &streamRun{w: w, st: st, opts: opts, state: map[string]string{},
		conv: schema.NewCloudAppEventsConverter(memory.DefaultAllocator, schema.CloudAppEventsOptions{Tenant: opts.Tenant, MaxRecordBytes: opts.Read.MaxLineBytes}),
		sum: Summary{Command: "stream", Source: strings.TrimSuffix(st.Endpoint(), "/") + "/" + st.Container(), Tenant: opts.Tenant,
			Started: opts.Clock.Now(), Counters: map[string]int64{}},
		hourKey: HourKey(st.Endpoint(), st.Container())}
}

func (r *streamRun) run(ctx context.Context) error {
	win, err := r.window(ctx)
	if err != nil {
		return err
	}
	blobs, err := r.st.List(ctx, win)
	if err != nil {
		return err
	}
	r.sum.Counters["blobs_listed"] = int64(len(blobs))
	for _, b := range blobs {
		if err := ctx.Err(); err != nil {
			return r.stop(ctx, err)
		}
		if err := r.blob(ctx, b); err != nil {
			if ctx.Err() != nil {
				return r.stop(ctx, ctx.Err())
			}
			return errors.Join(err, r.flush(context.WithoutCancel(ctx)))
		}
	}
	if err := r.flush(ctx); err != nil {
		return err
	}
	if len(r.broken) > 0 {
		return &StreamError{Blobs: r.broken}
	}
	return nil
}

// stop commits what was read before ctx ended, and returns why it ended.
func (r *streamRun) stop(ctx context.Context, why error) error {
	if err := r.flush(context.WithoutCancel(ctx)); err != nil {
		return errors.Join(why, err)
	}
	return why
}

// window is the listing of this run: the backfill's bounds, or every hour from the newest
// committed one minus the overlap.
// A backfill never moves the newest committed hour back.
func (r *streamRun) window(ctx context.Context) (streaming.Window, error) {
	v, ok, err := r.w.TenantState(ctx, r.opts.Tenant, r.hourKey)
	if err != nil {
		return streaming.Window{}, err
	}
	if ok {
		if r.hour, err = time.Parse(time.RFC3339, v); err != nil {
			return streaming.Window{}, fmt.Errorf("read the stream's last hour %q: %w", v, err)
		}
	}
	if !r.opts.Since.IsZero() || !r.opts.Until.IsZero() {
		return streaming.Window{Since: r.opts.Since, Until: r.opts.Until}, nil
	}
	return streaming.Incremental(r.hour, r.opts.Overlap), nil
}

// cursor is the committed cursor of a blob, or the one gathered for the next commit.
func (r *streamRun) cursor(ctx context.Context, blob, key string) (streaming.Cursor, error) {
	var cur streaming.Cursor
	v, ok := r.state[key]
	if !ok && slices.Contains(r.opts.Reread, blob) {
		r.opts.Logger.Warn("reading the blob again from its start, as asked", "blob", blob)
		return cur, nil
	}
	if !ok {
		var err error
		if v, ok, err = r.w.TenantState(ctx, r.opts.Tenant, key); err != nil {
			return cur, err
		}
	}
	if !ok {
		return cur, nil
	}
	if err := cur.UnmarshalText([]byte(v)); err != nil {
		return cur, fmt.Errorf("state %s: %w", key, err)
	}
	return cur, nil
}

// blob loads the new complete lines of one blob.
func (r *streamRun) blob(ctx context.Context, b streaming.Blob) error {
	key := CursorKey(r.st.Endpoint(), r.st.Container(), b.Name)
	cur, err := r.cursor(ctx, b.Name, key)
	if err != nil {
		return err
	}
	tail, err := r.st.Resume(ctx, b, cur, r.opts.Read)
	var re *streaming.ResumeError
	switch {
	case errors.As(err, &re):
		r.opts.Logger.Error("blob not loaded: it no longer continues what was loaded from it", "blob", b.Name, "err", err)
		r.broken = append(r.broken, err)
		r.sum.Counters["blobs_refused"]++
		return nil
	case errors.Is(err, streaming.ErrBlobGone):
		r.opts.Logger.Info("blob deleted since it was listed; nothing to read", "blob", b.Name)
		return nil
	case err != nil:
		return err
	}
	defer tail.Close()
	read := false
	for {
		batch, err := tail.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		read = true
		if err := r.add(ctx, b, batch); err != nil {
			return err
		}
	}
	if !read {
		r.sum.Counters["blobs_unchanged"]++
	}
	// At the end the cursor also carries the version's ETag: a later listing of the same
	// version skips the blob without a request.
	if end := tail.Cursor(); end.ETag != "" && end.ETag != cur.ETag {
		text, err := end.MarshalText()
		if err != nil {
			return err
		}
		r.state[key] = string(text)
	}
	return nil
}

// add converts a batch of one blob's lines and gathers its rows, rejects and cursor into the
// commit, committing when the commit is full.
func (r *streamRun) add(ctx context.Context, b streaming.Blob, batch *streaming.Batch) error {
	conv, err := r.conv.ConvertChunk(batch.Chunk)
	if err != nil {
		return fmt.Errorf("convert blob %s: %w", b.Name, err)
	}
	for i := range conv.Rejected {
		rj := &conv.Rejected[i]
		if !strings.Contains(rj.Reason, ":") {
			rj.Reason += ":"
		}
		rj.Reason += fmt.Sprintf(" (line %d of %s)", rj.Line, b.Name)
	}
	text, err := batch.Cursor.MarshalText()
	if err != nil {
		conv.Record.Release()
		return err
	}
	r.records = append(r.records, conv.Record)
	r.rejected = append(r.rejected, conv.Rejected...)
	r.state[CursorKey(r.st.Endpoint(), r.st.Container(), b.Name)] = string(text)
	if b.Hour.After(r.hour) {
		r.hour = b.Hour
		r.state[r.hourKey] = b.Hour.UTC().Format(time.RFC3339)
	}
	r.rows += int(conv.Record.NumRows())
	r.bytes += batch.Bytes
	r.sum.Records += int64(len(batch.Chunk.Records) + len(batch.Chunk.Rejected))
	r.sum.Bytes += batch.Bytes
	r.sum.TypeErrors += int64(conv.TypeErrors)
	r.sum.Counters["lines"] += int64(len(batch.Chunk.Records) + len(batch.Chunk.Rejected))
	if r.rows >= r.opts.BatchRows || r.bytes >= r.opts.BatchBytes {
		return r.flush(ctx)
	}
	return nil
}

// flush commits what was gathered: rows, rejects and cursors in one transaction.
func (r *streamRun) flush(ctx context.Context) error {
	if len(r.records) == 0 && len(r.rejected) == 0 && len(r.state) == 0 {
		return nil
	}
	defer func() {
		for _, rec := range r.records {
			rec.Release()
		}
		r.records, r.rejected, r.state, r.rows, r.bytes = nil, nil, map[string]string{}, 0, 0
	}()
	res, err := r.w.Commit(ctx, warehouse.Commit{Tenant: r.opts.Tenant, Table: warehouse.TableCloudAppEvents,
		Records: r.records, Rejected: r.rejected, State: r.state})
	if err != nil && !errors.Is(err, warehouse.ErrNotPublished) {
		return err
	}
	r.sum.Commits++
	r.sum.New += int64(res.Inserted)
	r.sum.Duplicates += int64(res.Duplicates)
	r.sum.Conflicts += int64(res.Conflicts)
	r.sum.Rejected += int64(res.Rejected)
	for _, rj := range r.rejected {
		if r.sum.RejectedByReason == nil {
			r.sum.RejectedByReason = map[string]int64{}
		}
		code, _, _ := strings.Cut(rj.Reason, ":")
		r.sum.RejectedByReason[code]++
	}
	r.sum.Days = mergeDays(r.sum.Days, res.Days)
	if r.opts.Progress != nil {
		r.opts.Progress(r.sum)
	}
	return err
}

// mergeDays adds the days of add to days, once each.
func mergeDays(days, add []string) []string {
	for _, d := range add {
		if !slices.Contains(days, d) {
			days = append(days, d)
		}
	}
	return days
}
