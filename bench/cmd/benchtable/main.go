// Command benchtable runs mcasload's benchmarks (make bench) and prints one table: offline
// conversion against DuckDB's own reader on two record shapes, memory at scale, the online scan
// against the API ceiling, incremental cost, the canned investigations, a CPU profile of the
// load, the distance to the limit, and (only when asked: --steps year) the scale step.
// Generated inputs are cached in --out between runs; results go to --out/results.md.
//
//	go run ./bench/cmd/benchtable [--quick] [--skip-1m] [--steps offline,online] [--out bench/out]
//	go run ./bench/cmd/benchtable --steps year [--year-rows 20000000]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mcasload/mcasload/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string) int {
	cfg := bench.Default()
	fs := flag.NewFlagSet("benchtable", flag.ContinueOnError)
	fs.StringVar(&cfg.Out, "out", cfg.Out, "folder for cached inputs, work warehouses and results")
	steps := fs.String("steps", strings.Join(bench.DefaultSteps, ","), "comma-separated steps to run: "+strings.Join(bench.AllSteps, ", ")+" (year, the scale step, only when named)")
	shapes := fs.String("shapes", strings.Join(cfg.Shapes, ","), "record shapes of the offline step: sim, wide")
	skip1M := fs.Bool("skip-1m", false, "offline conversion at 100k only (saves about 5 minutes)")
	quick := fs.Bool("quick", false, "small sizes throughout (a few minutes; figures are indicative only)")
	fs.DurationVar(&cfg.OnlineWindow, "online-window", cfg.OnlineWindow, "measured span of each online scan (a multiple of 1m keeps the ceiling exact)")
	fs.IntVar(&cfg.Scale, "scale", cfg.Scale, "records of the large warehouse (memory, incremental, investigations)")
	fs.IntVar(&cfg.ProfileRecords, "profile-records", 0, "size of the profiled load (default: the smallest offline size)")
	fs.IntVar(&cfg.YearRows, "year-rows", cfg.YearRows, "rows of the scale step's warehouse (--steps year)")
	fs.IntVar(&cfg.YearDays, "year-days", cfg.YearDays, "days the scale step's warehouse covers")
	fs.IntVar(&cfg.YearUsers, "year-users", cfg.YearUsers, "users of the scale step's tenant")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the work warehouses under --out/work")
	bin := fs.String("bin", "", "mcasload binary to measure (default: build it into --out/bin)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg.Steps = strings.Split(*steps, ",")
	cfg.Shapes = strings.Split(*shapes, ",")
	if *skip1M {
		cfg.Offline = []int{100_000}
		cfg.ScanSizes = []int{100_000}
	}
	if *quick {
		cfg.Offline = []int{20_000}
		cfg.Scale = 200_000
		cfg.ScanSizes = []int{20_000, 100_000}
		cfg.Incremental = 20_000
		cfg.OnlineWindow = time.Minute
		cfg.OnlineRecords = 200_000
	}
	cfg.Log = os.Stderr

	if err := buildBinaries(ctx, &cfg, *bin); err != nil {
		fmt.Fprintf(os.Stderr, "benchtable: %v\n", err)
		return 1
	}

	h, err := bench.New(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchtable: %v\n", err)
		return 2
	}
	runErr := h.Run(ctx)
	fmt.Println()
	if err := h.Table.WriteText(os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "benchtable: %v\n", err)
		return 1
	}
	report := filepath.Join(cfg.Out, "results.md")
	if err := writeReport(h, report, "go run ./bench/cmd/benchtable "+strings.Join(args, " ")); err != nil {
		fmt.Fprintf(os.Stderr, "benchtable: write %s: %v\n", report, err)
		return 1
	}
	fmt.Printf("\nresults: %s; cpu profile: %s\n", report, filepath.Join(cfg.Out, bench.ProfileFile))
	if runErr != nil {
		fmt.Fprintf(os.Stderr, "benchtable: %v\n", runErr)
		return 1
	}
	return 0
}

// buildBinaries builds DuckDB's reference loader, and mcasload unless bin names one, into
// --out/bin, and records their paths in cfg.
func buildBinaries(ctx context.Context, cfg *bench.Config, bin string) error {
	binDir := filepath.Join(cfg.Out, "bin")
	cfg.Bin, cfg.DuckRef = bin, filepath.Join(binDir, "duckref")
	targets := [][2]string{{cfg.DuckRef, "./bench/cmd/duckref"}}
	if cfg.Bin == "" {
		cfg.Bin = filepath.Join(binDir, "mcasload")
		targets = append(targets, [2]string{cfg.Bin, "./cmd/mcasload"})
	}
	for _, t := range targets {
		fmt.Fprintf(os.Stderr, "benchtable: building %s\n", t[1])
		cmd := exec.CommandContext(ctx, "go", "build", "-tags", "duckdb_arrow", "-o", t[0], t[1])
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build %s: %w", t[1], err)
		}
	}
	return nil
}

// writeReport writes the harness's results as markdown to path, naming the command.
func writeReport(h *bench.Harness, path, command string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = h.WriteReport(f, strings.TrimSpace(command))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
