package reliability

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/queries"
)

// FuzzBindParam feeds `--param KEY=VALUE` text, split the way the CLI splits it, to the parameter
// binding of every investigation: it never panics, a refusal wraps queries.ErrBadParam, and an
// accepted string parameter is bound as the exact text given (never quoted or spliced).
func FuzzBindParam(f *testing.F) {
	for _, s := range []string{"user=alice@contoso.com", "ip=10.0.0.1,10.0.0.2", "since=7d", "until=now", "z=3.5",
		"baseline_days=30", "user=x' OR '1'='1", "ip=", "=x", "since=2026-13-45", "z=NaN", "keywords=a,,b, ,c"} {
		f.Add(uint8(0), s)
		f.Add(uint8(7), s)
	}
	all := queries.All()
	if len(all) == 0 {
		f.Fatal("no investigations")
	}
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, which uint8, kv string) {
		inv := all[int(which)%len(all)]
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return // the CLI refuses these before binding
		}
		values := map[string]string{k: v}
		for _, p := range inv.Params {
			if p.Required && p.Name != k {
				values[p.Name] = "10.0.0.1"
			}
		}
		args, err := inv.Bind(values, now)
		if err != nil {
			if !errors.Is(err, queries.ErrBadParam) {
				t.Fatalf("%s: error %v does not wrap ErrBadParam", inv.Name, err)
			}
			return
		}
		// args are the parameters in declared order, less those the SQL does not name (since,
		// until and the history parameter bound the events read, so the SQL may leave them out)
		j := 0
		for i, a := range args {
			na, ok := a.(sql.NamedArg)
			for ok && j < len(inv.Params) && inv.Params[j].Name != na.Name {
				j++
			}
			if !ok || j == len(inv.Params) {
				t.Fatalf("%s: arg %d is %#v, want a named parameter in declared order", inv.Name, i, a)
			}
			if na.Name == k && inv.Params[j].Type == "string" && na.Value != v {
				t.Fatalf("%s: %s bound as %q, want the text as given %q", inv.Name, k, na.Value, v)
			}
			j++
		}
	})
}

// fuzzTarget is a Fuzz function and the package folder holding it.
type fuzzTarget struct{ pkg, name string }

var fuzzFunc = regexp.MustCompile(`^func (Fuzz\w+)\(\w+ \*testing\.F\)`)

// fuzzTargets finds every fuzz target of the module by reading its test files.
func fuzzTargets(t *testing.T, root string) []fuzzTarget {
	t.Helper()
	var out []fuzzTarget
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && p != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if m := fuzzFunc.FindStringSubmatch(sc.Text()); m != nil {
				rel, _ := filepath.Rel(root, filepath.Dir(p))
				out = append(out, fuzzTarget{pkg: "./" + filepath.ToSlash(rel), name: m[1]})
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pkg+out[i].name < out[j].pkg+out[j].name })
	return out
}

// TestReliabilityFuzz runs every fuzz target of the module (the JSON→Arrow conversion, page and
// NDJSON splitting, filter, time and watermark parsers, file loading, request parsing, parameter
// binding, …) for a bounded time each, two at a time with one worker each. Only in the long run:
// the normal test run already replays each target's seed corpus.
func TestReliabilityFuzz(t *testing.T) {
	if !long {
		t.Skip("runs with MCASLOAD_RELIABILITY=long (make reliability); the normal run replays the seed corpora")
	}
	fuzztime := os.Getenv("MCASLOAD_RELIABILITY_FUZZTIME")
	if fuzztime == "" {
		fuzztime = "30s"
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	targets := fuzzTargets(t, root)
	if len(targets) < 10 {
		t.Fatalf("found only %d fuzz targets under %s", len(targets), root)
	}
	// MCASLOAD_RELIABILITY_FUZZ=REGEXP narrows the run to matching "pkg.FuzzName", to rerun one.
	if only := os.Getenv("MCASLOAD_RELIABILITY_FUZZ"); only != "" {
		re, err := regexp.Compile(only)
		if err != nil {
			t.Fatalf("MCASLOAD_RELIABILITY_FUZZ: %v", err)
		}
		var keep []fuzzTarget
		for _, ft := range targets {
			if re.MatchString(strings.TrimPrefix(ft.pkg, "./") + "." + ft.name) {
				keep = append(keep, ft)
			}
		}
		targets = keep
	}
	row := record(t, "bad input: fuzzing", fmt.Sprintf("`go test -fuzz` for %s each, every Fuzz target of the module", fuzztime))
	var mu sync.Mutex
	var failed, names []string
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for _, ft := range targets {
		names = append(names, strings.TrimPrefix(ft.pkg, "./")+"."+ft.name)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "go", "test", "-tags", "duckdb_arrow", "-run", "XXX_NONE", "-fuzz", "^"+ft.name+"$",
				"-fuzztime", fuzztime, "-parallel", "1", ft.pkg)
			cmd.Dir = root
			cmd.Env = append(testkit.CleanEnv(), "CGO_ENABLED=1")
			start := time.Now()
			out, err := cmd.CombinedOutput()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = append(failed, ft.pkg+" "+ft.name)
				t.Errorf("fuzz %s %s: %v\n%s", ft.pkg, ft.name, err, tail(string(out), 3000))
				return
			}
			t.Logf("fuzz %s %s: ok in %s: %s", ft.pkg, ft.name, time.Since(start).Round(time.Second), lastLine(string(out), "fuzz: elapsed"))
		}()
	}
	wg.Wait()
	row.set(len(targets), "%d targets (%s): %d failed %v", len(targets), strings.Join(names, ", "), len(failed), failed)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// lastLine returns the last line of s holding prefix (the fuzzer's final progress line).
func lastLine(s, prefix string) string {
	var last string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, prefix) {
			last = strings.TrimSpace(l)
		}
	}
	return last
}
