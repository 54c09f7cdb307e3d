package streaming

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Cursor is how far one blob has been read and committed, and what pins that prefix: the caller
// stores it in the same transaction as the rows of the lines before Offset (the warehouse's own,
// so a kill leaves either both or neither), and hands it back to Resume.
//
// An append blob only grows, but a blob can be deleted and created again under the same name, or
// overwritten; its ETag changes on every append, so it pins one read, not a prefix. Resume
// therefore checks three things before it reads on: the creation time (a recreated blob), the
// length (a blob shorter than Offset), and the SHA-256 of the bytes [LineStart, Offset) — the last
// committed line — against the blob's bytes there (a rewritten prefix). The creation time alone
// is not enough: storage reports it to the second, and a blob deleted and recreated within one
// second keeps it (seen on Azurite; Azure's x-ms-creation-time has the same format).
type Cursor struct {
	// Offset is the byte after the last committed line (its "\n" included); 0 for a new blob.
	Offset int64 `json:"offset"`
	// Lines is the number of lines before Offset, blank ones included, for line numbers.
	Lines int64 `json:"lines"`
	// Created is the blob's creation time when it was read.
	Created time.Time `json:"created"`
	// LineStart is where the last committed line with content begins; [LineStart, Offset) is
	// what LineSHA256 hashes (that line and any blank lines after it).
	LineStart  int64    `json:"lineStart"`
	LineSHA256 [32]byte `json:"-"`
	// Size is the blob's length when the read that produced this cursor began. ETag (without
	// quotes) is set only on a cursor that read reached the end with, having received exactly
	// Size bytes: a blob listed later with the same ETag and Size is byte for byte what was read,
	// with no complete line after Offset, so it is skipped without a request.
	ETag string `json:"etag,omitempty"`
	Size int64  `json:"size"`
}

// cursorVersion is the version of the cursor's text encoding.
const cursorVersion = 1

// cursorFields is Cursor without its methods, so the encoding can embed it.
type cursorFields Cursor

type cursorJSON struct {
	V int `json:"v"`
	cursorFields
	Hash string `json:"lineSha256"`
}

// MarshalText encodes the cursor as one line of JSON with a version, for a text column or a state
// value: {"v":1,"offset":…,"lines":…,"created":"…","lineStart":…,"etag":"…","size":…,"lineSha256":"…"}.
func (c Cursor) MarshalText() ([]byte, error) {
	return json.Marshal(cursorJSON{V: cursorVersion, cursorFields: cursorFields(c), Hash: hex.EncodeToString(c.LineSHA256[:])})
}

// UnmarshalText decodes what MarshalText wrote and refuses anything else: a cursor that cannot be
// read must stop the load, not restart the blob.
func (c *Cursor) UnmarshalText(b []byte) error {
	var j cursorJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("read cursor: %w", err)
	}
	if j.V != cursorVersion {
		return fmt.Errorf("read cursor: version %d, this mcasload reads version %d", j.V, cursorVersion)
	}
	h, err := hex.DecodeString(j.Hash)
	if err != nil || len(h) != len(c.LineSHA256) {
		return fmt.Errorf("read cursor: lineSha256 %q is not 64 hex digits", j.Hash)
	}
	k := Cursor(j.cursorFields)
	copy(k.LineSHA256[:], h)
	if k.Offset < 0 || k.LineStart < 0 || k.LineStart > k.Offset || k.Lines < 0 || k.Size < k.Offset || k.Offset > 0 && k.Lines == 0 {
		return fmt.Errorf("read cursor: inconsistent positions (offset %d, lineStart %d, lines %d, size %d)", k.Offset, k.LineStart, k.Lines, k.Size)
	}
	*c = k
	return nil
}

// IsZero reports whether the cursor is the start of a blob never read.
func (c Cursor) IsZero() bool { return c.Offset == 0 && c.Created.IsZero() && c.ETag == "" }

// Why a committed cursor no longer fits its blob; ResumeError unwraps to one of these.
var (
	ErrBlobRecreated = errors.New("the blob was deleted and created again (its creation time changed)")
	ErrBlobShrunk    = errors.New("the blob is shorter than what was already loaded from it")
	ErrBlobRewritten = errors.New("the blob's bytes before the cursor changed (the last loaded line differs)")
)

// ResumeError says that a blob no longer continues what was loaded from it. Nothing was read
// from the blob: its new lines are neither skipped nor loaded twice until someone decides.
type ResumeError struct {
	Container string // where the blobs are: ACCOUNT-URL/CONTAINER, or the container's folder
	Blob      string
	Cursor    Cursor
	Err       error  // ErrBlobRecreated, ErrBlobShrunk or ErrBlobRewritten
	Detail    string // what was seen, e.g. "created 2026-12-06T12:00:00Z, cursor says 2026-12-06T11:00:00Z"
}

func (e *ResumeError) Error() string {
	return fmt.Sprintf("resume blob %s/%s at byte %d (line %d): %v: %s; nothing was read from it. "+
		"Storage should only ever append to this export's blobs: check who changed it. To load it again from "+
		"its start, forget its cursor (rows already loaded stay; the (report_id, ts) key keeps them single)",
		e.Container, e.Blob, e.Cursor.Offset, e.Cursor.Lines, e.Err, e.Detail)
}

func (e *ResumeError) Unwrap() error { return e.Err }
