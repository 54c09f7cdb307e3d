package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/internal/humanize"
	"github.com/mcasload/mcasload/objstore"
	"github.com/mcasload/mcasload/remote"
	"github.com/mcasload/mcasload/warehouse"
)

// The commands that move a warehouse's Parquet dataset to object storage and back. They are
// named push and sync, not "publish": the warehouse already "publishes" its Parquet files from
// DuckDB after each commit (docs/warehouse.md), and push/sync say which way the bytes go.

const urlHelp = "URL is azblob://ACCOUNT/CONTAINER/PREFIX, https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX, " +
	"abfss://CONTAINER@ACCOUNT.dfs.core.windows.net/PREFIX or s3://BUCKET/PREFIX. Credentials come from the " +
	"environment only: Azure: AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_KEY, " +
	"else Entra ID (az login, managed or workload identity); S3: the AWS credential chain. docs/publish.md has the details."

// storageFlags are the options of a storage URL that are not part of it; none is a secret.
func storageFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "s3-endpoint", Usage: "S3-compatible endpoint `URL` (default: AWS, or AWS_ENDPOINT_URL_S3)"},
		&cli.StringFlag{Name: "s3-region", Usage: "S3 region (default: AWS_REGION or the AWS config)"},
		&cli.BoolFlag{Name: "s3-path-style", Usage: "address S3 buckets as ENDPOINT/BUCKET (most S3-compatible servers need it)"},
		&cli.IntFlag{Name: "transfers", Value: 4, Usage: "files uploaded or downloaded at once"},
	}
}

func (e *env) pushCommand() *cli.Command {
	return &cli.Command{
		Name:      "push",
		Usage:     "publish the warehouse's Parquet dataset to Azure Blob Storage or S3, exactly once",
		ArgsUsage: "URL",
		Description: "Uploads the files the remote dataset lacks (create-only: a remote file is never overwritten), " +
			"then writes the next manifest naming every file of this version, then deletes files that an " +
			"earlier manifest superseded more than --grace ago. Takes the writer lock, so no load or scan " +
			"changes the dataset meanwhile. Interrupted, rerun it: it continues. " + urlHelp,
		Flags: append([]cli.Flag{
			warehouseFlag(),
			&cli.DurationFlag{Name: "grace", Value: remote.DefaultGrace, Usage: "keep superseded remote files this long for readers still on an older manifest (0: delete at once)"},
			&cli.BoolFlag{Name: "adopt", Usage: "take over the dataset at URL although this warehouse has no record of publishing there (its " + remote.StateFile + " was lost)"},
			keepCompactionLocalFlag(),
		}, storageFlags()...),
		Action: e.runPush,
	}
}

func (e *env) syncCommand() *cli.Command {
	return &cli.Command{
		Name:      "sync",
		Usage:     "build or refresh a read-only local copy of a dataset published with push",
		ArgsUsage: "URL",
		Description: "Downloads the files of the newest manifest that the copy lacks, checks every sha256, and " +
			"replaces the copy's dataset in one step. query, sql, report and export then read the copy with " +
			"-w DIR (from its Parquet files; it has no DuckDB file). The folder must not be a warehouse that " +
			"loads data. " + urlHelp,
		Flags:  append([]cli.Flag{copyFlag()}, storageFlags()...),
		Action: e.runSync,
	}
}

// urlCommands take their URL before or after the flags (mcasload sync URL -w DIR); urfave/cli
// stops reading flags at the first argument, so flagsFirst moves the URL behind them.
var urlCommands = map[string]bool{"push": true, "sync": true}

// flagsFirst moves the arguments of a urlCommands command (and of a findings subcommand: its
// ID) that are not flags or flag values to the end of args (keeping their order), stopping at
// "--".
func flagsFirst(app *cli.App, args []string) []string {
	if len(args) >= 4 && args[1] == "findings" {
		if sub := app.Command("findings").Command(args[2]); sub != nil {
			return reorderFlags(append(sub.Flags, app.Flags...), args, 3)
		}
	}
	if len(args) < 3 || !urlCommands[args[1]] {
		return args
	}
	return reorderFlags(append(app.Command(args[1]).Flags, app.Flags...), args, 2)
}

// reorderFlags moves the flags among args[from:] (with the values of those of flags that take
// one) before the positional arguments.
func reorderFlags(known []cli.Flag, args []string, from int) []string {
	takesValue := map[string]bool{}
	for _, f := range known {
		if _, isBool := f.(*cli.BoolFlag); isBool {
			continue
		}
		for _, n := range f.Names() {
			takesValue[n] = true
		}
	}
	flags, positional := []string{}, []string{}
	dashes := false
	for i := from; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			positional = append(positional, args[i+1:]...)
			i, dashes = len(args), true
		case strings.HasPrefix(a, "-") && len(a) > 1:
			flags = append(flags, a)
			if name := strings.TrimLeft(a, "-"); !strings.Contains(name, "=") && takesValue[name] && i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		default:
			positional = append(positional, a)
		}
	}
	out := append(slices.Clone(args[:from]), flags...)
	if dashes {
		out = append(out, "--")
	}
	return append(out, positional...)
}

// copyFlag is sync's --warehouse: the folder of the copy, which readers open with -w.
func copyFlag() *cli.StringFlag {
	f := warehouseFlag()
	f.Usage = "`DIR` of the read-only copy (created when missing; query, sql, report and export read it with -w DIR)"
	return f
}

// openStore parses the command's URL argument and opens its store; it also gives the
// command's logger.
func (e *env) openStore(c *cli.Context) (objstore.Store, *slog.Logger, error) {
	if c.NArg() != 1 {
		return nil, nil, usageErrorf("give exactly one storage URL: %s", urlHelp)
	}
	log, err := e.logger(c)
	if err != nil {
		return nil, nil, err
	}
	st, err := e.openStoreURL(c, c.Args().First())
	return st, log, err
}

func (e *env) openStoreURL(c *cli.Context, raw string) (objstore.Store, error) {
	loc, err := objstore.ParseURL(raw)
	if err != nil {
		return nil, withCode(exitUsage, err, "see docs/publish.md for the URL forms; credentials come from the environment "+
			"(AZURE_STORAGE_SAS_TOKEN, AZURE_STORAGE_CONNECTION_STRING, AWS_*), an S3-compatible endpoint from --s3-endpoint")
	}
	st, err := objstore.Open(c.Context, loc, objstore.Options{
		S3Endpoint: c.String("s3-endpoint"), S3Region: c.String("s3-region"), S3PathStyle: c.Bool("s3-path-style"),
		Getenv: e.getenv,
	})
	if err != nil {
		return nil, remoteFailure(err, loc.Kind)
	}
	return st, nil
}

// authHints say, per service, which credentials push and sync take.
var authHints = map[objstore.Kind]string{
	objstore.KindAzure: "set AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_KEY, " +
		"or sign in (az login, managed or workload identity) with the Storage Blob Data Contributor role on the container (Reader to sync)",
	objstore.KindS3: "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or AWS_PROFILE, or use a role, " +
		"with s3:ListBucket and s3:GetObject (and s3:PutObject, s3:DeleteObject to push); check --s3-region and --s3-endpoint",
}

// remoteFailure gives a failure of push, sync or verify --remote on storage of kind its exit
// code and what to do.
func remoteFailure(err error, kind objstore.Kind) error {
	switch {
	case errors.Is(err, objstore.ErrAuth):
		return withCode(exitAuth, err, authHints[kind])
	case errors.Is(err, objstore.ErrNoBucket):
		return withCode(exitFailure, err, "create the container (az storage container create --name NAME --account-name ACCOUNT) or bucket first")
	case errors.Is(err, remote.ErrConflict):
		return withCode(exitFailure, err, "someone else wrote a file under this path, or the warehouse rewrote a file in place "+
			"(a schema upgrade does): push to a new prefix, or move the remote dataset away")
	case errors.Is(err, remote.ErrForeignDataset):
		return withCode(exitFailure, err, "one warehouse publishes to one prefix (docs/publish.md); give --adopt if this warehouse is the one that published it")
	case errors.Is(err, remote.ErrRemoteBehind):
		return withCode(exitFailure, err, "one warehouse publishes to one prefix (docs/publish.md)")
	case errors.Is(err, objstore.ErrNoRegion):
		return withCode(exitUsage, err, "set --s3-region or AWS_REGION (any value, such as us-east-1, for most S3-compatible servers)")
	case errors.Is(err, remote.ErrBadState):
		return withCode(exitFailure, err, "move the state file aside (the next push re-hashes the files) and give --adopt to continue the remote dataset")
	case errors.Is(err, remote.ErrDamagedRemote):
		return withCode(exitFailure, err, "check the remote dataset with mcasload verify --remote URL on the publishing warehouse")
	case errors.Is(err, remote.ErrConcurrentPublish):
		return withCode(exitFailure, err, "another warehouse publishes to the same prefix: give each its own")
	case errors.Is(err, remote.ErrNoManifest):
		return withCode(exitFailure, err, "nothing is published there yet: run mcasload push URL -w WAREHOUSE on the warehouse that loads the data")
	case errors.Is(err, remote.ErrNotACopy):
		return withCode(exitFailure, err, "sync into a folder of its own (-w NEWDIR); a warehouse that loads data publishes with mcasload push")
	case errors.Is(err, remote.ErrOtherSource):
		return withCode(exitFailure, err, "each copy follows one URL: sync into another folder")
	}
	return withStorageHint(err)
}

// refuseCopy stops a writer on a folder that sync made: its files come from elsewhere and
// would be changed or deleted by a writer's reconciliation.
func refuseCopy(dir string) error {
	if url, ok := remote.IsCopy(dir); ok {
		return withCode(exitFailure, fmt.Errorf("%s is a read-only copy of %s made by mcasload sync", dir, url),
			"load, scan, push and repair run on the warehouse that publishes it; refresh the copy with mcasload sync "+url+
				", check it with mcasload verify --remote "+url+", read it with query, sql, report or export")
	}
	return nil
}

// openPublisher opens the warehouse for push or verify --remote: the writer lock keeps its
// dataset still; Close must not compact (that would change what was just pushed).
func (e *env) openPublisher(c *cli.Context, command string) (*warehouse.Writer, error) {
	dir := c.String("warehouse")
	log, err := e.logger(c)
	if err != nil {
		return nil, err
	}
	st, err := warehouse.ReadStatus(c.Context, warehouse.ReaderOptions{Dir: dir, Logger: log})
	if err != nil {
		if errors.Is(err, warehouse.ErrNoWarehouse) {
			return nil, withCode(exitFailure, err, "pass --warehouse with the folder of a loaded warehouse")
		}
		return nil, withStorageHint(err)
	}
	if st.Sinks == warehouse.SinkDuckDB {
		return nil, withCode(exitFailure, fmt.Errorf("%s keeps rows only in DuckDB (--sink duckdb): it has no Parquet dataset to push", dir),
			"rebuild the Parquet sink first with mcasload repair --from duckdb")
	}
	return openWriter(c.Context, warehouse.Options{Dir: dir, Sinks: st.Sinks, Command: command, Logger: log, CompactOver: -1})
}

func (e *env) runPush(c *cli.Context) error {
	dir := c.String("warehouse")
	if err := refuseCopy(dir); err != nil {
		return err
	}
	st, log, err := e.openStore(c)
	if err != nil {
		return err
	}
	w, err := e.openPublisher(c, "mcasload push "+st.Location().String())
	if err != nil {
		return err
	}
	start := time.Now()
	res, perr := remote.Publish(c.Context, st, filepath.Join(dir, remote.DatasetDir), remote.FileLedger{Path: filepath.Join(dir, remote.StateFile)},
		remote.Options{Grace: graceOption(c.Duration("grace")), Parallel: c.Int("transfers"), Adopt: c.Bool("adopt"),
			KeepCompactionLocal: c.Bool("keep-compaction-local"), Portals: publishedPortals(w), Logger: log})
	if cerr := w.Close(context.WithoutCancel(c.Context)); perr == nil && cerr != nil {
		perr = cerr
	}
	if perr != nil {
		return remoteFailure(perr, st.Location().Kind)
	}
	e.printPush(st, res, c.Duration("grace"), time.Since(start))
	return nil
}

func (e *env) printPush(st objstore.Store, r remote.Result, grace, took time.Duration) {
	what := "written"
	if !r.Wrote {
		what = "unchanged, already"
	}
	fmt.Fprintf(e.stdout, "push: version %d %s at %s: %s files, %s, %s rows\n", r.Version, what, st.Location(),
		humanize.Count(int64(r.Files)), humanize.Bytes(r.Bytes), humanize.Count(r.Rows))
	fmt.Fprintf(e.stdout, "  uploaded %s files (%s), %s already there, in %s\n",
		humanize.Count(int64(r.Uploaded)), humanize.Bytes(r.UploadedBytes), humanize.Count(int64(r.Reused)), took.Round(time.Millisecond))
	if r.Deleted > 0 || r.Waiting > 0 {
		fmt.Fprintf(e.stdout, "  superseded objects: %d deleted, %d kept until their grace period of %s is over\n", r.Deleted, r.Waiting, grace)
	}
}

func (e *env) runSync(c *cli.Context) error {
	st, log, err := e.openStore(c)
	if err != nil {
		return err
	}
	dir := c.String("warehouse")
	start := time.Now()
	r, err := remote.Sync(c.Context, st, dir, remote.SyncOptions{Parallel: c.Int("transfers"), Logger: log})
	if err != nil {
		return remoteFailure(err, st.Location().Kind)
	}
	state := "now holds"
	if r.UpToDate {
		state = "already holds"
	}
	fmt.Fprintf(e.stdout, "sync: %s %s version %d of %s: %s files, %s, %s rows\n", dir, state, r.Version, st.Location(),
		humanize.Count(int64(r.Files)), humanize.Bytes(r.Bytes), humanize.Count(r.Rows))
	fmt.Fprintf(e.stdout, "  downloaded %s files (%s), kept %s, removed %s, in %s\n", humanize.Count(int64(r.Downloaded)),
		humanize.Bytes(r.DownloadedBytes), humanize.Count(int64(r.Kept)), humanize.Count(int64(r.Removed)), time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(e.stdout, "  read it: mcasload query NAME -w %s (also sql, report, export); refresh: mcasload sync %s -w %s\n", dir, st.Location(), dir)
	return nil
}

// runVerifyRemote is verify --remote URL: the warehouse's (or a copy's) dataset against the
// newest manifest and the stored files.
func (e *env) runVerifyRemote(c *cli.Context) error {
	st, err := e.openStoreURL(c, c.String("remote"))
	if err != nil {
		return err
	}
	dir := c.String("warehouse")
	_, isCopy := remote.IsCopy(dir)
	if !isCopy {
		w, err := e.openPublisher(c, "mcasload verify --remote "+st.Location().String())
		if err != nil {
			return err
		}
		defer w.Close(context.WithoutCancel(c.Context))
	}
	rep, err := remote.Verify(c.Context, st, filepath.Join(dir, remote.DatasetDir), remote.VerifyOptions{Deep: c.Bool("deep"), Copy: isCopy})
	if err != nil {
		return remoteFailure(err, st.Location().Kind)
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(e.stdout, "note: %s\n", n)
	}
	if rep.OK() {
		fmt.Fprintf(e.stdout, "verify --remote: ok: version %d at %s: %s files, %s, %s rows; local and remote agree (paths, sizes, sha256)\n",
			rep.Version, rep.URL, humanize.Count(int64(rep.Totals.Files)), humanize.Bytes(rep.Totals.Bytes), humanize.Count(rep.Totals.Rows))
		return nil
	}
	fmt.Fprintf(e.stdout, "verify --remote: %d problems against version %d at %s:\n  %s\n", len(rep.Problems), rep.Version, rep.URL, strings.Join(rep.Problems, "\n  "))
	return withCode(exitFailure, errors.New("verify --remote: local and remote differ"),
		"on the publishing warehouse, mcasload push uploads what is missing; on a copy, mcasload sync refreshes it")
}

// copyStatus prints what a synced copy holds; ok is false when dir is not a copy.
func (e *env) copyStatus(dir string) (ok bool, err error) {
	_, isCopy := remote.IsCopy(dir)
	if !isCopy {
		return false, nil
	}
	cs, err := remote.LoadCopyState(dir)
	if err != nil {
		return true, err
	}
	var files int
	var bytes, rows int64
	for _, h := range cs.Hashes {
		files++
		bytes += h.Size
		rows += h.Rows
	}
	fmt.Fprintf(e.stdout, "%s is a read-only copy of %s made by mcasload sync\n", dir, cs.URL)
	fmt.Fprintf(e.stdout, "version %d, synced %s: %s files, %s, %s rows\n", cs.Version, cs.Synced.Format(time.RFC3339),
		humanize.Count(int64(files)), humanize.Bytes(bytes), humanize.Count(rows))
	fmt.Fprintf(e.stdout, "refresh: mcasload sync %s -w %s; check: mcasload verify -w %s --remote %s\n", cs.URL, dir, dir, cs.URL)
	return true, nil
}
