// Package remote publishes a warehouse's Parquet dataset to object storage exactly once, and
// keeps read-only copies of a published dataset on other machines.
//
// A published dataset is the warehouse's parquet/ folder under a prefix, file for file
// (<table>/[tenant=…/]day=…/part-….parquet), plus manifests: _manifests/v<N>.json names the
// complete set of files of version N with their sizes, sha256 digests and row counts. Files and
// manifests are written create-only, so a remote file never changes once written; a reader that
// follows the newest manifest (Latest, Sync) sees one committed state, never half a commit or
// half a compaction. Files a newer manifest drops are listed in it as superseded and deleted
// only after a grace period, so a reader that began with the older manifest can finish.
//
//   - Publish (mcasload push) uploads what the remote side lacks, writes the next manifest,
//     and deletes superseded objects whose grace period is over. A Ledger records the dataset
//     id, the version written and the uploads under way, so an interrupted publish is continued.
//   - Sync (mcasload sync) builds or refreshes a local copy from the newest manifest,
//     downloading only what changed and checking every digest.
//   - Verify (mcasload verify --remote) compares a local dataset, the newest manifest and the
//     stored objects.
//
// It talks to storage only through objstore.Store, and knows the dataset only as files under a
// folder: any table and any partition folders publish as they are. docs/publish.md is the
// user's guide: URLs, credentials, the manifest format, what readers see, and engine recipes.
package remote
