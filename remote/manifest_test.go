package remote_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/remote"
)

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		path               string
		table, tenant, day string
	}{
		{"activities/day=2026-12-06/part-000000000001-000000000009.parquet", "activities", "", "2026-12-06"},
		{"activities/tenant=contoso/day=2026-12-06/part-1-1.parquet", "activities", "contoso", "2026-12-06"},
		{"cloud_app_events/tenant=fabrikam eu/day=2026-01-31/part-3-3.parquet", "cloud_app_events", "fabrikam eu", "2026-01-31"},
		{"findings/part-1.parquet", "findings", "", ""},
		{"findings/kind=impossible-travel/x.parquet", "findings", "", ""},
	} {
		f, err := remote.ParsePath(tc.path)
		if err != nil || f.Table != tc.table || f.Tenant != tc.tenant || f.Day != tc.day || f.Path != tc.path {
			t.Errorf("%s: %+v, %v", tc.path, f, err)
		}
	}
	for _, bad := range []string{
		"part-1-1.parquet", "activities/day=2026-12-06/.part-1-1.parquet.tmp", "activities/day=2026-12-06/part-1-1.parquet.tmp",
		"_manifests/v000000001.json", "activities/_SUCCESS/x.parquet", "activities/../x.parquet", "/activities/x.parquet",
		"activities//x.parquet", "Activities/x.parquet", "activities/day=2026-13-01/x.parquet", "activities/day=yesterday/x.parquet",
		"activities/.parquet", `activities\day=2026-12-06\x.parquet`,
	} {
		if _, err := remote.ParsePath(bad); !errors.Is(err, remote.ErrBadPath) {
			t.Errorf("%q: %v, want ErrBadPath", bad, err)
		}
	}
}

func goldenManifest() *remote.Manifest {
	files := []remote.File{
		{Path: "activities/day=2026-12-06/part-000000000001-000000000009.parquet", Size: 1048576, Rows: 48211,
			SHA256: strings.Repeat("ab", 32), Table: "activities", Day: "2026-12-06"},
		{Path: "activities/tenant=contoso/day=2026-12-07/part-000000000010-000000000010.parquet", Size: 8192, Rows: 311,
			SHA256: strings.Repeat("0f", 32), Table: "activities", Tenant: "contoso", Day: "2026-12-07"},
	}
	since := time.Date(2026, 12, 7, 6, 0, 12, 345e6, time.UTC)
	return &remote.Manifest{
		Format: "mcasload-manifest", FormatVersion: 1, Dataset: "9f1c2e3d4b5a69788796a5b4c3d2e1f0", Version: 7,
		Created: since, GraceSeconds: 86400, Files: files,
		Portals: &remote.PortalsRef{Path: "_manifests/portals-" + strings.Repeat("5e", 32) + ".json", Size: 97, SHA256: strings.Repeat("5e", 32)},
		Superseded: []remote.Superseded{
			{Path: "_manifests/v000000006.json", Since: since},
			{Path: "activities/day=2026-12-06/part-000000000001-000000000001.parquet", Since: since},
		},
		Totals: remote.Totals{Files: 2, Bytes: 1056768, Rows: 48522},
	}
}

// TestManifestFormat pins the manifest's JSON (testdata/manifest-v1.json; -update rewrites
// it): readers in other languages depend on it.
func TestManifestFormat(t *testing.T) {
	data, err := goldenManifest().Encode()
	if err != nil {
		t.Fatal(err)
	}
	testkit.Golden(t, filepath.Join("testdata", "manifest-v1.json"), data)
	if doc, err := os.ReadFile(filepath.Join("..", "docs", "publish.md")); err != nil || !strings.Contains(string(doc), "```json\n"+string(data)+"```") {
		t.Errorf("docs/publish.md does not show the manifest as pushed (%v): copy testdata/manifest-v1.json into it", err)
	}
	if strings.Count(string(data), "\n") != 18 {
		t.Errorf("want one line per field, file and superseded object:\n%s", data)
	}
	m, err := remote.DecodeManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	again, err := m.Encode()
	if err != nil || string(again) != string(data) {
		t.Errorf("decode and encode again: %v\n%s", err, again)
	}
	if remote.ManifestKey(7) != "_manifests/v000000007.json" {
		t.Errorf("ManifestKey(7) = %s", remote.ManifestKey(7))
	}
}

func TestDecodeManifestRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(m *remote.Manifest)
		want   string
	}{
		{"newer format", func(m *remote.Manifest) { m.FormatVersion = 2 }, "a newer mcasload"},
		{"no dataset", func(m *remote.Manifest) { m.Dataset = "" }, "want a version from 1"},
		{"version 0", func(m *remote.Manifest) { m.Version = 0 }, "want a version from 1"},
		{"unsorted", func(m *remote.Manifest) { m.Files[0], m.Files[1] = m.Files[1], m.Files[0] }, "not sorted"},
		{"repeated", func(m *remote.Manifest) { m.Files[1] = m.Files[0] }, "not sorted or repeated"},
		{"bad digest", func(m *remote.Manifest) { m.Files[0].SHA256 = strings.Repeat("AB", 32) }, "lowercase hex"},
		{"short digest", func(m *remote.Manifest) { m.Files[0].SHA256 = "abcd" }, "lowercase hex"},
		{"wrong totals", func(m *remote.Manifest) { m.Totals.Rows++ }, "totals"},
		{"day disagrees", func(m *remote.Manifest) { m.Files[0].Day = "2026-12-05" }, "disagree with its path"},
		{"bad path", func(m *remote.Manifest) { m.Files[0].Path = "../etc/passwd.parquet" }, "not a dataset file path"},
		{"both file and superseded", func(m *remote.Manifest) { m.Superseded[1].Path = m.Files[0].Path }, "both a file and superseded"},
		{"portals named by another digest", func(m *remote.Manifest) { m.Portals.SHA256 = strings.Repeat("5f", 32) }, "want _manifests/portals-"},
		{"portals outside _manifests", func(m *remote.Manifest) { m.Portals.Path = "portals-" + m.Portals.SHA256 + ".json" }, "want _manifests/portals-"},
		{"empty portals", func(m *remote.Manifest) { m.Portals.Size = 0 }, "want 1 to"},
		{"portals superseded", func(m *remote.Manifest) { m.Superseded[0].Path = m.Portals.Path }, "both its portals and superseded"},
		{"negative size", func(m *remote.Manifest) { m.Files[0].Size = -1; m.Totals.Bytes = 8191 }, "negative"},
	} {
		m := goldenManifest()
		tc.change(m)
		if _, err := m.Encode(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: encode: %v, want %q", tc.name, err, tc.want)
		}
	}
	for _, bad := range []string{"", "{", "[]", `{"format":"mcasload-manifest"}`, "{} {}"} {
		if _, err := remote.DecodeManifest([]byte(bad)); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

// FuzzDecodeManifest: whatever a bucket holds, decoding never panics, and a manifest it accepts
// encodes and decodes to itself, naming only paths a sync may write under its folder.
func FuzzDecodeManifest(f *testing.F) {
	data, err := goldenManifest().Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{"format":"mcasload-manifest","format_version":1,"dataset":"x","version":1,"files":[],"superseded":[],"totals":{"files":0,"bytes":0,"rows":0}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := remote.DecodeManifest(data)
		if err != nil {
			return
		}
		for _, file := range m.Files {
			if strings.Contains(file.Path, "..") || strings.HasPrefix(file.Path, "/") || filepath.IsAbs(file.Path) {
				t.Fatalf("accepted path %q", file.Path)
			}
		}
		enc, err := m.Encode()
		if err != nil {
			t.Fatalf("accepted manifest does not encode: %v", err)
		}
		m2, err := remote.DecodeManifest(enc)
		if err != nil || m2.Version != m.Version || len(m2.Files) != len(m.Files) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
