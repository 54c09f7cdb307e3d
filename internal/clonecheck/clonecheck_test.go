package clonecheck

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// minCloneLines is the project's limit: no run of this many lines twice in product code.
const minCloneLines = 15

// TestNoClonesInProductCode is the clone check of `make lint` (and of `make test`).
func TestNoClonesInProductCode(t *testing.T) {
	root := filepath.Join("..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("not at the repository root: %v", err)
	}
	files, err := ProductFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 50 {
		t.Fatalf("only %d product files found under %s", len(files), root)
	}
	clones, err := Find(root, files, minCloneLines)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range clones {
		t.Errorf("clone: %s", c)
	}
	if len(clones) > 0 {
		t.Errorf("%d clones of %d lines or more in product code: move the shared lines into one function "+
			"that both places call (rerun: go test ./internal/clonecheck)", len(clones), minCloneLines)
	}
}

// body is a function of n counted lines (and its return) in five shapes that repeat, whose
// names, messages and numbers depend on tag.
func body(name, tag string, n int) string {
	shapes := []string{
		"\tx = %[1]sStep%[2]d(x, %[3]q) // %[1]s\n",
		"\tif x > %[2]d { x -= %[2]d }\n",
		"\t%[1]sY := []int{x, %[2]d}\n",
		"\tfor i := range %[2]d { x += i * len(%[1]sY) }\n",
		"\tx = x*%[2]d + len(fmt.Sprint(x, %[3]q))\n",
	}
	var b strings.Builder
	fmt.Fprintf(&b, "func %s(x int) int {\n", name)
	for i := range n {
		fmt.Fprintf(&b, shapes[i%len(shapes)], tag, i, tag+" message")
	}
	b.WriteString("\treturn x\n}\n")
	return b.String()
}

func write(t *testing.T, dir, name, src string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestFind(t *testing.T) {
	dir := t.TempDir()
	imports := "package p\n\nimport (\n" + strings.Repeat("\t\"fmt\"\n", 20) + ")\n\n"
	// a.go and b.go share a function of 15 statements that differs in layout,
	// comments, names and literals only, and an import block (which does not count). The body
	// repeats its own shape every 5 lines: a run that overlaps itself is no clone.
	write(t, dir, "a.go", imports+body("f", "a", 15))
	write(t, dir, "b.go", imports+"// doc\n"+strings.ReplaceAll(body("g", "b", 15), "\t", "    "))
	// c.go shares only 14 counted lines with them: below the limit.
	write(t, dir, "c.go", "package p\n\n"+body("h", "c", 13))
	write(t, dir, "a_test.go", "package p\n\n"+body("tf", "t", 15))
	if err := os.MkdirAll(filepath.Join(dir, "testdata"), 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "testdata"), "e.go", "package p\n\n"+body("e", "e", 15))

	files, err := ProductFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(files, []string{"a.go", "b.go", "c.go"}) {
		t.Fatalf("product files: %v", files)
	}
	clones, err := Find(dir, files, 15)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range clones {
		got = append(got, c.String())
	}
	// The run is the func line (26 of a.go, after package and imports), the 15 statements and the
	// return; b.go has one more line of doc comment. The closing brace does not count.
	want := []string{"a.go:26-42 ~ b.go:27-43 (17 lines)"}
	if !slices.Equal(got, want) {
		t.Errorf("clones:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
