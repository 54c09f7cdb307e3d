package main

import (
	"bytes"
	"strings"
	"testing"
)

// The notices of the real binary name every linked module with its license text, DuckDB's MIT
// license among them, and the Go license; linkedModules fails if a module has no license file.
func TestNoticesOfTheBinary(t *testing.T) {
	mods, err := linkedModules("github.com/mcasload/mcasload/cmd/mcasload")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := write(&buf, mods); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	for _, want := range []string{
		"github.com/duckdb/duckdb-go-bindings/lib/linux-", "Stichting DuckDB Foundation",
		"github.com/Azure/azure-sdk-for-go/sdk/azidentity", "MIT License",
		"github.com/apache/arrow-go/v18", "Apache License",
		"Go standard library and runtime", "Copyright 2009 The Go Authors",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("notices lack %q", want)
		}
	}
	for _, m := range mods {
		if m.Path == "github.com/mcasload/mcasload" {
			t.Error("the notices list mcasload itself")
		}
	}
}
