package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/loader"
	"github.com/mcasload/mcasload/warehouse"
)

// TestFinishRunSamePathForLoadAndScan pins that load and scan end a run the same way: the
// storage hint on a full or read-only disk (a full disk during a scan used to get the generic
// scan hint), one rejects path, one rejects message. reliability's disk tests meet the same
// faults on a real full and read-only tmpfs.
func TestFinishRunSamePathForLoadAndScan(t *testing.T) {
	cases := []struct {
		name     string
		runErr   error
		rejected int64
		code     int
		hint     string
	}{
		{"full disk", fmt.Errorf("commit 998 rows: %w", errors.Join(warehouse.ErrDiskFull, errors.New("IO Error: No space left on device"))), 0,
			exitFailure, "the disk under the warehouse is full"},
		{"read-only", fmt.Errorf("commit: %w", warehouse.ErrReadOnly), 0, exitFailure, "read-only file system"},
		{"no access", fmt.Errorf("commit: %w", warehouse.ErrNoAccess), 0, exitFailure, "you may not write the warehouse folder"},
		{"rejects", nil, 2, exitRejected, "see table rejected_activities or "},
	}
	for _, k := range []runKind{loadRun, scanRun} {
		for _, tc := range cases {
			t.Run(k.name+" "+tc.name, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "wh")
				w, err := warehouse.Open(t.Context(), warehouse.Options{Dir: dir, Command: "test"})
				if err != nil {
					t.Fatal(err)
				}
				var out bytes.Buffer
				e := &env{stdout: &out, stderr: &out}
				c := cli.NewContext(cli.NewApp(), flag.NewFlagSet(k.name, flag.ContinueOnError), nil)
				c.Context = context.Background()
				sum := &loader.Summary{Records: 10, Rejected: tc.rejected}
				err = e.finishRun(c, w, sum, tc.runErr, k)
				var ee *exitError
				if !errors.As(err, &ee) || ee.code != tc.code || !strings.Contains(ee.hint, tc.hint) {
					t.Fatalf("finishRun = %v (%+v), want exit %d with hint %q", err, ee, tc.code, tc.hint)
				}
				if tc.rejected > 0 {
					rejDir := filepath.Join(w.Dir(), warehouse.RejectedDir)
					if sum.RejectedDir != rejDir || !strings.Contains(ee.hint, rejDir) ||
						ee.err.Error() != fmt.Sprintf("finished, but %d of 10 records were rejected", tc.rejected) {
						t.Errorf("rejects: dir %q, error %q, hint %q; want %s", sum.RejectedDir, ee.err, ee.hint, rejDir)
					}
				}
			})
		}
	}
}
