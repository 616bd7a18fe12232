package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"unicode/utf8"

	"github.com/minilm-dev/minilm/engine"
)

const rerankAbout = `
Rank documents for one query: every document is scored against --query and
printed best first as INDEX<TAB>SCORE<TAB>TEXT (INDEX counts documents from
0 in input order), or as JSON lines with --json: {"rank":1,"index":..,
"score":..,"text":".."} for text input, and for JSON input the document's
own object, every field kept, with "rank", "index" and "score" set.

Input (FILE, or stdin when FILE is "-" or absent): one document per line, or,
for .jsonl/.json/.ndjson files and --format jsonl, one JSON object per line
with a "text" string. Blank lines are skipped and not counted. A bad line
(invalid UTF-8, bad JSON, no "text") stops the run with "minilm: FILE:LINE:
reason", exit status 2, before anything is printed; --skip-invalid reports
and skips it instead.

Flags are checked against the model before the input is read (a --query too
long for --truncate only-second is refused then). Exit status: 0 done; 1
runtime failure; 2 usage error or bad input; 130 interrupted.

Example:
  minilm rerank --query "how many people live in berlin?" --top-k 3 docs.txt
  minilm rerank --query "berlin" --json -o ranked.jsonl docs.jsonl`

func rerankCommand() command {
	return command{
		name:    "rerank",
		summary: "sort documents by relevance to one query",
		run:     runRerank,
	}
}

type rerankFlags struct {
	modelFlags
	query       string
	topK        int
	json        bool
	format      string
	output      string
	batchSize   int
	replicas    int
	skipInvalid bool
	quiet       bool
	maxLine     maxLineFlag
}

// document is one input document: its text and, for JSON input, its object.
type document struct {
	text string
	obj  *jsonObject // nil for a text line
}

func runRerank(ctx context.Context, std stdio, args []string) int {
	f := &rerankFlags{}
	spec := newFlagSpec("rerank", `minilm rerank --query "..." [flags] [FILE|-]`, rerankAbout)
	fs := spec.fs
	f.modelFlags.register(fs)
	fs.StringVar(&f.query, "query", "", "the `query` to rank the documents for (required)")
	fs.IntVar(&f.topK, "top-k", 0, "print only the best `k` documents (0: all)")
	fs.BoolVar(&f.json, "json", false, `print JSON lines: {"rank":1,"index":..,"score":..,"text":".."}, or a JSON document's own object with those fields set`)
	fs.StringVar(&f.format, "format", "", "input `format`: text (one document per line) or jsonl (default: by extension; stdin: text)")
	fs.StringVar(&f.output, "output", "", "write to `FILE` (atomically: temporary file, then rename) instead of stdout")
	fs.StringVar(&f.output, "o", "", "short for --output")
	fs.IntVar(&f.batchSize, "batch-size", 32, "documents per forward pass")
	fs.BoolVar(&f.skipInvalid, "skip-invalid", false, "report malformed lines on stderr, skip them and go on")
	fs.BoolVar(&f.quiet, "quiet", false, "no per-line reports of skipped lines")
	registerReplicas(fs, &f.replicas)
	registerMaxLine(fs, &f.maxLine)
	files, status, done := spec.parse(std, args)
	if done {
		return status
	}
	opts, err := f.modelFlags.options(nil)
	switch {
	case err != nil:
	case len(files) > 1:
		err = usagef("rerank takes one FILE, got %d", len(files))
	case !flagSet(spec, "query"):
		err = usagef("--query is required")
	case f.topK < 0:
		err = usagef("--top-k %d: must be 0 (all) or more", f.topK)
	case f.batchSize < 1:
		err = usagef("--batch-size %d: must be at least 1", f.batchSize)
	case f.replicas < 0:
		err = usagef("--replicas %d: must be 0 or more (0 and 1: in this process)", f.replicas)
	case f.format != "" && f.format != "text" && f.format != "jsonl":
		err = usagef("--format %q: want text or jsonl", f.format)
	}
	if err != nil {
		return exitWith(ctx, std, err)
	}
	name := "-"
	if len(files) == 1 {
		name = files[0]
	}
	jsonl := f.format == "jsonl"
	if f.format == "" && name != "-" {
		fm, ok := formatOf(name)
		jsonl = ok && fm == formatJSONL
	}
	r, label := std.in, "<stdin>"
	if name != "-" {
		fh, err := os.Open(name)
		if err != nil {
			return exitWith(ctx, std, usagef("input %s: %v", name, unwrapPathError(err)))
		}
		defer fh.Close()
		r, label = fh, name
	}
	if std.errIsTerminal {
		opts.Progress = std.err // a first run may download the model
	}
	sc, closeModel, err := loadScorer(ctx, &f.modelFlags, f.replicas, f.batchSize, opts, std.err)
	if err != nil {
		return exitWith(ctx, std, err)
	}
	defer closeModel()
	// The query is the same for every document: one too long for
	// --truncate only-second is a bad flag, said before reading the input.
	if _, err := sc.Tokenize(engine.Pair{Query: f.query, Passage: "x"}); err != nil {
		var le *engine.LengthError
		if errors.As(err, &le) {
			err = usagef("--%v", err) // "--query is N tokens, longer than ..."
		}
		return exitWith(ctx, std, err)
	}
	onSkip := func(err error) {
		if !f.quiet {
			fmt.Fprintf(std.err, "minilm: %v (skipped)\n", err)
		}
	}
	docs, skipped, err := readDocuments(r, label, jsonl, int(f.maxLine), f.skipInvalid, onSkip)
	if skipped > 0 {
		defer fmt.Fprintf(std.err, "minilm: skipped %d invalid line(s)\n", skipped)
	}
	if err != nil {
		return exitWith(ctx, std, err)
	}
	texts := make([]string, len(docs))
	for i, d := range docs {
		texts[i] = d.text
	}
	ranked, err := rankDocuments(ctx, sc, f.query, texts, engine.RankOptions{TopK: f.topK, BatchSize: f.batchSize})
	if err != nil {
		return exitWith(ctx, std, err)
	}
	return exitWith(ctx, std, writeRanking(std.out, f.output, f.json, docs, ranked))
}

// writeRanking prints the ranking to out, or atomically to the file output.
func writeRanking(out io.Writer, output string, asJSON bool, docs []document, ranked []engine.Ranked) error {
	var file *atomicFile
	if output != "" {
		var err error
		if file, err = createAtomic(output); err != nil {
			return err
		}
		out = file
	}
	w := bufio.NewWriter(out)
	var line []byte
	for i, rk := range ranked {
		line = appendRanked(line[:0], asJSON, i+1, rk, docs[rk.Index])
		w.Write(line)
	}
	err := w.Flush()
	if err != nil {
		err = fmt.Errorf("write output: %w", err)
	}
	if file != nil {
		if err != nil {
			file.abort()
			return err
		}
		return file.commit()
	}
	return err
}

var rankKeys = []string{"rank", "index", "score"}

// appendRanked appends one output line for the document ranked rank.
func appendRanked(dst []byte, asJSON bool, rank int, rk engine.Ranked, d document) []byte {
	if !asJSON {
		dst = fmt.Appendf(dst, "%d\t", rk.Index)
		dst = appendScore(dst, rk.Score)
		dst = append(dst, '\t')
		dst = append(dst, d.text...)
		return append(dst, '\n')
	}
	values := [][]byte{strconv.AppendInt(nil, int64(rank), 10), strconv.AppendInt(nil, int64(rk.Index), 10), appendJSONScore(nil, rk.Score)}
	if d.obj != nil {
		return append(d.obj.appendWith(dst, rankKeys, values), '\n')
	}
	dst = fmt.Appendf(dst, `{"rank":%s,"index":%s,"score":%s,"text":`, values[0], values[1], values[2])
	dst = appendJSONString(dst, d.text)
	return append(dst, "}\n"...)
}

// flagSet tells whether a flag was given on the command line.
func flagSet(spec *flagSpec, name string) bool {
	set := false
	spec.fs.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set
}

// readDocuments reads rerank's documents: non-blank lines, or the "text" of
// JSON lines. A malformed line is an *inputError; with skip it is passed to
// onSkip, counted and skipped.
func readDocuments(r io.Reader, name string, jsonl bool, maxLine int, skip bool, onSkip func(error)) (docs []document, skipped int, err error) {
	lr := newLineReader(r, maxLine)
	for n := 1; ; n++ {
		line, err := lr.next()
		var tooLong *lineTooLongError
		switch {
		case err == io.EOF:
			return docs, skipped, nil
		case errors.As(err, &tooLong):
			ie := &inputError{file: name, line: n, reason: tooLong.Error()}
			if !skip {
				return nil, skipped, ie
			}
			skipped++
			onSkip(ie)
			continue
		case err != nil:
			return nil, skipped, fmt.Errorf("read %s: %w", name, err)
		}
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		d, perr := parseDocument(line, jsonl)
		if perr != nil {
			ie := &inputError{file: name, line: n, reason: perr.Error()}
			if !skip {
				return nil, skipped, ie
			}
			skipped++
			onSkip(ie)
			continue
		}
		docs = append(docs, d)
	}
}

// parseDocument reads a text line, or a JSON object with a "text" string.
func parseDocument(line []byte, jsonl bool) (document, error) {
	if !utf8.Valid(line) {
		return document{}, errors.New("invalid UTF-8")
	}
	if !jsonl {
		return document{text: string(line)}, nil
	}
	obj, err := parseObject(bytes.TrimRight(line, " \t"))
	if err != nil {
		return document{}, err
	}
	raw, ok := obj.fields["text"]
	if !ok {
		return document{}, errors.New(`missing "text"`)
	}
	s, err := decodeString(raw)
	if err != nil {
		return document{}, fmt.Errorf(`"text" %v`, err)
	}
	return document{text: s, obj: obj}, nil
}
