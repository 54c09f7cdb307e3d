package delivery

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/testkit"
)

// testKey is the HMAC key the receiver and the sink share; secretPath is the webhook URL's
// secret part. Neither may appear in an error or a log line.
const (
	testKey    = "k3y-0f-the-r3ce1ver-not-to-be-shown"
	secretPath = "/hooks/SECRETPATH"
	secretSig  = "sig=SECRETSIG"
)

// receiver is an HTTPS webhook receiver that verifies each request's signature as
// docs/detect.md tells receivers to, records what it accepted, and answers as the test scripts.
type receiver struct {
	t   *testing.T
	now func() time.Time
	key []byte
	// answer picks the response to the n-th request (1-based); nil is 200.
	answer func(n int, w http.ResponseWriter, r *http.Request) bool

	mu       sync.Mutex
	requests int
	bodies   [][]byte
	headers  []http.Header
	badSigs  int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.requests++
	n := rc.requests
	rc.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != secretPath || r.URL.RawQuery != secretSig ||
		r.Header.Get("Content-Type") != "application/json" {
		rc.t.Errorf("request %s %s?%s (%s)", r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"))
	}
	if rc.key != nil && !rc.verify(r.Header, body) {
		rc.mu.Lock()
		rc.badSigs++
		rc.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if rc.answer != nil && rc.answer(n, w, r) {
		return
	}
	rc.mu.Lock()
	rc.bodies = append(rc.bodies, body)
	rc.headers = append(rc.headers, r.Header.Clone())
	rc.mu.Unlock()
	w.WriteHeader(http.StatusAccepted) // what a Teams Workflows trigger answers
}

// verify is the receiver's check, written from the documentation: HMAC-SHA256 under the key of
// "<timestamp>.<body>", hex, after "sha256="; compared in constant time; the timestamp within
// five minutes of the receiver's clock.
func (rc *receiver) verify(h http.Header, body []byte) bool {
	ts := h.Get("X-Mcasload-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || rc.now().Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, rc.key)
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(h.Get("X-Mcasload-Signature")), []byte(want))
}

func (rc *receiver) accepted() [][]byte {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([][]byte(nil), rc.bodies...)
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.requests
}

// webhookFixture starts a receiver and returns the sink spec prefix (URL with its secret path
// and query, and ca=) and a key file.
type webhookFixture struct {
	rc      *receiver
	url     string
	ca      string
	keyFile string
	clk     *sleepRecorder
	log     *bytes.Buffer
}

func newWebhookFixture(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request) bool) *webhookFixture {
	t.Helper()
	clk := newSleepRecorder()
	rc := &receiver{t: t, now: clk.Now, key: []byte(testKey), answer: answer}
	srv, ca := testkit.TLSServer(t, rc)
	return &webhookFixture{rc: rc, url: srv.URL + secretPath + "?" + secretSig, ca: ca,
		keyFile: writeFile(t, "hook.key", testKey+"\n", 0o600), clk: clk, log: &bytes.Buffer{}}
}

// sink builds a webhook sink to the fixture's receiver with extra options ("&format=teams").
func (fx *webhookFixture) sink(t *testing.T, extra string) Sink {
	t.Helper()
	return mustSink(t, fx.url+"#ca="+fx.ca+"&secret="+fx.keyFile+extra, fx.options())
}

func (fx *webhookFixture) options() Options {
	return Options{Clock: fx.clk, Jitter: halfJitter, Version: "test",
		Log: slog.New(slog.NewTextHandler(fx.log, nil))}
}

// noSecrets fails the test if a text shows the key, the URL's path or its query.
func noSecrets(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range []string{testKey, "SECRETPATH", "SECRETSIG"} {
		if strings.Contains(text, s) {
			t.Errorf("%s shows a secret (%s): %s", what, s, text)
		}
	}
}

// TestWebhookSigned delivers JSON findings to a receiver that verifies every signature.
func TestWebhookSigned(t *testing.T) {
	fx := newWebhookFixture(t, nil)
	fs := findingsN(3)
	fs[1].Notification, fs[1].Reason = 2, ReasonCameBack
	for i, err := range fx.sink(t, "").Deliver(t.Context(), fs) {
		if err != nil {
			t.Fatalf("finding %d: %v", i, err)
		}
	}
	got := fx.rc.accepted()
	if len(got) != 3 || fx.rc.badSigs != 0 {
		t.Fatalf("receiver accepted %d, refused %d signatures", len(got), fx.rc.badSigs)
	}
	for i, body := range got {
		want, _ := fs[i].MarshalJSON()
		if !bytes.Equal(body, want) {
			t.Errorf("body %d\n%s\nwant\n%s", i, body, want)
		}
		h := fx.rc.headers[i]
		n := strconv.Itoa(fs[i].Notification)
		if h.Get(HeaderFindingID) != fs[i].ID || h.Get(HeaderNotification) != n ||
			h.Get(HeaderIdempotencyKey) != fs[i].ID+"."+n || h.Get("User-Agent") != "mcasload/test" ||
			h.Get(HeaderTimestamp) != strconv.FormatInt(t0.Unix(), 10) {
			t.Errorf("headers of request %d: %v", i, h)
		}
	}

	// The same key, another receiver's: every signature fails and nothing is marked accepted.
	fx.rc.key = []byte("another-key-entirely-0123456789")
	errs := fx.sink(t, "").Deliver(t.Context(), findingsN(2))
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "the receiver refused the request (401 Unauthorized: bad signature): check the URL, and that the receiver holds the key in secret=") {
		t.Errorf("wrong key: %v", errs[0])
	}
	if errs[1] == nil || !strings.Contains(errs[1].Error(), "not sent: the receiver failed finding "+findingsN(1)[0].ID) {
		t.Errorf("after a refusal the next finding: %v", errs[1])
	}
	for _, err := range errs {
		noSecrets(t, "error", err.Error())
	}
}

// TestWebhookPayloads pins the Teams and Slack payloads (testdata/*.json, -update rewrites) and
// checks, through the receiver, the structure each service requires.
func TestWebhookPayloads(t *testing.T) {
	fx := newWebhookFixture(t, nil)
	f := sample()
	f.PreviousSeverity, f.Reason, f.Notification = Medium, ReasonSeverityRose, 2
	noLink := findingsN(1)[0]
	noLink.PortalURLs, noLink.PortalNote, noLink.Severity = nil, "the data was loaded from a file, whose portal is unknown", Low
	for _, format := range []string{"teams", "slack"} {
		t.Run(format, func(t *testing.T) {
			before := len(fx.rc.accepted())
			for i, err := range fx.sink(t, "&format="+format).Deliver(t.Context(), []Finding{f, noLink}) {
				if err != nil {
					t.Fatalf("finding %d: %v", i, err)
				}
			}
			got := fx.rc.accepted()[before:]
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, got[0], "", "  "); err != nil {
				t.Fatal(err)
			}
			testkit.Golden(t, "testdata/"+format+".json", append(pretty.Bytes(), '\n'))
			for i, body := range got {
				if format == "teams" {
					checkTeams(t, body, []Finding{f, noLink}[i])
				} else {
					checkSlack(t, body, []Finding{f, noLink}[i])
				}
			}
		})
	}
}

// checkTeams checks a body against what the Workflows trigger takes: a message with one
// Adaptive Card attachment, the card's elements of known types, under the 28 KB a card may
// take.
func checkTeams(t *testing.T, body []byte, f Finding) {
	t.Helper()
	if len(body) > 28<<10 {
		t.Errorf("card of %d bytes passes Teams' 28 KB", len(body))
	}
	var msg struct {
		Type        string `json:"type"`
		Attachments []struct {
			ContentType string          `json:"contentType"`
			ContentURL  json.RawMessage `json:"contentUrl"`
			Content     struct {
				Schema  string `json:"$schema"`
				Type    string `json:"type"`
				Version string `json:"version"`
				Body    []struct {
					Type  string `json:"type"`
					Text  string `json:"text"`
					Color string `json:"color"`
					Facts []fact `json:"facts"`
				} `json:"body"`
				Actions []cardAction `json:"actions"`
			} `json:"content"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Type != "message" || len(msg.Attachments) != 1 {
		t.Fatalf("envelope type %q with %d attachments, want message with 1", msg.Type, len(msg.Attachments))
	}
	a := msg.Attachments[0]
	c := a.Content
	if a.ContentType != "application/vnd.microsoft.card.adaptive" || string(a.ContentURL) != "null" ||
		c.Type != "AdaptiveCard" || c.Version != "1.4" || c.Schema != "http://adaptivecards.io/schemas/adaptive-card.json" {
		t.Errorf("attachment %s %s, card %s %s %s", a.ContentType, a.ContentURL, c.Type, c.Version, c.Schema)
	}
	facts := map[string]string{}
	for _, e := range c.Body {
		switch e.Type {
		case "TextBlock":
			if e.Text == "" {
				t.Error("empty TextBlock")
			}
		case "FactSet":
			for _, x := range e.Facts {
				facts[x.Title] = x.Value
			}
		default:
			t.Errorf("card element %q is not TextBlock or FactSet", e.Type)
		}
	}
	if facts["Finding"] != f.ID+" (notification "+strconv.Itoa(f.Notification)+")" || facts["User"] != f.Key.Entities.User {
		t.Errorf("facts %v do not name the finding and its user", facts)
	}
	if len(c.Actions) != len(f.PortalURLs) {
		t.Errorf("%d actions for %d portal links", len(c.Actions), len(f.PortalURLs))
	}
	for i, act := range c.Actions {
		if act.Type != "Action.OpenUrl" || act.URL != f.PortalURLs[i] || act.Title == "" {
			t.Errorf("action %d: %+v", i, act)
		}
	}
	if len(f.PortalURLs) == 0 && !strings.Contains(facts["Portal"], f.PortalNote) {
		t.Errorf("no portal link and no note why: %v", facts)
	}
}

// checkSlack checks a body against Block Kit's rules for incoming webhooks: a text fallback,
// blocks of known types within their limits, mrkdwn escaped.
func checkSlack(t *testing.T, body []byte, f Finding) {
	t.Helper()
	var msg struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type     string      `json:"type"`
			Text     *slackText  `json:"text"`
			Fields   []slackText `json:"fields"`
			Elements []struct {
				Type string          `json:"type"`
				Text json.RawMessage `json:"text"`
				URL  string          `json:"url"`
			} `json:"elements"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Text == "" || !strings.Contains(msg.Text, f.ID) || len(msg.Blocks) == 0 || len(msg.Blocks) > 50 {
		t.Fatalf("text %q, %d blocks", msg.Text, len(msg.Blocks))
	}
	var buttons []string
	for i, b := range msg.Blocks {
		switch b.Type {
		case "header":
			if b.Text == nil || b.Text.Type != "plain_text" || b.Text.Text == "" || len([]rune(b.Text.Text)) > 150 {
				t.Errorf("block %d header: %+v", i, b.Text)
			}
		case "section":
			if b.Text == nil && len(b.Fields) == 0 || b.Text != nil && (b.Text.Type != "mrkdwn" || len(b.Text.Text) > 3000) || len(b.Fields) > 10 {
				t.Errorf("block %d section: %+v", i, b)
			}
			for _, x := range b.Fields {
				if x.Type != "mrkdwn" || x.Text == "" || len(x.Text) > 2000 {
					t.Errorf("block %d field %+v", i, x)
				}
			}
		case "actions":
			for _, e := range b.Elements {
				if e.Type != "button" || !strings.HasPrefix(e.URL, "https://") {
					t.Errorf("block %d element %+v", i, e)
				}
				buttons = append(buttons, e.URL)
			}
		case "context":
			if len(b.Elements) == 0 {
				t.Errorf("block %d: empty context", i)
			}
		default:
			t.Errorf("block %d has type %q", i, b.Type)
		}
	}
	if !reflect.DeepEqual(buttons, f.PortalURLs) && !(len(buttons) == 0 && len(f.PortalURLs) == 0) {
		t.Errorf("buttons %v, want the portal links %v", buttons, f.PortalURLs)
	}
	if strings.Contains(string(body), "<b>") || f.Summary != "" && !strings.Contains(string(body), "&lt;b&gt;&amp;&lt;/b&gt;") {
		t.Errorf("mrkdwn not escaped: %s", body)
	}
}

// TestWebhookRetries: what is retried, how long the sink waits (on the virtual clock), what
// fails at once, and when the rest of a run is left for the next one.
func TestWebhookRetries(t *testing.T) {
	status := func(codes ...int) func(n int, w http.ResponseWriter, r *http.Request) bool {
		return func(n int, w http.ResponseWriter, r *http.Request) bool {
			if n > len(codes) || codes[n-1] == 0 {
				return false
			}
			http.Error(w, "scripted answer", codes[n-1])
			return true
		}
	}
	throttle := func(after string) func(n int, w http.ResponseWriter, r *http.Request) bool {
		return func(n int, w http.ResponseWriter, r *http.Request) bool {
			if n > 1 {
				return false
			}
			w.Header().Set("Retry-After", after)
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
	}
	cases := []struct {
		name     string
		answer   func(n int, w http.ResponseWriter, r *http.Request) bool
		findings int
		want     []string // per finding: "" accepted, else a part of the error
		sleeps   []time.Duration
		requests int
	}{
		{"500 twice, then accepted", status(500, 502), 1, []string{""}, []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond}, 3},
		{"429 with Retry-After seconds", throttle("7"), 1, []string{""}, []time.Duration{7 * time.Second}, 2},
		{"429 with Retry-After date", throttle(t0.Add(90 * time.Second).Format(http.TimeFormat)), 1, []string{""}, []time.Duration{90 * time.Second}, 2},
		{"429 asking longer than max-wait", throttle("600"), 2,
			[]string{"the receiver throttled the request (429 Too Many Requests) (attempt 1 of 4), and asks to wait 10m0s, longer than max-wait=2m0s; kept for the next run",
				"not sent: the receiver failed finding"}, nil, 1},
		{"503 every time", status(503, 503, 503, 503), 2,
			[]string{"the receiver failed (503 Service Unavailable: scripted answer) (attempt 4 of 4); kept for the next run", "not sent"},
			[]time.Duration{750 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second}, 4},
		{"404: the webhook is gone", status(404), 2,
			[]string{"the webhook is gone (404 Not Found: scripted answer): the workflow or webhook was deleted or turned off", "not sent"}, nil, 1},
		{"400 fails that finding only", status(400), 2,
			[]string{"the receiver refused the payload (400 Bad Request: scripted answer): check that format=json is what it expects", ""}, nil, 2},
		{"redirect is not followed", func(n int, w http.ResponseWriter, r *http.Request) bool {
			http.Redirect(w, r, "https://elsewhere.example/SECRETPATH", http.StatusFound)
			return true
		}, 1, []string{"the receiver redirected (302 to https://elsewhere.example/…): give the final URL in the sink"}, nil, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fx := newWebhookFixture(t, c.answer)
			errs := fx.sink(t, "").Deliver(t.Context(), findingsN(c.findings))
			for i, err := range errs {
				switch {
				case c.want[i] == "" && err != nil:
					t.Errorf("finding %d: %v", i, err)
				case c.want[i] != "" && (err == nil || !strings.Contains(err.Error(), c.want[i])):
					t.Errorf("finding %d: %v, want an error saying %q", i, err, c.want[i])
				}
				if err != nil {
					noSecrets(t, "error", err.Error())
				}
			}
			if got := fx.clk.Slept(); !reflect.DeepEqual(got, c.sleeps) && !(len(got) == 0 && len(c.sleeps) == 0) {
				t.Errorf("slept %v, want %v", got, c.sleeps)
			}
			if got := fx.rc.count(); got != c.requests {
				t.Errorf("%d requests, want %d", got, c.requests)
			}
			noSecrets(t, "the log", fx.log.String())
			// Retries of one delivery carry one idempotency key; every accepted body verified.
			keys := map[string]bool{}
			for _, h := range fx.rc.headers {
				keys[h.Get(HeaderIdempotencyKey)] = true
			}
			if fx.rc.badSigs != 0 || len(keys) != len(fx.rc.accepted()) {
				t.Errorf("%d bad signatures, %d keys for %d accepted", fx.rc.badSigs, len(keys), len(fx.rc.accepted()))
			}
		})
	}
}

// TestWebhookUnreachable: a receiver that hangs, one that refuses connections and one with an
// untrusted certificate accept nothing, and the message says what to do.
func TestWebhookUnreachable(t *testing.T) {
	t.Run("hangs", func(t *testing.T) {
		release := make(chan struct{})
		fx := newWebhookFixture(t, func(n int, w http.ResponseWriter, r *http.Request) bool {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return true
		})
		defer close(release)
		errs := fx.sink(t, "&timeout=100ms&attempts=2").Deliver(t.Context(), findingsN(2))
		if errs[0] == nil || !strings.Contains(errs[0].Error(), "no answer within timeout=100ms: the receiver hangs or is slow; check it, or raise timeout= (attempt 2 of 2)") {
			t.Errorf("hanging receiver: %v", errs[0])
		}
		if errs[1] == nil || !strings.Contains(errs[1].Error(), "not sent") {
			t.Errorf("after a hang the next finding: %v", errs[1])
		}
		if got := fx.clk.Slept(); !reflect.DeepEqual(got, []time.Duration{750 * time.Millisecond}) {
			t.Errorf("slept %v, want [750ms]", got)
		}
	})
	t.Run("stopped", func(t *testing.T) {
		fx := newWebhookFixture(t, nil)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		for i, err := range fx.sink(t, "").Deliver(ctx, findingsN(2)) {
			if err == nil || !strings.Contains(err.Error(), "not sent: stopped (context canceled); kept for the next run") {
				t.Errorf("finding %d after a cancel: %v", i, err)
			}
		}
		if fx.rc.count() != 0 {
			t.Errorf("%d requests after a cancel", fx.rc.count())
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		fx := newWebhookFixture(t, nil)
		sink := mustSink(t, "https://"+addr+secretPath+"?"+secretSig+"#secret="+fx.keyFile+"&attempts=2", fx.options())
		errs := sink.Deliver(t.Context(), findingsN(3))
		if errs[0] == nil || !strings.Contains(errs[0].Error(), "could not reach the receiver: dial tcp "+addr+": connect: connection refused (attempt 2 of 2); kept for the next run") {
			t.Errorf("refused: %v", errs[0])
		}
		for i, err := range errs {
			if err == nil {
				t.Errorf("finding %d accepted by nobody", i)
			} else {
				noSecrets(t, "error", err.Error())
			}
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		fx := newWebhookFixture(t, nil)
		sink := mustSink(t, fx.url+"#secret="+fx.keyFile, fx.options())
		err := sink.Deliver(t.Context(), findingsN(1))[0]
		if err == nil || !strings.Contains(err.Error(), "the receiver's TLS certificate is not trusted") ||
			!strings.Contains(err.Error(), "give ca=/PATH/ca.pem") || !strings.Contains(err.Error(), "attempt 1 of 4") {
			t.Errorf("untrusted: %v", err)
		}
		if fx.rc.count() != 0 {
			t.Errorf("%d requests reached the handler", fx.rc.count())
		}
	})
}

// TestWebhookSecretFile: the key file must exist, be private to its owner and hold a key long
// enough; errors name the file and never its content.
func TestWebhookSecretFile(t *testing.T) {
	fx := newWebhookFixture(t, nil)
	cases := map[string]struct {
		content string
		perm    uint32
		want    string
	}{
		"world readable": {testKey, 0o644, "is open to group or others (mode 0644): it holds a secret; run chmod 600"},
		"group readable": {testKey, 0o640, "(mode 0640)"},
		"empty":          {"\n", 0o600, "is empty"},
		"too short":      {"short-key", 0o600, "holds 9 bytes: an HMAC key needs 16 at least"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p := writeFile(t, "k", c.content, 0o600)
			if err := os.Chmod(p, os.FileMode(c.perm)); err != nil {
				t.Fatal(err)
			}
			_, err := NewSink(mustSpec(t, fx.url+"#secret="+p), Options{})
			var se *SpecError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("NewSink = %v, want a *SpecError naming %s and saying %q", err, p, c.want)
			}
			noSecrets(t, "error", err.Error())
		})
	}
	_, err := NewSink(mustSpec(t, fx.url+"#secret=/nonexistent/hook.key"), Options{})
	if err == nil || !strings.Contains(err.Error(), "secret file /nonexistent/hook.key does not exist: create it (mode 600)") {
		t.Errorf("missing secret file: %v", err)
	}
	_, err = NewSink(mustSpec(t, fx.url+"#ca="+fx.keyFile), Options{})
	if err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("a CA file without certificates: %v", err)
	}
}
