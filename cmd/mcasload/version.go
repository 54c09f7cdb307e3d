package main

import "github.com/mcasload/mcasload/schema"

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const schemaVersion = schema.Version
