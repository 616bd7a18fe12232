package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strings"

	"github.com/minilm-dev/minilm/engine"
	"github.com/minilm-dev/minilm/kernels/metal"
	"github.com/minilm-dev/minilm/loader"
	"github.com/minilm-dev/minilm/loader/hub"
)

// Errors: every message is printed once, as "minilm: " and what each layer
// adds (FILE:LINE, the flag); sentinels are matched, never printed. The exit
// status says who must act:
//
//	2  usage: a flag out of range (checked against the model before any input
//	   is read), an input that cannot be opened, a model that is not there
//	2  bad input: a malformed record, "FILE:LINE: reason"
//	1  runtime: anything else (a corrupt model, a write error, a failed worker)
//
// usageError and inputError carry the first two; engine.ErrInput and
// engine.ErrOption errors that reach exitWith untranslated count as them.

// exitWith prints err (if any) as "minilm: ..." and returns the exit status
// it calls for.
func exitWith(ctx context.Context, std stdio, err error) int {
	switch {
	case err == nil && ctx.Err() == nil:
		return exitOK
	case ctx.Err() != nil:
		fmt.Fprintln(std.err, "minilm: interrupted")
		return exitInterrupted
	}
	fmt.Fprintf(std.err, "minilm: %v\n", err)
	if isUsageOrInput(err) {
		return exitUsage
	}
	return exitFailure
}

// isUsageOrInput tells the errors that exit with status 2.
func isUsageOrInput(err error) bool {
	var ie *inputError
	var ue *usageError
	return errors.As(err, &ie) || errors.As(err, &ue) || errors.Is(err, engine.ErrInput) || errors.Is(err, engine.ErrOption)
}

// optionFlags names the command-line flag of each engine option.
var optionFlags = map[string]string{
	"Options.MaxLength":     "--max-length",
	"Options.Threads":       "--threads",
	"Options.Backend":       "--backend",
	"Options.Activation":    "--activation",
	"Options.Truncation":    "--truncate",
	"RankOptions.TopK":      "--top-k",
	"RankOptions.BatchSize": "--batch-size",
}

// modelError says a failure to load the model given by --model in the
// command line's terms: an engine option becomes its flag, a missing
// directory a bad --model, Metal off macOS a bad --backend; a repo missing
// from the cache gets the command that downloads it.
func modelError(err error, model string) error {
	var oe *engine.OptionError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &oe) && optionFlags[oe.Field] != "":
		return usagef("%s %v: want %s", optionFlags[oe.Field], oe.Value, oe.Allowed)
	case errors.Is(err, metal.ErrUnavailable) && runtime.GOOS != "darwin":
		return usagef("--backend metal: Metal needs macOS on Apple silicon (this is %s/%s); --backend cpu (or auto) runs here",
			runtime.GOOS, runtime.GOARCH)
	case errors.Is(err, loader.ErrNotCached), errors.Is(err, hub.ErrOffline):
		return fmt.Errorf("%w; download it with: minilm download %s", err, orDefault(model))
	case errors.Is(err, fs.ErrNotExist):
		// The loader's message names the reference; say it as the flag.
		why := strings.TrimPrefix(err.Error(), "loader: "+orDefault(model)+": ")
		return usagef("--model %s: %s", orDefault(model), why)
	}
	return err
}

func orDefault(model string) string {
	if model == "" {
		return defaultModel
	}
	return model
}

// tokenizeError says why a pair cannot be tokenized in the flags' terms.
func tokenizeError(err error) error {
	var le *engine.LengthError
	if errors.As(err, &le) && le.First > 0 {
		return &restated{err: err, msg: fmt.Sprintf("query is %d tokens, longer than --max-length %d allows with --truncate only-second (at most %d)",
			le.First, le.MaxLength, le.MaxLength-le.Specials-1)}
	}
	return err
}

// restated is err said in the command line's terms; errors.Is and As still
// see err.
type restated struct {
	msg string
	err error
}

func (e *restated) Error() string { return e.msg }
func (e *restated) Unwrap() error { return e.err }

// flagScorer is a scorer whose tokenization errors are said in the flags'
// terms (the pipeline reports them as FILE:LINE: reason).
type flagScorer struct{ rankScorer }

func (s flagScorer) Tokenize(p engine.Pair) (engine.Sequence, error) {
	seq, err := s.rankScorer.Tokenize(p)
	return seq, tokenizeError(err)
}
