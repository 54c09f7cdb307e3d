package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestCombineExitPrecedence pins the order the README gives: 1, 2, 4, 5 before 6, then 9, 8,
// 11, 3, 10, 7, and success last.
func TestCombineExitPrecedence(t *testing.T) {
	cases := []struct {
		codes []int
		want  int
	}{
		{nil, exitOK},
		{[]int{exitOK}, exitOK},
		{[]int{exitNoData}, exitNoData},
		{[]int{exitNoData, exitNewFindings}, exitNewFindings},
		{[]int{exitNewFindings, exitRejected}, exitRejected},
		{[]int{exitRejected, exitDisagree}, exitDisagree},
		{[]int{exitDisagree, exitIncomplete}, exitIncomplete},
		{[]int{exitIncomplete, exitUndelivered}, exitUndelivered},
		{[]int{exitUndelivered, exitStopped}, exitStopped},
		{[]int{exitStopped, exitAuth}, exitAuth},
		{[]int{exitStopped, exitLocked}, exitLocked},
		{[]int{exitStopped, exitUsage}, exitUsage},
		{[]int{exitStopped, exitFailure}, exitFailure},
		{[]int{exitRejected, exitStopped, exitNoData}, exitStopped},
		{[]int{exitNoData, exitOK, exitRejected}, exitRejected},
		{[]int{exitOK, 99}, 99}, // a code outside the table is a bug: it never passes for success
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.codes), func(t *testing.T) {
			if got := combineExit(tc.codes...); got != tc.want {
				t.Errorf("combineExit(%v) = %d, want %d", tc.codes, got, tc.want)
			}
			// the order of the outcomes never matters
			rev := make([]int, len(tc.codes))
			for i, c := range tc.codes {
				rev[len(rev)-1-i] = c
			}
			if got := combineExit(rev...); got != tc.want {
				t.Errorf("combineExit(%v) = %d, want %d", rev, got, tc.want)
			}
		})
	}
	// every defined code has a place in the order
	for c := exitFailure; c <= exitDisagree; c++ {
		if exitSeverity(c) == 0 {
			t.Errorf("exit code %d has no place in exitPrecedence", c)
		}
	}
}

func TestWorstOfKeepsEveryMessage(t *testing.T) {
	rejected := withCode(exitRejected, errors.New("3 of 10 records were rejected"), "see rejected")
	stopped := withCode(exitStopped, errors.New("stopped by a signal"), "rerun")
	err := worstOf(nil, rejected, stopped)
	if got := exitCodeOf(err); got != exitStopped {
		t.Fatalf("worstOf code = %d, want %d", got, exitStopped)
	}
	var ee *exitError
	if !errors.As(err, &ee) || ee.hint != "rerun" || !strings.Contains(err.Error(), "stopped by a signal") || !strings.Contains(err.Error(), "also: 3 of 10 records") {
		t.Errorf("worstOf = %q (hint %q): want the stop first, the rejects after, the stop's hint", err, ee.hint)
	}
	if worstOf(nil, nil) != nil {
		t.Error("worstOf of no outcome is not nil")
	}
	if worstOf(rejected) != rejected {
		t.Error("worstOf of one outcome changed it")
	}
	plain := errors.New("boom")
	if got := exitCodeOf(worstOf(rejected, plain)); got != exitFailure {
		t.Errorf("a plain error with rejects exits %d, want 1", got)
	}
}

// TestExitCodesDocumented: the README's table lists every code exitcodes.go defines, no other,
// and states the precedence combineExit implements; docs/design.md repeats both.
func TestExitCodesDocumented(t *testing.T) {
	order := make([]string, len(exitPrecedence))
	for i, c := range exitPrecedence {
		order[i] = fmt.Sprint(c)
	}
	// "1, 2, 4, 5, then 6, then 9, 8, 11, 3, 10, 7" read as a list of codes
	for _, doc := range []string{"../../README.md", "../../docs/design.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		section := text[strings.Index(text, "## Exit codes"):]
		if i := strings.Index(section[3:], "\n## "); i >= 0 {
			section = section[:i+3]
		}
		var codes []string
		for _, line := range strings.Split(section, "\n") {
			if f := strings.Split(line, "|"); len(f) > 2 && strings.TrimSpace(f[1]) != "code" && !strings.HasPrefix(strings.TrimSpace(f[1]), "-") {
				codes = append(codes, strings.TrimSpace(f[1]))
			}
		}
		if want := "0 " + strings.Join(sortedCodes(), " "); strings.Join(codes, " ") != want {
			t.Errorf("%s lists codes %v, want %s", doc, codes, want)
		}
		said := strings.NewReplacer("then ", "", " ", "").Replace("1, 2, 4, 5, then 6, then 9, 8, 11, 3, 10, 7")
		if !strings.Contains(section, "1, 2, 4, 5, then 6, then 9, 8, 11, 3, 10, 7") || said != strings.Join(order, ",") {
			t.Errorf("%s: the precedence it states is not exitPrecedence (%s)", doc, strings.Join(order, ", "))
		}
	}
}

func sortedCodes() []string {
	var out []string
	for c := exitFailure; c <= exitDisagree; c++ {
		out = append(out, fmt.Sprint(c))
	}
	return out
}
