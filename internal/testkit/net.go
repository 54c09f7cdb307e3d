package testkit

import (
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// TLSServer serves h over TLS on loopback with httptest's self-signed certificate, which it
// writes to a PEM file (caFile) for a client's CA setting. Refused handshakes are not logged:
// tests make them on purpose. The server closes when the test ends.
func TLSServer(t testing.TB, h http.Handler) (srv *httptest.Server, caFile string) {
	t.Helper()
	srv = httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv, caFile
}

// ConnectProxy is an HTTPS (CONNECT) proxy for loopback tests: it splices the client to the
// requested host and counts the tunnels it opened. With User set it requires those Basic
// credentials and refuses (407) any others.
type ConnectProxy struct {
	User, Pass string
	// Route maps the requested host:port to the address dialled (nil: as requested), so that a
	// client can be sent to a name that only the proxy resolves.
	Route func(hostport string) string
	// Tunnels counts the tunnels opened, Refused the CONNECTs refused for their credentials.
	Tunnels, Refused atomic.Int64

	mu      sync.Mutex
	targets []string
	auth    string
}

// Targets are the host:port of every tunnel opened, in order.
func (p *ConnectProxy) Targets() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.targets...)
}

// LastAuth is the Proxy-Authorization header of the last CONNECT.
func (p *ConnectProxy) LastAuth() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.auth
}

func (p *ConnectProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
		return
	}
	got := r.Header.Get("Proxy-Authorization")
	p.mu.Lock()
	p.auth = got
	p.mu.Unlock()
	if p.User != "" {
		req := &http.Request{Header: http.Header{"Authorization": {got}}}
		if u, pw, ok := req.BasicAuth(); !ok || u != p.User || pw != p.Pass {
			p.Refused.Add(1)
			w.Header().Set("Proxy-Authenticate", `Basic realm="test"`)
			http.Error(w, "proxy authentication required", http.StatusProxyAuthRequired)
			return
		}
	}
	addr := r.Host
	if p.Route != nil {
		addr = p.Route(addr)
	}
	up, err := net.Dial("tcp", addr)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	p.Tunnels.Add(1)
	p.mu.Lock()
	p.targets = append(p.targets, r.Host)
	p.mu.Unlock()
	hj, ok := w.(http.Hijacker)
	if !ok {
		up.Close()
		http.Error(w, "no hijack", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
	conn, brw, err := hj.Hijack()
	if err != nil {
		up.Close()
		return
	}
	go func() {
		defer up.Close()
		defer conn.Close()
		done := make(chan struct{})
		go func() { _, _ = io.Copy(up, brw); close(done) }()
		_, _ = io.Copy(conn, up)
		<-done
	}()
}
