package testserver

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rsyslogd is where Debian's rsyslog package puts the daemon.
const rsyslogd = "/usr/sbin/rsyslogd"

// receiveTimeout bounds WaitReceived; rsyslog writes a message to its file within milliseconds.
const receiveTimeout = 10 * time.Second

// Rsyslog is a private rsyslogd (none of the system's configuration) on loopback, listening for
// syslog over plain TCP (RFC 6587) and over TLS (RFC 5425), and writing every message it receives,
// raw and as rsyslog parsed it, to a file that Received and WaitReceived read.
type Rsyslog struct {
	// TCPAddr is the plain TCP listener, 127.0.0.1:PORT. Octet-counted and LF-terminated framing
	// are both accepted.
	TCPAddr string
	// TLSAddr is the TLS listener, 127.0.0.1:PORT (GnuTLS driver, server authentication only:
	// clients present no certificate).
	TLSAddr string
	// CAFile is the PEM of the throwaway CA that signed the server's certificate, which names
	// localhost, 127.0.0.1 and ::1.
	CAFile string
	// Dir holds the configuration, the PID file, rsyslog's work dir and its logs.
	Dir string

	caPEM    []byte
	received string
	proc     *process
	bin      string
	conf     string // the configuration, its listeners' ports still to fill in
}

// SyslogMessage is one message as rsyslog received it.
type SyslogMessage struct {
	// Listener is "tcp" or "tls": the input that received it.
	Listener string `json:"listener"`
	// Raw is the message exactly as framed by the client, without the frame's length or LF.
	// rsyslog escapes control characters on receipt (LF becomes "#012"), as a default install does.
	Raw string `json:"raw"`
	// The fields rsyslog parsed. Version is "1" for RFC 5424 messages and "0" for legacy ones.
	Priority       int    `json:"pri,string"`
	Version        string `json:"version"`
	Timestamp      string `json:"timestamp"`
	Hostname       string `json:"hostname"`
	AppName        string `json:"app"`
	ProcID         string `json:"procid"`
	MsgID          string `json:"msgid"`
	StructuredData string `json:"sd"`
	Msg            string `json:"msg"`
}

// rsyslogConf is the whole configuration: two imtcp inputs on port 0 (rsyslog writes the port it
// got to a file; a restart asks for the same ports again), both bound to one ruleset that writes each message as one JSON line; rsyslog's
// own messages go to a separate log. The per-input streamDriver settings let one imtcp serve plain
// TCP and TLS side by side (rsyslog 8.2106 and later). inputs.timeout.shutdown cuts the second
// rsyslog otherwise waits, on every stop, for imtcp's listener thread to notice it should end.
const rsyslogConf = `# mcasload test rsyslogd; written by internal/testserver
global(workDirectory="{{work}}" maxMessageSize="64k" inputs.timeout.shutdown="100")
module(load="imtcp")

template(name="received" type="string" string="{\"listener\":\"%inputname%\",\"raw\":\"%rawmsg:::json%\",\"pri\":\"%pri%\",\"version\":\"%protocol-version%\",\"timestamp\":\"%timereported:::date-rfc3339,json%\",\"hostname\":\"%hostname:::json%\",\"app\":\"%app-name:::json%\",\"procid\":\"%procid:::json%\",\"msgid\":\"%msgid:::json%\",\"sd\":\"%structured-data:::json%\",\"msg\":\"%msg:::json%\"}\n")

ruleset(name="received") {
	action(type="omfile" file="{{received}}" template="received")
}

input(type="imtcp" name="tcp" address="127.0.0.1" port="{{tcpportnum}}" listenPortFileName="{{tcpport}}" ruleset="received")
input(type="imtcp" name="tls" address="127.0.0.1" port="{{tlsportnum}}" listenPortFileName="{{tlsport}}" ruleset="received"
	streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon"
	streamDriver.caFile="{{ca}}" streamDriver.certFile="{{cert}}" streamDriver.keyFile="{{key}}")

*.* action(type="omfile" file="{{internal}}")
`

// StartRsyslog starts a private rsyslogd (-n -f CONF -i PIDFILE) with TCP and TLS listeners on
// free loopback ports, a fresh test CA and server certificate, and everything in a temp dir; it is
// stopped when the test ends.
func StartRsyslog(t testing.TB) *Rsyslog {
	t.Helper()
	bin := findInstalled(t, "rsyslog "+RsyslogVersion, rsyslogd)
	if mods, _ := filepath.Glob("/usr/lib/*/rsyslog/lmnsd_gtls.so"); len(mods) == 0 {
		findInstalled(t, "rsyslog-gnutls (rsyslog's TLS driver)", "/usr/lib/<arch>/rsyslog/lmnsd_gtls.so")
	}
	dir := t.TempDir()
	if strings.ContainsAny(dir, "\"\\") {
		t.Fatalf("start rsyslog: temp dir %q cannot be quoted in rsyslog's config", dir)
	}
	pki, err := newTestPKI(dir)
	if err != nil {
		t.Fatalf("start rsyslog: %v", err)
	}
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o700); err != nil {
		t.Fatalf("start rsyslog: %v", err)
	}
	r := &Rsyslog{CAFile: pki.CAFile, Dir: dir, caPEM: pki.CAPEM, received: filepath.Join(dir, "received.jsonl"), bin: bin}
	r.conf = strings.NewReplacer(
		"{{work}}", work,
		"{{received}}", r.received,
		"{{tcpport}}", filepath.Join(dir, "tcp.port"),
		"{{tlsport}}", filepath.Join(dir, "tls.port"),
		"{{ca}}", pki.CAFile,
		"{{cert}}", pki.CertFile,
		"{{key}}", pki.KeyFile,
		"{{internal}}", filepath.Join(dir, "rsyslogd-internal.log"),
	).Replace(rsyslogConf)
	r.start(t, "0", "0")
	return r
}

// start writes the configuration with the listeners on these ports ("0": any free one, then
// TCPAddr and TLSAddr are set from the port files rsyslog writes) and starts rsyslogd, waiting
// until both listeners accept connections.
func (r *Rsyslog) start(t testing.TB, tcpPort, tlsPort string) {
	t.Helper()
	conf := strings.NewReplacer("{{tcpportnum}}", tcpPort, "{{tlsportnum}}", tlsPort).Replace(r.conf)
	confPath := filepath.Join(r.Dir, "rsyslog.conf")
	tcpFile, tlsFile := filepath.Join(r.Dir, "tcp.port"), filepath.Join(r.Dir, "tls.port")
	for _, f := range []string{tcpFile, tlsFile} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("start rsyslog: %v", err)
		}
	}
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatalf("start rsyslog: %v", err)
	}
	r.proc = startProcess(t, "rsyslogd", r.Dir, childEnv(), r.bin,
		"-n", "-f", confPath, "-i", filepath.Join(r.Dir, "rsyslogd.pid"))
	err := r.proc.waitReady(func() (bool, error) {
		if tcpPort != "0" {
			// rsyslog writes the port file only for a port it chose
			return dialable(r.TCPAddr) && dialable(r.TLSAddr), nil
		}
		tcp, ok1, err := readPortFile(tcpFile)
		if err != nil {
			return false, err
		}
		tls, ok2, err := readPortFile(tlsFile)
		if err != nil || !ok1 || !ok2 {
			return false, err
		}
		r.TCPAddr, r.TLSAddr = fmt.Sprintf("127.0.0.1:%d", tcp), fmt.Sprintf("127.0.0.1:%d", tls)
		return dialable(r.TCPAddr) && dialable(r.TLSAddr), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r.proc.logReady(t, RsyslogVersion, "tcp "+r.TCPAddr+", tls "+r.TLSAddr)
}

// ClientTLSConfig trusts the test CA and nothing else, for clients of TLSAddr.
func (r *Rsyslog) ClientTLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(r.caPEM)
	return &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
}

// Received returns every message written so far, in arrival order.
func (r *Rsyslog) Received(t testing.TB) []SyslogMessage {
	t.Helper()
	msgs, err := r.readReceived()
	if err != nil {
		t.Fatalf("read rsyslog output: %v", err)
	}
	return msgs
}

// WaitReceived waits until at least n messages were written and returns all of them; it fails the
// test, showing what did arrive, after receiveTimeout.
func (r *Rsyslog) WaitReceived(t testing.TB, n int) []SyslogMessage {
	t.Helper()
	deadline := time.Now().Add(receiveTimeout)
	for {
		msgs, err := r.readReceived()
		if err != nil {
			t.Fatalf("read rsyslog output: %v", err)
		}
		if len(msgs) >= n {
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("rsyslog received %d messages, want %d, after %s: %+v\n%s",
				len(msgs), n, receiveTimeout, msgs, r.internalLog())
		}
		time.Sleep(pollInterval)
	}
}

// readReceived parses the complete lines of the output file; a line still being written is left
// for the next read.
func (r *Rsyslog) readReceived() ([]SyslogMessage, error) {
	b, err := os.ReadFile(r.received)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i+1]
	} else {
		return nil, nil
	}
	var msgs []SyslogMessage
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		var m SyslogMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return nil, fmt.Errorf("parse %q: %w", sc.Text(), err)
		}
		msgs = append(msgs, m)
	}
	return msgs, sc.Err()
}

// internalLog is what rsyslog said about itself (errors, dropped sessions), for failure messages.
func (r *Rsyslog) internalLog() string {
	b, err := os.ReadFile(filepath.Join(r.Dir, "rsyslogd-internal.log"))
	if err != nil {
		return fmt.Sprintf("(no rsyslog internal log: %v)", err)
	}
	return "rsyslog internal log:\n" + string(b)
}

// Stop stops rsyslogd before the test ends, to test a sink whose receiver went away: a
// connection to its addresses is then refused.
func (r *Rsyslog) Stop(t testing.TB) {
	t.Helper()
	r.proc.stop(t)
}

// Restart starts rsyslogd again after Stop, on the same ports with the same certificate, writing
// to the same file after what it received before: the receiver is back where senders left it.
// (Another process could take a port in between; the start then fails saying so.)
func (r *Rsyslog) Restart(t testing.TB) {
	t.Helper()
	r.proc.stop(t)
	_, tcpPort, _ := strings.Cut(r.TCPAddr, "127.0.0.1:")
	_, tlsPort, _ := strings.Cut(r.TLSAddr, "127.0.0.1:")
	r.start(t, tcpPort, tlsPort)
}
