package codeshape

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Limits on function length (lines from func to the closing brace) in product code: a
// function longer than maxLines cannot be held in one's head, and few should come near it.
const (
	maxLines  = 150
	longLines = 80
	maxLong   = 10
)

type function struct {
	name  string // path:Name, path relative to the module root
	lines int
}

// moduleFunctions returns every function with a body in the module's non-test Go files.
func moduleFunctions(t *testing.T, root string) []function {
	t.Helper()
	var out []function
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for _, decl := range f.Decls {
			if fd, ok := decl.(*ast.FuncDecl); ok && fd.Body != nil {
				n := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1
				out = append(out, function{name: filepath.ToSlash(rel) + ":" + fd.Name.Name, lines: n})
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFunctionLength(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found: %v", err)
	}
	fns := moduleFunctions(t, root)
	if len(fns) < 100 {
		t.Fatalf("found only %d functions under %s; the walk is wrong", len(fns), root)
	}
	slices.SortFunc(fns, func(a, b function) int { return b.lines - a.lines })
	var long []string
	for _, f := range fns {
		if f.lines <= longLines {
			break
		}
		long = append(long, fmt.Sprintf("%s (%d lines)", f.name, f.lines))
		if f.lines > maxLines {
			t.Errorf("%s has %d lines; split it (at most %d)", f.name, f.lines, maxLines)
		}
	}
	t.Logf("%d functions, %d over %d lines: %s", len(fns), len(long), longLines, strings.Join(long, ", "))
	if len(long) > maxLong {
		t.Errorf("%d functions are over %d lines, at most %d may be: %s", len(long), longLines, maxLong, strings.Join(long, ", "))
	}
}
