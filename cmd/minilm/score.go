package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"

	"github.com/minilm-dev/minilm/engine"
	"github.com/minilm-dev/minilm/pairfile"
)

const scoreAbout = `
Score query/passage pairs. Each FILE is read in turn ("-" or no FILE: stdin)
and every record is written back with its score, in input order, to stdout or
to --output. Memory stays bounded however long the input is.

Formats (by extension, or --format; stdin's from its first line: JSON, a
TSV line, or a CSV header naming query and passage; else give --format):
  .jsonl .json .ndjson  one JSON object per line:
        {"query": "...", "passage": "..."}       gets  "score": 1.25
        {"query": "...", "documents": ["..."]}   gets  "scores": [1.25, ...]
      every other field is kept in its place; an existing "score"/"scores"
      is replaced. Blank lines are skipped. A file holding one JSON array is
      refused with the command that converts it (jq -c '.[]').
  .tsv  query<TAB>passage per line; the line is written with <TAB>score.
  .csv  a header row naming "query" and "passage" columns (other columns
      are kept); a "score" column is appended (or an existing one replaced).
All FILEs must have the same format (one output stream, one layout).
Scores are printed as the shortest decimal that reads back as the float32.
Empty queries and passages are valid.

Bad input: a malformed record (bad JSON, missing field, wrong type, wrong
column count, invalid UTF-8, a query too long for --truncate only-second)
stops the run with "minilm: FILE:LINE: reason" after every record before it
has been written in full; exit status 2. With --skip-invalid each bad record
is reported, skipped, and counted at the end.

--output FILE is written to a temporary file beside FILE and renamed over
it, so FILE never holds a torn result. After a bad record or Ctrl-C, what was
scored before it (a valid prefix of the output) is renamed into place; after
any other failure FILE is left untouched.

Exit status: 0 done; 1 runtime failure; 2 usage error or bad input;
130 interrupted (Ctrl-C or SIGTERM), after flushing what was scored.

Example:
  minilm score pairs.jsonl -o scored.jsonl
  printf 'what is go?\tGo is a language.\n' | minilm score --format tsv`

// scoreFlags are the flags of `minilm score` beyond the model's.
type scoreFlags struct {
	modelFlags
	batchSize   int
	replicas    int
	output      string
	format      string
	skipInvalid bool
	quiet       bool
	progress    bool
	shard       shard
	maxLine     maxLineFlag
}

func scoreCommand() command {
	return command{
		name:    "score",
		summary: "score query/passage pairs in JSONL, TSV or CSV files (the main job)",
		run:     runScore,
	}
}

func newScoreFlags() (*flagSpec, *scoreFlags) {
	f := &scoreFlags{}
	spec := newFlagSpec("score", "minilm score [flags] [FILE ...|-]", scoreAbout)
	fs := spec.fs
	f.modelFlags.register(fs)
	fs.IntVar(&f.batchSize, "batch-size", 32, "pairs per forward pass")
	fs.StringVar(&f.output, "output", "", "write to `FILE` (atomically: temporary file, then rename) instead of stdout")
	fs.StringVar(&f.output, "o", "", "short for --output")
	fs.StringVar(&f.format, "format", "", "input `format` for every FILE: jsonl, tsv or csv (default: by extension; stdin: from its first line)")
	fs.BoolVar(&f.skipInvalid, "skip-invalid", false, "report malformed records on stderr, skip them and go on")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress bar and no per-record reports of skipped records")
	fs.BoolVar(&f.progress, "progress", false, "report progress on stderr even when it is not a terminal (a plain line every 5 s)")
	fs.Var(&f.shard, "shard", "score only shard `I/N` of the input: the lines numbered L with (L-1) mod N = I,\neach output line prefixed with L and a tab, so that shards merge in order:\n  sort -m -s -t \"$(printf '\\t')\" -k1,1n OUT... | cut -f2-\n(one jsonl or tsv input; for a Kubernetes Indexed Job: --shard $(JOB_COMPLETION_INDEX)/N)")
	registerReplicas(fs, &f.replicas)
	registerMaxLine(fs, &f.maxLine)
	return spec, f
}

func runScore(ctx context.Context, std stdio, args []string) int {
	spec, f := newScoreFlags()
	files, status, done := spec.parse(std, args)
	if done {
		return status
	}
	if len(files) == 0 {
		files = []string{"-"}
	}
	var progressOut io.Writer
	if !f.quiet && (f.progress || std.errIsTerminal) {
		progressOut = std.err
	}
	opts, err := f.check()
	if err == nil && progressOut != nil && std.errIsTerminal {
		opts.Progress = progressOut // the hub's download bar redraws in place
	}
	if err == nil {
		err = f.shard.check(files, f.format)
	}
	var inputs []pairfile.Input
	var sizes []int64
	if err == nil {
		inputs, sizes, err = openInputs(std, files, f.format)
		defer pairfile.Close(inputs)
	}
	if err != nil {
		return exitWith(ctx, std, err)
	}
	for i := range inputs {
		inputs[i].MaxLine = int(f.maxLine)
	}

	sc, closeModel, err := loadScorer(ctx, &f.modelFlags, f.replicas, f.batchSize, opts, std.err)
	if err != nil {
		return exitWith(ctx, std, err)
	}
	defer closeModel()
	// stdin's format is told from its first line, once the flags have been
	// checked against the model: nothing is read before.
	if err := pairfile.Sniff(inputs); err != nil {
		return exitWith(ctx, std, usageOf(err))
	}

	out := std.out
	var file *pairfile.AtomicFile
	if f.output != "" {
		if file, err = pairfile.CreateAtomic(f.output); err != nil {
			return exitWith(ctx, std, err)
		}
		out = file
	}

	cfg := pairfile.Config{
		BatchSize:   f.batchSize,
		Tokenizers:  min(4, max(1, runtime.GOMAXPROCS(0)/4)),
		Scorers:     scorersFor(f.replicas),
		SkipInvalid: f.skipInvalid,
		OnSkip: func(err error) {
			if !f.quiet {
				fmt.Fprintf(std.err, "minilm: %v (skipped)\n", err)
			}
		},
	}
	var bar *pairfile.Progress
	if progressOut != nil {
		interval := pairfile.LogInterval
		if std.errIsTerminal {
			interval = pairfile.TerminalInterval
		}
		bar = pairfile.StartProgress(progressOut, std.errIsTerminal, sizes, interval)
		cfg.OnWritten = bar.Written
	}
	cfg.Shard.Index, cfg.Shard.Count = f.shard.index, f.shard.count
	stats, err := pairfile.Score(ctx, sc, inputs, out, cfg)
	if bar != nil {
		bar.Finish()
	}
	if file != nil {
		var ie *pairfile.InputError
		var ue *usageError
		if err == nil || ctx.Err() != nil || errors.As(err, &ie) || errors.As(err, &ue) {
			if cerr := file.Commit(); err == nil {
				err = cerr
			}
		} else {
			file.Abort()
		}
	}
	if stats.Skipped > 0 {
		fmt.Fprintf(std.err, "minilm: skipped %d invalid record(s)\n", stats.Skipped)
	}
	return exitWith(ctx, std, err)
}

// check validates the flag values.
func (f *scoreFlags) check() (engine.Options, error) {
	opts, err := f.modelFlags.options(nil)
	if err != nil {
		return opts, err
	}
	if f.batchSize < 1 {
		return opts, usagef("--batch-size %d: must be at least 1", f.batchSize)
	}
	if f.replicas < 0 {
		return opts, usagef("--replicas %d: must be 0 or more (0 and 1: in this process)", f.replicas)
	}
	if f.quiet && f.progress {
		return opts, usagef("--quiet and --progress contradict each other")
	}
	if f.format != "" {
		if _, err := pairfile.ParseFormat(f.format); err != nil {
			return opts, usagef("%v", err)
		}
	}
	return opts, nil
}

// openInputs opens the named inputs ("-" is stdin, at most once) and tells
// their formats (pairfile.Open). sizes[i] is the size of a regular file, -1
// otherwise.
func openInputs(std stdio, names []string, forced string) ([]pairfile.Input, []int64, error) {
	inputs, sizes, err := pairfile.Open(names, forced, std.in)
	return inputs, sizes, usageOf(err)
}

// usageOf makes pairfile's complaints about the inputs themselves (a
// missing file, mixed formats) usage errors, exit status 2.
func usageOf(err error) error {
	if errors.Is(err, pairfile.ErrInputs) {
		return usagef("%v", err)
	}
	return err
}

// scorersFor is how many batches the pipeline keeps in the scorer stage: one
// in process (a forward pass uses every thread), and two per replica
// worker (the supervisor's default window) so that none waits for work.
func scorersFor(replicas int) int {
	if replicas <= 1 {
		return 1
	}
	return 2 * replicas
}
