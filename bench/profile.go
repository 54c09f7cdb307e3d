package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mcasload/mcasload/internal/budget"
	"github.com/mcasload/mcasload/loader"
	"github.com/mcasload/mcasload/warehouse"
)

// Files the profile step writes under Out.
const (
	ProfileFile = "load-cpu.pprof"   // CPU profile of the offline load (go tool pprof)
	ProfileTop  = "load-cpu-top.txt" // its top functions, flat and cumulative
)

// profile is measurement 6: the offline load of ProfileRecords (default the smallest offline size), run in this process
// through the same loader and warehouse calls as `mcasload load` (which has no --cpuprofile
// flag), under the CPU profiler. It also samples the Go runtime's memory beside the process's
// peak RSS, so the table says how much of the peak is Go heap and how much is DuckDB's.
func (h *Harness) profile(ctx context.Context) error {
	n := h.cfg.ProfileRecords
	if n <= 0 && len(h.cfg.Offline) > 0 {
		n = slices.Min(h.cfg.Offline)
	}
	if n <= 0 {
		n = h.cfg.Incremental
	}
	file, size, err := h.offlineInput(ctx, n)
	if err != nil {
		return err
	}
	wh, err := h.workPath("profile-" + short(n))
	if err != nil {
		return err
	}
	defer h.drop(wh)
	profPath := filepath.Join(h.cfg.Out, ProfileFile)
	f, err := os.Create(profPath)
	if err != nil {
		return fmt.Errorf("create profile: %w", err)
	}
	defer f.Close()

	sampler := startMemSampler(50 * time.Millisecond)
	if err := pprof.StartCPUProfile(f); err != nil {
		sampler.stop()
		return fmt.Errorf("start cpu profile: %w", err)
	}
	start := time.Now()
	sum, loadErr := loadInProcess(ctx, wh, file, h.cfg.Threads)
	wall := time.Since(start)
	pprof.StopCPUProfile()
	peakGo, peakHeap := sampler.stop()
	if loadErr != nil {
		return loadErr
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write profile: %w", err)
	}
	top, err := pprofTop(ctx, profPath)
	if err != nil {
		h.Table.Note("profile: %v", err)
	} else if err := os.WriteFile(filepath.Join(h.cfg.Out, ProfileTop), []byte(top), 0o600); err != nil {
		return fmt.Errorf("write profile top: %w", err)
	}
	h.Table.Add(Row{Step: "6 profile", What: "in-process load " + short(n) + " (cpu profile → bench/out/" + ProfileFile + ")",
		Records: sum.New, Wall: wall, RecPerSec: rate(float64(sum.New), wall), MBPerSec: rate(MB(size), wall),
		Figure: fmt.Sprintf("Go peak %.0f MB (heap %.0f MB)", MB(int64(peakGo)), MB(int64(peakHeap)))})
	return nil
}

// loadInProcess is `mcasload load --threads T FILE` without the CLI around it, with the
// default memory budget's plan. The Go memory limit it sets is this process's only while it
// runs.
func loadInProcess(ctx context.Context, dir, file string, threads int) (*loader.Summary, error) {
	plan, err := budget.For(budget.Default)
	if err != nil {
		return nil, err
	}
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	w, err := warehouse.Open(ctx, warehouse.Options{Dir: dir, Threads: threads, Source: "file", Command: "bench profile",
		MemoryLimit: budget.Format(plan.DuckDB), HoldCache: plan.DuckDBCache, AllocatorFlush: plan.DuckDBFlush})
	if err != nil {
		return nil, fmt.Errorf("open warehouse: %w", err)
	}
	sum, err := loader.Load(ctx, w, []loader.Input{{Name: file}}, loader.LoadOptions{Pipeline: loader.Options{
		Workers: threads, Source: "file", BatchBytes: plan.BatchBytes, GoMemoryLimit: plan.GoLimit}}, nil)
	if err == nil && sum != nil {
		err = w.FinishRun(ctx, warehouse.RunInfo{}, sum)
	}
	if cerr := w.Close(ctx); err == nil && cerr != nil {
		err = fmt.Errorf("close warehouse: %w", cerr)
	}
	if err != nil {
		return nil, fmt.Errorf("load in process: %w", err)
	}
	return sum, nil
}

// memSampler polls the Go runtime's memory while the profiled load runs.
type memSampler struct {
	done           chan struct{}
	wg             sync.WaitGroup
	peakGo, peakHp uint64
}

func startMemSampler(every time.Duration) *memSampler {
	s := &memSampler{done: make(chan struct{})}
	samples := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
	read := func() {
		metrics.Read(samples)
		if v := samples[0].Value; v.Kind() == metrics.KindUint64 {
			s.peakGo = max(s.peakGo, v.Uint64()-released())
		}
		if v := samples[1].Value; v.Kind() == metrics.KindUint64 {
			s.peakHp = max(s.peakHp, v.Uint64())
		}
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			read()
			select {
			case <-s.done:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// released is the Go memory already handed back to the OS (counted in total, not resident).
func released() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		return s[0].Value.Uint64()
	}
	return 0
}

// stop ends sampling and returns the peaks: Go's resident total and its live heap.
func (s *memSampler) stop() (goTotal, heap uint64) {
	close(s.done)
	s.wg.Wait()
	runtime.GC()
	return s.peakGo, s.peakHp
}

// pprofTop renders the top of a CPU profile by flat and by cumulative time.
func pprofTop(ctx context.Context, path string) (string, error) {
	var b bytes.Buffer
	for _, args := range [][]string{
		{"tool", "pprof", "-top", "-nodecount=35", path},
		{"tool", "pprof", "-top", "-cum", "-nodecount=35", path},
	} {
		out, err := exec.CommandContext(ctx, "go", args...).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("go %s: %v: %s", strings.Join(args, " "), err, lastLines(string(out), 3))
		}
		b.WriteString("$ go " + strings.Join(args, " ") + "\n")
		b.Write(out)
		b.WriteString("\n")
	}
	return b.String(), nil
}
