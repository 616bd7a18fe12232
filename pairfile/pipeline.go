package pairfile

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

// Config tunes Score.
type Config struct {
	BatchSize   int  // pairs per batch (the batcher's MaxSequences)
	Tokenizers  int  // tokenizer goroutines
	Scorers     int  // batches scored at the same time
	SkipInvalid bool // report malformed records to OnSkip and go on
	OnSkip      func(err error)
	// OnWritten, when set, is called after each record is written with its
	// pairs, the index of its input and the input's offset just after it.
	OnWritten func(pairs, input int, end int64)
	// Shard, when Count > 0, scores only the records whose input line L
	// (from 1) has (L-1) mod Count == Index, and starts each output line
	// with L and a tab, so that the shards' outputs merge back in order.
	Shard struct{ Index, Count int }
}

// Stats counts what was written.
type Stats struct {
	Records, Pairs, Skipped int
}

// Score reads the records of inputs in turn, scores their pairs on sc and
// writes each record back to w with its score, in input order and in its
// input's format. See runPipeline for the errors it returns; w is flushed
// in every case.
func Score(ctx context.Context, sc batch.Scorer, inputs []Input, w io.Writer, cfg Config) (Stats, error) {
	var src recordSource = newMultiSource(inputs)
	rw := newRecordWriter(w)
	if cfg.Shard.Count > 0 {
		src = &shardSource{src: src, index: cfg.Shard.Index, count: cfg.Shard.Count}
		rw.lineNumbers = true
	}
	return runPipeline(ctx, sc, src, rw, cfg)
}

// shardSource passes on the records of src that belong to the shard.
type shardSource struct {
	src          recordSource
	index, count int
}

func (s *shardSource) next() (*record, error) {
	for {
		r, err := s.src.next()
		if err != nil || (r.line-1)%s.count == s.index {
			return r, err
		}
	}
}

// ReadPairs reads every pair of inputs. Every record must be valid: the
// first malformed one is returned as an *InputError.
func ReadPairs(inputs []Input) ([]engine.Pair, error) {
	src := newMultiSource(inputs)
	var pairs []engine.Pair
	for {
		rec, err := src.next()
		if err == io.EOF {
			return pairs, nil
		}
		if err != nil {
			return nil, err
		}
		if rec.err != nil {
			return nil, rec.err
		}
		pairs = append(pairs, rec.pairs...)
	}
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
func queueBound(cfg Config) int {
	return 4 * cfg.BatchSize * max(cfg.Scorers, cfg.Tokenizers)
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
// It returns the first malformed record's *InputError (unless
// cfg.SkipInvalid; an unusable CSV header always), ctx.Err()
// when ctx is cancelled, or the failure that stopped the run. In every case,
// the records before the stopping point are written in full and w is
// flushed.
//
// The goroutine reading src is not waited for: a read from a terminal or pipe
// cannot be interrupted, and it ends by itself after its current read.
func runPipeline(ctx context.Context, sc batch.Scorer, src recordSource, w *recordWriter, cfg Config) (Stats, error) {
	cfg.BatchSize = max(cfg.BatchSize, 1)
	cfg.Tokenizers = max(cfg.Tokenizers, 1)
	cfg.Scorers = max(cfg.Scorers, 1)
	b := batch.New(sc, batch.Config{MaxSequences: cfg.BatchSize, Scorers: cfg.Scorers,
		Tokenizers: cfg.Tokenizers, MaxQueued: queueBound(cfg)})
	pctx, cancel := context.WithCancel(ctx)
	order := make(chan queued, queueBound(cfg))
	go readRecords(pctx, b, src, order, cfg.SkipInvalid)

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
func writeRecords(ctx context.Context, order <-chan queued, w *recordWriter, cfg Config) (Stats, error) {
	var st Stats
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
					r.err = &InputError{File: r.name, Line: r.line, Reason: err.Error()}
					break
				}
			}
		}
		if r.err != nil {
			if r.fatal || !cfg.SkipInvalid {
				return st, r.err
			}
			st.Skipped++
			if cfg.OnSkip != nil {
				cfg.OnSkip(r.err)
			}
			continue
		}
		if err := w.write(r); err != nil {
			return st, fmt.Errorf("write output: %w", err)
		}
		st.Records++
		st.Pairs += len(r.pairs)
		if cfg.OnWritten != nil {
			cfg.OnWritten(len(r.pairs), r.input, r.end)
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
	if r.format == CSV {
		return rw.writeCSV(r)
	}
	if _, err := rw.w.Write(rw.buf); err != nil {
		return err
	}
	var err error
	if r.format == TSV {
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
		val = string(AppendScore(nil, r.scores[0]))
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
