package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/minilm-dev/minilm/engine"
)

// defaultModel is the reranker minilm is built for.
const defaultModel = "cross-encoder/ms-marco-MiniLM-L-6-v2"

// modelFlags are the flags of every command that loads a model.
type modelFlags struct {
	model      string
	maxLength  int
	truncate   string
	activation string
	threads    int
	backend    string
	precision  string
	offline    bool
}

func (m *modelFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.model, "model", defaultModel, "model `dir`ectory, or Hugging Face repo id (org/name[@revision]) looked up in the\nHugging Face cache and downloaded when missing")
	fs.IntVar(&m.maxLength, "max-length", 0, fmt.Sprintf("truncate pairs to `n` tokens, special tokens included: 0 (the model's limit, 512 for MiniLM)\nor %d (the specials and one token each of query and passage) up to that limit", engine.MinMaxLength))
	fs.StringVar(&m.truncate, "truncate", "longest-first", "`strategy` for cutting pairs over --max-length: longest-first (like Hugging Face) or only-second\n(never cut the query; a query too long on its own is then an invalid record)")
	fs.StringVar(&m.activation, "activation", "auto", "score `activation`: raw (the logit), sigmoid, or auto (what the model's config says:\nraw logits for the ms-marco models, as sentence-transformers does)")
	fs.IntVar(&m.threads, "threads", 0, "CPU threads for inference (0: one per CPU)")
	fs.StringVar(&m.backend, "backend", "auto", "compute `backend`: auto, cpu or metal (Apple GPUs)")
	fs.StringVar(&m.precision, "precision", "f32", "`precision` of the CPU matrix products: f32; bf16 (bfloat16 weights and inputs, float32\nsums: about twice as fast, scores within ~1e-2; needs AVX512_BF16); or auto (bf16 where the\nCPU has it, else f32)")
	fs.BoolVar(&m.offline, "offline", false, "never download: a repo id must already be in the Hugging Face cache (as HF_HUB_OFFLINE=1)")
}

// options checks the flag values that need no model and turns them into
// engine options; engine.Load checks the rest against the model (--max-length
// within its positions), and modelError says its refusals as flags. Download
// progress, if any, goes to progress (nil: none).
func (m *modelFlags) options(progress io.Writer) (engine.Options, error) {
	opts := engine.Options{
		Backend:   m.backend,
		Threads:   m.threads,
		MaxLength: m.maxLength,
		Offline:   m.offline,
		Progress:  progress,
		Precision: m.precision,
	}
	if !slices.Contains(engine.Backends, m.backend) {
		n := len(engine.Backends)
		return opts, usagef("--backend %q: want %s or %s", m.backend, strings.Join(engine.Backends[:n-1], ", "), engine.Backends[n-1])
	}
	switch m.precision {
	case "f32", "bf16", "auto", "bf16-twin":
	default:
		return opts, usagef("--precision %q: want f32, bf16 or auto", m.precision)
	}
	if m.truncate != "longest-first" && m.truncate != "only-second" || opts.Truncation.UnmarshalText([]byte(m.truncate)) != nil {
		return opts, usagef("--truncate %q: want longest-first or only-second", m.truncate)
	}
	if err := opts.Activation.UnmarshalText([]byte(m.activation)); err != nil {
		return opts, usagef("--activation %q: want auto, raw or sigmoid", m.activation)
	}
	if m.model == "" {
		return opts, usagef("--model is empty")
	}
	return opts, nil
}

// loadModel starts a command whose only flags are the model flags and which
// takes no arguments (info, worker): it parses args with spec, lets adjust
// amend the engine options, and loads the model. A nil Model means the
// command is over with the exit status returned: help was shown, or an error
// reported.
func loadModel(ctx context.Context, std stdio, spec *flagSpec, args []string, adjust func(*engine.Options)) (*engine.Model, int) {
	var f modelFlags
	f.register(spec.fs)
	rest, status, done := spec.parse(std, args)
	if done {
		return nil, status
	}
	opts, err := f.options(nil)
	if err == nil && len(rest) > 0 {
		err = usagef("%s takes no arguments, got %q", spec.fs.Name(), rest)
	}
	if err != nil {
		return nil, exitWith(ctx, std, err)
	}
	adjust(&opts)
	m, err := engine.Load(ctx, f.model, opts)
	if err != nil {
		return nil, exitWith(ctx, std, modelError(err, f.model))
	}
	return m, exitOK
}
