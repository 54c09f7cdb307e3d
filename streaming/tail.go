package streaming

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"github.com/mcasload/mcasload/schema"
)

// ReadOptions tune how a blob's lines are batched.
type ReadOptions struct {
	// BatchLines is the most lines per batch (0: 5000).
	BatchLines int
	// BatchBytes ends a batch once its lines hold this many bytes (0: 8 MiB).
	BatchBytes int
	// MaxLineBytes is the longest line kept whole (0: schema.DefaultMaxRecordBytes); a longer line
	// is rejected as too_large with its first MaxLineBytes bytes, so memory stays bounded.
	MaxLineBytes int
}

// Batch is a run of complete lines of one blob and the cursor after them.
type Batch struct {
	Blob string
	// Chunk holds the lines: Records are the non-blank lines without their endings, Lines their
	// 1-based line numbers in the blob, Rejected the lines too long to hold. Convert it with
	// schema.CloudAppEventsConverter.ConvertChunk.
	Chunk *schema.Chunk
	// Cursor is where the next batch starts: commit it with the batch's rows, in one transaction.
	Cursor Cursor
	// Bytes is how much of the blob the batch covers, line endings and blank lines included.
	Bytes int64
}

// Tail reads the new complete lines of one blob, from a cursor Resume verified. A last line
// without its "\n" is still being appended: it is left for a later run, and no cursor ever points
// into it. A Tail is not safe for concurrent use.
type Tail struct {
	blob   string
	body   io.ReadCloser
	r      *bufio.Reader
	cur    Cursor
	etag   string // the downloaded version's; the cursor gets it once the read reached the end
	line   hash.Hash
	opts   ReadOptions
	arena  []byte
	err    error // what ends the tail: io.EOF or a read error
	closed bool
}

// Resume opens blob b (as List saw it) after cursor cur (the zero Cursor for a blob never read)
// and verifies that the blob still continues what was committed: the same creation time, at
// least cur.Offset bytes, and the committed last line unchanged. A blob that fails a check is a
// *ResumeError and nothing of it is read. A blob listed with the ETag the cursor recorded is
// unchanged since that read: Resume returns an empty Tail without a request.
func (s *Store) Resume(ctx context.Context, b Blob, cur Cursor, opts ReadOptions) (*Tail, error) {
	opts = opts.withDefaults()
	t := &Tail{blob: b.Name, cur: cur, line: sha256.New(), opts: opts}
	fail := func(why error, detail string, args ...any) error {
		return &ResumeError{Container: s.Location(), Blob: b.Name, Cursor: cur, Err: why, Detail: fmt.Sprintf(detail, args...)}
	}
	if !cur.IsZero() {
		switch {
		case !b.Created.IsZero() && !sameSecond(b.Created, cur.Created):
			return nil, fail(ErrBlobRecreated, "created %s, the cursor's blob %s", stamp(b.Created), stamp(cur.Created))
		case b.Size < cur.Offset:
			return nil, fail(ErrBlobShrunk, "%d bytes listed, %d already loaded", b.Size, cur.Offset)
		case b.ETag != "" && b.ETag == cur.ETag && b.Size == cur.Size:
			t.err = io.EOF // byte for byte what the cursor's read saw
			return t, nil
		}
	}
	var from int64 // a new blob is read whole, which also reads an empty one without a 416
	if !cur.IsZero() {
		from = cur.LineStart
	}
	open := s.download
	if s.dir != "" {
		open = s.openFile
	}
	o, err := open(ctx, b.Name, from, fail)
	if err != nil {
		return nil, err
	}
	t.body = o.body
	t.r = bufio.NewReaderSize(o.body, 1<<20)
	t.cur.Created, t.cur.Size, t.cur.ETag, t.etag = o.created, o.size, "", o.etag
	if cur.IsZero() {
		return t, nil
	}
	if err := t.verify(cur, fail); err != nil {
		_ = t.Close()
		return nil, err
	}
	return t, nil
}

// opened is a blob opened for reading from a byte: its body from there, its whole length, its
// creation time and the version the body belongs to ("" when there is none).
type opened struct {
	body    io.ReadCloser
	size    int64
	created time.Time
	etag    string
}

// download opens a blob of the container from byte from (0: the whole blob).
func (s *Store) download(ctx context.Context, name string, from int64, fail failFunc) (opened, error) {
	var rng blob.HTTPRange // zero: the whole blob
	if from > 0 {
		rng = blob.HTTPRange{Offset: from}
	}
	resp, err := s.cc.NewBlobClient(name).DownloadStream(ctx, &blob.DownloadStreamOptions{Range: rng})
	switch {
	case bloberror.HasCode(err, bloberror.BlobNotFound):
		return opened{}, fmt.Errorf("resume blob %s/%s: %w", s.container, name, ErrBlobGone)
	case bloberror.HasCode(err, bloberror.InvalidRange):
		return opened{}, fail(ErrBlobShrunk, "it ends before byte %d, where the last loaded line starts", from)
	case err != nil:
		return opened{}, s.fail("read blob "+name, err)
	}
	o := opened{body: resp.Body, size: from + derefInt(resp.ContentLength), created: derefTime(resp.CreationTime)}
	if total, ok := rangeTotal(resp.ContentRange); ok {
		o.size = total
	}
	if resp.ETag != nil {
		o.etag = bareETag(string(*resp.ETag))
	}
	return o, nil
}

// failFunc builds the *ResumeError of the blob being resumed.
type failFunc func(why error, detail string, args ...any) error

// verify checks the downloaded blob against the cursor: same creation time, long enough, and the
// committed last line's bytes unchanged.
func (t *Tail) verify(cur Cursor, fail failFunc) error {
	switch {
	case !sameSecond(t.cur.Created, cur.Created):
		return fail(ErrBlobRecreated, "created %s, the cursor's blob %s", stamp(t.cur.Created), stamp(cur.Created))
	case t.cur.Size < cur.Offset:
		return fail(ErrBlobShrunk, "%d bytes now, %d already loaded", t.cur.Size, cur.Offset)
	case cur.Offset == 0:
		return nil // no line committed yet: nothing to compare
	}
	last := make([]byte, cur.Offset-cur.LineStart)
	if n, err := io.ReadFull(t.r, last); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return fail(ErrBlobShrunk, "it ends at byte %d, %d already loaded", cur.LineStart+int64(n), cur.Offset)
		}
		return fmt.Errorf("resume blob %s: read the last loaded line: %w", t.blob, err)
	}
	if sha256.Sum256(last) != cur.LineSHA256 {
		return fail(ErrBlobRewritten, "bytes %d–%d now read %s", cur.LineStart, cur.Offset, excerpt(last))
	}
	return nil
}

// Next returns the next batch of complete lines, or io.EOF when none is left (a partial last
// line stays unread). A read error (a connection cut while the caller was committing) is
// returned after the lines read before it, whose cursor is still good: Resume with Cursor() reads
// on from there.
func (t *Tail) Next() (*Batch, error) {
	if t.err != nil {
		return nil, t.err
	}
	ch := &schema.Chunk{}
	// Sized for what this version of the blob has left (records keep pointing into an arena that
	// had to grow, so a wrong guess costs a copy, never a record).
	left := max(t.cur.Size-t.cur.Offset, 0) + 64
	t.arena = make([]byte, 0, min(int64(t.opts.BatchBytes+t.opts.BatchBytes/4), left))
	start := t.cur.Offset
	for len(ch.Records)+len(ch.Rejected) < t.opts.BatchLines && len(t.arena) < t.opts.BatchBytes {
		if !t.readLine(ch) {
			break
		}
	}
	if t.cur.Offset == start {
		_ = t.Close()
		return nil, t.err
	}
	return &Batch{Blob: t.blob, Chunk: ch, Cursor: t.cur, Bytes: t.cur.Offset - start}, nil
}

// readLine reads one line into the chunk and moves the cursor past it; it reports false (and
// sets t.err) when no complete line was there.
func (t *Tail) readLine(ch *schema.Chunk) bool {
	from := len(t.arena)
	t.line.Reset()
	var total int64 // the line's bytes, its ending included
	for {
		frag, err := t.r.ReadSlice('\n')
		t.line.Write(frag)
		total += int64(len(frag))
		if keep := t.opts.MaxLineBytes + 2 - (len(t.arena) - from); keep > 0 { // +2: room for "\r\n"
			t.arena = append(t.arena, frag[:min(keep, len(frag))]...)
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err != nil && !(err == io.EOF && len(frag) > 0 && frag[len(frag)-1] == '\n'):
			if err != io.EOF {
				err = fmt.Errorf("read blob %s after byte %d: %w", t.blob, t.cur.Offset, err)
			}
			t.err = err // a line without its "\n" is still being written: leave it
			t.arena = t.arena[:from]
			if err == io.EOF && t.cur.Offset+total == t.cur.Size {
				// Every complete line of this version is behind the cursor. Only when the body
				// held exactly the length the answer declared: Azurite can send the ETag of a
				// version newer than the bytes it sends while the blob is being appended to.
				t.cur.ETag = t.etag
			}
			return false
		}
		break
	}
	lineStart := t.cur.Offset
	t.cur.Offset += total
	t.cur.Lines++
	t.cur.LineStart = lineStart
	copy(t.cur.LineSHA256[:], t.line.Sum(nil))
	content := trimEnding(t.arena[from:], total)
	switch {
	case total-int64(endingLen(t.arena[from:], total)) > int64(t.opts.MaxLineBytes):
		ch.Rejected = append(ch.Rejected, schema.Rejected{
			Raw: bytes.Clone(content[:min(len(content), t.opts.MaxLineBytes)]), Index: -1, Line: int(t.cur.Lines),
			Reason: fmt.Sprintf("%s: line %d of %s is %d bytes, limit %d; raw keeps the first %d", schema.ReasonTooLarge,
				t.cur.Lines, t.blob, total, t.opts.MaxLineBytes, t.opts.MaxLineBytes)})
		t.arena = t.arena[:from]
	case len(bytes.TrimSpace(content)) == 0:
		t.arena = t.arena[:from]
	default:
		t.arena = t.arena[:from+len(content)]
		ch.Records = append(ch.Records, json.RawMessage(t.arena[from:len(t.arena):len(t.arena)]))
		ch.Lines = append(ch.Lines, int(t.cur.Lines))
	}
	return true
}

// endingLen is the length of the "\n" or "\r\n" ending a complete line of total bytes whose
// first bytes are kept.
func endingLen(kept []byte, total int64) int {
	if int64(len(kept)) == total && len(kept) >= 2 && kept[len(kept)-2] == '\r' {
		return 2
	}
	return 1
}

// trimEnding returns the kept bytes of a line without its ending.
func trimEnding(kept []byte, total int64) []byte {
	if int64(len(kept)) == total {
		return kept[:len(kept)-endingLen(kept, total)]
	}
	return kept // cut short: the ending was not kept
}

// Cursor is where the tail stands: after the last line Next returned. Once Next has returned
// io.EOF it also carries the blob's ETag (a blob listed later with that ETag is skipped without a
// request): commit it even when no line was new.
func (t *Tail) Cursor() Cursor { return t.cur }

// Close releases the download; a Tail read to io.EOF is closed already.
func (t *Tail) Close() error {
	if t.closed || t.body == nil {
		return nil
	}
	t.closed = true
	return t.body.Close()
}

func (o ReadOptions) withDefaults() ReadOptions {
	if o.BatchLines <= 0 {
		o.BatchLines = 5000
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 8 << 20
	}
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = schema.DefaultMaxRecordBytes
	}
	return o
}

// rangeTotal reads the blob's length from a Content-Range "bytes 10-99/100".
func rangeTotal(cr *string) (int64, bool) {
	if cr == nil {
		return 0, false
	}
	_, total, ok := strings.Cut(*cr, "/")
	n, err := strconv.ParseInt(total, 10, 64)
	return n, ok && err == nil
}

// sameSecond compares creation times as storage reports them: to the second.
func sameSecond(a, b time.Time) bool { return a.Truncate(time.Second).Equal(b.Truncate(time.Second)) }

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func excerpt(b []byte) string {
	if len(b) > 80 {
		return strconv.Quote(string(b[:80])) + "…"
	}
	return strconv.Quote(string(b))
}

func derefInt(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func derefTime(p *time.Time) time.Time {
	if p == nil {
		return time.Time{}
	}
	return p.UTC()
}
