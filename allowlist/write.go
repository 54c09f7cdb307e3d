package allowlist

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Add puts value in the list (Users, IPRanges, Domains, Apps or RuleNames) of scope (an
// investigation's name, or "" for every detection) in the allow-list file at path, with note as
// a comment beside it; the file is created when missing. The rest of the file is kept as
// written, comments included: the value goes into the section's list when there is one, else a
// line opens the list under the section's header, else the section is added at the end. The
// result is checked as Load checks it before it replaces the file (atomically, keeping its mode).
func Add(path, scope, list, value, note string, investigations []string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read allow-list: %w", err)
	}
	section := "global"
	if scope != "" {
		section = "investigation." + scope
	}
	text, err := addEntry(old, section, list, value, note)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	l, err := Parse(text, investigations)
	if err != nil {
		return fmt.Errorf("%s: after adding %s %q: %w", path, list, value, err)
	}
	if l.Match(scope, kindOf(list), value) == nil {
		return fmt.Errorf("%s: %q was added to %s but does not match as a %s entry", path, value, section, list)
	}
	mode := fs.FileMode(0o600)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write allow-list: %w", err)
	}
	_, err = tmp.Write(text)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write allow-list %s: %w", path, err)
	}
	return nil
}

// kindOf is the entity kind a list suppresses.
func kindOf(list string) string {
	for k, l := range EntryKind {
		if l == list {
			return k
		}
	}
	return ""
}

var headerRE = regexp.MustCompile(`^\s*\[\s*([^\]]+?)\s*\]\s*(#.*)?$`)

// addEntry edits the TOML text: see Add.
func addEntry(text []byte, section, list, value, note string) ([]byte, error) {
	lines := strings.Split(string(text), "\n")
	quoted := strconv.Quote(value)
	comment := ""
	if note != "" {
		comment = "  # " + strings.NewReplacer("\n", " ", "\r", " ").Replace(note)
	}
	start, end := -1, len(lines)
	for i, l := range lines {
		if m := headerRE.FindStringSubmatch(l); m != nil {
			if start >= 0 {
				end = i
				break
			}
			if strings.ReplaceAll(m[1], `"`, "") == section {
				start = i
			}
		}
	}
	if start < 0 {
		out := strings.TrimRight(string(text), "\n")
		if out != "" {
			out += "\n\n"
		}
		return []byte(out + "[" + section + "]\n" + list + " = [" + quoted + "]" + comment + "\n"), nil
	}
	keyRE := regexp.MustCompile(`^\s*` + regexp.QuoteMeta(list) + `\s*=\s*\[`)
	for i := start + 1; i < end; i++ {
		if !keyRE.MatchString(lines[i]) {
			continue
		}
		// The list's closing bracket: on this line or a later one.
		for j := i; j < end; j++ {
			code, rest, _ := strings.Cut(lines[j], "#")
			k := strings.LastIndex(code, "]")
			if k < 0 {
				continue
			}
			before := strings.TrimRight(code[:k], " \t")
			sep := ", "
			if strings.HasSuffix(before, "[") {
				sep = ""
			} else if strings.HasSuffix(before, ",") {
				sep = " "
			}
			if j > i && strings.TrimSpace(before) == "" {
				// A multi-line list closing on its own line: the value goes on a line before it.
				lines = append(lines[:j], append([]string{"  " + quoted + "," + comment}, lines[j:]...)...)
				return []byte(strings.Join(lines, "\n")), nil
			}
			tail := code[k:]
			if rest != "" {
				tail += "#" + rest
			} else {
				tail += comment
			}
			lines[j] = before + sep + quoted + tail
			return []byte(strings.Join(lines, "\n")), nil
		}
		return nil, fmt.Errorf("the list %s of [%s] on line %d never closes with ']'", list, section, i+1)
	}
	lines = append(lines[:start+1], append([]string{list + " = [" + quoted + "]" + comment}, lines[start+1:]...)...)
	return []byte(strings.Join(lines, "\n")), nil
}
