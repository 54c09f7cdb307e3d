// Package packaging_test checks what `make release` produced: both archives with their checksums,
// license and notices, binaries for the right processors (the arm64 one cannot run here, so its
// ELF header is read), and the install guide followed verbatim on the archive for this machine.
package packaging_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// dist is the output directory of `make release`, which runs this test with MCASLOAD_DIST.
func dist(t *testing.T) string {
	t.Helper()
	d := os.Getenv("MCASLOAD_DIST")
	if d == "" {
		t.Skip("checks the output of `make release`, which sets MCASLOAD_DIST")
	}
	return d
}

// archive reads every file of a .tar.gz into memory, by name.
func archive(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = b
		}
	}
}

var archiveName = regexp.MustCompile(`^mcasload-(.+)-linux-(amd64|arm64)\.tar\.gz$`)

func TestReleaseArchives(t *testing.T) {
	d := dist(t)
	sums, err := os.ReadFile(filepath.Join(d, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q is not `sum  name`", line)
		}
		listed[name] = sum
	}
	machines := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	seen := map[string]bool{}
	for name, sum := range listed {
		m := archiveName.FindStringSubmatch(name)
		if m == nil {
			t.Errorf("unexpected file %s in SHA256SUMS", name)
			continue
		}
		version, arch := m[1], m[2]
		seen[arch] = true
		b, err := os.ReadFile(filepath.Join(d, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s: checksum differs from SHA256SUMS", name)
		}
		root := strings.TrimSuffix(name, ".tar.gz") + "/"
		files := archive(t, filepath.Join(d, name))
		for _, want := range []string{"mcasload", "LICENSE", "THIRD_PARTY_NOTICES", "README.md", "docs/install.md", "docs/connection.md",
			"contrib/systemd/mcasload-scan.service", "contrib/systemd/mcasload-scan.timer", "contrib/cron/mcasload", "contrib/Containerfile"} {
			if _, ok := files[root+want]; !ok {
				t.Errorf("%s lacks %s", name, want)
			}
		}
		if !bytes.Contains(files[root+"LICENSE"], []byte("Apache License")) || !bytes.Contains(files[root+"LICENSE"], []byte("Version 2.0, January 2004")) {
			t.Errorf("%s: LICENSE is not the Apache License 2.0", name)
		}
		notices := string(files[root+"THIRD_PARTY_NOTICES"])
		for _, want := range []string{"(linux/" + arch + ")", "github.com/duckdb/duckdb-go-bindings/lib/linux-" + arch, "Stichting DuckDB Foundation", "azidentity"} {
			if !strings.Contains(notices, want) {
				t.Errorf("%s: THIRD_PARTY_NOTICES lacks %q", name, want)
			}
		}
		bin, err := elf.NewFile(bytes.NewReader(files[root+"mcasload"]))
		if err != nil {
			t.Fatalf("%s: the binary is not ELF: %v", name, err)
		}
		if bin.Machine != machines[arch] || bin.Class != elf.ELFCLASS64 {
			t.Errorf("%s: binary for %v %v, want %v 64-bit", name, bin.Machine, bin.Class, machines[arch])
		}
		// DuckDB's static library keeps its symbols local (--exclude-libs): exported, they are
		// ~60,000 dynamic symbols (6 MB) the loader reads at every start.
		if syms, err := bin.DynamicSymbols(); err != nil || len(syms) > 5000 {
			t.Errorf("%s: %d dynamic symbols (%v), want at most 5,000: build with -extldflags=-Wl,--exclude-libs,ALL", name, len(syms), err)
		}
		if !bytes.Contains(files[root+"mcasload"], []byte(version)) {
			t.Errorf("%s: the binary does not carry its version %s", name, version)
		}
	}
	if !seen["amd64"] || !seen["arm64"] {
		t.Errorf("archives for %v, want amd64 and arm64", seen)
	}
}

// installBlock is the shell block of docs/install.md that follows the marker comment.
func installBlock(t *testing.T, marker string) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "docs", "install.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "<!-- "+marker+" -->")
	if !ok {
		t.Fatalf("docs/install.md has no <!-- %s --> marker", marker)
	}
	_, rest, ok = strings.Cut(rest, "```sh\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatalf("no ```sh block after the %s marker", marker)
	}
	return block
}

// The install guide's archive steps, run verbatim by bash in an empty directory holding what a
// user downloads (this machine's archive and SHA256SUMS): verify, unpack, --version, the demo.
func TestReleaseInstallGuide(t *testing.T) {
	d := dist(t)
	work := t.TempDir()
	matches, _ := filepath.Glob(filepath.Join(d, "mcasload-*-linux-"+runtime.GOARCH+".tar.gz"))
	if len(matches) != 1 {
		t.Fatalf("archives for %s: %v", runtime.GOARCH, matches)
	}
	for _, src := range []string{matches[0], filepath.Join(d, "SHA256SUMS")} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, filepath.Base(src)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script := installBlock(t, "install-test: archive")
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = work
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("the install guide's steps failed: %v\n%s\n--- script:\n%s", err, out.String(), script)
	}
	t.Logf("install guide steps in %s", time.Since(start).Round(time.Second))
	version := archiveName.FindStringSubmatch(filepath.Base(matches[0]))[1]
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	stamp := "mcasload " + version + " (commit " + strings.TrimSpace(string(head)) + ", built "
	if !strings.Contains(out.String(), stamp) {
		t.Errorf("--version does not show the stamp %q:\n%s", stamp, out.String())
	}
	if !strings.Contains(out.String(), "OK") { // sha256sum --check
		t.Errorf("the checksum was not verified:\n%s", out.String())
	}
	if _, err := os.Stat(filepath.Join(work, filepath.Base(strings.TrimSuffix(matches[0], ".tar.gz")), "demo-warehouse", "mcasload.duckdb")); err != nil {
		t.Errorf("the demo left no warehouse: %v\n%s", err, out.String())
	}
}
