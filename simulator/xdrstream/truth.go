package xdrstream

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"time"
)

// Truth is what the stream holds, for tests of the loader and of the source comparison: written
// by `mcasload sim --truth` under "stream" and documented in docs/simulator-data.md.
type Truth struct {
	// Container is the container's URL, without credentials.
	Container string `json:"container"`
	// Through is the simulated time the stream is written up to.
	Through time.Time `json:"through"`
	// Events is the number of lines in the stream.
	Events int `json:"events"`
	// Rule says which activities the stream holds.
	Rule string `json:"rule"`
	// Blobs are the blobs written, by name.
	Blobs []BlobTruth `json:"blobs"`
	// Differences are the settings the stream was written with (docs/sources.md).
	Differences Differences `json:"differences"`
	// Dropped are the activities left out of the stream (by the drop setting or a Hook): only in
	// the activities API. ReIDs are the events whose ReportId is not derived from the activity's
	// _id (the reid setting): in both sources, paired by fingerprint alone. Extra are the events
	// only the stream has (the extra setting). Altered are the events a Hook changed.
	Dropped []Change `json:"dropped"`
	ReIDs   []Change `json:"reIds"`
	Extra   []Change `json:"extra"`
	Altered []Change `json:"altered"`
}

const truthRule = "every activity whose received time (Event.Time: created + 30 s to 3 min) is at or before through, " +
	"one line each in the blob of its received hour, except those dropped, and the extra events in the blob of their template's received hour; " +
	"every other event is in both sources with ReportId = <_id>_<ApplicationId>"

// BlobTruth is one blob of the stream.
type BlobTruth struct {
	Name  string `json:"name"`
	Lines int    `json:"lines"`
	Bytes int64  `json:"bytes"`
}

// Change is one event a setting or a Hook dropped, added or changed.
type Change struct {
	ActivityID string `json:"activityId"`
	ReportID   string `json:"reportId"` // as written (for a dropped event: as it would have been)
	Note       string `json:"note"`
}

func (t *Truth) setBlob(name string, st *blobState) {
	i, found := slices.BinarySearchFunc(t.Blobs, name, func(b BlobTruth, n string) int {
		switch {
		case b.Name < n:
			return -1
		case b.Name > n:
			return 1
		}
		return 0
	})
	bt := BlobTruth{Name: name, Lines: st.lines, Bytes: st.length}
	if found {
		t.Blobs[i] = bt
	} else {
		t.Blobs = slices.Insert(t.Blobs, i, bt)
	}
	t.Events = 0
	for _, b := range t.Blobs {
		t.Events += b.Lines
	}
}

func (t Truth) clone() Truth {
	t.Blobs = slices.Clone(t.Blobs)
	t.Dropped = slices.Clone(t.Dropped)
	t.ReIDs = slices.Clone(t.ReIDs)
	t.Extra = slices.Clone(t.Extra)
	t.Altered = slices.Clone(t.Altered)
	return t
}

// ReadTruth reads the "stream" part of a truth file written by `mcasload sim --truth`.
func ReadTruth(r io.Reader) (Truth, error) {
	var doc struct {
		Stream *Truth `json:"stream"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return Truth{}, fmt.Errorf("read stream truth: %w", err)
	}
	if doc.Stream == nil {
		return Truth{}, fmt.Errorf("read stream truth: the file has no \"stream\" part (the simulator wrote no stream)")
	}
	return *doc.Stream, nil
}

func withoutQuery(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.RawQuery = ""
	return u.String()
}
