package delivery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"

	"github.com/mcasload/mcasload/internal/clock"
)

// Sink delivers findings to one receiver.
type Sink interface {
	// ID is the sink's stable, secret-free name (Spec.ID), for per-sink delivery state.
	ID() string
	// String describes the sink without secrets, for messages.
	String() string
	// Deliver sends the findings and returns one error per finding, in order: nil when the
	// receiver accepted it (docs/detect.md, "What accepted means"), else why not and what to do.
	// A finding that is not accepted may still have arrived: it is sent again on the next run
	// with the same id, and the receiver deduplicates.
	Deliver(ctx context.Context, findings []Finding) []error
	// Close releases what the sink holds open.
	Close() error
}

// Options are what sinks take from their caller rather than from their spec.
type Options struct {
	// Clock times retries and backoff and stamps syslog headers and webhook signatures; nil is
	// the wall clock. Network timeouts are real time regardless.
	Clock clock.Clock
	// Jitter returns a number in [0, 1) that spreads backoff delays; nil is math/rand.
	Jitter func() float64
	// Stdout is where the stdout sink ("-") writes.
	Stdout io.Writer
	// Version is the product's version, in CEF headers, syslog origin data and User-Agent.
	Version string
	// Hostname is the syslog HOSTNAME when the spec sets none; empty is os.Hostname.
	Hostname string
	// Log receives one line per retry; nil discards them.
	Log *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Jitter == nil {
		o.Jitter = rand.Float64
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.Hostname == "" {
		o.Hostname, _ = os.Hostname()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// Dispatcher delivers each finding to every configured sink.
type Dispatcher struct {
	sinks []Sink
}

// Open builds the sinks of specs, reading their secret, CA and certificate files now, so that a
// missing or too widely readable file is reported (as a *SpecError) before anything is sent.
func Open(specs []Spec, opts Options) (*Dispatcher, error) {
	if len(specs) == 0 {
		return nil, errors.New("open sinks: no sink given")
	}
	opts = opts.withDefaults()
	d := &Dispatcher{}
	for _, sp := range specs {
		s, err := NewSink(sp, opts)
		if err != nil {
			_ = d.Close()
			return nil, err
		}
		d.sinks = append(d.sinks, s)
	}
	return d, nil
}

// NewSink builds the sink of one spec.
func NewSink(sp Spec, opts Options) (Sink, error) {
	opts = opts.withDefaults()
	switch sp.Kind {
	case KindStdout:
		return &streamSink{spec: sp, w: opts.Stdout}, nil
	case KindFile:
		return newFileSink(sp)
	case KindWebhook:
		return newWebhookSink(sp, opts)
	case KindSyslog:
		return newSyslogSink(sp, opts)
	}
	return nil, specErrorf(sp.String(), "unknown kind %q", sp.Kind)
}

// Sinks are the dispatcher's sinks, in the order they were given.
func (d *Dispatcher) Sinks() []Sink { return d.sinks }

// SinkResult is one sink's answer for one finding.
type SinkResult struct {
	Sink string // Sink.ID
	Err  error  // nil: accepted
}

// Result is what became of one finding.
type Result struct {
	ID           string
	Notification int
	// Sinks holds every sink's answer, in the dispatcher's order.
	Sinks []SinkResult
	// Err is nil when every sink accepted the finding; else the failures, one per sink, each
	// naming the sink and what to do.
	Err error
}

// Accepted reports whether every sink accepted the finding: only then may it be marked
// delivered.
func (r Result) Accepted() bool { return r.Err == nil }

// Deliver sends every valid finding to every sink and returns one Result per finding, in order.
// An invalid finding (Finding.Validate) is sent nowhere and fails with the reason.
func (d *Dispatcher) Deliver(ctx context.Context, findings []Finding) []Result {
	results := make([]Result, len(findings))
	var valid []Finding
	var at []int
	for i := range findings {
		f := &findings[i]
		results[i] = Result{ID: f.ID, Notification: f.Notification}
		if err := f.Validate(); err != nil {
			results[i].Err = fmt.Errorf("not sent: %w", err)
			for _, s := range d.sinks {
				results[i].Sinks = append(results[i].Sinks, SinkResult{Sink: s.ID(), Err: err})
			}
			continue
		}
		valid = append(valid, *f)
		at = append(at, i)
	}
	if len(valid) == 0 {
		return results
	}
	failed := make([][]error, len(valid))
	for _, s := range d.sinks {
		errs := s.Deliver(ctx, valid)
		for j, i := range at {
			var err error
			if j < len(errs) {
				err = errs[j]
			} else {
				err = errors.New("the sink gave no answer for this finding (a bug): it is kept for the next run")
			}
			results[i].Sinks = append(results[i].Sinks, SinkResult{Sink: s.ID(), Err: err})
			if err != nil {
				failed[j] = append(failed[j], fmt.Errorf("%s: %w", s, err))
			}
		}
	}
	for j, i := range at {
		results[i].Err = errors.Join(failed[j]...)
	}
	return results
}

// Close closes every sink.
func (d *Dispatcher) Close() error {
	var errs []error
	for _, s := range d.sinks {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}
