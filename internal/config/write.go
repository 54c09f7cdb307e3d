package config

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteTOML writes t as a TOML file with the same meaning: its keys first, then each sub-table
// under its [header], in file order. Values that read as integers or booleans are written bare,
// everything else as a string; mcasload turns every value back into flag text, so both read the
// same.
func WriteTOML(w io.Writer, t *Table) error {
	var b strings.Builder
	writeTable(&b, t)
	_, err := io.WriteString(w, strings.TrimLeft(b.String(), "\n"))
	return err
}

func writeTable(b *strings.Builder, t *Table) {
	keys := t.KeyNames()
	if t.Name != "" && (len(keys) > 0 || len(t.Tables) == 0) {
		fmt.Fprintf(b, "\n[%s]\n", t.Name)
	}
	for _, k := range keys {
		v := t.Keys[k]
		fmt.Fprintf(b, "%s = %s\n", quoteKey(k), value(v.Values))
	}
	for _, name := range t.TableNames() {
		writeTable(b, t.Tables[name])
	}
}

func value(vals []string) string {
	if len(vals) == 1 {
		return scalar(vals[0])
	}
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = scalar(v)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func scalar(s string) string {
	if s == "true" || s == "false" {
		return s
	}
	// Bare only when TOML reads the integer back as the same text: not "+0", "-0" or "007"
	// ("+0" found by FuzzParse in the long reliability run).
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && strconv.FormatInt(n, 10) == s {
		return s
	}
	return quote(s)
}

// quote writes s as a TOML basic string: JSON's escapes, which TOML shares for these.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func quoteKey(k string) string {
	for _, r := range k {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return quote(k)
		}
	}
	if k == "" {
		return `""`
	}
	return k
}

// Suggest returns the candidate closest to name by edit distance when it is close enough to be
// a likely misspelling (at most 2 edits, or a third of the name's length), else "".
func Suggest(name string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		d := distance(name, c)
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	if bestD >= 0 && bestD <= max(2, len(name)/3) && bestD < len(name) {
		return best
	}
	return ""
}

// distance is the Levenshtein distance of a and b, in bytes (keys are ASCII).
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
