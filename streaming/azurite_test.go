package streaming_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	azstreaming "github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/appendblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/mcasload/mcasload/internal/testserver"
	"github.com/mcasload/mcasload/mcas"
	"github.com/mcasload/mcasload/streaming"
)

// azEnv is one Azurite shared by the subtests of TestAzurite, each in its own container.
type azEnv struct {
	az  *testserver.Azurite
	svc *service.Client
}

// countingClient counts the requests a Store sends.
type countingClient struct {
	n atomic.Int64
}

func (c *countingClient) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// open makes a container and a Store reading it through a connection string.
func (e *azEnv) open(t *testing.T, name string) (*container.Client, *streaming.Store, *countingClient) {
	t.Helper()
	cc := e.svc.NewContainerClient(name)
	if _, err := cc.Create(t.Context(), nil); err != nil {
		t.Fatalf("create container: %v", err)
	}
	counter := &countingClient{}
	s, err := streaming.Open(streaming.Config{Container: name, HTTPClient: &http.Client{Transport: counter},
		Credential: streaming.Credential{ConnectionString: mcas.NewSecret(e.az.ConnectionString())}})
	if err != nil {
		t.Fatal(err)
	}
	return cc, s, counter
}

func appendText(t testing.TB, ab *appendblob.Client, text string) {
	t.Helper()
	if _, err := ab.AppendBlock(t.Context(), azstreaming.NopCloser(strings.NewReader(text)), nil); err != nil {
		t.Fatalf("append: %v", err)
	}
}

func newAppendBlob(t testing.TB, cc *container.Client, name, text string) *appendblob.Client {
	t.Helper()
	ab := cc.NewAppendBlobClient(name)
	if _, err := ab.Create(t.Context(), nil); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	if text != "" {
		appendText(t, ab, text)
	}
	return ab
}

// reader is a loader in miniature: it lists, resumes each blob from its committed cursor, takes
// every batch and commits the cursor after it, the way the warehouse will in one transaction.
type reader struct {
	s       *streaming.Store
	opts    streaming.ReadOptions
	cursors map[string]streaming.Cursor
	lines   []string // every record, in the order read
}

func newReader(s *streaming.Store, opts streaming.ReadOptions) *reader {
	return &reader{s: s, opts: opts, cursors: map[string]streaming.Cursor{}}
}

// pass reads everything new once; it returns how many lines it took.
func (r *reader) pass(t testing.TB) int {
	t.Helper()
	blobs, err := r.s.List(t.Context(), streaming.Window{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, b := range blobs {
		tail, err := r.s.Resume(t.Context(), b, r.cursors[b.Name], r.opts)
		if err != nil {
			t.Fatalf("resume %s: %v", b.Name, err)
		}
		for {
			batch, err := tail.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("next %s: %v", b.Name, err)
			}
			for _, rec := range batch.Chunk.Records {
				r.lines = append(r.lines, string(rec))
			}
			n += len(batch.Chunk.Records)
			r.commit(t, b.Name, batch.Cursor)
		}
		r.commit(t, b.Name, tail.Cursor()) // a newer ETag lets the next pass skip an unchanged blob
	}
	return n
}

// commit stores the cursor as text, as the warehouse will, and reads it back.
func (r *reader) commit(t testing.TB, name string, c streaming.Cursor) {
	t.Helper()
	text, err := c.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	var back streaming.Cursor
	if err := back.UnmarshalText(text); err != nil {
		t.Fatal(err)
	}
	r.cursors[name] = back
}

func TestAzurite(t *testing.T) {
	az := testserver.StartAzurite(t)
	svc, err := service.NewClientFromConnectionString(az.ConnectionString(), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &azEnv{az: az, svc: svc}
	t.Run("growing", e.testGrowing)
	t.Run("partial", e.testPartial)
	t.Run("crash", e.testCrash)
	t.Run("tampered", e.testTampered)
	t.Run("order", e.testOrder)
	t.Run("secrets", e.testSecrets)
}

// testGrowing: an appender writes lines in pieces that cut lines anywhere while the reader keeps
// reading; every line arrives exactly once, whole, in order.
func (e *azEnv) testGrowing(t *testing.T) {
	cc, s, _ := e.open(t, "growing")
	ab := newAppendBlob(t, cc, "tenantId=t1/y=2026/m=12/d=06/h=12/m=00/PT1H.json", "")
	const total = 2000
	var want []string
	var text strings.Builder
	for i := range total {
		line := fmt.Sprintf(`{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", i%97))
		want = append(want, line)
		text.WriteString(line)
		if i%5 == 0 {
			text.WriteString("\r\n") // Azure writes CRLF endings; both kinds mix here
		} else {
			text.WriteString("\n")
		}
	}
	all := text.String()
	var wg sync.WaitGroup
	var done atomic.Bool
	var appendErr error
	wg.Go(func() {
		defer done.Store(true)
		rng := rand.New(rand.NewPCG(1, 2))
		for off := 0; off < len(all); {
			n := min(1+rng.IntN(900), len(all)-off)
			if _, err := ab.AppendBlock(t.Context(), azstreaming.NopCloser(strings.NewReader(all[off:off+n])), nil); err != nil {
				appendErr = err
				return
			}
			off += n
		}
	})
	r := newReader(s, streaming.ReadOptions{BatchLines: 37})
	passes := 0
	for !done.Load() {
		r.pass(t)
		passes++
		time.Sleep(2 * time.Millisecond)
	}
	wg.Wait()
	if appendErr != nil {
		t.Fatalf("append: %v", appendErr)
	}
	r.pass(t)
	if len(r.lines) != total {
		t.Fatalf("read %d lines, want %d", len(r.lines), total)
	}
	for i := range want {
		if r.lines[i] != want[i] {
			t.Fatalf("line %d = %q, want %q", i, r.lines[i], want[i])
		}
	}
	t.Logf("%d reading passes while the blob grew", passes)
}

// testPartial: a last line without its "\n" waits; blank lines and CRLF count as lines; an
// unchanged blob costs no request.
func (e *azEnv) testPartial(t *testing.T) {
	cc, s, counter := e.open(t, "partial")
	ab := newAppendBlob(t, cc, "x/PT1H.json", "{\"a\":1}\r\n\n{\"b\":2}\n{\"c\"")
	r := newReader(s, streaming.ReadOptions{})
	if n := r.pass(t); n != 2 || r.lines[0] != `{"a":1}` || r.lines[1] != `{"b":2}` {
		t.Fatalf("first pass: %d %q", n, r.lines)
	}
	c := r.cursors["x/PT1H.json"]
	if c.Offset != 18 || c.Lines != 3 || c.LineStart != 10 || c.Size != 22 {
		t.Errorf("cursor after the complete lines: %+v", c)
	}
	before := counter.n.Load()
	if n := r.pass(t); n != 0 || counter.n.Load() != before+1 {
		t.Errorf("unchanged blob: %d lines, %d requests; want 0 lines and only the listing", n, counter.n.Load()-before)
	}
	appendText(t, ab, ":3}\n{\"d\"")
	if n := r.pass(t); n != 1 || r.lines[2] != `{"c":3}` {
		t.Fatalf("after the line was finished: %d %q", n, r.lines)
	}
	appendText(t, ab, ":4}\n")
	if n := r.pass(t); n != 1 || r.lines[3] != `{"d":4}` || r.cursors["x/PT1H.json"].Lines != 5 {
		t.Fatalf("last line: %d %q %+v", n, r.lines, r.cursors["x/PT1H.json"])
	}
	// A line longer than the limit is refused with its first bytes and its line number; the
	// lines after it still come.
	appendText(t, ab, `{"long":"`+strings.Repeat("z", 100)+"\"}\n{\"e\":5}\n")
	blobs, _ := s.List(t.Context(), streaming.Window{})
	tail, err := s.Resume(t.Context(), blobs[0], r.cursors["x/PT1H.json"], streaming.ReadOptions{MaxLineBytes: 50})
	if err != nil {
		t.Fatal(err)
	}
	defer tail.Close()
	batch, err := tail.Next()
	if err != nil {
		t.Fatal(err)
	}
	ch := batch.Chunk
	if len(ch.Rejected) != 1 || ch.Rejected[0].Line != 6 || len(ch.Rejected[0].Raw) != 50 || !strings.HasPrefix(ch.Rejected[0].Reason, "too_large: line 6 of x/PT1H.json") ||
		len(ch.Records) != 1 || ch.Lines[0] != 7 {
		t.Errorf("long line: %+v", ch)
	}
}

// testCrash: a run killed after reading a batch but before committing it reads that batch again;
// one killed after committing continues exactly after it.
func (e *azEnv) testCrash(t *testing.T) {
	cc, s, _ := e.open(t, "crash")
	var text strings.Builder
	for i := range 10 {
		fmt.Fprintf(&text, "{\"i\":%d}\n", i)
	}
	newAppendBlob(t, cc, "tenantId=t/y=2026/m=12/d=06/h=01/m=00/PT1H.json", text.String())
	blobs, err := s.List(t.Context(), streaming.Window{})
	if err != nil || len(blobs) != 1 {
		t.Fatalf("list: %v %v", blobs, err)
	}
	read := func(c streaming.Cursor) (*streaming.Batch, *streaming.Tail) {
		tail, err := s.Resume(t.Context(), blobs[0], c, streaming.ReadOptions{BatchLines: 3})
		if err != nil {
			t.Fatal(err)
		}
		b, err := tail.Next()
		if err != nil {
			t.Fatal(err)
		}
		return b, tail
	}
	first, tail := read(streaming.Cursor{})
	second, err := tail.Next() // read, then the process dies before committing it
	if err != nil {
		t.Fatal(err)
	}
	tail.Close()
	if first.Cursor.ETag != "" || second.Cursor.ETag != "" {
		t.Errorf("cursors inside a read carry an ETag (%+v): a later run would skip the rest of the blob", first.Cursor)
	}
	committed, _ := first.Cursor.MarshalText()
	var c streaming.Cursor
	if err := c.UnmarshalText(committed); err != nil {
		t.Fatal(err)
	}
	again, tail := read(c)
	tail.Close()
	if got, want := string(again.Chunk.Records[0]), string(second.Chunk.Records[0]); got != want || again.Chunk.Lines[0] != 4 || again.Cursor != second.Cursor {
		t.Errorf("after an uncommitted batch: re-read starts %q (line %d), want %q (line 4)", got, again.Chunk.Lines[0], want)
	}
	next, tail := read(second.Cursor) // committed: the next run starts after it
	tail.Close()
	if got := string(next.Chunk.Records[0]); got != `{"i":6}` || next.Chunk.Lines[0] != 7 {
		t.Errorf("after a committed batch: next run starts %q (line %d), want {\"i\":6} (line 7)", got, next.Chunk.Lines[0])
	}
}

// testTampered: a blob recreated, shrunk or rewritten under a committed cursor is a ResumeError
// naming what changed, whether the listing or the download shows it.
func (e *azEnv) testTampered(t *testing.T) {
	cc, s, _ := e.open(t, "tampered")
	const name = "tenantId=t/y=2026/m=12/d=06/h=02/m=00/PT1H.json"
	const orig = "{\"i\":0}\n{\"i\":1}\n{\"i\":2}\n"
	reset := func(text string) streaming.Blob {
		t.Helper()
		ab := cc.NewAppendBlobClient(name)
		_, _ = ab.Delete(t.Context(), nil)
		newAppendBlob(t, cc, name, text)
		blobs, err := s.List(t.Context(), streaming.Window{})
		if err != nil || len(blobs) != 1 {
			t.Fatalf("list: %v %v", blobs, err)
		}
		return blobs[0]
	}
	reset(orig)
	r := newReader(s, streaming.ReadOptions{BatchLines: 2})
	r.pass(t)
	committed := r.cursors[name] // after all three lines
	if committed.Offset != int64(len(orig)) {
		t.Fatalf("cursor %+v", committed)
	}
	// Storage reports creation to the second: a blob recreated within the same second keeps it.
	// The cases set the cursor's creation time to the new blob's to reach the later checks.
	same := func(c streaming.Cursor, b streaming.Blob) streaming.Cursor { c.Created = b.Created; return c }
	tests := []struct {
		name    string
		content string
		cursor  func(b streaming.Blob) streaming.Cursor
		stale   bool // resume with the listing from before the change: the download must notice
		want    error
	}{
		{"recreated", orig + "{\"i\":3}\n", func(streaming.Blob) streaming.Cursor { c := committed; c.Created = c.Created.Add(-time.Hour); return c }, false, streaming.ErrBlobRecreated},
		{"shrunk", "{\"i\":0}\n", func(b streaming.Blob) streaming.Cursor { return same(committed, b) }, false, streaming.ErrBlobShrunk},
		{"shrunk, seen by the read", "{\"i\":0}\n{\"i\":1}\n", func(b streaming.Blob) streaming.Cursor { return same(committed, b) }, true, streaming.ErrBlobShrunk},
		{"shrunk below the last line", "{\"i\":0}\n", func(b streaming.Blob) streaming.Cursor { return same(committed, b) }, true, streaming.ErrBlobShrunk},
		{"rewritten, same length", "{\"i\":0}\n{\"i\":1}\n{\"i\":9}\n", func(b streaming.Blob) streaming.Cursor { return same(committed, b) }, false, streaming.ErrBlobRewritten},
		{"rewritten, longer", "{\"j\":0}\n{\"j\":1}\n{\"j\":2}\n{\"j\":3}\n", func(b streaming.Blob) streaming.Cursor { return same(committed, b) }, false, streaming.ErrBlobRewritten},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := reset(orig)
			nb := reset(tt.content)
			listed := nb
			if tt.stale {
				listed = old
				listed.Created = nb.Created
			}
			_, err := s.Resume(t.Context(), listed, tt.cursor(nb), streaming.ReadOptions{})
			var re *streaming.ResumeError
			if !errors.Is(err, tt.want) || !errors.As(err, &re) || re.Blob != name {
				t.Fatalf("err %v, want a ResumeError for %v", err, tt.want)
			}
			if msg := err.Error(); !strings.Contains(msg, "nothing was read from it") || !strings.Contains(msg, name) {
				t.Errorf("message %q does not say what happened and what to do", msg)
			}
		})
	}
	// Deleted since listed (a retention rule): nothing to read, not a tampering.
	listed := reset(orig)
	if _, err := cc.NewBlobClient(name).Delete(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resume(t.Context(), listed, streaming.Cursor{}, streaming.ReadOptions{}); !errors.Is(err, streaming.ErrBlobGone) {
		t.Errorf("deleted blob: %v, want ErrBlobGone", err)
	}
}

// testOrder: blobs come by the hour their paths name, across tenants, days and years; blobs
// without a path time come last; windows prune whole folders.
func (e *azEnv) testOrder(t *testing.T) {
	cc, s, counter := e.open(t, "order")
	names := []string{ // created out of order
		"tenantId=b/y=2026/m=12/d=06/h=10/m=00/PT1H.json",
		"notes/readme.json",
		"tenantId=a/y=2027/m=01/d=01/h=00/m=00/PT1H.json",
		"tenantId=a/y=2026/m=12/d=06/h=10/m=00/PT1H_1.json",
		"tenantId=a/y=2026/m=12/d=06/h=10/m=00/PT1H.json",
		"tenantId=a/y=2026/m=11/d=30/h=23/m=00/PT1H.json",
		"tenantId=b/y=2026/m=12/d=05/h=09/m=00/PT1H.json",
		"loose.json",
	}
	for _, n := range names {
		newAppendBlob(t, cc, n, "{}\n")
	}
	want := []string{
		"tenantId=a/y=2026/m=11/d=30/h=23/m=00/PT1H.json",
		"tenantId=b/y=2026/m=12/d=05/h=09/m=00/PT1H.json",
		"tenantId=a/y=2026/m=12/d=06/h=10/m=00/PT1H.json",
		"tenantId=a/y=2026/m=12/d=06/h=10/m=00/PT1H_1.json",
		"tenantId=b/y=2026/m=12/d=06/h=10/m=00/PT1H.json",
		"tenantId=a/y=2027/m=01/d=01/h=00/m=00/PT1H.json",
		"loose.json",
		"notes/readme.json",
	}
	check := func(w streaming.Window, want []string) int64 {
		t.Helper()
		before := counter.n.Load()
		blobs, err := s.List(t.Context(), w)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, b := range blobs {
			got = append(got, b.Name)
			if b.Type != "AppendBlob" || b.Size != 3 || b.ETag == "" || b.Created.IsZero() {
				t.Errorf("%s listed as %+v", b.Name, b)
			}
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("window %+v listed\n%s\nwant\n%s", w, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		return counter.n.Load() - before
	}
	if n := check(streaming.Window{}, want); n != 1 {
		t.Errorf("an open window took %d listing requests, want 1 flat listing", n)
	}
	day := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	check(streaming.Window{Since: day, Until: day.Add(24 * time.Hour)}, append(want[2:5:5], want[6:]...))
	check(streaming.Incremental(day.Add(10*time.Hour), 25*time.Hour), append(append([]string{}, want[1:6]...), want[6:]...))
	check(streaming.Window{Until: day}, append(append([]string{}, want[:2]...), want[6:]...))
}

// testSecrets: a SAS token reads the container, and neither a refused SAS nor an unreachable
// account puts the token into an error.
func (e *azEnv) testSecrets(t *testing.T) {
	cc, _, _ := e.open(t, "secrets")
	newAppendBlob(t, cc, "y=2026/m=12/d=06/h=03/m=00/PT1H.json", "{}\n")
	key, err := service.NewSharedKeyCredential(e.az.AccountName, e.az.AccountKey)
	if err != nil {
		t.Fatal(err)
	}
	qp, err := sas.BlobSignatureValues{Protocol: sas.ProtocolHTTPSandHTTP, ExpiryTime: time.Now().Add(time.Hour), ContainerName: "secrets",
		Permissions: (&sas.ContainerPermissions{Read: true, List: true}).String()}.SignWithSharedKey(key)
	if err != nil {
		t.Fatal(err)
	}
	token := qp.Encode()
	open := func(tok string) *streaming.Store {
		s, err := streaming.Open(streaming.Config{AccountURL: e.az.BlobEndpoint, Container: "secrets", Retries: -1,
			Credential: streaming.Credential{SAS: mcas.NewSecret(tok)}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	blobs, err := open(token).List(t.Context(), streaming.Window{})
	if err != nil || len(blobs) != 1 {
		t.Fatalf("list with SAS: %v %v", blobs, err)
	}
	sig := qp.Signature()
	forged := strings.Replace(token, "sig=", "sig=AAAA", 1)
	_, err = open(forged).List(t.Context(), streaming.Window{})
	if err == nil || !strings.Contains(err.Error(), "403") || strings.Contains(err.Error(), sig) || strings.Contains(err.Error(), "AAAA") {
		t.Errorf("forged SAS: %v; want a 403 without the token", err)
	}
	e.az.Stop(t)
	_, err = open(token).List(t.Context(), streaming.Window{})
	if err == nil || strings.Contains(err.Error(), sig) || strings.Contains(err.Error(), "sig=") || !strings.Contains(err.Error(), "list blobs") {
		t.Errorf("storage down: %v; want a list error without the token", err)
	}
	if bytes.Contains([]byte(fmt.Sprintf("%+v %#v", streaming.Credential{SAS: mcas.NewSecret(token)}, streaming.Credential{SAS: mcas.NewSecret(token)})), []byte(sig)) {
		t.Error("a Credential prints its SAS")
	}
}
