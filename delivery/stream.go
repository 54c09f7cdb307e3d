package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// ndjson renders findings as NDJSON, one wire-format line each, unless the run was stopped.
func ndjson(ctx context.Context, findings []Finding) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("not written: stopped (%w); kept for the next run", err)
	}
	var b bytes.Buffer
	for i := range findings {
		line, err := findings[i].MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("encode finding %s: %w", findings[i].ID, err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// allErrors is err for every one of n findings: a stream sink writes them together.
func allErrors(n int, err error) []error {
	errs := make([]error, n)
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}

// streamSink writes NDJSON to the command's standard output. A write that returns no error is
// acceptance: what reads the stream (a pipe, a file the shell opened) is the receiver.
type streamSink struct {
	spec Spec
	w    io.Writer
}

func (s *streamSink) ID() string     { return s.spec.ID() }
func (s *streamSink) String() string { return s.spec.String() }
func (s *streamSink) Close() error   { return nil }

func (s *streamSink) Deliver(ctx context.Context, findings []Finding) []error {
	data, err := ndjson(ctx, findings)
	if err != nil {
		return allErrors(len(findings), err)
	}
	if _, err := s.w.Write(data); err != nil {
		return allErrors(len(findings), fmt.Errorf("write to standard output: %w (the findings are kept for the next run)", err))
	}
	// A file the shell redirected stdout to is made durable too; a pipe or terminal cannot sync.
	if f, ok := s.w.(*os.File); ok {
		if err := f.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
			return allErrors(len(findings), fmt.Errorf("sync standard output: %w (the findings are kept for the next run)", err))
		}
	}
	return allErrors(len(findings), nil)
}

// fileSink appends NDJSON to a file and syncs it: a finding is accepted once it is on disk. Each
// batch goes in one append (O_APPEND), so two processes appending to one file do not interleave
// lines. A batch cut short (a full disk) leaves a torn last line; the next batch starts on a new
// line, and readers skip a line that does not parse.
type fileSink struct {
	spec Spec
}

func newFileSink(sp Spec) (*fileSink, error) {
	dir := filepath.Dir(sp.Path)
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, &SpecError{Sink: sp.String(), Err: fmt.Errorf("folder %s: %w: create it or fix the path", dir, errors.Unwrap(err))}
	}
	if !fi.IsDir() {
		return nil, specErrorf(sp.String(), "%s is not a folder", dir)
	}
	if fi, err := os.Stat(sp.Path); err == nil && !fi.Mode().IsRegular() {
		return nil, specErrorf(sp.String(), "%s is not a regular file", sp.Path)
	}
	return &fileSink{spec: sp}, nil
}

func (s *fileSink) ID() string     { return s.spec.ID() }
func (s *fileSink) String() string { return s.spec.String() }
func (s *fileSink) Close() error   { return nil }

func (s *fileSink) Deliver(ctx context.Context, findings []Finding) []error {
	data, err := ndjson(ctx, findings)
	if err != nil {
		return allErrors(len(findings), err)
	}
	return allErrors(len(findings), s.append(data))
}

func (s *fileSink) append(data []byte) error {
	path := s.spec.Path
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, os.ErrNotExist)
	// 0600: findings name users and what they did.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open %s: %w (the findings are kept for the next run)", path, err)
	}
	defer f.Close()
	if torn, err := endsTorn(path); err != nil {
		return fmt.Errorf("read the end of %s: %w", path, err)
	} else if torn {
		data = append([]byte{'\n'}, data...)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("append to %s: %w (the findings are kept for the next run)", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w (the findings are kept for the next run)", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w (the findings are kept for the next run)", path, err)
	}
	if created {
		// The new file's name must survive a crash too.
		if err := syncDir(filepath.Dir(path)); err != nil {
			return fmt.Errorf("sync folder of %s: %w (the findings are kept for the next run)", path, err)
		}
	}
	return nil
}

// endsTorn reports whether the file is non-empty and does not end with a newline: the last
// append was cut short.
func endsTorn(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return false, err
	}
	var last [1]byte
	if _, err := f.ReadAt(last[:], fi.Size()-1); err != nil {
		return false, err
	}
	return last[0] != '\n', nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
