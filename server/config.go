package server

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/minilm-dev/minilm/engine"
	"github.com/minilm-dev/minilm/engine/batch"
	"github.com/minilm-dev/minilm/replica"
	"github.com/minilm-dev/minilm/tokenizer"
)

// Defaults of Config's zero fields (text-embeddings-inference's, where it
// has the setting).
const (
	DefaultMaxBatchTokens        = 16384
	DefaultMaxBatchRequests      = 64
	DefaultMaxClientBatchSize    = 1024
	DefaultMaxConcurrentRequests = 512
	DefaultPayloadLimit          = 2_000_000
	DefaultShutdownTimeout       = 30 * time.Second
)

// Config tunes a Server. The zero value is the default everywhere except
// AutoTruncate (false: over-length inputs are refused unless a request asks
// for truncation); minilm serve turns it on.
type Config struct {
	// ModelID is the served model's name in /info and responses, and what a
	// request's "model" must match.
	ModelID string
	// MaxBatchTokens and MaxBatchRequests bound one forward pass: real
	// tokens and sequences.
	MaxBatchTokens, MaxBatchRequests int
	// MaxClientBatchSize bounds the pairs of one request (413 past it).
	MaxClientBatchSize int
	// MaxConcurrentRequests bounds the scoring requests in progress (429
	// past it).
	MaxConcurrentRequests int
	// MaxQueuedPairs bounds the pairs admitted and not yet scored, across
	// requests (429 past it); default 32×MaxBatchRequests, and at least
	// MaxClientBatchSize.
	MaxQueuedPairs int
	// AutoTruncate cuts over-length inputs when a request does not say
	// "truncate".
	AutoTruncate bool
	// Truncation is the strategy for cutting (longest-first by default).
	Truncation tokenizer.Truncation
	// APIKey, when set, must come as "Authorization: Bearer KEY" on the
	// scoring routes and /info.
	APIKey string
	// PayloadLimit bounds a request body in bytes (413 past it).
	PayloadLimit int64
	// ShutdownTimeout bounds the drain after Run's context ends.
	ShutdownTimeout time.Duration
	// Tokenizers is the number of tokenizing goroutines (GOMAXPROCS).
	Tokenizers int
	// Logger receives lifecycle and error lines; nil discards them.
	Logger *slog.Logger
	// Version is reported by /info.
	Version string
}

func (c Config) withDefaults() Config {
	def := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&c.MaxBatchTokens, DefaultMaxBatchTokens)
	def(&c.MaxBatchRequests, DefaultMaxBatchRequests)
	def(&c.MaxClientBatchSize, DefaultMaxClientBatchSize)
	def(&c.MaxConcurrentRequests, DefaultMaxConcurrentRequests)
	// Room for every batch slot to be refilled many times over, and never
	// less than one full request.
	def(&c.MaxQueuedPairs, max(32*c.MaxBatchRequests, c.MaxClientBatchSize))
	if c.PayloadLimit <= 0 {
		c.PayloadLimit = DefaultPayloadLimit
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Version == "" {
		c.Version = "devel"
	}
	return c
}

// Backend is what a Server scores on.
type Backend struct {
	// Scorer returns raw logits (the server applies the sigmoid a request
	// asks for): an *engine.Model loaded with engine.ActivationRaw, or a
	// *replica.Pool.
	Scorer batch.Scorer
	// Tokenizer is the model's; requests' truncation settings apply to it.
	Tokenizer *tokenizer.Tokenizer
	// Info describes the model (MaxLength bounds every pair).
	Info engine.Info
	// Scorers is how many batches run at once (1 in process; enough to keep
	// every worker busy with a pool).
	Scorers int
	// Workers, when set, reports the worker processes (restarts, PIDs).
	Workers func() replica.Metrics
	// Close releases the backend after the server has drained.
	Close func(ctx context.Context) error
}

// LoadOptions say what Load starts.
type LoadOptions struct {
	Engine engine.Options
	// Replicas > 0 runs inference in that many worker processes (Pool's
	// Path, Stderr, …); 0 in this process.
	Replicas int
	Pool     replica.Config
	// BatchSize is the most sequences one batch holds, so that the pool
	// sends each batch whole to one worker.
	BatchSize int
}

// Load opens the model ref for serving: in this process, or on a
// replica.Pool of o.Replicas workers. Scores are raw logits.
func Load(ctx context.Context, ref string, o LoadOptions) (*Backend, error) {
	opts := o.Engine
	opts.Activation = engine.ActivationRaw
	if o.Replicas <= 0 {
		m, err := engine.Load(ctx, ref, opts)
		if err != nil {
			return nil, err
		}
		tok, err := tokenizer.Load(m.Info().Dir)
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("server: %w", err)
		}
		return &Backend{Scorer: m, Tokenizer: tok, Info: m.Info(), Scorers: 1,
			Close: func(context.Context) error { return m.Close() }}, nil
	}
	cfg := o.Pool
	cfg.Workers = o.Replicas
	pool, err := replica.NewPool(ctx, ref, opts, replica.PoolConfig{Config: cfg, BatchSize: max(o.BatchSize, 1)})
	if err != nil {
		return nil, err
	}
	info := pool.Tokenizer().Info()
	tok, err := tokenizer.Load(info.Dir)
	if err != nil {
		pool.Close(ctx)
		return nil, fmt.Errorf("server: %w", err)
	}
	// Two batches per worker: one computing, the next already on its pipe.
	return &Backend{Scorer: pool, Tokenizer: tok, Info: info, Scorers: 2 * o.Replicas,
		Workers: pool.Metrics, Close: pool.Close}, nil
}

// ByteSize is a flag.Value for sizes such as 2MB (see ParseBytes).
type ByteSize int64

func (b *ByteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

func (b *ByteSize) Set(s string) error {
	n, err := ParseBytes(s)
	if err != nil {
		return err
	}
	*b = ByteSize(n)
	return nil
}

// ParseBytes reads a size such as 2MB, 512KiB or 1000000 (bytes).
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(strings.ToUpper(s))
	units := []struct {
		suffix string
		mult   int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f <= 0 || f*float64(mult) > 1<<50 {
		return 0, fmt.Errorf("size %q: want a positive number of bytes, optionally with KB, MB, GB, KiB, MiB or GiB", s)
	}
	return int64(f * float64(mult)), nil
}
