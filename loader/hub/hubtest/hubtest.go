package hubtest

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// File is one file of a fake repo.
type File struct {
	Name string
	Data []byte
	// LFS files answer HEAD and GET with a 302 to the CDN carrying
	// X-Linked-Etag (the sha256) and X-Linked-Size, as the hub does.
	LFS bool
	// ViaCDN makes a regular file's GET (not its HEAD) redirect to the CDN,
	// so a client must follow a cross-host redirect itself.
	ViaCDN bool
}

// Repo is a fake model repo with a single commit.
type Repo struct {
	ID     string
	Commit string   // 40 hex digits; "" derives one from ID
	Refs   []string // names resolving to Commit; nil means {"main"}
	Files  []File
	// Token, when set, makes the repo private: requests without
	// "Authorization: Bearer <Token>" get 401.
	Token string
	// OldIDs are former names, answered with a relative 307 to the
	// current name like a renamed repo.
	OldIDs []string
}

// Request is one request a server received.
type Request struct {
	Server        string // "hub" or "cdn"
	Method        string
	Path          string // decoded path, without the query
	Range         string // the Range header
	Authorization string // the Authorization header
}

// Server is the fake hub. Methods are safe for concurrent use.
type Server struct {
	hub, cdn *httptest.Server

	mu        sync.Mutex
	repos     map[string]*Repo  // by current and old ids
	blobs     map[string][]byte // LFS content by sha256, served by the CDN
	requests  []Request
	onRequest func(Request)
	faults    map[string]*fault // by file name
}

// fault is what is still to go wrong for one file name.
type fault struct {
	status       int // answer this status...
	statusLeft   int // ...this many more times
	cutAfter     int64
	cutLeft      int
	corrupt      bool
	ignoreRange  bool
	pauseAfter   int64
	pauseRelease <-chan struct{}
	stallAfter   int64 // every body stops after this many bytes; -1: never
	trickle      time.Duration
	claim        int64 // size the metadata claims; 0: the real one
}

// NewServer starts a fake hub serving repos. Close it when done.
func NewServer(repos ...Repo) *Server {
	s := &Server{repos: map[string]*Repo{}, blobs: map[string][]byte{}, faults: map[string]*fault{}}
	for i := range repos {
		r := repos[i]
		if r.Commit == "" {
			sum := sha1.Sum([]byte("commit " + r.ID))
			r.Commit = hex.EncodeToString(sum[:])
		}
		if r.Refs == nil {
			r.Refs = []string{"main"}
		}
		s.repos[r.ID] = &r
		for _, old := range r.OldIDs {
			s.repos[old] = &r
		}
		for _, f := range r.Files {
			if f.LFS || f.ViaCDN {
				s.blobs[SHA256(f.Data)] = f.Data
			}
		}
	}
	s.hub = httptest.NewServer(http.HandlerFunc(s.serveHub))
	s.cdn = httptest.NewServer(http.HandlerFunc(s.serveCDN))
	return s
}

// RepoFromDir builds a Repo from the files in dir (not recursing);
// *.safetensors and *.bin files are LFS files.
func RepoFromDir(id, dir string) (Repo, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return Repo{}, fmt.Errorf("hubtest: %w", err)
	}
	r := Repo{ID: id}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return Repo{}, fmt.Errorf("hubtest: %w", err)
		}
		ext := filepath.Ext(e.Name())
		r.Files = append(r.Files, File{Name: e.Name(), Data: data, LFS: ext == ".safetensors" || ext == ".bin"})
	}
	return r, nil
}

// URL is the hub endpoint (what HF_ENDPOINT would be).
func (s *Server) URL() string { return s.hub.URL }

// CDNURL is the CDN's base URL; its host differs from the hub's.
func (s *Server) CDNURL() string { return s.cdn.URL }

// Close shuts both servers down.
func (s *Server) Close() {
	s.hub.Close()
	s.cdn.Close()
}

// Commit returns the commit hash of repo id.
func (s *Server) Commit(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.repos[id]; r != nil {
		return r.Commit
	}
	return ""
}

// Requests returns the requests received so far, in order of arrival.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// OnRequest calls f (from the serving goroutine) as each request arrives.
func (s *Server) OnRequest(f func(Request)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onRequest = f
}

func (s *Server) fault(file string) *fault {
	f := s.faults[file]
	if f == nil {
		f = &fault{stallAfter: -1}
		s.faults[file] = f
	}
	return f
}

// FailNext answers the next n hub requests for file (HEAD or GET) with status.
func (s *Server) FailNext(file string, status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fault(file)
	f.status, f.statusLeft = status, n
}

// CutNext closes the connection after `after` bytes of the next n bodies
// served for file.
func (s *Server) CutNext(file string, after int64, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fault(file)
	f.cutAfter, f.cutLeft = after, n
}

// Corrupt makes every body served for file differ from its content in one
// byte (same length).
func (s *Server) Corrupt(file string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault(file).corrupt = true
}

// IgnoreRange makes every body served for file the whole file with status
// 200, whatever Range the request carries (servers may do so).
func (s *Server) IgnoreRange(file string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault(file).ignoreRange = true
}

// PauseNext makes the next body served for file stop after `after` bytes
// until release is closed (or the client goes away).
func (s *Server) PauseNext(file string, after int64, release <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fault(file)
	f.pauseAfter, f.pauseRelease = after, release
}

// StallAfter makes every body served for file stop after `after` bytes
// until the client goes away: a server that keeps the connection open and
// sends nothing more.
func (s *Server) StallAfter(file string, after int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault(file).stallAfter = after
}

// Trickle makes every body served for file arrive one byte per interval.
func (s *Server) Trickle(file string, interval time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault(file).trickle = interval
}

// ClaimSize makes the metadata (HEAD) of file claim size bytes, whatever
// its content's size; the bytes served stay the real ones.
func (s *Server) ClaimSize(file string, size int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault(file).claim = size
}

// claimed is the size the metadata of file claims, real unless ClaimSize.
func (s *Server) claimed(file string, real int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.faults[file]; f != nil && f.claim > 0 {
		return strconv.FormatInt(f.claim, 10)
	}
	return strconv.Itoa(real)
}

// record logs r and runs the OnRequest hook.
func (s *Server) record(server string, r *http.Request) {
	req := Request{Server: server, Method: r.Method, Path: r.URL.Path, Range: r.Header.Get("Range"), Authorization: r.Header.Get("Authorization")}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	hook := s.onRequest
	s.mu.Unlock()
	if hook != nil {
		hook(req)
	}
}

// serveHub answers /{repo}/resolve/{revision}/{file}.
func (s *Server) serveHub(w http.ResponseWriter, r *http.Request) {
	s.record("hub", r)
	id, rev, file, ok := splitResolve(r.URL.EscapedPath())
	if !ok || (r.Method != http.MethodHead && r.Method != http.MethodGet) {
		http.Error(w, "not a resolve URL", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	repo := s.repos[id]
	var status int
	if f := s.faults[file]; f != nil && f.statusLeft > 0 {
		f.statusLeft--
		status = f.status
	}
	s.mu.Unlock()
	if status != 0 {
		http.Error(w, http.StatusText(status), status)
		return
	}
	h := w.Header()
	if repo == nil || (repo.Token != "" && r.Header.Get("Authorization") != "Bearer "+repo.Token) {
		// The hub hides private repos: no token and no repo look alike.
		h.Set("X-Error-Code", "RepoNotFound")
		status := http.StatusNotFound
		if repo != nil || r.Header.Get("Authorization") == "" {
			status = http.StatusUnauthorized
		}
		http.Error(w, "Repository not found", status)
		return
	}
	if repo.ID != id {
		w.Header().Set("Location", "/"+repo.ID+"/resolve/"+url.PathEscape(rev)+"/"+file)
		w.WriteHeader(http.StatusTemporaryRedirect)
		return
	}
	if rev != repo.Commit && !slices.Contains(repo.Refs, rev) {
		h.Set("X-Error-Code", "RevisionNotFound")
		http.Error(w, "Invalid rev id: "+rev, http.StatusNotFound)
		return
	}
	h.Set("X-Repo-Commit", repo.Commit)
	var file0 *File
	for i := range repo.Files {
		if repo.Files[i].Name == file {
			file0 = &repo.Files[i]
		}
	}
	if file0 == nil {
		h.Set("X-Error-Code", "EntryNotFound")
		http.Error(w, "Entry not found", http.StatusNotFound)
		return
	}
	if file0.LFS {
		sum := SHA256(file0.Data)
		pointer := fmt.Sprintf("version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n", sum, len(file0.Data))
		h.Set("ETag", `"`+GitBlobSHA1([]byte(pointer))+`"`)
		h.Set("X-Linked-Etag", `"`+sum+`"`)
		h.Set("X-Linked-Size", s.claimed(file, len(file0.Data)))
		h.Set("Location", s.cdnURL(sum, file))
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusFound)
		return
	}
	h.Set("ETag", `"`+GitBlobSHA1(file0.Data)+`"`)
	if file0.ViaCDN && r.Method == http.MethodGet {
		h.Set("Location", s.cdnURL(SHA256(file0.Data), file))
		w.WriteHeader(http.StatusFound)
		return
	}
	s.serveBody(w, r, file, file0.Data)
}

// cdnURL is a signed-looking CDN URL for a blob.
func (s *Server) cdnURL(sum, file string) string {
	return s.cdn.URL + "/blobs/" + sum + "?response-content-disposition=" + url.QueryEscape(file) + "&X-Amz-Signature=fake"
}

// serveCDN answers /blobs/<sha256>. Like S3 with a presigned URL, it
// rejects requests that also carry an Authorization header.
func (s *Server) serveCDN(w http.ResponseWriter, r *http.Request) {
	s.record("cdn", r)
	if r.Header.Get("Authorization") != "" {
		http.Error(w, "only one auth mechanism allowed", http.StatusBadRequest)
		return
	}
	sum, ok := strings.CutPrefix(r.URL.Path, "/blobs/")
	s.mu.Lock()
	data, found := s.blobs[sum]
	s.mu.Unlock()
	if !ok || !found {
		http.NotFound(w, r)
		return
	}
	s.serveBody(w, r, r.URL.Query().Get("response-content-disposition"), data)
}

// serveBody writes data (or the part a "bytes=N-" Range asks for), applying
// the file's faults.
func (s *Server) serveBody(w http.ResponseWriter, r *http.Request, file string, data []byte) {
	s.mu.Lock()
	var cut int64 = -1
	var pause int64 = -1
	var release <-chan struct{}
	corrupt, ignoreRange := false, false
	stall, trickle := int64(-1), time.Duration(0)
	if f := s.faults[file]; f != nil && r.Method == http.MethodGet {
		corrupt, ignoreRange = f.corrupt, f.ignoreRange
		stall, trickle = f.stallAfter, f.trickle
		if f.cutLeft > 0 {
			f.cutLeft--
			cut = f.cutAfter
		}
		if f.pauseRelease != nil {
			pause, release = f.pauseAfter, f.pauseRelease
			f.pauseRelease = nil
		}
	}
	s.mu.Unlock()
	if corrupt {
		data = append([]byte(nil), data...)
		data[len(data)/2] ^= 0xff
	}
	h := w.Header()
	h.Set("Accept-Ranges", "bytes")
	start := int64(0)
	if rg := r.Header.Get("Range"); rg != "" && !ignoreRange {
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"), 10, 64)
		if err != nil || !strings.HasPrefix(rg, "bytes=") || !strings.HasSuffix(rg, "-") || n < 0 {
			http.Error(w, "unsupported range", http.StatusBadRequest)
			return
		}
		if n >= int64(len(data)) {
			h.Set("Content-Range", fmt.Sprintf("bytes */%d", len(data)))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		start = n
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", n, len(data)-1, len(data)))
	}
	body := data[start:]
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead && start == 0 {
		h.Set("Content-Length", s.claimed(file, len(body)))
	}
	if start > 0 {
		w.WriteHeader(http.StatusPartialContent)
	} else {
		w.WriteHeader(http.StatusOK)
	}
	if r.Method == http.MethodHead {
		return
	}
	if pause >= 0 && pause < int64(len(body)) {
		w.Write(body[:pause])
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		body = body[pause:]
		if cut >= 0 {
			cut -= pause
		}
	}
	if stall >= 0 && stall < int64(len(body)) {
		w.Write(body[:stall])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		return
	}
	if trickle > 0 {
		t := time.NewTicker(trickle)
		defer t.Stop()
		for i := range body {
			if _, err := w.Write(body[i : i+1]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-t.C:
			case <-r.Context().Done():
				return
			}
		}
		return
	}
	if cut >= 0 && cut < int64(len(body)) {
		w.Write(body[:cut])
		w.(http.Flusher).Flush()
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
		return
	}
	w.Write(body)
}

// splitResolve splits an escaped "/{org}/{name}/resolve/{rev}/{file}" path;
// the id may also be a single "name".
func splitResolve(p string) (id, rev, file string, ok bool) {
	before, after, found := strings.Cut(strings.TrimPrefix(p, "/"), "/resolve/")
	if !found {
		return "", "", "", false
	}
	escRev, escFile, found := strings.Cut(after, "/")
	if !found {
		return "", "", "", false
	}
	rev, err1 := url.PathUnescape(escRev)
	file, err2 := url.PathUnescape(escFile)
	return before, rev, file, err1 == nil && err2 == nil && before != "" && file != ""
}

// SHA256 is the hex sha256 of data: an LFS file's blob name.
func SHA256(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// GitBlobSHA1 is git's object id of data: a regular file's blob name.
func GitBlobSHA1(data []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}
