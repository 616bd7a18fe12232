package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"github.com/minilm-dev/minilm/engine"
)

const rerankAbout = `
Rank documents for one query: every document is scored against --query and
printed best first as INDEX<TAB>SCORE<TAB>TEXT (INDEX counts documents from
0 in input order), or as JSON lines with --json.

Input (FILE, or stdin when FILE is "-" or absent): one document per line, or,
for .jsonl/.json/.ndjson files and --format jsonl, one JSON object per line
with a "text" string. Blank lines are skipped and not counted.

Example:
  minilm rerank --query "how many people live in berlin?" --top-k 3 docs.txt`

func rerankCommand() command {
	return command{
		name:    "rerank",
		summary: "sort documents by relevance to one query",
		run:     runRerank,
	}
}

type rerankFlags struct {
	modelFlags
	query   string
	topK    int
	json    bool
	format  string
	maxLine maxLineFlag
}

func runRerank(ctx context.Context, std stdio, args []string) int {
	f := &rerankFlags{}
	spec := newFlagSpec("rerank", `minilm rerank --query "..." [flags] [FILE|-]`, rerankAbout)
	f.modelFlags.register(spec.fs)
	spec.fs.StringVar(&f.query, "query", "", "the `query` to rank the documents for (required)")
	spec.fs.IntVar(&f.topK, "top-k", 0, "print only the best `k` documents (0: all)")
	spec.fs.BoolVar(&f.json, "json", false, `print JSON lines {"rank":1,"index":..,"score":..,"text":".."}`)
	spec.fs.StringVar(&f.format, "format", "", "input `format`: text (one document per line) or jsonl (default: by extension; stdin: text)")
	registerMaxLine(spec.fs, &f.maxLine)
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
	docs, err := readDocuments(r, label, jsonl, int(f.maxLine))
	if err != nil {
		return exitWith(ctx, std, err)
	}
	if std.errIsTerminal {
		opts.Progress = std.err // a first run may download the model
	}
	m, err := engine.Load(ctx, f.model, opts)
	if err != nil {
		return exitWith(ctx, std, err)
	}
	defer m.Close()
	ranked, err := m.Rank(ctx, f.query, docs, engine.RankOptions{TopK: f.topK})
	if err != nil {
		return exitWith(ctx, std, err)
	}
	w := bufio.NewWriter(std.out)
	var line []byte
	for i, rk := range ranked {
		line = line[:0]
		if f.json {
			text, _ := json.Marshal(docs[rk.Index])
			line = fmt.Appendf(line, `{"rank":%d,"index":%d,"score":`, i+1, rk.Index)
			line = appendJSONScore(line, rk.Score)
			line = append(line, `,"text":`...)
			line = append(line, text...)
			line = append(line, "}\n"...)
		} else {
			line = fmt.Appendf(line, "%d\t", rk.Index)
			line = appendScore(line, rk.Score)
			line = append(line, '\t')
			line = append(line, docs[rk.Index]...)
			line = append(line, '\n')
		}
		w.Write(line)
	}
	if err := w.Flush(); err != nil {
		return exitWith(ctx, std, fmt.Errorf("write output: %w", err))
	}
	return exitWith(ctx, std, nil)
}

// flagSet tells whether a flag was given on the command line.
func flagSet(spec *flagSpec, name string) bool {
	set := false
	spec.fs.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set
}

// readDocuments reads rerank's documents: non-blank lines, or the "text" of
// JSON lines. A malformed line, or one longer than maxLine, is an
// *inputError.
func readDocuments(r io.Reader, name string, jsonl bool, maxLine int) ([]string, error) {
	lr := newLineReader(r, maxLine)
	var docs []string
	for n := 1; ; n++ {
		line, err := lr.next()
		var tooLong *lineTooLongError
		switch {
		case err == io.EOF:
			return docs, nil
		case errors.As(err, &tooLong):
			return nil, &inputError{file: name, line: n, reason: tooLong.Error()}
		case err != nil:
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if !utf8.Valid(line) {
			return nil, &inputError{file: name, line: n, reason: "invalid UTF-8"}
		}
		if !jsonl {
			docs = append(docs, aliasString(line)) // the line is the document's own
			continue
		}
		text, err := parseTextLine(line)
		if err != nil {
			return nil, &inputError{file: name, line: n, reason: err.Error()}
		}
		docs = append(docs, text)
	}
}

// parseTextLine reads the "text" string of a JSON object.
func parseTextLine(line []byte) (string, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(line, &obj); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return "", errors.New("not a JSON object")
		}
		return "", fmt.Errorf("bad JSON: %v", jsonReason(err))
	}
	raw, ok := obj["text"]
	if !ok {
		return "", errors.New(`missing "text"`)
	}
	s, err := decodeString(raw)
	if err != nil {
		return "", fmt.Errorf(`"text" %v`, err)
	}
	return s, nil
}
