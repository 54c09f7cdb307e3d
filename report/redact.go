package report

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"regexp"
	"strings"
)

// Redactor replaces user names and IP addresses with stable pseudonyms: a keyed hash of the
// value, so the same user or IP gets the same pseudonym everywhere in one report (and across
// reports made with the same key) while the value cannot be recovered without the key.
type Redactor struct {
	key []byte
	// known maps the lowercased user names and IPs of the warehouse to their kind, to catch
	// values the patterns miss (a user name that is not an e-mail address).
	known map[string]string
}

// NewRedactor returns a redactor keyed with key, or with a random key when key is empty.
func NewRedactor(key []byte) *Redactor {
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			panic("report: no randomness for the redaction key: " + err.Error())
		}
	}
	return &Redactor{key: key, known: map[string]string{}}
}

// AddUser and AddIP register a value to replace wherever it appears as a whole cell or list
// element.
func (r *Redactor) AddUser(s string) { r.add("user", s) }

// AddIP registers an IP address; see AddUser.
func (r *Redactor) AddIP(s string) { r.add("ip", s) }

func (r *Redactor) add(kind, s string) {
	if s = strings.TrimSpace(s); s != "" {
		r.known[strings.ToLower(s)] = kind
	}
}

// Pseudonym is the stable replacement of value of kind ("user" or "ip").
func (r *Redactor) Pseudonym(kind, value string) string {
	m := hmac.New(sha256.New, r.key)
	m.Write([]byte(kind + "\x00" + strings.ToLower(strings.TrimSpace(value))))
	return kind + "-" + hex.EncodeToString(m.Sum(nil)[:4])
}

var (
	emailRE = regexp.MustCompile(`[A-Za-z0-9._%+'\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`)
	ipv4RE  = regexp.MustCompile(`\b\d{1,3}(?:\.\d{1,3}){3}\b`)
	// Candidates only; netip decides, so times such as 10:20:30 stay.
	ipv6RE = regexp.MustCompile(`[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:%[0-9A-Za-z]+)?`)
)

// Text redacts s: a whole value registered with AddUser or AddIP, and every e-mail address
// and IP address inside it.
func (r *Redactor) Text(s string) string {
	if r == nil || s == "" {
		return s
	}
	if kind, ok := r.known[strings.ToLower(strings.TrimSpace(s))]; ok {
		return r.Pseudonym(kind, s)
	}
	s = emailRE.ReplaceAllStringFunc(s, func(m string) string { return r.Pseudonym("user", m) })
	s = ipv4RE.ReplaceAllStringFunc(s, func(m string) string {
		if _, err := netip.ParseAddr(m); err != nil {
			return m
		}
		return r.Pseudonym("ip", m)
	})
	s = ipv6RE.ReplaceAllStringFunc(s, func(m string) string {
		if a, err := netip.ParseAddr(m); err != nil || !a.Is6() {
			return m
		}
		return r.Pseudonym("ip", m)
	})
	return s
}
