package delivery

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readNDJSON reads the findings of an NDJSON stream, skipping lines that do not parse (as the
// wire format tells readers to) and counting them.
func readNDJSON(t *testing.T, data []byte) (ids []string, skipped int) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var f Finding
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			skipped++
			continue
		}
		ids = append(ids, f.ID)
	}
	return ids, skipped
}

func TestStdoutSink(t *testing.T) {
	var out bytes.Buffer
	sink := mustSink(t, "-", Options{Stdout: &out})
	fs := findingsN(3)
	for i, err := range sink.Deliver(t.Context(), fs) {
		if err != nil {
			t.Fatalf("finding %d: %v", i, err)
		}
	}
	ids, skipped := readNDJSON(t, out.Bytes())
	if strings.Join(ids, ",") != fs[0].ID+","+fs[1].ID+","+fs[2].ID || skipped != 0 || strings.Count(out.String(), "\n") != 3 {
		t.Errorf("stdout holds %v (%d unreadable lines):\n%s", ids, skipped, out.String())
	}

	sink = mustSink(t, "-", Options{Stdout: failingWriter{}})
	for i, err := range sink.Deliver(t.Context(), fs) {
		if err == nil || !strings.Contains(err.Error(), "write to standard output: broken pipe (the findings are kept for the next run)") {
			t.Errorf("finding %d to a broken stdout: %v", i, err)
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

// TestFileSink appends, creates the file private, starts on a fresh line after a torn one and
// fails (keeping the findings) when it cannot write.
func TestFileSink(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "findings.ndjson")
	sink := mustSink(t, "file://"+path, Options{})
	first, second := findingsN(2), findingsN(3)[2:]
	for _, batch := range [][]Finding{first, second} {
		for i, err := range sink.Deliver(t.Context(), batch) {
			if err != nil {
				t.Fatalf("finding %d: %v", i, err)
			}
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("findings file mode %04o, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if ids, skipped := readNDJSON(t, data); len(ids) != 3 || skipped != 0 {
		t.Fatalf("file holds %d findings, %d unreadable lines", len(ids), skipped)
	}

	// A batch cut short left half a line: the next one starts on its own line.
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	_, _ = f.WriteString(`{"type":"mcasload.finding","id":"torn`)
	f.Close()
	if err := sink.Deliver(t.Context(), first[:1])[0]; err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(path)
	if ids, skipped := readNDJSON(t, data); len(ids) != 4 || skipped != 1 || ids[3] != first[0].ID {
		t.Errorf("after a torn line: %d findings (last %v), %d unreadable lines:\n%s", len(ids), ids, skipped, data)
	}

	// Not writable: every finding fails, saying so.
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(path, 0o600)
	if os.Geteuid() != 0 {
		for i, err := range sink.Deliver(t.Context(), first) {
			if err == nil || !strings.Contains(err.Error(), "open "+path+": ") || !strings.Contains(err.Error(), "kept for the next run") {
				t.Errorf("finding %d to a read-only file: %v", i, err)
			}
		}
	}

	_, err = NewSink(mustSpec(t, "file:///nonexistent-dir/findings.ndjson"), Options{})
	if err == nil || !strings.Contains(err.Error(), "folder /nonexistent-dir: no such file or directory: create it or fix the path") {
		t.Errorf("file in a missing folder: %v", err)
	}
}

// TestDispatcher: a finding is accepted only when every sink accepted it; an invalid finding is
// sent nowhere; each result names the sinks that failed and why.
func TestDispatcher(t *testing.T) {
	var out bytes.Buffer
	fx := newWebhookFixture(t, func(n int, w http.ResponseWriter, r *http.Request) bool {
		if n == 2 { // the second finding's only request
			http.Error(w, "no such channel", http.StatusBadRequest)
			return true
		}
		return false
	})
	path := filepath.Join(t.TempDir(), "f.ndjson")
	specs, err := ParseSpecs([]string{"-", "file://" + path, fx.url + "#ca=" + fx.ca + "&secret=" + fx.keyFile})
	if err != nil {
		t.Fatal(err)
	}
	opts := fx.options()
	opts.Stdout = &out
	d, err := Open(specs, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fs := findingsN(3)
	invalid := fs[2]
	invalid.Severity = "critical"
	results := d.Deliver(t.Context(), []Finding{fs[0], fs[1], invalid})
	if len(results) != 3 {
		t.Fatalf("%d results for 3 findings", len(results))
	}
	if r := results[0]; !r.Accepted() || r.ID != fs[0].ID || len(r.Sinks) != 3 {
		t.Errorf("first finding: %+v", r)
	}
	r := results[1]
	if r.Accepted() || len(r.Sinks) != 3 || r.Sinks[0].Err != nil || r.Sinks[1].Err != nil || r.Sinks[2].Err == nil ||
		r.Sinks[2].Sink != specs[2].ID() {
		t.Errorf("second finding (refused by the webhook only): %+v", r)
	}
	if !strings.Contains(r.Err.Error(), "https://127.0.0.1:") || !strings.Contains(r.Err.Error(), "(json): the receiver refused the payload (400 Bad Request: no such channel)") {
		t.Errorf("second finding's error does not name the sink and the cause: %v", r.Err)
	}
	noSecrets(t, "result", r.Err.Error())
	if r := results[2]; r.Accepted() || !strings.Contains(r.Err.Error(), `not sent: invalid finding`) || !strings.Contains(r.Err.Error(), `severity "critical"`) {
		t.Errorf("invalid finding: %+v", r)
	}
	// Stdout and the file got the two valid findings, the webhook one; the invalid one went
	// nowhere.
	data, _ := os.ReadFile(path)
	for name, got := range map[string][]byte{"stdout": out.Bytes(), "file": data} {
		if ids, _ := readNDJSON(t, got); len(ids) != 2 || ids[0] != fs[0].ID || ids[1] != fs[1].ID {
			t.Errorf("%s holds %v", name, ids)
		}
	}
	if got := fx.rc.accepted(); len(got) != 1 {
		t.Errorf("webhook accepted %d findings, want 1", len(got))
	}

	if _, err := Open(nil, Options{}); err == nil {
		t.Error("Open with no sinks succeeded")
	}
	bad, _ := ParseSpecs([]string{"-", fx.url + "#secret=/nonexistent/key"})
	if _, err := Open(bad, Options{}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Open with a missing secret file: %v", err)
	}
}
