package codeshape

import (
	"fmt"
	"go/ast"
	"go/token"
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
	walkGoFiles(t, root, func(rel string, fset *token.FileSet, f *ast.File) {
		for _, decl := range f.Decls {
			if fd, ok := decl.(*ast.FuncDecl); ok && fd.Body != nil {
				n := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1
				out = append(out, function{name: rel + ":" + fd.Name.Name, lines: n})
			}
		}
	})
	return out
}

func TestFunctionLength(t *testing.T) {
	root := moduleRoot(t)
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
