package main

import (
	"testing"

	"github.com/mcasload/mcasload/internal/testkit"
)

// TestMain removes the binaries the process tests built (testkit.Build).
func TestMain(m *testing.M) { testkit.Main(m) }
