package remote_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/objstore"
	"github.com/mcasload/mcasload/objstore/objstoretest"
	"github.com/mcasload/mcasload/remote"
)

// errInjected stands for a process killed at that instant: nothing after it happens.
var errInjected = errors.New("injected failure (the process died here)")

// budget is how many operations a dying process still gets done; shared by a store and a
// ledger so a crash can fall between any two of their operations.
type budget struct{ left atomic.Int64 }

func newBudget(n int) *budget {
	b := &budget{}
	b.left.Store(int64(n))
	return b
}

func (b *budget) spend() error {
	if b.left.Add(-1) < 0 {
		return errInjected
	}
	return nil
}

// dyingStore fails every operation once its budget is spent; an operation in flight when it
// runs out (a parallel upload) fails too, as a kill would cut it.
type dyingStore struct {
	objstore.Store
	b *budget
}

func (s dyingStore) Create(ctx context.Context, key string, body io.ReaderAt, size int64, sha string) error {
	if err := s.b.spend(); err != nil {
		return err
	}
	return s.Store.Create(ctx, key, body, size, sha)
}

func (s dyingStore) Replace(ctx context.Context, key string, data []byte) error {
	if err := s.b.spend(); err != nil {
		return err
	}
	return s.Store.Replace(ctx, key, data)
}

func (s dyingStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := s.b.spend(); err != nil {
		return nil, err
	}
	return s.Store.Get(ctx, key)
}

func (s dyingStore) Stat(ctx context.Context, key string) (objstore.Object, error) {
	if err := s.b.spend(); err != nil {
		return objstore.Object{}, err
	}
	return s.Store.Stat(ctx, key)
}

func (s dyingStore) List(ctx context.Context, prefix string, fn func(objstore.Object) error) error {
	if err := s.b.spend(); err != nil {
		return err
	}
	return s.Store.List(ctx, prefix, fn)
}

func (s dyingStore) Delete(ctx context.Context, key string) error {
	if err := s.b.spend(); err != nil {
		return err
	}
	return s.Store.Delete(ctx, key)
}

type dyingLedger struct {
	remote.Ledger
	b *budget
}

func (l dyingLedger) Save(ctx context.Context, s *remote.State) error {
	if err := l.b.spend(); err != nil {
		return err
	}
	return l.Ledger.Save(ctx, s)
}

// TestPublishResumesAfterAnyFailure publishes a warehouse, then its next state with a process
// that dies after n operations (store requests and ledger saves), for every n until one
// publish completes, then a third state with a healthy process. Whatever n was, the remote
// dataset ends equal to the local one: the same files with the same bytes, the manifest
// versions 1 to 3 with nothing skipped or doubled, and no object left over.
func TestPublishResumesAfterAnyFailure(t *testing.T) {
	h := sharedHistory(t)
	first, second, third := h.get("load1"), h.get("compact2"), h.get("compact3")
	objstoretest.Each(t, func(t *testing.T, srv *objstoretest.Server) {
		ctx := t.Context()
		for n := 0; ; n++ {
			st := srv.Open(t, fmt.Sprintf("kill/%d", n))
			ledger := remote.FileLedger{Path: filepath.Join(t.TempDir(), remote.StateFile)}
			clk := clock.NewVirtual(testStart, false)
			opts := remote.Options{Clock: clk, Logger: quiet, Grace: time.Hour, Parallel: 3}
			if _, err := remote.Publish(ctx, st, first.dir, ledger, opts); err != nil {
				t.Fatal(err)
			}
			b := newBudget(n)
			clk.Advance(time.Minute)
			_, err := remote.Publish(ctx, dyingStore{st, b}, second.dir, dyingLedger{ledger, b}, opts)
			if err != nil && !errors.Is(err, errInjected) {
				t.Fatalf("n=%d: %v", n, err)
			}
			done := err == nil
			// The rerun publishes the same state, then the next one, past the grace period.
			r, err := remote.Publish(ctx, st, second.dir, ledger, opts)
			if err != nil || r.Version != 2 {
				t.Fatalf("n=%d: rerun: %+v, %v; want version 2", n, r, err)
			}
			clk.Advance(2 * time.Hour)
			if r, err = remote.Publish(ctx, st, third.dir, ledger, opts); err != nil || r.Version != 3 {
				t.Fatalf("n=%d: next publish: %+v, %v; want version 3", n, r, err)
			}
			clk.Advance(2 * time.Hour)
			if _, err = remote.Publish(ctx, st, third.dir, ledger, opts); err != nil {
				t.Fatalf("n=%d: publish after the grace period: %v", n, err)
			}
			remoteEquals(t, st, third.dir, remote.ManifestKey(3), remote.PointerKey)
			m, err := remote.Latest(ctx, st)
			if err != nil || m.Totals.Rows != int64(third.rows) {
				t.Fatalf("n=%d: latest manifest: %+v, %v; want %d rows", n, m, err, third.rows)
			}
			if done {
				t.Logf("a publish of the second state takes %d operations; each failure point resumed", n)
				return
			}
		}
	})
}

// TestPublishLeftoversOfAnInterruptedPublish: files uploaded by a publish that died before its
// manifest, and compacted away locally before the next publish, are recorded as superseded and
// deleted after the grace period; they never enter a manifest.
func TestPublishLeftoversOfAnInterruptedPublish(t *testing.T) {
	h := sharedHistory(t)
	srv, _ := objstoretest.VersityGW(t)
	ctx := t.Context()
	st := srv.Open(t, "leftovers")
	ledger := remote.FileLedger{Path: filepath.Join(t.TempDir(), remote.StateFile)}
	clk := clock.NewVirtual(testStart, false)
	opts := remote.Options{Clock: clk, Logger: quiet, Grace: time.Hour, Parallel: 1}
	if _, err := remote.Publish(ctx, st, h.get("load1").dir, ledger, opts); err != nil {
		t.Fatal(err)
	}
	// list, get manifest, save ledger (uploads), then three uploads: the fourth operation dies.
	b := newBudget(6)
	if _, err := remote.Publish(ctx, dyingStore{st, b}, h.get("load2").dir, dyingLedger{ledger, b}, opts); !errors.Is(err, errInjected) {
		t.Fatalf("dying publish: %v", err)
	}
	r, err := remote.Publish(ctx, st, h.get("compact2").dir, ledger, opts)
	if err != nil || r.Version != 2 || r.Waiting == 0 {
		t.Fatalf("publish after the interruption: %+v, %v", r, err)
	}
	m, err := remote.Latest(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	stray := 0
	for _, s := range m.Superseded {
		if !existsIn(h.get("load1").dir, s.Path) && s.Path != remote.ManifestKey(1) {
			stray++ // uploaded by the dying publish only
		}
	}
	if stray == 0 {
		t.Errorf("the interrupted publish's uploads are not superseded: %+v", m.Superseded)
	}
	clk.Advance(2 * time.Hour)
	if _, err := remote.Publish(ctx, st, h.get("compact2").dir, ledger, opts); err != nil {
		t.Fatal(err)
	}
	remoteEquals(t, st, h.get("compact2").dir, remote.ManifestKey(2), remote.PointerKey)
}

func existsIn(dir, rel string) bool {
	_, err := os.Stat(filepath.Join(dir, filepath.FromSlash(rel)))
	return err == nil
}
