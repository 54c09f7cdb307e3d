// Package loader holds the pipelines that feed the warehouse: files and stdin (`mcasload load`)
// and, built on the same Pipeline, the API scan loop. A Pipeline converts raw records to Arrow on
// a small worker pool, keeps their order, gathers them into large commits, and commits each one
// together with the caller's state updates (the scan loop's watermarks), so rows and position
// become durable in the same DuckDB transaction.
package loader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/internal/failpoint"
	"github.com/mcasload/mcasload/internal/progress"
	"github.com/mcasload/mcasload/schema"
	"github.com/mcasload/mcasload/warehouse"
)

// Committer is where a Pipeline commits; *warehouse.Writer is the production one.
type Committer interface {
	Commit(ctx context.Context, c warehouse.Commit) (warehouse.CommitResult, error)
}

// idProber is a Committer that can look a record's ids up in its id set ahead of the record's
// commit (*warehouse.Writer): the workers do, so the commit does not wait for the lookup. The
// committer opens the set first (PrepareIDs), while the first chunks are converted.
type idProber interface {
	ProbeIDs(table, label string, r arrow.RecordBatch) *warehouse.IDProbe
	PrepareIDs(ctx context.Context, table, label string) error
}

// tenantCommitter is a Committer with a tenant of its own (*warehouse.Writer): a pipeline whose
// options name no tenant converts rows for that one.
type tenantCommitter interface {
	Tenant() string
}

// Default sizes. A commit is cut at 100k rows or 16 MiB of raw JSON, whichever comes first
// (about 5,000 real records of ~3.4 KB): the commit's Arrow rows and DuckDB's work on them
// (insert, checkpoint, Parquet) then fit a 300 MB process, while a commit's fixed cost (opening
// the DuckDB file, bookkeeping, fsyncs) stays small next to its rows. Chunks of at most
// 4 MiB keep the conversion queue small.
const (
	DefaultBatchRows  = 100_000
	DefaultBatchBytes = 16 << 20
	DefaultChunkRows  = 5000
	DefaultChunkBytes = 4 << 20
)

// Options configure a Pipeline. The zero value works.
type Options struct {
	// Workers converting JSON to Arrow; default GOMAXPROCS (conversion is CPU-bound).
	Workers int
	// BatchRows and BatchBytes (raw JSON bytes) trigger a commit when either is reached.
	BatchRows  int
	BatchBytes int64
	// Queue is how many chunks may wait for conversion or commit; default 2×Workers. With
	// BatchRows/BatchBytes it bounds the memory a run holds, whatever the input size.
	Queue int
	// GoMemoryLimit is the Go garbage collector's soft limit (a memory budget's Go share);
	// default 2×BatchBytes + 64 MiB. The pipeline sets it only when the process has none yet
	// (GOMEMLIMIT).
	GoMemoryLimit int64
	// Schema configures each worker's converter; its Tenant defaults to the committer's
	// (warehouse.Writer.Tenant), so every row carries the tenant it is committed under.
	Schema schema.Options
	// Allocator for Arrow memory; default memory.DefaultAllocator. Tests pass a checked one.
	Allocator memory.Allocator
	// Clock times the run; default clock.Real.
	Clock clock.Clock
	// Command ("load", "scan") and Source name the run in its Summary.
	Command string
	Source  string
}

// Chunk is a run of raw records in input order, with what comes with them.
type Chunk struct {
	Records []json.RawMessage
	// Data, when set, holds Records back to back (an NDJSON reader's buffer): the converted
	// rows then share it as their raw column instead of a copy (schema.Chunk.Data).
	Data []byte
	// Bytes of input the chunk stands for (for rates and progress); default the records' size.
	Bytes int64
	// Lines[i], when set, is the input line of Records[i], so rejects can say where they were.
	Lines []int
	// Rejected holds records refused before conversion (e.g. a line over the size limit); they
	// are committed to rejected_activities with the chunk.
	Rejected []schema.Rejected
	// State holds state updates (key → value, e.g. a scan watermark) that must become durable
	// only once every record of this chunk and all earlier chunks is committed. Later chunks'
	// values for a key win. A load passes none, so it never moves a scan watermark.
	State map[string]string
}

// Pipeline converts and commits chunks. Add, Flush and Close may be called from several
// goroutines; chunks are committed in the order their Add calls returned, so "first wins" on a
// re-delivered id is deterministic.
type Pipeline struct {
	c    Committer
	opts Options

	addMu  sync.Mutex // makes each Add's two queue sends one step, so both queues agree on order
	closed bool       // guarded by addMu
	jobs   chan *job  // to the conversion workers
	order  chan *job  // to the committer, in Add order
	wg     sync.WaitGroup
	done   chan struct{} // closed when the committer has finished

	mu      sync.Mutex
	sum     Summary
	days    map[string]bool
	err     error         // first fatal error; every later Add returns it
	failed  chan struct{} // closed on the first fatal error
	failOne sync.Once
}

// job is one chunk on its way through the pipeline, or a flush marker (flush != nil).
type job struct {
	chunk Chunk
	res   chan converted // buffered(1): the worker never waits for the committer
	flush chan error
}

type converted struct {
	batch *schema.Batch
	sums  []uint64           // warehouse.RawSums of batch.Record, hashed by the worker
	probe *warehouse.IDProbe // its ids looked up by the worker; nil when the committer cannot
	err   error
}

// Start starts a pipeline committing to c. Close must be called to finish it.
func Start(c Committer, opts Options) *Pipeline {
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.BatchRows <= 0 {
		opts.BatchRows = DefaultBatchRows
	}
	if opts.BatchBytes <= 0 {
		opts.BatchBytes = DefaultBatchBytes
	}
	if opts.Queue <= 0 {
		opts.Queue = 2 * opts.Workers
	}
	if opts.Allocator == nil {
		opts.Allocator = memory.DefaultAllocator
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if tc, ok := c.(tenantCommitter); ok && opts.Schema.Tenant == "" {
		opts.Schema.Tenant = tc.Tenant()
	}
	setGoMemoryLimit(opts)
	p := &Pipeline{
		c:      c,
		opts:   opts,
		jobs:   make(chan *job, opts.Queue),
		order:  make(chan *job, opts.Queue),
		done:   make(chan struct{}),
		days:   map[string]bool{},
		failed: make(chan struct{}),
	}
	p.sum = Summary{Command: opts.Command, Source: opts.Source, Tenant: opts.Schema.Tenant, Started: opts.Clock.Now()}
	for range opts.Workers {
		p.wg.Add(1)
		go p.convertLoop()
	}
	go p.commitLoop()
	return p
}

// setGoMemoryLimit gives the Go garbage collector a soft limit sized to what a pipeline holds
// (the commit being stored, the next one gathering, the queue), unless the process already has
// one (GOMEMLIMIT or an earlier pipeline). Without it the heap grows to twice its live size
// before a collection, which alone can pass a small machine's budget.
// The committer keeps nothing between commits that grows with the warehouse (its dedupe index
// is on disk), so the limit is the pipeline's alone.
func setGoMemoryLimit(opts Options) {
	if debug.SetMemoryLimit(-1) == math.MaxInt64 {
		debug.SetMemoryLimit(goMemoryLimit(opts))
	}
}

func goMemoryLimit(opts Options) int64 {
	if opts.GoMemoryLimit > 0 {
		return opts.GoMemoryLimit
	}
	return 2*opts.BatchBytes + 64<<20
}

// convertLoop is one worker: its own converter (converters are not safe for concurrent use).
func (p *Pipeline) convertLoop() {
	defer p.wg.Done()
	conv := schema.NewConverter(p.opts.Allocator, p.opts.Schema)
	for j := range p.jobs {
		if p.failedNow() {
			j.res <- converted{err: errPipelineFailed}
			continue
		}
		b, err := convertChunk(conv, j.chunk)
		// The rows now live in Arrow (raw included, sharing Data when it could); let the rest of
		// the JSON go while the job waits its turn.
		j.chunk.Records, j.chunk.Data, j.chunk.Lines, j.chunk.Rejected = nil, nil, nil, nil
		var sums []uint64
		if err == nil {
			// The hashes of raw the commit's index stores: here, on the workers' cores, raw
			// is read while it is still in cache, and the commit does not wait for them
			// (they were a fifth of a load's time on its path).
			sums, err = warehouse.RawSums(b.Record)
		}
		var probe *warehouse.IDProbe
		if pr, ok := p.c.(idProber); ok && err == nil {
			// The id set's lookup too (pread calls, 13–40 ms of a 3,600-row commit at 20M
			// stored ids), beside the commit in progress; the commit adds what it stored since.
			probe = pr.ProbeIDs(warehouse.TableActivities, p.opts.Schema.Tenant, b.Record)
		}
		if err == nil {
			// A crash here leaves converted rows that were never committed: the rerun must
			// read them again and end with the same warehouse.
			failpoint.Hit("convert")
		}
		j.res <- converted{batch: b, sums: sums, probe: probe, err: err}
	}
}

// convertChunk converts ch; the batch's rejects include the chunk's own, in input order.
func convertChunk(conv *schema.Converter, ch Chunk) (*schema.Batch, error) {
	if ch.Lines != nil {
		return conv.ConvertChunk(&schema.Chunk{Records: ch.Records, Data: ch.Data, Lines: ch.Lines, Rejected: ch.Rejected})
	}
	b, err := conv.Convert(ch.Records)
	if err != nil {
		return nil, err
	}
	if len(ch.Rejected) > 0 {
		b.Rejected = append(append([]schema.Rejected(nil), ch.Rejected...), b.Rejected...)
	}
	return b, nil
}

var errPipelineFailed = errors.New("pipeline stopped after an earlier error")

func (p *Pipeline) failedNow() bool {
	select {
	case <-p.failed:
		return true
	default:
		return false
	}
}

// fail records the first fatal error.
func (p *Pipeline) fail(err error) {
	p.failOne.Do(func() {
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.failed)
	})
}

// Add queues a chunk. It blocks while the queue is full (that is what bounds memory) and returns
// the pipeline's error once a commit has failed. The chunk's slices must not be modified after.
func (p *Pipeline) Add(ctx context.Context, ch Chunk) error {
	if ch.Bytes == 0 {
		for _, r := range ch.Records {
			ch.Bytes += int64(len(r)) + 1
		}
	}
	j := &job{chunk: ch, res: make(chan converted, 1)}
	if err := p.enqueue(ctx, j); err != nil {
		return err
	}
	p.mu.Lock()
	p.sum.Records += int64(len(ch.Records) + len(ch.Rejected))
	p.sum.Bytes += ch.Bytes
	p.mu.Unlock()
	return nil
}

func (p *Pipeline) enqueue(ctx context.Context, j *job) error {
	p.addMu.Lock()
	defer p.addMu.Unlock()
	if p.closed {
		return errors.New("add to pipeline: pipeline is closed")
	}
	return p.enqueueLocked(ctx, j)
}

// enqueueLocked sends j to the committer (and a chunk to the workers); addMu is held.
func (p *Pipeline) enqueueLocked(ctx context.Context, j *job) error {
	// Checked first so that nothing new is queued once a signal arrived, whatever select picks.
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := p.Err(); err != nil {
		return err
	}
	select {
	case p.order <- j:
	case <-ctx.Done():
		return ctx.Err()
	case <-p.failed:
		return p.Err()
	}
	if j.flush != nil {
		return nil
	}
	// Once in order, the job must reach a worker or the committer would wait for it forever;
	// workers always drain jobs, so this send cannot block indefinitely.
	p.jobs <- j
	return nil
}

// Flush commits everything added so far (with its state) and waits for that commit. The scan
// loop uses it at the end of a slice; Close flushes by itself.
func (p *Pipeline) Flush(ctx context.Context) error {
	j := &job{flush: make(chan error, 1)}
	if err := p.enqueue(ctx, j); err != nil {
		return err
	}
	return p.waitFlush(ctx, j)
}

func (p *Pipeline) waitFlush(ctx context.Context, j *job) error {
	select {
	case err := <-j.flush:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Err returns the pipeline's fatal error, if any.
func (p *Pipeline) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Snapshot returns the progress figures so far.
func (p *Pipeline) Snapshot() progress.Snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	return progress.Snapshot{
		Records: p.sum.Records, Bytes: p.sum.Bytes, New: p.sum.New,
		Duplicates: p.sum.Duplicates, Rejected: p.sum.Rejected,
	}
}

// Update lets the caller record figures only it knows (files read, pages, 429s) in the Summary.
func (p *Pipeline) Update(f func(*Summary)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(&p.sum)
}

// Close commits what was added, stops the workers and returns the run's Summary. It keeps
// working when the caller's context is already cancelled (a signal): what was read is
// committed, which is what "SIGINT commits what is done" means. It does not write the summary
// to the run log; the caller does that with the warehouse, once, with the final figures.
func (p *Pipeline) Close(ctx context.Context) (*Summary, error) {
	ctx = context.WithoutCancel(ctx)
	// Refuse new chunks first, then flush: a chunk can never slip in behind the final commit.
	p.addMu.Lock()
	if p.closed {
		p.addMu.Unlock()
		return nil, errors.New("close pipeline: already closed")
	}
	p.closed = true
	fj := &job{flush: make(chan error, 1)}
	ferr := p.enqueueLocked(ctx, fj)
	p.addMu.Unlock()
	if ferr == nil {
		ferr = p.waitFlush(ctx, fj)
	}
	p.addMu.Lock()
	close(p.order)
	close(p.jobs)
	p.addMu.Unlock()
	<-p.done
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	for d := range p.days {
		p.sum.Days = append(p.sum.Days, d)
	}
	p.sum.finish(p.opts.Clock.Now())
	s := p.sum
	err := p.err
	if err == nil {
		err = ferr
	}
	if err != nil {
		s.Error = err.Error()
	}
	return &s, err
}

// pending is what the committer has gathered for the next commit.
type pending struct {
	records  []arrow.RecordBatch
	sums     [][]uint64           // RawSums of each of records
	probes   []*warehouse.IDProbe // the workers' look at the id set for each of records
	rejected []schema.Rejected
	state    map[string]string
	rows     int64
	bytes    int64
}

func (pd *pending) release() {
	for _, r := range pd.records {
		r.Release()
	}
	*pd = pending{}
}

func (pd *pending) empty() bool {
	return len(pd.records) == 0 && len(pd.rejected) == 0 && len(pd.state) == 0
}

// commitLoop receives converted chunks in Add order and commits them in batches.
func (p *Pipeline) commitLoop() {
	defer close(p.done)
	ctx := context.Background() // commits are never abandoned half-way: the warehouse is transactional anyway
	var pd pending
	defer pd.release()
	if pr, ok := p.c.(idProber); ok {
		// A failure here is the first commit's to report: it opens the set itself.
		_ = pr.PrepareIDs(ctx, warehouse.TableActivities, p.opts.Schema.Tenant)
	}
	for j := range p.order {
		if j.flush != nil {
			if p.failedNow() {
				j.flush <- p.Err()
				continue
			}
			err := p.commit(ctx, &pd)
			j.flush <- err
			continue
		}
		r := <-j.res
		if r.err != nil {
			if r.batch != nil && r.batch.Record != nil {
				r.batch.Record.Release()
			}
			if !errors.Is(r.err, errPipelineFailed) {
				p.fail(fmt.Errorf("convert records: %w", r.err))
			}
			continue
		}
		if p.failedNow() {
			// After a failure nothing more is committed; release and drain so Add never blocks.
			if r.batch.Record != nil {
				r.batch.Record.Release()
			}
			continue
		}
		p.gather(&pd, j.chunk, r)
		if pd.rows >= int64(p.opts.BatchRows) || pd.bytes >= p.opts.BatchBytes {
			_ = p.commit(ctx, &pd)
		}
	}
}

// gather adds one converted chunk to the pending commit.
func (p *Pipeline) gather(pd *pending, ch Chunk, r converted) {
	b := r.batch
	if b.Record != nil {
		if b.Record.NumRows() > 0 {
			pd.records = append(pd.records, b.Record)
			pd.sums = append(pd.sums, r.sums)
			pd.probes = append(pd.probes, r.probe)
			pd.rows += b.Record.NumRows()
		} else {
			b.Record.Release()
		}
	}
	pd.rejected = append(pd.rejected, b.Rejected...)
	pd.bytes += ch.Bytes
	for k, v := range ch.State {
		if pd.state == nil {
			pd.state = map[string]string{}
		}
		pd.state[k] = v
	}
	p.mu.Lock()
	p.sum.TypeErrors += int64(b.TypeErrors)
	p.mu.Unlock()
}

// commit commits what is pending, if anything, and records the outcome.
func (p *Pipeline) commit(ctx context.Context, pd *pending) error {
	if pd.empty() {
		return nil
	}
	defer pd.release()
	res, err := p.c.Commit(ctx, warehouse.Commit{Records: pd.records, RawSums: pd.sums, IDProbes: pd.probes, Rejected: pd.rejected, State: pd.state})
	if err != nil {
		err = fmt.Errorf("commit %d rows: %w", pd.rows, err)
		p.fail(err)
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sum.Commits++
	p.sum.New += int64(res.Inserted)
	p.sum.Duplicates += int64(res.Duplicates)
	p.sum.BehindHorizon += int64(res.Old)
	if res.Old > 0 {
		p.sum.Horizon = res.Horizon
	}
	p.sum.Conflicts += int64(res.Conflicts)
	p.sum.Rejected += int64(len(pd.rejected))
	for _, r := range pd.rejected {
		if p.sum.RejectedByReason == nil {
			p.sum.RejectedByReason = map[string]int64{}
		}
		code, _, _ := strings.Cut(r.Reason, ":")
		p.sum.RejectedByReason[code]++
	}
	for _, d := range res.Days {
		p.days[d] = true
	}
	return nil
}
