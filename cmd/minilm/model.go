package main

import (
	"context"
	"flag"
	"io"

	"github.com/minilm-dev/minilm/engine"
	"github.com/minilm-dev/minilm/tokenizer"
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
	fs.IntVar(&m.maxLength, "max-length", 0, "truncate pairs to `n` tokens, special tokens included (0: the model's limit, 512 for MiniLM)")
	fs.StringVar(&m.truncate, "truncate", "longest-first", "`strategy` for cutting pairs over --max-length: longest-first (like Hugging Face) or only-second\n(never cut the query; a query too long on its own is then an invalid record)")
	fs.StringVar(&m.activation, "activation", "auto", "score `activation`: raw (the logit), sigmoid, or auto (what the model's config says:\nraw logits for the ms-marco models, as sentence-transformers does)")
	fs.IntVar(&m.threads, "threads", 0, "CPU threads for inference (0: one per CPU)")
	fs.StringVar(&m.backend, "backend", "auto", "compute `backend`: auto, cpu or metal (Apple GPUs)")
	fs.StringVar(&m.precision, "precision", "f32", "`precision` of the CPU matrix products: f32; bf16 (bfloat16 weights and inputs, float32\nsums as VDPBF16PS computes them; needs AVX512_BF16; logits within about 0.08 of f32); or\nauto (bf16 where the CPU has it, else f32)")
	fs.BoolVar(&m.offline, "offline", false, "never download: a repo id must already be in the Hugging Face cache (as HF_HUB_OFFLINE=1)")
}

// options checks the flag values and turns them into engine options.
// Download progress, if any, goes to progress (nil: none).
func (m *modelFlags) options(progress io.Writer) (engine.Options, error) {
	opts := engine.Options{
		Threads:   m.threads,
		MaxLength: m.maxLength,
		Offline:   m.offline,
		Progress:  progress,
		Precision: m.precision,
	}
	switch m.backend {
	case "auto", "cpu", "metal":
		opts.Backend = m.backend
	default:
		return opts, usagef("--backend %q: want auto, cpu or metal", m.backend)
	}
	switch m.truncate {
	case "longest-first":
		opts.Truncation = tokenizer.LongestFirst
	case "only-second":
		opts.Truncation = tokenizer.OnlySecond
	default:
		return opts, usagef("--truncate %q: want longest-first or only-second", m.truncate)
	}
	switch m.activation {
	case "auto":
		opts.Activation = engine.ActivationAuto
	case "raw":
		opts.Activation = engine.ActivationRaw
	case "sigmoid":
		opts.Activation = engine.ActivationSigmoid
	default:
		return opts, usagef("--activation %q: want raw, sigmoid or auto", m.activation)
	}
	if m.maxLength < 0 {
		return opts, usagef("--max-length %d: must be 0 (the model's limit) or more", m.maxLength)
	}
	if m.threads < 0 {
		return opts, usagef("--threads %d: must be 0 (one per CPU) or more", m.threads)
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
		return nil, exitWith(ctx, std, err)
	}
	return m, exitOK
}
