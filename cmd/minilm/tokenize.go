package main

import (
	"bufio"
	"context"
	"fmt"
	"os"

	"github.com/minilm-dev/minilm/engine"
	"github.com/minilm-dev/minilm/pairfile"
	"github.com/minilm-dev/minilm/tokenizer"
)

const tokenizeAbout = `
Tokenize text as the model sees it (Hugging Face tokenizers' ids, exactly).

Input (FILE, or stdin when FILE is "-" or absent): JSON lines, each an object
with a "text" string, or "a" and "b" strings for a pair ([CLS] a [SEP] b
[SEP]), and an optional "max_length": an integer, or null for no truncation
(absent: the model's limit). Each line is written back with "ids",
"type_ids", "tokens" and "offsets" set, its other fields kept as they are.
Offsets are [start, end) character indices into the line's text (for a pair,
into its own side); special tokens added around the texts have [0, 0].
A bad line stops the run with status 2 after every line before it is written.

Example:
  echo '{"a":"what is go?","b":"Go is a language."}' | minilm tokenize`

func tokenizeCommand() command {
	return command{
		name:    "tokenize",
		summary: "show the token ids, tokens and offsets of texts and pairs",
		run:     runTokenize,
	}
}

func runTokenize(ctx context.Context, std stdio, args []string) int {
	var (
		model, truncate string
		maxLength       int
		offline         bool
	)
	spec := newFlagSpec("tokenize", "minilm tokenize [flags] [FILE|-]", tokenizeAbout)
	spec.fs.StringVar(&model, "model", defaultModel, "model `dir`ectory, or Hugging Face repo id (org/name[@revision]) looked up in the\nHugging Face cache and downloaded when missing")
	spec.fs.IntVar(&maxLength, "max-length", 0, fmt.Sprintf("truncate to `n` tokens, special tokens included, where a line has no \"max_length\":\n0 (the model's limit) or %d up to that limit, as score takes", engine.MinMaxLength))
	spec.fs.StringVar(&truncate, "truncate", "longest-first", "how pairs over max_length are cut: longest-first (like Hugging Face) or only-second")
	spec.fs.BoolVar(&offline, "offline", false, "never download: a repo id must already be in the Hugging Face cache (as HF_HUB_OFFLINE=1)")
	var maxLine maxLineFlag
	registerMaxLine(spec.fs, &maxLine)
	files, status, done := spec.parse(std, args)
	if done {
		return status
	}
	var tr tokenizer.Truncation
	var err error
	switch {
	case len(files) > 1:
		err = usagef("tokenize takes one FILE, got %d", len(files))
	case model == "":
		err = usagef("--model is empty")
	case truncate != "longest-first" && truncate != "only-second" || tr.UnmarshalText([]byte(truncate)) != nil:
		err = usagef("--truncate %q: want longest-first or only-second", truncate)
	}
	if err != nil {
		return exitWith(ctx, std, err)
	}
	name, in := "<stdin>", std.in
	if len(files) == 1 && files[0] != "-" {
		f, err := os.Open(files[0])
		if err != nil {
			return exitWith(ctx, std, usagef("input %s: %v", files[0], pairfile.UnwrapPathError(err)))
		}
		defer f.Close()
		name, in = files[0], f
	}
	opts := engine.Options{Offline: offline}
	if std.errIsTerminal {
		opts.Progress = std.err // a first run may download the model
	}
	tok, maxLen, err := engine.LoadTokenizer(ctx, model, opts)
	if err == nil && maxLength != 0 {
		if err = engine.CheckMaxLength(maxLength, maxLen); err == nil {
			maxLen = maxLength
		}
	}
	if err != nil {
		return exitWith(ctx, std, modelError(err, model))
	}
	out := bufio.NewWriterSize(std.out, 1<<16)
	err = pairfile.Tokenize(ctx, tok, maxLen, tr, name, in, out, int(maxLine))
	if ferr := out.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write output: %w", ferr)
	}
	return exitWith(ctx, std, err)
}
