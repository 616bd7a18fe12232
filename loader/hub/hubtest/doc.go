// Package hubtest is a fake Hugging Face Hub for tests: two httptest
// servers, the hub (the resolve endpoint) and a CDN that LFS files redirect
// to, with the headers huggingface_hub reads (ETag, X-Linked-Etag,
// X-Linked-Size, X-Repo-Commit, X-Error-Code), Range support, and faults to
// inject (error statuses, connections cut mid-body, corrupted bodies,
// pauses). Every request is recorded.
package hubtest
