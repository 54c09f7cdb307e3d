package main

/*
#include <stdlib.h>
#include <string.h>

// mcasload_tune_duckdb_allocator configures DuckDB's built-in jemalloc for the commands that
// write the warehouse. jemalloc reads DUCKDB_JE_MALLOC_CONF once, when it starts, from a
// constructor of its own, before Go's main: so the variable is set here, in a constructor that
// runs first (priority 101; jemalloc's has the default priority), unless the user set it.
// The C environment is changed, not Go's copy of it, so child processes do not inherit it.
//
// The configuration (see duckDBAllocatorConf): one arena instead of one per CPU, because the
// commits and the Parquet writer took turns in two, each keeping its own freed pages (one arena
// measured 0.5 s less CPU and 13 MB less peak memory per 100k records); freed pages are kept
// for 1 s for reuse. It was 10 s, which a load of re-delivered records into a 20M-row
// warehouse paid for: each commit's dedupe query read two days' ids into DuckDB's cache and the
// next attach read them again into fresh pages, and peak memory rose commit by commit (343–397 MB
// for 100k, 320 MB with 1 s; the same time); a load of new records was unchanged (1M: 293 / 294
// MB against 296 / 300 MB, 40–42 s either way).
// For `stream` (200k lines of a folder, twice each): 379 / 391 MB peak without it, 336 / 322 MB
// with it, no slower.
// glibc's malloc, which DuckDB's other C++ objects use, is tuned in main (tuneMalloc).
__attribute__((constructor(101))) static void mcasload_tune_duckdb_allocator(int argc, char **argv, char **envp) {
	static const char *writers[] = {"load", "scan", "stream", "audit", "demo", "optimize", NULL};
	if (getenv("DUCKDB_JE_MALLOC_CONF") != NULL) {
		return;
	}
	for (int i = 1; i < argc; i++) {
		for (int j = 0; writers[j] != NULL; j++) {
			if (strcmp(argv[i], writers[j]) == 0) {
				setenv("DUCKDB_JE_MALLOC_CONF", "narenas:1,dirty_decay_ms:1000,muzzy_decay_ms:1000", 0);
				return;
			}
		}
	}
}
*/
import "C"
