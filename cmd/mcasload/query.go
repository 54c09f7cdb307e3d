package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/mcasload/mcasload/allowlist"
	"github.com/mcasload/mcasload/internal/failpoint"
	"github.com/mcasload/mcasload/output"
	"github.com/mcasload/mcasload/queries"
)

// readerFlags are the flags of every command that reads the warehouse and prints a result.
func readerFlags() []cli.Flag {
	return []cli.Flag{
		warehouseFlag(),
		parquetFlag(),
		tenantSelectionFlag(),
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "output format: table, csv, json, ndjson, markdown or parquet"},
		&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "write the result to `FILE` (written whole, then renamed into place); - is stdout, the default"},
		&cli.IntFlag{Name: "max-width", Usage: "fit tables to `N` columns (0: no limit; default the terminal's width, no limit when stdout is not a terminal); users and IPs are never cut"},
		&cli.BoolFlag{Name: "wide", Usage: "the same as --max-width 0: every table cell in full"},
	}
}

// allowListFlag names the allow-list; without it, <warehouse>/allow-list.toml is read when present.
func allowListFlag() cli.Flag {
	return &cli.StringFlag{Name: "allow-list", Usage: "suppress the detection rows the allow-list `FILE` names (TOML, docs/allow-list.md; default: " + allowlist.FileName + " in the warehouse folder, when present)"}
}

// queryFlags are the flags of "query" and of each investigation under it.
func queryFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "since", Usage: "start of the window (default 7d)"},
		&cli.StringFlag{Name: "until", Usage: "end of the window (default now)"},
		&cli.StringSliceFlag{Name: "param", Aliases: []string{"p"}, Usage: "set a parameter, `KEY=VALUE` (repeatable; lists are comma-separated)"},
		allowListFlag(),
		&cli.BoolFlag{Name: "show-suppressed", Usage: "keep the rows the allow-list suppresses, each with suppressed_by naming its entry"},
	}, append(triageFlags(), readerFlags()...)...)
}

// queryCommand is "query", with one subcommand per investigation so that flags may follow the
// name (mcasload query mass-download --since 7d).
func (e *env) queryCommand() *cli.Command {
	var subs []*cli.Command
	for _, inv := range queries.All() {
		subs = append(subs, &cli.Command{
			Name:        inv.Name,
			Usage:       inv.Question,
			Description: inv.Description + "\n\nParameters:\n" + paramHelp(inv),
			Flags:       queryFlags(),
			Action: func(c *cli.Context) error {
				if c.NArg() > 0 {
					return usageErrorf("unexpected arguments %q: put them in --param KEY=VALUE", strings.Join(c.Args().Slice(), " "))
				}
				return e.runInvestigation(c, inv)
			},
		})
	}
	return &cli.Command{
		Name:      "query",
		Usage:     "run a canned investigation over the warehouse",
		ArgsUsage: "NAME",
		Description: "Runs one of the canned investigations (mcasload query --list shows them) over the\n" +
			"warehouse, read-only, or over a bare Parquet dataset with --parquet. Parameters are\n" +
			"bound, never spliced into SQL. Times: a duration ago (7d, 2w, 1d12h), RFC 3339, a date, or epoch s (10 digits) or ms (13).\n" +
			"An investigation runs once per tenant (--tenant-label selects them; default all) and never\n" +
			"pairs rows of two tenants; over several tenants the answer starts with a tenant column.",
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "list", Aliases: []string{"l"}, Usage: "list the investigations with their questions and parameters"},
		}, queryFlags()...),
		Subcommands:     subs,
		HideHelpCommand: true,
		Action:          e.runQuery,
	}
}

// runQuery is "query" without a known investigation name: --list, or a clear error.
func (e *env) runQuery(c *cli.Context) error {
	if c.Bool("list") {
		if c.NArg() > 0 {
			return usageErrorf("give either --list or an investigation name, not both")
		}
		return e.listInvestigations(c)
	}
	if c.NArg() == 0 {
		return usageErrorf("give an investigation name (mcasload query --list shows them); accepted: %s", strings.Join(queries.Names(), ", "))
	}
	_, err := queries.Lookup(c.Args().First())
	return withCode(exitUsage, err, "mcasload query --list shows every investigation with its parameters")
}

func (e *env) runInvestigation(c *cli.Context, inv *queries.Investigation) error {
	values, err := paramValues(c, inv)
	if err != nil {
		return err
	}
	format, err := output.ParseFormat(c.String("format"))
	if err != nil {
		return usageErrorf("--format: %v", err)
	}
	// Bind once before opening the warehouse, so a bad parameter is a usage error at once.
	now := time.Now()
	since, until, windowed, err := inv.Window(values, now)
	if err != nil {
		return bindFailure(err)
	}
	if _, err := evidenceCap(c); err != nil {
		return err
	}
	scope := readScope{cover: true, inv: inv, values: values}
	if windowed {
		scope.window = &output.Window{Since: since, Until: until}
	}
	return e.withSession(c, scope, func(ctx context.Context, s *queries.Session) (array.RecordReader, *output.Meta, error) {
		res, err := s.Investigate(ctx, inv, queries.Request{Values: values, Now: now, ShowSuppressed: c.Bool("show-suppressed")})
		if err != nil {
			return nil, nil, err
		}
		defer res.Release()
		rdr, err := res.Reader()
		return rdr, &res.Meta, err
	}, format)
}

// paramValues gathers --param KEY=VALUE, --since and --until.
func paramValues(c *cli.Context, inv *queries.Investigation) (map[string]string, error) {
	values := map[string]string{}
	for _, kv := range c.StringSlice("param") {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, usageErrorf("--param %q: use KEY=VALUE; %s accepts %s", kv, inv.Name, paramNames(inv))
		}
		if _, dup := values[k]; dup {
			return nil, usageErrorf("--param %s given twice; lists are one comma-separated value (KEY=a,b)", k)
		}
		values[k] = v
	}
	for _, name := range []string{"since", "until"} {
		if !c.IsSet(name) {
			continue
		}
		if _, dup := values[name]; dup {
			return nil, usageErrorf("--%s and --param %s both given; use one", name, name)
		}
		values[name] = c.String(name)
	}
	return values, nil
}

func paramNames(inv *queries.Investigation) string {
	var s []string
	for _, p := range inv.Params {
		s = append(s, p.Name+" ("+p.TypeName()+")")
	}
	return strings.Join(s, ", ")
}

func paramHelp(inv *queries.Investigation) string {
	var b strings.Builder
	for _, p := range inv.Params {
		def := "default " + strconv.Quote(p.Default)
		if p.Required {
			def = "required"
		}
		fmt.Fprintf(&b, "  --param %s=%s  (%s) %s\n", p.Name, p.TypeName(), def, p.Doc)
	}
	return b.String()
}

func (e *env) listInvestigations(c *cli.Context) error {
	switch f := c.String("format"); f {
	case "table":
	case "json":
		return output.WriteJSON(e.stdout, &output.Meta{Command: "query --list"}, catalogRows())
	default:
		return usageErrorf("query --list --format %q: use table or json", f)
	}
	var b strings.Builder
	for i, inv := range queries.All() {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s\n  %s\n  kind: %s", inv.Name, inv.Question, inv.Kind)
		if inv.Kind == queries.Detection {
			fmt.Fprintf(&b, "; severity: %s", severityText(inv))
		}
		fmt.Fprintf(&b, "; chart: %s", strings.Join(inv.Charts, ", "))
		if h := historyText(inv); h != "" {
			fmt.Fprintf(&b, "; history: %s", h)
		}
		if inv.Kind == queries.Detection {
			var named []string
			for _, id := range inv.Techniques {
				named = append(named, id+" "+queries.AttackName(id))
			}
			fmt.Fprintf(&b, "\n  techniques: %s", strings.Join(named, "; "))
		}
		fmt.Fprintf(&b, "\n%s", paramHelp(inv))
	}
	_, err := io.WriteString(e.stdout, b.String())
	return err
}

// historyText is the header's history as written: a duration, or the parameter that holds it.
func historyText(inv *queries.Investigation) string {
	switch {
	case inv.HistoryParam != "":
		p, _ := inv.Param(inv.HistoryParam)
		return p.Default + "d (" + inv.HistoryParam + ")"
	case inv.History > 0:
		return queries.FormatDuration(inv.History)
	}
	return ""
}

// severityText is a detection's base severity and what raises it: "medium (high when …)".
func severityText(inv *queries.Investigation) string {
	if len(inv.Rises) == 0 {
		return inv.Severity
	}
	var rises []string
	for _, r := range inv.Rises {
		rises = append(rises, r.Level+" when "+r.When)
	}
	return inv.Severity + " (" + strings.Join(rises, "; ") + ")"
}

// catalogEntry is one investigation in `query --list --format json`: what tooling needs to run
// it, read its answer and weigh its rows (the triage keys are a detection's alone).
type catalogEntry struct {
	Name          string              `json:"name"`
	Kind          string              `json:"kind"`
	Question      string              `json:"question"`
	Description   string              `json:"description"`
	Charts        []string            `json:"charts"`
	History       string              `json:"history,omitempty"`
	Entities      map[string][]string `json:"entities,omitempty"`
	Severity      string              `json:"severity,omitempty"`
	SeverityRises []queries.Rise      `json:"severity_rises,omitempty"`
	Tactics       []catalogAttack     `json:"tactics,omitempty"`
	Techniques    []catalogAttack     `json:"techniques,omitempty"`
	Bucket        string              `json:"bucket,omitempty"`
	Counterpart   string              `json:"counterpart,omitempty"`
	Sources       []string            `json:"sources"`
	Params        []catalogParam      `json:"params"`
}

// catalogAttack is an ATT&CK id with its name.
type catalogAttack struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func attackList(ids []string) []catalogAttack {
	var out []catalogAttack
	for _, id := range ids {
		out = append(out, catalogAttack{ID: id, Name: queries.AttackName(id)})
	}
	return out
}

type catalogParam struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Default  string `json:"default"`
	Required bool   `json:"required"`
	Doc      string `json:"doc"`
}

func catalogRows() []catalogEntry {
	var out []catalogEntry
	for _, inv := range queries.All() {
		e := catalogEntry{Name: inv.Name, Kind: inv.Kind, Question: inv.Question, Description: inv.Description,
			Charts: inv.Charts, History: historyText(inv), Entities: inv.Entities, Severity: inv.Severity, SeverityRises: inv.Rises,
			Tactics: attackList(inv.Tactics), Techniques: attackList(inv.Techniques), Counterpart: inv.Counterpart,
			Sources: inv.Sources, Params: []catalogParam{}}
		if inv.Bucket > 0 {
			e.Bucket = queries.FormatDuration(inv.Bucket)
		}
		for _, p := range inv.Params {
			e.Params = append(e.Params, catalogParam{Name: p.Name, Type: p.TypeName(), Default: p.Default, Required: p.Required, Doc: p.Doc})
		}
		out = append(out, e)
	}
	return out
}

// loadAllowList reads --allow-list, or the warehouse's allow-list.toml when present; nil when
// there is none.
func loadAllowList(c *cli.Context) (*allowlist.List, error) {
	path := c.String("allow-list")
	if path == "" {
		if c.String("parquet") != "" {
			return nil, nil
		}
		def := filepath.Join(c.String("warehouse"), allowlist.FileName)
		if _, err := os.Stat(def); err != nil {
			return nil, nil
		}
		path = def
	}
	l, err := allowlist.Load(path, queries.Names())
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, usageErrorf("--allow-list %s: no such file", path)
		}
		return nil, withCode(exitUsage, err, "docs/allow-list.md describes the format")
	}
	return l, nil
}

// readScope is what a reading command asks about, for the coverage its answer states.
type readScope struct {
	// cover asks for the coverage (meta.coverage) and exit 7 when there is nothing to answer.
	cover bool
	// window is the window asked about; nil for the whole warehouse (sql).
	window *output.Window
	// inv and values: an investigation's user and IP parameters are looked up (meta.unseen).
	inv    *queries.Investigation
	values map[string]string
}

// withSession opens the warehouse (or --parquet dataset) read-only, reads the coverage of
// scope, locks the connection down, applies the allow-list (when the command has one), runs
// query and writes its result: JSON with its meta beside the rows, the other formats with the
// meta on stderr (one JSON line beside CSV, NDJSON and Parquet; a few words beside a table).
// An answer over a window without any activity is written too, then exits 7 (noData).
func (e *env) withSession(c *cli.Context, scope readScope, query func(context.Context, *queries.Session) (array.RecordReader, *output.Meta, error), format output.Format) error {
	ctx := c.Context
	out := c.String("out")
	if format == output.Parquet {
		if err := e.refuseBinaryOnTerminal(string(format), out); err != nil {
			return err
		}
	}
	log, err := e.logger(c)
	if err != nil {
		return err
	}
	var allow *allowlist.List
	if hasFlag(c, "allow-list") {
		if allow, err = loadAllowList(c); err != nil {
			return err
		}
	}
	r, err := e.openReader(c, log)
	if err != nil {
		return err
	}
	defer r.Close()
	var (
		cov    *output.Coverage
		unseen []output.Unseen
	)
	if scope.cover {
		if cov, err = coverageOf(ctx, r, scope.window); err != nil {
			return err
		}
		if scope.inv != nil {
			if unseen, err = unseenParams(ctx, r, scope.inv, scope.values); err != nil {
				return err
			}
		}
	}
	s, err := openInvestigations(c, r)
	if err != nil {
		return err
	}
	if allow != nil {
		if err := s.UseAllowList(ctx, allow); err != nil {
			return err
		}
	}
	if hasFlag(c, "portal") {
		if err := useTriage(ctx, c, r, s); err != nil {
			return err
		}
	}
	rdr, meta, err := query(ctx, s)
	if err != nil {
		return queryFailure(err)
	}
	defer rdr.Release()
	if meta == nil {
		meta = &output.Meta{}
	}
	meta.Coverage, meta.Unseen = cov, unseen
	for _, u := range unseen {
		meta.Notes = append(meta.Notes, unseenNote(u, r.Tenants))
	}
	opts := output.Options{Format: format, Meta: meta, Entities: entityColumns(meta)}
	e.sayMeta(meta, format)
	failpoint.Pause("answer")
	n, err := e.writeAnswer(c, rdr, opts, out)
	if err != nil {
		return err
	}
	if scope.window == nil && n > 0 {
		return nil // sql: rows answer, whatever the warehouse holds
	}
	return noData(cov)
}

// writeAnswer writes a reading command's rows to stdout or to the --out file, saying on stderr
// how many went to a file or that there were none.
func (e *env) writeAnswer(c *cli.Context, rdr array.RecordReader, opts output.Options, out string) (int, error) {
	format := opts.Format
	var err error
	if toStdout(out) {
		if opts.Width, err = e.tableWidth(c); err != nil {
			return 0, err
		}
		n, err := output.Write(stopWriter{c.Context, e.stdout}, rdr, opts)
		if err != nil {
			return n, err
		}
		if n == 0 && format != output.Table && format != output.Markdown && format != output.JSON {
			fmt.Fprintln(e.stderr, output.NoRows)
		}
		return n, nil
	}
	n, err := writeFileAtomic(out, func(w io.Writer) (int, error) { return output.Write(stopWriter{c.Context, w}, rdr, opts) })
	if err != nil {
		return n, err
	}
	if n == 0 {
		fmt.Fprintf(e.stderr, "%s: wrote %s\n", output.NoRows, out)
	} else {
		fmt.Fprintf(e.stderr, "wrote %d rows to %s\n", n, out)
	}
	return n, nil
}

// sayMeta puts the meta where the format leaves room for it: nowhere for JSON (it is beside the
// rows), one JSON line on stderr for the row-only formats, a few words for people reading a
// table.
func (e *env) sayMeta(meta *output.Meta, format output.Format) {
	switch format {
	case output.JSON:
	case output.CSV, output.NDJSON, output.Parquet:
		output.WriteMetaLine(e.stderr, meta)
	default:
		for _, line := range meta.Summary() {
			fmt.Fprintln(e.stderr, line)
		}
	}
}

// hasFlag reports whether the command declares the flag.
func hasFlag(c *cli.Context, name string) bool {
	if c.Command == nil {
		return false
	}
	for _, f := range c.Command.Flags {
		if slices.Contains(f.Names(), name) {
			return true
		}
	}
	return false
}

// writeFileAtomic writes a temporary file beside path and renames it into place, so a reader
// never sees half a result and a failure leaves any earlier file intact.
func writeFileAtomic(path string, write func(io.Writer) (int, error)) (int, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return 0, fmt.Errorf("create %s: %w", path, err)
	}
	n, err := write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return n, fmt.Errorf("write %s: %w", path, err)
	}
	return n, nil
}

// tableWidth is the width a table on stdout must fit: --max-width (--wide is --max-width 0), else
// the terminal's width when stdout is one (its size, else $COLUMNS), else 0: a pipe or a file
// gets every value whole.
func (e *env) tableWidth(c *cli.Context) (int, error) {
	if c.Bool("wide") {
		if c.IsSet("max-width") && c.Int("max-width") != 0 {
			return 0, usageErrorf("--wide is --max-width 0; give one of them")
		}
		return 0, nil
	}
	if c.IsSet("max-width") {
		if n := c.Int("max-width"); n < 0 {
			return 0, usageErrorf("--max-width %d: give a number of columns, or 0 for no limit", n)
		}
		return c.Int("max-width"), nil
	}
	f, ok := e.stdout.(*os.File)
	if !ok || !isTerminal(f) {
		return 0, nil
	}
	if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
		return int(ws.Col), nil
	}
	if n, err := strconv.Atoi(e.getenv("COLUMNS")); err == nil && n > 0 {
		return n, nil
	}
	return 80, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// queryFailure maps a query the session refused to a usage error.
func queryFailure(err error) error {
	switch {
	case errors.Is(err, queries.ErrBadParam):
		return bindFailure(err)
	case errors.Is(err, queries.ErrNotReadOnly):
		return withCode(exitUsage, err, "")
	}
	return err
}

// bindFailure is the usage error for parameters an investigation refused, with the flag that
// passes a missing one.
func bindFailure(err error) error {
	var missing *queries.MissingParamError
	if errors.As(err, &missing) {
		return withCode(exitUsage, err, fmt.Sprintf("pass --param %s=… (mcasload query --list shows every investigation with its parameters)", missing.Param.Name))
	}
	return withCode(exitUsage, err, "mcasload query --list shows every investigation with its parameters")
}

// entityColumns are the columns of an investigation's answer that name its entities (its
// header's entities line), so a terminal table never cuts them.
func entityColumns(meta *output.Meta) []string {
	if meta == nil || meta.Investigation == "" {
		return nil
	}
	inv, err := queries.Lookup(meta.Investigation)
	if err != nil {
		return nil
	}
	var cols []string
	for _, c := range inv.Entities {
		cols = append(cols, c...)
	}
	return cols
}
