// Package queries holds the canned investigations (embedded .sql files with a header), the shared
// classification of raw operations, parameter binding and the locked-down runner.
package queries
