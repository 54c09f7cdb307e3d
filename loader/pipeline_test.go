package loader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/mcasload/mcasload/schema"
	"github.com/mcasload/mcasload/warehouse"
)

// memCommitter is an in-memory stand-in for the warehouse: first wins by id, like the real one.
type memCommitter struct {
	mu       sync.Mutex
	raw      map[string]string // id → raw of the stored row
	commits  []memCommit
	failAt   int           // fail the commit with this 1-based number (0: never)
	gate     chan struct{} // when set, each commit waits for a receive
	inCommit atomic.Bool
}

type memCommit struct {
	ids      []string
	rejected []schema.Rejected
	state    map[string]string
}

func newMemCommitter() *memCommitter { return &memCommitter{raw: map[string]string{}} }

func (m *memCommitter) Commit(ctx context.Context, c warehouse.Commit) (warehouse.CommitResult, error) {
	m.inCommit.Store(true)
	defer m.inCommit.Store(false)
	if m.gate != nil {
		<-m.gate
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failAt == len(m.commits)+1 {
		m.commits = append(m.commits, memCommit{})
		return warehouse.CommitResult{}, errors.New("disk full")
	}
	var res warehouse.CommitResult
	var mc memCommit
	days := map[string]bool{}
	for _, rec := range c.Records {
		ids := rec.Column(0).(*array.String)
		raws := rec.Column(schema.Activities.FieldIndices("raw")[0]).(*array.String)
		dayCol := rec.Column(3).(*array.Date32)
		for i := range int(rec.NumRows()) {
			id := ids.Value(i)
			mc.ids = append(mc.ids, id)
			if old, ok := m.raw[id]; ok {
				res.Duplicates++
				if old != raws.Value(i) {
					res.Conflicts++
				}
				continue
			}
			m.raw[id] = raws.Value(i)
			res.Inserted++
			days[dayCol.Value(i).FormattedString()] = true
		}
	}
	for d := range days {
		res.Days = append(res.Days, d)
	}
	mc.rejected = c.Rejected
	mc.state = c.State
	res.Rejected = len(c.Rejected)
	m.commits = append(m.commits, mc)
	return res, nil
}

// record renders a minimal valid activity; v varies its content.
func record(id int, v int) json.RawMessage {
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(id) * time.Minute).UnixMilli()
	return json.RawMessage(fmt.Sprintf(`{"_id":"id%06d","timestamp":%d,"created":%d,"v":%d}`, id, ts, ts, v))
}

func TestPipelineKeepsOrderAndFirstWins(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	m := newMemCommitter()
	p := Start(m, Options{Workers: 4, BatchRows: 700, Allocator: mem, Queue: 3})
	rng := rand.New(rand.NewPCG(1, 2))
	first := map[string]string{}
	total := 0
	for c := range 60 {
		n := 1 + rng.IntN(200)
		recs := make([]json.RawMessage, n)
		for i := range recs {
			// Ids repeat across chunks with a different v: only the first occurrence may be kept.
			r := record(rng.IntN(3000), c*1000+i)
			recs[i] = r
			var head struct {
				ID string `json:"_id"`
			}
			if err := json.Unmarshal(r, &head); err != nil {
				t.Fatal(err)
			}
			if _, ok := first[head.ID]; !ok {
				first[head.ID] = string(r)
			}
		}
		total += n
		if err := p.Add(t.Context(), Chunk{Records: recs}); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := p.Close(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(m.raw) != len(first) {
		t.Fatalf("stored %d ids, want %d", len(m.raw), len(first))
	}
	for id, raw := range first {
		if m.raw[id] != raw {
			t.Fatalf("id %s: stored %s, want the first occurrence %s", id, m.raw[id], raw)
		}
	}
	if sum.Records != int64(total) || sum.New != int64(len(first)) || sum.New+sum.Duplicates != int64(total) {
		t.Errorf("summary records %d new %d duplicates %d; want %d read, %d new", sum.Records, sum.New, sum.Duplicates, total, len(first))
	}
	if sum.Conflicts == 0 || sum.Conflicts != sum.Duplicates {
		t.Errorf("every duplicate differs in v, so conflicts (%d) must equal duplicates (%d)", sum.Conflicts, sum.Duplicates)
	}
	if sum.Commits != len(m.commits) || sum.Commits < total/(700+200) {
		t.Errorf("%d commits (summary %d) for %d rows at 700 per commit", len(m.commits), sum.Commits, total)
	}
	for i, c := range m.commits[:len(m.commits)-1] {
		if len(c.ids) < 700 || len(c.ids) >= 700+200 {
			t.Errorf("commit %d holds %d rows; want between 700 and the batch size plus one chunk", i, len(c.ids))
		}
	}
}

func TestPipelineStateCommitsWithItsRecords(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	m := newMemCommitter()
	p := Start(m, Options{Workers: 3, BatchRows: 250, Allocator: mem})
	const chunks, per = 40, 37
	for c := range chunks {
		recs := make([]json.RawMessage, per)
		for i := range recs {
			recs[i] = record(c*per+i, 0)
		}
		if err := p.Add(t.Context(), Chunk{Records: recs, State: map[string]string{"watermark": strconv.Itoa(c)}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for i, c := range m.commits {
		seen += len(c.ids)
		wm, err := strconv.Atoi(c.state["watermark"])
		if err != nil {
			t.Fatalf("commit %d has no watermark: %v", i, c.state)
		}
		// The watermark of chunk k may be stored only with (or after) every record of chunks ≤ k,
		// and must be the newest chunk committed so a restart does not redo committed work.
		if seen != (wm+1)*per {
			t.Errorf("commit %d: %d records committed so far but watermark %d stands for %d", i, seen, wm, (wm+1)*per)
		}
	}
	if got := m.commits[len(m.commits)-1].state["watermark"]; got != strconv.Itoa(chunks-1) {
		t.Errorf("last watermark %s, want %d", got, chunks-1)
	}
}

func TestPipelineRejectsAndFlush(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	m := newMemCommitter()
	p := Start(m, Options{Allocator: mem})
	recs := []json.RawMessage{
		record(1, 0),
		json.RawMessage(`{"timestamp":1}`),
		json.RawMessage(`{"_id":"x","timestamp":"yesterday"}`),
		json.RawMessage(`{"_id":`),
		record(2, 0),
	}
	pre := []schema.Rejected{{Raw: []byte(`{"_id":"big"`), Reason: schema.ReasonTooLarge + ": line 9", Index: -1}}
	if err := p.Add(t.Context(), Chunk{Records: recs, Rejected: pre}); err != nil {
		t.Fatal(err)
	}
	// Flush commits without waiting for a full batch: the scan loop relies on it.
	if err := p.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(m.commits) != 1 || len(m.commits[0].ids) != 2 || len(m.commits[0].rejected) != 4 {
		t.Fatalf("after Flush: commits %+v; want one commit of 2 rows and 4 rejects", m.commits)
	}
	sum, err := p.Close(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{schema.ReasonMissingID: 1, schema.ReasonBadTimestamp: 1, schema.ReasonInvalidJSON: 1, schema.ReasonTooLarge: 1}
	if sum.Rejected != 4 || fmt.Sprint(sum.RejectedByReason) != fmt.Sprint(want) {
		t.Errorf("rejected %d by reason %v; want 4, %v", sum.Rejected, sum.RejectedByReason, want)
	}
	if sum.Records != 6 || sum.New != 2 || sum.Commits != 1 {
		t.Errorf("records %d new %d commits %d; want 6, 2, 1 (Close has nothing left to commit)", sum.Records, sum.New, sum.Commits)
	}
}

func TestPipelineCommitFailureStopsAdds(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	m := newMemCommitter()
	m.failAt = 2
	p := Start(m, Options{BatchRows: 100, Allocator: mem, Workers: 2})
	var addErr error
	for c := 0; c < 1000 && addErr == nil; c++ {
		recs := make([]json.RawMessage, 50)
		for i := range recs {
			recs[i] = record(c*50+i, 0)
		}
		addErr = p.Add(t.Context(), Chunk{Records: recs})
	}
	if addErr == nil || !errors.Is(addErr, p.Err()) {
		t.Fatalf("Add kept accepting chunks after a failed commit (err %v)", addErr)
	}
	sum, err := p.Close(t.Context())
	if err == nil || sum.Error == "" {
		t.Fatalf("Close error %v, summary error %q; want the commit failure", err, sum.Error)
	}
	if len(m.commits) != 2 || sum.Commits != 1 {
		t.Errorf("%d commit attempts, %d counted; want the failed second to be the last", len(m.commits), sum.Commits)
	}
}

func TestPipelineBoundsWorkInFlight(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	m := newMemCommitter()
	m.gate = make(chan struct{})
	const queue, batchChunks = 2, 3
	p := Start(m, Options{Workers: 2, Queue: queue, BatchRows: batchChunks * 10, Allocator: mem})
	var added atomic.Int64
	done := make(chan error, 1)
	go func() {
		for c := range 50 {
			recs := make([]json.RawMessage, 10)
			for i := range recs {
				recs[i] = record(c*10+i, 0)
			}
			if err := p.Add(context.Background(), Chunk{Records: recs}); err != nil {
				done <- err
				return
			}
			added.Add(1)
		}
		done <- nil
	}()
	// While the first commit is held, the reader may get ahead by at most the chunks in that
	// commit, the order queue and the job queue; it must then block instead of buffering more.
	deadline := time.Now().Add(5 * time.Second)
	for !m.inCommit.Load() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	limit := int64(batchChunks + 2*queue + 1)
	if n := added.Load(); n > limit {
		t.Errorf("%d chunks accepted while the commit was blocked; want at most %d", n, limit)
	}
	go func() {
		for range 100 {
			m.gate <- struct{}{}
		}
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	sum, err := p.Close(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if sum.New != 500 {
		t.Errorf("new %d, want 500", sum.New)
	}
}

func TestPipelineCloseAfterCancelCommitsWhatWasRead(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	m := newMemCommitter()
	p := Start(m, Options{Allocator: mem})
	ctx, cancel := context.WithCancel(t.Context())
	if err := p.Add(ctx, Chunk{Records: []json.RawMessage{record(1, 0), record(2, 0)}}); err != nil {
		t.Fatal(err)
	}
	cancel() // a signal arrives
	sum, err := p.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.New != 2 || len(m.raw) != 2 {
		t.Errorf("after cancel, new %d stored %d; want the 2 records read to be committed", sum.New, len(m.raw))
	}
}

// probingWriter is the warehouse's writer, counting the records its commits came with probes for.
type probingWriter struct {
	*warehouse.Writer
	records, probed atomic.Int64
}

func (p *probingWriter) Commit(ctx context.Context, c warehouse.Commit) (warehouse.CommitResult, error) {
	p.records.Add(int64(len(c.Records)))
	for _, pr := range c.IDProbes {
		if pr != nil {
			p.probed.Add(1)
		}
	}
	return p.Writer.Commit(ctx, c)
}

// TestPipelineProbesIDsInTheWorkers: into a real warehouse, the workers look each record's ids
// up before its commit, and ids re-delivered across commits (some in the very next chunks,
// converted while the commit that stores them first runs) are still stored once.
func TestPipelineProbesIDsInTheWorkers(t *testing.T) {
	ctx := t.Context()
	w, err := warehouse.Open(ctx, warehouse.Options{Dir: t.TempDir(), Source: "file"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(ctx)
	pw := &probingWriter{Writer: w}
	p := Start(pw, Options{Workers: 2, BatchRows: 90, Queue: 4})
	rng := rand.New(rand.NewPCG(3, 4))
	distinct := map[int]bool{}
	total := 0
	for c := range 40 {
		recs := make([]json.RawMessage, 30)
		for i := range recs {
			id := c*30 + i
			if c > 0 && rng.IntN(3) == 0 {
				id = rng.IntN(c * 30) // re-delivered from an earlier chunk, another content
			}
			distinct[id] = true
			recs[i] = record(id, c*100+i)
		}
		total += len(recs)
		if err := p.Add(ctx, Chunk{Records: recs}); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := p.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.New != int64(len(distinct)) || sum.New+sum.Duplicates != int64(total) {
		t.Errorf("new %d duplicates %d of %d; want %d new", sum.New, sum.Duplicates, total, len(distinct))
	}
	if got, all := pw.probed.Load(), pw.records.Load(); got < all/2 {
		t.Errorf("%d of %d records came with a probe of the id set; want all but those converted before the first commit", got, all)
	}
}
