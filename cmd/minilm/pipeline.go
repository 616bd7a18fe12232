package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/minilm-dev/minilm/engine"
	"github.com/minilm-dev/minilm/engine/batch"
)

// pipelineConfig tunes runPipeline.
type pipelineConfig struct {
	batchSize   int  // pairs per batch (the batcher's MaxSequences)
	tokenizers  int  // tokenizer goroutines
	scorers     int  // batches scored at the same time
	skipInvalid bool // report malformed records and go on
	onSkip      func(err error)
	onWritten   func(r *record)
}

// pipelineStats counts what the writer did.
type pipelineStats struct {
	records, pairs, skipped int
}

// queued is a record on its way to the writer, with the job scoring its
// pairs (nil for a record without pairs: a CSV header, a malformed record).
type queued struct {
	rec *record
	job *batch.Job
}

// queueBound is how many pairs the batcher admits ahead of the scorers, and
// how many records the writer's channel holds: enough to keep every scorer
// fed with full batches, and what bounds the pipeline's memory.
func queueBound(cfg pipelineConfig) int {
	return 4 * cfg.batchSize * max(cfg.scorers, cfg.tokenizers)
}

// runPipeline streams records through
//
//	reader → engine/batch (tokenizers, batches, scorers) → writer (input order)
//
// The reader submits each record's pairs to the batcher as one job, in input
// order, waiting for room in its bounded queue, and hands the job to the
// writer, which waits for the jobs in that order. Memory depends on the
// batch size and the scorers, never on the input's length.
//
// It returns the first malformed record's *inputError (unless
// cfg.skipInvalid), a *usageError for an unusable CSV header, ctx.Err()
// when ctx is cancelled, or the failure that stopped the run. In every case,
// the records before the stopping point are written in full and w is
// flushed.
//
// The goroutine reading src is not waited for: a read from a terminal or pipe
// cannot be interrupted, and it ends by itself after its current read.
func runPipeline(ctx context.Context, sc batch.Scorer, src recordSource, w *recordWriter, cfg pipelineConfig) (pipelineStats, error) {
	cfg.batchSize = max(cfg.batchSize, 1)
	cfg.tokenizers = max(cfg.tokenizers, 1)
	cfg.scorers = max(cfg.scorers, 1)
	b := batch.New(sc, batch.Config{MaxSequences: cfg.batchSize, Scorers: cfg.scorers,
		Tokenizers: cfg.tokenizers, MaxQueued: queueBound(cfg)})
	pctx, cancel := context.WithCancel(ctx)
	order := make(chan queued, queueBound(cfg))
	go readRecords(pctx, b, src, order, cfg.skipInvalid)

	stats, err := writeRecords(ctx, order, w, cfg)
	cancel()
	closeNow(b) // everything wanted is written
	if ferr := w.flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write output: %w", ferr)
	}
	return stats, err
}

// closeNow closes b without waiting for what is left: it is cancelled.
func closeNow(b *batch.Batcher) {
	now, stop := context.WithCancel(context.Background())
	stop()
	b.Close(now)
}

// rankDocuments scores docs against query on the batcher and ranks them
// best first, as engine.Model.Rank does.
func rankDocuments(ctx context.Context, sc batch.Scorer, query string, docs []string, opts engine.RankOptions) ([]engine.Ranked, error) {
	pairs := make([]engine.Pair, len(docs))
	for i, d := range docs {
		pairs[i] = engine.Pair{Query: query, Passage: d}
	}
	b := batch.New(sc, batch.Config{MaxSequences: opts.BatchSize})
	defer closeNow(b)
	res, err := b.Score(ctx, pairs)
	if err != nil {
		return nil, err
	}
	for i, err := range res.Errs {
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
	}
	return engine.RankScores(res.Scores, docs, opts), nil
}

// readRecords parses records, submits their pairs and queues them for the
// writer. Unless malformed records are skipped, it stops after the first
// one: nothing after it will be written.
func readRecords(ctx context.Context, b *batch.Batcher, src recordSource, order chan<- queued, skipInvalid bool) {
	defer close(order)
	for {
		r, err := src.next()
		if err == io.EOF {
			return
		}
		if err != nil {
			r = &record{err: err, fatal: true}
		}
		q := queued{rec: r}
		if r.err == nil && len(r.pairs) > 0 {
			if q.job, err = b.Submit(ctx, r.pairs); err != nil {
				return // ctx ended: the writer reports it
			}
		}
		select {
		case order <- q:
		case <-ctx.Done():
			return
		}
		if r.err != nil && (r.fatal || !skipInvalid) {
			return
		}
	}
}

// writeRecords prints the records in order as their jobs complete. It
// flushes its output whenever it has to wait, so that scored records reach
// a slow pipe's reader promptly. A pair that could not be tokenized (a query
// too long for --truncate only-second) makes its record invalid.
func writeRecords(ctx context.Context, order <-chan queued, w *recordWriter, cfg pipelineConfig) (pipelineStats, error) {
	var st pipelineStats
	flush := func() error {
		if err := w.flush(); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		return nil
	}
	for {
		var (
			q  queued
			ok bool
		)
		select {
		case q, ok = <-order:
		default:
			if err := flush(); err != nil {
				return st, err
			}
			// The reader may be stuck in a read that ctx cannot interrupt.
			select {
			case q, ok = <-order:
			case <-ctx.Done():
				return st, ctx.Err()
			}
		}
		if !ok {
			break
		}
		r := q.rec
		if q.job != nil {
			select {
			case <-q.job.Done():
			default:
				if err := flush(); err != nil {
					return st, err
				}
				<-q.job.Done()
			}
			res := q.job.Result()
			if res.Err != nil {
				if err := ctx.Err(); err != nil {
					return st, err
				}
				return st, res.Err
			}
			copy(r.scores, res.Scores)
			for _, err := range res.Errs {
				if err != nil {
					r.err = &inputError{file: r.name, line: r.line, reason: err.Error()}
					break
				}
			}
		}
		if r.err != nil {
			if r.fatal || !cfg.skipInvalid {
				return st, r.err
			}
			st.skipped++
			if cfg.onSkip != nil {
				cfg.onSkip(r.err)
			}
			continue
		}
		if err := w.write(r); err != nil {
			return st, fmt.Errorf("write output: %w", err)
		}
		st.records++
		st.pairs += len(r.pairs)
		if cfg.onWritten != nil {
			cfg.onWritten(r)
		}
	}
	return st, ctx.Err()
}

// recordWriter prints scored records in their input's format.
type recordWriter struct {
	w      *bufio.Writer
	cw     *csv.Writer // over w
	buf    []byte
	header []string // the last CSV header printed

	lineNumbers bool // start each line with the record's input line number and a tab (--shard)
}

func newRecordWriter(w io.Writer) *recordWriter {
	bw := bufio.NewWriterSize(w, 1<<16)
	return &recordWriter{w: bw, cw: csv.NewWriter(bw)}
}

func (rw *recordWriter) write(r *record) error {
	rw.buf = rw.buf[:0]
	if rw.lineNumbers {
		rw.buf = append(strconv.AppendInt(rw.buf, int64(r.line), 10), '\t')
	}
	if r.format == formatCSV {
		return rw.writeCSV(r)
	}
	if _, err := rw.w.Write(rw.buf); err != nil {
		return err
	}
	var err error
	if r.format == formatTSV {
		rw.buf, err = r.writeTSV(rw.w, rw.buf)
	} else {
		rw.buf, err = r.writeJSONL(rw.w, rw.buf)
	}
	return err
}

// writeCSV prints a CSV row with its score. A header identical to the last
// one printed is not repeated, so several CSV files concatenate into one.
func (rw *recordWriter) writeCSV(r *record) error {
	var val string
	if r.header {
		if slices.Equal(r.fields, rw.header) {
			return nil
		}
		rw.header = r.fields
		val = "score"
	} else {
		val = string(appendScore(nil, r.scores[0]))
	}
	fields := r.fields
	if r.col >= 0 && r.col < len(fields) {
		fields = slices.Clone(fields)
		fields[r.col] = val
	} else {
		fields = append(slices.Clip(fields), val)
	}
	if err := rw.cw.Write(fields); err != nil {
		return err
	}
	rw.cw.Flush()
	return rw.cw.Error()
}

func (rw *recordWriter) flush() error { return rw.w.Flush() }
