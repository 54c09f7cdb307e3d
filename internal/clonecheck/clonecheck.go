// Package clonecheck finds copied code: runs of consecutive lines that stand identically in two
// places of a tree's non-test Go files. `make lint` runs its test over the repository, so a clone
// of 15 lines or more in product code fails the build (docs/design.md, "One rule, one place").
//
// Lines are compared by their shape: Go tokens with every name and literal made alike, so layout,
// comments, renamed variables, messages and constants do not hide a copy. Import declarations,
// the package clause, blank and comment lines, and lines of names, literals and punctuation alone
// ("}", "})", "opRead,", `{"a", 1},`: constant lists and table rows) do not count; a clone's length
// is the number of lines that do.
package clonecheck

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Clone is one run of lines that two places share.
type Clone struct {
	A, B  Place
	Lines int // counted lines in the run
}

// Place is a span of source lines of one file.
type Place struct {
	File       string // slash-separated, relative to the scanned root
	Start, End int    // first and last source line, 1-based
}

func (p Place) String() string { return fmt.Sprintf("%s:%d-%d", p.File, p.Start, p.End) }

func (c Clone) String() string { return fmt.Sprintf("%s ~ %s (%d lines)", c.A, c.B, c.Lines) }

// line is one counted line: its source line number and its tokens, normalized.
type line struct {
	n    int
	text string
}

// ProductFiles lists the non-test Go files below root, skipping testdata, vendor and hidden
// folders, as slash-separated paths relative to root.
func ProductFiles(root string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list go files: %w", err)
	}
	slices.Sort(files)
	return files, nil
}

// Find reports every run of at least minLines counted lines that two places of files (paths
// relative to root) share, longest first.
func Find(root string, files []string, minLines int) ([]Clone, error) {
	all := make([][]line, len(files))
	for i, f := range files {
		src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
		if all[i], err = countedLines(f, src); err != nil {
			return nil, err
		}
	}
	// Every window of minLines counted lines, by its text.
	type at struct{ file, i int }
	windows := map[string][]at{}
	for fi, ls := range all {
		for i := 0; i+minLines <= len(ls); i++ {
			var b strings.Builder
			for _, l := range ls[i : i+minLines] {
				b.WriteString(l.text)
				b.WriteByte('\n')
			}
			windows[b.String()] = append(windows[b.String()], at{fi, i})
		}
	}
	// Pairs of equal windows that do not overlap; a run is a chain of pairs each one line on.
	type pair struct{ a, b at }
	matched := map[pair]bool{}
	for _, places := range windows {
		for x := range places {
			for _, b := range places[x+1:] {
				a := places[x]
				if a.file == b.file && b.i-a.i < minLines {
					continue
				}
				matched[pair{a, b}] = true
			}
		}
	}
	var clones []Clone
	for p := range matched {
		if matched[pair{at{p.a.file, p.a.i - 1}, at{p.b.file, p.b.i - 1}}] {
			continue // not the start of its run
		}
		n := minLines
		for matched[pair{at{p.a.file, p.a.i + n - minLines + 1}, at{p.b.file, p.b.i + n - minLines + 1}}] {
			n++
		}
		if p.a.file == p.b.file {
			n = min(n, p.b.i-p.a.i) // a run that repeats itself: count one period
		}
		la, lb := all[p.a.file], all[p.b.file]
		clones = append(clones, Clone{
			A:     Place{files[p.a.file], la[p.a.i].n, la[p.a.i+n-1].n},
			B:     Place{files[p.b.file], lb[p.b.i].n, lb[p.b.i+n-1].n},
			Lines: n,
		})
	}
	slices.SortFunc(clones, func(x, y Clone) int {
		if x.Lines != y.Lines {
			return y.Lines - x.Lines
		}
		return strings.Compare(x.String(), y.String())
	})
	return clones, nil
}

// countedLines tokenizes a Go file and returns the lines that count, each as its tokens joined
// by single spaces, names and literals as "_".
func countedLines(name string, src []byte) ([]line, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", name, err)
	}
	skip := map[int]bool{fset.Position(f.Package).Line: true}
	for _, d := range f.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.IMPORT {
			for l := fset.Position(g.Pos()).Line; l <= fset.Position(g.End()).Line; l++ {
				skip[l] = true
			}
		}
	}
	var s scanner.Scanner
	file := fset.AddFile(name, -1, len(src))
	s.Init(file, src, nil, 0) // comments are skipped
	var out []line
	var toks []string
	cur := 0
	flush := func() {
		if len(toks) > 0 && !skip[cur] && !punctuationOnly(toks) {
			out = append(out, line{cur, strings.Join(toks, " ")})
		}
		toks = toks[:0]
	}
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		if tok == token.SEMICOLON && lit == "\n" {
			continue // inserted at a line end, not written
		}
		if l := file.Line(pos); l != cur {
			flush()
			cur = l
		}
		if tok.IsLiteral() { // names and basic literals
			toks = append(toks, "_")
		} else if lit != "" {
			toks = append(toks, lit)
		} else {
			toks = append(toks, tok.String())
		}
	}
	flush()
	return out, nil
}

// punctuationOnly is true for lines of names and literals ("_"), brackets and separators alone,
// such as "}", "})", a constant name or a table row.
func punctuationOnly(toks []string) bool {
	for _, t := range toks {
		if !strings.Contains("{}()[],;:_-", t) {
			return false
		}
	}
	return true
}
