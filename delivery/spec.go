package delivery

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind is what sort of receiver a sink talks to.
type Kind string

// The kinds of sink.
const (
	KindStdout  Kind = "stdout"
	KindFile    Kind = "file"
	KindWebhook Kind = "webhook"
	KindSyslog  Kind = "syslog"
)

// Spec is one parsed sink spec (the grammar is in docs/detect.md, "Sinks"). It holds no secret
// value, only the paths of the files that hold them; the webhook URL itself is a secret for
// Slack and Teams (whoever has it can post), so String and errors show its scheme and host only.
type Spec struct {
	Kind Kind
	// Format is the payload: json for every kind; teams or slack for a webhook; cef for syslog.
	Format string
	// Path is the file sink's absolute path.
	Path string
	// URL is the webhook's URL without the options fragment: a secret, never printed.
	URL string
	// Host and Port are the syslog receiver's (Port defaulted: 514 for TCP, 6514 for TLS).
	Host, Port string
	// TLS is set for syslog+tls.
	TLS bool
	// Timeout bounds one attempt: a webhook request, or a syslog connection's dial, writes and
	// the wait for the receiver to close.
	Timeout time.Duration
	// Attempts is how often one finding (webhook) or one batch (syslog) is tried per run.
	Attempts int
	// MaxWait is the longest Retry-After a webhook sink waits; a longer one fails the finding
	// for this run.
	MaxWait time.Duration
	// SecretFile holds the webhook's HMAC-SHA256 key; CAFile the PEM CA certificates to trust
	// instead of the system's; CertFile and KeyFile a TLS client certificate for syslog+tls.
	SecretFile, CAFile, CertFile, KeyFile string
	// ServerName is the name the syslog+tls receiver's certificate must hold (default Host).
	ServerName string
	// Facility (0–23), Hostname and AppName fill the RFC 5424 header; MaxSize bounds one syslog
	// message in bytes.
	Facility          int
	Hostname, AppName string
	MaxSize           int

	display string
	ident   string
}

// String describes the sink without secrets: "stdout", "file:///var/x.ndjson",
// "https://hooks.slack.com/… (slack)", "syslog+tls://siem:6514 (cef)".
func (s Spec) String() string { return s.display }

// GoString is String, so that %#v does not print the webhook URL either.
func (s Spec) GoString() string { return s.display }

// ID is a stable name for the sink that holds no secret: its kind and a hash of what it
// delivers to (the file, the URL, the receiver's address), so an outbox can keep per-sink state
// that survives a change of the sink's options.
func (s Spec) ID() string {
	if s.Kind == KindStdout {
		return "stdout"
	}
	h := sha256.Sum256([]byte(s.ident))
	return string(s.Kind) + "-" + hex.EncodeToString(h[:6])
}

// SpecError is a sink that cannot be used as given: a spec that does not parse, a secret file
// that is missing or readable by others, a CA file without certificates. The message says what
// to change; nothing was sent.
type SpecError struct {
	// Sink is the spec as it may be shown (secret parts left out).
	Sink string
	Err  error
}

func (e *SpecError) Error() string { return fmt.Sprintf("sink %s: %v", e.Sink, e.Err) }
func (e *SpecError) Unwrap() error { return e.Err }

func specErrorf(sink, format string, args ...any) *SpecError {
	return &SpecError{Sink: sink, Err: fmt.Errorf(format, args...)}
}

// Defaults of the options (docs/detect.md, "Sinks").
const (
	defaultWebhookTimeout  = 10 * time.Second
	defaultWebhookAttempts = 4
	defaultMaxWait         = 2 * time.Minute
	defaultSyslogTimeout   = 10 * time.Second
	defaultSyslogAttempts  = 3
	defaultFacility        = 16 // local0
	defaultAppName         = "mcasload"
	// defaultMaxSize is rsyslog's default maxMessageSize and RFC 5425's "SHOULD accept 8192".
	defaultMaxSize = 8192
)

var kindsHelp = "-, file:///PATH, https://HOST/PATH#format=json|teams|slack, syslog+tcp://HOST:PORT or syslog+tls://HOST:PORT"

// ParseSpec parses one sink spec. It reads no file and opens no connection: Open does that.
func ParseSpec(raw string) (Spec, error) {
	s := strings.TrimSpace(raw)
	switch s {
	case "":
		return Spec{}, specErrorf(`""`, "empty sink: give one of %s", kindsHelp)
	case "-", "stdout":
		return Spec{Kind: KindStdout, Format: "json", display: "stdout", ident: "stdout"}, nil
	}
	scheme, ok := schemeOf(s)
	if !ok {
		return Spec{}, specErrorf(quoteNoScheme(s), "no scheme: write file://%s for a file, or one of %s",
			absHint(s), kindsHelp)
	}
	switch scheme {
	case "file":
		return parseFile(s)
	case "https", "http":
		return parseWebhook(s, scheme)
	case "syslog+tcp", "syslog+tls":
		return parseSyslog(s, scheme == "syslog+tls")
	case "syslog", "syslog+udp", "udp", "tcp", "tls":
		return Spec{}, specErrorf(scheme+"://…", "use syslog+tcp://HOST:PORT or syslog+tls://HOST:PORT "+
			"(syslog over UDP is not offered: it drops messages without telling anyone)")
	case "mailto", "smtp", "smtps":
		return Spec{}, specErrorf(scheme+":…", "email is not a sink; use a webhook (Teams, Slack) or syslog")
	}
	return Spec{}, specErrorf(scheme+":…", "unknown scheme %q: use %s", scheme, kindsHelp)
}

// schemeOf is the lowercased scheme of s, if s starts with one (RFC 3986: a letter, then
// letters, digits, '+', '-', '.'), followed by ':'. One letter is taken for a Windows drive.
func schemeOf(s string) (string, bool) {
	i := strings.IndexByte(s, ':')
	if i < 2 {
		return "", false
	}
	for j, c := range s[:i] {
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (j == 0 || !('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return "", false
		}
	}
	return strings.ToLower(s[:i]), true
}

// quoteNoScheme shows a spec that has no scheme: a path whole, anything else (it might be a
// webhook URL without its https://, a secret) only up to its first '/'.
func quoteNoScheme(s string) string {
	if strings.HasPrefix(s, "/") || strings.HasPrefix(s, ".") || strings.HasPrefix(s, "~") {
		return strconv.Quote(s)
	}
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return strconv.Quote(s[:i] + "/…")
	}
	return strconv.Quote(s)
}

func absHint(s string) string {
	if strings.HasPrefix(s, "/") {
		return s
	}
	return "/ABSOLUTE/PATH"
}

func parseFile(s string) (Spec, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Spec{}, specErrorf(quoteNoScheme(s), "not a valid file URL (check its %%-escapes): write file:///ABSOLUTE/PATH")
	}
	p := u.Path
	if u.Opaque != "" {
		p = u.Opaque
	}
	if u.Host != "" && u.Host != "localhost" {
		return Spec{}, specErrorf(strconv.Quote(s), "file://%s%s names host %q: a file sink needs an absolute path, file:///PATH (three slashes)",
			u.Host, u.Path, u.Host)
	}
	if !strings.HasPrefix(p, "/") {
		return Spec{}, specErrorf(strconv.Quote(s), "a file sink needs an absolute path: file:///ABSOLUTE/PATH")
	}
	p = filepath.Clean(p)
	sp := Spec{Kind: KindFile, Format: "json", Path: p, display: "file://" + p, ident: p}
	opts, err := optionString(u)
	if err != nil {
		return Spec{}, specErrorf(sp.display, "%v", err)
	}
	return sp, applyOptions(&sp, opts, fileOptions)
}

func parseWebhook(s, scheme string) (Spec, error) {
	u, err := url.Parse(s)
	if err != nil || u.Hostname() == "" {
		return Spec{}, specErrorf(scheme+"://…", "not a valid URL (check the host, the port and the %%-escapes)")
	}
	host := u.Host
	sp := Spec{Kind: KindWebhook, Format: "json", Host: u.Hostname(), Port: u.Port(),
		Timeout: defaultWebhookTimeout, Attempts: defaultWebhookAttempts, MaxWait: defaultMaxWait}
	sp.display = scheme + "://" + host + "/…"
	if scheme == "http" && !isLoopback(u.Hostname()) {
		return Spec{}, specErrorf(sp.display, "a webhook needs https (plain http is accepted for a loopback receiver only)")
	}
	opts := u.EscapedFragment()
	if opts == "" && u.RawQuery != "" {
		q := u.Query()
		if slices.Contains([]string{"json", "teams", "slack"}, q.Get("format")) || q.Has("secret") {
			return Spec{}, specErrorf(sp.display, "webhook options go after '#', not in the query (the query is sent to the receiver): …#format=teams&secret=/PATH")
		}
	}
	u.Fragment, u.RawFragment = "", ""
	sp.URL = u.String()
	sp.ident = sp.URL
	if err := applyOptions(&sp, opts, webhookOptions); err != nil {
		return Spec{}, err
	}
	sp.display += " (" + sp.Format + ")"
	return sp, nil
}

func parseSyslog(s string, useTLS bool) (Spec, error) {
	scheme := "syslog+tcp"
	port := "514"
	if useTLS {
		scheme, port = "syslog+tls", "6514"
	}
	u, err := url.Parse(s)
	if err != nil || u.Hostname() == "" || u.Opaque != "" {
		return Spec{}, specErrorf(strconv.Quote(s), "not a valid address: write %s://HOST:PORT", scheme)
	}
	if u.Path != "" && u.Path != "/" {
		return Spec{}, specErrorf(strconv.Quote(s), "a syslog sink has no path: write %s://HOST:PORT", scheme)
	}
	if u.User != nil {
		return Spec{}, specErrorf(scheme+"://…", "a syslog sink takes no user name or password")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return Spec{}, specErrorf(strconv.Quote(s), "port %q is not 1–65535", p)
		}
		port = p
	}
	sp := Spec{Kind: KindSyslog, Format: "cef", Host: u.Hostname(), Port: port, TLS: useTLS,
		Timeout: defaultSyslogTimeout, Attempts: defaultSyslogAttempts, Facility: defaultFacility,
		AppName: defaultAppName, MaxSize: defaultMaxSize}
	addr := net.JoinHostPort(sp.Host, sp.Port)
	sp.display = scheme + "://" + addr
	sp.ident = scheme + "://" + addr
	opts, err := optionString(u)
	if err != nil {
		return Spec{}, specErrorf(sp.display, "%v", err)
	}
	opt := syslogOptions
	if useTLS {
		opt = syslogTLSOptions
	}
	if err := applyOptions(&sp, opts, opt); err != nil {
		return Spec{}, err
	}
	if (sp.CertFile == "") != (sp.KeyFile == "") {
		return Spec{}, specErrorf(sp.display, "cert= and key= go together: give both or neither")
	}
	sp.display += " (" + sp.Format + ")"
	return sp, nil
}

// optionString is the options of a file or syslog spec: the query or the fragment, not both
// (neither sink has a query of its own).
func optionString(u *url.URL) (string, error) {
	q, f := u.RawQuery, u.EscapedFragment()
	if q != "" && f != "" {
		return "", errors.New("options are given both after '?' and after '#': use one")
	}
	return q + f, nil
}

// option parses one option's value into the spec.
type option func(sp *Spec, v string) error

// applyOptions parses "name=value&name=value" (values %-escaped, '+' kept) with the options the
// sink takes; an unknown, repeated or empty option is an error naming the ones it takes.
func applyOptions(sp *Spec, raw string, allowed map[string]option) error {
	if raw == "" {
		return nil
	}
	seen := map[string]bool{}
	for _, kv := range strings.Split(raw, "&") {
		name, value, _ := strings.Cut(kv, "=")
		name, err1 := url.PathUnescape(name)
		value, err2 := url.PathUnescape(value)
		if err := errors.Join(err1, err2); err != nil {
			return specErrorf(sp.display, "option %q: bad %%-escape", shorten(kv, 40))
		}
		set, ok := allowed[name]
		if !ok {
			return specErrorf(sp.display, "unknown option %q: a %s sink takes %s", shorten(name, 40), sp.Kind, optionNames(allowed))
		}
		if seen[name] {
			return specErrorf(sp.display, "option %s is given twice", name)
		}
		seen[name] = true
		if value == "" {
			return specErrorf(sp.display, "option %s has no value", name)
		}
		if err := set(sp, value); err != nil {
			return specErrorf(sp.display, "option %s: %v", name, err)
		}
	}
	return nil
}

func optionNames(allowed map[string]option) string {
	if len(allowed) == 0 {
		return "no options"
	}
	names := make([]string, 0, len(allowed))
	for n := range allowed {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

func formatOption(valid ...string) option {
	return func(sp *Spec, v string) error {
		if !slices.Contains(valid, v) {
			return fmt.Errorf("unknown format %q: use %s", shorten(v, 40), strings.Join(valid, ", "))
		}
		sp.Format = v
		return nil
	}
}

func durationOption(field func(*Spec) *time.Duration, lo, hi time.Duration) option {
	return func(sp *Spec, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < lo || d > hi {
			return fmt.Errorf("%q is not a duration from %s to %s (like 10s or 2m)", shorten(v, 40), lo, hi)
		}
		*field(sp) = d
		return nil
	}
}

func intOption(field func(*Spec) *int, lo, hi int) option {
	return func(sp *Spec, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("%q is not a whole number from %d to %d", shorten(v, 40), lo, hi)
		}
		*field(sp) = n
		return nil
	}
}

func pathOption(field func(*Spec) *string) option {
	return func(sp *Spec, v string) error {
		*field(sp) = v
		return nil
	}
}

// headerOption takes an RFC 5424 header field: printable US-ASCII, no spaces, up to max bytes.
func headerOption(field func(*Spec) *string, max int) option {
	return func(sp *Spec, v string) error {
		if len(v) > max || strings.IndexFunc(v, func(r rune) bool { return r < 33 || r > 126 }) >= 0 {
			return fmt.Errorf("%q is not 1–%d printable ASCII characters without spaces", shorten(v, 40), max)
		}
		*field(sp) = v
		return nil
	}
}

// facilities are the RFC 5424 facility names, by number.
var facilities = []string{"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp",
	"cron", "authpriv", "ftp", "ntp", "audit", "alert", "clock",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}

func facilityOption(sp *Spec, v string) error {
	if i := slices.Index(facilities, strings.ToLower(v)); i >= 0 {
		sp.Facility = i
		return nil
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= 23 {
		sp.Facility = n
		return nil
	}
	return fmt.Errorf("%q is not a facility: use a number 0–23 or a name (local0 … local7, auth, authpriv, audit, user, …)", shorten(v, 40))
}

var (
	fileOptions    = map[string]option{"format": formatOption("json")}
	webhookOptions = map[string]option{
		"format":   formatOption("json", "teams", "slack"),
		"secret":   pathOption(func(s *Spec) *string { return &s.SecretFile }),
		"ca":       pathOption(func(s *Spec) *string { return &s.CAFile }),
		"timeout":  durationOption(func(s *Spec) *time.Duration { return &s.Timeout }, time.Millisecond, 10*time.Minute),
		"attempts": intOption(func(s *Spec) *int { return &s.Attempts }, 1, 20),
		"max-wait": durationOption(func(s *Spec) *time.Duration { return &s.MaxWait }, 0, time.Hour),
	}
	syslogOptions = map[string]option{
		"format":   formatOption("cef", "json"),
		"facility": facilityOption,
		"hostname": headerOption(func(s *Spec) *string { return &s.Hostname }, 255),
		"app-name": headerOption(func(s *Spec) *string { return &s.AppName }, 48),
		"timeout":  durationOption(func(s *Spec) *time.Duration { return &s.Timeout }, time.Millisecond, 10*time.Minute),
		"attempts": intOption(func(s *Spec) *int { return &s.Attempts }, 1, 20),
		"max-size": intOption(func(s *Spec) *int { return &s.MaxSize }, 1024, 1<<20),
	}
	syslogTLSOptions = withOptions(syslogOptions, map[string]option{
		"ca":          pathOption(func(s *Spec) *string { return &s.CAFile }),
		"server-name": headerOption(func(s *Spec) *string { return &s.ServerName }, 255),
		"cert":        pathOption(func(s *Spec) *string { return &s.CertFile }),
		"key":         pathOption(func(s *Spec) *string { return &s.KeyFile }),
	})
)

func withOptions(base, more map[string]option) map[string]option {
	all := map[string]option{}
	for k, v := range base {
		all[k] = v
	}
	for k, v := range more {
		all[k] = v
	}
	return all
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ParseSpecs parses the sinks of a command: each argument is a spec, or "@FILE" for the specs
// listed in FILE, one a line (blank lines and lines starting with '#' skipped). A webhook URL is
// a secret and a command line is not private, so such URLs belong in a sinks file, which must
// not be readable by group or others. A sink given twice is an error.
func ParseSpecs(args []string) ([]Spec, error) {
	var specs []Spec
	seen := map[string]string{}
	add := func(sp Spec) error {
		if prev, dup := seen[sp.ID()]; dup {
			return specErrorf(sp.String(), "given twice (also as %s): give each sink once", prev)
		}
		seen[sp.ID()] = sp.String()
		specs = append(specs, sp)
		return nil
	}
	for _, arg := range args {
		if file, ok := strings.CutPrefix(arg, "@"); ok {
			listed, err := readSpecFile(file)
			if err != nil {
				return nil, err
			}
			for _, sp := range listed {
				if err := add(sp); err != nil {
					return nil, err
				}
			}
			continue
		}
		sp, err := ParseSpec(arg)
		if err != nil {
			return nil, err
		}
		if err := add(sp); err != nil {
			return nil, err
		}
	}
	return specs, nil
}

// readSpecFile reads a sinks file; an error names the file and the line, never a line's text
// beyond what ParseSpec shows.
func readSpecFile(path string) ([]Spec, error) {
	data, err := readPrivateFile(path, "sinks file")
	if err != nil {
		return nil, &SpecError{Sink: "@" + path, Err: err}
	}
	var specs []Spec
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sp, err := ParseSpec(line)
		if err != nil {
			var se *SpecError
			if errors.As(err, &se) {
				se.Sink = fmt.Sprintf("%s (@%s line %d)", se.Sink, path, n)
			}
			return nil, err
		}
		specs = append(specs, sp)
	}
	if len(specs) == 0 {
		return nil, &SpecError{Sink: "@" + path, Err: errors.New("the file lists no sink: write one spec per line")}
	}
	return specs, nil
}

// readPrivateFile reads a file that holds a secret (an HMAC key, a TLS key, webhook URLs). It
// refuses one that group or others may read or write, as ssh does for keys, and an empty one;
// errors name the file and what to do, never its content.
func readPrivateFile(path, what string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s %s does not exist: create it (mode 600) or fix the path", what, path)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s %s: %w", what, path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s %s: %w", what, path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s %s is not a regular file", what, path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s %s is open to group or others (mode %04o): it holds a secret; run chmod 600 %s", what, path, perm, path)
	}
	const limit = 1 << 20
	data := make([]byte, 0, min(fi.Size()+1, limit+1))
	buf := bytes.NewBuffer(data)
	if _, err := buf.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, fmt.Errorf("read %s %s: %w", what, path, err)
	}
	if buf.Len() > limit {
		return nil, fmt.Errorf("%s %s is larger than 1 MiB: is it the right file?", what, path)
	}
	if len(bytes.TrimSpace(buf.Bytes())) == 0 {
		return nil, fmt.Errorf("%s %s is empty", what, path)
	}
	return buf.Bytes(), nil
}
