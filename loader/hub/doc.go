// Package hub downloads a model from the Hugging Face Hub into the local
// Hugging Face cache, laid out exactly as Python's huggingface_hub lays it
// out, so that both share downloads:
//
//	CACHE/models--ORG--NAME/
//	  blobs/<etag>                 file content; <etag>.incomplete while downloading
//	  refs/<revision>              the commit hash, no newline
//	  snapshots/<commit>/<file>    relative symlink ../../blobs/<etag>
//	  .no_exist/<commit>/<file>    empty marker: the repo lacks this file
//	CACHE/.locks/models--ORG--NAME/<etag>.lock
//
// Each file is fetched as huggingface_hub does: a HEAD request on
// ENDPOINT/REPO/resolve/REVISION/FILE that does not follow redirects to
// another host gives the commit (X-Repo-Commit), the blob name (X-Linked-Etag,
// else ETag), the size (X-Linked-Size, else Content-Length) and where the
// bytes are (Location, a CDN for large LFS files); a GET of that location
// then fetches the bytes into blobs/<etag>.incomplete, resuming with an HTTP
// Range request after an interruption. An LFS blob is named by its sha256,
// which is checked before the blob is renamed into place; every file's size
// is checked. Only when every file of the model is in blobs/ are the snapshot
// links and refs/<revision> written, so a snapshot never shows a partial or
// unverified file. A lock file per blob keeps two processes from writing the
// same blob.
//
// The token goes to the endpoint's host only, never to a CDN it redirects to,
// and never appears in an error. Transient failures (connection errors, HTTP
// 429 and 5xx) are retried a bounded number of times with exponential
// backoff. A GET that makes too little progress (Options.StallTimeout,
// MinProgress: a silent or trickling server) is abandoned and resumed with a
// Range request, and fails with ErrStalled after the bounded attempts. A
// claimed size beyond the file's cap (Options.MaxFileSize for the weights)
// fails with ErrTooLarge, and one beyond the free space of the cache's file
// system (statfs, checked before and while writing) with ErrNoSpace, before
// the disk fills; no file is written past its claimed size.
//
// Environment: Download reads HF_ENDPOINT, HF_TOKEN (and the token file
// huggingface_hub writes) and HF_HUB_OFFLINE when the matching Options field
// is left zero. The cache directory is never guessed here: the caller passes
// it (loader.HubCacheDir applies huggingface_hub's HF_HUB_CACHE / HF_HOME
// rule).
package hub
