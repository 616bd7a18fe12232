package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// downloader fetches one repo revision into the cache.
type downloader struct {
	repoID, rev string
	cache       cache
	endpoint    *url.URL
	token       string
	head, get   *http.Client // head never follows redirects; get strips the token off-host
	progress    io.Writer
	plain       bool
	retryBase   time.Duration
	now         func() time.Time
	stall       time.Duration
	minProgress int64
	maxFileSize int64
	freeSpace   func(string) (uint64, bool)
	spaceEvery  int64
}

// fileMeta is what a HEAD request says about one file.
type fileMeta struct {
	name     string
	commit   string // X-Repo-Commit
	etag     string // blob name: X-Linked-Etag, else ETag, normalized
	size     int64  // X-Linked-Size, else Content-Length
	location string // where to GET the bytes
}

func newDownloader(repoID, rev string, c cache, opts Options) (*downloader, error) {
	ep, err := endpointURL(opts.Endpoint)
	if err != nil {
		return nil, err
	}
	base := opts.Client
	if base == nil {
		// No overall timeout (a large file takes what it takes), but a
		// server that never answers is a transient failure, as
		// huggingface_hub's 10 s HEAD timeout makes it.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = responseHeaderTimeout
		base = &http.Client{Transport: t}
	}
	d := &downloader{
		repoID: repoID, rev: rev, cache: c, endpoint: ep,
		token:     token(opts.Token),
		progress:  opts.Progress,
		plain:     opts.ProgressPlain,
		retryBase: opts.retryBase,
		now:       opts.now,
	}
	if d.retryBase <= 0 {
		d.retryBase = defaultRetryBase
	}
	if d.now == nil {
		d.now = time.Now
	}
	d.stall, d.minProgress, d.maxFileSize, d.freeSpace = opts.StallTimeout, opts.MinProgress, opts.MaxFileSize, opts.freeSpace
	if d.stall <= 0 {
		d.stall = defaultStall
	}
	if d.minProgress <= 0 {
		d.minProgress = defaultMinProgress
	}
	if d.maxFileSize <= 0 {
		d.maxFileSize = DefaultMaxFileSize
	}
	if d.freeSpace == nil {
		d.freeSpace = freeSpace
	}
	if d.spaceEvery = opts.spaceEvery; d.spaceEvery <= 0 {
		d.spaceEvery = checkSpaceEvery
	}
	head := *base
	head.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	get := *base
	get.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		if !d.onEndpoint(req.URL) {
			req.Header.Del("Authorization")
		}
		return nil
	}
	d.head, d.get = &head, &get
	return d, nil
}

// run resolves every model file, fetches the missing blobs, and only then
// links the snapshot and writes the ref.
func (d *downloader) run(ctx context.Context) (string, error) {
	var metas []fileMeta
	rev := d.rev
	hasTokenizer := false
	for _, f := range modelFiles() {
		m, err := d.resolve(ctx, rev, f.name)
		var missing *entryMissingError
		if errors.As(err, &missing) && !f.required {
			if missing.commit != "" {
				if err := d.cache.markMissing(missing.commit, f.name); err != nil {
					return "", err
				}
			}
			continue
		}
		if err != nil {
			return "", err
		}
		if len(metas) > 0 && m.commit != metas[0].commit {
			return "", fmt.Errorf("hub: %s: %s is at commit %s, %s at %s", d.repoID, f.name, m.commit, metas[0].name, metas[0].commit)
		}
		// Fetch the remaining files at the commit, not the branch, so a
		// push during the download cannot mix two revisions.
		rev = m.commit
		hasTokenizer = hasTokenizer || f.name == "vocab.txt" || f.name == "tokenizer.json"
		metas = append(metas, m)
	}
	if !hasTokenizer {
		return "", fmt.Errorf("hub: %s@%s: neither vocab.txt nor tokenizer.json: %w", d.repoID, d.rev, ErrNotFound)
	}
	for _, m := range metas {
		if err := d.fetchBlob(ctx, m); err != nil {
			return "", err
		}
	}
	commit := metas[0].commit
	for _, m := range metas {
		if err := d.cache.link(commit, m.name, m.etag); err != nil {
			return "", err
		}
	}
	if err := d.cache.writeRef(d.rev, commit); err != nil {
		return "", err
	}
	return d.cache.snapshotDir(commit), nil
}

// entryMissingError is a 404 for a file in a repo and revision that exist.
type entryMissingError struct {
	err    error
	commit string // X-Repo-Commit of the 404, "" if absent
}

func (e *entryMissingError) Error() string { return e.err.Error() }
func (e *entryMissingError) Unwrap() error { return e.err }

// resolve does huggingface_hub's metadata HEAD: redirects within the
// endpoint host (renamed repos) are followed, a redirect elsewhere (the CDN)
// is not, and its headers are the metadata.
func (d *downloader) resolve(ctx context.Context, rev, file string) (fileMeta, error) {
	target := d.fileURL(rev, file)
	for hops := 0; ; hops++ {
		resp, err := d.send(ctx, d.head, http.MethodHead, target, file, 0)
		if err != nil {
			return fileMeta{}, err
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound && resp.Header.Get("X-Error-Code") == "EntryNotFound" {
			e := &entryMissingError{err: d.statusError(file, resp, ErrNotFound), commit: resp.Header.Get("X-Repo-Commit")}
			if !isCommit(e.commit) {
				e.commit = ""
			}
			return fileMeta{}, e
		}
		if err := d.checkStatus(file, resp); err != nil {
			return fileMeta{}, err
		}
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			loc, err := resp.Location()
			if err != nil {
				return fileMeta{}, fmt.Errorf("hub: %s: %s: HTTP %d without a usable Location", d.repoID, file, resp.StatusCode)
			}
			if loc.Host == d.endpoint.Host && resp.Header.Get("X-Linked-Etag") == "" {
				if hops >= 10 {
					return fileMeta{}, fmt.Errorf("hub: %s: %s: too many redirects", d.repoID, file)
				}
				target = loc.String()
				continue
			}
			return d.meta(file, resp, loc.String())
		}
		m, err := d.meta(file, resp, target)
		if err == nil && target == d.fileURL(rev, file) {
			// Fetch the bytes of the commit the metadata describes.
			m.location = d.fileURL(m.commit, file)
		}
		return m, err
	}
}

// meta reads the metadata headers of a HEAD response.
func (d *downloader) meta(file string, resp *http.Response, location string) (fileMeta, error) {
	m := fileMeta{name: file, commit: resp.Header.Get("X-Repo-Commit"), location: location}
	etag := resp.Header.Get("X-Linked-Etag")
	if etag == "" {
		etag = resp.Header.Get("ETag")
	}
	m.etag = normalizeETag(etag)
	size := resp.Header.Get("X-Linked-Size")
	if size == "" {
		size = resp.Header.Get("Content-Length")
	}
	var err error
	m.size, err = strconv.ParseInt(size, 10, 64)
	switch {
	case !isCommit(m.commit):
		return m, fmt.Errorf("hub: %s: %s: response has no commit hash (X-Repo-Commit %q): is %s a Hugging Face hub?", d.repoID, file, m.commit, d.endpoint.Redacted())
	case !validBlobName(m.etag):
		return m, fmt.Errorf("hub: %s: %s: response has no usable ETag (%q)", d.repoID, file, etag)
	case err != nil || m.size < 0:
		return m, fmt.Errorf("hub: %s: %s: response has no usable size (%q)", d.repoID, file, size)
	case m.size > d.capOf(file):
		return m, fmt.Errorf("hub: %s@%s: %s: the hub claims %d bytes, more than the %d allowed: %w", d.repoID, d.rev, file, m.size, d.capOf(file), ErrTooLarge)
	}
	return m, nil
}

// capOf is the largest size file may have.
func (d *downloader) capOf(file string) int64 {
	if c, ok := fileCaps[file]; ok {
		return c
	}
	return d.maxFileSize
}

// checkSpace fails with ErrNoSpace when the file system holding path has
// less free space than need bytes; unknown free space passes.
func (d *downloader) checkSpace(m fileMeta, path string, need int64) error {
	free, ok := d.freeSpace(path)
	if !ok || need <= 0 || uint64(need) <= free {
		return nil
	}
	return fmt.Errorf("hub: %s@%s: %s: %d more bytes to write, %d free on the file system of %s: %w",
		d.repoID, d.rev, m.name, need, free, filepath.Dir(path), ErrNoSpace)
}

func (d *downloader) fileURL(rev, file string) string {
	// The revision is one path segment: "refs/pr/1" travels as "refs%2Fpr%2F1".
	return strings.TrimSuffix(d.endpoint.String(), "/") + "/" + d.repoID + "/resolve/" + url.PathEscape(rev) + "/" + file
}

// onEndpoint reports whether a request to u may carry the token.
func (d *downloader) onEndpoint(u *url.URL) bool {
	return strings.EqualFold(u.Host, d.endpoint.Host) && u.Scheme == d.endpoint.Scheme
}

// send makes one request, retrying connection errors and 429/5xx answers.
// from > 0 asks for the bytes from that offset on.
func (d *downloader) send(ctx context.Context, client *http.Client, method, target, file string, from int64) (*http.Response, error) {
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, target, nil)
		if err != nil {
			return nil, fmt.Errorf("hub: %s: %s: %w", d.repoID, file, err)
		}
		// Sizes and hashes are of the raw bytes: no transparent gzip.
		req.Header.Set("Accept-Encoding", "identity")
		req.Header.Set("User-Agent", "minilm (huggingface_hub-compatible)")
		if from > 0 {
			req.Header.Set("Range", "bytes="+strconv.FormatInt(from, 10)+"-")
		}
		if d.token != "" && d.onEndpoint(req.URL) {
			req.Header.Set("Authorization", "Bearer "+d.token)
		}
		resp, err := client.Do(req)
		if err == nil && !retryableStatus(resp.StatusCode) {
			return resp, nil
		}
		if err == nil {
			resp.Body.Close()
			err = d.statusError(file, resp, nil)
		} else {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			err = d.transportError(file, err)
		}
		if attempt == maxAttempts {
			return nil, fmt.Errorf("%w (gave up after %d attempts)", err, attempt)
		}
		if err := d.pause(ctx, attempt); err != nil {
			return nil, err
		}
	}
}

func retryableStatus(code int) bool {
	return code == http.StatusTooManyRequests || code >= 500
}

// pause waits before retry number attempt (1-based), doubling each time.
func (d *downloader) pause(ctx context.Context, attempt int) error {
	delay := d.retryBase << (attempt - 1)
	if delay > maxRetryDelay || delay <= 0 {
		delay = maxRetryDelay
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// checkStatus turns a final error status into an error naming repo, file
// and status; 2xx and 3xx pass.
func (d *downloader) checkStatus(file string, resp *http.Response) error {
	switch {
	case resp.StatusCode < 400:
		return nil
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return d.statusError(file, resp, ErrUnauthorized)
	case resp.StatusCode == http.StatusNotFound:
		return d.statusError(file, resp, ErrNotFound)
	default:
		return d.statusError(file, resp, nil)
	}
}

// statusError names the repo, revision, file and status. It never includes
// the request headers or the URL's query (a signed CDN URL).
func (d *downloader) statusError(file string, resp *http.Response, sentinel error) error {
	detail := ""
	if code := resp.Header.Get("X-Error-Code"); code != "" {
		detail = " (" + sanitize(code) + ")"
	}
	prefix := fmt.Sprintf("hub: %s@%s: %s: HTTP %d%s", d.repoID, d.rev, file, resp.StatusCode, detail)
	switch sentinel {
	case nil:
		return errors.New(prefix)
	case ErrUnauthorized:
		hint := "check the repo id, or set HF_TOKEN to a token with read access"
		if d.token != "" {
			hint = "check the repo id and that the token has access (gated repos: accept their terms on the hub)"
		}
		return fmt.Errorf("%s: %w (%s)", prefix, sentinel, hint)
	default:
		return fmt.Errorf("%s: %w", prefix, sentinel)
	}
}

// transportError describes a failed request without its URL, which for a
// CDN carries a signature.
func (d *downloader) transportError(file string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("hub: %s@%s: %s: %w", d.repoID, d.rev, file, err)
}

// sanitize keeps a server-provided string printable and short.
func sanitize(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

// fetchBlob makes blobs/<etag> exist with verified content, holding the
// blob's lock while it writes.
func (d *downloader) fetchBlob(ctx context.Context, m fileMeta) error {
	blob := d.cache.blobPath(m.etag)
	if ok, err := exists(blob); err != nil || ok {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	release, err := acquireLock(ctx, d.cache.lockPath(m.etag))
	if err != nil {
		return fmt.Errorf("hub: lock %s: %w", m.name, err)
	}
	defer release()
	// Another process may have finished it while we waited for the lock.
	if ok, err := exists(blob); err != nil || ok {
		return err
	}
	return d.download(ctx, m, blob)
}

// download fetches m into blob+".incomplete", resuming what is there, then
// verifies it and renames it to blob. The caller holds the blob's lock.
func (d *downloader) download(ctx context.Context, m fileMeta, blob string) error {
	partial := blob + ".incomplete"
	f, err := os.OpenFile(partial, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	defer f.Close()
	var h hash.Hash
	if isLFS(m.etag) {
		h = sha256.New()
	}
	have, err := resumeFrom(f, h, m.size)
	if err != nil {
		return fmt.Errorf("hub: %s: read partial download: %w", m.name, err)
	}
	if err := d.checkSpace(m, partial, m.size-have); err != nil {
		return err
	}
	bar := newProgress(d.progress, d.plain, m.name, m.size, have, d.now)
	for failures := 0; have < m.size; {
		var err error
		have, err = d.getOnce(ctx, m, f, h, have, bar)
		if err == nil {
			continue
		}
		var r *restartError
		if errors.As(err, &r) {
			if err := restart(f, h); err != nil {
				return fmt.Errorf("hub: %s: %w", m.name, err)
			}
			have = 0
			bar.restart()
		}
		if !isTransient(err) {
			return err
		}
		if failures++; failures == maxAttempts {
			return fmt.Errorf("%w (gave up after %d attempts)", err, failures)
		}
		if err := d.pause(ctx, failures); err != nil {
			return err
		}
	}
	bar.finish()
	if err := d.verify(f, h, m, have); err != nil {
		f.Close()
		os.Remove(partial)
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("hub: %s: %w", m.name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("hub: %s: %w", m.name, err)
	}
	if err := os.Rename(partial, blob); err != nil {
		return fmt.Errorf("hub: %s: %w", m.name, err)
	}
	return nil
}

// resumeFrom positions f at the end of what a previous run left, feeding
// those bytes to h, and returns their count. A partial file longer than the
// expected size is useless and is emptied.
func resumeFrom(f *os.File, h hash.Hash, size int64) (int64, error) {
	info, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if info.Size() > size {
		return 0, restart(f, h)
	}
	if h != nil {
		if _, err := io.Copy(h, f); err != nil {
			return 0, err
		}
	}
	return f.Seek(0, io.SeekEnd)
}

// restart empties the partial file and the running hash.
func restart(f *os.File, h hash.Hash) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if h != nil {
		h.Reset()
	}
	_, err := f.Seek(0, io.SeekStart)
	return err
}

// verify checks the size and, for an LFS blob, the sha256.
func (d *downloader) verify(f *os.File, h hash.Hash, m fileMeta, have int64) error {
	if have != m.size {
		return fmt.Errorf("hub: %s@%s: %s: got %d bytes, want %d: %w", d.repoID, d.rev, m.name, have, m.size, ErrIntegrity)
	}
	if h == nil {
		return nil
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != m.etag {
		return fmt.Errorf("hub: %s@%s: %s: sha256 %s, want %s: %w", d.repoID, d.rev, m.name, got, m.etag, ErrIntegrity)
	}
	return nil
}

// transientError is a failure worth retrying: the connection broke or the
// server answered 429/5xx.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// restartError: the server would not resume, so start the file over.
type restartError struct{ err error }

func (e *restartError) Error() string { return e.err.Error() }
func (e *restartError) Unwrap() error { return e.err }

func isTransient(err error) bool {
	var t *transientError
	var r *restartError
	return errors.As(err, &t) || errors.As(err, &r)
}

// getOnce makes one GET from offset have, appends what arrives to f and h,
// and returns the new offset. A watchdog abandons the GET when it breaks the
// minimum-progress rule; that is transient, so the caller resumes.
func (d *downloader) getOnce(ctx context.Context, m fileMeta, f *os.File, h hash.Hash, have int64, bar *progress) (int64, error) {
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := newWatchdog(d.stall, d.minProgress, cancel)
	defer w.stop()
	stalled := func(at int64) error {
		return &transientError{fmt.Errorf("hub: %s@%s: %s: fewer than %d bytes in %v at byte %d of %d: %w",
			d.repoID, d.rev, m.name, d.minProgress, d.stall, at, m.size, ErrStalled)}
	}
	resp, err := d.send(gctx, d.get, http.MethodGet, m.location, m.name, have)
	if err != nil {
		if ctx.Err() == nil && w.fired() {
			return have, stalled(have)
		}
		return have, err
	}
	defer resp.Body.Close()
	got, err := d.handleGet(ctx, m, f, h, have, bar, resp, w)
	if err != nil && ctx.Err() == nil && w.fired() {
		return got, stalled(got)
	}
	return got, err
}

// handleGet checks a GET's status and copies its body.
func (d *downloader) handleGet(ctx context.Context, m fileMeta, f *os.File, h hash.Hash, have int64, bar *progress, resp *http.Response, w *watchdog) (int64, error) {
	switch resp.StatusCode {
	case http.StatusOK:
		if have > 0 {
			// The server ignored the Range: the body starts at byte 0.
			if err := restart(f, h); err != nil {
				return have, fmt.Errorf("hub: %s: %w", m.name, err)
			}
			bar.restart()
			have = 0
		}
	case http.StatusPartialContent:
		start, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != have || (total >= 0 && total != m.size) {
			return have, &restartError{fmt.Errorf("hub: %s@%s: %s: server resumed at the wrong place (Content-Range %q)",
				d.repoID, d.rev, m.name, sanitize(resp.Header.Get("Content-Range")))}
		}
	case http.StatusRequestedRangeNotSatisfiable:
		return have, &restartError{fmt.Errorf("hub: %s@%s: %s: HTTP 416 resuming at byte %d", d.repoID, d.rev, m.name, have)}
	default:
		if err := d.checkStatus(m.name, resp); err != nil {
			return have, err
		}
		return have, fmt.Errorf("hub: %s@%s: %s: unexpected HTTP %d", d.repoID, d.rev, m.name, resp.StatusCode)
	}
	if resp.ContentLength > m.size-have {
		return have, fmt.Errorf("hub: %s@%s: %s: server announces %d bytes from byte %d, more than the %d claimed: %w",
			d.repoID, d.rev, m.name, resp.ContentLength, have, m.size, ErrIntegrity)
	}
	return d.copyBody(ctx, m, f, h, resp.Body, have, bar, w)
}

// copyBody appends body to f and h from offset have until m.size bytes are
// there, and returns the new offset. A body that breaks off is transient; one
// longer than m.size is an integrity failure.
func (d *downloader) copyBody(ctx context.Context, m fileMeta, f *os.File, h hash.Hash, body io.Reader, have int64, bar *progress, w *watchdog) (int64, error) {
	buf := make([]byte, 256<<10)
	nextCheck := have + d.spaceEvery
	for {
		n, rerr := body.Read(buf)
		if int64(n) > m.size-have {
			return have, fmt.Errorf("hub: %s@%s: %s: server sent more than %d bytes: %w", d.repoID, d.rev, m.name, m.size, ErrIntegrity)
		}
		if n > 0 {
			if _, err := f.Write(buf[:n]); err != nil {
				return have, fmt.Errorf("hub: %s: %w", m.name, err)
			}
			if h != nil {
				h.Write(buf[:n])
			}
			have += int64(n)
			bar.add(int64(n))
			w.add(int64(n))
			if have >= nextCheck {
				// Others may be filling the disk too: check again while writing.
				if err := d.checkSpace(m, f.Name(), m.size-have); err != nil {
					return have, err
				}
				nextCheck = have + d.spaceEvery
			}
		}
		switch {
		case rerr == io.EOF && have < m.size:
			return have, &transientError{fmt.Errorf("hub: %s@%s: %s: connection closed at byte %d of %d: %w", d.repoID, d.rev, m.name, have, m.size, io.ErrUnexpectedEOF)}
		case rerr == io.EOF:
			return have, nil
		case rerr != nil && ctx.Err() != nil:
			return have, ctx.Err()
		case rerr != nil:
			return have, &transientError{d.transportError(m.name, rerr)}
		}
	}
}

// parseContentRange parses "bytes START-END/TOTAL" (TOTAL may be "*",
// returned as -1).
func parseContentRange(s string) (start, total int64, ok bool) {
	rest, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, false
	}
	span, size, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	first, last, found := strings.Cut(span, "-")
	if !found {
		return 0, 0, false
	}
	start, err1 := strconv.ParseInt(first, 10, 64)
	end, err2 := strconv.ParseInt(last, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, 0, false
	}
	if size == "*" {
		return start, -1, true
	}
	total, err := strconv.ParseInt(size, 10, 64)
	if err != nil || total <= end {
		return 0, 0, false
	}
	return start, total, true
}
