package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/internal/humanize"
	"github.com/mcasload/mcasload/loader"
	"github.com/mcasload/mcasload/objstore"
	"github.com/mcasload/mcasload/remote"
	"github.com/mcasload/mcasload/warehouse"
)

// --publish URL on the commands that write the warehouse (load, scan): the same publish as
// `mcasload push`, run by the warehouse writer whenever its Parquet dataset changed and is
// whole (warehouse.Options.DatasetChanged): at open (finishing what a killed run committed),
// after each commit, and after the compaction at the end of the run.

// keepCompactionLocalFlag is the setting under which a compaction's merged file is not
// published while the remote side holds its rows as the smaller files it replaced.
func keepCompactionLocalFlag() cli.Flag {
	return &cli.BoolFlag{Name: "keep-compaction-local", Usage: "publish a compaction's merged file only when the remote side lacks some of its rows; " +
		"the remote keeps the small files, so engines that list the prefix never see a day twice (docs/publish.md)"}
}

// publishFlags are the flags of --publish on load and scan.
func publishFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "publish", Usage: "after each commit, publish the new Parquet files to `URL` (what mcasload push URL does; " +
			"azblob://, https://, abfss:// or s3://; credentials from the environment only, docs/publish.md)"},
		&cli.DurationFlag{Name: "publish-grace", Value: remote.DefaultGrace, Usage: "with --publish: keep superseded remote files this long for readers still on an older manifest (0: delete at once)"},
		keepCompactionLocalFlag(),
	}, storageFlags()...)
}

// autoPublisher publishes a warehouse's dataset each time the writer says it changed.
type autoPublisher struct {
	st   objstore.Store
	dir  string
	opts remote.Options
	// Publishes counts the publishes of the run; Last is the newest one's result; Uploaded and
	// UploadedBytes sum the run's uploads.
	publishes     int
	last          remote.Result
	uploaded      int
	uploadedBytes int64
}

// publishOption opens the store of --publish (nil when not given) and makes opts's writer
// publish to it.
func (e *env) publishOption(c *cli.Context, opts *warehouse.Options, log *slog.Logger) (*autoPublisher, error) {
	raw := c.String("publish")
	if raw == "" {
		return nil, nil
	}
	if opts.Sinks == warehouse.SinkDuckDB {
		return nil, usageErrorf("--publish publishes the Parquet dataset, which --sink duckdb does not keep: use --sink both or parquet")
	}
	st, err := e.openStoreURL(c, raw)
	if err != nil {
		return nil, err
	}
	p := &autoPublisher{st: st, dir: opts.Dir, opts: remote.Options{
		Grace: graceOption(c.Duration("publish-grace")), Parallel: c.Int("transfers"),
		KeepCompactionLocal: c.Bool("keep-compaction-local"), Logger: log,
	}}
	opts.DatasetChanged = p.publish
	return p, nil
}

// graceOption maps a --grace flag (0: delete at once) to remote.Options.Grace (negative: at once).
func graceOption(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

func (p *autoPublisher) publish(ctx context.Context, w *warehouse.Writer) error {
	opts := p.opts
	opts.Portals = publishedPortals(w)
	res, err := remote.Publish(ctx, p.st, filepath.Join(p.dir, remote.DatasetDir), remote.FileLedger{Path: filepath.Join(p.dir, remote.StateFile)}, opts)
	p.publishes++
	p.uploaded += res.Uploaded
	p.uploadedBytes += res.UploadedBytes
	if err != nil {
		return &publishFailure{err: err, kind: p.st.Location().Kind, url: p.st.Location().String(), dir: p.dir}
	}
	p.last = res
	return nil
}

// publishedPortals are the URLs each tenant of w was scanned from, published with the dataset
// so that a synced copy's investigations link to the same portals as the warehouse's.
func publishedPortals(w *warehouse.Writer) map[string][]string {
	return scannedURLs(w.StateKeys(loader.WatermarkPrefix))
}

// report prints the run's publishing under its summary.
func (p *autoPublisher) report(e *env) {
	if p == nil || p.publishes == 0 || p.last.Version == 0 {
		return
	}
	r := p.last
	fmt.Fprintf(e.stdout, "  published: version %d at %s: %s files, %s, %s rows; this run uploaded %s files (%s) in %d publishes\n",
		r.Version, p.st.Location(), humanize.Count(int64(r.Files)), humanize.Bytes(r.Bytes), humanize.Count(r.Rows),
		humanize.Count(int64(p.uploaded)), humanize.Bytes(p.uploadedBytes), p.publishes)
}

// publishFailure is a failed publish inside a writing command: what was committed is durable
// in the warehouse, only the upload is owed.
type publishFailure struct {
	err      error
	kind     objstore.Kind
	url, dir string
}

func (f *publishFailure) Error() string { return f.err.Error() }
func (f *publishFailure) Unwrap() error { return f.err }

// publishFailed gives a run whose publish failed (err holds a *publishFailure) its exit code
// and hints: the storage's, then how to finish publishing.
func publishFailed(err error) (error, bool) {
	var pf *publishFailure
	if !errors.As(err, &pf) {
		return err, false
	}
	owed := fmt.Sprintf("what was committed is kept in the warehouse; rerun the same command, or mcasload push %s -w %s, to publish it", pf.url, pf.dir)
	mapped := remoteFailure(err, pf.kind)
	var ee *exitError
	if errors.As(mapped, &ee) {
		return &exitError{code: ee.code, err: err, hint: joinHints(ee.hint, owed)}, true
	}
	return withCode(exitFailure, err, owed), true
}
