package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/minilm-dev/minilm/engine"
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
	var inputs []input
	var sizes []int64
	if err == nil {
		inputs, sizes, err = openInputs(std, files, f.format)
		defer closeInputs(inputs)
	}
	if err != nil {
		return exitWith(ctx, std, err)
	}
	for i := range inputs {
		inputs[i].maxLine = int(f.maxLine)
	}

	sc, closeModel, err := loadScorer(ctx, &f.modelFlags, f.replicas, f.batchSize, opts, std.err)
	if err != nil {
		return exitWith(ctx, std, err)
	}
	defer closeModel()
	// stdin's format is told from its first line, once the flags have been
	// checked against the model: nothing is read before.
	if err := sniffInputs(inputs); err != nil {
		return exitWith(ctx, std, err)
	}

	out := std.out
	var file *atomicFile
	if f.output != "" {
		if file, err = createAtomic(f.output); err != nil {
			return exitWith(ctx, std, err)
		}
		out = file
	}

	cfg := pipelineConfig{
		batchSize:   f.batchSize,
		tokenizers:  min(4, max(1, runtime.GOMAXPROCS(0)/4)),
		scorers:     scorersFor(f.replicas),
		skipInvalid: f.skipInvalid,
		onSkip: func(err error) {
			if !f.quiet {
				fmt.Fprintf(std.err, "minilm: %v (skipped)\n", err)
			}
		},
	}
	var bar *progressBar
	if progressOut != nil {
		interval := logInterval
		if std.errIsTerminal {
			interval = terminalInterval
		}
		bar = startProgress(progressOut, std.errIsTerminal, sizes, interval)
		cfg.onWritten = bar.written
	}
	var src recordSource = newMultiSource(inputs)
	w := newRecordWriter(out)
	if f.shard.enabled() {
		src = &shardSource{src: src, sh: f.shard}
		w.lineNumbers = true
	}
	stats, err := runPipeline(ctx, sc, src, w, cfg)
	if bar != nil {
		bar.finish()
	}
	if file != nil {
		var ie *inputError
		var ue *usageError
		if err == nil || ctx.Err() != nil || errors.As(err, &ie) || errors.As(err, &ue) {
			if cerr := file.commit(); err == nil {
				err = cerr
			}
		} else {
			file.abort()
		}
	}
	if stats.skipped > 0 {
		fmt.Fprintf(std.err, "minilm: skipped %d invalid record(s)\n", stats.skipped)
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
		if _, err := parseFormat(f.format); err != nil {
			return opts, err
		}
	}
	return opts, nil
}

// openInputs opens the named inputs ("-" is stdin, at most once) and tells
// their formats. sizes[i] is the size of a regular file, -1 otherwise.
func openInputs(std stdio, names []string, forced string) ([]input, []int64, error) {
	var inputs []input
	var sizes []int64
	stdin := false
	for _, name := range names {
		in := input{name: name}
		switch {
		case forced != "":
			in.format, _ = parseFormat(forced)
		case name == "-":
			in.format = formatSniff
		default:
			fm, ok := formatOf(name)
			if !ok {
				closeInputs(inputs)
				return nil, nil, usagef("%s: cannot tell the format from the extension; use --format jsonl, tsv or csv", name)
			}
			in.format = fm
		}
		size := int64(-1)
		if name == "-" {
			if stdin {
				closeInputs(inputs)
				return nil, nil, usagef("stdin (-) given twice")
			}
			stdin = true
			in.name, in.r = "<stdin>", std.in
		} else {
			fh, err := os.Open(name)
			if err == nil {
				var st os.FileInfo
				if st, err = fh.Stat(); err == nil && st.IsDir() {
					err = errors.New("is a directory")
				} else if err == nil && st.Mode().IsRegular() {
					size = st.Size()
				}
				if err != nil {
					fh.Close()
				}
			}
			if err != nil {
				closeInputs(inputs)
				return nil, nil, usagef("input %s: %v", name, unwrapPathError(err))
			}
			in.r = fh
		}
		inputs = append(inputs, in)
		sizes = append(sizes, size)
	}
	if err := sameFormat(inputs); err != nil {
		closeInputs(inputs)
		return nil, nil, err
	}
	return inputs, sizes, nil
}

// sameFormat refuses inputs of different formats: their records would go
// into one output stream in mixed layouts.
func sameFormat(inputs []input) error {
	first := -1
	for i, in := range inputs {
		if in.format == formatSniff {
			continue
		}
		if first < 0 {
			first = i
			continue
		}
		if a := inputs[first]; in.format != a.format {
			return usagef("inputs of different formats: %s is %s, %s is %s; score them in separate runs (the output keeps one layout)",
				a.name, a.format, in.name, in.format)
		}
	}
	return nil
}

// sniffInputs tells stdin's format from its first non-blank line.
func sniffInputs(inputs []input) error {
	for i := range inputs {
		in := &inputs[i]
		if in.format != formatSniff {
			continue
		}
		br := bufio.NewReaderSize(in.r, 1<<16)
		in.r = br
		fm, err := sniffFormat(br, in.name)
		if err != nil {
			return err
		}
		in.format = fm
	}
	return sameFormat(inputs)
}

func closeInputs(inputs []input) {
	for _, in := range inputs {
		if c, ok := in.r.(*os.File); ok && in.name != "<stdin>" {
			c.Close()
		}
	}
}

// unwrapPathError drops the operation and path that *fs.PathError repeats.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
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
