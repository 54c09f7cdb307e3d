package testkit

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// recorder is a testing.TB that keeps the errors reported to it instead of failing the test.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestBufferConcurrentWrites(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				fmt.Fprint(&b, "x")
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if n := len(b.String()); n != 800 {
		t.Fatalf("buffer holds %d bytes, want 800", n)
	}
}

func TestGoldenNamesFirstDifference(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.golden")
	if err := os.WriteFile(path, []byte("one\ntwo\nthree\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &recorder{TB: t}
	Golden(r, path, []byte("one\ntwo\nthree\n"))
	if len(r.errs) != 0 {
		t.Fatalf("equal content reported: %v", r.errs)
	}
	Golden(r, path, []byte("one\nTWO\nthree\n"))
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], `line 2 is "TWO", want "two"`) || !strings.Contains(r.errs[0], "-update") {
		t.Fatalf("difference reported as %q", r.errs)
	}
	r.errs = nil
	Golden(r, path, []byte("one\ntwo\n"))
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "line 3") {
		t.Fatalf("shorter content reported as %q", r.errs)
	}
}

func TestCopyFileAndFiles(t *testing.T) {
	root := t.TempDir()
	if got := Files(t, filepath.Join(root, "missing")); len(got) != 0 {
		t.Fatalf("files of a missing folder: %v", got)
	}
	if err := os.MkdirAll(filepath.Join(root, "day=2026-01-02"), 0o700); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(root, "day=2026-01-02", "b.parquet")
	if err := os.WriteFile(src, []byte("content"), 0o600); err != nil {
		t.Fatal(err)
	}
	CopyFile(t, src, filepath.Join(root, "a.txt"))
	got, err := os.ReadFile(filepath.Join(root, "a.txt"))
	if err != nil || string(got) != "content" {
		t.Fatalf("copy holds %q (%v)", got, err)
	}
	if files := Files(t, root); !slices.Equal(files, []string{"a.txt", filepath.Join("day=2026-01-02", "b.parquet")}) {
		t.Fatalf("files: %v", files)
	}
}

func TestRunAndStart(t *testing.T) {
	r := Run(t, "sh", []string{"MCAS_TOKEN_LEAK=1"}, "-c", `echo out; echo "err $MCAS_TOKEN_LEAK" >&2; exit 3`)
	if r.Code != 3 || r.Killed || r.Stdout != "out\n" || r.Stderr != "err 1\n" {
		t.Fatalf("run: %s", r)
	}
	t.Setenv("MCAS_TOKEN", "from-the-shell")
	if r := Run(t, "sh", nil, "-c", `echo "[$MCAS_TOKEN]"`); r.Stdout != "[]\n" {
		t.Errorf("an MCAS_ variable of the test's environment reached the process: %s", r)
	}
	if r := Run(t, "sh", nil, "-c", "kill -9 $$"); !r.Killed || r.Code != -1 {
		t.Errorf("SIGKILL: %s", r)
	}
	p := Start(t, "sh", nil, "-c", "echo started; exec sleep 60")
	for !strings.Contains(p.Stdout.String(), "started") {
		if !p.Running() {
			t.Fatalf("ended early: %s", p.Wait(t))
		}
	}
	if r := p.Kill(t); !r.Killed || p.Running() {
		t.Errorf("kill: %s", r)
	}
}

func TestConnectProxy(t *testing.T) {
	api, ca := TLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }))
	if _, err := os.Stat(ca); err != nil {
		t.Fatal(err)
	}
	proxy := &ConnectProxy{User: "u", Pass: "p"}
	ps := httptest.NewServer(proxy)
	t.Cleanup(ps.Close)
	srv := ps.URL
	get := func(user *url.Userinfo) (string, error) {
		pu, _ := url.Parse(srv)
		pu.User = user
		tr := api.Client().Transport.(*http.Transport).Clone()
		tr.Proxy = http.ProxyURL(pu)
		resp, err := (&http.Client{Transport: tr}).Get(api.URL)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	if body, err := get(url.UserPassword("u", "p")); err != nil || body != "hello" {
		t.Fatalf("through the proxy: %q, %v", body, err)
	}
	if _, err := get(url.UserPassword("u", "wrong")); err == nil {
		t.Fatal("wrong proxy password accepted")
	}
	if proxy.Tunnels.Load() != 1 || proxy.Refused.Load() != 1 || !slices.Equal(proxy.Targets(), []string{api.Listener.Addr().String()}) ||
		!strings.HasPrefix(proxy.LastAuth(), "Basic ") {
		t.Errorf("tunnels %d, refused %d, targets %v, auth %q", proxy.Tunnels.Load(), proxy.Refused.Load(), proxy.Targets(), proxy.LastAuth())
	}
}
