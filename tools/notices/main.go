// Command notices writes the third-party notices of a build: the license texts of every module
// linked into the mcasload binary for one platform (GOOS/GOARCH from the environment), the Go
// standard library's, and the list of libraries DuckDB bundles in its static library. `make
// release` ships its output as THIRD_PARTY_NOTICES in every archive.
//
//	go run ./tools/notices [-goos linux] [-goarch arm64] [-o FILE] [PACKAGE]   (default ./cmd/mcasload)
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
)

func main() {
	out := flag.String("o", "-", "write the notices to `FILE` (- for stdout)")
	flag.StringVar(&target.goos, "goos", runtime.GOOS, "target `OS`")
	flag.StringVar(&target.goarch, "goarch", runtime.GOARCH, "target `ARCH`itecture")
	flag.Parse()
	pkg := "./cmd/mcasload"
	if flag.NArg() > 0 {
		pkg = flag.Arg(0)
	}
	mods, err := linkedModules(pkg)
	if err == nil {
		var buf bytes.Buffer
		if err = write(&buf, mods); err == nil {
			err = writeOut(*out, buf.Bytes())
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "notices:", err)
		os.Exit(1)
	}
}

func writeOut(path string, b []byte) error {
	if path == "-" {
		_, err := os.Stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// target is the platform whose binary the notices describe (modules differ: DuckDB's prebuilt
// library is one module per platform).
var target = struct{ goos, goarch string }{runtime.GOOS, runtime.GOARCH}

// module is one dependency linked into the binary.
type module struct {
	Path, Version, Dir string
	Licenses           []string // file names at the module root
}

// linkedModules lists the modules of pkg's transitive imports for the target platform, with
// their license files; it fails when one has none, so no notice can go missing silently.
func linkedModules(pkg string) ([]module, error) {
	cmd := exec.Command("go", "list", "-deps", "-json=Module", pkg)
	cmd.Env = append(os.Environ(), "GOOS="+target.goos, "GOARCH="+target.goarch)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list %s: %w", pkg, err)
	}
	seen := map[string]bool{}
	var mods []module
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			Module *struct {
				Path, Version, Dir string
				Main               bool
				Replace            *struct{ Path, Version, Dir string }
			}
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("decode go list: %w", err)
		}
		m := p.Module
		if m == nil || m.Main || seen[m.Path] {
			continue // the standard library, or this module
		}
		seen[m.Path] = true
		mod := module{Path: m.Path, Version: m.Version, Dir: m.Dir}
		if m.Replace != nil {
			mod.Version, mod.Dir = m.Replace.Version, m.Replace.Dir
		}
		if mod.Licenses, err = licenseFiles(mod.Dir); err != nil {
			return nil, err
		}
		if len(mod.Licenses) == 0 {
			return nil, fmt.Errorf("module %s %s has no LICENSE, COPYING or NOTICE file in %s", mod.Path, mod.Version, mod.Dir)
		}
		mods = append(mods, mod)
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].Path < mods[j].Path })
	return mods, nil
}

var licenseName = regexp.MustCompile(`(?i)^(licen[cs]e|copying|notice)([.-].*)?$`)

func licenseFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read module directory: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && licenseName.MatchString(e.Name()) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// duckdbBundled are the third-party libraries compiled into DuckDB's static library (the
// libduckdb_*.a archives of duckdb-go-bindings); their licenses are in the third_party folder of
// DuckDB's source release matching the bindings' version.
var duckdbBundled = []string{"fmt", "re2", "zstd", "utf8proc", "miniz", "mbedtls", "jemalloc", "yyjson", "fsst",
	"fastpforlib", "hyperloglog", "libpg_query", "skiplist", "ICU (icu extension)", "TPC-H and TPC-DS data generators (tpch, tpcds extensions)"}

func write(w io.Writer, mods []module) error {
	fmt.Fprintf(w, "Third-party notices for mcasload (%s/%s)\n", target.goos, target.goarch)
	fmt.Fprintf(w, "\nmcasload is licensed under the Apache License 2.0 (LICENSE). The binary also contains the\n")
	fmt.Fprintf(w, "following software, under the licenses reproduced below.\n\n")
	fmt.Fprintf(w, "Modules:\n")
	for _, m := range mods {
		fmt.Fprintf(w, "  %s %s\n", m.Path, m.Version)
	}
	fmt.Fprintf(w, "  Go standard library and runtime %s\n", runtime.Version())
	fmt.Fprintf(w, "\nDuckDB (MIT, module github.com/duckdb/duckdb-go-bindings) bundles in its static library:\n  %s\n",
		strings.Join(duckdbBundled, ", "))
	fmt.Fprintf(w, "Their license texts are in the third_party folder of DuckDB's source release\n(https://github.com/duckdb/duckdb/tree/main/third_party).\n")
	for _, m := range mods {
		for _, name := range m.Licenses {
			text, err := os.ReadFile(filepath.Join(m.Dir, name))
			if err != nil {
				return fmt.Errorf("read license: %w", err)
			}
			fmt.Fprintf(w, "\n%s\n%s %s — %s\n%s\n\n%s\n", strings.Repeat("=", 78), m.Path, m.Version, name, strings.Repeat("=", 78), bytes.TrimSpace(text))
		}
	}
	goLicense, err := os.ReadFile(filepath.Join(runtime.GOROOT(), "LICENSE"))
	if err != nil {
		return fmt.Errorf("read the Go license: %w", err)
	}
	fmt.Fprintf(w, "\n%s\nGo standard library and runtime %s — LICENSE\n%s\n\n%s\n", strings.Repeat("=", 78), runtime.Version(), strings.Repeat("=", 78), bytes.TrimSpace(goLicense))
	return nil
}
