package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minilm-dev/minilm/engine"
	"github.com/minilm-dev/minilm/engine/batch"
)

// Server is the HTTP service. Create it with New, start it with Run.
type Server struct {
	cfg     Config
	metrics *metrics
	dash    *dashboard
	sem     chan struct{}
	mux     *http.ServeMux

	core  atomic.Pointer[core] // nil until the model is loaded
	ready chan struct{}        // closed after the warm-up batch

	mu       sync.Mutex
	draining bool
	active   int           // requests admitted past the drain check
	idle     chan struct{} // closed when draining and active drops to 0
	stopping chan struct{} // closed when draining begins

	health healthCache
}

// core is what exists once the model is loaded.
type core struct {
	be      *Backend
	batcher *batch.Batcher
}

// New returns a server that answers 503 until Run has loaded its model.
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:      cfg,
		sem:      make(chan struct{}, cfg.MaxConcurrentRequests),
		ready:    make(chan struct{}),
		idle:     make(chan struct{}),
		stopping: make(chan struct{}),
	}
	s.health.mu = make(chan struct{}, 1)
	s.metrics = newMetrics(s)
	s.dash = newDashboard(s)
	s.mux = s.routes()
	return s
}

// Handler returns the server's routes, with authentication, payload limits
// and metrics around them.
func (s *Server) Handler() http.Handler { return s.mux }

// Ready is closed once the model has loaded and run its warm-up batch.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Loader loads the backend; Run calls it once it is listening.
type Loader func(ctx context.Context) (*Backend, error)

// Run serves on ln: it loads the backend (the routes answer 503 meanwhile),
// runs one warm-up batch, then serves until ctx ends. Then it drains: /ready
// and new requests answer 503 while the requests in flight finish, within
// Config.ShutdownTimeout; it closes the listener, the batcher and the
// backend, and returns nil for a clean stop.
func (s *Server) Run(ctx context.Context, ln net.Listener, load Loader) error {
	log := s.cfg.Logger
	hs := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          nil,
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String())
	stopDash := s.dash.start()
	defer stopDash()

	loadErr := make(chan error, 1)
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		began := time.Now()
		be, err := load(ctx)
		if err != nil {
			loadErr <- fmt.Errorf("server: load model: %w", err)
			return
		}
		c := &core{be: be, batcher: batch.New(be.Scorer, batch.Config{
			MaxTokens:    s.cfg.MaxBatchTokens,
			MaxSequences: s.cfg.MaxBatchRequests,
			Scorers:      max(1, be.Scorers),
			Tokenizers:   s.cfg.Tokenizers,
			MaxQueued:    s.cfg.MaxQueuedPairs,
			OnBatch:      s.metrics.observeBatch,
		})}
		s.core.Store(c)
		log.Info("model loaded", "model", s.cfg.ModelID, "dir", be.Info.Dir, "backend", be.Info.Backend,
			"threads", be.Info.Threads, "max_length", be.Info.MaxLength, "took", time.Since(began).Round(time.Millisecond))
		if _, err := c.batcher.Score(ctx, []engine.Pair{{Query: "warm-up", Passage: "warm-up"}}); err != nil {
			loadErr <- fmt.Errorf("server: warm-up batch: %w", err)
			return
		}
		close(s.ready)
		log.Info("ready")
		loadErr <- nil
	}()

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-served:
		runErr = fmt.Errorf("server: %w", err)
	case err := <-loadErr:
		if err != nil {
			runErr = err
		} else {
			select {
			case <-ctx.Done():
			case err := <-served:
				runErr = fmt.Errorf("server: %w", err)
			}
		}
	}
	return errors.Join(runErr, s.drain(hs, loadDone))
}

// drain stops the server: new requests get 503, in-flight ones finish.
// A load still running is waited for (within the timeout), so that what it
// starts is closed too.
func (s *Server) drain(hs *http.Server, loadDone <-chan struct{}) error {
	log := s.cfg.Logger
	deadline, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	s.mu.Lock()
	s.draining = true
	close(s.stopping)
	if s.active == 0 {
		close(s.idle)
	}
	active := s.active
	s.mu.Unlock()
	log.Info("draining", "in_flight", active, "timeout", s.cfg.ShutdownTimeout)
	var errs []error
	select {
	case <-s.idle:
	case <-deadline.Done():
		errs = append(errs, fmt.Errorf("server: drain: requests still running after %v", s.cfg.ShutdownTimeout))
	}
	if err := hs.Shutdown(deadline); err != nil {
		errs = append(errs, fmt.Errorf("server: shut down listener: %w", err))
	}
	select {
	case <-loadDone:
	case <-deadline.Done():
	}
	if c := s.core.Load(); c != nil {
		if err := c.batcher.Close(deadline); err != nil {
			errs = append(errs, fmt.Errorf("server: close batcher: %w", err))
		}
		if c.be.Close != nil {
			if err := c.be.Close(deadline); err != nil {
				errs = append(errs, fmt.Errorf("server: close backend: %w", err))
			}
		}
	}
	log.Info("stopped")
	return errors.Join(errs...)
}

// enter admits a request unless the server is draining; leave must follow.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return false
	}
	s.active++
	return true
}

func (s *Server) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active--
	if s.draining && s.active == 0 {
		close(s.idle)
	}
}

// drained is closed when draining begins: long-lived streams end then.
func (s *Server) drained() <-chan struct{} { return s.stopping }

func (s *Server) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}

func (s *Server) isReady() bool {
	select {
	case <-s.ready:
		return true
	default:
		return false
	}
}

// authorized checks the Bearer token in constant time.
func (s *Server) authorized(r *http.Request) bool {
	if s.cfg.APIKey == "" {
		return true
	}
	const prefix = "Bearer "
	h := r.Header.Get("Authorization")
	if len(h) < len(prefix) || !equalFold(h[:len(prefix)], prefix) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(h[len(prefix):]), []byte(s.cfg.APIKey)) == 1
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i]|0x20, b[i]|0x20
		if x != y {
			return false
		}
	}
	return true
}

// readBody reads a body of at most PayloadLimit bytes.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *apiError) {
	limit := s.cfg.PayloadLimit
	tooLarge := func() *apiError {
		return newError(http.StatusRequestEntityTooLarge, typeValidation, "payload_too_large",
			"payload is larger than the limit of %d bytes", limit)
	}
	if r.ContentLength > limit {
		return nil, tooLarge()
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, tooLarge()
	case err != nil:
		return nil, newError(http.StatusBadRequest, typeValidation, "client_closed", "read request body: %v", err)
	}
	return body, nil
}
