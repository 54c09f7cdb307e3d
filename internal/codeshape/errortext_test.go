package codeshape

import (
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// cliWords are what only a command may say in its errors: a flag (--name) or one of mcasload's
// environment variables (MCAS_*, and the AZURE_* ones its sign-in reads). Library packages say
// what is wrong in their own terms and mark the error with a type or sentinel; cmd/mcasload
// turns that into a hint naming its flags (cmd/mcasload/hints.go).
var cliWords = regexp.MustCompile(`(^|[^\w-])--[a-z][a-z0-9-]*|\b(MCAS|AZURE)_[A-Z0-9_]*[A-Z0-9]\b`)

// errorTextAllowed lists string literals that may name CLI words where an error is built, as
// "path: literal substring" with the reason. Keep it short: every entry is a library error a Go
// caller without flags cannot act on.
var errorTextAllowed = map[string]string{}

// errorText is one string literal used to build an error.
type errorText struct {
	pos   string // path:line
	text  string
	where string // what builds the error
}

// errorConstructor reports whether a call builds an error from its arguments: errors.New,
// fmt.Errorf, and any function or method named like one (authErrorf, usageErrorf,
// NewCredentialUnavailableError, newAuthError).
func errorConstructor(call *ast.CallExpr) (string, bool) {
	var name string
	switch fn := call.Fun.(type) {
	case *ast.Ident:
		name = fn.Name
	case *ast.SelectorExpr:
		if x, ok := fn.X.(*ast.Ident); ok && x.Name == "errors" && fn.Sel.Name == "New" {
			return "errors.New", true
		}
		name = fn.Sel.Name
	case *ast.IndexExpr, *ast.IndexListExpr:
		return "", false
	}
	lower := strings.ToLower(name)
	if strings.HasSuffix(lower, "errorf") || (strings.HasPrefix(lower, "new") && strings.HasSuffix(lower, "error")) {
		return name, true
	}
	return "", false
}

// errorTexts returns the string literals of f that build errors: arguments of error
// constructors, fields of composite literals of ...Error types, the bodies of Error methods and
// of functions whose name says they make a hint. sites counts the error-building places seen.
func errorTexts(fset *token.FileSet, path string, f *ast.File) (texts []errorText, sites int) {
	collect := func(n ast.Node, where string) {
		sites++
		ast.Inspect(n, func(m ast.Node) bool {
			if lit, ok := m.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					s = lit.Value
				}
				texts = append(texts, errorText{pos: path + ":" + strconv.Itoa(fset.Position(lit.Pos()).Line), text: s, where: where})
			}
			return true
		})
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			name := strings.ToLower(n.Name.Name)
			if n.Body != nil && ((n.Recv != nil && n.Name.Name == "Error") || strings.Contains(name, "hint")) {
				collect(n.Body, n.Name.Name)
				return false
			}
		case *ast.CallExpr:
			if where, ok := errorConstructor(n); ok {
				for _, a := range n.Args {
					collect(a, where)
				}
				return false
			}
		case *ast.CompositeLit:
			t := n.Type
			if s, ok := t.(*ast.SelectorExpr); ok {
				t = s.Sel
			}
			if id, ok := t.(*ast.Ident); ok && strings.HasSuffix(id.Name, "Error") {
				collect(n, id.Name+"{}")
				return false
			}
		}
		return true
	})
	return texts, sites
}

// cliWordsInErrors returns the error texts of f that name CLI words and are not allowed.
func cliWordsInErrors(fset *token.FileSet, path string, f *ast.File) (bad []string, sites int) {
	texts, sites := errorTexts(fset, path, f)
	for _, t := range texts {
		w := cliWords.FindString(t.text)
		if w == "" || allowedErrorText(path, t.text) {
			continue
		}
		// The match may start with the character before the flag's dashes.
		w = strings.TrimLeftFunc(w, func(r rune) bool { return r != '-' && !unicode.IsLetter(r) })
		bad = append(bad, t.pos+": "+t.where+" names "+w+": "+strconv.Quote(t.text))
	}
	return bad, sites
}

func allowedErrorText(path, text string) bool {
	for k := range errorTextAllowed {
		p, sub, _ := strings.Cut(k, ": ")
		if p == path && strings.Contains(text, sub) {
			return true
		}
	}
	return false
}

// TestLibraryErrorsNameNoFlags: no error built outside the commands (package main: cmd/mcasload
// and the tools) names a CLI flag or environment variable; the commands add such hints.
func TestLibraryErrorsNameNoFlags(t *testing.T) {
	root := moduleRoot(t)
	var bad []string
	files, sites := 0, 0
	walkGoFiles(t, root, func(rel string, fset *token.FileSet, f *ast.File) {
		if f.Name.Name == "main" {
			return // a command: its errors may name its own flags
		}
		b, n := cliWordsInErrors(fset, rel, f)
		bad = append(bad, b...)
		files++
		sites += n
	})
	if files < 100 || sites < 300 {
		t.Fatalf("read %d files with %d error-building sites under %s; the walk is wrong", files, sites, root)
	}
	slices.Sort(bad)
	for _, b := range bad {
		t.Errorf("%s\n\tsay what is wrong in the package's terms, mark it with a type or sentinel, and let cmd/mcasload/hints.go name the flag", b)
	}
	t.Logf("%d files, %d error-building sites", files, sites)
}

// TestErrorTextDetector: the detector finds CLI words in every way this module builds errors,
// and leaves alone what is not an error or names no flag.
func TestErrorTextDetector(t *testing.T) {
	const src = `package p

import ("errors"; "fmt")

type APIError struct{ Hint string }

func (e *APIError) Error() string { return "check --url" }

func hintFor(status int) string { return "lower --parallel" }

func f() error {
	_ = errors.New("no API URL: set MCAS_URL")
	_ = fmt.Errorf("parse %s: %w", "--filter", nil)
	_ = authErrorf("set " + "AZURE_TENANT_ID")
	_ = newAuthError(fmt.Errorf("want --token-file"))
	_ = &APIError{Hint: "check --ca-file"}
	_ = errors.New("-----BEGIN CERTIFICATE-----, a--b, MCAS_Router, -- comment")
	_ = fmt.Sprintf("run with --verbose")
	log("--since applies only to the first run")
	return fmt.Errorf("plain %d", 1)
}
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	bad, _ := cliWordsInErrors(fset, "p.go", f)
	var got []string
	for _, b := range bad {
		got = append(got, strings.TrimSuffix(strings.Fields(strings.SplitN(b, " names ", 2)[1])[0], ":"))
	}
	want := []string{"--url", "--parallel", "MCAS_URL", "--filter", "AZURE_TENANT_ID", "--token-file", "--ca-file"}
	if !slices.Equal(got, want) {
		t.Errorf("found %q, want %q:\n%s", got, want, strings.Join(bad, "\n"))
	}
}
