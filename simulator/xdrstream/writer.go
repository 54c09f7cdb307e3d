package xdrstream

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/mcasload/mcasload/simulator/synth"
)

// Hook sees every event before it is written and may change it (a planted difference between
// the two feeds) or drop it from the stream (return false). note, when not empty, is recorded in
// the truth with the event: which events differ is then known exactly.
type Hook func(e *Event) (keep bool, note string)

// Config says what to write where.
type Config struct {
	Tenant *synth.Tenant
	// Container is where the blobs go; it is created when missing.
	Container *container.Client
	// Folder, instead of Container, is a folder the blobs go to as files that grow the same way
	// (the container's folder of a local copy: DIR/<container>); it is created when missing.
	Folder string
	// Differences say how the stream differs from the activities API (by default as real feeds
	// do); Hook, when set, then sees every event.
	Differences Differences
	Hook        Hook
	// MaxAppendBytes bounds one append (0: 4 MiB, the limit of older service versions).
	MaxAppendBytes int
}

// maxAppends is Azure's limit of blocks per append blob (also enforced by Azurite).
const maxAppends = 50_000

// Writer appends the tenant's events to hourly append blobs as a simulated clock passes: each
// WriteThrough appends the events received since the last one, batched into few appends per
// blob. It writes with an append-position condition, so a second writer fails instead of
// doubling lines, and a new Writer continues blobs an earlier one left (its lines are
// deterministic). Not safe for concurrent use.
type Writer struct {
	cfg     Config
	sink    sink
	order   []int32 // activity indexes by received time, then index
	next    int     // position in order of the first event not yet written
	blobs   map[string]*blobState
	through time.Time
	truth   Truth
	buf     []byte
	ready   bool             // the container exists and existing holds its blobs' lengths
	existed map[string]int64 // blobs in the container when the writer started, by name
	chosen  map[int]change   // the activities the Differences' settings pick
}

type blobState struct {
	length  int64 // bytes in the blob, as this writer knows it
	appends int32
	known   bool // length was read from storage (or the blob created)
	lines   int
}

// New prepares a writer; it sends no request.
func New(cfg Config) (*Writer, error) {
	if cfg.Tenant == nil || (cfg.Container == nil) == (cfg.Folder == "") {
		return nil, errors.New("new stream writer: a tenant and either a container or a folder are needed")
	}
	var sk sink = containerSink{cfg.Container}
	if cfg.Folder != "" {
		sk = &folderSink{dir: cfg.Folder}
	}
	return newWriter(cfg, sk), nil
}

// newWriter prepares a writer to sk (nil: one that only renders lines).
func newWriter(cfg Config, sk sink) *Writer {
	if cfg.MaxAppendBytes <= 0 {
		cfg.MaxAppendBytes = 4 << 20
	}
	t := cfg.Tenant
	order := make([]int32, t.Len())
	recv := make([]int64, t.Len())
	for i := range order {
		order[i] = int32(i)
		recv[i] = Received(t.Activity(i)).UnixMilli()
	}
	slices.SortStableFunc(order, func(a, b int32) int { return cmp.Compare(recv[a], recv[b]) })
	w := &Writer{cfg: cfg, sink: sk, order: order, blobs: map[string]*blobState{}, chosen: cfg.Differences.chosen(t.Len()),
		truth: Truth{Rule: truthRule, Differences: cfg.Differences}}
	if sk != nil {
		w.truth.Container = sk.location()
	}
	return w
}

// Lines renders the lines a Writer appends for the events received at or before through, in
// the order it appends them, without storage, and the truth of what they hold (tests of readers
// of the stream that need no storage emulator).
func Lines(cfg Config, through time.Time) ([][]byte, Truth, error) {
	if cfg.Tenant == nil {
		return nil, Truth{}, errors.New("render stream lines: a tenant is needed")
	}
	w := newWriter(cfg, nil)
	var lines [][]byte
	end := w.receivedThrough(through)
	for _, idx := range w.order[:end] {
		evs, err := w.events(int(idx))
		if err != nil {
			return nil, Truth{}, err
		}
		for i := range evs {
			line, err := evs[i].AppendLine(nil)
			if err != nil {
				return nil, Truth{}, err
			}
			lines = append(lines, line)
		}
	}
	w.truth.Through, w.truth.Events = through, len(lines)
	return lines, w.truth, nil
}

// receivedThrough is the position in order after the last event received at or before now.
func (w *Writer) receivedThrough(now time.Time) int {
	end := w.next
	for end < len(w.order) && !Received(w.cfg.Tenant.Activity(int(w.order[end]))).After(now) {
		end++
	}
	return end
}

// events are the lines activity i becomes in the stream: none when dropped, its event (with the
// default differences, a setting's change and the hook's), and an only-in-stream copy when the
// settings pick it for one. The truth records every setting's change.
func (w *Writer) events(i int) ([]Event, error) {
	e, buf, err := Map(w.cfg.Tenant, i, w.buf)
	w.buf = buf
	if err != nil {
		return nil, err
	}
	w.cfg.Differences.apply(&e)
	var out []Event
	switch w.chosen[i] {
	case changeDrop:
		w.truth.Dropped = append(w.truth.Dropped, Change{ActivityID: e.ActivityID, ReportID: e.Props.ReportID, Note: "left out of the stream (setting drop)"})
		return nil, nil
	case changeReID:
		e.Props.ReportID = newReportID(e.ActivityID, "reid", e.Props.ApplicationID)
		w.truth.ReIDs = append(w.truth.ReIDs, Change{ActivityID: e.ActivityID, ReportID: e.Props.ReportID, Note: "ReportId not derived from the _id (setting reid)"})
	case changeExtra:
		x := e
		x.ActivityID = ""
		x.Props.ReportID = newReportID(e.ActivityID, "extra", e.Props.ApplicationID)
		x.Props.Timestamp = x.Props.Timestamp.Add(-extraShift)
		w.truth.Extra = append(w.truth.Extra, Change{ReportID: x.Props.ReportID,
			Note: "only in the stream: activity " + e.ActivityID + " again, " + extraShift.String() + " earlier (setting extra)"})
		out = append(out, x)
	}
	if !w.hook(&e) {
		return out, nil
	}
	return append([]Event{e}, out...), nil
}

// BlobName is the blob an event received at t goes to, in the layout third-party collectors
// document for the export: tenantId=<tenant>/y=…/m=…/d=…/h=…/m=00/PT1H.json.
func BlobName(tenantID string, t time.Time) string {
	return "tenantId=" + tenantID + t.UTC().Format("/y=2006/m=01/d=02/h=15") + "/m=00/PT1H.json"
}

// WriteThrough appends every event received at or before now that is not written yet and
// returns how many lines it appended.
func (w *Writer) WriteThrough(ctx context.Context, now time.Time) (int, error) {
	if err := w.ensureContainer(ctx); err != nil {
		return 0, err
	}
	pending := map[string][][]byte{} // blob → lines, in order
	var names []string
	end := w.receivedThrough(now)
	for _, idx := range w.order[w.next:end] {
		evs, err := w.events(int(idx))
		if err != nil {
			return 0, err
		}
		for i := range evs {
			line, err := evs[i].AppendLine(nil)
			if err != nil {
				return 0, err
			}
			name := BlobName(evs[i].TenantID, evs[i].Time)
			if _, ok := pending[name]; !ok {
				names = append(names, name)
			}
			pending[name] = append(pending[name], line)
		}
	}
	written, err := w.appendAll(ctx, names, pending)
	if err != nil {
		return written, err
	}
	w.next = end
	if now.After(w.through) {
		w.through = now
	}
	w.truth.Through = w.through
	return written, nil
}

// appendAll appends to several blobs at once: storage answers each request in milliseconds, and
// a backfill touches hundreds of hourly blobs.
func (w *Writer) appendAll(ctx context.Context, names []string, pending map[string][][]byte) (int, error) {
	states := make([]*blobState, len(names))
	for i, name := range names {
		if w.blobs[name] == nil {
			w.blobs[name] = &blobState{}
		}
		states[i] = w.blobs[name]
	}
	var (
		mu      sync.Mutex
		written int
		errs    []error
		wg      sync.WaitGroup
		sem     = make(chan struct{}, parallelBlobs)
	)
	for i, name := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			n, err := w.appendLines(ctx, name, states[i], pending[name])
			mu.Lock()
			defer mu.Unlock()
			written += n
			w.truth.setBlob(name, states[i])
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	return written, errors.Join(errs...)
}

// parallelBlobs is how many blobs a writer appends to at once.
const parallelBlobs = 8

// hook runs the configured hook and records what it did.
func (w *Writer) hook(e *Event) bool {
	if w.cfg.Hook == nil {
		return true
	}
	id := e.Props.ReportID
	keep, note := w.cfg.Hook(e)
	switch {
	case !keep:
		w.truth.Dropped = append(w.truth.Dropped, Change{ActivityID: e.ActivityID, ReportID: id, Note: note})
	case note != "":
		w.truth.Altered = append(w.truth.Altered, Change{ActivityID: e.ActivityID, ReportID: e.Props.ReportID, Note: note})
	}
	return keep
}

func (w *Writer) ensureContainer(ctx context.Context) error {
	if w.ready {
		return nil
	}
	// One listing tells a restarted writer where every blob stands.
	existed, err := w.sink.prepare(ctx)
	if err != nil {
		return err
	}
	w.existed = existed
	w.ready = true
	return nil
}

// appendLines appends lines to a blob in batches, after the lines an earlier writer already put
// there (they are the first of these lines: the rendering is deterministic).
func (w *Writer) appendLines(ctx context.Context, name string, st *blobState, lines [][]byte) (int, error) {
	if !st.known {
		skip, err := w.open(ctx, st, name, lines)
		if err != nil {
			return 0, err
		}
		lines = lines[skip:]
	}
	written := 0
	for len(lines) > 0 {
		var batch bytes.Buffer
		n := 0
		for n < len(lines) && (n == 0 || batch.Len()+len(lines[n]) <= w.cfg.MaxAppendBytes) {
			batch.Write(lines[n])
			n++
		}
		if st.appends >= maxAppends {
			return written, fmt.Errorf("append to %s: the blob has %d appends, Azure's limit per append blob: write less often", name, st.appends)
		}
		pos := st.length
		appends, err := w.sink.append(ctx, name, pos, batch.Bytes())
		if err != nil {
			return written, err
		}
		st.length += int64(batch.Len())
		st.appends = max(st.appends+1, appends)
		st.lines += n
		written += n
		lines = lines[n:]
	}
	return written, nil
}

// open creates the blob when the container did not hold it, or says how many of lines an
// earlier writer already appended to it.
func (w *Writer) open(ctx context.Context, st *blobState, name string, lines [][]byte) (int, error) {
	have, existed := w.existed[name]
	if !existed {
		if err := w.sink.create(ctx, name); err != nil {
			return 0, err
		}
		st.known = true
		return 0, nil
	}
	skip := 0
	for have > 0 && skip < len(lines) && st.length+int64(len(lines[skip])) <= have {
		st.length += int64(len(lines[skip]))
		skip++
	}
	if st.length != have {
		return 0, fmt.Errorf("continue blob %s: it holds %d bytes, not a whole number of this tenant's lines (%d): was it written by another seed or clock? use an empty container", name, have, st.length)
	}
	st.known, st.lines = true, skip
	return skip, nil
}

// Truth returns what the writer has written so far.
func (w *Writer) Truth() Truth { return w.truth.clone() }

func ptr[T any](v T) *T { return &v }

// storageErr says what failed in one line: the service's status and code rather than the SDK's
// multi-line dump of the response.
func storageErr(op string, err error) error {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return &oneLineError{msg: fmt.Sprintf("%s: HTTP %d %s", op, re.StatusCode, re.ErrorCode), err: err}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// oneLineError is a short message that still unwraps to the SDK's error (bloberror.HasCode).
type oneLineError struct {
	msg string
	err error
}

func (e *oneLineError) Error() string { return e.msg }
func (e *oneLineError) Unwrap() error { return e.err }
