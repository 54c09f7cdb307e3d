package schema

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcasload/mcasload/internal/testkit"
)

// TestDocPage keeps docs/schema.md generated from Columns and RejectReasons.
func TestDocPage(t *testing.T) {
	page := DocPage()
	for _, c := range Columns {
		if !strings.Contains(page, "| `"+c.Name+"` |") {
			t.Errorf("doc page lacks column %s", c.Name)
		}
	}
	for _, r := range RejectReasons {
		if !strings.Contains(page, "| `"+r.Code+"` |") {
			t.Errorf("doc page lacks reject code %s", r.Code)
		}
	}
	testkit.Golden(t, filepath.Join("..", "docs", "schema.md"), []byte(page))
}

func TestWriteDictionary(t *testing.T) {
	for _, format := range []string{FormatTable, FormatMarkdown, FormatJSON} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteDictionary(&buf, format); err != nil {
				t.Fatal(err)
			}
			testkit.Golden(t, filepath.Join("testdata", "dictionary-"+format+".golden"), buf.Bytes())
		})
	}
	var buf bytes.Buffer
	if err := WriteDictionary(&buf, FormatJSON); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version int
		Columns []DictionaryEntry
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil || doc.Version != Version || len(doc.Columns) != len(Columns) {
		t.Fatalf("json dictionary: %v, %+v", err, doc)
	}
	for i, e := range doc.Columns {
		if e.Column != Columns[i].Name || e.Source != Columns[i].Source || e.Fallback != Columns[i].Fallback {
			t.Errorf("entry %d = %+v, want %s", i, e, Columns[i].Name)
		}
	}
	if err := WriteDictionary(&buf, "yaml"); err == nil || !strings.Contains(err.Error(), "use table, markdown or json") {
		t.Errorf("unknown format: %v", err)
	}
}

func TestSQLType(t *testing.T) {
	want := map[string]string{"id": "VARCHAR", "ts": "TIMESTAMPTZ", "day": "DATE", "app_id": "INTEGER",
		"latitude": "DOUBLE", "success": "BOOLEAN", "objects": "VARCHAR[]"}
	for _, c := range Columns {
		if w, ok := want[c.Name]; ok && SQLType(c.Type) != w {
			t.Errorf("%s: %s, want %s", c.Name, SQLType(c.Type), w)
		}
	}
}
