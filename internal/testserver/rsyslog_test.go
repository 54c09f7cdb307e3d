package testserver_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/testserver"
)

// octetCounted frames msg as RFC 6587 §3.4.1 and RFC 5425 §4.3 do: its length in bytes, a space,
// the message.
func octetCounted(msg string) string { return strconv.Itoa(len(msg)) + " " + msg }

// TestRsyslogTCPAndTLS pins what syslog delivery (issue 20) relies on, against Debian's rsyslog:
// RFC 5424 messages sent octet-counted over plain TCP and over TLS arrive parsed field by field,
// LF-terminated framing works on TCP too, and an LF inside an octet-counted message is escaped.
func TestRsyslogTCPAndTLS(t *testing.T) {
	rs := testserver.StartRsyslog(t)

	const cef = `CEF:0|mcasload|mcasload|1.0|impossible-travel|Impossible travel|8|suser=alice@contoso.com`
	sent := []struct {
		listener, frame string
		want            testserver.SyslogMessage
	}{
		{
			listener: "tcp",
			frame:    octetCounted(`<132>1 2026-12-06T12:00:00.123Z host1 mcasload 4242 finding-tcp [mcasload@32473 key="k1" sev="high"] ` + cef),
			want: testserver.SyslogMessage{Priority: 132, Version: "1", Timestamp: "2026-12-06T12:00:00.123Z",
				Hostname: "host1", AppName: "mcasload", ProcID: "4242", MsgID: "finding-tcp",
				StructuredData: `[mcasload@32473 key="k1" sev="high"]`, Msg: cef},
		},
		{
			listener: "tcp",
			frame:    octetCounted(`<134>1 2026-12-06T12:00:01Z host1 mcasload - finding-lf - {"a":1}` + "\n" + `{"b":2}`),
			want: testserver.SyslogMessage{Priority: 134, Version: "1", Timestamp: "2026-12-06T12:00:01Z",
				Hostname: "host1", AppName: "mcasload", ProcID: "-", MsgID: "finding-lf",
				StructuredData: "-", Msg: `{"a":1}#012{"b":2}`},
		},
		{
			listener: "tcp",
			frame:    `<134>1 2026-12-06T12:00:02Z host1 mcasload - finding-nt - {"framing":"lf"}` + "\n",
			want: testserver.SyslogMessage{Priority: 134, Version: "1", Timestamp: "2026-12-06T12:00:02Z",
				Hostname: "host1", AppName: "mcasload", ProcID: "-", MsgID: "finding-nt",
				StructuredData: "-", Msg: `{"framing":"lf"}`},
		},
		{
			listener: "tls",
			frame:    octetCounted(`<132>1 2026-12-06T12:00:03.5+01:00 host2 mcasload 7 finding-tls - ` + cef),
			want: testserver.SyslogMessage{Priority: 132, Version: "1", Timestamp: "2026-12-06T12:00:03.5+01:00",
				Hostname: "host2", AppName: "mcasload", ProcID: "7", MsgID: "finding-tls",
				StructuredData: "-", Msg: cef},
		},
	}

	tcp, err := net.DialTimeout("tcp", rs.TCPAddr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial tcp: %v", err)
	}
	tlsConn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", rs.TLSAddr, rs.ClientTLSConfig())
	if err != nil {
		t.Fatalf("dial tls: %v", err)
	}
	t.Logf("TLS: %s, %s", tls.VersionName(tlsConn.ConnectionState().Version),
		tls.CipherSuiteName(tlsConn.ConnectionState().CipherSuite))
	for _, s := range sent {
		w := io.Writer(tcp)
		if s.listener == "tls" {
			w = tlsConn
		}
		if _, err := io.WriteString(w, s.frame); err != nil {
			t.Fatalf("write %s: %v", s.listener, err)
		}
	}
	for _, c := range []net.Conn{tcp, tlsConn} {
		if err := c.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}

	got := rs.WaitReceived(t, len(sent))
	if len(got) != len(sent) {
		t.Fatalf("received %d messages, want %d: %+v", len(got), len(sent), got)
	}
	byMsgID := map[string]testserver.SyslogMessage{}
	for _, m := range got {
		byMsgID[m.MsgID] = m
	}
	for _, s := range sent {
		t.Run(s.want.MsgID, func(t *testing.T) {
			m, ok := byMsgID[s.want.MsgID]
			if !ok {
				t.Fatalf("not received; got %+v", got)
			}
			if m.Listener != s.listener {
				t.Errorf("listener %q, want %q", m.Listener, s.listener)
			}
			m.Listener, m.Raw = "", ""
			if m != s.want {
				t.Errorf("parsed\n%+v\nwant\n%+v", m, s.want)
			}
		})
	}
	// Raw is the message as sent, less its framing (and with the LF escaped).
	if raw := byMsgID["finding-tls"].Raw; octetCounted(raw) != sent[3].frame {
		t.Errorf("raw %q, sent frame %q", raw, sent[3].frame)
	}

	// The server's certificate is the test CA's: a client trusting only the system roots refuses it.
	_, err = tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", rs.TLSAddr, &tls.Config{ServerName: "localhost"})
	var unknownCA x509.UnknownAuthorityError
	if !errors.As(err, &unknownCA) {
		t.Errorf("dial with system roots: %v, want an unknown-authority error", err)
	}
}

// TestRsyslogRestart: a stopped rsyslog refuses connections; restarted, it listens on the same
// addresses and appends to the same file, so a test can take the receiver down for a night and
// bring it back where its senders expect it.
func TestRsyslogRestart(t *testing.T) {
	rs := testserver.StartRsyslog(t)
	send := func(addr, msgID string) {
		t.Helper()
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial %s: %v", addr, err)
		}
		if _, err := io.WriteString(c, octetCounted(`<134>1 2026-12-06T12:00:00Z host1 mcasload - `+msgID+` - {}`)); err != nil {
			t.Fatalf("write: %v", err)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
	}
	send(rs.TCPAddr, "before")
	rs.WaitReceived(t, 1)
	tcp, tlsAddr := rs.TCPAddr, rs.TLSAddr
	rs.Stop(t)
	for _, addr := range []string{tcp, tlsAddr} {
		if c, err := net.DialTimeout("tcp", addr, 5*time.Second); err == nil {
			c.Close()
			t.Fatalf("%s accepted a connection after Stop", addr)
		}
	}
	rs.Restart(t)
	if rs.TCPAddr != tcp || rs.TLSAddr != tlsAddr {
		t.Fatalf("restarted on %s and %s, was %s and %s", rs.TCPAddr, rs.TLSAddr, tcp, tlsAddr)
	}
	send(rs.TCPAddr, "after")
	got := rs.WaitReceived(t, 2)
	if len(got) != 2 || got[0].MsgID != "before" || got[1].MsgID != "after" {
		t.Errorf("received %+v, want the message before the stop and the one after the restart", got)
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", rs.TLSAddr, rs.ClientTLSConfig())
	if err != nil {
		t.Fatalf("dial tls after the restart: %v", err)
	}
	conn.Close()
}
