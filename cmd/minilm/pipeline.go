package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/minilm-dev/minilm/engine"
)

// scorer is what the score pipeline needs from a model: *engine.Model, or
// a model's tokenizer in front of a replica supervisor.
type scorer interface {
	Tokenize(p engine.Pair) (engine.Sequence, error)
	ScoreSequences(ctx context.Context, seqs []engine.Sequence) ([]float32, error)
}

// pipelineConfig tunes runPipeline.
type pipelineConfig struct {
	batchSize   int  // pairs per ScoreSequences call
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

// slot is pair idx of record rec, placed in a batch.
type slot struct {
	rec *record
	idx int
}

// batch is the unit of work after the batcher: up to batchSize pairs, and
// the records whose last pair is in it (or that have no pairs), which the
// writer prints once the batch is done.
type batch struct {
	slots   []slot
	records []*record
	seqs    []engine.Sequence // tokenized slots, in slot order
	seqSlot []int             // seqs[j] belongs to slots[seqSlot[j]]
	tokErr  []error           // per slot: why it could not be tokenized
	err     error             // the batch failed (scoring error, cancellation)
	done    chan struct{}     // closed when scores (or err) are in
}

// pipeline streams records through
//
//	reader → batcher → tokenizers (parallel) → scorers → writer (input order)
//
// over bounded channels, so memory depends on batch size and the number of
// batches in flight, never on the input's length. The batcher sends every
// batch to the writer (orderCh) before handing it to the tokenizers, so the
// writer sees batches in input order and waits on each one's done channel.
type pipeline struct {
	sc  scorer
	cfg pipelineConfig

	recCh   chan *record
	orderCh chan *batch
	tokCh   chan *batch
	scoreCh chan *batch

	// inFlight counts batches handed to the tokenizers and not yet done; idle
	// wakes the batcher when it drops to zero, so a partial batch goes out
	// when input stalls (a slow pipe) instead of waiting to fill up.
	inFlight atomic.Int64
	idle     chan struct{}
}

// runPipeline scores every record of src and writes them to w in input
// order. It returns the first malformed record's *inputError (unless
// cfg.skipInvalid), a *usageError for an unusable CSV header, ctx.Err()
// when ctx is cancelled, or the failure that stopped the run. In every case,
// the records before the stopping point are written in full and w is
// flushed.
//
// The goroutine reading src is not waited for: a read from a terminal or pipe
// cannot be interrupted, and it ends by itself after its current read.
func runPipeline(ctx context.Context, sc scorer, src recordSource, w *recordWriter, cfg pipelineConfig) (pipelineStats, error) {
	cfg.batchSize = max(cfg.batchSize, 1)
	cfg.tokenizers = max(cfg.tokenizers, 1)
	cfg.scorers = max(cfg.scorers, 1)
	p := &pipeline{
		sc:      sc,
		cfg:     cfg,
		recCh:   make(chan *record, 4*cfg.batchSize),
		orderCh: make(chan *batch, 2*(cfg.tokenizers+cfg.scorers)),
		tokCh:   make(chan *batch, cfg.tokenizers),
		scoreCh: make(chan *batch, cfg.scorers),
		idle:    make(chan struct{}, 1),
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()

	go p.read(pctx, src)
	var wg, tokWG sync.WaitGroup
	wg.Go(func() { p.batch(pctx) })
	for range cfg.tokenizers {
		tokWG.Go(func() { p.tokenize(pctx) })
	}
	wg.Go(func() { tokWG.Wait(); close(p.scoreCh) })
	for range cfg.scorers {
		wg.Go(func() { p.score(pctx) })
	}

	stats, err := p.write(ctx, w)
	cancel()
	wg.Wait()
	if ferr := w.flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write output: %w", ferr)
	}
	return stats, err
}

// read parses records into recCh. Unless malformed records are skipped, it
// stops after the first one: nothing after it will be written.
func (p *pipeline) read(ctx context.Context, src recordSource) {
	defer close(p.recCh)
	for {
		r, err := src.next()
		if err == io.EOF {
			return
		}
		if err != nil {
			r = &record{err: err, fatal: true}
		}
		select {
		case p.recCh <- r:
		case <-ctx.Done():
			return
		}
		if r.err != nil && (r.fatal || !p.cfg.skipInvalid) {
			return
		}
	}
}

// batch groups the pairs of records into batches of cfg.batchSize; a
// record with several pairs (a "documents" list) may span batches.
func (p *pipeline) batch(ctx context.Context) {
	defer close(p.tokCh)
	defer close(p.orderCh)
	b := p.newBatch()
	emit := func() bool {
		select {
		case p.orderCh <- b:
		case <-ctx.Done():
			return false
		}
		cur := b
		b = p.newBatch()
		if len(cur.slots) == 0 {
			close(cur.done)
			return true
		}
		p.inFlight.Add(1)
		select {
		case p.tokCh <- cur:
			return true
		case <-ctx.Done():
			p.finish(cur, ctx.Err())
			return false
		}
	}
	for {
		var (
			r  *record
			ok bool
		)
		if (len(b.slots) > 0 || len(b.records) > 0) && p.inFlight.Load() == 0 {
			select {
			case r, ok = <-p.recCh:
			default:
				// Nothing is being scored and no record is ready: send what
				// we have rather than let the scorer idle.
				if !emit() {
					return
				}
				continue
			}
		} else {
			select {
			case r, ok = <-p.recCh:
			case <-p.idle:
				continue
			case <-ctx.Done():
				return
			}
		}
		if !ok {
			if len(b.slots) > 0 || len(b.records) > 0 {
				emit()
			}
			return
		}
		if r.err != nil || len(r.pairs) == 0 {
			b.records = append(b.records, r)
			continue
		}
		for i := range r.pairs {
			b.slots = append(b.slots, slot{rec: r, idx: i})
			if i == len(r.pairs)-1 {
				b.records = append(b.records, r)
			}
			if len(b.slots) == p.cfg.batchSize && !emit() {
				return
			}
		}
	}
}

func (p *pipeline) newBatch() *batch {
	return &batch{slots: make([]slot, 0, p.cfg.batchSize), done: make(chan struct{})}
}

// finish marks a batch handed to the tokenizers as done.
func (p *pipeline) finish(b *batch, err error) {
	b.err = err
	close(b.done)
	if p.inFlight.Add(-1) == 0 {
		select {
		case p.idle <- struct{}{}:
		default:
		}
	}
}

// tokenize turns each batch's pairs into sequences. A pair that cannot be
// tokenized (a query too long for --truncate only-second) makes its record
// invalid; the writer reports it.
func (p *pipeline) tokenize(ctx context.Context) {
	for b := range p.tokCh {
		if err := ctx.Err(); err != nil {
			p.finish(b, err)
			continue
		}
		b.seqs = make([]engine.Sequence, 0, len(b.slots))
		b.seqSlot = make([]int, 0, len(b.slots))
		for i, s := range b.slots {
			seq, err := p.sc.Tokenize(s.rec.pairs[s.idx])
			if err != nil {
				if b.tokErr == nil {
					b.tokErr = make([]error, len(b.slots))
				}
				b.tokErr[i] = err
				continue
			}
			b.seqs = append(b.seqs, seq)
			b.seqSlot = append(b.seqSlot, i)
		}
		select {
		case p.scoreCh <- b:
		case <-ctx.Done():
			p.finish(b, ctx.Err())
		}
	}
}

// score runs the model on each batch and stores the scores in the records.
func (p *pipeline) score(ctx context.Context) {
	for b := range p.scoreCh {
		if len(b.seqs) == 0 {
			p.finish(b, nil)
			continue
		}
		scores, err := p.sc.ScoreSequences(ctx, b.seqs)
		if err == nil && len(scores) != len(b.seqs) {
			err = fmt.Errorf("model returned %d scores for %d pairs", len(scores), len(b.seqs))
		}
		if err == nil {
			for j, s := range scores {
				sl := b.slots[b.seqSlot[j]]
				sl.rec.scores[sl.idx] = s
			}
		}
		p.finish(b, err)
	}
}

// write prints the records of each batch in order as batches complete. It
// flushes its output whenever it has to wait, so that scored records reach
// a slow pipe's reader promptly.
func (p *pipeline) write(ctx context.Context, w *recordWriter) (pipelineStats, error) {
	var st pipelineStats
	flush := func() error {
		if err := w.flush(); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		return nil
	}
	for {
		var (
			b  *batch
			ok bool
		)
		select {
		case b, ok = <-p.orderCh:
		default:
			if err := flush(); err != nil {
				return st, err
			}
			b, ok = <-p.orderCh
		}
		if !ok {
			break
		}
		select {
		case <-b.done:
		default:
			if err := flush(); err != nil {
				return st, err
			}
			<-b.done
		}
		if b.err != nil {
			if err := ctx.Err(); err != nil {
				return st, err
			}
			return st, b.err
		}
		for i, err := range b.tokErr {
			if r := b.slots[i].rec; err != nil && r.err == nil {
				r.err = &inputError{file: r.name, line: r.line, reason: err.Error()}
			}
		}
		for _, r := range b.records {
			if r.err != nil {
				if r.fatal || !p.cfg.skipInvalid {
					return st, r.err
				}
				st.skipped++
				if p.cfg.onSkip != nil {
					p.cfg.onSkip(r.err)
				}
				continue
			}
			if err := w.write(r); err != nil {
				return st, fmt.Errorf("write output: %w", err)
			}
			st.records++
			st.pairs += len(r.pairs)
			if p.cfg.onWritten != nil {
				p.cfg.onWritten(r)
			}
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
