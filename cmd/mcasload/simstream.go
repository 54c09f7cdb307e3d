package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/simulator/synth"
	"github.com/mcasload/mcasload/simulator/xdrstream"
	"github.com/mcasload/mcasload/streaming"
)

// azuriteAccount and azuriteKey are the development account every Azurite serves (Azurite's
// README, "Default Storage Account"); the key is published, so it is no secret.
const (
	azuriteAccount = "devstoreaccount1"
	azuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// simStreamFlags are sim's flags for the second feed: the Defender XDR Streaming API's export.
func simStreamFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "stream-to", Usage: "also write the tenant as the Streaming API's CloudAppEvents export to the Blob service at `URL` (Azurite: http://127.0.0.1:10000/devstoreaccount1), " +
			"or as files that grow the same way into a folder DIR/<container> (a path or file:// URL: what mcasload stream --folder DIR reads); the secret comes from " +
			streaming.EnvConnectionString + ", " + streaming.EnvSAS + " or the files below, and for a local Azurite its public development key"},
		&cli.StringFlag{Name: "stream-container", Value: streaming.DefaultContainer, Usage: "container of the stream"},
		&cli.DurationFlag{Name: "stream-interval", Value: 10 * time.Second, Usage: "while serving, append the events received since the last write this often"},
		&cli.BoolFlag{Name: "stream-only", Usage: "write the stream up to now and exit, without serving the API"},
		&cli.StringFlag{Name: "stream-connection-string-file", Usage: "read the storage connection string from `FILE`"},
		&cli.StringFlag{Name: "stream-sas-file", Usage: "read the storage SAS token from `FILE`"},
		&cli.BoolFlag{Name: "stream-exact", Usage: "write the stream as the documented mapping exactly, without the differences real feeds show (docs/sources.md)"},
		&cli.IntFlag{Name: "stream-drop", Usage: "leave `N` events out of the stream (only in the activities API; listed in --truth)"},
		&cli.IntFlag{Name: "stream-reid", Usage: "give `N` events a ReportId unrelated to their _id (paired by fingerprint only; listed in --truth)"},
		&cli.IntFlag{Name: "stream-extra", Usage: "write `N` events to the stream only (listed in --truth)"},
	}
}

// simStream is the running stream writer of one sim.
type simStream struct {
	w        *xdrstream.Writer
	clk      clock.Clock
	truth    string // --truth file, "" for none
	tenant   *synth.Tenant
	log      *slog.Logger
	interval time.Duration
	target   string
	mu       sync.Mutex
}

// newSimStream checks the stream flags; nil when --stream-to is not given.
func (e *env) newSimStream(c *cli.Context, tn *synth.Tenant, clk clock.Clock, log *slog.Logger) (*simStream, error) {
	target := c.String("stream-to")
	if target == "" {
		if c.Bool("stream-only") {
			return nil, usageErrorf("--stream-only needs --stream-to URL")
		}
		return nil, nil
	}
	if c.Duration("stream-interval") < time.Second {
		return nil, usageErrorf("--stream-interval must be at least 1s: an append blob takes at most 50,000 appends")
	}
	d := xdrstream.Differences{Exact: c.Bool("stream-exact"), Drop: c.Int("stream-drop"), ReID: c.Int("stream-reid"), Extra: c.Int("stream-extra")}
	if d.Drop < 0 || d.ReID < 0 || d.Extra < 0 {
		return nil, usageErrorf("--stream-drop, --stream-reid and --stream-extra count events: 0 or more")
	}
	wcfg := xdrstream.Config{Tenant: tn, Differences: d}
	dir, isFolder, err := folderLocation("stream-to", target)
	switch {
	case err != nil:
		return nil, err
	case isFolder:
		wcfg.Folder = filepath.Join(dir, c.String("stream-container"))
		target = wcfg.Folder
	default:
		cfg, err := e.simStreamConfig(c, target)
		if err != nil {
			return nil, err
		}
		if wcfg.Container, err = streaming.ContainerClient(cfg); err != nil {
			return nil, usageErrorf("--stream-to: %v", err)
		}
		target = strings.TrimSuffix(target, "/") + "/" + cfg.Container
	}
	w, err := xdrstream.New(wcfg)
	if err != nil {
		return nil, err
	}
	return &simStream{w: w, clk: clk, truth: c.String("truth"), tenant: tn, log: log, interval: c.Duration("stream-interval"), target: target}, nil
}

// folderLocation tells a folder (a path or a file:// URL, returned absolute) from a Blob service
// URL (http or https) in flag's value; any other scheme, or a host:port without one, is refused.
func folderLocation(flag, v string) (string, bool, error) {
	if !streaming.IsFolderLocation(v) {
		return "", false, nil
	}
	scheme, _, hasScheme := strings.Cut(v, "://")
	first, _, _ := strings.Cut(filepath.ToSlash(v), "/")
	switch {
	case hasScheme && !strings.EqualFold(scheme, "file"):
		return "", false, usageErrorf("--%s %q: want an http(s) URL of a Blob service, or a folder (a path or a file:// URL)", flag, v)
	case !hasScheme && strings.Contains(first, ":") && filepath.VolumeName(v) == "":
		return "", false, usageErrorf("--%s %q: a URL needs its scheme (http://%s); a folder must not start with HOST:PORT", flag, v, v)
	}
	dir, err := streaming.FolderPath(v)
	if err != nil {
		return "", false, usageErrorf("--%s: %v", flag, err)
	}
	return dir, true, nil
}

// simStreamConfig finds the storage secret; a local Azurite needs none.
func (e *env) simStreamConfig(c *cli.Context, target string) (streaming.Config, error) {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return streaming.Config{}, usageErrorf("--stream-to %q: want the Blob service URL, e.g. http://127.0.0.1:10000/devstoreaccount1", target)
	}
	if u.RawQuery != "" {
		return streaming.Config{}, usageErrorf("--stream-to carries a query: keep a SAS token off the command line, put it in %s or --stream-sas-file", streaming.EnvSAS)
	}
	cfg := streaming.Config{AccountURL: target, Container: c.String("stream-container")}
	cred, found, err := streaming.LoadSecret(streaming.SecretSources{ConnectionStringFile: c.String("stream-connection-string-file"),
		SASFile: c.String("stream-sas-file"), Getenv: e.getenv})
	switch {
	case err != nil:
		return cfg, withCode(exitAuth, err, "")
	case found:
		cfg.Credential = cred
	case isAzurite(u):
		cfg.Credential.ConnectionString = azuriteConnectionString(target)
	default:
		return cfg, usageErrorf("--stream-to %s: no storage secret: set %s or %s, or pass --stream-connection-string-file or --stream-sas-file",
			target, streaming.EnvConnectionString, streaming.EnvSAS)
	}
	return cfg, nil
}

func isLoopbackHost(h string) bool { return checkLoopback(h+":0", false) == nil }

// write appends what was received by now and rewrites the truth file.
func (s *simStream) write(ctx context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.w.WriteThrough(ctx, s.clk.Now())
	if s.truth != "" {
		if terr := writeTruth(s.truth, s.tenant, s); terr != nil && err == nil {
			err = terr
		}
	}
	return n, err
}

// run appends every interval until ctx ends; a failed write is logged and tried again.
func (s *simStream) run(ctx context.Context) {
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if n, err := s.write(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("stream write failed; trying again at the next interval", "error", err)
		} else if n > 0 {
			s.log.Debug("stream appended", "lines", n)
		}
	}
}

// writeTruth writes the ground truth, with the stream's part when the sim streams.
func writeTruth(path string, tn *synth.Tenant, s *simStream) error {
	doc := struct {
		synth.GroundTruth
		Stream *xdrstream.Truth `json:"stream,omitempty"`
	}{GroundTruth: tn.GroundTruth()}
	if s != nil {
		t := s.w.Truth()
		doc.Stream = &t
	}
	return writeSimFile(path, func(f *os.File) error { return writeIndentedJSON(f, doc) })
}

func writeIndentedJSON(f *os.File, v any) error {
	enc := json.NewEncoder(f)
	enc.SetIndent("", " ")
	return enc.Encode(v)
}
