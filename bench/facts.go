package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// Facts describe the machine and the run, recorded beside the figures.
type Facts struct {
	CPUs      int
	CPUModel  string
	MemTotal  string
	Kernel    string
	GoVersion string
	LoadStart string // /proc/loadavg before the run
	LoadEnd   string // and after
	Started   time.Time
	Finished  time.Time
}

func machineFacts(ctx context.Context) Facts {
	f := Facts{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), LoadStart: loadAvg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				f.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				var kb int64
				fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
				f.MemTotal = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	if out, err := exec.CommandContext(ctx, "uname", "-sr").Output(); err == nil {
		f.Kernel = strings.TrimSpace(string(out))
	}
	if out, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output(); err == nil {
		f.GoVersion = strings.TrimSpace(string(out))
	}
	return f
}

// loadAvg is the 1, 5 and 15 minute load average.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// WriteReport writes the results as Markdown: machine facts, the command, the table and its notes.
func (h *Harness) WriteReport(w io.Writer, command string) error {
	f := h.Facts
	var b strings.Builder
	fmt.Fprintf(&b, "Run %s → %s (%s), `%s`\n\n", f.Started.Format(time.RFC3339), f.Finished.Format("15:04:05Z"),
		f.Finished.Sub(f.Started).Round(time.Second), command)
	fmt.Fprintf(&b, "- machine: %d CPUs (%s), %s RAM, %s\n", f.CPUs, f.CPUModel, f.MemTotal, f.Kernel)
	fmt.Fprintf(&b, "- %s; load average (1/5/15 min) %s at start, %s at end\n", f.GoVersion, f.LoadStart, f.LoadEnd)
	fmt.Fprintf(&b, "- every process: --threads %d; generated tenants: %d users, %d days\n\n", h.cfg.Threads, h.cfg.Users, h.cfg.Days)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return h.Table.WriteMarkdown(w)
}
