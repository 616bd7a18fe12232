package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/minilm-dev/minilm/internal/backendhook"
	"github.com/minilm-dev/minilm/kernels"
	"github.com/minilm-dev/minilm/kernels/cpu"
	"github.com/minilm-dev/minilm/kernels/metal"
	"github.com/minilm-dev/minilm/loader"
	"github.com/minilm-dev/minilm/loader/hub"
	"github.com/minilm-dev/minilm/tokenizer"
)

var (
	// ErrClosed is returned by calls on a closed Model.
	ErrClosed = errors.New("engine: model is closed")
	// ErrModel means the model files do not fit what the config declares.
	ErrModel = errors.New("engine: model does not match its config")
	// ErrInput means a pair or sequence cannot be scored (empty, too long, a
	// query longer than MaxLength allows under OnlySecond, token id out of
	// the vocabulary).
	ErrInput = errors.New("engine: invalid input")
)

// DefaultMaxTokensPerBatch bounds the packed tokens of one forward pass; it
// sizes the activation arena (about 40 KiB per token for MiniLM-L6). At 1024
// tokens every GEMM already has enough rows to keep the cores busy (bench
// pairs score as fast as at 8192), and each replica's private memory stays
// small next to the weights they share.
const DefaultMaxTokensPerBatch = 1024

// Options configure Load. The zero value is the default everywhere; Load
// refuses a value out of range with an *OptionError naming the field.
type Options struct {
	// Backend is "auto" (or ""), "cpu" or "metal" (see Backends).
	Backend string
	// Threads for the CPU backend; 0 means runtime.NumCPU().
	Threads int
	// Precision of the CPU backend's matrix products: "f32" (or "", the
	// default), "bf16" (bfloat16 weights and inputs, float32 accumulation;
	// refused with ErrPrecision on CPUs without AVX512_BF16) or "auto"
	// (bf16 where the CPU has it, else f32; Info says which and why).
	Precision string
	// MaxTokensPerBatch bounds one forward pass; larger calls are split.
	MaxTokensPerBatch int
	// MaxLength truncates pairs (in tokens, specials included); 0 means the
	// tokenizer's model_max_length capped by max_position_embeddings.
	// Otherwise it is at least MinMaxLength and at most the model's positions.
	MaxLength int
	// Truncation strategy for pairs over MaxLength.
	Truncation Truncation
	// Activation applied to the logit.
	Activation Activation
	// CacheDir and Revision resolve Hugging Face repo ids (loader.Options).
	CacheDir, Revision string
	// Offline forbids downloading a repo id missing from the cache (so does
	// HF_HUB_OFFLINE=1).
	Offline bool
	// Progress, when not nil, receives a download progress bar.
	Progress io.Writer
}

// Info describes a loaded model.
type Info struct {
	Dir        string
	Config     loader.Config
	Params     int64
	DType      string
	Backend    string
	Kernels    string // the backend's kernel variant, where it picks one per CPU ("avx2", …)
	Threads    int
	MaxLength  int
	Activation Activation // resolved: ActivationRaw or ActivationSigmoid

	// Precision is "f32" or "bf16" ("bf16-twin" for the exact emulation);
	// PrecisionNote says why, when "auto" chose.
	Precision     string
	PrecisionNote string
}

// Model scores query/passage pairs with a BERT cross-encoder. It is safe for
// concurrent use: callers tokenize in parallel and forward passes take turns
// on the backend, each using all its threads.
type Model struct {
	info     Info
	files    *loader.Model
	tok      *tokenizer.Tokenizer
	be       kernels.Backend
	net      *bert
	maxTok   int
	truncate tokenizer.Truncation

	mu     sync.Mutex // guards sc, be and closed
	sc     *scratch
	closed atomic.Bool // set under mu; read without it by the calls that never take mu
}

// Load opens a model directory or Hugging Face repo id and prepares it for
// scoring on the chosen backend.
func Load(ctx context.Context, ref string, opts Options) (*Model, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	dir, err := Resolve(ctx, ref, opts)
	if err != nil {
		return nil, err
	}
	files, err := loader.Open(ctx, dir, loader.Options{CacheDir: opts.CacheDir, Revision: opts.Revision})
	if err != nil {
		return nil, err
	}
	m, err := newModel(files, opts, backendhook.From(ctx))
	if err != nil {
		files.Close()
		return nil, err
	}
	return m, nil
}

// Resolve finds the model directory ref names as Load does (a directory,
// or a repo id in the Hugging Face cache), downloading a repo id missing
// from the cache unless opts.Offline; only opts.CacheDir, Revision, Offline
// and Progress matter. Tools that read the model's files themselves (its
// tokenizer) use it to find them exactly where Load would.
func Resolve(ctx context.Context, ref string, opts Options) (string, error) {
	if ref == "" {
		ref = loader.DefaultModel
	}
	dir, err := loader.Resolve(ref, loader.Options{CacheDir: opts.CacheDir, Revision: opts.Revision})
	if errors.Is(err, loader.ErrNotCached) && !opts.Offline {
		return download(ctx, ref, opts)
	}
	return dir, err
}

// download fetches a repo id missing from the cache (huggingface_hub's
// layout, so Python tools and minilm share downloads) and returns its
// snapshot directory. hub refuses when HF_HUB_OFFLINE is set, naming what is
// missing.
func download(ctx context.Context, ref string, opts Options) (string, error) {
	repo, rev, _ := strings.Cut(ref, "@")
	if rev == "" {
		rev = opts.Revision
	}
	cache := opts.CacheDir
	if cache == "" {
		cache = loader.HubCacheDir()
	}
	return hub.Download(ctx, repo, hub.Options{CacheDir: cache, Revision: rev, Progress: opts.Progress})
}

func newModel(files *loader.Model, opts Options, hook backendhook.NewBackend) (*Model, error) {
	c := files.Config
	if err := CheckMaxLength(opts.MaxLength, c.MaxPositionEmbeddings); err != nil {
		return nil, err
	}
	// Its errors name the file.
	tok, err := tokenizer.LoadWith(files.Dir, tokenizer.Options{VocabSize: c.VocabSize})
	if err != nil {
		return nil, err
	}
	if tok.VocabSize() > c.VocabSize {
		return nil, modelErrorf("engine: %s: tokenizer vocabulary (%d) is larger than the model's (%d)", files.Dir, tok.VocabSize(), c.VocabSize)
	}
	maxLen := c.MaxPositionEmbeddings
	if ml := tok.ModelMaxLength(); ml > 0 && ml < maxLen {
		maxLen = ml
	}
	if opts.MaxLength > 0 {
		maxLen = opts.MaxLength
	}
	threads := opts.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	prec, err := resolvePrecision(opts)
	if err != nil {
		return nil, err
	}
	be, err := newBackend(opts.Backend, threads, hook, prec.cpu)
	if err != nil {
		return nil, err
	}
	net, err := loadBERT(files, be)
	if err != nil {
		be.Close()
		return nil, err
	}
	maxTok := opts.MaxTokensPerBatch
	if maxTok <= 0 {
		maxTok = DefaultMaxTokensPerBatch
	}
	if maxTok < c.MaxPositionEmbeddings {
		maxTok = c.MaxPositionEmbeddings // the longest sequence the model takes must fit
	}
	// Tokenized pairs have at least 3 tokens ([CLS] [SEP] [SEP]); a batch
	// of maxTok tokens rarely holds more than maxTok/3 sequences, and
	// ScoreSequences starts a new batch when it would.
	sc, err := newScratch(be, net.d, maxTok, maxTok/3+1)
	if err != nil {
		be.Close()
		return nil, err
	}
	act := opts.Activation
	if act == ActivationAuto {
		act = ActivationRaw
		if c.Activation == loader.ActivationSigmoid {
			act = ActivationSigmoid
		}
	}
	m := &Model{
		files: files, tok: tok, be: be, net: net, sc: sc,
		maxTok: maxTok, truncate: opts.Truncation,
	}
	m.info = Info{
		Dir: files.Dir, Config: *c, Params: paramCount(files), DType: weightDType(files),
		Backend: be.Name(), Threads: threads, MaxLength: maxLen, Activation: act,
		Precision: prec.name(be), PrecisionNote: prec.note,
	}
	if k, ok := be.(interface{ Kernels() string }); ok {
		m.info.Kernels = k.Kernels()
	}
	return m, nil
}

// newBackend builds the backend named by Options.Backend (validated), or by
// the module-internal hook when there is one.
func newBackend(name string, threads int, hook backendhook.NewBackend, prec cpu.Precision) (kernels.Backend, error) {
	if hook != nil {
		return hook(threads)
	}
	switch name {
	case "", "auto":
		// The GPU when there is one (Apple Silicon), else the CPU.
		if be, err := metal.New(); err == nil && prec == cpu.F32 {
			return be, nil
		} else if err == nil {
			be.Close()
		}
		return newCPU(threads, prec)
	case "cpu":
		return newCPU(threads, prec)
	default: // "metal"
		if prec != cpu.F32 {
			return nil, fmt.Errorf("engine: precision %s is a CPU backend option: %w", prec, ErrPrecision)
		}
		be, err := metal.New()
		if err != nil && runtime.GOOS != "darwin" {
			return nil, kindErrorf(err, nil, "engine: the metal backend needs macOS on Apple silicon (this is %s/%s); backend cpu (or auto) runs here",
				runtime.GOOS, runtime.GOARCH)
		}
		if err != nil {
			return nil, fmt.Errorf("engine: metal backend: %w", err)
		}
		return be, nil
	}
}

// Info describes the loaded model and how it runs. It is a description,
// not a use of the model: it stays readable after Close.
func (m *Model) Info() Info { return m.info }

// Tokenize turns a pair into model input, truncated to the model's max
// length. A query too long for OnlySecond truncation is an error wrapping
// ErrInput (and a *LengthError).
func (m *Model) Tokenize(p Pair) (Sequence, error) {
	if m.closed.Load() {
		return Sequence{}, ErrClosed
	}
	s, err := m.tokenize(p)
	if err != nil {
		return Sequence{}, fmt.Errorf("engine: %w", err)
	}
	return s, nil
}

// tokenize is Tokenize without the "engine:" its callers add once.
func (m *Model) tokenize(p Pair) (Sequence, error) {
	ids, types, err := m.tok.AppendPairIDs(nil, nil, p.Query, p.Passage, m.info.MaxLength, m.truncate)
	var le *tokenizer.LengthError
	switch {
	case err == nil:
		return Sequence{IDs: ids, TypeIDs: types}, nil
	case errors.As(err, &le) && le.First > 0:
		return Sequence{}, inputErrorf(err, "query is %d tokens, longer than MaxLength %d allows with OnlySecond truncation (at most %d)",
			le.First, le.MaxLength, le.MaxLength-le.Specials-1)
	default:
		return Sequence{}, inputErrorf(err, "%v", err)
	}
}

// ScoreOptions tune one Score call, as the arguments of sentence-transformers'
// CrossEncoder.predict do.
type ScoreOptions struct {
	// BatchSize caps the pairs of one forward pass (predict's batch_size);
	// 0 packs as many as MaxTokensPerBatch holds. Scores do not depend on it.
	BatchSize int
}

func (o ScoreOptions) validate(field string) error {
	if o.BatchSize < 0 {
		return &OptionError{Field: field + ".BatchSize", Value: o.BatchSize, Allowed: "0 (as many as MaxTokensPerBatch holds) or more"}
	}
	return nil
}

// Score returns one score per pair, in order.
func (m *Model) Score(ctx context.Context, pairs []Pair) ([]float32, error) {
	return m.ScoreWith(ctx, pairs, ScoreOptions{})
}

// ScoreWith is Score with per-call options.
func (m *Model) ScoreWith(ctx context.Context, pairs []Pair, opts ScoreOptions) ([]float32, error) {
	if err := opts.validate("ScoreOptions"); err != nil {
		return nil, err
	}
	return m.score(ctx, pairs, opts.BatchSize)
}

func (m *Model) score(ctx context.Context, pairs []Pair, batchSize int) ([]float32, error) {
	if m.closed.Load() {
		return nil, ErrClosed
	}
	seqs := make([]Sequence, len(pairs))
	for i, p := range pairs {
		s, err := m.tokenize(p)
		if err != nil {
			return nil, fmt.Errorf("engine: pair %d: %w", i, err)
		}
		seqs[i] = s
	}
	return m.scoreSequences(ctx, seqs, batchSize)
}

// ScoreSequences scores already-tokenized pairs, in order. Sequences are
// packed into forward passes of at most MaxTokensPerBatch tokens; each score
// is the same whatever the sequences around it.
func (m *Model) ScoreSequences(ctx context.Context, seqs []Sequence) ([]float32, error) {
	return m.scoreSequences(ctx, seqs, 0)
}

// scoreSequences packs at most batchSize sequences (0: no cap) per pass.
func (m *Model) scoreSequences(ctx context.Context, seqs []Sequence, batchSize int) ([]float32, error) {
	if m.closed.Load() {
		return nil, ErrClosed
	}
	for i, s := range seqs {
		if err := m.validate(s); err != nil {
			return nil, fmt.Errorf("engine: sequence %d: %w", i, err)
		}
	}
	maxB := m.sc.maxB
	if batchSize > 0 {
		maxB = min(maxB, batchSize)
	}
	out := make([]float32, len(seqs))
	for start := 0; start < len(seqs); {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		end, tokens := start, 0
		for end < len(seqs) && end-start < maxB && tokens+len(seqs[end].IDs) <= m.maxTok {
			tokens += len(seqs[end].IDs)
			end++
		}
		if err := m.forward(ctx, seqs[start:end], out[start:end]); err != nil {
			return nil, err
		}
		start = end
	}
	if m.info.Activation == ActivationSigmoid {
		for i, x := range out {
			out[i] = float32(1 / (1 + math.Exp(-float64(x))))
		}
	}
	return out, nil
}

func (m *Model) validate(s Sequence) error {
	n := len(s.IDs)
	switch {
	case n == 0:
		return inputErrorf(nil, "no tokens")
	case n != len(s.TypeIDs):
		return inputErrorf(nil, "%d ids but %d type ids", n, len(s.TypeIDs))
	case n > m.info.Config.MaxPositionEmbeddings:
		return inputErrorf(nil, "%d tokens exceed the model's %d positions", n, m.info.Config.MaxPositionEmbeddings)
	}
	for j := range n {
		if id := s.IDs[j]; id < 0 || int(id) >= m.info.Config.VocabSize {
			return inputErrorf(nil, "token %d: id %d outside the vocabulary of %d", j, id, m.info.Config.VocabSize)
		}
		if t := s.TypeIDs[j]; t < 0 || int(t) >= m.info.Config.TypeVocabSize {
			return inputErrorf(nil, "token %d: type id %d outside [0,%d)", j, t, m.info.Config.TypeVocabSize)
		}
	}
	return nil
}

// forward runs one packed batch and writes its raw logits to out.
func (m *Model) forward(ctx context.Context, seqs []Sequence, out []float32) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return ErrClosed
	}
	s := m.sc
	s.ids, s.typeIDs = s.ids[:0], s.typeIDs[:0]
	s.seqsBuf = append(s.seqsBuf[:0], 0)
	for _, q := range seqs {
		s.ids = append(s.ids, q.IDs...)
		s.typeIDs = append(s.typeIDs, q.TypeIDs...)
		s.seqsBuf = append(s.seqsBuf, int32(len(s.ids)))
	}
	if err := m.be.Run(ctx, m.net.forward(s, s.ids, s.typeIDs, s.seqsBuf)...); err != nil {
		return fmt.Errorf("engine: forward on %s: %w", m.be.Name(), err)
	}
	if err := m.be.Download(s.host[:len(seqs)], s.logits); err != nil {
		return fmt.Errorf("engine: read logits: %w", err)
	}
	copy(out, s.host[:len(seqs)])
	return nil
}

// Close releases the backend and unmaps the model file. Every call after
// Close (Tokenize, Score, ScoreWith, ScoreSequences, Rank, Close itself)
// returns ErrClosed, as a second os.File.Close does.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return ErrClosed
	}
	m.closed.Store(true)
	err := m.be.Close()
	if cerr := m.files.Close(); err == nil {
		err = cerr
	}
	return err
}

func paramCount(files *loader.Model) int64 {
	var n int64
	for _, name := range files.Weights.Names() {
		info, _ := files.Weights.Info(name)
		p := int64(1)
		for _, d := range info.Shape {
			p *= int64(d)
		}
		n += p
	}
	return n
}

func weightDType(files *loader.Model) string {
	names := files.Weights.Names()
	if len(names) == 0 {
		return ""
	}
	info, _ := files.Weights.Info(names[0])
	return string(info.DType)
}
