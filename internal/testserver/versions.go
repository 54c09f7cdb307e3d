package testserver

// The pinned versions. .ci/install-test-servers installs the same ones; TestInstallScriptPins
// keeps the two in step.
const (
	// AzuriteVersion is the npm release of Azurite; newer releases need Node 22, these machines
	// have Node 20. It speaks Blob API version 2025-11-05, older than the pinned azblob SDK's.
	AzuriteVersion = "3.35.0"
	// VersityGWVersion is the versitygw module version built with go install.
	VersityGWVersion = "v1.8.0"
	// RsyslogVersion is the upstream rsyslog release of Debian bookworm; Debian's security
	// revisions of it (8.2302.0-1+deb12uN) are accepted.
	RsyslogVersion = "8.2302.0"
	// HyparquetVersion is the npm release of hyparquet, the publish tests' second Parquet
	// reader (pure JavaScript), installed with hyparquet-compressors (zstd) from
	// .ci/hyparquet/package-lock.json.
	HyparquetVersion = "1.31.5"
)
