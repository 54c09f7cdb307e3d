package delivery

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mcasload/mcasload/internal/testserver"
)

// parseCEF splits a CEF:0 event the way a SIEM does: header fields at unescaped '|', extension
// keys before unescaped '=', values unescaped. It is the test's independent reading of the
// escapes cefMessage writes.
func parseCEF(t *testing.T, msg string) (header []string, ext map[string]string) {
	t.Helper()
	rest, ok := strings.CutPrefix(msg, "CEF:0|")
	if !ok {
		t.Fatalf("not a CEF:0 event: %q", msg)
	}
	var field strings.Builder
	i := 0
	for ; i < len(rest) && len(header) < 6; i++ {
		switch c := rest[i]; {
		case c == '\\' && i+1 < len(rest) && (rest[i+1] == '\\' || rest[i+1] == '|'):
			field.WriteByte(rest[i+1])
			i++
		case c == '\\':
			t.Fatalf("lone backslash in the header at %d: %q", i, msg)
		case c == '|':
			header = append(header, field.String())
			field.Reset()
		default:
			field.WriteByte(c)
		}
	}
	if len(header) != 6 {
		t.Fatalf("header has %d fields, want 6 after CEF:0: %q", len(header), msg)
	}
	ext = map[string]string{}
	s := rest[i:]
	var eqs []int
	for j := 0; j < len(s); j++ {
		if s[j] == '\\' {
			j++
			continue
		}
		if s[j] == '=' {
			eqs = append(eqs, j)
		}
	}
	for n, eq := range eqs {
		start := strings.LastIndexByte(s[:eq], ' ') + 1
		end := len(s)
		if n+1 < len(eqs) {
			end = strings.LastIndexByte(s[:eqs[n+1]], ' ')
		}
		key := s[start:eq]
		if _, dup := ext[key]; dup {
			t.Fatalf("key %s twice in %q", key, msg)
		}
		ext[key] = strings.NewReplacer(`\\`, `\`, `\=`, `=`, `\n`, "\n", `\r`, "\r").Replace(s[eq+1 : end])
	}
	return header, ext
}

// TestSyslogRsyslog delivers findings to Debian's rsyslog over TCP and TLS, as CEF and as JSON,
// and reads back what rsyslog parsed: every RFC 5424 field, the CEF fields with their escapes
// undone, and the JSON payload whole.
func TestSyslogRsyslog(t *testing.T) {
	rs := testserver.StartRsyslog(t)
	clk := newSleepRecorder()
	opts := Options{Clock: clk, Jitter: halfJitter, Version: "v1.2|x", Hostname: "nightly host"}
	received := 0
	wait := func(t *testing.T, n int) []testserver.SyslogMessage {
		t.Helper()
		all := rs.WaitReceived(t, received+n)
		got := all[received:]
		received = len(all)
		return got
	}

	t.Run("tcp cef", func(t *testing.T) {
		fs := append([]Finding{sample()}, findingsN(2)...)
		fs[1].Severity, fs[2].Severity = Medium, Informational
		fs[2].Key.Entities = Entities{App: "Box", Object: "q3 = plan|final.xlsx", IP: "not-an-ip"}
		fs[2].PortalURLs, fs[2].PortalNote = nil, "loaded from a file"
		sink := mustSink(t, "syslog+tcp://"+rs.TCPAddr+"?facility=local3", opts)
		for i, err := range sink.Deliver(t.Context(), fs) {
			if err != nil {
				t.Fatalf("finding %d not accepted: %v", i, err)
			}
		}
		got := wait(t, len(fs))
		for i, m := range got {
			f := fs[i]
			wantPri := 19*8 + syslogSeverity(f.Severity)
			if m.Listener != "tcp" || m.Priority != wantPri || m.Version != "1" || m.Timestamp != "2026-12-06T03:00:00.000Z" ||
				m.Hostname != "nightlyhost" || m.AppName != "mcasload" || m.ProcID != strconv.Itoa(os.Getpid()) ||
				m.MsgID != "finding" || m.StructuredData != `[origin software="mcasload" swVersion="v1.2|x"]` {
				t.Errorf("message %d header: %+v", i, m)
			}
			header, ext := parseCEF(t, m.Msg)
			wantHeader := []string{"mcasload", "mcasload", "v1.2|x", f.Key.Investigation, f.title(), strconv.Itoa(cefSeverity(f.Severity))}
			if !reflect.DeepEqual(header, wantHeader) {
				t.Errorf("message %d CEF header %q, want %q", i, header, wantHeader)
			}
			want := map[string]string{
				"externalId": f.ID, "rt": "1796526000000", "start": epochMillis(f.FirstSeen), "end": epochMillis(f.LastSeen),
				"msg": f.summary(), "cnt": strconv.Itoa(len(f.EvidenceIDs)),
				"cs2Label": "techniques", "cs2": "T1078,T1078.004", "cs3Label": "evidenceIds", "cs3": strings.Join(f.EvidenceIDs, ","),
				"cs4Label": "tenant", "cs4": "contoso", "cs5Label": "reason", "cs5": "new",
				"cn1Label": "notification", "cn1": "1", "flexString1Label": "status", "flexString1": "new",
				"flexString2Label": "bucket", "flexString2": f.Key.Bucket,
			}
			if u := f.Key.Entities.User; u != "" {
				want["suser"] = u
			}
			if len(f.PortalURLs) > 0 {
				want["cs1Label"], want["cs1"] = "portalURL", f.PortalURLs[0]
			}
			if i == 2 {
				want["shost"], want["destinationServiceName"] = "not-an-ip", "Box"
				want["cs6Label"], want["cs6"] = "object", "q3 = plan|final.xlsx"
			} else {
				want["src"] = f.Key.Entities.IP
			}
			if !reflect.DeepEqual(ext, want) {
				t.Errorf("message %d CEF extension\n%q\nwant\n%q\nraw %q", i, ext, want, m.Msg)
			}
		}
		// The summary's '|', '=', '\' and line break came through escaped, not raw.
		if !strings.Contains(got[0].Msg, `DE then US | 40 min apart; speed\=9000 km/h\nC:\\path`) {
			t.Errorf("escapes in the msg value: %q", got[0].Msg)
		}
	})

	t.Run("tls json", func(t *testing.T) {
		fs := []Finding{sample()}
		big := map[string]string{"pad": strings.Repeat("x", 10000)}
		fs = append(fs, findingsN(1)...)
		fs[1].Row, _ = json.Marshal(big)
		sink := mustSink(t, "syslog+tls://"+rs.TLSAddr+"?format=json&ca="+rs.CAFile+"&server-name=localhost", opts)
		for i, err := range sink.Deliver(t.Context(), fs) {
			if err != nil {
				t.Fatalf("finding %d not accepted: %v", i, err)
			}
		}
		got := wait(t, 2)
		for i, m := range got {
			if m.Listener != "tls" || m.Priority != 16*8+2 || m.MsgID != "finding" {
				t.Errorf("message %d header: %+v", i, m)
			}
			var back Finding
			if err := json.Unmarshal([]byte(m.Msg), &back); err != nil {
				t.Fatalf("message %d is not the wire JSON: %v\n%s", i, err, m.Msg)
			}
			if back.ID != fs[i].ID || back.Key != fs[i].Key || back.Summary != fs[i].summary() {
				t.Errorf("message %d read back as %+v", i, back)
			}
		}
		if want := string(sample().Row); !strings.Contains(got[0].Msg, `"row":`+want) {
			t.Errorf("the row did not arrive whole: %s", got[0].Msg)
		}
		if !strings.Contains(got[1].Msg, `"row":null,"row_omitted":"the row (10010 bytes) does not fit in max-size=8192`) {
			t.Errorf("a row too large for syslog was not left out with a note: %.300s", got[1].Msg)
		}
		if len(got[1].Raw) > 8192 {
			t.Errorf("a message of %d bytes passed max-size 8192", len(got[1].Raw))
		}
	})

	t.Run("tls untrusted", func(t *testing.T) {
		sink := mustSink(t, "syslog+tls://"+rs.TLSAddr+"?format=json", opts)
		errs := sink.Deliver(t.Context(), findingsN(2))
		for _, err := range errs {
			if err == nil || !strings.Contains(err.Error(), "TLS handshake with "+rs.TLSAddr+" failed") ||
				!strings.Contains(err.Error(), "give ca=/PATH/ca.pem") || !strings.Contains(err.Error(), "kept for the next run") {
				t.Errorf("untrusted receiver: %v", err)
			}
		}
		if !strings.Contains(errs[0].Error(), "attempt 1 of 3") {
			t.Errorf("a certificate problem was retried: %v", errs[0])
		}
	})

	t.Run("tls to a plain listener", func(t *testing.T) {
		sink := mustSink(t, "syslog+tls://"+rs.TCPAddr+"?ca="+rs.CAFile+"&timeout=300ms&attempts=1", opts)
		err := sink.Deliver(t.Context(), findingsN(1))[0]
		if err == nil || !strings.Contains(err.Error(), "TLS") || !strings.Contains(err.Error(), "syslog+tcp") {
			t.Errorf("TLS to a plain TCP listener: %v", err)
		}
	})

	t.Run("receiver down", func(t *testing.T) {
		before := len(clk.Slept())
		rs.Stop(t)
		sink := mustSink(t, "syslog+tcp://"+rs.TCPAddr, opts)
		errs := sink.Deliver(t.Context(), findingsN(3))
		for i, err := range errs {
			if err == nil {
				t.Fatalf("finding %d accepted by a stopped receiver", i)
			}
			if !strings.Contains(err.Error(), "connection refused: is the receiver running and listening on TCP port") ||
				!strings.Contains(err.Error(), "(attempt 3 of 3); kept for the next run") {
				t.Errorf("finding %d: %v", i, err)
			}
		}
		if slept := clk.Slept()[before:]; !reflect.DeepEqual(slept, []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond}) {
			t.Errorf("backoff between connection attempts %v, want [750ms 1.5s]", slept)
		}
	})
}

// fakeReceiver is a TCP listener whose behaviour after accepting a connection the test chooses.
func fakeReceiver(t *testing.T, serve func(c *net.TCPConn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c.(*net.TCPConn))
			}()
		}
	}()
	return ln.Addr().String()
}

// TestSyslogAcceptance: a batch counts as accepted only when the receiver read to the end and
// closed; a receiver that resets the connection or never closes it accepts nothing.
func TestSyslogAcceptance(t *testing.T) {
	var mu sync.Mutex
	var read []byte
	cases := []struct {
		name  string
		serve func(c *net.TCPConn)
		want  string // "" for accepted
	}{
		{"reads all, then closes", func(c *net.TCPConn) {
			b, _ := io.ReadAll(c)
			mu.Lock()
			read = append(read, b...)
			mu.Unlock()
		}, ""},
		{"resets after the first bytes", func(c *net.TCPConn) {
			buf := make([]byte, 10)
			_, _ = io.ReadFull(c, buf)
			_ = c.SetLinger(0) // close with RST, as a crashing daemon's kernel does
		}, "broke"},
		{"closes at once without reading", func(c *net.TCPConn) {}, "broke"},
		{"never closes", func(c *net.TCPConn) {
			_, _ = io.Copy(io.Discard, c)
			// Keep the connection open until the client gives up on it.
			for {
				if _, err := c.Write([]byte{'\n'}); err != nil {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}, "did not close the connection within timeout=300ms"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			addr := fakeReceiver(t, c.serve)
			sink := mustSink(t, "syslog+tcp://"+addr+"?timeout=300ms&attempts=2", Options{Clock: newSleepRecorder(), Jitter: halfJitter})
			fs := findingsN(40)
			for i, err := range sink.Deliver(t.Context(), fs) {
				switch {
				case c.want == "" && err != nil:
					t.Fatalf("finding %d: %v", i, err)
				case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
					t.Fatalf("finding %d: %v, want an error saying %q", i, err, c.want)
				}
			}
			if c.want == "" {
				mu.Lock()
				defer mu.Unlock()
				// 40 octet-counted frames, each "LEN SP <PRI>1 …".
				if n := strings.Count(string(read), " <"+strconv.Itoa(16*8+2)+">1 "); n != 40 {
					t.Errorf("receiver read %d frames, want 40", n)
				}
			}
		})
	}
}

// TestSyslogTooLarge: a CEF message over max-size fails that finding only, with what to change.
func TestSyslogTooLarge(t *testing.T) {
	addr := fakeReceiver(t, func(c *net.TCPConn) { _, _ = io.Copy(io.Discard, c) })
	sink := mustSink(t, "syslog+tcp://"+addr+"?max-size=1024", Options{Clock: newSleepRecorder()})
	fs := findingsN(2)
	fs[0].Summary = strings.Repeat("long ", 300)
	errs := sink.Deliver(context.Background(), fs)
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "more than max-size=1024: raise max-size=") {
		t.Errorf("oversized finding: %v", errs[0])
	}
	if errs[1] != nil {
		t.Errorf("the other finding failed too: %v", errs[1])
	}
}

func TestCEFEscapes(t *testing.T) {
	for in, want := range map[string][2]string{ // header, value
		`plain`:         {`plain`, `plain`},
		`a|b`:           {`a\|b`, `a|b`},
		`a=b`:           {`a=b`, `a\=b`},
		`C:\dir`:        {`C:\\dir`, `C:\\dir`},
		"line1\nline2":  {"line1 line2", `line1\nline2`},
		"cr\r\n":        {"cr  ", `cr\r\n`},
		"tab\there\x00": {"tab here ", "tab here "},
		`\|=`:           {`\\\|=`, `\\|\=`},
		"Zürich":        {"Zürich", "Zürich"},
	} {
		if got := cefHeader(in); got != want[0] {
			t.Errorf("cefHeader(%q) = %q, want %q", in, got, want[0])
		}
		if got := cefValue(in); got != want[1] {
			t.Errorf("cefValue(%q) = %q, want %q", in, got, want[1])
		}
	}
	ids := make([]string, 200)
	for i := range ids {
		ids[i] = strings.Repeat(strconv.Itoa(i%10), 20)
	}
	l := cefList(ids)
	if len(l) > cefValueMax || strings.HasSuffix(l, ",") || len(strings.Split(l, ",")[0]) != 20 || len(strings.Split(l, ",")) != 48 {
		t.Errorf("cefList cut %d ids of 20 characters into %d characters, %d ids", len(ids), len(l), len(strings.Split(l, ",")))
	}
}

// selfSigned writes a self-signed ECDSA certificate for 127.0.0.1 and its key (mode 600) and
// returns their paths and the parsed pair; it serves as server certificate, client
// certificate and CA at once.
func selfSigned(t *testing.T, name string) (certFile, keyFile string, pair tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	if pair, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	return writeFile(t, name+".pem", string(certPEM), 0o644), writeFile(t, name+"-key.pem", string(keyPEM), 0o600), pair
}

// TestSyslogClientCertificate: with cert= and key= the sink presents its certificate (RFC 5425
// mutual authentication) to a receiver that requires one, and the key file must be private.
func TestSyslogClientCertificate(t *testing.T) {
	serverCert, _, serverPair := selfSigned(t, "server")
	clientCert, clientKey, clientPair := selfSigned(t, "client")
	clients := x509.NewCertPool()
	clients.AddCert(clientPair.Leaf)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{serverPair},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clients, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		if tc, ok := c.(*tls.Conn); ok && len(tc.ConnectionState().PeerCertificates) > 0 {
			got <- tc.ConnectionState().PeerCertificates[0].Subject.CommonName + ": " + string(b)
		}
		close(got)
	}()
	spec := "syslog+tls://" + ln.Addr().String() + "?ca=" + serverCert + "&cert=" + clientCert + "&key=" + clientKey + "&timeout=5s"
	if err := mustSink(t, spec, Options{Clock: newSleepRecorder()}).Deliver(t.Context(), findingsN(1))[0]; err != nil {
		t.Fatalf("deliver with a client certificate: %v", err)
	}
	if msg := <-got; !strings.HasPrefix(msg, "client: ") || !strings.Contains(msg, "CEF:0|mcasload|") {
		t.Errorf("the receiver saw %q, want the client certificate's name and a CEF message", msg)
	}

	if err := os.Chmod(clientKey, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = NewSink(mustSpec(t, spec), Options{})
	if err == nil || !strings.Contains(err.Error(), "TLS key file "+clientKey+" is open to group or others (mode 0644)") {
		t.Errorf("a readable client key: %v", err)
	}
	_, err = NewSink(mustSpec(t, "syslog+tls://127.0.0.1:1?cert="+serverCert+"&key="+writeFile(t, "other.pem", "not a key", 0o600)), Options{})
	if err == nil || !strings.Contains(err.Error(), "do not make a key pair") {
		t.Errorf("a certificate without its key: %v", err)
	}
}

// FuzzCEFEscapes: whatever a summary, user, object or title holds, a CEF reader gets back every
// header field and extension value as written, less control characters and anything past the
// length limit.
func FuzzCEFEscapes(f *testing.F) {
	f.Add("a|b=c\\d\ne\rf", "alice@contoso.com", "x=y", "T|itle\\")
	f.Add(" =\\\\=| ", "\\", "=", "|")
	f.Fuzz(func(t *testing.T, summary, user, object, title string) {
		if !utf8.ValidString(summary + user + object + title) {
			t.Skip("the wire format is UTF-8")
		}
		fd := sample()
		fd.Summary, fd.Key.Entities.User, fd.Key.Entities.Object, fd.Title = summary, user, object, title
		msg := cefMessage(&fd, "v1", t0)
		header, ext := parseCEF(t, msg)
		clean := func(s string, header bool) string {
			s = shorten(s, cefValueMax)
			return strings.Map(func(r rune) rune {
				if (r < 0x20 && (header || r != '\n' && r != '\r')) || r == 0x7f {
					return ' '
				}
				return r
			}, s)
		}
		if want := clean(fd.title(), true); header[4] != want {
			t.Errorf("title read back %q, want %q (message %q)", header[4], want, msg)
		}
		for key, v := range map[string]string{"msg": fd.summary(), "suser": user, "cs6": object} {
			want := clean(v, false)
			if got, ok := ext[key]; want != "" && got != want || want == "" && ok {
				t.Errorf("%s read back %q, want %q (message %q)", key, got, want, msg)
			}
		}
		if ext["externalId"] != fd.ID {
			t.Errorf("externalId %q lost among the other values: %q", ext["externalId"], msg)
		}
	})
}

// TestAwaitAcknowledged: the end of stream is not enough; the receiver's TCP must have taken
// every byte. A receiver that closed before the data came answers it with a reset.
func TestAwaitAcknowledged(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SIOCOUTQ is Linux's")
	}
	closed := make(chan struct{})
	for name, c := range map[string]struct {
		serve func(c *net.TCPConn)
		fails bool
	}{
		"reads everything":            {func(c *net.TCPConn) { _, _ = io.Copy(io.Discard, c) }, false},
		"closed before the data came": {func(c *net.TCPConn) { c.Close(); close(closed) }, true},
	} {
		t.Run(name, func(t *testing.T) {
			addr := fakeReceiver(t, c.serve)
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if c.fails {
				<-closed
				time.Sleep(20 * time.Millisecond) // the receiver's FIN has arrived
			}
			_, _ = conn.Write(bytes.Repeat([]byte("x"), 64<<10))
			_ = conn.(*net.TCPConn).CloseWrite()
			_, err = awaitAcknowledged(conn.(*net.TCPConn), addr, time.Now().Add(2*time.Second))
			if c.fails != (err != nil) {
				t.Errorf("awaitAcknowledged = %v, want failure %v", err, c.fails)
			}
		})
	}
}
