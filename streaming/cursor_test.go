package streaming

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

func TestCursorText(t *testing.T) {
	c := Cursor{Offset: 120, Lines: 3, Created: time.Date(2026, 12, 6, 12, 0, 1, 0, time.UTC), LineStart: 80,
		LineSHA256: sha256.Sum256([]byte("x\n")), ETag: `0x8DD`, Size: 130}
	text, err := c.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("x\n"))
	want := `{"v":1,"offset":120,"lines":3,"created":"2026-12-06T12:00:01Z","lineStart":80,"etag":"0x8DD","size":130,"lineSha256":"` +
		hex.EncodeToString(sum[:]) + `"}`
	if string(text) != want {
		t.Fatalf("text\n %s\nwant\n %s", text, want)
	}
	var back Cursor
	if err := back.UnmarshalText(text); err != nil || back != c {
		t.Fatalf("round trip: %+v, %v; want %+v", back, err, c)
	}
	for name, bad := range map[string]string{
		"not json":     `offset=1`,
		"version 2":    strings.Replace(string(text), `"v":1`, `"v":2`, 1),
		"no version":   strings.Replace(string(text), `"v":1,`, ``, 1),
		"short hash":   strings.Replace(string(text), `"lineSha256":"`, `"lineSha256":"ab`, 1)[:len(text)-10] + `"}`,
		"start > off":  strings.Replace(string(text), `"lineStart":80`, `"lineStart":121`, 1),
		"size < off":   strings.Replace(string(text), `"size":130`, `"size":100`, 1),
		"offset 0 but": strings.Replace(string(text), `"lines":3`, `"lines":0`, 1),
	} {
		if err := new(Cursor).UnmarshalText([]byte(bad)); err == nil || !strings.HasPrefix(err.Error(), "read cursor: ") {
			t.Errorf("%s: %v, want a read cursor error", name, err)
		}
	}
	if !(Cursor{}).IsZero() || c.IsZero() {
		t.Error("IsZero")
	}
}

func FuzzCursorText(f *testing.F) {
	text, _ := Cursor{Offset: 5, Lines: 1, LineStart: 0, Size: 9, ETag: "e"}.MarshalText()
	f.Add(text)
	f.Add([]byte(`{"v":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Cursor
		if c.UnmarshalText(b) != nil {
			return
		}
		// What loads is consistent and survives a round trip.
		if c.LineStart > c.Offset || c.Offset > c.Size || c.Offset < 0 {
			t.Fatalf("accepted inconsistent cursor %+v", c)
		}
		again, err := c.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var d Cursor
		if err := d.UnmarshalText(again); err != nil || !d.Created.Equal(c.Created) || d.Offset != c.Offset || d.LineSHA256 != c.LineSHA256 {
			t.Fatalf("round trip of %+v: %+v, %v", c, d, err)
		}
	})
}
