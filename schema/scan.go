package schema

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// maxDepth bounds nesting so a hostile record cannot exhaust the stack; encoding/json uses the
// same limit.
const maxDepth = 10000

// syntaxError is a JSON syntax error at a byte offset of the record.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%s at byte %d", e.msg, e.off) }

// errTooDeep is returned when nesting exceeds maxDepth.
var errTooDeep = errors.New("nesting too deep")

// scanner walks one JSON text once, validating its syntax, and hands out byte spans of the values
// the converter needs. It never builds a tree: values nobody asked for are skipped in place.
// UTF-8 validity is checked separately (utf8.Valid over the whole record is faster).
type scanner struct {
	b     []byte
	i     int
	depth int
}

func (s *scanner) reset(b []byte) { s.b, s.i, s.depth = b, 0, 0 }

func (s *scanner) fail(msg string) error { return &syntaxError{off: s.i, msg: msg} }

// ws skips JSON whitespace.
func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\n', '\t', '\r':
			s.i++
		default:
			return
		}
	}
}

// atEnd skips whitespace and reports whether the input is exhausted.
func (s *scanner) atEnd() bool {
	s.ws()
	return s.i >= len(s.b)
}

// peek returns the next non-space byte, or 0 at the end of input.
func (s *scanner) peek() byte {
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

// strSafe marks bytes that can be skipped inside a string without a closer look.
var strSafe = func() (t [256]bool) {
	for i := range t {
		t[i] = i >= 0x20 && i != '"' && i != '\\'
	}
	return t
}()

// str scans a string starting at its opening quote and returns the span of its content and
// whether it holds escapes (then the content must go through unescape).
func (s *scanner) str() (start, end int, esc bool, err error) {
	s.i++
	start = s.i
	b := s.b
	for {
		// Eight bytes at a time while none of them needs a look, then byte by byte.
		for s.i+8 <= len(b) && !needsLook(binary.LittleEndian.Uint64(b[s.i:])) {
			s.i += 8
		}
		for s.i < len(b) && strSafe[b[s.i]] {
			s.i++
		}
		if s.i >= len(b) {
			return 0, 0, false, s.fail("unterminated string")
		}
		switch c := b[s.i]; {
		case c == '"':
			end = s.i
			s.i++
			return start, end, esc, nil
		case c == '\\':
			esc = true
			if s.i+1 >= len(b) {
				return 0, 0, false, s.fail("unterminated escape")
			}
			switch b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(b) || !isHex4(b[s.i+2:s.i+6]) {
					return 0, 0, false, s.fail("bad \\u escape")
				}
				s.i += 6
			default:
				return 0, 0, false, s.fail("bad escape")
			}
		default:
			return 0, 0, false, s.fail("control character in string")
		}
	}
}

// needsLook reports whether any byte of w is '"', '\\' or a control character (SWAR: see
// "Bit Twiddling Hacks", determine if a word has a byte less than n / equal to n).
func needsLook(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	lt20 := (w - ones*0x20) & ^w & highs
	q := w ^ (ones * '"')
	quote := (q - ones) & ^q & highs
	bs := w ^ (ones * '\\')
	backslash := (bs - ones) & ^bs & highs
	return lt20|quote|backslash != 0
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case c <= '9':
			r |= rune(c - '0')
		case c >= 'a':
			r |= rune(c - 'a' + 10)
		default:
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

// unescape decodes the content of a string already validated by str. Lone surrogates become
// U+FFFD, as in encoding/json.
func unescape(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		c := b[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		switch b[i+1] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(b[i+2 : i+6])
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(b) && b[i] == '\\' && b[i+1] == 'u' {
					if r2 := utf16.DecodeRune(r, hex4(b[i+2:i+6])); r2 != utf8.RuneError {
						out = utf8.AppendRune(out, r2)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
			continue
		default: // '"', '\\', '/'
			out = append(out, b[i+1])
		}
		i += 2
	}
	return out
}

// num scans a number per the JSON grammar and returns its span and whether it is a plain integer
// (no fraction, no exponent).
func (s *scanner) num() (start, end int, integer bool, err error) {
	start = s.i
	end, integer, ok := numberEnd(s.b, s.i)
	if !ok {
		return 0, 0, false, s.fail("bad number")
	}
	s.i = end
	return start, end, integer, nil
}

// numberEnd returns where the JSON number starting at b[i] ends; ok is false when the text is not
// a number (it may continue with anything that is not part of a number).
func numberEnd(b []byte, i int) (end int, integer, ok bool) {
	integer = true
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return 0, false, false
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		return 0, false, false
	}
	if i < len(b) && b[i] == '.' {
		integer = false
		i++
		d := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == d {
			return 0, false, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		integer = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == d {
			return 0, false, false
		}
	}
	return i, integer, true
}

// isNumber reports whether b is exactly one JSON number.
func isNumber(b []byte) (integer, ok bool) {
	end, integer, ok := numberEnd(b, 0)
	return integer, ok && end == len(b)
}

func (s *scanner) lit(word string) error {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return s.fail("bad literal")
	}
	s.i += len(word)
	return nil
}

// skip validates and skips one value.
func (s *scanner) skip() error {
	switch s.peek() {
	case '"':
		_, _, _, err := s.str()
		return err
	case '{':
		if err := s.objStart(); err != nil {
			return err
		}
		for first := true; ; first = false {
			_, more, err := s.objNext(first)
			if err != nil || !more {
				return err
			}
			if err := s.skip(); err != nil {
				return err
			}
		}
	case '[':
		if err := s.arrStart(); err != nil {
			return err
		}
		for first := true; ; first = false {
			more, err := s.arrNext(first)
			if err != nil || !more {
				return err
			}
			if err := s.skip(); err != nil {
				return err
			}
		}
	case 't':
		return s.lit("true")
	case 'f':
		return s.lit("false")
	case 'n':
		return s.lit("null")
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		_, _, _, err := s.num()
		return err
	case 0:
		return s.fail("unexpected end of input")
	default:
		return s.fail("unexpected character")
	}
}

// objStart consumes '{' (the caller has checked it is there).
func (s *scanner) objStart() error {
	s.i++
	s.depth++
	if s.depth > maxDepth {
		return errTooDeep
	}
	return nil
}

// objNext moves to the next member of an object: it returns its key (a sub-slice of the input,
// or a fresh decoded copy when the key has escapes) with the scanner at the value, or more=false
// after consuming '}'.
func (s *scanner) objNext(first bool) (key []byte, more bool, err error) {
	c := s.peek()
	if c == '}' {
		s.i++
		s.depth--
		return nil, false, nil
	}
	if !first {
		if c != ',' {
			return nil, false, s.fail("expected , or } in object")
		}
		s.i++
		c = s.peek()
	}
	if c != '"' {
		return nil, false, s.fail("expected string key")
	}
	st, en, esc, err := s.str()
	if err != nil {
		return nil, false, err
	}
	key = s.b[st:en]
	if esc {
		key = unescape(key)
	}
	if s.peek() != ':' {
		return nil, false, s.fail("expected : after key")
	}
	s.i++
	s.ws()
	return key, true, nil
}

// members walks the object at the scanner (its '{' checked by the caller) and calls member with
// each key, the scanner at its value; member must consume the value.
func (s *scanner) members(member func(key []byte) error) error {
	if err := s.objStart(); err != nil {
		return err
	}
	for first := true; ; first = false {
		key, more, err := s.objNext(first)
		if err != nil || !more {
			return err
		}
		if err := member(key); err != nil {
			return err
		}
	}
}

// arrStart consumes '['.
func (s *scanner) arrStart() error {
	s.i++
	s.depth++
	if s.depth > maxDepth {
		return errTooDeep
	}
	return nil
}

// arrNext moves to the next element of an array, or returns more=false after consuming ']'.
func (s *scanner) arrNext(first bool) (more bool, err error) {
	c := s.peek()
	if c == ']' {
		s.i++
		s.depth--
		return false, nil
	}
	if !first {
		if c != ',' {
			return false, s.fail("expected , or ] in array")
		}
		s.i++
		s.ws()
	}
	return true, nil
}

// kind says what a typed field held in a record.
type kind uint8

const (
	absent kind = iota // key not present
	null               // present and JSON null
	valid              // present with a usable value
	wrong              // present with the wrong type: stored as NULL and counted
)

// strVal reads a value expected to be a string. Other types are skipped and reported wrong.
func (s *scanner) strVal() ([]byte, kind, error) {
	switch s.peek() {
	case '"':
		st, en, esc, err := s.str()
		if err != nil {
			return nil, wrong, err
		}
		if esc {
			return unescape(s.b[st:en]), valid, nil
		}
		return s.b[st:en], valid, nil
	case 'n':
		return nil, null, s.lit("null")
	default:
		return nil, wrong, s.skip()
	}
}

// boolVal reads a value expected to be a boolean.
func (s *scanner) boolVal() (bool, kind, error) {
	switch s.peek() {
	case 't':
		return true, valid, s.lit("true")
	case 'f':
		return false, valid, s.lit("false")
	case 'n':
		return false, null, s.lit("null")
	default:
		return false, wrong, s.skip()
	}
}

// numText reads a value that may be a number or a string holding exactly a JSON number, and
// returns the number's text.
func (s *scanner) numText() (txt []byte, integer bool, k kind, err error) {
	switch c := s.peek(); {
	case c == '-' || '0' <= c && c <= '9':
		st, en, integer, err := s.num()
		return s.b[st:en], integer, valid, err
	case c == '"':
		txt, _, err := s.strVal()
		if err != nil {
			return nil, false, wrong, err
		}
		integer, ok := isNumber(txt)
		if !ok {
			return nil, false, wrong, nil
		}
		return txt, integer, valid, nil
	case c == 'n':
		return nil, false, null, s.lit("null")
	default:
		return nil, false, wrong, s.skip()
	}
}

// bstr views b as a string without copying; only for parsing calls that do not keep it.
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// integral returns the int64 value of a number text when it is an integer or a float with an
// integral value inside [lo, hi].
func integral(txt []byte, integer bool, lo, hi int64) (int64, bool) {
	if integer {
		v, err := strconv.ParseInt(bstr(txt), 10, 64)
		if err != nil || v < lo || v > hi {
			return 0, false
		}
		return v, true
	}
	f, err := strconv.ParseFloat(bstr(txt), 64)
	if err != nil || f < float64(lo) || f > float64(hi) || f != math.Trunc(f) {
		return 0, false
	}
	return int64(f), true
}

// Validate reports whether raw is exactly one valid JSON value, read by the converter's own
// scanner without extracting anything. It is what converting a record costs before any Arrow
// column is built, which the benchmarks measure apart ("distance to the limit").
func Validate(raw []byte) error {
	var s scanner
	s.reset(raw)
	if err := s.skip(); err != nil {
		return err
	}
	if !s.atEnd() {
		return s.fail("trailing text")
	}
	return nil
}
