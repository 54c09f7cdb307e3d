// Package streaming reads the Microsoft Defender XDR Streaming API's export of the CloudAppEvents
// table from Azure Storage: one container (insights-logs-advancedhunting-cloudappevents), blobs
// under tenantId=…/y=…/m=…/d=…/h=…/m=00/PT1H.json (or any other name) holding one JSON line per
// event, append blobs that grow while their hour lasts and, for late events, after it.
//
// It lists blobs by the hour their paths name (List, Window, Incremental) and reads each one's new
// complete lines from a Cursor that the caller commits with the rows, in its own transaction
// (Resume, Tail, Batch). A blob that no longer continues what was committed — recreated, shrunk,
// rewritten — is a *ResumeError, never a silent skip or a second read. Lines become rows through
// schema.CloudAppEventsConverter. OpenFolder reads a local copy of the container (azcopy's) the
// same way, files pinned by their content (folder.go says why). docs/streaming.md describes the
// export and the layout.
package streaming
