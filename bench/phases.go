package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Phases sums the time a load spent in each phase of its commits, from the warehouse's debug
// log lines ("opened the duckdb file", "committed" with its hash/probe/plan/transaction split,
// "published", "closed the duckdb file"). It is how the table says what limits a slow run.
type Phases struct {
	Commits int
	Times   map[string]time.Duration
}

// phaseKeys maps a log message and a field to a phase name.
var phaseKeys = []struct{ msg, field, phase string }{
	{"opened the duckdb file", "took", "open"},
	{"committed", "hash", "hash"},
	{"committed", "probe", "dedupe-probe"},
	{"committed", "plan", "plan"},
	{"committed", "transaction", "insert-tx"},
	{"published", "took", "parquet"},
	{"closed the duckdb file", "took", "close+checkpoint"},
	{"committed", "ids", "id-set-add"}, // beside insert-tx, which waits for it before COMMIT
	{"opened the id index", "took", "open-id-set"},
	{"compacted parquet day", "took", "compact"},
}

// ParsePhases reads a JSON debug log (--log-level debug --log-format json).
func ParsePhases(path string) (Phases, error) {
	p := Phases{Times: map[string]time.Duration{}}
	f, err := os.Open(path)
	if err != nil {
		return p, fmt.Errorf("read phases: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var e map[string]any
		if json.Unmarshal(line, &e) != nil {
			continue
		}
		msg, _ := e["msg"].(string)
		if msg == "committed" {
			p.Commits++
		}
		for _, k := range phaseKeys {
			if k.msg != msg {
				continue
			}
			if secs, ok := e[k.field].(float64); ok { // JSON logs write durations in seconds
				p.Times[k.phase] += time.Duration(math.Round(secs * float64(time.Second)))
			}
		}
	}
	if err := sc.Err(); err != nil {
		return p, fmt.Errorf("read phases: %w", err)
	}
	return p, nil
}

// String lists the phases, largest first: "insert-tx 120s, dedupe-probe 80s, …".
func (p Phases) String() string {
	type kv struct {
		k string
		v time.Duration
	}
	var list []kv
	for k, v := range p.Times {
		list = append(list, kv{k, v})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].v > list[j].v })
	parts := make([]string, 0, len(list))
	for _, e := range list {
		parts = append(parts, e.k+" "+fmtDuration(e.v))
	}
	return fmt.Sprintf("%d commits: %s", p.Commits, strings.Join(parts, ", "))
}

// logged runs a load with the warehouse's debug log in Out/logs/name.log and, when the log
// has commit lines, notes where its time went.
func (h *Harness) logged(c Cmd, name string) (Cmd, func(), error) {
	dir := filepath.Join(h.cfg.Out, "logs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return c, nil, fmt.Errorf("create %s: %w", dir, err)
	}
	path := filepath.Join(dir, name+".log")
	for i := 2; ; i++ { // never overwrite an earlier run's log within this run
		if _, err := os.Stat(path); os.IsNotExist(err) {
			break
		}
		path = filepath.Join(dir, fmt.Sprintf("%s-%d.log", name, i))
	}
	f, err := os.Create(path)
	if err != nil {
		return c, nil, fmt.Errorf("create %s: %w", path, err)
	}
	c.Args = append(append([]string{c.Args[0]}, "--log-level", "debug", "--log-format", "json"), c.Args[1:]...)
	c.Stderr = f
	done := func() {
		f.Close()
		if p, err := ParsePhases(path); err == nil && p.Commits > 0 {
			h.Table.Note("%s — %s (log: %s)", name, p, path)
		}
	}
	return c, done, nil
}
