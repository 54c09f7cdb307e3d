package delivery

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// syslogBatch is how many messages share one connection: a broken connection fails (and the
// next run re-sends) at most this many findings.
const syslogBatch = 500

// syslogMsgID is the RFC 5424 MSGID of every message: the type of message, a finding.
const syslogMsgID = "finding"

// syslogSink sends each finding as one RFC 5424 message over TCP (RFC 6587 octet counting) or
// TLS (RFC 5425). Plain syslog has no acknowledgement, so a batch is accepted only when every
// write succeeded and, after the client closed its side, the receiver closed the connection in
// turn: it has then read every byte. A daemon that crashes after reading but before storing can
// still lose the batch; that is the limit of syslog (docs/detect.md, "What accepted means").
type syslogSink struct {
	spec     Spec
	opts     Options
	tls      *tls.Config
	hostname string
	procID   string
}

func newSyslogSink(sp Spec, opts Options) (*syslogSink, error) {
	s := &syslogSink{spec: sp, opts: opts, hostname: sp.Hostname, procID: strconv.Itoa(os.Getpid())}
	if s.hostname == "" {
		s.hostname = headerField(opts.Hostname, 255)
	}
	if sp.TLS {
		cfg, err := tlsConfig(sp)
		if err != nil {
			return nil, err
		}
		if cfg.ServerName == "" {
			cfg.ServerName = sp.Host
		}
		s.tls = cfg
	}
	return s, nil
}

// headerField is s fit for an RFC 5424 header field (printable US-ASCII without spaces, at most
// max bytes), or the nil value "-".
func headerField(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r < 33 || r > 126 {
			return -1
		}
		return r
	}, s)
	if s == "" {
		return "-"
	}
	return s[:min(len(s), max)]
}

func (s *syslogSink) ID() string     { return s.spec.ID() }
func (s *syslogSink) String() string { return s.spec.String() }
func (s *syslogSink) Close() error   { return nil }

// syslogSeverity maps a finding's severity onto RFC 5424's: high is critical (2), medium a
// warning (4), low a notice (5), informational informational (6).
func syslogSeverity(s Severity) int {
	switch s {
	case High:
		return 2
	case Medium:
		return 4
	case Low:
		return 5
	}
	return 6
}

// sdEscape escapes an RFC 5424 PARAM-VALUE: '"', '\' and ']'.
func sdEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`).Replace(s)
}

// message is the finding as one RFC 5424 message:
// <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [origin …] MSG. MSG has no BOM: a CEF parser
// expects "CEF:0" at its start.
func (s *syslogSink) message(f *Finding, now time.Time) ([]byte, error) {
	pri := s.spec.Facility*8 + syslogSeverity(f.Severity)
	header := fmt.Sprintf("<%d>1 %s %s %s %s %s [origin software=\"mcasload\" swVersion=\"%s\"] ",
		pri, now.UTC().Format("2006-01-02T15:04:05.000Z"), s.hostname, s.spec.AppName, s.procID,
		syslogMsgID, sdEscape(headerField(s.opts.Version, 32)))
	room := s.spec.MaxSize - len(header)
	var msg []byte
	if s.spec.Format == "json" {
		var err error
		if msg, err = jsonWithin(f, room, s.spec.MaxSize); err != nil {
			return nil, err
		}
	} else {
		msg = []byte(cefMessage(f, s.opts.Version, now))
	}
	if len(msg) > room {
		return nil, fmt.Errorf("the message takes %d bytes, more than max-size=%d: raise max-size= to what the receiver accepts (rsyslog: maxMessageSize)",
			len(header)+len(msg), s.spec.MaxSize)
	}
	return append([]byte(header), msg...), nil
}

// jsonWithin is the finding's JSON, without its row when the whole does not fit in room bytes:
// the row is the one part that can be large, and it stays in the findings table.
func jsonWithin(f *Finding, room, maxSize int) ([]byte, error) {
	b, err := f.MarshalJSON()
	if err != nil || len(b) <= room {
		return b, err
	}
	w := f.wire()
	w.Row = json.RawMessage("null")
	w.RowOmitted = fmt.Sprintf("the row (%d bytes) does not fit in max-size=%d; it is in the findings table", len(f.Row), maxSize)
	return encodeJSON(w)
}

func (s *syslogSink) Deliver(ctx context.Context, findings []Finding) []error {
	errs := make([]error, len(findings))
	now := s.opts.Clock.Now()
	var frames [][]byte
	var at []int
	for i := range findings {
		msg, err := s.message(&findings[i], now)
		if err != nil {
			errs[i] = err
			continue
		}
		frames = append(frames, append([]byte(strconv.Itoa(len(msg))+" "), msg...))
		at = append(at, i)
	}
	var down error
	for start := 0; start < len(frames); start += syslogBatch {
		end := min(start+syslogBatch, len(frames))
		err := down
		if err == nil {
			if err = s.sendBatch(ctx, frames[start:end]); err != nil {
				down = fmt.Errorf("not sent after an earlier batch failed: %w", err)
			}
		}
		for _, i := range at[start:end] {
			errs[i] = err
		}
	}
	return errs
}

// sendBatch sends frames on one connection, trying again on a new one with backoff.
func (s *syslogSink) sendBatch(ctx context.Context, frames [][]byte) error {
	for n := 1; ; n++ {
		retry, err := s.sendOnce(ctx, frames)
		if err == nil {
			return nil
		}
		of := fmt.Sprintf(" (attempt %d of %d)", n, s.spec.Attempts)
		if ctx.Err() != nil {
			return fmt.Errorf("stopped: %w; kept for the next run", ctx.Err())
		}
		if !retry || n >= s.spec.Attempts {
			return fmt.Errorf("%w%s; kept for the next run", err, of)
		}
		wait := backoff(n, s.opts.Jitter)
		s.opts.Log.Warn("syslog delivery failed, retrying", "sink", s.spec.String(), "messages", len(frames),
			"attempt", n, "of", s.spec.Attempts, "error", err.Error(), "retry_in", wait.String())
		if err := s.opts.Clock.Sleep(ctx, wait); err != nil {
			return fmt.Errorf("stopped: %w; kept for the next run", err)
		}
	}
}

// sendOnce dials, writes every frame, closes the sending side and waits for the receiver to
// close too. retry says whether a new connection may do better.
func (s *syslogSink) sendOnce(ctx context.Context, frames [][]byte) (retry bool, err error) {
	addr := net.JoinHostPort(s.spec.Host, s.spec.Port)
	dialer := &net.Dialer{Timeout: s.spec.Timeout}
	raw, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return true, fmt.Errorf("connect to %s: %s: is the receiver running and listening on TCP port %s?", addr, netCause(err), s.spec.Port)
	}
	defer raw.Close()
	conn := raw
	if s.tls != nil {
		tc := tls.Client(raw, s.tls)
		hctx, cancel := context.WithTimeout(ctx, s.spec.Timeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		switch {
		case err == nil:
		case isCertError(err):
			return false, fmt.Errorf("TLS handshake with %s failed: %s: give ca=/PATH/ca.pem with the CA that signed the receiver's certificate, and server-name= if it names another host", addr, netCause(err))
		case isTimeout(err):
			return true, fmt.Errorf("TLS handshake with %s took longer than timeout=%s: is the receiver overloaded, or is it a plain TCP listener (then use syslog+tcp)?", addr, s.spec.Timeout)
		default:
			return false, fmt.Errorf("TLS handshake with %s failed: %s: is it a TLS listener (else use syslog+tcp), and does it accept TLS 1.2 or later?", addr, netCause(err))
		}
		conn = tc
	}
	_ = conn.SetDeadline(time.Now().Add(s.spec.Timeout))
	w := bufio.NewWriterSize(conn, 64<<10)
	for _, f := range frames {
		if _, err := w.Write(f); err != nil {
			return true, fmt.Errorf("send to %s: %s: the connection broke", addr, netCause(err))
		}
	}
	if err := w.Flush(); err != nil {
		return true, fmt.Errorf("send to %s: %s: the connection broke", addr, netCause(err))
	}
	if err := closeWrite(conn); err != nil {
		return true, fmt.Errorf("the connection to %s broke while closing (%s): the receiver may not have read every message", addr, netCause(err))
	}
	deadline := time.Now().Add(s.spec.Timeout)
	_ = conn.SetReadDeadline(deadline)
	_, err = io.Copy(io.Discard, conn)
	if err != nil && !(s.tls != nil && errors.Is(err, io.ErrUnexpectedEOF)) {
		if isTimeout(err) {
			return true, fmt.Errorf("%s did not close the connection within timeout=%s of the last message: it may not have read them all", addr, s.spec.Timeout)
		}
		return true, fmt.Errorf("the connection to %s broke before the receiver read every message: %s", addr, netCause(err))
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		return awaitAcknowledged(tcp, addr, deadline)
	}
	return false, nil
}

// awaitAcknowledged waits until the receiver's TCP acknowledged every byte and the FIN. Its end
// of stream alone does not prove it read them: a receiver that closed at once, without reading,
// sends its FIN before our data even arrives, and answers the data with a reset that may reach
// us only after we read that FIN.
func awaitAcknowledged(c *net.TCPConn, addr string, deadline time.Time) (retry bool, err error) {
	for {
		n, sockErr, ok := unacknowledged(c)
		switch {
		case !ok:
			return false, nil
		case sockErr != nil:
			return true, fmt.Errorf("the connection to %s broke before the receiver read every message: %s", addr, sockErr)
		case n == 0:
			return false, nil
		case time.Now().After(deadline):
			return true, fmt.Errorf("%s had not acknowledged the last %d bytes when timeout ran out: it may not have read every message", addr, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// closeWrite ends the client's side of the stream: for TLS a close_notify alert and then the
// TCP half-close, so a receiver that ignores the alert still reads its end of stream.
func closeWrite(c net.Conn) error {
	if tc, ok := c.(*tls.Conn); ok {
		if err := tc.CloseWrite(); err != nil {
			return err
		}
		c = tc.NetConn()
	}
	if tcp, ok := c.(*net.TCPConn); ok {
		return tcp.CloseWrite()
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
}

// netCause is the innermost useful text of a network error ("connection refused" rather than
// "dial tcp 127.0.0.1:1: connect: connection refused" repeated after the address).
func netCause(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		var sys *os.SyscallError
		if errors.As(op.Err, &sys) {
			return sys.Err.Error()
		}
		return op.Err.Error()
	}
	return err.Error()
}
