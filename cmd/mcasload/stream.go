package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/internal/progress"
	"github.com/mcasload/mcasload/internal/timearg"
	"github.com/mcasload/mcasload/loader"
	"github.com/mcasload/mcasload/mcas"
	"github.com/mcasload/mcasload/streaming"
)

// streamEntraFlags are the sign-in flags of connectionFlags that also apply to Azure Storage
// (the legacy API token and the API URL do not).
var streamEntraFlags = []string{"auth", "tenant-id", "client-id", "client-secret-file", "client-certificate",
	"client-certificate-password-file", "managed-identity-client-id", "federated-token-file", "auth-chain", "cloud", "authority-url"}

func (e *env) streamCommand() *cli.Command {
	flags := append(writerFlags(),
		&cli.StringFlag{Name: "account-url", Usage: "the storage account's Blob service `URL` the Streaming API exports to, e.g. https://ACCOUNT.blob.core.windows.net " +
			"(a local Azurite: http://127.0.0.1:10000/devstoreaccount1); may be left out with a connection string"},
		&cli.StringFlag{Name: "folder", Usage: "read a local copy of the export instead of a storage account: `DIR` holds the container's folder, as " +
			"azcopy copy ACCOUNT-URL/CONTAINER DIR --recursive leaves it (a path or a file:// URL; no credential needed)"},
		&cli.StringFlag{Name: "container", Value: streaming.DefaultContainer, Usage: "the container of the CloudAppEvents export (with --folder: the folder's name inside DIR)"},
		&cli.StringFlag{Name: "connection-string-file", Usage: "read the storage connection string from `FILE` (default: " + streaming.EnvConnectionString + ", else " + streaming.EnvAzureConnectionString + ")"},
		&cli.StringFlag{Name: "sas-file", Usage: "read a SAS token (read and list permissions) from `FILE` (default: " + streaming.EnvSAS + ")"},
		&cli.StringFlag{Name: "since", Usage: "backfill: blobs whose path names an hour from `TIME` on (RFC 3339, a date, or a duration ago such as 30d)"},
		&cli.StringFlag{Name: "until", Usage: "backfill: blobs whose path names an hour before `TIME`"},
		&cli.DurationFlag{Name: "overlap", Value: streaming.DefaultOverlap, Usage: "an incremental run lists again the hours this long before the newest one loaded (late events are appended to old hours' blobs)"},
		&cli.StringSliceFlag{Name: "reread", Usage: "read `BLOB` again from its start, whatever its cursor says (after a blob was reported replaced or truncated and you checked why); repeat for several"},
	)
	for _, f := range connectionFlags() {
		if slices.Contains(streamEntraFlags, f.Names()[0]) {
			flags = append(flags, f)
		}
	}
	return &cli.Command{
		Name:  "stream",
		Usage: "load the Defender XDR Streaming API's CloudAppEvents export from Azure Storage into the cloud_app_events table",
		Description: "Reads the append blobs the Streaming API writes to the storage account's container (one JSON line per " +
			"event), from each blob's committed cursor to its last complete line, and stores the rows in cloud_app_events " +
			"(key: report_id with ts, per tenant), each commit with the cursors of its lines: a run killed at any instant " +
			"and rerun loads every line once. Without --since/--until only the hours from the newest one loaded minus " +
			"--overlap are listed. A blob that was deleted and created again, truncated or rewritten is not read; the run " +
			"names it and fails (the other blobs load). Credentials: a connection string or SAS token from the " +
			"environment or a file, else Microsoft Entra ID sign-in (--auth, default auto: managed identity, workload " +
			"identity, Azure CLI …) with the Storage Blob Data Reader role; never on the command line. docs/streaming.md " +
			"has the portal setup. --folder DIR reads a local copy instead (azcopy's, or mcasload sim --stream-to DIR's), with the same " +
			"cursors and checks.\n\n" +
			"Exit codes: 0 done, 1 failed (or some blobs were refused), 3 done but some lines were rejected, 4 another " +
			"writer holds the warehouse, 5 the storage refused the credential, 6 stopped by a signal after committing " +
			"what was read.",
		Flags:  flags,
		Action: e.runStream,
	}
}

func (e *env) runStream(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErrorf("stream takes no arguments; the storage account is --account-url")
	}
	opts, err := e.streamOptions(c)
	if err != nil {
		return err
	}
	store, err := e.openStreamStore(c)
	if err != nil {
		return err
	}
	log, err := e.logger(c)
	if err != nil {
		return err
	}
	wopts, popts, err := e.writerSetup(c, "", "mcasload stream "+store.Endpoint()+"/"+store.Container())
	if err != nil {
		return err
	}
	// The memory budget sizes the stream's commits as it does a load's.
	opts.BatchBytes = popts.BatchBytes
	// No source check: a tenant's API scan and its stream are two sources of the same tenant.
	wopts.Logger, wopts.TenantFromWarehouse = log, true
	w, err := openWriter(c.Context, wopts)
	if err != nil {
		return err
	}
	opts.Logger, opts.Tenant = log, w.Tenant()
	var mu sync.Mutex
	var last loader.Summary
	opts.Progress = func(s loader.Summary) { mu.Lock(); last = s; mu.Unlock() }
	var prog *progress.Display
	if c.Bool("progress") {
		prog = e.progress("stream", func() progress.Snapshot {
			mu.Lock()
			defer mu.Unlock()
			return progress.Snapshot{Records: last.Records, Bytes: last.Bytes, New: last.New, Duplicates: last.Duplicates, Rejected: last.Rejected}
		})
		prog.Start(c.Context)
	}
	sum, runErr := loader.LoadStream(c.Context, w, store, opts)
	endProgress(prog, sum)
	return e.finishRun(c, w, sum, runErr, streamRun)
}

// streamRun is how a stream run ends: a blob that no longer continues its cursor fails the run
// with what to do; the storage refusing the credential is exit 5.
var streamRun = runKind{name: "stream", got: "read", resume: "rerun the same command: every blob continues from its committed cursor",
	failure: streamFailure}

func streamFailure(err error) error {
	var se *loader.StreamError
	var re *azcore.ResponseError
	switch {
	case errors.As(err, &se):
		return withCode(exitFailure, err, "the export only ever appends to its blobs: find out who changed them; to load one again from its start, "+
			"rerun with --reread BLOB (rows already stored stay single: the key is report_id with ts)")
	case errors.As(err, &re) && (re.StatusCode == 401 || re.StatusCode == 403):
		return withCode(exitAuth, err, "give the identity the Storage Blob Data Reader role on the container, or use a SAS token with read and list permissions ("+
			streaming.EnvSAS+" or --sas-file) or a connection string ("+streaming.EnvConnectionString+" or --connection-string-file)")
	case errors.Is(err, fs.ErrNotExist):
		return withCode(exitFailure, err, "--folder DIR holds the container's folder, DIR/"+streaming.DefaultContainer+"/…, as "+
			"azcopy copy https://ACCOUNT.blob.core.windows.net/"+streaming.DefaultContainer+" DIR --recursive leaves it; if the copy's folder has another name, pass it as --container")
	case errors.Is(err, mcas.ErrAuth), errors.Is(err, mcas.ErrNoCredentials):
		return withCode(exitAuth, err, "sign in with --auth (client-secret, client-certificate, managed-identity, workload-identity, azure-cli), or give "+
			streaming.EnvSAS+" or "+streaming.EnvConnectionString)
	}
	return err
}

// streamOptions reads the run's window and batching flags.
func (e *env) streamOptions(c *cli.Context) (loader.StreamOptions, error) {
	o := loader.StreamOptions{Overlap: c.Duration("overlap"), BatchRows: c.Int("batch-rows"), BatchBytes: c.Int64("batch-bytes"),
		Reread: c.StringSlice("reread")}
	if o.Overlap < 0 {
		return o, usageErrorf("--overlap must not be negative")
	}
	now := time.Now()
	for _, b := range []struct {
		flag string
		dst  *time.Time
	}{{"since", &o.Since}, {"until", &o.Until}} {
		if v := c.String(b.flag); v != "" {
			t, err := timearg.Parse(v)
			if err != nil {
				return o, usageErrorf("--%s: %v", b.flag, err)
			}
			*b.dst = t.Resolve(now).UTC()
		}
	}
	if !o.Since.IsZero() && !o.Until.IsZero() && !o.Since.Before(o.Until) {
		return o, usageErrorf("--since (%s) must be before --until (%s)", c.String("since"), c.String("until"))
	}
	return o, nil
}

// openStreamStore opens the folder of --folder, or the storage account with its credential.
func (e *env) openStreamStore(c *cli.Context) (*streaming.Store, error) {
	if dir := c.String("folder"); dir != "" {
		for _, f := range []string{"account-url", "connection-string-file", "sas-file"} {
			if c.IsSet(f) {
				return nil, usageErrorf("--folder reads a local copy: drop --%s", f)
			}
		}
		store, err := streaming.OpenFolder(dir, c.String("container"))
		if err != nil {
			return nil, usageErrorf("--folder: %v", err)
		}
		return store, nil
	}
	cfg, err := e.streamStoreConfig(c)
	if err != nil {
		return nil, err
	}
	store, err := streaming.Open(cfg)
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	return store, nil
}

// streamStoreConfig finds the account and the credential: a connection string or SAS from a
// file or the environment, the public development key of a local Azurite, else Entra ID.
func (e *env) streamStoreConfig(c *cli.Context) (streaming.Config, error) {
	target := c.String("account-url")
	cfg := streaming.Config{AccountURL: target, Container: c.String("container")}
	var u *url.URL
	if target != "" {
		var err error
		if u, err = url.Parse(target); err != nil || u.Host == "" || streaming.IsFolderLocation(target) {
			return cfg, usageErrorf("--account-url %q: want the Blob service URL, e.g. https://ACCOUNT.blob.core.windows.net (a local copy of the export is --folder DIR)", target)
		}
		if u.RawQuery != "" {
			return cfg, usageErrorf("--account-url carries a query: keep a SAS token off the command line, put it in %s or --sas-file", streaming.EnvSAS)
		}
	}
	cred, found, err := streaming.LoadSecret(streaming.SecretSources{ConnectionStringFile: c.String("connection-string-file"),
		SASFile: c.String("sas-file"), Getenv: e.getenv})
	switch {
	case err != nil:
		return cfg, withCode(exitAuth, err, "")
	case found:
		cfg.Credential = cred
		return cfg, nil
	case u == nil:
		return cfg, usageErrorf("no storage account: pass --account-url (or set %s), or give a connection string in %s; a local copy of the export is --folder DIR", envName("account-url"), streaming.EnvConnectionString)
	case isAzurite(u):
		cfg.Credential.ConnectionString = azuriteConnectionString(target)
		return cfg, nil
	}
	m := c.String("auth")
	switch m {
	case "":
		m = string(mcas.Auto)
	case "token":
		return cfg, usageErrorf("--auth token is the activities API's legacy token; Azure Storage takes Entra ID sign-in, a SAS token or a connection string")
	}
	a, err := e.entraAuth(c, mcas.EntraMethod(m))
	if err != nil {
		return cfg, err
	}
	ea, _ := a.(mcas.EntraAuth)
	tc, err := ea.TokenCredential(nil)
	if err != nil {
		return cfg, withCode(exitAuth, err, "")
	}
	cfg.Credential = streaming.Credential{Token: tc, TokenKind: "entra " + m}
	return cfg, nil
}

// isAzurite reports whether u is a local Azurite's development account over plain HTTP.
func isAzurite(u *url.URL) bool {
	return u.Scheme == "http" && isLoopbackHost(u.Hostname()) && strings.Trim(u.Path, "/") == azuriteAccount
}

// azuriteConnectionString is the connection string of Azurite's development account at target;
// its key is published in Azurite's README, so it is no secret.
func azuriteConnectionString(target string) mcas.Secret {
	return mcas.NewSecret(fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;",
		azuriteAccount, azuriteKey, strings.TrimSuffix(target, "/")))
}
